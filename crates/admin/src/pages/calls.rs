//! "Appels": call records searched by day, number (SDA), queue, outcome,
//! agent and caller, newest first; a call's timeline from its steps; and
//! the same selection exported as CSV or XLSX. Numbers are masked for the
//! client role; an account sees the calls of its queues; every search and
//! every timeline opened is audited (personal data).

use std::sync::Arc;

use auth::Perm;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cdr::CallRecord;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use serde_json::json;

use super::dates::DateError;
use super::{allowed, render, render_status, urlencode, who};
use crate::principal::Principal;
use crate::AdminState;

/// Outcomes, with their French labels.
pub const OUTCOMES: &[(&str, &str)] = &[
    ("answered", "répondu"),
    ("abandoned_queue", "abandon en file"),
    ("abandoned_ivr", "abandon dans le SVI"),
    ("self_service", "traité par le SVI"),
    ("dissuaded", "dissuadé / informé"),
    ("cancelled", "raccroché avant réponse"),
    ("transferred", "transféré"),
    ("rejected", "refusé"),
    ("failed", "en échec"),
    ("interrupted", "interrompu"),
];

fn outcome_fr(o: &str) -> &str {
    OUTCOMES.iter().find(|(k, _)| *k == o).map_or(o, |(_, v)| v)
}

#[derive(Deserialize, Default, Debug, Clone)]
pub struct Filter {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    did: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    caller: String,
    /// Narrower than the days (a report's time slot), RFC 3339.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

fn instant(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v).ok().map(|t| t.to_utc())
}

impl Filter {
    /// The days asked for: today when blank, at most a month.
    fn days(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), DateError> {
        super::dates::range(&self.from, &self.to, today, 31)
    }

    fn keeps(&self, r: &CallRecord) -> bool {
        let eq = |want: &str, got: Option<&str>| want.is_empty() || got == Some(want);
        eq(&self.did, r.did.as_deref())
            && eq(&self.queue, r.queue.as_deref())
            && eq(&self.agent, r.agent.as_deref())
            && (self.outcome.is_empty() || r.outcome.name() == self.outcome)
            && (self.caller.is_empty()
                || r.caller
                    .as_deref()
                    .is_some_and(|c| c.contains(self.caller.trim())))
            && instant(&self.since).is_none_or(|t| r.arrived_at >= t)
            && instant(&self.until).is_none_or(|t| r.arrived_at < t)
    }

    fn query(&self) -> String {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("did", &self.did),
            ("queue", &self.queue),
            ("outcome", &self.outcome),
            ("agent", &self.agent),
            ("caller", &self.caller),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// The records of `p` in the days `[from, to]` (local), kept by `f`.
async fn select(
    st: &AdminState,
    p: &Principal,
    f: &Filter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<CallRecord>, String> {
    let tz = st.timezone;
    let start = sla::group::local_midnight(tz, from);
    let end = sla::group::local_midnight(tz, to + Duration::days(1));
    let dir = st.cdr_dir.clone();
    let mut recs =
        tokio::task::spawn_blocking(move || cdr::read_records(&dir, Some(start), Some(end)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("lecture du journal des appels : {e}"))?;
    recs.retain(|r| {
        r.arrived_at >= start && r.arrived_at < end && p.sees(r.queue.as_deref()) && f.keeps(r)
    });
    if p.role == auth::Role::Agent {
        recs.retain(|r| r.agent.as_deref() == p.agent.as_deref());
    }
    recs.sort_by_key(|r| std::cmp::Reverse(r.arrived_at));
    Ok(recs)
}

fn local(st: &AdminState, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&st.timezone)
            .format("%d/%m/%Y %H:%M:%S")
            .to_string()
    })
    .unwrap_or_default()
}

fn secs(ms: Option<u64>) -> String {
    ms.map(|m| {
        let s = m / 1000;
        format!("{}:{:02}", s / 60, s % 60)
    })
    .unwrap_or_default()
}

/// A record as the page shows it (numbers masked when the role asks).
fn row(st: &AdminState, p: &Principal, r: &CallRecord) -> Value {
    let caller = match (&r.caller, p.role.masks_numbers()) {
        (Some(c), true) => cdr::export::mask_number(c),
        (Some(c), false) => c.clone(),
        (None, _) => "masqué".into(),
    };
    context! {
        id => r.record_id, day => r.ended_at.unwrap_or(r.arrived_at).format("%Y-%m-%d").to_string(),
        arrived => local(st, Some(r.arrived_at)), caller, did => r.did, flow => r.flow, queue => r.queue, agent => r.agent,
        outcome => outcome_fr(r.outcome.name()), wait => secs(r.wait_ms), talk => secs(r.talk_ms),
        duration => secs(Some(r.duration_ms)), disposition => r.disposition,
    }
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/calls", Perm::CallRecords) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = q.map(|Query(f)| f).unwrap_or_default();
    let today = Utc::now().with_timezone(&st.timezone).date_naive();
    let base = |error: Option<String>,
                rows: Vec<Value>,
                total: usize,
                from: NaiveDate,
                to: NaiveDate| {
        let outcomes: Vec<Value> = OUTCOMES
            .iter()
            .map(|(k, v)| context! { code => k, label => v })
            .collect();
        context! {
            who => who(&s), csrf => s.csrf.clone(), page => "/calls", wide => true, error, rows, total,
            f => context! { from => from.to_string(), to => to.to_string(), did => f.did, queue => f.queue, outcome => f.outcome, agent => f.agent, caller => f.caller },
            outcomes, query => f.query(), masked => p.role.masks_numbers(),
        }
    };
    let (from, to) = match f.days(today) {
        Ok(x) => x,
        Err(e) => {
            return render_status(
                StatusCode::BAD_REQUEST,
                "calls.html",
                base(Some(e.french()), Vec::new(), 0, today, today),
            )
        }
    };
    match select(&st, &p, &f, from, to).await {
        Ok(recs) => {
            p.audit(&st, "cdr.read", &format!("{from}..{to}"), json!({ "records": recs.len(), "filter": format!("{f:?}"), "masked": p.role.masks_numbers(), "via": "console" }));
            let rows = recs.iter().take(500).map(|r| row(&st, &p, r)).collect();
            render("calls.html", base(None, rows, recs.len(), from, to))
        }
        Err(e) => render_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "calls.html",
            base(Some(e), Vec::new(), 0, from, to),
        ),
    }
}

#[derive(Deserialize, Default)]
pub struct DayQuery {
    #[serde(default)]
    day: String,
}

/// `/calls/{record_id}?day=`: one call's timeline.
pub async fn timeline(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<DayQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/calls", Perm::CallRecords) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let day = q
        .ok()
        .and_then(|Query(d)| NaiveDate::parse_from_str(&d.day, "%Y-%m-%d").ok());
    let (from, to) = match day {
        Some(d) => (
            d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            d.succ_opt()
                .and_then(|n| n.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc()),
        ),
        None => (None, None),
    };
    let dir = st.cdr_dir.clone();
    let found = tokio::task::spawn_blocking(move || cdr::read_records(&dir, from, to)).await;
    let rec = match found {
        Ok(Ok(recs)) => recs.into_iter().find(|r| r.record_id == id),
        _ => None,
    };
    let Some(r) = rec.filter(|r| {
        p.sees(r.queue.as_deref())
            && (p.role != auth::Role::Agent || r.agent.as_deref() == p.agent.as_deref())
    }) else {
        return render_status(
            StatusCode::NOT_FOUND,
            "message.html",
            context! { who => who(&s), csrf => s.csrf, heading => "Appel introuvable", text => format!("Aucun appel {id} visible pour ce compte."), link => "/calls", link_label => "Retour aux appels" },
        );
    };
    p.audit(
        &st,
        "cdr.view",
        &id,
        json!({ "masked": p.role.masks_numbers() }),
    );
    let mut v = serde_json::to_value(&r).unwrap_or_default();
    if p.role.masks_numbers() {
        cdr::export::mask_record(&mut v);
    }
    let events = steps(&st, &r, &v);
    render(
        "call.html",
        context! { who => who(&s), csrf => s.csrf, page => "/calls", call => row(&st, &p, &r), events, raw => serde_json::to_string_pretty(&v).unwrap_or_default() },
    )
}

/// The call's steps in time order, as lines to read.
fn steps(st: &AdminState, r: &CallRecord, masked: &serde_json::Value) -> Vec<Value> {
    let mut ev: Vec<(DateTime<Utc>, String)> = vec![(
        r.arrived_at,
        format!(
            "Arrivée sur {} (parcours {})",
            r.did.as_deref().unwrap_or("?"),
            r.flow.as_deref().unwrap_or("?")
        ),
    )];
    if let Some(t) = r.answered_at {
        ev.push((t, "Décroché par la plateforme".into()));
    }
    for pr in &r.prompts {
        ev.push((
            pr.at,
            format!(
                "Message « {} » : {} s entendues sur {} s ({})",
                pr.name,
                pr.heard_ms / 1000,
                pr.duration_ms / 1000,
                pr.end
            ),
        ));
    }
    for (i, st_) in r.steps.iter().enumerate() {
        let input = masked["steps"][i]["input"]
            .as_str()
            .map(|x| format!(", saisie {x}"))
            .unwrap_or_default();
        ev.push((st_.at, format!("Étape {} ({}){input}", st_.node, st_.kind)));
    }
    if let Some(f) = &r.file0 {
        ev.push((
            f.redirected_at,
            format!(
                "Redirigé par la file 0 ({}, délai {:.1} s)",
                f.activation_id,
                f.delay_ms as f64 / 1000.0
            ),
        ));
    }
    if let (Some(q), Some(t)) = (&r.queue, r.queued_at) {
        ev.push((t, format!("Entrée dans la file {q}")));
    }
    for o in &r.offers {
        ev.push((
            o.at,
            format!(
                "Proposé à {} : {}",
                o.agent,
                o.result.as_deref().unwrap_or("en sonnerie")
            ),
        ));
    }
    for c in &r.conversations {
        ev.push((c.answered_at, format!("Conversation avec {}", c.agent)));
        if let Some(e) = c.ended_at {
            ev.push((e, format!("Fin de la conversation avec {}", c.agent)));
        }
        if let Some(w) = c.wrapup_ended_at {
            ev.push((w, format!("Fin du post-appel de {}", c.agent)));
        }
    }
    for t in &r.transfers {
        ev.push((
            t.at,
            format!("Transféré par {} vers la file {}", t.agent, t.to),
        ));
    }
    if let Some(t) = &r.transfer_out {
        let to = masked["transfer_out"]["to"].as_str().unwrap_or(&t.to);
        ev.push((
            t.at,
            format!(
                "Transfert vers {to} : {}",
                t.result.as_deref().unwrap_or("en cours")
            ),
        ));
    }
    for m in &r.monitored {
        ev.push((m.at, format!("Écoute discrète par {}", m.by)));
    }
    if let Some(e) = r.ended_at {
        let by = match r.ended_by {
            Some(cdr::Party::Caller) => "raccroché par l'appelant",
            Some(cdr::Party::Agent) => "raccroché par l'agent",
            Some(cdr::Party::System) => "raccroché par la plateforme",
            None => "",
        };
        ev.push((
            e,
            format!(
                "Fin : {} ({by} ; {})",
                outcome_fr(r.outcome.name()),
                r.end_reason.as_deref().unwrap_or("")
            ),
        ));
    }
    ev.sort_by_key(|(t, _)| *t);
    ev.into_iter()
        .map(|(t, text)| context! { at => local(st, Some(t)), text })
        .collect()
}

/// For the API's XLSX export: a display of the error as a response.
pub(crate) fn xlsx_response(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
