//! Skills-based ACD router for softswitch, sans-IO.
//!
//! [`Router`] holds queues, agents and waiting calls. The edge (SIP, timers,
//! HTTP) feeds it [`Input`]s with the current instant, drains [`Output`]s
//! with [`Router::poll`], and calls back with [`Input::Timeout`] at
//! [`Router::poll_timeout`]. It never reads the clock and holds no lock, so
//! tests run hours of contact-centre time in milliseconds.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use acd::{AcdConfig, AgentConfig, Input, Output, QueueConfig, Router, SkillReq};
//!
//! let mut general = QueueConfig::new("general");
//! general.skills = vec![SkillReq::new("general", 1)];
//! let cfg = AcdConfig {
//!     queues: vec![general],
//!     agents: vec![AgentConfig::new("alice", [("general", 5)])],
//! };
//! let mut router = Router::new(cfg).unwrap();
//! let t0 = Instant::now();
//! router.handle(t0, Input::Registered { agent: "alice".into() });
//! router.handle(t0, Input::Enqueue {
//!     call: 1, queue: "general".into(), priority: 0, boost_s: 0, skills: Default::default(),
//! });
//! let offer = std::iter::from_fn(|| router.poll())
//!     .find_map(|o| match o { Output::Offer { offer, .. } => Some(offer), _ => None })
//!     .unwrap();
//! // The edge rings alice; she answers two seconds later.
//! router.handle(t0 + Duration::from_secs(2), Input::OfferAnswered { offer });
//! assert!(std::iter::from_fn(|| router.poll())
//!     .any(|o| matches!(o, Output::Connected { call: 1, .. })));
//! ```
//!
//! Routing rules, in short:
//! - A call's place: absolute priority, then effective wait (wait plus its
//!   `boost_s`), then arrival order. A failed offer puts it back at that place.
//! - A free agent takes the best call, across all queues, that it has the
//!   skills for; a new call goes to the agent its queue's [`Strategy`] picks.
//! - An agent is offered calls only when logged in, registered, available and
//!   not in reject delay; one call at a time; wrap-up is the handled queue's.
//! - Nobody is dropped for queue length or wait unless `max_wait` says so.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
pub mod config;
mod event;
mod queue;
mod router;
mod skills;
mod snapshot;
mod strategy;
mod timers;

#[cfg(test)]
mod tests;

pub use agent::{AgentStateKind, RONA, UNREACHABLE};
pub use config::{
    AcdConfig, AgentConfig, ConfigError, MaxWait, Overflow, QueueConfig, SkillReq, Strategy, Widen,
};
pub use event::{
    CallId, Input, InputError, LeaveReason, OfferFailure, OfferId, Output, RequeueReason,
};
pub use router::Router;
pub use snapshot::{AgentCounts, AgentView, Position, QueueSnapshot, Snapshot};
