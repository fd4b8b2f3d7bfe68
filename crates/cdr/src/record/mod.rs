//! The call record: one per call, folded from its events (`fold.rs`),
//! its outcome decided when the call ends (`outcome.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{CallEvent, DigitSource, EventKind, Party};

mod fold;
mod outcome;
#[cfg(test)]
mod tests;

/// Caller number class, for origin reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerClass {
    /// A French mobile number (06, 07).
    Mobile,
    /// A French landline number (01-05, 09).
    Landline,
    /// A foreign number (`+` or `00`, country other than 33).
    International,
    /// No number, or the caller withheld it.
    Withheld,
    /// Any other number (short numbers, other prefixes, wrong length).
    Other,
}

/// Classify a French-plan caller number: 06/07 mobile, 01-05/09 landline,
/// `+` or `00` with a country other than 33 international.
pub fn classify_caller(number: Option<&str>, withheld: bool) -> CallerClass {
    let Some(n) = number.filter(|n| !withheld && !n.is_empty()) else {
        return CallerClass::Withheld;
    };
    let digits: String = n
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let national = if let Some(rest) = digits
        .strip_prefix("+33")
        .or_else(|| digits.strip_prefix("0033"))
    {
        format!("0{rest}")
    } else if digits.starts_with('+') || digits.starts_with("00") {
        return CallerClass::International;
    } else {
        digits
    };
    if national.len() != 10 {
        return CallerClass::Other;
    }
    match &national[..2] {
        "06" | "07" => CallerClass::Mobile,
        "01" | "02" | "03" | "04" | "05" | "09" => CallerClass::Landline,
        _ => CallerClass::Other,
    }
}

/// Final state of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still open (never written as such; `interrupted` after a crash).
    Open,
    /// Refused before answer (`sip_code` says why).
    Rejected,
    /// The caller gave up before we answered.
    Cancelled,
    /// The caller hung up during the automated part.
    AbandonedIvr,
    /// The automated flow ran to its end and we hung up.
    SelfService,
    /// Ended by an error (no ACK, media failure...).
    Failed,
    /// The process stopped while the call was up.
    Interrupted,
    /// An agent answered the call.
    Answered,
    /// The caller hung up while waiting in a queue.
    AbandonedQueue,
    /// The flow sent the caller away with a message (`dissuasion` says
    /// why: `closure`, `saturation`, `informed` or `file0`).
    Dissuaded,
    /// The flow's `transfer` node connected the caller to a number or URI
    /// that answered (see `transfer_out`).
    Transferred,
}

impl Outcome {
    /// The name records and metrics use (`answered`, `abandoned_queue`...).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Rejected => "rejected",
            Outcome::Cancelled => "cancelled",
            Outcome::AbandonedIvr => "abandoned_ivr",
            Outcome::SelfService => "self_service",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::Answered => "answered",
            Outcome::AbandonedQueue => "abandoned_queue",
            Outcome::Dissuaded => "dissuaded",
            Outcome::Transferred => "transferred",
        }
    }
}

/// Settings that complete a record before it is written (`[cdr]`).
#[derive(Debug, Clone, Default)]
pub struct FoldOptions {
    /// Caller numbers flagged `test_number` (left out of statistics).
    pub test_numbers: std::collections::HashSet<String>,
    /// A queue abandon shorter than this is flagged `short_abandon`.
    pub short_abandon_ms: u64,
}

/// The dissuasion a flow's hangup disposition stands for, if any.
pub fn dissuasion_of(disposition: &str) -> Option<&'static str> {
    match disposition {
        "closed" | "closure" => Some("closure"),
        "saturation" | "saturated" => Some("saturation"),
        "informed" => Some("informed"),
        _ => None,
    }
}

/// An agent's phone rung for the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferRecord {
    /// The agent whose phone was rung.
    pub agent: String,
    /// When it started ringing.
    pub at: DateTime<Utc>,
    /// `answered`, `no_answer`, `declined`, `unreachable`, `cancelled`;
    /// `None` while it rings.
    pub result: Option<String>,
}

/// One caller-agent conversation (a transferred call has several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// The agent in the conversation.
    pub agent: String,
    /// The queue the call was answered from.
    pub queue: Option<String>,
    /// When the agent answered.
    pub answered_at: DateTime<Utc>,
    /// When the conversation ended; `None` while it goes on.
    pub ended_at: Option<DateTime<Utc>>,
    /// End of this agent's wrap-up after it.
    pub wrapup_ended_at: Option<DateTime<Utc>>,
}

impl ConversationRecord {
    fn talk_ms(&self) -> u64 {
        self.ended_at.map_or(0, |e| {
            (e - self.answered_at).num_milliseconds().max(0) as u64
        })
    }

    fn wrapup_ms(&self) -> u64 {
        match (self.ended_at, self.wrapup_ended_at) {
            (Some(e), Some(w)) => (w - e).num_milliseconds().max(0) as u64,
            _ => 0,
        }
    }
}

/// A blind transfer by an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// The agent who transferred the call.
    pub agent: String,
    /// The queue the call went to.
    pub to: String,
    /// When the agent transferred it.
    pub at: DateTime<Utc>,
}

/// One DTMF digit received from the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitRecord {
    /// The digit as received (`0`-`9`, `*`, `#`...).
    pub digit: char,
    /// How it arrived.
    pub source: DigitSource,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// One flow node the call went through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The node's name in the flow.
    pub node: String,
    /// The node's kind (`menu`, `collect`, `hangup`...).
    pub kind: String,
    /// Digits the caller entered in this node (menu choice, collected value).
    pub input: Option<String>,
    /// When the node finished.
    pub at: DateTime<Utc>,
}

/// The file 0 override that redirected a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File0Record {
    /// The id of the override's activation.
    pub activation_id: String,
    /// When the override was requested.
    pub requested_at: DateTime<Utc>,
    /// When this call was redirected.
    pub redirected_at: DateTime<Utc>,
    /// redirected_at - requested_at: the GVS01 activation delay for the
    /// first call of an activation.
    pub delay_ms: i64,
    /// `continue` (message then the normal flow) or `hangup`.
    pub mode: String,
    /// The prompt played to the caller.
    pub prompt: String,
}

/// One prompt played to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptRecord {
    /// The prompt's name.
    pub name: String,
    /// The prompt's full length, in ms.
    pub duration_ms: u64,
    /// The part actually sent to the caller, in ms.
    pub heard_ms: u64,
    /// `completed`, `barge_in` (a digit cut it), `stopped` or `hangup` (the
    /// call ended while it played).
    pub end: String,
    /// When it ended.
    pub at: DateTime<Utc>,
}

/// One call, as exported. Field meanings: crates/cdr/README.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Our id for the call, unique and time-ordered; de-duplicate on it.
    pub record_id: String,
    /// The SIP Call-ID of the caller's INVITE.
    pub sip_call_id: String,
    /// The trunk that admitted the call; `None` when none did (e.g. a 403).
    pub trunk: Option<String>,
    /// The called number (user part of the Request-URI, else of To).
    pub did: Option<String>,
    /// The IVR flow the DID leads to; `None` for refused calls.
    pub flow: Option<String>,
    /// The caller's number; `None` when withheld or absent.
    pub caller: Option<String>,
    /// The class of the caller's number, for origin reports.
    pub caller_class: CallerClass,
    /// The signalling source, `ip:port`.
    pub source: String,
    /// `UDP` or `TCP`.
    pub transport: String,
    /// When the INVITE arrived.
    pub arrived_at: DateTime<Utc>,
    /// When we sent 200 OK; `None` if we never answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the caller's ACK to our 200 OK arrived.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When the call ended or was refused; `None` while it is open.
    pub ended_at: Option<DateTime<Utc>>,
    /// How the call ended (`Open` until then).
    pub outcome: Outcome,
    /// Final SIP code: 200 when answered, 487 when cancelled, otherwise
    /// the refusal code.
    pub sip_code: Option<u16>,
    /// Why the call was refused, in words; `None` unless rejected.
    pub reject_reason: Option<String>,
    /// Who ended the call (`Agent` when the agent hung up and we ended the
    /// caller's leg).
    pub ended_by: Option<Party>,
    /// Why the call ended: `bye`, `cancel`, `script_end`, `ack_timeout`,
    /// `rtp_timeout`, `shutdown`, `crash`, `error`...
    pub end_reason: Option<String>,
    /// `PCMU` or `PCMA`; `None` if never answered.
    pub codec: Option<String>,
    /// Answer to end, in ms (0 when never answered).
    pub duration_ms: u64,
    /// Every DTMF digit received, in order.
    pub digits: Vec<DigitRecord>,
    /// Every prompt played, in order.
    pub prompts: Vec<PromptRecord>,
    /// Set when a file 0 override redirected the call ("informé").
    #[serde(default)]
    pub file0: Option<File0Record>,
    /// Version of the flow set the call ran.
    #[serde(default)]
    pub flow_version: Option<u64>,
    /// Flow nodes in the order the call went through them.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// The last queue the call waited in.
    #[serde(default)]
    pub queue: Option<String>,
    /// The absolute priority the call was last queued with.
    #[serde(default)]
    pub priority: Option<i32>,
    /// When the call first joined a queue.
    #[serde(default)]
    pub queued_at: Option<DateTime<Utc>>,
    /// Queues the call overflowed out of, in order.
    #[serde(default)]
    pub overflowed_from: Vec<String>,
    /// Every agent phone rung for the call, in order.
    #[serde(default)]
    pub offers: Vec<OfferRecord>,
    /// The agent who answered.
    #[serde(default)]
    pub agent: Option<String>,
    /// When an agent first answered (wait and pickup count from there).
    #[serde(default)]
    pub agent_answered_at: Option<DateTime<Utc>>,
    /// When the latest conversation ended; `None` while one goes on.
    #[serde(default)]
    pub agent_ended_at: Option<DateTime<Utc>>,
    /// First queued to agent answer, or to hang-up / leaving the queue.
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// Agent answer to the end of the conversation.
    #[serde(default)]
    pub talk_ms: Option<u64>,
    /// Why the call left its queue without an agent.
    #[serde(default)]
    pub queue_left: Option<String>,
    /// A queue abandon shorter than `[cdr] short_abandon_s`.
    #[serde(default)]
    pub short_abandon: bool,
    /// The caller is one of `[cdr] test_numbers`.
    #[serde(default)]
    pub test_number: bool,
    /// The disposition of the flow's `hangup` node that ended the call.
    #[serde(default)]
    pub flow_disposition: Option<String>,
    /// For `dissuaded` calls: `closure`, `saturation`, `informed`, `file0`.
    #[serde(default)]
    pub dissuasion: Option<String>,
    /// The agent's qualification code for the call.
    #[serde(default)]
    pub disposition: Option<String>,
    /// When the agent's wrap-up after this call ended.
    #[serde(default)]
    pub wrapup_ended_at: Option<DateTime<Utc>>,
    /// From the end of the conversation to the end of wrap-up.
    #[serde(default)]
    pub wrapup_ms: Option<u64>,
    /// The conversation's recording, relative to `var/recordings/`.
    #[serde(default)]
    pub recording: Option<String>,
    /// Every caller-agent conversation, in order.
    #[serde(default)]
    pub conversations: Vec<ConversationRecord>,
    /// Blind transfers by agents, in order.
    #[serde(default)]
    pub transfers: Vec<TransferRecord>,
    /// The flow's `transfer` node: the call out and how it went.
    #[serde(default)]
    pub transfer_out: Option<TransferOutRecord>,
    /// Time the agent held the caller (part of `talk_ms`, never added
    /// twice).
    #[serde(default)]
    pub hold_ms: u64,
    /// Times the agent put the caller on hold.
    #[serde(default)]
    pub holds: u32,
    /// Start of the hold in progress.
    #[serde(default)]
    pub held_since: Option<DateTime<Utc>>,
    /// Supervisors who listened to the conversation (silent monitoring).
    #[serde(default)]
    pub monitored: Vec<MonitorRecord>,
}

/// A supervisor listening to the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorRecord {
    /// The supervisor listening.
    pub by: String,
    /// The phone rung for the supervisor to listen on.
    pub phone: String,
    /// When monitoring started (the phone was rung).
    pub at: DateTime<Utc>,
}

/// A call out by the flow's `transfer` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferOutRecord {
    /// The number or SIP URI called.
    pub to: String,
    /// The trunk a number went out through; `None` for a SIP URI.
    pub trunk: Option<String>,
    /// When the call out started.
    pub at: DateTime<Utc>,
    /// When the far end answered; `None` if it never did.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the transferred conversation ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// `answered`, `busy`, `no_answer`, `unreachable`.
    pub result: Option<String>,
    /// The far end's final SIP code when the transfer failed, if one came.
    pub sip_code: Option<u16>,
    /// Who ended the transferred conversation: `caller` or `agent` (the
    /// far end).
    pub ended_by: Option<Party>,
}
