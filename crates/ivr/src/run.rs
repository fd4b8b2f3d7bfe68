//! The interpreter: walks a flow's nodes over a call handle, with the call's
//! variables, until a node ends the call or the caller hangs up.

use std::collections::HashMap;
use std::sync::Arc;

use call::acd::Acd;
use call::{CallHandle, Dialer, HungUp, PlayResult};
use cdr::{classify_caller, CallerClass};
use chrono::{DateTime, Utc};
use media::prompt::PromptLibrary;

use crate::flow::Flow;
use crate::node::queue::conversation::Conversation;
use crate::node::PromptRef;

/// Where a node sends the call.
#[derive(Debug)]
pub enum Step {
    Next(String),
    /// End the call with this disposition.
    Hangup(String),
    /// A `queue` node connected the caller with an agent and ended: the
    /// flow follows the conversation, then goes where it says.
    Talking(Box<Conversation>),
}

/// Steps after which a flow is assumed broken (validation prevents loops
/// without caller input; this is the last guard).
const MAX_STEPS: usize = 10_000;

/// What a node sees while it runs.
pub struct Ctx<'a> {
    pub call: &'a mut CallHandle,
    pub flow: &'a Flow,
    pub prompts: &'a PromptLibrary,
    pub vars: HashMap<String, String>,
    /// What the caller entered in the node running now.
    pub input: Option<String>,
    /// The ACD `queue` nodes hand calls to, when one runs.
    pub acd: Option<Acd>,
    /// Calls out for `transfer` nodes.
    pub dialer: Option<Dialer>,
}

/// What the call layer lends flows: the ACD and the dialer.
#[derive(Clone, Default)]
pub struct Services {
    pub acd: Option<Acd>,
    pub dialer: Option<Dialer>,
}

impl Ctx<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Play a prompt by reference; a missing prompt is logged and skipped.
    pub async fn play(
        &mut self,
        p: &PromptRef,
        barge_in: bool,
    ) -> Result<Option<PlayResult>, HungUp> {
        let name = match p {
            PromptRef::Name(n) => n.clone(),
            PromptRef::Var(v) => self.vars.get(v).cloned().unwrap_or_default(),
        };
        match self.prompts.get(&name) {
            Some(prompt) => self.call.play(prompt, barge_in).await.map(Some),
            None => {
                tracing::error!(prompt = %name, flow = %self.flow.name, "prompt not found; skipped");
                Ok(None)
            }
        }
    }

    /// `${name}` -> the variable's value (empty when unset).
    pub fn expand(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            match rest[i + 2..].find('}') {
                Some(j) => {
                    let name = &rest[i + 2..i + 2 + j];
                    out.push_str(self.vars.get(name).map(String::as_str).unwrap_or(""));
                    rest = &rest[i + 3 + j..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The caller's number class as a branch sees it.
    pub fn caller_class(&self) -> &'static str {
        let info = self.call.info();
        // The CDR's rule, so branches and reports agree.
        match classify_caller(info.caller.as_deref(), info.withheld) {
            CallerClass::Mobile => "mobile",
            CallerClass::Landline => "landline",
            CallerClass::International => "international",
            CallerClass::Withheld => "withheld",
            CallerClass::Other => "other",
        }
    }

    /// What the caller entered in this node (goes into the node's CDR step).
    pub fn note_input(&mut self, value: &str) {
        tracing::debug!(flow = %self.flow.name, input = %value, "caller input");
        self.input = Some(value.to_string());
    }
}

impl<'a> Ctx<'a> {
    /// A fresh context for a call: variables `caller`, `did`, `flow`.
    fn new(
        call: &'a mut CallHandle,
        flow: &'a Flow,
        prompts: &'a PromptLibrary,
        services: Services,
    ) -> Ctx<'a> {
        let info = call.info().clone();
        let mut vars = HashMap::new();
        vars.insert(
            "caller".to_string(),
            info.caller.clone().unwrap_or_default(),
        );
        vars.insert("did".to_string(), info.did.clone());
        vars.insert("flow".to_string(), flow.name.clone());
        Ctx {
            call,
            flow,
            prompts,
            vars,
            input: None,
            acd: services.acd,
            dialer: services.dialer,
        }
    }
}

/// A file 0 in `queue` mode: after its message the call waits in `queue`
/// (waiting music, agents as usual) instead of running its flow, and
/// ends when the conversation or the wait does.
pub async fn run_file0_queue(
    flow: Arc<Flow>,
    prompts: Arc<PromptLibrary>,
    services: Services,
    mut call: CallHandle,
    queue: String,
) {
    let node: crate::node::queue::Queue = match toml::from_str(&format!("queue = {queue:?}")) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(queue = %queue, error = %e, "file 0 queue: bad queue name");
            call.hangup();
            return;
        }
    };
    let mut cx = Ctx::new(&mut call, &flow, &prompts, services);
    let result = node.run(&mut cx).await;
    cx.call.record(cdr::EventKind::Step {
        node: "file0".into(),
        node_kind: "queue".into(),
        input: cx.input.take(),
    });
    if converse(&mut cx, result).await.is_ok() {
        cx.call.hangup();
    }
}

/// Where the flow goes once a step's conversations are over.
enum Then {
    Node(String),
    End(String),
}

/// Follow the conversations a step leads to (one more after each agent's
/// transfer to a queue) until the flow goes on or the caller is gone.
async fn converse(cx: &mut Ctx<'_>, mut result: Result<Step, HungUp>) -> Result<Then, HungUp> {
    loop {
        match result? {
            Step::Talking(conversation) => result = conversation.follow(cx).await,
            Step::Next(node) => return Ok(Then::Node(node)),
            Step::Hangup(disposition) => return Ok(Then::End(disposition)),
        }
    }
}

/// Run `flow` on a call to its end.
pub async fn run_flow(
    flow: Arc<Flow>,
    prompts: Arc<PromptLibrary>,
    services: Services,
    mut call: CallHandle,
) {
    let mut cx = Ctx::new(&mut call, &flow, &prompts, services);
    let mut current = flow.start.clone();
    for _ in 0..MAX_STEPS {
        let Some(entry) = flow.nodes.get(&current) else {
            tracing::error!(node = %current, flow = %flow.name, "flow leads to a missing node");
            break;
        };
        tracing::debug!(node = %current, flow = %flow.name, "node");
        let result = entry.node.run(&mut cx).await;
        cx.call.record(cdr::EventKind::Step {
            node: current.clone(),
            node_kind: entry.node.kind().to_string(),
            input: cx.input.take(),
        });
        match converse(&mut cx, result).await {
            Ok(Then::Node(n)) => current = n,
            Ok(Then::End(disposition)) => {
                tracing::info!(node = %current, disposition = %disposition, "flow ended the call");
                cx.call.record(cdr::EventKind::FlowEnded { disposition });
                break;
            }
            Err(HungUp) => {
                tracing::info!(node = %current, "caller hung up in the flow");
                return;
            }
        }
    }
    cx.call.hangup();
}
