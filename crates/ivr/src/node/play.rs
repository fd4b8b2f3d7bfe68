//! `play`: one or more prompts in a row, barge-in on or off, then `next`.

use serde::Deserialize;

use super::PromptRef;
use crate::run::{Ctx, Step};
use call::HungUp;

/// A `play` node: prompts in a row, then `next`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Play {
    /// Prompts to play, in order.
    pub prompts: Vec<PromptRef>,
    /// A digit stops the prompts (and is kept for the next menu).
    #[serde(default = "yes")]
    pub barge_in: bool,
    /// Node to go to after the prompts (or a barge-in).
    pub next: String,
}

fn yes() -> bool {
    true
}

impl Play {
    /// Play each prompt in turn, a barge-in digit skipping the rest; then
    /// `next`.
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        for p in &self.prompts {
            let r = cx.play(p, self.barge_in).await?;
            if r.is_some_and(|r| r.end == media::engine::PlayEnd::BargeIn) {
                break;
            }
        }
        Ok(Step::Next(self.next.clone()))
    }
}
