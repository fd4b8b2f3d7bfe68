//! HTTP through curl (a real client), and reading /metrics.

use super::*;

/// curl: (HTTP status, body).
pub fn curl(
    srv: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut c = std::process::Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg(format!("http://{}{path}", srv.admin));
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data", b]);
    }
    let out = c
        .output()
        .expect("curl (the README's test command installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.into()));
    (code.parse().unwrap(), json)
}

// ---------------------------------------------------------------- CDR reading

/// GET an admin path with curl (a real HTTP client): status and body.
pub fn get_text(srv: &Server, path: &str, token: bool) -> (u16, String) {
    let mut c = std::process::Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .arg(format!("http://{}{path}", srv.admin));
    if token {
        c.args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")]);
    }
    let out = c.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

/// A sample's value on a /metrics page (`name{labels}` as printed).
pub fn metric(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}
