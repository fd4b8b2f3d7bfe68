//! The account pages: the forced or chosen password change, TOTP
//! enrolment with its QR code and recovery codes, and "Mon compte" with
//! the account's API tokens (made and revoked here, the secret shown once).

use std::sync::Arc;

use auth::{next_stage, AuthError, Sessions, Stage};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use minijinja::{context, Value};
use serde::Deserialize;
use serde_json::json;

use super::{
    audit_session, ready, render, render_status, session, session_cookie, stage_page, who,
};
use crate::AdminState;

fn min_lengths(st: &AdminState) -> (usize, usize) {
    let m = st.accounts.min_password_length.max(12);
    (m, m.max(14))
}

pub async fn password_form(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let Some((_, s)) = session(&st, &headers)
        .filter(|(_, s)| matches!(s.stage, Stage::ChangePassword | Stage::Ready))
    else {
        return Redirect::to("/login?next=/account/password").into_response();
    };
    let (min, min14) = min_lengths(&st);
    let w = (s.stage == Stage::Ready).then(|| who(&s));
    render(
        "password.html",
        context! { csrf => s.csrf, forced => s.stage == Stage::ChangePassword, min, min14, who => w, page => "/account" },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    old: String,
    new: String,
    again: String,
    #[serde(default)]
    csrf: String,
}

pub async fn password_submit(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    let Some((cookie, s)) = session(&st, &headers)
        .filter(|(_, s)| matches!(s.stage, Stage::ChangePassword | Stage::Ready))
    else {
        return Redirect::to("/login").into_response();
    };
    let (min, min14) = min_lengths(&st);
    let forced = s.stage == Stage::ChangePassword;
    let w = (!forced).then(|| who(&s));
    let again = |code: StatusCode, msg: String| {
        render_status(
            code,
            "password.html",
            context! { csrf => s.csrf.clone(), forced, min, min14, error => msg, who => w.clone(), page => "/account" },
        )
    };
    let Some(Form(f)) = form.filter(|Form(f)| Sessions::csrf_ok(&s, &f.csrf)) else {
        return again(
            StatusCode::FORBIDDEN,
            "Formulaire expiré : recommencez.".into(),
        );
    };
    if f.new != f.again {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Les deux saisies du nouveau mot de passe diffèrent.".into(),
        );
    }
    let (store, id) = (st.accounts.clone(), s.account.clone());
    let done =
        tokio::task::spawn_blocking(move || store.change_password(&id, &f.old, &f.new, Utc::now()))
            .await;
    match done {
        Ok(Ok(())) => {
            audit_session(
                &st,
                &s,
                "account.password",
                &s.account,
                json!({ "forced": forced }),
            );
            let stage = match st.accounts.get(&s.account) {
                Some(a) if forced => match next_stage(&a, &st.security.totp_roles) {
                    // The password was just proven: a code is still due if enrolled.
                    Stage::ChangePassword => Stage::Ready,
                    other => other,
                },
                _ => Stage::Ready,
            };
            let Some(fresh) = st.sessions.advance(&cookie, stage, Utc::now()) else {
                return Redirect::to("/login").into_response();
            };
            let mut resp = stage_page(stage, "/account").into_response();
            resp.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&st, &fresh));
            resp
        }
        Ok(Err(e)) => {
            audit_session(
                &st,
                &s,
                "account.password.refused",
                &s.account,
                json!({ "reason": e.to_string() }),
            );
            let msg = match e {
                AuthError::Denied => "Mot de passe actuel incorrect.".to_string(),
                AuthError::WeakPassword(why) => {
                    format!("Mot de passe refusé : {}", french_rule(&why))
                }
                other => other.to_string(),
            };
            again(StatusCode::UNPROCESSABLE_ENTITY, msg)
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The rule a refused password broke, in French.
fn french_rule(why: &str) -> String {
    if why.contains("last 5") {
        "il a déjà servi parmi vos 5 derniers.".into()
    } else if why.contains("account name") {
        "il ne doit pas contenir votre identifiant.".into()
    } else if why.contains("common word") {
        "il contient un mot trop courant.".into()
    } else {
        "trop faible (longueur et types de caractères : voir la règle ci-dessus).".into()
    }
}

pub async fn enrol_form(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let Some((_, s)) =
        session(&st, &headers).filter(|(_, s)| matches!(s.stage, Stage::EnrolTotp | Stage::Ready))
    else {
        return Redirect::to("/login?next=/account/totp").into_response();
    };
    if s.stage == Stage::Ready
        && st
            .accounts
            .get(&s.account)
            .is_some_and(|a| a.totp.is_some())
    {
        return Redirect::to("/account").into_response();
    }
    let secret = match st.accounts.totp_begin(&s.account) {
        Ok(x) => x,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    enrol_page(&s, &secret, StatusCode::OK, None)
}

fn enrol_page(s: &auth::Session, secret: &str, code: StatusCode, error: Option<&str>) -> Response {
    let qr = auth::totp::qr_svg(secret, &s.account).unwrap_or_default();
    let w = (s.stage == Stage::Ready).then(|| who(s));
    render_status(
        code,
        "enrol.html",
        context! { csrf => s.csrf, qr, secret, role_label => s.role.label_fr(), error, who => w, page => "/account" },
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    csrf: String,
}

pub async fn enrol_submit(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    let Some((cookie, s)) =
        session(&st, &headers).filter(|(_, s)| matches!(s.stage, Stage::EnrolTotp | Stage::Ready))
    else {
        return Redirect::to("/login").into_response();
    };
    let pending = st.accounts.get(&s.account).and_then(|a| a.totp_pending);
    let Some(secret) = pending else {
        return Redirect::to("/account/totp").into_response();
    };
    let Some(Form(f)) = form.filter(|Form(f)| Sessions::csrf_ok(&s, &f.csrf)) else {
        return enrol_page(
            &s,
            &secret,
            StatusCode::FORBIDDEN,
            Some("Formulaire expiré : recommencez."),
        );
    };
    match st.accounts.totp_confirm(&s.account, &f.code, Utc::now()) {
        Ok(recovery) => {
            audit_session(&st, &s, "account.totp.enrolled", &s.account, json!({}));
            let Some(fresh) = st.sessions.advance(&cookie, Stage::Ready, Utc::now()) else {
                return Redirect::to("/login").into_response();
            };
            let Some(s) = st.sessions.get(&fresh, Utc::now()) else {
                return Redirect::to("/login").into_response();
            };
            let mut resp = render(
                "enrol.html",
                context! { recovery, next => "/", who => who(&s), csrf => s.csrf, page => "/account" },
            );
            resp.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&st, &fresh));
            resp
        }
        Err(e) => {
            audit_session(
                &st,
                &s,
                "account.totp.failed",
                &s.account,
                json!({ "reason": e.to_string() }),
            );
            enrol_page(
                &s,
                &secret,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(
                    "Code incorrect : vérifiez l'heure du téléphone et saisissez le code affiché.",
                ),
            )
        }
    }
}

fn account_page(
    st: &AdminState,
    s: &auth::Session,
    new_token: Option<Value>,
    error: Option<String>,
) -> Response {
    let a = st.accounts.get(&s.account);
    let now = Utc::now();
    let tokens: Vec<Value> = st
        .accounts
        .tokens(Some(&s.account))
        .into_iter()
        .map(|t| {
            context! {
                id => t.id,
                name => t.name,
                role => t.role.label_fr(),
                expires => t.expires_at.format("%d/%m/%Y").to_string(),
                last_used => t.last_used_at.map(|l| l.format("%d/%m/%Y %H:%M").to_string()),
                revoked => t.revoked_at.is_some(),
                expired => t.expires_at <= now,
            }
        })
        .collect();
    let via = match s.via {
        auth::Via::Password => "mot de passe",
        auth::Via::Sso => "fournisseur d'identité (SSO)",
    };
    render(
        "account.html",
        context! {
            who => who(s),
            page => "/account",
            csrf => s.csrf,
            totp => a.as_ref().is_some_and(|a| a.totp.is_some()),
            recovery_left => a.as_ref().map_or(0, |a| a.recovery.len()),
            local_password => a.as_ref().is_some_and(|a| a.password.is_some()),
            via,
            tokens,
            new_token,
            error,
        },
    )
}

pub async fn page(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    match ready(&st, &headers, "/account") {
        Ok((_, s)) => account_page(&st, &s, None, None),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    days: u32,
    #[serde(default)]
    csrf: String,
}

pub async fn token_create(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    let (_, s) = match ready(&st, &headers, "/account") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(Form(f)) = form.filter(|Form(f)| Sessions::csrf_ok(&s, &f.csrf)) else {
        return account_page(
            &st,
            &s,
            None,
            Some("Formulaire expiré ou incomplet : recommencez.".into()),
        );
    };
    match st
        .accounts
        .token_create(&s.account, &f.name, None, f.days, Utc::now())
    {
        Ok((t, secret)) => {
            audit_session(
                &st,
                &s,
                "token.create",
                &t.id,
                json!({ "name": t.name, "role": t.role, "expires_at": t.expires_at }),
            );
            account_page(
                &st,
                &s,
                Some(context! { name => t.name, token => secret }),
                None,
            )
        }
        Err(e) => account_page(&st, &s, None, Some(e.to_string())),
    }
}

pub async fn token_revoke(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<super::login::CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.ok();
    let (_, s) = match ready(&st, &headers, "/account") {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !form.is_some_and(|Form(f)| Sessions::csrf_ok(&s, &f.csrf)) {
        return account_page(
            &st,
            &s,
            None,
            Some("Formulaire expiré : recommencez.".into()),
        );
    }
    match st.accounts.token_revoke(&id, Some(&s.account), Utc::now()) {
        Ok(t) => {
            audit_session(&st, &s, "token.revoke", &id, json!({ "name": t.name }));
            Redirect::to("/account").into_response()
        }
        Err(e) => account_page(&st, &s, None, Some(e.to_string())),
    }
}
