//! The load scripts of benches/load run here with a few calls each, against
//! this build, so they do not rot. Nothing about speed is asserted
//! (benchmarks are not tests): only that every call went through and the
//! RTP probe heard every leg.

mod support;

use std::process::Command;

fn run(script: &str, args: &[&str]) -> String {
    let (min, max) = support::rtp_range();
    let out = Command::new("bash")
        .arg(support::repo_root().join("benches/load").join(script))
        .args(args)
        .env("SOFTSWITCH_BIN", env!("CARGO_BIN_EXE_softswitch"))
        .env("RTPLOAD_BIN", env!("CARGO_BIN_EXE_rtpload"))
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
    assert!(line.contains("calls 4 ok 0 failed"), "{line}");
    assert!(line.contains("rtpload heard 4 calls"), "{line}");
    assert!(line.contains("lost 0 "), "{line}");
}

#[test]
fn bridged_script_smoke_run() {
    let line = run("bridged.sh", &["3", "3", "8"]);
    assert!(line.starts_with("bridged N=3"), "{line}");
    assert!(line.contains("calls 3 ok 0 failed"), "{line}");
    assert!(line.contains("3 bridged at the sample"), "{line}");
    // Both legs of every call: the callers' and the agents'.
    assert!(line.contains("rtpload heard 6 streams"), "{line}");
}
