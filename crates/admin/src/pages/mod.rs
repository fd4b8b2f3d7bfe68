//! The console's server-rendered pages (French): sign-in with password,
//! second factor and SSO, the forced password change, TOTP enrolment, and
//! the account page with its API tokens. Templates are built into the
//! binary; the stylesheet is served from `/static`. No inline script:
//! the Content-Security-Policy forbids it.

mod account;
mod audit;
mod calls;
mod chart;
mod console;
mod dates;
mod file0;
mod flows;
mod login;
mod messages;
mod recordings;
pub(crate) mod reports;
mod sso;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use auth::{Session, Stage};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use minijinja::{context, Environment, Value};

pub(crate) use calls::xlsx_response;

use crate::principal::{cookie, cookie_name};
use crate::AdminState;

/// The pages' routes (outside `/api/v1`).
pub fn router() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/", get(console::wallboard))
        .route("/agents", get(console::agents))
        .route("/file0", get(file0::page))
        .route("/audit", get(audit::page))
        .route("/calls", get(calls::page))
        .route("/reports", get(reports::page))
        .route("/recordings", get(recordings::page))
        .route("/messages", get(messages::page))
        .route("/calls/{record_id}", get(calls::timeline))
        .route("/flows", get(flows::page))
        .route("/flows/diff", get(flows::diff))
        .route(
            "/flows/edit/{name}",
            get(flows::edit).post(flows::edit_post),
        )
        .route("/flows/act/{action}", post(flows::act))
        .route("/file0/confirm", post(file0::confirm))
        .route("/file0/strategy/{step}", post(file0::strategy))
        .route("/file0/apply", post(file0::apply))
        .route("/file0/off", post(file0::off_confirm))
        .route("/file0/off/apply", post(file0::off_apply))
        .route(
            "/static/console.js",
            get(|| script(include_str!("../../static/console.js"))),
        )
        .route(
            "/static/wallboard.js",
            get(|| script(include_str!("../../static/wallboard.js"))),
        )
        .route(
            "/static/agents.js",
            get(|| script(include_str!("../../static/agents.js"))),
        )
        .route(
            "/static/messages.js",
            get(|| script(include_str!("../../static/messages.js"))),
        )
        .route("/login", get(login::form).post(login::submit))
        .route(
            "/login/totp",
            get(login::totp_form).post(login::totp_submit),
        )
        .route("/logout", post(login::logout))
        .route("/account", get(account::page))
        .route(
            "/account/password",
            get(account::password_form).post(account::password_submit),
        )
        .route(
            "/account/totp",
            get(account::enrol_form).post(account::enrol_submit),
        )
        .route("/account/tokens", post(account::token_create))
        .route("/account/tokens/{id}/revoke", post(account::token_revoke))
        .route("/sso/login", get(sso::start))
        .route("/sso/callback", get(sso::callback))
        .route("/static/console.css", get(stylesheet))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/console.css"),
    )
        .into_response()
}

async fn script(text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_str!("../../static/favicon.svg"),
    )
        .into_response()
}

/// Every page template, built into the binary.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "login.html",
    "totp.html",
    "enrol.html",
    "password.html",
    "account.html",
    "message.html",
    "wallboard.html",
    "agents.html",
    "file0.html",
    "file0_confirm.html",
    "audit.html",
    "calls.html",
    "call.html",
    "reports.html",
    "recordings.html",
    "flows.html",
    "flow_edit.html",
    "flow_diff.html",
    "strategy_confirm.html",
    "messages.html",
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        for (name, text) in TEMPLATES {
            e.add_template(name, text)
                .expect("templates are checked by the tests");
        }
        e
    })
}

/// Render a page; a template error is a 500 with the error logged.
pub(crate) fn render(name: &str, ctx: Value) -> Response {
    render_status(StatusCode::OK, name, ctx)
}

pub(crate) fn render_status(code: StatusCode, name: &str, ctx: Value) -> Response {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (code, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "page rendering failed (see the log)",
            )
                .into_response()
        }
    }
}

/// The console's pages, in the order of the menu: path, label, and the
/// permission a role needs to see it.
const MENU: &[(&str, &str, auth::Perm)] = &[
    ("/", "Tableau de bord", auth::Perm::Live),
    ("/agents", "Agents", auth::Perm::Agents),
    ("/file0", "File 0", auth::Perm::File0Read),
    ("/flows", "Parcours", auth::Perm::FlowsRead),
    ("/calls", "Appels", auth::Perm::CallRecords),
    ("/recordings", "Enregistrements", auth::Perm::Recordings),
    ("/messages", "Messages", auth::Perm::FlowsRead),
    ("/reports", "Rapports SLA", auth::Perm::Reports),
    ("/audit", "Journal d'audit", auth::Perm::Audit),
    ("/account", "Mon compte", auth::Perm::Any),
];

/// What the header of a signed-in page shows: who, and the menu of what
/// the role may open.
/// A posted form with the session's CSRF token.
pub(crate) trait Posted {
    fn csrf(&self) -> &str;
}

/// The form when it carries the session's CSRF token; else the status and
/// the French reason to show: an expired form, or one that did not parse
/// (`incomplete`; without it, that counts as expired too).
pub(crate) fn checked<F: Posted>(
    s: &Session,
    form: Result<axum::Form<F>, axum::extract::rejection::FormRejection>,
    incomplete: Option<&'static str>,
) -> Result<F, (StatusCode, &'static str)> {
    const EXPIRED: (StatusCode, &str) = (StatusCode::FORBIDDEN, "Formulaire expiré : recommencez.");
    match (form, incomplete) {
        (Ok(axum::Form(f)), _) if auth::Sessions::csrf_ok(s, f.csrf()) => Ok(f),
        (Err(_), Some(why)) => Err((StatusCode::BAD_REQUEST, why)),
        _ => Err(EXPIRED),
    }
}

pub(crate) fn who(s: &Session) -> Value {
    let menu: Vec<Value> = MENU
        .iter()
        .filter(|(_, _, perm)| s.role.allows(*perm, s.recordings))
        .map(|(href, label, _)| context! { href, label })
        .collect();
    context! {
        account => s.account,
        name => s.name,
        role => s.role.as_str(),
        role_label => s.role.label_fr(),
        queues => s.queues.0,
        menu,
    }
}

/// The ready session of a page whose permission is `perm`, as a principal;
/// else the sign-in redirect or a 403 page.
pub(crate) fn allowed(
    st: &AdminState,
    headers: &HeaderMap,
    here: &str,
    perm: auth::Perm,
) -> Result<(Session, crate::principal::Principal), Response> {
    let (_, s) = ready(st, headers, here)?;
    if !s.role.allows(perm, s.recordings) {
        return Err(render_status(
            StatusCode::FORBIDDEN,
            "message.html",
            context! {
                who => who(&s), csrf => s.csrf,
                heading => "Accès refusé",
                text => format!("Le rôle {} ne donne pas accès à cette page.", s.role.label_fr()),
                link => "/", link_label => "Retour au tableau de bord",
            },
        ));
    }
    let p = crate::principal::Principal::from_session(&s);
    Ok((s, p))
}

/// The `Set-Cookie` value of a session cookie (empty value: clear it).
pub(crate) fn session_cookie(st: &AdminState, value: &str) -> HeaderValue {
    let name = cookie_name(st.security.tls);
    let secure = if st.security.tls { "; Secure" } else { "" };
    let age = if value.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"
    ))
    .expect("cookie values are base64url")
}

/// The session of a page request, with its cookie value.
pub(crate) fn session(st: &AdminState, headers: &HeaderMap) -> Option<(String, Session)> {
    let c = cookie(headers, cookie_name(st.security.tls))?;
    let s = st.sessions.get(c, Utc::now())?;
    Some((c.to_string(), s))
}

/// Where a session at `stage` goes.
pub(crate) fn stage_page(stage: Stage, next: &str) -> Redirect {
    match stage {
        Stage::ChangePassword => Redirect::to("/account/password"),
        Stage::EnrolTotp => Redirect::to("/account/totp"),
        Stage::Totp => Redirect::to("/login/totp"),
        Stage::Ready => Redirect::to(safe_next(next)),
    }
}

/// Only local paths are followed after sign-in (no open redirect).
pub(crate) fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

/// The signed-in (ready) session of a page, or the redirect to where its
/// sign-in stands.
pub(crate) fn ready(
    st: &AdminState,
    headers: &HeaderMap,
    here: &str,
) -> Result<(String, Session), Response> {
    match session(st, headers) {
        Some((c, s)) if s.stage == Stage::Ready => Ok((c, s)),
        Some((_, s)) => Err(stage_page(s.stage, here).into_response()),
        None => Err(Redirect::to(&format!("/login?next={}", urlencode(here))).into_response()),
    }
}

/// A form posted from another site is refused (with SameSite cookies and
/// CSRF tokens, a third lock).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin.split_once("://").map(|(_, h)| h) == Some(host)
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The client's address.
pub(crate) fn source(peer: SocketAddr) -> IpAddr {
    peer.ip()
}

/// An audit line for a request with no account yet (sign-in).
pub(crate) fn audit_anon(
    st: &AdminState,
    source: IpAddr,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    st.audit.record(auth::Entry {
        account: "-".into(),
        role: "-".into(),
        source: source.to_string(),
        action: action.into(),
        target: target.into(),
        details,
    });
}

/// An audit line for a session's account.
pub(crate) fn audit_session(
    st: &AdminState,
    s: &Session,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    st.audit.record(auth::Entry {
        account: s.account.clone(),
        role: s.role.as_str().into(),
        source: s.source.to_string(),
        action: action.into(),
        target: target.into(),
        details,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_next_is_local() {
        for (name, _) in TEMPLATES {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
        assert_eq!(safe_next("/account"), "/account");
        assert_eq!(safe_next("//evil.example/x"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(urlencode("/a b?c"), "/a%20b%3Fc");
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;

    #[test]
    fn the_audit_page_renders() {
        let html = env()
            .get_template("audit.html")
            .and_then(|t| {
                t.render(context! {
                    who => context! { account => "a", role_label => "x", menu => Vec::<Value>::new() }, csrf => "c", page => "/audit", wide => true,
                    f => context! { from => "", to => "", account => "", action => "", target => "" },
                    lines => vec![context! { seq => 1, at => "x", account => "a", role => "r", source => "s", action => "a", target => "t", details => "{}" }],
                    total => 1, verified => Value::from(()), query => "from=",
                })
            });
        assert!(html.is_ok(), "{html:?}");
    }
}
