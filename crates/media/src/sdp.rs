//! Minimal SDP (RFC 4566) and offer/answer (RFC 3264) for an audio-only G.711 softswitch:
//! parse a remote description, negotiate codec, DTMF and direction, build our answer or offer.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use crate::codec::{Codec, FRAME_MS, SAMPLE_RATE};

const M_LINE: &str = "bad m= line: expected \"m=audio <port> RTP/AVP <formats>\"";
const O_LINE: &str =
    "bad o= line: expected \"o=<username> <session id> <version> IN IP4|IP6 <address>\"";
const C_LINE: &str =
    "bad c= line: expected \"c=IN IP4 <IPv4 address>\" or \"c=IN IP6 <IPv6 address>\"";
const RTPMAP_LINE: &str =
    "bad a=rtpmap line: expected \"a=rtpmap:<payload type> <encoding>/<clock rate>[/<channels>]\"";
const FMTP_LINE: &str = "bad a=fmtp line: expected \"a=fmtp:<payload type> <parameters>\"";
const PTIME_LINE: &str = "bad a=ptime line: expected \"a=ptime:<milliseconds>\"";

/// The only transport we answer: plain RTP audio/video profile.
const RTP_AVP: &str = "RTP/AVP";
/// The encoding name of RFC 4733 events.
const TELEPHONE_EVENT: &str = "telephone-event";

/// Errors parsing or negotiating SDP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// A line that does not have the expected shape.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A mandatory line is absent.
    #[error("SDP has no {0} line")]
    MissingLine(&'static str),
    /// No `m=audio` line at all.
    #[error("SDP has no audio stream (m=audio <port> RTP/AVP <formats>)")]
    NoAudio,
    /// The audio stream is offered with port 0.
    #[error("the audio stream is disabled (port 0)")]
    AudioDisabled,
    /// The audio stream uses a transport other than RTP/AVP (e.g. SRTP's RTP/SAVP).
    #[error("unsupported audio transport {0:?}: only RTP/AVP is supported")]
    UnsupportedTransport(String),
    /// Neither the audio stream nor the session has a `c=` line.
    #[error("no connection address (c=) for the audio stream")]
    NoConnection,
    /// None of the offered codecs is one we support (maps to SIP 488).
    #[error("no common codec: none of the offered formats is a supported G.711 codec")]
    NoCommonCodec,
}

/// Media direction attribute (RFC 3264 section 5.1), from the describing side's viewpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. "sendrecv".
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction of an attribute name (case-sensitive, as in RFC 4566).
    pub fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The answerer's direction for an offer with this direction (send <-> receive).
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same direction with sending removed.
    fn without_send(self) -> Direction {
        if self.receives() {
            Direction::RecvOnly
        } else {
            Direction::Inactive
        }
    }
}

/// The `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username (`-` when none).
    pub username: String,
    /// Session id, kept as text: some agents send more digits than fit a u64.
    pub session_id: String,
    /// Session version; it increases when the description changes.
    pub session_version: u64,
    /// Address of the originating host, as written.
    pub address: String,
}

/// One `a=rtpmap` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// RTP payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count when given.
    pub channels: Option<u16>,
}

/// One `a=fmtp` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// RTP payload type the parameters apply to.
    pub payload_type: u8,
    /// Format parameters, as written.
    pub params: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type, e.g. "audio".
    pub media: String,
    /// Transport port (0 disables the stream).
    pub port: u16,
    /// Transport protocol, e.g. "RTP/AVP".
    pub protocol: String,
    /// Formats in the offerer's order of preference (payload types for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` attributes.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` attributes.
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
}

impl MediaDescription {
    /// The formats that are RTP payload types, in order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| f.parse().ok())
    }

    /// The `a=rtpmap` of a payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|r| r.payload_type == payload_type)
    }

    /// The `a=fmtp` parameters of a payload type.
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|f| f.payload_type == payload_type)
            .map(|f| f.params.as_str())
    }

    /// The G.711 codec a payload type stands for: its rtpmap (name, 8000 Hz, mono) or,
    /// without one, the static payload type.
    pub fn codec_of(&self, payload_type: u8) -> Option<Codec> {
        match self.rtpmap(payload_type) {
            Some(map) if map.clock_rate == SAMPLE_RATE && map.channels.unwrap_or(1) == 1 => {
                Codec::from_name(&map.encoding)
            }
            Some(_) => None,
            None => Codec::from_payload_type(payload_type),
        }
    }

    /// The payload type of telephone-event/8000 among the formats, if offered.
    pub fn telephone_event(&self) -> Option<u8> {
        self.payload_types().find(|&pt| {
            self.rtpmap(pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case(TELEPHONE_EVENT) && m.clock_rate == SAMPLE_RATE
            })
        })
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The `o=` line.
    pub origin: Origin,
    /// The `s=` line (empty when absent).
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// The `m=` sections in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// Parses SDP text (CRLF or LF line endings); see [`parse`].
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        parse(text)
    }

    /// The first `m=audio` section.
    pub fn audio(&self) -> Option<&MediaDescription> {
        self.media
            .iter()
            .find(|m| m.media.eq_ignore_ascii_case("audio"))
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

fn syntax(line: usize, message: impl Into<String>) -> SdpError {
    SdpError::Syntax {
        line,
        message: message.into(),
    }
}

/// Parses SDP text with CRLF or LF line endings.
///
/// Understood: `v=`, `o=`, `s=`, `c=` (session and media level, IN IP4 / IN IP6), `m=`,
/// `a=rtpmap`, `a=fmtp`, `a=ptime` and the direction attributes (session or media level).
/// Other lines are ignored. `v=0` must come first and `o=` must be present; errors name the
/// line and what was expected.
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut origin = None;
    let mut session_name = String::new();
    let mut connection = None;
    let mut direction = None;
    let mut media: Vec<MediaDescription> = Vec::new();
    let mut seen_version = false;

    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
            return Err(syntax(
                line_no,
                format!("expected \"<type>=<value>\", got {line:?}"),
            ));
        }
        let (kind, value) = (bytes[0], &line[2..]);
        if !seen_version {
            if kind != b'v' || value.trim() != "0" {
                return Err(syntax(line_no, "expected \"v=0\" as the first line"));
            }
            seen_version = true;
            continue;
        }
        match kind {
            b'o' => origin = Some(parse_origin(value).ok_or_else(|| syntax(line_no, O_LINE))?),
            b's' => session_name = value.to_string(),
            b'c' => {
                let addr = parse_connection(value).ok_or_else(|| syntax(line_no, C_LINE))?;
                match media.last_mut() {
                    Some(m) => m.connection = Some(addr),
                    None => connection = Some(addr),
                }
            }
            b'm' => media.push(parse_media(value).ok_or_else(|| syntax(line_no, M_LINE))?),
            b'a' => {
                let (name, arg) = match value.split_once(':') {
                    Some((n, a)) => (n, Some(a)),
                    None => (value, None),
                };
                if let Some(d) = Direction::from_attribute(name.trim()) {
                    match media.last_mut() {
                        Some(m) => m.direction = Some(d),
                        None => direction = Some(d),
                    }
                    continue;
                }
                // Codec attributes only mean something inside an m= section.
                let (Some(m), Some(arg)) = (media.last_mut(), arg) else {
                    continue;
                };
                match name {
                    "rtpmap" => m
                        .rtpmaps
                        .push(parse_rtpmap(arg).ok_or_else(|| syntax(line_no, RTPMAP_LINE))?),
                    "fmtp" => m
                        .fmtps
                        .push(parse_fmtp(arg).ok_or_else(|| syntax(line_no, FMTP_LINE))?),
                    "ptime" => {
                        m.ptime = Some(parse_ptime(arg).ok_or_else(|| syntax(line_no, PTIME_LINE))?)
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_version {
        return Err(SdpError::MissingLine("v="));
    }
    Ok(SessionDescription {
        origin: origin.ok_or(SdpError::MissingLine("o="))?,
        session_name,
        connection,
        direction,
        media,
    })
}

fn parse_origin(value: &str) -> Option<Origin> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let [username, session_id, version, net, addr_type, address] = f[..] else {
        return None;
    };
    if net != "IN"
        || !(addr_type == "IP4" || addr_type == "IP6")
        || !session_id.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(Origin {
        username: username.to_string(),
        session_id: session_id.to_string(),
        session_version: version.parse().ok()?,
        address: address.to_string(),
    })
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let [net, addr_type, addr] = f[..] else {
        return None;
    };
    if net != "IN" {
        return None;
    }
    // Multicast addresses may carry /ttl and /count suffixes.
    let addr = addr.split('/').next()?;
    match addr_type {
        "IP4" => Ipv4Addr::from_str(addr).ok().map(IpAddr::V4),
        "IP6" => Ipv6Addr::from_str(addr).ok().map(IpAddr::V6),
        _ => None,
    }
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut f = value.split_whitespace();
    let media = f.next()?.to_string();
    // A port may carry "/<number of ports>".
    let port = f.next()?.split('/').next()?.parse().ok()?;
    let protocol = f.next()?.to_string();
    let formats: Vec<String> = f.map(str::to_string).collect();
    if formats.is_empty() {
        return None;
    }
    if protocol.to_ascii_uppercase().contains("RTP/")
        && !formats
            .iter()
            .all(|f| f.parse::<u8>().is_ok_and(|pt| pt <= 127))
    {
        return None;
    }
    Some(MediaDescription {
        media,
        port,
        protocol,
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
    })
}

fn parse_rtpmap(arg: &str) -> Option<RtpMap> {
    let (pt, rest) = arg.trim().split_once(char::is_whitespace)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.trim();
    let clock_rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    if encoding.is_empty() || parts.next().is_some() {
        return None;
    }
    Some(RtpMap {
        payload_type: pt.parse().ok().filter(|&pt: &u8| pt <= 127)?,
        encoding: encoding.to_string(),
        clock_rate,
        channels,
    })
}

fn parse_fmtp(arg: &str) -> Option<Fmtp> {
    let arg = arg.trim();
    let (pt, params) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
    Some(Fmtp {
        payload_type: pt.parse().ok()?,
        params: params.trim().to_string(),
    })
}

fn parse_ptime(arg: &str) -> Option<u32> {
    let arg = arg.trim();
    let ms = match arg.parse::<u32>() {
        Ok(ms) => ms,
        Err(_) => {
            let ms: f64 = arg.parse().ok()?;
            if !(1.0..=10_000.0).contains(&ms) {
                return None;
            }
            ms.round() as u32
        }
    };
    (ms > 0).then_some(ms)
}

/// The outcome of negotiating an offer: what we answer and how to reach the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec both sides use.
    pub codec: Codec,
    /// The payload type the offer uses for it (static 0/8, or a dynamic one from rtpmap).
    pub payload_type: u8,
    /// The offer's telephone-event/8000 payload type, if any.
    pub dtmf_payload_type: Option<u8>,
    /// Where to send RTP (0.0.0.0 or :: when the offer puts us on hold).
    pub remote_rtp: SocketAddr,
    /// OUR direction in the answer.
    pub direction: Direction,
    /// Packetisation the remote asked for (`a=ptime`, 20 when absent); we send 20 ms.
    pub ptime_ms: u32,
    /// The offer's `o=` session version, to spot changed re-offers.
    pub remote_session_version: u64,
    /// The offer's `m=` lines in order (RFC 3264 section 6: the answer has
    /// as many, in the same order): `None` for the audio line we use, the
    /// others declined at port 0. Empty means the one audio line.
    pub lines: Vec<Option<Declined>>,
}

/// An offered `m=` line we decline: the answer repeats it at port 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined {
    /// Media type as offered ("video", "audio", "application"...).
    pub media: String,
    /// Transport protocol as offered.
    pub protocol: String,
    /// The first format offered (an answer lists at least one).
    pub format: String,
}

/// Negotiates an answer to `offer` (RFC 3264).
///
/// Uses the first `m=audio` section on RTP/AVP with a non-zero port, and picks the first
/// codec in the offer's order that is in `supported`; telephone-event/8000 is taken when
/// offered. Our direction mirrors the offer's (sendonly -> recvonly, recvonly -> sendonly,
/// inactive -> inactive); a connection address of 0.0.0.0 (or ::) is the old RFC 2543 hold
/// and additionally stops us sending (our sendrecv -> recvonly, our sendonly -> inactive).
pub fn negotiate(offer: &SessionDescription, supported: &[Codec]) -> Result<Negotiated, SdpError> {
    let audio: Vec<&MediaDescription> = offer
        .media
        .iter()
        .filter(|m| m.media.eq_ignore_ascii_case("audio"))
        .collect();
    let first = audio.first().ok_or(SdpError::NoAudio)?;
    let rtp: Vec<&&MediaDescription> = audio
        .iter()
        .filter(|m| m.protocol.eq_ignore_ascii_case(RTP_AVP))
        .collect();
    if rtp.is_empty() {
        return Err(SdpError::UnsupportedTransport(first.protocol.clone()));
    }
    let m = rtp
        .iter()
        .find(|m| m.port != 0)
        .ok_or(SdpError::AudioDisabled)?;

    let (codec, payload_type) = m
        .payload_types()
        .find_map(|pt| {
            m.codec_of(pt)
                .filter(|c| supported.contains(c))
                .map(|c| (c, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;

    let ip = m
        .connection
        .or(offer.connection)
        .ok_or(SdpError::NoConnection)?;
    let offered = m
        .direction
        .or(offer.direction)
        .unwrap_or(Direction::SendRecv);
    let mut direction = offered.reverse();
    if ip.is_unspecified() {
        direction = direction.without_send();
    }

    let lines = offer
        .media
        .iter()
        .map(|line| {
            (!std::ptr::eq(line, **m)).then(|| Declined {
                media: line.media.clone(),
                protocol: line.protocol.clone(),
                format: line.formats.first().cloned().unwrap_or_else(|| "0".into()),
            })
        })
        .collect();
    Ok(Negotiated {
        codec,
        payload_type,
        dtmf_payload_type: m.telephone_event(),
        remote_rtp: SocketAddr::new(ip, m.port),
        direction,
        ptime_ms: m.ptime.unwrap_or(FRAME_MS),
        remote_session_version: offer.origin.session_version,
        lines,
    })
}

fn ip_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

fn session_header(out: &mut String, ip: IpAddr, session_id: u64, session_version: u64) {
    let t = ip_type(ip);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "v=0\r\no=softswitch {session_id} {session_version} IN {t} {ip}\r\n\
         s=softswitch\r\nc=IN {t} {ip}\r\nt=0 0\r\n"
    );
}

fn telephone_event_lines(out: &mut String, pt: u8) {
    let _ = write!(
        out,
        "a=rtpmap:{pt} {TELEPHONE_EVENT}/{SAMPLE_RATE}\r\na=fmtp:{pt} 0-16\r\n"
    );
}

/// Builds our SDP answer for a negotiation (CRLF line endings): our audio
/// line where the offer had the one we use, every other offered line
/// declined at port 0.
pub fn build_answer(
    local_ip: IpAddr,
    local_port: u16,
    n: &Negotiated,
    session_id: u64,
    session_version: u64,
) -> String {
    let mut out = String::with_capacity(256);
    session_header(&mut out, local_ip, session_id, session_version);
    if n.lines.is_empty() {
        audio_answer(&mut out, local_port, n);
    }
    for line in &n.lines {
        match line {
            None => audio_answer(&mut out, local_port, n),
            Some(d) => {
                let _ = write!(out, "m={} 0 {} {}\r\n", d.media, d.protocol, d.format);
            }
        }
    }
    out
}

/// The `m=audio` section of our answer.
fn audio_answer(out: &mut String, local_port: u16, n: &Negotiated) {
    let pt = n.payload_type;
    let _ = write!(out, "m=audio {local_port} {RTP_AVP} {pt}");
    if let Some(dtmf) = n.dtmf_payload_type {
        let _ = write!(out, " {dtmf}");
    }
    let _ = write!(
        out,
        "\r\na=rtpmap:{pt} {}/{SAMPLE_RATE}\r\n",
        n.codec.name()
    );
    if let Some(dtmf) = n.dtmf_payload_type {
        telephone_event_lines(out, dtmf);
    }
    let _ = write!(
        out,
        "a=ptime:{FRAME_MS}\r\na={}\r\n",
        n.direction.attribute()
    );
}

/// Builds an SDP offer for the given codecs in order of preference plus telephone-event
/// on `dtmf_payload_type` (pick a dynamic type, 96-127), sendrecv, 20 ms (CRLF endings).
pub fn build_offer(
    local_ip: IpAddr,
    local_port: u16,
    codecs: &[Codec],
    dtmf_payload_type: u8,
    session_id: u64,
    session_version: u64,
) -> String {
    let mut out = String::with_capacity(256);
    session_header(&mut out, local_ip, session_id, session_version);
    let _ = write!(out, "m=audio {local_port} {RTP_AVP}");
    for c in codecs {
        let _ = write!(out, " {}", c.payload_type());
    }
    let _ = write!(out, " {dtmf_payload_type}\r\n");
    for c in codecs {
        let _ = write!(
            out,
            "a=rtpmap:{} {}/{SAMPLE_RATE}\r\n",
            c.payload_type(),
            c.name()
        );
    }
    telephone_event_lines(&mut out, dtmf_payload_type);
    let _ = write!(out, "a=ptime:{FRAME_MS}\r\na=sendrecv\r\n");
    out
}

#[cfg(test)]
mod tests;
