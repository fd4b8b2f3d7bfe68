//! Crisis strategies (GVP05) prepared in the configuration: checked at
//! start with every error named, applied in one API call (file 0 switches
//! and a prepared flow, heard by real calls), refused whole when one part
//! is wrong, undone in one call.

mod support;

use support::*;

fn first_prompt(rec: &serde_json::Value) -> String {
    prompts_played(rec)[0].0.clone()
}

/// A strategy "crise": file 0 on 3900, and demo replaced by a prepared
/// file (written next to the configuration) whose welcome is "closed".
fn crisis_options(prepared: &str) -> Options {
    let dir =
        std::env::temp_dir().join(format!("strategy-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("demo-crise.toml");
    std::fs::write(&file, prepared).unwrap();
    Options {
        extra_config: format!(
            r#"
[[strategies]]
name = "crise"
label = "Exercice de crise"
file0 = [{{ target = "3900", prompt = "info", mode = "hangup", reason = "exercice" }}]
flows = [{{ flow = "demo", file = "{}" }}]
"#,
            file.display()
        ),
        ..Options::default()
    }
}

fn demo_with_welcome(prompt: &str) -> String {
    std::fs::read_to_string(repo_root().join("ivr-flows/demo.toml"))
        .unwrap()
        .replace(
            "prompts = [\"welcome\"]",
            &format!("prompts = [\"{prompt}\"]"),
        )
}

#[test]
fn a_strategy_applies_in_one_call_and_is_undone_in_one_call() {
    let srv = Server::start_with(crisis_options(&demo_with_welcome("closed")));
    let mut ua = Ua::udp(srv.udp);
    let (code, list) = curl(&srv, "GET", "/api/v1/strategies", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["strategies"][0]["name"], "crise", "{list}");

    let (code, applied) = curl(
        &srv,
        "POST",
        "/api/v1/strategies/crise/apply",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 201, "{applied}");
    println!("applied in {} ms", applied["took_ms"]);
    assert_eq!(
        first_prompt(&call_briefly(&srv, &mut ua, "3422")),
        "closed",
        "the prepared flow"
    );
    let rec = call_briefly(&srv, &mut ua, "3900");
    assert_eq!(rec["file0"]["mode"], "hangup", "{rec}");
    assert_eq!(first_prompt(&rec), "info");
    let (code, again) = curl(
        &srv,
        "POST",
        "/api/v1/strategies/crise/apply",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 409, "{again}");

    let (code, undone) = curl(
        &srv,
        "POST",
        "/api/v1/strategies/undo",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200, "{undone}");
    assert_eq!(
        first_prompt(&call_briefly(&srv, &mut ua, "3422")),
        "welcome"
    );
    let rec = call_briefly(&srv, &mut ua, "3900");
    assert!(rec["file0"].is_null(), "{rec}");
    let (code, _) = curl(
        &srv,
        "POST",
        "/api/v1/strategies/undo",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 409);
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/strategies/nope/apply",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404, "{body}");

    let (_, audit, _) = support::web::cli(&srv, "audit", &["export"]);
    for action in [
        "strategy.apply",
        "file0.activate",
        "flows.publish",
        "strategy.undo",
        "file0.deactivate",
    ] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {audit}"
        );
    }
}

#[test]
fn a_wrong_strategy_stops_startup_with_every_error() {
    let mut o =
        crisis_options(&demo_with_welcome("welcom").replace("tries = 2", "tries = \"deux\""));
    o.extra_config = o
        .extra_config
        .replace("prompt = \"info\"", "prompt = \"nowhere\"");
    let Err(err) = Server::try_start(o) else {
        panic!("a wrong strategy must stop startup")
    };
    assert!(
        err.contains("strategy \"crise\": file0: prompt \"nowhere\" does not exist"),
        "{err}"
    );
    assert!(
        err.contains(
            "demo-crise.toml:13: node \"welcome\": prompts: prompt \"welcom\" does not exist"
        ),
        "{err}"
    );
    assert!(
        err.contains("demo-crise.toml:22: node \"main_menu\" (menu): tries: invalid type"),
        "{err}"
    );
}
