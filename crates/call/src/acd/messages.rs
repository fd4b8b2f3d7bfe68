//! What goes in and out of the ACD's edge: a flow's queue request, the
//! notices the caller's side hears, supervisors' agent actions and their
//! errors, and the edge's own input messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use ::acd::{AcdConfig, CallId, OfferId, Position, Snapshot};
use tokio::sync::{mpsc, oneshot};

use super::MonitorTarget;
use crate::handle::{CallInfo, CallPort};
use crate::leg::outbound::LegEvent;
use crate::registrar::RegEvent;

/// What a flow asks of the ACD.
#[derive(Debug, Clone, Default)]
pub struct QueueRequest {
    /// Name of the queue to wait in.
    pub queue: String,
    /// Absolute priority: a higher one always goes first.
    pub priority: i32,
    /// Relative priority: counts as this many extra seconds of wait.
    pub boost_s: u32,
    /// Skills required on top of the queue's.
    pub skills: BTreeMap<String, u8>,
}

/// What the caller's side hears from the ACD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An agent is being rung.
    Offered {
        /// Id of the agent being rung.
        agent: String,
    },
    /// The agent answered and the ACD bridged the caller with them: the
    /// flow leaves its queue node and waits for the conversation's end.
    Connected {
        /// Id of the agent now talking to the caller.
        agent: String,
    },
    /// The queue's long-wait threshold passed (play the long-wait message).
    LongWait,
    /// The call overflowed to another queue, keeping its place by enqueue
    /// time.
    Overflowed {
        /// Name of the queue the call now waits in.
        to: String,
    },
    /// The call left the ACD without an agent; go to `destination` (a flow
    /// node) when given.
    Left {
        /// Why it left: `max_wait` or `unknown_queue`.
        reason: String,
        /// Flow node to go to next (the queue's `max_wait.destination`);
        /// `None` when none is set.
        destination: Option<String>,
    },
    /// The agent's side of a connected call is over (the ACD unbridged
    /// the caller): after-call treatment, or the end.
    AgentEnded {
        /// True when the agent's phone hung up; false when the leg ended
        /// otherwise (our side, a timeout).
        by_agent: bool,
    },
    /// The agent transferred the call to this queue (the ACD unbridged
    /// the caller): wait again, the caller stays in the ACD.
    Transferred {
        /// Name of the queue the call now waits in.
        queue: String,
    },
    /// The agent transferred the call to a number (allowed by the queue's
    /// `transfer_prefixes`): the caller leaves the ACD and is connected
    /// there through `trunk`.
    TransferredOut {
        /// The number the call goes to.
        number: String,
        /// Name of the trunk it goes out through (the queue's
        /// `transfer_trunk`).
        trunk: String,
    },
}

/// Why a supervisor's action on an agent was not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentActionError {
    /// No agent of that name in the ACD.
    #[error("no agent {0:?}")]
    UnknownAgent(String),
    /// A qualification, but the agent has had no call.
    #[error("agent {0:?} has no call to qualify")]
    NoCallToQualify(String),
    /// The router refused it in the agent's state (its words).
    #[error("{0}")]
    Refused(String),
    /// The ACD is not running (shutting down).
    #[error("the ACD is stopped")]
    Stopped,
}

/// Why a supervisor cannot listen to a conversation.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// No conversation with an agent on that call (waiting, or over).
    #[error("call {0:?} is not talking to an agent")]
    CallNotTalking(String),
    /// The agent is not in a conversation.
    #[error("agent {0:?} is not on a call")]
    AgentNotTalking(String),
    /// The supervisor's phone is not registered: nothing to ring.
    #[error("phone {0:?} is not registered")]
    PhoneNotRegistered(String),
    /// The supervisor's leg could not be placed (no RTP port, socket).
    #[error("cannot call {phone:?}: {source}")]
    Dial {
        /// The supervisor's phone (its registrar name).
        phone: String,
        /// Why the leg could not be opened.
        source: std::io::Error,
    },
    /// The ACD is not running (shutting down).
    #[error("the ACD is stopped")]
    Stopped,
}

/// Why new queues and agents were not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigureError {
    /// The new configuration is invalid; nothing changed.
    #[error(transparent)]
    Config(#[from] ::acd::ConfigError),
    /// The ACD is not running (shutting down).
    #[error("the ACD is stopped")]
    Stopped,
}

/// A supervisor's action on an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// Log the agent in: calls may be offered to it.
    Login,
    /// Log the agent out; while busy, once the call and wrap-up are over.
    Logout,
    /// Pause the agent; while busy, once the call and wrap-up are over.
    Pause {
        /// Why the agent pauses, kept exactly as given.
        reason: String,
    },
    /// End the agent's pause (or withdraw a pending one).
    Unpause,
    /// End wrap-up now.
    Ready,
    /// Qualify the agent's last call.
    Disposition {
        /// The disposition code; it must be in the queue's list.
        code: String,
    },
}

pub(super) enum EdgeIn {
    Enqueue {
        call: CallId,
        info: Arc<CallInfo>,
        port: CallPort,
        req: QueueRequest,
        notices: mpsc::UnboundedSender<Notice>,
    },
    /// The caller's side is done with the ACD (hung up, or left after the
    /// agent's end): abandon if waiting, hang the agent leg up if talking.
    Gone {
        call: CallId,
        caller_hung_up: bool,
    },
    Leg {
        offer: OfferId,
        ev: LegEvent,
    },
    Registration(RegEvent),
    Agent {
        agent: String,
        action: AgentAction,
        reply: oneshot::Sender<Result<(), AgentActionError>>,
    },
    Snapshot(oneshot::Sender<Snapshot>),
    /// Where a call stands in its queue (position announcements).
    Position {
        call: CallId,
        reply: oneshot::Sender<Option<Position>>,
    },
    Reconfigure(AcdConfig, oneshot::Sender<Result<(), ::acd::ConfigError>>),
    /// A supervisor asks to listen to a call (`phone`: a registered account).
    Monitor {
        target: MonitorTarget,
        phone: String,
        by: String,
        reply: oneshot::Sender<Result<(), MonitorError>>,
    },
    MonitorLeg {
        id: u64,
        ev: LegEvent,
    },
}
