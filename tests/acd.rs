//! ACD end to end: agent phones register with digest auth, callers queue
//! through flows, the softswitch rings the right agent, bridges the RTP of
//! both legs, and records waits, talks, misses and abandons in the CDR.

mod support;

use std::time::Duration;

use support::agent::AgentPhone;
use support::*;

const T: Duration = Duration::from_secs(5);

/// Queue straight away (no menu): 7100 -> general, 7101 -> expert.
const QUEUE_FLOWS: [(&str, &str); 2] = [
    (
        "test-queue-general.toml",
        "[flow]\nname = \"test-queue-general\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"general\"\n",
    ),
    (
        "test-queue-expert.toml",
        "[flow]\nname = \"test-queue-expert\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"expert\"\n",
    ),
];

fn server() -> Server {
    Server::start_with(Options {
        flows: QUEUE_FLOWS
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect(),
        dids: r#", "7100" = "test-queue-general", "7101" = "test-queue-expert""#.into(),
        ..Options::default()
    })
}

#[test]
fn menu_choice_2_reaches_the_expert_agent_and_audio_flows_both_ways() {
    let srv = server();
    let mut general = AgentPhone::new("agent1", "agent1", srv.udp);
    general.register();
    let mut expert = AgentPhone::new("agent3", "agent3", srv.udp);
    expert.register();

    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(300));
    call.send_rfc4733('2');

    let ring = expert
        .await_invite(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the expert agent is rung; log:\n{}", srv.log_text()));
    assert!(
        ring.from.contains("0612345678"),
        "the agent sees the caller's number: {}",
        ring.from
    );
    assert!(
        general.recv(Duration::from_millis(200)).is_none(),
        "agent1 lacks the expert skill and is not rung"
    );
    let mut agent_call = expert.answer(ring, "PCMA");

    // Agent -> caller: PCMA 0x2A frames arrive as PCMU (transcoded).
    let mut alaw_pcm = Vec::new();
    media::g711::decode_alaw(&[0x2A], &mut alaw_pcm);
    let mut expect_ulaw = Vec::new();
    media::g711::encode_ulaw(&alaw_pcm, &mut expect_ulaw);
    let caller_rtp = call.rtp.try_clone().unwrap();
    let listener = std::thread::spawn(move || read_rtp(&caller_rtp, Duration::from_millis(1500)));
    agent_call.send_frames(25, 0x2A, 8);
    let heard = listener.join().unwrap();
    let relayed = heard
        .iter()
        .filter(|p| p.pt == 0 && p.first_byte == Some(expect_ulaw[0]))
        .count();
    assert!(
        relayed >= 20,
        "caller hears the agent: {relayed} of 25 frames"
    );

    // Caller -> agent: PCMU frames arrive as PCMA.
    let agent_rtp = agent_call.rtp.try_clone().unwrap();
    let listener = std::thread::spawn(move || read_rtp(&agent_rtp, Duration::from_millis(1500)));
    call.send_audio(&[3000i16; 160 * 25]);
    let heard = listener.join().unwrap();
    let mut ulaw = Vec::new();
    media::g711::encode_ulaw(&[3000], &mut ulaw);
    let mut pcm = Vec::new();
    media::g711::decode_ulaw(&ulaw, &mut pcm);
    let mut alaw = Vec::new();
    media::g711::encode_alaw(&pcm, &mut alaw);
    let relayed = heard
        .iter()
        .filter(|p| p.pt == 8 && p.first_byte == Some(alaw[0]))
        .count();
    assert!(
        relayed >= 20,
        "agent hears the caller: {relayed} of 25 frames"
    );

    // The agent hangs up: the caller's leg ends too. The agent qualifies
    // the call during its wrap-up (1 s here).
    expert.bye(&mut agent_call);
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent3/disposition",
        Some(ADMIN_TOKEN),
        Some(r#"{"code":"17"}"#),
    );
    assert_eq!(code, 200, "{body}");
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["queue"], "expert");
    assert_eq!(rec["agent"], "agent3");
    assert_eq!(rec["ended_by"], "agent");
    let wait = rec["wait_ms"].as_u64().unwrap();
    let talk = rec["talk_ms"].as_u64().unwrap();
    assert!(wait < 5_000, "wait {wait} ms");
    assert!(talk >= 2_500, "talk {talk} ms covers the two audio bursts");
    assert_eq!(rec["offers"][0]["agent"], "agent3");
    assert_eq!(rec["offers"][0]["result"], "answered");
    // Written once the wrap-up is over, with the qualification in it.
    assert_eq!(rec["disposition"], "17", "{rec}");
    let wrap = rec["wrapup_ms"].as_u64().unwrap();
    assert!((900..3_000).contains(&wrap), "wrap-up {wrap} ms");
}

#[test]
fn caller_hanging_up_in_queue_is_an_abandon_with_its_wait() {
    let srv = server();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    // No agent: the caller hears the waiting music.
    let music = call.collect_rtp(Duration::from_millis(1500));
    assert!(
        music.len() > 50,
        "waiting music plays: {} packets",
        music.len()
    );
    let bye = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&bye), Some(200));
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["outcome"], "abandoned_queue", "{rec}");
    assert_eq!(rec["queue"], "general");
    let wait = rec["wait_ms"].as_u64().unwrap();
    assert!((1_200..5_000).contains(&wait), "wait {wait} ms");
    assert_eq!(rec["agent"], serde_json::Value::Null);
}

#[test]
fn ring_no_answer_pauses_the_agent_and_the_next_agent_gets_the_call() {
    let srv = server();
    let mut first = AgentPhone::new("agent1", "agent1", srv.udp);
    first.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = first.await_invite(T).expect("agent1 rung");
    // agent1 lets it ring: after the 3 s ring timeout the softswitch cancels.
    let cancel = first
        .recv_until(Duration::from_secs(6), |m| m.starts_with("CANCEL "))
        .unwrap_or_else(|| panic!("CANCEL after the ring timeout; log:\n{}", srv.log_text()));
    assert_eq!(header(&cancel, "Call-ID"), Some(ring.call_id.as_str()));

    let mut second = AgentPhone::new("agent2", "agent2", srv.udp);
    second.register();
    let ring2 = second
        .await_invite(Duration::from_secs(5))
        .expect("the call goes to agent2, not back to the paused agent1");
    let mut agent_call = second.answer(ring2, "PCMU");
    std::thread::sleep(Duration::from_millis(300));
    second.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["agent"], "agent2");
    assert_eq!(rec["offers"][0]["agent"], "agent1");
    assert_eq!(rec["offers"][0]["result"], "no_answer");
    assert_eq!(rec["offers"][1]["result"], "answered");

    // agent1 is paused with the reason "rona" until a supervisor unpauses.
    let agent = |srv: &Server, id: &str| {
        let (code, body) = curl(srv, "GET", "/api/v1/agents", Some(ADMIN_TOKEN), None);
        assert_eq!(code, 200, "{body}");
        body["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap()
    };
    let a1 = agent(&srv, "agent1");
    assert_eq!(
        (a1["state"].as_str(), a1["reason"].as_str()),
        (Some("paused"), Some("rona")),
        "{a1}"
    );
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent1/unpause",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["agent"]["state"], "available", "{body}");
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/agents/agent9/pause",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404, "{body}");
    let (code, queues) = curl(&srv, "GET", "/api/v1/queues", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 200);
    let general = &queues["queues"][0];
    assert_eq!(general["name"], "general");
    assert_eq!(general["waiting"], 0, "{queues}");
}

#[test]
fn registration_needs_the_right_password() {
    let srv = server();
    let mut wrong = AgentPhone::new("agent1", "not-the-password", srv.udp);
    assert_eq!(wrong.register_for(3600), 403);
    let mut stranger = AgentPhone::new("nobody", "nobody", srv.udp);
    assert_eq!(stranger.register_for(3600), 403);
    let mut ok = AgentPhone::new("agent1", "agent1", srv.udp);
    assert_eq!(ok.register_for(5), 423, "below the minimum expiry");
    assert_eq!(ok.register_for(3600), 200);
    assert_eq!(ok.register_for(0), 200, "unregister");
}

#[test]
fn caller_hanging_up_while_talking_releases_the_agent_leg() {
    let srv = server();
    let mut phone = AgentPhone::new("agent2", "agent2", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent2 rung");
    let agent_call = phone.answer(ring, "PCMU");
    std::thread::sleep(Duration::from_millis(500));
    let bye = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&bye), Some(200));
    assert!(
        phone.await_bye(&agent_call, T),
        "the agent's leg gets BYE when the caller hangs up"
    );
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["ended_by"], "caller");
    assert!(rec["talk_ms"].as_u64().unwrap() >= 400, "{rec}");
}

#[test]
fn a_declining_agent_passes_the_call_on_instead_of_ending_it() {
    let srv = server();
    let mut busy = AgentPhone::new("agent1", "agent1", srv.udp);
    busy.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = busy.await_invite(T).expect("agent1 rung");
    busy.decline(&ring, 486);
    // The caller is still there, waiting; the next agent gets the call.
    let mut free = AgentPhone::new("agent2", "agent2", srv.udp);
    free.register();
    let ring = free
        .await_invite(T)
        .expect("agent2 rung after agent1 declined");
    let mut agent_call = free.answer(ring, "PCMU");
    free.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["offers"][0]["result"], "declined", "{rec}");
    assert_eq!(rec["agent"], "agent2");
}

#[test]
fn a_recorded_queue_keeps_both_sides_in_a_stereo_wav_served_by_the_api() {
    let srv = Server::start_with(Options {
        flows: QUEUE_FLOWS
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect(),
        dids: r#", "7100" = "test-queue-general""#.into(),
        // The first queue of the test set is `general`.
        acd: TEST_ACD.replacen("wrap_up_s = 1\n", "wrap_up_s = 1\nrecord = true\n", 1),
        ..Options::default()
    });
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent1 rung");
    let mut agent_call = phone.answer(ring, "PCMA");
    // The caller speaks for 1 s (a loud PCMU tone), then the agent for 1 s
    // (PCMA frames of a loud value), then 0.5 s of nothing.
    let tone: Vec<i16> = (0..8000)
        .map(|i| ((i as f64 * 0.3).sin() * 12000.0) as i16)
        .collect();
    call.send_audio(&tone);
    let mut loud_alaw = Vec::new();
    media::g711::encode_alaw(&[12000], &mut loud_alaw);
    agent_call.send_frames(50, loud_alaw[0], 8);
    std::thread::sleep(Duration::from_millis(500));
    phone.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    let file = rec["recording"].as_str().expect("recording in the CDR");
    let record_id = rec["record_id"].as_str().unwrap();
    assert!(
        file.ends_with(&format!("general/{record_id}.wav")),
        "{file}"
    );

    // Listed (once finished) and served by the API.
    let deadline = std::time::Instant::now() + T;
    let listed = loop {
        let (code, body) = curl(
            &srv,
            "GET",
            "/api/v1/recordings?queue=general",
            Some(ADMIN_TOKEN),
            None,
        );
        assert_eq!(code, 200, "{body}");
        if let Some(r) = body["recordings"]
            .as_array()
            .and_then(|a| a.first())
            .cloned()
        {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "not listed: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(listed["record_id"], record_id);
    assert_eq!(listed["path"], file);
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-f",
            "-H",
            &format!("Authorization: Bearer {ADMIN_TOKEN}"),
        ])
        .arg(format!(
            "http://{}/api/v1/recordings/{record_id}",
            srv.admin
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "download failed");
    let mut wav = hound::WavReader::new(std::io::Cursor::new(out.stdout)).unwrap();
    assert_eq!((wav.spec().channels, wav.spec().sample_rate), (2, 8000));
    // As long as the conversation (within a few frames).
    let talk_ms = rec["talk_ms"].as_u64().unwrap() as i64;
    let wav_ms = wav.duration() as i64 / 8;
    assert!(
        (wav_ms - talk_ms).abs() < 200,
        "wav {wav_ms} ms vs talk {talk_ms} ms"
    );
    // Each side on its own channel: energy per 100 ms block.
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let energy = |ch: usize, from_ms: usize, to_ms: usize| -> f64 {
        let (a, b) = (from_ms * 8, (to_ms * 8).min(samples.len() / 2));
        let sum: f64 = (a..b).map(|i| (samples[i * 2 + ch] as f64).abs()).sum();
        sum / (b - a).max(1) as f64
    };
    let left_loud = (0..wav_ms as usize / 100)
        .filter(|b| energy(0, b * 100, b * 100 + 100) > 3000.0)
        .count();
    let right_loud = (0..wav_ms as usize / 100)
        .filter(|b| energy(1, b * 100, b * 100 + 100) > 3000.0)
        .count();
    assert!(
        (7..=12).contains(&left_loud),
        "caller ~1 s on the left: {left_loud} blocks"
    );
    assert!(
        (7..=12).contains(&right_loud),
        "agent ~1 s on the right: {right_loud} blocks"
    );
    let both = (0..wav_ms as usize / 100)
        .filter(|b| {
            energy(0, b * 100, b * 100 + 100) > 3000.0 && energy(1, b * 100, b * 100 + 100) > 3000.0
        })
        .count();
    assert!(
        both <= 2,
        "the two sides spoke one after the other: {both} blocks overlap"
    );

    let (code, _) = curl(
        &srv,
        "GET",
        "/api/v1/recordings/20261123T000000Z-000000000000",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404);
    let audit = std::fs::read_dir(srv.dir.join("var/audit"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(audit.contains("recordings.play"), "playback is audited");
}

/// 7102 -> general with position announcements every 2 s between plays of
/// a short music (`thanks`, 2.7 s).
const ANNOUNCE_FLOW: (&str, &str) = (
    "test-queue-announce.toml",
    r#"
[flow]
name = "test-queue-announce"
start = "q"
[nodes.q]
kind = "queue"
queue = "general"
music = "thanks"
announce_every_s = 2
"#,
);

#[test]
fn waiting_callers_hear_their_position_and_estimated_wait() {
    let srv = Server::start_with(Options {
        flows: vec![(ANNOUNCE_FLOW.0.into(), ANNOUNCE_FLOW.1.into())],
        dids: r#", "7102" = "test-queue-announce""#.into(),
        ..Options::default()
    });
    // No phone registered: both callers wait, first ahead of second.
    let mut ua1 = Ua::udp(srv.udp);
    let mut first = ua1.invite("7102", &Offer::default());
    ua1.answer(&mut first, T);
    std::thread::sleep(Duration::from_millis(300));
    let mut ua2 = Ua::udp(srv.udp);
    let mut second = ua2.invite("7102", &Offer::default());
    ua2.answer(&mut second, T);
    // Music (2.7 s), the announcement (about 4 s), music again: the
    // caller hears sound all along.
    let heard = second.collect_rtp(Duration::from_millis(7_500));
    assert!(
        heard.len() > 300,
        "the second caller hears music and announcements: {} packets",
        heard.len()
    );
    for (ua, call) in [(&mut ua1, &mut first), (&mut ua2, &mut second)] {
        let bye = ua.request(call, "BYE", "", "");
        assert_eq!(status(&bye), Some(200));
    }
    let names = |call: &Call| -> Vec<String> {
        let rec = srv.record(&call.call_id);
        assert_eq!(rec["outcome"], "abandoned_queue", "{rec}");
        prompts_played(&rec).into_iter().map(|(n, _)| n).collect()
    };
    // EWT = position x 180 s (default handle time) / agents able to take
    // the call: none has a registered phone, counted as 1: 3 minutes for
    // the first, 6 for the second.
    let first_heard = names(&first);
    assert_eq!(
        first_heard[..6],
        ["thanks", "position", "n1", "ewt", "n3", "minutes"],
        "{first_heard:?}"
    );
    let second_heard = names(&second);
    assert_eq!(
        second_heard[..6],
        ["thanks", "position", "n2", "ewt", "n6", "minutes"],
        "{second_heard:?}"
    );
    assert_eq!(
        second_heard.get(6).map(String::as_str),
        Some("thanks"),
        "music again after the announcement: {second_heard:?}"
    );
}

/// [`TEST_ACD`] plus `agent5` (skill general) at a static URI, with `keys`
/// (`uri = ...`, `password = ...`) as given.
fn acd_with_agent5(keys: &str) -> String {
    format!("{TEST_ACD}\n[[agents]]\nid = \"agent5\"\n{keys}skills = {{ general = 5 }}\n")
}

#[test]
fn an_agent_at_a_static_uri_is_rung_there_without_registering() {
    // The phone never registers: the server only learns its address from
    // the configuration.
    let mut phone = AgentPhone::new("agent5", "", "127.0.0.1:9".parse().unwrap());
    let srv = Server::start_with(Options {
        flows: QUEUE_FLOWS
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect(),
        dids: r#", "7100" = "test-queue-general""#.into(),
        acd: acd_with_agent5(&format!("uri = \"sip:agent5@{}\"\n", phone.local)),
        ..Options::default()
    });
    phone.server = srv.udp;
    let (code, body) = curl(&srv, "GET", "/api/v1/agents", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 200, "{body}");
    let registered = |id: &str| {
        body["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| a["registered"] == true)
    };
    assert_eq!(
        registered("agent5"),
        Some(true),
        "reachable from the start: {body}"
    );
    assert_eq!(registered("agent1"), Some(false), "{body}");

    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone
        .await_invite(T)
        .unwrap_or_else(|| panic!("the static agent is rung; log:\n{}", srv.log_text()));
    assert!(
        ring.invite
            .starts_with(&format!("INVITE sip:agent5@{} SIP/2.0", phone.local)),
        "the INVITE goes to the configured URI: {}",
        ring.invite.lines().next().unwrap_or("")
    );
    let mut agent_call = phone.answer(ring, "PCMU");
    std::thread::sleep(Duration::from_millis(300));
    phone.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["queue"], "general", "{rec}");
    assert_eq!(rec["agent"], "agent5", "{rec}");
    assert_eq!(rec["ended_by"], "agent", "{rec}");
    assert_eq!(rec["offers"][0]["agent"], "agent5", "{rec}");
    assert_eq!(rec["offers"][0]["result"], "answered", "{rec}");
}

#[test]
fn an_agent_without_password_or_with_a_bad_uri_stops_startup_with_file_and_line() {
    let mut lines = Vec::new();
    for (keys, message) in [
        (
            "",
            "agent \"agent5\" needs a `password` (its phone registers) or a `uri`",
        ),
        (
            "uri = \"sip:agent5@phone5.example.org\"\n",
            "agent \"agent5\": uri \"sip:agent5@phone5.example.org\" must be a sip: URI with an IP address host",
        ),
    ] {
        let log = Server::try_start(Options {
            acd: acd_with_agent5(keys),
            ..Options::default()
        })
        .err()
        .expect("startup must fail");
        // `.../softswitch.toml:LINE: message`, LINE that of the entry's key.
        let at = log
            .find(message)
            .unwrap_or_else(|| panic!("{message:?} not in:\n{log}"));
        let head = log[..at].strip_suffix(": ").expect("file:line: before the message");
        let (file, line) = head.rsplit_once(':').expect("file:line");
        assert!(file.ends_with("softswitch.toml"), "{head}");
        let line: usize = line.parse().unwrap_or_else(|_| panic!("line number in {head:?}"));
        lines.push(line);
    }
    // The two files differ from the entry on: the first error is at its
    // `id`, after all of TEST_ACD; the second at its `uri`, the next line.
    assert!(lines[0] > TEST_ACD.lines().count(), "{lines:?}");
    assert_eq!(lines[1], lines[0] + 1, "{lines:?}");
}

/// A server with its own queues and agents, flows 7100 -> `first`,
/// 7102 -> `first` at priority 5, 7103 -> `first` boosted by 60 s.
fn server_with(acd: &str) -> Server {
    Server::start_with(Options {
        flows: vec![
            (
                "q1.toml".into(),
                "[flow]\nname = \"q1\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"first\"\n".into(),
            ),
            (
                "q1-vip.toml".into(),
                "[flow]\nname = \"q1-vip\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"first\"\npriority = 5\n".into(),
            ),
            (
                "q1-boost.toml".into(),
                "[flow]\nname = \"q1-boost\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"first\"\nboost_s = 60\n".into(),
            ),
        ],
        dids: r#", "7100" = "q1", "7102" = "q1-vip", "7103" = "q1-boost""#.into(),
        acd: acd.into(),
        ..Options::default()
    })
}

#[test]
fn absolute_then_relative_priority_decide_who_is_served_first() {
    let srv = server_with(
        "[[queues]]\nname = \"first\"\nskills = { general = 1 }\nwrap_up_s = 0\n\
         [[agents]]\nid = \"agent1\"\npassword = \"agent1\"\nskills = { general = 5 }\n",
    );
    // No phone yet: an ordinary caller, then one boosted by 60 s of
    // virtual wait, then one of a higher absolute priority.
    let mut callers = Vec::new();
    for did in ["7100", "7103", "7102"] {
        let mut ua = Ua::udp(srv.udp);
        let mut call = ua.invite(did, &Offer::default());
        ua.answer(&mut call, T);
        callers.push((did, ua, call));
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut served = Vec::new();
    for _ in 0..3 {
        let ring = phone.await_invite(T).expect("rung");
        let mut c = phone.answer(ring, "PCMU");
        phone.bye(&mut c);
        // Which caller was it: the one that gets the BYE.
        let who = callers
            .iter_mut()
            .position(|(_, ua, call)| {
                ua.recv_until(Duration::from_millis(300), |m| {
                    m.starts_with("BYE ") && header(m, "Call-ID") == Some(call.call_id.as_str())
                })
                .map(|bye| ua.reply_ok(&bye))
                .is_some()
            })
            .expect("one caller released");
        served.push(callers.remove(who).0);
    }
    assert_eq!(
        served,
        ["7102", "7103", "7100"],
        "priority 5, then the boost, then FIFO"
    );
}

/// agent1 registers, a caller dials 7100; how long until agent1 is rung,
/// and the record once agent1 answered and hung up.
fn time_to_ring(srv: &Server, why: &str) -> (Duration, serde_json::Value) {
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let queued = std::time::Instant::now();
    let ring = phone.await_invite(Duration::from_secs(10)).expect(why);
    let waited = queued.elapsed();
    let mut c = phone.answer(ring, "PCMU");
    phone.bye(&mut c);
    (waited, await_bye(&mut ua, srv, &call, T))
}

#[test]
fn a_call_overflows_to_another_queue_after_its_delay() {
    let srv = server_with(
        "[[queues]]\nname = \"first\"\nskills = { general = 1 }\noverflow = { after_s = 2, queue = \"backup\" }\n\
         [[queues]]\nname = \"backup\"\nskills = { backup = 1 }\n\
         [[agents]]\nid = \"agent1\"\npassword = \"agent1\"\nskills = { backup = 5 }\n",
    );
    let (waited, rec) = time_to_ring(&srv, "rung from backup");
    assert!(
        waited >= Duration::from_millis(1900),
        "not before the overflow delay: {waited:?}"
    );
    assert_eq!(rec["overflowed_from"][0], "first", "{rec}");
    assert_eq!(rec["queue"], "backup", "{rec}");
}

#[test]
fn the_skill_requirement_widens_after_its_delay() {
    let srv = server_with(
        "[[queues]]\nname = \"first\"\nskills = { general = 8 }\nwiden = { after_s = 2, skills = { general = 3 } }\n\
         [[agents]]\nid = \"agent1\"\npassword = \"agent1\"\nskills = { general = 5 }\n",
    );
    let (waited, rec) = time_to_ring(&srv, "a level-5 agent once the requirement widens to 3");
    assert!(
        waited >= Duration::from_millis(1900),
        "level 8 first: {waited:?}"
    );
    assert_eq!(rec["outcome"], "answered", "{rec}");
}

#[test]
fn wrap_up_holds_the_next_offer_for_its_duration() {
    let srv = server_with(
        "[[queues]]\nname = \"first\"\nskills = { general = 1 }\nwrap_up_s = 3\n\
         [[agents]]\nid = \"agent1\"\npassword = \"agent1\"\nskills = { general = 5 }\n",
    );
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut ua1 = Ua::udp(srv.udp);
    let mut one = ua1.invite("7100", &Offer::default());
    ua1.answer(&mut one, T);
    let ring = phone.await_invite(T).expect("rung");
    let mut c = phone.answer(ring, "PCMU");
    let mut ua2 = Ua::udp(srv.udp);
    let mut two = ua2.invite("7100", &Offer::default());
    ua2.answer(&mut two, T);
    std::thread::sleep(Duration::from_millis(200));
    phone.bye(&mut c);
    let ended = std::time::Instant::now();
    let ring = phone
        .await_invite(Duration::from_secs(10))
        .expect("the next call after wrap-up");
    let gap = ended.elapsed();
    assert!(
        gap >= Duration::from_millis(2900),
        "wrap-up of 3 s respected: {gap:?}"
    );
    let mut c = phone.answer(ring, "PCMU");
    phone.bye(&mut c);
    await_bye(&mut ua2, &srv, &two, T);
    let rec = await_bye(&mut ua1, &srv, &one, T);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    // Every state change went to the agent-state journal (idle share).
    let journal: String = std::fs::read_dir(srv.cdr_dir().join("agents"))
        .expect("agent-state journal")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    for state in ["available", "reserved", "on_call", "wrap_up"] {
        assert!(
            journal.contains(&format!("\"agent\":\"agent1\",\"state\":\"{state}\"")),
            "{state} in:\n{journal}"
        );
    }
}
