//! Post-call survey and satisfaction GSP07.
//!
//! REQUIREMENTS D: "survey answers collected after agent transfer to the
//! IVR survey, per contact reason", target >= 95% (90%).
//!
//! The survey is the flow's `after` branch of a `queue` node: the steps
//! after the call's `queue` step. A call's survey answer is the `input` of
//! the first of them that is a survey node (one named in `nodes`, else any
//! `menu` or `collect`). Response rate = answered calls with a survey
//! answer / answered calls; satisfaction = answers in `satisfied` / survey
//! answers, overall and per contact reason (the agent's `disposition`).

use cdr::{CallRecord, Outcome};
use serde::Deserialize;

use super::{ByReason, Scope, Value};

/// `[sla.survey]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurveyOptions {
    /// Names of the survey nodes; empty (default): any menu or collect
    /// after the queue.
    pub nodes: Vec<String>,
    /// Answers that mean satisfied. Default "1".
    pub satisfied: Vec<String>,
}

impl Default for SurveyOptions {
    fn default() -> Self {
        SurveyOptions {
            nodes: Vec::new(),
            satisfied: vec!["1".into()],
        }
    }
}

/// The caller's survey answer, if the call has one.
pub fn survey_answer<'r>(r: &'r CallRecord, opts: &SurveyOptions) -> Option<&'r str> {
    let after_queue = r.steps.iter().position(|s| s.kind == "queue")? + 1;
    r.steps[after_queue..]
        .iter()
        .find(|s| {
            if opts.nodes.is_empty() {
                matches!(s.kind.as_str(), "menu" | "collect")
            } else {
                opts.nodes.contains(&s.node)
            }
        })?
        .input
        .as_deref()
}

/// Survey figures of a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    /// Answered calls with a survey answer / answered calls.
    pub response_rate: Value,
    /// Satisfied answers / answers, per contact reason (`-` for calls
    /// without one).
    pub satisfaction: ByReason,
}

/// Survey response rate and satisfaction (see the module doc).
pub fn survey<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    scope: &Scope,
    opts: &SurveyOptions,
) -> Survey {
    let (mut answered, mut answers) = (0u64, 0u64);
    let mut satisfaction = ByReason::default();
    for r in records
        .into_iter()
        .filter(|r| scope.owns(r) && r.outcome == Outcome::Answered)
    {
        answered += 1;
        let Some(answer) = survey_answer(r, opts) else {
            continue;
        };
        answers += 1;
        let reason = r.disposition.as_deref().unwrap_or("-");
        satisfaction.add(reason, opts.satisfied.iter().any(|s| s == answer));
    }
    Survey {
        response_rate: Value::ratio(answers as f64, answered as f64),
        satisfaction,
    }
}
