//! `softswitch sla` end to end: the real binary over a hand-made CDR
//! directory (records as crates/cdr/README.md documents them), every
//! figure checked against values worked out by hand; bad input exits 1
//! naming the file and line.

#![recursion_limit = "256"]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_softswitch");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sla-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A call to 3900 (flow office-hours, 09:00-16:30 Paris) answered by the
/// platform on arrival, ended 60 s later in the IVR; `edits` sets the rest.
fn record(id: &str, arrived: &str, edits: Value) -> Value {
    let arrived_at = chrono::DateTime::parse_from_rfc3339(arrived).unwrap();
    let ended = arrived_at + chrono::Duration::seconds(60);
    let mut r = json!({
        "record_id": id, "sip_call_id": id, "trunk": "local", "did": "3900",
        "flow": "office-hours", "caller": null, "caller_class": "withheld",
        "source": "127.0.0.1:5062", "transport": "UDP",
        "arrived_at": arrived, "answered_at": arrived, "confirmed_at": arrived,
        "ended_at": ended.to_rfc3339(), "outcome": "self_service", "sip_code": 200,
        "reject_reason": null, "ended_by": "system", "end_reason": "script_end",
        "codec": "PCMU", "duration_ms": 60000, "digits": [], "prompts": [],
        "file0": null, "flow_version": 1, "steps": [], "queue": null,
        "priority": null, "queued_at": null, "overflowed_from": [], "offers": [],
        "agent": null, "agent_answered_at": null, "agent_ended_at": null,
        "wait_ms": null, "talk_ms": null, "queue_left": null,
        "short_abandon": false, "test_number": false, "flow_disposition": null,
        "dissuasion": null, "disposition": null, "wrapup_ended_at": null,
        "wrapup_ms": null
    });
    for (k, v) in edits.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// Monday 2026-03-02 (Paris = UTC+1). Worked out for the whole day:
/// received 5 (the test number left out), incoming 5, net inbound 3
/// (without the 503 and the closure), answered 2 of 3 queued.
fn write_day(dir: &Path) {
    let queued = |at: &str, wait_ms: u64| json!({"queue": "general", "queued_at": at, "wait_ms": wait_ms, "priority": 0});
    let merge = |mut a: Value, b: Value| {
        for (k, v) in b.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    };
    let lines = [
        // 09:00 Paris: waited 20 s, talked 120 s, wrap-up 30 s, code 17.
        record(
            "r1",
            "2026-03-02T08:00:00Z",
            merge(
                queued("2026-03-02T08:00:10Z", 20_000),
                json!({
            "outcome": "answered", "agent": "agent1", "caller": "+33612345678",
            "caller_class": "mobile", "talk_ms": 120_000, "wrapup_ms": 30_000,
            "disposition": "17"}),
            ),
        ),
        // 09:10: waited 40 s, talked 180 s, wrap-up 60 s, no code.
        record(
            "r2",
            "2026-03-02T08:10:00Z",
            merge(
                queued("2026-03-02T08:10:10Z", 40_000),
                json!({
            "outcome": "answered", "agent": "agent2", "caller": "0184903422",
            "caller_class": "landline", "talk_ms": 180_000, "wrapup_ms": 60_000}),
            ),
        ),
        // 09:20: hung up after 90 s in the queue.
        record(
            "r3",
            "2026-03-02T08:20:00Z",
            merge(
                queued("2026-03-02T08:20:10Z", 90_000),
                json!({
            "outcome": "abandoned_queue", "ended_by": "caller"}),
            ),
        ),
        // 09:30: refused, system at capacity (telecom dissuasion).
        record(
            "r5",
            "2026-03-02T08:30:00Z",
            json!({
            "outcome": "rejected", "flow": null, "answered_at": null, "confirmed_at": null,
            "sip_code": 503, "reject_reason": "system at capacity", "duration_ms": 0}),
        ),
        // 09:40: a test call, left out.
        record(
            "t1",
            "2026-03-02T08:40:00Z",
            merge(
                queued("2026-03-02T08:40:10Z", 500_000),
                json!({
            "outcome": "answered", "agent": "agent1", "caller": "+33600000000",
            "caller_class": "mobile", "talk_ms": 900_000, "test_number": true}),
            ),
        ),
        // 19:00: closed, the closure message.
        record(
            "r4",
            "2026-03-02T18:00:00Z",
            json!({
            "outcome": "dissuaded", "dissuasion": "closure", "flow_disposition": "closed"}),
        ),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("cdr-2026-03-02.jsonl"), text).unwrap();
}

fn sla(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(repo_root())
        .arg("sla")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The JSON report as (group, kpi) -> line.
fn json_report(out: &Output) -> Vec<Value> {
    serde_json::from_str::<Value>(&stdout(out))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn find<'a>(lines: &'a [Value], group: &str, kpi: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["group"] == group && l["kpi"] == kpi)
        .unwrap_or_else(|| panic!("no line {group} {kpi}"))
}

#[test]
fn json_report_of_a_cdr_directory() {
    let dir = temp_dir("json");
    write_day(&dir);
    let lines = json_report(&sla(&["--cdr", dir.to_str().unwrap(), "--format", "json"]));
    let v = |kpi: &str| find(&lines, "all", kpi)["value"].clone();
    let status = |kpi: &str| find(&lines, "all", kpi)["status"].clone();
    assert_eq!(v("received"), json!(5));
    assert_eq!(v("incoming"), json!(5));
    assert_eq!(v("presented"), json!(3));
    assert_eq!(v("queued"), json!(3));
    assert_eq!(v("answered"), json!(2));
    assert_eq!(v("abandoned_queue"), json!(1));
    assert_eq!(v("dissuaded/closure"), json!(1));
    assert_eq!(v("rejected_telecom"), json!(1));
    // Pickup 2 / 3, below 0.89: missed.
    let pickup = find(&lines, "all", "pickup_rate");
    assert_eq!(pickup["value"], json!(0.6667));
    assert_eq!(
        (&pickup["numerator"], &pickup["denominator"]),
        (&json!(2), &json!(3))
    );
    assert_eq!(
        (&pickup["target"], &pickup["penalty"]),
        (&json!(0.9), &json!(0.89))
    );
    assert_eq!(pickup["status"], "missed");
    assert_eq!(pickup["alias"], "taux de décroché");
    // GAS02 2 / 5; the platform answered 4 of 5.
    assert_eq!(v("daily_pickup_rate"), json!(0.4));
    assert_eq!(v("answer_rate"), json!(0.8));
    // Lost: the abandon, the closure, the 503: 3 / 5.
    assert_eq!(v("lost_call_rate"), json!(0.6));
    // Waits (20 + 40 + 90) / 3 = 50 s, both denominators 3; ASA 30 s.
    assert_eq!(v("average_wait"), json!(50));
    assert_eq!(status("average_wait"), "met");
    assert_eq!(v("average_wait_net"), json!(50));
    assert_eq!(v("asa"), json!(30));
    assert_eq!(v("longest_wait"), json!(90));
    // Within 60 s: 2 of 3 queued.
    assert_eq!(v("service_level"), json!(0.6667));
    // DMC (120 + 180) / 2 = 150 s; DMT (300 + 90) / 2 = 195 s.
    assert_eq!(v("dmc"), json!(150));
    assert_eq!(status("dmc"), "met");
    assert_eq!(v("dmt"), json!(195));
    assert_eq!(v("qualification_rate"), json!(0.5));
    assert_eq!(status("qualification_rate"), "missed");
    assert_eq!(v("first_contact_resolution"), json!(1));
    assert_eq!(v("caller_origin/mobile"), json!(0.2));
    assert_eq!(status("file0_delay"), "no_data");

    // The same file read on its own gives the same report.
    let file = dir.join("cdr-2026-03-02.jsonl");
    let same = json_report(&sla(&["--cdr", file.to_str().unwrap(), "--format", "json"]));
    assert_eq!(same, lines);
    // And so does the day as a range; a range of 30 min has 3 calls.
    let day = json_report(&sla(&[
        "--cdr",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-03",
    ]));
    assert_eq!(day, lines);
    let half = json_report(&sla(&[
        "--cdr",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "--from",
        "2026-03-02T09:00:00+01:00",
        "--to",
        "2026-03-02T09:30:00+01:00",
    ]));
    assert_eq!(find(&half, "all", "received")["value"], json!(3));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csv_by_half_hour_and_business_hours() {
    let dir = temp_dir("csv");
    write_day(&dir);
    let d = dir.to_str().unwrap();
    let out = stdout(&sla(&["--cdr", d, "--format", "csv", "--separator", ";"]));
    let mut rows = out.lines();
    assert_eq!(
        rows.next(),
        Some("group;kpi;value;unit;numerator;denominator;target;penalty;status;alias")
    );
    assert!(
        out.lines()
            .any(|l| l == "all;pickup_rate;0.6667;rate;2;3;0.9;0.89;missed;taux de décroché"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == "all;dmt;195.0;s;390;2;360;480;met;DMT durée moyenne de traitement"),
        "{out}"
    );

    // Half-hours in Paris time: 09:00 has r1-r3, 09:30 the 503 (the test
    // call left out), 19:00 the closure.
    let lines = json_report(&sla(&["--cdr", d, "--format", "json", "--by", "halfhour"]));
    let received = |g: &str| find(&lines, g, "received")["value"].clone();
    assert_eq!(received("2026-03-02T09:00+01:00"), json!(3));
    assert_eq!(received("2026-03-02T09:30+01:00"), json!(1));
    assert_eq!(received("2026-03-02T19:00+01:00"), json!(1));
    assert_eq!(
        find(&lines, "2026-03-02T09:00+01:00", "pickup_rate")["value"],
        json!(0.6667)
    );
    let table = stdout(&sla(&["--cdr", d, "--by", "halfhour"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("2026-03-02T19:00+01:00  received ")),
        "{table}"
    );

    // HO / HNO from the office-hours schedule (the 503 through its DID):
    // HO lost 2 of 4 (the abandon, the 503); HNO 1 of 1 (the closure).
    let lines = json_report(&sla(&[
        "--cdr",
        d,
        "--format",
        "json",
        "--split-hours",
        "--group-by",
        "queue",
    ]));
    assert_eq!(
        find(&lines, "queue=general HO", "answered")["value"],
        json!(2)
    );
    assert_eq!(
        find(&lines, "queue=- HO", "rejected_telecom")["value"],
        json!(1)
    );
    assert_eq!(
        find(&lines, "queue=- HNO", "dissuaded/closure")["value"],
        json!(1)
    );
    let lines = json_report(&sla(&["--cdr", d, "--format", "json", "--split-hours"]));
    assert_eq!(find(&lines, "HO", "lost_call_rate")["value"], json!(0.5));
    assert_eq!(find(&lines, "HNO", "lost_call_rate")["value"], json!(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_1_and_says_where() {
    let dir = temp_dir("bad");
    write_day(&dir);
    std::fs::write(
        dir.join("cdr-2026-03-03.jsonl"),
        format!(
            "{}\n{{\"record_id\": \"x\"\n",
            record("r9", "2026-03-03T08:00:00Z", json!({}))
        ),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let fails = |args: &[&str], words: &[&str]| {
        let out = sla(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: {err:?} should name {w:?}");
        }
    };
    let file = dir.join("cdr-2026-03-03.jsonl");
    let at_line_2 = format!("{}:2: ", file.display());
    fails(&["--cdr", d], &[&at_line_2]);
    fails(&["--cdr", file.to_str().unwrap()], &[&at_line_2]);
    let missing = dir.join("nowhere");
    fails(
        &["--cdr", missing.to_str().unwrap()],
        &[missing.to_str().unwrap()],
    );
    fails(
        &["--cdr", d, "--from", "2026-13-01"],
        &["--from", "2026-13-01"],
    );
    fails(
        &["--cdr", d, "--by", "fortnight"],
        &["fortnight", "halfhour"],
    );
    fails(&["--cdr", d, "--format", "xml"], &["xml"]);
    fails(
        &["--cdr", d, "--from", "2026-03-03", "--to", "2026-03-02"],
        &["--from"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn targets_and_switches_from_the_config() {
    let dir = temp_dir("config");
    write_day(&dir);
    let base = std::fs::read_to_string(repo_root().join("configs/default.toml")).unwrap();
    let config = dir.join("sla.toml");
    std::fs::write(
        &config,
        format!("{base}\n[sla]\nservice_level_s = 30\n[sla.lost]\nshort_abandons = true\n[sla.targets.dmc]\ntarget = 100.0\n"),
    )
    .unwrap();
    let cdr = dir.join("cdr-2026-03-02.jsonl");
    let lines = json_report(&sla(&[
        "--cdr",
        cdr.to_str().unwrap(),
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]));
    // Within 30 s: r1 only, of 3 queued.
    assert_eq!(find(&lines, "all", "service_level")["value"], json!(0.3333));
    let dmc = find(&lines, "all", "dmc");
    assert_eq!(
        (&dmc["value"], &dmc["target"], &dmc["penalty"]),
        (&json!(150), &json!(100), &Value::Null)
    );
    assert_eq!(dmc["status"], "missed");

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, format!("{base}\n[sla]\nservice_level = 30\n")).unwrap();
    let out = sla(&[
        "--cdr",
        cdr.to_str().unwrap(),
        "--config",
        bad.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = base.lines().count() + 3;
    assert!(
        err.contains(&format!("{}:{line}: ", bad.display())),
        "{err}"
    );
    assert!(err.contains("service_level"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agent_idle_share_from_the_agent_state_journal() {
    let dir = temp_dir("agents");
    write_day(&dir);
    // agent1: available 15 min of 60 logged in (on a call 40, wrap-up 5);
    // agent2: paused the whole hour (not idle).
    let states = [
        ("2026-03-02T08:00:00Z", "agent1", "available"),
        ("2026-03-02T08:10:00Z", "agent1", "on_call"),
        ("2026-03-02T08:50:00Z", "agent1", "wrap_up"),
        ("2026-03-02T08:55:00Z", "agent1", "available"),
        ("2026-03-02T08:00:00Z", "agent2", "paused"),
        ("2026-03-02T09:00:00Z", "agent2", "logged_out"),
    ];
    std::fs::create_dir_all(dir.join("agents")).unwrap();
    let text: String = states
        .iter()
        .map(|(at, agent, state)| {
            format!(
                "{}\n",
                json!({"at": at, "agent": agent, "state": state, "reason": null, "registered": true})
            )
        })
        .collect();
    std::fs::write(dir.join("agents/agents-2026-03-02.jsonl"), text).unwrap();
    let lines = json_report(&sla(&[
        "--cdr",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "--to",
        "2026-03-02T09:00:00Z",
    ]));
    assert_eq!(
        find(&lines, "all", "agent_idle_share/agent1")["value"],
        json!(0.25)
    );
    assert_eq!(
        find(&lines, "all", "agent_idle_share/agent2")["value"],
        json!(0)
    );
    // (15 + 0) / (60 + 60): above the 10% target.
    let all = find(&lines, "all", "agent_idle_share");
    assert_eq!(all["value"], json!(0.125));
    assert_eq!(all["status"], "missed", "0.125 is above the 0.10 target");
}

#[test]
fn availability_from_the_uptime_journal() {
    let dir = temp_dir("uptime");
    write_day(&dir);
    // Up 09:00-09:30 Paris (heartbeats a minute apart), a crash, up again
    // from 09:45 to a clean stop at 10:00: 45 minutes of the hour.
    let mut lines = String::new();
    let at = |m: i64| {
        (chrono::DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z").unwrap()
            + chrono::Duration::minutes(m))
        .to_rfc3339()
    };
    lines.push_str(&format!("{}\n", json!({"at": at(0), "event": "start"})));
    for m in 1..=30 {
        lines.push_str(&format!("{}\n", json!({"at": at(m), "event": "up"})));
    }
    lines.push_str(&format!("{}\n", json!({"at": at(45), "event": "start"})));
    for m in 46..60 {
        lines.push_str(&format!("{}\n", json!({"at": at(m), "event": "up"})));
    }
    lines.push_str(&format!("{}\n", json!({"at": at(60), "event": "stop"})));
    std::fs::create_dir_all(dir.join("uptime")).unwrap();
    std::fs::write(dir.join("uptime/uptime-2026-03-02.jsonl"), lines).unwrap();
    let report = json_report(&sla(&[
        "--cdr",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "--from",
        "2026-03-02T08:00:00Z",
        "--to",
        "2026-03-02T09:00:00Z",
    ]));
    let all = find(&report, "all", "availability");
    assert_eq!(all["value"], json!(0.75));
    assert_eq!(all["status"], "missed", "under 99%");
    assert_eq!(
        find(&report, "all", "availability/2026-03-02")["value"],
        json!(0.75)
    );
}
