//! SIP hot path: parsing an INVITE through the rsip shim, and one INVITE
//! server transaction (receive -> 100 -> 200 -> ACK) through the sans-IO layer.

use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sip::rsip::SipMessage;
use sip::transaction::{Output, Peer, TimerConfig, Transactions, Transport, TxEvent};

const INVITE: &str = "INVITE sip:3422@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-524287-1---2c6a3c0b3b7c4a8d;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:0612345678@127.0.0.1:5070>\r\n\
To: <sip:3422@127.0.0.1:5060>\r\n\
From: \"Caller\" <sip:0612345678@127.0.0.1:5070>;tag=e6d4d5a1\r\n\
Call-ID: 1-12345@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n\
Content-Type: application/sdp\r\n\
User-Agent: bench\r\n\
Content-Length: 126\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "127.0.0.1:5070".parse().unwrap(),
        conn: None,
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("sip/parse_invite", |b| {
        b.iter(|| sip::parse(black_box(INVITE.as_bytes())).unwrap())
    });
    c.bench_function("sip/parse_invite_compact", |b| {
        let compact = INVITE
            .replace("Via:", "v:")
            .replace("Contact:", "m:")
            .replace("To:", "t:")
            .replace("From:", "f:")
            .replace("Call-ID:", "i:")
            .replace("Content-Type:", "c:")
            .replace("Content-Length:", "l:");
        b.iter(|| sip::parse(black_box(compact.as_bytes())).unwrap())
    });
    c.bench_function("sip/invite_transaction_100_200_ack", |b| {
        let mut tx = Transactions::new(TimerConfig::default());
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let now = Instant::now();
            let text = INVITE
                .replace("2c6a3c0b3b7c4a8d", &format!("{n:016x}"))
                .replace("1-12345", &format!("{n}-12345"));
            let msg = sip::parse(text.as_bytes()).unwrap();
            tx.receive(now, msg, peer()).unwrap();
            let mut id = None;
            while let Some(o) = tx.poll_output() {
                if let Output::Event(TxEvent::Request { id: i, request, .. }) = o {
                    id = Some((i, request));
                }
            }
            let (id, req) = id.unwrap();
            let ok = sip::message::response(&req, 200, Some("tag1"));
            tx.respond(now, id, ok).unwrap();
            let ack = format!(
                "ACK sip:3422@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa{n}\r\nFrom: <sip:a@b>;tag=e6d4d5a1\r\nTo: <sip:3422@127.0.0.1>;tag=tag1\r\nCall-ID: {n}-12345@127.0.0.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
            );
            tx.receive(now, sip::parse(ack.as_bytes()).unwrap(), peer()).unwrap();
            while tx.poll_output().is_some() {}
            if n.is_multiple_of(1024) {
                // Let Timer L retire old transactions as the real loop would.
                tx.handle_timeout(now + std::time::Duration::from_secs(40));
            }
            black_box(&tx);
        })
    });
    c.bench_function("sip/encode_200_with_sdp", |b| {
        let SipMessage::Request(req) = sip::parse(INVITE.as_bytes()).unwrap() else {
            unreachable!()
        };
        b.iter(|| {
            let mut r = sip::message::response(&req, 200, Some("tag1"));
            sip::message::set_body(
                &mut r.headers,
                &mut r.body,
                "application/sdp",
                req.body.clone(),
            );
            black_box(sip::message::encode(&SipMessage::Response(r)))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
