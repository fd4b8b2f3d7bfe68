//! `/api/v1/flows`: versions and their texts, diffs, checking an edited
//! flow, a version under test on the test DIDs then promoted, rollback and
//! reload.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::flow_edit::{self, EditError};
use crate::principal::Principal;
use crate::routes::{error, optional_json};
use crate::AdminState;

type St = State<Arc<AdminState>>;

fn version_json(v: &ivr::script::FlowVersion) -> Value {
    json!({ "version": v.version, "loaded_at": v.loaded_at, "origin": v.origin, "flows": v.flows.names() })
}

/// A refused change as JSON: 422 with every error of the flow by line, 404
/// for what does not exist, 409 when the state does not allow it.
pub(crate) fn edit_error(e: EditError) -> Response {
    let code = match &e {
        EditError::UnknownFlow(_) | EditError::UnknownVersion(_) => StatusCode::NOT_FOUND,
        EditError::NothingUnderTest | EditError::Unchanged => StatusCode::CONFLICT,
        EditError::Invalid(_) | EditError::Renamed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        EditError::Write { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let errors: Vec<Value> = match &e {
        EditError::Invalid(list) => list
            .iter()
            .map(|f| json!({ "file": f.file, "line": f.line, "message": f.message }))
            .collect(),
        _ => Vec::new(),
    };
    (
        code,
        Json(json!({ "error": e.to_string(), "errors": errors })),
    )
        .into_response()
}

/// The version in use, the one under test, the test DIDs and the history.
pub(crate) async fn flows(State(st): St) -> Response {
    let history: Vec<Value> = st.script.history().iter().map(version_json).collect();
    let did_flows: Vec<Value> = st
        .did_flows
        .iter()
        .map(|(d, f)| json!({ "did": d, "flow": f }))
        .collect();
    Json(json!({
        "version": st.script.current_version(),
        "flows": crate::routes::flow_names(&st),
        "under_test": st.script.candidate().as_ref().map(version_json),
        "test_dids": st.script.test_dids(),
        "dids": did_flows,
        "history": history,
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct VersionQuery {
    version: Option<u64>,
}

/// A flow's text in a version (default: the one in use).
pub(crate) async fn flow_source(
    State(st): St,
    Path(name): Path<String>,
    q: Result<Query<VersionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(StatusCode::BAD_REQUEST, "expected ?version=N (a number)");
    };
    let v = match flow_edit::version(&st, q.version) {
        Ok(v) => v,
        Err(e) => return edit_error(e),
    };
    match v.flows.get(&name) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            f.source.to_string(),
        )
            .into_response(),
        None => edit_error(EditError::UnknownFlow(name)),
    }
}

#[derive(Deserialize)]
pub(crate) struct DiffQuery {
    from: u64,
    to: Option<u64>,
}

/// The line diff of every flow that differs between two versions (`to`
/// defaults to the one in use).
pub(crate) async fn flows_diff(
    State(st): St,
    q: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected ?from=N&to=M (version numbers; `to` defaults to the version in use)",
        );
    };
    let (from, to) = match (
        flow_edit::version(&st, Some(q.from)),
        flow_edit::version(&st, q.to),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return edit_error(e),
    };
    Json(json!({ "from": from.version, "to": to.version, "flows": flow_edit::diff(&from.flows, &to.flows) }))
        .into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditBody {
    flow: String,
    text: String,
}

const EDIT_EXPECTED: &str = "{\"flow\": NAME, \"text\": the flow file's TOML}";

fn edit_body(body: &Bytes) -> Result<EditBody, Response> {
    let b: EditBody = optional_json(body, EDIT_EXPECTED)?;
    if b.flow.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("expected {EDIT_EXPECTED}"),
        ));
    }
    Ok(b)
}

/// Check an edited flow file: every error with its line, nothing changed.
pub(crate) async fn flows_check(State(st): St, body: Bytes) -> Response {
    let b = match edit_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match flow_edit::check(&st, &b.flow, &b.text) {
        Ok(f) => {
            Json(json!({ "ok": true, "flow": f.name, "nodes": f.nodes.len() })).into_response()
        }
        Err(e) => edit_error(e),
    }
}

/// Put an edited flow under test on the test DIDs.
pub(crate) async fn flows_stage(
    State(st): St,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Response {
    let b = match edit_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match flow_edit::stage(&st, &p, &b.flow, &b.text) {
        Ok(v) => (
            StatusCode::CREATED,
            Json(json!({ "version": v.version, "test_dids": st.script.test_dids() })),
        )
            .into_response(),
        Err(e) => edit_error(e),
    }
}

/// Make the version under test current on every number.
pub(crate) async fn flows_promote(State(st): St, Extension(p): Extension<Principal>) -> Response {
    match flow_edit::promote(&st, &p) {
        Ok(v) => Json(version_json(&v)).into_response(),
        Err(e) => edit_error(e),
    }
}

/// Withdraw the version under test.
pub(crate) async fn flows_discard(State(st): St, Extension(p): Extension<Principal>) -> Response {
    match flow_edit::discard(&st, &p) {
        Ok(v) => Json(version_json(&v)).into_response(),
        Err(e) => edit_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    version: u64,
}

/// Make an earlier flow version current for new calls (and on disk).
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
    match flow_edit::rollback(&st, &p, r.version) {
        Ok(v) => Json(version_json(&v)).into_response(),
        Err(e) => edit_error(e),
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
