//! `menu`: a greeting (long the first time, short on repeats), one digit
//! chooses the next node; invalid and timeout prompts; after `tries` failed
//! attempts, the `fallback` node.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::PromptRef;
use crate::run::{Ctx, Step};
use call::HungUp;

/// A `menu` node: a greeting, then one DTMF digit chooses the next
/// node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// Played (barge-in on) on the first attempt, and on every attempt
    /// when there is no `short_greeting`.
    pub greeting: PromptRef,
    /// Played instead of `greeting` from the second attempt on.
    pub short_greeting: Option<PromptRef>,
    /// Digit -> node.
    pub options: BTreeMap<String, String>,
    /// Played after a digit that is not in `options`.
    pub invalid_prompt: Option<PromptRef>,
    /// Played when no digit comes within `timeout_s`.
    pub timeout_prompt: Option<PromptRef>,
    /// Seconds to wait for a digit after the greeting (default 5; at
    /// least 1).
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Attempts (invalid digit or timeout) before `fallback`.
    #[serde(default = "default_tries")]
    pub tries: u32,
    /// Node to go to after `tries` failed attempts.
    pub fallback: String,
}

fn default_timeout() -> u64 {
    5
}
fn default_tries() -> u32 {
    3
}

const DIGITS: &str = "0123456789*#ABCD";

impl Menu {
    /// Every (key, node) it can lead to: an `options."D"` key per digit,
    /// then `fallback`.
    pub fn targets(&self) -> Vec<(String, &str)> {
        let mut t: Vec<(String, &str)> = self
            .options
            .iter()
            .map(|(d, n)| (format!("options.\"{d}\""), n.as_str()))
            .collect();
        t.push(("fallback".into(), self.fallback.as_str()));
        t
    }

    /// Every (key, prompt) it may play: the greeting, then the short
    /// greeting, invalid and timeout prompts when set.
    pub fn prompts(&self) -> Vec<(&'static str, &PromptRef)> {
        let mut p = vec![("greeting", &self.greeting)];
        p.extend(self.short_greeting.iter().map(|x| ("short_greeting", x)));
        p.extend(self.invalid_prompt.iter().map(|x| ("invalid_prompt", x)));
        p.extend(self.timeout_prompt.iter().map(|x| ("timeout_prompt", x)));
        p
    }

    /// Checks of `options` (one DTMF digit each, no repeats, at least one),
    /// `tries` and `timeout_s`: (key, message) per problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for d in self.options.keys() {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if DIGITS.contains(c.to_ascii_uppercase()) => {
                    if !seen.insert(c.to_ascii_uppercase()) {
                        out.push(("options", format!("digit {d:?} appears twice")));
                    }
                }
                _ => out.push((
                    "options",
                    format!("{d:?} is not one DTMF digit (0-9, *, #, A-D)"),
                )),
            }
        }
        if self.options.is_empty() {
            out.push(("options", "a menu needs at least one option".into()));
        }
        if self.tries == 0 {
            out.push(("tries", "must be at least 1".into()));
        }
        if self.timeout_s == 0 {
            out.push(("timeout_s", "must be at least 1 second".into()));
        }
        out
    }

    /// Greet and wait for a digit, up to `tries` times: a digit in `options`
    /// leads to its node (A-D in either case), else `fallback`.
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        for attempt in 0..self.tries {
            let greeting = match (&self.short_greeting, attempt) {
                (Some(short), 1..) => short,
                _ => &self.greeting,
            };
            cx.play(greeting, true).await?;
            let digit = cx
                .call
                .next_digit(Duration::from_secs(self.timeout_s))
                .await?;
            match digit {
                Some(d) => {
                    let key = d.to_ascii_uppercase().to_string();
                    if let Some(next) = self
                        .options
                        .get(&key)
                        .or_else(|| self.options.get(&d.to_string()))
                    {
                        cx.note_input(&d.to_string());
                        return Ok(Step::Next(next.clone()));
                    }
                    tracing::info!(digit = %d, attempt, "menu: invalid choice");
                    cx.call.clear_digits();
                    if let Some(p) = &self.invalid_prompt {
                        cx.play(p, true).await?;
                    }
                }
                None => {
                    tracing::info!(attempt, "menu: no choice before timeout");
                    if let Some(p) = &self.timeout_prompt {
                        cx.play(p, true).await?;
                    }
                }
            }
        }
        Ok(Step::Next(self.fallback.clone()))
    }
}
