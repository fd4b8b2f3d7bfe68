//! Qualification rate.
//!
//! REQUIREMENTS D: "answered calls with a disposition / answered calls",
//! target 100%.

use cdr::{CallRecord, Outcome};

use super::{Scope, Value};

/// Qualification rate = calls an agent answered with a non-empty
/// `disposition` / calls an agent answered.
pub fn qualification_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Value {
    let (mut qualified, mut answered) = (0u64, 0u64);
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && r.outcome == Outcome::Answered)
    {
        answered += 1;
        qualified += u64::from(r.disposition.as_deref().is_some_and(|d| !d.is_empty()));
    }
    Value::ratio(qualified as f64, answered as f64)
}
