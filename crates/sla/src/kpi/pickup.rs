//! Pickup rate, "taux de décroché" (Cnam).
//!
//! REQUIREMENTS D: "answered / (received, incl. transfers and overflow
//! in, - dissuaded by telecom - dissuaded by closure - overflowed out -
//! picked up during transfer + widening in - widening out)", target >= 90%
//! (penalty 89%).
//!
//! Records carry no transfers and no skill widening yet, so those terms are
//! 0. Received is the incoming calls (refusals that no caller of the
//! service made are not received). In a queue's scope, overflows in and out
//! come from `overflowed_from` and `queue`; for the platform they cancel out.

use cdr::{CallRecord, Outcome};
use serde::Deserialize;

use super::{Scope, Value};
use crate::facts::{self, Dissuasion};

/// Which calls the denominator leaves out (`[sla.pickup]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PickupOptions {
    /// Leave out telecom dissuasion (refused for capacity). Default true.
    pub exclude_telecom: bool,
    /// Leave out callers dissuaded by the closure message. Default true.
    pub exclude_closure: bool,
    /// Leave out callers dissuaded by the saturation message. Default false.
    pub exclude_saturation: bool,
    /// Leave out callers informed and released by the information message.
    /// Default false.
    pub exclude_informed: bool,
    /// Leave out callers released by a file 0 override. Default false.
    pub exclude_file0: bool,
    /// Leave out short queue abandons. Default false.
    pub exclude_short_abandons: bool,
    /// Per queue: count calls that overflowed into it. Default true.
    pub overflow_in: bool,
    /// Per queue: leave out calls that overflowed out of it. Default true.
    pub overflow_out: bool,
}

impl Default for PickupOptions {
    fn default() -> Self {
        PickupOptions {
            exclude_telecom: true,
            exclude_closure: true,
            exclude_saturation: false,
            exclude_informed: false,
            exclude_file0: false,
            exclude_short_abandons: false,
            overflow_in: true,
            overflow_out: true,
        }
    }
}

impl PickupOptions {
    fn excluded(&self, r: &CallRecord) -> bool {
        let dissuaded = |d| facts::dissuasion(r) == Some(d);
        (self.exclude_telecom && facts::telecom_dissuasion(r))
            || (self.exclude_closure && dissuaded(Dissuasion::Closure))
            || (self.exclude_saturation && dissuaded(Dissuasion::Saturation))
            || (self.exclude_informed && dissuaded(Dissuasion::Informed))
            || (self.exclude_file0 && dissuaded(Dissuasion::File0))
            || (self.exclude_short_abandons && facts::short_abandon(r))
    }
}

/// The call is in the pickup-rate denominator of the scope ("net inbound",
/// reported as `presented`): incoming, not left out by the options, and in
/// a queue's scope received by it (first queue, or by overflow when
/// `overflow_in`) and not overflowed out of it (when `overflow_out`).
pub fn net_inbound(r: &CallRecord, scope: &Scope, opts: &PickupOptions) -> bool {
    if !scope.counts(r) || !facts::incoming(r) || opts.excluded(r) {
        return false;
    }
    let Some(q) = scope.queue else { return true };
    let entered =
        facts::first_queue(r) == Some(q) || (opts.overflow_in && facts::overflowed_into(r, q));
    entered && !(opts.overflow_out && facts::overflowed_out_of(r, q))
}

/// Calls in the pickup-rate denominator (`presented`).
pub fn presented<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &PickupOptions,
) -> u64 {
    records
        .into_iter()
        .filter(|r| net_inbound(r, scope, opts))
        .count() as u64
}

/// Pickup rate = answered (an agent answered, in the scope's queue) /
/// net inbound (see [`net_inbound`]).
pub fn pickup_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &PickupOptions,
) -> Value {
    let (mut answered, mut inbound) = (0u64, 0u64);
    for r in records.into_iter().filter(|r| net_inbound(r, scope, opts)) {
        inbound += 1;
        answered += u64::from(r.outcome == Outcome::Answered && scope.owns(r));
    }
    Value::ratio(answered as f64, inbound as f64)
}
