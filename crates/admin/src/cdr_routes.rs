//! `GET cdr?from=&to=`: call records from the journal, as a JSON array
//! (default), JSONL or CSV. Reading records is an access to personal data:
//! each one is written to the audit log. An account sees the records of its
//! queues only; an agent its own calls; the client role with every number
//! masked.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use cdr::export::{self, ExportOptions};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::principal::Principal;
use crate::routes::error;
use crate::AdminState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CdrQuery {
    /// Records that ended at or after (RFC 3339, or a UTC date).
    from: Option<String>,
    /// ... and before.
    to: Option<String>,
    /// `json` (default), `jsonl` or `csv`.
    format: Option<String>,
    /// CSV columns, comma-separated record fields.
    columns: Option<String>,
    /// CSV separator (`;` for French spreadsheets).
    separator: Option<String>,
    /// Mask the caller's number on its last 4 digits.
    #[serde(default)]
    mask: bool,
    /// At most this many records (the earliest).
    limit: Option<usize>,
    /// A name the caller gives (kept beside the authenticated account).
    by: Option<String>,
}

fn parse_time(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()));
    }
    Err(format!(
        "{name}={v:?}: expected an RFC 3339 time (2026-11-23T09:00:00Z) or a date (2026-11-23, UTC)"
    ))
}

pub async fn list(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    query: Result<Query<CdrQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}; parameters: from, to, format (json|jsonl|csv|xlsx), columns, separator, mask, limit, by", e.body_text())),
    };
    let (from, to) = match (
        parse_time("from", q.from.as_deref()),
        parse_time("to", q.to.as_deref()),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if !["json", "jsonl", "csv", "xlsx"].contains(&format.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("format={format:?}: expected json, jsonl, csv or xlsx"),
        );
    }
    let mask = q.mask || p.role.masks_numbers();
    let opts = match ExportOptions::parse(q.columns.as_deref(), q.separator.as_deref(), mask) {
        Ok(o) => o,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let dir = st.cdr_dir.clone();
    let read = tokio::task::spawn_blocking(move || cdr::read_records(&dir, from, to)).await;
    let mut records = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the CDR journal: {e}"),
            )
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    records.retain(|r| p.sees(r.queue.as_deref()));
    if p.role == auth::Role::Agent {
        let me = p.agent.as_deref();
        records.retain(|r| {
            r.agent.as_deref() == me || r.conversations.iter().any(|c| Some(c.agent.as_str()) == me)
        });
    }
    records.sort_by_key(|r| r.ended_at);
    if let Some(n) = q.limit {
        records.truncate(n);
    }
    p.audit(
        &st,
        "cdr.read",
        &format!(
            "{}..{}",
            q.from.as_deref().unwrap_or(""),
            q.to.as_deref().unwrap_or("")
        ),
        json!({ "records": records.len(), "format": format, "masked": mask, "declared_by": q.by }),
    );
    if format == "xlsx" {
        let tz = st.timezone;
        return match tokio::task::spawn_blocking(move || cdr::xlsx::write_xlsx(&records, mask, tz))
            .await
        {
            Ok(Ok(bytes)) => crate::pages::xlsx_response(
                bytes,
                &format!("appels-{}.xlsx", Utc::now().format("%Y%m%d-%H%M%S")),
            ),
            Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let mut body = Vec::new();
    let (written, ctype) = match format.as_str() {
        "csv" => (
            export::write_csv(&records, &opts, &mut body),
            "text/csv; charset=utf-8",
        ),
        "jsonl" => (
            export::write_jsonl(&records, mask, &mut body),
            "application/x-ndjson",
        ),
        _ => (
            export::write_json(&records, mask, &mut body),
            "application/json",
        ),
    };
    if let Err(e) = written {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    ([(header::CONTENT_TYPE, ctype)], body).into_response()
}
