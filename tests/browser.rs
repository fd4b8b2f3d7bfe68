//! The console in Chromium (playwright-core, tests/web/*.mjs): each
//! script starts from a real softswitch (and the test identity provider),
//! checks every page with axe-core and for console errors, and leaves
//! screenshots in target/screenshots/.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::web::NEW_PASSWORD;
use support::*;

fn node(script: &str, env: &[(&str, String)]) -> String {
    let shots = repo_root()
        .join("target/screenshots")
        .join(script.trim_end_matches(".mjs"));
    let out = Command::new("node")
        .current_dir(repo_root().join("tests/web"))
        .arg(script)
        .env("SHOTS", &shots)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("node (scripts/deps.sh test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

/// Run a script that hands over to the test midway: at each `WAIT what`
/// line it prints, `answer(what)` runs (a real call, for one) and its
/// result goes back to the script's stdin.
fn node_talking(
    script: &str,
    env: &[(&str, String)],
    mut answer: impl FnMut(&str) -> String,
) -> String {
    let shots = repo_root()
        .join("target/screenshots")
        .join(script.trim_end_matches(".mjs"));
    let mut child = Command::new("node")
        .current_dir(repo_root().join("tests/web"))
        .arg(script)
        .env("SHOTS", &shots)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (scripts/deps.sh test installs it)");
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut text = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if let Some(what) = line.strip_prefix("WAIT ") {
            let reply = answer(what);
            writeln!(stdin, "{reply}").unwrap();
            stdin.flush().unwrap();
        }
    }
    let status = child.wait().unwrap();
    text.push_str(&errors.join().unwrap());
    assert!(status.success(), "{script} failed:\n{text}");
    text
}

#[test]
fn sign_in_totp_tokens_and_sso_in_chromium() {
    let (_idp, _srv, port) = support::idp::sso_server(
        r#"{ "softswitch-supervisors" = "supervisor" }"#,
        Options::default(),
    );
    let out = node(
        "identity.mjs",
        &[
            ("BASE", format!("http://127.0.0.1:{port}")),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
            ("SSO_USER", "marie".into()),
            ("SSO_PASSWORD", "marie-pass".into()),
        ],
    );
    assert!(
        out.contains("ALL OK") && out.contains("STEP SSO ok"),
        "{out}"
    );
}

#[test]
fn the_wallboard_agents_and_file0_pages_drive_the_system() {
    let srv = Server::start_with(queue_options());
    let out = node(
        "console.mjs",
        &[
            ("BASE", format!("http://{}", srv.admin)),
            ("SIP", srv.udp.to_string()),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
        ],
    );
    assert!(out.contains("ALL OK"), "{out}");
    // The call after the switch was redirected, its delay recorded.
    let rec = srv
        .records()
        .into_iter()
        .find(|r| r["did"] == "3422")
        .unwrap_or_else(|| panic!("no record of the call to 3422; output:\n{out}"));
    assert_eq!(rec["file0"]["mode"], "hangup", "{rec}");
    assert!(rec["file0"]["delay_ms"].as_i64().unwrap() >= 0);
    // Both switches are in the audit log under the signed-in account.
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    let act = lines
        .lines()
        .find(|l| l.contains("\"action\":\"file0.activate\""))
        .expect("file0.activate audited");
    assert!(
        act.contains("\"account\":\"admin\"") && act.contains("exercice de crise"),
        "{act}"
    );
    assert!(lines.contains("\"action\":\"agent.pause\""), "{lines}");
    println!("{out}");
}

#[test]
fn a_recording_plays_in_the_page_and_the_play_is_audited() {
    use support::agent::AgentPhone;
    let srv = Server::start_with(Options {
        acd: TEST_ACD.replacen("wrap_up_s = 1\n", "wrap_up_s = 1\nrecord = true\n", 1),
        ..queue_options()
    });
    let mut phone = AgentPhone::new("agent1", "agent1", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, Duration::from_secs(5));
    let ring = phone
        .await_invite(Duration::from_secs(5))
        .expect("agent1 rung");
    let mut agent_call = phone.answer(ring, "PCMU");
    let tone: Vec<i16> = (0..16000)
        .map(|i| ((i as f64 * 0.3).sin() * 12000.0) as i16)
        .collect();
    call.send_audio(&tone);
    phone.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(10));
    let id = rec["record_id"].as_str().unwrap().to_string();
    assert!(rec["recording"].is_string(), "{rec}");
    let out = node(
        "recordings.mjs",
        &[
            ("BASE", format!("http://{}", srv.admin)),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
            ("RECORD", id.clone()),
        ],
    );
    assert!(out.contains("ALL OK"), "{out}");
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    let plays = lines
        .lines()
        .filter(|l| l.contains("\"action\":\"recordings.play\"") && l.contains(&id))
        .count();
    assert!(plays >= 1, "the play is audited: {lines}");
    assert!(
        plays <= 2,
        "seeking does not write a line per range: {plays}"
    );
}

#[test]
fn a_flow_edited_in_the_page_is_tested_on_the_test_number_then_promoted() {
    let srv = Server::start_with(Options {
        dids: r#", "3499" = "demo""#.into(),
        flows_extra: r#"test_dids = ["3499"]"#.into(),
        ..Options::default()
    });
    let original = std::fs::read_to_string(srv.flows_dir().join("demo.toml")).unwrap();
    let out = node(
        "flows.mjs",
        &[
            ("BASE", format!("http://{}", srv.admin)),
            ("SIP", srv.udp.to_string()),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
        ],
    );
    assert!(out.contains("ALL OK"), "{out}");
    // What each SIPp call heard first, in order of arrival.
    let mut recs = srv.records();
    recs.sort_by(|a, b| a["arrived_at"].as_str().cmp(&b["arrived_at"].as_str()));
    let heard: Vec<(String, String)> = recs
        .iter()
        .map(|r| {
            let first = r["prompts"][0]["name"].as_str().unwrap_or("-");
            (r["did"].as_str().unwrap().to_string(), first.to_string())
        })
        .collect();
    let expected = [("3499", "closed"), ("3422", "welcome"), ("3422", "closed")]
        .map(|(d, p)| (d.to_string(), p.to_string()));
    assert_eq!(heard, expected, "{out}");
    let now = std::fs::read_to_string(srv.flows_dir().join("demo.toml")).unwrap();
    assert_eq!(
        now,
        original.replace("prompts = [\"welcome\"]", "prompts = [\"closed\"]")
    );
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    let promoted = lines
        .lines()
        .find(|l| l.contains("\"action\":\"flows.promote\""))
        .expect("flows.promote audited");
    assert!(promoted.contains("\"account\":\"admin\""), "{promoted}");
}

#[test]
fn a_crisis_strategy_is_applied_from_the_page_then_undone() {
    let srv = Server::start_with(Options {
        extra_config: r#"
[[strategies]]
name = "fermeture"
label = "Fermeture exceptionnelle"
file0 = [
  { target = "3422", prompt = "closed", mode = "hangup", reason = "fermeture" },
  { target = "3900", prompt = "closed", mode = "hangup", reason = "fermeture" },
]
"#
        .into(),
        ..Options::default()
    });
    let out = node(
        "strategy.mjs",
        &[
            ("BASE", format!("http://{}", srv.admin)),
            ("SIP", srv.udp.to_string()),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
        ],
    );
    assert!(out.contains("ALL OK"), "{out}");
    let rec = srv
        .records()
        .into_iter()
        .find(|r| r["did"] == "3900")
        .unwrap_or_else(|| panic!("no record of the call to 3900; output:\n{out}"));
    assert_eq!(rec["file0"]["mode"], "hangup", "{rec}");
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    let applied = lines
        .lines()
        .find(|l| l.contains("\"action\":\"strategy.apply\""))
        .expect("strategy.apply audited");
    assert!(applied.contains("\"account\":\"admin\""), "{applied}");
}

#[test]
fn the_agents_page_listens_to_a_call_and_qualifies_it() {
    use std::time::Duration;
    use support::agent::AgentPhone;
    let srv = Server::start_with(Options {
        acd: TEST_ACD.replacen(
            "wrap_up_s = 1\n",
            "wrap_up_s = 2\ndispositions = [\"info\", \"reclamation\"]\n",
            1,
        ),
        ..queue_options()
    });
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
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, Duration::from_secs(5));
    let ring = phone
        .await_invite(Duration::from_secs(5))
        .expect("agent1 rung");
    let mut agent_call = phone.answer(ring, "PCMU");
    let env = [
        ("BASE", format!("http://{}", srv.admin)),
        ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.to_string()),
        ("NEW_PASSWORD", NEW_PASSWORD.to_string()),
    ];
    let page = std::thread::spawn(move || {
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.clone())).collect();
        node("agents_actions.mjs", &env)
    });
    // The page rings the supervisor's phone to listen.
    let ring = sup
        .await_invite(Duration::from_secs(60))
        .expect("the supervisor's phone rung");
    let _listening = sup.answer(ring, "PCMU");
    let out = page.join().expect("the page's script");
    assert!(out.contains("ALL OK"), "{out}");
    phone.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(10));
    assert_eq!(rec["disposition"], "reclamation", "{rec}");
    assert_eq!(rec["monitored"][0]["phone"], "agent4", "{rec}");
}

#[test]
fn a_message_is_heard_checked_published_and_restored_in_the_page() {
    use std::time::Duration;
    let srv = Server::start();
    let mut heard = None;
    let out = node_talking(
        "messages.mjs",
        &[
            ("BASE", format!("http://{}", srv.admin)),
            ("FIRST_PASSWORD", BOOTSTRAP_PASSWORD.into()),
            ("NEW_PASSWORD", NEW_PASSWORD.into()),
        ],
        |what| {
            assert_eq!(what, "published");
            // 7001 plays "welcome" whole, then hangs up: the next call hears
            // the version published in the page (the 9 s information message).
            let mut ua = Ua::udp(srv.udp);
            let mut call = ua.invite("7001", &Offer::default());
            ua.answer(&mut call, Duration::from_secs(5));
            let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
            let ms = rec["prompts"][0]["duration_ms"].as_u64().unwrap_or(0);
            heard = Some(ms);
            ms.to_string()
        },
    );
    assert!(out.contains("ALL OK"), "{out}");
    let ms = heard.expect("the script asked for a call after publishing");
    assert!(
        (9000..9400).contains(&ms),
        "the next call heard the new welcome: {ms} ms\n{out}"
    );
    // The shipped version restored from the history is what plays now.
    let (_, list) = curl(&srv, "GET", "/api/v1/prompts", Some(ADMIN_TOKEN), None);
    let welcome = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "welcome")
        .unwrap()
        .clone();
    assert_eq!(
        (
            &welcome["version"],
            &welcome["duration_ms"],
            &welcome["restored_from"]
        ),
        (
            &serde_json::json!(2),
            &serde_json::json!(3400),
            &serde_json::json!(0)
        ),
        "{welcome}"
    );
    assert_eq!(welcome["by"], "admin", "{welcome}");
    let (_, versions) = curl(
        &srv,
        "GET",
        "/api/v1/prompts/welcome/versions",
        Some(ADMIN_TOKEN),
        None,
    );
    let seen: Vec<_> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(seen, vec![2, 1, 0], "{versions}");
    assert_eq!(versions["versions"][1]["published_by"], "admin");
    // The abandoned microphone draft left nothing behind.
    let (code, _) = curl(
        &srv,
        "GET",
        "/api/v1/prompts/welcome/draft",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404);
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    for action in [
        "prompt.draft",
        "prompt.publish",
        "prompt.draft.discard",
        "prompt.restore",
    ] {
        let line = lines
            .lines()
            .find(|l| l.contains(&format!("\"action\":\"{action}\"")))
            .unwrap_or_else(|| panic!("{action} not audited: {lines}"));
        assert!(line.contains("\"account\":\"admin\""), "{line}");
    }
    println!("{out}");
}

#[test]
fn a_browser_speaks_sip_over_websocket_registers_and_is_rung_on_its_connection() {
    let srv = Server::start_with(Options {
        sip_extra: "ws = [\"127.0.0.1:0\"]\nwss = [\"127.0.0.1:0\"]\n".into(),
        ..queue_options()
    });
    let (ws, wss) = (
        srv.ws.expect("READY sip_ws"),
        srv.wss.expect("READY sip_wss"),
    );
    let mut caller: Option<(Ua, Call)> = None;
    let out = node_talking(
        "sip_ws.mjs",
        &[
            ("WS", format!("ws://{ws}")),
            ("WSS", format!("wss://{wss}")),
        ],
        |what| {
            assert_eq!(what, "registered");
            // A caller for agent1's queue: the ACD rings the browser.
            let mut ua = Ua::udp(srv.udp);
            let mut call = ua.invite("7100", &Offer::default());
            ua.answer(&mut call, Duration::from_secs(5));
            caller = Some((ua, call));
            "ok".into()
        },
    );
    let report = out
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .unwrap_or_else(|| panic!("no report:\n{out}"));
    let report: serde_json::Value = serde_json::from_str(report).unwrap();
    assert_eq!(
        report["wsVia"]
            .as_str()
            .map(|v| v.starts_with("SIP/2.0/WS ")),
        Some(true),
        "{report}"
    );
    assert!(
        report["wsVia"]
            .as_str()
            .unwrap()
            .contains("received=127.0.0.1"),
        "{report}"
    );
    assert_eq!(report["acked"], true, "{report}");
    let (mut ua, mut call) = caller.expect("the caller was placed");
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
    let rec = srv.record(&call.call_id);
    let offers = rec["offers"].as_array().cloned().unwrap_or_default();
    assert!(
        offers
            .iter()
            .any(|o| o["agent"] == "agent1" && o["result"] == "declined"),
        "the browser declined the offer: {rec}"
    );
}
