//! The audit chain against tampering: every kind of change is found.

use super::*;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn entry(i: usize) -> Entry {
    Entry {
        account: "marie".into(),
        role: "supervisor".into(),
        source: "10.0.0.7".into(),
        action: "file0.activate".into(),
        target: format!("34{i:02}"),
        details: json!({ "n": i, "text": "ça \"marche\"\n" }),
    }
}

/// A log of 12 lines over three days; the folder.
fn log() -> (tempdir::Dir, Audit) {
    let d = tempdir::Dir::new();
    let a = Audit::open(&d.0).unwrap();
    for i in 0..12 {
        let day = 1 + i / 4;
        a.record_at(entry(i), at(&format!("2026-11-{day:02}T10:00:{i:02}Z")));
    }
    a.sync().unwrap();
    (d, a)
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p =
                std::env::temp_dir().join(format!("audit-test-{}", crate::token::random_hex(8)));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn lines(d: &tempdir::Dir) -> Vec<String> {
    std::fs::read_to_string(d.0.join("audit-2026-11.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write(d: &tempdir::Dir, lines: &[String]) {
    std::fs::write(d.0.join("audit-2026-11.jsonl"), lines.join("\n") + "\n").unwrap();
}

fn problems(d: &tempdir::Dir) -> Vec<String> {
    verify(&d.0)
        .unwrap()
        .problems
        .into_iter()
        .map(|p| format!("{}: {}", p.place, p.what))
        .collect()
}

#[test]
fn an_untouched_log_verifies() {
    let (d, _a) = log();
    let r = verify(&d.0).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!((r.lines, r.first_seq, r.last_seq), (12, Some(1), Some(12)));
    // Two day changes: two anchors, both checked.
    assert_eq!(r.anchors_checked, 2);
    let v: serde_json::Value = serde_json::from_str(&lines(&d)[0]).unwrap();
    assert_eq!(v["details"]["text"], "ça \"marche\"\n");
    assert_eq!(v["prev"], GENESIS);
}

#[test]
fn an_edited_line_is_found() {
    let (d, _a) = log();
    let mut l = lines(&d);
    l[4] = l[4].replace("\"account\":\"marie\"", "\"account\":\"paul\"");
    write(&d, &l);
    let p = problems(&d);
    assert!(
        p.iter()
            .any(|p| p.starts_with("audit-2026-11.jsonl:5: line 5 was changed")),
        "{p:?}"
    );
}

#[test]
fn a_rehashed_edit_breaks_the_next_link() {
    let (d, _a) = log();
    let mut l = lines(&d);
    let edited = l[4].replace("\"account\":\"marie\"", "\"account\":\"paul\"");
    let (body, _) = split_line(&edited).unwrap();
    l[4] = format!("{body},\"hash\":\"{}\"}}", body_hash(body));
    write(&d, &l);
    let p = problems(&d);
    assert!(
        p.iter().any(|p| p.contains("line 6 does not link")),
        "{p:?}"
    );
}

#[test]
fn a_removed_line_is_found() {
    let (d, _a) = log();
    let mut l = lines(&d);
    l.remove(6);
    write(&d, &l);
    let p = problems(&d);
    assert!(
        p.iter().any(|p| p.contains("line 8 follows line 6")),
        "{p:?}"
    );
}

#[test]
fn reordered_lines_are_found() {
    let (d, _a) = log();
    let mut l = lines(&d);
    l.swap(2, 3);
    write(&d, &l);
    let p = problems(&d);
    assert!(
        p.iter()
            .any(|p| p.contains("lines were removed or reordered")),
        "{p:?}"
    );
}

#[test]
fn a_cut_tail_is_found_by_the_anchors() {
    let (d, a) = log();
    drop(a);
    // A restart anchors the head (line 12).
    let a = Audit::open(&d.0).unwrap();
    drop(a);
    let mut l = lines(&d);
    l.truncate(10);
    write(&d, &l);
    let p = problems(&d);
    assert!(p.iter().any(|p| p.contains("its end was cut")), "{p:?}");
}

#[test]
fn a_removed_head_is_found() {
    let (d, _a) = log();
    let l = lines(&d);
    write(&d, &l[3..]);
    let p = problems(&d);
    assert!(
        p.iter().any(|p| p.contains("the log starts at line 4")),
        "{p:?}"
    );
}

#[test]
fn retention_keeps_the_chain_checkable() {
    let d = tempdir::Dir::new();
    let a = Audit::open(&d.0).unwrap();
    for (i, t) in [
        "2025-10-03T08:00:00Z",
        "2025-11-03T08:00:00Z",
        "2026-11-03T08:00:00Z",
        "2026-12-01T08:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        a.record_at(entry(i), at(t));
    }
    let removed = a.purge(12, at("2026-12-04T09:00:00Z")).unwrap();
    assert_eq!(removed, vec!["audit-2025-10.jsonl", "audit-2025-11.jsonl"]);
    let r = verify(&d.0).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.first_seq, Some(3));
    a.record_at(entry(9), at("2026-12-04T09:00:01Z"));
    assert!(verify(&d.0).unwrap().ok());
}

#[test]
fn a_torn_line_is_cut_at_start_and_the_chain_goes_on() {
    let (d, a) = log();
    drop(a);
    let path = d.0.join("audit-2026-11.jsonl");
    let mut t = std::fs::read_to_string(&path).unwrap();
    t.push_str("{\"seq\":13,\"at\":\"2026-11-03T10");
    std::fs::write(&path, t).unwrap();
    let a = Audit::open(&d.0).unwrap();
    a.record_at(entry(13), at("2026-11-03T11:00:00Z"));
    a.sync().unwrap();
    let r = verify(&d.0).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.last_seq, Some(13));
}

#[test]
fn read_and_export_a_range() {
    let (d, _a) = log();
    let got = read(
        &d.0,
        Some(at("2026-11-02T00:00:00Z")),
        Some(at("2026-11-03T00:00:00Z")),
    )
    .unwrap();
    assert_eq!(got.len(), 4);
    // An exported slice checks as a chain on its own.
    let f = d.0.join("export.jsonl");
    std::fs::write(&f, got.join("\n") + "\n").unwrap();
    assert!(verify(&f).unwrap().ok());
    let mut csv = Vec::new();
    export_csv(&got, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("numéro;horodatage;compte"), "{csv}");
    assert_eq!(csv.lines().count(), 5);
}

#[test]
fn legacy_files_are_set_aside() {
    let d = tempdir::Dir::new();
    std::fs::write(
        d.0.join("audit-2026-10.jsonl"),
        "{\"at\":\"x\",\"who\":\"api\"}\n",
    )
    .unwrap();
    let a = Audit::open(&d.0).unwrap();
    a.record_at(entry(0), at("2026-11-01T00:00:00Z"));
    assert!(d.0.join("audit-2026-10.legacy.jsonl").exists());
    assert!(verify(&d.0).unwrap().ok());
}

#[test]
fn two_writers_share_one_chain() {
    // The running process and `softswitch account ...` write the same log.
    let d = tempdir::Dir::new();
    let a = Audit::open(&d.0).unwrap();
    let b = Audit::open(&d.0).unwrap();
    for i in 0..20 {
        let w = if i % 3 == 0 { &b } else { &a };
        w.record_at(entry(i), at(&format!("2026-11-05T10:00:{i:02}Z")));
    }
    let r = verify(&d.0).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.last_seq, Some(20));
}
