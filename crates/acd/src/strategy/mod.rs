//! Which eligible agent gets a call: one strategy per file.
//!
//! The router builds the list of agents that could take the call right now
//! (logged in, registered, available, not in reject delay, skilled enough)
//! and the queue's strategy picks among them. Every strategy breaks its last
//! tie by config order, so decisions are deterministic.

mod fewest_calls;
mod longest_idle;
mod ring_all;
mod round_robin;
mod skill_weighted;

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// How a queue chooses among several eligible agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The agent available since the earliest instant.
    #[default]
    LongestIdle,
    /// The agent with the fewest calls answered since login (tie: longest idle).
    FewestCalls,
    /// The next agent after the last one offered by this queue, in config order.
    RoundRobin,
    /// The highest sum of levels on the call's required skills (tie: longest idle).
    SkillWeighted,
    /// Every eligible agent at once; the first to answer wins.
    RingAll,
}

impl Strategy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::FewestCalls => "fewest_calls",
            Strategy::RoundRobin => "round_robin",
            Strategy::SkillWeighted => "skill_weighted",
            Strategy::RingAll => "ring_all",
        }
    }

    /// The agents (indices) to offer the call to: one, or all for `ring_all`;
    /// empty only when `cands` is. `last_rr` is the config position of the
    /// agent this queue offered last, for `round_robin`.
    pub(crate) fn pick(self, cands: &[Candidate], last_rr: Option<usize>) -> Vec<usize> {
        match self {
            Strategy::LongestIdle => longest_idle::pick(cands).into_iter().collect(),
            Strategy::FewestCalls => fewest_calls::pick(cands).into_iter().collect(),
            Strategy::RoundRobin => round_robin::pick(cands, last_rr).into_iter().collect(),
            Strategy::SkillWeighted => skill_weighted::pick(cands).into_iter().collect(),
            Strategy::RingAll => ring_all::pick(cands),
        }
    }
}

/// What a strategy may look at about one eligible agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The router's index of the agent (what `pick` returns).
    pub agent: usize,
    /// Position in the config's agent list.
    pub order: usize,
    /// Available since.
    pub idle_since: Instant,
    /// Calls answered since login.
    pub answered: u64,
    /// Sum of the agent's levels on the call's required skills.
    pub skill_sum: u32,
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Candidate;
    use std::time::{Duration, Instant};

    /// Candidate `agent` at config position `agent`, idle since `t0 + idle_s`.
    pub fn cand(
        t0: Instant,
        agent: usize,
        idle_s: u64,
        answered: u64,
        skill_sum: u32,
    ) -> Candidate {
        Candidate {
            agent,
            order: agent,
            idle_since: t0 + Duration::from_secs(idle_s),
            answered,
            skill_sum,
        }
    }
}
