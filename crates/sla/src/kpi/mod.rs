//! The KPIs, one file each, every one a pure function of call records with
//! its formula from REQUIREMENTS.md section D in its doc comment.

pub mod agent_idle;
pub mod answer_rate;
pub mod availability;
pub mod callbot;
pub mod daily_pickup;
pub mod file0;
pub mod first_contact;
pub mod handling;
pub mod lost;
pub mod origin;
pub mod pickup;
pub mod productive;
pub mod qualification;
pub mod queue_abandon;
pub mod self_service;
pub mod service_level;
pub mod survey;
pub mod transfer;
pub mod volume;
pub mod wait;

use std::collections::BTreeMap;

use cdr::CallRecord;

/// A KPI's figure and what it was computed from, so every figure can be
/// traced to the calls behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    /// The figure; `None` when the denominator is 0 (no data).
    pub value: Option<f64>,
    /// What the figure was computed from (the count, or the ratio's top).
    pub numerator: f64,
    /// `None` for counts and extremes.
    pub denominator: Option<f64>,
}

impl Value {
    /// A number of calls.
    pub fn count(n: u64) -> Value {
        Value {
            value: Some(n as f64),
            numerator: n as f64,
            denominator: None,
        }
    }

    /// `numerator / denominator`, no data when the denominator is 0.
    pub fn ratio(numerator: f64, denominator: f64) -> Value {
        Value {
            value: (denominator > 0.0).then(|| numerator / denominator),
            numerator,
            denominator: Some(denominator),
        }
    }

    /// A largest (or smallest) value, none when nothing was measured.
    pub fn extreme(value: Option<f64>) -> Value {
        Value {
            value,
            numerator: value.unwrap_or(0.0),
            denominator: None,
        }
    }
}

/// Which calls a KPI looks at: the whole platform or one queue, with or
/// without test numbers.
///
/// In a queue's scope a call belongs to the queue it ended in (its
/// `queue`); the overflow-aware figures (pickup rate, overflow in/out) also
/// see the calls that only passed through it (`overflowed_from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope<'q> {
    /// One queue's calls; `None`: the whole platform.
    pub queue: Option<&'q str>,
    /// Count calls from `[cdr] test_numbers` (left out by default).
    pub include_test_numbers: bool,
}

impl<'q> Scope<'q> {
    /// Every call of the platform, test numbers left out.
    pub fn platform() -> Scope<'static> {
        Scope::default()
    }

    /// The calls of one queue, test numbers left out.
    pub fn queue(name: &'q str) -> Scope<'q> {
        Scope {
            queue: Some(name),
            include_test_numbers: false,
        }
    }

    /// The same scope, with or without test numbers.
    pub fn with_test_numbers(self, include: bool) -> Scope<'q> {
        Scope {
            include_test_numbers: include,
            ..self
        }
    }

    /// The call counts in statistics at all (not a test number, unless
    /// asked).
    pub fn counts(&self, r: &CallRecord) -> bool {
        self.include_test_numbers || !r.test_number
    }

    /// The call is one of the scope's: counted, and ended in its queue.
    pub fn owns(&self, r: &CallRecord) -> bool {
        self.counts(r)
            && match self.queue {
                None => true,
                Some(q) => r.queue.as_deref() == Some(q),
            }
    }
}

/// A rate over calls, overall and per contact reason, tallied call by call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByReason {
    /// Reason -> (calls that meet the rate's condition, calls).
    tally: BTreeMap<String, (u64, u64)>,
}

impl ByReason {
    pub(crate) fn add(&mut self, reason: &str, hit: bool) {
        let (hits, calls) = self.tally.entry(reason.to_string()).or_default();
        *hits += u64::from(hit);
        *calls += 1;
    }

    /// Every reason together.
    pub fn overall(&self) -> Value {
        let (hits, calls) = self
            .tally
            .values()
            .fold((0, 0), |(h, c), (hits, calls)| (h + hits, c + calls));
        Value::ratio(hits as f64, calls as f64)
    }

    /// One reason.
    pub fn get(&self, reason: &str) -> Option<Value> {
        self.tally
            .get(reason)
            .map(|(hits, calls)| Value::ratio(*hits as f64, *calls as f64))
    }

    /// Each reason, in order.
    pub fn reasons(&self) -> impl Iterator<Item = (&str, Value)> {
        self.tally
            .iter()
            .map(|(r, (hits, calls))| (r.as_str(), Value::ratio(*hits as f64, *calls as f64)))
    }
}

/// Milliseconds to seconds.
pub(crate) fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
