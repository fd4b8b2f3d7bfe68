//! RFC 4733 telephone-event payloads: parsing, a detector that turns a packet stream into
//! one digit per key press, and a packet generator for test clients.

use super::{digit_to_event, event_to_digit, DtmfError, DtmfEvent, DtmfSource};

/// RTP clock ticks per millisecond for telephone-event/8000.
const TICKS_PER_MS: u32 = 8;
/// How many recently reported event timestamps are remembered to drop late duplicates.
const RECENT: usize = 4;
/// Volume written by [`event_packets`]: -10 dBm0.
const DEFAULT_VOLUME: u8 = 10;

/// One telephone-event payload (RFC 4733 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-15 are DTMF digits (see [`event_to_digit`]).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level as -dBm0, 0-63.
    pub volume: u8,
    /// Duration so far in RTP clock ticks (1/8 ms at 8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a payload; extra bytes are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let [event, flags, d0, d1, ..] = *payload else {
            return Err(DtmfError::ShortPayload(payload.len()));
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Writes the 4-byte payload (the reserved bit is zero, volume is capped at 63).
    pub fn write(&self, out: &mut [u8; 4]) {
        let [d0, d1] = self.duration.to_be_bytes();
        *out = [
            self.event,
            (if self.end { 0x80 } else { 0 }) | self.volume.min(0x3F),
            d0,
            d1,
        ];
    }

    /// The 4-byte payload.
    pub fn to_bytes(&self) -> [u8; 4] {
        let mut out = [0; 4];
        self.write(&mut out);
        out
    }
}

/// The event being received: identified by its RTP timestamp.
#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: u8,
    /// Duration of the current segment, in ticks.
    duration: u16,
    /// Ticks of earlier segments of a long event (RFC 4733 section 2.5.2.3).
    earlier: u32,
    reported: bool,
}

impl Current {
    fn to_event(self) -> Option<DtmfEvent> {
        Some(DtmfEvent {
            digit: event_to_digit(self.event)?,
            duration_ms: (self.earlier + u32::from(self.duration)) / TICKS_PER_MS,
            source: DtmfSource::Rfc4733,
        })
    }
}

/// Turns a stream of telephone-event packets into one [`DtmfEvent`] per key press.
///
/// An event is identified by its RTP timestamp. The digit is reported once, on the first
/// packet with the end bit; the redundant end packets that follow are ignored. If a packet
/// with a newer timestamp arrives while the previous event never saw its end bit (its end
/// packets were lost), the previous event is reported then, so no digit is lost; call
/// [`Rfc4733Detector::flush`] when the stream stops for the same reason. Packets older than
/// the current event, packets of an event already reported, malformed payloads and non-DTMF
/// event codes are ignored. A packet without the marker bit whose timestamp continues the
/// current event exactly (timestamp = previous timestamp + duration, same code) is a new
/// segment of a long event and extends it.
#[derive(Debug, Clone, Default)]
pub struct Rfc4733Detector {
    current: Option<Current>,
    recent: [Option<u32>; RECENT],
    next_recent: usize,
}

impl Rfc4733Detector {
    /// A detector that has seen no packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one RTP packet of the telephone-event payload type; returns a digit when one
    /// is complete.
    pub fn on_packet(
        &mut self,
        rtp_timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<DtmfEvent> {
        let pkt = TelephoneEvent::parse(payload).ok()?;
        event_to_digit(pkt.event)?;
        if self.recent.contains(&Some(rtp_timestamp)) {
            return None;
        }
        if let Some(cur) = &mut self.current {
            if cur.timestamp == rtp_timestamp {
                if cur.reported || cur.event != pkt.event {
                    return None;
                }
                cur.duration = cur.duration.max(pkt.duration);
                if !pkt.end {
                    return None;
                }
                cur.reported = true;
                let done = *cur;
                self.remember(rtp_timestamp);
                return done.to_event();
            }
            // Serial-number comparison: a timestamp "before" the current one is stale.
            if (rtp_timestamp.wrapping_sub(cur.timestamp) as i32) < 0 {
                return None;
            }
            let continues = !marker
                && !cur.reported
                && cur.event == pkt.event
                && rtp_timestamp == cur.timestamp.wrapping_add(u32::from(cur.duration));
            if continues {
                cur.earlier += u32::from(cur.duration);
                cur.timestamp = rtp_timestamp;
                cur.duration = pkt.duration;
                if pkt.end {
                    cur.reported = true;
                    let done = *cur;
                    self.remember(rtp_timestamp);
                    return done.to_event();
                }
                return None;
            }
        }
        // A new event: report the previous one if its end never arrived.
        let previous = self.take_unreported();
        let mut cur = Current {
            timestamp: rtp_timestamp,
            event: pkt.event,
            duration: pkt.duration,
            earlier: 0,
            reported: false,
        };
        if pkt.end && previous.is_none() {
            cur.reported = true;
            self.current = Some(cur);
            self.remember(rtp_timestamp);
            return cur.to_event();
        }
        // With a previous digit to report now, this one's end (if any) is reported by its
        // next redundant end packet, the next event, or flush().
        self.current = Some(cur);
        previous
    }

    /// Reports the event in progress if its end was never seen (call when the stream stops).
    pub fn flush(&mut self) -> Option<DtmfEvent> {
        self.take_unreported()
    }

    fn take_unreported(&mut self) -> Option<DtmfEvent> {
        let cur = self.current.take().filter(|c| !c.reported)?;
        self.remember(cur.timestamp);
        cur.to_event()
    }

    fn remember(&mut self, timestamp: u32) {
        self.recent[self.next_recent] = Some(timestamp);
        self.next_recent = (self.next_recent + 1) % RECENT;
    }
}

/// The packets a well-behaved sender emits for one key press: a start packet with the
/// marker bit, an update every `ptime_ms` while the key is held, and three end packets
/// carrying the final duration. All share one RTP timestamp (the caller's). Durations are
/// capped at 0xFFFF ticks (8.19 s), and updates stop there; an unknown digit gives no
/// packets; a zero `ptime_ms` counts as 20.
pub fn event_packets(digit: char, duration_ms: u32, ptime_ms: u32) -> Vec<(bool, TelephoneEvent)> {
    let Some(event) = digit_to_event(digit) else {
        return Vec::new();
    };
    let ptime_ms = if ptime_ms == 0 { 20 } else { ptime_ms };
    let ticks = |ms: u32| ms.saturating_mul(TICKS_PER_MS).min(u32::from(u16::MAX)) as u16;
    let packet = |end, ms| TelephoneEvent {
        event,
        end,
        volume: DEFAULT_VOLUME,
        duration: ticks(ms),
    };
    let mut out = vec![(true, packet(false, ptime_ms.min(duration_ms)))];
    let mut at = 2 * ptime_ms;
    // Updates stop once the 16-bit duration saturates (no long-event segments here).
    while at < duration_ms && ticks(at) < u16::MAX {
        out.push((false, packet(false, at)));
        at += ptime_ms;
    }
    let end = packet(true, duration_ms);
    out.extend([(false, end); 3]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(
        det: &mut Rfc4733Detector,
        ts: u32,
        packets: &[(bool, TelephoneEvent)],
    ) -> Vec<DtmfEvent> {
        packets
            .iter()
            .filter_map(|(m, p)| det.on_packet(ts, *m, &p.to_bytes()))
            .collect()
    }

    fn digits(events: &[DtmfEvent]) -> String {
        events.iter().map(|e| e.digit).collect()
    }

    #[test]
    fn parse_and_write_round_trip() {
        let bytes = [11, 0x8A, 0x03, 0x20];
        let ev = TelephoneEvent::parse(&bytes).unwrap();
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 11,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(ev.to_bytes(), bytes);
        // Reserved bit set on the wire is ignored; extra bytes are ignored.
        let ev = TelephoneEvent::parse(&[5, 0x40 | 0x07, 0, 160, 0xFF]).unwrap();
        assert_eq!(
            (ev.event, ev.end, ev.volume, ev.duration),
            (5, false, 7, 160)
        );
        let loud = TelephoneEvent {
            event: 1,
            end: false,
            volume: 200,
            duration: 1,
        };
        assert_eq!(loud.to_bytes()[1], 0x3F);
    }

    #[test]
    fn short_payload_is_an_error() {
        assert_eq!(TelephoneEvent::parse(&[]), Err(DtmfError::ShortPayload(0)));
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(DtmfError::ShortPayload(3))
        );
    }

    #[test]
    fn generator_shape() {
        let p = event_packets('5', 100, 20);
        assert!(p[0].0, "first packet carries the marker");
        assert!(p[1..].iter().all(|(m, _)| !m));
        let durations: Vec<u16> = p.iter().map(|(_, e)| e.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        assert_eq!(p.iter().filter(|(_, e)| e.end).count(), 3);
        assert!(p.iter().rev().take(3).all(|(_, e)| e.end));
        assert!(p.iter().all(|(_, e)| e.event == 5 && e.volume == 10));
        // Shorter than one ptime: start + 3 ends.
        let p = event_packets('#', 10, 20);
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].1.duration, 80);
        assert_eq!(event_packets('x', 100, 20), vec![]);
        // Long presses saturate at the 16-bit duration.
        let p = event_packets('1', 10_000, 20);
        assert_eq!(p.last().unwrap().1.duration, u16::MAX);
        assert!(p.windows(2).all(|w| w[0].1.duration <= w[1].1.duration));
        assert_eq!(p.len(), 1 + 408 + 3, "updates stop at 8180 ms");
        assert_eq!(event_packets('1', u32::MAX, 20).len(), p.len());
        // A zero ptime is taken as 20 ms.
        assert_eq!(event_packets('1', 100, 0), event_packets('1', 100, 20));
    }

    #[test]
    fn triple_end_counted_once() {
        let mut det = Rfc4733Detector::new();
        let got = feed(&mut det, 1000, &event_packets('7', 120, 20));
        assert_eq!(
            got,
            [DtmfEvent {
                digit: '7',
                duration_ms: 120,
                source: DtmfSource::Rfc4733
            }]
        );
        assert_eq!(det.flush(), None);
    }

    #[test]
    fn every_digit_detected() {
        let mut det = Rfc4733Detector::new();
        let mut got = Vec::new();
        for (i, d) in "0123456789*#ABCD".chars().enumerate() {
            got.extend(feed(
                &mut det,
                1000 + i as u32 * 2000,
                &event_packets(d, 80, 20),
            ));
        }
        assert_eq!(digits(&got), "0123456789*#ABCD");
        assert!(got.iter().all(|e| e.duration_ms == 80));
    }

    #[test]
    fn lost_end_packets_then_new_event_reports_both() {
        let mut det = Rfc4733Detector::new();
        let first: Vec<_> = event_packets('1', 100, 20)
            .into_iter()
            .filter(|(_, e)| !e.end)
            .collect();
        assert_eq!(feed(&mut det, 8000, &first), vec![]);
        // First packet of the next event reports the previous digit with its last duration.
        let second = event_packets('2', 100, 20);
        let got = feed(&mut det, 9600, &second);
        assert_eq!(digits(&got), "12");
        assert_eq!(got[0].duration_ms, 80);
        assert_eq!(got[1].duration_ms, 100);
    }

    #[test]
    fn same_digit_twice_with_lost_ends_is_two_digits() {
        let mut det = Rfc4733Detector::new();
        let no_end: Vec<_> = event_packets('5', 100, 20)
            .into_iter()
            .filter(|(_, e)| !e.end)
            .collect();
        assert_eq!(feed(&mut det, 100, &no_end), vec![]);
        assert_eq!(feed(&mut det, 2100, &no_end).len(), 1);
        assert_eq!(det.flush().map(|e| e.digit), Some('5'));
        assert_eq!(det.flush(), None);
    }

    #[test]
    fn flush_reports_event_whose_end_never_came() {
        let mut det = Rfc4733Detector::new();
        let start = event_packets('9', 60, 20)[0].1;
        assert_eq!(det.on_packet(5, true, &start.to_bytes()), None);
        let ev = det.flush().unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('9', 20));
        assert_eq!(det.flush(), None);
        // A late end packet of the flushed event is not a second digit.
        let end = event_packets('9', 60, 20).last().unwrap().1;
        assert_eq!(det.on_packet(5, false, &end.to_bytes()), None);
    }

    #[test]
    fn duplicate_and_reordered_packets() {
        let mut det = Rfc4733Detector::new();
        let p = event_packets('3', 100, 20);
        let order = [1usize, 0, 0, 2, 4, 3, 5, 0, 6, 1];
        let got: Vec<_> = order
            .iter()
            .filter_map(|&i| det.on_packet(50, p[i].0, &p[i].1.to_bytes()))
            .collect();
        assert_eq!(digits(&got), "3");
        assert_eq!(got[0].duration_ms, 100);
        // A duplicate start packet after the end is ignored, even after another event.
        assert_eq!(det.on_packet(50, true, &p[0].1.to_bytes()), None);
        let got = feed(&mut det, 2000, &event_packets('4', 60, 20));
        assert_eq!(digits(&got), "4");
        assert_eq!(det.on_packet(50, true, &p[0].1.to_bytes()), None);
        assert_eq!(det.on_packet(50, false, &p[6].1.to_bytes()), None);
        assert_eq!(det.flush(), None);
    }

    #[test]
    fn stale_packets_of_an_older_event_are_ignored() {
        let mut det = Rfc4733Detector::new();
        let first = event_packets('1', 60, 20);
        let second = event_packets('2', 60, 20);
        // Event 2 starts; then event 1's packets arrive late (reordered).
        assert_eq!(det.on_packet(3000, true, &second[0].1.to_bytes()), None);
        assert_eq!(feed(&mut det, 1000, &first), vec![]);
        assert_eq!(digits(&feed(&mut det, 3000, &second[1..])), "2");
    }

    #[test]
    fn timestamp_wraparound() {
        let mut det = Rfc4733Detector::new();
        let got1 = feed(&mut det, u32::MAX - 100, &event_packets('6', 60, 20));
        let got2 = feed(&mut det, 500, &event_packets('8', 60, 20));
        assert_eq!(digits(&got1), "6");
        assert_eq!(digits(&got2), "8");
    }

    #[test]
    fn long_event_segments_are_one_digit() {
        let mut det = Rfc4733Detector::new();
        let seg = |end, duration| {
            TelephoneEvent {
                event: 0,
                end,
                volume: 10,
                duration,
            }
            .to_bytes()
        };
        // First segment: marker, runs to the 16-bit maximum without an end bit.
        assert_eq!(det.on_packet(0, true, &seg(false, 160)), None);
        assert_eq!(det.on_packet(0, false, &seg(false, u16::MAX)), None);
        // Second segment starts at timestamp 0 + 0xFFFF, no marker, and ends.
        let ts = u32::from(u16::MAX);
        assert_eq!(det.on_packet(ts, false, &seg(false, 160)), None);
        let ev = det.on_packet(ts, false, &seg(true, 8000)).unwrap();
        assert_eq!(ev.digit, '0');
        assert_eq!(ev.duration_ms, (65_535 + 8000) / 8);
        assert_eq!(det.on_packet(ts, false, &seg(true, 8000)), None);
        assert_eq!(det.flush(), None);
    }

    #[test]
    fn lost_start_packets_still_report_once() {
        let mut det = Rfc4733Detector::new();
        let ends: Vec<_> = event_packets('A', 200, 20)
            .into_iter()
            .filter(|(_, e)| e.end)
            .collect();
        let got = feed(&mut det, 77, &ends);
        assert_eq!(digits(&got), "A");
        assert_eq!(got[0].duration_ms, 200);
    }

    #[test]
    fn lost_ends_then_only_end_packets_of_next_event() {
        let mut det = Rfc4733Detector::new();
        let first: Vec<_> = event_packets('1', 100, 20)
            .into_iter()
            .filter(|(_, e)| !e.end)
            .collect();
        let ends: Vec<_> = event_packets('2', 100, 20)
            .into_iter()
            .filter(|(_, e)| e.end)
            .collect();
        feed(&mut det, 0, &first);
        // The first end packet of '2' reports '1'; the next redundant one reports '2'.
        assert_eq!(digits(&feed(&mut det, 2000, &ends)), "12");
        // With only one end packet of '2', flush reports it.
        let mut det = Rfc4733Detector::new();
        feed(&mut det, 0, &first);
        assert_eq!(digits(&feed(&mut det, 2000, &ends[..1])), "1");
        assert_eq!(det.flush().map(|e| e.digit), Some('2'));
    }

    #[test]
    fn malformed_and_non_dtmf_payloads_are_ignored() {
        let mut det = Rfc4733Detector::new();
        assert_eq!(det.on_packet(1, true, &[]), None);
        assert_eq!(det.on_packet(1, true, &[1, 0x80]), None);
        // Event 16 (hook flash) and 255 are not digits.
        assert_eq!(det.on_packet(2, true, &[16, 0x8A, 0, 160]), None);
        assert_eq!(det.on_packet(3, true, &[255, 0x8A, 0, 160]), None);
        assert_eq!(det.flush(), None);
        // A packet with the same timestamp but another event code does not corrupt the event.
        assert_eq!(det.on_packet(10, true, &[1, 0x0A, 0, 160]), None);
        assert_eq!(det.on_packet(10, false, &[2, 0x8A, 0, 160]), None);
        let ev = det.on_packet(10, false, &[1, 0x8A, 1, 64]).unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('1', 40));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_reports_twice_per_timestamp(
            packets in proptest::collection::vec(
                (0u32..64, proptest::bool::ANY, proptest::collection::vec(0u8..=255, 0..8)),
                0..64,
            )
        ) {
            let mut det = Rfc4733Detector::new();
            let mut count = 0;
            for (ts, marker, payload) in &packets {
                if let Some(ev) = det.on_packet(*ts, *marker, payload) {
                    proptest::prop_assert!(digit_to_event(ev.digit).is_some());
                    count += 1;
                }
            }
            if det.flush().is_some() {
                count += 1;
            }
            // At most one report per distinct timestamp.
            let mut distinct: Vec<u32> = packets.iter().map(|p| p.0).collect();
            distinct.sort_unstable();
            distinct.dedup();
            proptest::prop_assert!(count <= distinct.len());
        }
    }
}
