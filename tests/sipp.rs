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
