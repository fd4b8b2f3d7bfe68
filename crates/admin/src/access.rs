//! The API's routes in one table: method, path, the permission each needs,
//! and what it does. The router, the access check and the OpenAPI document
//! are all built from this table, so a route cannot exist without a rule.

use std::sync::Arc;

use auth::{Perm, Role};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;

use crate::principal::Principal;
use crate::routes::error;
use crate::{
    accounts_routes as acc, acd_routes as acd, audit_routes as aud, cdr_routes as cdr,
    file0_routes as f0, flow_routes as fl,
};
use crate::{prompt_routes as pr, recording_routes as rec, routes as r, AdminState};

type Mr = MethodRouter<Arc<AdminState>>;

/// One route of `/api/v1`.
pub struct Rule {
    pub method: Method,
    /// Relative to `/api/v1`, axum syntax (`/file0/{target}`).
    pub path: &'static str,
    pub perm: Perm,
    pub summary: &'static str,
}

fn rule(
    method: Method,
    path: &'static str,
    perm: Perm,
    summary: &'static str,
    mr: Mr,
) -> (Rule, Mr) {
    (
        Rule {
            method,
            path,
            perm,
            summary,
        },
        mr,
    )
}

/// Every route of the API.
fn table() -> Vec<(Rule, Mr)> {
    use Method as M;
    use Perm::*;
    vec![
        rule(
            M::GET,
            "/health",
            Any,
            "Liveness and calls in progress",
            get(r::health),
        ),
        rule(
            M::GET,
            "/openapi.json",
            Any,
            "This API, described (OpenAPI 3.1)",
            get(crate::openapi::document),
        ),
        rule(
            M::GET,
            "/me",
            Any,
            "The signed-in account and what it may do",
            get(acc::me),
        ),
        rule(
            M::POST,
            "/me/password",
            Any,
            "Change one's own password ({\"old\",\"new\"})",
            post(acc::change_password),
        ),
        rule(
            M::GET,
            "/tokens",
            Any,
            "One's API tokens (all of them for an admin with ?all=true)",
            get(acc::tokens),
        ),
        rule(
            M::POST,
            "/tokens",
            Any,
            "Make an API token ({\"name\",\"days\",\"role\"}); the secret is shown once",
            post(acc::token_create),
        ),
        rule(
            M::DELETE,
            "/tokens/{id}",
            Any,
            "Revoke an API token (one's own; an admin any)",
            delete(acc::token_revoke),
        ),
        rule(
            M::GET,
            "/file0",
            File0Read,
            "File 0 activations, calls redirected, activation delay",
            get(f0::file0_list),
        ),
        rule(
            M::POST,
            "/file0",
            File0,
            "Switch file 0 on for a DID or flow",
            post(f0::file0_activate),
        ),
        rule(
            M::DELETE,
            "/file0/{target}",
            File0,
            "Switch file 0 off",
            delete(f0::file0_deactivate),
        ),
        rule(
            M::GET,
            "/strategies",
            File0Read,
            "Crisis strategies prepared in the configuration, and the one applied",
            get(crate::strategy::list),
        ),
        rule(
            M::POST,
            "/strategies/{name}/apply",
            File0,
            "Apply a crisis strategy: its file 0 switches and prepared flows, all or nothing",
            post(crate::strategy::apply_route),
        ),
        rule(
            M::POST,
            "/strategies/undo",
            File0,
            "Undo the applied strategy",
            post(crate::strategy::undo_route),
        ),
        rule(
            M::GET,
            "/flows",
            FlowsRead,
            "Flow version in use, the one under test, test DIDs, history",
            get(fl::flows),
        ),
        rule(
            M::GET,
            "/flows/{flow}/source",
            FlowsRead,
            "A flow's text in a version (?version=N; default the one in use)",
            get(fl::flow_source),
        ),
        rule(
            M::GET,
            "/flows/diff",
            FlowsRead,
            "Line diff of the flows between two versions (?from=N&to=M)",
            get(fl::flows_diff),
        ),
        rule(
            M::POST,
            "/flows/check",
            FlowsRead,
            "Check an edited flow file: every error with its line; changes nothing",
            post(fl::flows_check),
        ),
        rule(
            M::POST,
            "/flows/stage",
            Flows,
            "Put an edited flow under test: new calls to the test DIDs use it",
            post(fl::flows_stage),
        ),
        rule(
            M::POST,
            "/flows/promote",
            Flows,
            "Make the version under test current on every number (written to the flow files)",
            post(fl::flows_promote),
        ),
        rule(
            M::DELETE,
            "/flows/stage",
            Flows,
            "Withdraw the version under test",
            delete(fl::flows_discard),
        ),
        rule(
            M::POST,
            "/flows/reload",
            Flows,
            "Load the flows again from disk for new calls",
            post(fl::flows_reload),
        ),
        rule(
            M::POST,
            "/flows/rollback",
            Flows,
            "Make an earlier flow version current (on the flow files too)",
            post(fl::flows_rollback),
        ),
        rule(
            M::GET,
            "/prompts",
            FlowsRead,
            "Prompts, shipped and uploaded",
            get(pr::list),
        ),
        rule(
            M::PUT,
            "/prompts/{name}",
            Flows,
            "Upload a prompt (WAV, MP3, OGG, FLAC): cleaned, checked, published",
            put(pr::upload),
        ),
        rule(
            M::POST,
            "/prompts/{name}/draft",
            Flows,
            "Send a recording as the prompt's draft: cleaned and checked, not published",
            post(pr::draft_create),
        ),
        rule(
            M::GET,
            "/prompts/{name}/draft",
            FlowsRead,
            "The draft waiting to be published and its checks",
            get(pr::draft_get),
        ),
        rule(
            M::DELETE,
            "/prompts/{name}/draft",
            Flows,
            "Discard the draft",
            delete(pr::draft_delete),
        ),
        rule(
            M::GET,
            "/prompts/{name}/draft/audio",
            FlowsRead,
            "The draft's cleaned audio (WAV)",
            get(pr::draft_audio),
        ),
        rule(
            M::POST,
            "/prompts/{name}/publish",
            Flows,
            "Publish the draft for new calls as the next version",
            post(pr::publish),
        ),
        rule(
            M::GET,
            "/prompts/{name}/versions",
            FlowsRead,
            "A prompt's versions, newest first (0: the shipped file)",
            get(pr::versions),
        ),
        rule(
            M::GET,
            "/prompts/{name}/audio",
            FlowsRead,
            "A version's audio (WAV; ?version=N, the current one by default)",
            get(pr::audio),
        ),
        rule(
            M::POST,
            "/prompts/{name}/restore",
            Flows,
            "Publish a copy of an earlier version ({\"version\": N}) as the next one",
            post(pr::restore),
        ),
        rule(
            M::GET,
            "/live",
            Live,
            "Server-Sent Events: queues, agents, file 0 and today's figures, at every change",
            get(crate::live::stream),
        ),
        rule(
            M::GET,
            "/live/snapshot",
            Live,
            "The live picture once, as JSON",
            get(crate::live::snapshot),
        ),
        rule(
            M::GET,
            "/queues",
            Live,
            "Queues: waiting calls, longest wait, agents by state",
            get(acd::queues),
        ),
        rule(
            M::GET,
            "/agents",
            Live,
            "Agents: state, pause reason, registration",
            get(acd::agents),
        ),
        rule(
            M::POST,
            "/agents/{agent}/{action}",
            OwnAgent,
            "Act on an agent: login, logout, pause, unpause, ready, disposition, monitor",
            post(acd::agent_action),
        ),
        rule(
            M::POST,
            "/calls/{record_id}/monitor",
            Monitor,
            "Listen to a live call from a registered phone",
            post(acd::monitor),
        ),
        rule(
            M::GET,
            "/cdr",
            CallRecords,
            "Call records (JSON, JSONL, CSV); personal data",
            get(cdr::list),
        ),
        rule(
            M::GET,
            "/reports",
            Reports,
            "KPI report for a range (from, to, by, group_by), JSON or CSV (format)",
            get(crate::pages::reports::api),
        ),
        rule(
            M::GET,
            "/recordings",
            Recordings,
            "Finished recordings; personal data",
            get(rec::list),
        ),
        rule(
            M::GET,
            "/recordings/{record_id}",
            Recordings,
            "One recording as audio/wav; personal data",
            get(rec::fetch),
        ),
        rule(M::GET, "/accounts", Accounts, "Accounts", get(acc::list)),
        rule(
            M::POST,
            "/accounts",
            Accounts,
            "Add an account; a temporary password is returned once",
            post(acc::add),
        ),
        rule(
            M::GET,
            "/accounts/{id}",
            Accounts,
            "One account",
            get(acc::one),
        ),
        rule(
            M::PATCH,
            "/accounts/{id}",
            Accounts,
            "Change an account's role, queues, recordings grant or name",
            patch(acc::update),
        ),
        rule(
            M::DELETE,
            "/accounts/{id}",
            Accounts,
            "Remove an account and its tokens",
            delete(acc::remove),
        ),
        rule(
            M::POST,
            "/accounts/{id}/{action}",
            Accounts,
            "disable, enable, reset-password, reset-totp, unlock",
            post(acc::action),
        ),
        rule(
            M::GET,
            "/sessions",
            Accounts,
            "Browser sessions open now",
            get(acc::sessions),
        ),
        rule(
            M::GET,
            "/audit",
            Audit,
            "Audit log lines (?from=&to=&account=&action=)",
            get(aud::search),
        ),
        rule(
            M::GET,
            "/audit/verify",
            Audit,
            "Check the audit log's hash chain and anchors",
            get(aud::verify),
        ),
    ]
}

/// The rules alone (for the OpenAPI document).
pub fn rules() -> Vec<Rule> {
    table().into_iter().map(|(r, _)| r).collect()
}

/// The roles that may pass a permission (the client role with its
/// recordings grant; an agent on itself only).
pub fn roles_for(perm: Perm) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| r.allows(perm, true))
        .collect()
}

/// `/api/v1`'s router, each route behind its permission.
pub fn api_router() -> Router<Arc<AdminState>> {
    table()
        .into_iter()
        .fold(Router::new(), |router, (rule, mr)| {
            router.route(
                rule.path,
                mr.route_layer(middleware::from_fn_with_state(rule.perm, require)),
            )
        })
}

/// Refuse with 403 what the principal's role may not do.
async fn require(
    State(perm): State<Perm>,
    params: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    let Some(p) = req.extensions().get::<Principal>() else {
        return error(StatusCode::UNAUTHORIZED, "not signed in");
    };
    let allowed = match perm {
        Perm::OwnAgent if p.role == Role::Agent => {
            let target = params.iter().find(|(k, _)| *k == "agent").map(|(_, v)| v);
            target.is_some() && target == p.agent.as_deref()
        }
        Perm::OwnAgent => p.allows(Perm::Agents),
        other => p.allows(other),
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::info!(account = %p.account, role = %p.role, ?perm, path = %req.uri().path(), "refused by role");
        error(
            StatusCode::FORBIDDEN,
            format!("the {} role may not do this ({perm:?})", p.role),
        )
    }
}
