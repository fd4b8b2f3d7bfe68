//! One RTP stream heard by rtpload (a softswitch session, known by its
//! source address): loss and spacing bookkeeping, and the echo sent back.

use std::time::{Duration, Instant};

use media::rtp::{Received, RtpSender};
use media::stats::JitterHistogram;

/// One G.711 frame: 20 ms, 160 samples.
pub const FRAME: Duration = Duration::from_millis(20);
const FRAME_SAMPLES: u32 = 160;

/// Counters of one port (summed over its streams).
#[derive(Default)]
pub struct Counters {
    pub packets: u64,
    pub lost: u64,
    pub reordered: u64,
    pub not_rtp: u64,
    /// |spacing - 20 ms| of consecutive packets (sequence +1, timestamp +160).
    pub spacing: JitterHistogram,
}

/// What one packet told.
#[derive(Default)]
pub struct Observed {
    pub lost: u64,
    pub reordered: bool,
    /// |spacing - 20 ms|, for a packet right after the previous one.
    pub deviation: Option<Duration>,
}

impl Counters {
    pub fn add(&mut self, o: &Observed) {
        self.packets += 1;
        self.lost += o.lost;
        self.reordered += u64::from(o.reordered);
        if let Some(d) = o.deviation {
            self.spacing.record(d);
        }
    }

    pub fn merge(&mut self, o: &Counters) {
        self.packets += o.packets;
        self.lost += o.lost;
        self.reordered += o.reordered;
        self.not_rtp += o.not_rtp;
        self.spacing.merge(&o.spacing);
    }
}

pub struct Stream {
    /// A new SSRC from the same address is a new call on a reused port.
    pub ssrc: u32,
    last_seq: u16,
    last_ts: u32,
    last_at: Duration,
    pub last_rx: Instant,
    /// G.711 payload type heard (0 or 8); the echo uses the same.
    pub payload_type: u8,
    pub echo: RtpSender,
}

impl Stream {
    pub fn new(p: &Received, at: Duration, now: Instant) -> Stream {
        Stream {
            ssrc: p.ssrc,
            last_seq: p.sequence,
            last_ts: p.timestamp,
            last_at: at,
            last_rx: now,
            payload_type: p.payload_type,
            echo: RtpSender::new(),
        }
    }

    /// A packet after the first: what it says about loss and spacing.
    pub fn on_packet(&mut self, p: &Received, at: Duration, now: Instant) -> Observed {
        self.last_rx = now;
        let step = p.sequence.wrapping_sub(self.last_seq);
        if step == 0 || step > 0x8000 {
            // Duplicate or late: the stream state stays.
            return Observed {
                reordered: true,
                ..Observed::default()
            };
        }
        let consecutive = step == 1 && p.timestamp.wrapping_sub(self.last_ts) == FRAME_SAMPLES;
        let seen = Observed {
            lost: u64::from(step - 1),
            reordered: false,
            deviation: consecutive.then(|| at.abs_diff(self.last_at).abs_diff(FRAME)),
        };
        self.last_seq = p.sequence;
        self.last_ts = p.timestamp;
        self.last_at = at;
        if p.payload_type == 0 || p.payload_type == 8 {
            self.payload_type = p.payload_type;
        }
        seen
    }

    /// Build the next echo frame (silence in the stream's law) into `out`.
    pub fn echo_frame(&mut self, out: &mut [u8]) -> usize {
        let silence = if self.payload_type == 8 { 0xD5 } else { 0xFF };
        let payload = [silence; FRAME_SAMPLES as usize];
        let n = self.echo.build(self.payload_type, &payload, out);
        self.echo.advance(FRAME_SAMPLES);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32) -> Vec<u8> {
        let mut v = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        v[2..4].copy_from_slice(&seq.to_be_bytes());
        v[4..8].copy_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&[0xFF; 160]);
        v
    }

    #[test]
    fn spacing_loss_and_reordering() {
        let now = Instant::now();
        let mut c = Counters::default();
        let b = packet(10, 1000);
        let mut s = Stream::new(&media::rtp::read(&b).unwrap(), Duration::ZERO, now);
        let at = Duration::from_micros;
        // 21.5 ms after: 1.5 ms off the frame.
        let b = packet(11, 1160);
        c.add(&s.on_packet(&media::rtp::read(&b).unwrap(), at(21_500), now));
        // Two lost, then a packet: counted lost, its spacing not measured.
        let b = packet(14, 1640);
        c.add(&s.on_packet(&media::rtp::read(&b).unwrap(), at(81_500), now));
        // A late duplicate changes nothing.
        let b = packet(12, 1320);
        c.add(&s.on_packet(&media::rtp::read(&b).unwrap(), at(82_000), now));
        // Early by 0.3 ms.
        let b = packet(15, 1800);
        c.add(&s.on_packet(&media::rtp::read(&b).unwrap(), at(101_200), now));
        assert_eq!(c.packets, 4);
        assert_eq!(c.lost, 2);
        assert_eq!(c.reordered, 1);
        assert_eq!(c.spacing.samples(), 2);
        assert_eq!(c.spacing.summary().2, 1500, "max deviation in µs");
        let mut out = [0u8; 200];
        let n = s.echo_frame(&mut out);
        assert_eq!(n, 172);
        let e = media::rtp::read(&out[..n]).unwrap();
        assert_eq!(e.payload_type, 0);
        assert!(e.payload.iter().all(|b| *b == 0xFF), "µ-law silence");
    }
}
