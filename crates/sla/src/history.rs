//! What some KPIs need beyond a group's own calls: the later calls of each
//! caller number (first-contact resolution, same-day callbacks) and the
//! first call of each file 0 activation. Build it from every record loaded,
//! including the days after the reported period.

use std::collections::HashMap;

use cdr::CallRecord;
use chrono::{DateTime, Utc};

use crate::facts;

/// Calls by caller number and file 0 activations, over all loaded records.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Arrival times of incoming calls, sorted, by caller number.
    calls: HashMap<String, Vec<DateTime<Utc>>>,
    /// Activation id -> (delay ms, record id) of its first redirected call.
    file0_first: HashMap<String, (i64, String)>,
}

impl History {
    /// Index `records`; test numbers are left out unless included.
    pub fn new<'a>(
        records: impl IntoIterator<Item = &'a CallRecord>,
        include_test_numbers: bool,
    ) -> History {
        let mut h = History::default();
        for r in records
            .into_iter()
            .filter(|r| include_test_numbers || !r.test_number)
        {
            if let (Some(caller), true) = (&r.caller, facts::incoming(r)) {
                h.calls
                    .entry(caller.clone())
                    .or_default()
                    .push(r.arrived_at);
            }
            if let Some(f) = &r.file0 {
                let first = h
                    .file0_first
                    .entry(f.activation_id.clone())
                    .or_insert_with(|| (f.delay_ms, r.record_id.clone()));
                if (f.delay_ms, &r.record_id) < (first.0, &first.1) {
                    *first = (f.delay_ms, r.record_id.clone());
                }
            }
        }
        for times in h.calls.values_mut() {
            times.sort_unstable();
        }
        h
    }

    /// Whether `caller` called again after `after`, up to `until` included.
    pub fn called_again(&self, caller: &str, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        let Some(times) = self.calls.get(caller) else {
            return false;
        };
        let next = times.partition_point(|t| *t <= after);
        times.get(next).is_some_and(|t| *t <= until)
    }

    /// The record id of the first call a file 0 activation redirected.
    pub fn file0_first(&self, activation_id: &str) -> Option<&str> {
        self.file0_first
            .get(activation_id)
            .map(|(_, id)| id.as_str())
    }
}
