//! The admin listener's router, the health handler of `/api/v1`, JSON
//! errors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

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
