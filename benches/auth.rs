//! Identity costs: an argon2id login check (the budget is 300 ms), an API
//! token check, and an audit-log append (budget 50 µs added to an API
//! call), beside the previous audit writer's way in the same run: a line
//! written then synced to disk at every append.

use std::io::Write;

use auth::{AccountStore, Audit, Entry, NewAccount, Role, Scope};
use chrono::Utc;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

fn entry() -> Entry {
    Entry {
        account: "marie.dupont".into(),
        role: "supervisor".into(),
        source: "10.20.30.40".into(),
        action: "file0.activate".into(),
        target: "3422".into(),
        details: json!({ "prompt": "closed", "mode": "hangup", "reason": "crisis" }),
    }
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("auth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = AccountStore::open(&dir.join("auth")).unwrap();
    let new = NewAccount {
        id: "marie".into(),
        name: "Marie".into(),
        role: Role::Supervisor,
        queues: Scope::all(),
        recordings: false,
        agent: None,
    };
    store
        .add(new, Some("Tr0ub4dour&Horse"), "bench", Utc::now())
        .unwrap();
    let mut g = c.benchmark_group("auth");
    g.sample_size(20);
    g.bench_function("login_argon2id_check", |b| {
        b.iter(|| {
            store
                .check_password(black_box("marie"), black_box("Tr0ub4dour&Horse"))
                .unwrap()
        })
    });
    g.finish();
    let (_, token) = store
        .token_create("marie", "bench", None, 30, Utc::now())
        .unwrap();
    c.bench_function("auth/api_token_check", |b| {
        b.iter(|| store.token_check(black_box(&token), Utc::now()).unwrap())
    });

    let audit = Audit::open(&dir.join("audit")).unwrap();
    c.bench_function("auth/audit_append_chained", |b| {
        b.iter(|| audit.record(entry()))
    });
    // The writer before the chain: a JSON line, then fdatasync, per entry.
    let old = dir.join("old-audit.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&old)
        .unwrap();
    let mut g = c.benchmark_group("auth");
    g.sample_size(20);
    g.bench_function("audit_append_fsync_each_previous", |b| {
        b.iter(|| {
            let e = entry();
            let line = json!({ "at": Utc::now(), "who": e.account, "action": e.action, "target": e.target, "details": e.details });
            writeln!(f, "{line}").unwrap();
            f.sync_data().unwrap();
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
