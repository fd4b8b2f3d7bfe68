//! "Rapports SLA": the KPIs of `softswitch sla` for a range, a time step
//! and a grouping, each against its target (met, within tolerance,
//! missed); a chart of the day's curves per slot; every count a link to the
//! calls behind it; and the full report as CSV or JSON from
//! `GET /api/v1/reports`, the same computation (`sla::report::over`).

use std::collections::HashMap;
use std::sync::Arc;

use auth::Perm;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use serde_json::json;
use sla::{Dimension, Grouping, Period, ReportLine};

use super::chart::{line_chart, Series};
use super::dates::DateError;
use super::{allowed, render, render_status, urlencode, who};
use crate::principal::Principal;
use crate::AdminState;

/// The columns of the page: KPI, label, and the outcome whose calls a
/// count links to.
const COLUMNS: &[(&str, &str, Option<&str>)] = &[
    ("received", "Reçus", Some("")),
    ("answered", "Répondus", Some("answered")),
    ("abandoned", "Abandons", Some("abandoned_queue")),
    ("dissuaded/informed", "Informés", Some("dissuaded")),
    ("pickup_rate", "Taux de décroché", None),
    ("lost_call_rate", "Appels perdus", None),
    ("service_level", "Niveau de service", None),
    ("average_wait", "Attente moyenne", None),
    ("dmc", "DMC", None),
    ("dmt", "DMT", None),
    ("qualification_rate", "Qualification", None),
    ("transfer_rate", "Transfert", None),
    ("file0_calls", "File 0", None),
];

#[derive(Deserialize, Default, Debug)]
pub struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// halfhour, hour, day, week, month, or empty (one group).
    #[serde(default)]
    by: String,
    /// queue, flow, did, or empty.
    #[serde(default)]
    group_by: String,
    /// API only: json (default) or csv.
    #[serde(default)]
    format: String,
}

struct Spec {
    from: NaiveDate,
    to: NaiveDate,
    period: Option<Period>,
    dimension: Option<Dimension>,
}

/// What is wrong with a report's query.
#[derive(Debug, thiserror::Error)]
enum SpecError {
    /// The dates.
    #[error(transparent)]
    Dates(#[from] DateError),
    /// The period or the grouping.
    #[error(transparent)]
    Grouping(#[from] sla::Error),
}

impl SpecError {
    /// The same, for the French page.
    fn french(&self) -> String {
        match self {
            SpecError::Dates(e) => e.french(),
            SpecError::Grouping(e) => e.to_string(),
        }
    }
}

fn spec(q: &ReportQuery, today: NaiveDate) -> Result<Spec, SpecError> {
    let (from, to) = super::dates::range(&q.from, &q.to, today, 92)?;
    let period = (!q.by.is_empty())
        .then(|| q.by.parse::<Period>())
        .transpose()?;
    let dimension = (!q.group_by.is_empty())
        .then(|| q.group_by.parse::<Dimension>())
        .transpose()?;
    Ok(Spec {
        from,
        to,
        period,
        dimension,
    })
}

/// The report lines for `p` (its queues' calls only), and the groups' time slots by label.
async fn compute(
    st: &AdminState,
    p: &Principal,
    s: &Spec,
) -> Result<
    (
        Vec<ReportLine>,
        HashMap<String, (Option<sla::group::Slot>, Option<String>)>,
    ),
    String,
> {
    let tz = st.timezone;
    let start = sla::group::local_midnight(tz, s.from);
    let end = sla::group::local_midnight(tz, s.to + Duration::days(1));
    let cfg = st.today.config().clone();
    let dir = st.cdr_dir.clone();
    let until = end + sla::report::lookahead(&cfg);
    let mut records =
        tokio::task::spawn_blocking(move || cdr::read_records(&dir, Some(start), Some(until)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the call records: {e}"))?;
    records.retain(|r| p.sees(r.queue.as_deref()));
    let (period, dimension) = (s.period, s.dimension);
    tokio::task::spawn_blocking(move || {
        let grouping = Grouping {
            period,
            tz,
            dimension,
            hours: None,
        };
        let in_range: Vec<&cdr::CallRecord> = records
            .iter()
            .filter(|r| r.arrived_at >= start && r.arrived_at < end)
            .collect();
        let keys = grouping
            .groups(in_range.iter().copied())
            .into_iter()
            .map(|g| {
                (
                    g.key.label(),
                    (
                        g.key.slot.clone(),
                        g.key.member.as_ref().and_then(|(_, v)| v.clone()),
                    ),
                )
            })
            .collect();
        (
            sla::report::over(&records, Some(start), Some(end), &grouping, &cfg),
            keys,
        )
    })
    .await
    .map_err(|e| e.to_string())
}

fn shown(l: &ReportLine) -> String {
    let Some(v) = l.value else {
        return "–".into();
    };
    match l.unit {
        sla::Unit::Rate => format!("{:.1} %", v * 100.0),
        sla::Unit::Seconds => {
            let s = v.round() as i64;
            format!("{}:{:02}", s / 60, s % 60)
        }
        _ => format!("{v}"),
    }
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/reports", Perm::Reports) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let today = Utc::now().with_timezone(&st.timezone).date_naive();
    let form = context! { from => if q.from.is_empty() { today.to_string() } else { q.from.clone() }, to => q.to, by => if q.by.is_empty() && q.from.is_empty() { "halfhour".to_string() } else { q.by.clone() }, group_by => q.group_by };
    let q = ReportQuery {
        by: if q.by.is_empty() && q.from.is_empty() {
            "halfhour".into()
        } else {
            q.by.clone()
        },
        ..q
    };
    let sp = match spec(&q, today) {
        Ok(x) => x,
        Err(e) => {
            return render_status(
                StatusCode::BAD_REQUEST,
                "reports.html",
                context! { who => who(&s), csrf => s.csrf, page => "/reports", wide => true, f => form, error => e.french() },
            )
        }
    };
    let (lines, keys) = match compute(&st, &p, &sp).await {
        Ok(x) => x,
        Err(e) => {
            return render_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reports.html",
                context! { who => who(&s), csrf => s.csrf, page => "/reports", wide => true, f => form, error => e },
            )
        }
    };
    p.audit(
        &st,
        "report.read",
        &format!("{}..{}", sp.from, sp.to),
        json!({ "by": q.by, "group_by": q.group_by, "lines": lines.len() }),
    );
    // One row per group, in report order.
    let mut order: Vec<String> = Vec::new();
    let mut by_group: HashMap<String, HashMap<String, ReportLine>> = HashMap::new();
    for l in lines {
        if !by_group.contains_key(&l.group) {
            order.push(l.group.clone());
        }
        by_group
            .entry(l.group.clone())
            .or_default()
            .insert(l.kpi.clone(), l);
    }
    let tz = st.timezone;
    let rows: Vec<Value> = order
        .iter()
        .map(|g| {
            let kpis = &by_group[g];
            let (slot, member) = keys.get(g).cloned().unwrap_or((None, None));
            let (since, until) = match &slot {
                Some(sl) => (sl.start, sl.end),
                None => (sla::group::local_midnight(tz, sp.from), sla::group::local_midnight(tz, sp.to + Duration::days(1))),
            };
            let label = match (&slot, &member) {
                (Some(sl), Some(m)) => format!("{} {m}", slot_label(sl, tz)),
                (Some(sl), None) => slot_label(sl, tz),
                (None, Some(m)) => m.clone(),
                (None, None) => "Ensemble".into(),
            };
            let cells: Vec<Value> = COLUMNS
                .iter()
                .map(|(kpi, _, outcome)| {
                    let l = kpis.get(*kpi);
                    let link = match (outcome, l.and_then(|l| l.value)) {
                        (Some(o), Some(v)) if v > 0.0 => Some(calls_link(since, until, tz, member.as_deref(), sp.dimension, o)),
                        _ => None,
                    };
                    context! {
                        kpi, text => l.map(shown).unwrap_or_else(|| "–".into()),
                        status => l.and_then(|l| l.status).map(|s| s.name()).filter(|s| *s != "no_data"),
                        link,
                    }
                })
                .collect();
            context! { label, cells }
        })
        .collect();
    let chart = (sp
        .period
        .is_some_and(|p| !p.whole_days() || sp.to > sp.from)
        && sp.dimension.is_none())
    .then(|| {
        let labels: Vec<String> = order
            .iter()
            .map(|g| {
                keys.get(g)
                    .and_then(|(s, _)| s.as_ref())
                    .map(|s| slot_label(s, tz))
                    .unwrap_or_default()
            })
            .collect();
        let serie = |kpi: &str, name: &str, rate: bool, colour: &'static str| Series {
            name: name.into(),
            values: order
                .iter()
                .map(|g| by_group[g].get(kpi).and_then(|l| l.value))
                .collect(),
            rate,
            colour,
        };
        line_chart(
            "chart",
            "Appels reçus, répondus, abandonnés, et niveau de service, par créneau",
            &labels,
            &[
                serie("received", "reçus", false, "#0b4f9c"),
                serie("answered", "répondus", false, "#12602c"),
                serie("abandoned", "abandons", false, "#a10e0e"),
                serie("service_level", "niveau de service", true, "#6b3fa0"),
            ],
        )
    });
    let heads: Vec<&str> = COLUMNS.iter().map(|(_, h, _)| *h).collect();
    let query = format!(
        "from={}&to={}&by={}&group_by={}",
        sp.from,
        sp.to,
        urlencode(&q.by),
        urlencode(&q.group_by)
    );
    render(
        "reports.html",
        context! { who => who(&s), csrf => s.csrf, page => "/reports", wide => true, f => form, rows, heads, chart, query },
    )
}

fn slot_label(s: &sla::group::Slot, tz: chrono_tz::Tz) -> String {
    let a = s.start.with_timezone(&tz);
    if s.end - s.start <= Duration::hours(1) {
        a.format("%d/%m %H:%M").to_string()
    } else {
        a.format("%d/%m/%Y").to_string()
    }
}

/// The calls page narrowed to a group's slot, member and outcome.
fn calls_link(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    tz: chrono_tz::Tz,
    member: Option<&str>,
    dim: Option<Dimension>,
    outcome: &str,
) -> String {
    let (from, to) = (
        since.with_timezone(&tz).date_naive(),
        (until - Duration::seconds(1))
            .with_timezone(&tz)
            .date_naive(),
    );
    let mut url = format!(
        "/calls?from={from}&to={to}&since={}&until={}&outcome={outcome}",
        urlencode(&since.to_rfc3339()),
        urlencode(&until.to_rfc3339())
    );
    match (dim, member) {
        (Some(Dimension::Queue), Some(m)) => url.push_str(&format!("&queue={}", urlencode(m))),
        (Some(Dimension::Did), Some(m)) => url.push_str(&format!("&did={}", urlencode(m))),
        _ => {}
    }
    url
}

/// `GET /api/v1/reports`: the whole report, JSON (default) or CSV.
pub async fn api(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return crate::routes::error(StatusCode::BAD_REQUEST, "parameters: from, to (dates), by (halfhour|hour|day|week|month), group_by (queue|flow|did), format (json|csv)");
    };
    let today = Utc::now().with_timezone(&st.timezone).date_naive();
    let sp = match spec(&q, today) {
        Ok(x) => x,
        Err(e) => return crate::routes::error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let format = match q.format.as_str() {
        "" | "json" => sla::Format::Json,
        "csv" => sla::Format::Csv,
        other => {
            return crate::routes::error(
                StatusCode::BAD_REQUEST,
                format!("format={other:?}: expected json or csv"),
            )
        }
    };
    match compute(&st, &p, &sp).await {
        Ok((lines, _)) => {
            p.audit(&st, "report.read", &format!("{}..{}", sp.from, sp.to), json!({ "by": q.by, "group_by": q.group_by, "format": q.format, "lines": lines.len() }));
            match sla::format::render(&lines, format, ';') {
                Ok(text) => {
                    let ctype = if format == sla::Format::Csv {
                        "text/csv; charset=utf-8"
                    } else {
                        "application/json"
                    };
                    ([(header::CONTENT_TYPE, ctype)], text).into_response()
                }
                Err(e) => crate::routes::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        Err(e) => crate::routes::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
