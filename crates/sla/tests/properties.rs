//! Properties over random call sets: every call is in exactly one outcome
//! bucket and the buckets add up to received; rates stay within [0, 1];
//! grouping by day then summing gives the ungrouped counts.

mod common;

use std::collections::BTreeMap;

use cdr::CallRecord;
use chrono::Duration;
use chrono_tz::Europe::Paris;
use common::{at, call, Edit};
use proptest::prelude::*;
use sla::kpi::volume::{Bucket, Volume};
use sla::{Dimension, Grouping, History, Period, ReportLine, Scope, SlaConfig, Unit};

const QUEUES: [&str; 3] = ["A", "B", "C"];
const CALLERS: [&str; 4] = ["0611111111", "0622222222", "+4930123456", "0184903422"];

/// What varies in a random call.
#[derive(Debug, Clone)]
struct Spec {
    minute: i64,
    outcome: u8,
    hops: Vec<usize>,
    wait_s: u64,
    talk_s: u64,
    wrapup_s: Option<u64>,
    disposition: Option<u8>,
    caller: Option<usize>,
    test_number: bool,
    reason: u8,
    prompt: (u64, u64),
    file0: Option<(u8, u64)>,
    input: Option<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            0i64..14 * 24 * 60,
            0u8..10,
            prop::collection::vec(0usize..3, 0..4),
        ),
        (0u64..400, 0u64..1000, prop::option::of(0u64..300)),
        (
            prop::option::of(0u8..3),
            prop::option::of(0usize..4),
            any::<bool>(),
            0u8..5,
        ),
        (
            (0u64..20_000, 0u64..20_000),
            prop::option::of((0u8..2, 0u64..2000)),
        ),
        prop::option::of(0u8..3),
    )
        .prop_map(
            |(
                (minute, outcome, hops),
                (wait_s, talk_s, wrapup_s),
                (disposition, caller, test_number, reason),
                (prompt, file0),
                input,
            )| Spec {
                minute,
                outcome,
                hops,
                wait_s,
                talk_s,
                wrapup_s,
                disposition,
                caller,
                test_number,
                reason,
                prompt,
                file0,
                input,
            },
        )
}

/// A record from a spec: two weeks from 2026-10-19, across the DST change.
fn record(i: usize, s: &Spec) -> CallRecord {
    let t = at("2026-10-19T00:00:00Z") + Duration::minutes(s.minute);
    let mut r = call(&format!("r{i}"), &t.to_rfc3339());
    let queue = s.hops.last().map(|q| QUEUES[*q]);
    let earlier: Vec<&str> = s
        .hops
        .iter()
        .rev()
        .skip(1)
        .rev()
        .map(|q| QUEUES[*q])
        .collect();
    r = match (s.outcome, queue) {
        (0, _) => r.rejected(
            [503, 404, 486, 403][usize::from(s.reason % 4)],
            "trunk at capacity",
        ),
        (1, _) => r.cancelled(),
        (2, _) => r.abandoned_ivr(),
        (3, _) => r,
        (4, Some(q)) => r.answered(q, s.wait_s, s.talk_s, s.wrapup_s),
        (5, Some(q)) => r.abandoned_in(q, s.wait_s % 10 + s.wait_s / 40),
        (6, _) => {
            r.dissuaded(["closure", "saturation", "informed", "file0", "?"][usize::from(s.reason)])
        }
        (7, _) => {
            r.outcome = cdr::Outcome::Failed;
            r
        }
        (8, _) => {
            r.outcome = cdr::Outcome::Interrupted;
            r
        }
        (_, Some(q)) => r.queued(q),
        (_, None) => r,
    };
    if !earlier.is_empty() && r.queue.is_some() {
        r = r.overflowed(&earlier);
    }
    if let Some(d) = s.disposition {
        r = r.disposition(["1", "2", ""][usize::from(d)]);
    }
    if let Some(c) = s.caller {
        r = r.from(CALLERS[c]);
    }
    if s.test_number {
        r = r.test_number();
    }
    r = r.prompt("info", s.prompt.0, s.prompt.1);
    if let Some((a, delay)) = s.file0 {
        let requested = r.arrived_at - Duration::seconds(delay as i64);
        r = r.file0(["f1", "f2"][usize::from(a)], &requested.to_rfc3339());
    }
    if let Some(input) = s.input {
        r = r.step("q", "queue", None).step(
            "survey",
            "menu",
            Some(["1", "2", "9"][usize::from(input)]),
        );
    }
    r
}

fn records(specs: &[Spec]) -> Vec<CallRecord> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| record(i, s))
        .collect()
}

/// Random switches for the ambiguous choices.
fn config() -> impl Strategy<Value = SlaConfig> {
    (prop::array::uniform16(any::<bool>()), 0u64..200).prop_map(|(b, y)| {
        let mut c = SlaConfig {
            include_test_numbers: b[0],
            service_level_s: y,
            ..SlaConfig::default()
        };
        c.pickup.exclude_telecom = b[1];
        c.pickup.exclude_closure = b[2];
        c.pickup.exclude_saturation = b[3];
        c.pickup.exclude_informed = b[4];
        c.pickup.exclude_file0 = b[5];
        c.pickup.exclude_short_abandons = b[6];
        c.pickup.overflow_in = b[7];
        c.pickup.overflow_out = b[8];
        c.lost.informed = b[9];
        c.lost.short_abandons = b[10];
        c.lost.cancelled = b[11];
        c.lost.failed = b[12];
        c.wait.short_abandons = b[13];
        c.self_service.same_day_callback = b[14];
        if b[15] {
            c.service_level_denominator = sla::kpi::service_level::SlDenominator::Answered;
        }
        c
    })
}

fn report(calls: &[CallRecord], g: &Grouping, cfg: &SlaConfig) -> Vec<ReportLine> {
    let history = History::new(calls, cfg.include_test_numbers);
    sla::report(calls, g, &history, cfg, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_call_is_in_exactly_one_bucket(specs in prop::collection::vec(spec(), 0..40), tests in any::<bool>()) {
        let calls = records(&specs);
        let scopes = [None, Some("A"), Some("B"), Some("C")];
        for q in scopes {
            let scope = Scope { queue: q, include_test_numbers: tests };
            let v = Volume::of(&calls, &scope);
            let owned = calls.iter().filter(|r| scope.owns(r)).count() as u64;
            prop_assert_eq!(v.received, owned);
            prop_assert_eq!(v.buckets.values().sum::<u64>(), v.received);
            for r in calls.iter().filter(|r| scope.owns(r)) {
                let b = Bucket::of(r);
                let others = v.buckets.keys().filter(|k| **k == b).count();
                prop_assert_eq!(others, 1);
            }
            prop_assert!(v.incoming <= v.received && v.queued <= v.received);
            prop_assert!(v.short_abandons <= v.bucket(Bucket::AbandonedQueue));
        }
        // Queues split the platform's calls: those that queued end in one.
        let platform = Volume::of(&calls, &Scope::platform().with_test_numbers(tests));
        let in_queues: u64 = QUEUES
            .iter()
            .map(|q| Volume::of(&calls, &Scope::queue(q).with_test_numbers(tests)).received)
            .sum();
        let queued = calls
            .iter()
            .filter(|r| r.queue.is_some() && (tests || !r.test_number))
            .count() as u64;
        prop_assert_eq!(in_queues, queued);
        prop_assert!(in_queues <= platform.received);
    }

    #[test]
    fn rates_stay_within_0_and_1(
        specs in prop::collection::vec(spec(), 0..40),
        cfg in config(),
        by_queue in any::<bool>(),
    ) {
        let calls = records(&specs);
        let g = Grouping {
            period: Some(Period::Day),
            dimension: by_queue.then_some(Dimension::Queue),
            ..Grouping::all(Paris)
        };
        for l in report(&calls, &g, &cfg) {
            if l.unit != Unit::Rate {
                continue;
            }
            let (num, den) = (l.numerator.unwrap(), l.denominator.unwrap());
            prop_assert!(num <= den, "{} {}: {} > {}", l.group, l.kpi, num, den);
            if let Some(v) = l.value {
                prop_assert!((0.0..=1.0).contains(&v), "{} {}: {}", l.group, l.kpi, v);
            } else {
                prop_assert_eq!(den, 0.0);
            }
        }
    }

    #[test]
    fn days_add_up_to_the_whole(specs in prop::collection::vec(spec(), 0..40), cfg in config()) {
        let calls = records(&specs);
        let whole = report(&calls, &Grouping::all(Paris), &cfg);
        let by_day = Grouping { period: Some(Period::Day), ..Grouping::all(Paris) };
        // Counts, and the numerators and denominators of rates, summed
        // over the days.
        let mut sums: BTreeMap<(String, u8), f64> = BTreeMap::new();
        for l in report(&calls, &by_day, &cfg) {
            match l.unit {
                Unit::Count => *sums.entry((l.kpi, 0)).or_default() += l.value.unwrap(),
                Unit::Rate => {
                    *sums.entry((l.kpi.clone(), 1)).or_default() += l.numerator.unwrap();
                    *sums.entry((l.kpi, 2)).or_default() += l.denominator.unwrap();
                }
                _ => {}
            }
        }
        for l in whole {
            let parts = match l.unit {
                Unit::Count => vec![(0, l.value.unwrap())],
                Unit::Rate => vec![(1, l.numerator.unwrap()), (2, l.denominator.unwrap())],
                _ => continue,
            };
            for (part, whole_value) in parts {
                let summed = sums.get(&(l.kpi.clone(), part)).copied().unwrap_or(0.0);
                prop_assert_eq!(summed, whole_value, "{} part {}", l.kpi, part);
            }
        }
    }
}
