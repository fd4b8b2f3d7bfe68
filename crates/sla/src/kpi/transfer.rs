//! Transfer rate (Cnam).
//!
//! REQUIREMENTS D: "calls transferred to level 1+ / calls received",
//! reported (no target).

use cdr::{CallRecord, Outcome};

use super::{Scope, Value};

/// Transfer rate = calls an agent transferred (REFER to another queue,
/// `transfers` not empty) or the flow transferred out to a number that
/// answered (`transferred`) / calls received.
pub fn transfer_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Value {
    let (mut transferred, mut received) = (0u64, 0u64);
    for r in records.into_iter().filter(|r| scope.owns(r)) {
        received += 1;
        transferred += u64::from(!r.transfers.is_empty() || r.outcome == Outcome::Transferred);
    }
    Value::ratio(transferred as f64, received as f64)
}
