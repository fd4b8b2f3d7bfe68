//! What supervisors see of a live conversation: the agent's holds in the
//! record, and silent monitoring.

mod support;

use std::time::Duration;

use support::agent::AgentPhone;
use support::*;

const T: Duration = Duration::from_secs(5);

fn server() -> Server {
    Server::start_with(Options {
        flows: vec![(
            "q.toml".into(),
            "[flow]\nname = \"q\"\nstart = \"q\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"general\"\n"
                .into(),
        )],
        dids: r#", "7100" = "q""#.into(),
        ..Options::default()
    })
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
