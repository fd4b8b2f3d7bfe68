//! The admin listener: the HTTP(S) API under `/api/v1`, the console's
//! sign-in pages, and `/metrics`. Every request is tied to an account (a
//! session, an API token, or the bootstrap token from loopback); every
//! route needs a permission its role has (one table, `access.rs`); every
//! change and every read of personal data goes to the audit log under the
//! authenticated account.
#![warn(missing_docs)]
// Helpers return the HTTP answer to send as their error (`Result<_,
// Response>`): a response is large, but it is made once per request on the
// failing path, where boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod access;
mod accounts_routes;
mod acd_routes;
mod audit_routes;
mod cdr_routes;
mod file0_routes;
mod flow_edit;
mod flow_routes;
mod headers;
pub mod live;
mod metrics;
mod openapi;
mod pages;
mod principal;
mod prompt_routes;
mod recording_routes;
mod routes;
pub mod strategy;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use auth::{AccountStore, Audit, Logins, Role, Sessions};
use call::CallRegistry;
use ivr::{File0, FlowScript, PromptStore};

pub use openapi::build as openapi_document;
pub use routes::router;

/// Reload the flows from disk: the flow names, or the `file:line` errors.
pub type ReloadFn = dyn Fn() -> Result<Vec<String>, Vec<String>> + Send + Sync;
/// Checks a flow file's text (its path, its text) against the running
/// configuration.
pub type CheckFlowFn =
    dyn Fn(&std::path::Path, &str) -> Result<ivr::Flow, Vec<ivr::FlowError>> + Send + Sync;

/// How the listener authenticates.
pub struct Security {
    /// Served over HTTPS (cookies are `Secure`, HSTS is sent).
    pub tls: bool,
    /// The `[admin] token` of the configuration: admin rights, from
    /// loopback addresses only.
    pub bootstrap_token: Option<String>,
    /// `/metrics` needs `Authorization: Bearer` this, when set.
    pub metrics_token: Option<String>,
    /// Roles that must use a second factor.
    pub totp_roles: Vec<Role>,
    /// Sign-in through an OpenID Connect provider, once its discovery
    /// document has been read (retried in the background until then).
    pub oidc: std::sync::OnceLock<auth::oidc::Oidc>,
}

/// What the API works on.
pub struct AdminState {
    /// The file 0 overrides in force, by target.
    pub file0: Arc<File0>,
    /// Calls in progress.
    pub calls: CallRegistry,
    /// The audit log every change and read of personal data goes to.
    pub audit: Audit,
    /// Reloads the flows from disk (see [`ReloadFn`]).
    pub reload: Box<ReloadFn>,
    /// Checks an edited flow file (its path, its text) against the
    /// prompts, queues and trunks of the running configuration.
    pub check_flow: Box<CheckFlowFn>,
    /// Each trunk DID and the flow it leads to.
    pub did_flows: Vec<(String, String)>,
    /// Where the console keeps a flow file's text before replacing it
    /// (`var/flows`).
    pub flows_backup: std::path::PathBuf,
    /// Crisis strategies prepared in the configuration.
    pub strategies: strategy::Strategies,
    /// The flow versions (reload adds one, rollback picks one).
    pub script: Arc<FlowScript>,
    /// Shipped and uploaded prompts.
    pub prompts: Arc<PromptStore>,
    /// Queues and agents.
    pub acd: call::acd::Acd,
    /// Every DID of every trunk (file 0 targets are DIDs or flow names).
    pub dids: Vec<String>,
    /// The CDR journal (`var/cdr`).
    pub cdr_dir: std::path::PathBuf,
    /// Call recordings (`var/recordings`).
    pub recordings: std::path::PathBuf,
    /// Counters and the rolling window from finished records.
    pub live: Arc<sla::live::LiveStats>,
    /// Media engine counters, for `/metrics`.
    pub media: Arc<media::stats::MediaStats>,
    /// SIP transport counters.
    pub sip: Arc<sip::endpoint::EndpointStats>,
    /// The SIP flood guard: its backlog and refusals.
    pub sip_guard: Arc<sip::guard::Guard>,
    /// SIP digest authentication: failures, refusals, locks.
    pub sip_auth: Arc<sip::auth::AuthStats>,
    /// The HTTP push to the SLA engine, when configured.
    pub push: Option<cdr::push::PushHandle>,
    /// Accounts and API tokens.
    pub accounts: Arc<AccountStore>,
    /// Browser sessions.
    pub sessions: Sessions,
    /// Failure limits of logins and second factors.
    pub logins: Logins,
    /// SSO sign-ins under way, by the key of their state cookie.
    pub sso_pending: Mutex<HashMap<String, (Instant, auth::oidc::Pending)>>,
    /// How the listener authenticates.
    pub security: Security,
    /// Today's records and figures (fed by the CDR journal).
    pub today: Arc<sla::today::Today>,
    /// The live picture the consoles stream.
    pub board: live::Board,
    /// Local time of pages and exports (`[sla] timezone`).
    pub timezone: chrono_tz::Tz,
}

/// Serve on `listener` (HTTPS when `tls` is given) until the process ends.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    state: Arc<AdminState>,
) {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        Some(cfg) => match axum_server::from_tcp_rustls(listener, cfg) {
            Ok(s) => s.serve(app).await,
            Err(e) => Err(e),
        },
        None => match axum_server::from_tcp(listener) {
            Ok(s) => s.serve(app).await,
            Err(e) => Err(e),
        },
    };
    if let Err(e) = served {
        tracing::error!(error = %e, "admin listener stopped");
    }
}
