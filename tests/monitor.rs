//! What supervisors see of a live conversation: the agent's holds in the
//! record, and silent monitoring.

mod support;

use std::time::Duration;

use support::agent::AgentPhone;
use support::*;

const T: Duration = Duration::from_secs(5);

fn server() -> Server {
    Server::start_with(queue_options())
}

#[test]
fn an_agent_hold_is_timed_in_the_record() {
    let srv = server();
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent1 rung");
    let mut agent_call = phone.answer(ring, "PCMU");
    let held = phone.reinvite(&mut agent_call, "sendonly");
    assert_eq!(status(&held), Some(200), "{held}");
    assert!(
        body(&held).contains("a=recvonly"),
        "we answer a hold with recvonly: {held}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let resumed = phone.reinvite(&mut agent_call, "sendrecv");
    assert_eq!(status(&resumed), Some(200), "{resumed}");
    std::thread::sleep(Duration::from_millis(300));
    phone.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["holds"], 1, "{rec}");
    let hold = rec["hold_ms"].as_u64().unwrap();
    assert!((900..2000).contains(&hold), "hold {hold} ms: {rec}");
    assert!(
        rec["talk_ms"].as_u64().unwrap() > hold,
        "hold is inside talk"
    );
}

/// Mean absolute level of PCMU payload bytes decoded.
fn level_of(bytes: &[u8]) -> f64 {
    let mut pcm = Vec::new();
    media::g711::decode_ulaw(bytes, &mut pcm);
    pcm.iter().map(|s| (*s as f64).abs()).sum::<f64>() / pcm.len().max(1) as f64
}

/// PCMU payloads arriving on `sock` within `dur`.
fn payloads(sock: &std::net::UdpSocket, dur: Duration) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + dur;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            break;
        };
        if n > 12 && buf[1] & 0x7f == 0 {
            out.push(buf[12..n].to_vec());
        }
    }
    out
}

#[test]
fn a_supervisor_listens_silently_to_an_agents_call() {
    let srv = server();
    // Marie, a supervisor, acts with her own token: the record names her.
    let marie = support::web::account_with_token(&srv, "sup-marie", "supervisor", &[]);
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    // The supervisor's phone: an account that takes no calls itself.
    let mut sup = AgentPhone::new("agent4", "agent4", srv.udp);
    sup.register();
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent4/logout",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent1/monitor",
        Some(&marie),
        Some(r#"{"phone":"agent4"}"#),
    );
    assert_eq!(code, 409, "agent1 is not on a call yet: {body}");

    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent1 rung");
    let mut agent_call = phone.answer(ring, "PCMU");
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent1/monitor",
        Some(&marie),
        Some(r#"{"phone":"agent4"}"#),
    );
    assert_eq!(code, 200, "{body}");
    let ring = sup.await_invite(T).expect("the supervisor's phone rings");
    let mut sup_call = sup.answer(ring, "PCMU");

    // The caller speaks, then the agent: the supervisor hears both.
    let sup_rtp = sup_call.rtp.try_clone().unwrap();
    let listener = std::thread::spawn(move || payloads(&sup_rtp, Duration::from_millis(2600)));
    std::thread::sleep(Duration::from_millis(200));
    call.send_audio(&[6000i16; 160 * 50]);
    let mut loud = Vec::new();
    media::g711::encode_ulaw(&[6000], &mut loud);
    agent_call.send_frames(50, loud[0], 0);
    let heard = listener.join().unwrap();
    let loud_frames = heard.iter().filter(|p| level_of(p) > 3000.0).count();
    assert!(
        heard.len() >= 100,
        "the supervisor gets a steady stream: {}",
        heard.len()
    );
    assert!(
        (70..=110).contains(&loud_frames),
        "both sides, about 2 s of speech: {loud_frames} loud frames of {}",
        heard.len()
    );

    // What the supervisor says reaches nobody (the agent's speech relayed
    // to the caller so far is read off first).
    let caller_rtp = call.rtp.try_clone().unwrap();
    caller_rtp.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    while caller_rtp.recv_from(&mut buf).is_ok() {}
    caller_rtp.set_nonblocking(false).unwrap();
    let caller_ear = std::thread::spawn(move || payloads(&caller_rtp, Duration::from_millis(1500)));
    // The supervisor talks loud while the agent murmurs: the caller gets
    // the agent's murmur only.
    for _ in 0..35 {
        sup_call.send_frames(1, loud[0], 0);
        agent_call.send_frames(1, 0xFE, 0);
    }
    let caller_heard = caller_ear.join().unwrap();
    assert!(
        caller_heard.len() >= 25,
        "the agent reaches the caller: {}",
        caller_heard.len()
    );
    assert!(
        caller_heard.iter().all(|p| level_of(p) < 100.0),
        "the caller never hears the supervisor"
    );

    // The agent hangs up: the supervisor's phone is released too.
    phone.bye(&mut agent_call);
    assert!(
        sup.await_bye(&sup_call, T),
        "the supervisor's leg ends with the call"
    );
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["monitored"][0]["by"], "sup-marie", "{rec}");
    assert_eq!(rec["monitored"][0]["phone"], "agent4", "{rec}");
    let audit = std::fs::read_dir(srv.dir.join("var/audit"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(audit.contains("call.monitor"), "monitoring is audited");
}
