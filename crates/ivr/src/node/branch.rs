//! `branch`: choose the next node on the schedule (open/closed), on the
//! caller's number class (mobile, landline, international, withheld,
//! other), or on a variable's value.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::run::{Ctx, Step};

/// A `branch` node: picks the next node from `cases` by the schedule,
/// the caller's number class or a variable's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// `schedule`, `caller_class` or `var`.
    pub on: String,
    /// With `on = "var"`: the variable.
    pub var: Option<String>,
    /// Value -> node.
    pub cases: BTreeMap<String, String>,
    /// When no case matches.
    pub default: Option<String>,
}

const CLASSES: [&str; 5] = ["mobile", "landline", "international", "withheld", "other"];

impl Branch {
    /// Every (key, node) it can lead to: a `cases.VALUE` key per case, then
    /// `default`.
    pub fn targets(&self) -> Vec<(String, &str)> {
        let mut t: Vec<(String, &str)> = self
            .cases
            .iter()
            .map(|(k, n)| (format!("cases.{k}"), n.as_str()))
            .collect();
        t.extend(
            self.default
                .iter()
                .map(|d| ("default".to_string(), d.as_str())),
        );
        t
    }

    /// Checks of `on` and of the cases and `default` it needs: (key,
    /// message) per problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self.on.as_str() {
            "schedule" => {
                for k in self.cases.keys() {
                    if k != "open" && k != "closed" {
                        out.push((
                            "cases",
                            format!("{k:?}: a schedule branch has cases open and closed"),
                        ));
                    }
                }
                let both = self.cases.contains_key("open") && self.cases.contains_key("closed");
                if !both && self.default.is_none() {
                    out.push(("cases", "give both open and closed, or a default".into()));
                }
            }
            "caller_class" => {
                for k in self.cases.keys() {
                    if !CLASSES.contains(&k.as_str()) {
                        out.push((
                            "cases",
                            format!("{k:?} is not a caller class ({})", CLASSES.join(", ")),
                        ));
                    }
                }
                if self.default.is_none() && self.cases.len() < CLASSES.len() {
                    out.push((
                        "default",
                        "needed unless every caller class has a case".into(),
                    ));
                }
            }
            "var" => {
                if self.var.is_none() {
                    out.push(("var", "on = \"var\" needs var = \"NAME\"".into()));
                }
                if self.default.is_none() {
                    out.push(("default", "a variable branch needs a default".into()));
                }
            }
            other => out.push((
                "on",
                format!("{other:?}: expected schedule, caller_class or var"),
            )),
        }
        out
    }

    /// The node of the case for the current value (`open`/`closed`, the
    /// caller class or the variable's value, empty when unset), else
    /// `default`; with neither, the call ends with disposition `no_branch`.
    pub fn run(&self, cx: &mut Ctx<'_>) -> Step {
        let value = match self.on.as_str() {
            "schedule" => if cx.flow.schedule.is_open(cx.now()) {
                "open"
            } else {
                "closed"
            }
            .to_string(),
            "caller_class" => cx.caller_class().to_string(),
            _ => self
                .var
                .as_ref()
                .and_then(|v| cx.vars.get(v))
                .cloned()
                .unwrap_or_default(),
        };
        let next = self.cases.get(&value).or(self.default.as_ref());
        tracing::info!(on = %self.on, value = %value, "branch");
        match next {
            Some(n) => Step::Next(n.clone()),
            // Validation makes this unreachable for schedule/var; keep the caller.
            None => Step::Hangup("no_branch".into()),
        }
    }
}
