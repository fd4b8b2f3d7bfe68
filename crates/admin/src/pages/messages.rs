//! "Messages": the prompts callers hear, each listened to in the page with
//! its history of versions; a new recording (a file, or the microphone
//! through the page's script) becomes a cleaned draft whose checks are
//! shown and heard before it is published for new calls; an earlier
//! version (the shipped file is version 0) is restored as a new one. The
//! changes go through `/api/v1/prompts/...` (audited there).

use std::sync::Arc;

use auth::Perm;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{context, Value};
use serde::Deserialize;

use super::{allowed, render, who};
use crate::AdminState;

/// What the page's script came back from (a notice to show).
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    name: String,
}

/// 9240 -> "9,2 s"; 65000 -> "1 min 05 s".
fn seconds(ms: u64) -> String {
    if ms >= 60_000 {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{},{} s", ms / 1000, (ms % 1000) / 100)
    }
}

fn when(at: Option<DateTime<Utc>>, tz: Tz) -> String {
    at.map_or_else(
        || "fichier livré".to_string(),
        |t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string(),
    )
}

fn origin(restored_from: Option<u32>, version: u32) -> String {
    match (restored_from, version) {
        (_, 0) => "fichier livré".into(),
        (Some(0), _) => "restauration du fichier livré".into(),
        (Some(v), _) => format!("restauration de la version {v}"),
        (None, _) => "enregistrement envoyé".into(),
    }
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/messages", Perm::FlowsRead) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let can_change = p.allows(Perm::Flows);
    let tz = st.timezone;
    let store = st.prompts.clone();
    // The histories are read from disk: off the executor.
    let listed = tokio::task::spawn_blocking(move || {
        store
            .list()
            .into_iter()
            .map(|i| {
                let history = store.history(&i.name).unwrap_or_default();
                (i, history)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let prompts: Vec<Value> = listed
        .iter()
        .map(|(i, history)| {
            let versions: Vec<Value> = history
                .iter()
                .map(|v| {
                    context! {
                        version => v.version,
                        at => when(v.uploaded_at, tz),
                        duration => seconds(v.duration_ms),
                        by => v.by.clone().unwrap_or_default(),
                        origin => origin(v.restored_from, v.version),
                        current => v.version == i.version,
                    }
                })
                .collect();
            context! {
                name => i.name,
                version => i.version,
                duration => seconds(i.duration_ms),
                changed => when(i.uploaded_at, tz),
                by => i.by.clone().unwrap_or_default(),
                origin => origin(i.restored_from, i.version),
                draft => i.draft,
                versions,
            }
        })
        .collect();
    let notice = q.ok().and_then(|Query(d)| {
        let current = listed.iter().find(|(i, _)| i.name == d.name)?.0.version;
        match d.done.as_str() {
            "publish" => Some(format!(
                "« {} » version {current} publiée : les nouveaux appels l'entendent ; les appels en cours gardent la précédente.",
                d.name
            )),
            "restore" => Some(format!(
                "« {} » restauré comme version {current} pour les nouveaux appels.",
                d.name
            )),
            _ => None,
        }
    });
    render(
        "messages.html",
        context! {
            who => who(&s), csrf => s.csrf, page => "/messages", wide => true,
            prompts, can_change, notice,
            limits => context! {
                min_ms => media::clean::MIN_MS,
                max_ms => media::clean::MAX_MS,
                silence_dbfs => media::clean::SILENCE_DBFS,
                target_dbfs => media::clean::TARGET_RMS_DBFS,
                clipped_share => media::clean::MAX_CLIPPED_SHARE,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_origins_read_in_french() {
        assert_eq!(seconds(9240), "9,2 s");
        assert_eq!(seconds(65_000), "1 min 05 s");
        assert_eq!(origin(None, 0), "fichier livré");
        assert_eq!(origin(Some(0), 3), "restauration du fichier livré");
        assert_eq!(origin(Some(2), 3), "restauration de la version 2");
        assert_eq!(origin(None, 1), "enregistrement envoyé");
    }
}
