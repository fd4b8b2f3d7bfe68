//! `queue`: hand the call to the ACD (queue name, absolute priority,
//! relative boost, extra skills). The caller hears the waiting music (the
//! `wait` prompt by default) and, once, the long-wait message; when an
//! agent answers the two are bridged until one hangs up. After the agent's
//! end the flow goes on at `after` (a survey), else the call ends. Without
//! an ACD, or when the call leaves the queue without an agent (max wait),
//! the call goes to `fallback`, else it ends.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::node::PromptRef;
use crate::run::{Ctx, Step};
use call::queueing::{Notice, QueueRequest};
use call::HungUp;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub queue: String,
    /// Absolute priority: a higher one is always served first.
    #[serde(default)]
    pub priority: i32,
    /// Relative priority: counts as this many extra seconds of wait.
    #[serde(default)]
    pub boost_s: u32,
    /// Skills required on top of the queue's: a list (level 1 and up) or
    /// a table of minimum levels 1-10 (`{ expert = 5 }`).
    #[serde(default)]
    pub skills: Skills,
    /// What the caller hears while waiting, repeated (default `wait`).
    pub music: Option<PromptRef>,
    /// Played once when the queue's long-wait threshold passes.
    pub long_wait_prompt: Option<PromptRef>,
    /// Where to go after the agent hangs up (e.g. a survey); else the call ends.
    pub after: Option<String>,
    /// Where to go when the queue cannot take the call or it leaves
    /// the queue without an agent.
    pub fallback: Option<String>,
}

/// Skills as written in a flow.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Skills {
    List(Vec<String>),
    Levels(BTreeMap<String, u8>),
}

impl Default for Skills {
    fn default() -> Self {
        Skills::List(Vec::new())
    }
}

impl Skills {
    pub fn levels(&self) -> BTreeMap<String, u8> {
        match self {
            Skills::List(l) => l.iter().map(|s| (s.clone(), 1)).collect(),
            Skills::Levels(m) => m.clone(),
        }
    }
}

/// Pause between two plays of a missing waiting prompt (no busy loop).
const NO_MUSIC_PAUSE: Duration = Duration::from_secs(1);

impl Queue {
    pub fn targets(&self) -> Vec<(String, &str)> {
        let mut t = Vec::new();
        if let Some(f) = &self.fallback {
            t.push(("fallback".into(), f.as_str()));
        }
        if let Some(a) = &self.after {
            t.push(("after".into(), a.as_str()));
        }
        t
    }

    pub fn prompts(&self) -> Vec<(&'static str, &PromptRef)> {
        let mut p = Vec::new();
        if let Some(m) = &self.music {
            p.push(("music", m));
        }
        if let Some(l) = &self.long_wait_prompt {
            p.push(("long_wait_prompt", l));
        }
        p
    }

    pub fn check(&self) -> Vec<(&'static str, String)> {
        self.skills
            .levels()
            .iter()
            .filter(|(_, l)| !(1..=10).contains(*l))
            .map(|(s, l)| ("skills", format!("skill {s:?} level {l}: expected 1 to 10")))
            .collect()
    }

    fn left(&self, reason: &str) -> Step {
        match &self.fallback {
            Some(f) => Step::Next(f.clone()),
            None => Step::Hangup(format!("queue_{reason}")),
        }
    }

    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        let Some(acd) = cx.acd.clone() else {
            tracing::error!(queue = %self.queue, "queue node reached but no ACD is configured");
            return Ok(self.left("unavailable"));
        };
        let mut waiting = acd.enqueue(
            cx.call.shared_info(),
            QueueRequest {
                queue: self.queue.clone(),
                priority: self.priority,
                boost_s: self.boost_s,
                skills: self.skills.levels(),
            },
        );
        loop {
            match self.wait(cx, &mut waiting).await? {
                Waited::Connected => {}
                Waited::Left(step) => return Ok(step),
            }
            match self.talk(cx, &mut waiting).await? {
                Talked::Transferred => continue, // waiting again, elsewhere
                Talked::Over(step) => return Ok(step),
            }
        }
    }

    /// Music (and the long-wait message) until an agent answers, the
    /// call leaves the queue, or the caller hangs up.
    async fn wait(
        &self,
        cx: &mut Ctx<'_>,
        waiting: &mut call::queueing::Waiting,
    ) -> Result<Waited, HungUp> {
        let music = self
            .music
            .clone()
            .unwrap_or_else(|| PromptRef::Name("wait".into()));
        let mut long_wait_due = false;
        loop {
            let prompt = if long_wait_due {
                long_wait_due = false;
                self.long_wait_prompt.clone().unwrap_or(music.clone())
            } else {
                music.clone()
            };
            let notice = tokio::select! {
                n = waiting.next() => n,
                played = cx.play(&prompt, false) => {
                    match played {
                        Err(HungUp) => {
                            waiting.caller_hung_up();
                            return Err(HungUp);
                        }
                        Ok(None) => tokio::time::sleep(NO_MUSIC_PAUSE).await,
                        Ok(Some(_)) => {}
                    }
                    continue;
                }
            };
            match notice {
                Some(Notice::Connected { agent, media }) => {
                    cx.note_input(&agent);
                    cx.call.bridge(media);
                    return Ok(Waited::Connected);
                }
                Some(Notice::LongWait) => long_wait_due = self.long_wait_prompt.is_some(),
                Some(Notice::Left {
                    reason,
                    destination,
                }) => {
                    tracing::info!(queue = %self.queue, reason = %reason, destination = destination.as_deref().unwrap_or(""), "call left the queue");
                    return Ok(Waited::Left(self.left(&reason)));
                }
                Some(Notice::Offered { .. } | Notice::Overflowed { .. }) => {}
                Some(Notice::AgentEnded { .. } | Notice::Transferred { .. }) => {}
                None => return Ok(Waited::Left(self.left("unavailable"))),
            }
        }
    }

    /// Caller and agent talk until one hangs up, or the agent transfers
    /// the call to another queue.
    async fn talk(
        &self,
        cx: &mut Ctx<'_>,
        waiting: &mut call::queueing::Waiting,
    ) -> Result<Talked, HungUp> {
        loop {
            tokio::select! {
                n = waiting.next() => match n {
                    Some(Notice::AgentEnded { .. }) | None => break,
                    Some(Notice::Transferred { queue }) => {
                        tracing::info!(from = %self.queue, to = %queue, "agent transferred the call");
                        cx.call.unbridge();
                        return Ok(Talked::Transferred);
                    }
                    Some(_) => {}
                },
                _ = cx.call.hung_up() => {
                    waiting.caller_hung_up();
                    return Err(HungUp);
                }
            }
        }
        cx.call.unbridge();
        Ok(Talked::Over(match &self.after {
            Some(a) => Step::Next(a.clone()),
            None => Step::Hangup("agent_ended".into()),
        }))
    }
}

/// How waiting in the queue ended.
enum Waited {
    Connected,
    Left(Step),
}

/// How a conversation ended.
enum Talked {
    /// Queued again by the agent's transfer.
    Transferred,
    Over(Step),
}
