//! The audit log for administrators: `GET audit` searches it (by time,
//! account, action, target), `GET audit/verify` checks its hash chain.
//! Reading the audit log is itself audited.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::principal::Principal;
use crate::routes::error;
use crate::AdminState;

type St = State<Arc<AdminState>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    from: Option<String>,
    to: Option<String>,
    account: Option<String>,
    /// An action, or its start (`file0` finds `file0.activate` and `file0.deactivate`).
    action: Option<String>,
    /// Text the target contains.
    target: Option<String>,
    /// The newest this many (default 500).
    limit: Option<usize>,
}

/// RFC 3339, or a date (midnight UTC).
pub(crate) fn time(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.to_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()));
    }
    Err(format!(
        "{name}={v:?}: expected an RFC 3339 time (2026-11-23T09:00:00Z) or a date (2026-11-23)"
    ))
}

pub async fn search(
    State(st): St,
    Extension(p): Extension<Principal>,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{}; parameters: from, to, account, action, target, limit",
                    e.body_text()
                ),
            )
        }
    };
    let (from, to) = match (time("from", q.from.as_deref()), time("to", q.to.as_deref())) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let dir = st.audit.dir().to_path_buf();
    let lines = match tokio::task::spawn_blocking(move || auth::audit::read(&dir, from, to)).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the audit log: {e}"),
            )
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let limit = q.limit.unwrap_or(500).min(10_000);
    let mut found: Vec<Value> = lines
        .iter()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| q.account.as_deref().is_none_or(|a| v["account"] == a))
        .filter(|v| {
            q.action
                .as_deref()
                .is_none_or(|a| v["action"].as_str().is_some_and(|x| x.starts_with(a)))
        })
        .filter(|v| {
            q.target
                .as_deref()
                .is_none_or(|t| v["target"].as_str().is_some_and(|x| x.contains(t)))
        })
        .take(limit)
        .collect();
    found.reverse();
    p.audit(&st, "audit.read", "*", json!({ "from": q.from, "to": q.to, "account": q.account, "action": q.action, "lines": found.len() }));
    Json(json!({ "lines": found })).into_response()
}

pub async fn verify(State(st): St, Extension(p): Extension<Principal>) -> Response {
    let dir = st.audit.dir().to_path_buf();
    match tokio::task::spawn_blocking(move || auth::audit::verify(&dir)).await {
        Ok(Ok(r)) => {
            p.audit(
                &st,
                "audit.verify",
                "*",
                json!({ "ok": r.ok(), "lines": r.lines }),
            );
            Json(json!({ "ok": r.ok(), "report": r })).into_response()
        }
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the audit log: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
