//! Each queue strategy, seen from the router.

use super::*;
use crate::Strategy;

fn with_strategy(strategy: Strategy, skills: &[(&str, u8)], agents: Vec<AgentConfig>) -> Sim {
    let mut q = queue("q", skills);
    q.strategy = strategy;
    q.wrap_up_s = 0;
    let mut c = cfg(vec![q], agents);
    for a in &mut c.agents {
        a.logged_in = false;
    }
    Sim::registered(c)
}

fn login(sim: &mut Sim, at: f64, agent: &str) {
    sim.at(at);
    sim.agent_input(|agent| Input::Login { agent }, agent);
}

#[test]
fn longest_idle_picks_the_agent_available_the_longest() {
    let mut sim = with_strategy(
        Strategy::LongestIdle,
        &[],
        vec![agent("a", &[]), agent("b", &[]), agent("c", &[])],
    );
    login(&mut sim, 1.0, "c");
    login(&mut sim, 2.0, "a");
    login(&mut sim, 3.0, "b");
    sim.at(10.0);
    let out = sim.enqueue(1, "q");
    assert_eq!(sim.answer_the_offer(&out).2, "c");
    sim.at(20.0);
    sim.end(1); // c available again since 20
    assert_eq!(the_offer(&sim.enqueue(2, "q")).2, "a");
    assert_eq!(the_offer(&sim.enqueue(3, "q")).2, "b");
    assert_eq!(the_offer(&sim.enqueue(4, "q")).2, "c");
}

#[test]
fn fewest_calls_picks_the_agent_with_fewest_answered() {
    let mut sim = with_strategy(
        Strategy::FewestCalls,
        &[],
        vec![agent("a", &[]), agent("b", &[])],
    );
    login(&mut sim, 1.0, "a");
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out); // a: 1 call
    sim.end(1);
    login(&mut sim, 2.0, "b");
    // a is idle longer (since 1) but has answered more.
    sim.at(5.0);
    let out = sim.enqueue(2, "q");
    assert_eq!(sim.answer_the_offer(&out).2, "b");
    sim.end(2);
    // Tie (one each): longest idle, a.
    assert_eq!(the_offer(&sim.enqueue(3, "q")).2, "a");
}

#[test]
fn round_robin_rotates_in_config_order() {
    let mut sim = with_strategy(
        Strategy::RoundRobin,
        &[],
        vec![agent("a", &[]), agent("b", &[]), agent("c", &[])],
    );
    login(&mut sim, 0.0, "b");
    login(&mut sim, 0.0, "c");
    login(&mut sim, 0.5, "a"); // the least idle, still first in turn
    let mut picked = Vec::new();
    for call in 1..=7 {
        sim.at(call as f64);
        let out = sim.enqueue(call, "q");
        let (_, _, who) = sim.answer_the_offer(&out);
        picked.push(who);
        sim.end(call);
    }
    assert_eq!(picked, ["a", "b", "c", "a", "b", "c", "a"]);
    // A busy agent is skipped, the turn goes on after the one offered.
    let out = sim.enqueue(8, "q"); // b
    sim.answer_the_offer(&out);
    let out = sim.enqueue(9, "q"); // c
    sim.answer_the_offer(&out);
    sim.end(8);
    assert_eq!(the_offer(&sim.enqueue(10, "q")).2, "a");
}

#[test]
fn skill_weighted_picks_the_best_skilled() {
    let mut sim = with_strategy(
        Strategy::SkillWeighted,
        &[("general", 1), ("billing", 1)],
        vec![
            agent("a", &[("general", 2), ("billing", 2)]),
            agent("b", &[("general", 9), ("billing", 1), ("other", 10)]),
            agent("c", &[("general", 5), ("billing", 5)]),
            agent("d", &[("general", 10)]),
        ],
    );
    login(&mut sim, 0.0, "a");
    login(&mut sim, 0.0, "d");
    login(&mut sim, 1.0, "c");
    login(&mut sim, 2.0, "b");
    // b and c both sum 10 on the required skills (other skills do not
    // count); c has been idle longer. d lacks billing.
    let out = sim.enqueue(1, "q");
    assert_eq!(sim.answer_the_offer(&out).2, "c");
    assert_eq!(the_offer(&sim.enqueue(2, "q")).2, "b");
    assert_eq!(the_offer(&sim.enqueue(3, "q")).2, "a");
}

#[test]
fn ring_all_offers_every_eligible_agent() {
    let mut sim = with_strategy(
        Strategy::RingAll,
        &[("s", 2)],
        vec![
            agent("a", &[("s", 2)]),
            agent("b", &[("s", 1)]),
            agent("c", &[("s", 3)]),
        ],
    );
    for a in ["a", "b", "c"] {
        login(&mut sim, 0.0, a);
    }
    let rung: Vec<String> = offers(&sim.enqueue(1, "q"))
        .into_iter()
        .map(|o| o.2)
        .collect();
    assert_eq!(rung, ["a", "c"]);
}
