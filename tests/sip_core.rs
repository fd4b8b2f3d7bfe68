//! SIP/RTP core, end to end: the real binary on loopback, driven by the
//! test UA over real sockets.

mod support;

use std::time::Duration;

use support::*;

const T: Duration = Duration::from_secs(5);

#[test]
fn call_is_answered_with_paced_rtp_then_bye() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3422", &Offer::default());
    let trying = ua.recv(T).expect("100 Trying");
    assert_eq!(status(&trying), Some(100), "{trying}");
    let ok = ua.answer(&mut call, T);
    assert_eq!(header(&ok, "Content-Type"), Some("application/sdp"));
    let sdp = body(&ok);
    assert!(
        sdp.contains("m=audio ") && sdp.contains(" RTP/AVP 0 101"),
        "{sdp}"
    );
    assert!(sdp.contains("a=rtpmap:101 telephone-event/8000"), "{sdp}");
    assert!(sdp.contains("a=ptime:20"), "{sdp}");

    let pkts = call.collect_rtp(Duration::from_millis(1500));
    assert!(
        pkts.len() >= 60,
        "expected ~75 packets in 1.5 s, got {}",
        pkts.len()
    );
    assert!(
        pkts[0].marker,
        "first packet of the prompt carries the marker bit"
    );
    for w in pkts.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "sequence numbers are consecutive"
        );
        assert_eq!(
            w[1].ts,
            w[0].ts.wrapping_add(160),
            "timestamps advance by one frame"
        );
        assert_eq!(w[1].ssrc, w[0].ssrc, "one SSRC");
        assert_eq!(w[1].pt, 0, "PCMU");
        assert_eq!(w[1].len, 172, "12-byte header + 160 samples");
    }
    // Pacing: the spacing of a call's packets averages 20 ms and stays close
    // to it (loose bounds: this checks the pacing design, not performance).
    let gaps: Vec<f64> = pkts
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64() * 1000.0)
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!((19.0..21.0).contains(&mean), "mean spacing {mean:.2} ms");
    let near = gaps.iter().filter(|g| (**g - 20.0).abs() < 8.0).count();
    assert!(
        near * 10 >= gaps.len() * 9,
        "90% of gaps within 20±8 ms: {gaps:?}"
    );

    let bye = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&bye), Some(200), "{bye}");
    let r = srv.record(&call.call_id);
    assert_eq!(r["outcome"], "abandoned_ivr");
    assert_eq!(r["ended_by"], "caller");
    assert_eq!(r["did"], "3422");
    assert_eq!(r["flow"], "demo");
    assert_eq!(r["trunk"], "local");
    assert_eq!(r["caller"], "0612345678");
    assert_eq!(r["caller_class"], "mobile");
    assert_eq!(r["codec"], "PCMU");
    let p = &r["prompts"][0];
    assert_eq!(p["name"], "welcome");
    assert_eq!(p["end"], "hangup");
    let heard = p["heard_ms"].as_u64().unwrap();
    assert!(
        (1000..=2500).contains(&heard),
        "heard {heard} ms of welcome"
    );
    // After the BYE no more RTP comes.
    std::thread::sleep(Duration::from_millis(100));
    let after = call.collect_rtp(Duration::from_millis(300));
    assert!(after.is_empty(), "{} packets after BYE", after.len());
}

#[test]
fn digits_arrive_by_rfc4733_sip_info_and_in_band() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(300));
    call.send_rfc4733('1');
    let r = ua.request(
        &mut call,
        "INFO",
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=2\r\nDuration=160\r\n",
    );
    assert_eq!(status(&r), Some(200), "{r}");
    let r = ua.request(&mut call, "INFO", "Content-Type: application/dtmf\r\n", "3");
    assert_eq!(status(&r), Some(200), "{r}");
    let r = ua.request(&mut call, "INFO", "Content-Type: text/plain\r\n", "hello");
    assert_eq!(status(&r), Some(415), "unknown INFO body refused: {r}");
    ua.request(&mut call, "BYE", "", "");
    let rec = srv.record(&call.call_id);
    let digits: Vec<(String, String)> = rec["digits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["digit"].as_str().unwrap().into(),
                d["source"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        digits,
        vec![
            ("1".into(), "rfc4733".into()),
            ("2".into(), "sip_info".into()),
            ("3".into(), "sip_info".into())
        ]
    );
    // The first digit cut the welcome prompt short (barge-in).
    assert_eq!(rec["prompts"][0]["name"], "welcome");
    assert_eq!(rec["prompts"][0]["end"], "barge_in", "{rec}");
}

#[test]
fn in_band_tones_are_detected_when_no_telephone_event() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let offer = Offer {
        formats: "0".into(),
        rtpmaps: "a=rtpmap:0 PCMU/8000\r\n".into(),
        ..Offer::default()
    };
    let mut call = ua.invite("7000", &offer);
    let ok = ua.answer(&mut call, T);
    assert!(
        !body(&ok).contains("telephone-event"),
        "none offered, none answered"
    );
    let mut audio = vec![0i16; 800]; // 100 ms of silence first
    for d in ['7', '#'] {
        audio.extend(media::dtmf::generate_tone(d, 100, 8000));
        audio.extend(std::iter::repeat_n(0i16, 800));
    }
    call.send_audio(&audio);
    std::thread::sleep(Duration::from_millis(200));
    ua.request(&mut call, "BYE", "", "");
    let rec = srv.record(&call.call_id);
    assert_eq!(digits_of(&rec), "7#", "{rec}");
    assert_eq!(rec["digits"][0]["source"], "in_band");
}

#[test]
fn cancel_before_answer_gets_487() {
    let srv = Server::start_with(Options {
        answer_after_ms: 3000,
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    let ringing = ua
        .recv_until(T, |m| status(m) == Some(180))
        .expect("180 Ringing");
    assert!(
        header(&ringing, "To").and_then(tag).is_some(),
        "180 carries our tag"
    );
    let cancel = call_cancel(&ua, &call);
    ua.send(&cancel);
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = ua.recv(T).expect("responses to CANCEL and INVITE");
        let cseq = header(&m, "CSeq").unwrap().to_string();
        got.push((status(&m).unwrap(), cseq));
    }
    got.sort();
    assert_eq!(
        got,
        vec![(200, "1 CANCEL".to_string()), (487, "1 INVITE".to_string())]
    );
    let ack = call_ack_non2xx(&ua, &mut call);
    ua.send(&ack);
    let r = srv.record(&call.call_id);
    assert_eq!(r["outcome"], "cancelled");
    assert_eq!(r["sip_code"], 487);
    // The 487 is not retransmitted once ACKed.
    assert!(ua.recv(Duration::from_millis(1200)).is_none());
}

fn call_cancel(ua: &Ua, call: &Call) -> String {
    format!(
        "CANCEL sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test\" <sip:0612345678@127.0.0.1>;tag={ft}\r\nTo: <sip:{did}@{server}>\r\nCall-ID: {cid}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
        did = call.did,
        server = ua.server,
        local = ua.local,
        branch = call.branch,
        ft = call.from_tag,
        cid = call.call_id
    )
}

fn call_ack_non2xx(ua: &Ua, call: &mut Call) -> String {
    format!(
        "ACK sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test\" <sip:0612345678@127.0.0.1>;tag={ft}\r\nTo: <sip:{did}@{server}>;tag=x\r\nCall-ID: {cid}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        did = call.did,
        server = ua.server,
        local = ua.local,
        branch = call.branch,
        ft = call.from_tag,
        cid = call.call_id
    )
}

#[test]
fn refusals_unknown_did_forbidden_source_no_codec() {
    let srv = Server::start();
    // Unknown DID.
    let mut ua = Ua::udp(srv.udp);
    let call = ua.invite("9999", &Offer::default());
    let r = ua.final_response(T);
    assert_eq!(status(&r), Some(404), "{r}");
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["outcome"], "rejected");
    assert_eq!(rec["sip_code"], 404);

    // Source outside the trunk's networks (the test trunk allows 127.0.0.1/32).
    let mut other = Ua::udp_from("127.0.0.9", srv.udp);
    let call = other.invite("3422", &Offer::default());
    let r = other.final_response(T);
    assert_eq!(status(&r), Some(403), "{r}");
    assert_eq!(srv.record(&call.call_id)["sip_code"], 403);

    // No codec in common.
    let g729 = Offer {
        formats: "18".into(),
        rtpmaps: "a=rtpmap:18 G729/8000\r\n".into(),
        ..Offer::default()
    };
    let call = ua.invite("3422", &g729);
    let r = ua.final_response(T);
    assert_eq!(status(&r), Some(488), "{r}");
    assert_eq!(srv.record(&call.call_id)["sip_code"], 488);
}

#[test]
fn over_capacity_gets_503_with_retry_after() {
    let srv = Server::start_with(Options {
        trunk_max_calls: Some(1),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut first = ua.invite("7000", &Offer::default());
    ua.answer(&mut first, T);
    let mut ua2 = Ua::udp(srv.udp);
    let second = ua2.invite("7000", &Offer::default());
    let r = ua2.final_response(T);
    assert_eq!(status(&r), Some(503), "{r}");
    assert_eq!(header(&r, "Retry-After"), Some("7"));
    assert_eq!(
        srv.record(&second.call_id)["reject_reason"],
        "trunk at capacity"
    );
    ua.request(&mut first, "BYE", "", "");
    srv.record(&first.call_id);
    // The place is free again.
    let mut third = ua2.invite("7000", &Offer::default());
    ua2.answer(&mut third, T);
    ua2.request(&mut third, "BYE", "", "");
}

#[test]
fn a_flood_beyond_the_call_rate_gets_503_at_once() {
    let srv = Server::start_with(Options {
        max_cps: Some(2),
        ..Options::default()
    });
    // Ten callers at once: the bucket holds one second's worth (2 calls).
    let mut uas: Vec<Ua> = (0..10).map(|_| Ua::udp(srv.udp)).collect();
    let mut calls: Vec<_> = uas
        .iter_mut()
        .map(|ua| ua.invite("7000", &Offer::default()))
        .collect();
    let mut answered = Vec::new();
    let mut refused = 0;
    for (i, (ua, call)) in uas.iter_mut().zip(calls.iter_mut()).enumerate() {
        let r = ua.final_response(T);
        match status(&r) {
            Some(200) => {
                call.to_tag = header(&r, "To").and_then(tag);
                let ack = call.in_dialog(ua, "ACK", "", "");
                ua.send(&ack);
                answered.push(i);
            }
            Some(503) => {
                refused += 1;
                assert_eq!(header(&r, "Retry-After"), Some("7"), "{r}");
                assert_eq!(
                    srv.record(&call.call_id)["reject_reason"],
                    "call rate limit"
                );
            }
            other => panic!("unexpected {other:?}:\n{r}"),
        }
    }
    assert!(
        (2..=4).contains(&answered.len()),
        "two at once, one more each 500 ms: {answered:?}"
    );
    assert_eq!(answered.len() + refused, 10);
    let (_, page) = get_text(&srv, "/metrics", false);
    assert_eq!(
        metric(
            &page,
            "softswitch_calls_rejected_total{reason=\"call rate limit\"}"
        ),
        Some(refused as f64),
        "{page}"
    );
    for i in answered {
        uas[i].request(&mut calls[i], "BYE", "", "");
        srv.record(&calls[i].call_id);
    }
    // A second later the rate admits calls again.
    std::thread::sleep(Duration::from_millis(1100));
    let mut ua = Ua::udp(srv.udp);
    let mut again = ua.invite("7000", &Offer::default());
    ua.answer(&mut again, T);
    ua.request(&mut again, "BYE", "", "");
    // The refusals are logged as one line with their sum (every 10 s),
    // not a line per call.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !srv.log_text().contains("calls refused with 503") {
        assert!(
            std::time::Instant::now() < deadline,
            "no summary of the refusals:\n{}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = srv.log_text();
    assert!(
        log.contains(&format!(
            "refused={refused} reasons=call rate limit: {refused}"
        )),
        "{log}"
    );
    assert!(!log.contains("call refused"), "no line per call: {log}");
}

#[test]
fn a_burst_past_the_sip_backlog_gets_stateless_503_with_a_record_each() {
    // A backlog of one message: during a burst, whatever arrives while the
    // transaction layer still has a message waiting is refused at once.
    let srv = Server::start_with(Options {
        sip_max_backlog: Some(1),
        max_cps: Some(0),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    // Answers are read as they come, by a thread of their own, so none is
    // lost to a full socket buffer while the burst is being sent.
    let reader = ua.sock.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (answers_tx, answers) = std::sync::mpsc::channel::<String>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    let reading = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !stop_reader.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(n) = reader.recv(&mut buf) {
                let _ = answers_tx.send(String::from_utf8_lossy(&buf[..n]).to_string());
            }
        }
    });
    // An unknown number: every call the guard lets through is refused by
    // the call layer (404), so each INVITE has one final answer and a record.
    let calls: Vec<_> = (0..300)
        .map(|_| ua.invite("9999999", &Offer::default()))
        .collect();
    let mut finals: std::collections::HashMap<String, String> = Default::default();
    let mut repeated_503 = 0;
    let take = |finals: &mut std::collections::HashMap<String, String>,
                repeated: &mut usize,
                r: String| {
        if status(&r).is_some_and(|c| c >= 200) {
            let id = header(&r, "Call-ID").unwrap().to_string();
            match finals.get(&id) {
                Some(first) if status(first) == Some(503) && status(&r) == Some(503) => {
                    assert_eq!(header(first, "To"), header(&r, "To"), "same tag: {r}");
                    *repeated += 1;
                }
                Some(_) => {}
                None => {
                    finals.insert(id, r);
                }
            }
        }
    };
    // Well within the 32 s the guard remembers an INVITE for.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut retransmitted = false;
    let mut resend_at = std::time::Instant::now() + Duration::from_millis(500);
    while finals.len() < calls.len() && std::time::Instant::now() < deadline {
        if let Ok(r) = answers.recv_timeout(Duration::from_millis(100)) {
            take(&mut finals, &mut repeated_503, r);
        }
        // Every 500 ms (T1), the INVITEs still unanswered go again, as a
        // caller's would.
        if std::time::Instant::now() >= resend_at {
            for c in calls.iter().filter(|c| !finals.contains_key(&c.call_id)) {
                ua.send(&c.invite);
            }
            resend_at += Duration::from_millis(500);
        }
    }
    assert_eq!(finals.len(), calls.len(), "a final answer for every INVITE");
    // The INVITEs refused, retransmitted: the same 503 again.
    for c in calls
        .iter()
        .filter(|c| status(&finals[&c.call_id]) == Some(503))
        .take(20)
    {
        ua.send(&c.invite);
        retransmitted = true;
    }
    let settle = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < settle {
        if let Ok(r) = answers.recv_timeout(Duration::from_millis(100)) {
            take(&mut finals, &mut repeated_503, r);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reading.join().unwrap();
    let shed: Vec<&String> = finals.values().filter(|r| status(r) == Some(503)).collect();
    let unknown = finals.values().filter(|r| status(r) == Some(404)).count();
    assert_eq!(shed.len() + unknown, calls.len(), "only 404 and 503");
    assert!(!shed.is_empty(), "the burst outran the transaction layer");
    assert!(unknown > 0, "the first INVITE found the backlog empty");
    assert!(
        retransmitted && repeated_503 > 0,
        "refused again when retransmitted"
    );
    for r in &shed {
        assert_eq!(
            header(r, "Retry-After"),
            Some("7"),
            "[calls] retry_after_s: {r}"
        );
        assert!(
            header(r, "Warning").is_some_and(|w| w.contains("SIP overload")),
            "{r}"
        );
        assert!(header(r, "To").and_then(tag).is_some(), "{r}");
    }
    // Every INVITE has exactly one record, with the reason of its answer,
    // however often it was sent.
    for c in &calls {
        let rec = srv.record(&c.call_id);
        let want = if status(&finals[&c.call_id]) == Some(503) {
            "SIP overload"
        } else {
            "unknown number"
        };
        assert_eq!(rec["reject_reason"], want, "{rec}");
    }
    let records = srv.records();
    for c in &calls {
        let n = records
            .iter()
            .filter(|r| r["sip_call_id"] == c.call_id.as_str())
            .count();
        assert_eq!(n, 1, "one record for {}", c.call_id);
    }
    let (_, page) = get_text(&srv, "/metrics", false);
    assert_eq!(
        metric(&page, "softswitch_sip_shed_total"),
        Some(shed.len() as f64),
        "{page}"
    );
    assert_eq!(
        metric(&page, "softswitch_sip_shed_unrecorded_total"),
        Some(0.0)
    );
    assert_eq!(metric(&page, "softswitch_sip_inbound_backlog"), Some(0.0));
    assert!(srv.log_text().contains("SIP backlog at its bound"));
    // Once the backlog has drained, new calls are taken in again.
    let mut again = Ua::udp(srv.udp);
    let mut call = again.invite("7000", &Offer::default());
    again.answer(&mut call, T);
    again.request(&mut call, "BYE", "", "");
}

#[test]
fn bad_messages_get_400_or_501_and_service_goes_on() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    ua.send_bytes(b"\x00\x01\x02 complete garbage \xff\xfe");
    ua.send_bytes(b"NOT SIP AT ALL\r\n\r\n");
    assert!(
        ua.recv(Duration::from_millis(300)).is_none(),
        "garbage is dropped"
    );
    let local = ua.local;
    let truncated = format!(
        "INVITE sip:3422@{} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKtrunc\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:3422@127.0.0.1>\r\nCall-ID: trunc@test\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 300\r\n\r\nv=0\r\no=",
        srv.udp
    );
    ua.send(&truncated);
    let r = ua.recv(T).expect("answer to truncated INVITE");
    assert_eq!(status(&r), Some(400), "{r}");
    assert!(
        header(&r, "Warning").unwrap().contains("Content-Length"),
        "{r}"
    );
    let unknown = format!(
        "FROBNICATE sip:3422@{} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKfrob\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:3422@127.0.0.1>\r\nCall-ID: frob@test\r\nCSeq: 1 FROBNICATE\r\nContent-Length: 0\r\n\r\n",
        srv.udp
    );
    ua.send(&unknown);
    let r = ua.recv(T).expect("answer to unknown method");
    assert_eq!(status(&r), Some(501), "{r}");
    // Compact forms are understood; OPTIONS is a keep-alive.
    let options = format!(
        "OPTIONS sip:{} SIP/2.0\r\nv: SIP/2.0/UDP {local};branch=z9hG4bKopt;rport\r\nf: <sip:a@127.0.0.1>;tag=1\r\nt: <sip:{}>\r\ni: opt@test\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n",
        srv.udp, srv.udp
    );
    ua.send(&options);
    let r = ua.recv(T).expect("answer to OPTIONS");
    assert_eq!(status(&r), Some(200), "{r}");
    assert!(header(&r, "Allow").unwrap().contains("INVITE"));
    // Via received/rport filled in (RFC 3581).
    let via = header(&r, "Via").unwrap();
    assert!(via.contains(&format!("rport={}", local.port())), "{via}");
    // And a real call still works.
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, T);
    ua.request(&mut call, "BYE", "", "");
}

#[test]
fn reinvite_hold_and_unhold() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    assert!(!call.collect_rtp(Duration::from_millis(200)).is_empty());
    let port = call.rtp.local_addr().unwrap().port();
    let hold = Offer {
        direction: "sendonly",
        ..Offer::default()
    };
    let r = ua.request(&mut call, "INVITE", "", &hold.sdp(port));
    assert_eq!(status(&r), Some(200), "{r}");
    assert!(body(&r).contains("a=recvonly"), "{r}");
    let ack = ack_2xx(&ua, &call, &r);
    ua.send(&ack);
    // Frames already on the wire when the hold took effect are drained.
    call.collect_rtp(Duration::from_millis(100));
    let held = call.collect_rtp(Duration::from_millis(400));
    assert!(held.is_empty(), "no RTP while on hold, got {}", held.len());
    let r = ua.request(&mut call, "INVITE", "", &Offer::default().sdp(port));
    assert_eq!(status(&r), Some(200));
    assert!(body(&r).contains("a=sendrecv"), "{r}");
    let ack = ack_2xx(&ua, &call, &r);
    ua.send(&ack);
    assert!(
        !call.collect_rtp(Duration::from_millis(300)).is_empty(),
        "RTP again after unhold"
    );
    // A method we do not serve in a dialog.
    let r = ua.request(&mut call, "MESSAGE", "Content-Type: text/plain\r\n", "hi");
    assert_eq!(status(&r), Some(405), "{r}");
    ua.request(&mut call, "BYE", "", "");
}

fn ack_2xx(ua: &Ua, call: &Call, ok: &str) -> String {
    let cseq = header(ok, "CSeq")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    format!(
        "ACK sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKack{cseq};rport\r\nFrom: \"Test\" <sip:0612345678@127.0.0.1>;tag={ft}\r\nTo: <sip:{did}@{server}>;tag={tt}\r\nCall-ID: {cid}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
        did = call.did,
        server = ua.server,
        local = ua.local,
        ft = call.from_tag,
        tt = call.to_tag.as_deref().unwrap(),
        cid = call.call_id
    )
}

#[test]
fn call_over_tcp() {
    let srv = Server::start();
    let mut ua = Ua::tcp(srv.tcp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    assert!(!call.collect_rtp(Duration::from_millis(200)).is_empty());
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200));
    assert_eq!(srv.record(&call.call_id)["transport"], "TCP");
}

#[test]
fn script_end_hangs_up_with_bye() {
    // 7001: one whole prompt, then the flow hangs up.
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7001", &Offer::default());
    ua.answer(&mut call, T);
    let bye = ua
        .recv_until(Duration::from_secs(10), |m| m.starts_with("BYE "))
        .expect("BYE from the softswitch");
    ua.reply_ok(&bye);
    let r = srv.record(&call.call_id);
    // The flow's hangup disposition is `informed`: a message, then release.
    assert_eq!(r["outcome"], "dissuaded", "{r}");
    assert_eq!(r["dissuasion"], "informed", "{r}");
    assert_eq!(r["prompts"][0]["end"], "completed");
    assert_eq!(r["prompts"][0]["heard_ms"], r["prompts"][0]["duration_ms"]);
}

#[test]
fn sigterm_refuses_new_calls_then_ends_calls_in_progress() {
    let mut srv = Server::start_with(Options {
        drain_timeout_s: 2,
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    srv.terminate();
    std::thread::sleep(Duration::from_millis(300));
    let mut ua2 = Ua::udp(srv.udp);
    ua2.invite("7000", &Offer::default());
    let r = ua2.final_response(T);
    assert_eq!(
        status(&r),
        Some(503),
        "new calls refused while draining: {r}"
    );
    let bye = ua
        .recv_until(Duration::from_secs(6), |m| m.starts_with("BYE "))
        .expect("BYE after the drain timeout");
    ua.reply_ok(&bye);
    let st = srv
        .wait_exit(Duration::from_secs(10))
        .expect("process exits");
    assert!(st.success(), "exit status {st:?}");
    let r = srv.record(&call.call_id);
    assert_eq!(r["outcome"], "interrupted");
    assert_eq!(r["end_reason"], "shutdown");
}

#[test]
fn rtp_from_an_unexpected_source_is_dropped() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    // An RFC 4733 digit from another port than the one in our SDP.
    let intruder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let remote = call.remote_rtp.unwrap();
    for (i, (marker, ev)) in media::dtmf::event_packets('9', 100, 20)
        .into_iter()
        .enumerate()
    {
        let mut p = vec![0x80, 101 | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&(500u16 + i as u16).to_be_bytes());
        p.extend_from_slice(&777u32.to_be_bytes());
        p.extend_from_slice(&0xdeadu32.to_be_bytes());
        p.extend_from_slice(&ev.to_bytes());
        intruder.send_to(&p, remote).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    call.send_rfc4733('4');
    std::thread::sleep(Duration::from_millis(100));
    ua.request(&mut call, "BYE", "", "");
    let rec = srv.record(&call.call_id);
    assert_eq!(digits_of(&rec), "4", "the intruder's 9 is ignored: {rec}");
}

#[test]
fn digest_trunk_is_challenged_then_admitted() {
    let srv = Server::start_with(Options {
        extra_trunks: r#"
[[trunks]]
name = "carrier"
username = "carrier"
password = "s3cret"
dids = { "3900" = "office-hours" }
"#
        .into(),
        ..Options::default()
    });
    // 127.0.0.9 is outside the `local` trunk's network: credentials needed.
    let mut ua = Ua::udp_from("127.0.0.9", srv.udp);
    let mut call = ua.invite("3900", &Offer::default());
    let challenge = ua.final_response(T);
    assert_eq!(status(&challenge), Some(401), "{challenge}");
    let www = header(&challenge, "WWW-Authenticate").expect("challenge header");
    assert!(
        www.starts_with("Digest ") && www.contains("realm=\"softswitch\""),
        "{www}"
    );
    ua.send(&call_ack_non2xx(&ua, &mut call));
    // Same call, new INVITE with credentials (CSeq 2, new branch).
    let uri = format!("sip:3900@{}", srv.udp);
    reinvite_with_credentials(&mut ua, &call, www, "s3cret", &uri, "z9hG4bKretry");
    call.cseq = 2;
    ua.answer(&mut call, T);
    ua.request(&mut call, "BYE", "", "");
    let r = srv.record(&call.call_id);
    assert_eq!(r["trunk"], "carrier");
    assert_eq!(r["did"], "3900");
    // A wrong password is refused with 403 and recorded.
    let mut bad = ua.invite("3900", &Offer::default());
    let ch = ua.final_response(T);
    ua.send(&call_ack_non2xx(&ua, &mut bad));
    let www = header(&ch, "WWW-Authenticate").unwrap();
    reinvite_with_credentials(&mut ua, &bad, www, "wrong", &uri, "z9hG4bKretry2");
    let r = ua.final_response(T);
    assert_eq!(status(&r), Some(403), "{r}");
    assert_eq!(srv.record(&bad.call_id)["sip_code"], 403);
}

/// Send `call`'s INVITE again (CSeq 2, new branch) answering the challenge
/// `www` as user "carrier" with `password`.
fn reinvite_with_credentials(
    ua: &mut Ua,
    call: &Call,
    www: &str,
    password: &str,
    uri: &str,
    branch: &str,
) {
    let auth = sip::auth::authorization(www, "carrier", password, "INVITE", uri).unwrap();
    let invite = call
        .invite
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace(&call.branch, branch)
        .replace(
            "Content-Type:",
            &format!("Authorization: {auth}\r\nContent-Type:"),
        );
    ua.send(&invite);
}

/// An RTP packet: version 2, `pt`, a 160-byte payload of `fill`.
fn rtp_packet(pt: u8, seq: u16, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x5eed_u32.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, 160));
    p
}

#[test]
fn symmetric_rtp_latches_only_onto_rtp_of_a_negotiated_payload_type() {
    let srv = Server::start_with(Options {
        local_trunk_extra: "symmetric_rtp = true\n".into(),
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3422", &Offer::default());
    let ok = ua.answer(&mut call, Duration::from_secs(5));
    let ours = sdp_media(body(&ok));
    // Garbage, then RTP of a payload type nobody offered, from strangers.
    let garbage = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    garbage
        .send_to(b"not RTP at all, just noise", ours)
        .unwrap();
    let stray = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    stray.send_to(&rtp_packet(99, 1, 0), ours).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // The caller behind NAT: its RTP (PCMU, as offered) comes from an
    // address its SDP did not give. softswitch answers there.
    let nat = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for seq in 1..=5 {
        nat.send_to(&rtp_packet(0, seq, 0xff), ours).unwrap();
    }
    let to_nat = read_rtp(&nat, Duration::from_millis(600));
    assert!(
        to_nat.len() > 10,
        "the media follows the caller's RTP: {} packets",
        to_nat.len()
    );
    assert!(
        read_rtp(&garbage, Duration::from_millis(200)).is_empty(),
        "noise does not latch"
    );
    assert!(
        read_rtp(&stray, Duration::from_millis(200)).is_empty(),
        "nor RTP of another type"
    );
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
}

#[test]
fn a_content_length_near_the_maximum_integer_gets_513_and_the_connection_closes() {
    let srv = Server::start();
    let mut ua = Ua::tcp(srv.tcp);
    let local = ua.local;
    ua.send(&format!(
        "OPTIONS sip:3422@{} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKhuge\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=h1\r\nTo: <sip:3422@127.0.0.1>\r\nCall-ID: huge@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: {}\r\n\r\n",
        srv.tcp,
        u64::MAX - 1
    ));
    let r = ua.recv(Duration::from_secs(5)).expect("an answer");
    assert!(r.starts_with("SIP/2.0 513 Message Too Large\r\n"), "{r}");
    assert!(
        ua.recv(Duration::from_secs(2)).is_none(),
        "then the connection closes"
    );
    // The server is fine: a new connection is served.
    let mut ua = Ua::tcp(srv.tcp);
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, Duration::from_secs(5));
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
}
