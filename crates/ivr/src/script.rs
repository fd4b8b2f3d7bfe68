//! The IVR as the call layer sees it: a `CallScript` that looks up the
//! call's flow in the current flow set (pinned for the life of the call)
//! and interprets it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use call::acd::Acd;
use call::{CallHandle, CallScript, Dialer, ScriptFuture};
use chrono::{DateTime, Utc};

use crate::file0::{File0, Mode};
use crate::flow::FlowSet;
use crate::prompts::PromptStore;
use crate::run::{run_file0_queue, run_flow, Services};

/// One loaded flow set, as kept in the history.
#[derive(Clone)]
pub struct FlowVersion {
    /// Version number: 1 at start, then one more for each version loaded.
    pub version: u64,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
    /// The flows of this version.
    pub flows: Arc<FlowSet>,
    /// Where it came from ("start", "SIGHUP", "édité par NAME"...).
    pub origin: String,
}

/// Runs flows on answered calls. The flow set is swapped whole on reload;
/// a call keeps the version it started with. Every version stays in the
/// history and can be made current again (rollback). A version under test
/// (staged) serves only the test DIDs until it is promoted for all.
pub struct FlowScript {
    flows: RwLock<FlowVersion>,
    candidate: RwLock<Option<FlowVersion>>,
    test_dids: RwLock<HashSet<String>>,
    history: Mutex<Vec<FlowVersion>>,
    prompts: Arc<PromptStore>,
    file0: Arc<File0>,
    /// Set once the ACD runs (it starts after the call layer the script
    /// belongs to).
    acd: OnceLock<Acd>,
    dialer: OnceLock<Dialer>,
}

impl FlowScript {
    /// Serve `flows` as version 1 (origin `start`), with these prompts; no
    /// file 0 override, ACD or dialer yet.
    pub fn new(flows: FlowSet, prompts: Arc<PromptStore>) -> Self {
        let first = FlowVersion {
            version: 1,
            loaded_at: Utc::now(),
            flows: Arc::new(flows),
            origin: "start".into(),
        };
        FlowScript {
            flows: RwLock::new(first.clone()),
            candidate: RwLock::new(None),
            test_dids: RwLock::new(HashSet::new()),
            history: Mutex::new(vec![first]),
            prompts,
            file0: Arc::new(File0::default()),
            acd: OnceLock::new(),
            dialer: OnceLock::new(),
        }
    }

    /// Calls out for `transfer` nodes (set once at start).
    pub fn set_dialer(&self, dialer: Dialer) {
        let _ = self.dialer.set(dialer);
    }

    /// Hand `queue` nodes to this ACD (set once at start; later calls are
    /// ignored).
    pub fn set_acd(&self, acd: Acd) {
        let _ = self.acd.set(acd);
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
        self.flows.read().expect("flow set lock").flows.clone()
    }

    /// The version new calls use (the production numbers').
    pub fn in_use(&self) -> FlowVersion {
        self.flows.read().expect("flow set lock").clone()
    }

    /// The current version number.
    pub fn current_version(&self) -> u64 {
        self.flows.read().expect("flow set lock").version
    }

    /// Every version loaded since start, oldest first.
    pub fn history(&self) -> Vec<FlowVersion> {
        self.history.lock().expect("flow history lock").clone()
    }

    /// Publish a new flow set for new calls; its version number.
    pub fn replace(&self, flows: FlowSet, origin: &str) -> u64 {
        let v = self.push(flows, origin);
        let version = v.version;
        *self.flows.write().expect("flow set lock") = v;
        version
    }

    /// Add a version to the history (not in use yet).
    fn push(&self, flows: FlowSet, origin: &str) -> FlowVersion {
        let mut history = self.history.lock().expect("flow history lock");
        let v = FlowVersion {
            version: history.last().map_or(1, |h| h.version + 1),
            loaded_at: Utc::now(),
            flows: Arc::new(flows),
            origin: origin.to_string(),
        };
        history.push(v.clone());
        v
    }

    /// The DIDs that take the version under test, when there is one.
    pub fn set_test_dids(&self, dids: impl IntoIterator<Item = String>) {
        *self.test_dids.write().expect("test DIDs lock") = dids.into_iter().collect();
    }

    /// The DIDs that take the version under test, sorted.
    pub fn test_dids(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .test_dids
            .read()
            .expect("test DIDs lock")
            .iter()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Put a new version under test: new calls to the test DIDs use it,
    /// every other number keeps the current one. Replaces an earlier
    /// version under test.
    pub fn stage(&self, flows: FlowSet, origin: &str) -> FlowVersion {
        let v = self.push(flows, origin);
        *self.candidate.write().expect("candidate lock") = Some(v.clone());
        tracing::warn!(version = v.version, test_dids = ?self.test_dids(), "flow version under test on the test DIDs");
        v
    }

    /// The version under test, if any.
    pub fn candidate(&self) -> Option<FlowVersion> {
        self.candidate.read().expect("candidate lock").clone()
    }

    /// Make the version under test current for every number.
    pub fn promote(&self) -> Option<FlowVersion> {
        let v = self.candidate.write().expect("candidate lock").take()?;
        *self.flows.write().expect("flow set lock") = v.clone();
        tracing::warn!(
            version = v.version,
            "flow version promoted: new calls on every number use it"
        );
        Some(v)
    }

    /// Drop the version under test (it stays in the history).
    pub fn discard(&self) -> Option<FlowVersion> {
        let v = self.candidate.write().expect("candidate lock").take()?;
        tracing::warn!(version = v.version, "flow version under test withdrawn");
        Some(v)
    }

    /// Make an earlier version current again for new calls.
    pub fn rollback(&self, version: u64) -> Option<FlowVersion> {
        let found = self
            .history
            .lock()
            .expect("flow history lock")
            .iter()
            .find(|h| h.version == version)
            .cloned()?;
        *self.flows.write().expect("flow set lock") = found.clone();
        tracing::warn!(version, "flows rolled back; new calls use this version");
        Some(found)
    }
}

impl CallScript for FlowScript {
    fn run(&self, call: CallHandle) -> ScriptFuture {
        let (flow, version) = {
            let testing = self
                .test_dids
                .read()
                .expect("test DIDs lock")
                .contains(&call.info().did);
            let candidate = self.candidate.read().expect("candidate lock");
            let current = self.flows.read().expect("flow set lock");
            let v = match &*candidate {
                Some(c) if testing => c,
                _ => &*current,
            };
            (v.flows.get(&call.info().flow), v.version)
        };
        // The call keeps this prompt library even if a prompt is replaced.
        let prompts = self.prompts.current();
        let redirect = self.file0.redirect(&call.info().did, &call.info().flow);
        let services = Services {
            acd: self.acd.get().cloned(),
            dialer: self.dialer.get().cloned(),
        };
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
                if let (Mode::Queue, Some(queue), Some(flow)) = (a.mode, &a.queue, &flow) {
                    call.record(cdr::EventKind::FlowStarted { version });
                    return run_file0_queue(flow.clone(), prompts, services, call, queue.clone())
                        .await;
                }
            }
            match flow {
                Some(flow) => {
                    call.record(cdr::EventKind::FlowStarted { version });
                    run_flow(flow, prompts, services, call).await
                }
                None => {
                    tracing::error!(flow = %call.info().flow, "no such flow; hanging up");
                    call.hangup();
                }
            }
        })
    }
}
