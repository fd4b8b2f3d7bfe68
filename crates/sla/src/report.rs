//! The report: every KPI of every group as lines {group, kpi, value,
//! numerator, denominator, target, status}, in catalogue order.

use cdr::CallRecord;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::config::SlaConfig;
use crate::facts::Dissuasion;
use crate::group::{Group, Grouping};
use crate::history::History;
use crate::kpi::volume::{self, Bucket, Volume};
use crate::kpi::{
    answer_rate, callbot, daily_pickup, file0, first_contact, handling, lost, origin, pickup,
    productive, qualification, self_service, service_level, survey, transfer, wait, Scope, Value,
};
use crate::target::{Direction, Status, Target};

/// What a figure is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// A number of calls.
    #[serde(rename = "count")]
    Count,
    /// A share of calls, between 0 and 1.
    #[serde(rename = "rate")]
    Rate,
    /// A quotient that may pass 1 (productive hours / hours ordered).
    #[serde(rename = "ratio")]
    Ratio,
    /// Seconds.
    #[serde(rename = "s")]
    Seconds,
    /// Hours.
    #[serde(rename = "h")]
    Hours,
}

impl Unit {
    /// Decimals shown (and kept: statuses are decided on shown figures).
    pub fn decimals(self) -> i32 {
        match self {
            Unit::Count => 0,
            Unit::Rate | Unit::Ratio => 4,
            Unit::Seconds => 1,
            Unit::Hours => 2,
        }
    }

    /// The unit's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Rate => "rate",
            Unit::Ratio => "ratio",
            Unit::Seconds => "s",
            Unit::Hours => "h",
        }
    }
}

/// A KPI of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Kpi {
    /// The catalogue name (`pickup_rate`...).
    pub name: &'static str,
    /// The operators' (French) name.
    pub alias: &'static str,
    /// How the figure is shown.
    pub unit: Unit,
    /// Whether higher or lower is better.
    pub direction: Direction,
    /// The default target.
    pub target: Option<Target>,
}

const fn kpi(name: &'static str, alias: &'static str, unit: Unit) -> Kpi {
    Kpi {
        name,
        alias,
        unit,
        direction: Direction::AtLeast,
        target: None,
    }
}

const fn at_most(k: Kpi) -> Kpi {
    Kpi {
        direction: Direction::AtMost,
        ..k
    }
}

const fn target(k: Kpi, t: Target) -> Kpi {
    Kpi {
        target: Some(t),
        ..k
    }
}

use Unit::{Count, Hours, Rate, Ratio, Seconds};

/// Every KPI, in report order, with its alias, unit, direction and default
/// target (REQUIREMENTS D).
pub const CATALOGUE: &[Kpi] = &[
    kpi("received", "appels reçus", Count),
    kpi("incoming", "appels entrants", Count),
    kpi("presented", "appels présentés (entrants nets)", Count),
    kpi("queued", "appels mis en file", Count),
    kpi("answered", "appels décrochés", Count),
    kpi("platform_answered", "appels pris par la plateforme", Count),
    kpi("abandoned", "abandons", Count),
    kpi("abandoned_ivr", "abandons SVI", Count),
    kpi("abandoned_queue", "abandons en file", Count),
    kpi("short_abandons", "abandons courts", Count),
    kpi("cancelled", "raccrochés avant réponse", Count),
    kpi("self_service", "selfcare", Count),
    kpi("dissuaded", "dissuadés", Count),
    kpi("rejected", "rejetés", Count),
    kpi("rejected_telecom", "dissuasion télécom", Count),
    kpi("failed", "échecs", Count),
    kpi("interrupted", "interrompus", Count),
    kpi("transferred_out", "transférés vers l'extérieur", Count),
    kpi("overflow_in", "débordements entrants", Count),
    kpi("overflow_out", "débordements sortants", Count),
    target(
        kpi("pickup_rate", "taux de décroché", Rate),
        Target::at(0.90).penalty(0.89),
    ),
    target(
        kpi(
            "daily_pickup_rate",
            "taux de décroché quotidien GAS02",
            Rate,
        ),
        Target::at(0.90),
    ),
    target(
        kpi("answer_rate", "taux de réponse callbot", Rate),
        Target::at(0.99),
    ),
    target(
        at_most(kpi("lost_call_rate", "taux d'appels perdus GAP02", Rate)),
        Target::at(0.05).penalty(0.10),
    ),
    at_most(kpi("dissuasion_rate", "taux de dissuasion", Rate)),
    target(
        at_most(kpi("average_wait", "temps d'attente moyen", Seconds)),
        Target::at(180.0),
    ),
    target(
        at_most(kpi(
            "average_wait_net",
            "temps d'attente moyen (entrants nets)",
            Seconds,
        )),
        Target::at(180.0),
    ),
    at_most(kpi("asa", "délai moyen de décroché", Seconds)),
    at_most(kpi("longest_wait", "attente la plus longue", Seconds)),
    target(
        kpi("service_level", "niveau de service", Rate),
        Target::at(0.80),
    ),
    target(
        at_most(kpi("dmc", "DMC durée moyenne de communication", Seconds)),
        Target::at(300.0).penalty(360.0),
    ),
    target(
        at_most(kpi("dmt", "DMT durée moyenne de traitement", Seconds)),
        Target::at(360.0).penalty(480.0),
    ),
    target(
        kpi("qualification_rate", "taux de qualification", Rate),
        Target::at(1.0),
    ),
    kpi("transfer_rate", "taux de transfert", Rate),
    target(
        at_most(kpi(
            "agent_idle_share",
            "taux d'inoccupation des agents",
            Rate,
        )),
        Target::at(0.10),
    ),
    target(
        kpi("availability", "disponibilité du service (GAP01)", Rate),
        Target::at(0.99),
    ),
    target(
        kpi(
            "first_contact_resolution",
            "résolution au premier contact",
            Rate,
        ),
        Target::at(0.80),
    ),
    kpi("productive_hours", "heures productives", Hours),
    target(
        kpi(
            "productive_hours_ratio",
            "heures productives / heures commandées",
            Ratio,
        ),
        Target::at(0.95).ceiling(1.10),
    ),
    kpi("callbot_not_handled", "callbot non traités", Count),
    kpi("callbot_queried", "callbot interrogés", Count),
    kpi("callbot_abandoned", "callbot abandons", Count),
    target(
        kpi("callbot_completed_rate", "callbot aboutis", Rate),
        Target::at(0.95),
    ),
    target(
        kpi("callbot_evaluated_rate", "callbot évalués", Rate),
        Target::at(0.50),
    ),
    kpi(
        "callbot_completed_fast_rate",
        "callbot aboutis en moins de 3 min",
        Rate,
    ),
    kpi("self_service_productive_rate", "selfcare productif", Rate),
    kpi("file0_calls", "appels file 0", Count),
    target(
        at_most(kpi(
            "file0_delay",
            "délai d'activation file 0 GVS01",
            Seconds,
        )),
        Target::at(900.0),
    ),
    kpi("caller_origin", "origine des appels", Rate),
    kpi("survey_response_rate", "taux de réponse à l'enquête", Rate),
    target(
        kpi("satisfaction", "satisfaction GSP07", Rate),
        Target::at(0.95).penalty(0.90),
    ),
];

/// One figure of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportLine {
    /// `all`, or the group's parts: `2026-10-25 queue=general HO`.
    pub group: String,
    /// A catalogue name, `name/detail` for a breakdown
    /// (`dissuaded/closure`, `first_contact_resolution/17`...).
    pub kpi: String,
    /// The KPI's operators' (French) name.
    pub alias: String,
    /// How the figure is shown.
    pub unit: Unit,
    /// The figure; `None` without data.
    #[serde(serialize_with = "number")]
    pub value: Option<f64>,
    /// What it was computed from (see [`crate::Value`]).
    #[serde(serialize_with = "number")]
    pub numerator: Option<f64>,
    /// The ratio's denominator, for rates.
    #[serde(serialize_with = "number")]
    pub denominator: Option<f64>,
    /// The target that applies.
    #[serde(serialize_with = "number")]
    pub target: Option<f64>,
    /// The penalty threshold that applies.
    #[serde(serialize_with = "number")]
    pub penalty: Option<f64>,
    /// None when the KPI has no target.
    pub status: Option<Status>,
}

/// Whole numbers as integers in JSON (`12`, not `12.0`).
fn number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).round() / scale
}

/// The catalogue entry of `name`.
fn entry(name: &str) -> &'static Kpi {
    CATALOGUE
        .iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("KPI {name:?} is not in the catalogue"))
}

/// The lines of one group, as they are computed.
struct Lines<'c> {
    group: String,
    cfg: &'c SlaConfig,
    out: Vec<ReportLine>,
}

impl Lines<'_> {
    fn push(&mut self, name: &str, detail: Option<&str>, v: Value) {
        let k = entry(name);
        let d = k.unit.decimals();
        let value = v.value.map(|x| round(x, d));
        let (kpi, alias) = match detail {
            Some(detail) => (
                format!("{name}/{detail}"),
                format!("{} ({detail})", k.alias),
            ),
            None => (name.to_string(), k.alias.to_string()),
        };
        let target = self.cfg.targets.get(name);
        self.out.push(ReportLine {
            group: self.group.clone(),
            kpi,
            alias,
            unit: k.unit,
            value,
            numerator: Some(round(v.numerator, 4)),
            denominator: v.denominator.map(|x| round(x, 4)),
            target: target.map(|t| t.target),
            penalty: target.and_then(|t| t.penalty),
            status: target.map(|t| t.status(value, k.direction)),
        });
    }

    fn count(&mut self, name: &str, n: u64) {
        self.push(name, None, Value::count(n));
    }
}

/// Agent idle share from the agent-state journal, for `[from, to)`: the
/// platform line and one per agent (`agent_idle_share/ID`), in group `all`.
pub fn agent_lines(
    states: &[cdr::agents::AgentStateRecord],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cfg: &SlaConfig,
) -> Vec<ReportLine> {
    let (all, per_agent) = crate::kpi::agent_idle::agent_idle_share(states, from, to);
    let mut l = Lines {
        group: "all".into(),
        cfg,
        out: Vec::new(),
    };
    l.push("agent_idle_share", None, all);
    for (agent, v) in per_agent {
        l.push("agent_idle_share", Some(&agent), v);
    }
    l.out
}

/// Service availability (GAP01) from the uptime journal: the whole range
/// (`availability`, group `all`) and each local day of it
/// (`availability/YYYY-MM-DD`). Without `from`/`to`, the range runs from
/// the first to the last line of the journal.
pub fn availability_lines(
    beats: &[cdr::uptime::UptimeRecord],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cfg: &SlaConfig,
) -> Vec<ReportLine> {
    let (Some(first), Some(last)) = (beats.first(), beats.last()) else {
        return Vec::new();
    };
    let (from, to) = (from.unwrap_or(first.at), to.unwrap_or(last.at));
    let mut l = Lines {
        group: "all".into(),
        cfg,
        out: Vec::new(),
    };
    l.push(
        "availability",
        None,
        crate::kpi::availability::availability(beats, from, to),
    );
    let tz = cfg.timezone;
    let mut day = from.with_timezone(&tz).date_naive();
    loop {
        let start = crate::group::local_midnight(tz, day).max(from);
        let Some(next) = day.succ_opt() else { break };
        let end = crate::group::local_midnight(tz, next).min(to);
        if start >= to {
            break;
        }
        let v = crate::kpi::availability::availability(beats, start, end);
        l.push("availability", Some(&day.format("%Y-%m-%d").to_string()), v);
        day = next;
    }
    l.out
}

/// Compute every KPI of every group of `records` (see [`Grouping`]).
///
/// `history` holds every call loaded, the days after the period included
/// (first-contact resolution looks for repeats there). `span` is the
/// reported range, used for the hours ordered when the report is not split
/// by time slot (else the first to the last call's day).
pub fn report<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    grouping: &Grouping,
    history: &History,
    cfg: &SlaConfig,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<ReportLine> {
    grouping
        .groups(records)
        .iter()
        .flat_map(|g| group_lines(g, grouping, history, cfg, span))
        .collect()
}

/// A report over `[from, to)` from `records`, which reach past `to` by the
/// first-contact window ([`lookahead`]): the history is built from all of
/// them, the figures from the calls that arrived in the range. The one way
/// `softswitch sla` and the console compute a report.
pub fn over(
    records: &[CallRecord],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    grouping: &Grouping,
    cfg: &SlaConfig,
) -> Vec<ReportLine> {
    let history = History::new(records, cfg.include_test_numbers);
    let in_range = records
        .iter()
        .filter(|r| from <= Some(r.arrived_at) && (to.is_none() || Some(r.arrived_at) < to));
    report(in_range, grouping, &history, cfg, from.zip(to))
}

/// How far past a report's end its records must be read (repeat calls
/// for first-contact resolution).
pub fn lookahead(cfg: &SlaConfig) -> chrono::Duration {
    cfg.fcr.window().max(chrono::Duration::days(1))
}

fn group_lines(
    g: &Group,
    grouping: &Grouping,
    history: &History,
    cfg: &SlaConfig,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<ReportLine> {
    let scope = Scope {
        queue: g.key.queue(),
        include_test_numbers: cfg.include_test_numbers,
    };
    let recs = || g.records.iter().copied();
    let mut l = Lines {
        group: g.key.label(),
        cfg,
        out: Vec::new(),
    };

    let v = Volume::of(recs(), &scope);
    l.count("received", v.received);
    l.count("incoming", v.incoming);
    l.count("presented", pickup::presented(recs(), &scope, &cfg.pickup));
    l.count("queued", v.queued);
    l.count("answered", v.answered());
    l.count("platform_answered", v.platform_answered);
    l.count("abandoned", v.abandoned());
    l.count("abandoned_ivr", v.bucket(Bucket::AbandonedIvr));
    l.count("abandoned_queue", v.bucket(Bucket::AbandonedQueue));
    l.count("short_abandons", v.short_abandons);
    l.count("cancelled", v.bucket(Bucket::Cancelled));
    l.count("self_service", v.bucket(Bucket::SelfService));
    l.count("dissuaded", v.dissuaded());
    for d in Dissuasion::ALL {
        l.push("dissuaded", Some(d.name()), Value::count(v.dissuaded_by(d)));
    }
    l.count("rejected", v.bucket(Bucket::Rejected));
    l.count("rejected_telecom", v.rejected_telecom);
    l.count("failed", v.bucket(Bucket::Failed));
    l.count("interrupted", v.bucket(Bucket::Interrupted));
    l.count("transferred_out", v.bucket(Bucket::Transferred));
    if scope.queue.is_some() {
        l.count("overflow_in", volume::overflow_in(recs(), &scope));
        l.count("overflow_out", volume::overflow_out(recs(), &scope));
    }

    l.push(
        "pickup_rate",
        None,
        pickup::pickup_rate(recs(), &scope, &cfg.pickup),
    );
    l.push(
        "daily_pickup_rate",
        None,
        daily_pickup::daily_pickup_rate(recs(), &scope),
    );
    l.push(
        "answer_rate",
        None,
        answer_rate::answer_rate(recs(), &scope),
    );
    l.push(
        "lost_call_rate",
        None,
        lost::lost_call_rate(recs(), &scope, &cfg.lost),
    );
    l.push(
        "dissuasion_rate",
        None,
        lost::dissuasion_rate(recs(), &scope),
    );

    l.push(
        "average_wait",
        None,
        wait::average_wait(recs(), &scope, &cfg.wait),
    );
    l.push(
        "average_wait_net",
        None,
        wait::average_wait_net(recs(), &scope, &cfg.wait, &cfg.pickup),
    );
    l.push("asa", None, wait::asa(recs(), &scope));
    l.push(
        "longest_wait",
        None,
        wait::longest_wait(recs(), &scope, &cfg.wait),
    );
    l.push(
        "service_level",
        None,
        service_level::service_level(
            recs(),
            &scope,
            cfg.service_level_s,
            cfg.service_level_denominator,
        ),
    );

    l.push("dmc", None, handling::dmc(recs(), &scope));
    l.push("dmt", None, handling::dmt(recs(), &scope));
    l.push(
        "qualification_rate",
        None,
        qualification::qualification_rate(recs(), &scope),
    );
    l.push(
        "transfer_rate",
        None,
        transfer::transfer_rate(recs(), &scope),
    );
    let fcr = first_contact::first_contact_resolution(recs(), &scope, history, &cfg.fcr);
    l.push("first_contact_resolution", None, fcr.overall());
    for (reason, v) in fcr.reasons() {
        l.push("first_contact_resolution", Some(reason), v);
    }

    l.push(
        "productive_hours",
        None,
        productive::productive_hours(recs(), &scope),
    );
    if let Some(ordered) = ordered_hours(g, grouping, cfg, span).filter(|h| *h > 0.0) {
        l.push(
            "productive_hours_ratio",
            None,
            productive::productive_ratio(recs(), &scope, ordered),
        );
    }

    let m = callbot::milestones(recs(), &scope, &cfg.callbot);
    l.count("callbot_not_handled", m.not_handled);
    l.count("callbot_queried", m.queried);
    l.count("callbot_abandoned", m.abandoned);
    l.push("callbot_completed_rate", None, m.completed_rate());
    l.push("callbot_evaluated_rate", None, m.evaluated_rate());
    l.push("callbot_completed_fast_rate", None, m.completed_fast_rate());
    l.push(
        "self_service_productive_rate",
        None,
        self_service::productive_rate(recs(), &scope, history, &cfg.self_service, grouping.tz),
    );

    let activations = file0::activations(recs(), &scope, history);
    for a in &activations {
        l.push("file0_calls", Some(&a.id), Value::count(a.calls));
        if let Some(ms) = a.delay_ms {
            l.push(
                "file0_delay",
                Some(&a.id),
                Value::extreme(Some(ms as f64 / 1000.0)),
            );
        }
    }
    l.push("file0_delay", None, file0::activation_delay(&activations));

    for (class, v) in origin::caller_origin(recs(), &scope) {
        l.push("caller_origin", Some(origin::class_name(class)), v);
    }
    let s = survey::survey(recs(), &scope, &cfg.survey);
    l.push("survey_response_rate", None, s.response_rate);
    l.push("satisfaction", None, s.satisfaction.overall());
    for (reason, v) in s.satisfaction.reasons() {
        l.push("satisfaction", Some(reason), v);
    }
    l.out
}

/// Hours ordered for a group: only for whole-platform groups of a day or
/// more (or the whole report), from `[sla.productive_hours]`.
fn ordered_hours(
    g: &Group,
    grouping: &Grouping,
    cfg: &SlaConfig,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<f64> {
    if g.key.member.is_some() || g.key.hours.is_some() {
        return None;
    }
    let tz = grouping.tz;
    let (mut from, mut to) = match (&g.key.slot, grouping.period) {
        (Some(slot), Some(p)) if p.whole_days() => {
            (local_day(slot.start, tz), end_day(slot.end, tz))
        }
        (Some(_), _) => return None,
        (None, _) => match span {
            Some((start, end)) => (local_day(start, tz), end_day(end, tz)),
            None => {
                let first = g.records.iter().map(|r| r.arrived_at).min()?;
                let last = g.records.iter().map(|r| r.arrived_at).max()?;
                (
                    local_day(first, tz),
                    local_day(last, tz) + Duration::days(1),
                )
            }
        },
    };
    if let Some((start, end)) = span {
        from = from.max(local_day(start, tz));
        to = to.min(end_day(end, tz));
    }
    cfg.productive_hours.ordered_hours(from, to)
}

fn local_day(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The day after the last local day an exclusive end instant touches.
fn end_day(end: DateTime<Utc>, tz: Tz) -> NaiveDate {
    local_day(end - Duration::nanoseconds(1), tz) + Duration::days(1)
}
