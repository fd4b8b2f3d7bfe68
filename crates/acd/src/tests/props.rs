//! Property tests: random input sequences with advancing time. No call is
//! lost, no agent holds two calls or offers, FIFO holds within equal
//! priority and boost, nothing panics, internal invariants hold throughout.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::{InputError, MaxWait, OfferFailure, Overflow, Strategy as Routing, Widen};

const STRATEGIES: [Routing; 5] = [
    Routing::LongestIdle,
    Routing::FewestCalls,
    Routing::RoundRobin,
    Routing::SkillWeighted,
    Routing::RingAll,
];

const AGENTS: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        queue: usize,
        priority: i32,
        boost_s: u32,
        extra: Option<u8>,
    },
    Abandon(usize),
    Answer(usize),
    Fail(usize, u8),
    End(usize),
    Agent(usize, u8),
    Advance(u32),
    Garbage(u8),
}

fn op(queues: usize, plain: bool) -> impl Strategy<Value = Op> {
    let enqueue = if plain {
        Just(Op::Enqueue {
            queue: 0,
            priority: 0,
            boost_s: 0,
            extra: None,
        })
        .boxed()
    } else {
        (
            0..queues + 1,
            -1..3i32,
            0..40u32,
            proptest::option::weighted(0.2, 1..4u8),
        )
            .prop_map(|(queue, priority, boost_s, extra)| Op::Enqueue {
                queue,
                priority,
                boost_s,
                extra,
            })
            .boxed()
    };
    prop_oneof![
        6 => enqueue,
        1 => any::<usize>().prop_map(Op::Abandon),
        5 => any::<usize>().prop_map(Op::Answer),
        3 => (any::<usize>(), 0..3u8).prop_map(|(i, r)| Op::Fail(i, r)),
        5 => any::<usize>().prop_map(Op::End),
        4 => (0..AGENTS.len(), 0..8u8).prop_map(|(a, k)| Op::Agent(a, k)),
        5 => (0..8_000u32).prop_map(Op::Advance),
        1 => (8_000..70_000u32).prop_map(Op::Advance),
        1 => (0..6u8).prop_map(Op::Garbage),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Waiting,
    Ringing,
    Connected,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Offer(OfferId),
    Call(CallId),
}

/// What the outside world knows, rebuilt from outputs only.
struct Model {
    sim: Sim,
    queues: Vec<String>,
    next_call: CallId,
    fate: BTreeMap<CallId, Fate>,
    offers: BTreeMap<OfferId, (CallId, String)>,
    hold: BTreeMap<String, Hold>,
    /// For the FIFO check: calls waiting (not ringing), when `fifo`.
    waiting: BTreeSet<CallId>,
    fifo: bool,
    secs: f64,
}

impl Model {
    fn new(c: AcdConfig, fifo: bool) -> Model {
        let queues = c.queues.iter().map(|q| q.name.clone()).collect();
        Model {
            sim: Sim::registered(c),
            queues,
            next_call: 1,
            fate: BTreeMap::new(),
            offers: BTreeMap::new(),
            hold: BTreeMap::new(),
            waiting: BTreeSet::new(),
            fifo,
            secs: 0.0,
        }
    }

    fn nth<T: Copy>(items: impl Iterator<Item = T>, i: usize) -> Option<T> {
        let v: Vec<T> = items.collect();
        (!v.is_empty()).then(|| v[i % v.len()])
    }

    fn calls_in(&self, f: fn(Fate) -> bool) -> impl Iterator<Item = CallId> + '_ {
        self.fate
            .iter()
            .filter(move |(_, s)| f(**s))
            .map(|(c, _)| *c)
    }

    fn step(&mut self, op: Op) {
        let out = match op {
            Op::Enqueue {
                queue,
                priority,
                boost_s,
                extra,
            } => self.enqueue(queue, priority, boost_s, extra),
            Op::Abandon(i) => {
                let Some(call) = Self::nth(self.calls_in(|f| f != Fate::Done), i) else {
                    return;
                };
                self.release_call(call);
                self.fate.insert(call, Fate::Done);
                self.waiting.remove(&call);
                self.sim.send(Input::Abandon { call })
            }
            Op::Answer(i) => {
                let Some(offer) = Self::nth(self.offers.keys().copied(), i) else {
                    return;
                };
                self.sim.answer(offer)
            }
            Op::Fail(i, r) => {
                let Some(offer) = Self::nth(self.offers.keys().copied(), i) else {
                    return;
                };
                let (_, agent) = self.offers.remove(&offer).unwrap();
                assert_eq!(self.hold.remove(&agent), Some(Hold::Offer(offer)));
                let reason = [
                    OfferFailure::NoAnswer,
                    OfferFailure::Declined,
                    OfferFailure::Unreachable,
                ][r as usize];
                self.sim.send(Input::OfferFailed { offer, reason })
            }
            Op::End(i) => {
                let Some(call) = Self::nth(self.calls_in(|f| f == Fate::Connected), i) else {
                    return;
                };
                self.release_call(call);
                self.fate.insert(call, Fate::Done);
                self.sim.end(call)
            }
            Op::Agent(a, k) => self.agent_op(AGENTS[a], k),
            Op::Advance(ms) => {
                self.secs += f64::from(ms) / 1000.0;
                self.sim.at(self.secs)
            }
            Op::Garbage(k) => self.garbage(k),
        };
        self.observe(&out);
        self.check();
    }

    fn enqueue(
        &mut self,
        queue: usize,
        priority: i32,
        boost_s: u32,
        extra: Option<u8>,
    ) -> Vec<Output> {
        let call = self.next_call;
        self.next_call += 1;
        let name = self
            .queues
            .get(queue)
            .cloned()
            .unwrap_or_else(|| "nowhere".into());
        let skills: Vec<(&str, u8)> = extra.map(|l| vec![("g", l)]).unwrap_or_default();
        self.fate.insert(call, Fate::Waiting);
        if self.fifo {
            self.waiting.insert(call);
        }
        self.sim
            .enqueue_with(call, &name, priority, boost_s, &skills)
    }

    /// The caller or edge ends `call`: its agent is free of it.
    fn release_call(&mut self, call: CallId) {
        if self.fate.get(&call) == Some(&Fate::Connected) {
            self.hold.retain(|_, h| *h != Hold::Call(call));
        }
    }

    fn agent_op(&mut self, agent: &str, k: u8) -> Vec<Output> {
        let agent = agent.to_owned();
        let input = match k {
            0 => Input::Registered { agent },
            1 => Input::Unregistered { agent },
            2 => Input::Login { agent },
            3 => Input::Logout { agent },
            4 => Input::Pause {
                agent,
                reason: "p".into(),
            },
            5 => Input::Unpause { agent },
            6 => Input::Ready { agent },
            _ => Input::Disposition {
                agent,
                call: self.next_call.saturating_sub(1),
                code: "ok".into(),
            },
        };
        self.sim.send(input)
    }

    fn garbage(&mut self, k: u8) -> Vec<Output> {
        let input = match k {
            0 => Input::Login {
                agent: "ghost".into(),
            },
            1 => Input::OfferAnswered { offer: 1 << 40 },
            2 => Input::CallEnded { call: 1 << 40 },
            3 => Input::Abandon { call: 1 << 40 },
            4 => Input::Timeout,
            _ => match self.fate.keys().next_back() {
                Some(&call) if self.fate[&call] != Fate::Done => Input::Enqueue {
                    call,
                    queue: self.queues[0].clone(),
                    priority: 0,
                    boost_s: 0,
                    skills: Default::default(),
                },
                _ => Input::Timeout,
            },
        };
        let out = self.sim.send(input);
        assert!(
            out.iter().all(|o| matches!(o, Output::Error { .. })),
            "garbage changed something: {out:?}"
        );
        out
    }

    fn observe(&mut self, out: &[Output]) {
        for o in out {
            match o {
                Output::Offer {
                    offer, call, agent, ..
                } => {
                    assert_eq!(
                        self.hold.get(agent),
                        None,
                        "{agent} offered while holding something"
                    );
                    self.hold.insert(agent.clone(), Hold::Offer(*offer));
                    self.offers.insert(*offer, (*call, agent.clone()));
                    let fate = self.fate.insert(*call, Fate::Ringing);
                    assert!(
                        matches!(fate, Some(Fate::Waiting | Fate::Ringing)),
                        "offer of call {call} in {fate:?}"
                    );
                    if self.fifo {
                        let head = self.waiting.first().copied();
                        assert_eq!(head, Some(*call), "FIFO: offered {call}, head is {head:?}");
                        self.waiting.remove(call);
                    }
                }
                Output::CancelOffer { offer, agent, .. } => {
                    assert_eq!(self.hold.remove(agent), Some(Hold::Offer(*offer)));
                    assert!(self.offers.remove(offer).is_some());
                }
                Output::Connected {
                    call, agent, offer, ..
                } => {
                    assert_eq!(
                        self.hold.insert(agent.clone(), Hold::Call(*call)),
                        Some(Hold::Offer(*offer))
                    );
                    assert!(self.offers.remove(offer).is_some());
                    assert_eq!(
                        self.fate.insert(*call, Fate::Connected),
                        Some(Fate::Ringing)
                    );
                }
                Output::Requeued { call, .. } => {
                    assert_eq!(self.fate.insert(*call, Fate::Waiting), Some(Fate::Ringing));
                    assert!(
                        !self.offers.values().any(|(c, _)| c == call),
                        "requeued while ringing"
                    );
                    if self.fifo {
                        self.waiting.insert(*call);
                    }
                }
                Output::Left { call, .. } => {
                    let fate = self.fate.insert(*call, Fate::Done);
                    assert!(
                        matches!(fate, Some(Fate::Waiting)),
                        "call {call} left from {fate:?}"
                    );
                    self.waiting.remove(call);
                }
                Output::Overflowed { call, .. }
                | Output::Widened { call, .. }
                | Output::LongWait { call, .. } => {
                    assert!(matches!(
                        self.fate.get(call),
                        Some(Fate::Waiting | Fate::Ringing)
                    ));
                }
                Output::AgentState { agent, state, .. } => {
                    let hold = self.hold.get(agent).copied();
                    match state {
                        AgentStateKind::Reserved => assert!(matches!(hold, Some(Hold::Offer(_)))),
                        AgentStateKind::OnCall => assert!(matches!(hold, Some(Hold::Call(_)))),
                        _ => assert_eq!(hold, None, "{agent} {state:?} while holding"),
                    }
                }
                Output::Disposition { .. } => {}
                Output::Error { error } => assert!(
                    matches!(
                        error,
                        InputError::UnknownAgent(_)
                            | InputError::UnknownOffer(_)
                            | InputError::UnknownCall(_)
                            | InputError::DuplicateCall(_)
                            | InputError::NotLoggedIn(_)
                            | InputError::NotAgentsCall { .. }
                            | InputError::InvalidDisposition { .. }
                    ),
                    "{error}"
                ),
            }
        }
    }

    /// Every call the outside knows is where the router says it is.
    fn check(&self) {
        for (&call, &fate) in &self.fate {
            let pos = self.sim.r.position(call);
            match fate {
                Fate::Waiting => assert!(pos.is_some_and(|p| p.position >= 1), "call {call} lost"),
                Fate::Ringing => assert_eq!(pos.map(|p| p.position), Some(0), "call {call}"),
                Fate::Connected | Fate::Done => assert!(pos.is_none(), "call {call}"),
            }
        }
        for (agent, hold) in &self.hold {
            let view = self.sim.r.agent(agent).expect("agents stay configured");
            let call = match hold {
                Hold::Offer(o) => self.offers[o].0,
                Hold::Call(c) => *c,
            };
            assert_eq!(view.call, Some(call), "{agent}");
        }
    }
}

fn mixed_config(strategies: &[usize], logged_in: &[bool]) -> AcdConfig {
    let mut general = queue("general", &[("g", 1)]);
    general.long_wait_s = Some(30);
    general.overflow = Some(Overflow {
        after_s: 40,
        queue: "backup".into(),
    });
    general.ring_timeout_s = 5;
    general.wrap_up_s = 3;
    general.reject_delay_s = 2;
    let mut expert = queue("expert", &[("e", 3)]);
    expert.widen = Some(Widen {
        after_s: 15,
        skills: vec![crate::SkillReq::new("e", 1)],
    });
    expert.max_wait = Some(MaxWait {
        after_s: 60,
        destination: "vm".into(),
    });
    expert.wrap_up_s = 0;
    let mut backup = queue("backup", &[("g", 1)]);
    backup.ring_timeout_s = 4;
    backup.wrap_up_s = 2;
    backup.dispositions = vec!["ok".into()];
    let mut open = queue("open", &[]);
    open.reject_delay_s = 0;
    let mut queues = vec![general, expert, backup, open];
    for (q, &s) in queues.iter_mut().zip(strategies) {
        q.strategy = STRATEGIES[s];
    }
    let mut agents = vec![
        agent("a", &[("g", 2)]),
        agent("b", &[("g", 1), ("e", 3)]),
        agent("c", &[("e", 1)]),
        agent("d", &[("g", 5), ("e", 5)]),
        agent("e", &[]),
    ];
    for (a, &l) in agents.iter_mut().zip(logged_in) {
        a.logged_in = l;
    }
    cfg(queues, agents)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_traffic_loses_nothing_and_double_books_nobody(
        strategies in prop::collection::vec(0..STRATEGIES.len(), 4),
        logged_in in prop::collection::vec(any::<bool>(), AGENTS.len()),
        ops in prop::collection::vec(op(4, false), 1..200),
    ) {
        let mut m = Model::new(mixed_config(&strategies, &logged_in), false);
        for op in ops {
            m.step(op);
        }
        // Let every timer run out: still nothing lost.
        m.step(Op::Advance(3_600_000));
        m.check();
    }

    #[test]
    fn fifo_within_equal_priority_and_boost(
        strategy in 0..STRATEGIES.len() - 1,
        logged_in in prop::collection::vec(any::<bool>(), AGENTS.len()),
        ops in prop::collection::vec(op(1, true), 1..200),
    ) {
        let mut q = queue("q", &[]);
        q.strategy = STRATEGIES[strategy];
        q.ring_timeout_s = 3;
        q.wrap_up_s = 2;
        q.reject_delay_s = 1;
        let mut agents: Vec<AgentConfig> = AGENTS.iter().map(|id| agent(id, &[])).collect();
        for (a, &l) in agents.iter_mut().zip(&logged_in) {
            a.logged_in = l;
        }
        let mut m = Model::new(cfg(vec![q], agents), true);
        for op in ops {
            m.step(op);
        }
    }
}
