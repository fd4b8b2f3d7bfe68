//! Browser sessions: an opaque cookie value (only its hash is kept), the
//! step the login has reached (password change, second factor, ready), a
//! CSRF token for every change, and expiry after idle time and at an
//! absolute limit. Held in memory: a restart signs everyone out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::role::{Role, Scope};
use crate::token::{constant_time_eq, random_b64, sha256_hex};

/// Where a signed-in browser stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The password is temporary: only the change-password page.
    ChangePassword,
    /// The role needs a second factor and none is enrolled yet.
    EnrolTotp,
    /// Password right; the TOTP code is still to come.
    Totp,
    /// Fully signed in.
    Ready,
}

/// How the session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A local password (and second factor when required).
    Password,
    /// An OpenID Connect identity provider.
    Sso,
}

/// One browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account id.
    pub account: String,
    /// The account's full name.
    pub name: String,
    /// The account's role when the session was opened.
    pub role: Role,
    /// Queues the account was limited to when the session was opened.
    pub queues: Scope,
    /// Recordings granted to the account.
    pub recordings: bool,
    /// The ACD agent id for the agent role; `None` for other roles.
    pub agent: Option<String>,
    /// How far the login has got.
    pub stage: Stage,
    /// How the session was opened.
    pub via: Via,
    /// The token every change must carry; new at each stage advance.
    pub csrf: String,
    /// The client address that opened the session.
    pub source: IpAddr,
    /// When the session was opened (the absolute limit runs from here).
    pub created: DateTime<Utc>,
    /// Last use (the idle limit runs from here).
    pub last_seen: DateTime<Utc>,
}

impl Session {
    /// A session of `a` at `stage` (its cookie and CSRF token are made by
    /// [`Sessions::open`]).
    pub fn new(
        a: &crate::Account,
        stage: Stage,
        via: Via,
        source: IpAddr,
        now: DateTime<Utc>,
    ) -> Session {
        Session {
            account: a.id.clone(),
            name: a.name.clone(),
            role: a.role,
            queues: a.queues.clone(),
            recordings: a.recordings,
            agent: (a.role == Role::Agent).then(|| a.agent_id().to_string()),
            stage,
            via,
            csrf: String::new(),
            source,
            created: now,
            last_seen: now,
        }
    }
}

/// Sessions by the hash of their cookie value.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// A session unused for longer than this expires.
    pub idle: Duration,
    /// A session older than this expires, however busy.
    pub absolute: Duration,
}

impl Sessions {
    /// No sessions yet, with the idle and absolute limits.
    pub fn new(idle: Duration, absolute: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            absolute,
        }
    }

    /// Open a session; the cookie value to set (shown once).
    pub fn open(&self, mut s: Session, now: DateTime<Utc>) -> String {
        let cookie = random_b64(32);
        s.csrf = random_b64(24);
        s.created = now;
        s.last_seen = now;
        let mut m = self.map.lock().expect("sessions lock");
        m.retain(|_, s| !self.expired(s, now));
        m.insert(sha256_hex(&cookie), s);
        cookie
    }

    fn expired(&self, s: &Session, now: DateTime<Utc>) -> bool {
        now - s.last_seen > self.idle || now - s.created > self.absolute
    }

    /// The live session of a cookie value; marks it seen.
    pub fn get(&self, cookie: &str, now: DateTime<Utc>) -> Option<Session> {
        let key = sha256_hex(cookie);
        let mut m = self.map.lock().expect("sessions lock");
        let s = m.get_mut(&key)?;
        if self.expired(s, now) {
            m.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Move a session on to `stage`, with a new cookie value (no session
    /// fixation across a privilege change); the new cookie.
    pub fn advance(&self, cookie: &str, stage: Stage, now: DateTime<Utc>) -> Option<String> {
        let mut m = self.map.lock().expect("sessions lock");
        let mut s = m.remove(&sha256_hex(cookie))?;
        if self.expired(&s, now) {
            return None;
        }
        s.stage = stage;
        s.last_seen = now;
        s.csrf = random_b64(24);
        let fresh = random_b64(32);
        m.insert(sha256_hex(&fresh), s);
        Some(fresh)
    }

    /// Does `given` match the session's CSRF token?
    pub fn csrf_ok(s: &Session, given: &str) -> bool {
        constant_time_eq(s.csrf.as_bytes(), given.as_bytes())
    }

    /// Close the session of a cookie value (sign-out); nothing if none.
    pub fn close(&self, cookie: &str) {
        self.map
            .lock()
            .expect("sessions lock")
            .remove(&sha256_hex(cookie));
    }

    /// Close every session of an account (disabled, password reset, role
    /// changed); how many.
    pub fn close_account(&self, account: &str) -> usize {
        let mut m = self.map.lock().expect("sessions lock");
        let before = m.len();
        m.retain(|_, s| s.account != account);
        before - m.len()
    }

    /// Sessions open now, per account (the console's "who is connected").
    pub fn open_sessions(&self, now: DateTime<Utc>) -> Vec<Session> {
        let m = self.map.lock().expect("sessions lock");
        m.values()
            .filter(|s| !self.expired(s, now))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: DateTime<Utc>) -> Session {
        Session {
            account: "marie".into(),
            name: "Marie".into(),
            role: Role::Supervisor,
            queues: Scope::all(),
            recordings: false,
            agent: None,
            stage: Stage::Totp,
            via: Via::Password,
            csrf: String::new(),
            source: "127.0.0.1".parse().unwrap(),
            created: now,
            last_seen: now,
        }
    }

    #[test]
    fn idle_and_absolute_expiry_on_a_fake_clock() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-04T09:00:00Z")
            .unwrap()
            .to_utc();
        let s = Sessions::new(Duration::minutes(30), Duration::hours(12));
        let c = s.open(session(t0), t0);
        assert!(s.get(&c, t0 + Duration::minutes(29)).is_some());
        // Kept alive by use, up to the absolute limit.
        let mut t = t0;
        while t < t0 + Duration::hours(11) {
            t += Duration::minutes(20);
            assert!(s.get(&c, t).is_some(), "{t}");
        }
        assert!(s
            .get(&c, t0 + Duration::hours(12) + Duration::minutes(1))
            .is_none());
        let c = s.open(session(t0), t0);
        assert!(s.get(&c, t0 + Duration::minutes(31)).is_none(), "idle");
    }

    #[test]
    fn advancing_changes_the_cookie_and_csrf() {
        let t0 = Utc::now();
        let s = Sessions::new(Duration::minutes(30), Duration::hours(12));
        let c = s.open(session(t0), t0);
        let before = s.get(&c, t0).unwrap();
        let c2 = s.advance(&c, Stage::Ready, t0).unwrap();
        assert!(s.get(&c, t0).is_none(), "the old cookie is dead");
        let after = s.get(&c2, t0).unwrap();
        assert_eq!(after.stage, Stage::Ready);
        assert_ne!(before.csrf, after.csrf);
        assert!(Sessions::csrf_ok(&after, &after.csrf));
        assert!(!Sessions::csrf_ok(&after, &before.csrf));
        assert_eq!(s.close_account("marie"), 1);
        assert!(s.get(&c2, t0).is_none());
    }
}
