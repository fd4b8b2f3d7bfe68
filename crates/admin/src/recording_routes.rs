//! `GET recordings?from=&to=&queue=` lists finished call recordings;
//! `GET recordings/{record_id}` streams one as `audio/wav` for playing in
//! the page: byte ranges for seeking, shown inline (never an attachment),
//! and never cached. Both are accesses to personal data and go to the audit
//! log (a play once, not at every range the player asks while seeking).
//! An account sees the recordings of its queues only.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use crate::principal::Principal;
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
    /// A name the caller gives (kept beside the authenticated account).
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
    Extension(p): Extension<Principal>,
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
        Ok(Ok(mut list)) => {
            list.retain(|r| p.sees(Some(&r.queue)));
            p.audit(
                &st,
                "recordings.list",
                q.queue.as_deref().unwrap_or("*"),
                json!({ "from": q.from, "to": q.to, "count": list.len(), "declared_by": q.by }),
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

/// A new play, not a range asked while seeking.
fn starts_a_play(req: &Request) -> bool {
    match req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(r) => r.trim() == "bytes=0-" || r.trim().starts_with("bytes=0-"),
    }
}

pub async fn fetch(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(record_id): Path<String>,
    req: Request,
) -> Response {
    let Some(path) = media::record::find(&st.recordings, &record_id) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no finished recording for call {record_id:?} (see GET /api/v1/recordings)"),
        );
    };
    let queue = path
        .parent()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if !p.sees(queue.as_deref()) {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "this recording belongs to a queue outside your scope ({})",
                p.queues.0.join(", ")
            ),
        );
    }
    let play = starts_a_play(&req);
    // tower-http's ServeFile answers ranges, If-Range and HEAD correctly.
    let served = tower_http::services::ServeFile::new_with_mime(&path, &mime_wav())
        .oneshot(req)
        .await;
    let mut resp = match served {
        Ok(r) => r.into_response(),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading {}: {e}", path.display()),
            )
        }
    };
    if resp.status().is_success() && play {
        p.audit(
            &st,
            "recordings.play",
            &record_id,
            json!({ "queue": queue, "bytes": std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) }),
        );
    }
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.remove(header::LAST_MODIFIED);
    resp
}

fn mime_wav() -> mime::Mime {
    "audio/wav".parse().expect("a valid MIME type")
}
