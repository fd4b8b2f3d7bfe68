//! The IVR as the call layer sees it: a `CallScript` that looks up the
//! call's flow in the current flow set (pinned for the life of the call)
//! and interprets it.

use std::sync::{Arc, RwLock};

use call::{CallHandle, CallScript, ScriptFuture};
use chrono::{DateTime, Utc};
use media::prompt::PromptLibrary;

use crate::flow::FlowSet;
use crate::run::run_flow;

/// Runs flows on answered calls. The flow set is swapped whole on reload;
/// a call keeps the version it started with.
pub struct FlowScript {
    flows: RwLock<Arc<FlowSet>>,
    prompts: Arc<PromptLibrary>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl FlowScript {
    pub fn new(flows: FlowSet, prompts: Arc<PromptLibrary>) -> Self {
        FlowScript {
            flows: RwLock::new(Arc::new(flows)),
            prompts,
            clock: Arc::new(Utc::now),
        }
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
        let prompts = self.prompts.clone();
        let clock = self.clock.clone();
        Box::pin(async move {
            let mut call = call;
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
