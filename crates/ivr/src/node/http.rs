//! `http`: call an external API (GET or POST) with `${var}` templates, a
//! timeout, and JSON response fields (by JSON pointer) into variables; any
//! failure (timeout, refused, non-2xx, bad JSON) goes to `fallback`, which is
//! the degraded-mode route when a back end fails. Plain HTTP only for now.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::run::{Ctx, Step};
use call::HungUp;

/// An `http` node: one API call whose response fields go into
/// variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// `GET` (default) or `POST`.
    #[serde(default = "get")]
    pub method: String,
    /// `${name}` is replaced by the variable, URL-encoded.
    pub url: String,
    /// POST body (`${name}` replaced as is), sent as JSON.
    pub body: Option<String>,
    /// Timeout for the whole request, in milliseconds (100 to 30000;
    /// default 2000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Variable -> JSON pointer into the response (e.g. "/customer/name").
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Node to go to after a successful call.
    pub next: String,
    /// Node to go to on any failure (timeout, refused, non-2xx, bad JSON).
    pub fallback: String,
}

fn get() -> String {
    "GET".into()
}
fn default_timeout() -> u64 {
    2000
}

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(concat!("softswitch/", env!("CARGO_PKG_VERSION")))
}

/// Why an extra certificate authority was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ExtraCaError {
    /// The bytes are not a PEM certificate.
    #[error("not a PEM certificate: {0}")]
    NotPem(reqwest::Error),
    /// The HTTP client could not be built with it.
    #[error("HTTP client: {0}")]
    Client(reqwest::Error),
    /// The shared client already exists (a look-up ran, or a CA was
    /// already added).
    #[error("the HTTP client is already in use")]
    AlreadyInUse,
}

/// Trust this PEM certificate authority too for `https://` look-ups (an
/// internal CA), besides the public web roots. Call once, before the first
/// look-up; a second call is refused.
pub fn trust_extra_ca(pem: &[u8]) -> Result<(), ExtraCaError> {
    let ca = reqwest::Certificate::from_pem(pem).map_err(ExtraCaError::NotPem)?;
    let client = builder()
        .add_root_certificate(ca)
        .build()
        .map_err(ExtraCaError::Client)?;
    CLIENT.set(client).map_err(|_| ExtraCaError::AlreadyInUse)
}

/// The client every `http` node uses: HTTP and HTTPS (rustls, the public
/// web roots plus the configured CA).
fn client() -> &'static reqwest::Client {
    CLIENT.get_or_init(|| builder().build().expect("HTTP client"))
}

/// Percent-encode a variable's value for a URL.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Http {
    /// Checks of `method`, `url`, `timeout_ms`, the `set` pointers and
    /// `body`: (key, message) per problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.method != "GET" && self.method != "POST" {
            out.push((
                "method",
                format!("{:?}: expected \"GET\" or \"POST\"", self.method),
            ));
        }
        if !self.url.starts_with("http://") && !self.url.starts_with("https://") {
            out.push((
                "url",
                format!("{:?}: expected an http:// or https:// URL", self.url),
            ));
        }
        if !(100..=30_000).contains(&self.timeout_ms) {
            out.push((
                "timeout_ms",
                format!("{}: expected 100 to 30000", self.timeout_ms),
            ));
        }
        for (var, ptr) in &self.set {
            if !ptr.starts_with('/') {
                out.push((
                    "set",
                    format!("{var} = {ptr:?}: a JSON pointer starts with '/'"),
                ));
            }
        }
        if self.body.is_some() && self.method == "GET" {
            out.push(("body", "a body needs method = \"POST\"".into()));
        }
        out
    }

    async fn call(&self, cx: &Ctx<'_>) -> Result<serde_json::Value, LookupError> {
        let mut url = String::new();
        let mut rest = self.url.as_str();
        while let Some(i) = rest.find("${") {
            url.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else { break };
            let name = &rest[i + 2..i + j];
            url.push_str(&encode(cx.vars.get(name).map(String::as_str).unwrap_or("")));
            rest = &rest[i + j + 1..];
        }
        url.push_str(rest);
        let req = if self.method == "POST" {
            let body = self
                .body
                .as_deref()
                .map(|b| cx.expand(b))
                .unwrap_or_default();
            client()
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body)
        } else {
            client().get(&url)
        };
        let resp = req
            .timeout(Duration::from_millis(self.timeout_ms))
            .send()
            .await
            .map_err(LookupError::Unreachable)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(LookupError::Status(status));
        }
        resp.json::<serde_json::Value>()
            .await
            .map_err(LookupError::BadJson)
    }

    /// Make the call and fill the `set` variables (empty for a missing or
    /// null field), then `next`; any failure goes to `fallback`.
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        let started = std::time::Instant::now();
        match self.call(cx).await {
            Ok(json) => {
                for (var, ptr) in &self.set {
                    let value = match json.pointer(ptr) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(serde_json::Value::Null) | None => String::new(),
                        Some(v) => v.to_string(),
                    };
                    cx.vars.insert(var.clone(), value);
                }
                tracing::info!(url = %self.url, ms = started.elapsed().as_millis() as u64, "http look-up done");
                Ok(Step::Next(self.next.clone()))
            }
            Err(why) => {
                tracing::warn!(url = %self.url, error = %why, "http look-up failed; degraded route");
                Ok(Step::Next(self.fallback.clone()))
            }
        }
    }
}

/// Why a look-up failed (the call then takes the `fallback`).
#[derive(Debug, thiserror::Error)]
enum LookupError {
    /// No answer in time, refused, TLS not trusted...
    #[error("{}", chain(.0))]
    Unreachable(reqwest::Error),
    /// The service answered with a status other than 2xx.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// The body is not JSON.
    #[error("bad JSON: {0}")]
    BadJson(reqwest::Error),
}

/// A request error with its causes, which say why (refused, certificate
/// not trusted...); just "timeout" for a timeout.
fn chain(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_values_are_encoded() {
        assert_eq!(encode("+33 6/12&x"), "%2B33%206%2F12%26x");
    }
}
