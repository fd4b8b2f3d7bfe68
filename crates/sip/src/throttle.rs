//! Failure limits for authentication (SIP digest here, web logins in `auth`):
//! after a few free failures a key (a source, an account, or both) waits a
//! growing delay before its next try, then is locked for a while. Sans-IO:
//! the caller passes the time, so tests run on a fake clock.
//!
//! The table is bounded: past `max_keys`, the keys idle the longest are
//! forgotten first, so a flood of forged sources cannot grow memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How failures are limited.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Failures allowed with no delay.
    pub free: u32,
    /// Delay after the first failure past `free`; doubled at each further one.
    pub base_delay: Duration,
    /// Longest delay between two tries before the lock.
    pub max_delay: Duration,
    /// At this many failures in a row the key is locked for `lock_for`.
    pub lock_after: u32,
    /// How long a lock lasts.
    pub lock_for: Duration,
    /// A key with no failure for this long starts again from zero.
    pub forget_after: Duration,
    /// Most keys remembered at once.
    pub max_keys: usize,
}

impl Default for Policy {
    /// Logins: 5 free failures, then 1, 2, 4, 8 s between tries, then 15
    /// minutes locked at the 10th.
    fn default() -> Self {
        Policy {
            free: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            lock_after: 10,
            lock_for: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(3600),
            max_keys: 100_000,
        }
    }
}

/// May a key try now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The key may try now: no delay or lock in force.
    Open,
    /// Too soon after the last failure: try again after this.
    Wait(Duration),
    /// Locked for this much longer.
    Locked(Duration),
}

impl Gate {
    /// Whether the key may try now.
    pub fn is_open(self) -> bool {
        self == Gate::Open
    }

    /// How long until the next try is allowed (zero when open).
    pub fn retry_after(self) -> Duration {
        match self {
            Gate::Open => Duration::ZERO,
            Gate::Wait(d) | Gate::Locked(d) => d,
        }
    }
}

/// What a failure did to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Failures in a row, this one included.
    pub count: u32,
    /// The gate for the next try.
    pub gate: Gate,
    /// This failure locked the key (log it once, not at every try).
    pub locked_now: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    last: Instant,
    /// The next try is refused before this.
    until: Option<Instant>,
}

/// Failures per key.
#[derive(Debug)]
pub struct Throttle<K> {
    policy: Policy,
    keys: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// An empty table applying `policy`.
    pub fn new(policy: Policy) -> Self {
        Throttle {
            policy,
            keys: HashMap::new(),
        }
    }

    /// The policy it applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// May `key` try at `now`?
    pub fn check(&self, key: &K, now: Instant) -> Gate {
        let Some(e) = self.keys.get(key) else {
            return Gate::Open;
        };
        match e.until {
            Some(until) if until > now => {
                let left = until - now;
                if e.failures >= self.policy.lock_after {
                    Gate::Locked(left)
                } else {
                    Gate::Wait(left)
                }
            }
            _ => Gate::Open,
        }
    }

    /// Count a failed try of `key` at `now`.
    pub fn failure(&mut self, key: K, now: Instant) -> Failure {
        if self.keys.len() >= self.policy.max_keys && !self.keys.contains_key(&key) {
            self.prune(now);
            if self.keys.len() >= self.policy.max_keys {
                self.evict_oldest();
            }
        }
        let p = &self.policy;
        let e = self.keys.entry(key).or_insert(Entry {
            failures: 0,
            last: now,
            until: None,
        });
        if now.saturating_duration_since(e.last) > p.forget_after {
            e.failures = 0;
            e.until = None;
        }
        // A failure after a lock has ended starts a new round of free tries.
        if e.failures >= p.lock_after && e.until.is_some_and(|u| u <= now) {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now;
        let n = e.failures;
        let mut locked_now = false;
        e.until = if n >= p.lock_after {
            locked_now = n == p.lock_after;
            Some(now + p.lock_for)
        } else if n > p.free {
            let doublings = (n - p.free - 1).min(30);
            let delay = p.base_delay.saturating_mul(1 << doublings).min(p.max_delay);
            Some(now + delay)
        } else {
            None
        };
        let gate = e.until.map_or(Gate::Open, |u| {
            if n >= p.lock_after {
                Gate::Locked(u - now)
            } else {
                Gate::Wait(u - now)
            }
        });
        Failure {
            count: n,
            gate,
            locked_now,
        }
    }

    /// A successful try: the key starts again from zero.
    pub fn success(&mut self, key: &K) {
        self.keys.remove(key);
    }

    /// Lift the limits of every key `pick` chooses (an administrator
    /// unlocking an account from every source).
    pub fn forget(&mut self, pick: impl Fn(&K) -> bool) {
        self.keys.retain(|k, _| !pick(k));
    }

    /// Keys locked at `now`.
    pub fn locked(&self, now: Instant) -> usize {
        self.keys
            .values()
            .filter(|e| e.failures >= self.policy.lock_after && e.until.is_some_and(|u| u > now))
            .count()
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No key is remembered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Forget keys whose last failure is older than `forget_after` and that
    /// are not locked any more.
    pub fn prune(&mut self, now: Instant) {
        let forget = self.policy.forget_after;
        self.keys.retain(|_, e| {
            e.until.is_some_and(|u| u > now) || now.saturating_duration_since(e.last) <= forget
        });
    }

    fn evict_oldest(&mut self) {
        // Rare (a full table): a linear pass is fine and keeps no extra index.
        let drop = (self.policy.max_keys / 10).max(1);
        let mut by_age: Vec<(Instant, K)> =
            self.keys.iter().map(|(k, e)| (e.last, k.clone())).collect();
        by_age.sort_by_key(|(t, _)| *t);
        for (_, k) in by_age.into_iter().take(drop) {
            self.keys.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn five_free_then_growing_delays_then_a_lock() {
        let mut t = Throttle::new(Policy::default());
        let t0 = Instant::now();
        let mut now = t0;
        for i in 1..=5 {
            assert_eq!(t.check(&"a", now), Gate::Open, "try {i}");
            let f = t.failure("a", now);
            assert_eq!(f.gate, Gate::Open);
        }
        // 6th failure: 1 s, then 2, 4, 8 s.
        let mut expected = 1;
        for n in 6..=9 {
            let f = t.failure("a", now);
            assert_eq!((f.count, f.gate), (n, Gate::Wait(secs(expected))));
            assert_eq!(
                t.check(&"a", now + secs(expected) / 2),
                Gate::Wait(secs(expected) / 2)
            );
            now += secs(expected);
            assert_eq!(t.check(&"a", now), Gate::Open);
            expected *= 2;
        }
        let f = t.failure("a", now);
        assert!(f.locked_now);
        assert_eq!(f.gate, Gate::Locked(secs(900)));
        assert_eq!(t.locked(now), 1);
        assert_eq!(t.check(&"a", now + secs(899)), Gate::Locked(secs(1)));
        assert_eq!(t.check(&"a", now + secs(900)), Gate::Open);
        // After the lock: a new round of free tries.
        let f = t.failure("a", now + secs(901));
        assert_eq!((f.count, f.gate, f.locked_now), (1, Gate::Open, false));
        // Another key was never touched.
        assert_eq!(t.check(&"b", now), Gate::Open);
    }

    #[test]
    fn success_and_time_forget_failures() {
        let mut t = Throttle::new(Policy::default());
        let now = Instant::now();
        for _ in 0..7 {
            t.failure("a", now);
        }
        t.success(&"a");
        assert_eq!(t.check(&"a", now), Gate::Open);
        for _ in 0..7 {
            t.failure("b", now);
        }
        let later = now + secs(3601);
        assert_eq!(
            t.failure("b", later).count,
            1,
            "an hour without failure resets"
        );
        t.prune(later + secs(3601));
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = Throttle::new(Policy {
            max_keys: 100,
            ..Policy::default()
        });
        let now = Instant::now();
        for i in 0..10_000u32 {
            t.failure(i, now + Duration::from_millis(i as u64));
        }
        assert!(t.len() <= 100, "{}", t.len());
        // The newest keys are the ones kept.
        assert_eq!(t.failure(9_999, now + secs(20)).count, 2);
    }
}
