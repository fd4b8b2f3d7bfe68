//! Node kinds, one file each with its parsing (serde) and its execution.

pub mod branch;
pub mod collect;
pub mod hangup;
pub mod http;
pub mod menu;
pub mod play;
pub mod queue;
pub mod recover;
pub mod set;
pub mod transfer;

use serde::{Deserialize, Deserializer};

use crate::run::{Ctx, Step};
use call::HungUp;

/// A prompt named in a flow: a fixed name, or `$var` for the prompt whose
/// name is in a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptRef {
    /// A fixed prompt name.
    Name(String),
    /// The variable (without its `$`) whose value names the prompt.
    Var(String),
}

impl<'de> Deserialize<'de> for PromptRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.strip_prefix('$') {
            Some(var) => PromptRef::Var(var.to_string()),
            None => PromptRef::Name(s),
        })
    }
}

/// One node of a flow.
#[derive(Debug, Clone)]
pub enum Node {
    /// `play`: one or more prompts, then `next`.
    Play(play::Play),
    /// `menu`: a greeting, then one digit picks the next node.
    Menu(menu::Menu),
    /// `collect`: read digits into a variable.
    Collect(collect::Collect),
    /// `branch`: pick the next node on the schedule, the caller's number
    /// class or a variable.
    Branch(branch::Branch),
    /// `set`: give a variable a value, then `next`.
    Set(set::Set),
    /// `goto`: jump to another node.
    Goto(set::Goto),
    /// `hangup`: an optional last prompt, then end the call.
    Hangup(hangup::Hangup),
    /// `http`: call an external API, response fields into variables.
    Http(http::Http),
    /// `queue`: hand the call to the ACD until an agent answers.
    Queue(queue::Queue),
    /// `transfer`: call a number or SIP URI and bridge the caller with it.
    Transfer(transfer::Transfer),
}

/// The node kinds a flow may use.
pub const KINDS: &str = "play, menu, collect, branch, set, goto, hangup, http, queue, transfer";

impl Node {
    /// The `kind` this node was written with.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Play(_) => "play",
            Node::Menu(_) => "menu",
            Node::Collect(_) => "collect",
            Node::Branch(_) => "branch",
            Node::Set(_) => "set",
            Node::Goto(_) => "goto",
            Node::Hangup(_) => "hangup",
            Node::Http(_) => "http",
            Node::Queue(_) => "queue",
            Node::Transfer(_) => "transfer",
        }
    }

    /// Every (key, target node) this node can lead to.
    pub fn targets(&self) -> Vec<(String, &str)> {
        match self {
            Node::Play(n) => vec![("next".into(), n.next.as_str())],
            Node::Menu(n) => n.targets(),
            Node::Collect(n) => vec![
                ("next".into(), n.next.as_str()),
                ("fallback".into(), n.fallback.as_str()),
            ],
            Node::Branch(n) => n.targets(),
            Node::Set(n) => vec![("next".into(), n.next.as_str())],
            Node::Goto(n) => vec![("next".into(), n.next.as_str())],
            Node::Hangup(_) => vec![],
            Node::Http(n) => vec![
                ("next".into(), n.next.as_str()),
                ("fallback".into(), n.fallback.as_str()),
            ],
            Node::Queue(n) => n.targets(),
            Node::Transfer(n) => n.targets(),
        }
    }

    /// Every (key, prompt) this node may play.
    pub fn prompts(&self) -> Vec<(&'static str, &PromptRef)> {
        match self {
            Node::Play(n) => n.prompts.iter().map(|p| ("prompts", p)).collect(),
            Node::Menu(n) => n.prompts(),
            Node::Collect(n) => n.prompts(),
            Node::Hangup(n) => n.prompt.iter().map(|p| ("prompt", p)).collect(),
            Node::Queue(n) => n.prompts(),
            Node::Transfer(n) => n.prompts(),
            Node::Branch(_) | Node::Set(_) | Node::Goto(_) | Node::Http(_) => vec![],
        }
    }

    /// Every (key, queue) this node hands calls to.
    pub fn queues(&self) -> Vec<(&'static str, &str)> {
        match self {
            Node::Queue(n) => vec![("queue", n.queue.as_str())],
            _ => vec![],
        }
    }

    /// True when leaving this node needs the caller (a digit or a timeout
    /// waiting for one): loops through such a node cannot spin.
    pub fn waits_for_caller(&self) -> bool {
        matches!(self, Node::Menu(_) | Node::Collect(_))
    }

    /// Node-specific checks: (key, message) for each problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        match self {
            Node::Menu(n) => n.check(),
            Node::Collect(n) => n.check(),
            Node::Branch(n) => n.check(),
            Node::Http(n) => n.check(),
            Node::Queue(n) => n.check(),
            Node::Transfer(n) => n.check(),
            _ => vec![],
        }
    }

    /// Run this node on the call: the step it leads to, or `Err(HungUp)`
    /// once the caller has hung up.
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        match self {
            Node::Play(n) => n.run(cx).await,
            Node::Menu(n) => n.run(cx).await,
            Node::Collect(n) => n.run(cx).await,
            Node::Branch(n) => Ok(n.run(cx)),
            Node::Set(n) => Ok(n.run(cx)),
            Node::Goto(n) => Ok(Step::Next(n.next.clone())),
            Node::Hangup(n) => n.run(cx).await,
            Node::Http(n) => n.run(cx).await,
            Node::Queue(n) => n.run(cx).await,
            Node::Transfer(n) => n.run(cx).await,
        }
    }
}
