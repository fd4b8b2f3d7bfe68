//! Predefined crisis strategies (GVP05): named sets of file 0 switches and
//! prepared flow files, written in the configuration in advance and applied
//! in one action, all or nothing; undone in one action too. Every switch
//! goes through the same checks as file 0 and flow edits, under the
//! signed-in account, and is audited.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use ivr::{FlowSet, Mode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::file0_routes::{self, File0Request};
use crate::principal::Principal;
use crate::AdminState;

/// One file 0 switch of a strategy, as written in the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// A DID or a flow.
    pub target: String,
    /// The prompt to play (its name in the prompt store).
    pub prompt: String,
    /// What happens after the message: continue, hang up or queue.
    pub mode: Mode,
    /// For mode `queue`: the queue calls wait in; `None` otherwise.
    #[serde(default)]
    pub queue: Option<String>,
    /// Why, kept with the activation and in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A flow file prepared for a strategy.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedFlow {
    /// The flow it replaces (its `[flow] name`).
    pub flow: String,
    /// Where the prepared text was read from.
    pub file: PathBuf,
    /// The prepared flow file's text (not serialised).
    #[serde(skip)]
    pub text: String,
}

/// A strategy of the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Strategy {
    /// Its name, used to apply it.
    pub name: String,
    /// What it is for, in the operators' words.
    pub label: String,
    /// The file 0 switches it turns on.
    pub file0: Vec<Switch>,
    /// The flows it replaces with prepared files.
    pub flows: Vec<PreparedFlow>,
}

/// What applying a strategy left, to undo it.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The strategy applied.
    pub name: String,
    /// The account that applied it.
    pub by: String,
    /// When it was applied.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Activation ids set, by target.
    pub activations: Vec<(String, String)>,
    /// The flow version in use before, and the one the strategy set.
    pub flows: Option<(u64, u64)>,
    /// Time from the request to everything switched, in ms.
    pub took_ms: f64,
}

/// The strategies and the one applied, if any.
#[derive(Default)]
pub struct Strategies {
    /// The strategies of the configuration, in its order.
    pub list: Vec<Strategy>,
    /// The strategy applied now; `None` when none is.
    pub applied: Mutex<Option<Applied>>,
    /// Set while one is being applied: two supervisors pressing at once
    /// must not both apply.
    applying: std::sync::atomic::AtomicBool,
}

impl Strategies {
    /// The configured strategies, none applied.
    pub fn new(list: Vec<Strategy>) -> Self {
        Strategies {
            list,
            applied: Mutex::new(None),
            applying: Default::default(),
        }
    }

    /// The strategy called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Strategy> {
        self.list.iter().find(|s| s.name == name)
    }

    /// The strategy applied now, if any.
    pub fn applied(&self) -> Option<Applied> {
        self.applied.lock().expect("strategy lock").clone()
    }
}

/// Why a strategy was not applied or undone.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// No strategy of that name in the configuration.
    #[error("no strategy {0:?} (see GET /api/v1/strategies)")]
    Unknown(String),
    /// A strategy (named) is applied already, or one is being applied.
    #[error("strategy {0:?} is applied already: undo it first")]
    AlreadyApplied(String),
    /// Undo asked with no strategy applied.
    #[error("no strategy is applied")]
    NoneApplied,
    /// A check failed before anything was switched (or a switch of flows
    /// failed); says why.
    #[error("nothing switched: {0}")]
    Refused(String),
}

impl StrategyError {
    /// The same, in French, for the console.
    pub fn french(&self) -> String {
        match self {
            StrategyError::Unknown(n) => format!("Aucune stratégie « {n} »."),
            StrategyError::AlreadyApplied(n) => {
                format!("La stratégie « {n} » est déjà appliquée : annulez-la d'abord.")
            }
            StrategyError::NoneApplied => "Aucune stratégie n'est appliquée.".into(),
            StrategyError::Refused(why) => format!("Rien n'a été changé : {why}"),
        }
    }
}

fn request(s: &Switch) -> File0Request {
    File0Request {
        target: s.target.clone(),
        prompt: s.prompt.clone(),
        mode: s.mode,
        queue: s.queue.clone(),
        reason: s.reason.clone(),
        by: None,
    }
}

/// Check everything, then switch everything: the file 0 switches and the
/// prepared flows (a new flow version for every number, written to the
/// flow files).
pub async fn apply(st: &AdminState, p: &Principal, name: &str) -> Result<Applied, StrategyError> {
    use std::sync::atomic::Ordering;
    let flag = &st.strategies.applying;
    if flag.swap(true, Ordering::AcqRel) {
        return Err(StrategyError::AlreadyApplied("(being applied)".into()));
    }
    let result = apply_once(st, p, name).await;
    flag.store(false, Ordering::Release);
    result
}

async fn apply_once(st: &AdminState, p: &Principal, name: &str) -> Result<Applied, StrategyError> {
    let started = Instant::now();
    let s = st
        .strategies
        .get(name)
        .ok_or_else(|| StrategyError::Unknown(name.to_string()))?;
    if let Some(a) = st.strategies.applied() {
        return Err(StrategyError::AlreadyApplied(a.name));
    }
    if !s.flows.is_empty() && !p.allows(auth::Perm::Flows) {
        return Err(StrategyError::Refused(
            "this strategy changes flows, which this account may not do".into(),
        ));
    }
    // Everything is checked before anything is switched.
    let mut checked = Vec::new();
    for sw in &s.file0 {
        let r = request(sw);
        let (queue, reason) = file0_routes::check(st, &r)
            .await
            .map_err(|e| StrategyError::Refused(format!("file 0 on {}: {e}", sw.target)))?;
        checked.push((r, queue, reason));
    }
    let mut set: Option<FlowSet> = None;
    let in_use = crate::flow_edit::in_use(st);
    for f in &s.flows {
        let current = in_use
            .flows
            .get(&f.flow)
            .ok_or_else(|| StrategyError::Refused(format!("flow {:?} is not loaded", f.flow)))?;
        let flow = (st.check_flow)(&current.file, &f.text).map_err(|errs| {
            let list: Vec<String> = errs.iter().map(ToString::to_string).collect();
            StrategyError::Refused(format!(
                "prepared flow {}: {}",
                f.file.display(),
                list.join("; ")
            ))
        })?;
        let base = set.take().unwrap_or_else(|| (*in_use.flows).clone());
        set = Some(base.replacing(flow));
    }
    let flows = match set {
        Some(set) => {
            let v = crate::flow_edit::publish(st, p, set, &format!("stratégie {name}"))
                .map_err(|e| StrategyError::Refused(e.to_string()))?;
            Some((in_use.version, v.version))
        }
        None => None,
    };
    let activations = checked
        .into_iter()
        .map(|(r, queue, reason)| {
            let a = file0_routes::switch_on(st, p, &r, queue, reason);
            (a.target, a.id)
        })
        .collect();
    let applied = Applied {
        name: name.to_string(),
        by: p.account.clone(),
        at: chrono::Utc::now(),
        activations,
        flows,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    tracing::warn!(strategy = %name, by = %p.account, took_ms = applied.took_ms, "crisis strategy applied");
    p.audit(st, "strategy.apply", name, json!(applied));
    *st.strategies.applied.lock().expect("strategy lock") = Some(applied.clone());
    Ok(applied)
}

/// Undo the applied strategy: switch off the file 0 activations it set
/// (those still in force) and put back the flow version in use before it
/// (when its own is still in use).
pub fn undo(st: &AdminState, p: &Principal) -> Result<Applied, StrategyError> {
    let applied = st.strategies.applied().ok_or(StrategyError::NoneApplied)?;
    if let Some((before, set)) = applied.flows {
        if st.script.current_version() == set {
            crate::flow_edit::rollback(st, p, before)
                .map_err(|e| StrategyError::Refused(e.to_string()))?;
        }
    }
    for (target, id) in &applied.activations {
        let still = st.file0.list().into_iter().any(|a| &a.id == id);
        if still {
            file0_routes::deactivate(st, p, target);
        }
    }
    *st.strategies.applied.lock().expect("strategy lock") = None;
    tracing::warn!(strategy = %applied.name, by = %p.account, "crisis strategy undone");
    p.audit(
        st,
        "strategy.undo",
        &applied.name,
        json!({ "applied_by": applied.by }),
    );
    Ok(applied)
}

type St = axum::extract::State<std::sync::Arc<AdminState>>;

fn refused(e: StrategyError) -> axum::response::Response {
    use axum::http::StatusCode;
    let code = match e {
        StrategyError::Unknown(_) => StatusCode::NOT_FOUND,
        StrategyError::AlreadyApplied(_) | StrategyError::NoneApplied => StatusCode::CONFLICT,
        StrategyError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    crate::routes::error(code, e.to_string())
}

/// `GET /strategies`: the prepared strategies and the one applied.
pub(crate) async fn list(axum::extract::State(st): St) -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::Json(json!({ "strategies": st.strategies.list, "applied": st.strategies.applied() }))
        .into_response()
}

/// `POST /strategies/{name}/apply`.
pub(crate) async fn apply_route(
    axum::extract::State(st): St,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match apply(&st, &p, &name).await {
        Ok(a) => (axum::http::StatusCode::CREATED, axum::Json(json!(a))).into_response(),
        Err(e) => refused(e),
    }
}

/// `POST /strategies/undo`.
pub(crate) async fn undo_route(
    axum::extract::State(st): St,
    axum::Extension(p): axum::Extension<Principal>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match undo(&st, &p) {
        Ok(a) => axum::Json(json!(a)).into_response(),
        Err(e) => refused(e),
    }
}
