//! Answer rate (callbot).
//!
//! REQUIREMENTS D: "calls answered by the platform / calls presented",
//! target 99%. Presented to the platform by the network: the incoming
//! calls, refusals for capacity included (they count against the rate).

use cdr::CallRecord;

use super::{Scope, Value};
use crate::facts;

/// Answer rate = incoming calls the platform answered (`answered_at` set) /
/// incoming calls.
pub fn answer_rate<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> Value {
    let (mut answered, mut incoming) = (0u64, 0u64);
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && facts::incoming(r))
    {
        incoming += 1;
        answered += u64::from(r.answered_at.is_some());
    }
    Value::ratio(answered as f64, incoming as f64)
}
