//! Daily pickup rate GAS02 (service desk).
//!
//! REQUIREMENTS D: "answered / (incoming - callers informed and released by
//! a message)", target >= 90%. Daily when the report is grouped by day.

use cdr::{CallRecord, Outcome};

use super::{Scope, Value};
use crate::facts;

/// GAS02 = answered (an agent answered) / (incoming − dissuaded `informed`
/// or `file0`: callers informed and released by a message).
pub fn daily_pickup_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Value {
    let (mut answered, mut base) = (0u64, 0u64);
    for r in records.into_iter().filter(|r| scope.owns(r)) {
        let released = facts::dissuasion(r).is_some_and(|d| d.informed());
        if !facts::incoming(r) || released {
            continue;
        }
        base += 1;
        answered += u64::from(r.outcome == Outcome::Answered);
    }
    Value::ratio(answered as f64, base as f64)
}
