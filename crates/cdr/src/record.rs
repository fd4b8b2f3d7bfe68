//! The call record: one per call, folded from its events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{CallEvent, DigitSource, EventKind, Party};

/// Caller number class, for origin reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerClass {
    Mobile,
    Landline,
    International,
    Withheld,
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
    pub agent: String,
    pub at: DateTime<Utc>,
    /// `answered`, `no_answer`, `declined`, `unreachable`, `cancelled`;
    /// `None` while it rings.
    pub result: Option<String>,
}

/// One caller-agent conversation (a transferred call has several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub agent: String,
    /// The queue the call was answered from.
    pub queue: Option<String>,
    pub answered_at: DateTime<Utc>,
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
    pub agent: String,
    /// The queue the call went to.
    pub to: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitRecord {
    pub digit: char,
    pub source: DigitSource,
    pub at: DateTime<Utc>,
}

/// One flow node the call went through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub node: String,
    pub kind: String,
    /// Digits the caller entered in this node (menu choice, collected value).
    pub input: Option<String>,
    /// When the node finished.
    pub at: DateTime<Utc>,
}

/// The file 0 override that redirected a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File0Record {
    pub activation_id: String,
    pub requested_at: DateTime<Utc>,
    pub redirected_at: DateTime<Utc>,
    /// redirected_at - requested_at: the GVS01 activation delay for the
    /// first call of an activation.
    pub delay_ms: i64,
    pub mode: String,
    pub prompt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptRecord {
    pub name: String,
    pub duration_ms: u64,
    pub heard_ms: u64,
    pub end: String,
    pub at: DateTime<Utc>,
}

/// One call, as exported. Field meanings: crates/cdr/README.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub record_id: String,
    pub sip_call_id: String,
    pub trunk: Option<String>,
    pub did: Option<String>,
    pub flow: Option<String>,
    pub caller: Option<String>,
    pub caller_class: CallerClass,
    pub source: String,
    pub transport: String,
    pub arrived_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub sip_code: Option<u16>,
    pub reject_reason: Option<String>,
    pub ended_by: Option<Party>,
    pub end_reason: Option<String>,
    pub codec: Option<String>,
    /// Answer to end, in ms (0 when never answered).
    pub duration_ms: u64,
    pub digits: Vec<DigitRecord>,
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
    #[serde(default)]
    pub priority: Option<i32>,
    /// When the call first joined a queue.
    #[serde(default)]
    pub queued_at: Option<DateTime<Utc>>,
    /// Queues the call overflowed out of, in order.
    #[serde(default)]
    pub overflowed_from: Vec<String>,
    #[serde(default)]
    pub offers: Vec<OfferRecord>,
    /// The agent who answered.
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub agent_answered_at: Option<DateTime<Utc>>,
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
    pub by: String,
    pub phone: String,
    pub at: DateTime<Utc>,
}

/// A call out by the flow's `transfer` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferOutRecord {
    pub to: String,
    pub trunk: Option<String>,
    pub at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `answered`, `busy`, `no_answer`, `unreachable`.
    pub result: Option<String>,
    pub sip_code: Option<u16>,
    /// Who ended the transferred conversation: `caller` or `agent` (the
    /// far end).
    pub ended_by: Option<Party>,
}

impl CallRecord {
    /// Start a record from its `Arrived` event.
    pub fn open(ev: &CallEvent) -> Option<CallRecord> {
        let EventKind::Arrived {
            sip_call_id,
            trunk,
            did,
            flow,
            caller,
            caller_withheld,
            source,
            transport,
        } = &ev.kind
        else {
            return None;
        };
        Some(CallRecord {
            record_id: ev.record_id.clone(),
            sip_call_id: sip_call_id.clone(),
            trunk: trunk.clone(),
            did: did.clone(),
            flow: flow.clone(),
            caller: if *caller_withheld {
                None
            } else {
                caller.clone()
            },
            caller_class: classify_caller(caller.as_deref(), *caller_withheld),
            source: source.clone(),
            transport: transport.clone(),
            arrived_at: ev.at,
            answered_at: None,
            confirmed_at: None,
            ended_at: None,
            outcome: Outcome::Open,
            sip_code: None,
            reject_reason: None,
            ended_by: None,
            end_reason: None,
            codec: None,
            duration_ms: 0,
            digits: Vec::new(),
            prompts: Vec::new(),
            file0: None,
            flow_version: None,
            steps: Vec::new(),
            queue: None,
            priority: None,
            queued_at: None,
            overflowed_from: Vec::new(),
            offers: Vec::new(),
            agent: None,
            agent_answered_at: None,
            agent_ended_at: None,
            wait_ms: None,
            talk_ms: None,
            queue_left: None,
            short_abandon: false,
            test_number: false,
            flow_disposition: None,
            dissuasion: None,
            disposition: None,
            wrapup_ended_at: None,
            wrapup_ms: None,
            recording: None,
            conversations: Vec::new(),
            transfers: Vec::new(),
            transfer_out: None,
            hold_ms: 0,
            holds: 0,
            held_since: None,
            monitored: Vec::new(),
        })
    }

    /// Fold one more event in. Returns true when the record is complete.
    pub fn apply(&mut self, ev: &CallEvent) -> bool {
        match &ev.kind {
            EventKind::Arrived { .. } => {}
            EventKind::Rejected { sip_code, reason } => {
                self.sip_code = Some(*sip_code);
                self.reject_reason = Some(reason.clone());
                self.outcome = Outcome::Rejected;
                self.ended_at = Some(ev.at);
                self.ended_by = Some(Party::System);
                return true;
            }
            EventKind::Answered { codec } => {
                self.answered_at = Some(ev.at);
                self.sip_code = Some(200);
                self.codec = Some(codec.clone());
            }
            EventKind::Confirmed => self.confirmed_at = Some(ev.at),
            EventKind::Digit { digit, source } => self.digits.push(DigitRecord {
                digit: *digit,
                source: *source,
                at: ev.at,
            }),
            EventKind::PromptPlayed {
                name,
                duration_ms,
                heard_ms,
                end,
            } => self.prompts.push(PromptRecord {
                name: name.clone(),
                duration_ms: *duration_ms,
                heard_ms: *heard_ms,
                end: end.clone(),
                at: ev.at,
            }),
            EventKind::FlowStarted { version } => self.flow_version = Some(*version),
            EventKind::Step {
                node,
                node_kind,
                input,
            } => self.steps.push(StepRecord {
                node: node.clone(),
                kind: node_kind.clone(),
                input: input.clone(),
                at: ev.at,
            }),
            EventKind::File0 {
                activation_id,
                requested_at,
                mode,
                prompt,
            } => {
                self.file0 = Some(File0Record {
                    activation_id: activation_id.clone(),
                    requested_at: *requested_at,
                    redirected_at: ev.at,
                    delay_ms: (ev.at - *requested_at).num_milliseconds(),
                    mode: mode.clone(),
                    prompt: prompt.clone(),
                })
            }
            EventKind::Queued { queue, priority } => {
                self.queue = Some(queue.clone());
                self.priority = Some(*priority);
                self.queued_at.get_or_insert(ev.at);
                self.queue_left = None;
            }
            EventKind::Overflowed { from, to } => {
                self.overflowed_from.push(from.clone());
                self.queue = Some(to.clone());
            }
            EventKind::AgentOffered { agent } => self.offers.push(OfferRecord {
                agent: agent.clone(),
                at: ev.at,
                result: None,
            }),
            EventKind::AgentMissed { agent, reason } => self.offer_result(agent, reason),
            EventKind::AgentAnswered { agent } => {
                self.offer_result(agent, "answered");
                self.agent = Some(agent.clone());
                // Wait and pickup count from the first answer; a transferred
                // call's later conversations are in `conversations`.
                if self.agent_answered_at.is_none() {
                    self.agent_answered_at = Some(ev.at);
                    self.wait_ms = self.since_queued(ev.at);
                }
                self.agent_ended_at = None;
                self.conversations.push(ConversationRecord {
                    agent: agent.clone(),
                    queue: self.queue.clone(),
                    answered_at: ev.at,
                    ended_at: None,
                    wrapup_ended_at: None,
                });
            }
            EventKind::QueueLeft { reason } => {
                self.queue_left = Some(reason.clone());
                self.wait_ms = self.since_queued(ev.at);
            }
            EventKind::AgentEnded { by } => {
                self.end_hold(ev.at);
                self.agent_ended_at = Some(ev.at);
                self.ended_by = Some(*by);
                if let Some(c) = self.conversations.last_mut() {
                    c.ended_at.get_or_insert(ev.at);
                }
                if self.agent_answered_at.is_some() {
                    self.talk_ms = Some(self.conversations.iter().map(|c| c.talk_ms()).sum());
                }
            }
            EventKind::FlowEnded { disposition } => {
                self.flow_disposition = Some(disposition.clone())
            }
            EventKind::Disposition { code, .. } => self.disposition = Some(code.clone()),
            EventKind::Recorded { file } => self.recording = Some(file.clone()),
            EventKind::Hold { on: true } => {
                if self.held_since.is_none() {
                    self.held_since = Some(ev.at);
                    self.holds += 1;
                }
            }
            EventKind::Hold { on: false } => self.end_hold(ev.at),
            EventKind::Monitored { by, phone } => self.monitored.push(MonitorRecord {
                by: by.clone(),
                phone: phone.clone(),
                at: ev.at,
            }),
            EventKind::TransferStarted { to, trunk } => {
                self.transfer_out = Some(TransferOutRecord {
                    to: to.clone(),
                    trunk: trunk.clone(),
                    at: ev.at,
                    answered_at: None,
                    ended_at: None,
                    result: None,
                    sip_code: None,
                    ended_by: None,
                })
            }
            EventKind::TransferAnswered => {
                if let Some(t) = self.transfer_out.as_mut() {
                    t.answered_at = Some(ev.at);
                    t.result = Some("answered".into());
                }
            }
            EventKind::TransferFailed { reason, sip_code } => {
                if let Some(t) = self.transfer_out.as_mut() {
                    t.result = Some(reason.clone());
                    t.sip_code = *sip_code;
                }
            }
            EventKind::TransferEnded { by } => {
                if let Some(t) = self.transfer_out.as_mut() {
                    t.ended_at = Some(ev.at);
                    t.ended_by = Some(*by);
                }
            }
            EventKind::WrapUpEnded { agent } => {
                if let Some(c) = self
                    .conversations
                    .iter_mut()
                    .rev()
                    .find(|c| &c.agent == agent && c.wrapup_ended_at.is_none())
                {
                    c.wrapup_ended_at = Some(ev.at);
                }
                self.wrapup_ended_at = Some(ev.at);
                self.wrapup_ms = Some(self.conversations.iter().map(|c| c.wrapup_ms()).sum());
                return self.ended_at.is_some() && !self.awaits_wrap_up();
            }
            EventKind::Transferred { agent, to } => self.transfers.push(TransferRecord {
                agent: agent.clone(),
                to: to.clone(),
                at: ev.at,
            }),
            EventKind::Ended { by, reason } => {
                let agent_hung_up = self.ended_by == Some(Party::Agent);
                self.ended_at = Some(ev.at);
                self.ended_by = Some(*by);
                self.end_reason = Some(reason.clone());
                if let Some(a) = self.answered_at {
                    self.duration_ms = (ev.at - a).num_milliseconds().max(0) as u64;
                }
                if self.agent_answered_at.is_some() && self.agent_ended_at.is_none() {
                    // Hung up while talking: the conversation ends with the call.
                    self.apply(&CallEvent {
                        record_id: ev.record_id.clone(),
                        at: ev.at,
                        kind: EventKind::AgentEnded { by: *by },
                    });
                }
                if agent_hung_up {
                    self.ended_by = Some(Party::Agent);
                }
                let waiting = self.queued_at.is_some()
                    && self.agent_answered_at.is_none()
                    && self.queue_left.is_none();
                if waiting && *by == Party::Caller {
                    self.wait_ms = self.since_queued(ev.at);
                }
                self.outcome = match (self.answered_at, *by, reason.as_str()) {
                    _ if self.agent_answered_at.is_some()
                        && !matches!(reason.as_str(), "shutdown" | "crash") =>
                    {
                        Outcome::Answered
                    }
                    (Some(_), Party::Caller, _) if waiting => Outcome::AbandonedQueue,
                    (None, Party::Caller, _) => Outcome::Cancelled,
                    (_, _, "shutdown" | "crash") if *by == Party::System => Outcome::Interrupted,
                    (
                        _,
                        _,
                        "ack_timeout" | "error" | "rtp_timeout" | "session_expired" | "dialog_gone",
                    ) => Outcome::Failed,
                    (None, Party::System, _) => Outcome::Failed,
                    (Some(_), Party::Caller, _) => Outcome::AbandonedIvr,
                    (Some(_), Party::System | Party::Agent, _) => Outcome::SelfService,
                    (None, Party::Agent, _) => Outcome::Failed,
                };
                if self.outcome == Outcome::Cancelled {
                    self.sip_code = Some(487);
                }
                let transferred = self
                    .transfer_out
                    .as_ref()
                    .is_some_and(|t| t.answered_at.is_some());
                if transferred
                    && self.agent_answered_at.is_none()
                    && matches!(
                        self.outcome,
                        Outcome::SelfService | Outcome::AbandonedIvr | Outcome::Dissuaded
                    )
                {
                    self.outcome = Outcome::Transferred;
                }
                if self.outcome == Outcome::SelfService {
                    self.dissuasion = self.dissuasion_reason();
                    if self.dissuasion.is_some() {
                        self.outcome = Outcome::Dissuaded;
                    }
                }
                // An answered call is complete once the agent's wrap-up is
                // over too (the journal writes it anyway after a while).
                return !self.awaits_wrap_up();
            }
        }
        false
    }
}

impl CallRecord {
    /// The conversation is over but the agent's wrap-up is not (and the
    /// process is not stopping).
    pub fn awaits_wrap_up(&self) -> bool {
        self.conversations
            .iter()
            .any(|c| c.wrapup_ended_at.is_none())
            && !matches!(self.outcome, Outcome::Interrupted)
    }

    /// Last touches from the settings, just before the record is written.
    pub fn finish(&mut self, opts: &FoldOptions) {
        self.test_number = self
            .caller
            .as_ref()
            .is_some_and(|c| opts.test_numbers.contains(c));
        self.short_abandon = self.outcome == Outcome::AbandonedQueue
            && self.wait_ms.is_some_and(|w| w < opts.short_abandon_ms);
    }

    fn dissuasion_reason(&self) -> Option<String> {
        if let Some(d) = self.flow_disposition.as_deref().and_then(dissuasion_of) {
            return Some(d.to_string());
        }
        let file0_hangup = self.file0.as_ref().is_some_and(|f| f.mode == "hangup");
        file0_hangup.then(|| "file0".to_string())
    }

    fn end_hold(&mut self, at: DateTime<Utc>) {
        if let Some(since) = self.held_since.take() {
            self.hold_ms += (at - since).num_milliseconds().max(0) as u64;
        }
    }

    fn since_queued(&self, at: DateTime<Utc>) -> Option<u64> {
        self.queued_at
            .map(|q| (at - q).num_milliseconds().max(0) as u64)
    }

    fn offer_result(&mut self, agent: &str, result: &str) {
        if let Some(o) = self
            .offers
            .iter_mut()
            .rev()
            .find(|o| o.agent == agent && o.result.is_none())
        {
            o.result = Some(result.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind) -> CallEvent {
        CallEvent::now("r1", kind)
    }

    fn arrived() -> CallEvent {
        ev(EventKind::Arrived {
            sip_call_id: "c1".into(),
            trunk: Some("local".into()),
            did: Some("3422".into()),
            flow: Some("demo".into()),
            caller: Some("+33612345678".into()),
            caller_withheld: false,
            source: "127.0.0.1:5062".into(),
            transport: "UDP".into(),
        })
    }

    #[test]
    fn caller_classes() {
        assert_eq!(
            classify_caller(Some("0612345678"), false),
            CallerClass::Mobile
        );
        assert_eq!(
            classify_caller(Some("+33712345678"), false),
            CallerClass::Mobile
        );
        assert_eq!(
            classify_caller(Some("0184903422"), false),
            CallerClass::Landline
        );
        assert_eq!(
            classify_caller(Some("+4930123456"), false),
            CallerClass::International
        );
        assert_eq!(
            classify_caller(Some("0612345678"), true),
            CallerClass::Withheld
        );
        assert_eq!(classify_caller(None, false), CallerClass::Withheld);
        assert_eq!(classify_caller(Some("3422"), false), CallerClass::Other);
    }

    #[test]
    fn fold_answered_call() {
        let mut r = CallRecord::open(&arrived()).unwrap();
        assert_eq!(r.caller_class, CallerClass::Mobile);
        assert!(!r.apply(&ev(EventKind::Answered {
            codec: "PCMU".into()
        })));
        r.apply(&ev(EventKind::Digit {
            digit: '1',
            source: DigitSource::Rfc4733,
        }));
        assert!(r.apply(&ev(EventKind::Ended {
            by: Party::Caller,
            reason: "bye".into()
        })));
        assert_eq!(r.outcome, Outcome::AbandonedIvr);
        assert_eq!(r.digits.len(), 1);
        assert_eq!(r.sip_code, Some(200));
    }

    #[test]
    fn fold_queued_answered_and_abandoned() {
        let t0 = Utc::now();
        let at = |s: i64, kind| CallEvent {
            record_id: "r1".into(),
            at: t0 + chrono::Duration::seconds(s),
            kind,
        };
        let mut r = CallRecord::open(&arrived()).unwrap();
        r.apply(&at(
            0,
            EventKind::Answered {
                codec: "PCMU".into(),
            },
        ));
        r.apply(&at(
            10,
            EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
        ));
        r.apply(&at(
            40,
            EventKind::AgentOffered {
                agent: "agent1".into(),
            },
        ));
        r.apply(&at(
            55,
            EventKind::AgentMissed {
                agent: "agent1".into(),
                reason: "no_answer".into(),
            },
        ));
        r.apply(&at(
            56,
            EventKind::AgentOffered {
                agent: "agent2".into(),
            },
        ));
        r.apply(&at(
            60,
            EventKind::AgentAnswered {
                agent: "agent2".into(),
            },
        ));
        r.apply(&at(180, EventKind::AgentEnded { by: Party::Agent }));
        assert!(
            !r.apply(&at(
                181,
                EventKind::Ended {
                    by: Party::System,
                    reason: "script_end".into()
                }
            )),
            "complete only once the agent's wrap-up is over"
        );
        r.apply(&at(
            185,
            EventKind::Disposition {
                agent: "agent2".into(),
                code: "17".into(),
            },
        ));
        assert!(r.apply(&at(
            190,
            EventKind::WrapUpEnded {
                agent: "agent2".into()
            }
        )));
        assert_eq!(r.outcome, Outcome::Answered);
        assert_eq!(r.wrapup_ms, Some(10_000));
        assert_eq!(r.disposition.as_deref(), Some("17"));
        assert_eq!(r.agent.as_deref(), Some("agent2"));
        assert_eq!((r.wait_ms, r.talk_ms), (Some(50_000), Some(120_000)));
        assert_eq!(r.ended_by, Some(Party::Agent));
        assert_eq!(r.offers[0].result.as_deref(), Some("no_answer"));
        assert_eq!(r.offers[1].result.as_deref(), Some("answered"));

        let mut r = CallRecord::open(&arrived()).unwrap();
        r.apply(&at(
            0,
            EventKind::Answered {
                codec: "PCMU".into(),
            },
        ));
        r.apply(&at(
            5,
            EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
        ));
        r.apply(&at(
            35,
            EventKind::Ended {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ));
        assert_eq!(r.outcome, Outcome::AbandonedQueue);
        assert_eq!(r.wait_ms, Some(30_000));

        let mut r = CallRecord::open(&arrived()).unwrap();
        r.apply(&at(
            0,
            EventKind::Answered {
                codec: "PCMU".into(),
            },
        ));
        r.apply(&at(
            5,
            EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
        ));
        r.apply(&at(
            65,
            EventKind::AgentAnswered {
                agent: "agent1".into(),
            },
        ));
        r.apply(&at(
            95,
            EventKind::Ended {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ));
        assert_eq!(
            (r.outcome, r.ended_by),
            (Outcome::Answered, Some(Party::Caller))
        );
        assert_eq!(r.talk_ms, Some(30_000));
    }

    #[test]
    fn wrap_up_may_end_before_the_caller_leaves() {
        // The agent hangs up, the caller goes on to a survey; the agent's
        // wrap-up ends first.
        let mut r = CallRecord::open(&arrived()).unwrap();
        for kind in [
            EventKind::Answered {
                codec: "PCMA".into(),
            },
            EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
            EventKind::AgentAnswered {
                agent: "agent1".into(),
            },
            EventKind::AgentEnded { by: Party::Agent },
        ] {
            assert!(!r.apply(&ev(kind)));
        }
        assert!(!r.apply(&ev(EventKind::WrapUpEnded {
            agent: "agent1".into()
        })));
        assert!(r.apply(&ev(EventKind::Ended {
            by: Party::Caller,
            reason: "bye".into()
        })));
        assert_eq!(r.outcome, Outcome::Answered);
        assert!(r.wrapup_ms.is_some());
    }

    #[test]
    fn a_transferred_call_keeps_both_conversations() {
        let t0 = Utc::now();
        let at = |s: i64, kind| CallEvent {
            record_id: "r1".into(),
            at: t0 + chrono::Duration::seconds(s),
            kind,
        };
        let mut r = CallRecord::open(&arrived()).unwrap();
        let queued = |q: &str| EventKind::Queued {
            queue: q.into(),
            priority: 0,
        };
        let steps = [
            (
                0,
                EventKind::Answered {
                    codec: "PCMU".into(),
                },
            ),
            (0, queued("general")),
            (
                20,
                EventKind::AgentAnswered {
                    agent: "agent1".into(),
                },
            ),
            (80, EventKind::AgentEnded { by: Party::Agent }),
            (
                80,
                EventKind::Transferred {
                    agent: "agent1".into(),
                    to: "expert".into(),
                },
            ),
            (80, queued("expert")),
            (
                90,
                EventKind::WrapUpEnded {
                    agent: "agent1".into(),
                },
            ),
            (
                110,
                EventKind::AgentAnswered {
                    agent: "agent3".into(),
                },
            ),
            (200, EventKind::AgentEnded { by: Party::Agent }),
        ];
        for (t, kind) in steps {
            assert!(!r.apply(&at(t, kind)), "not complete before the end");
        }
        assert!(
            !r.apply(&at(
                200,
                EventKind::Ended {
                    by: Party::System,
                    reason: "script_end".into()
                }
            )),
            "agent3's wrap-up is still due"
        );
        assert!(r.apply(&at(
            205,
            EventKind::WrapUpEnded {
                agent: "agent3".into()
            }
        )));
        assert_eq!(r.outcome, Outcome::Answered);
        assert_eq!(r.agent.as_deref(), Some("agent3"), "the last agent");
        assert_eq!(r.wait_ms, Some(20_000), "wait until the first answer");
        assert_eq!(r.talk_ms, Some(60_000 + 90_000), "both conversations");
        assert_eq!(r.wrapup_ms, Some(10_000 + 5_000));
        assert_eq!((r.hold_ms, r.holds), (0, 0));
        assert_eq!(r.transfers.len(), 1);
        assert_eq!(r.conversations.len(), 2);
        assert_eq!(r.conversations[1].queue.as_deref(), Some("expert"));
        assert_eq!(r.queue.as_deref(), Some("expert"));
    }

    #[test]
    fn dissuasions_and_flags() {
        let end = |disposition: Option<&str>| {
            let mut r = CallRecord::open(&arrived()).unwrap();
            r.apply(&ev(EventKind::Answered {
                codec: "PCMU".into(),
            }));
            if let Some(d) = disposition {
                r.apply(&ev(EventKind::FlowEnded {
                    disposition: d.into(),
                }));
            }
            r.apply(&ev(EventKind::Ended {
                by: Party::System,
                reason: "script_end".into(),
            }));
            (r.outcome, r.dissuasion)
        };
        assert_eq!(
            end(Some("closed")),
            (Outcome::Dissuaded, Some("closure".into()))
        );
        assert_eq!(
            end(Some("saturation")),
            (Outcome::Dissuaded, Some("saturation".into()))
        );
        assert_eq!(end(Some("evaluated_yes")), (Outcome::SelfService, None));
        assert_eq!(end(None), (Outcome::SelfService, None));

        let t0 = Utc::now();
        let mut r = CallRecord::open(&arrived()).unwrap();
        r.apply(&ev(EventKind::Answered {
            codec: "PCMU".into(),
        }));
        r.apply(&CallEvent {
            record_id: "r1".into(),
            at: t0,
            kind: EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
        });
        r.apply(&CallEvent {
            record_id: "r1".into(),
            at: t0 + chrono::Duration::seconds(3),
            kind: EventKind::Ended {
                by: Party::Caller,
                reason: "bye".into(),
            },
        });
        let opts = FoldOptions {
            test_numbers: ["+33612345678".to_string()].into(),
            short_abandon_ms: 5_000,
        };
        r.finish(&opts);
        assert_eq!(r.outcome, Outcome::AbandonedQueue);
        assert!(r.short_abandon && r.test_number);
    }

    #[test]
    fn fold_rejected_and_cancelled() {
        let mut r = CallRecord::open(&arrived()).unwrap();
        assert!(r.apply(&ev(EventKind::Rejected {
            sip_code: 404,
            reason: "unknown DID".into()
        })));
        assert_eq!((r.outcome, r.sip_code), (Outcome::Rejected, Some(404)));
        let mut r = CallRecord::open(&arrived()).unwrap();
        r.apply(&ev(EventKind::Ended {
            by: Party::Caller,
            reason: "cancel".into(),
        }));
        assert_eq!((r.outcome, r.sip_code), (Outcome::Cancelled, Some(487)));
    }
}
