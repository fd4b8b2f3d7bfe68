//! Timed changes of a waiting call: overflow, widening, max wait, long wait.

use super::*;
use crate::{LeaveReason, MaxWait, OfferFailure, Overflow, Widen};

fn overflowed(out: &[Output]) -> Vec<(CallId, String, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Overflowed { call, from, to } => Some((*call, from.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

fn overflow_cfg() -> AcdConfig {
    let mut a = queue("a", &[("a", 1)]);
    a.overflow = Some(Overflow {
        after_s: 30,
        queue: "b".into(),
    });
    cfg(
        vec![a, queue("b", &[("b", 1)])],
        vec![agent("y", &[("b", 1)])],
    )
}

#[test]
fn overflow_after_its_delay_not_before_keeping_the_enqueue_time() {
    let mut sim = Sim::registered(overflow_cfg());
    let out = sim.enqueue(100, "b");
    sim.answer_the_offer(&out); // y busy
    sim.enqueue(1, "a");
    sim.at(10.0);
    sim.enqueue(2, "b");
    assert!(sim.at(29.999).is_empty());
    let out = sim.at(30.0);
    assert_eq!(overflowed(&out), vec![(1, "a".into(), "b".into())]);
    let pos = sim.r.position(1).unwrap();
    assert_eq!(
        (pos.queue.as_str(), pos.position),
        ("b", 1),
        "placed by its enqueue time"
    );
    assert_eq!(sim.r.position(2).unwrap().position, 2);
    sim.end(100);
    let out = sim.agent_input(|agent| Input::Ready { agent }, "y");
    let (_, call, _) = sim.answer_the_offer(&out);
    assert_eq!(call, 1);
}

#[test]
fn overflow_is_routed_at_once_and_waits_for_a_ringing_offer() {
    let mut c = overflow_cfg();
    c.queues[0].ring_timeout_s = 60;
    c.agents.push(agent("x", &[("a", 1)]));
    let mut sim = Sim::registered(c);
    // Ringing x when the overflow time comes: stays with x until the offer fails.
    let (offer, _, who) = the_offer(&sim.enqueue(1, "a"));
    assert_eq!(who, "x");
    sim.at(10.0);
    sim.send(Input::OfferFailed {
        offer,
        reason: OfferFailure::Declined,
    });
    // x is in reject delay; y cannot serve "a": the call waits; at 15 x gets it again.
    let (offer, _, _) = the_offer(&sim.at(15.0));
    assert!(sim.at(45.0).is_empty(), "ringing: no overflow");
    let out = sim.send(Input::OfferFailed {
        offer,
        reason: OfferFailure::Unreachable,
    });
    assert_eq!(overflowed(&out), vec![(1, "a".into(), "b".into())]);
    assert_eq!(the_offer(&out).2, "y", "routed in the new queue at once");
}

#[test]
fn widening_after_its_delay_not_before() {
    let mut q = queue("expert", &[("expert", 5)]);
    q.widen = Some(Widen {
        after_s: 20,
        skills: vec![crate::SkillReq::new("general", 2)],
    });
    let mut sim = Sim::registered(cfg(vec![q], vec![agent("g", &[("general", 3)])]));
    sim.enqueue(1, "expert");
    sim.at(5.0);
    sim.enqueue_with(2, "expert", 0, 0, &[("french", 1)]);
    assert!(sim.at(19.999).is_empty());
    let out = sim.at(20.0);
    assert!(out.contains(&Output::Widened {
        call: 1,
        queue: "expert".into(),
    }));
    assert_eq!(the_offer(&out).1, 1);
    // The call's own skills still apply after widening: g has no french.
    let out = sim.at(25.0);
    assert!(out.contains(&Output::Widened {
        call: 2,
        queue: "expert".into(),
    }));
    assert!(offers(&out).is_empty());
}

#[test]
fn max_wait_takes_the_call_out_to_its_destination() {
    let mut q = queue("q", &[("x", 1)]);
    q.max_wait = Some(MaxWait {
        after_s: 60,
        destination: "voicemail".into(),
    });
    let mut sim = Sim::registered(cfg(vec![q], vec![]));
    sim.enqueue(1, "q");
    assert!(sim.at(59.999).is_empty());
    let out = sim.at(60.0);
    assert_eq!(
        out,
        vec![Output::Left {
            call: 1,
            queue: "q".into(),
            reason: LeaveReason::MaxWait,
            destination: Some("voicemail".into()),
        }]
    );
    assert!(sim.r.position(1).is_none());
    assert!(sim.at(600.0).is_empty(), "no stray timers");
}

#[test]
fn max_wait_while_ringing_applies_when_the_offer_fails() {
    let mut q = queue("q", &[]);
    q.max_wait = Some(MaxWait {
        after_s: 10,
        destination: "msg".into(),
    });
    let mut sim = Sim::registered(cfg(vec![q], vec![agent("a", &[])]));
    sim.at(1.0);
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "p".into(),
        },
        "a",
    );
    sim.enqueue(1, "q");
    sim.at(5.0);
    let (offer, _, _) = the_offer(&sim.agent_input(|agent| Input::Unpause { agent }, "a"));
    assert!(sim.at(12.0).is_empty(), "ringing at 10 s: let it ring");
    let out = sim.send(Input::OfferFailed {
        offer,
        reason: OfferFailure::Declined,
    });
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Left {
            call: 1,
            reason: LeaveReason::MaxWait,
            ..
        }
    )));
    assert!(offers(&out).is_empty());
}

#[test]
fn long_wait_is_announced_once() {
    let mut q = queue("q", &[("x", 1)]);
    q.long_wait_s = Some(90);
    q.overflow = Some(Overflow {
        after_s: 100,
        queue: "r".into(),
    });
    let mut r = queue("r", &[("x", 1)]);
    r.long_wait_s = Some(30);
    let mut sim = Sim::registered(cfg(vec![q, r], vec![]));
    sim.enqueue(1, "q");
    assert!(sim.at(89.0).is_empty());
    let out = sim.at(90.0);
    assert_eq!(
        out,
        vec![Output::LongWait {
            call: 1,
            queue: "q".into()
        }]
    );
    let out = sim.at(1000.0);
    assert_eq!(overflowed(&out).len(), 1);
    assert!(
        !out.iter().any(|o| matches!(o, Output::LongWait { .. })),
        "once per call"
    );
}
