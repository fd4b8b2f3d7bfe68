//! What goes into the router (`Input`) and what comes out (`Output`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::AgentStateKind;

/// A call, numbered by whoever feeds the router (unique while in the router).
pub type CallId = u64;

/// One ringing of one agent for one call, numbered by the router.
pub type OfferId = u64;

/// Something that happened at the edge, or `Timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A caller asks for a queue.
    Enqueue {
        /// The call.
        call: CallId,
        /// Queue name. Unknown: `Output::Left { reason: UnknownQueue }`.
        queue: String,
        /// Absolute priority: a higher value is always served first.
        priority: i32,
        /// Relative priority: counts as this many extra seconds of wait.
        boost_s: u32,
        /// Extra requirements on top of the queue's (higher level wins).
        skills: BTreeMap<String, u8>,
    },
    /// The caller hung up. Cancels offers; on a connected call, same as
    /// `CallEnded`. An unknown call is ignored.
    Abandon {
        /// The call.
        call: CallId,
    },
    /// The agent picked up. An offer the router already cancelled gives
    /// `Error(UnknownOffer)`: the edge hangs the agent leg up.
    OfferAnswered {
        /// The offer.
        offer: OfferId,
    },
    /// The agent's leg failed before answering.
    OfferFailed {
        /// The offer.
        offer: OfferId,
        /// Why.
        reason: OfferFailure,
    },
    /// A connected call is over: the agent goes to wrap-up.
    CallEnded {
        /// The call.
        call: CallId,
    },
    /// The agent's phone registered.
    Registered {
        /// Agent id.
        agent: String,
    },
    /// The agent's phone unregistered: never offered until registered again;
    /// an offer ringing it is cancelled and its call requeued.
    Unregistered {
        /// Agent id.
        agent: String,
    },
    /// The agent logs in (counts of calls restart).
    Login {
        /// Agent id.
        agent: String,
    },
    /// The agent logs out; while busy, once the call and wrap-up are over.
    Logout {
        /// Agent id.
        agent: String,
    },
    /// The agent pauses; while busy, once the call and wrap-up are over.
    Pause {
        /// Agent id.
        agent: String,
        /// Kept exactly as given.
        reason: String,
    },
    /// The agent ends a pause (or withdraws a pending one).
    Unpause {
        /// Agent id.
        agent: String,
    },
    /// The agent ends wrap-up early.
    Ready {
        /// Agent id.
        agent: String,
    },
    /// The agent qualifies a call it handled (checked against the queue's list).
    Disposition {
        /// Agent id.
        agent: String,
        /// A call this agent answered (one of its recent ones).
        call: CallId,
        /// The code.
        code: String,
    },
    /// Nothing happened but time passed (see `Router::poll_timeout`).
    Timeout,
}

/// Why an offer failed, as the edge saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferFailure {
    /// Rang out at the edge: treated like the router's own ring timeout (RONA).
    NoAnswer,
    /// The agent rejected it: the agent stays available but is skipped for
    /// the queue's `reject_delay_s`.
    Declined,
    /// The phone could not be reached: the agent is paused ("unreachable").
    Unreachable,
}

/// Why a call went back to its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequeueReason {
    /// Ring timeout or `OfferFailure::NoAnswer`.
    NoAnswer,
    /// `OfferFailure::Declined`.
    Declined,
    /// `OfferFailure::Unreachable`.
    Unreachable,
    /// The agent's phone unregistered while ringing.
    Unregistered,
}

/// Why a call left the router without an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaveReason {
    /// `max_wait` reached: send the caller to `destination`.
    MaxWait,
    /// `Enqueue` named no (active) queue: route the caller to a fallback.
    UnknownQueue,
}

/// A decision for the edge, or an event for CDRs, metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Ring this agent for this call.
    Offer {
        /// New offer id.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// Agent id.
        agent: String,
        /// Queue name.
        queue: String,
        /// The router fails the offer itself (RONA) after this.
        ring_timeout: Duration,
    },
    /// Stop ringing: ring timeout, caller gone, another agent answered
    /// (`ring_all`), or the phone unregistered.
    CancelOffer {
        /// The offer.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// Agent id.
        agent: String,
    },
    /// Bridge the call to the agent who answered.
    Connected {
        /// The call.
        call: CallId,
        /// Agent id.
        agent: String,
        /// The answered offer.
        offer: OfferId,
        /// Queue name.
        queue: String,
        /// Since `Enqueue` (overflow included).
        waited: Duration,
    },
    /// The call has waited `long_wait_s` (once per call).
    LongWait {
        /// The call.
        call: CallId,
        /// Queue name.
        queue: String,
    },
    /// The call moved to another queue, keeping its place by enqueue time.
    Overflowed {
        /// The call.
        call: CallId,
        /// Old queue.
        from: String,
        /// New queue.
        to: String,
    },
    /// The call's requirement widened.
    Widened {
        /// The call.
        call: CallId,
        /// Queue name.
        queue: String,
    },
    /// The call is out of the router without an agent.
    Left {
        /// The call.
        call: CallId,
        /// Queue name (as asked, for `UnknownQueue`).
        queue: String,
        /// Why.
        reason: LeaveReason,
        /// Where to send the caller (`max_wait.destination`).
        destination: Option<String>,
    },
    /// An offer failed and the call is back at its place in the queue.
    Requeued {
        /// The call.
        call: CallId,
        /// Queue name.
        queue: String,
        /// Why.
        reason: RequeueReason,
    },
    /// An agent changed state or registration.
    AgentState {
        /// Agent id.
        agent: String,
        /// New state.
        state: AgentStateKind,
        /// Pause reason.
        reason: Option<String>,
        /// Phone registered.
        registered: bool,
    },
    /// A disposition was accepted.
    Disposition {
        /// Agent id.
        agent: String,
        /// The call.
        call: CallId,
        /// Queue the call was answered from.
        queue: String,
        /// The code.
        code: String,
    },
    /// An input could not be applied; nothing changed because of it.
    Error {
        /// What was wrong.
        error: InputError,
    },
}

/// An input the router could not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// No such agent.
    #[error("unknown agent {0:?}")]
    UnknownAgent(String),
    /// No such call.
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// No such offer (never made, or already answered, failed or cancelled).
    #[error("unknown or finished offer {0}")]
    UnknownOffer(OfferId),
    /// `Enqueue` for a call already in the router.
    #[error("call {0} is already in the router")]
    DuplicateCall(CallId),
    /// The request needs the agent logged in.
    #[error("agent {0:?} is not logged in")]
    NotLoggedIn(String),
    /// `Disposition` for a call this agent did not answer recently.
    #[error("agent {agent:?} did not answer call {call} recently")]
    NotAgentsCall {
        /// Agent id.
        agent: String,
        /// The call.
        call: CallId,
    },
    /// `Disposition` code not in the queue's list.
    #[error("disposition {code:?} is not allowed in queue {queue:?} (allowed: {allowed:?})")]
    InvalidDisposition {
        /// Queue name.
        queue: String,
        /// The code given.
        code: String,
        /// The queue's list.
        allowed: Vec<String>,
    },
    /// A per-call skill level outside 1..=10 (the call was queued with it clamped).
    #[error("call {call}: skill {skill:?} level {level} is outside 1..=10, clamped")]
    SkillLevelClamped {
        /// The call.
        call: CallId,
        /// The skill.
        skill: String,
        /// The level given.
        level: u8,
    },
}
