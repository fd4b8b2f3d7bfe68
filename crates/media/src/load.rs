//! How loaded each media worker is, and when it is too loaded to take new
//! calls. Each second a worker measures the share of it spent working (its
//! thread's CPU time: time it was preempted does not count) and how many
//! of its sending slots moved: went out more than [`LATE`] earlier or
//! later, relative to their time, than the tick before (which moves the
//! packet spacing of their calls by as much; a slot that is late by the
//! same amount every tick does not). Past the limit it raises its
//! `overloaded` flag and new calls are refused (SIP 503) until it has been
//! calm for a few seconds, so the calls it already carries keep their
//! 20 ms packet spacing.
//!
//! Late slots count only on a worker carrying many sessions: with a few,
//! lateness is the host's doing (a paused VM, a stolen core), and refusing
//! calls would not help the calls in progress.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A slot whose offset from its time changes this much from one tick to
/// the next moves its calls' packet spacing by as much: the p99 budget.
pub const LATE: Duration = Duration::from_millis(2);
/// Late slots in a second that count as a trend, not a hiccup of the host.
const LATE_MIN: u32 = 10;
/// Share of busy slots that may be late (the budget is p99).
const LATE_SHARE: f64 = 0.01;
/// Sessions from which a worker's late slots are its own load's doing.
pub const LOADED_SESSIONS: usize = 64;
/// An overloaded worker takes calls again once this far under its limit
/// (or at half its limit, for limits under 20%)...
const HYSTERESIS: f64 = 0.10;
/// ...for this many seconds in a row.
const CALM_SECONDS: u32 = 3;

/// What one worker publishes once a second (read by the call manager and
/// /metrics).
#[derive(Debug, Default)]
pub struct WorkerLoad {
    busy_permille: AtomicU32,
    overloaded: AtomicBool,
}

impl WorkerLoad {
    /// Share of the last second the worker spent working (0..1).
    pub fn busy(&self) -> f64 {
        f64::from(self.busy_permille.load(Ordering::Relaxed)) / 1000.0
    }

    /// Over the busy limit: the worker takes no new call.
    pub fn overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Acquire)
    }

    pub(crate) fn publish(&self, busy: f64, overloaded: bool) {
        self.busy_permille
            .store((busy.clamp(0.0, 1.0) * 1000.0) as u32, Ordering::Relaxed);
        self.overloaded.store(overloaded, Ordering::Release);
    }
}

/// One second of a worker's measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Second {
    /// Share of wall time spent working (0..1).
    pub busy: f64,
    /// Slots with sessions that moved by more than [`LATE`] (see above).
    pub late: u32,
    /// Slots with sessions.
    pub slots: u32,
    /// Sessions on the worker at the end of the second.
    pub sessions: usize,
}

/// CPU time the calling thread has used.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; this clock
    // exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// A worker's measurements of the second under way.
#[derive(Debug)]
pub(crate) struct Meter {
    since: Instant,
    /// The worker thread's CPU time then.
    cpu_since: Duration,
    late: u32,
    slots: u32,
}

impl Meter {
    /// `cpu`: the worker thread's CPU time now.
    pub(crate) fn new(now: Instant, cpu: Duration) -> Meter {
        Meter {
            since: now,
            cpu_since: cpu,
            late: 0,
            slots: 0,
        }
    }

    /// A slot with sessions, whose offset from its time moved by `moved`
    /// since the tick before.
    pub(crate) fn slot(&mut self, moved: Duration) {
        self.slots += 1;
        if moved > LATE {
            self.late += 1;
        }
    }

    /// The second so far (`cpu`: the worker thread's CPU time now); a new
    /// one begins.
    pub(crate) fn take(&mut self, now: Instant, cpu: Duration, sessions: usize) -> Second {
        let wall = now
            .saturating_duration_since(self.since)
            .max(Duration::from_millis(1));
        let used = cpu.saturating_sub(self.cpu_since);
        let s = Second {
            busy: (used.as_secs_f64() / wall.as_secs_f64()).min(1.0),
            late: self.late,
            slots: self.slots,
            sessions,
        };
        *self = Meter::new(now, cpu);
        s
    }
}

/// One worker's overload decision, with hysteresis (owned by the worker).
#[derive(Debug)]
pub struct LoadGauge {
    /// `None`: never overloaded.
    limit: Option<f64>,
    overloaded: bool,
    calm: u32,
}

impl LoadGauge {
    /// `limit`: the busy share (0..1] above which the worker is
    /// overloaded; `None` turns overload detection off.
    pub fn new(limit: Option<f64>) -> LoadGauge {
        LoadGauge {
            limit,
            overloaded: false,
            calm: 0,
        }
    }

    /// Over the busy limit in the last second.
    pub fn overloaded(&self) -> bool {
        self.overloaded
    }

    /// Take one second in; true when the state changed.
    pub fn second(&mut self, s: Second) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        let late_share = f64::from(s.late) / f64::from(s.slots.max(1));
        let late = s.sessions >= LOADED_SESSIONS && s.late >= LATE_MIN && late_share > LATE_SHARE;
        let hot = s.busy > limit || late;
        if hot {
            self.calm = 0;
            let changed = !self.overloaded;
            self.overloaded = true;
            return changed;
        }
        if !self.overloaded {
            return false;
        }
        let calm = s.busy < (limit - HYSTERESIS).max(limit / 2.0)
            && (s.sessions < LOADED_SESSIONS || late_share <= LATE_SHARE / 10.0);
        self.calm = if calm { self.calm + 1 } else { 0 };
        if self.calm >= CALM_SECONDS {
            self.overloaded = false;
            self.calm = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(busy: f64, late: u32, slots: u32) -> Second {
        Second {
            busy,
            late,
            slots,
            sessions: 1000,
        }
    }

    #[test]
    fn busy_over_the_limit_overloads_at_once() {
        let mut g = LoadGauge::new(Some(0.75));
        assert!(!g.second(sec(0.70, 0, 1000)));
        assert!(!g.overloaded());
        assert!(g.second(sec(0.80, 0, 1000)), "state changed");
        assert!(g.overloaded());
        assert!(
            !g.second(sec(0.90, 0, 1000)),
            "no change while it stays hot"
        );
    }

    #[test]
    fn late_slots_overload_only_as_a_trend() {
        let mut g = LoadGauge::new(Some(0.75));
        // A host hiccup: a few late slots, or a high share of very few.
        assert!(!g.second(sec(0.2, 9, 1000)));
        assert!(!g.second(sec(0.01, 3, 50)));
        // 10 of 1,000 is 1%: at the budget, not over it.
        assert!(!g.second(sec(0.2, 10, 1000)));
        assert!(g.second(sec(0.2, 11, 1000)));
        assert!(g.overloaded());
    }

    #[test]
    fn leaves_after_three_calm_seconds_well_under_the_limit() {
        let mut g = LoadGauge::new(Some(0.75));
        g.second(sec(0.9, 0, 1000));
        // Under the limit but within the hysteresis band: still overloaded.
        for _ in 0..10 {
            assert!(!g.second(sec(0.70, 0, 1000)));
        }
        assert!(g.overloaded());
        assert!(!g.second(sec(0.5, 0, 1000)));
        assert!(!g.second(sec(0.5, 0, 1000)));
        // A late slot too many breaks the calm streak.
        assert!(!g.second(sec(0.5, 2, 1000)));
        assert!(!g.second(sec(0.5, 0, 1000)));
        assert!(!g.second(sec(0.5, 1, 1000)), "0.1% late is still calm");
        assert!(g.overloaded());
        assert!(g.second(sec(0.5, 0, 1000)), "third calm second in a row");
        assert!(!g.overloaded());
    }

    #[test]
    fn a_limit_of_one_sheds_on_late_slots_only() {
        let mut g = LoadGauge::new(Some(1.0));
        assert!(!g.second(sec(1.0, 0, 1000)));
        assert!(g.second(sec(1.0, 50, 1000)));
    }

    #[test]
    fn late_slots_of_a_lightly_loaded_worker_are_the_hosts_doing() {
        let mut g = LoadGauge::new(Some(0.75));
        let few = Second {
            sessions: LOADED_SESSIONS - 1,
            ..sec(0.1, 500, 1000)
        };
        assert!(!g.second(few));
        assert!(!g.overloaded());
    }

    #[test]
    fn no_limit_is_never_overloaded() {
        let mut g = LoadGauge::new(None);
        assert!(!g.second(sec(1.0, 1000, 1000)));
        assert!(!g.overloaded());
    }

    #[test]
    fn meter_takes_a_second_and_starts_again() {
        let t0 = Instant::now();
        let c0 = Duration::from_secs(7);
        let mut m = Meter::new(t0, c0);
        m.slot(Duration::from_millis(1));
        m.slot(Duration::from_millis(3));
        let c1 = c0 + Duration::from_millis(250);
        let s = m.take(t0 + Duration::from_secs(1), c1, 7);
        assert_eq!((s.late, s.slots, s.sessions), (1, 2, 7));
        assert!((s.busy - 0.25).abs() < 1e-9, "{}", s.busy);
        let s = m.take(t0 + Duration::from_secs(2), c1, 0);
        assert_eq!(s, Second::default());
        // More CPU than wall time (a late tick): never above 1.
        let s = m.take(t0 + Duration::from_secs(3), c1 + Duration::from_secs(5), 0);
        assert_eq!(s.busy, 1.0);
    }

    #[test]
    fn thread_cpu_time_counts_work_not_sleep() {
        let a = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(50));
        let b = thread_cpu_time();
        assert!(b - a < Duration::from_millis(20), "{:?}", b - a);
        let until = Instant::now() + Duration::from_millis(30);
        let mut spins = 0u64;
        while Instant::now() < until {
            spins = spins.wrapping_add(1);
        }
        assert!(spins > 0);
        assert!(thread_cpu_time() - b >= Duration::from_millis(10));
    }

    #[test]
    fn a_low_limit_can_be_left_too() {
        // Limits under 20%: calm at half the limit (10 points under would
        // be out of reach).
        let mut g = LoadGauge::new(Some(0.10));
        assert!(g.second(sec(0.2, 0, 1000)));
        for _ in 0..5 {
            assert!(!g.second(sec(0.06, 0, 1000)), "above half the limit");
        }
        assert!(!g.second(sec(0.04, 0, 1000)));
        assert!(!g.second(sec(0.04, 0, 1000)));
        assert!(g.second(sec(0.04, 0, 1000)));
        assert!(!g.overloaded());
    }

    #[test]
    fn published_busy_is_clamped_and_read_back() {
        let w = WorkerLoad::default();
        w.publish(0.4567, true);
        assert_eq!(w.busy(), 0.456);
        assert!(w.overloaded());
        w.publish(3.0, false);
        assert_eq!(w.busy(), 1.0);
        assert!(!w.overloaded());
    }
}
