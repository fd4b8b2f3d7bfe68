//! The admin listener's router; the health and flow handlers of `/api/v1`;
//! JSON errors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
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

/// The current flows and every version loaded since start.
pub(crate) async fn flows(State(st): St) -> Response {
    let history: Vec<_> = st
        .script
        .history()
        .iter()
        .map(
            |v| json!({ "version": v.version, "loaded_at": v.loaded_at, "flows": v.flows.names() }),
        )
        .collect();
    Json(json!({ "version": st.script.current_version(), "flows": flow_names(&st), "history": history })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    version: u64,
}

/// Make an earlier flow version current for new calls.
pub(crate) async fn flows_rollback(
    State(st): St,
    Extension(p): Extension<Principal>,
    body: Result<Json<Rollback>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(r)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"version\": N} (see GET /api/v1/flows)",
        );
    };
    match st.script.rollback(r.version) {
        Some(v) => {
            p.audit(&st, "flows.rollback", "*", json!({ "version": v.version }));
            Json(json!({ "version": v.version, "flows": v.flows.names() })).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("no flow version {}", r.version),
        ),
    }
}

pub(crate) async fn flows_reload(State(st): St, Extension(p): Extension<Principal>) -> Response {
    match (st.reload)() {
        Ok(names) => {
            p.audit(&st, "flows.reload", "*", json!({ "flows": names }));
            Json(json!({ "flows": names })).into_response()
        }
        Err(errors) => {
            p.audit(
                &st,
                "flows.reload.refused",
                "*",
                json!({ "errors": errors }),
            );
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": "flows not reloaded; the running ones stay", "errors": errors }))).into_response()
        }
    }
}
