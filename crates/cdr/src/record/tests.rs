//! Folding events into records: every outcome, wrap-up, transfers.

use super::*;

fn ev(kind: EventKind) -> CallEvent {
    CallEvent::now("r1", kind)
}

fn arrived() -> CallEvent {
    ev(EventKind::Arrived {
        sip_call_id: "c1".into(),
        trunk: Some("local".into()),
        did: Some("3422".into()),
        flow: Some("demo".into()),
        caller: Some("+33612345678".into()),
        caller_withheld: false,
        source: "127.0.0.1:5062".into(),
        transport: "UDP".into(),
    })
}

#[test]
fn caller_classes() {
    assert_eq!(
        classify_caller(Some("0612345678"), false),
        CallerClass::Mobile
    );
    assert_eq!(
        classify_caller(Some("+33712345678"), false),
        CallerClass::Mobile
    );
    assert_eq!(
        classify_caller(Some("0184903422"), false),
        CallerClass::Landline
    );
    assert_eq!(
        classify_caller(Some("+4930123456"), false),
        CallerClass::International
    );
    assert_eq!(
        classify_caller(Some("0612345678"), true),
        CallerClass::Withheld
    );
    assert_eq!(classify_caller(None, false), CallerClass::Withheld);
    assert_eq!(classify_caller(Some("3422"), false), CallerClass::Other);
}

#[test]
fn fold_answered_call() {
    let mut r = CallRecord::open(&arrived()).unwrap();
    assert_eq!(r.caller_class, CallerClass::Mobile);
    assert!(!r.apply(&ev(EventKind::Answered {
        codec: "PCMU".into()
    })));
    r.apply(&ev(EventKind::Digit {
        digit: '1',
        source: DigitSource::Rfc4733,
    }));
    assert!(r.apply(&ev(EventKind::Ended {
        by: Party::Caller,
        reason: "bye".into()
    })));
    assert_eq!(r.outcome, Outcome::AbandonedIvr);
    assert_eq!(r.digits.len(), 1);
    assert_eq!(r.sip_code, Some(200));
}

#[test]
fn fold_queued_answered_and_abandoned() {
    let t0 = Utc::now();
    let at = |s: i64, kind| CallEvent {
        record_id: "r1".into(),
        at: t0 + chrono::Duration::seconds(s),
        kind,
    };
    let mut r = CallRecord::open(&arrived()).unwrap();
    r.apply(&at(
        0,
        EventKind::Answered {
            codec: "PCMU".into(),
        },
    ));
    r.apply(&at(
        10,
        EventKind::Queued {
            queue: "general".into(),
            priority: 0,
        },
    ));
    r.apply(&at(
        40,
        EventKind::AgentOffered {
            agent: "agent1".into(),
        },
    ));
    r.apply(&at(
        55,
        EventKind::AgentMissed {
            agent: "agent1".into(),
            reason: "no_answer".into(),
        },
    ));
    r.apply(&at(
        56,
        EventKind::AgentOffered {
            agent: "agent2".into(),
        },
    ));
    r.apply(&at(
        60,
        EventKind::AgentAnswered {
            agent: "agent2".into(),
        },
    ));
    r.apply(&at(180, EventKind::AgentEnded { by: Party::Agent }));
    assert!(
        !r.apply(&at(
            181,
            EventKind::Ended {
                by: Party::System,
                reason: "script_end".into()
            }
        )),
        "complete only once the agent's wrap-up is over"
    );
    r.apply(&at(
        185,
        EventKind::Disposition {
            agent: "agent2".into(),
            code: "17".into(),
        },
    ));
    assert!(r.apply(&at(
        190,
        EventKind::WrapUpEnded {
            agent: "agent2".into()
        }
    )));
    assert_eq!(r.outcome, Outcome::Answered);
    assert_eq!(r.wrapup_ms, Some(10_000));
    assert_eq!(r.disposition.as_deref(), Some("17"));
    assert_eq!(r.agent.as_deref(), Some("agent2"));
    assert_eq!((r.wait_ms, r.talk_ms), (Some(50_000), Some(120_000)));
    assert_eq!(r.ended_by, Some(Party::Agent));
    assert_eq!(r.offers[0].result.as_deref(), Some("no_answer"));
    assert_eq!(r.offers[1].result.as_deref(), Some("answered"));

    let mut r = CallRecord::open(&arrived()).unwrap();
    r.apply(&at(
        0,
        EventKind::Answered {
            codec: "PCMU".into(),
        },
    ));
    r.apply(&at(
        5,
        EventKind::Queued {
            queue: "general".into(),
            priority: 0,
        },
    ));
    r.apply(&at(
        35,
        EventKind::Ended {
            by: Party::Caller,
            reason: "bye".into(),
        },
    ));
    assert_eq!(r.outcome, Outcome::AbandonedQueue);
    assert_eq!(r.wait_ms, Some(30_000));

    let mut r = CallRecord::open(&arrived()).unwrap();
    r.apply(&at(
        0,
        EventKind::Answered {
            codec: "PCMU".into(),
        },
    ));
    r.apply(&at(
        5,
        EventKind::Queued {
            queue: "general".into(),
            priority: 0,
        },
    ));
    r.apply(&at(
        65,
        EventKind::AgentAnswered {
            agent: "agent1".into(),
        },
    ));
    r.apply(&at(
        95,
        EventKind::Ended {
            by: Party::Caller,
            reason: "bye".into(),
        },
    ));
    assert_eq!(
        (r.outcome, r.ended_by),
        (Outcome::Answered, Some(Party::Caller))
    );
    assert_eq!(r.talk_ms, Some(30_000));
}

#[test]
fn wrap_up_may_end_before_the_caller_leaves() {
    // The agent hangs up, the caller goes on to a survey; the agent's
    // wrap-up ends first.
    let mut r = CallRecord::open(&arrived()).unwrap();
    for kind in [
        EventKind::Answered {
            codec: "PCMA".into(),
        },
        EventKind::Queued {
            queue: "general".into(),
            priority: 0,
        },
        EventKind::AgentAnswered {
            agent: "agent1".into(),
        },
        EventKind::AgentEnded { by: Party::Agent },
    ] {
        assert!(!r.apply(&ev(kind)));
    }
    assert!(!r.apply(&ev(EventKind::WrapUpEnded {
        agent: "agent1".into()
    })));
    assert!(r.apply(&ev(EventKind::Ended {
        by: Party::Caller,
        reason: "bye".into()
    })));
    assert_eq!(r.outcome, Outcome::Answered);
    assert!(r.wrapup_ms.is_some());
}

#[test]
fn a_transferred_call_keeps_both_conversations() {
    let t0 = Utc::now();
    let at = |s: i64, kind| CallEvent {
        record_id: "r1".into(),
        at: t0 + chrono::Duration::seconds(s),
        kind,
    };
    let mut r = CallRecord::open(&arrived()).unwrap();
    let queued = |q: &str| EventKind::Queued {
        queue: q.into(),
        priority: 0,
    };
    let steps = [
        (
            0,
            EventKind::Answered {
                codec: "PCMU".into(),
            },
        ),
        (0, queued("general")),
        (
            20,
            EventKind::AgentAnswered {
                agent: "agent1".into(),
            },
        ),
        (80, EventKind::AgentEnded { by: Party::Agent }),
        (
            80,
            EventKind::Transferred {
                agent: "agent1".into(),
                to: "expert".into(),
            },
        ),
        (80, queued("expert")),
        (
            90,
            EventKind::WrapUpEnded {
                agent: "agent1".into(),
            },
        ),
        (
            110,
            EventKind::AgentAnswered {
                agent: "agent3".into(),
            },
        ),
        (200, EventKind::AgentEnded { by: Party::Agent }),
    ];
    for (t, kind) in steps {
        assert!(!r.apply(&at(t, kind)), "not complete before the end");
    }
    assert!(
        !r.apply(&at(
            200,
            EventKind::Ended {
                by: Party::System,
                reason: "script_end".into()
            }
        )),
        "agent3's wrap-up is still due"
    );
    assert!(r.apply(&at(
        205,
        EventKind::WrapUpEnded {
            agent: "agent3".into()
        }
    )));
    assert_eq!(r.outcome, Outcome::Answered);
    assert_eq!(r.agent.as_deref(), Some("agent3"), "the last agent");
    assert_eq!(r.wait_ms, Some(20_000), "wait until the first answer");
    assert_eq!(r.talk_ms, Some(60_000 + 90_000), "both conversations");
    assert_eq!(r.wrapup_ms, Some(10_000 + 5_000));
    assert_eq!((r.hold_ms, r.holds), (0, 0));
    assert_eq!(r.transfers.len(), 1);
    assert_eq!(r.conversations.len(), 2);
    assert_eq!(r.conversations[1].queue.as_deref(), Some("expert"));
    assert_eq!(r.queue.as_deref(), Some("expert"));
}

#[test]
fn dissuasions_and_flags() {
    let end = |disposition: Option<&str>| {
        let mut r = CallRecord::open(&arrived()).unwrap();
        r.apply(&ev(EventKind::Answered {
            codec: "PCMU".into(),
        }));
        if let Some(d) = disposition {
            r.apply(&ev(EventKind::FlowEnded {
                disposition: d.into(),
            }));
        }
        r.apply(&ev(EventKind::Ended {
            by: Party::System,
            reason: "script_end".into(),
        }));
        (r.outcome, r.dissuasion)
    };
    assert_eq!(
        end(Some("closed")),
        (Outcome::Dissuaded, Some("closure".into()))
    );
    assert_eq!(
        end(Some("saturation")),
        (Outcome::Dissuaded, Some("saturation".into()))
    );
    assert_eq!(end(Some("evaluated_yes")), (Outcome::SelfService, None));
    assert_eq!(end(None), (Outcome::SelfService, None));

    let t0 = Utc::now();
    let mut r = CallRecord::open(&arrived()).unwrap();
    r.apply(&ev(EventKind::Answered {
        codec: "PCMU".into(),
    }));
    r.apply(&CallEvent {
        record_id: "r1".into(),
        at: t0,
        kind: EventKind::Queued {
            queue: "general".into(),
            priority: 0,
        },
    });
    r.apply(&CallEvent {
        record_id: "r1".into(),
        at: t0 + chrono::Duration::seconds(3),
        kind: EventKind::Ended {
            by: Party::Caller,
            reason: "bye".into(),
        },
    });
    let opts = FoldOptions {
        test_numbers: ["+33612345678".to_string()].into(),
        short_abandon_ms: 5_000,
    };
    r.finish(&opts);
    assert_eq!(r.outcome, Outcome::AbandonedQueue);
    assert!(r.short_abandon && r.test_number);
}

#[test]
fn fold_rejected_and_cancelled() {
    let mut r = CallRecord::open(&arrived()).unwrap();
    assert!(r.apply(&ev(EventKind::Rejected {
        sip_code: 404,
        reason: "unknown DID".into()
    })));
    assert_eq!((r.outcome, r.sip_code), (Outcome::Rejected, Some(404)));
    let mut r = CallRecord::open(&arrived()).unwrap();
    r.apply(&ev(EventKind::Ended {
        by: Party::Caller,
        reason: "cancel".into(),
    }));
    assert_eq!((r.outcome, r.sip_code), (Outcome::Cancelled, Some(487)));
}
