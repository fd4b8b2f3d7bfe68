//! One RTP session on a worker: its socket, what it plays, its DTMF
//! detectors, its relay to a bridged peer and its tap.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use super::{MediaEvent, PlayEnd, SessionParams, BRIDGE_QUIET_TICKS};
use crate::bridge::Relay;
use crate::codec::FRAME_SAMPLES;
use crate::dtmf::goertzel::InbandDetector;
use crate::dtmf::rfc4733::Rfc4733Detector;
use crate::dtmf::DtmfEvent;
use crate::prompt::Prompt;
use crate::record::ChannelBuffer;
use crate::rtp::{self, RtpSender, MAX_PACKET};
use crate::stats::PacketCounts;

pub(super) struct Playing {
    pub(super) prompt: Arc<Prompt>,
    pub(super) frame: usize,
    pub(super) barge_in: bool,
    pub(super) play_id: u64,
}

pub(super) struct Session {
    pub(super) socket: mio::net::UdpSocket,
    pub(super) port: u16,
    /// Which slot of the tick it sends in.
    pub(super) slot: usize,
    pub(super) events: UnboundedSender<MediaEvent>,
    pub(super) params: Option<SessionParams>,
    /// Where we send and accept from (SDP address, or the latched source).
    pub(super) remote: Option<SocketAddr>,
    pub(super) latched: bool,
    /// The socket is connected to this address (the remote, once settled):
    /// the kernel then keeps its route and filters sources, which makes
    /// each send cheaper.
    pub(super) connected: Option<SocketAddr>,
    pub(super) tx: RtpSender,
    pub(super) sent_last_tick: bool,
    pub(super) playing: Option<Playing>,
    pub(super) rfc4733: Rfc4733Detector,
    pub(super) inband: Option<InbandDetector>,
    pub(super) last_rx: Option<Instant>,
    pub(super) timed_out: bool,
    /// Bridged: what we receive goes out of the peer session.
    pub(super) relay: Option<Relay>,
    /// Ticks since the peer last relayed a packet out of this session.
    pub(super) relay_idle: u32,
    /// Recorded: what we receive, decoded, waiting for the next tick.
    pub(super) tap: Option<ChannelBuffer>,
    /// A supervisor's leg: it gets the mix of a conversation, no prompts.
    pub(super) listening: bool,
}

impl Session {
    /// Connect the socket to the remote once it can no longer move: at
    /// once without latching, else when the first packet latched it. A
    /// re-INVITE to a new address connects again.
    pub(super) fn settle(&mut self) {
        let Some(params) = self.params else {
            return;
        };
        if params.symmetric && !self.latched {
            return;
        }
        let Some(to) = self.remote else {
            return;
        };
        // A held call's 0.0.0.0 is no address to connect to.
        if to.ip().is_unspecified() || to.port() == 0 {
            return;
        }
        if self.connected != Some(to) {
            match self.socket.connect(to) {
                Ok(()) => self.connected = Some(to),
                Err(e) => {
                    tracing::debug!(error = %e, remote = %to, "RTP socket not connected");
                    self.connected = None;
                }
            }
        }
    }

    /// Send one packet; true when it went out. A full socket buffer drops
    /// it (a paced sender never waits) and is counted; other errors are
    /// ICMP reports of earlier sends.
    pub(super) fn send(&self, data: &[u8], to: SocketAddr, counts: &mut PacketCounts) -> bool {
        let r = if self.connected == Some(to) {
            self.socket.send(data)
        } else {
            self.socket.send_to(data, to)
        };
        match r {
            Ok(_) => true,
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    counts.send_dropped += 1;
                }
                false
            }
        }
    }

    /// A silence frame in the session's codec, built into `packet`.
    pub(super) fn silence(
        &mut self,
        params: &SessionParams,
        packet: &mut [u8; MAX_PACKET],
    ) -> usize {
        let silence = [params.codec.silence(); FRAME_SAMPLES];
        self.tx.build(params.payload_type, &silence, packet)
    }

    /// One datagram from `src`: check its source, detect DTMF, feed the
    /// tap. A bridged session hands back what relaying it needs (its relay
    /// state is taken out while the peer is borrowed, then put back).
    pub(super) fn on_datagram<'d>(
        &mut self,
        data: &'d [u8],
        src: Option<SocketAddr>,
        now: Instant,
        pcm: &mut Vec<i16>,
        counts: &mut PacketCounts,
    ) -> Option<(rtp::Received<'d>, SessionParams, Relay)> {
        counts.received += 1;
        let params = self.params?; // not negotiated yet
        let Some(pkt) = rtp::read(data) else {
            counts.dropped_malformed += 1;
            return None;
        };
        // Symmetric RTP latches only onto RTP of a negotiated payload
        // type: a stray or hostile datagram cannot steal the stream.
        let negotiated = pkt.payload_type == params.payload_type
            || Some(pkt.payload_type) == params.dtmf_payload_type;
        if params.symmetric && !self.latched && src.is_some() && negotiated {
            self.remote = src;
            self.latched = true;
            self.settle();
        } else if src.is_none() || self.remote != src {
            counts.dropped_source += 1;
            return None;
        }
        self.last_rx = Some(now);
        self.timed_out = false;
        if Some(pkt.payload_type) == params.dtmf_payload_type {
            if let Some(ev) = self
                .rfc4733
                .on_packet(pkt.timestamp, pkt.marker, pkt.payload)
            {
                self.on_digit(ev);
            }
        } else if pkt.payload_type == params.payload_type
            && (self.inband.is_some() || self.tap.is_some())
        {
            pcm.clear();
            params.codec.decode(pkt.payload, pcm);
            if let Some(tap) = self.tap.as_mut() {
                tap.push(pcm);
            }
            if let Some(det) = self.inband.as_mut() {
                for ev in det.feed(pcm) {
                    self.on_digit(ev);
                }
            }
        }
        self.relay.take().map(|r| (pkt, params, r))
    }

    /// This tick's frame: the prompt's next one, else silence (if asked
    /// for). Bridged and listening sessions send as audio comes instead.
    /// True when a packet went out.
    pub(super) fn send_frame(
        &mut self,
        packet: &mut [u8; MAX_PACKET],
        counts: &mut PacketCounts,
    ) -> bool {
        self.tx.advance(FRAME_SAMPLES as u32);
        let (Some(params), Some(remote)) = (self.params, self.remote) else {
            return false;
        };
        if self.listening {
            return false;
        }
        if !params.send {
            self.sent_last_tick = false;
            return false;
        }
        if self.relay.is_some() {
            // Bridged: the peer's packets go out as they come. When the
            // peer is quiet (a phone with voice activity detection, a hold
            // without music, a leg not talking yet), silence keeps this
            // leg's RTP flowing for NAT bindings and the far end's
            // inactivity timer.
            self.relay_idle = self.relay_idle.saturating_add(1);
            if self.relay_idle <= BRIDGE_QUIET_TICKS || !params.send_silence {
                return false;
            }
            if self.relay_idle == BRIDGE_QUIET_TICKS + 1 {
                self.tx.mark_spurt();
            }
            let len = self.silence(&params, packet);
            return self.send(&packet[..len], remote, counts);
        }
        let frame = match self.playing.as_mut() {
            Some(p) => p
                .prompt
                .frame(params.codec, p.frame)
                .inspect(|_| p.frame += 1),
            None => None,
        };
        let len = match frame {
            Some(f) => self.tx.build(params.payload_type, f, packet),
            None => {
                if self.playing.is_some() {
                    self.finish_play(PlayEnd::Completed);
                }
                if !params.send_silence {
                    if self.sent_last_tick {
                        self.tx.mark_spurt();
                    }
                    self.sent_last_tick = false;
                    return false;
                }
                self.silence(&params, packet)
            }
        };
        let sent = self.send(&packet[..len], remote, counts);
        self.sent_last_tick = true;
        // A finished prompt reports at once, not a tick later.
        if let Some(p) = self.playing.as_ref() {
            if p.frame >= p.prompt.frame_count() {
                self.finish_play(PlayEnd::Completed);
            }
        }
        sent
    }

    pub(super) fn finish_play(&mut self, end: PlayEnd) {
        if let Some(p) = self.playing.take() {
            let _ = self.events.send(MediaEvent::PlayFinished {
                play_id: p.play_id,
                frames_sent: p.frame,
                frames_total: p.prompt.frame_count(),
                end,
            });
        }
    }

    /// The digit goes out before the end of the play it cuts, so whoever
    /// waits on the play finds the digit already there.
    pub(super) fn on_digit(&mut self, ev: DtmfEvent) {
        let _ = self.events.send(MediaEvent::Dtmf(ev));
        if self.playing.as_ref().is_some_and(|p| p.barge_in) {
            self.finish_play(PlayEnd::BargeIn);
        }
    }
}
