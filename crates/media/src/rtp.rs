//! RTP send state over rtp-rs (sequence, timestamp, SSRC, marker on
//! talk-spurt start) and the receive-side checks. rtp-rs reads and builds
//! packets; RFC 4733 and RTCP are not in it (see `dtmf::rfc4733`).

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

/// Largest RTP packet we build: 12-byte header + one 20 ms G.711 frame, with room.
pub const MAX_PACKET: usize = 12 + 320;

/// Outgoing stream state of one session.
#[derive(Debug, Clone)]
pub struct RtpSender {
    /// Our synchronisation source, random per session.
    pub ssrc: u32,
    seq: u16,
    ts: u32,
    /// Next packet starts a talk spurt (RFC 3551 section 4.1: marker bit).
    spurt: bool,
}

impl RtpSender {
    /// A stream with a random SSRC, sequence number and timestamp.
    pub fn new() -> Self {
        RtpSender {
            ssrc: rand::random(),
            seq: rand::random(),
            ts: rand::random(),
            spurt: true,
        }
    }

    /// Time passes by one frame of `samples` whether or not we sent one, so
    /// the timestamp keeps tracking the clock across silences.
    pub fn advance(&mut self, samples: u32) {
        self.ts = self.ts.wrapping_add(samples);
    }

    /// The next packet will carry the marker bit.
    pub fn mark_spurt(&mut self) {
        self.spurt = true;
    }

    /// Build the next packet into `out`; returns its length.
    pub fn build(&mut self, payload_type: u8, payload: &[u8], out: &mut [u8]) -> usize {
        let n = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(self.ts)
            .marked(self.spurt)
            .payload(payload)
            .build_into_unchecked(out);
        self.seq = self.seq.wrapping_add(1);
        self.spurt = false;
        n
    }

    /// Build a relayed packet with a given timestamp; the marker is set
    /// when the source marked it or our stream starts a talk spurt.
    pub fn build_at(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
        out: &mut [u8],
    ) -> usize {
        let n = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(timestamp)
            .marked(marker || self.spurt)
            .payload(payload)
            .build_into_unchecked(out);
        self.seq = self.seq.wrapping_add(1);
        self.spurt = false;
        n
    }

    /// The timestamp the next packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.ts
    }
}

impl Default for RtpSender {
    fn default() -> Self {
        Self::new()
    }
}

/// A received packet, validated (version 2, sane header).
pub struct Received<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit (start of a talk spurt, or of an RFC 4733 event).
    pub marker: bool,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Sequence number.
    pub sequence: u16,
    /// The sender's synchronisation source.
    pub ssrc: u32,
    /// The payload, padding and extensions removed.
    pub payload: &'a [u8],
}

/// Read a packet; `None` for anything that is not RTP version 2 (RTCP on a
/// muxed port, STUN, garbage).
pub fn read(data: &[u8]) -> Option<Received<'_>> {
    let r = RtpReader::new(data).ok()?;
    if r.version() != 2 {
        return None;
    }
    let pt = r.payload_type();
    if (72..=76).contains(&pt) {
        return None; // RTCP SR/RR/SDES/BYE/APP multiplexed (RFC 5761)
    }
    Some(Received {
        payload_type: pt,
        marker: r.mark(),
        timestamp: r.timestamp(),
        sequence: u16::from(r.sequence_number()),
        ssrc: r.ssrc(),
        payload: r.payload(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_ts_marker() {
        let mut tx = RtpSender::new();
        let mut buf = [0u8; MAX_PACKET];
        let payload = [0xFFu8; 160];
        let n = tx.build(0, &payload, &mut buf);
        assert_eq!(n, 172);
        let p1 = read(&buf[..n]).unwrap();
        assert!(p1.marker, "first packet starts a talk spurt");
        let (s1, t1) = (p1.sequence, p1.timestamp);
        tx.advance(160);
        let n = tx.build(0, &payload, &mut buf);
        let p2 = read(&buf[..n]).unwrap();
        assert!(!p2.marker);
        assert_eq!(p2.sequence, s1.wrapping_add(1));
        assert_eq!(p2.timestamp, t1.wrapping_add(160));
        assert_eq!(p2.ssrc, tx.ssrc);
        assert_eq!(p2.payload.len(), 160);
    }

    #[test]
    fn rejects_non_rtp() {
        assert!(read(b"").is_none());
        assert!(read(&[0u8; 12]).is_none(), "version 0");
        let mut rtcp = [0u8; 12];
        rtcp[0] = 0x80;
        rtcp[1] = 200; // SR: marker bit set + PT 72
        assert!(read(&rtcp).is_none());
    }
}
