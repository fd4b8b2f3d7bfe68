//! How many new calls are admitted per second: a token bucket holding one
//! second's worth (FreeSWITCH's `sessions-per-second`). A flood beyond it
//! gets 503 at once, so signalling and media keep up with the calls in
//! progress instead of every call slowing down.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct CallRate {
    per_sec: f64,
    /// Calls that may be admitted now, and when that was counted.
    bucket: Mutex<(f64, Instant)>,
}

impl CallRate {
    /// `per_sec` = 0: no limit.
    pub fn new(per_sec: u32) -> CallRate {
        let per_sec = f64::from(per_sec);
        CallRate {
            per_sec,
            bucket: Mutex::new((per_sec, Instant::now())),
        }
    }

    /// May one more call be set up now? Takes its place when it may.
    pub fn admit(&self) -> bool {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> bool {
        if self.per_sec == 0.0 {
            return true;
        }
        let mut b = self.bucket.lock().expect("call rate lock");
        let elapsed = now.saturating_duration_since(b.1).as_secs_f64();
        b.0 = (b.0 + elapsed * self.per_sec).min(self.per_sec);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_seconds_worth_at_once_then_the_rate() {
        let r = CallRate::new(10);
        let t0 = Instant::now();
        let admitted = (0..25).filter(|_| r.admit_at(t0)).count();
        assert_eq!(admitted, 10, "the burst is one second's worth");
        // 100 ms later: one more call's worth.
        let t1 = t0 + Duration::from_millis(100);
        assert!(r.admit_at(t1));
        assert!(!r.admit_at(t1));
        // Idle for a minute: still only a second's worth.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..25).filter(|_| r.admit_at(t2)).count(), 10);
    }

    #[test]
    fn steady_arrivals_at_twice_the_rate_are_half_admitted() {
        let r = CallRate::new(100);
        let t0 = Instant::now();
        // Drain the initial burst, then 200 calls/s for 10 s.
        while r.admit_at(t0) {}
        let admitted = (1..=2000)
            .filter(|i| r.admit_at(t0 + Duration::from_millis(5 * i)))
            .count();
        assert!((995..=1001).contains(&admitted), "{admitted}");
    }

    #[test]
    fn zero_is_no_limit() {
        let r = CallRate::new(0);
        let t0 = Instant::now();
        assert!((0..100_000).all(|_| r.admit_at(t0)));
    }
}
