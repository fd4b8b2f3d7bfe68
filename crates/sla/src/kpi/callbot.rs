//! Callbot statuses, as far as the records show them.
//!
//! REQUIREMENTS D: "not handled = hung up before the first question or
//! first answer not understood (not billed); queried; abandoned = hung up
//! before the result of the first query; effective; completed ('abouti') =
//! reached the end, >= 95% of queried; evaluated >= 50% of completed;
//! completed calls under 3 min".
//!
//! Read from the records of the calls the platform answered:
//! - queried: the caller answered a question: a step of a question kind
//!   (`menu`, `collect`) with an `input`;
//! - not handled: answered by the platform, never queried (a question with
//!   no understood answer leaves no input);
//! - abandoned: queried, then the caller hung up before the flow's end
//!   (`abandoned_ivr`, `abandoned_queue`);
//! - completed: queried and the flow ran to a hangup node (`self_service`),
//!   with one of the `completed` flow dispositions when that list is set;
//! - evaluated: completed with an `evaluated` flow disposition;
//! - completed under 3 min: completed with `duration_ms` under the limit.
//!
//! "Effective" has no definition the records can support; not computed.

use cdr::{CallRecord, Outcome};
use serde::Deserialize;

use super::{Scope, Value};

/// `[sla.callbot]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbotOptions {
    /// Node kinds that ask the caller something. Default menu, collect.
    pub question_kinds: Vec<String>,
    /// Flow dispositions of a completed call; empty (default): any.
    pub completed: Vec<String>,
    /// Flow dispositions of an evaluated call. Default evaluated_yes,
    /// evaluated_no.
    pub evaluated: Vec<String>,
    /// "Completed calls under 3 min": the limit in seconds. Default 180.
    pub completed_within_s: u64,
}

impl Default for CallbotOptions {
    fn default() -> Self {
        CallbotOptions {
            question_kinds: vec!["menu".into(), "collect".into()],
            completed: Vec::new(),
            evaluated: vec!["evaluated_yes".into(), "evaluated_no".into()],
            completed_within_s: 180,
        }
    }
}

/// Callbot status counts of a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Milestones {
    /// Answered by the platform, never queried (not billed).
    pub not_handled: u64,
    /// The caller answered a question (`menu`, `collect`).
    pub queried: u64,
    /// Queried, then the caller hung up before the flow's end.
    pub abandoned: u64,
    /// Queried, and the flow ran to a hangup node ("abouti").
    pub completed: u64,
    /// Completed with an `evaluated` flow disposition.
    pub evaluated: u64,
    /// Completed under the duration limit (3 minutes by default).
    pub completed_fast: u64,
}

impl Milestones {
    /// Completed ("aboutis") = completed / queried.
    pub fn completed_rate(&self) -> Value {
        Value::ratio(self.completed as f64, self.queried as f64)
    }

    /// Evaluated = evaluated / completed.
    pub fn evaluated_rate(&self) -> Value {
        Value::ratio(self.evaluated as f64, self.completed as f64)
    }

    /// Completed under the limit / completed.
    pub fn completed_fast_rate(&self) -> Value {
        Value::ratio(self.completed_fast as f64, self.completed as f64)
    }
}

/// Count the callbot statuses of the calls the platform answered.
pub fn milestones<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &CallbotOptions,
) -> Milestones {
    let listed = |list: &[String], d: Option<&str>| d.is_some_and(|d| list.iter().any(|x| x == d));
    let mut m = Milestones::default();
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && r.answered_at.is_some())
    {
        let queried = r
            .steps
            .iter()
            .any(|s| s.input.is_some() && opts.question_kinds.contains(&s.kind));
        if !queried {
            m.not_handled += 1;
            continue;
        }
        m.queried += 1;
        let disposition = r.flow_disposition.as_deref();
        match r.outcome {
            Outcome::AbandonedIvr | Outcome::AbandonedQueue => m.abandoned += 1,
            Outcome::SelfService
                if opts.completed.is_empty() || listed(&opts.completed, disposition) =>
            {
                m.completed += 1;
                m.evaluated += u64::from(listed(&opts.evaluated, disposition));
                m.completed_fast += u64::from(r.duration_ms < opts.completed_within_s * 1000);
            }
            _ => {}
        }
    }
    m
}
