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
        agent: String,
    },
    /// The agent answered and the ACD bridged the caller with them: the
    /// flow leaves its queue node and waits for the conversation's end.
    Connected {
        agent: String,
    },
    /// The queue's long-wait threshold passed (play the long-wait message).
    LongWait,
    Overflowed {
        to: String,
    },
    /// The call left the ACD without an agent; go to `destination` (a flow
    /// node) when given.
    Left {
        reason: String,
        destination: Option<String>,
    },
    /// The agent's side of a connected call is over (the ACD unbridged
    /// the caller): after-call treatment, or the end.
    AgentEnded {
        by_agent: bool,
    },
    /// The agent transferred the call to this queue (the ACD unbridged
    /// the caller): wait again, the caller stays in the ACD.
    Transferred {
        queue: String,
    },
    /// The agent transferred the call to a number (allowed by the queue's
    /// `transfer_prefixes`): the caller leaves the ACD and is connected
    /// there through `trunk`.
    TransferredOut {
        number: String,
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
        phone: String,
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
    Login,
    Logout,
    Pause {
        reason: String,
    },
    Unpause,
    /// End wrap-up now.
    Ready,
    /// Qualify the agent's last call.
    Disposition {
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
