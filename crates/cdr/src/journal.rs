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

use crate::agents::AgentStateRecord;
use crate::event::{CallEvent, EventKind, Party};
use crate::eventlog::EventLog;
use crate::record::{CallRecord, FoldOptions};

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
    Agent(Box<AgentStateRecord>),
    Shutdown(Sender<()>),
}

/// Where call events go; cheap to clone, never blocks the caller.
#[derive(Clone)]
pub struct CdrSink {
    tx: Sender<Msg>,
}

impl CdrSink {
    /// Send a call event to the writer; if the writer is gone, the event is
    /// logged as lost.
    pub fn emit(&self, ev: CallEvent) {
        if self.tx.send(Msg::Event(Box::new(ev))).is_err() {
            tracing::error!("CDR writer is gone; event lost");
        }
    }

    /// An agent's state changed (see [`crate::agents`]).
    pub fn agent_state(&self, rec: AgentStateRecord) {
        if self.tx.send(Msg::Agent(Box::new(rec))).is_err() {
            tracing::error!("CDR writer is gone; agent state lost");
        }
    }
}

/// Called with each record once it is in the journal (live statistics,
/// the HTTP pusher's wake-up). Runs on the writer thread: keep it short.
pub type RecordHook = Box<dyn Fn(&CallRecord) + Send>;

/// How the journal runs.
pub struct JournalConfig {
    /// `var/cdr`: daily `cdr-*.jsonl` files and the `events/` log.
    pub dir: PathBuf,
    /// When finished records are forced to disk.
    pub fsync: FsyncPolicy,
    /// Settings that complete each record before it is written.
    pub fold: FoldOptions,
    /// Called with each record once it is in the journal.
    pub hooks: Vec<RecordHook>,
}

impl JournalConfig {
    /// The config of a journal in `dir` with this fsync policy, default fold
    /// options and no hooks.
    pub fn new(dir: &Path, fsync: FsyncPolicy) -> JournalConfig {
        JournalConfig {
            dir: dir.to_path_buf(),
            fsync,
            fold: FoldOptions::default(),
            hooks: Vec::new(),
        }
    }
}

/// A record waiting for the agent's wrap-up is written anyway after this.
const WRAP_UP_WAIT: Duration = Duration::from_secs(2 * 3600);

/// The running journal.
pub struct Journal {
    sink: CdrSink,
    thread: Option<JoinHandle<()>>,
    recovered: usize,
}

impl Journal {
    /// Open (create) the directory, close the calls a crash left open (from
    /// the events log) and start the writer.
    pub fn start(cfg: JournalConfig) -> io::Result<Journal> {
        std::fs::create_dir_all(&cfg.dir)?;
        let (log, recovered) = EventLog::open(&cfg.dir)?;
        let (tx, rx) = mpsc::channel();
        let mut writer = Writer {
            dir: cfg.dir,
            policy: cfg.fsync,
            fold: cfg.fold,
            hooks: cfg.hooks,
            open: HashMap::new(),
            file: None,
            agent_file: None,
            log: Some(log),
            pending_closed: Vec::new(),
            last_sync: Instant::now(),
            last_sweep: Instant::now(),
            dirty: false,
        };
        let count = recovered.records.len();
        if count > 0 || recovered.unreadable > 0 {
            tracing::warn!(
                records = count,
                unreadable_lines = recovered.unreadable,
                "closing calls left open by the previous run (outcome interrupted, end_reason crash)"
            );
        }
        for mut r in recovered.records {
            writer.complete(&mut r);
        }
        writer.sync(true);
        if let Some(log) = &writer.log {
            log.clear_old()?;
        }
        let thread = std::thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Journal {
            sink: CdrSink { tx },
            thread: Some(thread),
            recovered: count,
        })
    }

    /// A handle that sends call events to this journal.
    pub fn sink(&self) -> CdrSink {
        self.sink.clone()
    }

    /// How many records the start wrote for calls a crash had left open.
    pub fn recovered(&self) -> usize {
        self.recovered
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
    fold: FoldOptions,
    hooks: Vec<RecordHook>,
    open: HashMap<String, CallRecord>,
    file: Option<(NaiveDate, BufWriter<File>)>,
    /// Today's agent-state file.
    agent_file: Option<(NaiveDate, BufWriter<File>)>,
    /// None once the writer stopped cleanly or the log failed.
    log: Option<EventLog>,
    /// `closed` marks, appended once the CDR lines are flushed.
    pending_closed: Vec<String>,
    last_sync: Instant,
    last_sweep: Instant,
    dirty: bool,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let msg = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return self.stop(),
            };
            let mut next = msg;
            // Take everything queued, then write once.
            while let Some(m) = next {
                match m {
                    Msg::Event(ev) => self.apply(*ev),
                    Msg::Agent(rec) => self.write_agent(&rec),
                    Msg::Shutdown(ack) => {
                        self.stop();
                        let _ = ack.send(());
                        return;
                    }
                }
                next = rx.try_recv().ok();
            }
            self.sync(false);
            self.sweep();
        }
    }

    fn apply(&mut self, ev: CallEvent) {
        if let Some(log) = &mut self.log {
            if let Err(e) = log.event(&ev) {
                tracing::error!(error = %e, "cannot append to the CDR events log: calls open at a crash would have no record");
                self.log = None;
            }
        }
        if matches!(ev.kind, EventKind::Arrived { .. }) {
            if let Some(r) = CallRecord::open(&ev) {
                self.open.insert(ev.record_id.clone(), r);
            }
            return;
        }
        let done = match self.open.get_mut(&ev.record_id) {
            Some(r) => r.apply(&ev),
            None => {
                if let EventKind::Disposition { agent, code } = &ev.kind {
                    tracing::warn!(record_id = %ev.record_id, agent = %agent, code = %code,
                        "disposition after the call's record was written (wrap-up over): not in the CDR");
                } else {
                    tracing::warn!(record_id = %ev.record_id, "event for an unknown call record");
                }
                false
            }
        };
        if done {
            if let Some(mut r) = self.open.remove(&ev.record_id) {
                self.complete(&mut r);
            }
        }
    }

    /// Write a finished record and tell the hooks.
    fn complete(&mut self, r: &mut CallRecord) {
        r.finish(&self.fold);
        self.write(r);
        self.pending_closed.push(r.record_id.clone());
        for hook in &self.hooks {
            hook(r);
        }
    }

    /// Records whose agent never ended the wrap-up are written anyway.
    fn sweep(&mut self) {
        if self.last_sweep.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_sweep = Instant::now();
        let cutoff = Utc::now() - chrono::Duration::from_std(WRAP_UP_WAIT).unwrap_or_default();
        let stale: Vec<String> = self
            .open
            .values()
            .filter(|r| r.ended_at.is_some_and(|t| t < cutoff))
            .map(|r| r.record_id.clone())
            .collect();
        for id in stale {
            if let Some(mut r) = self.open.remove(&id) {
                tracing::warn!(record_id = %id, agent = r.agent.as_deref().unwrap_or(""),
                    "no end of wrap-up after two hours: record written without it");
                self.complete(&mut r);
            }
        }
        if self.log.as_ref().is_some_and(|l| l.wants_rollover()) {
            self.sync(true);
            let open = self.open.values();
            if let Some(Err(e)) = self.log.as_mut().map(|l| l.roll_over(open)) {
                tracing::error!(error = %e, "cannot roll the CDR events log over");
            }
        }
    }

    /// Clean stop: open calls are closed `interrupted`, the events log goes.
    fn stop(&mut self) {
        let ids: Vec<String> = self.open.keys().cloned().collect();
        for id in ids {
            let ended = self.open.get(&id).is_some_and(|r| r.ended_at.is_some());
            if ended {
                // Waiting for the agent's wrap-up: the call itself is over.
                if let Some(mut r) = self.open.remove(&id) {
                    self.complete(&mut r);
                }
                continue;
            }
            self.apply(CallEvent::now(
                &id,
                EventKind::Ended {
                    by: Party::System,
                    reason: "shutdown".into(),
                },
            ));
        }
        self.sync(true);
        if let Some(Err(e)) = self.log.take().map(EventLog::remove_all) {
            tracing::error!(error = %e, "cannot remove the CDR events log");
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

    fn write_agent(&mut self, rec: &AgentStateRecord) {
        let day = rec.at.date_naive();
        let r = (|| -> io::Result<()> {
            if self.agent_file.as_ref().map(|(d, _)| *d) != Some(day) {
                std::fs::create_dir_all(crate::agents::agents_dir(&self.dir))?;
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(crate::agents::agents_file(&self.dir, day))?;
                self.agent_file = Some((day, BufWriter::new(f)));
            }
            let (_, f) = self.agent_file.as_mut().expect("opened above");
            serde_json::to_writer(&mut *f, rec)?;
            f.write_all(b"\n")?;
            f.flush()
        })();
        if let Err(e) = r {
            tracing::error!(error = %e, agent = %rec.agent, state = %rec.state, "cannot append the agent state");
        }
    }

    /// Flush the events, then the records they completed (to the kernel: a
    /// `kill -9` loses nothing flushed), fsync by policy, then mark those
    /// calls closed in the events log. Events first: a record the journal
    /// holds must never be missing its last events in the log, or recovery
    /// would close that call a second time as interrupted.
    fn sync(&mut self, force: bool) {
        let due = force
            || match self.policy {
                FsyncPolicy::Always => true,
                FsyncPolicy::Interval(ms) => self.last_sync.elapsed() >= Duration::from_millis(ms),
                FsyncPolicy::Never => false,
            };
        if self.dirty {
            if let Some(Err(e)) = self.log.as_mut().map(|log| log.flush(due)) {
                tracing::error!(error = %e, "CDR events log write failed");
            }
            if let Some((_, f)) = self.file.as_mut() {
                if let Err(e) = f.flush() {
                    tracing::error!(error = %e, "CDR flush failed");
                    return;
                }
                if due {
                    if let Err(e) = f.get_ref().sync_data() {
                        tracing::error!(error = %e, "CDR fsync failed");
                    }
                }
            }
            self.dirty = false;
        }
        if let Some(log) = &mut self.log {
            let mut r = Ok(());
            for id in self.pending_closed.drain(..) {
                r = r.and_then(|_| log.closed(&id));
            }
            if let Err(e) = r.and_then(|_| log.flush(due)) {
                tracing::error!(error = %e, "CDR events log write failed");
            }
        } else {
            self.pending_closed.clear();
        }
        if due {
            self.last_sync = Instant::now();
        }
    }
}

/// Read every record of the journal files in `dir` whose end lies in
/// `[from, to)` (either bound optional).
pub fn read_records(
    dir: &Path,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> io::Result<Vec<CallRecord>> {
    // A file holds the calls that ended on its (UTC) day: skip the days
    // outside the range without reading them.
    let outside = |p: &Path| {
        let day = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("cdr-"))
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        let Some(day) = day else {
            return false;
        };
        let start = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let end = start + chrono::Duration::days(1);
        from.is_some_and(|f| end <= f) || to.is_some_and(|t| start >= t)
    };
    let mut out: Vec<CallRecord> = crate::jsonl::read_dir(dir, true, |p| !outside(p))?;
    out.retain(|r| {
        let end = r.ended_at.unwrap_or(r.arrived_at);
        !(from.is_some_and(|f| end < f) || to.is_some_and(|t| end >= t))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::new_record_id;

    #[test]
    fn records_are_written_and_read_back() {
        let dir = std::env::temp_dir().join(format!("cdr-test-{}", new_record_id()));
        let j = Journal::start(JournalConfig::new(&dir, FsyncPolicy::Always)).unwrap();
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

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    #[test]
    fn a_crash_loses_no_call() {
        let base = std::env::temp_dir().join(format!("cdr-crash-{}", new_record_id()));
        let live = base.join("live");
        let j = Journal::start(JournalConfig::new(&live, FsyncPolicy::Never)).unwrap();
        let sink = j.sink();
        let arrived = |id: &str| {
            CallEvent::now(
                id,
                EventKind::Arrived {
                    sip_call_id: id.into(),
                    trunk: Some("local".into()),
                    did: Some("3422".into()),
                    flow: Some("demo".into()),
                    caller: None,
                    caller_withheld: true,
                    source: "127.0.0.1:1".into(),
                    transport: "UDP".into(),
                },
            )
        };
        let ev = |id: &str, kind| CallEvent::now(id, kind);
        let answered = || EventKind::Answered {
            codec: "PCMU".into(),
        };
        // done: finished; open: in the IVR; wrap: the agent is in wrap-up.
        for id in ["done", "open", "wrap"] {
            sink.emit(arrived(id));
            sink.emit(ev(id, answered()));
        }
        sink.emit(ev(
            "done",
            EventKind::Ended {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ));
        for kind in [
            EventKind::Queued {
                queue: "general".into(),
                priority: 0,
            },
            EventKind::AgentAnswered {
                agent: "agent1".into(),
            },
            EventKind::AgentEnded { by: Party::Agent },
            EventKind::Ended {
                by: Party::System,
                reason: "script_end".into(),
            },
        ] {
            sink.emit(ev("wrap", kind));
        }
        std::thread::sleep(Duration::from_millis(600));
        // What a `kill -9` now would leave on disk.
        let crashed = base.join("crashed");
        copy_dir(&live, &crashed);
        let swept = base.join("swept");
        copy_dir(&live, &swept);
        j.shutdown();

        let first = read_records(&crashed, None, None).unwrap();
        assert_eq!(first.len(), 1, "only the finished call was written");
        let j = Journal::start(JournalConfig::new(&crashed, FsyncPolicy::Always)).unwrap();
        assert_eq!(j.recovered(), 2);
        j.shutdown();
        let recs = read_records(&crashed, None, None).unwrap();
        assert_eq!(recs.len(), 3, "each call exactly once");
        let get = |id: &str| recs.iter().find(|r| r.record_id == id).unwrap();
        assert_eq!(get("done").outcome, crate::record::Outcome::AbandonedIvr);
        let open = get("open");
        assert_eq!(open.outcome, crate::record::Outcome::Interrupted);
        assert_eq!(open.end_reason.as_deref(), Some("crash"));
        assert_eq!(get("wrap").outcome, crate::record::Outcome::Answered);

        // A third start finds nothing more to close.
        let j = Journal::start(JournalConfig::new(&crashed, FsyncPolicy::Always)).unwrap();
        assert_eq!(j.recovered(), 0);
        j.shutdown();
        assert_eq!(read_records(&crashed, None, None).unwrap().len(), 3);

        // The call in wrap-up reached the journal just before the crash (the
        // sweep writes it when the agent never ends the wrap-up), its
        // `closed` mark did not: it is not written a second time.
        let wrap = get("wrap");
        let day = wrap.ended_at.unwrap().date_naive();
        let mut line = serde_json::to_vec(wrap).unwrap();
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(file_for(&swept, day))
            .unwrap();
        f.write_all(&line).unwrap();
        drop(f);
        let j = Journal::start(JournalConfig::new(&swept, FsyncPolicy::Always)).unwrap();
        assert_eq!(j.recovered(), 1, "only the call still in the IVR");
        j.shutdown();
        let mut ids: Vec<String> = read_records(&swept, None, None)
            .unwrap()
            .into_iter()
            .map(|r| r.record_id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["done", "open", "wrap"]);
        std::fs::remove_dir_all(&base).ok();
    }
}
