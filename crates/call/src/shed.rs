//! Calls refused for capacity (503), summed by reason and logged once
//! every [`SHED_REPORT`] while it lasts, instead of a line per call: under
//! a flood, a line per refused call would add to the load being shed. Each
//! refused call's detail is in its record (and in the log at debug level).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often the sums are logged (when there is anything to say).
pub const SHED_REPORT: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct ShedLog {
    by_reason: Mutex<BTreeMap<String, u64>>,
}

impl ShedLog {
    pub fn count(&self, reason: &str) {
        let mut m = self.by_reason.lock().expect("shed log lock");
        match m.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                m.insert(reason.to_string(), 1);
            }
        }
    }

    /// The sums since the last call, as "reason: n, ..." with their total;
    /// `None` when no call was refused.
    pub fn take(&self) -> Option<(u64, String)> {
        let m = std::mem::take(&mut *self.by_reason.lock().expect("shed log lock"));
        if m.is_empty() {
            return None;
        }
        let total = m.values().sum();
        let reasons = m
            .iter()
            .map(|(r, n)| format!("{r}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        Some((total, reasons))
    }

    /// Log the sums since the last report, if any.
    pub fn report(&self) {
        if let Some((refused, reasons)) = self.take() {
            tracing::warn!(
                refused,
                reasons = %reasons,
                window_s = SHED_REPORT.as_secs(),
                "calls refused with 503 (capacity) since the last report"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_by_reason_then_starts_again() {
        let log = ShedLog::default();
        assert_eq!(log.take(), None);
        for _ in 0..3 {
            log.count("call rate limit");
        }
        log.count("media overload");
        assert_eq!(
            log.take(),
            Some((4, "call rate limit: 3, media overload: 1".to_string()))
        );
        assert_eq!(log.take(), None, "emptied by the report");
    }
}
