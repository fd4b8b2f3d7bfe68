//! The CDR journal: one writer thread folds events into records and appends
//! each finished record as one JSON line to `<dir>/cdr-YYYY-MM-DD.jsonl`
//! (UTC day of the call's end), with a configurable fsync policy.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::event::{CallEvent, EventKind, Party};
use crate::record::CallRecord;

/// When finished records are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "ms")]
pub enum FsyncPolicy {
    /// fsync after every batch of records (safest).
    Always,
    /// fsync at most every N ms (a crash loses at most N ms of records).
    Interval(u64),
    /// Leave it to the OS.
    Never,
}

enum Msg {
    Event(Box<CallEvent>),
    Shutdown(Sender<()>),
}

/// Where call events go; cheap to clone, never blocks the caller.
#[derive(Clone)]
pub struct CdrSink {
    tx: Sender<Msg>,
}

impl CdrSink {
    pub fn emit(&self, ev: CallEvent) {
        if self.tx.send(Msg::Event(Box::new(ev))).is_err() {
            tracing::error!("CDR writer is gone; event lost");
        }
    }
}

/// The running journal.
pub struct Journal {
    sink: CdrSink,
    thread: Option<JoinHandle<()>>,
}

impl Journal {
    /// Open (create) the directory and start the writer.
    pub fn start(dir: &Path, policy: FsyncPolicy) -> io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let (tx, rx) = mpsc::channel();
        let mut writer = Writer {
            dir: dir.to_path_buf(),
            policy,
            open: HashMap::new(),
            file: None,
            last_sync: Instant::now(),
            dirty: false,
        };
        let thread = std::thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Journal {
            sink: CdrSink { tx },
            thread: Some(thread),
        })
    }

    pub fn sink(&self) -> CdrSink {
        self.sink.clone()
    }

    /// Close records still open as `interrupted`, sync, stop.
    pub fn shutdown(mut self) {
        let (ack_tx, ack_rx) = mpsc::channel();
        if self.sink.tx.send(Msg::Shutdown(ack_tx)).is_ok() {
            let _ = ack_rx.recv_timeout(Duration::from_secs(10));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Path of the journal file for a day.
pub fn file_for(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("cdr-{}.jsonl", day.format("%Y-%m-%d")))
}

struct Writer {
    dir: PathBuf,
    policy: FsyncPolicy,
    open: HashMap<String, CallRecord>,
    file: Option<(NaiveDate, BufWriter<File>)>,
    last_sync: Instant,
    dirty: bool,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let msg = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.close_all("shutdown");
                    self.sync(true);
                    return;
                }
            };
            let mut next = msg;
            // Take everything queued, then write once.
            while let Some(m) = next {
                match m {
                    Msg::Event(ev) => self.apply(*ev),
                    Msg::Shutdown(ack) => {
                        self.close_all("shutdown");
                        self.sync(true);
                        let _ = ack.send(());
                        return;
                    }
                }
                next = rx.try_recv().ok();
            }
            self.sync(false);
        }
    }

    fn apply(&mut self, ev: CallEvent) {
        if matches!(ev.kind, EventKind::Arrived { .. }) {
            if let Some(r) = CallRecord::open(&ev) {
                self.open.insert(ev.record_id.clone(), r);
            }
            return;
        }
        let done = match self.open.get_mut(&ev.record_id) {
            Some(r) => r.apply(&ev),
            None => {
                tracing::warn!(record_id = %ev.record_id, "event for an unknown call record");
                false
            }
        };
        if done {
            if let Some(r) = self.open.remove(&ev.record_id) {
                self.write(&r);
            }
        }
    }

    fn close_all(&mut self, reason: &str) {
        let ids: Vec<String> = self.open.keys().cloned().collect();
        for id in ids {
            self.apply(CallEvent::now(
                &id,
                EventKind::Ended {
                    by: Party::System,
                    reason: reason.into(),
                },
            ));
        }
    }

    fn write(&mut self, r: &CallRecord) {
        let day = r.ended_at.unwrap_or_else(Utc::now).date_naive();
        if let Err(e) = self.write_line(day, r) {
            // Nothing lost silently: the record goes to the log in full.
            tracing::error!(error = %e, record = %serde_json::to_string(r).unwrap_or_default(),
                "cannot append CDR");
        }
    }

    fn write_line(&mut self, day: NaiveDate, r: &CallRecord) -> io::Result<()> {
        if self.file.as_ref().map(|(d, _)| *d) != Some(day) {
            if let Some((_, mut f)) = self.file.take() {
                f.flush()?;
                f.get_ref().sync_data()?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(file_for(&self.dir, day))?;
            self.file = Some((day, BufWriter::with_capacity(64 * 1024, f)));
        }
        let (_, f) = self.file.as_mut().expect("opened above");
        serde_json::to_writer(&mut *f, r)?;
        f.write_all(b"\n")?;
        self.dirty = true;
        Ok(())
    }

    fn sync(&mut self, force: bool) {
        if !self.dirty {
            return;
        }
        let Some((_, f)) = self.file.as_mut() else {
            return;
        };
        if let Err(e) = f.flush() {
            tracing::error!(error = %e, "CDR flush failed");
            return;
        }
        let due = match self.policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(ms) => self.last_sync.elapsed() >= Duration::from_millis(ms),
            FsyncPolicy::Never => false,
        };
        if force || due {
            if let Err(e) = f.get_ref().sync_data() {
                tracing::error!(error = %e, "CDR fsync failed");
            }
            self.last_sync = Instant::now();
        }
        self.dirty = false;
    }
}

/// Read every record of the journal files in `dir` whose end lies in
/// `[from, to)` (either bound optional).
pub fn read_records(
    dir: &Path,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> io::Result<Vec<CallRecord>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r: CallRecord = serde_json::from_str(line).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), n + 1),
                )
            })?;
            let end = r.ended_at.unwrap_or(r.arrived_at);
            if from.is_some_and(|f| end < f) || to.is_some_and(|t| end >= t) {
                continue;
            }
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::new_record_id;

    #[test]
    fn records_are_written_and_read_back() {
        let dir = std::env::temp_dir().join(format!("cdr-test-{}", new_record_id()));
        let j = Journal::start(&dir, FsyncPolicy::Always).unwrap();
        let sink = j.sink();
        for i in 0..3 {
            let id = format!("r{i}");
            sink.emit(CallEvent::now(
                &id,
                EventKind::Arrived {
                    sip_call_id: format!("c{i}"),
                    trunk: Some("local".into()),
                    did: Some("3422".into()),
                    flow: None,
                    caller: Some("0612345678".into()),
                    caller_withheld: false,
                    source: "127.0.0.1:1".into(),
                    transport: "UDP".into(),
                },
            ));
            if i < 2 {
                sink.emit(CallEvent::now(
                    &id,
                    EventKind::Rejected {
                        sip_code: 404,
                        reason: "unknown DID".into(),
                    },
                ));
            }
        }
        j.shutdown();
        let recs = read_records(&dir, None, None).unwrap();
        assert_eq!(recs.len(), 3, "the open call is closed at shutdown");
        let open = recs.iter().find(|r| r.record_id == "r2").unwrap();
        assert_eq!(open.outcome, crate::record::Outcome::Interrupted);
        assert_eq!(open.end_reason.as_deref(), Some("shutdown"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
