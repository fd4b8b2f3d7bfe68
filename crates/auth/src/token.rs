//! API tokens and random secrets. A token reads `sst_<id>_<secret>`: the id
//! finds the stored entry, the secret is kept only as its SHA-256 (a random
//! 256-bit secret needs no slow hash).

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::role::{Role, Scope};

/// `n` random bytes, URL-safe base64 without padding.
pub fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// `n` random bytes in hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of `s`, in lower-case hex.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Compare without leaking where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A stored API token (the secret itself is shown once, at creation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiToken {
    /// The id in `sst_<id>_<secret>` (12 hex digits).
    pub id: String,
    /// What it is for ("wallboard TV", "SLA export"...).
    pub name: String,
    /// The account it acts for.
    pub account: String,
    /// At most the account's own role.
    pub role: Role,
    /// Queues it is limited to (at most its account's, checked at each use).
    #[serde(default)]
    pub queues: Scope,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked; `None` while not revoked.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use, to the hour; `None` if never used.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// SHA-256 of the secret part, hex.
    pub secret_sha256: String,
}

impl ApiToken {
    /// Neither revoked nor expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A new token: its id, the full string to hand over, and the secret's hash.
pub fn new_token() -> (String, String, String) {
    let id = random_hex(6);
    let secret = random_b64(32);
    let full = format!("sst_{id}_{secret}");
    (id, full, sha256_hex(&secret))
}

/// Split `sst_<id>_<secret>`.
pub fn parse_token(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("sst_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_hash() {
        let (id, full, h) = new_token();
        let (pid, secret) = parse_token(&full).unwrap();
        assert_eq!(pid, id);
        assert_eq!(sha256_hex(secret), h);
        assert!(parse_token("Bearer x").is_none());
        assert!(parse_token("sst__x").is_none());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }
}
