//! The admin HTTP API (`/api/v1`, bearer token): health, file 0, flows,
//! prompts, queues and agents, call records and recordings; and `/metrics`.
//! Every change is written to the audit log.

mod acd_routes;
pub mod audit;
mod cdr_routes;
mod metrics;
mod recording_routes;
mod routes;

use std::sync::Arc;

use call::CallRegistry;
use ivr::{File0, FlowScript, PromptStore};

pub use audit::Audit;
pub use routes::router;

/// Reload the flows from disk: the flow names, or the `file:line` errors.
pub type ReloadFn = dyn Fn() -> Result<Vec<String>, Vec<String>> + Send + Sync;

/// What the API works on.
pub struct AdminState {
    pub token: String,
    pub file0: Arc<File0>,
    pub calls: CallRegistry,
    pub audit: Audit,
    pub reload: Box<ReloadFn>,
    /// The flow versions (reload adds one, rollback picks one).
    pub script: Arc<FlowScript>,
    /// Shipped and uploaded prompts.
    pub prompts: Arc<PromptStore>,
    /// Queues and agents.
    pub acd: call::queueing::Acd,
    /// Every DID of every trunk (file 0 targets are DIDs or flow names).
    pub dids: Vec<String>,
    /// The CDR journal (`var/cdr`).
    pub cdr_dir: std::path::PathBuf,
    /// Call recordings (`var/recordings`).
    pub recordings: std::path::PathBuf,
    /// Counters and the rolling window from finished records.
    pub live: Arc<cdr::live::LiveStats>,
    pub media: Arc<media::stats::MediaStats>,
    /// SIP transport counters.
    pub sip: Arc<sip::endpoint::EndpointStats>,
    /// The SIP flood guard: its backlog and refusals.
    pub sip_guard: Arc<sip::guard::Guard>,
    /// The HTTP push to the SLA engine, when configured.
    pub push: Option<cdr::push::PushHandle>,
}

/// Serve the API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AdminState>) {
    if let Err(e) = axum::serve(listener, router(state)).await {
        tracing::error!(error = %e, "admin API stopped");
    }
}
