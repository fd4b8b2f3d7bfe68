//! The events log: every call event is appended here before it is folded,
//! so calls still open when the process dies can be closed on the next start.
//!
//! Files are `<cdr dir>/events/seg-NNNNNNNN.log`, one JSON line each:
//! an event, `{"closed": id}` once the call's record is in the CDR journal,
//! or `{"snapshot": record}` (the folded state of a call still open when a
//! new segment starts, so older segments can be deleted).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::event::{CallEvent, EventKind, Party};
use crate::record::CallRecord;

/// A segment is rolled over past this size.
const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;

pub(crate) struct EventLog {
    dir: PathBuf,
    seq: u64,
    file: BufWriter<File>,
    size: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Snapshot { snapshot: Box<CallRecord> },
    Closed { closed: String },
    Event(Box<CallEvent>),
}

/// What the events log held at start.
pub(crate) struct Recovered {
    /// Calls whose record never reached the CDR journal, folded as far as
    /// their events go, then closed (`interrupted`, `crash`) when still open.
    pub records: Vec<CallRecord>,
    /// Lines that could not be read (a torn last line after a crash).
    pub unreadable: usize,
}

impl EventLog {
    /// Read what a previous run left, then start an empty log. The caller
    /// writes `Recovered::records` and calls [`EventLog::clear_old`] once
    /// they are durable.
    pub(crate) fn open(cdr_dir: &Path) -> io::Result<(EventLog, Recovered)> {
        let dir = cdr_dir.join("events");
        fs::create_dir_all(&dir)?;
        let segments = segments(&dir)?;
        let recovered = recover(&segments, cdr_dir)?;
        let seq = segments.last().map(|(n, _)| n + 1).unwrap_or(1);
        let file = create_segment(&dir, seq)?;
        Ok((
            EventLog {
                dir,
                seq,
                file,
                size: 0,
            },
            recovered,
        ))
    }

    pub(crate) fn event(&mut self, ev: &CallEvent) -> io::Result<()> {
        self.line(&serde_json::to_vec(ev)?)
    }

    pub(crate) fn closed(&mut self, record_id: &str) -> io::Result<()> {
        self.line(&serde_json::to_vec(
            &serde_json::json!({ "closed": record_id }),
        )?)
    }

    fn line(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.write_all(b"\n")?;
        self.size += bytes.len() as u64 + 1;
        Ok(())
    }

    /// Hand the buffer to the kernel (survives `kill -9`), and to the disk
    /// when `durable`.
    pub(crate) fn flush(&mut self, durable: bool) -> io::Result<()> {
        self.file.flush()?;
        if durable {
            self.file.get_ref().sync_data()?;
        }
        Ok(())
    }

    pub(crate) fn wants_rollover(&self) -> bool {
        self.size >= SEGMENT_BYTES
    }

    /// Start a new segment holding the state of the calls still open, and
    /// delete the older ones.
    pub(crate) fn roll_over<'a>(
        &mut self,
        open: impl Iterator<Item = &'a CallRecord>,
    ) -> io::Result<()> {
        self.flush(true)?;
        self.seq += 1;
        self.file = create_segment(&self.dir, self.seq)?;
        self.size = 0;
        for r in open {
            let line = serde_json::to_vec(&serde_json::json!({ "snapshot": r }))?;
            self.line(&line)?;
        }
        self.flush(true)?;
        self.clear_old()
    }

    /// Delete every segment but the current one.
    pub(crate) fn clear_old(&self) -> io::Result<()> {
        for (n, path) in segments(&self.dir)? {
            if n != self.seq {
                fs::remove_file(path)?;
            }
        }
        Ok(())
    }

    /// A clean stop: every record is written, nothing to recover.
    pub(crate) fn remove_all(self) -> io::Result<()> {
        drop(self.file);
        for (_, path) in segments(&self.dir)? {
            fs::remove_file(path)?;
        }
        Ok(())
    }
}

fn create_segment(dir: &Path, seq: u64) -> io::Result<BufWriter<File>> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("seg-{seq:08}.log")))?;
    Ok(BufWriter::with_capacity(64 * 1024, f))
}

fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out: Vec<(u64, PathBuf)> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let n = p
                .file_name()?
                .to_str()?
                .strip_prefix("seg-")?
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Fold the segments' lines into the records that never made it to the
/// CDR journal.
fn recover(segments: &[(u64, PathBuf)], cdr_dir: &Path) -> io::Result<Recovered> {
    let mut open: HashMap<String, (CallRecord, bool)> = HashMap::new();
    let mut last_at: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut unreadable = 0;
    for (_, path) in segments {
        for line in BufReader::new(File::open(path)?).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(&line) {
                Ok(Line::Snapshot { snapshot }) => {
                    let done = snapshot.ended_at.is_some() && !snapshot.awaits_wrap_up();
                    let id = snapshot.record_id.clone();
                    last_at.insert(id.clone(), snapshot.ended_at.unwrap_or(snapshot.arrived_at));
                    open.insert(id, (*snapshot, done));
                }
                Ok(Line::Closed { closed }) => {
                    open.remove(&closed);
                }
                Ok(Line::Event(ev)) => {
                    last_at.insert(ev.record_id.clone(), ev.at);
                    if let Some(r) = CallRecord::open(&ev) {
                        open.insert(ev.record_id.clone(), (r, false));
                    } else if let Some((r, done)) = open.get_mut(&ev.record_id) {
                        *done = r.apply(&ev);
                    }
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable line in the CDR events log");
                    unreadable += 1;
                }
            }
        }
    }
    // A call that ended may have reached the journal just before the crash
    // (its `closed` mark did not): look it up there. That includes a call
    // whose agent's wrap-up never ended (the writer's sweep wrote it). The
    // journal's day is the call's end.
    let complete_days: HashSet<NaiveDate> = open
        .values()
        .filter_map(|(r, _)| r.ended_at.map(|t| t.date_naive()))
        .collect();
    let written = ids_in_journal(cdr_dir, &complete_days)?;
    let mut records = Vec::new();
    for (id, (mut r, done)) in open {
        if written.contains(&id) {
            continue;
        }
        if !done {
            if r.ended_at.is_some() {
                // Ended, waiting for the agent's wrap-up: complete as it is.
            } else {
                let at = last_at.get(&id).copied().unwrap_or(r.arrived_at);
                r.apply(&CallEvent {
                    record_id: id.clone(),
                    at,
                    kind: EventKind::Ended {
                        by: Party::System,
                        reason: "crash".into(),
                    },
                });
            }
        }
        records.push(r);
    }
    records.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    Ok(Recovered {
        records,
        unreadable,
    })
}

fn ids_in_journal(cdr_dir: &Path, days: &HashSet<NaiveDate>) -> io::Result<HashSet<String>> {
    #[derive(Deserialize)]
    struct Id {
        record_id: String,
    }
    let mut ids = HashSet::new();
    for day in days {
        let path = crate::journal::file_for(cdr_dir, *day);
        let Ok(f) = File::open(&path) else {
            continue;
        };
        for line in BufReader::new(f).lines() {
            if let Ok(id) = serde_json::from_str::<Id>(&line?) {
                ids.insert(id.record_id);
            }
        }
    }
    Ok(ids)
}
