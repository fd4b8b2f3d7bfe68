//! Call counts: received, incoming, queued, answered, abandoned, dissuaded
//! by reason, rejected, and the outcome buckets every call falls in exactly
//! once; overflows into and out of a queue.

use std::collections::BTreeMap;

use cdr::{CallRecord, Outcome};

use super::Scope;
use crate::facts::{self, Dissuasion};

/// Where a call ended: each call of a scope is in exactly one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// Refused by the platform before answer.
    Rejected,
    /// The caller gave up before the platform answered.
    Cancelled,
    /// Hung up in the IVR.
    AbandonedIvr,
    /// The flow ran to its end.
    SelfService,
    /// An agent answered.
    Answered,
    /// Hung up while waiting in queue.
    AbandonedQueue,
    /// Sent away by a message, of this kind.
    Dissuaded(Dissuasion),
    /// Ended by an error.
    Failed,
    /// Cut by a stop or crash of softswitch.
    Interrupted,
    /// The flow's `transfer` node connected the caller to an outside
    /// number that answered.
    Transferred,
    /// Never written to a CDR file (a call still up); kept so that every
    /// record has a bucket.
    Open,
}

impl Bucket {
    /// The bucket of a record, from its `outcome` (and `dissuasion`).
    pub fn of(r: &CallRecord) -> Bucket {
        match r.outcome {
            Outcome::Rejected => Bucket::Rejected,
            Outcome::Cancelled => Bucket::Cancelled,
            Outcome::AbandonedIvr => Bucket::AbandonedIvr,
            Outcome::SelfService => Bucket::SelfService,
            Outcome::Answered => Bucket::Answered,
            Outcome::AbandonedQueue => Bucket::AbandonedQueue,
            Outcome::Dissuaded => {
                Bucket::Dissuaded(facts::dissuasion(r).unwrap_or(Dissuasion::Other))
            }
            Outcome::Failed => Bucket::Failed,
            Outcome::Interrupted => Bucket::Interrupted,
            Outcome::Transferred => Bucket::Transferred,
            Outcome::Open => Bucket::Open,
        }
    }
}

/// The counts of a scope, from one pass over its calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volume {
    /// Received ("reçus"): every call record of the scope.
    pub received: u64,
    /// Incoming ("entrants"): received − refusals that are not telecom
    /// dissuasion (unknown number, source not allowed, bad credentials, SDP).
    pub incoming: u64,
    /// Calls that joined a queue ("mis en file").
    pub queued: u64,
    /// Calls the platform answered (`answered_at` set: 200 OK sent).
    pub platform_answered: u64,
    /// Telecom dissuasion ("dissuasion télécom"): `rejected` with SIP 503,
    /// 486 or 480 or a reason mentioning capacity.
    pub rejected_telecom: u64,
    /// Queue abandons under `[cdr] short_abandon_s` (within `abandoned_queue`).
    pub short_abandons: u64,
    /// Calls per outcome bucket; they add up to `received`.
    pub buckets: BTreeMap<Bucket, u64>,
}

impl Volume {
    /// Count the calls the scope owns.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> Volume {
        let mut v = Volume::default();
        for r in records.into_iter().filter(|r| scope.owns(r)) {
            v.received += 1;
            v.incoming += u64::from(facts::incoming(r));
            v.queued += u64::from(facts::queued(r));
            v.platform_answered += u64::from(r.answered_at.is_some());
            v.rejected_telecom += u64::from(facts::telecom_dissuasion(r));
            v.short_abandons += u64::from(facts::short_abandon(r));
            *v.buckets.entry(Bucket::of(r)).or_default() += 1;
        }
        v
    }

    /// Calls in one bucket.
    pub fn bucket(&self, b: Bucket) -> u64 {
        self.buckets.get(&b).copied().unwrap_or(0)
    }

    /// Answered ("décrochés"): an agent answered.
    pub fn answered(&self) -> u64 {
        self.bucket(Bucket::Answered)
    }

    /// Abandoned ("abandons"): hung up in the IVR (`abandoned_ivr`) or while
    /// waiting (`abandoned_queue`, short abandons included; they are also
    /// counted apart in `short_abandons`).
    pub fn abandoned(&self) -> u64 {
        self.bucket(Bucket::AbandonedIvr) + self.bucket(Bucket::AbandonedQueue)
    }

    /// Dissuaded ("dissuadés"), every reason.
    pub fn dissuaded(&self) -> u64 {
        Dissuasion::ALL
            .iter()
            .map(|d| self.bucket(Bucket::Dissuaded(*d)))
            .sum()
    }

    /// Dissuaded for one reason.
    pub fn dissuaded_by(&self, d: Dissuasion) -> u64 {
        self.bucket(Bucket::Dissuaded(d))
    }
}

/// Overflow in ("débordements entrants"): counted calls that came into the
/// scope's queue by overflow from another. 0 for the platform, where every
/// overflow out of one queue is an overflow into another and they cancel out.
pub fn overflow_in<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> u64 {
    let Some(q) = scope.queue else { return 0 };
    records
        .into_iter()
        .filter(|r| scope.counts(r) && facts::overflowed_into(r, q))
        .count() as u64
}

/// Overflow out ("débordements sortants"): counted calls that overflowed
/// out of the scope's queue and ended elsewhere. 0 for the platform.
pub fn overflow_out<'a>(records: impl IntoIterator<Item = &'a CallRecord>, scope: &Scope) -> u64 {
    let Some(q) = scope.queue else { return 0 };
    records
        .into_iter()
        .filter(|r| scope.counts(r) && facts::overflowed_out_of(r, q))
        .count() as u64
}
