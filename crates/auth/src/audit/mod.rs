//! The audit log: one JSON line per action and per read of personal data,
//! with the authenticated account, role, source, action and target. Lines
//! form a hash chain (each carries the SHA-256 of the previous one), and
//! `anchors.jsonl` beside them records the chain's head at every day's end
//! and at every start, so that an edited, removed or reordered line, or a
//! cut tail, is found by `verify`.
//!
//! A line is written to the file (the page cache) inside the call, so a
//! crash of the process loses nothing; a background thread syncs the file
//! to disk every second (a power cut loses at most that second).
//! Files are monthly, `audit-YYYY-MM.jsonl`; months past the retention are
//! removed with an anchor that keeps the chain checkable.

mod check;

pub use check::{export_csv, read, verify, Problem, Report};

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev` of the very first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HASH_KEY: &str = ",\"hash\":\"";

/// Who did what: everything a line says but its place in the chain.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The authenticated account: its id, `cli:<user>` for the command line,
    /// `softswitch` for the process itself, `-` before sign-in.
    pub account: String,
    /// That account's role (`admin`, `supervisor`...), `system` for the
    /// process, `-` when none.
    pub role: String,
    /// The client's address, or `local` for the command line.
    pub source: String,
    /// What was done, dotted (`file0.activate`, `strategy.apply`...).
    pub action: String,
    /// What it was done to (an account, DID, flow, strategy...).
    pub target: String,
    /// Anything else worth keeping, as JSON.
    pub details: Value,
}

/// A line of `anchors.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Anchor {
    /// `day` (a day's last line), `start` (the head at a start), `purge`
    /// (the last line of a month removed by retention), `repair` (a torn
    /// line cut after a crash).
    pub kind: String,
    /// Sequence number of the line the anchor names.
    pub seq: u64,
    /// That line's hash (hex SHA-256).
    pub hash: String,
    /// When the anchor was written.
    pub at: DateTime<Utc>,
    /// The day (UTC) a `day` anchor closes; `None` for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The monthly file a `purge` anchor removed; `None` for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

struct Head {
    seq: u64,
    hash: String,
    /// Day (UTC) of the last line.
    day: Option<NaiveDate>,
    /// The open monthly file and its month.
    file: Option<(String, File)>,
    /// The file's length after our last line: another length means another
    /// process (the command line) wrote, and the head is read again.
    len: u64,
}

struct Inner {
    dir: PathBuf,
    head: Mutex<Head>,
    dirty: AtomicBool,
}

/// The audit log writer; clones share one chain.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

/// The monthly file a time goes to.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("audit-{}.jsonl", at.format("%Y-%m"))
}

/// The hash of a line's body (the text before `,"hash":"`).
pub(crate) fn body_hash(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Split a line into its body and stated hash.
pub(crate) fn split_line(line: &str) -> Option<(&str, &str)> {
    let i = line.rfind(HASH_KEY)?;
    let rest = line[i + HASH_KEY.len()..].strip_suffix("\"}")?;
    Some((&line[..i], rest))
}

impl Audit {
    /// Open the log in `dir`, finding the chain's head in its newest file.
    /// A torn last line (a crash in the middle of a write) is cut off, with
    /// a `repair` anchor.
    pub fn open(dir: &Path) -> std::io::Result<Audit> {
        std::fs::create_dir_all(dir)?;
        set_legacy_aside(dir)?;
        let mut head = Head {
            seq: 0,
            hash: GENESIS.to_string(),
            day: None,
            file: None,
            len: 0,
        };
        if let Some(newest) = check::month_files(dir)?.last() {
            let path = dir.join(newest);
            let mut text = String::new();
            File::open(&path)?.read_to_string(&mut text)?;
            if !text.is_empty() && !text.ends_with('\n') {
                let keep = text.rfind('\n').map_or(0, |i| i + 1);
                tracing::error!(path = %path.display(), bytes = text.len() - keep, "the audit log ends with a torn line (crash while writing): cutting it off");
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(keep as u64)?;
                f.sync_all()?;
                text.truncate(keep);
            }
            if let Some(last) = text.lines().last() {
                let v: Value = serde_json::from_str(last).map_err(|e| {
                    std::io::Error::other(format!("{}: last line unreadable: {e}", path.display()))
                })?;
                head.seq = v["seq"].as_u64().unwrap_or(0);
                head.hash = v["hash"].as_str().unwrap_or(GENESIS).to_string();
                head.day = v["at"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.to_utc().date_naive());
            }
        } else if let Some(a) = check::anchors(dir)?
            .into_iter()
            .rev()
            .find(|a| a.kind == "purge")
        {
            // Every month was purged: the chain goes on from the last one.
            head.seq = a.seq;
            head.hash = a.hash;
        }
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            head: Mutex::new(head),
            dirty: AtomicBool::new(false),
        });
        let audit = Audit { inner };
        {
            let h = audit.inner.head.lock().expect("audit lock");
            if h.seq > 0 {
                audit.anchor(&Anchor {
                    kind: "start".into(),
                    seq: h.seq,
                    hash: h.hash.clone(),
                    at: Utc::now(),
                    day: None,
                    file: None,
                })?;
            }
        }
        spawn_syncer(Arc::downgrade(&audit.inner));
        Ok(audit)
    }

    /// The folder the log is in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn anchor(&self, a: &Anchor) -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.inner.dir.join("anchors.jsonl"))?;
        writeln!(
            f,
            "{}",
            serde_json::to_string(a).map_err(std::io::Error::other)?
        )?;
        f.sync_data()
    }

    /// Append an entry. A failure to write is logged in full, never silent.
    pub fn record(&self, e: Entry) {
        self.record_at(e, Utc::now())
    }

    /// Append an entry at `now` (tests pass their clock).
    pub fn record_at(&self, e: Entry, now: DateTime<Utc>) {
        if let Err(err) = self.append(&e, now) {
            tracing::error!(error = %err, account = %e.account, action = %e.action, target = %e.target, details = %e.details, "cannot write the audit log");
        }
    }

    fn append(&self, e: &Entry, now: DateTime<Utc>) -> std::io::Result<()> {
        let mut h = self.inner.head.lock().expect("audit lock");
        let day = now.date_naive();
        if let Some(prev_day) = h.day.filter(|d| *d != day) {
            if h.seq > 0 {
                self.anchor(&Anchor {
                    kind: "day".into(),
                    seq: h.seq,
                    hash: h.hash.clone(),
                    at: now,
                    day: Some(prev_day),
                    file: None,
                })?;
            }
        }
        let name = file_name(now);
        if h.file.as_ref().map(|(n, _)| n != &name).unwrap_or(true) {
            if let Some((_, old)) = h.file.take() {
                old.sync_data()?;
            }
            let f = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(self.inner.dir.join(&name))?;
            h.file = Some((name, f));
            h.len = 0;
        }
        // A second handle on the same open file: the lock is the file's.
        let f = h.file.as_ref().expect("opened above").1.try_clone()?;
        let _lock = Flock::take(&f)?;
        let len = f.metadata()?.len();
        if len != h.len {
            // Another process appended (or this is a new file): its last
            // line is the head.
            if let Some((seq, hash)) = last_line_head(&f, len)? {
                h.seq = seq;
                h.hash = hash;
            }
            h.len = len;
        }
        let seq = h.seq + 1;
        let s = |v: &str| serde_json::to_string(v).expect("a string serialises");
        let body = format!(
            "{{\"seq\":{seq},\"at\":{},\"account\":{},\"role\":{},\"source\":{},\"action\":{},\"target\":{},\"details\":{},\"prev\":\"{}\"",
            s(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            s(&e.account),
            s(&e.role),
            s(&e.source),
            s(&e.action),
            s(&e.target),
            e.details,
            h.hash
        );
        let hash = body_hash(&body);
        let line = format!("{body}{HASH_KEY}{hash}\"}}\n");
        (&f).write_all(line.as_bytes())?;
        h.len += line.len() as u64;
        h.seq = seq;
        h.hash = hash;
        h.day = Some(day);
        self.inner.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Force what was written to disk (at shutdown; the syncer does it
    /// every second otherwise).
    pub fn sync(&self) -> std::io::Result<()> {
        let h = self.inner.head.lock().expect("audit lock");
        if let Some((_, f)) = &h.file {
            f.sync_data()?;
        }
        self.inner.dirty.store(false, Ordering::Release);
        Ok(())
    }

    /// Remove the monthly files older than `months` months before `now`,
    /// each with a `purge` anchor holding its last line; their names.
    pub fn purge(&self, months: u32, now: DateTime<Utc>) -> std::io::Result<Vec<String>> {
        if months == 0 {
            return Ok(Vec::new());
        }
        let _h = self.inner.head.lock().expect("audit lock");
        let total = now.year() * 12 + now.month0() as i32 - months as i32;
        let oldest_kept = format!(
            "audit-{:04}-{:02}.jsonl",
            total.div_euclid(12),
            total.rem_euclid(12) + 1
        );
        let mut removed = Vec::new();
        for name in check::month_files(&self.inner.dir)? {
            if name >= oldest_kept {
                break;
            }
            let path = self.inner.dir.join(&name);
            let text = std::fs::read_to_string(&path)?;
            if let Some(last) = text.lines().last() {
                let v: Value = serde_json::from_str(last).map_err(std::io::Error::other)?;
                self.anchor(&Anchor {
                    kind: "purge".into(),
                    seq: v["seq"].as_u64().unwrap_or(0),
                    hash: v["hash"].as_str().unwrap_or_default().to_string(),
                    at: now,
                    day: None,
                    file: Some(name.clone()),
                })?;
            }
            std::fs::remove_file(&path)?;
            tracing::info!(file = %name, "audit log month past retention removed");
            removed.push(name);
        }
        Ok(removed)
    }
}

/// Audit files of the unchained format (before hash chains) are kept
/// aside, renamed `*.legacy.jsonl`, and never checked.
fn set_legacy_aside(dir: &Path) -> std::io::Result<()> {
    for name in check::month_files(dir)? {
        let path = dir.join(&name);
        let mut first = String::new();
        let mut f = File::open(&path)?;
        f.seek(SeekFrom::Start(0))?;
        let mut buf = [0u8; 4096];
        let n = f.read(&mut buf)?;
        first.push_str(&String::from_utf8_lossy(&buf[..n]));
        let line = first.lines().next().unwrap_or("");
        if !line.is_empty() && split_line(line).is_none() {
            let aside = path.with_extension("legacy.jsonl");
            std::fs::rename(&path, &aside)?;
            tracing::warn!(from = %path.display(), to = %aside.display(), "audit file of the old, unchained format kept aside");
        }
    }
    Ok(())
}

/// The seq and hash of the last line of a file `len` bytes long.
fn last_line_head(f: &File, len: u64) -> std::io::Result<Option<(u64, String)>> {
    use std::os::unix::fs::FileExt;
    if len == 0 {
        return Ok(None);
    }
    let take = len.min(256 * 1024);
    let mut buf = vec![0u8; take as usize];
    f.read_exact_at(&mut buf, len - take)?;
    let text = String::from_utf8_lossy(&buf);
    let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(last).map_err(std::io::Error::other)?;
    Ok(Some((
        v["seq"].as_u64().unwrap_or(0),
        v["hash"].as_str().unwrap_or(GENESIS).to_string(),
    )))
}

/// An exclusive advisory lock on an open file, released on drop: two
/// processes never interleave their lines.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn take(f: &'a File) -> std::io::Result<Flock<'a>> {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(f))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: as above.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn spawn_syncer(inner: Weak<Inner>) {
    std::thread::Builder::new()
        .name("audit-sync".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let Some(inner) = inner.upgrade() else { return };
            if inner.dirty.swap(false, Ordering::AcqRel) {
                let h = inner.head.lock().expect("audit lock");
                if let Some((_, f)) = &h.file {
                    if let Err(e) = f.sync_data() {
                        tracing::error!(error = %e, "cannot sync the audit log to disk");
                    }
                }
            }
        })
        .expect("spawn the audit syncer");
}

#[cfg(test)]
mod tests;
