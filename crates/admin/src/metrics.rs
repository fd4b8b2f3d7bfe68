//! `GET /metrics`: Prometheus text format. Live state (calls up, queues,
//! agents), media figures, and the CDR-based counters and rolling window.
//! Holds no personal data: served without an account, behind
//! `[admin] metrics_token` when one is set (for a listener off loopback).

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::AdminState;

/// Builds the exposition text, one metric family at a time.
struct Page(String);

impl Page {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

pub async fn metrics(
    State(st): State<Arc<AdminState>>,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(want) = &st.security.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !auth::token::constant_time_eq(given.as_bytes(), want.as_bytes()) {
            return crate::routes::error(
                axum::http::StatusCode::UNAUTHORIZED,
                "/metrics needs `Authorization: Bearer <[admin] metrics_token>`",
            );
        }
    }
    let mut p = Page(String::with_capacity(4096));
    p.single(
        "softswitch_calls_in_progress",
        "gauge",
        "Calls up now (answered or being set up).",
        st.calls.len() as f64,
    );
    if let Some(snap) = st.acd.snapshot().await {
        p.family(
            "softswitch_queue_waiting",
            "gauge",
            "Calls waiting in each queue (not ringing an agent).",
        );
        for q in &snap.queues {
            p.sample(
                "softswitch_queue_waiting",
                &[("queue", &q.name)],
                q.waiting as f64,
            );
        }
        p.family(
            "softswitch_queue_ringing",
            "gauge",
            "Calls of each queue ringing an agent now.",
        );
        for q in &snap.queues {
            p.sample(
                "softswitch_queue_ringing",
                &[("queue", &q.name)],
                q.offering as f64,
            );
        }
        p.family(
            "softswitch_queue_longest_wait_seconds",
            "gauge",
            "Longest current wait in each queue.",
        );
        for q in &snap.queues {
            p.sample(
                "softswitch_queue_longest_wait_seconds",
                &[("queue", &q.name)],
                q.longest_wait_ms as f64 / 1000.0,
            );
        }
        p.family("softswitch_agents", "gauge", "Agents by state.");
        let mut by_state = std::collections::BTreeMap::new();
        for a in &snap.agents {
            *by_state.entry(a.state.as_str()).or_insert(0u64) += 1;
        }
        for s in [
            "logged_out",
            "available",
            "reserved",
            "on_call",
            "wrap_up",
            "paused",
        ] {
            let n = by_state.get(s).copied().unwrap_or(0);
            p.sample("softswitch_agents", &[("state", s)], n as f64);
        }
        let unregistered = snap
            .agents
            .iter()
            .filter(|a| a.logged_in && !a.registered)
            .count();
        p.single(
            "softswitch_agents_unregistered",
            "gauge",
            "Agents logged in whose phone is not registered (never offered a call).",
            unregistered as f64,
        );
    }

    let rolling = st.live.rolling(chrono::Utc::now());
    let window = st.live.window().as_secs();
    let threshold = st.live.service_level_threshold().as_secs();
    p.single(
        "softswitch_rolling_queued_calls",
        "gauge",
        &format!("Queued calls that ended in the last {window} s (short abandons and test numbers left out)."),
        rolling.queued as f64,
    );
    if let Some(sl) = rolling.service_level() {
        p.single(
            "softswitch_service_level_ratio",
            "gauge",
            &format!("Share of those answered within {threshold} s (rolling {window} s)."),
            sl,
        );
    }
    if let Some(ab) = rolling.abandon_rate() {
        p.single(
            "softswitch_abandon_ratio",
            "gauge",
            &format!("Share of those abandoned in queue (rolling {window} s)."),
            ab,
        );
    }
    p.family(
        "softswitch_calls_total",
        "counter",
        "Finished calls since start, by outcome.",
    );
    for (outcome, n) in st.live.outcomes() {
        p.sample("softswitch_calls_total", &[("outcome", outcome)], n as f64);
    }
    p.family(
        "softswitch_calls_rejected_total",
        "counter",
        "Calls refused before answer since start, by reason.",
    );
    for (reason, n) in st.live.rejected() {
        p.sample(
            "softswitch_calls_rejected_total",
            &[("reason", &reason)],
            n as f64,
        );
    }

    let m = &st.media;
    p.single(
        "softswitch_media_sessions",
        "gauge",
        "RTP sessions open.",
        m.sessions.load(Ordering::Relaxed) as f64,
    );
    for (name, help, v) in [
        (
            "softswitch_rtp_packets_sent_total",
            "RTP packets sent.",
            &m.packets_sent,
        ),
        (
            "softswitch_rtp_packets_received_total",
            "RTP packets received.",
            &m.packets_received,
        ),
        (
            "softswitch_rtp_packets_relayed_total",
            "RTP packets relayed between caller and agent.",
            &m.packets_relayed,
        ),
        (
            "softswitch_rtp_send_overruns_total",
            "Media ticks that ran late.",
            &m.overruns,
        ),
        (
            "softswitch_rtp_send_dropped_total",
            "RTP packets not sent: the socket's buffer was full.",
            &m.send_dropped,
        ),
        (
            "softswitch_rtp_dropped_source_total",
            "RTP packets dropped: not from the call's far end.",
            &m.dropped_source,
        ),
        (
            "softswitch_rtp_dropped_malformed_total",
            "Datagrams on RTP ports that are not RTP.",
            &m.dropped_malformed,
        ),
    ] {
        p.single(name, "counter", help, v.load(Ordering::Relaxed) as f64);
    }
    let (sip, guard) = (&st.sip, &st.sip_guard.stats);
    for (name, help, v) in [
        (
            "softswitch_sip_messages_received_total",
            "SIP messages read (UDP datagrams and TCP frames).",
            &sip.received,
        ),
        (
            "softswitch_sip_messages_sent_total",
            "SIP messages sent by the transaction layer.",
            &sip.sent,
        ),
        (
            "softswitch_sip_parse_errors_total",
            "SIP messages that could not be read.",
            &sip.parse_errors,
        ),
        (
            "softswitch_sip_shed_total",
            "New SIP requests refused with 503 by the flood guard ([sip] max_backlog); a retransmitted INVITE counts once, other requests each time.",
            &guard.shed,
        ),
        (
            "softswitch_sip_dropped_total",
            "SIP messages over UDP dropped by the flood guard's hard bound (4 x [sip] max_backlog waiting).",
            &guard.dropped,
        ),
        (
            "softswitch_sip_shed_unrecorded_total",
            "INVITEs refused by the flood guard whose call record was lost.",
            &guard.shed_unrecorded,
        ),
    ] {
        p.single(name, "counter", help, v.load(Ordering::Relaxed) as f64);
    }
    let a = st.sip_auth.snapshot();
    p.single(
        "softswitch_sip_auth_failures_total",
        "counter",
        "SIP digest authentications that failed (unknown user, wrong password, replay, wrong URI).",
        a.failures_total as f64,
    );
    p.single(
        "softswitch_sip_auth_refused_total",
        "counter",
        "SIP requests answered 503 because their source or account is slowed down or locked after failures.",
        a.refused_total as f64,
    );
    p.family(
        "softswitch_sip_auth_locked",
        "gauge",
        "Sources and accounts locked now after SIP digest failures.",
    );
    p.sample(
        "softswitch_sip_auth_locked",
        &[("scope", "source")],
        a.sources_locked as f64,
    );
    p.sample(
        "softswitch_sip_auth_locked",
        &[("scope", "account")],
        a.accounts_locked as f64,
    );
    let (by_account, by_source) = st.logins.locked(std::time::Instant::now());
    p.family(
        "softswitch_login_locked",
        "gauge",
        "Console sign-ins locked now after failures: per account and source, per source.",
    );
    p.sample(
        "softswitch_login_locked",
        &[("scope", "account_source")],
        by_account as f64,
    );
    p.sample(
        "softswitch_login_locked",
        &[("scope", "source")],
        by_source as f64,
    );
    p.single(
        "softswitch_console_sessions",
        "gauge",
        "Browser sessions open on the console.",
        st.sessions.open_sessions(chrono::Utc::now()).len() as f64,
    );
    p.single(
        "softswitch_sip_inbound_backlog",
        "gauge",
        "SIP messages read and not yet taken by the transaction layer.",
        guard.backlog.load(Ordering::Relaxed) as f64,
    );
    p.family(
        "softswitch_media_worker_busy_ratio",
        "gauge",
        "Share of the last second each media worker spent working.",
    );
    for (i, w) in m.workers.iter().enumerate() {
        p.sample(
            "softswitch_media_worker_busy_ratio",
            &[("worker", &i.to_string())],
            w.busy(),
        );
    }
    p.single(
        "softswitch_media_workers_overloaded",
        "gauge",
        "Media workers taking no new calls (all of them: new calls get 503).",
        m.workers.iter().filter(|w| w.overloaded()).count() as f64,
    );
    let jitter = m.jitter.lock().map(|h| h.clone()).unwrap_or_default();
    p.family(
        "softswitch_rtp_send_jitter_seconds",
        "summary",
        "Deviation of each call's packet spacing from 20 ms, since start.",
    );
    for q in [0.5, 0.99, 1.0] {
        let qs = q.to_string();
        p.sample(
            "softswitch_rtp_send_jitter_seconds",
            &[("quantile", &qs)],
            jitter.quantile_us(q) as f64 / 1e6,
        );
    }
    p.sample(
        "softswitch_rtp_send_jitter_seconds_count",
        &[],
        jitter.samples() as f64,
    );

    if let Some(push) = &st.push {
        let s = &push.stats;
        p.single(
            "softswitch_cdr_push_records_total",
            "counter",
            "Records acknowledged by the SLA engine.",
            s.pushed.load(Ordering::Relaxed) as f64,
        );
        p.single(
            "softswitch_cdr_push_failures_total",
            "counter",
            "Failed push attempts (retried).",
            s.failures.load(Ordering::Relaxed) as f64,
        );
        p.single(
            "softswitch_cdr_push_pending_bytes",
            "gauge",
            "Journal bytes not yet acknowledged.",
            s.pending_bytes.load(Ordering::Relaxed) as f64,
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        p.0,
    )
        .into_response()
}
