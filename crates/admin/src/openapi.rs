//! `GET /api/v1/openapi.json`: the API described as OpenAPI 3.1, built from
//! the route table itself, so every route is in it with the roles it allows
//! (`x-permission`, `x-roles`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::access::{roles_for, rules};
use crate::AdminState;

/// The document.
pub fn build(cookie: &str) -> Value {
    let mut paths = Map::new();
    for r in rules() {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let method = r.method.as_str().to_ascii_lowercase();
        let op_id = format!(
            "{method}{}",
            r.path
                .split('/')
                .map(|s| s
                    .trim_matches(|c| c == '{' || c == '}')
                    .replace(['.', '-'], "_"))
                .collect::<Vec<_>>()
                .join("_")
        );
        let roles: Vec<&str> = roles_for(r.perm).iter().map(|r| r.as_str()).collect();
        let op = json!({
            "summary": r.summary,
            "operationId": op_id,
            "parameters": params,
            "x-permission": r.perm,
            "x-roles": roles,
            "responses": {
                "200": { "description": "done", "content": { "application/json": {} } },
                "400": { "description": "bad input: the message says what is expected" },
                "401": { "description": "no valid credentials" },
                "403": { "description": "the account's role may not do this" },
            },
        });
        let entry = paths
            .entry(format!("/api/v1{}", r.path))
            .or_insert_with(|| Value::Object(Map::new()));
        entry[method.as_str()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "softswitch admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Supervision and administration of softswitch. Authenticate with a personal API token (`Authorization: Bearer sst_...`, made at POST /api/v1/tokens or in the console), or a console session cookie with its X-CSRF-Token header on every change.",
        },
        "components": {
            "securitySchemes": {
                "token": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": cookie },
            }
        },
        "security": [ { "token": [] }, { "session": [] } ],
        "paths": paths,
    })
}

pub async fn document(State(st): State<Arc<AdminState>>) -> Response {
    Json(build(crate::principal::cookie_name(st.security.tls))).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_described_with_its_roles() {
        let doc = super::build("softswitch");
        let n: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(n, crate::access::rules().len());
        let audit = &doc["paths"]["/api/v1/audit"]["get"];
        assert_eq!(audit["x-roles"], serde_json::json!(["admin"]));
        let rec = &doc["paths"]["/api/v1/recordings/{record_id}"]["get"];
        assert_eq!(rec["parameters"][0]["name"], "record_id");
        assert_eq!(
            rec["x-roles"],
            serde_json::json!(["admin", "supervisor", "client"])
        );
    }
}
