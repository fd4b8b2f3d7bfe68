//! Small, allocation-light accessors over rsip messages and response builders.

use rsip::prelude::*;
use rsip::{Header, Headers, Method, Request, Response, SipMessage, StatusCode};

use crate::parse::ParseError;

/// Product token put in Server / User-Agent headers.
pub const PRODUCT: &str = "softswitch";

/// The fields every layer needs, read once per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Essentials {
    /// The Call-ID, trimmed.
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The CSeq method (for a response, the method of the request it answers).
    pub cseq_method: Method,
    /// The From tag, if any.
    pub from_tag: Option<String>,
    /// The To tag; `None` when To has none (a request outside a dialog).
    pub to_tag: Option<String>,
    /// Branch of the top Via (empty when the sender gave none).
    pub branch: String,
    /// sent-by of the top Via (host[:port]).
    pub sent_by: String,
}

impl Essentials {
    /// Read the essentials of `msg`: an error when Call-ID, CSeq, From, To or
    /// Via is missing, or the CSeq cannot be read.
    pub fn of(msg: &SipMessage) -> Result<Self, ParseError> {
        let headers = msg.headers();
        let mut call_id = None;
        let mut cseq = None;
        let mut from = None;
        let mut to = None;
        let mut via = None;
        for h in headers.iter() {
            match h {
                Header::CallId(v) if call_id.is_none() => call_id = Some(v.value()),
                Header::CSeq(v) if cseq.is_none() => cseq = Some(v.value()),
                Header::From(v) if from.is_none() => from = Some(v.value()),
                Header::To(v) if to.is_none() => to = Some(v.value()),
                Header::Via(v) if via.is_none() => via = Some(v.value()),
                _ => {}
            }
        }
        let call_id = call_id.ok_or(ParseError::MissingHeader("Call-ID"))?;
        let cseq = cseq.ok_or(ParseError::MissingHeader("CSeq"))?;
        let from = from.ok_or(ParseError::MissingHeader("From"))?;
        let to = to.ok_or(ParseError::MissingHeader("To"))?;
        let via = via.ok_or(ParseError::MissingHeader("Via"))?;
        let (num, method) = cseq
            .trim()
            .split_once(char::is_whitespace)
            .ok_or(ParseError::MissingHeader("CSeq"))?;
        let cseq_num = num
            .parse()
            .map_err(|_| ParseError::Rsip(format!("bad CSeq number {num:?}")))?;
        let cseq_method: Method = method
            .trim()
            .parse()
            .map_err(|_| ParseError::Rsip(format!("bad CSeq method {method:?}")))?;
        let (sent_by, params) = split_via(via);
        Ok(Essentials {
            call_id: call_id.trim().to_string(),
            cseq: cseq_num,
            cseq_method,
            from_tag: name_addr_param(from, "tag").map(str::to_string),
            to_tag: name_addr_param(to, "tag").map(str::to_string),
            branch: param(params, "branch").unwrap_or("").to_string(),
            sent_by: sent_by.to_string(),
        })
    }
}

/// Split a Via value into (sent-by, ";params").
pub fn split_via(via: &str) -> (&str, &str) {
    // "SIP/2.0/UDP host:port;branch=..;rport"
    let rest = via.trim();
    let rest = rest
        .split_once(char::is_whitespace)
        .map(|(_, r)| r.trim_start())
        .unwrap_or(rest);
    match rest.find(';') {
        Some(i) => (rest[..i].trim(), &rest[i..]),
        None => (rest.trim(), ""),
    }
}

/// Value of `name` in a ";a=b;c" parameter list (`Some("")` for a flag).
pub fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A header parameter of a name-addr (From/To/Contact): after `>` when the URI
/// is bracketed, else after the addr-spec.
pub fn name_addr_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value.find(';').map(|i| &value[i..]).unwrap_or(""),
    };
    param(params, name)
}

/// The URI inside a name-addr (`"x" <sip:a@b>;tag=1` -> `sip:a@b`).
pub fn name_addr_uri(value: &str) -> &str {
    match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or("").trim(),
    }
}

/// User part of a SIP URI (`sip:3422@host;x` -> `3422`), if any.
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = match rest.find('@') {
        Some(i) => &rest[..i],
        None if uri.starts_with("tel:") => rest.split(';').next().unwrap_or(rest),
        None => return None,
    };
    let user = user.split(';').next().unwrap_or(user);
    let user = user.split(':').next().unwrap_or(user); // drop a password
    (!user.is_empty()).then_some(user)
}

/// First value of a header looked up by (long) name, case-insensitive, for
/// headers rsip has no variant for (they land in `Header::Other`).
pub fn other_header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| match h {
        Header::Other(k, v) if k.eq_ignore_ascii_case(name) => Some(v.as_str()),
        _ => None,
    })
}

/// Value of Content-Type, if any.
pub fn content_type(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::ContentType(v) => Some(v.value()),
        _ => None,
    })
}

/// Random token for tags and branches.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// New RFC 3261 branch (with the magic cookie).
pub fn new_branch() -> String {
    format!("z9hG4bK{}", random_token(16))
}

/// Build a response to `req` (RFC 3261 8.2.6): Via, From, To (+`to_tag` when the
/// request's To has none and this is not a 100), Call-ID and CSeq copied.
pub fn response(req: &Request, code: u16, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::RecordRoute(_) if (101..300).contains(&code) => headers.push(h.clone()),
            Header::To(to) => {
                let value = to.value();
                match to_tag {
                    Some(tag) if code != 100 && name_addr_param(value, "tag").is_none() => {
                        headers.push(Header::To(format!("{value};tag={tag}").into()))
                    }
                    _ => headers.push(h.clone()),
                }
            }
            _ => {}
        }
    }
    headers.push(Header::Server(PRODUCT.into()));
    Response {
        status_code: status(code),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Status code carrying the RFC 3261 reason phrase (rsip prints some of its
/// own variant names, e.g. `CallTransactionDoesNotExist`, so we set ours).
pub fn status(code: u16) -> StatusCode {
    StatusCode::Other(code, reason_phrase(code).into())
}

/// Standard reason phrase (RFC 3261 section 21 and extensions).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match code / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Request Failure",
            5 => "Server Failure",
            _ => "Global Failure",
        },
    }
}

/// Set the body and its Content-Type on a message's headers (Content-Length is
/// written at serialisation).
pub fn set_body(headers: &mut Headers, body: &mut Vec<u8>, content_type: &str, data: Vec<u8>) {
    headers.retain(|h| !matches!(h, Header::ContentType(_)));
    headers.push(Header::ContentType(content_type.into()));
    *body = data;
}

/// Serialise a message with an exact Content-Length (rsip writes none itself).
pub fn encode(msg: &SipMessage) -> Vec<u8> {
    use std::fmt::Write;
    let (headers, body) = match msg {
        SipMessage::Request(r) => (&r.headers, &r.body),
        SipMessage::Response(r) => (&r.headers, &r.body),
    };
    let mut out = String::with_capacity(512 + body.len());
    match msg {
        SipMessage::Request(r) => {
            let _ = write!(out, "{} {} {}\r\n", r.method, r.uri, r.version);
        }
        SipMessage::Response(r) => {
            let _ = write!(out, "{} {}\r\n", r.version, r.status_code);
        }
    }
    for h in headers.iter() {
        if matches!(h, Header::ContentLength(_)) {
            continue;
        }
        let _ = write!(out, "{h}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Method of a request, or the CSeq method of a response.
pub fn method_of(msg: &SipMessage, ess: &Essentials) -> Method {
    match msg {
        SipMessage::Request(r) => r.method,
        SipMessage::Response(_) => ess.cseq_method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        let raw = "INVITE sip:3422@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc;rport\r\n\
From: \"Alice, A\" <sip:0612345678@10.0.0.1>;tag=f1\r\n\
To: <sip:3422@127.0.0.1>\r\n\
Call-ID: c1\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:alice@10.0.0.1:5062>\r\n\
Content-Length: 0\r\n\r\n";
        match crate::parse::parse(raw.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn essentials_are_read() {
        let e = Essentials::of(&SipMessage::Request(req())).unwrap();
        assert_eq!(e.call_id, "c1");
        assert_eq!(e.cseq, 7);
        assert_eq!(e.cseq_method, Method::Invite);
        assert_eq!(e.from_tag.as_deref(), Some("f1"));
        assert_eq!(e.to_tag, None);
        assert_eq!(e.branch, "z9hG4bKabc");
        assert_eq!(e.sent_by, "10.0.0.1:5062");
    }

    #[test]
    fn response_copies_and_tags() {
        let r = response(&req(), 200, Some("t9"));
        let text = String::from_utf8(encode(&SipMessage::Response(r))).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        assert!(text.contains("To: <sip:3422@127.0.0.1>;tag=t9\r\n"));
        assert!(text.contains("CSeq: 7 INVITE\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        let trying = response(&req(), 100, Some("t9"));
        let text = String::from_utf8(encode(&SipMessage::Response(trying))).unwrap();
        assert!(
            text.contains("To: <sip:3422@127.0.0.1>\r\n"),
            "no tag on 100"
        );
    }

    #[test]
    fn uri_helpers() {
        assert_eq!(uri_user("sip:3422@1.2.3.4;user=phone"), Some("3422"));
        assert_eq!(uri_user("sip:+33184903422@h"), Some("+33184903422"));
        assert_eq!(
            uri_user("tel:+33184903422;phone-context=x"),
            Some("+33184903422")
        );
        assert_eq!(uri_user("sip:host.example"), None);
        assert_eq!(name_addr_uri("\"A\" <sip:a@b;x=1>;tag=2"), "sip:a@b;x=1");
        assert_eq!(name_addr_param("sip:a@b;tag=3", "tag"), Some("3"));
        assert_eq!(split_via("SIP/2.0/TCP h:1;branch=b"), ("h:1", ";branch=b"));
        assert_eq!(param(";rport;branch=b", "rport"), Some(""));
    }
}
