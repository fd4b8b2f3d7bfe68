//! SIP secrets in the configuration: agents' and trunks' `password` or
//! `ha1`, the `[sip] secrets_file` (refused when all users may read it),
//! the digest failure limits of `[sip]`, and the refusals that keep default
//! or readable secrets off a network: a password equal to its agent's id,
//! or clear passwords in a world-readable file, while SIP listens on an
//! address that is not loopback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;
use sip::auth::{is_ha1, DigestConfig, LimitsConfig, Secret};
use sip::throttle::Policy;

use crate::config::{line_of_key, line_of_value, Config};

/// One entry of the secrets file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    password: Option<String>,
    ha1: Option<String>,
}

/// Agents' secrets read from `[sip] secrets_file`.
#[derive(Debug, Default)]
pub struct SecretsFile {
    path: Option<PathBuf>,
    /// Agent id -> its secret and the line it is written on.
    entries: HashMap<String, (Secret, usize)>,
}

/// Permission bits a secrets file must not have: any for other users,
/// writing for the group (0600 and 0640 are fine).
const TOO_OPEN: u32 = 0o027;

impl SecretsFile {
    /// Read the file `cfg` names, if any; errors name `file:line`.
    pub fn load(cfg: &Config) -> Result<SecretsFile> {
        let Some(path) = &cfg.sip.secrets_file else {
            return Ok(SecretsFile::default());
        };
        let at = format!("{}:{}", cfg.origin, line_of_key(&cfg.text, "secrets_file"));
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("{at}: [sip] secrets_file {}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & TOO_OPEN != 0 {
            bail!(
                "{}: secrets file with mode {mode:04o}: other users may read or change it; `chmod 600 {}` (or 640 with a group softswitch runs in)",
                path.display(),
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{at}: [sip] secrets_file {}: {e}", path.display()))?;
        let f = path.display();
        let raw: HashMap<String, Entry> = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            anyhow::anyhow!(
                "{f}:{line}: {} (expected lines like agent1 = {{ ha1 = \"...\" }} or agent1 = {{ password = \"...\" }})",
                e.message().trim()
            )
        })?;
        let mut entries = HashMap::new();
        for (id, e) in raw {
            let line = line_of_key(&text, &id);
            let secret = match (e.password, e.ha1) {
                (Some(p), None) if !p.is_empty() => Secret::Password(p),
                (None, Some(h)) if is_ha1(&h) => Secret::Ha1(h),
                (None, Some(h)) => bail!(
                    "{f}:{line}: agent {id:?}: ha1 {h:?} must be 32 hex digits, MD5({id}:{}:password) (softswitch ha1 --user {id} --realm {})",
                    cfg.sip.realm,
                    cfg.sip.realm
                ),
                _ => bail!("{f}:{line}: agent {id:?} needs either a non-empty `password` or an `ha1`"),
            };
            let Some(agent) = cfg.agents.iter().find(|a| a.id == id) else {
                bail!(
                    "{f}:{line}: no [[agents]] entry with id {id:?} in {}",
                    cfg.origin
                );
            };
            if agent.password.is_some() || agent.ha1.is_some() {
                bail!(
                    "{f}:{line}: agent {id:?} has a secret in {} already: give it in one place only",
                    cfg.origin
                );
            }
            entries.insert(id, (secret, line));
        }
        Ok(SecretsFile {
            path: Some(path.clone()),
            entries,
        })
    }

    pub fn has(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }
}

/// Line of `key = ` in the block (up to the next `[` header) that starts at
/// the line holding `anchor` (e.g. `"agent1"`), else that line.
fn line_in_block(text: &str, anchor: &str, key: &str) -> usize {
    let Some(start) = line_of_value(text, anchor) else {
        return 1;
    };
    // The block may begin above the anchor (keys in any order): from its header.
    let lines: Vec<&str> = text.lines().collect();
    let header = (0..start)
        .rev()
        .find(|&i| lines[i].trim_start().starts_with('['))
        .unwrap_or(0);
    lines
        .iter()
        .enumerate()
        .skip(header + 1)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(start, |(i, _)| i + 1)
}

impl Config {
    /// Agent id -> SIP secret, for the registrar (agents with one).
    pub fn agent_accounts(&self) -> HashMap<String, Secret> {
        let mut accounts: HashMap<String, Secret> = self
            .agents
            .iter()
            .filter_map(|a| {
                let s = match (&a.password, &a.ha1) {
                    (Some(p), _) => Secret::Password(p.clone()),
                    (None, Some(h)) => Secret::Ha1(h.clone()),
                    (None, None) => return None,
                };
                Some((a.id.clone(), s))
            })
            .collect();
        for (id, (s, _)) in &self.secrets.entries {
            accounts.insert(id.clone(), s.clone());
        }
        accounts
    }

    /// Digest authentication as `[sip]` sets it.
    pub fn digest_config(&self) -> DigestConfig {
        let s = &self.sip;
        let delay = Duration::from_millis(s.auth_delay_ms);
        let lock_for = Duration::from_secs(s.auth_lock_s);
        let policy = |free, lock_after, base: Policy| Policy {
            free,
            lock_after,
            base_delay: delay,
            lock_for,
            ..base
        };
        let defaults = LimitsConfig::default();
        DigestConfig {
            realm: s.realm.clone(),
            nonce_ttl: Duration::from_secs(s.nonce_ttl_s),
            max_nonces: 100_000,
            limits: LimitsConfig {
                source: policy(
                    s.auth_source_free,
                    s.auth_source_lock_after,
                    defaults.source,
                ),
                account: policy(
                    s.auth_account_free,
                    s.auth_account_lock_after,
                    defaults.account,
                ),
            },
        }
    }

    /// The first SIP listen address that is not loopback, if any.
    pub fn public_sip_addr(&self) -> Option<SocketAddr> {
        self.sip
            .udp
            .iter()
            .chain(&self.sip.tcp)
            .find(|a| !a.ip().is_loopback())
            .copied()
    }

    /// Agents whose secret is their own id (the shipped default).
    fn default_secret_agents(&self) -> Vec<(&str, usize)> {
        let realm = &self.sip.realm;
        self.agents
            .iter()
            .filter_map(|a| {
                let id = a.id.as_str();
                let (secret, line) = match (&a.password, &a.ha1, self.secrets.entries.get(id)) {
                    (Some(p), _, _) => (
                        Secret::Password(p.clone()),
                        line_in_block(&self.text, id, "password"),
                    ),
                    (None, Some(h), _) => {
                        (Secret::Ha1(h.clone()), line_in_block(&self.text, id, "ha1"))
                    }
                    (None, None, Some((s, line))) => (s.clone(), *line),
                    _ => return None,
                };
                (secret.ha1(id, realm) == sip::auth::ha1(id, realm, id)).then_some((id, line))
            })
            .collect()
    }

    /// Checks of `[sip]` limits and of every SIP secret.
    pub(crate) fn validate_auth(&self, text: &str) -> Result<()> {
        let o = &self.origin;
        let s = &self.sip;
        for (free, lock, free_key, lock_key) in [
            (
                s.auth_source_free,
                s.auth_source_lock_after,
                "auth_source_free",
                "auth_source_lock_after",
            ),
            (
                s.auth_account_free,
                s.auth_account_lock_after,
                "auth_account_free",
                "auth_account_lock_after",
            ),
        ] {
            if lock == 0 || free >= lock {
                bail!(
                    "{o}:{}: [sip] {lock_key} ({lock}) must be above {free_key} ({free}): the free failures come first, then the delays, then the lock",
                    line_of_key(text, if lock == 0 { lock_key } else { free_key }),
                );
            }
        }
        for (value, key) in [
            (s.auth_lock_s, "auth_lock_s"),
            (s.nonce_ttl_s, "nonce_ttl_s"),
        ] {
            if value == 0 {
                bail!(
                    "{o}:{}: [sip] {key} must be at least 1 (seconds)",
                    line_of_key(text, key)
                );
            }
        }
        let realm = &s.realm;
        for a in &self.agents {
            if let Some(h) = &a.ha1 {
                let line = line_in_block(text, &a.id, "ha1");
                if a.password.is_some() {
                    bail!(
                        "{o}:{line}: agent {:?}: give `password` or `ha1`, not both",
                        a.id
                    );
                }
                if !is_ha1(h) {
                    bail!(
                        "{o}:{line}: agent {:?}: ha1 must be 32 hex digits, MD5({}:{realm}:password) (softswitch ha1 --user {} --realm {realm})",
                        a.id,
                        a.id,
                        a.id
                    );
                }
            }
        }
        for t in &self.trunks {
            if let Some(h) = &t.ha1 {
                let line = line_in_block(text, &t.name, "ha1");
                if t.password.is_some() {
                    bail!(
                        "{o}:{line}: trunk {:?}: give `password` or `ha1`, not both",
                        t.name
                    );
                }
                let user = t.username.as_deref().unwrap_or("USER");
                if !is_ha1(h) {
                    bail!(
                        "{o}:{line}: trunk {:?}: ha1 must be 32 hex digits, MD5({user}:{realm}:password) (softswitch ha1 --user {user} --realm {realm})",
                        t.name
                    );
                }
            }
        }
        if let Some(addr) = self.public_sip_addr() {
            if let Some((id, line)) = self.default_secret_agents().first() {
                let file = if self.secrets.has(id) {
                    self.secrets
                        .path
                        .as_ref()
                        .map_or(o.clone(), |p| p.display().to_string())
                } else {
                    o.clone()
                };
                bail!(
                    "{file}:{line}: agent {id:?}: its password is its id, a default secret, and SIP listens on {addr} (not loopback): give it a password of its own (better as `ha1`, see `softswitch ha1`)"
                );
            }
        }
        Ok(())
    }

    /// Refuse clear passwords in a configuration file every user can read
    /// while SIP listens beyond loopback.
    pub fn refuse_readable_clear_passwords(&self, path: &Path) -> Result<()> {
        let Some(addr) = self.public_sip_addr() else {
            return Ok(());
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 == 0 {
            return Ok(());
        }
        let agent = self.agents.iter().find(|a| a.password.is_some()).map(|a| {
            (
                line_in_block(&self.text, &a.id, "password"),
                format!("agent {:?}", a.id),
            )
        });
        let trunk = self.trunks.iter().find(|t| t.password.is_some()).map(|t| {
            (
                line_in_block(&self.text, &t.name, "password"),
                format!("trunk {:?}", t.name),
            )
        });
        let Some((line, who)) = [agent, trunk].into_iter().flatten().min() else {
            return Ok(());
        };
        bail!(
            "{}:{line}: {who}: a clear password in a file every user can read (mode {mode:04o}) while SIP listens on {addr} (not loopback): write `ha1 = \"...\"` instead (`softswitch ha1 --user ID --realm {}` prints it), or move the secrets to [sip] secrets_file (mode 0600)",
            path.display(),
            self.sip.realm
        )
    }

    /// Warnings to log once at start: default secrets on loopback.
    pub fn startup_warnings(&self) -> Vec<String> {
        let agents: Vec<&str> = self
            .default_secret_agents()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if agents.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "agents {} have their id as SIP password (the shipped default): accepted while SIP listens on loopback only, refused on any other address",
            agents.join(", ")
        )]
    }
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
