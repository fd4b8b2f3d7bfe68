//! The console in Chromium (playwright-core, tests/web/*.mjs): each
//! script starts from a real softswitch (and the test identity provider),
//! checks every page with axe-core and for console errors, and leaves
//! screenshots in target/screenshots/.

mod support;

use std::process::Command;

use support::web::NEW_PASSWORD;
use support::*;

fn node(script: &str, env: &[(&str, String)]) -> String {
    let shots = repo_root()
        .join("target/screenshots")
        .join(script.trim_end_matches(".mjs"));
    let out = Command::new("node")
        .current_dir(repo_root().join("tests/web"))
        .arg(script)
        .env("SHOTS", &shots)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("node (scripts/deps.sh test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

#[test]
fn sign_in_totp_tokens_and_sso_in_chromium() {
    let port = support::idp::free_port();
    let idp = support::idp::Idp::start(&format!("http://127.0.0.1:{port}/sso/callback"));
    let _srv = Server::start_with(Options {
        admin_port: port,
        extra_config: idp.config(port, r#"{ "softswitch-supervisors" = "supervisor" }"#),
        ..Options::default()
    });
    let out = node(
        "identity.mjs",
        &[
            ("BASE", format!("http://127.0.0.1:{port}")),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
            ("SSO_USER", "marie".into()),
            ("SSO_PASSWORD", "marie-pass".into()),
        ],
    );
    assert!(
        out.contains("ALL OK") && out.contains("STEP SSO ok"),
        "{out}"
    );
}

#[test]
fn the_wallboard_agents_and_file0_pages_drive_the_system() {
    let srv = Server::start_with(queue_options());
    let out = node(
        "console.mjs",
        &[
            ("BASE", format!("http://{}", srv.admin)),
            ("SIP", srv.udp.to_string()),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
        ],
    );
    assert!(out.contains("ALL OK"), "{out}");
    // The call after the switch was redirected, its delay recorded.
    let rec = srv
        .records()
        .into_iter()
        .find(|r| r["did"] == "3422")
        .unwrap_or_else(|| panic!("no record of the call to 3422; output:\n{out}"));
    assert_eq!(rec["file0"]["mode"], "hangup", "{rec}");
    assert!(rec["file0"]["delay_ms"].as_i64().unwrap() >= 0);
    // Both switches are in the audit log under the signed-in account.
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    let act = lines
        .lines()
        .find(|l| l.contains("\"action\":\"file0.activate\""))
        .expect("file0.activate audited");
    assert!(
        act.contains("\"account\":\"admin\"") && act.contains("exercice de crise"),
        "{act}"
    );
    assert!(lines.contains("\"action\":\"agent.pause\""), "{lines}");
    println!("{out}");
}
