//! What a record says, read one way for every KPI: telecom dissuasion,
//! incoming calls, dissuasion reasons, queue hops and waits.

use cdr::{CallRecord, Outcome};

/// SIP codes of a refusal for lack of capacity ("dissuasion télécom").
const TELECOM_CODES: [u16; 3] = [503, 486, 480];

/// A refused call the network would count as dissuaded by telecom:
/// `rejected` with SIP 503, 486 or 480, or a reason mentioning capacity.
pub fn telecom_dissuasion(r: &CallRecord) -> bool {
    r.outcome == Outcome::Rejected
        && (r.sip_code.is_some_and(|c| TELECOM_CODES.contains(&c))
            || r.reject_reason
                .as_deref()
                .is_some_and(|w| w.contains("capacity")))
}

/// A call addressed to the service: every record except refusals that are
/// not telecom dissuasion (unknown number, source not allowed, bad
/// credentials, unacceptable SDP), which no caller of the service made.
pub fn incoming(r: &CallRecord) -> bool {
    r.outcome != Outcome::Rejected || telecom_dissuasion(r)
}

/// Why the flow sent a `dissuaded` caller away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dissuasion {
    /// Closed hours (`closure`).
    Closure,
    /// Saturation message (`saturation`).
    Saturation,
    /// Information message then release (`informed`).
    Informed,
    /// A file 0 override in `hangup` mode (`file0`): the caller was informed.
    File0,
    /// A reason this version does not know.
    Other,
}

impl Dissuasion {
    /// Every kind, in report order.
    pub const ALL: [Dissuasion; 5] = [
        Dissuasion::Closure,
        Dissuasion::Saturation,
        Dissuasion::Informed,
        Dissuasion::File0,
        Dissuasion::Other,
    ];

    /// The kind's name in records and reports.
    pub fn name(self) -> &'static str {
        match self {
            Dissuasion::Closure => "closure",
            Dissuasion::Saturation => "saturation",
            Dissuasion::Informed => "informed",
            Dissuasion::File0 => "file0",
            Dissuasion::Other => "other",
        }
    }

    /// Callers "informed and released by a message" ("informés"): the
    /// information message and file 0.
    pub fn informed(self) -> bool {
        matches!(self, Dissuasion::Informed | Dissuasion::File0)
    }
}

/// The dissuasion of a `dissuaded` call; `None` for any other outcome.
pub fn dissuasion(r: &CallRecord) -> Option<Dissuasion> {
    if r.outcome != Outcome::Dissuaded {
        return None;
    }
    Some(match r.dissuasion.as_deref() {
        Some("closure") => Dissuasion::Closure,
        Some("saturation") => Dissuasion::Saturation,
        Some("informed") => Dissuasion::Informed,
        Some("file0") => Dissuasion::File0,
        _ => Dissuasion::Other,
    })
}

/// The call joined a queue.
pub fn queued(r: &CallRecord) -> bool {
    r.queued_at.is_some()
}

/// How long a queued call waited, in ms: `wait_ms`, else (a call cut by a
/// crash while waiting) from `queued_at` to the agent's answer or the end.
pub fn wait_ms(r: &CallRecord) -> Option<u64> {
    let queued_at = r.queued_at?;
    r.wait_ms.or_else(|| {
        let end = r.agent_answered_at.or(r.ended_at)?;
        Some((end - queued_at).num_milliseconds().max(0) as u64)
    })
}

/// A queue abandon under `[cdr] short_abandon_s`.
pub fn short_abandon(r: &CallRecord) -> bool {
    r.outcome == Outcome::AbandonedQueue && r.short_abandon
}

/// The queues a call waited in, in order: those it overflowed out of, then
/// the one it ended in.
pub fn hops(r: &CallRecord) -> impl Iterator<Item = &str> {
    r.overflowed_from
        .iter()
        .map(String::as_str)
        .chain(r.queue.as_deref())
}

/// The call came into `queue` by overflow (it waited somewhere before).
pub fn overflowed_into(r: &CallRecord, queue: &str) -> bool {
    hops(r).skip(1).any(|q| q == queue)
}

/// The call overflowed out of `queue` and did not end in it.
pub fn overflowed_out_of(r: &CallRecord, queue: &str) -> bool {
    r.queue.as_deref() != Some(queue) && r.overflowed_from.iter().any(|q| q == queue)
}

/// The first queue the call joined.
pub fn first_queue(r: &CallRecord) -> Option<&str> {
    hops(r).next()
}
