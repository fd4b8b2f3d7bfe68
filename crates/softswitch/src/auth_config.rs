//! `[auth]`: sessions, passwords, second factor, inactivity, login limits,
//! audit retention and the OpenID Connect provider; and the checks that
//! keep the admin listener safe: plain HTTP and the shipped bootstrap token
//! on loopback only.

use std::path::PathBuf;

use anyhow::{bail, Result};
use auth::Role;
use serde::Deserialize;

use crate::config::{line_of_key, Config, DEFAULT_ADMIN_TOKEN};

/// `[auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// A browser session ends after this long without use.
    #[serde(default = "default_idle")]
    pub session_idle_min: u32,
    /// ... and at the latest this long after sign-in.
    #[serde(default = "default_max_hours")]
    pub session_max_hours: u32,
    /// Accounts unused this long are disabled (0: never).
    #[serde(default = "default_inactive")]
    pub inactive_days: u32,
    /// Roles that must use a second factor (TOTP, or the SSO provider's).
    #[serde(default = "default_totp_roles")]
    pub totp_roles: Vec<Role>,
    /// Shortest password (CNIL: 12 at least, which is also the floor).
    #[serde(default = "default_min_length")]
    pub password_min_length: usize,
    /// Failed logins for one account from one source before a delay.
    #[serde(default = "default_free")]
    pub login_free_failures: u32,
    /// ... and before the lock.
    #[serde(default = "default_lock_after")]
    pub login_lock_after: u32,
    #[serde(default = "default_lock_min")]
    pub login_lock_min: u32,
    /// Months of audit log kept (6 to 12 asked by the tenders).
    #[serde(default = "default_retention")]
    pub audit_retention_months: u32,
    /// Sign-in through an OpenID Connect provider.
    #[serde(default)]
    pub oidc: Option<auth::oidc::OidcConfig>,
}

impl Default for AuthSection {
    fn default() -> Self {
        toml::from_str("").expect("every [auth] key has a default")
    }
}

fn default_idle() -> u32 {
    30
}
fn default_max_hours() -> u32 {
    12
}
fn default_inactive() -> u32 {
    90
}
fn default_totp_roles() -> Vec<Role> {
    vec![Role::Admin, Role::Supervisor]
}
fn default_min_length() -> usize {
    12
}
fn default_free() -> u32 {
    5
}
fn default_lock_after() -> u32 {
    10
}
fn default_lock_min() -> u32 {
    15
}
fn default_retention() -> u32 {
    12
}

impl AuthSection {
    /// The login failure policy.
    pub fn login_policy(&self) -> sip::throttle::Policy {
        sip::throttle::Policy {
            free: self.login_free_failures,
            lock_after: self.login_lock_after,
            lock_for: std::time::Duration::from_secs(u64::from(self.login_lock_min) * 60),
            ..sip::throttle::Policy::default()
        }
    }
}

/// Where the admin listener's certificate comes from.
pub enum AdminTls {
    /// Plain HTTP (loopback only, said in the config).
    Plain,
    /// These files.
    Files(admin::tls::TlsFiles),
    /// A self-signed certificate in the data directory.
    SelfSigned(PathBuf),
}

/// Check `[admin]` and `[auth]` together.
pub fn validate(cfg: &Config, text: &str) -> Result<()> {
    let o = &cfg.origin;
    let a = &cfg.admin;
    let loopback = a.listen.ip().is_loopback();
    if a.plain_http && !loopback {
        bail!(
            "{o}:{}: admin.plain_http is allowed on a loopback address only; {} needs HTTPS (cert_file and key_file, or neither for a self-signed certificate)",
            line_of_key(text, "plain_http"),
            a.listen
        );
    }
    if let Some(t) = &a.token {
        if t.len() < 12 {
            bail!(
                "{o}:{}: admin.token is too short: use at least 12 characters",
                line_of_key(text, "token")
            );
        }
        if t == DEFAULT_ADMIN_TOKEN && !loopback {
            bail!(
                "{o}:{}: admin.token is the public token of the shipped configuration and the admin API listens on {}: remove it (use personal API tokens) or set a secret one",
                line_of_key(text, "token"),
                a.listen
            );
        }
    }
    if let Some(t) = &a.metrics_token {
        if t.len() < 12 {
            bail!(
                "{o}:{}: admin.metrics_token is too short: use at least 12 characters",
                line_of_key(text, "metrics_token")
            );
        }
    }
    match (&a.cert_file, &a.key_file) {
        (Some(_), None) | (None, Some(_)) => bail!(
            "{o}:{}: admin.cert_file and admin.key_file go together (PEM files)",
            line_of_key(
                text,
                if a.cert_file.is_some() {
                    "cert_file"
                } else {
                    "key_file"
                }
            )
        ),
        (Some(_), Some(_)) if a.plain_http => bail!(
            "{o}:{}: admin.plain_http = true and certificate files: choose one",
            line_of_key(text, "plain_http")
        ),
        _ => {}
    }
    let au = &cfg.auth;
    if au.password_min_length < 12 {
        bail!(
            "{o}:{}: auth.password_min_length is {}: CNIL asks for 12 at least",
            line_of_key(text, "password_min_length"),
            au.password_min_length
        );
    }
    if au.session_idle_min == 0 || au.session_max_hours == 0 {
        bail!(
            "{o}:{}: auth.session_idle_min and session_max_hours must be at least 1",
            line_of_key(text, "session_idle_min")
        );
    }
    if au.login_lock_after <= au.login_free_failures {
        bail!(
            "{o}:{}: auth.login_lock_after ({}) must be above login_free_failures ({})",
            line_of_key(text, "login_lock_after"),
            au.login_lock_after,
            au.login_free_failures
        );
    }
    if !(1..=120).contains(&au.audit_retention_months) {
        bail!(
            "{o}:{}: auth.audit_retention_months must be 1 to 120 (the tenders ask 6 to 12)",
            line_of_key(text, "audit_retention_months")
        );
    }
    if let Some(oidc) = &au.oidc {
        if oidc.roles.is_empty() {
            bail!(
                "{o}:{}: auth.oidc.roles maps no group to a role: e.g. roles = {{ \"softswitch-admins\" = \"admin\" }}",
                line_of_key(text, "issuer")
            );
        }
        for q in oidc.queues.keys() {
            if !oidc.roles.contains_key(q) {
                bail!(
                    "{o}:{}: auth.oidc.queues names group {q:?}, which roles does not map",
                    line_of_key(text, "queues")
                );
            }
        }
    }
    Ok(())
}

impl Config {
    /// The admin listener's TLS, as the configuration asks.
    pub fn admin_tls(&self) -> AdminTls {
        let a = &self.admin;
        match (&a.cert_file, &a.key_file) {
            (Some(cert), Some(key)) => AdminTls::Files(admin::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ if a.plain_http => AdminTls::Plain,
            _ => AdminTls::SelfSigned(self.data.dir.join("tls")),
        }
    }
}
