//! The admin listener's router; the prompt handlers of `/api/v1`; JSON
//! errors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;

use crate::principal::Principal;
use crate::AdminState;

type St = State<Arc<AdminState>>;

pub(crate) fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

/// A JSON body that may be left out (then the defaults); a bad one is a
/// 400 saying what is `expected`.
pub(crate) fn optional_json<T: serde::de::DeserializeOwned + Default>(
    body: &Bytes,
    expected: &str,
) -> Result<T, Response> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("body: {e}; expected {expected}"),
        )
    })
}

/// The admin listener: `/api/v1` (every route behind its permission), the
/// console's pages, `/metrics`.
pub fn router(state: Arc<AdminState>) -> Router {
    let api = crate::access::api_router()
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::principal::authenticate,
        ))
        .with_state(state.clone());
    Router::new()
        .route("/metrics", get(crate::metrics::metrics))
        .merge(crate::pages::router())
        .with_state(state.clone())
        .nest("/api/v1", api)
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint; the API is under /api/v1 (described at /api/v1/openapi.json), the console at /, metrics at /metrics",
            )
        })
        .layer(middleware::from_fn_with_state(
            state,
            crate::headers::security_headers,
        ))
}

pub(crate) async fn health(State(st): St) -> Response {
    Json(json!({ "status": "ok", "calls": st.calls.len() })).into_response()
}

pub(crate) fn flow_names(st: &AdminState) -> Vec<String> {
    st.script
        .current()
        .names()
        .into_iter()
        .map(str::to_string)
        .collect()
}

pub(crate) async fn prompts_list(State(st): St) -> Response {
    Json(json!(st.prompts.list())).into_response()
}

/// File extension hint from the Content-Type of an upload.
fn audio_hint(headers: &HeaderMap) -> Option<&'static str> {
    let ct = headers
        .get(header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    Some(match ct.split(';').next()?.trim() {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/ogg" | "application/ogg" | "audio/vorbis" => "ogg",
        "audio/flac" | "audio/x-flac" => "flac",
        _ => return None,
    })
}

/// Upload a recording for a prompt: cleaned, checked, published for new plays.
pub(crate) async fn prompt_upload(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "empty body: send the audio file (WAV, MP3, OGG or FLAC)",
        );
    }
    let hint = audio_hint(&headers);
    let store = st.prompts.clone();
    let n = name.clone();
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || store.upload(&n, &body, hint)).await;
    match result {
        Ok(Ok(info)) => {
            p.audit(&st, "prompt.upload", &name, json!(info));
            let mut v = json!(info);
            v["publish_ms"] = json!(started.elapsed().as_millis() as u64);
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Ok(Err(e @ ivr::UploadError::BadName(_))) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Err(e @ ivr::UploadError::Io(_))) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Ok(Err(e)) => {
            p.audit(
                &st,
                "prompt.upload.refused",
                &name,
                json!({ "error": e.to_string() }),
            );
            error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("upload task failed: {e}"),
        ),
    }
}
