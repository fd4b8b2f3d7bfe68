//! "Parcours": the flow version in use and the one under test, each flow
//! with the numbers leading to it, the history with diffs; editing a flow
//! file with every error shown on its line, putting it under test on the
//! test numbers, then promoting it to every number (or withdrawing it), and
//! making an earlier version current again. Every change goes through
//! `flow_edit`, as the API's do, under the signed-in account.

use std::sync::Arc;

use auth::Perm;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use minijinja::{context, Value};
use serde::Deserialize;

use super::{allowed, checked, render, render_status, who, Posted};
use crate::flow_edit::{self, EditError, FlowDiff};
use crate::AdminState;

fn when(st: &AdminState, t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&st.timezone)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

fn origin_label(origin: &str) -> String {
    match origin {
        "start" => "au démarrage".into(),
        "SIGHUP" => "rechargée (SIGHUP)".into(),
        "admin API" => "rechargée (API)".into(),
        other => other.to_string(),
    }
}

/// Each diff line with its kind, for colours.
fn diff_lines(d: &[FlowDiff]) -> Vec<Value> {
    d.iter()
        .map(|f| {
            let lines: Vec<Value> = f
                .unified
                .lines()
                .map(|l| {
                    let kind = match l.as_bytes().first() {
                        _ if l.starts_with("+++") || l.starts_with("---") => "head",
                        Some(b'+') => "add",
                        Some(b'-') => "del",
                        Some(b'@') => "hunk",
                        _ => "same",
                    };
                    context! { kind, text => l }
                })
                .collect();
            context! { flow => f.flow, added => f.added, removed => f.removed, lines }
        })
        .collect()
}

async fn page_with(
    st: &AdminState,
    s: &auth::Session,
    code: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let in_use = flow_edit::in_use(st);
    let candidate = st.script.candidate();
    let test_dids = st.script.test_dids();
    let flows: Vec<Value> = in_use
        .flows
        .names()
        .into_iter()
        .filter_map(|n| in_use.flows.get(n))
        .map(|f| {
            let mut dids: Vec<String> = st
                .did_flows
                .iter()
                .filter(|(_, flow)| *flow == f.name)
                .map(|(d, _)| {
                    if test_dids.contains(d) {
                        format!("{d} (essai)")
                    } else {
                        d.clone()
                    }
                })
                .collect();
            dids.sort();
            let changed = candidate
                .as_ref()
                .and_then(|c| c.flows.get(&f.name))
                .is_some_and(|c| c.source != f.source);
            context! {
                name => f.name, file => f.file.display().to_string(), description => f.description,
                nodes => f.nodes.len(), dids => dids.join(", "), changed,
            }
        })
        .collect();
    let history: Vec<Value> = st
        .script
        .history()
        .iter()
        .rev()
        .map(|v| {
            context! {
                version => v.version, at => when(st, v.loaded_at), origin => origin_label(&v.origin),
                in_use => v.version == in_use.version,
                under_test => candidate.as_ref().is_some_and(|c| c.version == v.version),
                previous => (v.version > 1).then(|| v.version - 1),
            }
        })
        .collect();
    let under_test = candidate.as_ref().map(|c| {
        let diffs = flow_edit::diff(&in_use.flows, &c.flows);
        let changes: Vec<Value> = diffs
            .iter()
            .map(|d| context! { flow => d.flow, added => d.added, removed => d.removed })
            .collect();
        context! { version => c.version, at => when(st, c.loaded_at), origin => origin_label(&c.origin), changes }
    });
    let can_edit = s.role.allows(Perm::Flows, s.recordings);
    render_status(
        code,
        "flows.html",
        context! {
            who => who(s), csrf => s.csrf, page => "/flows", wide => true,
            version => in_use.version, since => when(st, in_use.loaded_at), origin => origin_label(&in_use.origin),
            flows, history, under_test, test_dids, can_edit, notice, error,
        },
    )
}

pub async fn page(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    match allowed(&st, &headers, "/flows", Perm::FlowsRead) {
        Ok((s, _)) => page_with(&st, &s, StatusCode::OK, None, None).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: Option<u64>,
    to: Option<u64>,
}

/// The diff between two versions (default: in use -> under test).
pub async fn diff(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, _) = match allowed(&st, &headers, "/flows", Perm::FlowsRead) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = q.map(|Query(q)| q).unwrap_or(DiffQuery {
        from: None,
        to: None,
    });
    let to = q.to.or(st.script.candidate().map(|c| c.version));
    match (flow_edit::version(&st, q.from), flow_edit::version(&st, to)) {
        (Ok(a), Ok(b)) => render(
            "flow_diff.html",
            context! {
                who => who(&s), csrf => s.csrf, page => "/flows", wide => true,
                from => a.version, to => b.version, flows => diff_lines(&flow_edit::diff(&a.flows, &b.flows)),
            },
        ),
        (Err(e), _) | (_, Err(e)) => {
            page_with(&st, &s, StatusCode::NOT_FOUND, None, Some(e.french())).await
        }
    }
}

/// What checking or staging an edited text gave.
struct Outcome {
    ok: bool,
    message: String,
    /// (line, message)
    errors: Vec<(usize, String)>,
    /// What the edit changes, when it is right.
    changes: Vec<Value>,
}

impl Outcome {
    fn refused(e: EditError) -> (StatusCode, Outcome) {
        let code = match e {
            EditError::UnknownFlow(_) => StatusCode::NOT_FOUND,
            EditError::Unchanged => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let errors = match &e {
            EditError::Invalid(list) => list.iter().map(|f| (f.line, f.message.clone())).collect(),
            _ => Vec::new(),
        };
        let o = Outcome {
            ok: false,
            message: e.french(),
            errors,
            changes: Vec::new(),
        };
        (code, o)
    }
}

fn editor(
    s: &auth::Session,
    code: StatusCode,
    name: &str,
    text: &str,
    outcome: Option<Outcome>,
    test_dids: &[String],
) -> Response {
    let errors = outcome
        .as_ref()
        .map(|o| o.errors.clone())
        .unwrap_or_default();
    let result = outcome.map(|o| {
        let errors: Vec<Value> = o
            .errors
            .iter()
            .map(|(line, message)| context! { line, message })
            .collect();
        context! { ok => o.ok, message => o.message, errors, changes => o.changes }
    });
    // The text as numbered lines, each error under its line.
    let lines: Vec<Value> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let here: Vec<&String> = errors
                .iter()
                .filter(|(n, _)| *n == i + 1)
                .map(|(_, m)| m)
                .collect();
            context! { n => i + 1, text => l, errors => here }
        })
        .collect();
    render_status(
        code,
        "flow_edit.html",
        context! {
            who => who(s), csrf => s.csrf, page => "/flows", wide => true,
            name, text, result, lines, test_dids,
            rows => text.lines().count().clamp(12, 40),
        },
    )
}

/// The editor, with the text under test if there is one, else in use.
pub async fn edit(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let (s, _) = match allowed(&st, &headers, "/flows", Perm::Flows) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match flow_edit::base(&st).flows.get(&name) {
        Some(f) => editor(
            &s,
            StatusCode::OK,
            &name,
            &f.source,
            None,
            &st.script.test_dids(),
        ),
        None => {
            let e = EditError::UnknownFlow(name);
            page_with(&st, &s, StatusCode::NOT_FOUND, None, Some(e.french())).await
        }
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    /// "check" or "stage".
    #[serde(default)]
    action: String,
}

impl Posted for EditForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Posted for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Check the edited text, or put it under test.
pub async fn edit_post(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<EditForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/flows", Perm::Flows) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match checked(&s, form, Some("Formulaire incomplet.")) {
        Ok(f) => f,
        Err((code, why)) => return page_with(&st, &s, code, None, Some(why.into())).await,
    };
    // Browsers send CRLF from a textarea; flow files use LF.
    let text = f.text.replace("\r\n", "\n");
    let test_dids = st.script.test_dids();
    if f.action == "stage" {
        return match flow_edit::stage(&st, &p, &name, &text) {
            Ok(v) => {
                let on = if test_dids.is_empty() {
                    "aucun numéro d'essai n'est configuré ([flows] test_dids)".to_string()
                } else {
                    format!(
                        "les nouveaux appels vers {} l'utilisent",
                        test_dids.join(", ")
                    )
                };
                let notice = format!(
                    "Version {} en essai : {on}. Les autres numéros gardent la version en service jusqu'à la promotion.",
                    v.version
                );
                page_with(&st, &s, StatusCode::OK, Some(notice), None).await
            }
            Err(e) => {
                let (code, outcome) = Outcome::refused(e);
                editor(&s, code, &name, &text, Some(outcome), &test_dids)
            }
        };
    }
    let (code, outcome) = match flow_edit::check(&st, &name, &text) {
        Ok(flow) => {
            let from = flow_edit::base(&st).flows;
            let o = Outcome {
                ok: true,
                message: "Aucune erreur : le parcours peut être mis en essai.".into(),
                errors: Vec::new(),
                changes: diff_lines(&flow_edit::diff(&from, &from.replacing(flow))),
            };
            (StatusCode::OK, o)
        }
        Err(e) => Outcome::refused(e),
    };
    editor(&s, code, &name, &text, Some(outcome), &test_dids)
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: Option<u64>,
}

/// Promote, withdraw, or make an earlier version current.
pub async fn act(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(action): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/flows", Perm::Flows) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match checked(&s, form, None) {
        Ok(f) => f,
        Err((code, why)) => return page_with(&st, &s, code, None, Some(why.into())).await,
    };
    let done = match (action.as_str(), f.version) {
        ("promote", _) => flow_edit::promote(&st, &p).map(|v| {
            format!(
                "Version {} promue : les nouveaux appels de tous les numéros l'utilisent (fichiers de parcours mis à jour).",
                v.version
            )
        }),
        ("discard", _) => flow_edit::discard(&st, &p).map(|v| {
            format!(
                "Version {} retirée de l'essai : les numéros d'essai reprennent la version en service.",
                v.version
            )
        }),
        ("rollback", Some(n)) => flow_edit::rollback(&st, &p, n).map(|v| {
            format!(
                "Version {} remise en service pour les nouveaux appels.",
                v.version
            )
        }),
        _ => {
            return page_with(
                &st,
                &s,
                StatusCode::NOT_FOUND,
                None,
                Some(format!("Action inconnue : {action}.")),
            )
            .await
        }
    };
    match done {
        Ok(notice) => page_with(&st, &s, StatusCode::OK, Some(notice), None).await,
        Err(e) => {
            let code = match e {
                EditError::Write { .. } => StatusCode::INTERNAL_SERVER_ERROR,
                EditError::UnknownVersion(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            page_with(&st, &s, code, None, Some(e.french())).await
        }
    }
}
