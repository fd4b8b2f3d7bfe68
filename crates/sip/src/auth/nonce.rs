//! Server nonces for digest authentication: each names the second it was
//! issued and carries a MAC over that time and the client's IP address, so
//! a nonce is only good from the address it was given to and only for a
//! while; and the nonce counts (`nc`) each answered nonce has used, so a
//! replayed answer is refused. Sans-IO: the caller passes the time.
//!
//! Memory is bounded: a nonce's counts are kept only until it expires, and
//! at most `max_used` nonces at once. Past that, the oldest are forgotten
//! and every nonce issued as early as them counts as stale (the client is
//! challenged again), so forgetting never lets a replay through.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::hmac_md5_hex;

/// What a nonce says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    /// Ours, for this address, still valid; issued at this second.
    Valid(u64),
    /// Ours and for this address, but too old.
    Expired,
    /// Not issued by us to this address (another address, a restart, a forgery).
    Foreign,
}

/// Whether a nonce count was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// First use of this (nonce, nc): recorded.
    Fresh,
    /// This (nonce, nc) was used already: a replay.
    Replayed,
    /// The nonce is too old to be remembered: treat it as stale.
    Forgotten,
}

#[derive(Debug)]
struct Used {
    /// Second the nonce was issued.
    issued: u64,
    /// Highest count seen, and the counts seen just below it (bit `i` set:
    /// `highest - i` was seen), a sliding window as in IPsec.
    highest: u32,
    window: u64,
}

/// Issues and checks nonces; remembers their counts. Its `Debug` leaves
/// the key out.
pub struct Nonces {
    key: [u8; 32],
    epoch: Instant,
    ttl: Duration,
    used: HashMap<String, Used>,
    max_used: usize,
    /// Nonces issued at or before this second were forgotten.
    floor: Option<u64>,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces")
            .field("ttl", &self.ttl)
            .field("remembered", &self.used.len())
            .field("max_used", &self.max_used)
            .field("floor", &self.floor)
            .finish_non_exhaustive()
    }
}

/// Counts further below the highest than this are refused as replays.
const WINDOW: u32 = 64;

impl Nonces {
    /// A fresh random key: nonces of an earlier run are foreign.
    pub fn new(now: Instant, ttl: Duration, max_used: usize) -> Self {
        Nonces {
            key: rand::random(),
            epoch: now,
            ttl,
            used: HashMap::new(),
            max_used: max_used.max(1),
            floor: None,
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    fn mac(&self, stamp: &str, ip: IpAddr) -> String {
        hmac_md5_hex(&self.key, format!("{stamp}:{ip}").as_bytes())
    }

    /// A nonce for a client at `ip`: `<second hex>.<random hex>.<MAC hex>`
    /// (random: two clients challenged in the same second, behind one NAT
    /// address, get different nonces and count them apart).
    pub fn issue(&self, now: Instant, ip: IpAddr) -> String {
        let stamp = format!("{:x}.{:016x}", self.second(now), rand::random::<u64>());
        let mac = self.mac(&stamp, ip);
        format!("{stamp}.{mac}")
    }

    /// Is `nonce` ours, for `ip`, and still valid at `now`?
    pub fn check(&self, now: Instant, nonce: &str, ip: IpAddr) -> NonceState {
        let Some((stamp, mac)) = nonce.rsplit_once('.') else {
            return NonceState::Foreign;
        };
        let Some((ts, salt)) = stamp.split_once('.') else {
            return NonceState::Foreign;
        };
        if ts.is_empty() || ts.len() > 16 || salt.len() != 16 {
            return NonceState::Foreign;
        }
        if !super::same_secret(&self.mac(stamp, ip), mac) {
            return NonceState::Foreign;
        }
        let Ok(issued) = u64::from_str_radix(ts, 16) else {
            return NonceState::Foreign;
        };
        if self.second(now).saturating_sub(issued) > self.ttl.as_secs() {
            NonceState::Expired
        } else {
            NonceState::Valid(issued)
        }
    }

    /// Record a use of a valid nonce issued at `issued`, with its count
    /// (`None` without qop: such a nonce is good for one request only).
    /// `nonce` may carry more to count apart (the user name).
    pub fn count(&mut self, now: Instant, nonce: &str, issued: u64, nc: Option<u32>) -> Count {
        if let Some(u) = self.used.get_mut(nonce) {
            let Some(n) = nc else {
                return Count::Replayed;
            };
            return if n > u.highest {
                let shift = n - u.highest;
                u.window = if shift >= WINDOW {
                    0
                } else {
                    u.window << shift
                };
                u.window |= 1;
                u.highest = n;
                Count::Fresh
            } else {
                let below = u.highest - n;
                let bit = 1u64.checked_shl(below).unwrap_or(0);
                if below >= WINDOW || u.window & bit != 0 {
                    Count::Replayed
                } else {
                    u.window |= bit;
                    Count::Fresh
                }
            };
        }
        if self.floor.is_some_and(|f| issued <= f) {
            return Count::Forgotten;
        }
        if self.used.len() >= self.max_used {
            self.prune(now);
            if self.used.len() >= self.max_used {
                self.forget_oldest();
            }
            if self.floor.is_some_and(|f| issued <= f) {
                return Count::Forgotten;
            }
        }
        self.used.insert(
            nonce.to_string(),
            Used {
                issued,
                highest: nc.unwrap_or(0),
                window: 1,
            },
        );
        Count::Fresh
    }

    /// Forget the counts of nonces that have expired (they are refused as
    /// stale anyway).
    pub fn prune(&mut self, now: Instant) {
        let (second, ttl) = (self.second(now), self.ttl.as_secs());
        self.used
            .retain(|_, u| second.saturating_sub(u.issued) <= ttl);
    }

    /// A full table of live nonces: forget the oldest tenth, and with them
    /// every nonce issued as early.
    fn forget_oldest(&mut self) {
        let mut issued: Vec<u64> = self.used.values().map(|u| u.issued).collect();
        issued.sort_unstable();
        let cut = issued[(issued.len() / 10).min(issued.len() - 1)];
        self.used.retain(|_, u| u.issued > cut);
        self.floor = Some(self.floor.map_or(cut, |f| f.max(cut)));
        tracing::warn!(
            kept = self.used.len(),
            "digest nonce table full: nonces issued in the oldest seconds are stale now"
        );
    }

    /// Nonces whose counts are remembered.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// No nonce's counts are remembered.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn valid(n: &Nonces, now: Instant, nonce: &str, from: &str) -> u64 {
        match n.check(now, nonce, ip(from)) {
            NonceState::Valid(t) => t,
            other => panic!("{nonce} from {from}: {other:?}"),
        }
    }

    #[test]
    fn a_nonce_is_good_from_its_address_until_it_expires() {
        let t0 = Instant::now();
        let n = Nonces::new(t0, Duration::from_secs(300), 100);
        let nonce = n.issue(t0 + Duration::from_secs(10), ip("192.0.2.7"));
        assert_eq!(
            valid(&n, t0 + Duration::from_secs(11), &nonce, "192.0.2.7"),
            10
        );
        assert_eq!(
            n.check(t0 + Duration::from_secs(11), &nonce, ip("192.0.2.8")),
            NonceState::Foreign,
            "bound to the client's address"
        );
        assert_eq!(
            n.check(t0 + Duration::from_secs(310), &nonce, ip("192.0.2.7")),
            NonceState::Valid(10),
            "300 s are allowed"
        );
        assert_eq!(
            n.check(t0 + Duration::from_secs(311), &nonce, ip("192.0.2.7")),
            NonceState::Expired
        );
        // Two nonces of the same second differ.
        assert_ne!(
            nonce,
            n.issue(t0 + Duration::from_secs(10), ip("192.0.2.7"))
        );
        // Forged or altered nonces, and those of another run.
        let (stamp, mac) = nonce.rsplit_once('.').unwrap();
        let salt = stamp.split_once('.').unwrap().1;
        for forged in [
            format!("{:x}.{salt}.{mac}", 11),
            format!("{stamp}.{}", &mac[1..]),
            format!("{stamp}{mac}"),
            format!("a.{mac}"),
            format!(".{salt}.{mac}"),
            "zz.00".into(),
        ] {
            assert_eq!(
                n.check(t0 + Duration::from_secs(12), &forged, ip("192.0.2.7")),
                NonceState::Foreign,
                "{forged}"
            );
        }
        let other = Nonces::new(t0, Duration::from_secs(300), 100);
        assert_eq!(
            other.check(t0, &nonce, ip("192.0.2.7")),
            NonceState::Foreign
        );
        // IPv6 clients too.
        let v6 = n.issue(t0, ip("2001:db8::1"));
        valid(&n, t0, &v6, "2001:db8::1");
        assert_eq!(n.check(t0, &v6, ip("2001:db8::2")), NonceState::Foreign);
    }

    #[test]
    fn each_nonce_count_is_accepted_once() {
        let t0 = Instant::now();
        let mut n = Nonces::new(t0, Duration::from_secs(300), 100);
        let nonce = n.issue(t0, ip("192.0.2.7"));
        assert_eq!(n.count(t0, &nonce, 0, Some(1)), Count::Fresh);
        assert_eq!(n.count(t0, &nonce, 0, Some(1)), Count::Replayed);
        assert_eq!(n.count(t0, &nonce, 0, Some(2)), Count::Fresh);
        // Out of order but new: accepted once.
        assert_eq!(n.count(t0, &nonce, 0, Some(5)), Count::Fresh);
        assert_eq!(n.count(t0, &nonce, 0, Some(4)), Count::Fresh);
        assert_eq!(n.count(t0, &nonce, 0, Some(4)), Count::Replayed);
        assert_eq!(n.count(t0, &nonce, 0, Some(2)), Count::Replayed);
        // Far ahead, then too far behind the window.
        assert_eq!(n.count(t0, &nonce, 0, Some(200)), Count::Fresh);
        assert_eq!(n.count(t0, &nonce, 0, Some(100)), Count::Replayed);
        assert_eq!(n.count(t0, &nonce, 0, Some(137)), Count::Fresh);
        // Without qop a nonce is good once.
        let bare = n.issue(t0, ip("192.0.2.7"));
        assert_eq!(n.count(t0, &bare, 0, None), Count::Fresh);
        assert_eq!(n.count(t0, &bare, 0, None), Count::Replayed);
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn memory_is_bounded_without_letting_replays_through() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(300);
        let mut n = Nonces::new(t0, ttl, 50);
        let sec = |s: u64| t0 + Duration::from_secs(s);
        // Expired nonces are pruned.
        for i in 0..30u64 {
            let nonce = n.issue(sec(i), ip("192.0.2.7"));
            assert_eq!(n.count(sec(i), &nonce, i, Some(1)), Count::Fresh);
        }
        n.prune(sec(330));
        assert_eq!(n.len(), 0, "all issued by second 29 expired at 330");
        // A full table of live nonces forgets the oldest, and they are stale.
        let mut first = None;
        for i in 0..500u64 {
            let now = sec(1000 + i / 10);
            let nonce = n.issue(now, ip("192.0.2.7"));
            assert_eq!(n.count(now, &nonce, 1000 + i / 10, Some(1)), Count::Fresh);
            first.get_or_insert(nonce);
            assert!(n.len() <= 50, "{}", n.len());
        }
        let first = first.unwrap();
        assert_eq!(
            n.count(sec(1050), &first, 1000, Some(1)),
            Count::Forgotten,
            "a forgotten nonce cannot be replayed"
        );
        assert_eq!(
            n.count(sec(1050), &first, 1000, Some(2)),
            Count::Forgotten,
            "nor used again"
        );
    }
}
