//! Read-only views of the router: for `GET /queues`, `/metrics`, position
//! announcements and agent desktops. Plain serializable structs.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::AgentStateKind;
use crate::event::CallId;
use crate::strategy::Strategy;

/// The whole router at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Queues in config order, then queues removed by a reload that still
    /// hold calls (`active: false`).
    pub queues: Vec<QueueSnapshot>,
    /// Agents in config order, then removed agents still busy.
    pub agents: Vec<AgentView>,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSnapshot {
    /// Name.
    pub name: String,
    /// In the current config; `false`: removed, serving its last calls.
    pub active: bool,
    /// Strategy.
    pub strategy: Strategy,
    /// Calls waiting (not ringing an agent).
    pub waiting: usize,
    /// Calls ringing one or more agents.
    pub offering: usize,
    /// Longest current wait among waiting calls, since `Enqueue`.
    pub longest_wait_ms: u64,
    /// Mean of the last 20 talk + wrap-up durations (180 s before any).
    pub avg_handle_ms: u64,
    /// Agents whose skills meet the queue's requirement, by state.
    pub agents: AgentCounts,
    /// The disposition codes an agent may qualify its calls with (any
    /// when empty).
    pub dispositions: Vec<String>,
}

/// Agents by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentCounts {
    /// Logged out.
    pub logged_out: usize,
    /// Available (registered or not).
    pub available: usize,
    /// Ringing.
    pub reserved: usize,
    /// On a call.
    pub on_call: usize,
    /// In wrap-up.
    pub wrap_up: usize,
    /// Paused.
    pub paused: usize,
    /// Logged in but phone not registered (also counted in their state).
    pub unregistered: usize,
    /// Could be offered a call right now.
    pub offerable: usize,
}

impl AgentCounts {
    pub(crate) fn add(&mut self, view: &AgentView) {
        let n = match view.state {
            AgentStateKind::LoggedOut => &mut self.logged_out,
            AgentStateKind::Available => &mut self.available,
            AgentStateKind::Reserved => &mut self.reserved,
            AgentStateKind::OnCall => &mut self.on_call,
            AgentStateKind::WrapUp => &mut self.wrap_up,
            AgentStateKind::Paused => &mut self.paused,
        };
        *n += 1;
        self.unregistered += usize::from(view.logged_in && !view.registered);
        self.offerable += usize::from(view.offerable);
    }
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    /// Id.
    pub id: String,
    /// State.
    pub state: AgentStateKind,
    /// Pause reason.
    pub reason: Option<String>,
    /// Phone registered.
    pub registered: bool,
    /// Logged in.
    pub logged_in: bool,
    /// Could be offered a call right now (logged in, registered, available,
    /// not in reject delay).
    pub offerable: bool,
    /// Calls answered since login.
    pub calls_answered: u64,
    /// Active queues whose skills this agent meets (the queues it serves).
    pub queues: Vec<String>,
    /// The call it rings for or talks on.
    pub call: Option<CallId>,
    /// Pause asked for while busy, applied after the call and wrap-up.
    pub pending_pause: Option<String>,
    /// Logout asked for while busy.
    pub pending_logout: bool,
    /// Start of the current state (`None` before the router's first input).
    #[serde(skip)]
    pub since: Option<Instant>,
    /// Time in the current state, at the snapshot instant (for `agent()`:
    /// at the router's latest input).
    pub in_state_ms: u64,
}

/// Where a call stands in its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Queue name.
    pub queue: String,
    /// 1-based rank; 0 while an agent's phone rings for it.
    pub position: usize,
    /// Estimated wait: position x average handle time / agents logged in
    /// serving the queue (at least 1). Zero while ringing.
    #[serde(serialize_with = "as_secs")]
    pub ewt: Duration,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
