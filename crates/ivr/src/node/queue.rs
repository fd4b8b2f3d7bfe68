//! `queue`: hand the call to the ACD (queue name, priority, skills). Until
//! an ACD is wired, the call goes to `fallback`, else it is ended with the
//! disposition `queue_unavailable` (and an error in the log).

use serde::Deserialize;

use crate::run::{Ctx, Step};
use call::HungUp;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub queue: String,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub skills: Vec<String>,
    /// Where to go when the queue cannot take the call.
    pub fallback: Option<String>,
}

impl Queue {
    pub async fn run(&self, _cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        tracing::error!(queue = %self.queue, priority = self.priority, skills = ?self.skills,
            "queue node reached but no ACD is configured");
        Ok(match &self.fallback {
            Some(f) => Step::Next(f.clone()),
            None => Step::Hangup("queue_unavailable".into()),
        })
    }
}
