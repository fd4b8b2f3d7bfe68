//! Queue abandon rate, "taux d'abandon en file".
//!
//! REQUIREMENTS section F (supervision): callers "waiting, abandoned" per
//! queue. Of the calls offered to the queues, the share whose caller hung
//! up while waiting. Short abandons (`[cdr] short_abandon_s`) are left out
//! of both sides, as in the service level's default denominator.

use cdr::{CallRecord, Outcome};

use super::{Scope, Value};
use crate::facts;

/// One call's part in the rate: `None` when it is not in the denominator
/// (not the scope's, not queued, or a short abandon), else whether its
/// caller abandoned in queue. The report and `/metrics` count through it.
pub fn abandoned_in_queue(r: &CallRecord, scope: &Scope) -> Option<bool> {
    if !scope.owns(r) || !facts::queued(r) || facts::short_abandon(r) {
        return None;
    }
    Some(r.outcome == Outcome::AbandonedQueue)
}

/// Queue abandon rate = calls abandoned while waiting / queued calls
/// (short abandons left out of both).
pub fn queue_abandon_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Value {
    let (mut hits, mut base) = (0u64, 0u64);
    for hit in records
        .into_iter()
        .filter_map(|r| abandoned_in_queue(r, scope))
    {
        base += 1;
        hits += u64::from(hit);
    }
    Value::ratio(hits as f64, base as f64)
}
