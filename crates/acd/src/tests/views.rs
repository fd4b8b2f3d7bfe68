//! Position, estimated wait and snapshots.

use std::time::Duration;

use super::*;
use crate::Strategy;

#[test]
fn position_and_estimated_wait() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[("s", 1)])],
        vec![
            agent("a", &[("s", 1)]),
            agent("b", &[("s", 1)]),
            agent("other", &[]),
        ],
    ));
    for a in ["a", "b"] {
        sim.agent_input(
            |agent| Input::Pause {
                agent,
                reason: "p".into(),
            },
            a,
        );
    }
    for call in 1..=3 {
        sim.enqueue(call, "q");
    }
    // Default AHT 180 s, two agents logged in who can serve the queue.
    let pos = |sim: &Sim, call| {
        let p = sim.r.position(call).unwrap();
        (p.position, p.ewt.as_secs())
    };
    assert_eq!(
        [pos(&sim, 1), pos(&sim, 2), pos(&sim, 3)],
        [(1, 90), (2, 180), (3, 270)]
    );
    // A higher priority call goes ahead: the only way positions grow.
    sim.enqueue_with(4, "q", 1, 0, &[]);
    assert_eq!(
        [pos(&sim, 4), pos(&sim, 1), pos(&sim, 3)],
        [(1, 90), (2, 180), (4, 360)]
    );
    // Call 4 rings a: position 0 for it, the others keep theirs...
    let out = sim.agent_input(|agent| Input::Unpause { agent }, "a");
    assert_eq!(the_offer(&out).1, 4);
    assert_eq!(pos(&sim, 4), (0, 0));
    assert_eq!(pos(&sim, 1), (2, 180));
    // ... and a ring timeout that puts it back does not move them backwards.
    sim.at(15.0);
    assert_eq!(pos(&sim, 1), (2, 180));
    assert_eq!(pos(&sim, 4), (1, 90));
    // Once a call was handled (60 s talk + 10 s wrap-up), AHT is 70 s.
    let out = sim.agent_input(|agent| Input::Unpause { agent }, "a");
    sim.answer_the_offer(&out);
    assert!(sim.r.position(4).is_none(), "connected");
    sim.at(75.0);
    sim.end(4);
    assert_eq!(pos(&sim, 1), (1, 35));
    assert_eq!(pos(&sim, 3), (3, 105));
    // Logged-out agents do not count; at least one is assumed.
    sim.agent_input(|agent| Input::Logout { agent }, "b");
    assert_eq!(pos(&sim, 1), (1, 70));
    assert_eq!(sim.r.position(99), None);
}

#[test]
fn snapshot_counts_queues_and_agents() {
    let mut ring = queue("ring", &[("r", 1)]);
    ring.strategy = Strategy::RingAll;
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[("s", 1)]), ring],
        vec![
            agent("a", &[("s", 1), ("r", 1)]),
            agent("b", &[("s", 1)]),
            agent("c", &[("r", 1)]),
            agent("d", &[("s", 1)]),
        ],
    ));
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "lunch".into(),
        },
        "b",
    );
    sim.agent_input(|agent| Input::Unregistered { agent }, "d");
    sim.enqueue(1, "ring"); // rings a and c
    sim.at(2.0);
    sim.enqueue(2, "q"); // waits: a ringing, b paused, d unregistered
    sim.at(5.0);
    sim.enqueue(3, "q");
    let snap = sim.r.snapshot(sim.t0 + Duration::from_secs(12));
    let q = &snap.queues[0];
    assert_eq!(
        (
            q.name.as_str(),
            q.active,
            q.waiting,
            q.offering,
            q.longest_wait_ms
        ),
        ("q", true, 2, 0, 10_000)
    );
    assert_eq!(q.avg_handle_ms, 180_000);
    let c = &q.agents;
    assert_eq!(
        (
            c.reserved,
            c.paused,
            c.available,
            c.unregistered,
            c.offerable,
            c.logged_out
        ),
        (1, 1, 1, 1, 0, 0)
    );
    let r = &snap.queues[1];
    assert_eq!((r.waiting, r.offering, r.agents.reserved), (0, 1, 2));
    let b = &snap.agents[1];
    assert_eq!(
        (b.id.as_str(), b.state, b.reason.as_deref(), b.in_state_ms),
        ("b", AgentStateKind::Paused, Some("lunch"), 12_000)
    );
    assert_eq!(snap.agents[0].call, Some(1));
    assert!(!snap.agents[3].registered && snap.agents[3].logged_in);
}

#[test]
fn estimated_wait_counts_only_agents_whose_phone_is_registered() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[("s", 1)])],
        vec![agent("a", &[("s", 1)]), agent("b", &[("s", 1)])],
    ));
    for a in ["a", "b"] {
        sim.agent_input(
            |agent| Input::Pause {
                agent,
                reason: "p".into(),
            },
            a,
        );
    }
    sim.enqueue(1, "q");
    assert_eq!(sim.r.position(1).unwrap().ewt.as_secs(), 90, "180 s / 2");
    sim.agent_input(|agent| Input::Unregistered { agent }, "b");
    assert_eq!(
        sim.r.position(1).unwrap().ewt.as_secs(),
        180,
        "b's phone is gone: one agent serves"
    );
}

#[test]
fn positions_in_a_long_queue_come_from_a_rank_table_refreshed_each_second() {
    // No agent: 2,000 calls wait (above RANK_EXACT).
    let mut sim = Sim::new(cfg(vec![queue("q", &[])], vec![]));
    for call in 1..=2_000 {
        sim.enqueue(call, "q");
    }
    assert_eq!(sim.r.position(2_000).unwrap().position, 2_000);
    assert_eq!(sim.r.position(750).unwrap().position, 750);
    // The first 500 give up; within the second the table still counts
    // them (a position may lag, never jump ahead), a second later not.
    for call in 1..=500 {
        sim.send(Input::Abandon { call });
    }
    assert_eq!(sim.r.position(750).unwrap().position, 750, "within the TTL");
    sim.at(1.5);
    assert_eq!(sim.r.position(750).unwrap().position, 250);
    assert_eq!(sim.r.position(2_000).unwrap().position, 1_500);
}
