//! File 0 ("fichier 0"): an operator override that sends every new call of
//! a number (DID) or flow to a dedicated message, then either on into the
//! normal flow or to a hang-up. It applies from the very next call; each
//! activation remembers when it was asked for, by whom, and when the first
//! call was redirected (the GVS01 activation delay).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happens after the file 0 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Message, then the normal flow.
    Continue,
    /// Message, then hang up (dissuasion).
    Hangup,
    /// Message, then wait in a special queue (`queue`) instead of the flow.
    Queue,
}

impl Mode {
    /// The mode as written in the API and the call record: `continue`,
    /// `hangup` or `queue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Continue => "continue",
            Mode::Hangup => "hangup",
            Mode::Queue => "queue",
        }
    }
}

/// One activation, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activation {
    /// Unique id: `f0-`, the UTC request time (`%Y%m%dT%H%M%S`), then six
    /// random hex digits.
    pub id: String,
    /// A DID or a flow name.
    pub target: String,
    /// Name of the prompt played to each redirected call.
    pub prompt: String,
    /// What the call does after the prompt.
    pub mode: Mode,
    /// For `queue` mode: the queue calls are sent to.
    pub queue: Option<String>,
    /// Why it was activated, as the operator wrote it (optional).
    pub reason: Option<String>,
    /// The account that activated it.
    pub requested_by: String,
    /// When it was activated.
    pub requested_at: DateTime<Utc>,
    /// First call redirected, if any yet.
    pub first_call_at: Option<DateTime<Utc>>,
    /// first_call_at - requested_at, in ms.
    pub activation_delay_ms: Option<i64>,
    /// Number of calls redirected so far.
    pub calls: u64,
}

/// The live overrides, by target.
#[derive(Debug, Default)]
pub struct File0 {
    active: RwLock<HashMap<String, Mutex<Activation>>>,
}

impl File0 {
    /// Activate (or replace) the override of `target`.
    pub fn activate(
        &self,
        target: &str,
        prompt: &str,
        mode: Mode,
        queue: Option<String>,
        reason: Option<String>,
        requested_by: &str,
    ) -> Activation {
        let now = Utc::now();
        let a = Activation {
            id: format!("f0-{}-{:06x}", now.format("%Y%m%dT%H%M%S"), rand_u24()),
            target: target.to_string(),
            prompt: prompt.to_string(),
            mode,
            queue,
            reason,
            requested_by: requested_by.to_string(),
            requested_at: now,
            first_call_at: None,
            activation_delay_ms: None,
            calls: 0,
        };
        self.active
            .write()
            .expect("file0 lock")
            .insert(target.to_string(), Mutex::new(a.clone()));
        a
    }

    /// Deactivate; the activation as it ended, if there was one.
    pub fn deactivate(&self, target: &str) -> Option<Activation> {
        self.active
            .write()
            .expect("file0 lock")
            .remove(target)
            .map(|m| m.into_inner().expect("file0 activation lock"))
    }

    /// Every live activation, sorted by target.
    pub fn list(&self) -> Vec<Activation> {
        let map = self.active.read().expect("file0 lock");
        let mut v: Vec<Activation> = map
            .values()
            .map(|m| m.lock().expect("file0 activation lock").clone())
            .collect();
        v.sort_by(|a, b| a.target.cmp(&b.target));
        v
    }

    /// For a new call to `did` in `flow`: the override that applies (the
    /// DID's first, then the flow's), counted as one more redirected call.
    pub fn redirect(&self, did: &str, flow: &str) -> Option<Activation> {
        let map = self.active.read().expect("file0 lock");
        let m = map.get(did).or_else(|| map.get(flow))?;
        let mut a = m.lock().expect("file0 activation lock");
        let now = Utc::now();
        if a.first_call_at.is_none() {
            a.first_call_at = Some(now);
            a.activation_delay_ms = Some((now - a.requested_at).num_milliseconds());
        }
        a.calls += 1;
        Some(a.clone())
    }
}

fn rand_u24() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or(0) as u128);
    (h.finish() & 0xFF_FFFF) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_before_flow_first_call_recorded_once() {
        let f = File0::default();
        assert!(f.redirect("3422", "demo").is_none());
        f.activate(
            "demo",
            "closed",
            Mode::Hangup,
            None,
            Some("crisis".into()),
            "ops",
        );
        let a = f.redirect("3422", "demo").unwrap();
        assert_eq!((a.target.as_str(), a.calls), ("demo", 1));
        let first = a.first_call_at.unwrap();
        assert!(a.activation_delay_ms.unwrap() >= 0);
        let b = f.redirect("3423", "demo").unwrap();
        assert_eq!(
            (b.calls, b.first_call_at),
            (2, Some(first)),
            "first call kept"
        );
        f.activate("3422", "info", Mode::Continue, None, None, "ops");
        assert_eq!(
            f.redirect("3422", "demo").unwrap().prompt,
            "info",
            "the DID's override wins"
        );
        assert_eq!(f.deactivate("3422").unwrap().calls, 1);
        assert!(f.deactivate("3422").is_none());
        assert_eq!(f.list().len(), 1);
    }
}
