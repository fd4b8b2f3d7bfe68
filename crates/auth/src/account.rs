//! An account: who a person is to softswitch, their role and scope, their
//! password hash and history, second factor, and life cycle (created,
//! last login, disabled).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::role::{Role, Scope};
use crate::AuthError;

/// How many passwords back a new one may not repeat (CNIL: the last 5,
/// the current one included).
pub const HISTORY: usize = 5;

/// A stored account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// The login: lower-case letters, digits, `.`, `_`, `-`, `@`.
    pub id: String,
    /// Full name, shown in pages and the audit export.
    #[serde(default)]
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// Queues the account is limited to (empty: all).
    #[serde(default)]
    pub queues: Scope,
    /// Recordings granted (the client role sees none without).
    #[serde(default)]
    pub recordings: bool,
    /// The ACD agent an `agent` account is (default: the same id).
    #[serde(default)]
    pub agent: Option<String>,
    /// argon2id PHC string; `None` for an account that signs in only by SSO.
    #[serde(default)]
    pub password: Option<String>,
    /// Earlier password hashes, newest first (at most `HISTORY - 1`).
    #[serde(default)]
    pub history: Vec<String>,
    /// The password is temporary: it must be changed at the next login.
    #[serde(default)]
    pub must_change: bool,
    /// When the password was last set (creation or change); `None` when
    /// never set that way (bootstrap or SSO-only account).
    #[serde(default)]
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Base32 TOTP secret once enrolled.
    #[serde(default)]
    pub totp: Option<String>,
    /// A secret shown for enrolment, not confirmed yet.
    #[serde(default)]
    pub totp_pending: Option<String>,
    /// Time step of the last code accepted (each code is used once).
    #[serde(default)]
    pub totp_last_step: Option<u64>,
    /// SHA-256 of the unused recovery codes.
    #[serde(default)]
    pub recovery: Vec<String>,
    /// `issuer#subject` for an account made by an SSO login.
    #[serde(default)]
    pub sso: Option<String>,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// Who made it: an account id, `cli:<user>`, `bootstrap` or `sso`.
    #[serde(default)]
    pub created_by: String,
    /// Last successful sign-in (password or SSO); `None` before the first.
    #[serde(default)]
    pub last_login_at: Option<DateTime<Utc>>,
    /// When it was last enabled again (the inactivity clock restarts).
    #[serde(default)]
    pub enabled_at: Option<DateTime<Utc>>,
    /// Set while the account is disabled (why, when, by whom); `None`: enabled.
    #[serde(default)]
    pub disabled: Option<Disabled>,
}

/// Why and when an account was disabled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Disabled {
    pub at: DateTime<Utc>,
    pub reason: String,
    pub by: String,
}

impl Account {
    /// A new enabled account with no password, second factor or login yet.
    pub fn new(
        id: &str,
        name: &str,
        role: Role,
        queues: Scope,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> Account {
        Account {
            id: id.to_string(),
            name: name.to_string(),
            role,
            queues,
            recordings: false,
            agent: None,
            password: None,
            history: Vec::new(),
            must_change: false,
            password_changed_at: None,
            totp: None,
            totp_pending: None,
            totp_last_step: None,
            recovery: Vec::new(),
            sso: None,
            created_at: now,
            created_by: created_by.to_string(),
            last_login_at: None,
            enabled_at: None,
            disabled: None,
        }
    }

    /// A new password hash; the old one goes to the history. `temporary`:
    /// to change at the next login.
    pub(crate) fn set_password(&mut self, hash: String, temporary: bool, now: DateTime<Utc>) {
        if let Some(old) = self.password.take() {
            self.history.insert(0, old);
            self.history.truncate(HISTORY - 1);
        }
        self.password = Some(hash);
        self.must_change = temporary;
        self.password_changed_at = Some(now);
    }

    /// The last sign of life: login, creation or re-enabling.
    pub fn active_since(&self) -> DateTime<Utc> {
        [Some(self.created_at), self.last_login_at, self.enabled_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.created_at)
    }

    /// The ACD agent this account is, for the agent role.
    pub fn agent_id(&self) -> &str {
        self.agent.as_deref().unwrap_or(&self.id)
    }

    /// What the API and pages show: no hashes, no secrets.
    pub fn view(&self) -> AccountView {
        AccountView {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            queues: self.queues.clone(),
            recordings: self.recordings,
            agent: self.agent.clone(),
            local_password: self.password.is_some(),
            must_change: self.must_change,
            totp: self.totp.is_some(),
            recovery_codes_left: self.recovery.len(),
            sso: self.sso.is_some(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            last_login_at: self.last_login_at,
            disabled: self.disabled.clone(),
        }
    }
}

/// An account as shown.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// The login.
    pub id: String,
    /// Full name.
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// Queues the account is limited to (empty: all).
    pub queues: Scope,
    /// Recordings granted.
    pub recordings: bool,
    /// The ACD agent id, when set apart from the account id.
    pub agent: Option<String>,
    /// The account has a local password (false: SSO only).
    pub local_password: bool,
    /// The password is temporary: to change at the next login.
    pub must_change: bool,
    /// A TOTP second factor is enrolled.
    pub totp: bool,
    /// How many recovery codes are still unused.
    pub recovery_codes_left: usize,
    /// Made by an SSO login and linked to its identity.
    pub sso: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// Last successful sign-in; `None` before the first.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Why, when and by whom it was disabled; `None`: enabled.
    pub disabled: Option<Disabled>,
}

/// What `add` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The login: 2 to 64 of `a-z 0-9 . _ - @`, starting with a letter or digit.
    pub id: String,
    /// Full name (default: empty).
    #[serde(default)]
    pub name: String,
    /// The role given.
    pub role: Role,
    /// Queues the account is limited to (default: all).
    #[serde(default)]
    pub queues: Scope,
    /// Grant recordings (default: no).
    #[serde(default)]
    pub recordings: bool,
    /// The ACD agent id, for the agent role only (default: the account id).
    #[serde(default)]
    pub agent: Option<String>,
}

/// Check an account id: 2 to 64 of `a-z 0-9 . _ - @`, starting with a letter or digit.
pub fn check_id(id: &str) -> Result<(), AuthError> {
    let ok = (2..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c))
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "account id {id:?}: 2 to 64 characters among a-z, 0-9, '.', '_', '-', '@', starting with a letter or digit"
        )))
    }
}
