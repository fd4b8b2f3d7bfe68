//! Service availability (GAP01) needs the time the service was up, which
//! call records cannot tell: softswitch writes `start`, then `up` every
//! [`HEARTBEAT`], then `stop` on a clean stop, one JSON line each, to
//! `<cdr dir>/uptime/uptime-YYYY-MM-DD.jsonl`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How often a running softswitch says it is up.
pub const HEARTBEAT: Duration = Duration::from_secs(60);

/// One line of the uptime journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UptimeRecord {
    /// When the line was written.
    pub at: DateTime<Utc>,
    /// `start`, `up` or `stop`.
    pub event: String,
}

fn uptime_dir(cdr_dir: &Path) -> PathBuf {
    cdr_dir.join("uptime")
}

/// Append one line (a failure is logged: availability is then
/// under-counted, never invented).
pub fn write_uptime(cdr_dir: &Path, event: &str) {
    let now = Utc::now();
    let rec = UptimeRecord {
        at: now,
        event: event.to_string(),
    };
    let path = uptime_dir(cdr_dir).join(format!("uptime-{}.jsonl", now.format("%Y-%m-%d")));
    let r = std::fs::create_dir_all(uptime_dir(cdr_dir)).and_then(|_| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut line = serde_json::to_vec(&rec)?;
        line.push(b'\n');
        f.write_all(&line)
    });
    if let Err(e) = r {
        tracing::error!(error = %e, file = %path.display(), "cannot write the uptime journal");
    }
}

/// Every line of the journal of `cdr_dir`, in time order (none when it
/// has no journal); unreadable lines as `file:line: message`.
pub fn read_uptime(cdr_dir: &Path) -> std::io::Result<Vec<UptimeRecord>> {
    let mut out: Vec<UptimeRecord> = crate::jsonl::read_dir(&uptime_dir(cdr_dir), false, |_| true)?;
    out.sort_by_key(|r| r.at);
    Ok(out)
}
