//! Dialog state (RFC 3261 section 12): identifiers, CSeq spaces, remote target
//! and route set, and the in-dialog requests built from them.

use rsip::prelude::*;
use rsip::{Header, Headers, Method, Request};

use crate::message::{self, name_addr_uri, Essentials};

/// One dialog, seen from our side.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// The dialog's Call-ID.
    pub call_id: String,
    /// Our tag: the To tag we answered with (UAS), or our From tag (UAC).
    pub local_tag: String,
    /// Their tag: the From tag of their INVITE (UAS), or the To tag of their
    /// answer (UAC); empty when they gave none.
    pub remote_tag: String,
    /// Our URI as it appears in From of our requests (the To of their INVITE).
    pub local_uri: String,
    /// Their URI (the From of their INVITE).
    pub remote_uri: String,
    /// Where in-dialog requests go (their Contact).
    pub remote_target: String,
    /// Route set (from Record-Route), in the order our requests use it.
    pub route_set: Vec<String>,
    /// CSeq number of our latest request in the dialog (the INVITE's for a
    /// UAC, 0 for a UAS); [`Dialog::request`] increments it.
    pub local_cseq: u32,
    /// Highest CSeq number of their requests so far (their INVITE's for a
    /// UAS, 0 for a UAC until their first); see [`Dialog::check_remote_cseq`].
    pub remote_cseq: u32,
    /// Our Contact URI.
    pub local_contact: String,
}

/// An in-dialog request was out of order (RFC 3261 12.2.2).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("CSeq {got} not above {last}")]
pub struct CSeqOrder {
    pub got: u32,
    pub last: u32,
}

impl Dialog {
    /// The dialog a UAS creates when it answers `invite` with `local_tag`.
    pub fn uas(invite: &Request, ess: &Essentials, local_tag: &str, local_contact: &str) -> Self {
        let mut from = "";
        let mut to = "";
        for h in invite.headers.iter() {
            match h {
                Header::From(v) => from = v.value(),
                Header::To(v) => to = v.value(),
                _ => {}
            }
        }
        let (contact, route_set) = contact_and_routes(&invite.headers);
        let remote_target = contact
            .map(|c| name_addr_uri(c).to_string())
            .unwrap_or_else(|| name_addr_uri(from).to_string());
        Dialog {
            call_id: ess.call_id.clone(),
            local_tag: local_tag.to_string(),
            remote_tag: ess.from_tag.clone().unwrap_or_default(),
            local_uri: strip_tag(to),
            remote_uri: strip_tag(from),
            remote_target,
            route_set,
            local_cseq: 0,
            remote_cseq: ess.cseq,
            local_contact: local_contact.to_string(),
        }
    }

    /// The dialog a UAC has once `resp` (1xx with a tag, or 2xx) answers
    /// its `invite`.
    pub fn uac(invite: &Request, resp: &rsip::Response, local_contact: &str) -> Self {
        let mut from = "";
        let mut to = "";
        let mut call_id = "";
        let mut cseq = 0;
        for h in invite.headers.iter() {
            match h {
                Header::From(v) => from = v.value(),
                Header::CallId(v) => call_id = v.value(),
                Header::CSeq(v) => {
                    cseq = v
                        .value()
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1)
                }
                _ => {}
            }
        }
        for h in resp.headers.iter() {
            if let Header::To(v) = h {
                to = v.value();
            }
        }
        let (contact, mut route_set) = contact_and_routes(&resp.headers);
        // A UAC uses the Record-Route set in reverse (RFC 3261 12.1.2).
        route_set.reverse();
        let remote_target = contact
            .map(|c| name_addr_uri(c).to_string())
            .unwrap_or_else(|| invite.uri.to_string());
        Dialog {
            call_id: call_id.trim().to_string(),
            local_tag: message::name_addr_param(from, "tag")
                .unwrap_or_default()
                .to_string(),
            remote_tag: message::name_addr_param(to, "tag")
                .unwrap_or_default()
                .to_string(),
            local_uri: strip_tag(from),
            remote_uri: strip_tag(to),
            remote_target,
            route_set,
            local_cseq: cseq,
            remote_cseq: 0,
            local_contact: local_contact.to_string(),
        }
    }

    /// The ACK for the 2xx of the INVITE that made this dialog (same CSeq
    /// number, new branch: RFC 3261 13.2.2.4).
    pub fn ack(&self, via: &str) -> Request {
        self.build(Method::Ack, self.local_cseq, via)
    }

    /// The ACK for the 2xx of one of our re-INVITEs (its CSeq number).
    pub fn ack_for(&self, cseq: u32, via: &str) -> Request {
        self.build(Method::Ack, cseq, via)
    }

    /// Accept a new in-dialog request's CSeq (must increase; ACK/CANCEL reuse).
    pub fn check_remote_cseq(&mut self, method: Method, cseq: u32) -> Result<(), CSeqOrder> {
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if cseq <= self.remote_cseq {
            return Err(CSeqOrder {
                got: cseq,
                last: self.remote_cseq,
            });
        }
        self.remote_cseq = cseq;
        Ok(())
    }

    /// Build an in-dialog request (BYE, INFO, re-INVITE...) with a fresh
    /// branch; `via` is our sent-by with transport, e.g. `SIP/2.0/UDP 1.2.3.4:5060`.
    pub fn request(&mut self, method: Method, via: &str) -> Request {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, via)
    }

    fn build(&self, method: Method, cseq: u32, via: &str) -> Request {
        let mut headers = Headers::default();
        headers.push(Header::Via(
            format!("{via};branch={};rport", message::new_branch()).into(),
        ));
        headers.push(Header::MaxForwards("70".into()));
        for route in &self.route_set {
            headers.push(Header::Route(route.clone().into()));
        }
        headers.push(Header::From(
            format!("{};tag={}", self.local_uri, self.local_tag).into(),
        ));
        headers.push(Header::To(
            format!("{};tag={}", self.remote_uri, self.remote_tag).into(),
        ));
        headers.push(Header::CallId(self.call_id.clone().into()));
        headers.push(Header::CSeq(format!("{cseq} {method}").into()));
        headers.push(Header::Contact(format!("<{}>", self.local_contact).into()));
        headers.push(Header::UserAgent(message::PRODUCT.into()));
        let uri = rsip::Uri::try_from(self.remote_target.as_str())
            .or_else(|_| rsip::Uri::try_from(name_addr_uri(&self.remote_uri)))
            .unwrap_or_default();
        Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }
}

/// The first Contact and every Record-Route entry, in message order.
fn contact_and_routes(headers: &Headers) -> (Option<&str>, Vec<String>) {
    let mut contact = None;
    let mut routes = Vec::new();
    for h in headers.iter() {
        match h {
            Header::Contact(v) if contact.is_none() => contact = Some(v.value()),
            Header::RecordRoute(v) => routes.extend(
                crate::parse_list(v.value())
                    .into_iter()
                    .map(|r| r.to_string()),
            ),
            _ => {}
        }
    }
    (contact, routes)
}

/// `<sip:a@b>;tag=x;y=1` -> `<sip:a@b>;y=1` (tags are added back explicitly).
fn strip_tag(name_addr: &str) -> String {
    let (head, params) = match name_addr.rfind('>') {
        Some(i) => name_addr.split_at(i + 1),
        None => match name_addr.find(';') {
            Some(i) => name_addr.split_at(i),
            None => (name_addr, ""),
        },
    };
    let mut out = head.trim().to_string();
    for p in params.split(';').skip(1) {
        let name = p.split('=').next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case("tag") && !name.is_empty() {
            out.push(';');
            out.push_str(p.trim());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsip::SipMessage;

    fn invite() -> (Request, Essentials) {
        let raw = "INVITE sip:3422@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc\r\n\
Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n\
From: \"Alice\" <sip:0612345678@10.0.0.1>;tag=f1\r\n\
To: <sip:3422@127.0.0.1>\r\n\
Call-ID: c1\r\nCSeq: 7 INVITE\r\n\
Contact: <sip:alice@10.0.0.1:5062;transport=udp>\r\n\r\n";
        let msg = crate::parse::parse(raw.as_bytes()).unwrap();
        let ess = Essentials::of(&msg).unwrap();
        match msg {
            SipMessage::Request(r) => (r, ess),
            _ => unreachable!(),
        }
    }

    #[test]
    fn bye_goes_to_contact_with_swapped_tags() {
        let (inv, ess) = invite();
        let mut d = Dialog::uas(&inv, &ess, "ours", "sip:softswitch@127.0.0.1:5060");
        let bye = d.request(Method::Bye, "SIP/2.0/UDP 127.0.0.1:5060");
        let text = String::from_utf8(message::encode(&SipMessage::Request(bye))).unwrap();
        assert!(
            text.to_ascii_lowercase()
                .starts_with("bye sip:alice@10.0.0.1:5062;transport=udp sip/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("From: <sip:3422@127.0.0.1>;tag=ours\r\n"));
        assert!(text.contains("To: \"Alice\" <sip:0612345678@10.0.0.1>;tag=f1\r\n"));
        assert!(text.contains("CSeq: 1 BYE\r\n"));
        assert!(text.contains("Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\n"));
        let e = Essentials::of(&crate::parse::parse(text.as_bytes()).unwrap()).unwrap();
        assert!(e.branch.starts_with("z9hG4bK"));
    }

    #[test]
    fn uac_dialog_from_a_2xx() {
        let raw = "INVITE sip:agent1@10.0.0.9:5070 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
From: \"0612345678\" <sip:0612345678@127.0.0.1>;tag=ours\r\n\
To: <sip:agent1@127.0.0.1>\r\nCall-ID: out1\r\nCSeq: 1 INVITE\r\n\r\n";
        let inv = match crate::parse::parse(raw.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            _ => unreachable!(),
        };
        let raw = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
From: \"0612345678\" <sip:0612345678@127.0.0.1>;tag=ours\r\n\
To: <sip:agent1@127.0.0.1>;tag=theirs\r\nCall-ID: out1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:agent1@10.0.0.9:5070>\r\n\r\n";
        let resp = match crate::parse::parse(raw.as_bytes()).unwrap() {
            SipMessage::Response(r) => r,
            _ => unreachable!(),
        };
        let mut d = Dialog::uac(&inv, &resp, "sip:softswitch@127.0.0.1:5060");
        let ack = String::from_utf8(message::encode(&SipMessage::Request(
            d.ack("SIP/2.0/UDP 127.0.0.1:5060"),
        )))
        .unwrap();
        assert!(
            ack.starts_with("ACK sip:agent1@10.0.0.9:5070 SIP/2.0\r\n"),
            "{ack}"
        );
        assert!(ack.contains("CSeq: 1 ACK\r\n"));
        assert!(ack.contains("To: <sip:agent1@127.0.0.1>;tag=theirs\r\n"));
        assert!(
            ack.contains("Route: <sip:p2;lr>\r\nRoute: <sip:p1;lr>\r\n"),
            "reversed"
        );
        let bye = String::from_utf8(message::encode(&SipMessage::Request(
            d.request(Method::Bye, "SIP/2.0/UDP 127.0.0.1:5060"),
        )))
        .unwrap();
        assert!(bye.contains("CSeq: 2 BYE\r\n"));
        assert!(bye.contains("From: \"0612345678\" <sip:0612345678@127.0.0.1>;tag=ours\r\n"));
    }

    #[test]
    fn remote_cseq_must_grow() {
        let (inv, ess) = invite();
        let mut d = Dialog::uas(&inv, &ess, "ours", "sip:x@127.0.0.1");
        assert_eq!(
            d.check_remote_cseq(Method::Bye, 7),
            Err(CSeqOrder { got: 7, last: 7 })
        );
        assert!(d.check_remote_cseq(Method::Ack, 7).is_ok());
        assert!(d.check_remote_cseq(Method::Bye, 8).is_ok());
    }
}
