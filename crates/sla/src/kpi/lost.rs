//! Lost-call rate GAP02, and the dissuasion rate.
//!
//! REQUIREMENTS D: "(abandoned + rejected/dissuaded) / incoming; abandons
//! count in the IVR/voicebot and while waiting. Whether 'informed' calls
//! count as dissuaded is ambiguous: config switch", target <= 5% HO and
//! HNO (tolerance 10%, half penalty).

use cdr::CallRecord;
use serde::Deserialize;

use super::volume::Bucket;
use super::{Scope, Value};
use crate::facts;

/// What counts as lost (`[sla.lost]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LostOptions {
    /// Callers informed and released by a message (`informed`, `file0`)
    /// count as dissuaded, hence lost. Default false: they were served by
    /// the message.
    pub informed: bool,
    /// Short queue abandons count. Default false: they are left out of
    /// the numerator and the denominator alike.
    pub short_abandons: bool,
    /// Callers who hung up before the platform answered (`cancelled`)
    /// count as abandons. Default true.
    pub cancelled: bool,
    /// Calls the platform dropped (`failed`, `interrupted`) count as lost.
    /// Default true.
    pub failed: bool,
}

impl Default for LostOptions {
    fn default() -> Self {
        LostOptions {
            informed: false,
            short_abandons: false,
            cancelled: true,
            failed: true,
        }
    }
}

/// Whether an incoming call is lost under the options.
fn lost(r: &CallRecord, opts: &LostOptions) -> bool {
    match Bucket::of(r) {
        Bucket::AbandonedIvr | Bucket::AbandonedQueue | Bucket::Rejected => true,
        Bucket::Dissuaded(d) => opts.informed || !d.informed(),
        Bucket::Cancelled => opts.cancelled,
        Bucket::Failed | Bucket::Interrupted => opts.failed,
        Bucket::SelfService | Bucket::Answered | Bucket::Transferred | Bucket::Open => false,
    }
}

/// GAP02 = (abandoned in the IVR and in queue + telecom rejections +
/// dissuaded, with the switches above) / incoming (short abandons left out
/// of both unless `short_abandons`). Rejections here are telecom
/// dissuasion only: the other refusals are not incoming calls.
pub fn lost_call_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &LostOptions,
) -> Value {
    let (mut lost_calls, mut incoming) = (0u64, 0u64);
    for r in records.into_iter().filter(|r| scope.owns(r)) {
        if !facts::incoming(r) || (!opts.short_abandons && facts::short_abandon(r)) {
            continue;
        }
        incoming += 1;
        lost_calls += u64::from(lost(r, opts));
    }
    Value::ratio(lost_calls as f64, incoming as f64)
}

/// Dissuasion rate ("taux de dissuasion", reported per time slot) =
/// dissuaded calls, every reason / incoming calls.
pub fn dissuasion_rate<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
) -> Value {
    let (mut dissuaded, mut incoming) = (0u64, 0u64);
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && facts::incoming(r))
    {
        incoming += 1;
        dissuaded += u64::from(facts::dissuasion(r).is_some());
    }
    Value::ratio(dissuaded as f64, incoming as f64)
}
