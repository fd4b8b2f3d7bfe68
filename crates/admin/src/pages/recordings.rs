//! "Enregistrements": finished recordings searched by day, queue, agent and
//! caller, each played in the page by the browser's own player, which
//! streams `GET /api/v1/recordings/{id}` with byte ranges (seeking works;
//! no download link, no attachment, never cached). Every play is written
//! to the audit log by that route; the search is audited here.

use std::collections::HashMap;
use std::sync::Arc;

use auth::Perm;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Duration, NaiveDate, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use serde_json::json;

use super::{allowed, render, render_status, who};
use crate::AdminState;

#[derive(Deserialize, Default, Debug)]
pub struct Filter {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    caller: String,
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/recordings", Perm::Recordings) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = q.map(|Query(f)| f).unwrap_or_default();
    let today = Utc::now().with_timezone(&st.timezone).date_naive();
    let day = |v: &str, d: NaiveDate| {
        if v.trim().is_empty() {
            Some(d)
        } else {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok()
        }
    };
    let form = |from: NaiveDate, to: NaiveDate| context! { from => from.to_string(), to => to.to_string(), queue => f.queue, agent => f.agent, caller => f.caller };
    let (Some(from), Some(to)) = (day(&f.from, today - Duration::days(7)), day(&f.to, today))
    else {
        return render_status(
            StatusCode::BAD_REQUEST,
            "recordings.html",
            context! { who => who(&s), csrf => s.csrf, page => "/recordings", wide => true, f => form(today, today), error => "Dates attendues au format AAAA-MM-JJ.", rows => Vec::<Value>::new() },
        );
    };
    let (dir, cdr_dir, queue) = (
        st.recordings.clone(),
        st.cdr_dir.clone(),
        Some(f.queue.clone()).filter(|q| !q.is_empty()),
    );
    // Recordings are filed by UTC day; the calls' records hold who and when.
    let found = tokio::task::spawn_blocking(move || {
        let files = media::record::list(
            &dir,
            Some(from - Duration::days(1)),
            Some(to + Duration::days(1)),
            queue.as_deref(),
        )?;
        let start = from
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc() - Duration::days(1));
        let end = to
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc() + Duration::days(2));
        let recs = cdr::read_records(&cdr_dir, start, end)?;
        Ok::<_, std::io::Error>((files, recs))
    })
    .await;
    let (files, recs) = match found {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            return render_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "recordings.html",
                context! { who => who(&s), csrf => s.csrf, page => "/recordings", wide => true, f => form(from, to), error => format!("Lecture des enregistrements : {e}"), rows => Vec::<Value>::new() },
            )
        }
        Err(e) => {
            return render_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "recordings.html",
                context! { who => who(&s), csrf => s.csrf, page => "/recordings", wide => true, f => form(from, to), error => e.to_string(), rows => Vec::<Value>::new() },
            )
        }
    };
    let by_id: HashMap<&str, &cdr::CallRecord> =
        recs.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let tz = st.timezone;
    let mut rows: Vec<(chrono::DateTime<Utc>, Value)> = files
        .iter()
        .filter(|file| p.sees(Some(&file.queue)))
        .filter_map(|file| {
            let r = by_id.get(file.record_id.as_str())?;
            let local = r.arrived_at.with_timezone(&tz).date_naive();
            if local < from || local > to {
                return None;
            }
            if !f.agent.is_empty() && r.agent.as_deref() != Some(f.agent.trim()) {
                return None;
            }
            if !f.caller.is_empty()
                && !r
                    .caller
                    .as_deref()
                    .is_some_and(|c| c.contains(f.caller.trim()))
            {
                return None;
            }
            let caller = match (&r.caller, p.role.masks_numbers()) {
                (Some(c), true) => cdr::export::mask_number(c),
                (Some(c), false) => c.clone(),
                (None, _) => "masqué".into(),
            };
            let secs = file.duration_ms / 1000;
            Some((
                r.arrived_at,
                context! {
                    id => file.record_id, queue => file.queue, agent => r.agent, caller,
                    at => r.arrived_at.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string(),
                    duration => format!("{}:{:02}", secs / 60, secs % 60),
                },
            ))
        })
        .collect();
    rows.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let rows: Vec<Value> = rows.into_iter().map(|(_, v)| v).take(200).collect();
    p.audit(
        &st,
        "recordings.list",
        if f.queue.is_empty() { "*" } else { &f.queue },
        json!({ "from": from, "to": to, "count": rows.len(), "via": "console" }),
    );
    render(
        "recordings.html",
        context! { who => who(&s), csrf => s.csrf, page => "/recordings", wide => true, f => form(from, to), rows },
    )
}
