//! Failure limits of SIP digest authentication, per source address and per
//! account (two [`Throttle`]s), with the counters `/metrics` shows. A lock
//! is logged once when it starts and once when it is lifted (noticed at the
//! next look or sweep), never once per refused packet. Sans-IO: the caller
//! passes the time.
//!
//! The account limit is set higher than the source one: an attacker who
//! guesses from many addresses still meets it, but one who guesses from a
//! single address is stopped by the source limit long before he could lock
//! a real phone out of its account.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::throttle::{Gate, Policy, Throttle};

/// The two policies.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Per source IP address.
    pub source: Policy,
    /// Per account (user name), whatever the source.
    pub account: Policy,
}

impl Default for LimitsConfig {
    /// Source: 5 free failures, then 1, 2, 4, 8 s between tries, locked 15
    /// minutes at the 10th. Account: 20 free, locked 15 minutes at the 40th.
    fn default() -> Self {
        LimitsConfig {
            source: Policy::default(),
            account: Policy {
                free: 20,
                lock_after: 40,
                max_keys: 20_000,
                ..Policy::default()
            },
        }
    }
}

/// Live counters, shared with whoever publishes metrics.
#[derive(Debug, Default)]
pub struct AuthStats {
    /// Failed authentications (wrong credentials, unknown user, replay...).
    pub failures_total: AtomicU64,
    /// Requests answered 503 because their source or account was limited.
    pub refused_total: AtomicU64,
    /// Source addresses locked now.
    pub sources_locked: AtomicU64,
    /// Accounts locked now.
    pub accounts_locked: AtomicU64,
}

/// The counters at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthStatsSnapshot {
    /// Failed authentications since start.
    pub failures_total: u64,
    /// Requests refused with 503 since start (source or account past its
    /// limits).
    pub refused_total: u64,
    /// Source addresses locked at that instant.
    pub sources_locked: u64,
    /// Accounts locked at that instant.
    pub accounts_locked: u64,
}

impl AuthStats {
    /// The counters now (each read on its own, not as one atomic view).
    pub fn snapshot(&self) -> AuthStatsSnapshot {
        AuthStatsSnapshot {
            failures_total: self.failures_total.load(Ordering::Relaxed),
            refused_total: self.refused_total.load(Ordering::Relaxed),
            sources_locked: self.sources_locked.load(Ordering::Relaxed),
            accounts_locked: self.accounts_locked.load(Ordering::Relaxed),
        }
    }
}

/// Account names are attacker-chosen: keys keep at most this many bytes.
const MAX_ACCOUNT_KEY: usize = 64;

fn account_key(account: &str) -> String {
    let mut end = account.len().min(MAX_ACCOUNT_KEY);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    account[..end].to_string()
}

/// Failures per source and per account.
#[derive(Debug)]
pub struct Limits {
    sources: Throttle<IpAddr>,
    accounts: Throttle<String>,
    /// Locks logged and counted, to log and count their end.
    locked_sources: HashSet<IpAddr>,
    locked_accounts: HashSet<String>,
    stats: Arc<AuthStats>,
}

impl Limits {
    /// Limits configured by `cfg`, with no failure counted yet; the counters
    /// go to `stats`.
    pub fn new(cfg: LimitsConfig, stats: Arc<AuthStats>) -> Self {
        Limits {
            sources: Throttle::new(cfg.source),
            accounts: Throttle::new(cfg.account),
            locked_sources: HashSet::new(),
            locked_accounts: HashSet::new(),
            stats,
        }
    }

    /// The counters these limits update.
    pub fn stats(&self) -> &Arc<AuthStats> {
        &self.stats
    }

    /// May a request from `source` (for `account`, when known) try now?
    /// `None`: yes; else how long it must wait (the request is counted as
    /// refused). Cheap: two table look-ups.
    pub fn check(
        &mut self,
        now: Instant,
        source: IpAddr,
        account: Option<&str>,
    ) -> Option<Duration> {
        let by_source = self.sources.check(&source, now);
        if !by_source.is_open() {
            self.stats.refused_total.fetch_add(1, Ordering::Relaxed);
            return Some(by_source.retry_after());
        }
        if self.locked_sources.contains(&source) {
            self.lift_source(source);
        }
        let account = account.map(account_key)?;
        let by_account = self.accounts.check(&account, now);
        if !by_account.is_open() {
            self.stats.refused_total.fetch_add(1, Ordering::Relaxed);
            return Some(by_account.retry_after());
        }
        if self.locked_accounts.contains(&account) {
            self.lift_account(&account);
        }
        None
    }

    /// Count a failure of `account` from `source`.
    pub fn failure(&mut self, now: Instant, source: IpAddr, account: &str) {
        self.stats.failures_total.fetch_add(1, Ordering::Relaxed);
        let f = self.sources.failure(source, now);
        if f.locked_now && self.locked_sources.insert(source) {
            self.stats.sources_locked.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                source = %source,
                failures = f.count,
                lock_s = f.gate.retry_after().as_secs(),
                "SIP authentication: source locked after repeated failures (its REGISTERs and authenticated INVITEs get 503 until then)"
            );
        }
        let key = account_key(account);
        let f = self.accounts.failure(key.clone(), now);
        if f.locked_now && self.locked_accounts.insert(key.clone()) {
            self.stats.accounts_locked.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                account = %key,
                failures = f.count,
                lock_s = f.gate.retry_after().as_secs(),
                last_source = %source,
                "SIP authentication: account locked after repeated failures (from any source, until then)"
            );
        }
    }

    /// A success: the account starts again from zero. The source does not
    /// (an attacker holding one account could otherwise clear his failures
    /// between guesses at another); its failures fade after `forget_after`.
    pub fn success(&mut self, account: &str) {
        self.accounts.success(&account_key(account));
    }

    /// Notice the locks that have ended, and forget stale entries; run
    /// every second or so, so the gauges stay true without traffic.
    pub fn sweep(&mut self, now: Instant) {
        let ended: Vec<IpAddr> = self
            .locked_sources
            .iter()
            .filter(|s| !matches!(self.sources.check(s, now), Gate::Locked(_)))
            .copied()
            .collect();
        for s in ended {
            self.lift_source(s);
        }
        let ended: Vec<String> = self
            .locked_accounts
            .iter()
            .filter(|a| !matches!(self.accounts.check(a, now), Gate::Locked(_)))
            .cloned()
            .collect();
        for a in ended {
            self.lift_account(&a);
        }
        self.sources.prune(now);
        self.accounts.prune(now);
    }

    fn lift_source(&mut self, source: IpAddr) {
        if self.locked_sources.remove(&source) {
            self.stats.sources_locked.fetch_sub(1, Ordering::Relaxed);
            tracing::info!(source = %source, "SIP authentication: source lock lifted");
        }
    }

    fn lift_account(&mut self, account: &str) {
        if self.locked_accounts.remove(account) {
            self.stats.accounts_locked.fetch_sub(1, Ordering::Relaxed);
            tracing::info!(account, "SIP authentication: account lock lifted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_source_waits_then_is_locked_then_lifted() {
        let stats = Arc::new(AuthStats::default());
        let mut l = Limits::new(LimitsConfig::default(), stats.clone());
        let t0 = Instant::now();
        let mut now = t0;
        let attacker = ip("203.0.113.9");
        // Five free failures, each on a different account.
        for i in 0..5 {
            assert_eq!(l.check(now, attacker, Some(&format!("u{i}"))), None);
            l.failure(now, attacker, &format!("u{i}"));
        }
        // The sixth opens the delays: 1 s, then 2, 4, 8.
        for (n, wait) in [(6, 1), (7, 2), (8, 4), (9, 8)] {
            assert_eq!(l.check(now, attacker, None), None, "failure {n}");
            l.failure(now, attacker, "agent1");
            assert_eq!(l.check(now, attacker, None), Some(secs(wait)));
            assert_eq!(
                l.check(now, ip("198.51.100.1"), Some("agent1")),
                None,
                "another source, an account under its limit"
            );
            now += secs(wait);
        }
        l.failure(now, attacker, "agent1");
        assert_eq!(l.check(now, attacker, Some("agent2")), Some(secs(900)));
        assert_eq!(
            stats.snapshot(),
            AuthStatsSnapshot {
                failures_total: 10,
                refused_total: 5,
                sources_locked: 1,
                accounts_locked: 0,
            }
        );
        // Refused while locked, whatever the account.
        assert_eq!(l.check(now + secs(899), attacker, None), Some(secs(1)));
        // Lifted when the lock ends (noticed by the sweep).
        l.sweep(now + secs(900));
        assert_eq!(stats.snapshot().sources_locked, 0);
        assert_eq!(l.check(now + secs(900), attacker, None), None);
    }

    #[test]
    fn an_account_is_locked_from_many_sources_and_a_success_resets_it() {
        let stats = Arc::new(AuthStats::default());
        let mut l = Limits::new(LimitsConfig::default(), stats.clone());
        let now = Instant::now();
        // 20 free failures from 20 addresses (each under its own limit).
        for i in 0..20 {
            let src = ip(&format!("10.0.0.{i}"));
            assert_eq!(l.check(now, src, Some("agent1")), None);
            l.failure(now, src, "agent1");
        }
        assert_eq!(l.check(now, ip("10.0.1.1"), Some("agent1")), None);
        l.success("agent1");
        for i in 0..39 {
            l.failure(now, ip(&format!("10.1.0.{i}")), "agent1");
        }
        assert_eq!(stats.snapshot().accounts_locked, 0, "39 after the reset");
        l.failure(now, ip("10.2.0.1"), "agent1");
        assert_eq!(stats.snapshot().accounts_locked, 1);
        // Any source, even a new one, is refused for that account only.
        assert_eq!(
            l.check(now, ip("192.0.2.1"), Some("agent1")),
            Some(secs(900))
        );
        assert_eq!(l.check(now, ip("192.0.2.1"), Some("agent2")), None);
        // Lifted lazily at the next look after the lock.
        assert_eq!(
            l.check(now + secs(900), ip("192.0.2.1"), Some("agent1")),
            None
        );
        assert_eq!(stats.snapshot().accounts_locked, 0);
    }

    #[test]
    fn a_success_does_not_clear_the_source() {
        let mut l = Limits::new(LimitsConfig::default(), Arc::default());
        let now = Instant::now();
        let src = ip("203.0.113.9");
        for _ in 0..6 {
            l.failure(now, src, "agent2");
            l.success("agent5");
        }
        assert_eq!(l.check(now, src, Some("agent5")), Some(secs(1)));
    }

    #[test]
    fn long_account_names_share_a_bounded_key() {
        let mut l = Limits::new(LimitsConfig::default(), Arc::default());
        let now = Instant::now();
        let long = "é".repeat(100);
        for i in 0..40 {
            l.failure(now, ip(&format!("10.0.0.{i}")), &format!("{long}{i}"));
        }
        assert_eq!(l.check(now, ip("10.9.9.9"), Some(&long)), Some(secs(900)));
    }
}
