//! IVR flows end to end: the real binary with the shipped flows, navigated
//! by DTMF from the test UA; schedules; `check-flow`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

const T: Duration = Duration::from_secs(5);

#[test]
fn demo_menu_invalid_key_then_3_plays_information_and_hangs_up() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(300));
    call.send_rfc4733('9'); // cuts the welcome; not a menu choice
    std::thread::sleep(Duration::from_millis(700));
    call.send_rfc4733('3'); // cuts the menu's second greeting: information
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    // The information message then hang-up: the caller was "informed".
    assert_eq!(rec["outcome"], "dissuaded", "{rec}");
    assert_eq!(rec["dissuasion"], "informed", "{rec}");
    assert_eq!(rec["flow_disposition"], "informed", "{rec}");
    assert_eq!(rec["flow"], "demo");
    assert_eq!(
        prompts_played(&rec),
        vec![
            ("welcome".into(), "barge_in".into()),
            ("menu".into(), "barge_in".into()),
            ("info".into(), "completed".into()),
        ],
        "{rec}"
    );
    let info = &rec["prompts"][2];
    assert_eq!(
        info["heard_ms"], info["duration_ms"],
        "the whole message was heard"
    );
}

/// The shipped office-hours flow with every day open (or closed) by the
/// schedule's hours, and exceptional rules for yesterday, today and tomorrow
/// (UTC dates, so "today" in Paris is among them) that force the other state.
fn office_hours_variant(force: &str) -> String {
    let today = chrono_like_today();
    let days = [today - 86_400, today, today + 86_400]
        .iter()
        .map(|t| format!("{{ date = \"{}\", reason = \"test\" }}", ymd(*t)))
        .collect::<Vec<_>>()
        .join(", ");
    let all_day = if force == "closed" {
        "[\"00:00-24:00\"]"
    } else {
        "[]"
    };
    format!(
        r#"
[flow]
name = "office-forced"
start = "check_hours"
[schedule]
timezone = "Europe/Paris"
{force} = [{days}]
[schedule.hours]
mon = {all_day}
tue = {all_day}
wed = {all_day}
thu = {all_day}
fri = {all_day}
sat = {all_day}
sun = {all_day}
[nodes.check_hours]
kind = "branch"
on = "schedule"
cases = {{ open = "welcome", closed = "closed" }}
[nodes.welcome]
kind = "play"
prompts = ["welcome"]
barge_in = false
next = "done"
[nodes.done]
kind = "hangup"
disposition = "served"
[nodes.closed]
kind = "hangup"
prompt = "closed"
disposition = "closed"
"#
    )
}

fn chrono_like_today() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Civil date of a Unix time (UTC), "YYYY-MM-DD" (Howard Hinnant's algorithm).
fn ymd(t: i64) -> String {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// One call to the office-hours variant forced `closed` or `open`; its CDR.
fn call_forced_schedule(force: &str) -> serde_json::Value {
    let srv = Server::start_with(Options {
        flows: vec![("forced.toml".into(), office_hours_variant(force))],
        dids: r#", "3901" = "office-forced""#.into(),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3901", &Offer::default());
    ua.answer(&mut call, T);
    await_bye(&mut ua, &srv, &call, Duration::from_secs(15))
}

#[test]
fn schedule_closed_plays_the_closure_message() {
    let rec = call_forced_schedule("closed");
    assert_eq!(
        prompts_played(&rec),
        vec![("closed".into(), "completed".into())],
        "{rec}"
    );
}

#[test]
fn schedule_exceptional_opening_lets_the_call_in() {
    let rec = call_forced_schedule("open");
    assert_eq!(
        prompts_played(&rec),
        vec![("welcome".into(), "completed".into())],
        "{rec}"
    );
}

#[test]
fn check_flow_accepts_shipped_flows_and_reports_file_line() {
    let root = repo_root();
    let out = Command::new(BIN)
        .current_dir(&root)
        .arg("check-flow")
        .args(
            std::fs::read_dir(root.join("ivr-flows"))
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::env::temp_dir().join(format!("check-flow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[flow]\nstart = \"a\"\n\n[nodes.a]\nkind = \"play\"\nprompts = [\"nope\"]\nnext = \"b\"\n\n[nodes.c]\nkind = \"queue\"\npriority = \"high\"\nqueue = \"nowhere\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .current_dir(&root)
        .arg("check-flow")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let f = bad.display();
    assert!(
        err.contains(&format!(
            "{f}:6: node \"a\": prompts: prompt \"nope\" does not exist"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}:7: node \"a\": next -> \"b\" is not a node")),
        "{err}"
    );
    // Every error in one pass: a field that fails to parse does not hide
    // the unknown queue behind it (checked against the configuration).
    assert!(
        err.contains(&format!(
            "{f}:11: node \"c\" (queue): priority: invalid type"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:12: node \"c\": queue: queue \"nowhere\" is not configured (queues: "
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_broken_flow_stops_startup_with_file_and_line() {
    let broken = "[flow]\nstart = \"x\"\n[nodes.x]\nkind = \"goto\"\nnext = \"x\"\n".to_string();
    let log = Server::try_start(Options {
        flows: vec![("broken.toml".into(), broken)],
        ..Options::default()
    })
    .err()
    .expect("startup must fail");
    assert!(
        log.contains("broken.toml:3: loop without caller input: x -> x"),
        "{log}"
    );
}

#[test]
fn sighup_reload_changes_new_calls_only_and_keeps_the_old_set_on_errors() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    // A call in progress on the first version of 7001 (welcome, 3.4 s).
    let mut first = ua.invite("7001", &Offer::default());
    ua.answer(&mut first, T);
    std::thread::sleep(Duration::from_millis(300));
    let v2 = SHORT_FLOW.replace(r#"prompts = ["welcome"]"#, r#"prompts = ["closed"]"#);
    std::fs::write(srv.flows_dir().join("test-short.toml"), &v2).unwrap();
    srv.reload();
    assert!(
        srv.log_text().contains("flows reloaded"),
        "{}",
        srv.log_text()
    );
    let rec = await_bye(&mut ua, &srv, &first, Duration::from_secs(10));
    assert_eq!(
        prompts_played(&rec),
        vec![("welcome".into(), "completed".into())],
        "call in progress kept its version"
    );

    // A broken file: the running set stays, the error names file and line.
    std::fs::write(
        srv.flows_dir().join("zz-broken.toml"),
        "[flow]\nstart = \"a\"\n[nodes.a]\nkind = \"play\"\n",
    )
    .unwrap();
    srv.reload();
    let log = srv.log_text();
    assert!(log.contains("flows not reloaded"), "{log}");
    assert!(
        log.contains("zz-broken.toml:3: node \"a\" (play): missing field"),
        "{log}"
    );

    let mut second = ua.invite("7001", &Offer::default());
    ua.answer(&mut second, T);
    let rec = await_bye(&mut ua, &srv, &second, Duration::from_secs(15));
    assert_eq!(
        prompts_played(&rec),
        vec![("closed".into(), "completed".into())],
        "new call uses version 2"
    );
}

#[test]
fn callbot_example_reads_a_postcode_and_an_evaluation() {
    let srv = Server::start_with(Options {
        dids: r#", "3960" = "example-callbot""#.into(),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3960", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(300));
    for d in "75001#".chars() {
        call.send_rfc4733(d);
        std::thread::sleep(Duration::from_millis(60));
    }
    // The information message (9 s, not interruptible) then the question.
    std::thread::sleep(Duration::from_millis(10_000));
    call.send_rfc4733('1');
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(15));
    let digits = digits_of(&rec);
    assert_eq!(digits, "75001#1", "{rec}");
    let played = prompts_played(&rec);
    assert!(
        played.contains(&("info".into(), "completed".into())),
        "{played:?}"
    );
    assert_eq!(
        played.last(),
        Some(&("thanks".into(), "completed".into())),
        "{played:?}"
    );
    assert_eq!(rec["outcome"], "self_service");
    assert_eq!(rec["flow_disposition"], "evaluated_yes", "{rec}");
}

/// A one-route HTTP back end: answers every request with `body`, and
/// passes each request line to the returned receiver.
fn http_backend(body: &'static str) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let _ = tx.send(req.lines().next().unwrap_or("").to_string());
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, rx)
}

fn http_flow(name: &str, backend: std::net::SocketAddr) -> String {
    http_flow_to(name, &format!("http://{backend}"))
}

fn http_flow_to(name: &str, base: &str) -> String {
    format!(
        r#"
[flow]
name = "{name}"
start = "lookup"
[nodes.lookup]
kind = "http"
url = "{base}/customer?caller=${{caller}}"
timeout_ms = 1000
set = {{ vip = "/vip" }}
next = "route"
fallback = "degraded"
[nodes.route]
kind = "branch"
on = "var"
var = "vip"
cases = {{ yes = "vip" }}
default = "normal"
[nodes.vip]
kind = "hangup"
prompt = "thanks"
[nodes.normal]
kind = "hangup"
prompt = "welcome"
[nodes.degraded]
kind = "hangup"
prompt = "survey"
"#
    )
}

#[test]
fn http_lookup_routes_on_the_answer_and_degrades_when_the_backend_is_down() {
    let (up, requests) = http_backend(r#"{"vip": "yes", "name": "Dupont"}"#);
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap() // closed when `l` drops: connections refused
    };
    let srv = Server::start_with(Options {
        flows: vec![
            ("http-up.toml".into(), http_flow("test-http-up", up)),
            ("http-down.toml".into(), http_flow("test-http-down", down)),
        ],
        dids: r#", "7100" = "test-http-up", "7101" = "test-http-down""#.into(),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(15));
    assert_eq!(
        prompts_played(&rec),
        vec![("thanks".into(), "completed".into())],
        "{rec}"
    );
    let line = requests.recv_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(line, "GET /customer?caller=0612345678 HTTP/1.1");

    let mut call = ua.invite("7101", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(15));
    assert_eq!(
        prompts_played(&rec),
        vec![("survey".into(), "completed".into())],
        "degraded route: {rec}"
    );
    assert!(srv
        .log_text()
        .contains("http look-up failed; degraded route"));
}

fn transfer_server(far_end: std::net::SocketAddr) -> Server {
    Server::start_with(Options {
        flows: vec![("transfer-out.toml".into(), TRANSFER_FLOW.into())],
        dids: r#", "7300" = "transfer-out""#.into(),
        extra_trunks: format!(
            "[[trunks]]\nname = \"out\"\noutbound_proxy = \"{far_end}\"\noutbound_caller_id = \"0184900000\"\n"
        ),
        ..Options::default()
    })
}

#[test]
fn transfer_node_calls_out_through_a_trunk_and_bridges() {
    let mut far = support::agent::AgentPhone::new("pbx", "pbx", "127.0.0.1:9".parse().unwrap());
    let srv = transfer_server(far.local);
    far.server = srv.udp;
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7300", &Offer::default());
    ua.answer(&mut call, T);
    let ring = far.await_invite(T).expect("the far end is called");
    assert!(
        ring.invite.starts_with("INVITE sip:0184903422@"),
        "{}",
        ring.invite
    );
    assert!(
        ring.from.contains("0184900000"),
        "the trunk's caller id: {}",
        ring.from
    );
    let mut far_call = far.answer(ring, "PCMA");
    // The far end speaks: the caller hears it (PCMA -> PCMU).
    let rtp = call.rtp.try_clone().unwrap();
    let listener = std::thread::spawn(move || read_rtp(&rtp, Duration::from_millis(1200)));
    far_call.send_frames(25, 0x55, 8);
    let heard = listener.join().unwrap();
    let mut pcm = Vec::new();
    media::g711::decode_alaw(&[0x55], &mut pcm);
    let mut ulaw = Vec::new();
    media::g711::encode_ulaw(&pcm, &mut ulaw);
    let relayed = heard
        .iter()
        .filter(|p| p.pt == 0 && p.first_byte == Some(ulaw[0]))
        .count();
    assert!(relayed >= 20, "caller hears the far end: {relayed} of 25");
    // A REFER from the far end is refused: transfers are controlled.
    let resp = far.request(&mut far_call, "REFER", "Refer-To: <sip:123@127.0.0.1>\r\n");
    assert_eq!(status(&resp), Some(403), "{resp}");
    far.bye(&mut far_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["outcome"], "transferred", "{rec}");
    let t = &rec["transfer_out"];
    assert_eq!(
        (t["to"].as_str(), t["trunk"].as_str()),
        (Some("0184903422"), Some("out")),
        "{rec}"
    );
    assert_eq!(t["result"], "answered");
    assert_eq!(t["ended_by"], "agent", "the far end hung up");
}

#[test]
fn transfer_node_falls_back_when_the_far_end_is_busy() {
    let mut far = support::agent::AgentPhone::new("pbx", "pbx", "127.0.0.1:9".parse().unwrap());
    let srv = transfer_server(far.local);
    far.server = srv.udp;
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7300", &Offer::default());
    ua.answer(&mut call, T);
    let ring = far.await_invite(T).expect("the far end is called");
    far.decline(&ring, 486);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    let t = &rec["transfer_out"];
    assert_eq!(
        (t["result"].as_str(), t["sip_code"].as_u64()),
        (Some("busy"), Some(486)),
        "{rec}"
    );
    assert_eq!(rec["flow_disposition"], "transfer_failed", "{rec}");
    let played = prompts_played(&rec);
    assert_eq!(
        played.last().map(|p| p.0.as_str()),
        Some("closed"),
        "{played:?}"
    );
}

#[test]
fn a_transfer_through_a_missing_trunk_stops_startup_with_file_and_line() {
    let log = Server::try_start(Options {
        flows: vec![("transfer-out.toml".into(), TRANSFER_FLOW.into())],
        dids: r#", "7300" = "transfer-out""#.into(),
        ..Options::default()
    })
    .err()
    .expect("refused");
    // `[nodes.out]` is on line 5 of the file.
    assert!(
        log.contains("transfer-out.toml:5: node \"out\": no trunk \"out\""),
        "{log}"
    );
}

/// A child process killed when dropped (even when a test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A one-route HTTPS back end (Python's ssl module) with a fresh
/// certificate for 127.0.0.1 from a fresh test CA: its base URL, the CA
/// (PEM file), and the process.
fn https_backend(dir: &std::path::Path, body: &str) -> (String, std::path::PathBuf, Killed) {
    std::fs::create_dir_all(dir).unwrap();
    // A test CA, and a server certificate for 127.0.0.1 it signed (a
    // self-signed CA certificate may not serve as the server's own).
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key, csr, ext) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("srv.csr"),
        dir.join("ext.cnf"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let s = |v: &str| std::ffi::OsString::from(v);
    let p = |v: &std::path::Path| v.as_os_str().to_owned();
    openssl(&[
        &s("req"),
        &s("-x509"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-days"),
        &s("1"),
        &s("-subj"),
        &s("/CN=softswitch test CA"),
        &s("-keyout"),
        &p(&ca_key),
        &s("-out"),
        &p(&ca),
    ]);
    openssl(&[
        &s("req"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-subj"),
        &s("/CN=127.0.0.1"),
        &s("-keyout"),
        &p(&key),
        &s("-out"),
        &p(&csr),
    ]);
    openssl(&[
        &s("x509"),
        &s("-req"),
        &s("-in"),
        &p(&csr),
        &s("-CA"),
        &p(&ca),
        &s("-CAkey"),
        &p(&ca_key),
        &s("-CAcreateserial"),
        &s("-days"),
        &s("1"),
        &s("-extfile"),
        &p(&ext),
        &s("-out"),
        &p(&cert),
    ]);
    let script = format!(
        r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b'{body}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&cert)
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (
        format!("https://127.0.0.1:{}", line.trim()),
        ca,
        Killed(child),
    )
}

#[test]
fn http_node_looks_up_over_https_trusting_the_configured_ca() {
    let dir = std::env::temp_dir().join(format!("https-backend-{}", std::process::id()));
    let (base, cert, _backend) = https_backend(&dir, r#"{"vip": "yes"}"#);
    let flows = vec![("https.toml".to_string(), http_flow_to("test-https", &base))];
    let dids = r#", "7100" = "test-https""#.to_string();
    // Trusted CA: the answer routes the call.
    let srv = Server::start_with(Options {
        flows: flows.clone(),
        dids: dids.clone(),
        http_ca_file: Some(cert.clone()),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(15));
    assert_eq!(
        prompts_played(&rec),
        vec![("thanks".into(), "completed".into())],
        "{rec}\n{}",
        srv.log_text()
    );
    // The same back end without its CA: the certificate is refused, the
    // flow takes its degraded route.
    let srv = Server::start_with(Options {
        flows,
        dids,
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(15));
    assert_eq!(
        prompts_played(&rec),
        vec![("survey".into(), "completed".into())],
        "untrusted certificate: {rec}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
