//! Queues and agents: `GET queues`, `GET agents`, and the supervisor's
//! actions on an agent (`POST agents/{id}/{action}`: login, logout, pause,
//! unpause, ready, disposition), each written to the audit log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use call::queueing::{AgentAction, MonitorTarget};
use serde::Deserialize;
use serde_json::json;

use crate::routes::error;
use crate::AdminState;

type St = State<Arc<AdminState>>;

/// Every queue: waiting calls, longest wait, agents by state.
pub async fn queues(State(st): St) -> Response {
    match st.acd.snapshot().await {
        Some(s) => Json(json!({ "queues": s.queues })).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "the ACD is stopped"),
    }
}

/// Every agent: state, pause reason, registration, calls answered.
pub async fn agents(State(st): St) -> Response {
    match st.acd.snapshot().await {
        Some(s) => Json(json!({ "agents": s.agents })).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "the ACD is stopped"),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    /// Pause reason code.
    reason: Option<String>,
    /// Disposition code.
    code: Option<String>,
    /// `monitor`: the account whose registered phone listens.
    phone: Option<String>,
    /// Who asks (kept in the audit log).
    by: Option<String>,
}

/// A supervisor's (or agent desktop's) action on an agent.
pub async fn agent_action(
    State(st): St,
    Path((agent, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b: ActionBody = if body.is_empty() {
        ActionBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("body: {e}; expected {{\"reason\": \"...\"}} or {{\"code\": \"...\"}}"),
                )
            }
        }
    };
    if action == "monitor" {
        let Some(phone) = b.phone.clone() else {
            return error(
                StatusCode::BAD_REQUEST,
                "monitor needs {\"phone\": \"ACCOUNT\"}",
            );
        };
        return start_monitor(&st, MonitorTarget::Agent(agent), phone, b.by).await;
    }
    let act = match action.as_str() {
        "login" => AgentAction::Login,
        "logout" => AgentAction::Logout,
        "pause" => AgentAction::Pause {
            reason: b.reason.clone().unwrap_or_else(|| "pause".into()),
        },
        "unpause" => AgentAction::Unpause,
        "ready" => AgentAction::Ready,
        "disposition" => match &b.code {
            Some(code) => AgentAction::Disposition { code: code.clone() },
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "disposition needs {\"code\": \"...\"}",
                )
            }
        },
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action {other:?}: expected login, logout, pause, unpause, ready, disposition or monitor"),
            )
        }
    };
    match st.acd.agent(&agent, act).await {
        Ok(()) => {
            let who = b.by.clone().unwrap_or_else(|| "api".into());
            st.audit.record(
                &who,
                &format!("agent.{action}"),
                &agent,
                json!({ "reason": b.reason, "code": b.code }),
            );
            let view = st
                .acd
                .snapshot()
                .await
                .and_then(|s| s.agents.into_iter().find(|a| a.id == agent));
            Json(json!({ "agent": view })).into_response()
        }
        Err(e) if e.starts_with("no agent") => error(StatusCode::NOT_FOUND, e),
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorBody {
    /// The account whose registered phone is rung to listen.
    phone: String,
    /// Who asks (kept in the audit log and the CDR).
    by: Option<String>,
}

/// `POST calls/{record_id}/monitor`: silent monitoring of a live
/// conversation by a supervisor's registered phone.
pub async fn monitor(
    State(st): St,
    Path(record_id): Path<String>,
    body: Result<Json<MonitorBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(b) = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{}; expected {{\"phone\":\"ACCOUNT\",\"by\":\"NAME\"}}",
                    e.body_text()
                ),
            )
        }
    };
    start_monitor(&st, MonitorTarget::Call(record_id), b.phone, b.by).await
}

async fn start_monitor(
    st: &AdminState,
    target: MonitorTarget,
    phone: String,
    by: Option<String>,
) -> Response {
    let by = by.unwrap_or_else(|| "api".into());
    let what = match &target {
        MonitorTarget::Call(r) => format!("call:{r}"),
        MonitorTarget::Agent(a) => format!("agent:{a}"),
    };
    match st.acd.monitor(target, &phone, &by).await {
        Ok(()) => {
            st.audit
                .record(&by, "call.monitor", &what, json!({ "phone": phone }));
            Json(json!({ "monitoring": what, "phone": phone, "status": "ringing" })).into_response()
        }
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}
