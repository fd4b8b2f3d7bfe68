//! Logins with failure limits: the same answer for an unknown account and a
//! wrong password; after 5 failures for one account from one source a
//! growing delay, then 15 minutes locked; a source that fails on many
//! accounts is locked as well. Every failure is logged; a lock once.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sip::throttle::{Gate, Policy, Throttle};

use crate::account::Account;
use crate::role::Role;
use crate::session::Stage;
use crate::store::AccountStore;
use crate::AuthError;

/// Failure limits for logins and second factors.
pub struct Logins {
    by_account: Mutex<Throttle<(String, IpAddr)>>,
    by_source: Mutex<Throttle<IpAddr>>,
}

impl Default for Logins {
    fn default() -> Self {
        Logins::new(Policy::default())
    }
}

impl Logins {
    /// `policy` applies per account and source; a source alone gets ten
    /// times the free tries before the same treatment.
    pub fn new(policy: Policy) -> Logins {
        let per_source = Policy {
            free: policy.free * 10,
            lock_after: policy.lock_after * 10,
            ..policy.clone()
        };
        Logins {
            by_account: Mutex::new(Throttle::new(policy)),
            by_source: Mutex::new(Throttle::new(per_source)),
        }
    }

    fn gate(&self, key: &(String, IpAddr), now: Instant) -> Gate {
        let a = self
            .by_account
            .lock()
            .expect("login throttle")
            .check(key, now);
        let s = self
            .by_source
            .lock()
            .expect("login throttle")
            .check(&key.1, now);
        match (a, s) {
            (Gate::Open, g) | (g, Gate::Open) => g,
            (a, s) => {
                if a.retry_after() >= s.retry_after() {
                    a
                } else {
                    s
                }
            }
        }
    }

    fn refused(gate: Gate) -> AuthError {
        match gate {
            Gate::Locked(d) => AuthError::Locked(round_up(d)),
            other => AuthError::Throttled(round_up(other.retry_after())),
        }
    }

    fn fail(&self, key: (String, IpAddr), what: &str, now: Instant) {
        let source = key.1;
        let account = key.0.clone();
        let f = self
            .by_account
            .lock()
            .expect("login throttle")
            .failure(key, now);
        let s = self
            .by_source
            .lock()
            .expect("login throttle")
            .failure(source, now);
        tracing::warn!(%account, %source, failures = f.count, "{what} failed");
        if f.locked_now {
            tracing::warn!(%account, %source, minutes = f.gate.retry_after().as_secs() / 60, "login locked for this account from this source");
        }
        if s.locked_now {
            tracing::warn!(%source, failures = s.count, minutes = s.gate.retry_after().as_secs() / 60, "login locked for every account from this source");
        }
    }

    /// Check a password; the account when it is right.
    pub fn password(
        &self,
        store: &AccountStore,
        id: &str,
        password: &str,
        source: IpAddr,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<Account, AuthError> {
        let key = (id.trim().to_lowercase(), source);
        let gate = self.gate(&key, now);
        if !gate.is_open() {
            tracing::info!(account = %key.0, %source, "login refused while limited");
            return Err(Self::refused(gate));
        }
        match store.check_password(&key.0, password) {
            Ok(a) => {
                self.by_account
                    .lock()
                    .expect("login throttle")
                    .success(&key);
                store.logged_in(&a.id, wall)?;
                Ok(a)
            }
            Err(AuthError::Disabled(why)) => {
                tracing::warn!(account = %key.0, %source, reason = %why, "login to a disabled account");
                Err(AuthError::Disabled(why))
            }
            Err(e) => {
                self.fail(key, "login", now);
                Err(e)
            }
        }
    }

    /// Check a second factor under the same limits.
    pub fn second_factor(
        &self,
        store: &AccountStore,
        id: &str,
        code: &str,
        source: IpAddr,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        let key = (id.to_string(), source);
        let gate = self.gate(&key, now);
        if !gate.is_open() {
            return Err(Self::refused(gate));
        }
        match store.second_factor(id, code, wall) {
            Ok(recovery) => {
                self.by_account
                    .lock()
                    .expect("login throttle")
                    .success(&key);
                if recovery {
                    tracing::warn!(account = %id, %source, "signed in with a recovery code");
                }
                Ok(recovery)
            }
            Err(e) => {
                self.fail(key, "second factor", now);
                Err(e)
            }
        }
    }

    /// Lift the limits on an account (password reset by an administrator).
    pub fn unlock(&self, id: &str) {
        self.by_account
            .lock()
            .expect("login throttle")
            .forget(|(a, _)| a == id);
    }

    /// Accounts-and-sources and sources locked now.
    pub fn locked(&self, now: Instant) -> (usize, usize) {
        (
            self.by_account.lock().expect("login throttle").locked(now),
            self.by_source.lock().expect("login throttle").locked(now),
        )
    }
}

fn round_up(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// Where a login that passed its password goes next.
pub fn next_stage(a: &Account, totp_required: &[Role]) -> Stage {
    if a.must_change {
        Stage::ChangePassword
    } else if a.totp.is_some() {
        Stage::Totp
    } else if totp_required.contains(&a.role) {
        Stage::EnrolTotp
    } else {
        Stage::Ready
    }
}
