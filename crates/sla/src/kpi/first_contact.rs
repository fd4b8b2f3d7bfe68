//! First-contact resolution ("résolution au premier contact").
//!
//! REQUIREMENTS D: "calls of a contact reason with no repeat from the same
//! caller number within 7 days / calls handled for that reason", target
//! > 80%.
//!
//! A handled call (an agent answered) whose reason is its `disposition`
//! is resolved when no later call from the same `caller` arrived within
//! the window after its arrival. Calls without a caller number (withheld)
//! or without a disposition are left out. Later calls are looked up in the
//! [`History`], so load the days after the period too.

use cdr::{CallRecord, Outcome};
use chrono::Duration;
use serde::Deserialize;

use super::{ByReason, Scope};
use crate::history::History;

/// `[sla.fcr]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcrOptions {
    /// Days after a call within which another call from the same number
    /// is a repeat. Default 7.
    pub window_days: u32,
}

impl Default for FcrOptions {
    fn default() -> Self {
        FcrOptions { window_days: 7 }
    }
}

impl FcrOptions {
    /// How far back a caller's earlier call counts.
    pub fn window(&self) -> Duration {
        Duration::days(i64::from(self.window_days))
    }
}

/// FCR = handled calls with no repeat within the window / handled calls
/// (with a caller number and a disposition), overall and per disposition.
pub fn first_contact_resolution<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    history: &History,
    opts: &FcrOptions,
) -> ByReason {
    let window = opts.window();
    let mut fcr = ByReason::default();
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && r.outcome == Outcome::Answered)
    {
        let reason = r.disposition.as_deref().filter(|d| !d.is_empty());
        let (Some(caller), Some(reason)) = (&r.caller, reason) else {
            continue;
        };
        let repeated = history.called_again(caller, r.arrived_at, r.arrived_at + window);
        fcr.add(reason, !repeated);
    }
    fcr
}
