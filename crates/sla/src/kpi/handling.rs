//! Handling times: DMC (average talk time) and DMT / AHT.
//!
//! REQUIREMENTS D: DMC "total talk (hold included) / calls handled", CAF 5
//! min (6), Cnam 4 min; DMT / AHT "(talk + wrap-up) / calls handled; hold
//! is inside talk, never added twice", CAF 6 min (8), Cnam 5 min (7).
//! Records carry no hold time: `talk_ms` runs from the agent's answer to
//! the end of the conversation, hold included.

use cdr::{CallRecord, Outcome};

use super::{secs, Scope, Value};

/// Handled calls of the scope (an agent answered) with talk and wrap-up.
fn handled<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> (u64, u64, u64) {
    let (mut n, mut talk, mut wrapup) = (0u64, 0u64, 0u64);
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && r.outcome == Outcome::Answered)
    {
        n += 1;
        talk += r.talk_ms.unwrap_or(0);
        wrapup += r.wrapup_ms.unwrap_or(0);
    }
    (n, talk, wrapup)
}

/// DMC = total talk (s) / calls handled.
pub fn dmc<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> Value {
    let (n, talk, _) = handled(records, scope);
    Value::ratio(secs(talk), n as f64)
}

/// DMT = (total talk + total wrap-up) (s) / calls handled.
pub fn dmt<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> Value {
    let (n, talk, wrapup) = handled(records, scope);
    Value::ratio(secs(talk + wrapup), n as f64)
}
