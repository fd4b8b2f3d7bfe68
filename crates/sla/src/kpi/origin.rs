//! Caller origin ("origine des appels").
//!
//! REQUIREMENTS D, also reported: "caller origin (mobile 06/07, landline,
//! other; withheld and international where known)". Share of each
//! `caller_class` = calls of the class / received calls.

use cdr::{CallRecord, CallerClass};

use super::{Scope, Value};

/// Every class, in report order.
pub const CLASSES: [CallerClass; 5] = [
    CallerClass::Mobile,
    CallerClass::Landline,
    CallerClass::International,
    CallerClass::Withheld,
    CallerClass::Other,
];

/// The name of a class as in the records.
pub fn class_name(c: CallerClass) -> &'static str {
    match c {
        CallerClass::Mobile => "mobile",
        CallerClass::Landline => "landline",
        CallerClass::International => "international",
        CallerClass::Withheld => "withheld",
        CallerClass::Other => "other",
    }
}

/// Share of each class (in [`CLASSES`] order) = calls of the class /
/// received calls.
pub fn caller_origin<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Vec<(CallerClass, Value)> {
    let mut counts = [0u64; CLASSES.len()];
    for r in records.into_iter().filter(|r| scope.owns(r)) {
        if let Some(i) = CLASSES.iter().position(|c| *c == r.caller_class) {
            counts[i] += 1;
        }
    }
    let received: u64 = counts.iter().sum();
    CLASSES
        .iter()
        .zip(counts)
        .map(|(c, n)| (*c, Value::ratio(n as f64, received as f64)))
        .collect()
}
