//! The ACD's handles: `Acd` (start the edge, queue calls, supervisors'
//! actions, snapshots) and `Waiting` (one call in the ACD, from the
//! caller's side).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ::acd::{AcdConfig, CallId, Position, Router, Snapshot};
use media::engine::MediaEngine;
use tokio::sync::{mpsc, oneshot};

use super::edge::{recorded_queues, Edge};
use super::messages::EdgeIn;
use super::transfer::transfer_rules;
use super::{
    AgentAction, AgentActionError, MonitorError, MonitorTarget, Notice, QueueRequest,
    ReconfigureError,
};
use crate::handle::{CallInfo, CallPort};
use crate::leg::CallContext;
use crate::registrar::{RegEvent, Registrar};

/// Handle on the ACD; cheap to clone.
#[derive(Clone)]
pub struct Acd {
    tx: mpsc::UnboundedSender<EdgeIn>,
    next_call: Arc<AtomicU64>,
}

/// A call in the ACD, from the caller's side. Dropping it tells the ACD
/// the caller is gone.
pub struct Waiting {
    call: CallId,
    tx: mpsc::UnboundedSender<EdgeIn>,
    notices: mpsc::UnboundedReceiver<Notice>,
    caller_hung_up: bool,
}

impl Waiting {
    /// The next notice; `None` once the ACD is gone.
    pub async fn next(&mut self) -> Option<Notice> {
        self.notices.recv().await
    }

    /// The call's place in its queue and its estimated wait, as the router
    /// sees it now: position 1-based, 0 while an agent's phone rings for
    /// it; `None` once connected, or when the ACD is gone.
    pub async fn position(&self) -> Option<Position> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EdgeIn::Position {
                call: self.call,
                reply,
            })
            .ok()?;
        rx.await.ok().flatten()
    }

    /// The caller hung up (an abandon when still waiting); the ACD hears
    /// it when this handle is dropped.
    pub fn caller_hung_up(&mut self) {
        self.caller_hung_up = true;
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.tx.send(EdgeIn::Gone {
            call: self.call,
            caller_hung_up: self.caller_hung_up,
        });
    }
}

impl Acd {
    /// Start the ACD task. `registrations` carries the registrar's events.
    pub fn start(
        cfg: AcdConfig,
        ctx: CallContext,
        engine: MediaEngine,
        registrar: Arc<Registrar>,
        mut registrations: mpsc::UnboundedReceiver<RegEvent>,
        recordings: PathBuf,
    ) -> Result<Acd, acd::ConfigError> {
        let recorded = recorded_queues(&cfg);
        let queues = cfg.queues.iter().map(|q| q.name.clone()).collect();
        let cfg_rules = cfg.queues.clone();
        let router = Router::new(cfg)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let fwd = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = registrations.recv().await {
                if fwd.send(EdgeIn::Registration(ev)).is_err() {
                    break;
                }
            }
        });
        let edge = Edge {
            router,
            cdr: ctx.cdr.clone(),
            ctx,
            engine,
            registrar: registrar.clone(),
            calls: HashMap::new(),
            offers: HashMap::new(),
            last_call: HashMap::new(),
            recordings,
            recorded,
            queues,
            transfer_rules: transfer_rules(&cfg_rules),
            monitors: HashMap::new(),
            next_monitor: 1,
            tx: tx.clone(),
        };
        let acd = Acd {
            tx,
            next_call: Arc::new(AtomicU64::new(1)),
        };
        // Phones registered before the ACD started.
        for agent in registrar.registered() {
            let _ = acd.tx.send(EdgeIn::Registration(RegEvent::Registered {
                agent,
                contact: String::new(),
            }));
        }
        tokio::spawn(edge.run(rx));
        Ok(acd)
    }

    /// Put a call in a queue. The ACD bridges the caller through `port`
    /// when an agent answers, and unbridges at the conversation's end.
    pub fn enqueue(&self, info: Arc<CallInfo>, port: CallPort, req: QueueRequest) -> Waiting {
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let (ntx, nrx) = mpsc::unbounded_channel();
        let _ = self.tx.send(EdgeIn::Enqueue {
            call,
            info,
            port,
            req,
            notices: ntx,
        });
        Waiting {
            call,
            tx: self.tx.clone(),
            notices: nrx,
            caller_hung_up: false,
        }
    }

    /// A supervisor's action on an agent.
    pub async fn agent(&self, agent: &str, action: AgentAction) -> Result<(), AgentActionError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EdgeIn::Agent {
                agent: agent.to_string(),
                action,
                reply,
            })
            .map_err(|_| AgentActionError::Stopped)?;
        rx.await.map_err(|_| AgentActionError::Stopped)?
    }

    /// Silent monitoring: ring the registered phone of account `phone`; it
    /// hears the conversation (both sides, mixed) until that ends.
    pub async fn monitor(
        &self,
        target: MonitorTarget,
        phone: &str,
        by: &str,
    ) -> Result<(), MonitorError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EdgeIn::Monitor {
                target,
                phone: phone.to_string(),
                by: by.to_string(),
                reply,
            })
            .map_err(|_| MonitorError::Stopped)?;
        rx.await.map_err(|_| MonitorError::Stopped)?
    }

    /// Queues and agents now.
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(EdgeIn::Snapshot(reply)).ok()?;
        rx.await.ok()
    }

    /// New queues and agents (config reload); calls and agent states stay.
    pub async fn reconfigure(&self, cfg: AcdConfig) -> Result<(), ReconfigureError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EdgeIn::Reconfigure(cfg, reply))
            .map_err(|_| ReconfigureError::Stopped)?;
        Ok(rx.await.map_err(|_| ReconfigureError::Stopped)??)
    }
}
