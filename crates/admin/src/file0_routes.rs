//! File 0 over the API (`POST file0`, `GET file0`, `DELETE file0/{target}`)
//! and the checks and switching shared with the console's file 0 page:
//! a target that is a DID or a flow, a prompt that exists, a queue for
//! mode `queue`; each switch logged and audited under the account.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ivr::{Activation, Mode};
use serde::Deserialize;
use serde_json::json;

use crate::principal::Principal;
use crate::routes::{error, flow_names};
use crate::AdminState;

type St = State<Arc<AdminState>>;

/// A file 0 switch-on.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct File0Request {
    pub target: String,
    pub prompt: String,
    pub mode: Mode,
    /// For mode `queue`: where the calls wait.
    pub queue: Option<String>,
    pub reason: Option<String>,
    /// A name the caller gives (kept in the audit log's details beside the
    /// authenticated account, never in its place).
    pub by: Option<String>,
}

/// Why a file 0 switch-on is refused (a 400: the request is wrong).
#[derive(Debug, thiserror::Error)]
pub(crate) enum File0Error {
    /// No prompt of that name.
    #[error("prompt {0:?} does not exist")]
    UnknownPrompt(String),
    /// The target is neither a DID nor a flow.
    #[error("target {target:?} is neither a DID nor a flow (DIDs: {dids}; flows: {flows})")]
    UnknownTarget {
        /// The target asked for.
        target: String,
        /// The DIDs there are, comma-separated.
        dids: String,
        /// The flows there are, comma-separated.
        flows: String,
    },
    /// Mode `queue` without a queue.
    #[error("mode \"queue\" needs \"queue\": the queue calls go to")]
    QueueMissing,
    /// No queue of that name.
    #[error("queue {queue:?} does not exist (queues: {known})")]
    UnknownQueue {
        /// The queue asked for.
        queue: String,
        /// The queues there are, comma-separated.
        known: String,
    },
    /// A queue given with another mode.
    #[error("\"queue\" goes with mode \"queue\" only")]
    QueueWithoutQueueMode,
}

impl File0Error {
    /// The same, for the French console page.
    pub(crate) fn french(&self) -> String {
        match self {
            File0Error::UnknownPrompt(p) => format!("le message « {p} » n'existe pas"),
            File0Error::UnknownTarget {
                target,
                dids,
                flows,
            } => format!("« {target} » n'est ni un numéro (SDA : {dids}) ni un parcours ({flows})"),
            File0Error::QueueMissing => "le mode « file d'attente » demande une file".into(),
            File0Error::UnknownQueue { queue, known } => {
                format!("la file « {queue} » n'existe pas (files : {known})")
            }
            File0Error::QueueWithoutQueueMode => {
                "une file ne se donne qu'avec le mode « file d'attente »".into()
            }
        }
    }
}

/// Check and switch on; the activation, or what is wrong.
pub(crate) async fn activate(
    st: &AdminState,
    p: &Principal,
    r: &File0Request,
) -> Result<Activation, File0Error> {
    let (queue, reason) = check(st, r).await?;
    Ok(switch_on(st, p, r, queue, reason))
}

/// What `activate` checks: the queue and reason to switch on with, or what
/// is wrong.
pub(crate) async fn check(
    st: &AdminState,
    r: &File0Request,
) -> Result<(Option<String>, Option<String>), File0Error> {
    if st.prompts.current().get(&r.prompt).is_none() {
        return Err(File0Error::UnknownPrompt(r.prompt.clone()));
    }
    let flows = flow_names(st);
    if !st.dids.contains(&r.target) && !flows.contains(&r.target) {
        return Err(File0Error::UnknownTarget {
            target: r.target.clone(),
            dids: st.dids.join(", "),
            flows: flows.join(", "),
        });
    }
    let queue = match (r.mode, &r.queue) {
        (Mode::Queue, None) => return Err(File0Error::QueueMissing),
        (Mode::Queue, Some(q)) => {
            let known: Vec<String> = st
                .acd
                .snapshot()
                .await
                .map(|s| s.queues.into_iter().map(|q| q.name).collect())
                .unwrap_or_default();
            if !known.contains(q) {
                return Err(File0Error::UnknownQueue {
                    queue: q.clone(),
                    known: known.join(", "),
                });
            }
            Some(q.clone())
        }
        (_, Some(q)) if !q.is_empty() => return Err(File0Error::QueueWithoutQueueMode),
        (_, _) => None,
    };
    let reason = r.reason.clone().filter(|x| !x.trim().is_empty());
    Ok((queue, reason))
}

/// Switch on what `check` accepted, logged and audited.
pub(crate) fn switch_on(
    st: &AdminState,
    p: &Principal,
    r: &File0Request,
    queue: Option<String>,
    reason: Option<String>,
) -> Activation {
    let a = st
        .file0
        .activate(&r.target, &r.prompt, r.mode, queue, reason, &p.account);
    tracing::warn!(activation = %a.id, target = %a.target, prompt = %a.prompt, mode = a.mode.as_str(), by = %p.account, "file 0 activated");
    let mut details = json!(a);
    details["declared_by"] = json!(r.by);
    p.audit(st, "file0.activate", &r.target, details);
    a
}

/// Switch off; the ended activation, if one was on.
pub(crate) fn deactivate(st: &AdminState, p: &Principal, target: &str) -> Option<Activation> {
    let a = st.file0.deactivate(target)?;
    tracing::warn!(activation = %a.id, target = %target, calls = a.calls, by = %p.account, "file 0 deactivated");
    p.audit(st, "file0.deactivate", target, json!(a));
    Some(a)
}

pub(crate) async fn file0_activate(
    State(st): St,
    Extension(p): Extension<Principal>,
    body: Result<Json<File0Request>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{}; expected {{\"target\":\"3422\",\"prompt\":\"NAME\",\"mode\":\"continue\"|\"hangup\"|\"queue\",\"queue\":\"NAME\"}}", e.body_text()),
            )
        }
    };
    match activate(&st, &p, &r).await {
        Ok(a) => (StatusCode::CREATED, Json(json!(a))).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

pub(crate) async fn file0_list(State(st): St) -> Response {
    Json(json!(st.file0.list())).into_response()
}

pub(crate) async fn file0_deactivate(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(target): Path<String>,
) -> Response {
    match deactivate(&st, &p, &target) {
        Some(a) => Json(json!(a)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no file 0 active on {target:?}"),
        ),
    }
}
