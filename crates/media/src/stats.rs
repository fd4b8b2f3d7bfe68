//! Media counters and the histogram used for send jitter (how much a call's
//! packet spacing moved from one tick to the next) and batch offset.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::load::WorkerLoad;

const BUCKET_US: u64 = 50;
const BUCKETS: usize = 400; // 0..20 ms in 50 µs steps, then one overflow bucket

/// Histogram of per-tick durations (50 µs buckets up to 20 ms).
#[derive(Debug, Clone)]
pub struct JitterHistogram {
    counts: Vec<u64>,
    max_us: u64,
    total: u64,
}

impl Default for JitterHistogram {
    fn default() -> Self {
        JitterHistogram {
            counts: vec![0; BUCKETS + 1],
            max_us: 0,
            total: 0,
        }
    }
}

impl JitterHistogram {
    /// Count one tick's lateness.
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros() as u64;
        let b = ((us / BUCKET_US) as usize).min(BUCKETS);
        self.counts[b] += 1;
        self.max_us = self.max_us.max(us);
        self.total += 1;
    }

    /// Add another histogram's counts (a worker's, to the engine's).
    pub fn merge(&mut self, other: &JitterHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.total += other.total;
    }

    /// Upper bound (µs) below which `q` (0..1) of the samples fall.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return if i == BUCKETS {
                    self.max_us
                } else {
                    ((i as u64 + 1) * BUCKET_US).min(self.max_us.max(BUCKET_US))
                };
            }
        }
        self.max_us
    }

    /// (p50, p99, max) in µs.
    pub fn summary(&self) -> (u64, u64, u64) {
        (self.quantile_us(0.5), self.quantile_us(0.99), self.max_us)
    }

    /// Ticks counted.
    pub fn samples(&self) -> u64 {
        self.total
    }
}

/// Engine-wide counters, read by /metrics and benchmarks.
#[derive(Debug, Default)]
pub struct MediaStats {
    /// RTP sessions open now.
    pub sessions: AtomicUsize,
    /// RTP packets sent since start.
    pub packets_sent: AtomicU64,
    /// RTP packets received since start.
    pub packets_received: AtomicU64,
    /// Packets sent by a bridge (part of `packets_sent`).
    pub packets_relayed: AtomicU64,
    /// Packets dropped: from a source other than the session's peer.
    pub dropped_source: AtomicU64,
    /// Packets dropped: not RTP, or a bad header.
    pub dropped_malformed: AtomicU64,
    /// Packets the kernel would not take (full send buffer).
    pub send_dropped: AtomicU64,
    /// Times a worker fell more than 5 ticks behind and skipped ahead.
    pub overruns: AtomicU64,
    /// Send jitter since start, all workers.
    pub jitter: Mutex<JitterHistogram>,
    /// Each worker's load over the last second.
    pub workers: Vec<WorkerLoad>,
}

impl MediaStats {
    /// Add a worker's send jitter to the engine's.
    pub fn merge_jitter(&self, h: &JitterHistogram) {
        self.jitter.lock().expect("jitter lock").merge(h);
    }
}

/// A worker's packet counts since its last flush. The packet path counts
/// in plain integers, and the worker adds them to the shared
/// [`MediaStats`] once per wake-up: an atomic add per packet on counters
/// shared by every worker moved their cache line from core to core on
/// each packet (about a fifth of the relay's own user time at 2,000
/// bridged calls).
#[derive(Debug, Default)]
pub struct PacketCounts {
    /// Packets sent.
    pub sent: u64,
    /// Packets received.
    pub received: u64,
    /// Packets sent by a bridge.
    pub relayed: u64,
    /// Dropped: wrong source.
    pub dropped_source: u64,
    /// Dropped: not RTP.
    pub dropped_malformed: u64,
    /// Not taken by the kernel.
    pub send_dropped: u64,
}

impl PacketCounts {
    /// Add the counts to `stats` and start again from zero.
    pub fn flush(&mut self, stats: &MediaStats) {
        let c = std::mem::take(self);
        for (n, to) in [
            (c.sent, &stats.packets_sent),
            (c.received, &stats.packets_received),
            (c.relayed, &stats.packets_relayed),
            (c.dropped_source, &stats.dropped_source),
            (c.dropped_malformed, &stats.dropped_malformed),
            (c.send_dropped, &stats.send_dropped),
        ] {
            if n > 0 {
                to.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut h = JitterHistogram::default();
        for _ in 0..99 {
            h.record(Duration::from_micros(120));
        }
        h.record(Duration::from_millis(3));
        assert_eq!(h.quantile_us(0.5), 150);
        assert_eq!(h.quantile_us(0.99), 150);
        assert_eq!(h.quantile_us(1.0), 3000, "never above the max seen");
        assert_eq!(h.summary().2, 3000);
        let mut g = JitterHistogram::default();
        g.merge(&h);
        assert_eq!(g.samples(), 100);
        h.record(Duration::from_secs(1));
        assert_eq!(
            h.quantile_us(1.0),
            1_000_000,
            "overflow bucket reports the max"
        );
    }

    #[test]
    fn packet_counts_flush_into_the_shared_stats_once() {
        let stats = MediaStats::default();
        let mut c = PacketCounts {
            sent: 3,
            relayed: 2,
            send_dropped: 1,
            ..PacketCounts::default()
        };
        c.flush(&stats);
        c.flush(&stats);
        assert_eq!(stats.packets_sent.load(Ordering::Relaxed), 3);
        assert_eq!(stats.packets_relayed.load(Ordering::Relaxed), 2);
        assert_eq!(stats.send_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(stats.packets_received.load(Ordering::Relaxed), 0);
    }
}
