//! Availability GAP01.
//!
//! REQUIREMENTS D: "available time / time, counted daily", target 99% in
//! opening hours, 95% outside. From the uptime journal
//! (`var/cdr/uptime/`): softswitch is up from a `start` or `up` line to the
//! next line when that comes within the heartbeat's tolerance (and is not a
//! new `start`, which means the process had died), and until a `stop`.
//! Degradations that leave the process up (a trunk down) are not seen here.

use cdr::uptime::UptimeRecord;
use chrono::{DateTime, Duration, Utc};

use super::Value;

/// The longest gap between two lines still counted as up (heartbeat 60 s).
pub const MAX_GAP: Duration = Duration::seconds(90);

/// Up time / `[from, to)`.
pub fn availability(beats: &[UptimeRecord], from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let mut up_ms = 0i64;
    for pair in beats.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let up = a.event != "stop" && b.event != "start" && b.at - a.at <= MAX_GAP;
        if !up {
            continue;
        }
        let (start, stop) = (a.at.max(from), b.at.min(to));
        up_ms += (stop - start).num_milliseconds().max(0);
    }
    Value::ratio(up_ms as f64, (to - from).num_milliseconds().max(0) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(t: &str, event: &str) -> UptimeRecord {
        UptimeRecord {
            at: DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc),
            event: event.into(),
        }
    }

    #[test]
    fn up_between_close_heartbeats_until_a_stop_or_a_crash() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Up 10:00-10:02, crash (no line until a new start at 10:05), up
        // 10:05-10:06, clean stop, down until 10:10: 3 minutes of 10.
        let beats = [
            b("2026-03-02T10:00:00Z", "start"),
            b("2026-03-02T10:01:00Z", "up"),
            b("2026-03-02T10:02:00Z", "up"),
            b("2026-03-02T10:05:00Z", "start"),
            b("2026-03-02T10:06:00Z", "stop"),
        ];
        let v = availability(&beats, t("2026-03-02T10:00:00Z"), t("2026-03-02T10:10:00Z"));
        assert_eq!(v.value, Some(0.3));
        // A window inside the first stretch: fully up.
        let v = availability(&beats, t("2026-03-02T10:00:30Z"), t("2026-03-02T10:01:30Z"));
        assert_eq!(v.value, Some(1.0));
    }
}
