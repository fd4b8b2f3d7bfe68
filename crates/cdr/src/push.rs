//! HTTP push of finished records to an external SLA engine, in batches,
//! at least once.
//!
//! The journal files are the spool: the pusher keeps, per daily file, the
//! byte offset up to which the receiver acknowledged (`push-cursor.json`,
//! replaced atomically). After a restart, a crash or a receiver outage it
//! resumes from there; a batch that failed is sent again, so the receiver
//! de-duplicates on `record_id`. Every file is watched, not only today's: a
//! record written late (after an agent's wrap-up, or closed after a crash)
//! lands in the file of the day its call ended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;

/// `[cdr.push]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Where batches are POSTed (a JSON array of records).
    pub url: String,
    /// Sent as `Authorization: Bearer TOKEN` when set.
    #[serde(default)]
    pub token: Option<String>,
    /// Records per POST at most.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// How often the journal is looked at when nothing wakes the pusher.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Timeout of each HTTP request, in seconds (at least 1).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// Retries back off from 1 s, doubling, up to this.
    #[serde(default = "default_max_backoff_s")]
    pub max_backoff_s: u64,
    /// Replace the last 4 digits of the caller's number with `X`.
    #[serde(default)]
    pub mask_caller: bool,
    /// On the very first start, push the records already in the journal
    /// too (default: only records written from now on).
    #[serde(default)]
    pub from_start: bool,
    /// A PEM certificate authority to trust for an `https://` url besides
    /// the public web roots (an internal CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_batch() -> usize {
    500
}
fn default_interval_ms() -> u64 {
    1000
}
fn default_timeout_s() -> u64 {
    10
}
fn default_max_backoff_s() -> u64 {
    300
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct PushStats {
    /// Records acknowledged by the receiver.
    pub pushed: AtomicU64,
    /// Batches acknowledged by the receiver.
    pub batches: AtomicU64,
    /// Failed POST attempts (each one retried).
    pub failures: AtomicU64,
    /// Bytes of the journal not yet acknowledged.
    pub pending_bytes: AtomicU64,
}

/// The running pusher.
#[derive(Clone)]
pub struct PushHandle {
    wake: Arc<Notify>,
    /// The pusher's counters.
    pub stats: Arc<PushStats>,
}

impl PushHandle {
    /// A record was written: look now rather than at the next interval.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Why the push could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `ca_file` cannot be read.
    #[error("ca_file {}: {source}", path.display())]
    CaFile {
        /// The `ca_file` path.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// `ca_file` holds no valid PEM certificate.
    #[error("ca_file {}: not a PEM certificate: {source}", path.display())]
    CaPem {
        /// The `ca_file` path.
        path: PathBuf,
        /// The parse error.
        source: reqwest::Error,
    },
    /// The HTTP client cannot be built.
    #[error("HTTP client: {0}")]
    Client(reqwest::Error),
    /// The cursor file (how far the push went) cannot be read or written.
    #[error("{}: {source}", path.display())]
    Cursor {
        /// The cursor file (`push-cursor.json` in the journal directory).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The cursor file is not a JSON map of file name to acknowledged offset.
    #[error("{}: {source}", path.display())]
    CursorContent {
        /// The cursor file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// Start pushing the journal in `dir` (a tokio runtime must be running).
pub fn start(cfg: PushConfig, dir: PathBuf) -> Result<PushHandle, StartError> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(cfg.timeout_s.max(1)));
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|source| StartError::CaFile {
            path: ca.clone(),
            source,
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|source| StartError::CaPem {
            path: ca.clone(),
            source,
        })?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder.build().map_err(StartError::Client)?;
    let cursor_path = dir.join("push-cursor.json");
    let offsets = match std::fs::read(&cursor_path) {
        Ok(bytes) => serde_json::from_slice::<BTreeMap<String, u64>>(&bytes).map_err(|source| {
            StartError::CursorContent {
                path: cursor_path.clone(),
                source,
            }
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut o = BTreeMap::new();
            if !cfg.from_start {
                for (name, size) in journal_files(&dir) {
                    o.insert(name, size);
                }
            }
            o
        }
        Err(source) => {
            return Err(StartError::Cursor {
                path: cursor_path,
                source,
            })
        }
    };
    let handle = PushHandle {
        wake: Arc::new(Notify::new()),
        stats: Arc::new(PushStats::default()),
    };
    let mut pusher = Pusher {
        cfg,
        dir,
        cursor_path,
        offsets,
        client,
        handle: handle.clone(),
    };
    pusher.save().map_err(|source| StartError::Cursor {
        path: pusher.cursor_path.clone(),
        source,
    })?;
    tokio::spawn(async move { pusher.run().await });
    Ok(handle)
}

/// `cdr-*.jsonl` files of `dir` with their sizes, oldest first.
fn journal_files(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let ok = name.starts_with("cdr-") && name.ends_with(".jsonl");
            Some((name, e.metadata().ok()?.len())).filter(|_| ok)
        })
        .collect();
    out.sort();
    out
}

struct Pusher {
    cfg: PushConfig,
    dir: PathBuf,
    cursor_path: PathBuf,
    offsets: BTreeMap<String, u64>,
    client: reqwest::Client,
    handle: PushHandle,
}

/// A batch read from one file: the body and how far it reaches.
struct Batch {
    file: String,
    end: u64,
    count: usize,
    body: String,
}

impl Pusher {
    async fn run(&mut self) {
        let mut backoff = Duration::from_secs(1);
        let mut failing_since: Option<std::time::Instant> = None;
        loop {
            let batch = match self.next_batch() {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "CDR push cannot read the journal");
                    None
                }
            };
            let Some(batch) = batch else {
                let interval = Duration::from_millis(self.cfg.interval_ms.max(10));
                tokio::select! {
                    _ = self.handle.wake.notified() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
                continue;
            };
            match self.post(&batch).await {
                Ok(()) => {
                    if let Some(since) = failing_since.take() {
                        tracing::info!(
                            down_s = since.elapsed().as_secs(),
                            "CDR push receiver is back"
                        );
                    }
                    backoff = Duration::from_secs(1);
                    self.offsets.insert(batch.file.clone(), batch.end);
                    if let Err(e) = self.save() {
                        tracing::error!(error = %e, file = %self.cursor_path.display(),
                            "cannot save the CDR push cursor (records may be pushed twice)");
                    }
                    let s = &self.handle.stats;
                    s.pushed.fetch_add(batch.count as u64, Ordering::Relaxed);
                    s.batches.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.handle.stats.failures.fetch_add(1, Ordering::Relaxed);
                    failing_since.get_or_insert_with(std::time::Instant::now);
                    tracing::warn!(url = %self.cfg.url, error = %e, retry_in_s = backoff.as_secs(),
                        records = batch.count, "CDR push failed; the records stay in the journal and are sent again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(self.cfg.max_backoff_s.max(1)));
                }
            }
        }
    }

    /// The next unacknowledged complete lines of the oldest file that has
    /// some.
    fn next_batch(&mut self) -> std::io::Result<Option<Batch>> {
        let files = journal_files(&self.dir);
        // Files purged by retention are forgotten.
        self.offsets
            .retain(|name, _| files.iter().any(|(n, _)| n == name));
        let pending: u64 = files
            .iter()
            .map(|(n, size)| size.saturating_sub(*self.offsets.get(n).unwrap_or(&0)))
            .sum();
        self.handle
            .stats
            .pending_bytes
            .store(pending, Ordering::Relaxed);
        for (name, size) in files {
            let off = *self.offsets.get(&name).unwrap_or(&0);
            if size <= off {
                continue;
            }
            if let Some(b) = self.read_batch(&name, off, size)? {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    fn read_batch(&self, name: &str, off: u64, size: u64) -> std::io::Result<Option<Batch>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(self.dir.join(name))?;
        f.seek(SeekFrom::Start(off))?;
        let want = (size - off).min(8 * 1024 * 1024);
        let mut buf = Vec::with_capacity(want as usize);
        f.take(want).read_to_end(&mut buf)?;
        let mut body = String::from("[");
        let mut used = 0usize;
        let mut count = 0;
        for line in buf.split_inclusive(|&b| b == b'\n') {
            if count == self.cfg.batch.max(1) || !line.ends_with(b"\n") {
                break; // a full batch, or a line still being written
            }
            used += line.len();
            let text = String::from_utf8_lossy(line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let json = if self.cfg.mask_caller {
                mask_line(text)
            } else {
                text.to_string()
            };
            if count > 0 {
                body.push(',');
            }
            body.push_str(&json);
            count += 1;
        }
        body.push(']');
        if used == 0 {
            return Ok(None);
        }
        Ok(Some(Batch {
            file: name.to_string(),
            end: off + used as u64,
            count,
            body,
        }))
    }

    async fn post(&self, batch: &Batch) -> Result<(), PostError> {
        let mut req = self
            .client
            .post(&self.cfg.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            // The same batch keeps the same key when it is sent again.
            .header("Idempotency-Key", format!("{}:{}", batch.file, batch.end))
            .body(batch.body.clone());
        if let Some(t) = &self.cfg.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(PostError::Refused(resp.status()))
        }
    }

    fn save(&self) -> std::io::Result<()> {
        let tmp = self.cursor_path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.offsets)?)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.cursor_path)
    }
}

/// Why a batch did not reach the receiver (it is sent again later).
#[derive(Debug, thiserror::Error)]
enum PostError {
    /// No answer: connection refused, TLS, timeout...
    #[error(transparent)]
    Unreachable(#[from] reqwest::Error),
    /// The receiver answered with a status other than 2xx.
    #[error("HTTP {0}")]
    Refused(reqwest::StatusCode),
}

fn mask_line(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) => {
            if let Some(serde_json::Value::String(c)) = v.get_mut("caller") {
                *c = crate::export::mask_number(c);
            }
            v.to_string()
        }
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A receiver that fails the first `fail` requests, then keeps every
    /// body it acknowledges.
    async fn receiver(fail: usize) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cdr", listener.local_addr().unwrap());
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = got.clone();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let body = loop {
                    let mut chunk = [0u8; 4096];
                    let k = s.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..k]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            break text[i + 4..i + 4 + len].to_string();
                        }
                    }
                    if k == 0 {
                        break String::new();
                    }
                };
                n += 1;
                let status = if n <= fail {
                    "503 Unavailable"
                } else {
                    "200 OK"
                };
                if n > fail {
                    seen.lock().unwrap().push(body);
                }
                let resp =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                s.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        (url, got)
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
    }

    fn line(id: &str, caller: &str) -> String {
        format!("{{\"record_id\":\"{id}\",\"caller\":\"{caller}\"}}\n")
    }

    #[tokio::test]
    async fn pushes_every_record_once_after_failures_and_resumes_from_the_cursor() {
        let dir = std::env::temp_dir().join(format!("cdr-push-{}", crate::new_record_id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Already there before the first start: not pushed by default.
        std::fs::write(dir.join("cdr-2026-11-22.jsonl"), line("old", "0600000000")).unwrap();
        let (url, got) = receiver(2).await;
        let cfg = PushConfig {
            url,
            token: None,
            batch: 2,
            interval_ms: 20,
            timeout_s: 2,
            max_backoff_s: 1,
            mask_caller: true,
            from_start: false,
            ca_file: None,
        };
        let h = start(cfg.clone(), dir.clone()).unwrap();
        let mut text = String::new();
        for i in 0..5 {
            text.push_str(&line(&format!("r{i}"), "0612345678"));
        }
        // A line still being written is left for later.
        text.push_str("{\"record_id\":\"r5\"");
        std::fs::write(dir.join("cdr-2026-11-23.jsonl"), &text).unwrap();
        // A late record for yesterday's file.
        append(
            &dir.join("cdr-2026-11-22.jsonl"),
            line("late", "0100000000").as_bytes(),
        );
        h.wake();
        let ids = |got: &Arc<std::sync::Mutex<Vec<String>>>| -> Vec<String> {
            got.lock()
                .unwrap()
                .iter()
                .flat_map(|b| serde_json::from_str::<Vec<serde_json::Value>>(b).unwrap())
                .map(|v| v["record_id"].as_str().unwrap().to_string())
                .collect()
        };
        for _ in 0..100 {
            if ids(&got).len() >= 6 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(ids(&got), ["late", "r0", "r1", "r2", "r3", "r4"]);
        assert!(got.lock().unwrap()[1].contains("061234XXXX"), "masked");
        assert_eq!(h.stats.failures.load(Ordering::Relaxed), 2);
        assert_eq!(h.stats.pushed.load(Ordering::Relaxed), 6);

        // A new pusher (a restart) resumes at the cursor: only r5 goes.
        let (url, got2) = receiver(0).await;
        let _h2 = start(PushConfig { url, ..cfg }, dir.clone()).unwrap();
        append(&dir.join("cdr-2026-11-23.jsonl"), b",\"caller\":null}\n");
        for _ in 0..100 {
            if !ids(&got2).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(ids(&got2), ["r5"]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
