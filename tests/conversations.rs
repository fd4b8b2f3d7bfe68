//! Conversations after an agent answers, end to end: the ACD bridges the
//! caller with the agent where it decides so and the flow's queue node
//! ends; the flow follows the conversation to the after-call treatment
//! (a survey), or to where an agent's transfer sends the caller: another
//! queue (waiting again, then a new conversation) or a number.

mod support;

use std::time::Duration;

use support::agent::AgentPhone;
use support::*;

const T: Duration = Duration::from_secs(5);

/// 7100 -> general, 7101 -> expert, both with an after-call survey: the
/// `survey` prompt, whole, then the end of the call.
const SURVEY_FLOWS: [(&str, &str); 2] = [
    (
        "test-queue-general.toml",
        "[flow]\nname = \"test-queue-general\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"general\"\nafter = \"survey\"\n[nodes.survey]\nkind = \"hangup\"\nprompt = \"survey\"\n",
    ),
    (
        "test-queue-expert.toml",
        "[flow]\nname = \"test-queue-expert\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"expert\"\nafter = \"survey\"\n[nodes.survey]\nkind = \"hangup\"\nprompt = \"survey\"\n",
    ),
];

fn server_with(o: Options) -> Server {
    Server::start_with(Options {
        flows: SURVEY_FLOWS
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect(),
        dids: r#", "7100" = "test-queue-general", "7101" = "test-queue-expert""#.into(),
        ..o
    })
}

fn server() -> Server {
    server_with(Options::default())
}

/// The flow's steps in a record, as `node:kind`.
fn steps(rec: &serde_json::Value) -> Vec<String> {
    rec["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["node"].as_str().unwrap(),
                s["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_caller_returns_to_the_flow_for_the_survey_when_the_agent_hangs_up() {
    let srv = server();
    let mut phone = AgentPhone::new("agent2", "agent2", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent2 rung");
    let mut agent_call = phone.answer(ring, "PCMU");
    // Talking: the agent's audio reaches the caller through the bridge.
    std::thread::sleep(Duration::from_millis(200));
    agent_call.send_frames(25, 0x55, 0);
    let heard = call.collect_rtp(Duration::from_millis(400));
    assert!(
        heard.iter().any(|p| p.first_byte == Some(0x55)),
        "the agent's audio is relayed to the caller"
    );
    phone.bye(&mut agent_call);
    // After the agent's end the caller hears the survey (speech: neither
    // the agent's bytes nor PCMU silence), then the call ends.
    let survey = call.collect_rtp(Duration::from_millis(1500));
    let speech = survey
        .iter()
        .filter(|p| !matches!(p.first_byte, Some(0x55 | 0xFF) | None))
        .count();
    assert!(
        speech > 10,
        "the survey is played to the caller: {speech} of {} packets",
        survey.len()
    );
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(
        rec["ended_by"], "agent",
        "the agent ended the conversation: {rec}"
    );
    assert_eq!(rec["agent"], "agent2", "{rec}");
    // The music stopped once when the ACD bridged the caller, and did not
    // start again over the conversation.
    let waits = prompts_played(&rec)
        .into_iter()
        .filter(|(p, _)| p == "wait")
        .count();
    assert_eq!(waits, 1, "{rec}");
    assert!(
        prompts_played(&rec).contains(&("survey".into(), "completed".into())),
        "{rec}"
    );
    // The queue node ended when the caller was connected, with the agent
    // as its input; the flow went on at `after`.
    assert_eq!(steps(&rec), ["q:queue", "survey:hangup"], "{rec}");
    assert_eq!(rec["steps"][0]["input"], "agent2", "{rec}");
    // Following the call in the log by its record id: each step once.
    let id = rec["record_id"].as_str().unwrap();
    let log = srv.log_text();
    let steps: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains(id))
        .map(|l| {
            // `target: message fields`: the target and the message's first words.
            let after = l.split_once("}: ").map_or(l, |(_, a)| a);
            let after = after.split_once(" INFO ").map_or(after, |(_, a)| a);
            after.split(" call_id=").next().unwrap().trim()
        })
        .collect();
    for want in [
        "call::manager: call arrived",
        "call::leg::inbound: answered",
        "call::acd::edge: call queued",
        "call::acd::edge: offering call to agent",
        "call::leg::outbound: the callee answered",
        "call::acd::edge: caller connected to the agent",
        "call::leg::outbound: the callee hung up",
        "ivr::run: flow ended the call",
    ] {
        let n = steps.iter().filter(|s| s.starts_with(want)).count();
        assert_eq!(
            n,
            1,
            "{want:?} logged {n} times for {id}:\n{}",
            steps.join("\n")
        );
    }
}

#[test]
fn a_caller_hanging_up_during_the_conversation_gets_no_survey() {
    let srv = server();
    let mut phone = AgentPhone::new("agent2", "agent2", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent2 rung");
    let agent_call = phone.answer(ring, "PCMU");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&ua.request(&mut call, "BYE", "", "")), Some(200));
    assert!(
        phone.await_bye(&agent_call, T),
        "the agent's leg is released"
    );
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["ended_by"], "caller", "{rec}");
    assert_eq!(steps(&rec), ["q:queue"], "{rec}");
    assert!(
        !prompts_played(&rec).iter().any(|(p, _)| p == "survey"),
        "{rec}"
    );
}

#[test]
fn an_agent_transfers_the_call_to_another_queue_by_refer() {
    let srv = server();
    let mut first = AgentPhone::new("agent1", "agent1", srv.udp);
    first.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = first.await_invite(T).expect("agent1 rung");
    let mut first_call = first.answer(ring, "PCMU");
    std::thread::sleep(Duration::from_millis(300));

    // Only queues are transfer targets (controlled transfer).
    let (code, frag) = first.refer(&mut first_call, "0612345678");
    assert_eq!(code, 202);
    assert!(frag.starts_with("SIP/2.0 404"), "{frag}");
    // Still talking: a valid target now.
    let (code, frag) = first.refer(&mut first_call, "expert");
    assert_eq!(
        (code, frag.starts_with("SIP/2.0 200")),
        (202, true),
        "{frag}"
    );
    assert!(first.await_bye(&first_call, T), "agent1's leg is released");

    // The caller waits in `expert` (music again) and agent3 gets it.
    let mut expert = AgentPhone::new("agent3", "agent3", srv.udp);
    expert.register();
    let ring = expert
        .await_invite(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("agent3 rung after the transfer; log:\n{}", srv.log_text()));
    assert!(ring.from.contains("0612345678"), "{}", ring.from);
    let mut expert_call = expert.answer(ring, "PCMU");
    std::thread::sleep(Duration::from_millis(300));
    expert.bye(&mut expert_call);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["agent"], "agent3", "{rec}");
    assert_eq!(rec["queue"], "expert", "{rec}");
    assert_eq!(rec["transfers"][0]["agent"], "agent1", "{rec}");
    assert_eq!(rec["transfers"][0]["to"], "expert", "{rec}");
    let convs = rec["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 2, "{rec}");
    assert_eq!(convs[0]["queue"], "general");
    assert_eq!(convs[1]["agent"], "agent3");
    // One queue step per conversation, then the survey after the last.
    assert_eq!(
        steps(&rec),
        ["q:queue", "survey:hangup"],
        "the transfer waits again within the same flow step: {rec}"
    );
    assert!(
        prompts_played(&rec).contains(&("survey".into(), "completed".into())),
        "{rec}"
    );
    // agent1 went through wrap-up, then became available again.
    let (_, agents) = curl(&srv, "GET", "/api/v1/agents", Some(ADMIN_TOKEN), None);
    let a1 = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "agent1")
        .cloned()
        .unwrap();
    assert_eq!(a1["state"], "available", "{a1}");
}

#[test]
fn an_agent_transfers_the_call_to_an_allowed_number_through_a_trunk() {
    let mut far = AgentPhone::new("pbx", "pbx", "127.0.0.1:9".parse().unwrap());
    let srv = server_with(Options {
        extra_trunks: format!(
            "[[trunks]]\nname = \"out\"\noutbound_proxy = \"{}\"\n",
            far.local
        ),
        acd: TEST_ACD.replacen(
            "wrap_up_s = 1\n",
            "wrap_up_s = 1\ntransfer_trunk = \"out\"\ntransfer_prefixes = [\"01\", \"+331\"]\n",
            1,
        ),
        ..Options::default()
    });
    far.server = srv.udp;
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone.await_invite(T).expect("agent1 rung");
    let mut agent_call = phone.answer(ring, "PCMU");
    // A mobile number is not among the queue's prefixes: refused.
    let (code, frag) = phone.refer(&mut agent_call, "0612345678");
    assert_eq!(code, 202);
    assert!(frag.starts_with("SIP/2.0 404"), "{frag}");
    let (code, frag) = phone.refer(&mut agent_call, "0184903422");
    assert_eq!(
        (code, frag.starts_with("SIP/2.0 200")),
        (202, true),
        "{frag}"
    );
    assert!(
        phone.await_bye(&agent_call, T),
        "the agent's leg is released"
    );
    let ring = far
        .await_invite(T)
        .expect("the number is called through the trunk");
    assert!(
        ring.invite.starts_with("INVITE sip:0184903422@"),
        "{}",
        ring.invite
    );
    assert!(
        ring.from.contains("0612345678"),
        "the caller's number: {}",
        ring.from
    );
    let mut far_call = far.answer(ring, "PCMU");
    std::thread::sleep(Duration::from_millis(300));
    far.bye(&mut far_call);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["transfers"][0]["to"], "0184903422", "{rec}");
    assert_eq!(rec["transfer_out"]["result"], "answered", "{rec}");
    assert_eq!(rec["transfer_out"]["trunk"], "out", "{rec}");
    // The number's end is the conversation's: the survey follows.
    assert!(
        prompts_played(&rec).contains(&("survey".into(), "completed".into())),
        "{rec}"
    );
}
