//! Call events: what the call layer reports, step by step, for each call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Caller,
    System,
    Agent,
}

/// How a DTMF digit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigitSource {
    Rfc4733,
    SipInfo,
    InBand,
}

/// One step of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// An INVITE reached a trunk (accepted or not).
    Arrived {
        sip_call_id: String,
        trunk: Option<String>,
        did: Option<String>,
        flow: Option<String>,
        caller: Option<String>,
        caller_withheld: bool,
        source: String,
        transport: String,
    },
    /// Refused before answer with this SIP code.
    Rejected {
        sip_code: u16,
        reason: String,
    },
    /// 200 OK sent.
    Answered {
        codec: String,
    },
    /// The caller's ACK arrived (media flows from here).
    Confirmed,
    Digit {
        digit: char,
        source: DigitSource,
    },
    /// A prompt ended: how much of it the caller heard.
    PromptPlayed {
        name: String,
        duration_ms: u64,
        heard_ms: u64,
        /// `completed`, `barge_in`, `stopped` or `hangup`.
        end: String,
    },
    /// The IVR flow started, in this version of the flow set.
    FlowStarted {
        version: u64,
    },
    /// A flow node ran: its name, kind, what the caller entered there.
    Step {
        node: String,
        node_kind: String,
        input: Option<String>,
    },
    /// A file 0 override redirected the call.
    File0 {
        activation_id: String,
        requested_at: DateTime<Utc>,
        /// `continue` (message then the normal flow) or `hangup`.
        mode: String,
        prompt: String,
    },
    /// The call joined an ACD queue (again, after an overflow).
    Queued {
        queue: String,
        priority: i32,
    },
    /// Moved to another queue after waiting too long in the first.
    Overflowed {
        from: String,
        to: String,
    },
    /// An agent's phone was rung for this call.
    AgentOffered {
        agent: String,
    },
    /// That agent's phone did not take it (`no_answer`, `declined`,
    /// `unreachable`, `cancelled`).
    AgentMissed {
        agent: String,
        reason: String,
    },
    /// The agent answered; the caller and agent are bridged.
    AgentAnswered {
        agent: String,
    },
    /// The call left its queue without an agent (`max_wait`,
    /// `unknown_queue`, `no_agents`).
    QueueLeft {
        reason: String,
    },
    /// The caller-agent conversation is over.
    AgentEnded {
        by: Party,
    },
    /// The flow ended the call through a `hangup` node with this
    /// disposition (`closed`, `saturation`, `informed` mark a dissuasion).
    FlowEnded {
        disposition: String,
    },
    /// The agent qualified the call with a code from the queue's list.
    Disposition {
        agent: String,
        code: String,
    },
    /// A supervisor (`by`) listens to the conversation from `phone`.
    Monitored {
        by: String,
        phone: String,
    },
    /// The agent's phone put the caller on hold (`on`) or took it back.
    Hold {
        on: bool,
    },
    /// The agent transferred the call (blind, REFER) to this queue.
    Transferred {
        agent: String,
        to: String,
    },
    /// The flow's `transfer` node calls out to `to` (through `trunk`).
    TransferStarted {
        to: String,
        trunk: Option<String>,
    },
    /// The far end answered; the caller is bridged with it.
    TransferAnswered,
    /// The far end did not answer (`busy`, `no_answer`, `unreachable`).
    TransferFailed {
        reason: String,
        sip_code: Option<u16>,
    },
    /// The transferred conversation is over (`by`: caller, or agent for
    /// the far end).
    TransferEnded {
        by: Party,
    },
    /// The conversation is being recorded into this file (relative to
    /// `var/recordings/`).
    Recorded {
        file: String,
    },
    /// The agent's wrap-up after this call is over (timer, `ready`, pause
    /// or logout).
    WrapUpEnded {
        agent: String,
    },
    /// The call is over.
    Ended {
        by: Party,
        /// `bye`, `cancel`, `script_end`, `ack_timeout`, `rtp_timeout`,
        /// `shutdown`, `crash` (closed at the next start), `error`.
        reason: String,
    },
}

/// An event with its call and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// Our id for the call (one CDR each).
    pub record_id: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl CallEvent {
    pub fn now(record_id: &str, kind: EventKind) -> Self {
        CallEvent {
            record_id: record_id.to_string(),
            at: Utc::now(),
            kind,
        }
    }
}

/// A new record id: time-ordered and unique (`20261123T201500Z-1a2b3c4d5e6f`).
pub fn new_record_id() -> String {
    let t = Utc::now().format("%Y%m%dT%H%M%SZ");
    format!("{t}-{:012x}", rand::random::<u64>() & 0xFFFF_FFFF_FFFF)
}
