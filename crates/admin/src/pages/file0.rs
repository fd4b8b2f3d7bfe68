//! The file 0 page: every DID and flow with its override, the activations
//! in force with their delay (GVS01) and calls redirected, and switching
//! on or off in two steps (the form, then a confirmation page), through the
//! same checks as the API and under the signed-in account.

use std::sync::Arc;

use auth::Perm;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ivr::Mode;
use minijinja::{context, Value};
use serde::Deserialize;

use super::{allowed, checked, render, render_status, who, Posted};
use crate::file0_routes::{activate, deactivate, File0Request};
use crate::AdminState;

fn mode_label(m: Mode) -> &'static str {
    match m {
        Mode::Continue => "message puis parcours normal",
        Mode::Hangup => "message puis raccroché (dissuasion)",
        Mode::Queue => "message puis file d'attente",
    }
}

async fn page_with(
    st: &AdminState,
    s: &auth::Session,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let active: Vec<Value> = st
        .file0
        .list()
        .into_iter()
        .map(|a| {
            context! {
                target => a.target,
                prompt => a.prompt,
                mode => mode_label(a.mode),
                queue => a.queue,
                reason => a.reason,
                by => a.requested_by,
                at => a.requested_at.with_timezone(&chrono_tz::Europe::Paris).format("%d/%m/%Y %H:%M:%S").to_string(),
                delay => a.activation_delay_ms.map(|d| format!("{:.1} s", d as f64 / 1000.0)),
                calls => a.calls,
            }
        })
        .collect();
    let mut dids = st.dids.clone();
    dids.sort();
    dids.dedup();
    let flows = crate::routes::flow_names(st);
    let mut prompts: Vec<String> = st.prompts.list().into_iter().map(|p| p.name).collect();
    prompts.sort();
    let queues: Vec<String> = st
        .acd
        .snapshot()
        .await
        .map(|q| {
            q.queues
                .into_iter()
                .filter(|q| q.active)
                .map(|q| q.name)
                .collect()
        })
        .unwrap_or_default();
    let can_switch = s.role.allows(Perm::File0, s.recordings);
    let applied = st.strategies.applied();
    let strategies: Vec<Value> = st
        .strategies
        .list
        .iter()
        .map(|x| strategy_view(x, applied.as_ref().is_some_and(|a| a.name == x.name)))
        .collect();
    let applied = applied.map(|a| {
        context! {
            name => a.name, by => a.by, took_ms => format!("{:.1}", a.took_ms),
            at => a.at.with_timezone(&st.timezone).format("%d/%m/%Y %H:%M:%S").to_string(),
        }
    });
    render_status(
        code,
        "file0.html",
        context! { who => who(s), csrf => s.csrf, page => "/file0", active, dids, flows, prompts, queues, can_switch, notice, error, wide => true, strategies, applied },
    )
}

/// A strategy as the page lists it, each switch in words.
fn strategy_view(x: &crate::strategy::Strategy, applied: bool) -> Value {
    let switches: Vec<String> = x
        .file0
        .iter()
        .map(|sw| {
            let then = match (&sw.queue, sw.mode) {
                (Some(q), Mode::Queue) => format!("message puis file d'attente {q}"),
                _ => mode_label(sw.mode).to_string(),
            };
            format!("{} : « {} », {then}", sw.target, sw.prompt)
        })
        .collect();
    let flows: Vec<String> = x
        .flows
        .iter()
        .map(|f| format!("parcours {} remplacé par {}", f.flow, f.file.display()))
        .collect();
    context! { name => x.name, label => x.label, switches, flows, applied }
}

pub async fn page(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    match allowed(&st, &headers, "/file0", Perm::File0Read) {
        Ok((s, _)) => page_with(&st, &s, StatusCode::OK, None, None).await,
        Err(r) => r,
    }
}

/// The form, or the file 0 page saying why it is refused.
async fn posted<F: Posted>(
    st: &AdminState,
    s: &auth::Session,
    form: Result<Form<F>, axum::extract::rejection::FormRejection>,
) -> Result<F, Response> {
    match checked(
        s,
        form,
        Some("Formulaire incomplet : cible, message et mode."),
    ) {
        Ok(f) => Ok(f),
        Err((code, why)) => Err(page_with(st, s, code, None, Some(why.into())).await),
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    target: String,
    prompt: String,
    mode: Mode,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    reason: String,
}

impl Posted for SwitchForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl SwitchForm {
    fn request(&self) -> File0Request {
        File0Request {
            target: self.target.clone(),
            prompt: self.prompt.clone(),
            mode: self.mode,
            queue: (self.mode == Mode::Queue && !self.queue.is_empty()).then(|| self.queue.clone()),
            reason: Some(self.reason.clone()).filter(|r| !r.trim().is_empty()),
            by: None,
        }
    }
}

/// Step 1: what will happen, to confirm.
pub async fn confirm(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<SwitchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, _) = match allowed(&st, &headers, "/file0", Perm::File0) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match posted(&st, &s, form).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if f.mode == Mode::Queue && f.queue.is_empty() {
        return page_with(
            &st,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Le mode « file d'attente » demande une file.".into()),
        )
        .await;
    }
    render(
        "file0_confirm.html",
        context! {
            who => who(&s), csrf => s.csrf, page => "/file0", on => true,
            target => f.target, prompt => f.prompt, mode => f.mode.as_str(), mode_label => mode_label(f.mode),
            queue => f.queue, reason => f.reason,
        },
    )
}

/// Step 2: switch on.
pub async fn apply(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<SwitchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/file0", Perm::File0) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match posted(&st, &s, form).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match activate(&st, &p, &f.request()).await {
        Ok(a) => {
            page_with(
                &st,
                &s,
                StatusCode::OK,
                Some(format!(
                    "File 0 activée sur {} : les nouveaux appels entendent « {} ».",
                    a.target, a.prompt
                )),
                None,
            )
            .await
        }
        Err(e) => {
            page_with(
                &st,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(format!("File 0 non activée : {}", e.french())),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct OffForm {
    #[serde(default)]
    csrf: String,
    target: String,
}

impl Posted for OffForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Step 1 of switching off.
pub async fn off_confirm(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<OffForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, _) = match allowed(&st, &headers, "/file0", Perm::File0) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match form {
        Ok(Form(f)) if auth::Sessions::csrf_ok(&s, &f.csrf) => render(
            "file0_confirm.html",
            context! { who => who(&s), csrf => s.csrf, page => "/file0", on => false, target => f.target },
        ),
        _ => Redirect::to("/file0").into_response(),
    }
}

/// Step 2 of switching off.
pub async fn off_apply(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<OffForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/file0", Perm::File0) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match posted(&st, &s, form).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match deactivate(&st, &p, &f.target) {
        Some(a) => {
            page_with(
                &st,
                &s,
                StatusCode::OK,
                Some(format!(
                    "File 0 désactivée sur {} ({} appel(s) redirigé(s)).",
                    a.target, a.calls
                )),
                None,
            )
            .await
        }
        None => {
            page_with(
                &st,
                &s,
                StatusCode::NOT_FOUND,
                None,
                Some(format!("Aucune file 0 active sur {}.", f.target)),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct StrategyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

impl Posted for StrategyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Apply a strategy: step 1 shows what will switch, step 2 (`apply`)
/// switches; `undo` undoes the applied one.
pub async fn strategy(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    axum::extract::Path(step): axum::extract::Path<String>,
    form: Result<Form<StrategyForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/file0", Perm::File0) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match checked(&s, form, None) {
        Ok(f) => f,
        Err((code, why)) => return page_with(&st, &s, code, None, Some(why.into())).await,
    };
    let result = match step.as_str() {
        "confirm" => {
            return match st.strategies.get(&f.name) {
                Some(x) => render(
                    "strategy_confirm.html",
                    context! { who => who(&s), csrf => s.csrf, page => "/file0", strategy => strategy_view(x, false) },
                ),
                None => {
                    let e = crate::strategy::StrategyError::Unknown(f.name);
                    page_with(&st, &s, StatusCode::NOT_FOUND, None, Some(e.french())).await
                }
            }
        }
        "apply" => crate::strategy::apply(&st, &p, &f.name).await.map(|a| {
            format!(
                "Stratégie « {} » appliquée en {:.1} ms : {} file(s) 0 activée(s){}.",
                a.name,
                a.took_ms,
                a.activations.len(),
                a.flows
                    .map(|(_, v)| format!(", parcours en version {v}"))
                    .unwrap_or_default()
            )
        }),
        "undo" => crate::strategy::undo(&st, &p).map(|a| {
            format!(
                "Stratégie « {} » annulée : la situation d'avant est rétablie.",
                a.name
            )
        }),
        other => Err(crate::strategy::StrategyError::Unknown(other.to_string())),
    };
    match result {
        Ok(notice) => page_with(&st, &s, StatusCode::OK, Some(notice), None).await,
        Err(e) => {
            let code = match e {
                crate::strategy::StrategyError::Unknown(_) => StatusCode::NOT_FOUND,
                crate::strategy::StrategyError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            page_with(&st, &s, code, None, Some(e.french())).await
        }
    }
}
