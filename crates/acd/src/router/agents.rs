//! Agents: state changes, registration, login, pause, wrap-up, reject
//! delay and dispositions.

use std::time::Instant;

use super::Router;
use crate::agent::{AgentState, Pending};
use crate::event::{CallId, InputError, Output};
use crate::timers::{after, Timer};

impl Router {
    /// Enter `state` now, and tell the outside.
    pub(super) fn set_state(&mut self, now: Instant, a: usize, state: AgentState) {
        let ag = &mut self.agents[a];
        ag.state = state;
        ag.since = Some(now);
        if ag.state == AgentState::LoggedOut {
            ag.pending = None;
            ag.reject_until = None;
            self.timers.cancel(&mut ag.reject_timer);
        }
        self.refresh_idle(a);
        self.emit_agent_state(a);
    }

    pub(super) fn emit_agent_state(&mut self, a: usize) {
        let ag = &self.agents[a];
        let (state, reason) = (ag.kind(), ag.reason().map(str::to_owned));
        tracing::debug!(agent = %ag.id, state = state.as_str(), ?reason, registered = ag.registered, "agent state");
        self.emit(Output::AgentState {
            agent: ag.id.clone(),
            state,
            reason,
            registered: ag.registered,
        });
    }

    fn refresh_idle(&mut self, a: usize) {
        if self.agents[a].idle() {
            self.idle.insert(a);
        } else {
            self.idle.remove(&a);
        }
    }

    /// An offer, call or wrap-up is over: apply what was asked for while
    /// busy (logout, pause with its reason as given), else enter `default`.
    /// The caller then calls `dispatch_agent`.
    pub(super) fn settle(&mut self, now: Instant, a: usize, default: AgentState) {
        let ag = &mut self.agents[a];
        let next = if ag.retired {
            AgentState::LoggedOut
        } else {
            match ag.pending.take() {
                Some(Pending::Logout) => AgentState::LoggedOut,
                Some(Pending::Pause(reason)) => AgentState::Paused { reason },
                None => default,
            }
        };
        self.set_state(now, a, next);
    }

    pub(super) fn start_wrap_up(&mut self, now: Instant, a: usize, wrap_s: u64) {
        if wrap_s == 0 {
            self.settle(now, a, AgentState::Available);
            return self.dispatch_agent(now, a);
        }
        let until = after(now, wrap_s);
        let timer = self.timers.add(until, Timer::WrapUp(a));
        let until = until.unwrap_or(now);
        self.set_state(now, a, AgentState::WrapUp { until, timer });
    }

    pub(super) fn wrap_up_timer(&mut self, now: Instant, a: usize) {
        if !matches!(self.agents[a].state, AgentState::WrapUp { .. }) {
            return;
        }
        self.settle(now, a, AgentState::Available);
        self.dispatch_agent(now, a);
    }

    pub(super) fn start_reject_delay(&mut self, now: Instant, a: usize, delay_s: u64) {
        let ag = &mut self.agents[a];
        self.timers.cancel(&mut ag.reject_timer);
        ag.reject_until = None;
        if delay_s == 0 {
            return;
        }
        let until = after(now, delay_s);
        ag.reject_until = Some(until.unwrap_or(now));
        ag.reject_timer = self.timers.add(until, Timer::RejectDelay(a));
    }

    pub(super) fn reject_delay_timer(&mut self, now: Instant, a: usize) {
        let ag = &mut self.agents[a];
        ag.reject_timer = None;
        ag.reject_until = None;
        self.dispatch_agent(now, a);
    }

    pub(super) fn set_registered(&mut self, now: Instant, a: usize, registered: bool) {
        let ag = &mut self.agents[a];
        if ag.registered == registered {
            return;
        }
        ag.registered = registered;
        self.refresh_idle(a);
        self.emit_agent_state(a);
        if registered {
            return self.dispatch_agent(now, a);
        }
        if let AgentState::Reserved { offer, .. } = self.agents[a].state {
            let reason = crate::event::RequeueReason::Unregistered;
            let end = super::calls::OfferEnd::Failed {
                reason,
                tell_edge: true,
            };
            self.end_offer(now, offer, end);
        }
    }

    pub(super) fn login(&mut self, now: Instant, a: usize) {
        let ag = &mut self.agents[a];
        if ag.logged_in() {
            if ag.pending == Some(Pending::Logout) {
                ag.pending = None;
            }
            return;
        }
        ag.answered = 0;
        self.set_state(now, a, AgentState::Available);
        self.dispatch_agent(now, a);
    }

    pub(super) fn logout(&mut self, now: Instant, a: usize) {
        let ag = &mut self.agents[a];
        if ag.busy() {
            ag.pending = Some(Pending::Logout);
        } else if ag.logged_in() {
            self.set_state(now, a, AgentState::LoggedOut);
        }
    }

    pub(super) fn pause(&mut self, now: Instant, a: usize, reason: String) {
        let ag = &mut self.agents[a];
        match &ag.state {
            AgentState::LoggedOut => {
                let error = InputError::NotLoggedIn(ag.id.clone());
                self.error(error)
            }
            AgentState::Paused { reason: r } if *r == reason => {}
            AgentState::Available | AgentState::Paused { .. } => {
                self.set_state(now, a, AgentState::Paused { reason })
            }
            _ => ag.pending = Some(Pending::Pause(reason)),
        }
    }

    pub(super) fn unpause(&mut self, now: Instant, a: usize) {
        let ag = &mut self.agents[a];
        match &ag.state {
            AgentState::LoggedOut => {
                let error = InputError::NotLoggedIn(ag.id.clone());
                self.error(error)
            }
            AgentState::Paused { .. } => {
                self.set_state(now, a, AgentState::Available);
                self.dispatch_agent(now, a);
            }
            _ => {
                if matches!(ag.pending, Some(Pending::Pause(_))) {
                    ag.pending = None;
                }
            }
        }
    }

    pub(super) fn ready(&mut self, now: Instant, a: usize) {
        let ag = &mut self.agents[a];
        match &mut ag.state {
            AgentState::LoggedOut => {
                let error = InputError::NotLoggedIn(ag.id.clone());
                self.error(error)
            }
            AgentState::WrapUp { timer, .. } => {
                self.timers.cancel(timer);
                self.settle(now, a, AgentState::Available);
                self.dispatch_agent(now, a);
            }
            _ => {}
        }
    }

    pub(super) fn disposition(&mut self, a: usize, call: CallId, code: String) {
        let ag = &self.agents[a];
        let agent = ag.id.clone();
        let Some(&(_, q)) = ag.recent.iter().rev().find(|(c, _)| *c == call) else {
            return self.error(InputError::NotAgentsCall { agent, call });
        };
        let cfg = &self.queues[q].cfg;
        let queue = cfg.name.clone();
        if !cfg.dispositions.is_empty() && !cfg.dispositions.contains(&code) {
            let allowed = cfg.dispositions.clone();
            return self.error(InputError::InvalidDisposition {
                queue,
                code,
                allowed,
            });
        }
        tracing::info!(call_id = call, %agent, %queue, %code, "disposition");
        self.emit(Output::Disposition {
            agent,
            call,
            queue,
            code,
        });
    }
}
