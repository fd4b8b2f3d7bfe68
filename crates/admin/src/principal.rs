//! Who is asking: the account behind a request, proven by an API token
//! (`Authorization: Bearer`), a browser session cookie (with its CSRF token
//! on every change), or the bootstrap token from a loopback address. The
//! middleware puts a [`Principal`] in the request; handlers audit with it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use auth::{Perm, Role, Scope, Sessions, Stage};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use serde_json::Value;

use crate::routes::error;
use crate::AdminState;

/// The name the shipped bootstrap token acts under in the audit log.
pub const BOOTSTRAP: &str = "bootstrap-token";

/// How the request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A browser session.
    Session,
    /// An API token, by id.
    Token(String),
    /// The `[admin] token` of the configuration, from loopback.
    Bootstrap,
}

/// The authenticated account of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: String,
    pub role: Role,
    pub queues: Scope,
    /// Recordings granted (client role).
    pub recordings: bool,
    /// The ACD agent of an agent account.
    pub agent: Option<String>,
    pub source: IpAddr,
    pub proof: Proof,
}

impl Principal {
    pub fn allows(&self, perm: Perm) -> bool {
        self.role.allows(perm, self.recordings)
    }

    /// Write an audit line for this account.
    pub fn audit(&self, st: &AdminState, action: &str, target: &str, mut details: Value) {
        if let Proof::Token(id) = &self.proof {
            if let Value::Object(m) = &mut details {
                m.insert("token".into(), Value::String(id.clone()));
            }
        }
        st.audit.record(auth::Entry {
            account: self.account.clone(),
            role: self.role.as_str().into(),
            source: self.source.to_string(),
            action: action.into(),
            target: target.into(),
            details,
        });
    }

    /// The principal of a signed-in browser session (the console's pages).
    pub fn from_session(s: &auth::Session) -> Principal {
        Principal {
            account: s.account.clone(),
            role: s.role,
            queues: s.queues.clone(),
            recordings: s.recordings,
            agent: s.agent.clone(),
            source: s.source,
            proof: Proof::Session,
        }
    }

    /// Does this account see `queue` (its scope)?
    pub fn sees(&self, queue: Option<&str>) -> bool {
        self.queues.sees(queue)
    }
}

/// The session cookie's name: `__Host-` bound (Secure, whole host) over TLS.
pub fn cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-softswitch"
    } else {
        "softswitch"
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Methods that change something (CSRF applies).
pub fn is_change(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolve the request's principal, or the 401 to answer.
pub fn resolve(
    st: &AdminState,
    headers: &HeaderMap,
    method: &Method,
    peer: SocketAddr,
) -> Result<Principal, Response> {
    let source = peer.ip();
    let now = Utc::now();
    if let Some(given) = bearer(headers) {
        if let Some(boot) = &st.security.bootstrap_token {
            if auth::token::constant_time_eq(given.as_bytes(), boot.as_bytes()) {
                if !source.is_loopback() {
                    tracing::warn!(%source, "bootstrap token used from a non-loopback address: refused");
                    return Err(error(StatusCode::UNAUTHORIZED, "the bootstrap token works from this machine only: use a personal API token"));
                }
                return Ok(Principal {
                    account: BOOTSTRAP.into(),
                    role: Role::Admin,
                    queues: Scope::all(),
                    recordings: true,
                    agent: None,
                    source,
                    proof: Proof::Bootstrap,
                });
            }
        }
        return match st.accounts.token_check(given, now) {
            Some((t, a)) => Ok(Principal {
                account: a.id.clone(),
                role: t.role,
                queues: t.queues,
                recordings: a.recordings,
                agent: (t.role == Role::Agent).then(|| a.agent_id().to_string()),
                source,
                proof: Proof::Token(t.id),
            }),
            None => {
                tracing::info!(%source, "API request with an unknown, expired or revoked token");
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "unknown, expired or revoked token",
                ))
            }
        };
    }
    if let Some(c) = cookie(headers, cookie_name(st.security.tls)) {
        if let Some(s) = st.sessions.get(c, now) {
            if s.stage != Stage::Ready {
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    "finish signing in at /login first",
                ));
            }
            if is_change(method) {
                let given = headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !Sessions::csrf_ok(&s, given) {
                    return Err(error(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token header (the console sends it; reload the page)"));
                }
            }
            return Ok(Principal {
                account: s.account,
                role: s.role,
                queues: s.queues,
                recordings: s.recordings,
                agent: s.agent,
                source,
                proof: Proof::Session,
            });
        }
    }
    Err(error(
        StatusCode::UNAUTHORIZED,
        "missing credentials: `Authorization: Bearer TOKEN` (an API token), or sign in at /login",
    ))
}

/// Middleware: authenticate every API request.
pub async fn authenticate(
    State(st): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    match resolve(&st, req.headers(), req.method(), peer) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(r) => r,
    }
}
