//! SIPp scenarios (tests/sipp/*.xml) against the real binary: SIPp is the
//! caller, the softswitch the trunk's far end.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::*;

fn scenario(name: &str) -> PathBuf {
    repo_root().join("tests/sipp").join(name)
}

/// Run SIPp to completion; panics with its output if it fails.
fn sipp(srv: &Server, scenario_file: &str, service: &str, args: &[&str]) -> String {
    let which = Command::new("sipp").arg("-v").output();
    assert!(
        which.is_ok(),
        "SIPp is not installed: the README's test command installs Debian's sip-tester"
    );
    let dir = srv.dir.join(format!("sipp-{scenario_file}"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("sipp")
        .current_dir(&dir)
        .arg(srv.udp.to_string())
        .args(["-sf", scenario(scenario_file).to_str().unwrap()])
        .args(["-s", service, "-i", "127.0.0.1", "-p", "0", "-mp", "0"])
        .args([
            "-nostdin",
            "-timeout",
            "60s",
            "-timeout_error",
            "-trace_err",
            "-trace_screen",
        ])
        .args(args)
        .output()
        .expect("run sipp");
    let screens: String = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    let text = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        screens
    );
    assert!(
        out.status.success(),
        "sipp {scenario_file} failed ({:?}):\n{text}\n--- softswitch log ---\n{}",
        out.status,
        srv.log_text()
    );
    text
}

fn outcomes(srv: &Server) -> Vec<String> {
    srv.records()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect()
}

fn wait_records(srv: &Server, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while srv.records().len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} CDRs",
            srv.records().len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sipp_calls_with_info_digit_then_bye() {
    let srv = Server::start();
    sipp(
        &srv,
        "uac_call.xml",
        "3422",
        &["-m", "20", "-r", "20", "-d", "500"],
    );
    wait_records(&srv, 20);
    let recs = srv.records();
    assert_eq!(recs.len(), 20);
    for r in &recs {
        assert_eq!(r["outcome"], "abandoned_ivr", "{r}");
        assert_eq!(r["digits"][0]["digit"], "5", "{r}");
        assert_eq!(r["digits"][0]["source"], "sip_info");
    }
}

#[test]
fn sipp_late_offer_gets_our_offer_in_the_200_and_media_by_the_ack_answer() {
    let srv = Server::start();
    // Where the ACK's answer tells softswitch to send its RTP.
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rtp.local_addr().unwrap().port().to_string();
    let reader = std::thread::spawn(move || read_rtp(&rtp, Duration::from_millis(2500)));
    sipp(
        &srv,
        "uac_late_offer.xml",
        "3422",
        &["-m", "1", "-d", "1500", "-key", "rtp_port", &port],
    );
    let packets = reader.join().unwrap();
    assert!(
        packets.len() > 20,
        "the prompt's audio reaches the address of the ACK's answer: {} packets\n{}",
        packets.len(),
        srv.log_text()
    );
    assert!(packets.iter().all(|p| p.pt == 8), "PCMA, as answered");
    wait_records(&srv, 1);
    let r = &srv.records()[0];
    assert_eq!(r["outcome"], "abandoned_ivr", "{r}");
    assert_eq!(r["codec"], "PCMA", "{r}");

    // The same without an answer in the ACK: no media can run, BYE.
    sipp(&srv, "uac_late_offer_no_answer.xml", "3422", &["-m", "3"]);
    wait_records(&srv, 4);
    assert!(srv
        .log_text()
        .contains("late offer: the ACK carried no answer"));
}

#[test]
fn sipp_offer_with_video_and_bfcp_lines_gets_them_declined_at_port_0() {
    let srv = Server::start();
    sipp(&srv, "uac_multi_m.xml", "3422", &["-m", "5", "-r", "10"]);
    wait_records(&srv, 5);
    for r in srv.records() {
        assert_eq!(r["codec"], "PCMA", "{r}");
        assert_eq!(r["outcome"], "abandoned_ivr", "{r}");
    }
}

#[test]
fn sipp_cancel_while_ringing() {
    let srv = Server::start_with(Options {
        answer_after_ms: 5000,
        ..Options::default()
    });
    sipp(&srv, "uac_cancel.xml", "3422", &["-m", "5", "-r", "10"]);
    wait_records(&srv, 5);
    assert_eq!(outcomes(&srv), vec!["cancelled"; 5]);
}

#[test]
fn sipp_unknown_number_404() {
    let srv = Server::start();
    sipp(&srv, "uac_404.xml", "0800000000", &["-m", "5", "-r", "10"]);
    wait_records(&srv, 5);
    assert!(srv.records().iter().all(|r| r["sip_code"] == 404));
}

#[test]
fn sipp_many_calls_reuse_a_small_rtp_range_without_leak() {
    // 20 port pairs, 10,000 calls, at most 15 at once: a single leaked port
    // per 20 calls would exhaust the range long before the end.
    let srv = Server::start_with(Options {
        // Below both the ephemeral range (32768+) and the per-test ranges (30000+).
        rtp_ports: Some((29_000, 29_040)),
        // About ports, not overload: other tests (browsers) share the cores.
        media_busy_percent: Some(0),
        ..Options::default()
    });
    sipp(
        &srv,
        "uac_call.xml",
        "3422",
        &["-m", "10000", "-r", "1000", "-l", "15", "-d", "0"],
    );
    wait_records(&srv, 10_000);
    let recs = srv.records();
    let ok = recs
        .iter()
        .filter(|r| r["outcome"] == "abandoned_ivr")
        .count();
    assert_eq!(ok, 10_000, "every call answered and recorded");
    // And the range is whole again: 15 calls at once still fit.
    sipp(
        &srv,
        "uac_call.xml",
        "3422",
        &["-m", "15", "-r", "100", "-l", "15", "-d", "300"],
    );
}

/// Wait until the API shows `agent` registered.
fn await_registered(srv: &Server, agent: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = curl(srv, "GET", "/api/v1/agents", Some(ADMIN_TOKEN), None);
        let registered = body["agents"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["id"] == agent && a["registered"] == true)
        });
        if registered {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{agent} did not register: {body}\n{}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A SIPp agent phone (register, then answer every call it is given),
/// killed when dropped.
struct SippAgent(std::process::Child);

impl SippAgent {
    fn start(srv: &Server, agent: &str) -> SippAgent {
        let dir = srv.dir.join(format!("sipp-agent-{agent}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("sipp")
            .current_dir(&dir)
            .arg(srv.udp.to_string())
            .args(["-sf", scenario("agent_register.xml").to_str().unwrap()])
            .args(["-oocsf", scenario("agent_answer.xml").to_str().unwrap()])
            .args(["-s", agent, "-au", agent, "-ap", agent])
            .args(["-i", "127.0.0.1", "-p", "0", "-mp", "0"])
            .args(["-m", "1", "-d", "600000", "-nostdin", "-trace_err"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run sipp (agent)");
        SippAgent(child)
    }
}

impl Drop for SippAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn one_sipp_agent_serves_1000_sipp_callers_in_arrival_order() {
    let srv = Server::start_with(Options {
        max_calls: 2000,
        // 1,000 callers wait at once: a range of their own.
        rtp_ports: Some((26_000, 28_400)),
        // A debug build on a shared 2-core box is overloaded by 1,000
        // calls' media; this test is about the queue, not shedding load.
        media_busy_percent: Some(0),
        acd: TEST_ACD.replacen("wrap_up_s = 1\n", "wrap_up_s = 0\n", 1),
        ..queue_options()
    });
    let _agent = SippAgent::start(&srv, "agent1");
    await_registered(&srv, "agent1");
    sipp(
        &srv,
        "uac_queue.xml",
        "7100",
        &["-m", "1000", "-r", "200", "-l", "1000", "-timeout", "300s"],
    );
    wait_records(&srv, 1000);
    let mut recs = srv.records();
    assert_eq!(recs.len(), 1000);
    for r in &recs {
        assert_eq!(r["outcome"], "answered", "{r}");
        assert_eq!(r["agent"], "agent1", "{r}");
    }
    // Served in the order they queued (one queue, equal priority: FIFO).
    recs.sort_by(|a, b| {
        a["queued_at"]
            .as_str()
            .unwrap()
            .cmp(b["queued_at"].as_str().unwrap())
    });
    let answered: Vec<&str> = recs
        .iter()
        .map(|r| r["agent_answered_at"].as_str().unwrap())
        .collect();
    let out_of_order = answered.windows(2).filter(|w| w[0] > w[1]).count();
    assert_eq!(
        out_of_order, 0,
        "FIFO: every caller answered after those queued before it"
    );
}

/// The KPIs of `softswitch sla --format json` over `cdr_dir`.
fn sla_report(cdr_dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_softswitch"))
        .args(["sla", "--format", "json", "--cdr"])
        .arg(cdr_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn sipp_calls_answered_abandoned_and_dissuaded_add_up_in_softswitch_sla() {
    let srv = Server::start_with(Options {
        flows: vec![
            ("q.toml".into(), QUEUE_FLOW.into()),
            (
                "shut.toml".into(),
                "[flow]\nname = \"shut\"\nstart = \"bye\"\n[nodes.bye]\nkind = \"hangup\"\nprompt = \"closed\"\ndisposition = \"closed\"\n".into(),
            ),
        ],
        dids: r#", "7100" = "q", "7200" = "shut""#.into(),
        acd: TEST_ACD.replacen("wrap_up_s = 1\n", "wrap_up_s = 0\n", 1),
        ..Options::default()
    });
    // No agent yet: 3 callers wait 6 s in the queue and give up (longer
    // than the 5 s short-abandon threshold).
    sipp(
        &srv,
        "uac_call.xml",
        "7100",
        &["-m", "3", "-r", "10", "-d", "6000"],
    );
    // 2 callers to a closed service: the closure message, then hang-up.
    sipp(&srv, "uac_queue.xml", "7200", &["-m", "2", "-r", "10"]);
    // An agent: 5 callers answered.
    let _agent = SippAgent::start(&srv, "agent1");
    await_registered(&srv, "agent1");
    sipp(&srv, "uac_queue.xml", "7100", &["-m", "5", "-r", "10"]);
    wait_records(&srv, 10);

    let lines = sla_report(&srv.cdr_dir());
    let v = |kpi: &str| {
        lines
            .iter()
            .find(|l| l["group"] == "all" && l["kpi"] == kpi)
            .unwrap_or_else(|| panic!("no {kpi} in {lines:?}"))["value"]
            .clone()
    };
    assert_eq!(v("received"), 10);
    assert_eq!(v("answered"), 5);
    assert_eq!(v("abandoned_queue"), 3);
    assert_eq!(v("dissuaded/closure"), 2);
    // Pickup: 5 answered / (10 received - 2 dissuaded by closure).
    assert_eq!(v("pickup_rate"), 0.625);
    // Lost: 3 abandons + 2 dissuaded, of 10.
    assert_eq!(v("lost_call_rate"), 0.5);
}
