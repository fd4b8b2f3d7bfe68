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

/// Service level = queued calls an agent answered after a wait of at most
/// `within_s` seconds / the denominator above.
pub fn service_level<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    within_s: u64,
    denominator: SlDenominator,
) -> Value {
    let (mut within, mut base) = (0u64, 0u64);
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && facts::queued(r))
    {
        let answered = r.outcome == Outcome::Answered;
        let counted = match denominator {
            SlDenominator::Offered => !facts::short_abandon(r),
            SlDenominator::Answered => answered,
        };
        if !counted {
            continue;
        }
        base += 1;
        let wait = facts::wait_ms(r).unwrap_or(0);
        within += u64::from(answered && wait <= within_s * 1000);
    }
    Value::ratio(within as f64, base as f64)
}
