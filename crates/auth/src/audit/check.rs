//! Reading the audit log back: checking the hash chain and the anchors
//! (`softswitch audit verify`), reading a time range (the console's search,
//! `softswitch audit export`), and CSV for people.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{body_hash, split_line, Anchor, GENESIS};

/// The monthly files, oldest first.
pub(crate) fn month_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                n.starts_with("audit-")
                    && n.ends_with(".jsonl")
                    && !n.ends_with(".legacy.jsonl")
                    && n.len() == "audit-YYYY-MM.jsonl".len()
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    names.sort();
    Ok(names)
}

/// The anchors, in the order written.
pub(crate) fn anchors(dir: &Path) -> std::io::Result<Vec<Anchor>> {
    let text = match std::fs::read_to_string(dir.join("anchors.jsonl")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| std::io::Error::other(format!("anchors.jsonl:{}: {e}", i + 1)))
        })
        .collect()
}

/// One thing wrong, where it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// `audit-2026-12.jsonl:14`, or `anchors.jsonl`.
    pub place: String,
    /// What is wrong, in words.
    pub what: String,
}

/// What `verify` checked.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Monthly files read (1 for a single exported file).
    pub files: usize,
    /// Lines read, across all files.
    pub lines: u64,
    /// Sequence number of the first line; `None` when there is none.
    pub first_seq: Option<u64>,
    /// Sequence number of the last line; `None` when there is none.
    pub last_seq: Option<u64>,
    /// Anchors (other than `purge`) whose line was found and compared.
    pub anchors_checked: usize,
    /// Everything found wrong; empty when the log checks.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Nothing wrong was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check every line's hash and link, the sequence, and every anchor.
/// `dir` is the audit folder, or one exported file (then only the chain
/// inside it is checked: its first line's `prev` is taken as given).
pub fn verify(path: &Path) -> std::io::Result<Report> {
    let (files, anchors, single) = if path.is_dir() {
        (
            month_files(path)?
                .into_iter()
                .map(|n| (n.clone(), path.join(n)))
                .collect::<Vec<_>>(),
            anchors(path)?,
            false,
        )
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (vec![(name, path.to_path_buf())], Vec::new(), true)
    };
    let mut r = Report {
        files: files.len(),
        ..Report::default()
    };
    // Where the chain may start: the genesis, or a purged month's last line.
    let purged: Vec<&Anchor> = anchors.iter().filter(|a| a.kind == "purge").collect();
    let mut prev: Option<(u64, String)> = None;
    let mut seen: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    for (name, file) in &files {
        let text = std::fs::read_to_string(file)?;
        for (i, line) in text.lines().enumerate() {
            let place = format!("{name}:{}", i + 1);
            let mut bad = |what: String| {
                r.problems.push(Problem {
                    place: place.clone(),
                    what,
                })
            };
            let Some((body, stated)) = split_line(line) else {
                bad("not a chained audit line".into());
                continue;
            };
            let v: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    bad(format!("not JSON: {e}"));
                    continue;
                }
            };
            let seq = v["seq"].as_u64().unwrap_or(0);
            let link = v["prev"].as_str().unwrap_or_default().to_string();
            if body_hash(body) != stated {
                bad(format!(
                    "line {seq} was changed: its hash does not match its content"
                ));
            }
            match &prev {
                None => {
                    let starts_ok = single
                        || (seq == 1 && link == GENESIS)
                        || purged.iter().any(|a| a.seq + 1 == seq && a.hash == link);
                    if !starts_ok {
                        bad(format!(
                            "the log starts at line {seq}: the lines before it were removed without a retention anchor"
                        ));
                    }
                }
                Some((pseq, phash)) => {
                    if seq != pseq + 1 {
                        bad(format!(
                            "line {seq} follows line {pseq}: lines were removed or reordered"
                        ));
                    }
                    if &link != phash {
                        bad(format!(
                            "line {seq} does not link to the line before it: a line was removed, inserted or moved"
                        ));
                    }
                }
            }
            r.first_seq.get_or_insert(seq);
            r.last_seq = Some(seq);
            r.lines += 1;
            seen.insert(seq, stated.to_string());
            prev = Some((seq, stated.to_string()));
        }
    }
    let last = r.last_seq.unwrap_or(0);
    let first = r.first_seq.unwrap_or(1);
    for a in anchors.iter().filter(|a| a.kind != "purge") {
        if a.seq > last {
            r.problems.push(Problem {
                place: "anchors.jsonl".into(),
                what: format!(
                    "the {} anchor of {} names line {}, but the log ends at line {last}: its end was cut",
                    a.kind, a.at, a.seq
                ),
            });
        } else if a.seq >= first {
            match seen.get(&a.seq) {
                Some(h) if *h == a.hash => {}
                _ => r.problems.push(Problem {
                    place: "anchors.jsonl".into(),
                    what: format!(
                        "the {} anchor of {} does not match line {}: the log was rewritten",
                        a.kind, a.at, a.seq
                    ),
                }),
            }
            r.anchors_checked += 1;
        }
    }
    Ok(r)
}

/// The lines between `from` and `to` (either open), oldest first, as
/// written (an export of them checks as a chain on its own).
pub fn read(
    dir: &Path,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for name in month_files(dir)? {
        // Skip months wholly outside the range by their name.
        let month = &name["audit-".len().."audit-YYYY-MM".len()];
        if let Some(f) = from {
            if month < f.format("%Y-%m").to_string().as_str() {
                continue;
            }
        }
        if let Some(t) = to {
            if month > t.format("%Y-%m").to_string().as_str() {
                continue;
            }
        }
        for line in std::fs::read_to_string(dir.join(&name))?.lines() {
            let at = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["at"].as_str().map(str::to_string))
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.to_utc());
            let Some(at) = at else { continue };
            if from.is_some_and(|f| at < f) || to.is_some_and(|t| at >= t) {
                continue;
            }
            out.push(line.to_string());
        }
    }
    Ok(out)
}

/// Lines as CSV for a spreadsheet (`;`-separated, French headers).
pub fn export_csv(lines: &[String], out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(out);
    w.write_record([
        "numéro",
        "horodatage",
        "compte",
        "rôle",
        "source",
        "action",
        "cible",
        "détails",
        "empreinte",
    ])?;
    for l in lines {
        let v: Value = serde_json::from_str(l).map_err(std::io::Error::other)?;
        let s = |k: &str| cell(v[k].as_str().unwrap_or_default());
        w.write_record([
            v["seq"].to_string(),
            s("at"),
            s("account"),
            s("role"),
            s("source"),
            s("action"),
            s("target"),
            cell(&v["details"].to_string()),
            s("hash"),
        ])?;
    }
    w.flush()
}

/// A cell a spreadsheet will not run as a formula (`= + - @` first).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}
