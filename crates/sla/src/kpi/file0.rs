//! File 0 activation delay GVS01.
//!
//! REQUIREMENTS B and D: "time of the first call redirected to file 0
//! minus time of the request", <= 15 min, 100% of activations; a monthly
//! report lists activations with the calls affected.
//!
//! An activation's delay is the smallest `file0.delay_ms` of the calls it
//! redirected (its first call); the KPI is the largest delay over the
//! activations. A period reports an activation's delay where its first
//! call is (per the [`History`]), and its calls wherever they are.

use std::collections::BTreeMap;

use cdr::CallRecord;
use chrono::{DateTime, Utc};

use super::{Scope, Value};
use crate::history::History;

/// One file 0 activation as seen in a set of calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    /// The activation's id.
    pub id: String,
    /// When the supervisor asked for it.
    pub requested_at: DateTime<Utc>,
    /// Calls of the set it redirected.
    pub calls: u64,
    /// Its delay in ms when its first redirected call is in the set.
    pub delay_ms: Option<i64>,
}

/// The activations of the calls the scope owns, by id.
pub fn activations<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    history: &History,
) -> Vec<Activation> {
    let mut by_id: BTreeMap<&str, (Activation, i64, bool)> = BTreeMap::new();
    for r in records.into_iter().filter(|r| scope.owns(r)) {
        let Some(f) = &r.file0 else { continue };
        let first = history.file0_first(&f.activation_id);
        let (a, min_delay, has_first) = by_id.entry(&f.activation_id).or_insert_with(|| {
            let a = Activation {
                id: f.activation_id.clone(),
                requested_at: f.requested_at,
                calls: 0,
                delay_ms: None,
            };
            (a, f.delay_ms, false)
        });
        a.calls += 1;
        *min_delay = (*min_delay).min(f.delay_ms);
        // Without the activation in the history, the set's first call is it.
        *has_first |= first.is_none() || first == Some(r.record_id.as_str());
    }
    let mut out: Vec<Activation> = by_id
        .into_values()
        .map(|(mut a, min_delay, has_first)| {
            a.delay_ms = has_first.then_some(min_delay);
            a
        })
        .collect();
    out.sort_by(|a, b| (a.requested_at, &a.id).cmp(&(b.requested_at, &b.id)));
    out
}

/// GVS01 = the largest activation delay (s) of the activations whose
/// first call is in the set.
pub fn activation_delay(activations: &[Activation]) -> Value {
    let max = activations.iter().filter_map(|a| a.delay_ms).max();
    Value::extreme(max.map(|ms| ms as f64 / 1000.0))
}
