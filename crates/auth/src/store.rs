//! The account store: accounts and API tokens in `<data>/auth/accounts.json`
//! (mode 0600, replaced atomically and synced on every change), and the
//! operations on them. Every operation takes the time, so that expiry and
//! life-cycle rules are tested on a fake clock.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::account::{check_id, Account, AccountView, Disabled, NewAccount};
use crate::password;
use crate::role::{Role, Scope};
use crate::token::ApiToken;
use crate::AuthError;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Data {
    #[serde(default)]
    pub(crate) accounts: BTreeMap<String, Account>,
    #[serde(default)]
    pub(crate) tokens: BTreeMap<String, ApiToken>,
}

/// Accounts and tokens, shared behind an `Arc`. The file is the truth:
/// another process (`softswitch account ...` while softswitch runs) may
/// change it, so a change runs under an advisory lock on
/// `accounts.lock` and every access reloads the file when it changed.
pub struct AccountStore {
    path: PathBuf,
    pub(crate) data: Mutex<Data>,
    /// Modification time and length of the file as last read or written.
    stamp: Mutex<Option<(std::time::SystemTime, u64)>>,
    /// Minimum password length (CNIL: 12 at least).
    pub min_password_length: usize,
}

/// A temporary password: four groups like `Kp7x`, which satisfies the rules.
pub fn temporary_password() -> String {
    const UP: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOW: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIG: &[u8] = b"23456789";
    let mut rng = rand::rngs::OsRng;
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())] as char;
    (0..4)
        .map(|_| format!("{}{}{}{}", pick(UP), pick(LOW), pick(DIG), pick(LOW)))
        .collect::<Vec<_>>()
        .join("-")
}

impl AccountStore {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<AccountStore, AuthError> {
        std::fs::create_dir_all(dir)?;
        restrict_dir(dir);
        let path = dir.join("accounts.json");
        let data = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AuthError::Corrupt(format!(
                    "{}: {e} (restore it from a backup; softswitch will not start over it)",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::default(),
            Err(e) => return Err(e.into()),
        };
        let store = AccountStore {
            path,
            data: Mutex::new(data),
            stamp: Mutex::new(None),
            min_password_length: 12,
        };
        *store.stamp.lock().expect("stamp lock") = store.file_stamp();
        Ok(store)
    }

    fn file_stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// The data, read again if another process changed the file.
    pub(crate) fn lock_fresh(&self) -> std::sync::MutexGuard<'_, Data> {
        let mut data = self.data.lock().expect("account store lock");
        let now = self.file_stamp();
        let mut stamp = self.stamp.lock().expect("stamp lock");
        if now.is_some() && now != *stamp {
            match std::fs::read(&self.path).map(|b| serde_json::from_slice::<Data>(&b)) {
                Ok(Ok(d)) => {
                    *data = d;
                    *stamp = now;
                    tracing::info!(path = %self.path.display(), "account store changed on disk: read again");
                }
                Ok(Err(e)) => {
                    tracing::error!(path = %self.path.display(), error = %e, "account store changed on disk but unreadable: keeping the accounts in memory")
                }
                Err(e) => {
                    tracing::error!(path = %self.path.display(), error = %e, "account store unreadable")
                }
            }
        }
        data
    }

    /// The path of `accounts.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write the whole store: temporary file, sync, rename, sync the folder.
    pub(crate) fn save(&self, data: &Data) -> Result<(), AuthError> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes =
            serde_json::to_vec_pretty(data).map_err(|e| AuthError::Corrupt(e.to_string()))?;
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).write(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        *self.stamp.lock().expect("stamp lock") = self.file_stamp();
        Ok(())
    }

    /// Run `f` on the data and save when it succeeds.
    pub(crate) fn change<T>(
        &self,
        f: impl FnOnce(&mut Data) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let _lock = FileLock::take(&self.path.with_extension("lock"))?;
        let mut data = self.lock_fresh();
        let out = f(&mut data)?;
        self.save(&data)?;
        Ok(out)
    }

    /// No account at all yet (a new install).
    pub fn is_empty(&self) -> bool {
        self.lock_fresh().accounts.is_empty()
    }

    /// The account of `id`, if any.
    pub fn get(&self, id: &str) -> Option<Account> {
        self.lock_fresh().accounts.get(id).cloned()
    }

    /// Every account as shown, by id.
    pub fn list(&self) -> Vec<AccountView> {
        let d = self.lock_fresh();
        d.accounts.values().map(Account::view).collect()
    }

    /// Create an account with `password`, or a temporary one (returned) to
    /// change at first login.
    pub fn add(
        &self,
        new: NewAccount,
        password: Option<&str>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(AccountView, Option<String>), AuthError> {
        check_id(&new.id)?;
        if let Some(a) = &new.agent {
            if new.role != Role::Agent {
                return Err(AuthError::Invalid(format!(
                    "\"agent\": {a:?} goes with the agent role only"
                )));
            }
        }
        let (pw, temp) = match password {
            Some(p) => {
                password::check_rules(p, &new.id, self.min_password_length)?;
                (p.to_string(), None)
            }
            None => {
                let t = temporary_password();
                (t.clone(), Some(t))
            }
        };
        let hash = password::hash(&pw);
        self.change(|d| {
            if d.accounts.contains_key(&new.id) {
                return Err(AuthError::Exists(new.id.clone()));
            }
            let mut a = Account::new(&new.id, &new.name, new.role, new.queues, by, now);
            a.recordings = new.recordings;
            a.agent = new.agent;
            a.password = Some(hash);
            a.must_change = temp.is_some();
            a.password_changed_at = Some(now);
            let v = a.view();
            d.accounts.insert(new.id.clone(), a);
            Ok((v, temp))
        })
    }

    /// The bootstrap administrator of a new install: `admin` with a
    /// password to change at first login.
    pub fn bootstrap_admin(&self, password: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        let hash = password::hash(password);
        self.change(|d| {
            if !d.accounts.is_empty() {
                return Ok(());
            }
            let mut a = Account::new(
                "admin",
                "Administrateur (amorçage)",
                Role::Admin,
                Scope::all(),
                "bootstrap",
                now,
            );
            a.password = Some(hash);
            a.must_change = true;
            d.accounts.insert(a.id.clone(), a);
            Ok(())
        })
    }

    fn with_account<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Account) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        self.change(|d| {
            let a = d
                .accounts
                .get_mut(id)
                .ok_or_else(|| AuthError::NotFound(id.to_string()))?;
            f(a)
        })
    }

    /// Disable an account (it cannot sign in; its tokens stop working).
    pub fn disable(
        &self,
        id: &str,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<AccountView, AuthError> {
        self.with_account(id, |a| {
            a.disabled = Some(Disabled {
                at: now,
                reason: reason.to_string(),
                by: by.to_string(),
            });
            Ok(a.view())
        })
    }

    /// Enable a disabled account again; its inactivity clock restarts.
    pub fn enable(&self, id: &str, now: DateTime<Utc>) -> Result<AccountView, AuthError> {
        self.with_account(id, |a| {
            a.disabled = None;
            a.enabled_at = Some(now);
            Ok(a.view())
        })
    }

    /// Remove an account and its tokens for good.
    pub fn remove(&self, id: &str) -> Result<AccountView, AuthError> {
        self.change(|d| {
            let a = d
                .accounts
                .remove(id)
                .ok_or_else(|| AuthError::NotFound(id.to_string()))?;
            d.tokens.retain(|_, t| t.account != id);
            Ok(a.view())
        })
    }

    /// A new temporary password, to change at the next login.
    pub fn reset_password(&self, id: &str, now: DateTime<Utc>) -> Result<String, AuthError> {
        let temp = temporary_password();
        let hash = password::hash(&temp);
        self.with_account(id, |a| {
            a.set_password(hash, true, now);
            Ok(temp)
        })
    }

    /// Change role, scope or grants.
    pub fn set_role(
        &self,
        id: &str,
        role: Role,
        queues: Option<Scope>,
        recordings: Option<bool>,
    ) -> Result<AccountView, AuthError> {
        self.change(|d| {
            let a = d
                .accounts
                .get_mut(id)
                .ok_or_else(|| AuthError::NotFound(id.to_string()))?;
            a.role = role;
            if let Some(q) = queues {
                a.queues = q;
            }
            if let Some(r) = recordings {
                a.recordings = r;
            }
            if role != Role::Agent {
                a.agent = None;
            }
            let v = a.view();
            // Tokens never carry more than their account.
            for t in d.tokens.values_mut().filter(|t| t.account == id) {
                if !role.covers(t.role) {
                    t.role = role;
                }
            }
            Ok(v)
        })
    }

    /// Check a password (no limits here: the caller throttles). The
    /// account, when the password is right and the account enabled.
    pub fn check_password(&self, id: &str, password: &str) -> Result<Account, AuthError> {
        let Some(a) = self.get(id) else {
            password::verify_nothing(password);
            return Err(AuthError::Denied);
        };
        let Some(hash) = &a.password else {
            password::verify_nothing(password);
            return Err(AuthError::Denied);
        };
        if !password::verify(password, hash) {
            return Err(AuthError::Denied);
        }
        if let Some(d) = &a.disabled {
            return Err(AuthError::Disabled(d.reason.clone()));
        }
        Ok(a)
    }

    /// Set a new password, checked against the rules and the last 5.
    pub fn change_password(
        &self,
        id: &str,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let a = self.check_password(id, old)?;
        password::check_rules(new, id, self.min_password_length)?;
        if a.password
            .iter()
            .chain(a.history.iter())
            .any(|h| password::verify(new, h))
        {
            return Err(AuthError::WeakPassword(
                "this password was used recently: choose one different from the last 5".into(),
            ));
        }
        let hash = password::hash(new);
        self.with_account(id, |a| {
            a.set_password(hash, false, now);
            Ok(())
        })
    }

    /// Note a successful login.
    pub fn logged_in(&self, id: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        self.with_account(id, |a| {
            a.last_login_at = Some(now);
            Ok(())
        })
    }

    /// Disable every enabled account unused for `days`; their ids.
    pub fn disable_inactive(
        &self,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, AuthError> {
        if days == 0 {
            return Ok(Vec::new());
        }
        let limit = Duration::days(days as i64);
        self.change(|d| {
            let mut out = Vec::new();
            for a in d.accounts.values_mut() {
                if a.disabled.is_none() && now - a.active_since() > limit {
                    a.disabled = Some(Disabled {
                        at: now,
                        reason: format!("unused for {days} days"),
                        by: "softswitch".into(),
                    });
                    out.push(a.id.clone());
                }
            }
            Ok(out)
        })
    }

    /// The account an SSO login maps to, made or updated from the identity
    /// provider's claims. A local account of the same id that is not an SSO
    /// account is never taken over.
    pub fn sso_account(
        &self,
        subject: &str,
        id: &str,
        name: &str,
        role: Role,
        queues: Scope,
        now: DateTime<Utc>,
    ) -> Result<Account, AuthError> {
        check_id(id)?;
        self.change(|d| {
            let a = d.accounts.entry(id.to_string()).or_insert_with(|| {
                let mut a = Account::new(id, name, role, queues.clone(), "sso", now);
                a.sso = Some(subject.to_string());
                a
            });
            if a.sso.as_deref() != Some(subject) {
                return Err(AuthError::Invalid(format!(
                    "the local account {id:?} is not linked to this identity: ask an administrator"
                )));
            }
            if let Some(dis) = &a.disabled {
                return Err(AuthError::Disabled(dis.reason.clone()));
            }
            // The identity provider is the source of truth for its accounts.
            a.name = name.to_string();
            a.role = role;
            a.queues = queues;
            a.last_login_at = Some(now);
            Ok(a.clone())
        })
    }
}

/// The folder holds secrets: owner only.
fn restrict_dir(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
}

/// An exclusive advisory lock (flock) on a file, released on drop.
struct FileLock(std::fs::File);

impl FileLock {
    fn take(path: &Path) -> std::io::Result<FileLock> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor we own; no memory is involved.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(FileLock(f))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: as above.
            unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}
