//! Thin shim in front of rsip: normalises what rsip 0.4 cannot read, then parses.
//!
//! rsip 0.4 falls short on real trunks in four ways, which this module fixes
//! before handing the bytes over:
//! - it knows no compact header forms (`v: i: f: t: m: l: c: k: s: e: o: r: u:`),
//! - it does not unfold continuation lines (a header line starting with SP/HT),
//! - it wants one Via per header line (comma-joined Via lists are common),
//! - it ignores Content-Length (a datagram may carry trailing bytes; a short
//!   body must be rejected), and it accepts neither bare LF line ends nor a
//!   space before the colon.
//!
//! Anything still unreadable becomes a [`ParseError`], which the transport maps
//! to `400 Bad Request` when enough of the request survived to answer it.

use rsip::SipMessage;

/// Why a datagram or stream chunk is not a SIP message we can use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but line ends (or no bytes at all).
    #[error("empty message")]
    Empty,
    /// No blank line ends the header block (a truncated message).
    #[error("no blank line ending the header block")]
    NoHeaderEnd,
    /// The start line or a header is not valid UTF-8.
    #[error("message is not UTF-8 in its header block")]
    NotUtf8,
    /// A header line with no colon or a bad name: its line number, from 1 for
    /// the start line, after unfolding.
    #[error("header line {0} has no ':'")]
    BadHeaderLine(usize),
    /// Content-Length is not a decimal number: the value as sent.
    #[error("bad Content-Length value {0:?}")]
    BadContentLength(String),
    /// Content-Length announces more than a stream message may carry
    /// ([`MAX_STREAM_MESSAGE`]): answered 513 Message Too Large.
    #[error("Content-Length {0} is over the {MAX_STREAM_MESSAGE}-byte limit")]
    TooLarge(u64),
    /// The body is shorter than Content-Length says (a truncated message).
    #[error("body shorter than Content-Length ({have} of {want} bytes)")]
    ShortBody {
        /// Bytes of body received.
        have: usize,
        /// Bytes Content-Length announced.
        want: usize,
    },
    /// A header every message needs (Call-ID, CSeq, From, To, Via) is absent,
    /// or CSeq has no method: the header's name.
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// Any other error (rsip's, or a bad CSeq number or method), as text.
    #[error("rsip: {0}")]
    Rsip(String),
}

/// Long name for a compact header form (RFC 3261 section 7.3.3 and later RFCs).
pub fn expand_compact(name: &str) -> Option<&'static str> {
    if name.len() != 1 {
        return None;
    }
    Some(match name.as_bytes()[0].to_ascii_lowercase() {
        b'v' => "Via",
        b'i' => "Call-ID",
        b'f' => "From",
        b't' => "To",
        b'm' => "Contact",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'u' => "Allow-Events",
        b'b' => "Referred-By",
        b'x' => "Session-Expires",
        _ => return None,
    })
}

/// Split a header value on commas that are outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Find the end of the header block: returns (header bytes, body start).
fn header_end(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == b'\n' {
            if data[i + 1] == b'\n' {
                return Some((i, i + 2));
            }
            if data[i + 1] == b'\r' && data.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// Rewrite a raw message into the canonical form rsip reads: CRLF line ends,
/// unfolded lines, long header names, one Via per line, body cut to
/// Content-Length. Returns the canonical bytes.
pub fn normalize(data: &[u8]) -> Result<Vec<u8>, ParseError> {
    // Tolerate leading CRLFs (RFC 3261 7.5: keep-alives and stream padding).
    let start = data
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .ok_or(ParseError::Empty)?;
    let data = &data[start..];
    let (head_len, body_start) = header_end(data).ok_or(ParseError::NoHeaderEnd)?;
    let head = std::str::from_utf8(&data[..head_len]).map_err(|_| ParseError::NotUtf8)?;
    let body = &data[body_start..];

    // Unfold: a line starting with whitespace continues the previous one.
    let mut lines: Vec<String> = Vec::with_capacity(16);
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with([' ', '\t']) && lines.len() > 1 {
            let last = lines.last_mut().expect("checked len");
            last.push(' ');
            last.push_str(line.trim());
        } else {
            lines.push(line.to_string());
        }
    }
    let start_line = lines.first().ok_or(ParseError::Empty)?;
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(start_line.trim_end().as_bytes());
    out.extend_from_slice(b"\r\n");

    let mut content_length: Option<usize> = None;
    for (n, line) in lines.iter().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let colon = line.find(':').ok_or(ParseError::BadHeaderLine(n + 1))?;
        let name = line[..colon].trim();
        let value = line[colon + 1..].trim();
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(ParseError::BadHeaderLine(n + 1));
        }
        let name = expand_compact(name).unwrap_or(name);
        if name.eq_ignore_ascii_case("Content-Length") {
            let len = value
                .parse::<usize>()
                .map_err(|_| ParseError::BadContentLength(value.to_string()))?;
            content_length = Some(len);
            continue; // re-emitted below from the real body length
        }
        if name.eq_ignore_ascii_case("Via") {
            for via in split_list(value) {
                push_header(&mut out, "Via", via);
            }
        } else {
            push_header(&mut out, name, value);
        }
    }
    let body = match content_length {
        Some(want) if body.len() < want => {
            return Err(ParseError::ShortBody {
                have: body.len(),
                want,
            })
        }
        Some(want) => &body[..want],
        // RFC 3261 18.3: over UDP, no Content-Length means the body runs to
        // the end of the datagram.
        None => body,
    };
    push_header(&mut out, "Content-Length", &body.len().to_string());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Parse one complete SIP message (a datagram, or one framed stream message).
pub fn parse(data: &[u8]) -> Result<SipMessage, ParseError> {
    let canonical = normalize(data)?;
    SipMessage::try_from(canonical.as_slice()).map_err(|e| ParseError::Rsip(e.to_string()))
}

/// For TCP/TLS framing: if `buf` starts with a complete message, its length.
/// `Ok(None)` means more bytes are needed. Leading CRLF keep-alives count as
/// part of the message they precede; a buffer of only CRLFs returns its length
/// so the caller can drop it.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    // Read as u64 and bounded before any arithmetic: a Content-Length near
    // usize::MAX must not wrap the sum below.
    let skip = buf
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len());
    if skip == buf.len() {
        return Ok(if skip > 0 { Some(skip) } else { None });
    }
    let data = &buf[skip..];
    let Some((head_len, body_start)) = header_end(data) else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&data[..head_len]).map_err(|_| ParseError::NotUtf8)?;
    let mut len = 0usize;
    for raw in head.split('\n').skip(1) {
        let line = raw.trim_end_matches('\r');
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l") {
                let value = value.trim();
                let announced: u64 = value
                    .parse()
                    .map_err(|_| ParseError::BadContentLength(value.to_string()))?;
                if announced > MAX_STREAM_MESSAGE as u64 {
                    return Err(ParseError::TooLarge(announced));
                }
                len = announced as usize;
            }
        }
    }
    // On a stream, Content-Length is mandatory (RFC 3261 18.3); absent means 0.
    let total = skip + body_start + len;
    Ok((buf.len() >= total).then_some(total))
}

/// The largest message a TCP or TLS peer may send (headers and body);
/// larger ones close the connection after a 513.
pub const MAX_STREAM_MESSAGE: usize = 256 * 1024;

/// A stateless answer to a request rsip could not read: `501 Not
/// Implemented` for an unknown method, `400 Bad Request` otherwise. Built from
/// the raw header lines, so it works on truncated or half-broken messages.
/// `None` when there is not enough to route an answer (a response, an ACK,
/// or no Via / From / To / Call-ID / CSeq): such messages are dropped.
pub fn reject_unparsable(data: &[u8], err: &ParseError) -> Option<(u16, Vec<u8>)> {
    let text = String::from_utf8_lossy(data);
    let text = text.trim_start_matches(['\r', '\n']);
    let head = match text.find("\r\n\r\n").or_else(|| text.find("\n\n")) {
        Some(i) => &text[..i],
        None => text,
    };
    let mut lines = head.lines();
    let start = lines.next()?;
    let mut parts = start.split_whitespace();
    let (method, _uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.eq_ignore_ascii_case("SIP/2.0") || method.eq_ignore_ascii_case("ACK") {
        return None;
    }
    let token = method
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    let known = method.parse::<rsip::Method>().is_ok();
    let code = match err {
        ParseError::TooLarge(_) => 513,
        _ if token && !known => 501,
        _ => 400,
    };
    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let name = expand_compact(name).unwrap_or(name);
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "via" => vias.extend(split_list(value)),
            "from" => from = Some(value),
            "to" => to = Some(value),
            "call-id" => call_id = Some(value),
            "cseq" => cseq = Some(value),
            _ => {}
        }
    }
    if vias.is_empty() {
        return None;
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    let reason = match code {
        501 => "Not Implemented",
        513 => "Message Too Large",
        _ => "Bad Request",
    };
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for via in vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    let to_tag = if crate::message::name_addr_param(to, "tag").is_some() {
        String::new()
    } else {
        format!(";tag={}", crate::message::random_token(8))
    };
    // The reason goes in a Warning (RFC 3261 20.43) so the sender's logs say
    // what was wrong; quotes are escaped by dropping them.
    let why = err.to_string().replace('"', "'");
    out.push_str(&format!(
        "From: {from}\r\nTo: {to}{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nWarning: 399 softswitch \"{why}\"\r\nServer: {}\r\nContent-Length: 0\r\n\r\n",
        crate::message::PRODUCT
    ));
    Some((code, out.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsip::prelude::*;

    const COMPACT: &str = "INVITE sip:3422@127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1,SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK2\r\n\
f: <sip:alice@10.0.0.1>;tag=a1\r\n\
t: <sip:3422@127.0.0.1>\r\n\
i: call-1@10.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:alice@10.0.0.1:5060>\r\n\
Subject: folded\r\n  continued here\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\r\ntrailing garbage";

    #[test]
    fn compact_forms_are_expanded() {
        let msg = parse(COMPACT.as_bytes()).expect("parses");
        let SipMessage::Request(req) = msg else {
            panic!("not a request")
        };
        assert_eq!(req.call_id_header().unwrap().value(), "call-1@10.0.0.1");
        assert!(req.from_header().is_ok());
        assert!(req.to_header().is_ok());
        assert!(req.contact_header().is_ok());
        let vias: Vec<_> = req
            .headers
            .iter()
            .filter(|h| matches!(h, rsip::Header::Via(_)))
            .collect();
        assert_eq!(vias.len(), 2, "comma-joined Via split in two");
        assert_eq!(req.body, b"v=0\r");
    }

    #[test]
    fn folded_line_is_unfolded() {
        let canon = String::from_utf8(normalize(COMPACT.as_bytes()).unwrap()).unwrap();
        assert!(
            canon.contains("Subject: folded continued here\r\n"),
            "{canon}"
        );
        assert!(canon.contains("Content-Length: 4\r\n"));
        assert!(canon.contains("Content-Type: application/sdp\r\n"));
    }

    #[test]
    fn bare_lf_and_space_before_colon_are_accepted() {
        let msg = "OPTIONS sip:x@127.0.0.1 SIP/2.0\nVia : SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\nFrom: <sip:a@b>;tag=1\nTo: <sip:x@127.0.0.1>\nCall-ID: o1\nCSeq: 2 OPTIONS\n\n";
        let parsed = parse(msg.as_bytes()).expect("parses");
        assert!(matches!(parsed, SipMessage::Request(_)));
    }

    #[test]
    fn short_body_is_an_error() {
        let msg = "MESSAGE sip:x@y SIP/2.0\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(
            parse(msg.as_bytes()),
            Err(ParseError::ShortBody { have: 3, want: 10 })
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for g in [
            &b""[..],
            b"\r\n\r\n",
            b"hello",
            b"\xff\xfe\r\n\r\n",
            b"INVITE\r\n\r\n",
            b"INVITE sip:x SIP/2.0\r\nno colon here\r\n\r\n",
            b"SIP/2.0 abc OK\r\n\r\n",
            b"INVITE sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
        ] {
            assert!(parse(g).is_err(), "{:?}", String::from_utf8_lossy(g));
        }
    }

    #[test]
    fn unparsable_requests_get_400_or_501() {
        let truncated = "INVITE sip:3422@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:3422@127.0.0.1>\r\ni: t1\r\nCSeq: 1 INVITE\r\nContent-Length: 200\r\n\r\nv=0";
        let err = parse(truncated.as_bytes()).unwrap_err();
        let (code, bytes) = reject_unparsable(truncated.as_bytes(), &err).unwrap();
        assert_eq!(code, 400);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(text.contains("Call-ID: t1\r\n"));
        assert!(text.contains("To: <sip:3422@127.0.0.1>;tag="));
        // The answer itself must be readable by our own parser.
        assert!(parse(text.as_bytes()).is_ok());

        let unknown = truncated
            .replacen("INVITE sip", "FROB sip", 1)
            .replace("Content-Length: 200", "Content-Length: 3");
        let err = parse(unknown.as_bytes()).unwrap_err();
        assert_eq!(reject_unparsable(unknown.as_bytes(), &err).unwrap().0, 501);

        let ack = truncated.replacen("INVITE sip", "ACK sip", 1);
        assert!(
            reject_unparsable(ack.as_bytes(), &err).is_none(),
            "never answer an ACK"
        );
        assert!(reject_unparsable(b"SIP/2.0 200 OK\r\n\r\n", &err).is_none());
        assert!(reject_unparsable(b"\x00\x01garbage", &err).is_none());
    }

    #[test]
    fn quoted_commas_do_not_split() {
        assert_eq!(
            split_list(r#""Doe, John" <sip:j@x>, <sip:k@y;a=1,2>"#),
            vec![r#""Doe, John" <sip:j@x>"#, "<sip:k@y;a=1,2>"]
        );
    }

    #[test]
    fn stream_framing() {
        let one = b"OPTIONS sip:x SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut two = one.to_vec();
        two.extend_from_slice(b"\r\nOPTIONS");
        assert_eq!(frame_len(one), Ok(Some(one.len())));
        assert_eq!(frame_len(&two), Ok(Some(one.len())));
        assert_eq!(frame_len(&one[..one.len() - 1]), Ok(None));
        assert_eq!(frame_len(b"\r\n\r\n"), Ok(Some(4)));
        assert_eq!(frame_len(b""), Ok(None));
        assert_eq!(
            frame_len(b"\r\nOPTIONS sip:x SIP/2.0\r\n\r\n"),
            Ok(Some(27))
        );
        // A length near usize::MAX neither wraps nor waits forever: 513.
        let huge = format!(
            "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKh\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: h\r\nCSeq: 1 OPTIONS\r\nContent-Length: {}\r\n\r\n",
            usize::MAX - 10
        );
        let err = frame_len(huge.as_bytes()).unwrap_err();
        assert_eq!(err, ParseError::TooLarge(usize::MAX as u64 - 10));
        let (code, reply) = reject_unparsable(huge.as_bytes(), &err).unwrap();
        assert_eq!(code, 513);
        assert!(String::from_utf8(reply)
            .unwrap()
            .starts_with("SIP/2.0 513 Message Too Large\r\n"));
        let at_limit = format!("OPTIONS sip:x SIP/2.0\r\nl: {MAX_STREAM_MESSAGE}\r\n\r\n");
        assert_eq!(
            frame_len(at_limit.as_bytes()),
            Ok(None),
            "waits for the body"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse(&data);
            let _ = frame_len(&data);
        }

        #[test]
        fn never_panics_on_mutated_invite(pos in 0usize..400, byte in proptest::prelude::any::<u8>()) {
            let mut data = COMPACT.as_bytes().to_vec();
            let p = pos % data.len();
            data[p] = byte;
            let _ = parse(&data);
        }
    }
}
