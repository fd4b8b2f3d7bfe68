//! The live pages: the wallboard ("Tableau de bord": every queue now and
//! today's figures against their targets, full-screen for a wall) and the
//! agents page (states, pause reasons, times in state, and the
//! supervisor's actions). Both are drawn by small scripts from the live
//! stream (`/api/v1/live`), so they change the moment the system does.

use std::sync::Arc;

use auth::Perm;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use minijinja::context;

use super::{allowed, render, who};
use crate::AdminState;

/// Pause reasons offered in the agents page (codes as the ACD and the
/// agent-state journal keep them, with their French labels).
pub const PAUSE_REASONS: &[(&str, &str)] = &[
    ("pause", "Pause"),
    ("lunch", "Déjeuner"),
    ("training", "Formation"),
    ("meeting", "Réunion"),
    ("admin", "Tâches administratives"),
    ("coaching", "Accompagnement"),
];

pub async fn wallboard(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let (s, _) = match allowed(&st, &headers, "/", Perm::Live) {
        Ok(x) => x,
        Err(r) => return r,
    };
    render(
        "wallboard.html",
        context! { who => who(&s), csrf => s.csrf, page => "/", totals => s.queues.is_all(), wide => true },
    )
}

pub async fn agents(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let (s, p) = match allowed(&st, &headers, "/agents", Perm::Agents) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let reasons: Vec<_> = PAUSE_REASONS
        .iter()
        .map(|(code, label)| context! { code, label })
        .collect();
    render(
        "agents.html",
        context! { who => who(&s), csrf => s.csrf, page => "/agents", reasons, monitor => p.allows(Perm::Monitor), wide => true },
    )
}
