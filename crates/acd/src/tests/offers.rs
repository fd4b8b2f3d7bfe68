//! How offers end: answer, ring timeout (RONA), decline, unreachable,
//! unregistration, ring_all losers, abandon.

use std::time::Duration;

use super::*;
use crate::{InputError, OfferFailure, RequeueReason, Strategy};

fn requeued(out: &[Output]) -> Vec<(CallId, RequeueReason)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Requeued { call, reason, .. } => Some((*call, *reason)),
            _ => None,
        })
        .collect()
}

fn cancels(out: &[Output]) -> Vec<(OfferId, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::CancelOffer { offer, agent, .. } => Some((*offer, agent.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn rona_pauses_the_agent_and_keeps_the_call_at_the_head() {
    let mut c = cfg(
        vec![queue("q", &[])],
        vec![agent("a", &[]), agent("b", &[])],
    );
    c.agents[1].logged_in = false;
    let mut sim = Sim::registered(c);
    let (offer, _, who) = the_offer(&sim.enqueue(1, "q"));
    assert_eq!(who, "a");
    sim.at(1.0);
    sim.enqueue(2, "q");
    assert!(sim.at(14.999).is_empty(), "still ringing");
    let out = sim.at(15.0);
    assert_eq!(
        cancels(&out),
        vec![(offer, "a".to_string())],
        "the edge must stop ringing"
    );
    assert!(states(&out).contains(&("a".into(), AgentStateKind::Paused, Some("rona".into()))));
    assert_eq!(requeued(&out), vec![(1, RequeueReason::NoAnswer)]);
    assert!(offers(&out).is_empty(), "a is paused, b logged out");
    assert_eq!(
        sim.r.position(1).unwrap().position,
        1,
        "back at its place, not the tail"
    );
    assert_eq!(sim.r.position(2).unwrap().position, 2);
    // The next agent takes the call that was ringing, not the newer one.
    let out = sim.agent_input(|agent| Input::Login { agent }, "b");
    assert_eq!(the_offer(&out).1, 1);
    // A late answer from a finds the offer gone.
    let out = sim.answer(offer);
    assert_eq!(
        out,
        vec![Output::Error {
            error: InputError::UnknownOffer(offer)
        }]
    );
}

#[test]
fn rona_reroutes_at_once_to_another_free_agent() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[])],
        vec![agent("a", &[]), agent("b", &[])],
    ));
    assert_eq!(the_offer(&sim.enqueue(1, "q")).2, "a");
    let out = sim.at(15.0);
    let (_, call, who) = the_offer(&out);
    assert_eq!((call, who.as_str()), (1, "b"));
    // Edge-reported no answer is the same RONA, without a CancelOffer.
    let out = sim.send(Input::OfferFailed {
        offer: the_offer(&out).0,
        reason: OfferFailure::NoAnswer,
    });
    assert!(cancels(&out).is_empty());
    assert!(states(&out).contains(&("b".into(), AgentStateKind::Paused, Some("rona".into()))));
    assert_eq!(requeued(&out), vec![(1, RequeueReason::NoAnswer)]);
}

#[test]
fn a_declined_call_moves_on_and_the_agent_waits_out_the_reject_delay() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[])],
        vec![agent("a", &[]), agent("b", &[])],
    ));
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "x".into(),
        },
        "b",
    );
    let (offer, _, _) = the_offer(&sim.enqueue(1, "q"));
    sim.at(2.0);
    let out = sim.send(Input::OfferFailed {
        offer,
        reason: OfferFailure::Declined,
    });
    assert!(has_state(&out, "a", AgentStateKind::Available));
    assert_eq!(requeued(&out), vec![(1, RequeueReason::Declined)]);
    assert!(offers(&out).is_empty(), "a is skipped for 5 s");
    assert!(!sim.r.agent("a").unwrap().offerable);
    assert!(sim.at(6.999).is_empty());
    assert_eq!(
        the_offer(&sim.at(7.0)).1,
        1,
        "offered again after the delay"
    );
}

#[test]
fn a_declined_call_goes_to_the_next_free_agent_at_once() {
    let mut sim = Sim::registered(cfg(
        vec![queue("q", &[])],
        vec![agent("a", &[]), agent("b", &[])],
    ));
    let (offer, _, who) = the_offer(&sim.enqueue(1, "q"));
    assert_eq!(who, "a");
    let out = sim.send(Input::OfferFailed {
        offer,
        reason: OfferFailure::Declined,
    });
    assert_eq!(the_offer(&out).2, "b");
    // a is not offered the next call either while in reject delay.
    assert!(offers(&sim.enqueue(2, "q")).is_empty());
    assert_eq!(the_offer(&sim.at(5.0)).1, 2);
}

#[test]
fn unreachable_pauses_the_agent() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    let (offer, _, _) = the_offer(&sim.enqueue(1, "q"));
    let out = sim.send(Input::OfferFailed {
        offer,
        reason: OfferFailure::Unreachable,
    });
    assert!(states(&out).contains(&(
        "a".into(),
        AgentStateKind::Paused,
        Some("unreachable".into())
    )));
    assert_eq!(requeued(&out), vec![(1, RequeueReason::Unreachable)]);
}

#[test]
fn an_unregistered_agent_is_never_offered() {
    let mut sim = Sim::new(cfg(
        vec![queue("q", &[])],
        vec![agent("a", &[]), agent("b", &[])],
    ));
    let out = sim.enqueue(1, "q");
    assert!(offers(&out).is_empty(), "logged in but no phone");
    let view = sim.r.agent("a").unwrap();
    assert_eq!(
        (view.state, view.registered, view.offerable),
        (AgentStateKind::Available, false, false)
    );
    let snap = sim.r.snapshot(sim.now);
    assert_eq!(
        (
            snap.queues[0].agents.unregistered,
            snap.queues[0].agents.offerable
        ),
        (2, 0)
    );
    sim.at(4.0);
    let out = sim.agent_input(|agent| Input::Registered { agent }, "a");
    assert!(out.contains(&Output::AgentState {
        agent: "a".into(),
        state: AgentStateKind::Available,
        reason: None,
        registered: true,
    }));
    let (offer, _, _) = the_offer(&out);
    // Unregistering while ringing: the offer is cancelled and the call requeued.
    let out = sim.agent_input(|agent| Input::Unregistered { agent }, "a");
    assert_eq!(cancels(&out), vec![(offer, "a".to_string())]);
    assert_eq!(requeued(&out), vec![(1, RequeueReason::Unregistered)]);
    assert!(offers(&out).is_empty());
    assert_eq!(sim.r.position(1).unwrap().position, 1);
    let out = sim.agent_input(|agent| Input::Registered { agent }, "b");
    assert_eq!(the_offer(&out).2, "b");
}

#[test]
fn ring_all_rings_everyone_and_cancels_the_losers() {
    let mut q = queue("q", &[]);
    q.strategy = Strategy::RingAll;
    let mut sim = Sim::registered(cfg(
        vec![q],
        vec![
            agent("a", &[]),
            agent("b", &[]),
            agent("c", &[]),
            agent("d", &[]),
        ],
    ));
    sim.agent_input(
        |agent| Input::Pause {
            agent,
            reason: "x".into(),
        },
        "d",
    );
    let out = sim.enqueue(1, "q");
    let rung = offers(&out);
    assert_eq!(
        rung.iter().map(|o| o.2.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(sim.r.position(1).unwrap().position, 0, "ringing");
    // b declines: the others keep ringing, no requeue yet.
    let out = sim.send(Input::OfferFailed {
        offer: rung[1].0,
        reason: OfferFailure::Declined,
    });
    assert!(requeued(&out).is_empty());
    let out = sim.answer(rung[2].0);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Connected { agent, .. } if agent == "c")));
    assert_eq!(cancels(&out), vec![(rung[0].0, "a".to_string())]);
    assert!(
        states(&out).contains(&("a".into(), AgentStateKind::Available, None)),
        "not rona"
    );
    assert!(requeued(&out).is_empty());
    // Every offer failing puts the call back once.
    let out = sim.enqueue(2, "q");
    let rung = offers(&out);
    assert_eq!(rung.len(), 1, "only a is free now (b in reject delay)");
    let out = sim.at(15.0);
    assert_eq!(requeued(&out), vec![(2, RequeueReason::NoAnswer)]);
}

#[test]
fn abandon_while_ringing_cancels_the_offer_and_frees_the_agent() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    let (offer, _, _) = the_offer(&sim.enqueue(1, "q"));
    sim.enqueue(2, "q");
    sim.at(3.0);
    let out = sim.send(Input::Abandon { call: 1 });
    assert_eq!(cancels(&out), vec![(offer, "a".to_string())]);
    assert!(has_state(&out, "a", AgentStateKind::Available));
    assert_eq!(the_offer(&out).1, 2, "freed agent takes the next call");
    assert!(sim.r.position(1).is_none());
    // Abandon while waiting just removes the call.
    sim.enqueue(3, "q");
    assert!(sim.send(Input::Abandon { call: 3 }).is_empty());
    assert!(sim.r.position(3).is_none());
    // Abandon of a connected call ends it like CallEnded.
    sim.answer(the_offer(&out).0);
    let out = sim.send(Input::Abandon { call: 2 });
    assert!(has_state(&out, "a", AgentStateKind::WrapUp));
    let snap = sim.r.snapshot(sim.now + Duration::from_secs(1));
    assert_eq!((snap.queues[0].waiting, snap.queues[0].offering), (0, 0));
}

#[test]
fn one_agent_one_offer_at_a_time() {
    let mut sim = Sim::registered(cfg(vec![queue("q", &[])], vec![agent("a", &[])]));
    let out = sim.enqueue(1, "q");
    let (offer, _, _) = the_offer(&out);
    assert!(offers(&sim.enqueue(2, "q")).is_empty());
    sim.answer(offer);
    assert!(offers(&sim.enqueue(3, "q")).is_empty(), "no call waiting");
    assert_eq!(sim.r.agent("a").unwrap().call, Some(1));
}
