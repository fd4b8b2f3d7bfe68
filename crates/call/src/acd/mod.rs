//! The ACD's tokio side: the handles flows and the admin API hold (`Acd`,
//! `Waiting`), the edge task around `acd::Router` that carries out its
//! decisions, agents' transfers and supervisors' silent monitoring.

mod edge;
mod handle;
mod messages;
mod monitor;
mod transfer;

pub use handle::{Acd, Waiting};
pub use messages::{
    AgentAction, AgentActionError, MonitorError, Notice, QueueRequest, ReconfigureError,
};
pub use monitor::MonitorTarget;
