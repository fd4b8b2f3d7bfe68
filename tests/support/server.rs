//! Starting the real `softswitch` binary on free loopback ports with its
//! own data directory, and stopping, killing or restarting it.

use super::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_softswitch");

/// Repository root (tests/ is beside crates/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub(super) static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// A unique RTP port range per server instance (tests run in parallel).
pub fn rtp_range() -> (u16, u16) {
    let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
    let slot = (std::process::id() % 40 + n * 41) % 160;
    let base = 30_000 + slot as u16 * 200;
    (base, base + 198)
}

/// Knobs tests turn; the rest is the default test configuration.
#[derive(Clone)]
pub struct Options {
    pub answer_after_ms: u64,
    pub max_calls: usize,
    pub trunk_max_calls: Option<usize>,
    /// More lines for the `local` trunk (e.g. `symmetric_rtp = true`).
    pub local_trunk_extra: String,
    pub allow: String,
    pub drain_timeout_s: u64,
    pub rtp_ports: Option<(u16, u16)>,
    pub extra_trunks: String,
    /// More flow files (file name, TOML) beside the shipped and test flows.
    pub flows: Vec<(String, String)>,
    /// More `"DID" = "flow"` pairs for the `local` trunk.
    pub dids: String,
    /// `[[queues]]` and `[[agents]]` (default: [`TEST_ACD`]).
    pub acd: String,
    /// More sections at the end of the configuration (`[cdr]`...).
    pub extra_config: String,
    /// `[flows] http_ca_file`.
    pub http_ca_file: Option<PathBuf>,
    /// More `[flows]` lines (`test_dids = [...]`).
    pub flows_extra: String,
    /// `[calls] max_cps` (the shipped default when `None`).
    pub max_cps: Option<u32>,
    /// `[media] busy_percent` (the shipped default when `None`).
    pub media_busy_percent: Option<u32>,
    /// `[sip] max_backlog` (the shipped default when `None`).
    pub sip_max_backlog: Option<usize>,
    /// The admin listener's port (0: any free one).
    pub admin_port: u16,
    /// Serve the admin listener over HTTPS (self-signed certificate in the
    /// data directory) instead of plain HTTP.
    pub admin_tls: bool,
    /// More `[admin]` lines.
    pub admin_extra: String,
    /// More `[sip]` lines (`auth_lock_s = 3`...).
    pub sip_extra: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            answer_after_ms: 0,
            max_calls: 1000,
            trunk_max_calls: None,
            local_trunk_extra: String::new(),
            allow: "127.0.0.1/32".into(),
            drain_timeout_s: 30,
            rtp_ports: None,
            extra_trunks: String::new(),
            flows: Vec::new(),
            dids: String::new(),
            acd: TEST_ACD.into(),
            extra_config: String::new(),
            http_ca_file: None,
            flows_extra: String::new(),
            max_cps: None,
            media_busy_percent: None,
            sip_max_backlog: None,
            admin_port: 0,
            admin_tls: false,
            admin_extra: String::new(),
            sip_extra: String::new(),
        }
    }
}

/// A flow (add it under 7300 with `dids`) that transfers to 0184903422
/// through trunk `out`; busy or unanswered: a closing message.
pub const TRANSFER_FLOW: &str = r#"
[flow]
name = "transfer-out"
start = "out"
[nodes.out]
kind = "transfer"
to = "0184903422"
trunk = "out"
ring_timeout_s = 5
fallback = "sorry"
[nodes.sorry]
kind = "hangup"
prompt = "closed"
disposition = "transfer_failed"
"#;

/// Test flow on 7000: welcome and menu (a key cuts them), then every key is
/// read, one at a time, until none comes for 10 s.
pub const LISTEN_FLOW: &str = r#"
[flow]
name = "test-listen"
start = "hello"
[nodes.hello]
kind = "play"
prompts = ["welcome", "menu"]
next = "key"
[nodes.key]
kind = "collect"
var = "key"
max = 1
terminator = ""
timeout_s = 10
tries = 1
next = "key"
fallback = "bye"
[nodes.bye]
kind = "hangup"
disposition = "done"
"#;

/// Test flow on 7001: the welcome prompt, whole, then hang-up.
pub const SHORT_FLOW: &str = r#"
[flow]
name = "test-short"
start = "hello"
[nodes.hello]
kind = "play"
prompts = ["welcome"]
barge_in = false
next = "bye"
[nodes.bye]
kind = "hangup"
disposition = "informed"
"#;

/// Flow `q`: straight into queue `general`.
pub const QUEUE_FLOW: &str =
    "[flow]\nname = \"q\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"general\"\n";

/// Test options with 7100 leading to [`QUEUE_FLOW`] (add the rest with
/// `Options { .., ..queue_options() }`).
pub fn queue_options() -> Options {
    Options {
        flows: vec![("q.toml".into(), QUEUE_FLOW.into())],
        dids: r#", "7100" = "q""#.into(),
        ..Options::default()
    }
}

/// Queues and agents of test servers: DESIGN's default agents, short
/// ring timeout and wrap-up so tests run quickly.
pub const TEST_ACD: &str = r#"
[[queues]]
name = "general"
skills = { general = 1 }
ring_timeout_s = 3
wrap_up_s = 1

[[queues]]
name = "expert"
skills = { expert = 1 }
ring_timeout_s = 3
wrap_up_s = 1

[[agents]]
id = "agent1"
password = "agent1"
skills = { general = 5 }

[[agents]]
id = "agent2"
password = "agent2"
skills = { general = 5 }

[[agents]]
id = "agent3"
password = "agent3"
skills = { general = 5, expert = 5 }

[[agents]]
id = "agent4"
password = "agent4"
skills = { general = 5, expert = 5 }
"#;

/// `acd` plus the queues the shipped flows name (flows may only name
/// configured queues) when it lacks them, with a skill no agent has, so
/// that they take none of the test's agents.
fn with_shipped_queues(acd: &str) -> String {
    let mut out = acd.to_string();
    for q in ["general", "expert"] {
        if !acd.contains(&format!("name = \"{q}\"")) {
            out.push_str(&format!(
                "\n[[queues]]\nname = \"{q}\"\nskills = {{ shipped_flows_only = 1 }}\n"
            ));
        }
    }
    out
}

/// The admin token of test servers.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123";

/// The first password of the account `admin` of test servers.
pub const BOOTSTRAP_PASSWORD: &str = "Bootstrap-Admin-2026";

/// A running softswitch.
pub struct Server {
    child: Option<Child>,
    pub admin: SocketAddr,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// The SIP over TLS listener, when `[sip] tls` has one.
    pub tls: Option<SocketAddr>,
    /// The SIP over WebSocket listener, when the config has one.
    pub ws: Option<SocketAddr>,
    /// The SIP over secure WebSocket listener, when the config has one.
    pub wss: Option<SocketAddr>,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(o: Options) -> Server {
        match Server::try_start(o) {
            Ok(s) => s,
            Err(log) => panic!("softswitch did not get ready:\n{log}"),
        }
    }

    /// Start, or return the log of a process that exited before ready.
    pub fn try_start(o: Options) -> Result<Server, String> {
        let n = INSTANCE.load(Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "softswitch-test-{}-{}-{}",
            std::process::id(),
            n,
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (pmin, pmax) = o.rtp_ports.unwrap_or_else(rtp_range);
        let prompts = repo_root().join("prompts");
        let flows_dir = dir.join("flows");
        std::fs::create_dir_all(&flows_dir).unwrap();
        for e in std::fs::read_dir(repo_root().join("ivr-flows"))
            .unwrap()
            .flatten()
            // Its queues are the shipped configuration's, not TEST_ACD's.
            .filter(|e| e.file_name() != "example-service-desk.toml")
        {
            std::fs::copy(e.path(), flows_dir.join(e.file_name())).unwrap();
        }
        std::fs::write(flows_dir.join("test-listen.toml"), LISTEN_FLOW).unwrap();
        std::fs::write(flows_dir.join("test-short.toml"), SHORT_FLOW).unwrap();
        for (name, text) in &o.flows {
            std::fs::write(flows_dir.join(name), text).unwrap();
        }
        let trunk_max = o
            .trunk_max_calls
            .map(|m| format!("max_calls = {m}\n"))
            .unwrap_or_default()
            + &o.local_trunk_extra;
        let config = format!(
            r#"
[sip]
udp = ["127.0.0.1:0"]
tcp = ["127.0.0.1:0"]
t1_ms = 500
{backlog}{sip_extra}
[media]
ip = "127.0.0.1"
port_min = {pmin}
port_max = {pmax}
workers = 1
rtp_timeout_s = 60
{busy}
[calls]
max_calls = {max_calls}
retry_after_s = 7
drain_timeout_s = {drain}
{max_cps}
[data]
dir = "{data}"
cdr_fsync = {{ mode = "always" }}

[prompts]
dir = "{prompts}"

[flows]
dir = "{flows}"
{http_ca}
{flows_extra}

[admin]
listen = "127.0.0.1:{admin_port}"
plain_http = {plain}
token = "{token}"
bootstrap_password = "{bootstrap}"
{admin_extra}

[[trunks]]
name = "local"
allow = ["{allow}"]
answer_after_ms = {answer}
{trunk_max}dids = {{ "3422" = "demo", "3900" = "office-hours", "7000" = "test-listen", "7001" = "test-short"{dids} }}
{extra}
{acd}
{extra_config}
"#,
            max_calls = o.max_calls,
            busy = o
                .media_busy_percent
                .map(|b| format!("busy_percent = {b}\n"))
                .unwrap_or_default(),
            sip_extra = o.sip_extra,
            backlog = o
                .sip_max_backlog
                .map(|b| format!("max_backlog = {b}\n"))
                .unwrap_or_default(),
            max_cps = o
                .max_cps
                .map(|c| format!("max_cps = {c}\n"))
                .unwrap_or_default(),
            drain = o.drain_timeout_s,
            data = dir.join("var").display(),
            prompts = prompts.display(),
            flows = flows_dir.display(),
            token = ADMIN_TOKEN,
            bootstrap = BOOTSTRAP_PASSWORD,
            admin_port = o.admin_port,
            plain = !o.admin_tls,
            admin_extra = o.admin_extra,
            dids = o.dids,
            allow = o.allow,
            answer = o.answer_after_ms,
            extra = o.extra_trunks,
            acd = with_shipped_queues(&o.acd),
            extra_config = o.extra_config,
            flows_extra = o.flows_extra,
            http_ca = o
                .http_ca_file
                .map(|p| format!("http_ca_file = \"{}\"", p.display()))
                .unwrap_or_default(),
        );
        std::fs::write(dir.join("softswitch.toml"), config).unwrap();
        Server::spawn(dir)
    }

    /// Start the binary on the configuration and data in `dir`.
    fn spawn(dir: PathBuf) -> Result<Server, String> {
        let cfg_path = dir.join("softswitch.toml");
        let log = dir.join("softswitch.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&cfg_path)
            .env("SOFTSWITCH_LOG", "info,sip=debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start softswitch");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = tx.send(line);
                }
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let _ = std::fs::remove_dir_all(&dir);
                return Err(text);
            }
        };
        let maybe = |k: &str| -> Option<SocketAddr> {
            ready
                .split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.parse().ok())
        };
        let field = |k: &str| maybe(k).unwrap_or_else(|| panic!("{k} in {ready}"));
        Ok(Server {
            admin: field("admin"),
            udp: field("sip_udp"),
            tcp: field("sip_tcp"),
            tls: maybe("sip_tls"),
            ws: maybe("sip_ws"),
            wss: maybe("sip_wss"),
            child: Some(child),
            dir,
            log,
        })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn cdr_dir(&self) -> PathBuf {
        self.dir.join("var/cdr")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `kill -9`: the process dies at once, as in a crash.
    pub fn kill9(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start the binary again on the same configuration and data (after
    /// [`Server::kill9`] or a stop); the addresses are new.
    pub fn restart(&mut self) {
        self.kill9();
        let dir = self.dir.clone();
        let mut new = match Server::spawn(dir) {
            Ok(s) => s,
            Err(log) => panic!("softswitch did not restart:\n{log}"),
        };
        self.child = new.child.take();
        self.admin = new.admin;
        self.udp = new.udp;
        self.tcp = new.tcp;
        // `new` holds no child any more; its drop must not delete the data.
        std::mem::forget(new);
    }

    /// Send SIGTERM.
    pub fn terminate(&self) {
        send_signal(self.pid(), "TERM");
    }

    /// Send SIGHUP (reload flows) and wait until the log says it is done.
    pub fn reload(&self) {
        let before = self.log_text().matches("SIGHUP:").count();
        send_signal(self.pid(), "HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log_text().matches("SIGHUP:").count() == before {
            assert!(
                Instant::now() < deadline,
                "no reload in the log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The flows directory this server reads.
    pub fn flows_dir(&self) -> PathBuf {
        self.dir.join("flows")
    }

    /// Wait for the process to exit; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

fn send_signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("softswitch log kept in {}", self.log.display());
        }
    }
}

pub(crate) fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish() & 0xFFFFFF
}
