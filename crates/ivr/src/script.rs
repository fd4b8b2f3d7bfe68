//! The IVR as the call layer sees it: a `CallScript` that looks up the
//! call's flow in the current flow set (pinned for the life of the call)
//! and interprets it.

use std::sync::{Arc, RwLock};

use call::{CallHandle, CallScript, ScriptFuture};
use chrono::{DateTime, Utc};

use crate::file0::{File0, Mode};
use crate::flow::FlowSet;
use crate::prompts::PromptStore;
use crate::run::run_flow;

/// Runs flows on answered calls. The flow set is swapped whole on reload;
/// a call keeps the version it started with.
pub struct FlowScript {
    flows: RwLock<Arc<FlowSet>>,
    prompts: Arc<PromptStore>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    file0: Arc<File0>,
}

impl FlowScript {
    pub fn new(flows: FlowSet, prompts: Arc<PromptStore>) -> Self {
        FlowScript {
            flows: RwLock::new(Arc::new(flows)),
            prompts,
            clock: Arc::new(Utc::now),
            file0: Arc::new(File0::default()),
        }
    }

    /// Shipped and uploaded prompts.
    pub fn prompts(&self) -> &Arc<PromptStore> {
        &self.prompts
    }

    /// The file 0 overrides new calls are checked against.
    pub fn file0(&self) -> &Arc<File0> {
        &self.file0
    }

    /// The flow set new calls use.
    pub fn current(&self) -> Arc<FlowSet> {
        self.flows.read().expect("flow set lock").clone()
    }

    /// Publish a new flow set for new calls.
    pub fn replace(&self, flows: FlowSet) {
        *self.flows.write().expect("flow set lock") = Arc::new(flows);
    }
}

impl CallScript for FlowScript {
    fn run(&self, call: CallHandle) -> ScriptFuture {
        let flow = self.current().get(&call.info().flow);
        // The call keeps this prompt library even if a prompt is replaced.
        let prompts = self.prompts.current();
        let clock = self.clock.clone();
        let redirect = self.file0.redirect(&call.info().did, &call.info().flow);
        Box::pin(async move {
            let mut call = call;
            if let Some(a) = redirect {
                tracing::info!(activation = %a.id, target = %a.target, mode = a.mode.as_str(), "file 0: call redirected");
                call.record(cdr::EventKind::File0 {
                    activation_id: a.id.clone(),
                    requested_at: a.requested_at,
                    mode: a.mode.as_str().to_string(),
                    prompt: a.prompt.clone(),
                });
                match prompts.get(&a.prompt) {
                    Some(p) => {
                        if call.play(p, false).await.is_err() {
                            return;
                        }
                    }
                    None => tracing::error!(prompt = %a.prompt, "file 0 prompt not found"),
                }
                if a.mode == Mode::Hangup {
                    call.hangup();
                    return;
                }
            }
            match flow {
                Some(flow) => run_flow(flow, prompts, call, clock).await,
                None => {
                    tracing::error!(flow = %call.info().flow, "no such flow; hanging up");
                    call.hangup();
                }
            }
        })
    }
}
