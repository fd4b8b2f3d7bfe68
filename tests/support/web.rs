//! HTTP helpers for the console and identity tests: curl with a cookie
//! jar (a browser's session), form posts, reading values out of pages,
//! TOTP codes, and the command line's `account` and `audit` verbs.

use std::path::PathBuf;
use std::process::Command;

use super::{Server, BIN};

/// An answer: status, headers (lower-case names), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A browser-like client: one cookie jar.
pub struct Browser {
    pub base: String,
    pub jar: PathBuf,
    /// `--cacert` for HTTPS.
    pub ca: Option<PathBuf>,
}

impl Browser {
    pub fn new(srv: &Server) -> Browser {
        Browser::at(format!("http://{}", srv.admin), srv)
    }

    pub fn at(base: String, srv: &Server) -> Browser {
        let jar = srv.dir.join(format!("jar-{}", super::rand_suffix()));
        Browser {
            base,
            jar,
            ca: None,
        }
    }

    /// One request; `form` is `key=value` pairs (url-encoded here), `json`
    /// a JSON body; `headers` more headers.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        form: &[(&str, &str)],
        json: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        };
        let mut c = Command::new("curl");
        c.args(["-s", "-D", "-", "-o", "-", "-X", method, "-c"])
            .arg(&self.jar)
            .arg("-b")
            .arg(&self.jar)
            .arg(&url);
        if let Some(ca) = &self.ca {
            c.arg("--cacert").arg(ca);
        }
        for (k, v) in form {
            c.args(["--data-urlencode", &format!("{k}={v}")]);
        }
        if let Some(j) = json {
            c.args(["-H", "Content-Type: application/json", "--data", j]);
        }
        for (k, v) in headers {
            c.args(["-H", &format!("{k}: {v}")]);
        }
        let out = c.output().expect("curl");
        parse(&String::from_utf8_lossy(&out.stdout))
    }

    pub fn get(&self, url: &str) -> Answer {
        self.request("GET", url, &[], None, &[])
    }

    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Answer {
        self.request("POST", url, form, None, &[])
    }

    /// An API call with the session cookie and its CSRF token.
    pub fn api(&self, method: &str, url: &str, json: Option<&str>, csrf: &str) -> Answer {
        self.request(method, url, &[], json, &[("X-CSRF-Token", csrf)])
    }
}

fn parse(raw: &str) -> Answer {
    // Headers of the last response (curl prints 100 Continue first, if any).
    let mut rest = raw;
    loop {
        let Some((head, body)) = rest.split_once("\r\n\r\n") else {
            return Answer {
                status: 0,
                headers: Vec::new(),
                body: raw.to_string(),
            };
        };
        let status: u16 = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if status == 100 {
            rest = body;
            continue;
        }
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        return Answer {
            status,
            headers,
            body: body.to_string(),
        };
    }
}

/// The value of `<input name="NAME" value="...">` or of the element with
/// `id="ID"` (its text), in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let i = html.find(&key)? + key.len();
    Some(unescape(&html[i..i + html[i..].find('"')?]))
}

pub fn element_text(html: &str, id: &str) -> Option<String> {
    let key = format!("id=\"{id}\">");
    let i = html.find(&key)? + key.len();
    Some(unescape(&html[i..i + html[i..].find('<')?]))
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
}

/// The current TOTP code of a base32 secret.
pub fn totp_now(secret: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    auth::totp::code_at(secret, now).unwrap()
}

/// Sleep into the next 30-second TOTP step (a code is accepted once).
pub fn wait_next_totp_step() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_millis() % 30_000;
    std::thread::sleep(std::time::Duration::from_millis(
        (30_000 - into + 200) as u64,
    ));
}

/// A new password that follows the rules.
pub const NEW_PASSWORD: &str = "Black-Number-0ffload!";

/// Sign `account` in through the pages, from its first password: the
/// forced change to `NEW_PASSWORD`, TOTP enrolment when the role needs
/// it. Returns the TOTP secret (if enrolled) and the session's CSRF token.
pub fn first_sign_in(b: &Browser, account: &str, first_password: &str) -> (Option<String>, String) {
    let a = b.post_form(
        "/login",
        &[("account", account), ("password", first_password)],
    );
    assert_eq!(a.status, 303, "login of {account}: {}", a.body);
    let mut secret = None;
    let mut next = a.header("location").unwrap_or("/").to_string();
    for _ in 0..4 {
        match next.as_str() {
            "/account/password" => {
                let page = b.get("/account/password");
                let csrf = input_value(&page.body, "csrf").expect("csrf on the password page");
                let a = b.post_form(
                    "/account/password",
                    &[
                        ("csrf", &csrf),
                        ("old", first_password),
                        ("new", NEW_PASSWORD),
                        ("again", NEW_PASSWORD),
                    ],
                );
                assert_eq!(a.status, 303, "password change of {account}: {}", a.body);
                next = a.header("location").unwrap().to_string();
            }
            "/account/totp" => {
                let page = b.get("/account/totp");
                let s = element_text(&page.body, "secret").expect("secret on the enrolment page");
                let csrf = input_value(&page.body, "csrf").unwrap();
                let a = b.post_form("/account/totp", &[("csrf", &csrf), ("code", &totp_now(&s))]);
                assert_eq!(a.status, 200, "enrolment of {account}: {}", a.body);
                assert!(a.body.contains("recovery-codes"), "{}", a.body);
                secret = Some(s);
                next = "/account".into();
            }
            _ => break,
        }
    }
    let page = b.get("/account");
    assert_eq!(page.status, 200, "{account} signed in: {}", page.body);
    let csrf = input_value(&page.body, "csrf").expect("csrf on the account page");
    (secret, csrf)
}

/// `softswitch account ARGS...` on a test server's configuration; stdout.
pub fn account_cli(srv: &Server, args: &[&str]) -> String {
    cli(srv, "account", args).1
}

/// `softswitch SUB ARGS... --config <server's>`: (exit code, stdout, stderr).
pub fn cli(srv: &Server, sub: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg(sub)
        .args(args)
        .arg("--config")
        .arg(srv.dir.join("softswitch.toml"))
        .output()
        .expect("run softswitch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Add an account with the CLI and make it an API token; the token.
pub fn account_with_token(srv: &Server, id: &str, role: &str, extra: &[&str]) -> String {
    let mut args = vec!["add", id, "--role", role];
    args.extend_from_slice(extra);
    let out = account_cli(srv, &args);
    assert!(out.contains("temporary password"), "{out}");
    let token = account_cli(srv, &["token", id, "--name", "test"]);
    let token = token.trim().to_string();
    assert!(token.starts_with("sst_"), "{token}");
    token
}
