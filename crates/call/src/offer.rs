//! SDP steps both call legs take: negotiate a body (a re-offer, or the
//! agent's answer), turn the result into media session parameters, and
//! refuse an unusable offer with 488 and the reason.

use media::codec::Codec;
use media::engine::SessionParams;
use media::sdp::{self, Direction, Negotiated};
use sip::message;
use sip::rsip::{Header, Request, Response};

/// Negotiate an SDP body against our codecs; the reason in words when it
/// cannot be used.
pub(crate) fn negotiate_body(body: &[u8], codecs: &[Codec]) -> Result<Negotiated, String> {
    sdp::parse(&String::from_utf8_lossy(body))
        .map_err(|e| e.to_string())
        .and_then(|o| sdp::negotiate(&o, codecs).map_err(|e| e.to_string()))
}

/// What the media engine is told for a negotiation.
pub(crate) fn session_params(n: &Negotiated, symmetric: bool, inband: bool) -> SessionParams {
    SessionParams {
        codec: n.codec,
        payload_type: n.payload_type,
        dtmf_payload_type: n.dtmf_payload_type,
        remote: n.remote_rtp,
        symmetric,
        inband_dtmf: inband,
        send: matches!(n.direction, Direction::SendRecv | Direction::SendOnly),
        send_silence: true,
    }
}

/// 488 to an in-dialog offer we cannot take, saying why.
pub(crate) fn refuse(req: &Request, why: &str) -> Response {
    let mut r = message::response(req, 488, None);
    r.headers.push(Header::Warning(
        format!("305 softswitch \"{}\"", why.replace('"', "'")).into(),
    ));
    r
}
