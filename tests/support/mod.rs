//! Test kit for integration tests: start the real `softswitch` binary with
//! its own ports and data directory, and a small SIP/RTP user agent that
//! speaks plain text over real sockets (independent of the code under test).

#![allow(dead_code)]

pub mod agent;
pub mod idp;
pub mod web;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_softswitch");

/// Repository root (tests/ is beside crates/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

static INSTANCE: AtomicU32 = AtomicU32::new(0);

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
            .unwrap_or_default();
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
        let field = |k: &str| -> SocketAddr {
            ready
                .split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.split(',').next())
                .unwrap()
                .parse()
                .unwrap()
        };
        Ok(Server {
            admin: field("admin"),
            udp: field("sip_udp"),
            tcp: field("sip_tcp"),
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

    /// All complete CDR lines written so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.cdr_dir()) {
            for e in rd.flatten() {
                if e.path().extension().is_none_or(|x| x != "jsonl") {
                    continue;
                }
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                // The server may be writing the last line as we read.
                let complete = text.rfind('\n').map_or("", |end| &text[..end]);
                for line in complete.lines().filter(|l| !l.trim().is_empty()) {
                    out.push(serde_json::from_str(line).expect("CDR line is JSON"));
                }
            }
        }
        out
    }

    /// Wait for the CDR of a SIP call. An answered call's record is closed
    /// when its agent's wrap-up ends (10 s by default): wait beyond that.
    pub fn record(&self, sip_call_id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(r) = self
                .records()
                .into_iter()
                .find(|r| r["sip_call_id"] == sip_call_id)
            {
                return r;
            }
            if Instant::now() > deadline {
                panic!("no CDR for {sip_call_id}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

// ---------------------------------------------------------------- SIP text

/// Status code of a response, `None` for a request.
pub fn status(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// First value of a header (long or compact name), case-insensitive.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let head = msg.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

/// `tag=` of a To/From value.
pub fn tag(value: &str) -> Option<String> {
    value
        .split(';')
        .find_map(|p| p.trim().strip_prefix("tag=").map(str::to_string))
}

/// RTP port and address from an SDP body.
pub fn sdp_media(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .expect("m=audio line")
        .parse::<u16>()
        .unwrap();
    format!("{ip}:{port}").parse().unwrap()
}

fn token() -> String {
    format!(
        "{:x}",
        rand_suffix() ^ (INSTANCE.load(Ordering::Relaxed) as u64) << 24
    )
}

/// A user agent on UDP (or TCP) with one RTP socket per call.
pub struct Ua {
    pub sock: UdpSocket,
    pub local: SocketAddr,
    pub server: SocketAddr,
    tcp: Option<TcpStream>,
    tcp_buf: Vec<u8>,
}

impl Ua {
    pub fn udp(server: SocketAddr) -> Ua {
        Ua::udp_from("127.0.0.1", server)
    }

    pub fn udp_from(ip: &str, server: SocketAddr) -> Ua {
        let sock = UdpSocket::bind(format!("{ip}:0")).unwrap();
        let local = sock.local_addr().unwrap();
        Ua {
            sock,
            local,
            server,
            tcp: None,
            tcp_buf: Vec::new(),
        }
    }

    pub fn tcp(server: SocketAddr) -> Ua {
        let stream = TcpStream::connect(server).unwrap();
        let local = stream.local_addr().unwrap();
        // The UDP socket stays for symmetry but is unused.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Ua {
            sock,
            local,
            server,
            tcp: Some(stream),
            tcp_buf: Vec::new(),
        }
    }

    fn transport(&self) -> &'static str {
        if self.tcp.is_some() {
            "TCP"
        } else {
            "UDP"
        }
    }

    pub fn send(&mut self, msg: &str) {
        match self.tcp.as_mut() {
            Some(s) => s.write_all(msg.as_bytes()).unwrap(),
            None => {
                self.sock.send_to(msg.as_bytes(), self.server).unwrap();
            }
        }
    }

    pub fn send_bytes(&self, data: &[u8]) {
        self.sock.send_to(data, self.server).unwrap();
    }

    /// Next SIP message, or `None` after `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Option<String> {
        if self.tcp.is_some() {
            return self.recv_tcp(timeout);
        }
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 65536];
        match self.sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
            Err(_) => None,
        }
    }

    fn recv_tcp(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = String::from_utf8_lossy(&self.tcp_buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = header(&text, "Content-Length")
                    .or_else(|| header(&text, "l"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if text.len() >= end + 4 + len {
                    let msg = text[..end + 4 + len].to_string();
                    self.tcp_buf.drain(..end + 4 + len);
                    return Some(msg);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let s = self.tcp.as_mut().unwrap();
            s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut buf = [0u8; 8192];
            match s.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.tcp_buf.extend_from_slice(&buf[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Receive until a message matching `pred`, answering nothing else.
    pub fn recv_until(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let m = self.recv(left)?;
            if pred(&m) {
                return Some(m);
            }
        }
    }

    /// Receive a final response (skipping provisional ones).
    pub fn final_response(&mut self, timeout: Duration) -> String {
        self.recv_until(timeout, |m| status(m).is_some_and(|c| c >= 200))
            .expect("final response")
    }

    /// Start a call: returns after sending the INVITE.
    pub fn invite(&mut self, did: &str, offer: &Offer) -> Call {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtp_addr = rtp.local_addr().unwrap();
        let call_id = format!("{}@test", token());
        let from_tag = token();
        let branch = format!("z9hG4bK{}", token());
        let sdp = offer.sdp(rtp_addr.port());
        let extra = offer.extra_headers.clone();
        let msg = format!(
            "INVITE sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/{t} {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test\" <sip:{caller}@{ip}>;tag={from_tag}\r\nTo: <sip:{did}@{server}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:test@{local}>\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            server = self.server,
            t = self.transport(),
            local = self.local,
            caller = offer.caller,
            ip = self.local.ip(),
            len = sdp.len(),
        );
        self.send(&msg);
        Call {
            did: did.into(),
            call_id,
            from_tag,
            to_tag: None,
            branch,
            cseq: 1,
            rtp,
            remote_rtp: None,
            invite: msg,
            seq: 1000,
            ts: 5000,
            ssrc: 0x1234_5678,
            answer: String::new(),
        }
    }

    /// Send an in-dialog request; returns its final response.
    pub fn request(&mut self, call: &mut Call, method: &str, extra: &str, body: &str) -> String {
        call.cseq += 1;
        let msg = call.in_dialog(self, method, extra, body);
        self.send(&msg);
        self.recv_until(Duration::from_secs(5), |m| {
            status(m).is_some_and(|c| c >= 200)
                && header(m, "CSeq").is_some_and(|c| c.ends_with(method))
        })
        .unwrap_or_else(|| panic!("no final response to {method}"))
    }

    /// Wait for the 200 and ACK it. Returns the 200.
    pub fn answer(&mut self, call: &mut Call, timeout: Duration) -> String {
        let ok = self.final_response(timeout);
        assert_eq!(status(&ok), Some(200), "expected 200, got:\n{ok}");
        call.to_tag = header(&ok, "To").and_then(tag);
        call.remote_rtp = Some(sdp_media(body(&ok)));
        call.answer = ok.clone();
        let ack = call.in_dialog(self, "ACK", "", "");
        self.send(&ack);
        ok
    }

    /// Answer a request the server sent us (its BYE): 200 OK.
    pub fn reply_ok(&mut self, req: &str) {
        self.send(&ok_to(req));
    }
}

/// A 200 OK to a request: its Via, From, To, Call-ID and CSeq, no body.
pub fn ok_to(req: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        for l in req.split("\r\n\r\n").next().unwrap().lines().skip(1) {
            if let Some((k, _)) = l.split_once(':') {
                if k.trim().eq_ignore_ascii_case(name) {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
            }
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// What the caller offers.
#[derive(Clone)]
pub struct Offer {
    pub formats: String,
    pub rtpmaps: String,
    pub direction: &'static str,
    pub caller: String,
    pub extra_headers: String,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            formats: "0 8 101".into(),
            rtpmaps: "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n".into(),
            direction: "sendrecv",
            caller: "0612345678".into(),
            extra_headers: String::new(),
        }
    }
}

impl Offer {
    pub fn sdp(&self, port: u16) -> String {
        format!(
            "v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n{}a=ptime:20\r\na={}\r\n",
            self.formats, self.rtpmaps, self.direction
        )
    }
}

/// One call from the test UA.
pub struct Call {
    pub did: String,
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub branch: String,
    pub cseq: u32,
    pub rtp: UdpSocket,
    pub remote_rtp: Option<SocketAddr>,
    pub invite: String,
    seq: u16,
    ts: u32,
    ssrc: u32,
    pub answer: String,
}

/// One received RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    pub at: Instant,
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub len: usize,
    /// The first payload byte (none in an empty packet).
    pub first_byte: Option<u8>,
}

/// RTP packets arriving on `sock` within `dur`.
pub fn read_rtp(sock: &UdpSocket, dur: Duration) -> Vec<Packet> {
    let mut out = Vec::new();
    let deadline = Instant::now() + dur;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            break;
        };
        let at = Instant::now();
        if n < 12 {
            continue;
        }
        out.push(Packet {
            at,
            pt: buf[1] & 0x7f,
            marker: buf[1] & 0x80 != 0,
            seq: u16::from_be_bytes([buf[2], buf[3]]),
            ts: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            len: n,
            first_byte: (n > 12).then(|| buf[12]),
        });
    }
    out
}

impl Call {
    pub fn in_dialog(&self, ua: &Ua, method: &str, extra: &str, body: &str) -> String {
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let (branch, cseq) = match method {
            "ACK" if self.to_tag.is_none() => (self.branch.clone(), 1), // ACK to a non-2xx
            "ACK" => (format!("z9hG4bK{}", token()), 1),
            "CANCEL" => (self.branch.clone(), 1),
            _ => (format!("z9hG4bK{}", token()), self.cseq),
        };
        let ctype = if body.is_empty() || extra.contains("Content-Type") {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".into()
        };
        format!(
            "{method} sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/{t} {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test\" <sip:0612345678@{ip}>;tag={ft}\r\nTo: <sip:{did}@{server}>{to_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:test@{local}>\r\n{extra}{ctype}Content-Length: {len}\r\n\r\n{body}",
            did = self.did,
            server = ua.server,
            t = ua.transport(),
            local = ua.local,
            ip = ua.local.ip(),
            ft = self.from_tag,
            cid = self.call_id,
            len = body.len(),
        )
    }

    /// Collect RTP for `dur`.
    pub fn collect_rtp(&self, dur: Duration) -> Vec<Packet> {
        read_rtp(&self.rtp, dur)
    }

    fn send_rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(pt | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.rtp
            .send_to(&p, self.remote_rtp.expect("answered"))
            .unwrap();
    }

    /// Send audio frames (PCMU) of `pcm`, paced at 20 ms.
    pub fn send_audio(&mut self, pcm: &[i16]) {
        for chunk in pcm.chunks(160) {
            let mut enc = Vec::new();
            media::g711::encode_ulaw(chunk, &mut enc);
            let ts = self.ts;
            self.send_rtp(0, false, ts, &enc);
            self.ts = self.ts.wrapping_add(160);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send one digit as RFC 4733 events (payload type 101).
    pub fn send_rfc4733(&mut self, digit: char) {
        let start = self.ts;
        for (marker, ev) in media::dtmf::event_packets(digit, 100, 20) {
            self.send_rtp(101, marker, start, &ev.to_bytes());
            std::thread::sleep(Duration::from_millis(if ev.end { 1 } else { 20 }));
        }
        self.ts = self.ts.wrapping_add(800);
    }
}

/// curl: (HTTP status, body).
pub fn curl(
    srv: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut c = std::process::Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg(format!("http://{}{path}", srv.admin));
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data", b]);
    }
    let out = c
        .output()
        .expect("curl (the README's test command installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.into()));
    (code.parse().unwrap(), json)
}

// ---------------------------------------------------------------- CDR reading

/// Wait for the softswitch's BYE on `call`, answer it 200, return the CDR.
pub fn await_bye(ua: &mut Ua, srv: &Server, call: &Call, within: Duration) -> serde_json::Value {
    let bye = ua
        .recv_until(within, |m| m.starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE from the softswitch; log:\n{}", srv.log_text()));
    ua.reply_ok(&bye);
    srv.record(&call.call_id)
}

/// Call `did`, hang up once the first prompt has started; the record.
pub fn call_briefly(srv: &Server, ua: &mut Ua, did: &str) -> serde_json::Value {
    let mut call = ua.invite(did, &Offer::default());
    ua.answer(&mut call, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(400));
    ua.request(&mut call, "BYE", "", "");
    srv.record(&call.call_id)
}

/// (name, end) of every prompt a CDR lists, in order.
pub fn prompts_played(rec: &serde_json::Value) -> Vec<(String, String)> {
    rec["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["end"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// The digits a CDR lists, in order, as one string.
pub fn digits_of(rec: &serde_json::Value) -> String {
    rec["digits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digit"].as_str().unwrap())
        .collect()
}

/// GET an admin path with curl (a real HTTP client): status and body.
pub fn get_text(srv: &Server, path: &str, token: bool) -> (u16, String) {
    let mut c = std::process::Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .arg(format!("http://{}{path}", srv.admin));
    if token {
        c.args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")]);
    }
    let out = c.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

/// A sample's value on a /metrics page (`name{labels}` as printed).
pub fn metric(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}
