//! Installing a configuration: at start, and on hot reload without losing
//! calls, agent states or statistics.

use std::collections::BTreeSet;
use std::time::Instant;

use super::{CallState, Router};
use crate::agent::{Agent, AgentState};
use crate::config::{AcdConfig, AgentConfig, QueueConfig};
use crate::event::CallId;
use crate::queue::Queue;

impl Router {
    /// `now` is `None` only at construction (no outputs then).
    pub(super) fn install(&mut self, now: Option<Instant>, cfg: AcdConfig) {
        self.install_queues(cfg.queues);
        self.install_agents(now, cfg.agents);
        if now.is_some() {
            self.refresh_calls();
        }
    }

    /// Same name, same slot (waiting calls and handle times kept). Queues
    /// left out become inactive: no new calls, the waiting ones still served.
    fn install_queues(&mut self, queues: Vec<QueueConfig>) {
        for q in &mut self.queues {
            q.active = false;
        }
        for (order, cfg) in queues.into_iter().enumerate() {
            match self.queue_ix.get(&cfg.name) {
                Some(&q) => self.queues[q].set_config(cfg, order),
                None => {
                    self.queue_ix.insert(cfg.name.clone(), self.queues.len());
                    self.queues.push(Queue::new(cfg, order));
                }
            }
        }
    }

    fn install_agents(&mut self, now: Option<Instant>, agents: Vec<AgentConfig>) {
        let mut kept = BTreeSet::new();
        for (order, cfg) in agents.into_iter().enumerate() {
            kept.insert(cfg.id.clone());
            match self.agent_ix.get(&cfg.id) {
                Some(&a) => self.update_agent(now, a, cfg, order),
                None => self.add_agent(now, cfg, order),
            }
        }
        for a in 0..self.agents.len() {
            if !self.agents[a].retired && !kept.contains(&self.agents[a].id) {
                self.retire(now, a);
            }
        }
    }

    fn add_agent(&mut self, now: Option<Instant>, cfg: AgentConfig, order: usize) {
        let a = self.agents.len();
        let mut agent = Agent::new(cfg.id.clone(), cfg.skills, order, cfg.logged_in);
        agent.since = now;
        self.agents.push(agent);
        self.agent_ix.insert(cfg.id, a);
        if now.is_some() {
            self.emit_agent_state(a);
        }
    }

    /// New skills and order; state, registration and counts kept. An agent
    /// coming back after removal starts as configured.
    fn update_agent(&mut self, now: Option<Instant>, a: usize, cfg: AgentConfig, order: usize) {
        let ag = &mut self.agents[a];
        ag.skills = cfg.skills;
        ag.order = order;
        if !ag.retired {
            return;
        }
        ag.retired = false;
        let logged_out = ag.state == AgentState::LoggedOut;
        if let (Some(now), true, true) = (now, logged_out, cfg.logged_in) {
            ag.answered = 0;
            self.set_state(now, a, AgentState::Available);
        }
    }

    /// Removed from the config: logged out now, or after its call and wrap-up.
    fn retire(&mut self, now: Option<Instant>, a: usize) {
        let ag = &mut self.agents[a];
        ag.retired = true;
        ag.order = usize::MAX;
        if ag.busy() || !ag.logged_in() {
            return;
        }
        match now {
            Some(now) => self.set_state(now, a, AgentState::LoggedOut),
            None => ag.state = AgentState::LoggedOut,
        }
    }

    /// Calls not yet connected take their queue's new requirement and timers.
    fn refresh_calls(&mut self) {
        let ids: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| !matches!(c.state, CallState::Connected { .. }))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.refresh_call(id);
        }
    }

    fn refresh_call(&mut self, id: CallId) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        let q = c.queue;
        let widened = c.widened && self.queues[q].widen.is_some();
        let extra = c.extra.clone();
        let req = self.intern_req(q, widened, &extra);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.state == CallState::Waiting && c.req != req {
            let list = &mut self.queues[q].list;
            list.remove(c.req, c.key, c.arrival_ns);
            list.push(req, c.key, c.arrival_ns, id);
        }
        c.req = req;
        c.widened = widened;
        c.overflow_due = false;
        c.max_wait_due = false;
        self.arm_call_timers(id);
    }

    /// Restore the routing invariant after a change that may have made
    /// agents eligible for waiting calls: each idle agent, in config order,
    /// takes its best call.
    pub(super) fn rebalance(&mut self, now: Instant) {
        let mut idle: Vec<usize> = self.idle.iter().copied().collect();
        idle.sort_by_key(|&a| (self.agents[a].order, a));
        for a in idle {
            self.dispatch_agent(now, a);
        }
    }
}
