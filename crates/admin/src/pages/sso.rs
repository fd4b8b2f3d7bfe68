//! Sign-in through the OpenID Connect provider: `/sso/login` sends the
//! browser there (state, nonce and PKCE kept server-side under a short-
//! lived cookie), `/sso/callback` finishes it. The role comes from the
//! provider's groups; when the role needs a second factor and the provider
//! asserts none, the local TOTP steps follow.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::{Session, Stage, Via};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{audit_anon, audit_session, render_status, session_cookie, source, stage_page};
use crate::principal::cookie;
use crate::AdminState;

const STATE_COOKIE: &str = "softswitch_sso";
/// A sign-in not finished within this is forgotten.
const PENDING_FOR: Duration = Duration::from_secs(600);

fn refused(code: StatusCode, text: &str) -> Response {
    render_status(
        code,
        "message.html",
        context! { heading => "Connexion refusée", text, link => "/login", link_label => "Retour à la connexion" },
    )
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

pub async fn start(
    State(st): State<Arc<AdminState>>,
    q: Result<Query<StartQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.ok();
    let Some(oidc) = st.security.oidc.get() else {
        return refused(
            StatusCode::NOT_FOUND,
            "Aucun fournisseur d'identité n'est configuré ([auth.oidc]).",
        );
    };
    let (url, pending) = oidc.start();
    let key = auth::token::random_b64(24);
    {
        let mut m = st.sso_pending.lock().expect("sso lock");
        m.retain(|_, (t, _)| t.elapsed() < PENDING_FOR);
        if m.len() > 10_000 {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Trop de connexions en cours : réessayez dans quelques minutes.",
            );
        }
        m.insert(key.clone(), (Instant::now(), pending));
    }
    let next = q.map(|Query(q)| q.next).unwrap_or_default();
    let secure = if st.security.tls { "; Secure" } else { "" };
    let value = format!(
        "{STATE_COOKIE}={key}.{}; Path=/sso; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
        super::urlencode(super::safe_next(&next))
    );
    let mut resp = Redirect::to(&url).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&value).expect("ascii cookie"),
    );
    resp
}

#[derive(Deserialize, Default)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(st): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    q: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.ok();
    let src = source(peer);
    let Some(oidc) = st.security.oidc.get() else {
        return refused(
            StatusCode::NOT_FOUND,
            "Aucun fournisseur d'identité n'est configuré.",
        );
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    if let Some(e) = &q.error {
        audit_anon(
            &st,
            src,
            "login.sso.failed",
            "-",
            json!({ "error": e, "description": q.error_description }),
        );
        return refused(
            StatusCode::UNAUTHORIZED,
            &format!("Le fournisseur d'identité a refusé : {e}."),
        );
    }
    let Some((key, next)) = cookie(&headers, STATE_COOKIE).and_then(|c| c.split_once('.')) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "Connexion expirée ou commencée ailleurs : recommencez.",
        );
    };
    let next = next.replace("%2F", "/");
    let pending = st
        .sso_pending
        .lock()
        .expect("sso lock")
        .remove(key)
        .map(|(_, p)| p);
    let (Some(pending), Some(code), Some(state)) = (pending, q.code, q.state) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "Connexion expirée ou commencée ailleurs : recommencez.",
        );
    };
    if !auth::token::constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
        audit_anon(
            &st,
            src,
            "login.sso.failed",
            "-",
            json!({ "error": "state mismatch" }),
        );
        return refused(
            StatusCode::BAD_REQUEST,
            "Réponse du fournisseur d'identité invalide (state) : recommencez.",
        );
    }
    let id = match oidc.finish(pending, &code).await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, %src, "SSO sign-in refused");
            audit_anon(
                &st,
                src,
                "login.sso.failed",
                "-",
                json!({ "error": e.to_string() }),
            );
            return refused(StatusCode::UNAUTHORIZED, &e.to_string());
        }
    };
    let account = match st.accounts.sso_account(
        &id.subject,
        &id.username,
        &id.name,
        id.role,
        id.queues.clone(),
        Utc::now(),
    ) {
        Ok(a) => a,
        Err(e) => {
            audit_anon(
                &st,
                src,
                "login.sso.failed",
                &id.username,
                json!({ "error": e.to_string() }),
            );
            return refused(StatusCode::FORBIDDEN, &e.to_string());
        }
    };
    // The provider's MFA counts; without it, a role that needs a second
    // factor goes through the local one.
    let stage = if id.mfa || !st.security.totp_roles.contains(&account.role) {
        Stage::Ready
    } else if account.totp.is_some() {
        Stage::Totp
    } else {
        Stage::EnrolTotp
    };
    let s = Session::new(&account, stage, Via::Sso, src, Utc::now());
    audit_session(
        &st,
        &s,
        "login.sso",
        &account.id,
        json!({ "subject": id.subject, "groups": id.groups, "provider_mfa": id.mfa, "next_step": format!("{stage:?}") }),
    );
    let cookie = st.sessions.open(s, Utc::now());
    let mut resp = stage_page(stage, &next).into_response();
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, session_cookie(&st, &cookie));
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("softswitch_sso=; Path=/sso; Max-Age=0"),
    );
    resp
}
