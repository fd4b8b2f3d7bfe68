//! Tests of SIP secrets in the configuration: HA1 agents and trunks, the
//! secrets file and its mode, default and readable secrets refused beyond
//! loopback, the `[sip]` failure limits.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sip::auth::{ha1, Secret};

use crate::config::{Config, EMBEDDED_DEFAULT};

/// The shipped default with `[sip]` listening on `addr`.
fn listening_on(addr: &str) -> String {
    EMBEDDED_DEFAULT
        .replace("udp = [\"127.0.0.1:5060\"]", &format!("udp = [\"{addr}\"]"))
        .replace("tcp = [\"127.0.0.1:5060\"]", &format!("tcp = [\"{addr}\"]"))
}

/// The shipped default with `agents` instead of its `[[agents]]`, and
/// `sip_extra` lines at the end of `[sip]`.
fn config(addr: &str, sip_extra: &str, agents: &str) -> String {
    // The keys of `sip_extra` replace the shipped ones.
    let keys: Vec<&str> = sip_extra
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let text: String = listening_on(addr)
        .lines()
        .filter(|l| {
            !keys
                .iter()
                .any(|k| l.split_once('=').is_some_and(|(lk, _)| lk.trim() == *k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let text = text.replace(
        "max_backlog = 5000\n",
        &format!("max_backlog = 5000\n{sip_extra}"),
    );
    let head = &text[..text.find("[[agents]]").unwrap()];
    format!("{head}{agents}")
}

/// Line of the first setting (not comment) holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
        .unwrap()
        + 1
}

static N: AtomicU32 = AtomicU32::new(0);

/// A file in a fresh temporary directory, with this mode.
fn temp_file(name: &str, text: &str, mode: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "softswitch-secrets-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_shipped_default_runs_on_loopback_with_a_warning() {
    let c = Config::parse(EMBEDDED_DEFAULT, "default.toml").unwrap();
    assert_eq!(c.public_sip_addr(), None);
    let w = c.startup_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("agent1, agent2, agent3, agent4"), "{w:?}");
    assert_eq!(
        c.agent_accounts()["agent3"],
        Secret::Password("agent3".into())
    );
    // The limits' documented defaults.
    let d = c.digest_config();
    assert_eq!((d.limits.source.free, d.limits.source.lock_after), (5, 10));
    assert_eq!(
        (d.limits.account.free, d.limits.account.lock_after),
        (20, 40)
    );
    assert_eq!(d.limits.source.lock_for.as_secs(), 900);
    assert_eq!(d.limits.source.base_delay.as_millis(), 1000);
    assert_eq!(d.nonce_ttl.as_secs(), 300);
}

#[test]
fn default_passwords_are_refused_beyond_loopback() {
    for addr in ["0.0.0.0:5060", "192.0.2.10:5060", "[::]:5060"] {
        let text = listening_on(addr);
        let e = Config::parse(&text, "d.toml").unwrap_err().to_string();
        let line = line_of(&text, "password = \"agent1\"");
        assert!(
            e.starts_with(&format!(
                "d.toml:{line}: agent \"agent1\": its password is its id"
            )),
            "{e}"
        );
        assert!(e.contains(addr), "{e}");
    }
    // The same default written as its HA1 is no better.
    let h = ha1("agent1", "softswitch", "agent1");
    let text = config(
        "0.0.0.0:5060",
        "",
        &format!("[[agents]]\nid = \"agent1\"\nha1 = \"{h}\"\n"),
    );
    let e = Config::parse(&text, "h.toml").unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "h.toml:{}: agent \"agent1\"",
            line_of(&text, "ha1 =")
        )),
        "{e}"
    );
    // Own passwords are fine, with no warning.
    let text = config(
        "0.0.0.0:5060",
        "",
        "[[agents]]\nid = \"agent1\"\npassword = \"Xk2-long-own\"\n",
    );
    let c = Config::parse(&text, "ok.toml").unwrap();
    assert!(c.startup_warnings().is_empty());
}

#[test]
fn agents_and_trunks_may_give_an_ha1() {
    let h1 = ha1("agent1", "softswitch", "pw1");
    let text = config(
        "127.0.0.1:5060",
        "",
        &format!(
            "[[agents]]\nid = \"agent1\"\nha1 = \"{}\"\n",
            h1.to_uppercase()
        ),
    );
    let c = Config::parse(&text, "a.toml").unwrap();
    let s = &c.agent_accounts()["agent1"];
    assert_eq!(s.ha1("agent1", "softswitch"), h1);
    // Malformed, or both keys.
    for (agent, needle) in [
        ("id = \"agent1\"\nha1 = \"pw1\"\n", "ha1 ="),
        (
            &*format!("id = \"agent1\"\npassword = \"pw1\"\nha1 = \"{h1}\"\n"),
            "ha1 =",
        ),
    ] {
        let text = config("127.0.0.1:5060", "", &format!("[[agents]]\n{agent}"));
        let e = Config::parse(&text, "b.toml").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "b.toml:{}: agent \"agent1\"",
                line_of(&text, needle)
            )),
            "{e}"
        );
    }
    let trunk = format!(
        "[[trunks]]\nname = \"carrier\"\nusername = \"carrier\"\nha1 = \"{}\"\n\n",
        ha1("carrier", "softswitch", "s3cret")
    );
    let text = config(
        "127.0.0.1:5060",
        "",
        &format!("{trunk}[[agents]]\nid = \"agent1\"\npassword = \"pw\"\n"),
    );
    let c = Config::parse(&text, "t.toml").unwrap();
    assert!(c.trunks.iter().any(|t| t.ha1.is_some()));
    let bad = text.replace("ha1 = \"", "ha1 = \"x");
    let e = Config::parse(&bad, "t.toml").unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "t.toml:{}: trunk \"carrier\": ha1 must be 32 hex",
            line_of(&bad, "ha1 =")
        )),
        "{e}"
    );
}

#[test]
fn a_secrets_file_must_be_private_and_name_known_agents() {
    let h2 = ha1("agent2", "softswitch", "pw2");
    let body = format!(
        "# agents' secrets\nagent1 = {{ password = \"pw1\" }}\nagent2 = {{ ha1 = \"{h2}\" }}\n"
    );
    let agents = "[[agents]]\nid = \"agent1\"\n\n[[agents]]\nid = \"agent2\"\n";
    let open = temp_file("secrets.toml", &body, 0o644);
    let text = config(
        "0.0.0.0:5060",
        &format!("secrets_file = \"{}\"\n", open.display()),
        agents,
    );
    let e = Config::parse(&text, "s.toml").unwrap_err().to_string();
    assert!(
        e.contains(&open.display().to_string())
            && e.contains("mode 0644")
            && e.contains("chmod 600"),
        "{e}"
    );
    for mode in [0o600, 0o640, 0o400] {
        let private = temp_file("secrets.toml", &body, mode);
        let text = config(
            "0.0.0.0:5060",
            &format!("secrets_file = \"{}\"\n", private.display()),
            agents,
        );
        let c = Config::parse(&text, "s.toml").unwrap();
        let acc = c.agent_accounts();
        assert_eq!(acc["agent1"], Secret::Password("pw1".into()));
        assert_eq!(acc["agent2"], Secret::Ha1(h2.clone()));
    }
    // Missing file; an unknown agent; a secret given twice; the default.
    let text = config(
        "127.0.0.1:5060",
        "secrets_file = \"/nonexistent/secrets.toml\"\n",
        agents,
    );
    let e = Config::parse(&text, "m.toml").unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "m.toml:{}: [sip] secrets_file",
            line_of(&text, "secrets_file")
        )),
        "{e}"
    );
    for (extra, agents, needle, what) in [
        (
            "agent9 = { password = \"x\" }\n",
            agents.to_string(),
            "agent9",
            "no [[agents]] entry",
        ),
        (
            "",
            agents.replace("id = \"agent1\"\n", "id = \"agent1\"\npassword = \"p\"\n"),
            "agent1 =",
            "in one place only",
        ),
        (
            "agent3 = { password = \"agent3\" }\n",
            format!("{agents}\n[[agents]]\nid = \"agent3\"\n"),
            "agent3 =",
            "its password is its id",
        ),
    ] {
        let body = format!("{body}{extra}");
        let f = temp_file("secrets.toml", &body, 0o600);
        let text = config(
            "0.0.0.0:5060",
            &format!("secrets_file = \"{}\"\n", f.display()),
            &agents,
        );
        let e = Config::parse(&text, "s.toml").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:{}: ", f.display(), line_of(&body, needle)))
                && e.contains(what),
            "{e}"
        );
    }
}

#[test]
fn clear_passwords_in_a_readable_file_are_refused_beyond_loopback() {
    let agents = "[[agents]]\nid = \"agent1\"\npassword = \"Xk2-long-own\"\n";
    let text = config("0.0.0.0:5060", "", agents);
    let path = temp_file("softswitch.toml", &text, 0o644);
    let e = Config::load(Some(&path)).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:{}: agent \"agent1\"",
            path.display(),
            line_of(&text, "password =")
        )),
        "{e}"
    );
    assert!(e.contains("ha1") && e.contains("secrets_file"), "{e}");
    // Readable by its owner only, or HA1 instead, or on loopback: fine.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Config::load(Some(&path)).unwrap();
    let h = ha1("agent1", "softswitch", "Xk2-long-own");
    let hashed = config(
        "0.0.0.0:5060",
        "",
        &format!("[[agents]]\nid = \"agent1\"\nha1 = \"{h}\"\n"),
    );
    Config::load(Some(&temp_file("softswitch.toml", &hashed, 0o644))).unwrap();
    let local = config("127.0.0.1:5060", "", agents);
    Config::load(Some(&temp_file("softswitch.toml", &local, 0o644))).unwrap();
}

#[test]
fn limits_are_checked_with_their_line() {
    let agents = "[[agents]]\nid = \"agent1\"\npassword = \"agent1\"\n";
    for (extra, key) in [
        ("auth_source_free = 10\n", "auth_source_free"),
        ("auth_account_lock_after = 0\n", "auth_account_lock_after"),
        ("auth_lock_s = 0\n", "auth_lock_s"),
        ("nonce_ttl_s = 0\n", "nonce_ttl_s"),
    ] {
        let text = config("127.0.0.1:5060", extra, agents);
        let e = Config::parse(&text, "l.toml").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("l.toml:{}: [sip] ", line_of(&text, key))),
            "{e}"
        );
    }
    let text = config(
        "127.0.0.1:5060",
        "auth_source_free = 2\nauth_source_lock_after = 3\nauth_lock_s = 4\nauth_delay_ms = 0\nnonce_ttl_s = 30\n",
        agents,
    );
    let d = Config::parse(&text, "l.toml").unwrap().digest_config();
    assert_eq!((d.limits.source.free, d.limits.source.lock_after), (2, 3));
    assert_eq!(d.limits.account.lock_for.as_secs(), 4);
    assert!(d.limits.source.base_delay.is_zero());
    assert_eq!(d.nonce_ttl.as_secs(), 30);
}
