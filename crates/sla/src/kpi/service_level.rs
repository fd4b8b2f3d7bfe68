//! Service level.
//!
//! REQUIREMENTS D: "% of calls answered within Y seconds (Y configurable)",
//! target configurable. The tenders do not say of which calls: by default
//! of the calls offered to the queues (queued calls that were not short
//! abandons), else of the calls answered (`service_level_denominator`).

use cdr::{CallRecord, Outcome};
use serde::Deserialize;

use super::{Scope, Value};
use crate::facts;

/// The calls the service level is a share of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlDenominator {
    /// Queued calls that were not short abandons (answered or not).
    #[default]
    Offered,
    /// Queued calls an agent answered.
    Answered,
}

/// One call's part in the service level: `None` when it is not in the
/// denominator (not the scope's, not queued, or left out by
/// `denominator`), else whether an agent answered it after a wait of at
/// most `within_s` seconds. The report and the live figures (`/metrics`)
/// both count through this.
pub fn answered_within(
    r: &CallRecord,
    scope: &Scope,
    within_s: u64,
    denominator: SlDenominator,
) -> Option<bool> {
    if !scope.owns(r) || !facts::queued(r) {
        return None;
    }
    let answered = r.outcome == Outcome::Answered;
    let counted = match denominator {
        SlDenominator::Offered => !facts::short_abandon(r),
        SlDenominator::Answered => answered,
    };
    if !counted {
        return None;
    }
    let wait = facts::wait_ms(r).unwrap_or(0);
    Some(answered && wait <= within_s * 1000)
}

/// Service level = queued calls an agent answered after a wait of at most
/// `within_s` seconds / the denominator above.
pub fn service_level<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    within_s: u64,
    denominator: SlDenominator,
) -> Value {
    let (mut within, mut base) = (0u64, 0u64);
    for hit in records
        .into_iter()
        .filter_map(|r| answered_within(r, scope, within_s, denominator))
    {
        base += 1;
        within += u64::from(hit);
    }
    Value::ratio(within as f64, base as f64)
}
