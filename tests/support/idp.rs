//! The test OpenID Connect provider (tests/web/idp.mjs, oidc-provider
//! under node) started on a free loopback port, stopped on drop; and a
//! sign-in through it with curl, following every redirect by hand.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::repo_root;
use super::web::{input_value, Answer, Browser};

pub const CLIENT_ID: &str = "softswitch-test";
pub const CLIENT_SECRET: &str = "idp-secret/with+chars";

pub struct Idp {
    child: Child,
    pub issuer: String,
}

impl Idp {
    /// Start the provider for a relying party whose callback is `redirect`.
    pub fn start(redirect: &str) -> Idp {
        let web = repo_root().join("tests/web");
        let mut child = Command::new("node")
            .current_dir(&web)
            .args([
                "idp.mjs",
                "--port",
                "0",
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--redirect-uri",
                redirect,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (scripts/deps.sh test installs it and tests/web's packages)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line
            .trim()
            .strip_prefix("IDP READY ")
            .unwrap_or_else(|| panic!("IdP did not start: {line:?}"))
            .to_string();
        Idp { child, issuer }
    }

    /// `[auth.oidc]` for a server whose admin listener is on `port`.
    pub fn config(&self, port: u16, roles: &str) -> String {
        format!(
            "\n[auth.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nredirect_url = \"http://127.0.0.1:{port}/sso/callback\"\nroles = {roles}\nmfa_acr = [\"urn:softswitch:acr:mfa\"]\n",
            self.issuer
        )
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback TCP port (for a listener whose address must be known
/// before it starts: the provider's redirect URI names it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A provider and a server whose admin listener is on the port the
/// provider's redirect URI names, with `roles` as the group mapping.
/// `free_port` cannot hold the port it finds: when another listener took
/// it before softswitch bound it, both start again on a new one.
pub fn sso_server(roles: &str, o: super::Options) -> (Idp, super::Server, u16) {
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let idp = Idp::start(&format!("http://127.0.0.1:{port}/sso/callback"));
        let opts = super::Options {
            admin_port: port,
            extra_config: idp.config(port, roles),
            ..o.clone()
        };
        match super::Server::try_start(opts) {
            Ok(srv) => return (idp, srv, port),
            Err(log) if log.contains("Address already in use") => last = log,
            Err(log) => panic!("softswitch did not get ready:\n{log}"),
        }
    }
    panic!("no free admin port in 5 tries:\n{last}")
}

/// Sign in through the provider as `user`: from `/sso/login` to the last
/// answer of softswitch's callback.
pub fn sso_sign_in(b: &Browser, idp: &Idp, user: &str, password: &str) -> Answer {
    let a = b.get("/sso/login?next=/account");
    assert_eq!(a.status, 303, "{}", a.body);
    let mut url = a.header("location").unwrap().to_string();
    assert!(url.starts_with(&idp.issuer), "{url}");
    for _ in 0..10 {
        let full = if url.starts_with('/') {
            format!("{}{url}", idp.issuer)
        } else {
            url.clone()
        };
        if !full.starts_with(&idp.issuer) {
            // Back at softswitch's callback.
            return b.get(&full);
        }
        let a = b.get(&full);
        if a.status == 200 && a.body.contains("name=\"login\"") {
            let action = a
                .body
                .split("action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap()
                .to_string();
            let _ = input_value(&a.body, "login");
            let r = b.post_form(
                &format!("{}{action}", idp.issuer),
                &[("login", user), ("password", password)],
            );
            assert_eq!(r.status, 303, "IdP login of {user}: {}", r.body);
            url = r.header("location").unwrap().to_string();
            continue;
        }
        assert!(
            (300..400).contains(&a.status),
            "IdP answered {} at {full}: {}",
            a.status,
            a.body
        );
        url = a.header("location").unwrap().to_string();
    }
    panic!("too many redirects");
}
