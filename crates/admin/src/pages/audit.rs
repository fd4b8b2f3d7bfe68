//! "Journal d'audit" (administrators): the audit log searched by time,
//! account, action and target, newest first; a check of its hash chain in
//! one click; and exports for an auditor (JSONL as written, which checks
//! on its own, or CSV). Reading the log is itself audited.

use std::sync::Arc;

use auth::Perm;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use serde_json::json;

use super::dates::DateError;
use super::{allowed, render, render_status, who};
use crate::AdminState;

#[derive(Deserialize, Default, Debug)]
pub struct Filter {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    /// `verify`: check the chain too.
    #[serde(default)]
    check: String,
    /// `csv` or `jsonl`: download instead of showing.
    #[serde(default)]
    export: String,
}

/// A local (Paris) date at midnight, in UTC; `end`: the next midnight.
fn day(v: &str, end: bool) -> Result<Option<DateTime<Utc>>, DateError> {
    Ok(super::dates::optional_day(v)?.map(|d| {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        sla::group::local_midnight(chrono_tz::Europe::Paris, d)
    }))
}

fn matches(f: &Filter, v: &serde_json::Value) -> bool {
    let has = |k: &str, want: &str| {
        want.is_empty() || v[k].as_str().is_some_and(|x| x.contains(want.trim()))
    };
    has("account", &f.account) && has("action", &f.action) && has("target", &f.target)
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    q: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (s, p) = match allowed(&st, &headers, "/audit", Perm::Audit) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = q.map(|Query(f)| f).unwrap_or_default();
    let (from, to) = match (day(&f.from, false), day(&f.to, true)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return render_status(
                StatusCode::BAD_REQUEST,
                "audit.html",
                context! { who => who(&s), csrf => s.csrf, page => "/audit", f => context! { from => f.from, to => f.to, account => f.account, action => f.action, target => f.target }, error => e.french(), lines => Vec::<Value>::new(), wide => true },
            )
        }
    };
    let dir = st.audit.dir().to_path_buf();
    let lines = match tokio::task::spawn_blocking(move || auth::audit::read(&dir, from, to)).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the audit log: {e}"),
            )
                .into_response()
        }
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let kept: Vec<String> = lines
        .into_iter()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| matches(&f, &v)))
        .collect();
    if f.export == "csv" || f.export == "jsonl" {
        p.audit(
            &st,
            "audit.export",
            "*",
            json!({ "from": f.from, "to": f.to, "format": f.export, "lines": kept.len() }),
        );
        let (body, ctype) = if f.export == "csv" {
            let mut out = Vec::new();
            if let Err(e) = auth::audit::export_csv(&kept, &mut out) {
                return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
            }
            (out, "text/csv; charset=utf-8")
        } else {
            (kept.join("\n").into_bytes(), "application/x-ndjson")
        };
        let name = format!("audit-{}.{}", Utc::now().format("%Y%m%d-%H%M%S"), f.export);
        return (
            [
                (header::CONTENT_TYPE, ctype.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            body,
        )
            .into_response();
    }
    let verified = if f.check == "verify" {
        let dir = st.audit.dir().to_path_buf();
        match tokio::task::spawn_blocking(move || auth::audit::verify(&dir)).await {
            Ok(Ok(r)) => Some(context! {
                ok => r.ok(), lines => r.lines, anchors => r.anchors_checked,
                problems => r.problems.iter().map(|p| format!("{} : {}", p.place, p.what)).collect::<Vec<_>>(),
            }),
            _ => None,
        }
    } else {
        None
    };
    let total = kept.len();
    let shown: Vec<Value> = kept
        .iter()
        .rev()
        .take(500)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let at = v["at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono_tz::Europe::Paris).format("%d/%m/%Y %H:%M:%S").to_string())
                .unwrap_or_default();
            context! {
                seq => v["seq"].as_u64(), at,
                account => v["account"].as_str(), role => v["role"].as_str(), source => v["source"].as_str(),
                action => v["action"].as_str(), target => v["target"].as_str(), details => v["details"].to_string(),
            }
        })
        .collect();
    p.audit(&st, "audit.read", "*", json!({ "from": f.from, "to": f.to, "account": f.account, "action": f.action, "lines": total }));
    let query = format!(
        "from={}&to={}&account={}&action={}&target={}",
        super::urlencode(&f.from),
        super::urlencode(&f.to),
        super::urlencode(&f.account),
        super::urlencode(&f.action),
        super::urlencode(&f.target)
    );
    render(
        "audit.html",
        context! {
            who => who(&s), csrf => s.csrf, page => "/audit", wide => true,
            f => context! { from => f.from, to => f.to, account => f.account, action => f.action, target => f.target },
            lines => shown, total, verified, query,
        },
    )
}
