//! Live figures from finished records, for `/metrics` and supervisors:
//! counters since start by outcome and by refusal reason, and a rolling
//! window (service level, abandon rate) seeded from the journal at start so
//! a restart does not reset it.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::record::{CallRecord, Outcome};

/// One queued call that left the window's calls.
struct Sample {
    ended_at: DateTime<Utc>,
    answered_within: bool,
    answered: bool,
    abandoned: bool,
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
    pub answered: u64,
    pub answered_within: u64,
    pub abandoned: u64,
}

impl Rolling {
    /// Answered within the threshold / queued calls; None with no call.
    pub fn service_level(&self) -> Option<f64> {
        (self.queued > 0).then(|| self.answered_within as f64 / self.queued as f64)
    }
    /// Abandoned in queue / queued calls.
    pub fn abandon_rate(&self) -> Option<f64> {
        (self.queued > 0).then(|| self.abandoned as f64 / self.queued as f64)
    }
}

pub struct LiveStats {
    window: Duration,
    service_level: Duration,
    inner: Mutex<Inner>,
}

pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Open => "open",
        Outcome::Rejected => "rejected",
        Outcome::Cancelled => "cancelled",
        Outcome::AbandonedIvr => "abandoned_ivr",
        Outcome::SelfService => "self_service",
        Outcome::Failed => "failed",
        Outcome::Interrupted => "interrupted",
        Outcome::Answered => "answered",
        Outcome::AbandonedQueue => "abandoned_queue",
        Outcome::Dissuaded => "dissuaded",
        Outcome::Transferred => "transferred",
    }
}

impl LiveStats {
    /// `window`: how far back the rolling figures reach; `service_level`:
    /// the answer-within threshold.
    pub fn new(window: Duration, service_level: Duration) -> LiveStats {
        LiveStats {
            window,
            service_level,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Fill the rolling window from the journal (records that ended within
    /// it), so a restart keeps the figures.
    pub fn seed(&self, cdr_dir: &Path) -> std::io::Result<usize> {
        let now = Utc::now();
        let from = now - chrono::Duration::from_std(self.window).unwrap_or_default();
        let records = crate::journal::read_records(cdr_dir, Some(from), None)?;
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
        *inner.by_outcome.entry(outcome_name(r.outcome)).or_default() += 1;
        if r.outcome == Outcome::Rejected {
            let reason = r.reject_reason.clone().unwrap_or_else(|| "unknown".into());
            *inner.rejected.entry(reason).or_default() += 1;
        }
        self.push_sample(&mut inner, r);
    }

    fn push_sample(&self, inner: &mut Inner, r: &CallRecord) {
        if r.queued_at.is_none() || r.test_number || r.short_abandon {
            return;
        }
        let Some(ended_at) = r.ended_at else {
            return;
        };
        let answered = r.agent_answered_at.is_some();
        let within = self.service_level.as_millis() as u64;
        inner.window.push_back(Sample {
            ended_at,
            answered,
            answered_within: answered && r.wait_ms.is_some_and(|w| w <= within),
            abandoned: r.outcome == Outcome::AbandonedQueue,
        });
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
            answered_within: 0,
            abandoned: 0,
        };
        for s in inner.window.iter().filter(|s| s.ended_at >= from) {
            r.queued += 1;
            r.answered += s.answered as u64;
            r.answered_within += s.answered_within as u64;
            r.abandoned += s.abandoned as u64;
        }
        r
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn service_level_threshold(&self) -> Duration {
        self.service_level
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CallEvent, EventKind, Party};

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
        let live = LiveStats::new(Duration::from_secs(1800), Duration::from_secs(20));
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
        assert_eq!(live.outcomes()["answered"], 3);
        assert_eq!(live.outcomes()["abandoned_queue"], 1);
    }
}
