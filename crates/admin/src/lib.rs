//! The admin HTTP API (`/api/v1`, bearer token): health, file 0, flows,
//! prompts, queues and agents.
//! Every change is written to the audit log.

mod acd_routes;
pub mod audit;
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
}

/// Serve the API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AdminState>) {
    if let Err(e) = axum::serve(listener, router(state)).await {
        tracing::error!(error = %e, "admin API stopped");
    }
}
