//! Router tests on a fake clock: an origin instant plus durations.

mod agents;
mod delays;
mod offers;
mod props;
mod reload;
mod routing;
mod strategies;
mod views;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{
    AcdConfig, AgentConfig, AgentStateKind, CallId, Input, OfferId, Output, QueueConfig, Router,
    SkillReq,
};

/// A router driven like the edge drives it, checking its invariants after
/// every input.
pub(crate) struct Sim {
    pub r: Router,
    pub t0: Instant,
    pub now: Instant,
}

impl Sim {
    pub fn new(cfg: AcdConfig) -> Sim {
        let t0 = Instant::now();
        Sim {
            r: Router::new(cfg).expect("valid config"),
            t0,
            now: t0,
        }
    }

    /// `new`, then every agent registered at t0.
    pub fn registered(cfg: AcdConfig) -> Sim {
        let ids: Vec<String> = cfg.agents.iter().map(|a| a.id.clone()).collect();
        let mut sim = Sim::new(cfg);
        for id in ids {
            sim.send(Input::Registered { agent: id });
        }
        sim
    }

    pub fn send(&mut self, input: Input) -> Vec<Output> {
        self.r.handle(self.now, input);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output> {
        let out: Vec<Output> = std::iter::from_fn(|| self.r.poll()).collect();
        self.r.check_invariants(self.now);
        out
    }

    /// Go to `t0 + secs`, firing each timer at its own instant on the way.
    pub fn at(&mut self, secs: f64) -> Vec<Output> {
        let t = self.t0 + Duration::from_secs_f64(secs);
        assert!(t >= self.now, "time goes forward in tests");
        let mut out = Vec::new();
        while let Some(deadline) = self.r.poll_timeout().filter(|&d| d <= t) {
            self.now = self.now.max(deadline);
            out.extend(self.send(Input::Timeout));
        }
        self.now = t;
        out.extend(self.send(Input::Timeout));
        out
    }

    pub fn enqueue(&mut self, call: CallId, queue: &str) -> Vec<Output> {
        self.enqueue_with(call, queue, 0, 0, &[])
    }

    pub fn enqueue_with(
        &mut self,
        call: CallId,
        queue: &str,
        priority: i32,
        boost_s: u32,
        skills: &[(&str, u8)],
    ) -> Vec<Output> {
        self.send(Input::Enqueue {
            call,
            queue: queue.into(),
            priority,
            boost_s,
            skills: skill_map(skills),
        })
    }

    pub fn answer(&mut self, offer: OfferId) -> Vec<Output> {
        self.send(Input::OfferAnswered { offer })
    }

    pub fn end(&mut self, call: CallId) -> Vec<Output> {
        self.send(Input::CallEnded { call })
    }

    pub fn agent_input(&mut self, make: fn(String) -> Input, agent: &str) -> Vec<Output> {
        self.send(make(agent.to_owned()))
    }

    /// Answer the single offer in `out` and return its (offer, call, agent).
    pub fn answer_the_offer(&mut self, out: &[Output]) -> (OfferId, CallId, String) {
        let o = the_offer(out);
        let connected = self.answer(o.0);
        assert!(
            connected
                .iter()
                .any(|x| matches!(x, Output::Connected { call, .. } if *call == o.1)),
            "{connected:?}"
        );
        o
    }
}

pub(crate) fn skill_map(skills: &[(&str, u8)]) -> BTreeMap<String, u8> {
    skills.iter().map(|(s, l)| (s.to_string(), *l)).collect()
}

pub(crate) fn queue(name: &str, skills: &[(&str, u8)]) -> QueueConfig {
    let mut q = QueueConfig::new(name);
    q.skills = skills.iter().map(|(s, l)| SkillReq::new(*s, *l)).collect();
    q
}

pub(crate) fn agent(id: &str, skills: &[(&str, u8)]) -> AgentConfig {
    AgentConfig::new(id, skills.iter().copied())
}

pub(crate) fn cfg(queues: Vec<QueueConfig>, agents: Vec<AgentConfig>) -> AcdConfig {
    AcdConfig { queues, agents }
}

/// Every (offer, call, agent) in `out`.
pub(crate) fn offers(out: &[Output]) -> Vec<(OfferId, CallId, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Offer {
                offer, call, agent, ..
            } => Some((*offer, *call, agent.clone())),
            _ => None,
        })
        .collect()
}

/// The one offer in `out`.
pub(crate) fn the_offer(out: &[Output]) -> (OfferId, CallId, String) {
    let all = offers(out);
    assert_eq!(all.len(), 1, "expected one offer in {out:#?}");
    all.into_iter().next().unwrap()
}

/// Every (agent, state, reason) change in `out`.
pub(crate) fn states(out: &[Output]) -> Vec<(String, AgentStateKind, Option<String>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::AgentState {
                agent,
                state,
                reason,
                ..
            } => Some((agent.clone(), *state, reason.clone())),
            _ => None,
        })
        .collect()
}

pub(crate) fn has_state(out: &[Output], agent: &str, state: AgentStateKind) -> bool {
    states(out)
        .iter()
        .any(|(a, s, _)| a == agent && *s == state)
}
