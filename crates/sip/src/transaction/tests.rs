//! Transaction timers and retransmissions under a fake clock.

use super::*;
use crate::parse::parse;

const SRC: &str = "10.0.0.9:5070";

fn peer(t: Transport) -> Peer {
    Peer {
        transport: t,
        addr: SRC.parse().unwrap(),
        conn: None,
    }
}

fn req(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>) -> SipMessage {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let cseq_method = if method == "ACK" && to_tag.is_empty() {
        "ACK"
    } else {
        method
    };
    let raw = format!(
        "{method} sip:3422@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {SRC};branch={branch}\r\nFrom: <sip:a@10.0.0.9>;tag=f\r\nTo: <sip:3422@127.0.0.1>{to_tag}\r\nCall-ID: cid\r\nCSeq: {cseq} {cseq_method}\r\nContent-Length: 0\r\n\r\n"
    );
    parse(raw.as_bytes()).unwrap()
}

fn resp_to(branch: &str, method: &str, code: u16) -> SipMessage {
    let raw = format!(
        "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\nFrom: <sip:a@127.0.0.1>;tag=f\r\nTo: <sip:b@10.0.0.9>;tag=t\r\nCall-ID: cid\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    parse(raw.as_bytes()).unwrap()
}

fn request_of(msg: SipMessage) -> Request {
    match msg {
        SipMessage::Request(r) => r,
        _ => panic!("not a request"),
    }
}

#[derive(Default, Debug)]
struct Drained {
    sent: Vec<String>,
    events: Vec<TxEvent>,
}

fn drain(tx: &mut Transactions) -> Drained {
    let mut d = Drained::default();
    while let Some(o) = tx.poll_output() {
        match o {
            Output::Transmit { data, .. } => {
                let text = String::from_utf8_lossy(&data).to_string();
                d.sent.push(text.lines().next().unwrap_or("").to_string());
            }
            Output::Event(e) => d.events.push(e),
        }
    }
    d
}

/// Advance the fake clock in 10 ms steps to `until`, recording the offsets
/// (in ms from `t0`) at which something was transmitted.
fn run_until(tx: &mut Transactions, t0: Instant, until_ms: u64) -> (Vec<u64>, Vec<TxEvent>) {
    let mut times = Vec::new();
    let mut events = Vec::new();
    let mut now_ms = 0;
    while now_ms <= until_ms {
        let now = t0 + Duration::from_millis(now_ms);
        if tx.poll_timeout().is_some_and(|t| t <= now) {
            tx.handle_timeout(now);
        }
        let d = drain(tx);
        times.extend(d.sent.iter().map(|_| now_ms));
        events.extend(d.events);
        now_ms += 10;
    }
    (times, events)
}

fn server_id(events: &[TxEvent]) -> ServerTxId {
    events
        .iter()
        .find_map(|e| match e {
            TxEvent::Request { id, .. } => Some(*id),
            _ => None,
        })
        .expect("request event")
}

#[test]
fn invite_gets_100_at_once_and_retransmissions_are_absorbed() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    tx.receive(t0, req("INVITE", "z9hG4bK1", 1, None), peer(Transport::Udp))
        .unwrap();
    let d = drain(&mut tx);
    assert_eq!(d.sent, vec!["SIP/2.0 100 Trying"]);
    assert_eq!(d.events.len(), 1);
    tx.receive(t0, req("INVITE", "z9hG4bK1", 1, None), peer(Transport::Udp))
        .unwrap();
    let d = drain(&mut tx);
    assert_eq!(d.sent, vec!["SIP/2.0 100 Trying"], "last response resent");
    assert!(d.events.is_empty(), "retransmission not passed up");
}

#[test]
fn non_2xx_final_timer_g_then_h() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = req("INVITE", "z9hG4bK2", 1, None);
    tx.receive(t0, invite.clone(), peer(Transport::Udp))
        .unwrap();
    let id = server_id(&drain(&mut tx).events);
    let r = message::response(&request_of(invite), 486, Some("tt"));
    tx.respond(t0, id, r).unwrap();
    let (times, _) = run_until(&mut tx, t0, 40_000);
    // Sent at 0, then Timer G at 0.5, 1.5, 3.5, 7.5 then every T2=4 s until
    // Timer H (64*T1 = 32 s) ends the transaction.
    assert_eq!(
        times,
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(tx.len(), (0, 0), "Timer H removed the transaction");
}

#[test]
fn ack_stops_timer_g_and_timer_i_ends() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = req("INVITE", "z9hG4bK3", 1, None);
    tx.receive(t0, invite.clone(), peer(Transport::Udp))
        .unwrap();
    let id = server_id(&drain(&mut tx).events);
    tx.respond(
        t0,
        id,
        message::response(&request_of(invite), 404, Some("tt")),
    )
    .unwrap();
    let (times, _) = run_until(&mut tx, t0, 1000);
    assert_eq!(times, vec![0, 500]);
    tx.receive(
        t0 + Duration::from_millis(1000),
        req("ACK", "z9hG4bK3", 1, Some("tt")),
        peer(Transport::Udp),
    )
    .unwrap();
    let d = drain(&mut tx);
    assert!(d.events.is_empty(), "ACK to non-2xx is absorbed");
    let (times, _) = run_until(&mut tx, t0, 6_000);
    assert!(
        times.iter().all(|&t| t <= 1000),
        "no retransmission after ACK: {times:?}"
    );
    assert_eq!(tx.len(), (0, 0), "Timer I (T4) ended it");
}

#[test]
fn accepted_2xx_is_retransmitted_until_ack() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = req("INVITE", "z9hG4bK4", 5, None);
    tx.receive(t0, invite.clone(), peer(Transport::Udp))
        .unwrap();
    let id = server_id(&drain(&mut tx).events);
    tx.respond(
        t0,
        id,
        message::response(&request_of(invite), 200, Some("tt")),
    )
    .unwrap();
    let (times, _) = run_until(&mut tx, t0, 2000);
    assert_eq!(times, vec![0, 500, 1500]);
    // The ACK to a 2xx has its own branch.
    tx.receive(
        t0 + Duration::from_millis(2000),
        req("ACK", "z9hG4bKother", 5, Some("tt")),
        peer(Transport::Udp),
    )
    .unwrap();
    let d = drain(&mut tx);
    assert!(matches!(
        d.events.as_slice(),
        [TxEvent::Ack { invite: Some(i), .. }] if *i == id
    ));
    let (times, events) = run_until(&mut tx, t0, 40_000);
    assert!(times.iter().all(|&t| t <= 2000), "{times:?}");
    assert!(events.is_empty(), "no AckTimeout after the ACK");
    assert_eq!(tx.len(), (0, 0));
}

#[test]
fn missing_ack_to_2xx_reports_ack_timeout() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = req("INVITE", "z9hG4bK5", 1, None);
    tx.receive(t0, invite.clone(), peer(Transport::Udp))
        .unwrap();
    let id = server_id(&drain(&mut tx).events);
    tx.respond(
        t0,
        id,
        message::response(&request_of(invite), 200, Some("tt")),
    )
    .unwrap();
    let (_, events) = run_until(&mut tx, t0, 33_000);
    assert!(matches!(events.as_slice(), [TxEvent::AckTimeout { id: i, .. }] if *i == id));
}

#[test]
fn tcp_has_no_retransmissions() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = req("INVITE", "z9hG4bK6", 1, None);
    tx.receive(t0, invite.clone(), peer(Transport::Tcp))
        .unwrap();
    let id = server_id(&drain(&mut tx).events);
    tx.respond(
        t0,
        id,
        message::response(&request_of(invite), 486, Some("tt")),
    )
    .unwrap();
    let (times, _) = run_until(&mut tx, t0, 40_000);
    assert_eq!(times, vec![0]);
}

#[test]
fn non_invite_server_timer_j() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let bye = req("BYE", "z9hG4bK7", 2, Some("tt"));
    tx.receive(t0, bye.clone(), peer(Transport::Udp)).unwrap();
    let d = drain(&mut tx);
    assert!(d.sent.is_empty(), "no 100 for non-INVITE");
    let id = server_id(&d.events);
    tx.respond(
        t0,
        id,
        message::response(&request_of(bye.clone()), 200, None),
    )
    .unwrap();
    assert_eq!(drain(&mut tx).sent, vec!["SIP/2.0 200 OK"]);
    tx.receive(t0, bye.clone(), peer(Transport::Udp)).unwrap();
    let d = drain(&mut tx);
    assert_eq!(
        d.sent,
        vec!["SIP/2.0 200 OK"],
        "retransmitted BYE re-answered"
    );
    assert!(d.events.is_empty());
    assert_eq!(
        tx.respond(t0, id, message::response(&request_of(bye), 500, None)),
        Err(TxError::AlreadyFinal)
    );
    run_until(&mut tx, t0, 31_990);
    assert_eq!(tx.len(), (1, 0));
    run_until(&mut tx, t0, 32_010);
    assert_eq!(tx.len(), (0, 0), "Timer J = 64*T1");
}

#[test]
fn cancel_matches_pending_invite() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    tx.receive(t0, req("INVITE", "z9hG4bK8", 1, None), peer(Transport::Udp))
        .unwrap();
    let id = server_id(&drain(&mut tx).events);
    tx.receive(t0, req("CANCEL", "z9hG4bK8", 1, None), peer(Transport::Udp))
        .unwrap();
    let d = drain(&mut tx);
    assert_eq!(d.sent, vec!["SIP/2.0 200 OK"]);
    assert!(matches!(d.events.as_slice(), [TxEvent::Cancelled { invite, .. }] if *invite == id));
    // A CANCEL matching nothing gets 481.
    tx.receive(
        t0,
        req("CANCEL", "z9hG4bKnone", 1, None),
        peer(Transport::Udp),
    )
    .unwrap();
    let d = drain(&mut tx);
    assert_eq!(d.sent, vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]);
    assert!(d.events.is_empty());
}

#[test]
fn client_invite_timer_a_and_b() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = request_of(req("INVITE", "z9hG4bKc1", 1, None));
    let id = tx.request(t0, invite, peer(Transport::Udp)).unwrap();
    let (times, events) = run_until(&mut tx, t0, 33_000);
    // Timer A doubles without cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5.
    assert_eq!(times, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert!(matches!(events.as_slice(), [TxEvent::Timeout { id: i, .. }] if *i == id));
    assert_eq!(tx.len(), (0, 0));
}

#[test]
fn client_invite_non_2xx_is_acked_once_delivered_once() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let invite = request_of(req("INVITE", "z9hG4bKc2", 1, None));
    tx.request(t0, invite, peer(Transport::Udp)).unwrap();
    drain(&mut tx);
    tx.receive(
        t0,
        resp_to("z9hG4bKc2", "INVITE", 180),
        peer(Transport::Udp),
    )
    .unwrap();
    let (times, events) = run_until(&mut tx, t0, 5_000);
    assert!(times.is_empty(), "1xx stops Timer A: {times:?}");
    assert_eq!(events.len(), 1);
    tx.receive(
        t0,
        resp_to("z9hG4bKc2", "INVITE", 486),
        peer(Transport::Udp),
    )
    .unwrap();
    let d = drain(&mut tx);
    assert_eq!(d.sent, vec!["ACK sip:3422@127.0.0.1 SIP/2.0"]);
    assert_eq!(d.events.len(), 1);
    tx.receive(
        t0,
        resp_to("z9hG4bKc2", "INVITE", 486),
        peer(Transport::Udp),
    )
    .unwrap();
    let d = drain(&mut tx);
    assert_eq!(d.sent.len(), 1, "ACK resent for the retransmitted final");
    assert!(d.events.is_empty(), "final delivered once");
}

#[test]
fn client_non_invite_timer_e_f_and_k() {
    let t0 = Instant::now();
    let mut tx = Transactions::new(TimerConfig::default());
    let bye = request_of(req("BYE", "z9hG4bKc3", 2, Some("t")));
    let id = tx.request(t0, bye.clone(), peer(Transport::Udp)).unwrap();
    let (times, events) = run_until(&mut tx, t0, 33_000);
    assert_eq!(
        times,
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(matches!(events.as_slice(), [TxEvent::Timeout { id: i, .. }] if *i == id));

    let bye = request_of(req("BYE", "z9hG4bKc4", 2, Some("t")));
    tx.request(t0, bye, peer(Transport::Udp)).unwrap();
    drain(&mut tx);
    tx.receive(t0, resp_to("z9hG4bKc4", "BYE", 200), peer(Transport::Udp))
        .unwrap();
    assert_eq!(drain(&mut tx).events.len(), 1);
    run_until(&mut tx, t0, 5_010);
    assert_eq!(tx.len(), (0, 0), "Timer K = T4");
}
