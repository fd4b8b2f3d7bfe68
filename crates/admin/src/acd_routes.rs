//! Queues and agents: `GET queues`, `GET agents`, and the supervisor's
//! actions on an agent (`POST agents/{id}/{action}`: login, logout, pause,
//! unpause, ready, disposition), each written to the audit log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use call::acd::{AgentAction, AgentActionError, MonitorError, MonitorTarget};
use serde::Deserialize;
use serde_json::json;

use crate::principal::Principal;
use crate::routes::error;
use crate::AdminState;

type St = State<Arc<AdminState>>;

/// Every queue the account sees: waiting calls, longest wait, agents by state.
pub async fn queues(State(st): St, Extension(p): Extension<Principal>) -> Response {
    match st.acd.snapshot().await {
        Some(mut s) => {
            s.queues.retain(|q| p.sees(Some(&q.name)));
            Json(json!({ "queues": s.queues })).into_response()
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, "the ACD is stopped"),
    }
}

/// Does an account limited to some queues see this agent (one who serves
/// at least one of them)?
fn sees_agent(p: &Principal, agent: &acd::AgentView) -> bool {
    p.queues.is_all() || agent.queues.iter().any(|q| p.sees(Some(q)))
}

/// Every agent the account sees: state, pause reason, registration, calls answered.
pub async fn agents(State(st): St, Extension(p): Extension<Principal>) -> Response {
    match st.acd.snapshot().await {
        Some(mut s) => {
            s.agents.retain(|a| sees_agent(&p, a));
            Json(json!({ "agents": s.agents })).into_response()
        }
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
    /// A name the caller gives (kept beside the authenticated account).
    by: Option<String>,
}

/// A supervisor's (or agent desktop's) action on an agent.
pub async fn agent_action(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path((agent, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b: ActionBody =
        match crate::routes::optional_json(&body, r#"{"reason": "..."} or {"code": "..."}"#) {
            Ok(b) => b,
            Err(r) => return r,
        };
    if !p.queues.is_all() {
        let serves = st
            .acd
            .snapshot()
            .await
            .and_then(|s| s.agents.into_iter().find(|a| a.id == agent))
            .is_some_and(|a| sees_agent(&p, &a));
        if !serves {
            return error(
                StatusCode::FORBIDDEN,
                format!(
                    "agent {agent:?} serves none of your queues ({})",
                    p.queues.0.join(", ")
                ),
            );
        }
    }
    if action == "monitor" {
        if !p.allows(auth::Perm::Monitor) {
            return error(
                StatusCode::FORBIDDEN,
                format!("the {} role may not listen to calls", p.role),
            );
        }
        let Some(phone) = b.phone.clone() else {
            return error(
                StatusCode::BAD_REQUEST,
                "monitor needs {\"phone\": \"ACCOUNT\"}",
            );
        };
        return start_monitor(&st, &p, MonitorTarget::Agent(agent), phone, b.by).await;
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
            p.audit(
                &st,
                &format!("agent.{action}"),
                &agent,
                json!({ "reason": b.reason, "code": b.code, "declared_by": b.by }),
            );
            let view = st
                .acd
                .snapshot()
                .await
                .and_then(|s| s.agents.into_iter().find(|a| a.id == agent));
            Json(json!({ "agent": view })).into_response()
        }
        Err(e @ AgentActionError::UnknownAgent(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ AgentActionError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorBody {
    /// The account whose registered phone is rung to listen.
    phone: String,
    /// A name the caller gives (kept beside the authenticated account).
    by: Option<String>,
}

/// `POST calls/{record_id}/monitor`: silent monitoring of a live
/// conversation by a supervisor's registered phone.
pub async fn monitor(
    State(st): St,
    Extension(p): Extension<Principal>,
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
    start_monitor(&st, &p, MonitorTarget::Call(record_id), b.phone, b.by).await
}

async fn start_monitor(
    st: &AdminState,
    p: &Principal,
    target: MonitorTarget,
    phone: String,
    declared: Option<String>,
) -> Response {
    let by = p.account.clone();
    let what = match &target {
        MonitorTarget::Call(r) => format!("call:{r}"),
        MonitorTarget::Agent(a) => format!("agent:{a}"),
    };
    match st.acd.monitor(target, &phone, &by).await {
        Ok(()) => {
            p.audit(
                st,
                "call.monitor",
                &what,
                json!({ "phone": phone, "declared_by": declared }),
            );
            Json(json!({ "monitoring": what, "phone": phone, "status": "ringing" })).into_response()
        }
        Err(e) => {
            let status = match e {
                MonitorError::CallNotTalking(_)
                | MonitorError::AgentNotTalking(_)
                | MonitorError::PhoneNotRegistered(_) => StatusCode::CONFLICT,
                MonitorError::Dial { .. } | MonitorError::Stopped => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            error(status, e.to_string())
        }
    }
}
