//! Accounts and tokens over the API: one's own account, password and API
//! tokens; and, for administrators, every account (add, change, disable,
//! reset, remove) and the sessions open now. Every change goes to the
//! audit log; sessions of an account that is disabled, reset or changed
//! are closed at once.

use std::sync::Arc;

use auth::{AuthError, NewAccount, Perm, Role, Scope};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::principal::{Principal, Proof};
use crate::routes::error;
use crate::AdminState;

type St = State<Arc<AdminState>>;
type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The HTTP answer to an account error.
pub(crate) fn auth_error(e: AuthError) -> Response {
    let code = match &e {
        AuthError::Denied => StatusCode::UNAUTHORIZED,
        AuthError::Throttled(_) | AuthError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
        AuthError::Disabled(_) | AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
        AuthError::WeakPassword(_) | AuthError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AuthError::NotFound(_) => StatusCode::NOT_FOUND,
        AuthError::Exists(_) => StatusCode::CONFLICT,
        AuthError::Corrupt(_) | AuthError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(code, e.to_string())
}

fn body<T>(b: Body<T>, expected: &str) -> Result<T, Response> {
    b.map(|Json(v)| v).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("{}; expected {expected}", e.body_text()),
        )
    })
}

/// `GET me`: the account, its role and what it may do.
pub async fn me(State(st): St, Extension(p): Extension<Principal>) -> Response {
    let perms: Vec<Perm> = [
        Perm::Live,
        Perm::Reports,
        Perm::CallRecords,
        Perm::Recordings,
        Perm::File0Read,
        Perm::File0,
        Perm::FlowsRead,
        Perm::Flows,
        Perm::Agents,
        Perm::Monitor,
        Perm::Accounts,
        Perm::Audit,
    ]
    .into_iter()
    .filter(|perm| p.allows(*perm))
    .collect();
    let account = st.accounts.get(&p.account).map(|a| a.view());
    Json(json!({
        "account": p.account,
        "role": p.role,
        "queues": p.queues,
        "agent": p.agent,
        "via": match &p.proof { Proof::Session => "session".to_string(), Proof::Token(id) => format!("token {id}"), Proof::Bootstrap => "bootstrap token".into() },
        "may": perms,
        "details": account,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    old: String,
    new: String,
}

/// `POST me/password`.
pub async fn change_password(
    State(st): St,
    Extension(p): Extension<Principal>,
    b: Body<PasswordChange>,
) -> Response {
    let b = match body(b, "{\"old\":\"...\",\"new\":\"...\"}") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (store, id) = (st.accounts.clone(), p.account.clone());
    let done =
        tokio::task::spawn_blocking(move || store.change_password(&id, &b.old, &b.new, Utc::now()))
            .await;
    match done {
        Ok(Ok(())) => {
            p.audit(&st, "account.password", &p.account, json!({}));
            Json(json!({ "changed": true })).into_response()
        }
        Ok(Err(e)) => {
            p.audit(
                &st,
                "account.password.refused",
                &p.account,
                json!({ "error": e.to_string() }),
            );
            auth_error(e)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    #[serde(default)]
    all: bool,
}

/// `GET tokens`: one's tokens; every token for an admin with `?all=true`.
pub async fn tokens(
    State(st): St,
    Extension(p): Extension<Principal>,
    q: Result<Query<TokensQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(StatusCode::BAD_REQUEST, "parameters: all=true|false");
    };
    let all = q.all && p.allows(Perm::Accounts);
    let list = st.accounts.tokens((!all).then_some(p.account.as_str()));
    let list: Vec<Value> = list
        .into_iter()
        .map(|t| json!({ "id": t.id, "name": t.name, "account": t.account, "role": t.role, "queues": t.queues, "created_at": t.created_at, "expires_at": t.expires_at, "revoked_at": t.revoked_at, "last_used_at": t.last_used_at }))
        .collect();
    Json(json!({ "tokens": list })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// Days before it expires (default 90).
    days: Option<u32>,
    /// At most the account's own role (default: that role).
    role: Option<Role>,
}

/// `POST tokens`: the secret is in the answer, once.
pub async fn token_create(
    State(st): St,
    Extension(p): Extension<Principal>,
    b: Body<NewToken>,
) -> Response {
    let b = match body(
        b,
        "{\"name\":\"what it is for\",\"days\":90,\"role\":\"client\"}",
    ) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if p.proof == Proof::Bootstrap {
        return error(
            StatusCode::FORBIDDEN,
            "the bootstrap token belongs to no account: sign in as a person to make tokens",
        );
    }
    match st.accounts.token_create(
        &p.account,
        &b.name,
        b.role,
        b.days.unwrap_or(90),
        Utc::now(),
    ) {
        Ok((t, secret)) => {
            p.audit(
                &st,
                "token.create",
                &t.id,
                json!({ "name": t.name, "role": t.role, "expires_at": t.expires_at }),
            );
            (
                StatusCode::CREATED,
                Json(json!({ "id": t.id, "name": t.name, "role": t.role, "expires_at": t.expires_at, "token": secret, "note": "shown once: keep it in a secret store" })),
            )
                .into_response()
        }
        Err(e) => auth_error(e),
    }
}

/// `DELETE tokens/{id}`.
pub async fn token_revoke(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let own = (!p.allows(Perm::Accounts)).then_some(p.account.as_str());
    match st.accounts.token_revoke(&id, own, Utc::now()) {
        Ok(t) => {
            p.audit(
                &st,
                "token.revoke",
                &id,
                json!({ "account": t.account, "name": t.name }),
            );
            Json(json!({ "id": t.id, "revoked_at": t.revoked_at })).into_response()
        }
        Err(e) => auth_error(e),
    }
}

/// `GET accounts`.
pub async fn list(State(st): St) -> Response {
    Json(json!({ "accounts": st.accounts.list() })).into_response()
}

/// `GET accounts/{id}`.
pub async fn one(State(st): St, Path(id): Path<String>) -> Response {
    match st.accounts.get(&id) {
        Some(a) => Json(json!(a.view())).into_response(),
        None => auth_error(AuthError::NotFound(id)),
    }
}

/// `POST accounts`: the temporary password is in the answer, once.
pub async fn add(
    State(st): St,
    Extension(p): Extension<Principal>,
    b: Body<NewAccount>,
) -> Response {
    let b = match body(b, "{\"id\":\"marie.dupont\",\"name\":\"Marie Dupont\",\"role\":\"admin\"|\"supervisor\"|\"client\"|\"agent\",\"queues\":[\"general\"],\"recordings\":false,\"agent\":\"agent1\"}") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let store = st.accounts.clone();
    let by = p.account.clone();
    let new = b;
    let done = tokio::task::spawn_blocking(move || store.add(new, None, &by, Utc::now())).await;
    match done {
        Ok(Ok((view, temp))) => {
            p.audit(
                &st,
                "account.add",
                &view.id,
                json!({ "role": view.role, "queues": view.queues, "recordings": view.recordings }),
            );
            (
                StatusCode::CREATED,
                Json(json!({ "account": view, "temporary_password": temp, "note": "give the temporary password to its owner through a separate channel; it must be changed at first login" })),
            )
                .into_response()
        }
        Ok(Err(e)) => auth_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    role: Option<Role>,
    queues: Option<Scope>,
    recordings: Option<bool>,
}

/// `PATCH accounts/{id}`: role, queues, recordings grant.
pub async fn update(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    b: Body<Update>,
) -> Response {
    let b = match body(
        b,
        "{\"role\":\"client\",\"queues\":[\"general\"],\"recordings\":true}",
    ) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(current) = st.accounts.get(&id) else {
        return auth_error(AuthError::NotFound(id));
    };
    let role = b.role.unwrap_or(current.role);
    match st.accounts.set_role(&id, role, b.queues, b.recordings) {
        Ok(view) => {
            let closed = st.sessions.close_account(&id);
            p.audit(&st, "account.update", &id, json!({ "role": view.role, "queues": view.queues, "recordings": view.recordings, "sessions_closed": closed }));
            Json(json!(view)).into_response()
        }
        Err(e) => auth_error(e),
    }
}

/// `DELETE accounts/{id}`.
pub async fn remove(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if id == p.account {
        return error(StatusCode::CONFLICT, "you cannot remove your own account");
    }
    match st.accounts.remove(&id) {
        Ok(view) => {
            let closed = st.sessions.close_account(&id);
            p.audit(
                &st,
                "account.remove",
                &id,
                json!({ "role": view.role, "sessions_closed": closed }),
            );
            Json(json!({ "removed": id })).into_response()
        }
        Err(e) => auth_error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    reason: Option<String>,
}

/// `POST accounts/{id}/{action}`: disable, enable, reset-password,
/// reset-totp, unlock.
pub async fn action(
    State(st): St,
    Extension(p): Extension<Principal>,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let b: ActionBody = match crate::routes::optional_json(&body, r#"{"reason":"..."}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = Utc::now();
    let result: Result<Value, AuthError> = match action.as_str() {
        "disable" => {
            if id == p.account {
                return error(StatusCode::CONFLICT, "you cannot disable your own account");
            }
            let reason = b.reason.clone().unwrap_or_else(|| "disabled by an administrator".into());
            st.accounts.disable(&id, &reason, &p.account, now).map(|v| json!(v))
        }
        "enable" => st.accounts.enable(&id, now).map(|v| json!(v)),
        "reset-password" => {
            let store = st.accounts.clone();
            let i = id.clone();
            match tokio::task::spawn_blocking(move || store.reset_password(&i, now)).await {
                Ok(r) => r.map(|temp| {
                    st.logins.unlock(&id);
                    json!({ "temporary_password": temp, "note": "give it to its owner through a separate channel; it must be changed at first login" })
                }),
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        "reset-totp" => st.accounts.totp_reset(&id).map(|()| json!({ "second_factor": "removed: enrols again at next login" })),
        "unlock" => {
            st.logins.unlock(&id);
            Ok(json!({ "unlocked": id }))
        }
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action {other:?}: expected disable, enable, reset-password, reset-totp or unlock"),
            )
        }
    };
    match result {
        Ok(v) => {
            let closed = if action == "unlock" || action == "enable" {
                0
            } else {
                st.sessions.close_account(&id)
            };
            let mut details = json!({ "reason": b.reason, "sessions_closed": closed });
            if action == "reset-password" {
                details["temporary_password"] = json!("(given to the administrator)");
            }
            p.audit(&st, &format!("account.{action}"), &id, details);
            Json(v).into_response()
        }
        Err(e) => auth_error(e),
    }
}

/// `GET sessions`: who is signed in now.
pub async fn sessions(State(st): St) -> Response {
    let list: Vec<Value> = st
        .sessions
        .open_sessions(Utc::now())
        .into_iter()
        .map(|s| json!({ "account": s.account, "role": s.role, "source": s.source.to_string(), "since": s.created, "last_seen": s.last_seen, "signed_in": s.stage == auth::Stage::Ready }))
        .collect();
    Json(json!({ "sessions": list })).into_response()
}
