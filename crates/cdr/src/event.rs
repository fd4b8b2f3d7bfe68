//! Call events: what the call layer reports, step by step, for each call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The caller hung up (BYE, or CANCEL before answer).
    Caller,
    /// We ended it: the flow, a refusal, a timeout, an error or a shutdown.
    System,
    /// The agent hung up (for an outside transfer: the far end).
    Agent,
}

/// How a DTMF digit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigitSource {
    /// An RFC 4733 telephone-event in the RTP stream.
    Rfc4733,
    /// A SIP INFO request.
    SipInfo,
    /// A tone detected in the audio itself.
    InBand,
}

/// One step of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// An INVITE reached a trunk (accepted or not).
    Arrived {
        /// The SIP Call-ID of the caller's INVITE.
        sip_call_id: String,
        /// The trunk that admitted the call; `None` when none did (e.g. a 403).
        trunk: Option<String>,
        /// The called number (user part of the Request-URI, else of To).
        did: Option<String>,
        /// The IVR flow the DID leads to; `None` for refused calls.
        flow: Option<String>,
        /// The caller's number (P-Asserted-Identity, else From), if any.
        caller: Option<String>,
        /// The caller withheld the number: the record keeps none.
        caller_withheld: bool,
        /// The signalling source, `ip:port`.
        source: String,
        /// `UDP` or `TCP`.
        transport: String,
    },
    /// Refused before answer with this SIP code.
    Rejected {
        /// The refusal code sent (403, 404, 488, 503...).
        sip_code: u16,
        /// Why, in words (`unknown number`, `trunk at capacity`...).
        reason: String,
    },
    /// 200 OK sent.
    Answered {
        /// The negotiated codec: `PCMU` or `PCMA`.
        codec: String,
    },
    /// The caller's ACK arrived (media flows from here).
    Confirmed,
    /// A DTMF digit arrived from the caller.
    Digit {
        /// The digit as received (`0`-`9`, `*`, `#`...).
        digit: char,
        /// How it arrived.
        source: DigitSource,
    },
    /// A prompt ended: how much of it the caller heard.
    PromptPlayed {
        /// The prompt's name.
        name: String,
        /// The prompt's full length, in ms.
        duration_ms: u64,
        /// How much of it was actually sent to the caller, in ms.
        heard_ms: u64,
        /// `completed`, `barge_in`, `stopped` or `hangup`.
        end: String,
    },
    /// The IVR flow started, in this version of the flow set.
    FlowStarted {
        /// The flow set version (1 at start, +1 per reload).
        version: u64,
    },
    /// A flow node ran: its name, kind, what the caller entered there.
    Step {
        /// The node's name in the flow.
        node: String,
        /// The node's kind (`menu`, `collect`, `hangup`...).
        node_kind: String,
        /// What the caller entered there (menu choice, collected digits), if anything.
        input: Option<String>,
    },
    /// A file 0 override redirected the call.
    File0 {
        /// The id of the override's activation.
        activation_id: String,
        /// When the override was requested.
        requested_at: DateTime<Utc>,
        /// `continue` (message then the normal flow) or `hangup`.
        mode: String,
        /// The prompt played to the caller.
        prompt: String,
    },
    /// The call joined an ACD queue (again, after an overflow).
    Queued {
        /// The queue's name.
        queue: String,
        /// The absolute priority the call was queued with.
        priority: i32,
    },
    /// Moved to another queue after waiting too long in the first.
    Overflowed {
        /// The queue the call left.
        from: String,
        /// The queue it now waits in.
        to: String,
    },
    /// An agent's phone was rung for this call.
    AgentOffered {
        /// The agent whose phone rings.
        agent: String,
    },
    /// That agent's phone did not take it (`no_answer`, `declined`,
    /// `unreachable`, `cancelled`).
    AgentMissed {
        /// The agent whose phone was rung.
        agent: String,
        /// `no_answer`, `declined`, `unreachable` or `cancelled`.
        reason: String,
    },
    /// The agent answered; the caller and agent are bridged.
    AgentAnswered {
        /// The agent who answered.
        agent: String,
    },
    /// The call left its queue without an agent (`max_wait`,
    /// `unknown_queue`, `no_agents`).
    QueueLeft {
        /// `max_wait`, `unknown_queue` or `no_agents`.
        reason: String,
    },
    /// The caller-agent conversation is over.
    AgentEnded {
        /// Who ended the conversation.
        by: Party,
    },
    /// The flow ended the call through a `hangup` node with this
    /// disposition (`closed`, `saturation`, `informed` mark a dissuasion).
    FlowEnded {
        /// The `hangup` node's disposition (`flow_end` when it has none).
        disposition: String,
    },
    /// The agent qualified the call with a code from the queue's list.
    Disposition {
        /// The agent who qualified the call.
        agent: String,
        /// The qualification code.
        code: String,
    },
    /// A supervisor (`by`) listens to the conversation from `phone`.
    Monitored {
        /// The supervisor listening.
        by: String,
        /// The phone rung for the supervisor to listen on.
        phone: String,
    },
    /// The agent's phone put the caller on hold (`on`) or took it back.
    Hold {
        /// True when the hold starts, false when the caller is taken back.
        on: bool,
    },
    /// The agent transferred the call (blind, REFER) to this queue.
    Transferred {
        /// The agent who transferred the call.
        agent: String,
        /// The queue the call goes to.
        to: String,
    },
    /// The flow's `transfer` node calls out to `to` (through `trunk`).
    TransferStarted {
        /// The number or SIP URI called.
        to: String,
        /// The trunk a number goes out through; `None` for a SIP URI.
        trunk: Option<String>,
    },
    /// The far end answered; the caller is bridged with it.
    TransferAnswered,
    /// The far end did not answer (`busy`, `no_answer`, `unreachable`).
    TransferFailed {
        /// `busy`, `no_answer`, `unreachable`, or `unavailable` when the call
        /// out could not be placed at all.
        reason: String,
        /// The far end's final SIP code, when one came back.
        sip_code: Option<u16>,
    },
    /// The transferred conversation is over (`by`: caller, or agent for
    /// the far end).
    TransferEnded {
        /// Who ended it.
        by: Party,
    },
    /// The conversation is being recorded into this file (relative to
    /// `var/recordings/`).
    Recorded {
        /// The recording's path, relative to `var/recordings/`.
        file: String,
    },
    /// The agent's wrap-up after this call is over (timer, `ready`, pause
    /// or logout).
    WrapUpEnded {
        /// The agent whose wrap-up ended.
        agent: String,
    },
    /// The call is over.
    Ended {
        /// Who ended the call.
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
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened (flattened into the event's JSON, tagged by `kind`).
    #[serde(flatten)]
    pub kind: EventKind,
}

impl CallEvent {
    /// An event of call `record_id`, stamped with the current time.
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
