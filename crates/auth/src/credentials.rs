//! Second factors and API tokens, kept in the account store: TOTP
//! enrolment and checks, recovery codes, and tokens made, checked and
//! revoked.

use chrono::{DateTime, Duration, Utc};

use crate::account::Account;
use crate::role::{Role, Scope};
use crate::store::AccountStore;
use crate::token::{self, ApiToken};
use crate::totp;
use crate::AuthError;

/// Longest life of an API token.
pub const MAX_TOKEN_DAYS: u32 = 730;

impl AccountStore {
    /// Start (or restart) TOTP enrolment: a new pending secret.
    pub fn totp_begin(&self, id: &str) -> Result<String, AuthError> {
        let secret = totp::new_secret();
        self.change(|d| {
            let a = d
                .accounts
                .get_mut(id)
                .ok_or_else(|| AuthError::NotFound(id.into()))?;
            a.totp_pending = Some(secret.clone());
            Ok(secret)
        })
    }

    /// Confirm enrolment with a first code: the secret becomes the
    /// account's, and ten recovery codes are returned (shown once).
    pub fn totp_confirm(
        &self,
        id: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, AuthError> {
        let (codes, hashes) = totp::recovery_codes();
        self.change(|d| {
            let a = d
                .accounts
                .get_mut(id)
                .ok_or_else(|| AuthError::NotFound(id.into()))?;
            let secret = a.totp_pending.clone().ok_or_else(|| {
                AuthError::Invalid("no enrolment under way: start it again".into())
            })?;
            let step = totp::check(&secret, code, now.timestamp() as u64, None)?;
            a.totp = Some(secret);
            a.totp_pending = None;
            a.totp_last_step = Some(step);
            a.recovery = hashes;
            Ok(codes)
        })
    }

    /// Check a second factor: a TOTP code, or one of the recovery codes
    /// (then spent). Returns whether a recovery code was used.
    pub fn second_factor(
        &self,
        id: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        self.change(|d| {
            let a = d
                .accounts
                .get_mut(id)
                .ok_or_else(|| AuthError::NotFound(id.into()))?;
            let secret = a
                .totp
                .clone()
                .ok_or_else(|| AuthError::Invalid("no second factor enrolled".into()))?;
            let digits = code.chars().filter(|c| !c.is_whitespace()).count() == 6
                && code
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .all(|c| c.is_ascii_digit());
            if digits {
                let step = totp::check(&secret, code, now.timestamp() as u64, a.totp_last_step)?;
                a.totp_last_step = Some(step);
                return Ok(false);
            }
            let h = totp::recovery_hash(code);
            match a
                .recovery
                .iter()
                .position(|r| token::constant_time_eq(r.as_bytes(), h.as_bytes()))
            {
                Some(i) => {
                    a.recovery.remove(i);
                    Ok(true)
                }
                None => Err(AuthError::Invalid("wrong code".into())),
            }
        })
    }

    /// Remove an account's second factor (an administrator, for a lost
    /// phone): it enrols again at the next login.
    pub fn totp_reset(&self, id: &str) -> Result<(), AuthError> {
        self.change(|d| {
            let a = d
                .accounts
                .get_mut(id)
                .ok_or_else(|| AuthError::NotFound(id.into()))?;
            a.totp = None;
            a.totp_pending = None;
            a.totp_last_step = None;
            a.recovery.clear();
            Ok(())
        })
    }

    /// Make an API token for `account`, at most its own role and scope.
    /// The full token string is returned once; only its hash is kept.
    pub fn token_create(
        &self,
        account: &str,
        name: &str,
        role: Option<Role>,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<(ApiToken, String), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 80 {
            return Err(AuthError::Invalid(
                "a token needs a name of 1 to 80 characters (what it is for)".into(),
            ));
        }
        if days == 0 || days > MAX_TOKEN_DAYS {
            return Err(AuthError::Invalid(format!(
                "expiry: 1 to {MAX_TOKEN_DAYS} days"
            )));
        }
        let (id, full, hash) = token::new_token();
        self.change(|d| {
            let a = d
                .accounts
                .get(account)
                .ok_or_else(|| AuthError::NotFound(account.into()))?;
            let role = role.unwrap_or(a.role);
            if !a.role.covers(role) {
                return Err(AuthError::Forbidden(format!(
                    "a {} account cannot make a {} token",
                    a.role, role
                )));
            }
            let t = ApiToken {
                id: id.clone(),
                name: name.to_string(),
                account: account.to_string(),
                role,
                queues: a.queues.clone(),
                created_at: now,
                expires_at: now + Duration::days(days as i64),
                revoked_at: None,
                last_used_at: None,
                secret_sha256: hash,
            };
            d.tokens.insert(id, t.clone());
            Ok((t, full))
        })
    }

    /// The token and its account, when `full` is a live token of an
    /// enabled account.
    pub fn token_check(&self, full: &str, now: DateTime<Utc>) -> Option<(ApiToken, Account)> {
        let (id, secret) = token::parse_token(full)?;
        let hash = token::sha256_hex(secret);
        let mut d = self.lock_fresh();
        let t = d.tokens.get(id)?;
        if !token::constant_time_eq(t.secret_sha256.as_bytes(), hash.as_bytes()) || !t.is_live(now)
        {
            return None;
        }
        let a = d.accounts.get(&t.account)?.clone();
        if a.disabled.is_some() {
            return None;
        }
        // Last use is kept to the hour, so that a busy token does not
        // rewrite the store at every request.
        let stale = t.last_used_at.is_none_or(|l| now - l > Duration::hours(1));
        let t = if stale {
            let t = d.tokens.get_mut(id)?;
            t.last_used_at = Some(now);
            let t = t.clone();
            if let Err(e) = self.save(&d) {
                tracing::warn!(error = %e, "cannot note a token's last use");
            }
            t
        } else {
            t.clone()
        };
        let mut t = t;
        // The account's scope and role today bound what the token may do.
        t.queues = narrower(&t.queues, &a.queues);
        if !a.role.covers(t.role) {
            t.role = a.role;
        }
        Some((t, a))
    }

    /// Revoke a token; `account` limits it to that account's own tokens.
    pub fn token_revoke(
        &self,
        id: &str,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, AuthError> {
        self.change(|d| {
            let t = d
                .tokens
                .get_mut(id)
                .filter(|t| account.is_none_or(|a| t.account == a))
                .ok_or_else(|| AuthError::NotFound(format!("token {id}")))?;
            if t.revoked_at.is_none() {
                t.revoked_at = Some(now);
            }
            Ok(t.clone())
        })
    }

    /// Tokens, of one account or of all.
    pub fn tokens(&self, account: Option<&str>) -> Vec<ApiToken> {
        let d = self.lock_fresh();
        d.tokens
            .values()
            .filter(|t| account.is_none_or(|a| t.account == a))
            .cloned()
            .collect()
    }
}

/// The narrower of two scopes (all is the widest).
fn narrower(a: &Scope, b: &Scope) -> Scope {
    match (a.is_all(), b.is_all()) {
        (true, _) => b.clone(),
        (_, true) => a.clone(),
        _ => Scope(a.0.iter().filter(|q| b.0.contains(q)).cloned().collect()),
    }
}
