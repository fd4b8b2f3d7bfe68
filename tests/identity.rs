//! Identity, access and audit end to end, against the real binary with curl
//! and the command line: every route refused to the roles that may not use
//! it (from the OpenAPI table), sign-in with the forced password change and
//! TOTP, failure limits, tokens, the client role's masking, HTTPS with the
//! self-signed certificate, the metrics token, and the audit chain.

mod support;

use std::collections::HashMap;

use support::web::*;
use support::*;

fn concrete(path: &str, agent_param: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{agent}" => agent_param.to_string(),
            s if s.starts_with('{') => "x".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The status of a streaming GET, read within 2 s.
fn stream_status(srv: &Server, path: &str, token: &str) -> u16 {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-m",
            "2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
        ])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("http://{}{path}", srv.admin))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn every_route_is_refused_to_the_roles_that_may_not_use_it() {
    let srv = Server::start();
    let mut tokens: HashMap<&str, String> = HashMap::new();
    tokens.insert("admin", account_with_token(&srv, "ada", "admin", &[]));
    tokens.insert(
        "supervisor",
        account_with_token(&srv, "sam", "supervisor", &[]),
    );
    tokens.insert("client", account_with_token(&srv, "cli", "client", &[]));
    tokens.insert("agent", account_with_token(&srv, "agent1", "agent", &[]));
    let (code, doc) = curl(
        &srv,
        "GET",
        "/api/v1/openapi.json",
        Some(&tokens["client"]),
        None,
    );
    assert_eq!(code, 200, "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let roles: Vec<&str> = op["x-roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            // An agent acts on itself only: another agent's id is refused.
            let url = concrete(path, "agent2");
            let (code, body) = curl(&srv, &method, &url, None, None);
            assert_eq!(code, 401, "{method} {url} without credentials: {body}");
            for (role, token) in &tokens {
                let (code, body) = if path.ends_with("/live") {
                    // An event stream never ends: its status is enough.
                    (stream_status(&srv, &url, token), serde_json::Value::Null)
                } else {
                    curl(&srv, &method, &url, Some(token), None)
                };
                let own_agent_route = path.contains("{agent}");
                // The client role reads recordings only when granted (not here).
                let ungranted = op["x-permission"] == "recordings" && *role == "client";
                let expected_refusal =
                    !roles.contains(role) || (own_agent_route && *role == "agent") || ungranted;
                if expected_refusal {
                    assert_eq!(code, 403, "{role} {method} {url}: {body}");
                } else {
                    assert!(
                        code != 403 && code != 401,
                        "{role} {method} {url} refused: {code} {body}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 4 * 30,
        "only {checked} checks: routes missing from the OpenAPI document?"
    );
    // The agent on itself passes the role check (then the ACD answers).
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent1/pause",
        Some(&tokens["agent"]),
        Some(r#"{"reason":"lunch"}"#),
    );
    assert_eq!(code, 200, "{body}");
    // ... but may not listen to calls.
    let (code, _) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent1/monitor",
        Some(&tokens["agent"]),
        Some(r#"{"phone":"agent1"}"#),
    );
    assert_eq!(code, 403);
}

#[test]
fn first_login_changes_the_password_and_enrols_a_second_factor() {
    let srv = Server::start();
    let b = Browser::new(&srv);
    // Nothing but the sign-in page without a session.
    let a = b.get("/account");
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/login?next=/account"))
    );
    let page = b.get("/login");
    assert!(
        page.body
            .contains("<label for=\"password\">Mot de passe</label>"),
        "{}",
        page.body
    );
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    // The bootstrap admin must change its password: a weak one is refused.
    let a = b.post_form(
        "/login",
        &[("account", "admin"), ("password", BOOTSTRAP_PASSWORD)],
    );
    assert_eq!(a.header("location"), Some("/account/password"));
    let page = b.get("/account/password");
    let csrf = input_value(&page.body, "csrf").unwrap();
    let a = b.post_form(
        "/account/password",
        &[
            ("csrf", &csrf),
            ("old", BOOTSTRAP_PASSWORD),
            ("new", "motdepasse"),
            ("again", "motdepasse"),
        ],
    );
    assert_eq!(a.status, 422);
    assert!(a.body.contains("Mot de passe refusé"), "{}", a.body);
    // Without the CSRF token: refused.
    let a = b.post_form(
        "/account/password",
        &[
            ("old", BOOTSTRAP_PASSWORD),
            ("new", NEW_PASSWORD),
            ("again", NEW_PASSWORD),
        ],
    );
    assert_eq!(a.status, 403);
    // The API is closed until sign-in is finished.
    let a = b.get("/api/v1/me");
    assert_eq!(a.status, 401, "{}", a.body);
    let b2 = Browser::new(&srv);
    let (secret, csrf) = first_sign_in(&b2, "admin", BOOTSTRAP_PASSWORD);
    let secret = secret.expect("the admin role enrols a second factor");
    let me = b2.get("/api/v1/me").json();
    assert_eq!(
        (me["account"].as_str(), me["role"].as_str()),
        (Some("admin"), Some("admin"))
    );
    // An API change needs the CSRF header with a session.
    let a = b2.request("POST", "/api/v1/tokens", &[], Some(r#"{"name":"x"}"#), &[]);
    assert_eq!(a.status, 403, "{}", a.body);
    let a = b2.api(
        "POST",
        "/api/v1/tokens",
        Some(r#"{"name":"wallboard","days":30}"#),
        &csrf,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let token = a.json()["token"].as_str().unwrap().to_string();
    let (code, me) = curl(&srv, "GET", "/api/v1/me", Some(&token), None);
    assert_eq!((code, me["account"].as_str()), (200, Some("admin")));
    // Sign out, then in again: password, then the TOTP code.
    let a = b2.post_form("/logout", &[("csrf", &csrf)]);
    assert_eq!(a.status, 303);
    assert_eq!(b2.get("/api/v1/me").status, 401);
    let a = b2.post_form(
        "/login",
        &[("account", "admin"), ("password", NEW_PASSWORD)],
    );
    assert_eq!(a.header("location"), Some("/login/totp"));
    let page = b2.get("/login/totp");
    let csrf = input_value(&page.body, "csrf").unwrap();
    let a = b2.post_form("/login/totp", &[("csrf", &csrf), ("code", "000000")]);
    assert!(
        a.status == 401 || totp_now(&secret) == "000000",
        "{}",
        a.body
    );
    // The enrolment code was spent: the next 30 s step brings a new one.
    wait_next_totp_step();
    let code = totp_now(&secret);
    let a = b2.post_form("/login/totp", &[("csrf", &csrf), ("code", &code)]);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(b2.get("/api/v1/me").status, 200);
    // A used code does not open a second session.
    let b3 = Browser::new(&srv);
    b3.post_form(
        "/login",
        &[("account", "admin"), ("password", NEW_PASSWORD)],
    );
    let page = b3.get("/login/totp");
    let csrf3 = input_value(&page.body, "csrf").unwrap();
    let a = b3.post_form("/login/totp", &[("csrf", &csrf3), ("code", &code)]);
    assert_eq!(a.status, 401, "replayed code accepted");
}

#[test]
fn login_failures_read_the_same_then_slow_down() {
    let srv = Server::start();
    account_cli(&srv, &["add", "marie", "--role", "client"]);
    let b = Browser::new(&srv);
    let unknown = b.post_form("/login", &[("account", "nobody"), ("password", "x")]);
    let wrong = b.post_form("/login", &[("account", "marie"), ("password", "x")]);
    assert_eq!((unknown.status, wrong.status), (401, 401));
    let alert = |html: &str| {
        html.split("role=\"alert\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or("")
            .replace("&#x27;", "'")
    };
    assert_eq!(alert(&unknown.body), alert(&wrong.body));
    assert_eq!(alert(&wrong.body), "Identifiant ou mot de passe incorrect.");
    for _ in 0..5 {
        b.post_form("/login", &[("account", "marie"), ("password", "x")]);
    }
    let a = b.post_form("/login", &[("account", "marie"), ("password", "x")]);
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(alert(&a.body).starts_with("Trop d'échecs"), "{}", a.body);
    // The log has every failure; the audit log too, with the source.
    let audit = std::fs::read_dir(srv.dir.join("var/audit"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("audit-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(
        audit.matches("\"action\":\"login.failed\"").count() >= 7,
        "{audit}"
    );
    assert!(audit.contains("\"source\":\"127.0.0.1\""));
}

#[test]
fn the_client_role_sees_masked_numbers_and_no_recordings() {
    let srv = Server::start();
    let client = account_with_token(&srv, "caf-sup", "client", &[]);
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite(
        "7001",
        &Offer {
            caller: "0612345678".into(),
            ..Offer::default()
        },
    );
    ua.answer(&mut call, std::time::Duration::from_secs(5));
    await_bye(&mut ua, &srv, &call, std::time::Duration::from_secs(20));
    let (code, recs) = curl(&srv, "GET", "/api/v1/cdr", Some(&client), None);
    assert_eq!(code, 200, "{recs}");
    let r = &recs.as_array().unwrap()[0];
    assert_eq!(r["caller"], "061234XXXX", "{r}");
    let (code, _) = curl(&srv, "GET", "/api/v1/cdr?mask=false", Some(&client), None);
    assert_eq!(code, 200);
    let (_, recs) = curl(&srv, "GET", "/api/v1/cdr?mask=false", Some(&client), None);
    assert_eq!(recs[0]["caller"], "061234XXXX", "the client cannot unmask");
    let (code, _) = curl(&srv, "GET", "/api/v1/recordings", Some(&client), None);
    assert_eq!(code, 403);
    // Granted recordings: allowed (still masked numbers).
    account_cli(
        &srv,
        &["set-role", "caf-sup", "client", "--recordings", "true"],
    );
    let (code, body) = curl(&srv, "GET", "/api/v1/recordings", Some(&client), None);
    assert_eq!(code, 200, "{body}");
    // Reading records is audited under the account, not a declared name.
    let (code, out, _) = cli(&srv, "audit", &["export", "--format", "jsonl"]);
    assert_eq!(code, 0);
    let read = out
        .lines()
        .find(|l| l.contains("\"action\":\"cdr.read\""))
        .expect("cdr.read audited");
    assert!(
        read.contains("\"account\":\"caf-sup\"") && read.contains("\"role\":\"client\""),
        "{read}"
    );
}

#[test]
fn the_audit_log_verifies_and_tampering_is_found() {
    let srv = Server::start();
    let token = account_with_token(&srv, "ops", "supervisor", &[]);
    let (code, _) = curl(
        &srv,
        "POST",
        "/api/v1/file0",
        Some(&token),
        Some(r#"{"target":"3422","prompt":"closed","mode":"hangup","by":"someone-else"}"#),
    );
    assert_eq!(code, 201);
    let (code, _) = curl(&srv, "DELETE", "/api/v1/file0/3422", Some(&token), None);
    assert_eq!(code, 200);
    let (code, out, err) = cli(&srv, "audit", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("audit log intact"), "{out}");
    let (_, lines, _) = cli(&srv, "audit", &["export"]);
    let act = lines
        .lines()
        .find(|l| l.contains("file0.activate"))
        .unwrap();
    assert!(
        act.contains("\"account\":\"ops\"") && act.contains("\"declared_by\":\"someone-else\""),
        "{act}"
    );
    // The admin role reads and checks it over the API; others may not.
    let (code, v) = curl(&srv, "GET", "/api/v1/audit/verify", Some(ADMIN_TOKEN), None);
    assert_eq!((code, v["ok"].as_bool()), (200, Some(true)), "{v}");
    let (code, _) = curl(
        &srv,
        "GET",
        "/api/v1/audit?action=file0",
        Some(&token),
        None,
    );
    assert_eq!(code, 403);
    let (_, v) = curl(
        &srv,
        "GET",
        "/api/v1/audit?action=file0",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(v["lines"].as_array().unwrap().len(), 2, "{v}");
    // Change one byte of the activation line: found, the line named.
    let dir = srv.dir.join("var/audit");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("audit-")
        })
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("\"account\":\"ops\"", "\"account\":\"eve\""),
    )
    .unwrap();
    let (code, out, _) = cli(&srv, "audit", &["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("was changed") && out.contains("TAMPERED"),
        "{out}"
    );
}

#[test]
fn https_with_a_self_signed_certificate_and_a_metrics_token() {
    let srv = Server::start_with(Options {
        admin_tls: true,
        admin_extra: "metrics_token = \"metrics-secret-0123\"\n".into(),
        ..Options::default()
    });
    let ca = srv.dir.join("var/tls/admin-cert.pem");
    assert!(ca.exists());
    assert!(srv.log_text().contains("self-signed certificate generated"));
    let mut b = Browser::at(format!("https://localhost:{}", srv.admin.port()), &srv);
    b.ca = Some(ca.clone());
    let a = b.request(
        "GET",
        "/api/v1/health",
        &[],
        None,
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.header("strict-transport-security").is_some());
    // The session cookie is Secure and bound to the host over HTTPS.
    let a = b.post_form(
        "/login",
        &[("account", "admin"), ("password", BOOTSTRAP_PASSWORD)],
    );
    let cookie = a.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("__Host-softswitch=")
            && cookie.contains("Secure")
            && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // TLS 1.1 and plain HTTP are refused.
    let old = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--tls-max",
            "1.1",
            "--cacert",
        ])
        .arg(&ca)
        .arg(format!(
            "https://localhost:{}/api/v1/health",
            srv.admin.port()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&old.stdout),
        "000",
        "TLS 1.1 must fail"
    );
    let plain = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "3",
        ])
        .arg(format!("http://{}/api/v1/health", srv.admin))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");
    let a = b.get("/metrics");
    assert_eq!(a.status, 401);
    let a = b.request(
        "GET",
        "/metrics",
        &[],
        None,
        &[("Authorization", "Bearer metrics-secret-0123")],
    );
    assert_eq!(a.status, 200);
    assert!(a.body.contains("softswitch_calls_in_progress"));
    for m in [
        "softswitch_sip_auth_locked{scope=\"source\"} 0",
        "softswitch_login_locked{scope=\"account_source\"} 0",
        "softswitch_sip_auth_failures_total 0",
    ] {
        assert!(a.body.contains(m), "{m} missing:\n{}", a.body);
    }
}

#[test]
fn unsafe_admin_listeners_are_refused_at_start() {
    for (admin, why) in [
        (
            "listen = \"0.0.0.0:0\"\nplain_http = true\n",
            "plain_http is allowed on a loopback address only",
        ),
        (
            "listen = \"0.0.0.0:0\"\ntoken = \"change-me-admin-token\"\n",
            "public token of the shipped configuration",
        ),
    ] {
        let dir = std::env::temp_dir().join(format!("softswitch-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = std::fs::read_to_string(repo_root().join("configs/default.toml")).unwrap();
        let start = text.find("[admin]").unwrap();
        let end = text[start..].find("# Accounts, sessions").unwrap() + start;
        let cfg = format!("{}[admin]\n{admin}\n{}", &text[..start], &text[end..]);
        let path = dir.join("bad.toml");
        std::fs::write(&path, cfg).unwrap();
        let out = std::process::Command::new(BIN)
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(why) && err.contains("bad.toml:"),
            "{err}"
        );
    }
}

#[test]
fn accounts_over_the_api_disable_and_reset() {
    let srv = Server::start();
    let (code, v) = curl(
        &srv,
        "POST",
        "/api/v1/accounts",
        Some(ADMIN_TOKEN),
        Some(r#"{"id":"jean","name":"Jean Martin","role":"supervisor","queues":["general"]}"#),
    );
    assert_eq!(code, 201, "{v}");
    let temp = v["temporary_password"].as_str().unwrap().to_string();
    let (code, v) = curl(
        &srv,
        "POST",
        "/api/v1/accounts",
        Some(ADMIN_TOKEN),
        Some(r#"{"id":"jean","role":"client"}"#),
    );
    assert_eq!(code, 409, "{v}");
    let (code, v) = curl(
        &srv,
        "POST",
        "/api/v1/accounts",
        Some(ADMIN_TOKEN),
        Some(r#"{"id":"Bad Id","role":"client"}"#),
    );
    assert_eq!(code, 422, "{v}");
    let (code, v) = curl(
        &srv,
        "POST",
        "/api/v1/accounts",
        Some(ADMIN_TOKEN),
        Some(r#"{"id":"x1","role":"root"}"#),
    );
    assert_eq!(code, 400, "{v}");
    let b = Browser::new(&srv);
    let (_, csrf) = first_sign_in(&b, "jean", &temp);
    let me = b.get("/api/v1/me").json();
    assert_eq!(me["queues"], serde_json::json!(["general"]));
    // A scoped supervisor sees its queue only.
    let q = b.get("/api/v1/queues").json();
    let names: Vec<&str> = q["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["general"]);
    // Disabled: the session ends at once, the login is refused.
    let (code, _) = curl(
        &srv,
        "POST",
        "/api/v1/accounts/jean/disable",
        Some(ADMIN_TOKEN),
        Some(r#"{"reason":"left the team"}"#),
    );
    assert_eq!(code, 200);
    assert_eq!(b.api("GET", "/api/v1/me", None, &csrf).status, 401);
    let a = b.post_form("/login", &[("account", "jean"), ("password", NEW_PASSWORD)]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("désactivé"));
    let (code, v) = curl(&srv, "GET", "/api/v1/accounts", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 200);
    let jean = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "jean")
        .unwrap()
        .clone();
    assert_eq!(jean["disabled"]["reason"], "left the team", "{jean}");
    assert!(
        jean.get("password").is_none() && !jean.to_string().contains("argon2"),
        "no hash in views"
    );
}

#[test]
fn sso_through_an_openid_provider_maps_groups_to_roles() {
    let (idp, srv, _) = support::idp::sso_server(
        r#"{ "softswitch-supervisors" = "supervisor", "softswitch-admins" = "admin" }"#,
        Options::default(),
    );
    // Discovery runs in the background at start: wait for the button.
    let b = Browser::new(&srv);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.get("/login").body.contains("id=\"sso\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "no SSO button; log:\n{}",
            srv.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // marie: supervisor, the provider asserts MFA: signed in at once.
    let a = support::idp::sso_sign_in(&b, &idp, "marie", "marie-pass");
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/account")),
        "{}",
        a.body
    );
    let me = b.get("/api/v1/me").json();
    assert_eq!(
        (me["account"].as_str(), me["role"].as_str()),
        (Some("marie"), Some("supervisor")),
        "{me}"
    );
    let page = b.get("/account");
    assert!(
        page.body.contains("fournisseur d&#x27;identité (SSO)")
            || page.body.contains("fournisseur d'identité (SSO)"),
        "{}",
        page.body
    );
    // paul is in no mapped group: refused, and audited.
    let b2 = Browser::new(&srv);
    let a = support::idp::sso_sign_in(&b2, &idp, "paul", "paul-pass");
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(
        a.body.contains("no group that maps to a role"),
        "{}",
        a.body
    );
    assert_eq!(b2.get("/api/v1/me").status, 401);
    // A local account of the same name is never taken over.
    account_cli(&srv, &["add", "alice", "--role", "client"]);
    let b3 = Browser::new(&srv);
    let a = support::idp::sso_sign_in(&b3, &idp, "alice", "alice-pass");
    assert_eq!(a.status, 403, "{}", a.body);
    let (_, out, _) = cli(&srv, "audit", &["export"]);
    assert!(
        out.contains("\"action\":\"login.sso\"") && out.contains("\"account\":\"marie\""),
        "{out}"
    );
    assert!(out.contains("\"action\":\"login.sso.failed\""), "{out}");
}

#[test]
fn the_client_role_sees_the_wallboard_and_nothing_it_may_not() {
    let srv = Server::start_with(queue_options());
    let out = account_cli(&srv, &["add", "caf", "--role", "client"]);
    let temp = out
        .split("temporary password: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    let b = Browser::new(&srv);
    let (totp, _) = first_sign_in(&b, "caf", &temp);
    assert!(
        totp.is_none(),
        "the client role needs no second factor by default"
    );
    let page = b.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Tableau de bord") && page.body.contains("/static/wallboard.js"));
    assert!(
        !page.body.contains("href=\"/agents\""),
        "no agents page in the client's menu"
    );
    for path in ["/agents", "/file0"] {
        let a = b.get(path);
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert!(a.body.contains("Accès refusé"));
    }
    let snap = b.get("/api/v1/live/snapshot").json();
    assert!(snap["queues"].as_array().unwrap().len() == 2, "{snap}");
    assert!(
        snap["agents"].as_array().unwrap().is_empty(),
        "no agent names for the client: {snap}"
    );
    assert!(snap["file0"].as_array().unwrap().is_empty());
    // A supervisor limited to one queue sees that queue only, and no totals.
    let token = account_with_token(&srv, "sup-general", "supervisor", &["--queues", "expert"]);
    let (_, snap) = curl(&srv, "GET", "/api/v1/live/snapshot", Some(&token), None);
    let names: Vec<&str> = snap["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["expert"]);
    assert!(snap["today"]["total"].as_array().unwrap().is_empty());
    assert!(snap["agents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q == "expert")));
}

#[test]
fn a_live_stream_ends_when_its_token_is_revoked() {
    let srv = Server::start();
    let token = account_with_token(&srv, "wall", "client", &[]);
    let mut curl = std::process::Command::new("curl")
        .args(["-s", "-N", "-m", "40", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("http://{}/api/v1/live", srv.admin))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(curl.stdout.take().unwrap());
    let mut line = String::new();
    use std::io::BufRead;
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "event: snapshot");
    let (_, list) = curl_json(&srv, &token);
    let id = list["tokens"][0]["id"].as_str().unwrap().to_string();
    let (code, _) = support::curl(
        &srv,
        "DELETE",
        &format!("/api/v1/tokens/{id}"),
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200);
    let revoked = std::time::Instant::now();
    let status = curl.wait().unwrap();
    assert!(
        revoked.elapsed() < std::time::Duration::from_secs(20),
        "the stream went on {:?}",
        revoked.elapsed()
    );
    assert!(
        status.success(),
        "curl ended by the server, not its own time limit: {status:?}"
    );
}

fn curl_json(srv: &Server, token: &str) -> (u16, serde_json::Value) {
    support::curl(srv, "GET", "/api/v1/tokens", Some(token), None)
}
