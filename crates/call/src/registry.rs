//! The one call registry: every live call by SIP Call-ID, with the channel
//! its task listens on.

use std::sync::Arc;

use dashmap::DashMap;
use sip::TxEvent;
use tokio::sync::mpsc;

/// Input to a call's task. It travels boxed ([`Inputs`]), so its size
/// costs nothing in the channel.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CallInput {
    Sip(TxEvent),
    /// End the call from our side (shutdown, operator action).
    Hangup(&'static str),
}

/// Where a call's inputs go. Boxed: tokio allocates an unbounded
/// channel's first 32 slots when it is created, and a SIP event is over
/// 400 bytes, so an unboxed channel cost every call 13 KB before its first
/// message (a third of an IVR call's memory). An allocation per input
/// (a handful per call) is the lesser cost.
pub type Inputs = mpsc::UnboundedSender<Box<CallInput>>;

/// A live call as the registry sees it.
#[derive(Debug, Clone)]
pub struct CallEntry {
    pub record_id: String,
    pub trunk: String,
    pub input: Inputs,
}

/// Live calls; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CallRegistry {
    calls: Arc<DashMap<String, CallEntry>>,
}

impl CallRegistry {
    /// Register a call; false if that Call-ID is already live.
    pub fn insert(&self, sip_call_id: &str, entry: CallEntry) -> bool {
        use dashmap::mapref::entry::Entry;
        match self.calls.entry(sip_call_id.to_string()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(entry);
                true
            }
        }
    }

    /// Forget a call (its task is over).
    pub fn remove(&self, sip_call_id: &str) {
        self.calls.remove(sip_call_id);
    }

    /// Deliver to a call's task; false when no such call.
    pub fn send(&self, sip_call_id: &str, input: CallInput) -> bool {
        match self.calls.get(sip_call_id) {
            Some(e) => e.input.send(Box::new(input)).is_ok(),
            None => false,
        }
    }

    /// Whether a call with this Call-ID is live.
    pub fn contains(&self, sip_call_id: &str) -> bool {
        self.calls.contains_key(sip_call_id)
    }

    /// Number of live calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// No call is live.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Ask every call to end.
    pub fn hangup_all(&self, reason: &'static str) {
        for e in self.calls.iter() {
            let _ = e.input.send(Box::new(CallInput::Hangup(reason)));
        }
    }
}
