//! Live figures from finished records, for `/metrics` and supervisors:
//! counters since start by outcome and by refusal reason, and a rolling
//! window (service level, queue abandon rate) seeded from the journal at
//! start so a restart does not reset it. Each call is counted by the same
//! functions as the reports ([`service_level::answered_within`],
//! [`queue_abandon::abandoned_in_queue`]): one formula per KPI.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use cdr::{CallRecord, Outcome};
use chrono::{DateTime, Utc};

use crate::kpi::service_level::{self, SlDenominator};
use crate::kpi::{queue_abandon, Scope};
use crate::SlaConfig;

/// One queued call that ended within the window: its part in each rate
/// (`None`: not in that rate's denominator).
struct Sample {
    ended_at: DateTime<Utc>,
    answered: bool,
    answered_within: Option<bool>,
    abandoned: Option<bool>,
}

#[derive(Default)]
struct Inner {
    by_outcome: BTreeMap<&'static str, u64>,
    rejected: BTreeMap<String, u64>,
    window: VecDeque<Sample>,
}

/// The rolling figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rolling {
    /// Queued calls (test numbers and short abandons left out) that ended
    /// within the window.
    pub queued: u64,
    /// Of those, answered by an agent.
    pub answered: u64,
    /// The service level's denominator (queued or answered calls, as
    /// `[sla] service_level_denominator` says) and its numerator.
    pub service_level_base: u64,
    /// Of the service level's denominator, answered within the threshold.
    pub answered_within: u64,
    /// Of the queued calls, abandoned while waiting.
    pub abandoned: u64,
}

impl Rolling {
    /// Answered within the threshold / the service level's denominator;
    /// None with no call.
    pub fn service_level(&self) -> Option<f64> {
        crate::Value::ratio(self.answered_within as f64, self.service_level_base as f64).value
    }
    /// Abandoned in queue / queued calls.
    pub fn abandon_rate(&self) -> Option<f64> {
        crate::Value::ratio(self.abandoned as f64, self.queued as f64).value
    }
}

/// The live figures, shared by the CDR writer's hook and the admin API.
pub struct LiveStats {
    window: Duration,
    within: Duration,
    denominator: SlDenominator,
    include_test_numbers: bool,
    inner: Mutex<Inner>,
}

impl LiveStats {
    /// `window`: how far back the rolling figures reach; `within`: the
    /// service level's answer-within threshold; the denominator and the
    /// test numbers as `sla` configures them for reports.
    pub fn new(window: Duration, within: Duration, sla: &SlaConfig) -> LiveStats {
        LiveStats {
            window,
            within,
            denominator: sla.service_level_denominator,
            include_test_numbers: sla.include_test_numbers,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Fill the rolling window from the journal (records that ended within
    /// it), so a restart keeps the figures.
    pub fn seed(&self, cdr_dir: &Path) -> std::io::Result<usize> {
        let now = Utc::now();
        let from = now - chrono::Duration::from_std(self.window).unwrap_or_default();
        let records = cdr::read_records(cdr_dir, Some(from), None)?;
        let mut inner = self.inner.lock().expect("live stats lock");
        for r in &records {
            self.push_sample(&mut inner, r);
        }
        inner.window.make_contiguous().sort_by_key(|s| s.ended_at);
        Ok(records.len())
    }

    /// A record was written.
    pub fn observe(&self, r: &CallRecord) {
        let mut inner = self.inner.lock().expect("live stats lock");
        *inner.by_outcome.entry(r.outcome.name()).or_default() += 1;
        if r.outcome == Outcome::Rejected {
            let reason = r.reject_reason.clone().unwrap_or_else(|| "unknown".into());
            *inner.rejected.entry(reason).or_default() += 1;
        }
        self.push_sample(&mut inner, r);
    }

    fn push_sample(&self, inner: &mut Inner, r: &CallRecord) {
        let Some(ended_at) = r.ended_at else {
            return;
        };
        let scope = Scope::platform().with_test_numbers(self.include_test_numbers);
        let sample = Sample {
            ended_at,
            answered: r.outcome == Outcome::Answered,
            answered_within: service_level::answered_within(
                r,
                &scope,
                self.within.as_secs(),
                self.denominator,
            ),
            abandoned: queue_abandon::abandoned_in_queue(r, &scope),
        };
        if sample.answered_within.is_some() || sample.abandoned.is_some() {
            inner.window.push_back(sample);
        }
    }

    /// Counters since start by outcome.
    pub fn outcomes(&self) -> BTreeMap<&'static str, u64> {
        self.inner
            .lock()
            .expect("live stats lock")
            .by_outcome
            .clone()
    }

    /// Refused calls since start by reason.
    pub fn rejected(&self) -> BTreeMap<String, u64> {
        self.inner.lock().expect("live stats lock").rejected.clone()
    }

    /// The rolling figures now.
    pub fn rolling(&self, now: DateTime<Utc>) -> Rolling {
        let mut inner = self.inner.lock().expect("live stats lock");
        let from = now - chrono::Duration::from_std(self.window).unwrap_or_default();
        while inner.window.front().is_some_and(|s| s.ended_at < from) {
            inner.window.pop_front();
        }
        let mut r = Rolling {
            queued: 0,
            answered: 0,
            service_level_base: 0,
            answered_within: 0,
            abandoned: 0,
        };
        for s in inner.window.iter().filter(|s| s.ended_at >= from) {
            if let Some(abandoned) = s.abandoned {
                r.queued += 1;
                r.answered += u64::from(s.answered);
                r.abandoned += u64::from(abandoned);
            }
            if let Some(within) = s.answered_within {
                r.service_level_base += 1;
                r.answered_within += u64::from(within);
            }
        }
        r
    }

    /// How far back the rolling figures reach.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The service level's answer-within threshold.
    pub fn service_level_threshold(&self) -> Duration {
        self.within
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr::{CallEvent, EventKind, Party};

    fn queued_call(id: &str, at: DateTime<Utc>, wait_s: i64, answered: bool) -> CallRecord {
        let ev = |s: i64, kind| CallEvent {
            record_id: id.into(),
            at: at + chrono::Duration::seconds(s),
            kind,
        };
        let mut r = CallRecord::open(&ev(
            0,
            EventKind::Arrived {
                sip_call_id: id.into(),
                trunk: None,
                did: None,
                flow: None,
                caller: None,
                caller_withheld: true,
                source: String::new(),
                transport: "UDP".into(),
            },
        ))
        .unwrap();
        r.apply(&ev(
            0,
            EventKind::Answered {
                codec: "PCMU".into(),
            },
        ));
        r.apply(&ev(
            0,
            EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
        ));
        if answered {
            r.apply(&ev(
                wait_s,
                EventKind::AgentAnswered {
                    agent: "agent1".into(),
                },
            ));
        }
        r.apply(&ev(
            wait_s + 30,
            EventKind::Ended {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ));
        r
    }

    #[test]
    fn rolling_service_level_and_abandons() {
        let live = LiveStats::new(
            Duration::from_secs(1800),
            Duration::from_secs(20),
            &SlaConfig::default(),
        );
        let now = Utc::now();
        let t = |min: i64| now - chrono::Duration::minutes(min);
        // Ended 40 min ago: out of the window.
        live.observe(&queued_call("old", t(41), 5, true));
        live.observe(&queued_call("a", t(10), 5, true)); // within 20 s
        live.observe(&queued_call("b", t(10), 50, true)); // answered late
        live.observe(&queued_call("c", t(5), 90, false)); // abandoned
        let r = live.rolling(now);
        assert_eq!(
            (r.queued, r.answered, r.answered_within, r.abandoned),
            (3, 2, 1, 1)
        );
        assert_eq!(r.service_level(), Some(1.0 / 3.0));
        assert_eq!(r.abandon_rate(), Some(1.0 / 3.0));
        assert_eq!(live.outcomes()["answered"], 3);
        assert_eq!(live.outcomes()["abandoned_queue"], 1);
        // The report's formula over the same calls gives the same figure.
        let recs = [
            queued_call("a", t(10), 5, true),
            queued_call("b", t(10), 50, true),
            queued_call("c", t(5), 90, false),
        ];
        let report =
            service_level::service_level(&recs, &Scope::platform(), 20, SlDenominator::Offered);
        assert_eq!(report.value, r.service_level());
        let report = queue_abandon::queue_abandon_rate(&recs, &Scope::platform());
        assert_eq!(report.value, r.abandon_rate());
        // Of the answered calls: 1 of 2 within 20 s.
        let answered = SlaConfig {
            service_level_denominator: SlDenominator::Answered,
            ..SlaConfig::default()
        };
        let live = LiveStats::new(
            Duration::from_secs(1800),
            Duration::from_secs(20),
            &answered,
        );
        for r in &recs {
            live.observe(r);
        }
        let r = live.rolling(now);
        assert_eq!((r.service_level_base, r.queued), (2, 3));
        assert_eq!(r.service_level(), Some(0.5));
    }
}
