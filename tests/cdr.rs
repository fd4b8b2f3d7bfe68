//! Call records against the real binary: nothing lost on `kill -9`, the
//! export API, `/metrics`, and the HTTP push to an SLA engine.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

const T: Duration = Duration::from_secs(5);

/// One call to 7000 (the listening flow), hung up by us after `hold`.
fn call_and_hang_up(srv_udp: std::net::SocketAddr, hold: Duration) -> String {
    let mut ua = Ua::udp(srv_udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(hold);
    let ok = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&ok), Some(200));
    call.call_id
}

#[test]
fn kill_9_loses_no_finished_call_and_closes_open_ones_as_interrupted() {
    let mut srv = Server::start();
    let udp = srv.udp;
    // Callers keep making short calls while some others stay up.
    let finished: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let (finished, stop) = (finished.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = call_and_hang_up(udp, Duration::from_millis(100));
                finished.lock().unwrap().push((id, Instant::now()));
            }
        }));
    }
    let mut open = Vec::new();
    let mut open_uas = Vec::new();
    for _ in 0..5 {
        let mut ua = Ua::udp(udp);
        let mut call = ua.invite("7000", &Offer::default());
        ua.answer(&mut call, T);
        open.push(call.call_id.clone());
        open_uas.push((ua, call));
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // Kill while the callers are still at it.
    srv.kill9();
    let killed_at = Instant::now();
    for w in workers {
        // A call cut by the kill panics in its worker: that call is not
        // counted as finished.
        let _ = w.join();
    }
    let finished = finished.lock().unwrap().clone();
    assert!(
        finished.len() >= 5,
        "only {} calls finished",
        finished.len()
    );
    let before = srv.records().len();

    srv.restart();
    let recs = srv.records();
    let count = |id: &str| recs.iter().filter(|r| r["sip_call_id"] == id).count();
    for (id, at) in &finished {
        assert_eq!(count(id), 1, "finished call {id}: exactly one record");
        let r = recs
            .iter()
            .find(|r| r["sip_call_id"] == id.as_str())
            .unwrap();
        // Hung up well before the kill: its true outcome. (Within the last
        // instants its Ended event may still have been in memory.)
        if killed_at.duration_since(*at) > Duration::from_millis(300) {
            assert_eq!(r["outcome"], "abandoned_ivr", "{r}");
        }
    }
    for id in &open {
        assert_eq!(count(id), 1, "open call {id}: exactly one record");
        let r = recs
            .iter()
            .find(|r| r["sip_call_id"] == id.as_str())
            .unwrap();
        assert_eq!(r["outcome"], "interrupted", "{r}");
        assert_eq!(r["end_reason"], "crash", "{r}");
        assert!(!r["ended_at"].is_null(), "{r}");
    }
    assert!(
        recs.len() > before,
        "the restart wrote the open calls' records"
    );
    assert!(
        srv.log_text()
            .contains("closing calls left open by the previous run"),
        "the operator is told"
    );
    // No record id twice.
    let mut ids: Vec<&str> = recs
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate records");
}

#[test]
fn export_api_and_metrics_survive_a_restart() {
    let mut srv = Server::start_with(Options {
        extra_config: "[cdr]\ntest_numbers = [\"0184900000\"]\n".into(),
        ..queue_options()
    });
    // A queued call abandoned after ~1.5 s (no agent logged in).
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(1500));
    ua.request(&mut call, "BYE", "", "");
    let queued = srv.record(&call.call_id);
    assert_eq!(queued["outcome"], "abandoned_queue");
    // A refused call, and a call from a test number.
    let mut ua = Ua::udp(srv.udp);
    let refused = ua.invite("9999", &Offer::default());
    assert_eq!(status(&ua.final_response(T)), Some(404));
    let test_call = {
        let mut ua = Ua::udp(srv.udp);
        let mut c = ua.invite(
            "7000",
            &Offer {
                caller: "0184900000".into(),
                ..Offer::default()
            },
        );
        ua.answer(&mut c, T);
        ua.request(&mut c, "BYE", "", "");
        c.call_id
    };
    assert_eq!(srv.record(&test_call)["test_number"], true);
    srv.record(&refused.call_id);

    // CSV for a French spreadsheet, caller masked.
    let (code, csv) = get_text(
        &srv,
        "/api/v1/cdr?format=csv&separator=;&mask=true&columns=sip_call_id,caller,outcome,wait_ms,short_abandon",
        true,
    );
    assert_eq!(code, 200, "{csv}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("sip_call_id;caller;outcome;wait_ms;short_abandon")
    );
    let row = csv
        .lines()
        .find(|l| l.starts_with(&call.call_id))
        .unwrap_or_else(|| panic!("{csv}"));
    let cells: Vec<&str> = row.split(';').collect();
    assert_eq!(cells[1], "061234XXXX", "{row}");
    assert_eq!(cells[2], "abandoned_queue");
    let wait: u64 = cells[3].parse().unwrap();
    assert!((1000..5000).contains(&wait), "{row}");
    assert_eq!(cells[4], "true", "under the 5 s short-abandon threshold");
    assert_eq!(csv.lines().count(), 4, "header and three calls:\n{csv}");
    // JSON by time range; bad input is explained.
    let (code, json) = get_text(&srv, "/api/v1/cdr?from=2000-01-01&to=2000-01-02", true);
    assert_eq!((code, json.trim()), (200, "[]"));
    let (code, err) = get_text(&srv, "/api/v1/cdr?from=yesterday", true);
    assert_eq!(code, 400);
    assert!(err.contains("RFC 3339"), "{err}");
    let (code, err) = get_text(&srv, "/api/v1/cdr?format=csv&columns=colour", true);
    assert_eq!(code, 400);
    assert!(err.contains("colour"), "{err}");
    let (code, _) = get_text(&srv, "/api/v1/cdr", false);
    assert_eq!(code, 401, "records need the token");
    let audit = std::fs::read_dir(srv.dir.join("var/audit"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(
        audit.contains("\"cdr.read\""),
        "access to records is audited"
    );

    // Metrics: counters by outcome and refusal reason, the rolling window.
    let (code, page) = get_text(&srv, "/metrics", false);
    assert_eq!(code, 200);
    assert_eq!(
        metric(
            &page,
            r#"softswitch_calls_total{outcome="abandoned_queue"}"#
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        metric(
            &page,
            r#"softswitch_calls_rejected_total{reason="unknown number"}"#
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        metric(&page, r#"softswitch_queue_waiting{queue="general"}"#),
        Some(0.0)
    );
    assert_eq!(
        metric(&page, r#"softswitch_agents{state="logged_out"}"#),
        Some(0.0)
    );
    assert!(metric(
        &page,
        r#"softswitch_rtp_send_jitter_seconds{quantile="0.99"}"#
    )
    .is_some());
    // A short abandon is not in the rolling abandon rate.
    assert_eq!(
        metric(&page, "softswitch_rolling_queued_calls"),
        Some(0.0),
        "{page}"
    );

    // A longer abandon, then a restart: the rolling window is kept.
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(5500));
    ua.request(&mut call, "BYE", "", "");
    srv.record(&call.call_id);
    let (_, page) = get_text(&srv, "/metrics", false);
    assert_eq!(
        metric(&page, "softswitch_rolling_queued_calls"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        metric(&page, "softswitch_abandon_ratio"),
        Some(1.0),
        "{page}"
    );
    srv.terminate();
    srv.wait_exit(T);
    srv.restart();
    // The uptime journal (availability GAP01): start, clean stop, start.
    let uptime: String = std::fs::read_dir(srv.cdr_dir().join("uptime"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let events: Vec<&str> = uptime
        .lines()
        .filter_map(|l| l.split("\"event\":\"").nth(1)?.split('"').next())
        .filter(|e| *e != "up")
        .collect();
    assert_eq!(events, ["start", "stop", "start"], "{uptime}");
    let (_, page) = get_text(&srv, "/metrics", false);
    assert_eq!(
        metric(&page, "softswitch_rolling_queued_calls"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        metric(&page, "softswitch_abandon_ratio"),
        Some(1.0),
        "{page}"
    );
}

/// A minimal SLA engine: the first `fail` POSTs get 503; the others are
/// kept (body and Idempotency-Key) and acknowledged.
/// Bodies and idempotency keys the SLA engine acknowledged.
type Received = Arc<Mutex<Vec<(String, String)>>>;

fn sla_engine(fail: usize) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cdr", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let seen = got.clone();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut len, mut key) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("idempotency-key:") {
                    key = line["idempotency-key:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let status = if n < fail {
                "503 Service Unavailable"
            } else {
                seen.lock()
                    .unwrap()
                    .push((String::from_utf8_lossy(&body).to_string(), key));
                "200 OK"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

#[test]
fn records_are_pushed_to_the_sla_engine_after_it_recovers() {
    let (url, got) = sla_engine(1);
    let srv = Server::start_with(Options {
        extra_config: format!(
            "[cdr.push]\nurl = \"{url}\"\nbatch = 10\ninterval_ms = 100\nmax_backoff_s = 1\n"
        ),
        ..Options::default()
    });
    let ids: Vec<String> = (0..3)
        .map(|_| call_and_hang_up(srv.udp, Duration::from_millis(50)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let pushed = loop {
        let pushed: Vec<serde_json::Value> = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(b, _)| serde_json::from_str::<Vec<serde_json::Value>>(b).unwrap())
            .collect();
        if pushed.len() >= 3 || Instant::now() > deadline {
            break pushed;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut call_ids: Vec<&str> = pushed
        .iter()
        .map(|r| r["sip_call_id"].as_str().unwrap())
        .collect();
    call_ids.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(call_ids, want, "each record once, after a failed first try");
    assert!(got
        .lock()
        .unwrap()
        .iter()
        .all(|(_, key)| key.contains("cdr-")));
    // The same records as in the journal.
    for r in &pushed {
        let local = srv.record(r["sip_call_id"].as_str().unwrap());
        assert_eq!(local["record_id"], r["record_id"]);
    }
    let (_, page) = get_text(&srv, "/metrics", false);
    assert_eq!(
        metric(&page, "softswitch_cdr_push_records_total"),
        Some(3.0),
        "{page}"
    );
    assert!(metric(&page, "softswitch_cdr_push_failures_total").unwrap() >= 1.0);
}
