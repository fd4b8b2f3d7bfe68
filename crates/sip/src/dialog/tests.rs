//! Dialog machines under a fake clock: a UAC and a UAS, each over its own
//! transaction layer, joined by a simulated network with latency and loss.
//! Seconds of protocol time run in microseconds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::{Header, Method, Request, SipMessage};

use super::*;
use crate::message::{self, Essentials};
use crate::transaction::{Output, Peer, TimerConfig, Transactions, Transport, TxEvent};

const UAC_ADDR: &str = "10.0.0.1:5060";
const UAS_ADDR: &str = "10.0.0.2:5060";
const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

fn peer(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
        conn: None,
    }
}

fn cfg(addr: &str) -> DialogConfig {
    DialogConfig {
        allow: ALLOW,
        contact: format!("sip:leg@{addr}"),
        via: format!("SIP/2.0/UDP {addr}"),
    }
}

/// One side: its transactions, its dialog, what it heard.
struct Side {
    addr: SocketAddr,
    tx: Transactions,
    dialog: Option<DialogMachine>,
    events: Vec<DialogEvent>,
    /// Answer the peer's offers at once (with our SDP).
    auto_answer: bool,
    /// Every message this side put on the wire (first lines), in order.
    sent: Vec<String>,
    /// A body this side puts in its ACKs (the answer to an offer in a 2xx).
    ack_body: Option<&'static [u8]>,
}

/// Which way a message goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToUas,
    ToUac,
}

struct Pair {
    now: Instant,
    uac: Side,
    uas: Side,
    /// (deliver at, direction, message)
    wire: VecDeque<(Instant, Dir, SipMessage)>,
    latency: Duration,
    /// Messages the network loses: (direction, first line starts with).
    drop: Vec<(Dir, &'static str)>,
    /// Every message delivered, with its direction.
    delivered: Vec<(Dir, SipMessage)>,
}

impl Pair {
    fn new() -> Pair {
        let side = |addr: &str| Side {
            addr: addr.parse().unwrap(),
            tx: Transactions::new(TimerConfig::default()),
            dialog: None,
            events: Vec::new(),
            auto_answer: true,
            sent: Vec::new(),
            ack_body: None,
        };
        Pair {
            now: Instant::now(),
            uac: side(UAC_ADDR),
            uas: side(UAS_ADDR),
            wire: VecDeque::new(),
            latency: Duration::from_millis(20),
            drop: Vec::new(),
            delivered: Vec::new(),
        }
    }

    /// The UAC calls with an INVITE carrying `extra` headers.
    fn call(&mut self, extra: &[(&str, &str)]) {
        let invite = invite(extra);
        self.uac.dialog = Some(DialogMachine::uac(self.now, invite, cfg(UAC_ADDR)));
        self.settle();
    }

    fn uac(&mut self) -> &mut DialogMachine {
        self.uac.dialog.as_mut().expect("the UAC called")
    }

    fn uas(&mut self) -> &mut DialogMachine {
        self.uas.dialog.as_mut().expect("the INVITE arrived")
    }

    /// A call up: INVITE, 180, 200, ACK.
    fn confirmed(&mut self, extra: &[(&str, &str)]) {
        self.call(extra);
        self.run(Duration::from_millis(100));
        self.uas().ring(180).unwrap();
        self.uas().answer(SDP.to_vec()).unwrap();
        self.run(Duration::from_millis(100));
        assert!(self.uac().is_confirmed() && self.uas().is_confirmed());
        self.uac.events.clear();
        self.uas.events.clear();
    }

    /// Move the machines' outputs to their transaction layers, and those
    /// layers' transmissions onto the wire.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for dir in [Dir::ToUas, Dir::ToUac] {
                let (side, to) = match dir {
                    Dir::ToUas => (&mut self.uac, peer(UAS_ADDR)),
                    Dir::ToUac => (&mut self.uas, peer(UAC_ADDR)),
                };
                let now = self.now;
                if let Some(d) = side.dialog.as_mut() {
                    while let Some(out) = d.poll() {
                        moved = true;
                        match out {
                            DialogOutput::Respond { id, response } => {
                                side.tx.respond(now, id, response).unwrap()
                            }
                            DialogOutput::Send(req) => {
                                side.tx.request(now, req, to).unwrap();
                            }
                            DialogOutput::Ack(mut ack) => {
                                if let Some(b) = side.ack_body {
                                    let (h, body) = (&mut ack.headers, &mut ack.body);
                                    message::set_body(h, body, "application/sdp", b.to_vec());
                                }
                                let data = message::encode(&SipMessage::Request(ack));
                                side.tx.send_stateless(to, data.into());
                            }
                            DialogOutput::Event(DialogEvent::Offer { id, request }) => {
                                if side.auto_answer {
                                    // An offer, or an offerless re-INVITE
                                    // (bodyless UPDATEs are answered by the
                                    // machine): SDP either way.
                                    d.answer_offer(now, id, Ok(Some(SDP.to_vec()))).unwrap();
                                }
                                side.events.push(DialogEvent::Offer { id, request });
                            }
                            DialogOutput::Event(e) => side.events.push(e),
                        }
                    }
                }
                while let Some(out) = side.tx.poll_output() {
                    moved = true;
                    match out {
                        Output::Transmit { data, .. } => {
                            let msg = crate::parse::parse(&data).unwrap();
                            let line = first_line(&msg);
                            side.sent.push(line.clone());
                            let lost = self
                                .drop
                                .iter()
                                .any(|(d, p)| *d == dir && line.starts_with(p));
                            if !lost {
                                self.wire.push_back((now + self.latency, dir, msg));
                            }
                        }
                        Output::Event(ev) => {
                            if side.dialog.is_none() {
                                // The INVITE that makes the UAS's dialog.
                                if let TxEvent::Request {
                                    id, request, ess, ..
                                } = ev
                                {
                                    match DialogMachine::uas(now, request, &ess, id, cfg(UAS_ADDR))
                                    {
                                        Ok(d) => side.dialog = Some(d),
                                        Err(r) => side.tx.respond(now, id, *r).unwrap(),
                                    }
                                }
                            } else if let Some(d) = side.dialog.as_mut() {
                                d.handle(now, ev);
                            }
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Run the world for `span` of fake time.
    fn run(&mut self, span: Duration) {
        let end = self.now + span;
        loop {
            self.settle();
            let mut next = self.wire.iter().map(|(t, ..)| *t).min();
            for side in [&self.uac, &self.uas] {
                for t in [
                    side.tx.poll_timeout(),
                    side.dialog.as_ref().and_then(|d| d.poll_timeout()),
                ]
                .into_iter()
                .flatten()
                {
                    next = Some(next.map_or(t, |n: Instant| n.min(t)));
                }
            }
            let Some(at) = next.filter(|t| *t <= end) else {
                self.now = end;
                return;
            };
            self.now = self.now.max(at);
            let now = self.now;
            while let Some(i) = self.wire.iter().position(|(t, ..)| *t <= now) {
                let (_, dir, msg) = self.wire.remove(i).unwrap();
                self.delivered.push((dir, msg.clone()));
                let (side, from) = match dir {
                    Dir::ToUas => (&mut self.uas, peer(UAC_ADDR)),
                    Dir::ToUac => (&mut self.uac, peer(UAS_ADDR)),
                };
                let _ = side.addr;
                side.tx.receive(now, msg, from).unwrap();
                self.settle();
            }
            for side in [&mut self.uac, &mut self.uas] {
                side.tx.handle_timeout(now);
                if let Some(d) = side.dialog.as_mut() {
                    d.handle_timeout(now);
                }
            }
        }
    }

    /// Put a raw request on the wire towards one side.
    fn inject(&mut self, dir: Dir, msg: SipMessage) {
        self.wire.push_back((self.now, dir, msg));
    }

    /// Responses that reached `dir`'s side: (code, CSeq method, Retry-After present).
    fn responses(&self, dir: Dir) -> Vec<(u16, Method, bool)> {
        self.delivered
            .iter()
            .filter(|(d, _)| *d == dir)
            .filter_map(|(_, m)| match m {
                SipMessage::Response(r) => {
                    let ess = Essentials::of(m).unwrap();
                    let retry = r.headers.iter().any(|h| matches!(h, Header::RetryAfter(_)));
                    Some((r.status_code.code(), ess.cseq_method, retry))
                }
                _ => None,
            })
            .collect()
    }
}

fn first_line(msg: &SipMessage) -> String {
    let text = String::from_utf8(message::encode(msg)).unwrap();
    text.lines().next().unwrap_or("").to_string()
}

fn invite(extra: &[(&str, &str)]) -> Request {
    let mut raw = format!(
        "INVITE sip:3422@{UAS_ADDR} SIP/2.0\r\n\
Via: SIP/2.0/UDP {UAC_ADDR};branch={}\r\n\
Max-Forwards: 70\r\n\
From: <sip:0612345678@{UAC_ADDR}>;tag=uac1\r\n\
To: <sip:3422@{UAS_ADDR}>\r\n\
Call-ID: dlg-test\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:leg@{UAC_ADDR}>\r\n\
Allow: {ALLOW}\r\n\
Content-Type: application/sdp\r\n",
        message::new_branch()
    );
    for (k, v) in extra {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n", SDP.len()));
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(SDP);
    match crate::parse::parse(&bytes).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    }
}

/// The INVITE without its SDP: a late offer.
fn late_invite() -> Request {
    let mut inv = invite(&[]);
    inv.body.clear();
    inv.headers
        .retain(|h| !matches!(h, Header::ContentType(_) | Header::ContentLength(_)));
    inv
}

/// A copy of `msg` as a new transaction (fresh branch), same CSeq.
fn replayed(msg: &SipMessage) -> SipMessage {
    let text = String::from_utf8(message::encode(msg)).unwrap();
    let old = Essentials::of(msg).unwrap().branch;
    let text = text.replacen(&old, &message::new_branch(), 1);
    crate::parse::parse(text.as_bytes()).unwrap()
}

fn ended(events: &[DialogEvent]) -> Vec<EndReason> {
    events
        .iter()
        .filter_map(|e| match e {
            DialogEvent::Ended(r) => Some(*r),
            _ => None,
        })
        .collect()
}

fn count(sent: &[String], prefix: &str) -> usize {
    sent.iter().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn a_call_rings_answers_and_ends_with_a_bye_from_either_side() {
    for caller_hangs_up in [true, false] {
        let mut p = Pair::new();
        p.call(&[]);
        p.run(Duration::from_millis(100));
        p.uas().ring(180).unwrap();
        p.run(Duration::from_millis(100));
        assert!(matches!(
            p.uac.events.as_slice(),
            [DialogEvent::Progress { code: 180 }]
        ));
        p.uas().answer(SDP.to_vec()).unwrap();
        p.run(Duration::from_millis(100));
        assert!(matches!(
            p.uac.events.last(),
            Some(DialogEvent::Answered { .. })
        ));
        assert!(matches!(p.uas.events.as_slice(), [DialogEvent::Confirmed]));
        if caller_hangs_up {
            p.uac().hangup();
        } else {
            p.uas().hangup();
        }
        p.run(Duration::from_secs(1));
        let (hung, heard) = if caller_hangs_up {
            (&p.uac, &p.uas)
        } else {
            (&p.uas, &p.uac)
        };
        assert_eq!(ended(&heard.events), [EndReason::Bye]);
        assert!(
            ended(&hung.events).is_empty(),
            "the hanging side decided it"
        );
        assert!(p.uac().is_done() && p.uas().is_done());
    }
}

#[test]
fn an_out_of_order_cseq_gets_500_with_retry_after_on_both_sides() {
    let mut p = Pair::new();
    p.confirmed(&[]);
    p.uac().send(Method::Info, vec![], None).unwrap();
    p.uas().send(Method::Info, vec![], None).unwrap();
    p.run(Duration::from_millis(100));
    // Each side served the INFO (the leg answers it).
    for side in [&mut p.uac, &mut p.uas] {
        let Some(DialogEvent::Request { id, request }) = side.events.pop() else {
            panic!("INFO passed to the leg");
        };
        let r = message::response(&request, 200, None);
        side.dialog.as_mut().unwrap().respond(id, r);
    }
    p.run(Duration::from_millis(100));
    let infos: Vec<(Dir, SipMessage)> = p
        .delivered
        .iter()
        .filter(|(_, m)| first_line(m).starts_with("INFO"))
        .cloned()
        .collect();
    assert_eq!(infos.len(), 2);
    for (dir, info) in infos {
        p.inject(dir, replayed(&info));
    }
    p.run(Duration::from_millis(100));
    for dir in [Dir::ToUac, Dir::ToUas] {
        let codes: Vec<_> = p.responses(dir);
        assert!(
            codes.contains(&(500, Method::Info, true)),
            "500 + Retry-After to the replayed INFO: {codes:?}"
        );
    }
    assert!(p.uac().is_confirmed() && p.uas().is_confirmed());
}

#[test]
fn re_invite_in_the_early_dialog_is_refused_and_a_bye_there_ends_the_invite() {
    let mut p = Pair::new();
    p.call(&[]);
    p.run(Duration::from_millis(100));
    p.uas().ring(180).unwrap();
    p.run(Duration::from_millis(100));
    let ringing = p
        .delivered
        .iter()
        .find(|(d, m)| *d == Dir::ToUac && first_line(m).contains("180"))
        .map(|(_, m)| m.clone())
        .unwrap();
    let to_tag = Essentials::of(&ringing).unwrap().to_tag.unwrap();
    let early = |method: &str, cseq: u32| {
        let raw = format!(
            "{method} sip:leg@{UAS_ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP {UAC_ADDR};branch={}\r\n\
From: <sip:0612345678@{UAC_ADDR}>;tag=uac1\r\nTo: <sip:3422@{UAS_ADDR}>;tag={to_tag}\r\n\
Call-ID: dlg-test\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            message::new_branch()
        );
        crate::parse::parse(raw.as_bytes()).unwrap()
    };
    p.inject(Dir::ToUas, early("INVITE", 2));
    p.inject(Dir::ToUas, early("UPDATE", 3));
    p.inject(Dir::ToUas, early("OPTIONS", 4));
    p.run(Duration::from_millis(100));
    let got = p.responses(Dir::ToUac);
    assert!(got.contains(&(500, Method::Invite, true)), "{got:?}");
    assert!(got.contains(&(500, Method::Update, true)), "{got:?}");
    assert!(got.contains(&(200, Method::Options, false)), "{got:?}");
    assert!(
        p.uas.events.is_empty(),
        "nothing for the leg: {:?}",
        p.uas.events
    );
    // A BYE in the early dialog: 200, and the INVITE gets 487.
    p.inject(Dir::ToUas, early("BYE", 5));
    p.run(Duration::from_secs(1));
    let got = p.responses(Dir::ToUac);
    assert!(got.contains(&(200, Method::Bye, false)), "{got:?}");
    assert_eq!(ended(&p.uas.events), [EndReason::Bye]);
    assert!(matches!(
        p.uac.events.last(),
        Some(DialogEvent::Failed { code: Some(487) })
    ));
}

const ANSWER: &[u8] = b"v=0\r\no=- 2 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n";

#[test]
fn a_late_offer_is_answered_in_the_ack_and_so_is_an_offerless_re_invite() {
    let mut p = Pair::new();
    p.uac.ack_body = Some(ANSWER);
    p.uac.dialog = Some(DialogMachine::uac(p.now, late_invite(), cfg(UAC_ADDR)));
    p.run(Duration::from_millis(100));
    p.uas().answer(SDP.to_vec()).unwrap();
    p.run(Duration::from_millis(100));
    match p.uas.events.as_slice() {
        [DialogEvent::AckAnswer { body: Some(b) }, DialogEvent::Confirmed] => {
            assert_eq!(b.as_slice(), ANSWER)
        }
        other => panic!("{other:?}"),
    }
    // The UAC's offerless re-INVITE: the UAS offers in the 200 (the
    // harness answers offers with SDP), the ACK answers. Retransmitted
    // 200s and ACKs bring no second answer.
    p.uas.events.clear();
    p.drop.push((Dir::ToUas, "ACK"));
    let now = p.now;
    p.uac().offer(now, Method::Invite, None).unwrap();
    p.run(Duration::from_millis(600));
    assert!(p
        .uas
        .events
        .iter()
        .all(|e| !matches!(e, DialogEvent::AckAnswer { .. })));
    p.drop.clear();
    p.run(Duration::from_secs(2));
    let answers: Vec<_> = p
        .uas
        .events
        .iter()
        .filter_map(|e| match e {
            DialogEvent::AckAnswer { body } => Some(body.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(answers, [Some(ANSWER.to_vec())], "{:?}", p.uas.events);
    // A late offer whose ACK has no answer: the leg hears `None`.
    let mut p = Pair::new();
    p.uac.dialog = Some(DialogMachine::uac(p.now, late_invite(), cfg(UAC_ADDR)));
    p.run(Duration::from_millis(100));
    p.uas().answer(SDP.to_vec()).unwrap();
    p.run(Duration::from_millis(100));
    assert!(matches!(
        p.uas.events.as_slice(),
        [
            DialogEvent::AckAnswer { body: None },
            DialogEvent::Confirmed
        ]
    ));
}

#[test]
fn a_407_is_answered_once_with_credentials_and_a_second_one_fails_the_call() {
    const CHALLENGE: &str = r#"Digest realm="carrier", nonce="n0nce", qop="auth", algorithm=MD5"#;
    for second_also_refused in [false, true] {
        let mut p = Pair::new();
        let invite = invite(&[]);
        p.uac.dialog = Some(
            DialogMachine::uac(p.now, invite, cfg(UAC_ADDR))
                .with_credentials("softswitch", "s3cret"),
        );
        p.run(Duration::from_millis(100));
        let challenge = Header::ProxyAuthenticate(CHALLENGE.into());
        p.uas().reject(407, vec![challenge.clone()]).unwrap();
        p.settle();
        // The next INVITE is a new request for the UAS: a new machine.
        p.uas.dialog = None;
        p.run(Duration::from_millis(100));
        let invites: Vec<String> = p
            .delivered
            .iter()
            .filter(|(d, m)| *d == Dir::ToUas && first_line(m).starts_with("INVITE"))
            .map(|(_, m)| String::from_utf8(message::encode(m)).unwrap())
            .collect();
        assert_eq!(invites.len(), 2, "{invites:?}");
        let second = &invites[1];
        assert!(second.contains("CSeq: 2 INVITE"), "{second}");
        let first_branch = Essentials::of(&crate::parse::parse(invites[0].as_bytes()).unwrap())
            .unwrap()
            .branch;
        assert!(!second.contains(&first_branch), "a new transaction");
        let auth = second
            .lines()
            .find_map(|l| l.strip_prefix("Proxy-Authorization: "))
            .expect("Proxy-Authorization");
        let params = crate::auth::parse_digest(auth).unwrap();
        assert_eq!(
            (params.username.as_str(), params.realm.as_str()),
            ("softswitch", "carrier")
        );
        assert_eq!(
            params.response,
            crate::auth::digest_response(&params, "s3cret", "INVITE"),
            "the digest answers the challenge"
        );
        if second_also_refused {
            p.uas().reject(407, vec![challenge]).unwrap();
            p.run(Duration::from_millis(100));
            assert!(
                matches!(
                    p.uac.events.as_slice(),
                    [DialogEvent::Failed { code: Some(407) }]
                ),
                "{:?}",
                p.uac.events
            );
        } else {
            p.uas().answer(SDP.to_vec()).unwrap();
            p.run(Duration::from_millis(100));
            assert!(matches!(
                p.uac.events.as_slice(),
                [DialogEvent::Answered { .. }]
            ));
            assert!(p.uac().is_confirmed() && p.uas().is_confirmed());
        }
    }
}

#[test]
fn glare_both_sides_get_491_and_both_offers_land_after_the_back_off() {
    let mut p = Pair::new();
    p.confirmed(&[]);
    let start = p.now;
    let now = p.now;
    p.uac()
        .offer(now, Method::Invite, Some(SDP.to_vec()))
        .unwrap();
    p.uas()
        .offer(now, Method::Invite, Some(SDP.to_vec()))
        .unwrap();
    // A second offer while one is under way is the leg's error.
    assert_eq!(
        p.uas().offer(now, Method::Update, None),
        Err(DialogError::OfferPending)
    );
    p.run(Duration::from_millis(100));
    assert!(p
        .responses(Dir::ToUac)
        .contains(&(491, Method::Invite, false)));
    assert!(p
        .responses(Dir::ToUas)
        .contains(&(491, Method::Invite, false)));
    p.run(Duration::from_secs(10));
    for side in [&p.uac, &p.uas] {
        let answered = side
            .events
            .iter()
            .filter(|e| matches!(e, DialogEvent::OfferAnswered { .. }))
            .count();
        let offered = side
            .events
            .iter()
            .filter(|e| matches!(e, DialogEvent::Offer { .. }))
            .count();
        assert_eq!(
            (answered, offered),
            (1, 1),
            "{:?} {:?}",
            side.events,
            p.delivered
                .iter()
                .map(|(d, m)| format!("{} {}", *d == Dir::ToUas, first_line(m)))
                .collect::<Vec<_>>()
        );
    }
    // The Call-ID's owner (UAC) waits 2.1-4 s, the other side 0-2 s.
    let retry_at = |dir: Dir| {
        p.delivered
            .iter()
            .filter(|(d, m)| *d == dir && first_line(m).starts_with("INVITE"))
            .count()
    };
    assert_eq!(retry_at(Dir::ToUac), 2);
    assert_eq!(retry_at(Dir::ToUas), 3, "first INVITE, glare, retry");
    assert!(p.now - start >= Duration::from_millis(2100));
    assert!(p.uac().is_confirmed() && p.uas().is_confirmed());
}

#[test]
fn a_bye_crossing_a_re_invite_ends_the_call_once() {
    for reinviter_is_uas in [true, false] {
        let mut p = Pair::new();
        p.confirmed(&[]);
        let now = p.now;
        if reinviter_is_uas {
            p.uas()
                .offer(now, Method::Invite, Some(SDP.to_vec()))
                .unwrap();
            p.uac().hangup();
        } else {
            p.uac()
                .offer(now, Method::Invite, Some(SDP.to_vec()))
                .unwrap();
            p.uas().hangup();
        }
        p.run(Duration::from_secs(40));
        let (reinviter, hanger, to_hanger) = if reinviter_is_uas {
            (&p.uas, &p.uac, Dir::ToUac)
        } else {
            (&p.uac, &p.uas, Dir::ToUas)
        };
        assert_eq!(ended(&reinviter.events), [EndReason::Bye]);
        assert!(ended(&hanger.events).is_empty());
        assert!(
            !reinviter
                .events
                .iter()
                .any(|e| matches!(e, DialogEvent::OfferAnswered { .. })),
            "no answer after the BYE"
        );
        // The re-INVITE that reached the side that had hung up: 481.
        let back = if to_hanger == Dir::ToUac {
            Dir::ToUas
        } else {
            Dir::ToUac
        };
        assert!(p.responses(back).contains(&(481, Method::Invite, false)));
        assert!(p.uac().is_done() && p.uas().is_done());
    }
}

#[test]
fn a_bye_while_the_leg_weighs_an_offer_gets_that_offer_a_487() {
    let mut p = Pair::new();
    p.confirmed(&[]);
    p.uas.auto_answer = false;
    let now = p.now;
    p.uac()
        .offer(now, Method::Update, Some(SDP.to_vec()))
        .unwrap();
    p.run(Duration::from_millis(100));
    let Some(DialogEvent::Offer { id, .. }) = p.uas.events.pop() else {
        panic!("the offer reached the leg");
    };
    p.uac.events.clear();
    p.uac().hangup();
    p.run(Duration::from_millis(100));
    assert!(p
        .responses(Dir::ToUac)
        .contains(&(487, Method::Update, false)));
    assert_eq!(ended(&p.uas.events), [EndReason::Bye]);
    // The leg's late answer finds nothing to answer.
    let now = p.now;
    assert_eq!(
        p.uas().answer_offer(now, id, Ok(None)),
        Err(DialogError::WrongState)
    );
}

#[test]
fn a_lost_ack_ends_the_call_after_64_t1_with_a_bye() {
    let mut p = Pair::new();
    p.drop.push((Dir::ToUas, "ACK"));
    p.call(&[]);
    p.run(Duration::from_millis(100));
    p.uas().answer(SDP.to_vec()).unwrap();
    p.run(Duration::from_secs(31));
    assert!(p.uas.events.is_empty(), "still waiting: {:?}", p.uas.events);
    p.run(Duration::from_secs(2));
    assert_eq!(ended(&p.uas.events), [EndReason::AckTimeout]);
    assert_eq!(ended(&p.uac.events), [EndReason::Bye]);
    // The 2xx was sent again and again, and each copy acknowledged.
    assert!(count(&p.uas.sent, "SIP/2.0 200") >= 7, "{:?}", p.uas.sent);
    assert!(count(&p.uac.sent, "ACK") >= 7);
}

#[test]
fn cancel_while_ringing_and_an_answer_crossing_the_cancel() {
    // Plain cancel: 487, and the UAS's leg hears it.
    let mut p = Pair::new();
    p.call(&[]);
    p.run(Duration::from_millis(100));
    p.uas().ring(180).unwrap();
    p.run(Duration::from_millis(100));
    p.uac().hangup();
    p.run(Duration::from_secs(1));
    assert_eq!(ended(&p.uas.events), [EndReason::Cancelled]);
    assert!(p
        .responses(Dir::ToUac)
        .contains(&(487, Method::Invite, false)));
    assert!(p.uac().is_done() && p.uas().is_done());
    // The answer crosses the CANCEL: the UAC acknowledges it, then BYE.
    let mut p = Pair::new();
    p.call(&[]);
    p.run(Duration::from_millis(100));
    p.uas().answer(SDP.to_vec()).unwrap();
    p.uac().hangup();
    p.run(Duration::from_secs(1));
    assert!(!p
        .uac
        .events
        .iter()
        .any(|e| matches!(e, DialogEvent::Answered { .. })));
    assert!(matches!(
        p.uas.events.as_slice(),
        [DialogEvent::Confirmed, DialogEvent::Ended(EndReason::Bye)]
    ));
    assert!(p.uac().is_done() && p.uas().is_done());
}

#[test]
fn session_timer_refreshed_by_the_peer_keeps_the_call_and_its_silence_ends_it() {
    let mut p = Pair::new();
    p.confirmed(&[
        ("Session-Expires", "90;refresher=uac"),
        ("Supported", "timer"),
    ]);
    let t = p.uas().session_timer().unwrap();
    assert!(!t.we_refresh && t.interval == 90);
    assert!(p.uac().session_timer().unwrap().we_refresh);
    // 200 s: the UAC refreshes every 45 s with UPDATE (the UAS allows it).
    p.run(Duration::from_secs(200));
    let updates = count(&p.uac.sent, "UPDATE");
    assert_eq!(updates, 4, "{:?}", p.uac.sent);
    assert!(p.uac().is_confirmed() && p.uas().is_confirmed());
    // The refreshes stop reaching the UAS: it hangs up 60 s after the last.
    p.drop.push((Dir::ToUas, "UPDATE"));
    p.run(Duration::from_secs(70));
    assert_eq!(ended(&p.uas.events), [EndReason::SessionExpired]);
    assert_eq!(ended(&p.uac.events), [EndReason::Bye]);
}

#[test]
fn we_refresh_with_a_re_invite_when_a_proxy_asked_for_the_timer() {
    let mut p = Pair::new();
    // No `Supported: timer` from the caller: the UAS refreshes; the
    // caller allows no UPDATE here, so it is a re-INVITE with our SDP.
    let mut raw = invite(&[("Session-Expires", "120")]);
    raw.headers.retain(|h| !matches!(h, Header::Allow(_)));
    p.uac.dialog = Some(DialogMachine::uac(p.now, raw, cfg(UAC_ADDR)));
    p.settle();
    p.run(Duration::from_millis(100));
    p.uas().answer(SDP.to_vec()).unwrap();
    p.run(Duration::from_millis(100));
    assert!(p.uas().session_timer().unwrap().we_refresh);
    p.run(Duration::from_secs(130));
    assert_eq!(
        count(&p.uas.sent, "INVITE"),
        2,
        "{:?} {:?}",
        p.uas.sent,
        p.uac.sent
    );
    assert!(p
        .uas
        .events
        .iter()
        .any(|e| matches!(e, DialogEvent::OfferAnswered { .. })));
    assert!(p.uac().is_confirmed() && p.uas().is_confirmed());
}

#[test]
fn a_session_interval_under_min_se_gets_422() {
    let mut p = Pair::new();
    p.call(&[("Session-Expires", "30"), ("Supported", "timer")]);
    p.run(Duration::from_millis(100));
    assert!(p.uas.dialog.is_none());
    let got = p.responses(Dir::ToUac);
    assert!(got.contains(&(422, Method::Invite, false)), "{got:?}");
    let r = p
        .delivered
        .iter()
        .find(|(_, m)| first_line(m).starts_with("SIP/2.0 422"))
        .unwrap();
    let text = String::from_utf8(message::encode(&r.1)).unwrap();
    assert!(text.contains("Min-SE: 90\r\n"), "{text}");
    assert!(matches!(
        p.uac.events.as_slice(),
        [DialogEvent::Failed { code: Some(422) }]
    ));
}

#[test]
fn options_in_dialog_gets_200_and_an_unknown_method_405_with_allow() {
    let mut p = Pair::new();
    p.confirmed(&[]);
    p.uac().send(Method::Options, vec![], None).unwrap();
    p.uac().send(Method::Message, vec![], None).unwrap();
    p.run(Duration::from_millis(100));
    let got = p.responses(Dir::ToUac);
    assert!(got.contains(&(200, Method::Options, false)), "{got:?}");
    assert!(got.contains(&(405, Method::Message, false)), "{got:?}");
    assert!(p.uas.events.is_empty());
}
