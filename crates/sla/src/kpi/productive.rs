//! Productive hours ("heures productives").
//!
//! REQUIREMENTS D: "sum of talk + wrap-up, vs hours ordered", 95% floor;
//! cap 110% (CAF), 120% (Cnam).
//!
//! Hours ordered come from `[sla.productive_hours]`: hours per ordered day
//! and which weekdays are ordered; a period orders that many hours for each
//! of its ordered days.

use cdr::CallRecord;
use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::{Scope, Value};

/// `[sla.productive_hours]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProductiveOptions {
    /// Productive hours ordered per ordered day; none: no comparison.
    pub ordered_per_day: Option<f64>,
    /// The weekdays hours are ordered for. Default Monday to Friday.
    pub days: Vec<Weekday>,
}

impl Default for ProductiveOptions {
    fn default() -> Self {
        ProductiveOptions {
            ordered_per_day: None,
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

impl ProductiveOptions {
    /// Hours ordered for the local days `from` (included) to `to`
    /// (excluded); none when no order is configured.
    pub fn ordered_hours(&self, from: NaiveDate, to: NaiveDate) -> Option<f64> {
        let per_day = self.ordered_per_day?;
        let days = from
            .iter_days()
            .take_while(|d| *d < to)
            .filter(|d| self.days.contains(&d.weekday()))
            .count();
        Some(per_day * days as f64)
    }
}

/// Milliseconds of talk plus wrap-up of the scope's calls.
fn worked_ms<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> u64 {
    records
        .into_iter()
        .filter(|r| scope.owns(r))
        .map(|r| r.talk_ms.unwrap_or(0) + r.wrapup_ms.unwrap_or(0))
        .sum()
}

fn hours(ms: u64) -> f64 {
    ms as f64 / 3_600_000.0
}

/// Productive hours = sum of talk + wrap-up (h) of every call of the scope.
pub fn productive_hours<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Value {
    let h = hours(worked_ms(records, scope));
    Value {
        value: Some(h),
        numerator: h,
        denominator: None,
    }
}

/// Productive hours ratio = productive hours / hours ordered.
pub fn productive_ratio<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    ordered_hours: f64,
) -> Value {
    Value::ratio(hours(worked_ms(records, scope)), ordered_hours)
}
