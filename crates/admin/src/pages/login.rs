//! Sign-in: the password form (one message for an unknown account and a
//! wrong password, limits after failures), the second-factor form, and
//! sign-out. Each outcome goes to the audit log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use auth::{next_stage, AuthError, Session, Sessions, Stage, Via};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{
    audit_anon, audit_session, render, render_status, safe_next, session, session_cookie, source,
    stage_page,
};
use crate::AdminState;

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn form(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.ok();
    let next = q.map(|Query(q)| q.next).unwrap_or_default();
    if let Some((_, s)) = session(&st, &headers) {
        return stage_page(s.stage, &next).into_response();
    }
    login_page(&st, StatusCode::OK, &next, "", None)
}

fn login_page(
    st: &AdminState,
    code: StatusCode,
    next: &str,
    account: &str,
    error: Option<String>,
) -> Response {
    let sso = st.security.oidc.get().map(|o| o.config().label.clone());
    render_status(
        code,
        "login.html",
        context! { next => next, account => account, error => error, sso_label => sso },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    account: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    State(st): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    let Some(Form(f)) = form else {
        return login_page(
            &st,
            StatusCode::BAD_REQUEST,
            "",
            "",
            Some("Formulaire incomplet : identifiant et mot de passe.".into()),
        );
    };
    if !super::same_origin(&headers) {
        return login_page(
            &st,
            StatusCode::FORBIDDEN,
            &f.next,
            "",
            Some("Formulaire envoyé depuis un autre site : refusé.".into()),
        );
    }
    let src = source(peer);
    let id = f.account.trim().to_lowercase();
    let (store, pw, i) = (st.accounts.clone(), f.password.clone(), id.clone());
    let st2 = st.clone();
    // argon2 takes tens of milliseconds: off the async workers.
    let result = tokio::task::spawn_blocking(move || {
        st2.logins
            .password(&store, &i, &pw, src, Instant::now(), Utc::now())
    })
    .await;
    let account = match result {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            audit_anon(
                &st,
                src,
                "login.failed",
                &id,
                json!({ "reason": e.to_string() }),
            );
            let (code, msg) = match &e {
                AuthError::Throttled(d) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Trop d'échecs : réessayez dans {} s.", d.as_secs()),
                ),
                AuthError::Locked(d) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Trop d'échecs : connexion bloquée pendant {} min.",
                        d.as_secs().div_ceil(60)
                    ),
                ),
                AuthError::Disabled(_) => (
                    StatusCode::FORBIDDEN,
                    "Ce compte est désactivé : contactez un administrateur.".to_string(),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    "Identifiant ou mot de passe incorrect.".to_string(),
                ),
            };
            return login_page(&st, code, &f.next, &f.account, Some(msg));
        }
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let stage = next_stage(&account, &st.security.totp_roles);
    let s = Session::new(&account, stage, Via::Password, src, Utc::now());
    audit_session(
        &st,
        &s,
        "login.password",
        &account.id,
        json!({ "next_step": format!("{stage:?}") }),
    );
    let cookie = st.sessions.open(s, Utc::now());
    let mut resp = stage_page(stage, &f.next).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&st, &cookie));
    resp
}

pub async fn totp_form(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    match session(&st, &headers) {
        Some((_, s)) if s.stage == Stage::Totp => render("totp.html", context! { csrf => s.csrf }),
        Some((_, s)) => stage_page(s.stage, "/").into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    csrf: String,
}

pub async fn totp_submit(
    State(st): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    let Some((cookie, s)) = session(&st, &headers).filter(|(_, s)| s.stage == Stage::Totp) else {
        return Redirect::to("/login").into_response();
    };
    let Some(Form(f)) = form.filter(|Form(f)| Sessions::csrf_ok(&s, &f.csrf)) else {
        return render_status(
            StatusCode::FORBIDDEN,
            "totp.html",
            context! { csrf => s.csrf, error => "Formulaire expiré : recommencez." },
        );
    };
    let src = source(peer);
    let (store, id, code) = (st.accounts.clone(), s.account.clone(), f.code.clone());
    let st2 = st.clone();
    let result = tokio::task::spawn_blocking(move || {
        st2.logins
            .second_factor(&store, &id, &code, src, Instant::now(), Utc::now())
    })
    .await;
    match result {
        Ok(Ok(recovery)) => {
            audit_session(
                &st,
                &s,
                "login.totp",
                &s.account,
                json!({ "recovery_code": recovery }),
            );
            let Some(fresh) = st.sessions.advance(&cookie, Stage::Ready, Utc::now()) else {
                return Redirect::to("/login").into_response();
            };
            let mut resp = Redirect::to("/").into_response();
            resp.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&st, &fresh));
            resp
        }
        Ok(Err(e)) => {
            audit_session(
                &st,
                &s,
                "login.totp.failed",
                &s.account,
                json!({ "reason": e.to_string() }),
            );
            let msg = match &e {
                AuthError::Throttled(d) => {
                    format!("Trop d'échecs : réessayez dans {} s.", d.as_secs())
                }
                AuthError::Locked(d) => format!(
                    "Trop d'échecs : bloqué pendant {} min.",
                    d.as_secs().div_ceil(60)
                ),
                _ => "Code incorrect ou déjà utilisé.".to_string(),
            };
            render_status(
                StatusCode::UNAUTHORIZED,
                "totp.html",
                context! { csrf => s.csrf, error => msg },
            )
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    if let Some((cookie, s)) = session(&st, &headers) {
        if form.is_some_and(|Form(f)| Sessions::csrf_ok(&s, &f.csrf)) {
            st.sessions.close(&cookie);
            audit_session(&st, &s, "logout", &s.account, json!({}));
        } else {
            return (
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page",
            )
                .into_response();
        }
    }
    let mut resp = Redirect::to(safe_next("/login")).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&st, ""));
    resp
}
