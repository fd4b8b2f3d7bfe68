//! Agent states over time, for the KPIs records cannot carry (agent idle
//! share): every change of an agent's state is one JSON line of
//! `<cdr dir>/agents/agents-YYYY-MM-DD.jsonl` (UTC day of the change),
//! written by the CDR writer with the same fsync policy.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One change of an agent's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateRecord {
    /// When the state changed.
    pub at: DateTime<Utc>,
    /// The agent whose state changed (its id).
    pub agent: String,
    /// `logged_out`, `available`, `reserved`, `on_call`, `wrap_up`, `paused`.
    pub state: String,
    /// The pause reason.
    pub reason: Option<String>,
    /// The agent's phone is registered (or at a static URI).
    pub registered: bool,
}

/// The directory of the agent-state files.
pub fn agents_dir(cdr_dir: &Path) -> PathBuf {
    cdr_dir.join("agents")
}

/// The file of a day.
pub fn agents_file(cdr_dir: &Path, day: NaiveDate) -> PathBuf {
    agents_dir(cdr_dir).join(format!("agents-{}.jsonl", day.format("%Y-%m-%d")))
}

/// Every state change in the files of `cdr_dir`, in time order; a missing
/// directory is no change at all. Unreadable lines are reported as
/// `file:line: message`.
pub fn read_agent_states(cdr_dir: &Path) -> std::io::Result<Vec<AgentStateRecord>> {
    let mut out: Vec<AgentStateRecord> =
        crate::jsonl::read_dir(&agents_dir(cdr_dir), false, |_| true)?;
    out.sort_by_key(|r| r.at);
    Ok(out)
}
