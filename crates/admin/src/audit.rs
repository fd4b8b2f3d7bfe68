//! Audit log: one JSON line per admin action (who, what, when, on what),
//! appended to `<data>/audit/audit-YYYY-MM.jsonl` and synced to disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::{json, Value};

/// Appends audit entries; cheap to share behind an `Arc`.
pub struct Audit {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl Audit {
    pub fn new(dir: PathBuf) -> std::io::Result<Audit> {
        std::fs::create_dir_all(&dir)?;
        Ok(Audit {
            dir,
            lock: Mutex::new(()),
        })
    }

    /// Record an action. A failure to write is logged in full, never silent.
    pub fn record(&self, who: &str, action: &str, target: &str, details: Value) {
        let now = Utc::now();
        let entry = json!({
            "at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "who": who,
            "action": action,
            "target": target,
            "details": details,
        });
        let path = self
            .dir
            .join(format!("audit-{}.jsonl", now.format("%Y-%m")));
        let _guard = self.lock.lock().expect("audit lock");
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                writeln!(f, "{entry}")?;
                f.sync_data()
            });
        if let Err(e) = written {
            tracing::error!(error = %e, path = %path.display(), entry = %entry, "cannot write the audit log");
        }
    }
}
