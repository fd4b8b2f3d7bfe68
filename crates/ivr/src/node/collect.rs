//! `collect`: read digits (min/max length, `#` terminator, first-digit and
//! inter-digit timeouts, a regex to validate) into a variable; retries with
//! an invalid prompt, then `fallback`.

use std::time::Duration;

use serde::Deserialize;

use super::PromptRef;
use crate::run::{Ctx, Step};
use call::HungUp;

/// A `collect` node: reads DTMF digits into `var`, up to `tries`
/// attempts, then `fallback`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collect {
    /// Played (barge-in on) before each attempt; none: just wait for digits.
    pub prompt: Option<PromptRef>,
    /// Variable that receives the digits.
    pub var: String,
    /// Fewest digits accepted (default 1).
    #[serde(default = "one")]
    pub min: usize,
    /// Most digits read: entry ends once this many are in.
    pub max: usize,
    /// Ends entry early; not part of the value. "" for none.
    #[serde(default = "hash")]
    pub terminator: String,
    /// Seconds to wait for the first digit (default 5).
    #[serde(default = "first_timeout")]
    pub timeout_s: u64,
    /// Seconds to wait for each further digit (default 3).
    #[serde(default = "inter_digit")]
    pub inter_digit_timeout_s: u64,
    /// The whole value must match (anchored).
    pub regex: Option<String>,
    /// Attempts before `fallback` (default 3; at least 1).
    #[serde(default = "three")]
    pub tries: u32,
    /// Played after a refused entry (too short or not matching `regex`).
    pub invalid_prompt: Option<PromptRef>,
    /// Node to go to once a valid entry is stored.
    pub next: String,
    /// Node to go to after `tries` refused entries.
    pub fallback: String,
}

fn one() -> usize {
    1
}
fn hash() -> String {
    "#".into()
}
fn first_timeout() -> u64 {
    5
}
fn inter_digit() -> u64 {
    3
}
fn three() -> u32 {
    3
}

impl Collect {
    /// Every (key, prompt) it may play: `prompt`, `invalid_prompt`.
    pub fn prompts(&self) -> Vec<(&'static str, &PromptRef)> {
        let mut p: Vec<_> = self.prompt.iter().map(|x| ("prompt", x)).collect();
        p.extend(self.invalid_prompt.iter().map(|x| ("invalid_prompt", x)));
        p
    }

    fn regex(&self) -> Option<Result<regex::Regex, regex::Error>> {
        self.regex
            .as_ref()
            .map(|r| regex::Regex::new(&format!("^(?:{r})$")))
    }

    /// Checks of `regex`, `min`/`max`, `terminator`, `var` and `tries`:
    /// (key, message) per problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(Err(e)) = self.regex() {
            out.push(("regex", format!("bad regex: {e}")));
        }
        if self.max == 0 || self.min > self.max {
            out.push((
                "max",
                format!("need 1 <= min ({}) <= max ({})", self.min, self.max),
            ));
        }
        if self.terminator.chars().count() > 1 {
            out.push(("terminator", "one digit, or \"\" for none".into()));
        }
        if self.var.is_empty() {
            out.push(("var", "a variable name is needed".into()));
        }
        if self.tries == 0 {
            out.push(("tries", "must be at least 1".into()));
        }
        out
    }

    /// Read digits until `max`, the terminator or a timeout; a valid entry
    /// goes into `var` and on to `next`, else retry, then `fallback`.
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        let re = self.regex().and_then(Result::ok);
        let term = self.terminator.chars().next();
        for attempt in 0..self.tries {
            if let Some(p) = &self.prompt {
                cx.play(p, true).await?;
            }
            let mut value = String::new();
            let mut wait = Duration::from_secs(self.timeout_s);
            while value.len() < self.max {
                match cx.call.next_digit(wait).await? {
                    Some(d) if Some(d) == term => break,
                    Some(d) => value.push(d),
                    None => break,
                }
                wait = Duration::from_secs(self.inter_digit_timeout_s);
            }
            let ok = value.len() >= self.min && re.as_ref().is_none_or(|r| r.is_match(&value));
            if ok {
                tracing::info!(var = %self.var, len = value.len(), "collected");
                cx.note_input(&value);
                cx.vars.insert(self.var.clone(), value);
                return Ok(Step::Next(self.next.clone()));
            }
            tracing::info!(attempt, len = value.len(), "collect: entry refused");
            cx.call.clear_digits();
            if let Some(p) = &self.invalid_prompt {
                cx.play(p, true).await?;
            }
        }
        Ok(Step::Next(self.fallback.clone()))
    }
}
