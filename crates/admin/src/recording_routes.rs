//! `GET recordings?from=&to=&queue=` lists finished call recordings;
//! `GET recordings/{record_id}` returns one as `audio/wav`. Both are
//! accesses to personal data and go to the audit log.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::routes::error;
use crate::AdminState;

type St = State<Arc<AdminState>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// First day (UTC date of the call), `YYYY-MM-DD`.
    from: Option<String>,
    /// Last day, included.
    to: Option<String>,
    queue: Option<String>,
    /// Who asks (kept in the audit log).
    by: Option<String>,
}

fn day(name: &str, v: Option<&str>) -> Result<Option<NaiveDate>, String> {
    v.filter(|v| !v.is_empty())
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| format!("{name}={v:?}: expected a date, 2026-11-23"))
        })
        .transpose()
}

pub async fn list(
    State(st): St,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{}; parameters: from, to (dates), queue, by", e.body_text()),
            )
        }
    };
    let (from, to) = match (day("from", q.from.as_deref()), day("to", q.to.as_deref())) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let dir = st.recordings.clone();
    let queue = q.queue.clone();
    let found =
        tokio::task::spawn_blocking(move || media::record::list(&dir, from, to, queue.as_deref()))
            .await;
    match found {
        Ok(Ok(list)) => {
            st.audit.record(
                q.by.as_deref().unwrap_or("api"),
                "recordings.list",
                q.queue.as_deref().unwrap_or("*"),
                json!({ "from": q.from, "to": q.to, "count": list.len() }),
            );
            Json(json!({ "recordings": list })).into_response()
        }
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the recordings: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FetchQuery {
    by: Option<String>,
}

pub async fn fetch(
    State(st): St,
    Path(record_id): Path<String>,
    Query(q): Query<FetchQuery>,
) -> Response {
    let Some(path) = media::record::find(&st.recordings, &record_id) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no finished recording for call {record_id:?} (see GET /api/v1/recordings)"),
        );
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            st.audit.record(
                q.by.as_deref().unwrap_or("api"),
                "recordings.play",
                &record_id,
                json!({ "bytes": bytes.len() }),
            );
            (
                [
                    (header::CONTENT_TYPE, "audio/wav".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"{record_id}.wav\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading {}: {e}", path.display()),
        ),
    }
}
