//! What an RTP session is told about its peer once SDP is negotiated: the
//! engine's sessions and the bridge's relay both read it.

use std::net::SocketAddr;

use crate::codec::Codec;

/// What a session is told to do with its peer, from SDP negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    /// The negotiated audio codec.
    pub codec: Codec,
    /// Its payload type, as the peer numbered it.
    pub payload_type: u8,
    /// The peer's telephone-event payload type, when it sends RFC 4733.
    pub dtmf_payload_type: Option<u8>,
    /// Where to send (the SDP's address, until latched).
    pub remote: SocketAddr,
    /// Latch on the first source that sends to us (callers behind NAT).
    pub symmetric: bool,
    /// Decode audio and look for DTMF tones in it.
    pub inband_dtmf: bool,
    /// We may send (not on hold / recvonly).
    pub send: bool,
    /// Send silence frames when nothing plays (keeps NAT bindings and RTP
    /// inactivity timers of trunks happy).
    pub send_silence: bool,
}
