//! Today's figures for the wallboard: the records closed since local
//! midnight (seeded from the journal at start, then fed as calls end), and
//! their KPIs per queue and in total, computed by the same functions as the
//! reports, so a figure on the wall and in the monthly report never
//! disagree. The book starts again at midnight.
//!
//! Memory: one record per call of the day (about 3 KB each: 15,000 calls,
//! the CAF ceiling, hold 45 MB). The figures are computed again only when
//! a call ended since the last time.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cdr::CallRecord;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::group::{Dimension, Grouping};
use crate::history::History;
use crate::report::{report, ReportLine};
use crate::SlaConfig;

/// The KPIs the wallboard shows (catalogue names).
pub const WALL: &[&str] = &[
    "received",
    "answered",
    "abandoned",
    "dissuaded/informed",
    "pickup_rate",
    "service_level",
    "average_wait",
    "dmc",
    "dmt",
    "transfer_rate",
    "file0_calls",
];

/// One figure of the wall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// The catalogue name.
    pub kpi: String,
    /// The operators' (French) name.
    pub alias: String,
    /// The figure; `None` without data.
    pub value: Option<f64>,
    /// Its unit's name.
    pub unit: String,
    /// The target that applies.
    pub target: Option<f64>,
    /// `met`, `within_tolerance`, `missed`; none without a target.
    pub status: Option<String>,
}

/// Today's figures: in total and per queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// The local day the figures cover.
    pub day: Option<NaiveDate>,
    /// Calls ended today.
    pub calls: usize,
    /// The platform's figures.
    pub total: Vec<Figure>,
    /// Each queue's figures.
    pub queues: BTreeMap<String, Vec<Figure>>,
}

struct Book {
    day: NaiveDate,
    records: Vec<CallRecord>,
    /// Figures as last computed, and whether a call ended since.
    figures: Option<Figures>,
}

/// Today's records and figures.
pub struct Today {
    cfg: SlaConfig,
    book: Mutex<Book>,
}

impl Today {
    /// Today (in the configured zone) with no call yet.
    pub fn new(cfg: SlaConfig, now: DateTime<Utc>) -> Today {
        let day = now.with_timezone(&cfg.timezone).date_naive();
        Today {
            cfg,
            book: Mutex::new(Book {
                day,
                records: Vec::new(),
                figures: None,
            }),
        }
    }

    /// The SLA settings the figures are computed with.
    pub fn config(&self) -> &SlaConfig {
        &self.cfg
    }

    /// Local midnight of today, in UTC (where to read the journal from).
    pub fn since(&self) -> DateTime<Utc> {
        let day = self.book.lock().expect("today lock").day;
        crate::group::local_midnight(self.cfg.timezone, day)
    }

    /// A record was closed (calls that ended before today are left out).
    pub fn observe(&self, r: &CallRecord) {
        let Some(ended) = r.ended_at else { return };
        let mut b = self.book.lock().expect("today lock");
        let day = ended.with_timezone(&self.cfg.timezone).date_naive();
        if day > b.day {
            b.day = day;
            b.records.clear();
        }
        if day == b.day {
            b.records.push(r.clone());
            b.figures = None;
        }
    }

    /// Today's figures at `now` (a new day empties the book first).
    pub fn figures(&self, now: DateTime<Utc>) -> Figures {
        let mut b = self.book.lock().expect("today lock");
        let day = now.with_timezone(&self.cfg.timezone).date_naive();
        if day > b.day {
            b.day = day;
            b.records.clear();
            b.figures = None;
        }
        if let Some(f) = &b.figures {
            return f.clone();
        }
        let f = self.compute(b.day, &b.records);
        b.figures = Some(f.clone());
        f
    }

    fn compute(&self, day: NaiveDate, records: &[CallRecord]) -> Figures {
        let history = History::new(records.iter(), self.cfg.include_test_numbers);
        let total = report(
            records.iter(),
            &Grouping::all(self.cfg.timezone),
            &history,
            &self.cfg,
            None,
        );
        let by_queue = Grouping {
            dimension: Some(Dimension::Queue),
            ..Grouping::all(self.cfg.timezone)
        };
        let mut queues: BTreeMap<String, Vec<Figure>> = BTreeMap::new();
        for line in report(records.iter(), &by_queue, &history, &self.cfg, None) {
            if let Some(q) = line.group.strip_prefix("queue=") {
                if let Some(f) = wall_figure(&line) {
                    queues.entry(q.to_string()).or_default().push(f);
                }
            }
        }
        Figures {
            day: Some(day),
            calls: records.len(),
            total: total.iter().filter_map(wall_figure).collect(),
            queues,
        }
    }
}

fn wall_figure(l: &ReportLine) -> Option<Figure> {
    WALL.contains(&l.kpi.as_str()).then(|| Figure {
        kpi: l.kpi.clone(),
        alias: l.alias.clone(),
        value: l.value,
        unit: l.unit.name().to_string(),
        target: l.target,
        status: l.status.map(|s| s.name().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr::{CallEvent, EventKind, Party};

    fn call(id: &str, at: DateTime<Utc>, queue: Option<&str>, answered: bool) -> CallRecord {
        let mut ev = CallEvent::now(
            id,
            EventKind::Arrived {
                sip_call_id: id.into(),
                trunk: Some("t".into()),
                did: Some("3422".into()),
                flow: Some("demo".into()),
                caller: Some("0612345678".into()),
                caller_withheld: false,
                source: "127.0.0.1:5060".into(),
                transport: "UDP".into(),
            },
        );
        ev.at = at;
        let mut r = CallRecord::open(&ev).unwrap();
        r.queue = queue.map(String::from);
        r.queued_at = queue.map(|_| at);
        if answered {
            r.answered_at = Some(at);
            r.agent = Some("agent1".into());
            r.agent_answered_at = Some(at + chrono::Duration::seconds(20));
            r.wait_ms = Some(20_000);
            r.talk_ms = Some(120_000);
            r.outcome = cdr::Outcome::Answered;
        } else {
            r.outcome = cdr::Outcome::AbandonedQueue;
        }
        r.ended_by = Some(Party::Caller);
        r.ended_at = Some(at + chrono::Duration::seconds(200));
        r
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn value(f: &[Figure], kpi: &str) -> Option<f64> {
        f.iter().find(|x| x.kpi == kpi).and_then(|x| x.value)
    }

    #[test]
    fn figures_per_queue_and_total_start_again_at_midnight() {
        let t = Today::new(SlaConfig::default(), at("2026-12-04T08:00:00Z"));
        assert_eq!(t.since(), at("2026-12-03T23:00:00Z"), "Paris midnight");
        t.observe(&call(
            "a",
            at("2026-12-04T08:00:00Z"),
            Some("general"),
            true,
        ));
        t.observe(&call(
            "b",
            at("2026-12-04T08:01:00Z"),
            Some("general"),
            false,
        ));
        t.observe(&call("c", at("2026-12-04T08:02:00Z"), Some("expert"), true));
        // Yesterday's call (ended before local midnight) is left out.
        t.observe(&call(
            "y",
            at("2026-12-03T20:00:00Z"),
            Some("general"),
            true,
        ));
        let f = t.figures(at("2026-12-04T09:00:00Z"));
        assert_eq!(f.calls, 3);
        assert_eq!(value(&f.total, "received"), Some(3.0));
        assert_eq!(value(&f.total, "answered"), Some(2.0));
        assert_eq!(value(&f.queues["general"], "abandoned"), Some(1.0));
        assert_eq!(value(&f.queues["expert"], "answered"), Some(1.0));
        let pickup = f.total.iter().find(|x| x.kpi == "pickup_rate").unwrap();
        assert!(
            pickup.target.is_some() && pickup.status.is_some(),
            "{pickup:?}"
        );
        // After local midnight: an empty day.
        let f = t.figures(at("2026-12-04T23:30:00Z"));
        assert_eq!((f.calls, value(&f.total, "received")), (0, Some(0.0)));
    }
}
