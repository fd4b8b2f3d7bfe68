//! Which call goes to which agent, in which order.

use std::time::{Duration, Instant};

use super::*;
use crate::{LeaveReason, Output};

#[test]
fn the_skilled_agent_answers() {
    let mut sim = Sim::registered(cfg(
        vec![
            queue("general", &[("general", 1)]),
            queue("expert", &[("expert", 5)]),
        ],
        vec![
            agent("gina", &[("general", 9)]),
            agent("eve", &[("expert", 6), ("general", 1)]),
            agent("low", &[("expert", 4)]),
        ],
    ));
    sim.at(3.0);
    let out = sim.enqueue(1, "expert");
    let (offer, call, who) = the_offer(&out);
    assert_eq!((call, who.as_str()), (1, "eve"));
    assert!(has_state(&out, "eve", AgentStateKind::Reserved));
    sim.at(5.0);
    let out = sim.answer(offer);
    assert!(out.contains(&Output::Connected {
        call: 1,
        agent: "eve".into(),
        offer,
        queue: "expert".into(),
        waited: Duration::from_secs(2),
    }));
    assert!(has_state(&out, "eve", AgentStateKind::OnCall));
    // The general call goes to gina, the only one left who qualifies.
    assert_eq!(the_offer(&sim.enqueue(2, "general")).2, "gina");
}

#[test]
fn a_thousand_calls_one_agent_all_served_in_fifo_order() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("solo", &[])]));
    let mut out = Vec::new();
    for call in 1..=1000 {
        out.extend(sim.enqueue(call, "q"));
    }
    let mut served = Vec::new();
    let mut t = 0.0;
    for _ in 0..1000 {
        let (_, call, _) = sim.answer_the_offer(&out);
        served.push(call);
        t += 30.0;
        sim.at(t);
        assert!(offers(&sim.end(call)).is_empty(), "wrap-up first");
        t += 10.0;
        out = sim.at(t);
    }
    assert_eq!(served, (1..=1000).collect::<Vec<_>>());
    assert!(offers(&out).is_empty());
    let snap = sim.r.snapshot(sim.now);
    assert_eq!((snap.queues[0].waiting, snap.queues[0].offering), (0, 0));
    assert_eq!(snap.agents[0].calls_answered, 1000);
}

/// Keep `agent` busy on call `call` so later calls wait.
fn busy(sim: &mut Sim, call: CallId, queue: &str) {
    let out = sim.enqueue(call, queue);
    sim.answer_the_offer(&out);
}

/// End `call`, skip wrap-up, and collect the order in which the waiting
/// calls are then served (each ended at once).
fn serve_all(sim: &mut Sim, call: CallId, n: usize) -> Vec<CallId> {
    let mut order = Vec::new();
    let mut current = call;
    for _ in 0..n {
        sim.end(current);
        let out = sim.agent_input(|agent| Input::Ready { agent }, "solo");
        let (_, next, _) = sim.answer_the_offer(&out);
        order.push(next);
        current = next;
    }
    order
}

#[test]
fn absolute_priority_is_served_first() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("solo", &[])]));
    busy(&mut sim, 100, "q");
    for (call, priority) in [(1, 0), (2, 5), (3, 0), (4, 5), (5, -1), (6, 9)] {
        sim.at(call as f64);
        sim.enqueue_with(call, "q", priority, 0, &[]);
    }
    sim.at(100.0);
    assert_eq!(serve_all(&mut sim, 100, 6), vec![6, 2, 4, 1, 3, 5]);
}

#[test]
fn boost_counts_as_extra_seconds_of_wait() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("solo", &[])]));
    busy(&mut sim, 100, "q");
    // Effective enqueue time = enqueue time - boost: 1 -> 0, 2 -> -20, 3 -> 15, 4 -> 0 (after 1).
    for (call, at, boost) in [(1, 0.0, 0), (2, 10.0, 30), (3, 20.0, 5), (4, 20.0, 20)] {
        sim.at(at);
        sim.enqueue_with(call, "q", 0, boost, &[]);
    }
    // A priority beats any boost.
    sim.at(25.0);
    sim.enqueue_with(5, "q", 1, 0, &[]);
    sim.at(60.0);
    assert_eq!(serve_all(&mut sim, 100, 5), vec![5, 2, 1, 4, 3]);
}

#[test]
fn an_agent_of_several_queues_takes_the_longest_effective_wait_across_them() {
    let mut sim = Sim::registered(cfg(
        vec![queue("a", &[("a", 1)]), queue("b", &[("b", 1)])],
        vec![agent("solo", &[("a", 1), ("b", 1)])],
    ));
    busy(&mut sim, 100, "a");
    sim.at(1.0);
    sim.enqueue(1, "a");
    sim.at(2.0);
    sim.enqueue(2, "b");
    sim.at(3.0);
    sim.enqueue(3, "a");
    sim.at(4.0);
    sim.enqueue_with(4, "b", 0, 3, &[]); // effective enqueue at 1, after call 1
    sim.at(5.0);
    sim.enqueue(5, "b");
    sim.at(30.0);
    assert_eq!(serve_all(&mut sim, 100, 5), vec![1, 4, 2, 3, 5]);
}

#[test]
fn per_call_skills_add_to_the_queue_requirement() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[("general", 1)])],
        vec![
            agent("fr", &[("general", 5)]),
            agent("en", &[("general", 2), ("english", 3)]),
        ],
    ));
    assert_eq!(
        the_offer(&sim.enqueue_with(1, "q", 0, 0, &[("english", 2)])).2,
        "en"
    );
    // Nobody has general 6: the call waits, nobody else is disturbed.
    assert!(offers(&sim.enqueue_with(2, "q", 0, 0, &[("general", 6)])).is_empty());
    assert_eq!(the_offer(&sim.enqueue(3, "q")).2, "fr");
    // Out-of-range levels are clamped, with an error for the logs.
    let out = sim.enqueue_with(4, "q", 0, 0, &[("general", 0)]);
    assert!(matches!(
        &out[0],
        Output::Error {
            error: crate::InputError::SkillLevelClamped {
                call: 4,
                level: 0,
                ..
            }
        }
    ));
}

#[test]
fn an_unknown_queue_sends_the_call_back_to_the_edge() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![]));
    let out = sim.enqueue(7, "nope");
    assert_eq!(
        out,
        vec![Output::Left {
            call: 7,
            queue: "nope".into(),
            reason: LeaveReason::UnknownQueue,
            destination: None,
        }]
    );
    assert!(sim.r.position(7).is_none());
    // The same call id may be queued properly afterwards; a duplicate is refused.
    sim.enqueue(7, "q");
    let out = sim.enqueue(7, "q");
    assert_eq!(
        out,
        vec![Output::Error {
            error: crate::InputError::DuplicateCall(7)
        }]
    );
    assert_eq!(sim.r.position(7).unwrap().position, 1);
}

#[test]
fn garbage_inputs_are_errors_not_panics() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    assert!(
        sim.send(Input::Abandon { call: 99 }).is_empty(),
        "unknown abandon is silent"
    );
    for input in [
        Input::CallEnded { call: 99 },
        Input::OfferAnswered { offer: 99 },
        Input::OfferFailed {
            offer: 99,
            reason: crate::OfferFailure::Declined,
        },
        Input::Login {
            agent: "zed".into(),
        },
        Input::Disposition {
            agent: "a".into(),
            call: 99,
            code: "x".into(),
        },
    ] {
        let out = sim.send(input.clone());
        assert!(
            matches!(out.as_slice(), [Output::Error { .. }]),
            "{input:?} -> {out:?}"
        );
    }
    // Time going backwards is clamped, not a panic.
    let before = sim.now;
    sim.r
        .handle(before - Duration::from_secs(5), Input::Timeout);
    sim.r.handle(before, Input::Timeout);
}

#[test]
fn a_hundred_thousand_waiting_calls() {
    let mut q = queue("big", &[]);
    q.long_wait_s = Some(3600);
    q.overflow = Some(crate::Overflow {
        after_s: 7200,
        queue: "spare".into(),
    });
    let mut r = Router::new(cfg(
        vec![q, queue("spare", &[("x", 1)])],
        vec![agent("a", &[])],
    ))
    .unwrap();
    let t0 = Instant::now();
    const N: u64 = 100_000;
    for call in 0..N {
        let now = t0 + Duration::from_millis(call);
        r.handle(
            now,
            Input::Enqueue {
                call,
                queue: "big".into(),
                priority: (call % 3) as i32,
                boost_s: (call % 7) as u32,
                skills: Default::default(),
            },
        );
    }
    assert!(r.poll().is_none(), "nobody registered: no output");
    let snap = r.snapshot(t0 + Duration::from_secs(100));
    assert_eq!(snap.queues[0].waiting, N as usize);
    assert_eq!(snap.queues[0].longest_wait_ms, 100_000);
    // Last: lowest priority (0), then the latest effective enqueue time.
    let last = (0..N)
        .filter(|c| c % 3 == 0)
        .max_by_key(|&c| (c as i64 - 1000 * (c % 7) as i64, c))
        .unwrap();
    assert_eq!(r.position(last).unwrap().position, N as usize);
    r.handle(
        t0 + Duration::from_secs(101),
        Input::Registered { agent: "a".into() },
    );
    let offered = std::iter::from_fn(|| r.poll()).find_map(|o| match o {
        Output::Offer { call, .. } => Some(call),
        _ => None,
    });
    // Highest priority (2), then the largest boost (6 s) among the earliest.
    assert_eq!(offered, Some(20));
    r.check_invariants(t0 + Duration::from_secs(101));
}
