//! One queue: its config, its ordered waiting list and its recent handle
//! times (for the estimated wait).
//!
//! Waiting calls are ordered by [`WaitKey`]: absolute priority (higher
//! first), then virtual enqueue time (enqueue time minus the relative boost:
//! earlier first), then a router-wide sequence number (FIFO on ties). The
//! list is split by requirement, one `BTreeMap` per distinct requirement, so
//! an agent looks only at the heads of the lists it can serve: enqueue,
//! removal and "best call for this agent" stay O(log n) at any queue length.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::config::QueueConfig;
use crate::event::CallId;
use crate::skills::{self, ReqId, Requirement};

/// How many recent (talk + wrap-up) durations the average handle time uses.
pub(crate) const AHT_SAMPLES: usize = 20;
/// Average handle time before any call was handled.
pub(crate) const DEFAULT_AHT: Duration = Duration::from_secs(180);

/// A call's place: comparable across queues, so an agent serving several
/// queues takes the best call among all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WaitKey {
    pub priority: Reverse<i32>,
    /// Nanoseconds since the router's origin, minus the boost.
    pub vtime: i64,
    pub seq: u64,
}

impl WaitKey {
    pub(crate) fn new(priority: i32, arrival_ns: i64, boost_s: u32, seq: u64) -> Self {
        let boost_ns = i64::from(boost_s).saturating_mul(1_000_000_000);
        WaitKey {
            priority: Reverse(priority),
            vtime: arrival_ns.saturating_sub(boost_ns),
            seq,
        }
    }
}

/// Calls of one queue that are waiting (by requirement) or being offered.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    classes: BTreeMap<ReqId, BTreeMap<WaitKey, CallId>>,
    /// Keys of calls being offered: they keep their place for the rank.
    offering: BTreeSet<WaitKey>,
    /// (arrival ns, seq) of waiting calls, for the longest wait.
    arrivals: BTreeSet<(i64, u64)>,
    waiting: usize,
    /// Every key in order, for ranks in long queues (see [`RANK_EXACT`]).
    ranks: RefCell<Option<Ranks>>,
}

/// Up to this many calls in a queue, a rank is counted exactly, O(rank).
/// Beyond, ranks come from a sorted copy of the keys rebuilt at most once
/// per [`RANK_TTL_NS`] of router time: O(log n) a look-up, O(n log n) a
/// second, so position announcements to 100,000 callers stay cheap; a
/// position may then lag the queue by up to that long.
pub(crate) const RANK_EXACT: usize = 1_000;
pub(crate) const RANK_TTL_NS: i64 = 1_000_000_000;

#[derive(Debug)]
struct Ranks {
    built_ns: i64,
    keys: Vec<WaitKey>,
}

impl WaitList {
    pub(crate) fn push(&mut self, req: ReqId, key: WaitKey, arrival_ns: i64, call: CallId) {
        if self
            .classes
            .entry(req)
            .or_default()
            .insert(key, call)
            .is_none()
        {
            self.waiting += 1;
        }
        self.arrivals.insert((arrival_ns, key.seq));
    }

    pub(crate) fn remove(&mut self, req: ReqId, key: WaitKey, arrival_ns: i64) {
        let Some(class) = self.classes.get_mut(&req) else {
            return;
        };
        if class.remove(&key).is_some() {
            self.waiting -= 1;
        }
        if class.is_empty() {
            self.classes.remove(&req);
        }
        self.arrivals.remove(&(arrival_ns, key.seq));
    }

    pub(crate) fn start_offer(&mut self, key: WaitKey) {
        self.offering.insert(key);
    }

    pub(crate) fn end_offer(&mut self, key: WaitKey) {
        self.offering.remove(&key);
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    pub(crate) fn offering(&self) -> usize {
        self.offering.len()
    }

    /// The first waiting call among the requirements `can_serve` accepts.
    pub(crate) fn best(
        &self,
        mut can_serve: impl FnMut(ReqId) -> bool,
    ) -> Option<(WaitKey, CallId)> {
        self.classes
            .iter()
            .filter(|(&req, _)| can_serve(req))
            .filter_map(|(_, class)| class.first_key_value())
            .min_by_key(|(k, _)| **k)
            .map(|(k, c)| (*k, *c))
    }

    /// How many calls, waiting or being offered, are ahead of `key`, as of
    /// router time `now_ns` (see [`RANK_EXACT`]).
    pub(crate) fn rank(&self, key: WaitKey, now_ns: i64) -> usize {
        if self.waiting + self.offering.len() <= RANK_EXACT {
            return self.ahead_of(key);
        }
        let mut ranks = self.ranks.borrow_mut();
        let fresh = ranks
            .as_ref()
            .is_some_and(|r| now_ns.saturating_sub(r.built_ns) < RANK_TTL_NS);
        if !fresh {
            let mut keys: Vec<WaitKey> = self
                .classes
                .values()
                .flat_map(|c| c.keys().copied())
                .chain(self.offering.iter().copied())
                .collect();
            keys.sort_unstable();
            *ranks = Some(Ranks {
                built_ns: now_ns,
                keys,
            });
        }
        let keys = &ranks.as_ref().expect("built above").keys;
        keys.partition_point(|k| *k < key)
    }

    /// How many calls, waiting or being offered, are ahead of `key`. O(rank).
    pub(crate) fn ahead_of(&self, key: WaitKey) -> usize {
        let waiting: usize = self
            .classes
            .values()
            .map(|class| class.range(..key).count())
            .sum();
        waiting + self.offering.range(..key).count()
    }

    /// Arrival (ns since origin) of the longest-waiting call.
    pub(crate) fn oldest_arrival(&self) -> Option<i64> {
        self.arrivals.first().map(|(ns, _)| *ns)
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (ReqId, &WaitKey, &CallId)> {
        self.classes
            .iter()
            .flat_map(|(&r, class)| class.iter().map(move |(k, c)| (r, k, c)))
    }
}

/// A queue as the router keeps it.
#[derive(Debug)]
pub(crate) struct Queue {
    pub cfg: QueueConfig,
    /// In the current config (else draining: no new calls, serves the ones left).
    pub active: bool,
    /// Position in the current config, for display.
    pub order: usize,
    pub base: Requirement,
    pub widen: Option<Requirement>,
    pub list: WaitList,
    handle_times: VecDeque<Duration>,
    /// Agent index this queue offered last (round robin).
    pub rr_last: Option<usize>,
}

impl Queue {
    pub(crate) fn new(cfg: QueueConfig, order: usize) -> Self {
        let mut q = Queue {
            cfg: QueueConfig::new(""),
            active: true,
            order,
            base: Requirement::new(),
            widen: None,
            list: WaitList::default(),
            handle_times: VecDeque::new(),
            rr_last: None,
        };
        q.set_config(cfg, order);
        q
    }

    pub(crate) fn set_config(&mut self, cfg: QueueConfig, order: usize) {
        self.base = skills::from_config(&cfg.skills);
        self.widen = cfg.widen.as_ref().map(|w| skills::from_config(&w.skills));
        self.cfg = cfg;
        self.active = true;
        self.order = order;
    }

    /// The requirement of a call of this queue, widened or not.
    pub(crate) fn requirement(&self, widened: bool, extra: &Requirement) -> Requirement {
        let base = match (&self.widen, widened) {
            (Some(w), true) => w,
            _ => &self.base,
        };
        skills::merge(base, extra)
    }

    pub(crate) fn record_handle_time(&mut self, d: Duration) {
        if self.handle_times.len() == AHT_SAMPLES {
            self.handle_times.pop_front();
        }
        self.handle_times.push_back(d);
    }

    /// Mean of the last [`AHT_SAMPLES`] handle times, [`DEFAULT_AHT`] if none.
    pub(crate) fn average_handle_time(&self) -> Duration {
        let n = self.handle_times.len() as u32;
        if n == 0 {
            return DEFAULT_AHT;
        }
        self.handle_times.iter().sum::<Duration>() / n
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.waiting() == 0 && self.list.offering() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_priority_then_boosted_time_then_seq() {
        let a = WaitKey::new(0, 10_000_000_000, 0, 1);
        let b = WaitKey::new(1, 50_000_000_000, 0, 2);
        let c = WaitKey::new(0, 20_000_000_000, 15, 3);
        let d = WaitKey::new(0, 10_000_000_000, 0, 4);
        let mut keys = vec![a, b, c, d];
        keys.sort();
        assert_eq!(keys, vec![b, c, a, d]);
        // A boost can reach before the origin.
        assert!(WaitKey::new(0, 0, 100, 9).vtime < 0);
    }

    #[test]
    fn best_respects_what_the_agent_can_serve() {
        let mut l = WaitList::default();
        let k = |t: i64, seq| WaitKey::new(0, t, 0, seq);
        l.push(0, k(1, 1), 1, 100);
        l.push(1, k(2, 2), 2, 200);
        l.push(0, k(3, 3), 3, 300);
        assert_eq!(l.best(|_| true), Some((k(1, 1), 100)));
        assert_eq!(l.best(|r| r == 1), Some((k(2, 2), 200)));
        assert_eq!(l.best(|_| false), None);
        assert_eq!(l.ahead_of(k(3, 3)), 2);
        l.remove(0, k(1, 1), 1);
        l.start_offer(k(1, 1));
        assert_eq!((l.waiting(), l.offering()), (2, 1));
        assert_eq!(
            l.ahead_of(k(3, 3)),
            2,
            "an offered call keeps its place in the rank"
        );
        assert_eq!(l.oldest_arrival(), Some(2));
    }

    #[test]
    fn average_handle_time_uses_the_last_twenty() {
        let mut q = Queue::new(QueueConfig::new("q"), 0);
        assert_eq!(q.average_handle_time(), DEFAULT_AHT);
        for _ in 0..5 {
            q.record_handle_time(Duration::from_secs(1000));
        }
        for _ in 0..AHT_SAMPLES {
            q.record_handle_time(Duration::from_secs(60));
        }
        assert_eq!(q.average_handle_time(), Duration::from_secs(60));
    }
}
