//! The router's timers: an ordered map from deadline to what happens then,
//! so the next deadline is the first key and nothing scans all calls.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::event::{CallId, OfferId};

/// Identifies one scheduled timer, for cancelling it.
pub(crate) type TimerKey = (Instant, u64);

/// What to do when a deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The offer rang for `ring_timeout_s` unanswered: RONA.
    Ring(OfferId),
    /// The call has waited `overflow.after_s` in its queue.
    Overflow(CallId),
    /// The call has waited `widen.after_s` in its queue.
    Widen(CallId),
    /// The call has waited `max_wait.after_s` in all.
    MaxWait(CallId),
    /// The call has waited `long_wait_s` in all.
    LongWait(CallId),
    /// The agent's wrap-up is over.
    WrapUp(usize),
    /// The agent's reject delay is over.
    RejectDelay(usize),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    map: BTreeMap<TimerKey, Timer>,
    seq: u64,
}

impl Timers {
    /// Schedule `timer` at `at`; `None` (a deadline past the end of time) never fires.
    pub(crate) fn add(&mut self, at: Option<Instant>, timer: Timer) -> Option<TimerKey> {
        let key = (at?, self.seq);
        self.seq += 1;
        self.map.insert(key, timer);
        Some(key)
    }

    /// Unschedule, if still scheduled.
    pub(crate) fn cancel(&mut self, key: &mut Option<TimerKey>) {
        if let Some(k) = key.take() {
            self.map.remove(&k);
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.0)
    }

    /// Remove and return the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.next()? > now {
            return None;
        }
        self.map.pop_first().map(|(_, t)| t)
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&TimerKey, &Timer)> {
        self.map.iter()
    }
}

/// `t + s` seconds, `None` if that is past what `Instant` can hold.
pub(crate) fn after(t: Instant, s: u64) -> Option<Instant> {
    t.checked_add(Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_cancel() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        let mut late = t.add(after(t0, 20), Timer::WrapUp(1));
        t.add(after(t0, 10), Timer::Ring(7));
        t.add(after(t0, 10), Timer::Overflow(3));
        assert_eq!(t.add(None, Timer::Widen(1)), None);
        assert_eq!(t.next(), after(t0, 10));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(10)),
            Some(Timer::Ring(7))
        );
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(10)),
            Some(Timer::Overflow(3))
        );
        t.cancel(&mut late);
        assert!(late.is_none());
        assert_eq!(t.next(), None);
        assert_eq!(t.pop_due(t0 + Duration::from_secs(60)), None);
    }
}
