//! Productive self-service (CAF SC3.2).
//!
//! REQUIREMENTS B: "an IVR-only call counts as productive when the caller
//! heard more than 75% of the information message and neither reached an
//! agent nor called back the same day."
//!
//! Productive self-service rate = productive `self_service` calls /
//! `self_service` calls, where productive means: at least one prompt of
//! the rule was played, every one of them with `heard_ms` >= 75% of its
//! `duration_ms` (the prompts named in `prompts`, else every prompt of the
//! call), and, unless switched off, no later call from the same number the
//! same local day (a call without a caller number cannot be checked and
//! counts as not called back). A `self_service` call never reached an
//! agent.

use cdr::{CallRecord, Outcome};
use chrono::Duration;
use chrono_tz::Tz;
use serde::Deserialize;

use super::{Scope, Value};
use crate::group;
use crate::history::History;

/// `[sla.self_service]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfServiceOptions {
    /// Share of a prompt that must have been heard. Default 0.75.
    pub heard_ratio: f64,
    /// The information prompts the rule looks at; empty (default): every
    /// prompt the call played.
    pub prompts: Vec<String>,
    /// A call back from the same number the same day makes the call
    /// unproductive. Default true.
    pub same_day_callback: bool,
}

impl Default for SelfServiceOptions {
    fn default() -> Self {
        SelfServiceOptions {
            heard_ratio: 0.75,
            prompts: Vec::new(),
            same_day_callback: true,
        }
    }
}

/// The caller heard enough of the information prompts.
pub fn heard_enough(r: &CallRecord, opts: &SelfServiceOptions) -> bool {
    let mut rule = r
        .prompts
        .iter()
        .filter(|p| opts.prompts.is_empty() || opts.prompts.contains(&p.name))
        .peekable();
    rule.peek().is_some()
        && rule.all(|p| p.heard_ms as f64 >= opts.heard_ratio * p.duration_ms as f64)
}

/// Productive self-service rate (see the module doc); `tz` sets the day.
pub fn productive_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    history: &History,
    opts: &SelfServiceOptions,
    tz: Tz,
) -> Value {
    let (mut productive, mut calls) = (0u64, 0u64);
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && r.outcome == Outcome::SelfService)
    {
        calls += 1;
        let called_back = opts.same_day_callback
            && r.caller.as_deref().is_some_and(|c| {
                let day = r.arrived_at.with_timezone(&tz).date_naive();
                let midnight = group::local_midnight(tz, day + Duration::days(1));
                history.called_again(c, r.arrived_at, midnight - Duration::nanoseconds(1))
            });
        productive += u64::from(heard_enough(r, opts) && !called_back);
    }
    Value::ratio(productive as f64, calls as f64)
}
