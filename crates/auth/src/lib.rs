//! Who may do what: named accounts with roles and queue scopes, CNIL
//! passwords hashed with argon2id, TOTP second factor and recovery codes,
//! browser sessions, API tokens, login failure limits, OpenID Connect
//! sign-in, and the hash-chained audit log.
//!
//! The key decision: nothing here trusts a name the client gives. Every
//! action is tied to an account proven by a password and second factor, an
//! identity provider, or a token, and the audit log records that account;
//! the log's lines chain by hash so that a changed past shows.
//! Time is always an argument, so that expiry and locks are tested on a
//! fake clock.
#![warn(missing_docs)]

mod account;
pub mod audit;
mod credentials;
mod login;
pub mod oidc;
mod password;
mod role;
mod session;
pub mod store;
pub mod token;
pub mod totp;

pub use account::{Account, AccountView, NewAccount};
pub use audit::{Audit, Entry};
pub use credentials::MAX_TOKEN_DAYS;
pub use login::{next_stage, Logins};
pub use role::{Perm, Role, Scope};
pub use session::{Session, Sessions, Stage, Via};
pub use store::AccountStore;
pub use token::ApiToken;

use std::time::Duration;

/// What can go wrong; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Same message for an unknown account and a wrong password.
    #[error("wrong account or password")]
    Denied,
    /// Too many recent failures: how long to wait before the next try
    /// (rounded up to the second).
    #[error("too many failures: try again in {} s", .0.as_secs())]
    Throttled(Duration),
    /// Locked after repeated failures (for this account from this source,
    /// or for the whole source): the time the lock has left.
    #[error("too many failures: locked for {} min", .0.as_secs().div_ceil(60))]
    Locked(Duration),
    /// The account is disabled; holds the reason recorded when it was.
    #[error("this account is disabled ({0}): ask an administrator")]
    Disabled(String),
    /// A new password breaks the rules (length and character classes, account
    /// name, common word, one of the last 5); the message says which.
    #[error("password refused: {0}")]
    WeakPassword(String),
    /// A refused input or step (bad id, wrong TOTP code, no enrolment under
    /// way, bad token name or expiry...); the message says what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// No such account (or `token <id>` for a token); holds what was asked for.
    #[error("no account {0:?}")]
    NotFound(String),
    /// An account with this id exists already; holds the id.
    #[error("account {0:?} exists already")]
    Exists(String),
    /// Beyond what the account may do (e.g. a token above its own role);
    /// the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// The account store file cannot be parsed or serialised; the message
    /// names the file (restore it from a backup).
    #[error("account store unreadable: {0}")]
    Corrupt(String),
    /// Reading or writing the account store failed.
    #[error("account store: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests;
