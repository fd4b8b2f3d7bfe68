//! `GET cdr?from=&to=`: call records from the journal, as a JSON array
//! (default), JSONL or CSV. Reading records is an access to personal data:
//! each one is written to the audit log.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cdr::export::{self, ExportOptions};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

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
    /// Who asks (kept in the audit log).
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
    query: Result<Query<CdrQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}; parameters: from, to, format (json|jsonl|csv), columns, separator, mask, limit, by", e.body_text())),
    };
    let (from, to) = match (
        parse_time("from", q.from.as_deref()),
        parse_time("to", q.to.as_deref()),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if !["json", "jsonl", "csv"].contains(&format.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("format={format:?}: expected json, jsonl or csv"),
        );
    }
    let opts = match ExportOptions::parse(q.columns.as_deref(), q.separator.as_deref(), q.mask) {
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
    records.sort_by_key(|r| r.ended_at);
    if let Some(n) = q.limit {
        records.truncate(n);
    }
    st.audit.record(
        q.by.as_deref().unwrap_or("api"),
        "cdr.read",
        &format!(
            "{}..{}",
            q.from.as_deref().unwrap_or(""),
            q.to.as_deref().unwrap_or("")
        ),
        json!({ "records": records.len(), "format": format, "masked": q.mask }),
    );
    let mut body = Vec::new();
    let (written, ctype) = match format.as_str() {
        "csv" => (
            export::write_csv(&records, &opts, &mut body),
            "text/csv; charset=utf-8",
        ),
        "jsonl" => (
            export::write_jsonl(&records, q.mask, &mut body),
            "application/x-ndjson",
        ),
        _ => (
            export::write_json(&records, q.mask, &mut body),
            "application/json",
        ),
    };
    if let Err(e) = written {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    ([(header::CONTENT_TYPE, ctype)], body).into_response()
}
