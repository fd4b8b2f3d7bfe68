//! RTP as the test UA sees it: packets received, audio and RFC 4733
//! digits sent.

use super::*;

/// One received RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    pub at: Instant,
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub len: usize,
    /// The first payload byte (none in an empty packet).
    pub first_byte: Option<u8>,
}

/// RTP packets arriving on `sock` within `dur`.
pub fn read_rtp(sock: &UdpSocket, dur: Duration) -> Vec<Packet> {
    let mut out = Vec::new();
    let deadline = Instant::now() + dur;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            break;
        };
        let at = Instant::now();
        if n < 12 {
            continue;
        }
        out.push(Packet {
            at,
            pt: buf[1] & 0x7f,
            marker: buf[1] & 0x80 != 0,
            seq: u16::from_be_bytes([buf[2], buf[3]]),
            ts: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            len: n,
            first_byte: (n > 12).then(|| buf[12]),
        });
    }
    out
}

impl Call {
    /// Collect RTP for `dur`.
    pub fn collect_rtp(&self, dur: Duration) -> Vec<Packet> {
        read_rtp(&self.rtp, dur)
    }

    fn send_rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(pt | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.rtp
            .send_to(&p, self.remote_rtp.expect("answered"))
            .unwrap();
    }

    /// Send audio frames (PCMU) of `pcm`, paced at 20 ms.
    pub fn send_audio(&mut self, pcm: &[i16]) {
        for chunk in pcm.chunks(160) {
            let mut enc = Vec::new();
            media::g711::encode_ulaw(chunk, &mut enc);
            let ts = self.ts;
            self.send_rtp(0, false, ts, &enc);
            self.ts = self.ts.wrapping_add(160);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send one digit as RFC 4733 events (payload type 101).
    pub fn send_rfc4733(&mut self, digit: char) {
        let start = self.ts;
        for (marker, ev) in media::dtmf::event_packets(digit, 100, 20) {
            self.send_rtp(101, marker, start, &ev.to_bytes());
            std::thread::sleep(Duration::from_millis(if ev.end { 1 } else { 20 }));
        }
        self.ts = self.ts.wrapping_add(800);
    }
}
