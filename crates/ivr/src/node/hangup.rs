//! `hangup`: optionally play a last prompt (not interruptible), then end
//! the call with a disposition.

use serde::Deserialize;

use super::PromptRef;
use crate::run::{Ctx, Step};
use call::HungUp;

/// A `hangup` node: ends the call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hangup {
    /// Played whole (no barge-in) before hanging up; none: hang up at once.
    pub prompt: Option<PromptRef>,
    /// Why the flow ended the call (e.g. `informed`, `closed`).
    pub disposition: Option<String>,
}

impl Hangup {
    /// Play the last prompt, if any, then end the call with `disposition`
    /// (`flow_end` when none is given).
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        if let Some(p) = &self.prompt {
            cx.play(p, false).await?;
        }
        Ok(Step::Hangup(
            self.disposition
                .clone()
                .unwrap_or_else(|| "flow_end".into()),
        ))
    }
}
