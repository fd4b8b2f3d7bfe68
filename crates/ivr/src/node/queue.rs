//! `queue`: hand the call to the ACD (queue name, absolute priority,
//! relative boost, extra skills). The caller hears the waiting music (the
//! `wait` prompt by default), once the long-wait message, and, when
//! `announce_every_s` is set, its position and estimated wait between two
//! plays of the music (see `announce`). The ACD bridges the caller with
//! the agent who answers, and the node ends there: the flow follows the
//! conversation (see `conversation`) and goes on at `after` (a survey)
//! once the agent's side ends, else the call ends. Without an ACD, or when
//! the call leaves the queue without an agent (max wait), the call goes to
//! `fallback`, else it ends.

pub mod announce;
pub mod conversation;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Deserialize;

use crate::node::PromptRef;
use crate::run::{Ctx, Step};
use announce::{Announce, Said};
use call::acd::{Notice, QueueRequest, Waiting};
use call::{HungUp, PlayResult};
use conversation::Conversation;

/// A `queue` node: hands the call to the ACD and keeps the caller
/// waiting until an agent answers or the call leaves the queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Name of the ACD queue the call joins.
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
    /// Announce the caller's position and estimated wait right after the
    /// first play of the music, then every this many seconds of waiting,
    /// always between two plays of the music (0 or absent: never).
    #[serde(default)]
    pub announce_every_s: u32,
    /// Say the position ("Vous êtes en position 3"; default true).
    #[serde(default = "yes")]
    pub announce_position: bool,
    /// Say the estimated wait, in whole minutes rounded up (default true).
    #[serde(default = "yes")]
    pub announce_wait: bool,
    /// Above this many minutes the wait is said as "plus de N minutes"
    /// (1 to 99; default 30).
    #[serde(default = "default_max_wait_min")]
    pub announce_max_wait_min: u32,
}

fn yes() -> bool {
    true
}

fn default_max_wait_min() -> u32 {
    30
}

/// Skills as written in a flow.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Skills {
    /// Skill names, each required at level 1 or more.
    List(Vec<String>),
    /// Skill name -> minimum level (1 to 10).
    Levels(BTreeMap<String, u8>),
}

impl Default for Skills {
    fn default() -> Self {
        Skills::List(Vec::new())
    }
}

impl Skills {
    /// Skill name -> minimum level, as the ACD takes them (level 1 for a
    /// list).
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
    /// Every (key, node) it can lead to: `fallback`, then `after`, when set.
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

    /// Every (key, prompt) it may play: `music`, `long_wait_prompt`, and
    /// every piece its announcements may say (key `announce_every_s`).
    pub fn prompts(&self) -> Vec<(&'static str, &PromptRef)> {
        let mut p = Vec::new();
        if let Some(m) = &self.music {
            p.push(("music", m));
        }
        if let Some(l) = &self.long_wait_prompt {
            p.push(("long_wait_prompt", l));
        }
        if let Some((_, a)) = self.announce() {
            // Every piece an announcement may say must exist at load time.
            p.extend(
                announce::prompt_refs(&a)
                    .into_iter()
                    .map(|r| ("announce_every_s", r)),
            );
        }
        p
    }

    /// Checks of the skill levels and the announcement options: (key,
    /// message) per problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errs: Vec<(&'static str, String)> = self
            .skills
            .levels()
            .iter()
            .filter(|(_, l)| !(1..=10).contains(*l))
            .map(|(s, l)| ("skills", format!("skill {s:?} level {l}: expected 1 to 10")))
            .collect();
        if !(1..=announce::MAX_NUMBER).contains(&self.announce_max_wait_min) {
            errs.push((
                "announce_max_wait_min",
                format!(
                    "{} minutes: expected 1 to {}",
                    self.announce_max_wait_min,
                    announce::MAX_NUMBER
                ),
            ));
        }
        if self.announce_every_s > 0 && !self.announce_position && !self.announce_wait {
            errs.push((
                "announce_every_s",
                "announcements on but announce_position and announce_wait are both false".into(),
            ));
        }
        errs
    }

    /// How often and what to announce, when announcements are on.
    fn announce(&self) -> Option<(Duration, Announce)> {
        if self.announce_every_s == 0 || !(self.announce_position || self.announce_wait) {
            return None;
        }
        let a = Announce {
            position: self.announce_position,
            wait: self.announce_wait,
            max_wait_min: self.announce_max_wait_min.clamp(1, announce::MAX_NUMBER),
        };
        Some((Duration::from_secs(u64::from(self.announce_every_s)), a))
    }

    fn left(&self, reason: &str) -> Step {
        match &self.fallback {
            Some(f) => Step::Next(f.clone()),
            None => Step::Hangup(format!("queue_{reason}")),
        }
    }

    /// Enqueue the call and wait: `Talking` once an agent answers; without
    /// an ACD, or when the call leaves the queue, `fallback` (else the call
    /// ends).
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        let Some(acd) = cx.acd.clone() else {
            tracing::error!(queue = %self.queue, "queue node reached but no ACD is configured");
            return Ok(self.left("unavailable"));
        };
        let waiting = acd.enqueue(
            cx.call.shared_info(),
            cx.call.port(),
            QueueRequest {
                queue: self.queue.clone(),
                priority: self.priority,
                boost_s: self.boost_s,
                skills: self.skills.levels(),
            },
        );
        self.wait_in(cx, waiting).await
    }

    /// Wait (again, after an agent's transfer) until connected: the node
    /// ends, the conversation goes on without it.
    async fn wait_in(&self, cx: &mut Ctx<'_>, mut waiting: Waiting) -> Result<Step, HungUp> {
        Ok(match self.wait(cx, &mut waiting).await? {
            Waited::Connected => Step::Talking(Box::new(Conversation::new(self.clone(), waiting))),
            Waited::Left(step) => step,
        })
    }

    /// Music (with the long-wait message and the announcements) until an
    /// agent answers, the call leaves the queue, or the caller hangs up.
    async fn wait(&self, cx: &mut Ctx<'_>, waiting: &mut Waiting) -> Result<Waited, HungUp> {
        let music = self
            .music
            .clone()
            .unwrap_or_else(|| PromptRef::Name("wait".into()));
        let announce = self.announce();
        // Fresh for each wait (a transfer by the agent starts a new one);
        // an overflow keeps it: the caller hears one wait going forward.
        let mut said = Said::default();
        // The first announcement comes right after the first music play.
        let mut announce_at = announce.map(|_| tokio::time::Instant::now());
        let mut pending: VecDeque<String> = VecDeque::new();
        let mut long_wait_due = false;
        loop {
            let (prompt, playing) = if let Some(piece) = pending.pop_front() {
                (PromptRef::Name(piece), Playing::Announcement)
            } else if long_wait_due {
                long_wait_due = false;
                let p = self.long_wait_prompt.clone().unwrap_or(music.clone());
                (p, Playing::LongWait)
            } else {
                (music.clone(), Playing::Music)
            };
            let event = {
                let play = cx.play(&prompt, false);
                tokio::pin!(play);
                loop {
                    tokio::select! {
                        // The ACD's word first: once it bridged the caller,
                        // the play it stopped must not start the music again.
                        biased;
                        n = waiting.next() => match n {
                            Some(Notice::Connected { agent }) => {
                                break Event::Connected { agent }
                            }
                            Some(Notice::Left { reason, destination }) => {
                                break Event::Left { reason, destination }
                            }
                            None => break Event::AcdGone,
                            Some(Notice::LongWait) if self.long_wait_prompt.is_some() => {
                                long_wait_due = true;
                                // The music gives way at once; an
                                // announcement is said whole first.
                                if playing == Playing::Music {
                                    break Event::Interrupted;
                                }
                            }
                            Some(
                                Notice::LongWait
                                | Notice::Offered { .. }
                                | Notice::Overflowed { .. }
                                | Notice::AgentEnded { .. }
                                | Notice::Transferred { .. }
                                | Notice::TransferredOut { .. },
                            ) => {}
                        },
                        played = &mut play => break Event::Played(played),
                    }
                }
            };
            match event {
                Event::Played(Err(HungUp)) => {
                    waiting.caller_hung_up();
                    return Err(HungUp);
                }
                Event::Played(Ok(None)) if playing != Playing::Announcement => {
                    tokio::time::sleep(NO_MUSIC_PAUSE).await
                }
                Event::Played(Ok(_)) => {}
                Event::Interrupted => continue, // the long-wait message first
                Event::Connected { agent } => {
                    // The ACD bridged the two: the music gave way.
                    cx.note_input(&agent);
                    return Ok(Waited::Connected);
                }
                Event::Left {
                    reason,
                    destination,
                } => {
                    tracing::info!(queue = %self.queue, reason = %reason, destination = destination.as_deref().unwrap_or(""), "call left the queue");
                    return Ok(Waited::Left(self.left(&reason)));
                }
                Event::AcdGone => return Ok(Waited::Left(self.left("unavailable"))),
            }
            // Between two plays of the music: the announcement, when due.
            let (Some((every, a)), Some(at)) = (announce, announce_at) else {
                continue;
            };
            let now = tokio::time::Instant::now();
            if playing != Playing::Music || !pending.is_empty() || now < at {
                continue;
            }
            let Some(pos) = waiting.position().await else {
                continue; // connected meanwhile, or the ACD is gone
            };
            let pieces = said.next(&a, pos.position, pos.ewt);
            if pieces.is_empty() {
                // Ringing, or further back than last said: try again after
                // the next play of the music.
                continue;
            }
            tracing::debug!(queue = %self.queue, position = pos.position, ewt_s = pos.ewt.as_secs(), "position announcement");
            pending.extend(pieces);
            announce_at = Some(now + every);
        }
    }
}

/// What the caller hears now while waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Playing {
    Music,
    LongWait,
    Announcement,
}

/// What ended one play while waiting.
enum Event {
    Played(Result<Option<PlayResult>, HungUp>),
    /// The music gave way to the long-wait message.
    Interrupted,
    Connected {
        agent: String,
    },
    Left {
        reason: String,
        destination: Option<String>,
    },
    AcdGone,
}

/// How waiting in the queue ended.
enum Waited {
    Connected,
    Left(Step),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::flow::{Flow, Known};
    use crate::node::Node;

    fn flow(queue_options: &str, has: &dyn Fn(&str) -> bool) -> Result<Flow, Vec<String>> {
        let text = format!(
            "[flow]\nstart = \"q\"\n\n[nodes.q]\nkind = \"queue\"\nqueue = \"general\"\n{queue_options}\n"
        );
        Flow::parse(&text, "t.toml", "t", Path::new("."), &Known::prompts(has))
            .map_err(|e| e.iter().map(|e| e.to_string()).collect())
    }

    fn queue(f: &Flow) -> &super::Queue {
        match &f.nodes["q"].node {
            Node::Queue(q) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn announcement_options_and_their_defaults() {
        let all = |_: &str| true;
        let f = flow("", &all).unwrap();
        assert!(queue(&f).announce().is_none(), "off by default");
        let f = flow("announce_every_s = 60", &all).unwrap();
        let (every, a) = queue(&f).announce().unwrap();
        assert_eq!(every.as_secs(), 60);
        assert!(a.position && a.wait);
        assert_eq!(a.max_wait_min, 30);
        let f = flow(
            "announce_every_s = 30\nannounce_position = false\nannounce_max_wait_min = 15",
            &all,
        )
        .unwrap();
        let (_, a) = queue(&f).announce().unwrap();
        assert!(!a.position && a.wait);
        assert_eq!(a.max_wait_min, 15);
        let f = flow("announce_every_s = 0\nannounce_wait = false", &all).unwrap();
        assert!(queue(&f).announce().is_none());
        assert!(queue(&f).prompts().is_empty());
    }

    #[test]
    fn bad_announcement_options_are_errors_with_their_line() {
        let all = |_: &str| true;
        let e = flow("announce_every_s = 60\nannounce_max_wait_min = 120", &all).unwrap_err();
        assert!(
            e.iter()
                .any(|m| m.starts_with("t.toml:8: node \"q\": announce_max_wait_min: 120 minutes")),
            "{e:?}"
        );
        let e = flow(
            "announce_every_s = 60\nannounce_position = false\nannounce_wait = false",
            &all,
        )
        .unwrap_err();
        assert!(
            e.iter()
                .any(|m| m.starts_with("t.toml:7: node \"q\": announce_every_s: announcements on")),
            "{e:?}"
        );
        let e = flow("announce_evry_s = 60", &all).unwrap_err();
        assert!(e[0].contains("unknown field"), "{e:?}");
    }

    #[test]
    fn a_missing_announcement_prompt_is_a_load_error() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts");
        let has = |p: &str| p != "n57" && shipped.join(format!("{p}.wav")).is_file();
        assert!(flow("announce_every_s = 60", &|p: &str| shipped
            .join(format!("{p}.wav"))
            .is_file())
        .is_ok());
        let e = flow("announce_every_s = 60", &has).unwrap_err();
        assert_eq!(
            e,
            ["t.toml:4: node \"q\": announce_every_s: prompt \"n57\" does not exist"]
        );
        // Positions off: n57 is not needed for minutes up to 30.
        assert!(flow("announce_every_s = 60\nannounce_position = false", &has).is_ok());
        // Announcements off: no piece is needed.
        assert!(flow("", &|p: &str| p == "wait").is_ok());
    }
}
