//! Admin API and file 0, end to end: curl against the real binary, calls
//! from the test UA.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use support::*;

const T: Duration = Duration::from_secs(5);

fn names(rec: &serde_json::Value) -> Vec<String> {
    prompts_played(rec)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn token_is_required() {
    let srv = Server::start();
    let (code, body) = curl(&srv, "GET", "/api/v1/health", None, None);
    assert_eq!(code, 401, "{body}");
    let (code, _) = curl(&srv, "GET", "/api/v1/health", Some("wrong-token-xyz"), None);
    assert_eq!(code, 401);
    let (code, body) = curl(&srv, "GET", "/api/v1/health", Some(ADMIN_TOKEN), None);
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")));
}

#[test]
fn file0_redirects_the_next_call_and_records_the_delay() {
    let srv = Server::start();
    let (code, a) = curl(
        &srv,
        "POST",
        "/api/v1/file0",
        Some(ADMIN_TOKEN),
        Some(
            r#"{"target":"3422","prompt":"closed","mode":"hangup","reason":"crisis drill","by":"ops-jdupont"}"#,
        ),
    );
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();

    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    assert_eq!(names(&rec), vec!["closed"], "{rec}");
    assert_eq!(rec["file0"]["activation_id"], id.as_str());
    assert_eq!(rec["file0"]["mode"], "hangup");
    let delay = rec["file0"]["delay_ms"].as_i64().unwrap();
    assert!(delay >= 0, "{rec}");

    let (_, list) = curl(&srv, "GET", "/api/v1/file0", Some(ADMIN_TOKEN), None);
    assert_eq!(list[0]["calls"], 1, "{list}");
    assert!(list[0]["activation_delay_ms"].as_i64().unwrap() >= 0);
    assert!(list[0]["first_call_at"].is_string());

    // Audit log: who asked, when.
    let audit: String = std::fs::read_dir(srv.dir.join("var/audit"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        audit.contains("\"action\":\"file0.activate\"") && audit.contains("ops-jdupont"),
        "{audit}"
    );

    // Off again: the next call runs the demo flow.
    let (code, _) = curl(
        &srv,
        "DELETE",
        "/api/v1/file0/3422",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200);
    let (code, _) = curl(
        &srv,
        "DELETE",
        "/api/v1/file0/3422",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404);
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, T);
    std::thread::sleep(Duration::from_millis(300));
    ua.request(&mut call, "BYE", "", "");
    let rec = srv.record(&call.call_id);
    assert_eq!(names(&rec), vec!["welcome"]);
    assert!(rec["file0"].is_null());
}

#[test]
fn file0_continue_mode_plays_then_runs_the_flow() {
    let srv = Server::start();
    let (code, a) = curl(
        &srv,
        "POST",
        "/api/v1/file0",
        Some(ADMIN_TOKEN),
        Some(r#"{"target":"test-short","prompt":"thanks","mode":"continue"}"#),
    );
    assert_eq!(code, 201, "{a}");
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7001", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    assert_eq!(names(&rec), vec!["thanks", "welcome"], "{rec}");
    assert_eq!(rec["file0"]["mode"], "continue");
}

#[test]
fn bad_requests_say_what_is_expected() {
    let srv = Server::start();
    let post = |b: &str| curl(&srv, "POST", "/api/v1/file0", Some(ADMIN_TOKEN), Some(b));
    let (code, e) = post(r#"{"target":"3422","prompt":"nope","mode":"hangup"}"#);
    assert_eq!(code, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("prompt \"nope\" does not exist"),
        "{e}"
    );
    let (code, e) = post(r#"{"target":"0000","prompt":"closed","mode":"hangup"}"#);
    assert_eq!(code, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("neither a DID nor a flow"),
        "{e}"
    );
    let (code, e) = post(r#"{"target":"3422","prompt":"closed","mode":"sometimes"}"#);
    assert_eq!(code, 400);
    assert!(e["error"].as_str().unwrap().contains("expected {"), "{e}");
    let (code, _) = curl(&srv, "GET", "/nothing", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 404);
}

#[test]
fn flows_reload_over_the_api() {
    let srv = Server::start();
    let (code, f) = curl(&srv, "GET", "/api/v1/flows", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 200);
    assert!(
        f["flows"].as_array().unwrap().iter().any(|n| n == "demo"),
        "{f}"
    );
    std::fs::write(
        srv.flows_dir().join("zz.toml"),
        "[flow]\nstart = \"a\"\n[nodes.a]\nkind = \"goto\"\nnext = \"nowhere\"\n",
    )
    .unwrap();
    let (code, r) = curl(
        &srv,
        "POST",
        "/api/v1/flows/reload",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 422, "{r}");
    let errs = r["errors"].to_string();
    assert!(
        errs.contains("zz.toml:5: node \\\"a\\\": next -> \\\"nowhere\\\" is not a node"),
        "{errs}"
    );
    std::fs::remove_file(srv.flows_dir().join("zz.toml")).unwrap();
    let (code, r) = curl(
        &srv,
        "POST",
        "/api/v1/flows/reload",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200, "{r}");
}

fn put_prompt(
    srv: &Server,
    name: &str,
    file: &std::path::Path,
    ctype: &str,
) -> (u16, serde_json::Value) {
    send_audio(srv, "PUT", &format!("/api/v1/prompts/{name}"), file, ctype)
}

/// An audio file as a request's body: (HTTP status, JSON answer).
fn send_audio(
    srv: &Server,
    method: &str,
    path: &str,
    file: &std::path::Path,
    ctype: &str,
) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg(format!("http://{}{path}", srv.admin))
        .args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
        .args(["-H", &format!("Content-Type: {ctype}")])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.into())),
    )
}

#[test]
fn prompt_upload_changes_the_next_call_not_the_one_playing() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    // 7001 plays "welcome" (3.4 s) whole, then hangs up.
    let mut first = ua.invite("7001", &Offer::default());
    ua.answer(&mut first, T);
    std::thread::sleep(Duration::from_millis(500));
    // A new "welcome": the 9 s information recording, cleaned and levelled.
    let (code, info) = put_prompt(
        &srv,
        "welcome",
        &repo_root().join("prompts/info.wav"),
        "audio/wav",
    );
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["version"], 1);
    assert!(
        info["report"]["rms_dbfs"].as_f64().unwrap() > -30.0,
        "{info}"
    );
    let new_ms = info["duration_ms"].as_u64().unwrap();
    assert!((9000..9400).contains(&new_ms), "{info}");
    let rec = await_bye(&mut ua, &srv, &first, Duration::from_secs(20));
    assert_eq!(
        rec["prompts"][0]["duration_ms"], 3400,
        "the call in progress kept its version: {rec}"
    );

    let mut second = ua.invite("7001", &Offer::default());
    ua.answer(&mut second, T);
    let rec = await_bye(&mut ua, &srv, &second, Duration::from_secs(20));
    assert_eq!(
        rec["prompts"][0]["duration_ms"], new_ms,
        "the next call hears the new one: {rec}"
    );

    let (_, list) = curl(&srv, "GET", "/api/v1/prompts", Some(ADMIN_TOKEN), None);
    let w = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "welcome")
        .unwrap()
        .clone();
    assert_eq!(w["version"], 1, "{list}");
    let kept = srv.dir.join("var/prompts/welcome");
    assert!(kept.join("v1-original.wav").exists() && kept.join("v1.wav").exists());
}

/// (status, Content-Type, Cache-Control, body length) of a GET.
fn get_audio(srv: &Server, path: &str) -> (u16, String, String, usize) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", "-w", "%{size_download}"])
        .args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
        .arg(format!("http://{}{path}", srv.admin))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let header = |name: &str| {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let size = text.lines().last().unwrap().trim().parse().unwrap_or(0);
    (code, header("content-type"), header("cache-control"), size)
}

#[test]
fn a_prompt_draft_is_heard_then_published_and_an_old_version_restored() {
    let srv = Server::start();
    let info = repo_root().join("prompts/info.wav");
    let (code, d) = send_audio(
        &srv,
        "POST",
        "/api/v1/prompts/welcome/draft",
        &info,
        "audio/wav",
    );
    assert_eq!(code, 201, "{d}");
    let ms = d["duration_ms"].as_u64().unwrap();
    assert!((9000..9400).contains(&ms), "{d}");
    assert!(d["report"]["peak_dbfs"].as_f64().unwrap() < 0.0, "{d}");
    // Heard before it plays: the cleaned WAV, never cached; not published.
    let (code, ctype, cache, size) = get_audio(&srv, "/api/v1/prompts/welcome/draft/audio");
    assert_eq!(
        (code, ctype.as_str(), cache.as_str()),
        (200, "audio/wav", "no-store")
    );
    assert_eq!(size as u64, 44 + ms * 16, "8 kHz mono 16-bit");
    let (_, list) = curl(&srv, "GET", "/api/v1/prompts", Some(ADMIN_TOKEN), None);
    let welcome = |list: &serde_json::Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "welcome")
            .unwrap()
            .clone()
    };
    assert_eq!(
        (&welcome(&list)["version"], &welcome(&list)["draft"]),
        (&json!(0), &json!(true))
    );

    let (code, p) = curl(
        &srv,
        "POST",
        "/api/v1/prompts/welcome/publish",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(
        (code, &p["version"], &p["duration_ms"]),
        (200, &json!(1), &json!(ms)),
        "{p}"
    );
    let (code, e) = curl(
        &srv,
        "POST",
        "/api/v1/prompts/welcome/publish",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404, "{e}");
    assert!(e["error"].as_str().unwrap().contains("no draft"), "{e}");

    // Any version plays; the shipped file is version 0 and comes back as 2.
    assert_eq!(
        get_audio(&srv, "/api/v1/prompts/welcome/audio?version=0").0,
        200
    );
    assert_eq!(
        get_audio(&srv, "/api/v1/prompts/welcome/audio").3 as u64,
        44 + ms * 16
    );
    assert_eq!(
        get_audio(&srv, "/api/v1/prompts/welcome/audio?version=7").0,
        404
    );
    assert_eq!(
        get_audio(&srv, "/api/v1/prompts/welcome/audio?version=x").0,
        400
    );
    let restore = "/api/v1/prompts/welcome/restore";
    let (code, e) = curl(&srv, "POST", restore, Some(ADMIN_TOKEN), Some("{\"v\":0}"));
    assert_eq!(code, 400, "{e}");
    let (code, e) = curl(
        &srv,
        "POST",
        restore,
        Some(ADMIN_TOKEN),
        Some("{\"version\":9}"),
    );
    assert_eq!(code, 404, "{e}");
    let (code, r) = curl(
        &srv,
        "POST",
        restore,
        Some(ADMIN_TOKEN),
        Some("{\"version\":0}"),
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        (&r["version"], &r["duration_ms"], &r["restored_from"]),
        (&json!(2), &json!(3400), &json!(0))
    );
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7001", &Offer::default());
    ua.answer(&mut call, T);
    let rec = await_bye(&mut ua, &srv, &call, Duration::from_secs(20));
    assert_eq!(
        rec["prompts"][0]["duration_ms"], 3400,
        "the restored one plays: {rec}"
    );
    let (_, h) = curl(
        &srv,
        "GET",
        "/api/v1/prompts/welcome/versions",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(h["current"], 2, "{h}");
    assert_eq!(h["versions"].as_array().unwrap().len(), 3, "{h}");
    let (code, _) = curl(
        &srv,
        "GET",
        "/api/v1/prompts/nothing/versions",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404);
    let (code, _) = curl(
        &srv,
        "DELETE",
        "/api/v1/prompts/welcome/draft",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404);
    let (_, lines, _) = support::web::cli(&srv, "audit", &["export"]);
    for action in ["prompt.draft", "prompt.publish", "prompt.restore"] {
        assert!(
            lines.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {lines}"
        );
    }
}

#[test]
fn bad_uploads_are_refused_with_the_reason() {
    let srv = Server::start();
    let silent = srv.dir.join("silent.wav");
    // 2 s of digital silence, 16-bit mono 8 kHz.
    let n: u32 = 16_000;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + n * 2).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16_000u32.to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(n * 2).to_le_bytes());
    wav.extend(std::iter::repeat_n(0u8, (n * 2) as usize));
    std::fs::write(&silent, wav).unwrap();
    let (code, e) = put_prompt(&srv, "crisis", &silent, "audio/wav");
    assert_eq!(code, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("silent"), "{e}");
    let (code, e) = send_audio(
        &srv,
        "POST",
        "/api/v1/prompts/crisis/draft",
        &silent,
        "audio/wav",
    );
    assert_eq!(code, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("silent"), "{e}");
    let (code, e) = curl(
        &srv,
        "GET",
        "/api/v1/prompts/crisis/draft",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404, "a refused draft is not kept: {e}");
    let (code, e) = put_prompt(
        &srv,
        "Bad%20Name",
        &repo_root().join("prompts/info.wav"),
        "audio/wav",
    );
    assert_eq!(code, 400, "{e}");
}

#[test]
fn file0_queue_mode_sends_calls_to_a_special_queue() {
    let srv = Server::start();
    let post = |b: &str| curl(&srv, "POST", "/api/v1/file0", Some(ADMIN_TOKEN), Some(b));
    let (code, e) = post(r#"{"target":"3422","prompt":"closed","mode":"queue"}"#);
    assert_eq!(code, 400, "{e}");
    let (code, e) = post(r#"{"target":"3422","prompt":"closed","mode":"queue","queue":"crisis"}"#);
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("expert"),
        "lists the queues: {e}"
    );
    let (code, a) = post(r#"{"target":"3422","prompt":"thanks","mode":"queue","queue":"expert"}"#);
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["queue"], "expert");
    // The expert agent takes the crisis calls: the demo menu is skipped.
    let mut phone = support::agent::AgentPhone::new("agent3", "agent3", srv.udp);
    phone.register();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("3422", &Offer::default());
    ua.answer(&mut call, T);
    let ring = phone
        .await_invite(Duration::from_secs(10))
        .expect("the crisis queue's agent is rung after the message");
    let mut agent_call = phone.answer(ring, "PCMU");
    phone.bye(&mut agent_call);
    let rec = await_bye(&mut ua, &srv, &call, T);
    assert_eq!(rec["file0"]["mode"], "queue", "{rec}");
    assert_eq!(
        (rec["outcome"].as_str(), rec["queue"].as_str()),
        (Some("answered"), Some("expert")),
        "{rec}"
    );
    assert_eq!(
        names(&rec).first().map(String::as_str),
        Some("thanks"),
        "{rec}"
    );
    assert!(!names(&rec).contains(&"menu".to_string()), "{rec}");
}
