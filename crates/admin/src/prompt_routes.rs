//! The prompts of `/api/v1`: list; upload and publish at once (`PUT`);
//! or prepare a cleaned draft, hear it, then publish or discard it; every
//! version's audio and history, and the restore of an earlier version as a
//! new one. Every change goes to the audit log under the signed-in account.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ivr::{PromptAudio, UploadError};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use crate::principal::Principal;
use crate::routes::error;
use crate::AdminState;

type St = State<Arc<AdminState>>;

pub(crate) async fn list(State(st): St) -> Response {
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

/// The answer to a refused prompt operation: 400 for a bad name, 404 for
/// what does not exist, 422 for a recording that fails its checks.
fn refused(e: UploadError) -> Response {
    let code = match e {
        UploadError::BadName(_) => StatusCode::BAD_REQUEST,
        UploadError::Unknown(_) | UploadError::NoDraft(_) | UploadError::NoVersion { .. } => {
            StatusCode::NOT_FOUND
        }
        UploadError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        UploadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(code, e.to_string())
}

/// Run a slow prompt-store operation off the executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UploadError> + Send + 'static,
) -> Result<T, UploadError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("prompt task failed: {e}")).into()))
}

fn empty_body() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "empty body: send the audio file (WAV, MP3, OGG or FLAC)",
    )
}

/// Upload a recording for a prompt: cleaned, checked, published for new plays.
pub(crate) async fn upload(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.is_empty() {
        return empty_body();
    }
    let hint = audio_hint(&headers);
    let (store, n, by) = (st.prompts.clone(), name.clone(), p.account.clone());
    let started = std::time::Instant::now();
    match blocking(move || store.upload(&n, &body, hint, &by)).await {
        Ok(info) => {
            p.audit(&st, "prompt.upload", &name, json!(info));
            let mut v = json!(info);
            v["publish_ms"] = json!(started.elapsed().as_millis() as u64);
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Err(e @ UploadError::Refused(_)) => {
            p.audit(
                &st,
                "prompt.upload.refused",
                &name,
                json!({ "error": e.to_string() }),
            );
            refused(e)
        }
        Err(e) => refused(e),
    }
}

/// Clean and check a recording, kept as the prompt's draft (not published).
pub(crate) async fn draft_create(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.is_empty() {
        return empty_body();
    }
    let hint = audio_hint(&headers);
    let (store, n, by) = (st.prompts.clone(), name.clone(), p.account.clone());
    match blocking(move || store.prepare(&n, &body, hint, &by)).await {
        Ok(draft) => {
            p.audit(&st, "prompt.draft", &name, json!(draft));
            (StatusCode::CREATED, Json(draft)).into_response()
        }
        Err(e @ UploadError::Refused(_)) => {
            p.audit(
                &st,
                "prompt.draft.refused",
                &name,
                json!({ "error": e.to_string() }),
            );
            refused(e)
        }
        Err(e) => refused(e),
    }
}

/// The draft waiting to be published, with what cleaning measured.
pub(crate) async fn draft_get(State(st): St, Path(name): Path<String>) -> Response {
    match st.prompts.draft(&name) {
        Ok(d) => Json(d).into_response(),
        Err(e) => refused(e),
    }
}

pub(crate) async fn draft_audio(State(st): St, Path(name): Path<String>, req: Request) -> Response {
    match st.prompts.draft_audio(&name) {
        Ok(a) => serve(a, req).await,
        Err(e) => refused(e),
    }
}

pub(crate) async fn draft_delete(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    match st.prompts.discard_draft(&name) {
        Ok(d) => {
            p.audit(&st, "prompt.draft.discard", &name, json!(d));
            Json(json!({ "discarded": d })).into_response()
        }
        Err(e) => refused(e),
    }
}

/// Publish the draft for new calls (calls in progress keep what they play).
pub(crate) async fn publish(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    let (store, n, by) = (st.prompts.clone(), name.clone(), p.account.clone());
    match blocking(move || store.publish_draft(&n, &by)).await {
        Ok(info) => {
            p.audit(&st, "prompt.publish", &name, json!(info));
            Json(info).into_response()
        }
        Err(e) => refused(e),
    }
}

pub(crate) async fn versions(State(st): St, Path(name): Path<String>) -> Response {
    let (store, n) = (st.prompts.clone(), name.clone());
    match blocking(move || store.history(&n)).await {
        Ok(versions) => {
            let current = st
                .prompts
                .list()
                .into_iter()
                .find(|i| i.name == name)
                .map(|i| i.version);
            Json(json!({ "name": name, "current": current, "versions": versions })).into_response()
        }
        Err(e) => refused(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AudioQuery {
    /// A version from `versions`; the current one if left out.
    version: Option<u32>,
}

/// A version's audio, for the browser's player (byte ranges, never cached).
pub(crate) async fn audio(
    State(st): St,
    Path(name): Path<String>,
    q: Result<Query<AudioQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected ?version=N, N a version number (see GET /api/v1/prompts/{name}/versions)",
        );
    };
    match st.prompts.audio(&name, q.version) {
        Ok(a) => serve(a, req).await,
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Restore {
    version: u32,
}

/// Publish a copy of an earlier version (0: the shipped file) as a new one.
pub(crate) async fn restore(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<Restore>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(r)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"version\": N} (see GET /api/v1/prompts/{name}/versions)",
        );
    };
    let (store, n, by) = (st.prompts.clone(), name.clone(), p.account.clone());
    match blocking(move || store.restore(&n, r.version, &by)).await {
        Ok(info) => {
            p.audit(&st, "prompt.restore", &name, json!(info));
            Json(info).into_response()
        }
        Err(e) => refused(e),
    }
}

async fn serve(audio: PromptAudio, req: Request) -> Response {
    let mut resp = match audio {
        PromptAudio::Wav(bytes) => ([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response(),
        PromptAudio::File(path) => {
            // tower-http's ServeFile answers ranges (seeking) and HEAD.
            let mime: mime::Mime = "audio/wav".parse().expect("a valid MIME type");
            match tower_http::services::ServeFile::new_with_mime(&path, &mime)
                .oneshot(req)
                .await
            {
                Ok(r) => r.into_response(),
                Err(e) => {
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("reading {}: {e}", path.display()),
                    )
                }
            }
        }
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
