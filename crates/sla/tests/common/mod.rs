//! A hand-made call record and small edits on it, for test vectors.

#![allow(dead_code)]

use cdr::{CallRecord, Outcome};
use chrono::{DateTime, Duration, Utc};

/// An RFC 3339 instant.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn s(secs: u64) -> Duration {
    Duration::seconds(secs as i64)
}

/// A call to 3422 (flow `demo`) arrived at `arrived`, answered by the
/// platform at once, that ran to its end in the IVR after 60 s
/// (`self_service`), caller withheld.
pub fn call(id: &str, arrived: &str) -> CallRecord {
    let t = at(arrived);
    // Through JSON, so that fields the format adds later take their defaults.
    let rec = serde_json::json!({
        "record_id": id,
        "sip_call_id": id,
        "trunk": "local",
        "did": "3422",
        "flow": "demo",
        "caller": null,
        "caller_class": "withheld",
        "source": "127.0.0.1:5062",
        "transport": "UDP",
        "arrived_at": t,
        "answered_at": t,
        "confirmed_at": t,
        "ended_at": t + s(60),
        "outcome": "self_service",
        "sip_code": 200,
        "end_reason": "script_end",
        "codec": "PCMU",
        "duration_ms": 60_000,
        "digits": [],
        "prompts": [],
        "flow_version": 1,
    });
    serde_json::from_value(rec).expect("a valid record")
}

/// Edits on a hand-made record.
pub trait Edit: Sized {
    fn rec(&mut self) -> &mut CallRecord;

    /// The caller's number (and its class).
    fn from(mut self, caller: &str) -> Self {
        let r = self.rec();
        r.caller = Some(caller.into());
        r.caller_class = cdr::classify_caller(Some(caller), false);
        self
    }

    /// Queued 10 s after arrival in `queue`.
    fn queued(mut self, queue: &str) -> Self {
        let r = self.rec();
        r.queue = Some(queue.into());
        r.queued_at = Some(r.arrived_at + s(10));
        self
    }

    /// Queued in `queue`, answered by agent1 after `wait` s, talk and
    /// wrap-up in seconds (wrap-up `None`: not recorded).
    fn answered(mut self, queue: &str, wait: u64, talk: u64, wrapup: Option<u64>) -> Self {
        self = self.queued(queue);
        let r = self.rec();
        let answer = r.queued_at.unwrap() + s(wait);
        r.outcome = Outcome::Answered;
        r.agent = Some("agent1".into());
        r.agent_answered_at = Some(answer);
        r.agent_ended_at = Some(answer + s(talk));
        r.ended_at = Some(answer + s(talk));
        r.wait_ms = Some(wait * 1000);
        r.talk_ms = Some(talk * 1000);
        r.wrapup_ms = wrapup.map(|w| w * 1000);
        r.duration_ms = (10 + wait + talk) * 1000;
        self
    }

    /// Queued in `queue`, the caller hung up after `wait` s (a short
    /// abandon under 5 s).
    fn abandoned_in(mut self, queue: &str, wait: u64) -> Self {
        self = self.queued(queue);
        let r = self.rec();
        r.outcome = Outcome::AbandonedQueue;
        r.wait_ms = Some(wait * 1000);
        r.ended_at = Some(r.queued_at.unwrap() + s(wait));
        r.short_abandon = wait < 5;
        self
    }

    /// The caller hung up in the IVR.
    fn abandoned_ivr(mut self) -> Self {
        self.rec().outcome = Outcome::AbandonedIvr;
        self
    }

    /// The caller hung up before the platform answered.
    fn cancelled(mut self) -> Self {
        let r = self.rec();
        r.outcome = Outcome::Cancelled;
        r.answered_at = None;
        r.confirmed_at = None;
        r.sip_code = Some(487);
        r.duration_ms = 0;
        self
    }

    /// Refused with `code` for `reason`.
    fn rejected(mut self, code: u16, reason: &str) -> Self {
        let r = self.rec();
        r.outcome = Outcome::Rejected;
        r.answered_at = None;
        r.confirmed_at = None;
        r.ended_at = Some(r.arrived_at);
        r.flow = None;
        r.sip_code = Some(code);
        r.reject_reason = Some(reason.into());
        r.duration_ms = 0;
        self
    }

    /// Sent away by the flow (`closure`, `saturation`, `informed`, `file0`).
    fn dissuaded(mut self, reason: &str) -> Self {
        let r = self.rec();
        r.outcome = Outcome::Dissuaded;
        r.dissuasion = Some(reason.into());
        r.flow_disposition = Some(reason.into());
        self
    }

    /// It overflowed out of these queues, in order, before its last one.
    fn overflowed(mut self, from: &[&str]) -> Self {
        self.rec().overflowed_from = from.iter().map(|q| q.to_string()).collect();
        self
    }

    fn disposition(mut self, code: &str) -> Self {
        self.rec().disposition = Some(code.into());
        self
    }

    fn flow_disposition(mut self, d: &str) -> Self {
        self.rec().flow_disposition = Some(d.into());
        self
    }

    fn test_number(mut self) -> Self {
        self.rec().test_number = true;
        self
    }

    /// A prompt played: its length and how much was heard, in ms.
    fn prompt(mut self, name: &str, duration_ms: u64, heard_ms: u64) -> Self {
        let r = self.rec();
        let at = r.arrived_at;
        r.prompts.push(cdr::record::PromptRecord {
            name: name.into(),
            duration_ms,
            heard_ms,
            end: if heard_ms < duration_ms {
                "barge_in".into()
            } else {
                "completed".into()
            },
            at,
        });
        self
    }

    /// A flow step, with the caller's input there.
    fn step(mut self, node: &str, kind: &str, input: Option<&str>) -> Self {
        let r = self.rec();
        let at = r.arrived_at;
        r.steps.push(cdr::record::StepRecord {
            node: node.into(),
            kind: kind.into(),
            input: input.map(str::to_string),
            at,
        });
        self
    }

    /// Redirected by file 0 activation `id`, requested at `requested`
    /// (the call's arrival is the redirection).
    fn file0(mut self, id: &str, requested: &str) -> Self {
        let r = self.rec();
        let requested_at = at(requested);
        r.file0 = Some(cdr::record::File0Record {
            activation_id: id.into(),
            requested_at,
            redirected_at: r.arrived_at,
            delay_ms: (r.arrived_at - requested_at).num_milliseconds(),
            mode: "hangup".into(),
            prompt: "closed".into(),
        });
        self
    }

    /// Answer-to-end duration, in seconds.
    fn duration(mut self, secs: u64) -> Self {
        self.rec().duration_ms = secs * 1000;
        self
    }

    fn flow(mut self, flow: Option<&str>) -> Self {
        self.rec().flow = flow.map(str::to_string);
        self
    }
}

impl Edit for CallRecord {
    fn rec(&mut self) -> &mut CallRecord {
        self
    }
}
