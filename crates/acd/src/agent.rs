//! Agent state: one call at a time, wrap-up, pauses, registration, and the
//! pause or logout asked for while busy.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use serde::Serialize;

use crate::event::{CallId, OfferId};
use crate::timers::TimerKey;

/// Pause reason after a ring timeout (ring, no answer: RONA).
pub const RONA: &str = "rona";
/// Pause reason after `OfferFailure::Unreachable`.
pub const UNREACHABLE: &str = "unreachable";

/// How many handled calls an agent may still qualify with `Disposition`.
pub(crate) const RECENT_CALLS: usize = 16;

/// The state of an agent, as shown in outputs and snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStateKind {
    /// Not working.
    LoggedOut,
    /// Waiting for a call (offered only when registered too).
    Available,
    /// Ringing: one offer.
    Reserved,
    /// On a call.
    OnCall,
    /// After a call, for the call's queue `wrap_up_s`.
    WrapUp,
    /// Paused, with a reason.
    Paused,
}

impl AgentStateKind {
    /// snake_case name, as in serialized snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStateKind::LoggedOut => "logged_out",
            AgentStateKind::Available => "available",
            AgentStateKind::Reserved => "reserved",
            AgentStateKind::OnCall => "on_call",
            AgentStateKind::WrapUp => "wrap_up",
            AgentStateKind::Paused => "paused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentState {
    LoggedOut,
    Available,
    Reserved {
        offer: OfferId,
        call: CallId,
    },
    OnCall {
        call: CallId,
    },
    WrapUp {
        until: Instant,
        timer: Option<TimerKey>,
    },
    Paused {
        reason: String,
    },
}

/// Asked for while busy, applied when the call (and wrap-up) is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    Pause(String),
    Logout,
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub id: String,
    pub skills: BTreeMap<String, u8>,
    /// Position in the current config.
    pub order: usize,
    /// Gone from the config: logged out as soon as it is not busy, then hidden.
    pub retired: bool,
    pub state: AgentState,
    pub registered: bool,
    /// Start of the current state; `None` until the router's first input.
    pub since: Option<Instant>,
    pub pending: Option<Pending>,
    /// Calls answered since login.
    pub answered: u64,
    /// Not offered before this (after declining).
    pub reject_until: Option<Instant>,
    pub reject_timer: Option<TimerKey>,
    /// (call, queue index) of recent answered calls, newest last.
    pub recent: VecDeque<(CallId, usize)>,
}

impl Agent {
    pub(crate) fn new(
        id: String,
        skills: BTreeMap<String, u8>,
        order: usize,
        logged_in: bool,
    ) -> Self {
        Agent {
            id,
            skills,
            order,
            retired: false,
            state: if logged_in {
                AgentState::Available
            } else {
                AgentState::LoggedOut
            },
            registered: false,
            since: None,
            pending: None,
            answered: 0,
            reject_until: None,
            reject_timer: None,
            recent: VecDeque::new(),
        }
    }

    pub(crate) fn kind(&self) -> AgentStateKind {
        match self.state {
            AgentState::LoggedOut => AgentStateKind::LoggedOut,
            AgentState::Available => AgentStateKind::Available,
            AgentState::Reserved { .. } => AgentStateKind::Reserved,
            AgentState::OnCall { .. } => AgentStateKind::OnCall,
            AgentState::WrapUp { .. } => AgentStateKind::WrapUp,
            AgentState::Paused { .. } => AgentStateKind::Paused,
        }
    }

    pub(crate) fn reason(&self) -> Option<&str> {
        match &self.state {
            AgentState::Paused { reason } => Some(reason),
            _ => None,
        }
    }

    pub(crate) fn logged_in(&self) -> bool {
        self.state != AgentState::LoggedOut
    }

    /// Reserved, on a call or in wrap-up: pause and logout wait.
    pub(crate) fn busy(&self) -> bool {
        matches!(
            self.state,
            AgentState::Reserved { .. } | AgentState::OnCall { .. } | AgentState::WrapUp { .. }
        )
    }

    /// Available and registered (reject delay aside): in the router's idle set.
    pub(crate) fn idle(&self) -> bool {
        self.state == AgentState::Available && self.registered
    }

    /// Can be offered a call now.
    pub(crate) fn offerable(&self, now: Instant) -> bool {
        self.idle() && self.reject_until.is_none_or(|t| t <= now)
    }

    /// Still known to the outside (not retired and gone).
    pub(crate) fn visible(&self) -> bool {
        !(self.retired && self.state == AgentState::LoggedOut)
    }

    /// The call the agent rings for or talks on.
    pub(crate) fn call(&self) -> Option<CallId> {
        match self.state {
            AgentState::Reserved { call, .. } | AgentState::OnCall { call } => Some(call),
            _ => None,
        }
    }

    pub(crate) fn remember_call(&mut self, call: CallId, queue: usize) {
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back((call, queue));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn offerable_needs_registration_availability_and_no_reject_delay() {
        let now = Instant::now();
        let mut a = Agent::new("a".into(), BTreeMap::new(), 0, true);
        assert!(!a.offerable(now), "not registered");
        a.registered = true;
        assert!(a.offerable(now));
        a.reject_until = Some(now + Duration::from_secs(5));
        assert!(!a.offerable(now));
        assert!(a.offerable(now + Duration::from_secs(5)));
        a.state = AgentState::Paused { reason: "x".into() };
        assert!(!a.idle());
        assert_eq!(a.reason(), Some("x"));
        assert_eq!(a.kind().as_str(), "paused");
    }

    #[test]
    fn retired_agents_vanish_once_logged_out() {
        let mut a = Agent::new("a".into(), BTreeMap::new(), 0, false);
        assert!(a.visible());
        a.retired = true;
        assert!(!a.visible());
        a.state = AgentState::OnCall { call: 1 };
        assert!(a.visible() && a.busy());
        assert_eq!(a.call(), Some(1));
    }
}
