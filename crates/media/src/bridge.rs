//! Bridging two sessions of one worker (a caller and an agent): every packet
//! one leg receives goes out on the other leg's stream, with that stream's
//! SSRC and sequence and a shifted timestamp; audio is copied as is when
//! both legs use the same codec and goes through linear PCM (PCMU <-> PCMA)
//! when they differ; RFC 4733 events pass with the other leg's payload type.

use crate::peer::SessionParams;
use crate::rtp::{Received, RtpSender};

/// Largest packet we relay (an Ethernet MTU's worth).
pub const MAX_RELAY: usize = 1500;

/// One direction of a bridge, kept by the receiving session.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    /// The session whose stream carries what we receive.
    pub peer: u64,
    /// Incoming SSRC and the offset added to its timestamps; a new SSRC
    /// (the remote restarted its stream) gets a new offset.
    ts_map: Option<(u32, u32)>,
}

/// Buffers reused for every transcoded packet.
#[derive(Default)]
pub(crate) struct Scratch {
    pcm: Vec<i16>,
    bytes: Vec<u8>,
}

impl Relay {
    pub fn new(peer: u64) -> Self {
        Relay { peer, ts_map: None }
    }

    /// Build the packet the peer leg sends for `pkt` (received on a leg
    /// negotiated as `from`); `None` when the peer cannot carry it (an
    /// event with no telephone-event on the peer, an unknown payload).
    pub fn forward(
        &mut self,
        pkt: &Received<'_>,
        from: &SessionParams,
        to: &SessionParams,
        tx: &mut RtpSender,
        scratch: &mut Scratch,
        out: &mut [u8; MAX_RELAY],
    ) -> Option<usize> {
        let (pt, payload): (u8, &[u8]) = if pkt.payload_type == from.payload_type {
            if from.codec == to.codec {
                (to.payload_type, pkt.payload)
            } else {
                scratch.pcm.clear();
                scratch.bytes.clear();
                from.codec.decode(pkt.payload, &mut scratch.pcm);
                to.codec.encode(&scratch.pcm, &mut scratch.bytes);
                (to.payload_type, &scratch.bytes)
            }
        } else if Some(pkt.payload_type) == from.dtmf_payload_type {
            (to.dtmf_payload_type?, pkt.payload)
        } else {
            return None; // comfort noise, video, anything not negotiated
        };
        if payload.len() + 12 > out.len() {
            return None;
        }
        let offset = match self.ts_map {
            Some((ssrc, off)) if ssrc == pkt.ssrc => off,
            _ => {
                let off = tx.timestamp().wrapping_sub(pkt.timestamp);
                self.ts_map = Some((pkt.ssrc, off));
                tx.mark_spurt();
                off
            }
        };
        let ts = pkt.timestamp.wrapping_add(offset);
        Some(tx.build_at(pt, payload, ts, pkt.marker, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::rtp;

    fn params(codec: Codec, pt: u8, dtmf: Option<u8>) -> SessionParams {
        SessionParams {
            codec,
            payload_type: pt,
            dtmf_payload_type: dtmf,
            remote: "127.0.0.1:4000".parse().unwrap(),
            symmetric: false,
            inband_dtmf: false,
            send: true,
            send_silence: true,
        }
    }

    fn packet(pt: u8, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        rtp_rs::RtpPacketBuilder::new()
            .payload_type(pt)
            .ssrc(ssrc)
            .timestamp(ts)
            .payload(payload)
            .build()
            .unwrap()
    }

    /// One direction of a bridge from a leg negotiated as `from` to one
    /// negotiated as `to`, with its reused buffers.
    struct Rig {
        relay: Relay,
        from: SessionParams,
        to: SessionParams,
        tx: RtpSender,
        scratch: Scratch,
        out: [u8; MAX_RELAY],
    }

    impl Rig {
        fn new(from: SessionParams, to: SessionParams) -> Rig {
            Rig {
                relay: Relay::new(2),
                from,
                to,
                tx: RtpSender::new(),
                scratch: Scratch::default(),
                out: [0u8; MAX_RELAY],
            }
        }

        /// The packet the peer leg sends for `pkt`, if any.
        fn forward(&mut self, pkt: &[u8]) -> Option<Vec<u8>> {
            let n = self.relay.forward(
                &rtp::read(pkt).unwrap(),
                &self.from,
                &self.to,
                &mut self.tx,
                &mut self.scratch,
                &mut self.out,
            )?;
            Some(self.out[..n].to_vec())
        }
    }

    #[test]
    fn same_codec_is_copied_with_our_stream_identity() {
        let mut rig = Rig::new(
            params(Codec::Pcmu, 0, Some(101)),
            params(Codec::Pcmu, 0, Some(96)),
        );
        let payload = [0x55u8; 160];
        let out = rig.forward(&packet(0, 1000, 7, &payload)).unwrap();
        let p1 = rtp::read(&out).unwrap();
        assert_eq!(p1.ssrc, rig.tx.ssrc);
        assert!(p1.marker, "a new stream starts a talk spurt");
        assert_eq!(p1.payload, &payload[..]);
        let (s1, t1) = (p1.sequence, p1.timestamp);
        let out = rig.forward(&packet(0, 1160, 7, &payload)).unwrap();
        let p2 = rtp::read(&out).unwrap();
        assert_eq!(p2.sequence, s1.wrapping_add(1));
        assert_eq!(p2.timestamp, t1.wrapping_add(160), "timing kept");
        assert!(!p2.marker);
        let out = rig
            .forward(&packet(101, 1320, 7, &[1, 0x80, 0, 160]))
            .unwrap();
        assert_eq!(
            rtp::read(&out).unwrap().payload_type,
            96,
            "peer's event type"
        );
    }

    #[test]
    fn different_codecs_are_transcoded() {
        let mut rig = Rig::new(params(Codec::Pcmu, 0, None), params(Codec::Pcma, 8, None));
        let mut ulaw = Vec::new();
        Codec::Pcmu.encode(&[1000i16; 160], &mut ulaw);
        let out = rig.forward(&packet(0, 0, 1, &ulaw)).unwrap();
        let p = rtp::read(&out).unwrap();
        assert_eq!(p.payload_type, 8);
        let mut back = Vec::new();
        Codec::Pcma.decode(p.payload, &mut back);
        assert!(
            back.iter().all(|s| (s - 1000).abs() < 40),
            "{:?}",
            &back[..4]
        );
        let event = packet(101, 0, 1, &[1, 0x80, 0, 160]);
        assert!(
            rig.forward(&event).is_none(),
            "no telephone-event negotiated on either leg"
        );
    }
}

#[cfg(test)]
mod engine_tests {
    use std::net::UdpSocket;
    use std::time::Duration;

    use crate::codec::Codec;
    use crate::engine::{MediaConfig, MediaEngine, MediaSession, SessionParams};
    use crate::rtp::{self, RtpSender};

    /// An engine with a PCMU caller leg bridged to a PCMA agent leg, and
    /// the two far ends' sockets.
    struct Bridged {
        engine: MediaEngine,
        caller: UdpSocket,
        agent: UdpSocket,
        a: MediaSession,
        b: MediaSession,
    }

    fn bridged(ports: (u16, u16), workers: usize) -> Bridged {
        let engine = MediaEngine::start(MediaConfig {
            ip: "127.0.0.1".parse().unwrap(),
            port_min: ports.0,
            port_max: ports.1,
            workers,
            rtp_timeout: None,
            priority: crate::priority::Priority::Normal,
            busy_limit: None,
        })
        .unwrap();
        let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
        let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&caller, &agent] {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        }
        let (etx, _erx) = tokio::sync::mpsc::unbounded_channel();
        let a = engine.open(etx.clone()).unwrap();
        let b = engine.open_beside(a.reference(), etx).unwrap();
        a.start(params(Codec::Pcmu, caller.local_addr().unwrap()));
        b.start(params(Codec::Pcma, agent.local_addr().unwrap()));
        a.bridge(&b.reference());
        Bridged {
            engine,
            caller,
            agent,
            a,
            b,
        }
    }

    fn params(codec: Codec, remote: std::net::SocketAddr) -> SessionParams {
        SessionParams {
            codec,
            payload_type: codec.payload_type(),
            dtmf_payload_type: Some(101),
            remote,
            symmetric: false,
            inband_dtmf: false,
            send: true,
            send_silence: true,
        }
    }

    /// First packet on `sock` whose payload type is `pt`, skipping silence.
    fn recv_audio(sock: &UdpSocket, pt: u8, first_byte: u8) -> Vec<u8> {
        let mut buf = [0u8; 1500];
        for _ in 0..200 {
            let n = sock.recv(&mut buf).expect("packet");
            let p = rtp::read(&buf[..n]).unwrap();
            if p.payload_type == pt && p.payload[0] == first_byte {
                return p.payload.to_vec();
            }
        }
        panic!("no relayed packet");
    }

    #[test]
    fn bridged_sessions_relay_both_ways_and_transcode() {
        let Bridged {
            engine,
            caller,
            agent,
            a,
            b,
        } = bridged((41000, 41100), 2);
        std::thread::sleep(Duration::from_millis(50));

        let mut tx = RtpSender::new();
        let mut pkt = [0u8; 200];
        let mut ulaw = Vec::new();
        Codec::Pcmu.encode(&[8000i16; 160], &mut ulaw);
        let n = tx.build(0, &ulaw, &mut pkt);
        caller.send_to(&pkt[..n], a.local_addr()).unwrap();
        let mut pcm = Vec::new();
        Codec::Pcmu.decode(&ulaw, &mut pcm);
        let mut alaw = Vec::new();
        Codec::Pcma.encode(&pcm, &mut alaw);
        let got = recv_audio(&agent, 8, alaw[0]);
        assert_eq!(got, alaw, "caller's PCMU reaches the agent as PCMA");

        let mut tx2 = RtpSender::new();
        let n = tx2.build(8, &alaw, &mut pkt);
        agent.send_to(&pkt[..n], b.local_addr()).unwrap();
        pcm.clear();
        Codec::Pcma.decode(&alaw, &mut pcm);
        let mut back = Vec::new();
        Codec::Pcmu.encode(&pcm, &mut back);
        let got = recv_audio(&caller, 0, back[0]);
        assert_eq!(got, back, "agent's PCMA reaches the caller as PCMU");
        std::thread::sleep(Duration::from_millis(20)); // the counter follows the send
        let relayed = engine
            .stats
            .packets_relayed
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(relayed, 2);
    }

    #[test]
    fn a_quiet_bridge_keeps_both_legs_flowing_with_silence() {
        // The sessions are kept (not `..`): dropping them closes them.
        let Bridged {
            engine,
            caller,
            agent,
            a: _a,
            b: _b,
        } = bridged((41200, 41300), 1);
        // Neither side talks: after 100 ms each leg gets silence in its law,
        // so the far ends (and rtpload in the bridged benchmark) hear RTP.
        let mut buf = [0u8; 400];
        for (sock, pt, silence) in [(&caller, 0u8, 0xFFu8), (&agent, 8, 0xD5)] {
            let (n, _) = sock.recv_from(&mut buf).expect("silence on a quiet bridge");
            let p = rtp::read(&buf[..n]).unwrap();
            assert_eq!(p.payload_type, pt);
            assert_eq!(p.payload.len(), 160);
            assert!(
                p.payload.iter().all(|b| *b == silence),
                "silence in the leg's law"
            );
        }
        let relayed = engine
            .stats
            .packets_relayed
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            relayed, 0,
            "nothing was relayed: the silence is the leg's own"
        );
    }
}
