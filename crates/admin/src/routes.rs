//! Routes of `/api/v1`, the bearer-token check, and JSON errors.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ivr::Mode;
use serde::Deserialize;
use serde_json::json;

use crate::AdminState;

type St = State<Arc<AdminState>>;

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

/// The API under `/api/v1`, every route behind the bearer token.
pub fn router(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/file0", post(file0_activate).get(file0_list))
        .route("/file0/{target}", delete(file0_deactivate))
        .route("/flows", get(flows))
        .route("/flows/reload", post(flows_reload))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state);
    Router::new().nest("/api/v1", api).fallback(|| async {
        error(
            StatusCode::NOT_FOUND,
            "no such endpoint; the API is under /api/v1",
        )
    })
}

async fn auth(State(st): St, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), st.token.as_bytes()) => next.run(req).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "wrong token"),
        None => error(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer TOKEN`",
        ),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn health(State(st): St) -> Response {
    Json(json!({ "status": "ok", "calls": st.calls.len() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File0Request {
    target: String,
    prompt: String,
    mode: Mode,
    reason: Option<String>,
    /// Who asks (kept in the audit log).
    by: Option<String>,
}

async fn file0_activate(
    State(st): St,
    body: Result<Json<File0Request>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{}; expected {{\"target\":\"3422\",\"prompt\":\"NAME\",\"mode\":\"continue\"|\"hangup\"}}", e.body_text()),
            )
        }
    };
    if !(st.prompt_exists)(&r.prompt) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("prompt {:?} does not exist", r.prompt),
        );
    }
    let flows = (st.flows)();
    if !st.dids.contains(&r.target) && !flows.contains(&r.target) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "target {:?} is neither a DID nor a flow (DIDs: {}; flows: {})",
                r.target,
                st.dids.join(", "),
                flows.join(", ")
            ),
        );
    }
    let who = r.by.clone().unwrap_or_else(|| "api".into());
    let a = st
        .file0
        .activate(&r.target, &r.prompt, r.mode, r.reason.clone(), &who);
    tracing::warn!(activation = %a.id, target = %a.target, prompt = %a.prompt, mode = a.mode.as_str(), by = %who, "file 0 activated");
    st.audit.record(&who, "file0.activate", &r.target, json!(a));
    (StatusCode::CREATED, Json(json!(a))).into_response()
}

async fn file0_list(State(st): St) -> Response {
    Json(json!(st.file0.list())).into_response()
}

async fn file0_deactivate(State(st): St, Path(target): Path<String>) -> Response {
    match st.file0.deactivate(&target) {
        Some(a) => {
            tracing::warn!(activation = %a.id, target = %target, calls = a.calls, "file 0 deactivated");
            st.audit
                .record("api", "file0.deactivate", &target, json!(a));
            Json(json!(a)).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("no file 0 active on {target:?}"),
        ),
    }
}

async fn flows(State(st): St) -> Response {
    Json(json!({ "flows": (st.flows)() })).into_response()
}

async fn flows_reload(State(st): St) -> Response {
    match (st.reload)() {
        Ok(names) => {
            st.audit
                .record("api", "flows.reload", "*", json!({ "flows": names }));
            Json(json!({ "flows": names })).into_response()
        }
        Err(errors) => {
            st.audit.record(
                "api",
                "flows.reload.refused",
                "*",
                json!({ "errors": errors }),
            );
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": "flows not reloaded; the running ones stay", "errors": errors }))).into_response()
        }
    }
}
