//! Agent life: wrap-up, pauses and logouts asked while busy, ready,
//! dispositions.

use super::*;
use crate::InputError;

#[test]
fn wrap_up_lasts_exactly_the_handled_queues_wrap_up() {
    let mut a = queue("a", &[("a", 1)]);
    a.wrap_up_s = 10;
    let mut b = queue("b", &[("b", 1)]);
    b.wrap_up_s = 30;
    let mut sim = Sim::registered(cfg(vec![a, b], vec![agent("x", &[("a", 1), ("b", 1)])]));
    let out = sim.enqueue(1, "a");
    sim.answer_the_offer(&out);
    sim.at(60.0);
    let out = sim.end(1);
    assert!(has_state(&out, "x", AgentStateKind::WrapUp));
    sim.at(61.0);
    assert!(
        offers(&sim.enqueue(2, "b")).is_empty(),
        "queue b may not offer during a's wrap-up"
    );
    assert!(sim.at(69.999).is_empty());
    let out = sim.at(70.0);
    assert!(has_state(&out, "x", AgentStateKind::Available));
    sim.answer_the_offer(&out);
    sim.at(100.0);
    sim.end(2);
    sim.at(101.0);
    assert!(offers(&sim.enqueue(3, "a")).is_empty());
    assert!(sim.at(110.0).is_empty(), "b's 30 s wrap-up, not a's 10 s");
    assert!(sim.at(129.999).is_empty());
    assert_eq!(the_offer(&sim.at(130.0)).1, 3);
}

#[test]
fn ready_ends_wrap_up_early_and_zero_wrap_up_skips_it() {
    let mut q = queue("fast", &[]);
    q.wrap_up_s = 0;
    let mut sim = Sim::registered(cfg(vec![queue("q", &[]), q], vec![agent("x", &[])]));
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out);
    sim.enqueue(2, "q");
    sim.at(5.0);
    assert!(offers(&sim.end(1)).is_empty());
    let out = sim.agent_input(|agent| Input::Ready { agent }, "x");
    sim.answer_the_offer(&out);
    sim.enqueue(3, "fast");
    sim.at(20.0);
    assert!(offers(&sim.end(2)).is_empty());
    let out = sim.at(30.0);
    sim.answer_the_offer(&out);
    let out = sim.end(3);
    assert!(!has_state(&out, "x", AgentStateKind::WrapUp));
    assert!(has_state(&out, "x", AgentStateKind::Available));
    // Ready while available changes nothing.
    assert!(sim
        .agent_input(|agent| Input::Ready { agent }, "x")
        .is_empty());
}

#[test]
fn a_pause_asked_during_a_call_applies_after_wrap_up_with_its_reason() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("x", &[])]));
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out);
    let reason = "Déjeuner (12h-13h) ";
    let out = sim.send(Input::Pause {
        agent: "x".into(),
        reason: reason.into(),
    });
    assert!(out.is_empty(), "still on the call");
    assert_eq!(
        sim.r.agent("x").unwrap().pending_pause.as_deref(),
        Some(reason)
    );
    sim.enqueue(2, "q");
    sim.at(40.0);
    let out = sim.end(1);
    assert_eq!(
        states(&out),
        vec![("x".into(), AgentStateKind::WrapUp, None)]
    );
    let out = sim.at(50.0);
    assert_eq!(
        states(&out),
        vec![("x".into(), AgentStateKind::Paused, Some(reason.into()))]
    );
    assert!(offers(&out).is_empty());
    let out = sim.agent_input(|agent| Input::Unpause { agent }, "x");
    assert_eq!(the_offer(&out).1, 2);
}

#[test]
fn unpause_while_busy_withdraws_the_pending_pause() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("x", &[])]));
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out);
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "break".into(),
        },
        "x",
    );
    sim.agent_input(|agent| Input::Unpause { agent }, "x");
    sim.end(1);
    let out = sim.at(10.0);
    assert_eq!(
        states(&out),
        vec![("x".into(), AgentStateKind::Available, None)]
    );
}

#[test]
fn a_pause_asked_while_ringing_wins_over_rona() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("x", &[])]));
    sim.enqueue(1, "q");
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "meeting".into(),
        },
        "x",
    );
    let out = sim.at(15.0);
    assert!(states(&out).contains(&("x".into(), AgentStateKind::Paused, Some("meeting".into()))));
}

#[test]
fn a_logout_asked_during_a_call_applies_after_wrap_up() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("x", &[])]));
    let out = sim.enqueue(1, "q");
    sim.answer_the_offer(&out);
    assert!(sim
        .agent_input(|agent| Input::Logout { agent }, "x")
        .is_empty());
    assert!(sim.r.agent("x").unwrap().pending_logout);
    sim.enqueue(2, "q");
    sim.end(1);
    let out = sim.at(10.0);
    assert_eq!(
        states(&out),
        vec![("x".into(), AgentStateKind::LoggedOut, None)]
    );
    // Logging back in restarts the count and takes the waiting call.
    let out = sim.agent_input(|agent| Input::Login { agent }, "x");
    assert_eq!(the_offer(&out).1, 2);
    assert_eq!(sim.r.agent("x").unwrap().calls_answered, 0);
}

#[test]
fn logged_out_agents_cannot_pause_and_pause_reasons_can_change() {
    let mut c = cfg(vec![queue("q", &[])], vec![agent("x", &[])]);
    c.agents[0].logged_in = false;
    let mut sim = Sim::registered(c);
    let out = sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "r".into(),
        },
        "x",
    );
    assert_eq!(
        out,
        vec![Output::Error {
            error: InputError::NotLoggedIn("x".into())
        }]
    );
    sim.agent_input(|agent| Input::Login { agent }, "x");
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "r1".into(),
        },
        "x",
    );
    let out = sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "r2".into(),
        },
        "x",
    );
    assert_eq!(
        states(&out),
        vec![("x".into(), AgentStateKind::Paused, Some("r2".into()))]
    );
    assert!(sim
        .agent_input(
            |agent| Input::Pause {
                agent,
                reason: "r2".into()
            },
            "x"
        )
        .is_empty());
    let out = sim.agent_input(|agent| Input::Logout { agent }, "x");
    assert_eq!(
        states(&out),
        vec![("x".into(), AgentStateKind::LoggedOut, None)]
    );
    assert!(sim
        .agent_input(|agent| Input::Logout { agent }, "x")
        .is_empty());
}

#[test]
fn dispositions_are_checked_against_the_queue_list() {
    let mut strict = queue("strict", &[]);
    strict.dispositions = vec!["info".into(), "claim".into()];
    let mut sim = Sim::registered(cfg(
        vec![strict, queue("open", &[])],
        vec![agent("x", &[]), agent("y", &[])],
    ));
    let out = sim.enqueue(1, "strict");
    sim.answer_the_offer(&out);
    let disp = |agent: &str, call, code: &str| Input::Disposition {
        agent: agent.into(),
        call,
        code: code.into(),
    };
    let out = sim.send(disp("x", 1, "info"));
    assert_eq!(
        out,
        vec![Output::Disposition {
            agent: "x".into(),
            call: 1,
            queue: "strict".into(),
            code: "info".into(),
        }]
    );
    let out = sim.send(disp("x", 1, "other"));
    assert!(
        matches!(&out[..], [Output::Error { error: InputError::InvalidDisposition { code, .. } }] if code == "other")
    );
    let out = sim.send(disp("y", 1, "info"));
    assert_eq!(
        out,
        vec![Output::Error {
            error: InputError::NotAgentsCall {
                agent: "y".into(),
                call: 1
            }
        }]
    );
    // After the call, during wrap-up: still accepted. Any code in an open queue.
    sim.end(1);
    assert!(matches!(
        &sim.send(disp("x", 1, "claim"))[..],
        [Output::Disposition { .. }]
    ));
    let out = sim.enqueue(2, "open");
    sim.answer_the_offer(&out);
    assert!(matches!(
        &sim.send(disp("y", 2, "anything"))[..],
        [Output::Disposition { .. }]
    ));
    assert!(matches!(
        &sim.send(disp("nobody", 2, "x"))[..],
        [Output::Error {
            error: InputError::UnknownAgent(_)
        }]
    ));
}
