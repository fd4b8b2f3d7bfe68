//! Hand-computed test vectors: small sets of call records whose KPI values
//! are worked out in the comments, asserted exactly (ratios to 4 decimals).

mod common;

use cdr::CallRecord;
use chrono_tz::Europe::Paris;
use common::{at, call, Edit};
use sla::kpi::lost::LostOptions;
use sla::kpi::pickup::{self, PickupOptions};
use sla::kpi::self_service::{self, SelfServiceOptions};
use sla::kpi::service_level::{self, SlDenominator};
use sla::kpi::wait::{self, WaitOptions};
use sla::kpi::{answer_rate, callbot, daily_pickup, first_contact, handling, lost, qualification};
use sla::{Dimension, Grouping, History, Period, ReportLine, Scope, SlaConfig, Status, Value};

/// A value to 4 decimals (None: no data).
fn r4(v: Value) -> Option<f64> {
    v.value.map(|x| (x * 10_000.0).round() / 10_000.0)
}

fn report(records: &[CallRecord], grouping: &Grouping, cfg: &SlaConfig) -> Vec<ReportLine> {
    let history = History::new(records, cfg.include_test_numbers);
    sla::report(records, grouping, &history, cfg, None)
}

fn line<'l>(lines: &'l [ReportLine], group: &str, kpi: &str) -> &'l ReportLine {
    lines
        .iter()
        .find(|l| l.group == group && l.kpi == kpi)
        .unwrap_or_else(|| panic!("no line {group} {kpi}"))
}

fn value(lines: &[ReportLine], group: &str, kpi: &str) -> f64 {
    line(lines, group, kpi).value.expect("a value")
}

/// Twelve calls around two queues A and B, B taking A's overflow.
fn pickup_set() -> Vec<CallRecord> {
    vec![
        call("1", "2026-03-02T09:00:00Z").answered("A", 20, 100, Some(10)),
        call("2", "2026-03-02T09:01:00Z").answered("A", 20, 100, Some(10)),
        call("3", "2026-03-02T09:02:00Z").abandoned_in("A", 30),
        call("4", "2026-03-02T09:03:00Z")
            .answered("B", 90, 100, Some(10))
            .overflowed(&["A"]),
        call("5", "2026-03-02T09:04:00Z")
            .abandoned_in("B", 200)
            .overflowed(&["A"]),
        call("6", "2026-03-02T09:05:00Z").rejected(503, "system at capacity"),
        call("7", "2026-03-02T09:06:00Z").rejected(404, "unknown number"),
        call("8", "2026-03-02T09:07:00Z").dissuaded("closure"),
        call("9", "2026-03-02T09:08:00Z").dissuaded("informed"),
        call("10", "2026-03-02T09:09:00Z").answered("B", 10, 100, Some(10)),
        call("11", "2026-03-02T09:10:00Z"),
        call("12", "2026-03-02T09:11:00Z")
            .answered("A", 5, 100, Some(10))
            .test_number(),
    ]
}

#[test]
fn pickup_rate_with_dissuasions_and_overflows() {
    let calls = pickup_set();
    let opts = PickupOptions::default();
    // Platform: 11 calls without the test number; incoming leaves out the
    // 404 (#7): 10; net inbound leaves out telecom #6 and closure #8: 8
    // (#1 2 3 4 5 9 10 11). Answered: #1 2 4 10 = 4. 4 / 8 = 0.5.
    let v = pickup::pickup_rate(&calls, &Scope::platform(), &opts);
    assert_eq!((v.numerator, v.denominator), (4.0, Some(8.0)));
    assert_eq!(r4(v), Some(0.5));
    // Queue A: received #1 2 3 4 5 (first queue A); #4 and #5 overflowed
    // out to B: 3 left; answered in A: #1 2. 2 / 3.
    let v = pickup::pickup_rate(&calls, &Scope::queue("A"), &opts);
    assert_eq!((v.numerator, v.denominator), (2.0, Some(3.0)));
    assert_eq!(r4(v), Some(0.6667));
    // Queue B: received #10, overflow in #4 #5: 3; answered in B: #4 #10.
    let v = pickup::pickup_rate(&calls, &Scope::queue("B"), &opts);
    assert_eq!(r4(v), Some(0.6667));
    // Without overflow in, B received #10 only, answered: 1 / 1.
    let no_in = PickupOptions {
        overflow_in: false,
        ..opts.clone()
    };
    assert_eq!(
        r4(pickup::pickup_rate(&calls, &Scope::queue("B"), &no_in)),
        Some(1.0)
    );
    // Without overflow out, A keeps #4 #5: 2 / 5.
    let no_out = PickupOptions {
        overflow_out: false,
        ..opts.clone()
    };
    assert_eq!(
        r4(pickup::pickup_rate(&calls, &Scope::queue("A"), &no_out)),
        Some(0.4)
    );
    // Leaving out the informed caller #9 too: 4 / 7.
    let informed = PickupOptions {
        exclude_informed: true,
        ..opts.clone()
    };
    assert_eq!(
        r4(pickup::pickup_rate(&calls, &Scope::platform(), &informed)),
        Some(0.5714)
    );
    // Counting telecom and closure dissuasion: 4 / 10.
    let all = PickupOptions {
        exclude_telecom: false,
        exclude_closure: false,
        ..opts
    };
    assert_eq!(
        r4(pickup::pickup_rate(&calls, &Scope::platform(), &all)),
        Some(0.4)
    );

    // The same through the report, by queue: targets 0.90 (penalty 0.89).
    let cfg = SlaConfig::default();
    let g = Grouping {
        dimension: Some(Dimension::Queue),
        ..Grouping::all(Paris)
    };
    let lines = report(&calls, &g, &cfg);
    let a = line(&lines, "queue=A", "pickup_rate");
    assert_eq!(a.value, Some(0.6667));
    assert_eq!((a.target, a.penalty), (Some(0.9), Some(0.89)));
    assert_eq!(a.status, Some(Status::Missed));
    assert_eq!(value(&lines, "queue=A", "overflow_out"), 2.0);
    assert_eq!(value(&lines, "queue=B", "overflow_in"), 2.0);
    assert_eq!(value(&lines, "queue=B", "presented"), 3.0);
    // Calls belong to the queue they ended in: A has #1 2 3.
    assert_eq!(value(&lines, "queue=A", "received"), 3.0);
    assert_eq!(value(&lines, "queue=B", "received"), 3.0);
    // The calls that never queued: #6 7 8 9 11.
    assert_eq!(value(&lines, "queue=-", "received"), 5.0);
}

#[test]
fn counts_received_incoming_and_outcomes() {
    let calls = pickup_set();
    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    let v = |k| value(&lines, "all", k);
    assert_eq!(v("received"), 11.0);
    assert_eq!(v("incoming"), 10.0);
    assert_eq!(v("presented"), 8.0);
    assert_eq!(v("queued"), 6.0);
    assert_eq!(v("answered"), 4.0);
    assert_eq!(v("abandoned"), 2.0);
    assert_eq!(v("abandoned_queue"), 2.0);
    assert_eq!(v("dissuaded"), 2.0);
    assert_eq!(v("dissuaded/closure"), 1.0);
    assert_eq!(v("dissuaded/informed"), 1.0);
    assert_eq!(v("rejected"), 2.0);
    assert_eq!(v("rejected_telecom"), 1.0);
    assert_eq!(v("self_service"), 1.0);
    // Dissuasion rate: 2 dissuaded / 10 incoming.
    assert_eq!(v("dissuasion_rate"), 0.2);
}

fn lost_set() -> Vec<CallRecord> {
    vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("2", "2026-03-02T10:01:00Z").answered("Q", 10, 60, None),
        call("3", "2026-03-02T10:02:00Z").abandoned_in("Q", 30),
        call("4", "2026-03-02T10:03:00Z").abandoned_in("Q", 3),
        call("5", "2026-03-02T10:04:00Z").abandoned_ivr(),
        call("6", "2026-03-02T10:05:00Z").dissuaded("informed"),
        call("7", "2026-03-02T10:06:00Z").dissuaded("saturation"),
        call("8", "2026-03-02T10:07:00Z").rejected(503, "trunk at capacity"),
        call("9", "2026-03-02T10:08:00Z").rejected(403, "source address not allowed on any trunk"),
        call("10", "2026-03-02T10:09:00Z"),
    ]
}

#[test]
fn lost_call_rate_with_both_switch_settings() {
    let calls = lost_set();
    // Defaults (informed not lost, short abandons left out): incoming
    // leaves out the 403 (#9) and the short abandon #4: 8 calls
    // (#1 2 3 5 6 7 8 10); lost: #3 (queue), #5 (IVR), #7 (saturation),
    // #8 (telecom) = 4. 4 / 8 = 0.5.
    let v = lost::lost_call_rate(&calls, &Scope::platform(), &LostOptions::default());
    assert_eq!((v.numerator, v.denominator), (4.0, Some(8.0)));
    assert_eq!(r4(v), Some(0.5));
    // Informed counts as dissuaded and short abandons count: 9 calls,
    // lost #3 4 5 6 7 8 = 6. 6 / 9.
    let both = LostOptions {
        informed: true,
        short_abandons: true,
        ..LostOptions::default()
    };
    let v = lost::lost_call_rate(&calls, &Scope::platform(), &both);
    assert_eq!((v.numerator, v.denominator), (6.0, Some(9.0)));
    assert_eq!(r4(v), Some(0.6667));
    // Only informed: 5 / 8.
    let informed = LostOptions {
        informed: true,
        ..LostOptions::default()
    };
    assert_eq!(
        r4(lost::lost_call_rate(&calls, &Scope::platform(), &informed)),
        Some(0.625)
    );
}

#[test]
fn lost_call_rate_statuses() {
    // 1 lost in 20 = 0.05: met; 2 in 20 = 0.10: within tolerance (the
    // penalty threshold); 3 in 20: missed.
    let cfg = SlaConfig::default();
    for (lost_calls, status) in [
        (1, Status::Met),
        (2, Status::WithinTolerance),
        (3, Status::Missed),
    ] {
        let calls: Vec<CallRecord> = (0..20)
            .map(|i| {
                let c = call(&i.to_string(), "2026-03-02T10:00:00Z");
                if i < lost_calls {
                    c.abandoned_ivr()
                } else {
                    c.answered("Q", 10, 60, None)
                }
            })
            .collect();
        let lines = report(&calls, &Grouping::all(Paris), &cfg);
        assert_eq!(line(&lines, "all", "lost_call_rate").status, Some(status));
    }
}

fn wait_set() -> Vec<CallRecord> {
    vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 20, 60, None),
        call("2", "2026-03-02T10:01:00Z").answered("Q", 40, 60, None),
        call("3", "2026-03-02T10:02:00Z").abandoned_in("Q", 90),
        call("4", "2026-03-02T10:03:00Z").abandoned_in("Q", 2),
        call("5", "2026-03-02T10:04:00Z"),
        call("6", "2026-03-02T10:05:00Z").dissuaded("closure"),
        call("7", "2026-03-02T10:06:00Z").abandoned_ivr(),
    ]
}

#[test]
fn average_wait_with_both_denominators() {
    let calls = wait_set();
    let p = Scope::platform();
    let opts = WaitOptions::default();
    // Queued calls without the short abandon: (20 + 40 + 90) / 3 = 50 s.
    let v = wait::average_wait(&calls, &p, &opts);
    assert_eq!((v.numerator, v.denominator), (150.0, Some(3.0)));
    assert_eq!(r4(v), Some(50.0));
    // With the short abandon: (20 + 40 + 90 + 2) / 4 = 38 s.
    let short = WaitOptions {
        short_abandons: true,
    };
    assert_eq!(r4(wait::average_wait(&calls, &p, &short)), Some(38.0));
    // Net inbound: 7 incoming − closure #6 = 6; 150 / 6 = 25 s.
    let v = wait::average_wait_net(&calls, &p, &opts, &PickupOptions::default());
    assert_eq!((v.numerator, v.denominator), (150.0, Some(6.0)));
    assert_eq!(r4(v), Some(25.0));
    // ASA: (20 + 40) / 2 = 30 s; longest wait 90 s.
    assert_eq!(r4(wait::asa(&calls, &p)), Some(30.0));
    assert_eq!(r4(wait::longest_wait(&calls, &p, &opts)), Some(90.0));

    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    let w = line(&lines, "all", "average_wait");
    assert_eq!(
        (w.value, w.target, w.status),
        (Some(50.0), Some(180.0), Some(Status::Met))
    );
    assert_eq!(value(&lines, "all", "average_wait_net"), 25.0);
}

#[test]
fn service_level_within_y_seconds() {
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("2", "2026-03-02T10:00:00Z").answered("Q", 60, 60, None),
        call("3", "2026-03-02T10:00:00Z").answered("Q", 61, 60, None),
        call("4", "2026-03-02T10:00:00Z").answered("Q", 120, 60, None),
        call("5", "2026-03-02T10:00:00Z").abandoned_in("Q", 30),
        call("6", "2026-03-02T10:00:00Z").abandoned_in("Q", 2),
        call("7", "2026-03-02T10:00:00Z"),
    ];
    let p = Scope::platform();
    // Offered: 4 answered + the 30 s abandon (short abandon and the IVR
    // call left out) = 5; within 60 s (60 included): #1 #2. 2 / 5.
    let v = service_level::service_level(&calls, &p, 60, SlDenominator::Offered);
    assert_eq!((v.numerator, v.denominator), (2.0, Some(5.0)));
    assert_eq!(r4(v), Some(0.4));
    // Of the answered: 2 / 4.
    assert_eq!(
        r4(service_level::service_level(
            &calls,
            &p,
            60,
            SlDenominator::Answered
        )),
        Some(0.5)
    );
    // Y = 120: 4 / 5 = 0.8, the default target: met.
    let cfg = SlaConfig {
        service_level_s: 120,
        ..SlaConfig::default()
    };
    let lines = report(&calls, &Grouping::all(Paris), &cfg);
    let sl = line(&lines, "all", "service_level");
    assert_eq!((sl.value, sl.status), (Some(0.8), Some(Status::Met)));
}

#[test]
fn dmc_and_dmt_with_wrap_up() {
    let p = Scope::platform();
    // Talk 120 + 300 + 240 = 660 s over 3 handled calls: DMC 220 s; wrap-up
    // 30 + 60 + (none) = 90 s: DMT (660 + 90) / 3 = 250 s. The abandon is
    // not handled.
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 120, Some(30)),
        call("2", "2026-03-02T10:00:00Z").answered("Q", 10, 300, Some(60)),
        call("3", "2026-03-02T10:00:00Z").answered("Q", 10, 240, None),
        call("4", "2026-03-02T10:00:00Z").abandoned_in("Q", 30),
    ];
    let v = handling::dmc(&calls, &p);
    assert_eq!((v.numerator, v.denominator), (660.0, Some(3.0)));
    assert_eq!(r4(v), Some(220.0));
    let v = handling::dmt(&calls, &p);
    assert_eq!((v.numerator, v.denominator), (750.0, Some(3.0)));
    assert_eq!(r4(v), Some(250.0));

    // DMC 330 s (target 300, penalty 360): within tolerance; DMT 430 s
    // (360, 480): within tolerance. DMC 400, DMT 500: missed.
    let cfg = SlaConfig::default();
    for (talk, wrapup, status) in [
        (330, 100, Status::WithinTolerance),
        (400, 100, Status::Missed),
        (200, 100, Status::Met),
    ] {
        let calls = vec![call("1", "2026-03-02T10:00:00Z").answered("Q", 10, talk, Some(wrapup))];
        let lines = report(&calls, &Grouping::all(Paris), &cfg);
        assert_eq!(line(&lines, "all", "dmc").status, Some(status));
        assert_eq!(line(&lines, "all", "dmt").status, Some(status));
        assert_eq!(value(&lines, "all", "dmt"), (talk + wrapup) as f64);
    }
}

#[test]
fn qualification_rate() {
    // 4 answered: "17" and "3" qualified, "" and none not: 2 / 4. The
    // abandon's code does not count.
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z")
            .answered("Q", 10, 60, None)
            .disposition("17"),
        call("2", "2026-03-02T10:00:00Z")
            .answered("Q", 10, 60, None)
            .disposition("3"),
        call("3", "2026-03-02T10:00:00Z")
            .answered("Q", 10, 60, None)
            .disposition(""),
        call("4", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("5", "2026-03-02T10:00:00Z")
            .abandoned_in("Q", 30)
            .disposition("17"),
    ];
    let v = qualification::qualification_rate(&calls, &Scope::platform());
    assert_eq!((v.numerator, v.denominator), (2.0, Some(4.0)));
    assert_eq!(r4(v), Some(0.5));
}

#[test]
fn first_contact_resolution_over_seven_days() {
    let handled = |id: &str, t: &str, caller: &str, reason: &str| {
        call(id, t)
            .from(caller)
            .answered("Q", 10, 60, None)
            .disposition(reason)
    };
    let x = "+33612345678";
    let y = "+33198765432";
    let z = "0612000000";
    let calls = vec![
        // X: day 1, called again day 5: not resolved.
        handled("x1", "2026-03-02T10:00:00Z", x, "A"),
        // X: day 5; the next call is 8 days later: resolved.
        handled("x5", "2026-03-06T10:00:00Z", x, "A"),
        call("x13", "2026-03-14T10:00:00Z").from(x).abandoned_ivr(),
        // Y: called again exactly 7 days later (the window includes it).
        handled("y1", "2026-03-02T11:00:00Z", y, "B"),
        handled("y8", "2026-03-09T11:00:00Z", y, "B"),
        // Z: never again.
        handled("z2", "2026-03-03T09:00:00Z", z, "B"),
        // Withheld, and no reason: left out.
        call("w", "2026-03-02T12:00:00Z")
            .answered("Q", 10, 60, None)
            .disposition("A"),
        call("n", "2026-03-02T12:00:00Z")
            .from("0611111111")
            .answered("Q", 10, 60, None),
    ];
    let history = History::new(&calls, false);
    let opts = sla::kpi::first_contact::FcrOptions::default();
    // Handled with caller and reason: x1 (no), x5 (yes), y1 (no), y8 (yes),
    // z2 (yes): 3 / 5; A: 1 / 2; B: 2 / 3.
    let fcr = first_contact::first_contact_resolution(&calls, &Scope::platform(), &history, &opts);
    let overall = fcr.overall();
    assert_eq!((overall.numerator, overall.denominator), (3.0, Some(5.0)));
    assert_eq!(r4(overall), Some(0.6));
    assert_eq!(fcr.get("A").and_then(r4), Some(0.5));
    assert_eq!(fcr.get("B").and_then(r4), Some(0.6667));
    // Reporting days 1-4 only, repeats still looked up in the history:
    // x1 (no), y1 (no), z2 (yes): 1 / 3.
    let first_days: Vec<CallRecord> = calls
        .iter()
        .filter(|r| r.arrived_at < at("2026-03-06T00:00:00Z"))
        .cloned()
        .collect();
    let fcr =
        first_contact::first_contact_resolution(&first_days, &Scope::platform(), &history, &opts);
    assert_eq!(r4(fcr.overall()), Some(0.3333));

    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    let l = line(&lines, "all", "first_contact_resolution");
    assert_eq!((l.value, l.status), (Some(0.6), Some(Status::Missed)));
    assert_eq!(value(&lines, "all", "first_contact_resolution/B"), 0.6667);
}

#[test]
fn self_service_75_percent_rule() {
    let calls = vec![
        // Heard 100% and exactly 75%: productive.
        call("1", "2026-03-02T09:00:00Z")
            .prompt("welcome", 4000, 4000)
            .prompt("info", 10000, 7500),
        // 74.99%: not.
        call("2", "2026-03-02T09:00:00Z").prompt("info", 10000, 7499),
        // No prompt at all: not.
        call("3", "2026-03-02T09:00:00Z"),
        // Heard all, but called back at 23:30 the same Paris day: not.
        call("4", "2026-03-02T20:00:00Z")
            .from("0611111111")
            .prompt("info", 10000, 10000),
        call("4b", "2026-03-02T22:30:00Z")
            .from("0611111111")
            .abandoned_ivr(),
        // Called back at 00:30 Paris: the next day (same UTC day): productive.
        call("5", "2026-03-02T21:00:00Z")
            .from("0622222222")
            .prompt("info", 10000, 9000),
        call("5b", "2026-03-02T23:30:00Z")
            .from("0622222222")
            .abandoned_ivr(),
        // The menu cut short by a digit, the information heard in full.
        call("7", "2026-03-02T09:00:00Z")
            .prompt("menu", 5000, 1000)
            .prompt("info", 10000, 10000),
    ];
    let history = History::new(&calls, false);
    let p = Scope::platform();
    let rate = |opts: &SelfServiceOptions| {
        r4(self_service::productive_rate(
            &calls, &p, &history, opts, Paris,
        ))
    };
    // Self-service calls: #1 2 3 4 5 7 (the callbacks are IVR abandons).
    // Productive: #1 #5: 2 / 6.
    assert_eq!(rate(&SelfServiceOptions::default()), Some(0.3333));
    // Without the callback rule: #1 #4 #5: 3 / 6.
    let no_callback = SelfServiceOptions {
        same_day_callback: false,
        ..SelfServiceOptions::default()
    };
    assert_eq!(rate(&no_callback), Some(0.5));
    // Only the `info` prompt, no callback rule: #1 #4 #5 #7: 4 / 6.
    let info = SelfServiceOptions {
        prompts: vec!["info".into()],
        ..no_callback
    };
    assert_eq!(rate(&info), Some(0.6667));
}

#[test]
fn file0_activation_delay() {
    let calls = vec![
        // f1 requested 10:00: first call at 10:04 (240 s), then 10:05, 10:20.
        call("a", "2026-03-02T10:05:00Z").file0("f1", "2026-03-02T10:00:00Z"),
        call("b", "2026-03-02T10:04:00Z").file0("f1", "2026-03-02T10:00:00Z"),
        call("c", "2026-03-02T10:20:00Z").file0("f1", "2026-03-02T10:00:00Z"),
        // f2 requested 11:00: first call at 11:20 (1200 s); a test call at
        // 11:10 does not count.
        call("d", "2026-03-02T11:20:00Z").file0("f2", "2026-03-02T11:00:00Z"),
        call("e", "2026-03-02T11:21:00Z").file0("f2", "2026-03-02T11:00:00Z"),
        call("t", "2026-03-02T11:10:00Z")
            .file0("f2", "2026-03-02T11:00:00Z")
            .test_number(),
        // f3 requested 23:50 Paris on the 2nd, first call 23:55 (300 s),
        // another just after midnight.
        call("f", "2026-03-02T22:55:00Z").file0("f3", "2026-03-02T22:50:00Z"),
        call("g", "2026-03-02T23:10:00Z").file0("f3", "2026-03-02T22:50:00Z"),
    ];
    let cfg = SlaConfig::default();
    let lines = report(&calls, &Grouping::all(Paris), &cfg);
    let l = line(&lines, "all", "file0_delay/f1");
    assert_eq!((l.value, l.status), (Some(240.0), Some(Status::Met)));
    let l = line(&lines, "all", "file0_delay/f2");
    assert_eq!((l.value, l.status), (Some(1200.0), Some(Status::Missed)));
    assert_eq!(value(&lines, "all", "file0_delay/f3"), 300.0);
    // GVS01: the worst activation, against 900 s.
    let l = line(&lines, "all", "file0_delay");
    assert_eq!(
        (l.value, l.target, l.status),
        (Some(1200.0), Some(900.0), Some(Status::Missed))
    );
    assert_eq!(value(&lines, "all", "file0_calls/f1"), 3.0);
    assert_eq!(value(&lines, "all", "file0_calls/f2"), 2.0);

    // By day: f3's delay is on the 2nd, where its first call is; its call
    // of the 3rd is counted there without a delay of its own.
    let by_day = Grouping {
        period: Some(Period::Day),
        ..Grouping::all(Paris)
    };
    let lines = report(&calls, &by_day, &cfg);
    assert_eq!(value(&lines, "2026-03-02", "file0_delay/f3"), 300.0);
    assert_eq!(value(&lines, "2026-03-03", "file0_calls/f3"), 1.0);
    assert!(!lines
        .iter()
        .any(|l| l.group == "2026-03-03" && l.kpi == "file0_delay/f3"));
    assert_eq!(
        line(&lines, "2026-03-03", "file0_delay").status,
        Some(Status::NoData)
    );

    // Test numbers included: f2's first call is the 11:10 test, 600 s.
    let with_tests = SlaConfig {
        include_test_numbers: true,
        ..SlaConfig::default()
    };
    let lines = report(&calls, &Grouping::all(Paris), &with_tests);
    assert_eq!(value(&lines, "all", "file0_delay/f2"), 600.0);
}

#[test]
fn half_hours_across_the_autumn_dst_change() {
    // 2026-10-25, Europe/Paris: 03:00 CEST (01:00 UTC) becomes 02:00 CET.
    let calls = vec![
        call("1", "2026-10-25T00:10:00Z"), // 02:10+02:00
        call("2", "2026-10-25T00:40:00Z"), // 02:40+02:00
        call("3", "2026-10-25T00:59:59Z"), // 02:59:59+02:00
        call("4", "2026-10-25T01:05:00Z"), // 02:05+01:00
        call("5", "2026-10-25T01:35:00Z"), // 02:35+01:00
        call("6", "2026-10-25T02:00:00Z"), // 03:00+01:00
    ];
    let g = Grouping {
        period: Some(Period::HalfHour),
        ..Grouping::all(Paris)
    };
    let groups = g.groups(&calls);
    let seen: Vec<(String, usize)> = groups
        .iter()
        .map(|g| (g.key.label(), g.records.len()))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-10-25T02:00+02:00".to_string(), 1),
            ("2026-10-25T02:30+02:00".to_string(), 2),
            ("2026-10-25T02:00+01:00".to_string(), 1),
            ("2026-10-25T02:30+01:00".to_string(), 1),
            ("2026-10-25T03:00+01:00".to_string(), 1),
        ]
    );
    let slot = groups[2].key.slot.as_ref().unwrap();
    assert_eq!(
        (slot.start, slot.end),
        (at("2026-10-25T01:00:00Z"), at("2026-10-25T01:30:00Z"))
    );

    let by_hour = Grouping {
        period: Some(Period::Hour),
        ..g
    };
    let lines = report(&calls, &by_hour, &SlaConfig::default());
    assert_eq!(value(&lines, "2026-10-25T02:00+02:00", "received"), 3.0);
    assert_eq!(value(&lines, "2026-10-25T02:00+01:00", "received"), 2.0);
    assert_eq!(value(&lines, "2026-10-25T03:00+01:00", "received"), 1.0);

    // The day has 25 hours.
    let day = Period::Day.slot(at("2026-10-25T12:00:00Z"), Paris);
    assert_eq!(
        (day.label.as_str(), day.start, day.end),
        (
            "2026-10-25",
            at("2026-10-24T22:00:00Z"),
            at("2026-10-25T23:00:00Z")
        )
    );
    // Spring: 2026-03-29 02:00 CET jumps to 03:00 CEST; 01:30 UTC is
    // 03:30 CEST.
    let spring = Period::HalfHour.slot(at("2026-03-29T01:40:00Z"), Paris);
    assert_eq!(spring.label, "2026-03-29T03:30+02:00");
    assert_eq!(spring.start, at("2026-03-29T01:30:00Z"));
}

#[test]
fn iso_weeks_and_months() {
    let calls = vec![
        call("1", "2026-12-31T10:00:00Z"), // Thursday, 2026-W53
        call("2", "2027-01-03T22:30:00Z"), // Sunday 23:30 Paris, 2026-W53
        call("3", "2027-01-03T23:30:00Z"), // Monday 00:30 Paris, 2027-W01
    ];
    let by = |p| Grouping {
        period: Some(p),
        ..Grouping::all(Paris)
    };
    let seen = |g: Grouping| -> Vec<(String, usize)> {
        g.groups(&calls)
            .iter()
            .map(|g| (g.key.label(), g.records.len()))
            .collect()
    };
    assert_eq!(
        seen(by(Period::Week)),
        [("2026-W53".to_string(), 2), ("2027-W01".to_string(), 1)]
    );
    let w53 = Period::Week.slot(at("2026-12-31T10:00:00Z"), Paris);
    assert_eq!(
        (w53.start, w53.end),
        (at("2026-12-27T23:00:00Z"), at("2027-01-03T23:00:00Z"))
    );
    assert_eq!(
        seen(by(Period::Month)),
        [("2026-12".to_string(), 1), ("2027-01".to_string(), 2)]
    );
}

#[test]
fn business_hours_split() {
    // HO when the call's flow is known and it arrived 09:00-17:00 Paris.
    let hours = |r: &CallRecord| {
        r.flow.as_ref()?;
        let h = r.arrived_at.with_timezone(&Paris).format("%H").to_string();
        Some(("09".."17").contains(&h.as_str()))
    };
    let calls = vec![
        call("1", "2026-03-02T09:00:00Z").answered("Q", 10, 60, None),
        call("2", "2026-03-02T10:00:00Z").abandoned_in("Q", 30),
        call("3", "2026-03-02T19:00:00Z").dissuaded("closure"),
        call("4", "2026-03-02T10:00:00Z").rejected(503, "system at capacity"),
    ];
    let g = Grouping {
        hours: Some(&hours),
        ..Grouping::all(Paris)
    };
    let lines = report(&calls, &g, &SlaConfig::default());
    // HO: 1 lost of 2; HNO: the closure, 1 of 1; unknown: the refusal.
    assert_eq!(value(&lines, "HO", "lost_call_rate"), 0.5);
    assert_eq!(value(&lines, "HNO", "lost_call_rate"), 1.0);
    assert_eq!(value(&lines, "hours=unknown", "lost_call_rate"), 1.0);
    assert_eq!(value(&lines, "HO", "received"), 2.0);
    // With a day slot and a queue too.
    let g = Grouping {
        period: Some(Period::Day),
        dimension: Some(Dimension::Queue),
        hours: Some(&hours),
        tz: Paris,
    };
    let lines = report(&calls, &g, &SlaConfig::default());
    assert_eq!(value(&lines, "2026-03-02 queue=Q HO", "received"), 2.0);
    assert_eq!(
        value(&lines, "2026-03-02 queue=- HNO", "dissuaded/closure"),
        1.0
    );
}

#[test]
fn test_numbers_are_left_out() {
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("2", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("3", "2026-03-02T10:00:00Z")
            .answered("Q", 100, 600, None)
            .test_number(),
        call("4", "2026-03-02T10:00:00Z")
            .abandoned_in("Q", 30)
            .test_number(),
    ];
    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    assert_eq!(value(&lines, "all", "received"), 2.0);
    assert_eq!(value(&lines, "all", "lost_call_rate"), 0.0);
    assert_eq!(value(&lines, "all", "dmc"), 60.0);
    assert_eq!(value(&lines, "all", "longest_wait"), 10.0);
    let cfg = SlaConfig {
        include_test_numbers: true,
        ..SlaConfig::default()
    };
    let lines = report(&calls, &Grouping::all(Paris), &cfg);
    assert_eq!(value(&lines, "all", "received"), 4.0);
    assert_eq!(value(&lines, "all", "lost_call_rate"), 0.25);
    // (60 + 60 + 600) / 3 = 240 s.
    assert_eq!(value(&lines, "all", "dmc"), 240.0);
}

#[test]
fn daily_pickup_and_answer_rate() {
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("2", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("3", "2026-03-02T10:00:00Z").abandoned_in("Q", 30),
        call("4", "2026-03-02T10:00:00Z").dissuaded("informed"),
        call("5", "2026-03-02T10:00:00Z").dissuaded("file0"),
        call("6", "2026-03-02T10:00:00Z").rejected(503, "system at capacity"),
        call("7", "2026-03-02T10:00:00Z").cancelled(),
        call("8", "2026-03-02T10:00:00Z").rejected(404, "unknown number"),
    ];
    let p = Scope::platform();
    // GAS02: incoming 7 (not the 404) − informed #4 #5 = 5; answered 2.
    let v = daily_pickup::daily_pickup_rate(&calls, &p);
    assert_eq!((v.numerator, v.denominator), (2.0, Some(5.0)));
    assert_eq!(r4(v), Some(0.4));
    // Answer rate: the platform answered #1-5 of 7 incoming.
    assert_eq!(r4(answer_rate::answer_rate(&calls, &p)), Some(0.7143));
}

#[test]
fn callbot_statuses() {
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z")
            .step("postcode", "collect", Some("75001"))
            .step("survey", "menu", Some("1"))
            .flow_disposition("evaluated_yes")
            .duration(120),
        call("2", "2026-03-02T10:00:00Z")
            .step("postcode", "collect", Some("75001"))
            .step("survey", "menu", None)
            .flow_disposition("not_evaluated")
            .duration(200),
        call("3", "2026-03-02T10:00:00Z")
            .step("postcode", "collect", Some("69001"))
            .abandoned_ivr(),
        call("4", "2026-03-02T10:00:00Z")
            .step("welcome", "play", None)
            .abandoned_ivr(),
        call("5", "2026-03-02T10:00:00Z").cancelled(),
    ];
    // Answered by the platform: #1-4. Not handled #4; queried #1 2 3;
    // abandoned #3; completed #1 2: 2 / 3; evaluated #1: 1 / 2; under 3
    // min #1: 1 / 2.
    let m = callbot::milestones(&calls, &Scope::platform(), &Default::default());
    assert_eq!(
        (
            m.not_handled,
            m.queried,
            m.abandoned,
            m.completed,
            m.evaluated,
            m.completed_fast
        ),
        (1, 3, 1, 2, 1, 1)
    );
    assert_eq!(r4(m.completed_rate()), Some(0.6667));
    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    let l = line(&lines, "all", "callbot_evaluated_rate");
    assert_eq!((l.value, l.status), (Some(0.5), Some(Status::Met)));
    assert_eq!(value(&lines, "all", "callbot_completed_fast_rate"), 0.5);
}

#[test]
fn caller_origin_and_survey() {
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z")
            .from("0611111111")
            .step("choice", "menu", Some("1"))
            .step("q", "queue", None)
            .step("survey", "menu", Some("1"))
            .answered("Q", 10, 60, None)
            .disposition("17"),
        call("2", "2026-03-02T10:00:00Z")
            .from("+33712345678")
            .step("q", "queue", None)
            .step("survey", "menu", Some("2"))
            .answered("Q", 10, 60, None)
            .disposition("17"),
        call("3", "2026-03-02T10:00:00Z")
            .from("0184903422")
            .step("q", "queue", None)
            .answered("Q", 10, 60, None)
            .disposition("3"),
        call("4", "2026-03-02T10:00:00Z"),
    ];
    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    // 2 mobiles, 1 landline, 1 withheld of 4.
    assert_eq!(value(&lines, "all", "caller_origin/mobile"), 0.5);
    assert_eq!(value(&lines, "all", "caller_origin/landline"), 0.25);
    assert_eq!(value(&lines, "all", "caller_origin/withheld"), 0.25);
    assert_eq!(value(&lines, "all", "caller_origin/international"), 0.0);
    // Survey answers after the queue: #1 ("1", the menu before the queue
    // does not count) and #2 ("2") of 3 answered; satisfied ("1") 1 / 2.
    assert_eq!(value(&lines, "all", "survey_response_rate"), 0.6667);
    let l = line(&lines, "all", "satisfaction");
    assert_eq!((l.value, l.status), (Some(0.5), Some(Status::Missed)));
    assert_eq!(value(&lines, "all", "satisfaction/17"), 0.5);
}

#[test]
fn productive_hours_against_hours_ordered() {
    // 1800 s talk + 1800 s wrap-up, 3600 s talk: 2 h on Monday 2026-03-02.
    let calls = vec![
        call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 1800, Some(1800)),
        call("2", "2026-03-02T11:00:00Z").answered("Q", 10, 3600, None),
    ];
    let mut cfg = SlaConfig::default();
    cfg.productive_hours.ordered_per_day = Some(1.0);
    let history = History::new(&calls, false);
    // Monday to Wednesday (excluded): 2 ordered days, 2 h: 1.0, met.
    let span = (at("2026-03-01T23:00:00Z"), at("2026-03-03T23:00:00Z"));
    let lines = sla::report(&calls, &Grouping::all(Paris), &history, &cfg, Some(span));
    assert_eq!(value(&lines, "all", "productive_hours"), 2.0);
    let l = line(&lines, "all", "productive_hours_ratio");
    assert_eq!(
        (l.value, l.denominator, l.status),
        (Some(1.0), Some(2.0), Some(Status::Met))
    );
    // By day: Monday ordered 1 h, worked 2: 2.0, above the 1.10 cap.
    let by_day = Grouping {
        period: Some(Period::Day),
        ..Grouping::all(Paris)
    };
    let lines = sla::report(&calls, &by_day, &history, &cfg, None);
    let l = line(&lines, "2026-03-02", "productive_hours_ratio");
    assert_eq!((l.value, l.status), (Some(2.0), Some(Status::Missed)));
    // No order, no ratio.
    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    assert!(!lines.iter().any(|l| l.kpi == "productive_hours_ratio"));
}

#[test]
fn transfer_rate() {
    // 4 received: one transferred by its agent to another queue, one sent
    // out by the flow to a number that answered, two not: 2 / 4.
    let mut by_agent = call("1", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None);
    by_agent.transfers.push(cdr::record::TransferRecord {
        agent: "agent1".into(),
        to: "expert".into(),
        at: at("2026-03-02T10:01:10Z"),
    });
    let mut out = call("2", "2026-03-02T10:00:00Z");
    out.outcome = cdr::Outcome::Transferred;
    let calls = vec![
        by_agent,
        out,
        call("3", "2026-03-02T10:00:00Z").answered("Q", 10, 60, None),
        call("4", "2026-03-02T10:00:00Z"),
    ];
    let v = sla::kpi::transfer::transfer_rate(&calls, &Scope::platform());
    assert_eq!((v.numerator, v.denominator), (2.0, Some(4.0)));
    assert_eq!(r4(v), Some(0.5));
    let lines = report(&calls, &Grouping::all(Paris), &SlaConfig::default());
    assert_eq!(value(&lines, "all", "transfer_rate"), 0.5);
    assert_eq!(value(&lines, "all", "transferred_out"), 1.0);
}
