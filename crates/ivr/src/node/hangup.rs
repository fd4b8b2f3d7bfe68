//! `hangup`: optionally play a last prompt (not interruptible), then end
//! the call with a disposition.

use serde::Deserialize;

use super::PromptRef;
use crate::run::{Ctx, Step};
use call::HungUp;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hangup {
    pub prompt: Option<PromptRef>,
    /// Why the flow ended the call (e.g. `informed`, `closed`).
    pub disposition: Option<String>,
}

impl Hangup {
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
