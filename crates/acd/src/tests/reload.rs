//! Hot reconfiguration: calls, agent states and statistics survive.

use super::*;
use crate::{ConfigError, LeaveReason};

#[test]
fn reload_keeps_calls_and_agent_states_and_routes_to_new_agents() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out);
    sim.enqueue(2, "q");
    sim.at(10.0);
    let out = {
        sim.r
            .reconfigure(
                sim.now,
                cfg(
                    vec![queue("q", &[])],
                    vec![agent("a", &[]), agent("b", &[])],
                ),
            )
            .unwrap();
        std::iter::from_fn(|| sim.r.poll()).collect::<Vec<_>>()
    };
    assert_eq!(
        states(&out),
        vec![("b".into(), AgentStateKind::Available, None)]
    );
    assert!(offers(&out).is_empty(), "b is not registered yet");
    assert_eq!(sim.r.agent("a").unwrap().call, Some(1));
    assert_eq!(sim.r.position(2).unwrap().position, 1);
    let out = sim.agent_input(|agent| Input::Registered { agent }, "b");
    assert_eq!(the_offer(&out), (the_offer(&out).0, 2, "b".into()));
}

fn reload(sim: &mut Sim, c: AcdConfig) -> Vec<Output> {
    sim.r.reconfigure(sim.now, c).unwrap();
    let out: Vec<Output> = std::iter::from_fn(|| sim.r.poll()).collect();
    sim.r.check_invariants(sim.now);
    out
}

#[test]
fn a_removed_queue_serves_its_waiting_calls_then_disappears() {
    let mut sim = Sim::registered(cfg(
        vec![queue("old", &[("s", 1)]), queue("new", &[])],
        vec![agent("a", &[("s", 1)])],
    ));
    let out = sim.enqueue(1, "old");
    sim.answer_the_offer(&out);
    sim.enqueue(2, "old");
    reload(
        &mut sim,
        cfg(vec![queue("new", &[])], vec![agent("a", &[("s", 1)])]),
    );
    let out = sim.enqueue(3, "old");
    assert!(matches!(
        &out[..],
        [Output::Left {
            reason: LeaveReason::UnknownQueue,
            ..
        }]
    ));
    let snap = sim.r.snapshot(sim.now);
    assert_eq!(
        snap.queues
            .iter()
            .map(|q| (q.name.as_str(), q.active))
            .collect::<Vec<_>>(),
        [("new", true), ("old", false)]
    );
    assert_eq!(sim.r.position(2).unwrap().queue, "old");
    sim.end(1);
    let out = sim.at(10.0);
    sim.answer_the_offer(&out);
    assert_eq!(sim.r.snapshot(sim.now).queues.len(), 1, "empty: gone");
    // Its dispositions still resolve for the call handled there.
    let out = sim.send(Input::Disposition {
        agent: "a".into(),
        call: 2,
        code: "done".into(),
    });
    assert!(matches!(&out[..], [Output::Disposition { queue, .. }] if queue == "old"));
}

#[test]
fn a_removed_agent_logs_out_after_its_call() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[])],
        vec![agent("a", &[]), agent("b", &[])],
    ));
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out);
    let out = reload(&mut sim, cfg(vec![queue("q", &[])], vec![]));
    assert_eq!(
        states(&out),
        vec![("b".into(), AgentStateKind::LoggedOut, None)]
    );
    assert!(sim.r.agent("b").is_none());
    assert!(sim.r.agent("a").is_some(), "still on its call");
    sim.enqueue(2, "q");
    sim.end(1);
    let out = sim.at(10.0);
    assert_eq!(
        states(&out),
        vec![("a".into(), AgentStateKind::LoggedOut, None)]
    );
    assert!(offers(&out).is_empty());
    assert!(sim.r.agent("a").is_none());
    assert!(matches!(
        &sim.agent_input(|agent| Input::Login { agent }, "a")[..],
        [Output::Error { .. }]
    ));
    // Back in the config: logged in as configured, takes the waiting call.
    let out = reload(&mut sim, cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    assert_eq!(the_offer(&out).1, 2);
}

#[test]
fn new_skills_route_waiting_calls_at_once() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[("s", 3)])],
        vec![agent("a", &[("s", 2)])],
    ));
    sim.enqueue(1, "q");
    let out = reload(
        &mut sim,
        cfg(vec![queue("q", &[("s", 3)])], vec![agent("a", &[("s", 3)])]),
    );
    assert_eq!(the_offer(&out).1, 1);
    // Lowering the queue's requirement works too.
    sim.enqueue_with(2, "q", 0, 0, &[]);
    let mut c = cfg(
        vec![queue("q", &[("s", 1)])],
        vec![agent("a", &[("s", 3)]), agent("z", &[("s", 1)])],
    );
    c.agents[1].logged_in = true;
    reload(&mut sim, c);
    let out = sim.agent_input(|agent| Input::Registered { agent }, "z");
    assert_eq!(the_offer(&out).1, 2);
}

#[test]
fn reload_rearms_timers_from_when_the_call_entered_the_queue() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[("x", 1)])], vec![]));
    sim.enqueue(1, "q");
    sim.at(50.0);
    let mut q = queue("q", &[("x", 1)]);
    q.max_wait = Some(crate::MaxWait {
        after_s: 30,
        destination: "d".into(),
    });
    let out = reload(&mut sim, cfg(vec![q], vec![]));
    assert!(
        matches!(&out[..], [Output::Left { call: 1, .. }]),
        "already past 30 s: leaves now"
    );
}

#[test]
fn an_invalid_reload_changes_nothing() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    sim.enqueue(1, "q");
    let mut bad = queue("q", &[]);
    bad.overflow = Some(crate::Overflow {
        after_s: 1,
        queue: "missing".into(),
    });
    let err = sim
        .r
        .reconfigure(sim.now, cfg(vec![bad], vec![]))
        .unwrap_err();
    assert!(matches!(err, ConfigError::UnknownOverflow { .. }));
    assert!(sim.r.agent("a").is_some());
    assert_eq!(sim.r.agent("a").unwrap().call, Some(1));
}
