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
            EventKind::Ended { by, reason } => {
                self.ended_at = Some(ev.at);
                self.ended_by = Some(*by);
                self.end_reason = Some(reason.clone());
                if let Some(a) = self.answered_at {
                    self.duration_ms = (ev.at - a).num_milliseconds().max(0) as u64;
                }
                self.outcome = match (self.answered_at, *by, reason.as_str()) {
                    (None, Party::Caller, _) => Outcome::Cancelled,
                    (_, _, "shutdown") if *by == Party::System => Outcome::Interrupted,
                    (_, _, "ack_timeout" | "error" | "rtp_timeout") => Outcome::Failed,
                    (None, Party::System, _) => Outcome::Failed,
                    (Some(_), Party::Caller, _) => Outcome::AbandonedIvr,
                    (Some(_), Party::System, _) => Outcome::SelfService,
                };
                if self.outcome == Outcome::Cancelled {
                    self.sip_code = Some(487);
                }
                return true;
            }
        }
        false
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
