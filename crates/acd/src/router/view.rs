//! Read-only views: snapshot, a call's position and estimated wait, an agent.

use std::time::{Duration, Instant};

use super::{CallState, Router};
use crate::agent::Pending;
use crate::event::CallId;
use crate::queue::Queue;
use crate::skills::satisfies;
use crate::snapshot::{millis, AgentCounts, AgentView, Position, QueueSnapshot, Snapshot};

impl Router {
    /// Queues and agents at `now`, for `GET /queues` and `/metrics`.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let mut agents: Vec<usize> = (0..self.agents.len())
            .filter(|&a| self.agents[a].visible())
            .collect();
        agents.sort_by_key(|&a| (self.agents[a].order, a));
        let views: Vec<AgentView> = agents.iter().map(|&a| self.view(a, Some(now))).collect();
        let mut queues: Vec<&Queue> = self
            .queues
            .iter()
            .filter(|q| q.active || !q.is_empty())
            .collect();
        queues.sort_by_key(|q| (!q.active, q.order));
        let queues = queues
            .into_iter()
            .map(|q| self.queue_snapshot(q, &agents, &views, now))
            .collect();
        Snapshot {
            queues,
            agents: views,
        }
    }

    fn queue_snapshot(
        &self,
        q: &Queue,
        agents: &[usize],
        views: &[AgentView],
        now: Instant,
    ) -> QueueSnapshot {
        let mut counts = AgentCounts::default();
        for (&a, view) in agents.iter().zip(views) {
            if satisfies(&self.agents[a].skills, &q.base) {
                counts.add(view);
            }
        }
        let longest_ns = q
            .list
            .oldest_arrival()
            .map_or(0, |arrival| self.ns(now).saturating_sub(arrival).max(0));
        QueueSnapshot {
            name: q.cfg.name.clone(),
            active: q.active,
            strategy: q.cfg.strategy,
            waiting: q.list.waiting(),
            offering: q.list.offering(),
            longest_wait_ms: longest_ns as u64 / 1_000_000,
            avg_handle_ms: millis(q.average_handle_time()),
            agents: counts,
            dispositions: q.cfg.dispositions.clone(),
        }
    }

    /// The call's place in its queue: 1-based among the calls waiting or
    /// ringing ahead of it, 0 while it rings an agent itself, `None` once
    /// connected or unknown. O(position).
    pub fn position(&self, call: CallId) -> Option<Position> {
        let c = self.calls.get(&call)?;
        let q = &self.queues[c.queue];
        let queue = q.cfg.name.clone();
        match c.state {
            CallState::Connected { .. } => None,
            CallState::Offering(_) => Some(Position {
                queue,
                position: 0,
                ewt: Duration::ZERO,
            }),
            CallState::Waiting => {
                let now = self.ns(self.last_now.unwrap_or_else(Instant::now));
                let position = q.list.rank(c.key, now) + 1;
                let ewt = self.estimated_wait(q, position);
                Some(Position {
                    queue,
                    position,
                    ewt,
                })
            }
        }
    }

    /// position x average handle time / max(1, agents serving the queue):
    /// logged in with a registered phone (an agent whose phone is not
    /// registered takes no call, so counting it would promise too short a
    /// wait; a pause is a break, counted).
    fn estimated_wait(&self, q: &Queue, position: usize) -> Duration {
        let serving = self
            .agents
            .iter()
            .filter(|a| {
                !a.retired && a.logged_in() && a.registered && satisfies(&a.skills, &q.base)
            })
            .count()
            .max(1);
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        let serving = u32::try_from(serving).unwrap_or(u32::MAX);
        q.average_handle_time()
            .checked_mul(position)
            .map_or(Duration::MAX, |d| d / serving)
    }

    /// One agent, as of the router's latest input.
    pub fn agent(&self, id: &str) -> Option<AgentView> {
        let a = self.agent_index(id)?;
        Some(self.view(a, self.last_now))
    }

    fn view(&self, a: usize, now: Option<Instant>) -> AgentView {
        let ag = &self.agents[a];
        let in_state = match (now, ag.since) {
            (Some(now), Some(since)) => now.saturating_duration_since(since),
            _ => Duration::ZERO,
        };
        let offerable = match now.or(self.last_now) {
            Some(now) => ag.offerable(now),
            None => ag.idle(),
        };
        AgentView {
            id: ag.id.clone(),
            state: ag.kind(),
            reason: ag.reason().map(str::to_owned),
            registered: ag.registered,
            logged_in: ag.logged_in(),
            offerable,
            calls_answered: ag.answered,
            queues: self
                .queues
                .iter()
                .filter(|q| q.active && satisfies(&ag.skills, &q.base))
                .map(|q| q.cfg.name.clone())
                .collect(),
            call: ag.call(),
            pending_pause: match &ag.pending {
                Some(Pending::Pause(r)) => Some(r.clone()),
                _ => None,
            },
            pending_logout: ag.pending == Some(Pending::Logout),
            since: ag.since,
            in_state_ms: millis(in_state),
        }
    }
}
