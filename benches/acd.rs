//! ACD router hot path: the cost of queueing one more call when 1,000 or
//! 100,000 already wait (it must stay flat), and one routing decision (a
//! freed agent picks the best call across 10 queues) with 10,000 calls
//! waiting and 1,000 agents configured.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use acd::{AcdConfig, AgentConfig, Input, OfferFailure, Output, QueueConfig, Router, SkillReq};
use criterion::{criterion_group, criterion_main, Criterion};

fn queue(name: &str, skill: &str) -> QueueConfig {
    let mut q = QueueConfig::new(name);
    q.skills = vec![SkillReq::new(skill, 1)];
    q
}

fn enqueue(call: u64, queue: &str, priority: i32) -> Input {
    Input::Enqueue {
        call,
        queue: queue.into(),
        priority,
        boost_s: (call % 7) as u32,
        skills: BTreeMap::new(),
    }
}

fn drain(r: &mut Router) -> Option<u64> {
    let mut offer = None;
    while let Some(o) = r.poll() {
        if let Output::Offer { offer: id, .. } = o {
            offer = Some(id);
        }
    }
    offer
}

/// One more caller in a queue that holds `waiting` (no agent), then gone.
fn bench_enqueue(c: &mut Criterion) {
    for waiting in [1_000u64, 100_000] {
        let cfg = AcdConfig {
            queues: vec![queue("general", "general")],
            agents: vec![],
        };
        let mut r = Router::new(cfg).unwrap();
        let mut now = Instant::now();
        for call in 0..waiting {
            r.handle(now, enqueue(call, "general", (call % 3) as i32));
            now += Duration::from_micros(10);
        }
        drain(&mut r);
        let mut next = waiting;
        c.bench_function(&format!("acd enqueue+abandon, {waiting} waiting"), |b| {
            b.iter(|| {
                now += Duration::from_micros(10);
                r.handle(now, enqueue(next, "general", 1));
                r.handle(now, Input::Abandon { call: next });
                next += 1;
                drain(&mut r);
            })
        });
    }
}

/// Position of a caller in a queue of 100,000 (position announcements):
/// each look-up at a new router instant, so the rank table is rebuilt once
/// a second of router time as in production.
fn bench_position(c: &mut Criterion) {
    let waiting = 100_000u64;
    let cfg = AcdConfig {
        queues: vec![queue("general", "general")],
        agents: vec![],
    };
    let mut r = Router::new(cfg).unwrap();
    let mut now = Instant::now();
    for call in 0..waiting {
        r.handle(now, enqueue(call, "general", 0));
        now += Duration::from_micros(10);
    }
    drain(&mut r);
    let mut call = 0;
    c.bench_function("acd position, 100000 waiting, 1,667 look-ups/s", |b| {
        b.iter(|| {
            // 100,000 callers told every 60 s: one look-up every 600 µs.
            now += Duration::from_micros(600);
            r.handle(now, Input::Timeout);
            drain(&mut r);
            call = (call + 7_919) % waiting;
            r.position(call).map(|p| p.position)
        })
    });
}

/// A paused agent with every skill comes back: the router picks the best
/// of 10,000 calls in 10 queues (999 other agents paused), rings it; the
/// ring fails and the call goes back to its place.
fn bench_decision(c: &mut Criterion) {
    let queues: Vec<QueueConfig> = (0..10)
        .map(|i| queue(&format!("q{i}"), &format!("s{i}")))
        .collect();
    let mut agents: Vec<AgentConfig> = (0..999)
        .map(|i| {
            let a = format!("s{}", i % 10);
            let b = format!("s{}", (i + 3) % 10);
            AgentConfig::new(format!("a{i}"), [(a.as_str(), 5), (b.as_str(), 3)])
        })
        .collect();
    let all: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    agents.push(AgentConfig::new(
        "probe",
        all.iter().map(|s| (s.as_str(), 5)),
    ));
    let mut r = Router::new(AcdConfig { queues, agents }).unwrap();
    let mut now = Instant::now();
    for i in 0..1000 {
        let id = if i == 999 {
            "probe".to_string()
        } else {
            format!("a{i}")
        };
        r.handle(
            now,
            Input::Pause {
                agent: id.clone(),
                reason: "bench".into(),
            },
        );
        r.handle(now, Input::Registered { agent: id });
    }
    for call in 0..10_000u64 {
        r.handle(
            now,
            enqueue(call, &format!("q{}", call % 10), (call % 2) as i32),
        );
        now += Duration::from_millis(1);
    }
    drain(&mut r);
    c.bench_function("acd routing decision, 10000 waiting, 1000 agents", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            r.handle(
                now,
                Input::Unpause {
                    agent: "probe".into(),
                },
            );
            let offer = drain(&mut r).expect("the freed agent is offered a call");
            r.handle(
                now,
                Input::OfferFailed {
                    offer,
                    reason: OfferFailure::Unreachable,
                },
            );
            drain(&mut r);
        })
    });
}

criterion_group!(benches, bench_enqueue, bench_decision, bench_position);
criterion_main!(benches);
