//! Waiting: average wait with both denominators, ASA, longest wait.
//!
//! REQUIREMENTS D, average wait "temps d'attente moyen": "total queue wait
//! / queued calls (CAF: 3 min); Cnam uses two denominators (queued calls,
//! or net inbound): both configurable", targets CAF 3 min, Cnam < 2 min
//! (4 min), GAS01 < 90 s. Both denominators are reported
//! (`average_wait`, `average_wait_net`).

use cdr::{CallRecord, Outcome};
use serde::Deserialize;

use super::pickup::{self, PickupOptions};
use super::{secs, Scope, Value};
use crate::facts;

/// Which waits count (`[sla.wait]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WaitOptions {
    /// Short queue abandons count as queued calls. Default false.
    pub short_abandons: bool,
}

/// The wait in ms of a queued call of the scope whose wait counts.
fn counted_wait(r: &CallRecord, scope: &Scope, opts: &WaitOptions) -> Option<u64> {
    let counts = scope.owns(r) && (opts.short_abandons || !facts::short_abandon(r));
    counts.then(|| facts::wait_ms(r)).flatten()
}

/// Mean of waits in ms, in seconds.
fn mean_s(waits: impl Iterator<Item = u64>) -> Value {
    let (total, n) = waits.fold((0, 0u64), |(t, n), w| (t + w, n + 1));
    Value::ratio(secs(total), n as f64)
}

/// Average wait = total queue wait (s) of queued calls / queued calls.
pub fn average_wait<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &WaitOptions,
) -> Value {
    mean_s(
        records
            .into_iter()
            .filter_map(|r| counted_wait(r, scope, opts)),
    )
}

/// Average wait, net inbound = total queue wait (s) of queued calls /
/// net inbound calls (the pickup-rate denominator, `presented`).
pub fn average_wait_net<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &WaitOptions,
    pickup_opts: &PickupOptions,
) -> Value {
    let (mut total, mut inbound) = (0u64, 0u64);
    for r in records {
        inbound += u64::from(pickup::net_inbound(r, scope, pickup_opts));
        total += counted_wait(r, scope, opts).unwrap_or(0);
    }
    Value::ratio(secs(total), inbound as f64)
}

/// ASA, average speed of answer = total wait (s) of the calls an agent
/// answered / calls an agent answered.
pub fn asa<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> Value {
    mean_s(
        records
            .into_iter()
            .filter(|r| scope.owns(r) && r.outcome == Outcome::Answered)
            .map(|r| facts::wait_ms(r).unwrap_or(0)),
    )
}

/// Longest wait (s) of a queued call, answered or not.
pub fn longest_wait<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &WaitOptions,
) -> Value {
    let longest = records
        .into_iter()
        .filter_map(|r| counted_wait(r, scope, opts))
        .max();
    Value::extreme(longest.map(secs))
}
