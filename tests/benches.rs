//! The load scripts of benches/load run here with a few calls each, against
//! this build, so they do not rot. Nothing about speed is asserted
//! (benchmarks are not tests): only that every call went through and the
//! RTP probe heard every leg.

mod support;

use std::process::Command;

fn run(script: &str, args: &[&str]) -> String {
    run_with(script, args, &[])
}

fn run_with(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let (min, max) = support::rtp_range();
    let out = Command::new("bash")
        .arg(support::repo_root().join("benches/load").join(script))
        .args(args)
        .envs(env.iter().copied())
        .env("SOFTSWITCH_BIN", env!("CARGO_BIN_EXE_softswitch"))
        .env("RTPLOAD_BIN", env!("CARGO_BIN_EXE_rtpload"))
        .env("SIPFLOOD_BIN", env!("CARGO_BIN_EXE_sipflood"))
        .env("TLSCALLS_BIN", env!("CARGO_BIN_EXE_tlscalls"))
        .env("RTP_MIN", min.to_string())
        .env("RTP_MAX", max.to_string())
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn plateau_script_smoke_run() {
    let line = run("plateau.sh", &["4", "4", "7"]);
    assert!(line.starts_with("plateau N=4"), "{line}");
    assert!(line.contains("calls 4 ok 0 refused"), "{line}");
    assert!(line.contains(" 0 failed"), "{line}");
    assert!(line.contains("rtpload heard 4 calls"), "{line}");
    assert!(line.contains("lost 0 "), "{line}");
}

#[test]
fn tls_cps_script_smoke_run() {
    let out = run("tls_cps.sh", &["20", "2"]);
    for t in ["udp", "tls"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("tls_cps {t} ")))
            .unwrap_or_else(|| panic!("{t}: {out}"));
        assert!(line.contains("calls 20 ok 20 failed 0"), "{line}");
    }
}

#[test]
fn bridged_script_smoke_run() {
    let line = run("bridged.sh", &["3", "3", "8"]);
    assert!(line.starts_with("bridged N=3"), "{line}");
    assert!(line.contains("calls 3 ok 0 refused 0 failed"), "{line}");
    assert!(line.contains("3 bridged at the sample"), "{line}");
    // Both legs of every call: the callers' and the agents'.
    assert!(line.contains("rtpload heard 6 streams"), "{line}");
    assert!(
        line.contains("rtpload's echo ticks began late p99 "),
        "{line}"
    );
}

#[test]
fn plateau_script_sheds_calls_beyond_the_media_load_limit() {
    // One worker allowed 1% of its time: a few dozen calls' worth. The
    // calls beyond are refused with 503, those admitted keep their audio.
    let line = run_with(
        "plateau.sh",
        &["400", "100", "10"],
        &[("WORKERS", "1"), ("BUSY_PERCENT", "1")],
    );
    let field = |after: &str| -> u64 {
        let rest = &line[line
            .find(after)
            .unwrap_or_else(|| panic!("{after}: {line}"))
            + after.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let ok = field("calls ");
    let refused = field(" ok ");
    assert!(ok > 0, "calls admitted until the limit: {line}");
    assert!(refused > 0, "some calls refused: {line}");
    assert_eq!(ok + refused, 400, "{line}");
    assert!(line.contains(" 0 failed"), "none timed out: {line}");
    assert!(line.contains("1 overloaded"), "{line}");
    assert!(
        line.contains(&format!("rtpload heard {ok} calls")),
        "every admitted call heard: {line}"
    );
    assert!(line.contains("lost 0 "), "{line}");
}

#[test]
fn cps_script_smoke_run() {
    let out = run_with("cps.sh", &["20"], &[("STEP_S", "2"), ("CALL_MS", "500")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "softswitch and the sipp-uas peer: {out}");
    assert!(
        lines[0].starts_with("cps rate=20 target=softswitch"),
        "{out}"
    );
    assert!(
        lines[0].contains("calls 40, 40 ok, 0 refused (0 within 10 ms), 0 failed"),
        "{out}"
    );
    assert!(lines[0].contains("40 heard the prompt, 40 CDRs"), "{out}");
    assert!(lines[1].starts_with("cps rate=20 target=sipp-uas"), "{out}");
    assert!(
        lines[1].contains("calls 40, 40 ok, 0 refused, 0 failed"),
        "{out}"
    );
}

#[test]
fn flood_script_smoke_run() {
    // 3 calls in progress, then 20 new calls a second for 2 s against a
    // limit of 5 a second: most of the flood is refused, nothing fails,
    // and the calls in progress lose no packet.
    let line = run_with("flood.sh", &["3", "3", "20", "2"], &[("MAX_CPS", "5")]);
    assert!(
        line.starts_with("flood N=3 in progress: calls 3 ok 0 refused 0 failed"),
        "{line}"
    );
    assert!(
        line.contains("flood 20 cps for 2s (max_cps 5): calls 40,"),
        "{line}"
    );
    let refused: u64 = line
        .split(" admitted, ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    // At most 5 at once and 5 a second get in, even if SIPp spreads the
    // 40 calls over 4 s on a loaded machine.
    assert!(refused >= 15, "{line}");
    assert!(
        line.contains("within 10 ms), 0 failed"),
        "no flood call failed: {line}"
    );
    assert!(line.contains("lost 0 ("), "{line}");
}

#[test]
fn raw_flood_script_smoke_run() {
    // 3 calls in progress, then 500 raw INVITEs a second for 2 s to an
    // unknown number, the SIP backlog bounded at 10 messages: every INVITE
    // gets its final answer (404 from the call layer, or 503 from the
    // flood guard), and the calls in progress lose no packet.
    let line = run_with(
        "flood.sh",
        &["3", "3", "500", "2"],
        &[("FLOODER", "raw"), ("MAX_BACKLOG", "10")],
    );
    assert!(
        line.starts_with("flood N=3 in progress: calls 3 ok 0 refused 0 failed"),
        "{line}"
    );
    assert!(
        line.contains("raw flood 500 INVITE/s for 2s (max_backlog 10): 1000 sent, "),
        "{line}"
    );
    assert!(line.contains(" got 404 ("), "{line}");
    assert!(
        line.contains("; 0 unanswered, 0 not sent, 0 dropped by the kernel"),
        "{line}"
    );
    assert!(line.contains("lost 0 ("), "{line}");
}
