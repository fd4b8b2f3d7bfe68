//! Test-only consistency checks of the router's internal state.

use std::collections::BTreeSet;
use std::time::Instant;

use super::{CallState, Router};
use crate::agent::AgentState;
use crate::skills::satisfies;
use crate::timers::Timer;

impl Router {
    /// Panics, naming the broken rule, if the internal state is inconsistent.
    pub(crate) fn check_invariants(&self, now: Instant) {
        self.check_agents();
        self.check_calls();
        self.check_timers();
        self.check_no_missed_match(now);
    }

    fn check_agents(&self) {
        for (a, ag) in self.agents.iter().enumerate() {
            assert_eq!(
                self.idle.contains(&a),
                ag.idle(),
                "idle set vs agent {}",
                ag.id
            );
            match &ag.state {
                AgentState::Reserved { offer, call } => {
                    let o = self
                        .offers
                        .get(offer)
                        .unwrap_or_else(|| panic!("{} rings for a gone offer", ag.id));
                    assert_eq!((o.agent, o.call), (a, *call), "offer of {}", ag.id);
                }
                AgentState::OnCall { call } => {
                    let c = self
                        .calls
                        .get(call)
                        .unwrap_or_else(|| panic!("{} talks on a gone call", ag.id));
                    assert!(
                        matches!(c.state, CallState::Connected { agent, .. } if agent == a),
                        "call {call} of {} is not connected to it",
                        ag.id
                    );
                }
                _ => {}
            }
        }
        for (id, o) in &self.offers {
            let ag = &self.agents[o.agent];
            assert!(
                matches!(ag.state, AgentState::Reserved { offer, .. } if offer == *id),
                "offer {id}: agent {} is {:?}",
                ag.id,
                ag.state
            );
            let c = self.calls.get(&o.call).expect("offer for a gone call");
            assert!(
                matches!(&c.state, CallState::Offering(v) if v.contains(id)),
                "offer {id} not in its call"
            );
        }
    }

    fn check_calls(&self) {
        let mut listed = BTreeSet::new();
        for (qi, q) in self.queues.iter().enumerate() {
            let mut n = 0;
            for (req, key, call) in q.list.iter() {
                n += 1;
                let c = &self.calls[call];
                assert_eq!(
                    (c.queue, c.req, c.key),
                    (qi, req, *key),
                    "call {call} listed wrong"
                );
                assert_eq!(
                    c.state,
                    CallState::Waiting,
                    "listed call {call} not waiting"
                );
                assert!(listed.insert(*call));
            }
            assert_eq!(n, q.list.waiting(), "queue {} waiting count", q.cfg.name);
            let offering = self
                .calls
                .values()
                .filter(|c| c.queue == qi && matches!(c.state, CallState::Offering(_)))
                .count();
            assert_eq!(
                offering,
                q.list.offering(),
                "queue {} offering count",
                q.cfg.name
            );
        }
        for (id, c) in &self.calls {
            match &c.state {
                CallState::Waiting => assert!(listed.contains(id), "waiting call {id} not listed"),
                CallState::Offering(offers) => {
                    assert!(!offers.is_empty(), "call {id} offering to nobody");
                    assert!(offers.iter().all(|o| self.offers.contains_key(o)));
                }
                CallState::Connected { agent, .. } => {
                    assert_eq!(self.agents[*agent].state, AgentState::OnCall { call: *id });
                    assert!(c.timers.overflow.is_none() && c.timers.max_wait.is_none());
                }
            }
        }
    }

    fn check_timers(&self) {
        for (_, t) in self.timers.iter() {
            match *t {
                Timer::Ring(o) => assert!(self.offers.contains_key(&o), "timer for gone offer {o}"),
                Timer::Overflow(c) | Timer::Widen(c) | Timer::MaxWait(c) | Timer::LongWait(c) => {
                    assert!(self.calls.contains_key(&c), "timer for gone call {c}")
                }
                Timer::WrapUp(a) => {
                    assert!(matches!(self.agents[a].state, AgentState::WrapUp { .. }))
                }
                Timer::RejectDelay(a) => assert!(self.agents[a].reject_until.is_some()),
            }
        }
    }

    /// No agent that could take a call now sits next to a call it could serve.
    fn check_no_missed_match(&self, now: Instant) {
        for ag in self.agents.iter().filter(|ag| ag.offerable(now)) {
            for q in &self.queues {
                for (req, _, call) in q.list.iter() {
                    assert!(
                        !satisfies(&ag.skills, self.reqs.get(req)),
                        "agent {} is free while call {call} it can serve waits in {}",
                        ag.id,
                        q.cfg.name
                    );
                }
            }
        }
    }
}
