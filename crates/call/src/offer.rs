//! SDP steps both call legs take: read an INVITE's offer (or its absence:
//! a late offer), negotiate a body (a re-offer, an answer), turn the result
//! into media session parameters, and refuse an unusable offer with 488 and
//! the reason.

use media::codec::Codec;
use media::engine::SessionParams;
use media::sdp::{self, Direction, Negotiated, SdpError, SessionDescription};
use sip::message;
use sip::rsip::{Header, Request, Response};

use crate::trunk::InbandDtmf;

/// The telephone-event payload type in the offers we make.
pub(crate) const OFFER_DTMF_PT: u8 = 101;

/// Why an offer or an answer cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OfferError {
    /// The body is not SDP.
    #[error("body is {0}, expected application/sdp")]
    NotSdp(String),
    /// The SDP is malformed or has nothing we can take.
    #[error(transparent)]
    Sdp(#[from] SdpError),
    /// An offerless re-INVITE before any session was agreed.
    #[error("no session to offer again yet")]
    NoSession,
}

/// The SDP offer of an INVITE; `None` for an INVITE without a body (a
/// late offer: our offer goes in the 200, the answer comes in the ACK).
pub(crate) fn offer_of(req: &Request) -> Result<Option<SessionDescription>, OfferError> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let ctype = message::content_type(&req.headers).unwrap_or("application/sdp");
    if !ctype.to_ascii_lowercase().starts_with("application/sdp") {
        return Err(OfferError::NotSdp(ctype.to_string()));
    }
    Ok(Some(sdp::parse(&String::from_utf8_lossy(&req.body))?))
}

/// Negotiate an SDP body (an offer, or the answer to ours) against our
/// codecs.
pub(crate) fn negotiate_body(body: &[u8], codecs: &[Codec]) -> Result<Negotiated, OfferError> {
    let parsed = sdp::parse(&String::from_utf8_lossy(body))?;
    Ok(sdp::negotiate(&parsed, codecs)?)
}

/// What the media engine is told for a negotiation; in-band DTMF detection
/// by the trunk's policy (`auto`: when no telephone-event was agreed).
pub(crate) fn session_params(n: &Negotiated, symmetric: bool, inband: InbandDtmf) -> SessionParams {
    SessionParams {
        codec: n.codec,
        payload_type: n.payload_type,
        dtmf_payload_type: n.dtmf_payload_type,
        remote: n.remote_rtp,
        symmetric,
        inband_dtmf: match inband {
            InbandDtmf::Always => true,
            InbandDtmf::Never => false,
            InbandDtmf::Auto => n.dtmf_payload_type.is_none(),
        },
        send: matches!(n.direction, Direction::SendRecv | Direction::SendOnly),
        send_silence: true,
    }
}

/// 488 to an in-dialog offer we cannot take, saying why.
pub(crate) fn refuse(req: &Request, why: &OfferError) -> Response {
    let mut r = message::response(req, 488, None);
    r.headers.push(Header::Warning(
        format!("305 softswitch \"{}\"", why.to_string().replace('"', "'")).into(),
    ));
    r
}
