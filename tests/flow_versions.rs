//! Flow versions through the API, checked by real calls: an edited flow is
//! checked (every error with its line, in one pass), goes live on the test
//! number while production keeps its version, is promoted to every number
//! (and written to its file, the old text kept), survives a reload, and an
//! earlier version is put back.

mod support;

use serde_json::json;
use support::*;

/// The demo flow on 3422, and on 3499, its test number.
pub fn test_number_options() -> Options {
    Options {
        dids: r#", "3499" = "demo""#.into(),
        flows_extra: r#"test_dids = ["3499"]"#.into(),
        ..Options::default()
    }
}

/// The first prompt a short call to `did` heard.
fn first_prompt(srv: &Server, ua: &mut Ua, did: &str) -> String {
    prompts_played(&call_briefly(srv, ua, did))[0].0.clone()
}

fn post(srv: &Server, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    curl(
        srv,
        "POST",
        path,
        Some(ADMIN_TOKEN),
        Some(&body.to_string()),
    )
}

#[test]
fn an_edited_flow_is_tested_on_the_test_number_then_promoted_then_rolled_back() {
    let srv = Server::start_with(test_number_options());
    let mut ua = Ua::udp(srv.udp);
    let file = srv.flows_dir().join("demo.toml");
    let original = std::fs::read_to_string(&file).unwrap();
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;

    // Three errors behind one another, all reported with their lines.
    let bad = original
        .replace("prompts = [\"welcome\"]", "prompts = [\"welcom\"]")
        .replace("tries = 2", "tries = \"deux\"")
        .replace("queue = \"expert\"", "queue = \"experts\"");
    let (code, body) = post(
        &srv,
        "/api/v1/flows/check",
        json!({ "flow": "demo", "text": bad }),
    );
    assert_eq!(code, 422, "{body}");
    let lines: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    for needle in ["\"welcom\"", "\"deux\"", "\"experts\""] {
        assert!(
            lines.contains(&(line_of(&bad, needle) as u64)),
            "{needle}: {body}"
        );
    }
    assert_eq!(lines.len(), 3, "{body}");
    let (code, body) = post(
        &srv,
        "/api/v1/flows/stage",
        json!({ "flow": "demo", "text": bad }),
    );
    assert_eq!(code, 422, "a wrong flow is never put under test: {body}");

    // Under test on 3499 only.
    let edited = original.replace("prompts = [\"welcome\"]", "prompts = [\"closed\"]");
    let (code, body) = post(
        &srv,
        "/api/v1/flows/check",
        json!({ "flow": "demo", "text": edited }),
    );
    assert_eq!((code, body["ok"].as_bool()), (200, Some(true)), "{body}");
    let (code, body) = post(
        &srv,
        "/api/v1/flows/stage",
        json!({ "flow": "demo", "text": edited }),
    );
    assert_eq!(code, 201, "{body}");
    let staged = body["version"].as_u64().unwrap();
    assert_eq!(first_prompt(&srv, &mut ua, "3499"), "closed");
    assert_eq!(first_prompt(&srv, &mut ua, "3422"), "welcome");
    let (_, flows) = curl(&srv, "GET", "/api/v1/flows", Some(ADMIN_TOKEN), None);
    assert_eq!(
        flows["under_test"]["version"].as_u64(),
        Some(staged),
        "{flows}"
    );
    assert_eq!(flows["test_dids"], json!(["3499"]), "{flows}");
    let (_, diff) = curl(
        &srv,
        "GET",
        &format!("/api/v1/flows/diff?from=1&to={staged}"),
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(diff["flows"][0]["flow"], "demo", "{diff}");
    assert_eq!(
        (
            diff["flows"][0]["added"].as_u64(),
            diff["flows"][0]["removed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        original,
        "nothing written before promotion"
    );

    // Promoted: every number, the file, and a reload from disk keep it.
    let (code, body) = post(&srv, "/api/v1/flows/promote", json!({}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(first_prompt(&srv, &mut ua, "3422"), "closed");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    let kept: Vec<String> = std::fs::read_dir(srv.dir.join("var/flows"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(kept, vec![original.clone()], "the replaced text is kept");
    let (code, body) = post(&srv, "/api/v1/flows/promote", json!({}));
    assert_eq!(code, 409, "nothing left under test: {body}");
    srv.reload();
    assert_eq!(first_prompt(&srv, &mut ua, "3422"), "closed");

    // The first version back, on disk too.
    let (code, body) = post(&srv, "/api/v1/flows/rollback", json!({ "version": 1 }));
    assert_eq!(code, 200, "{body}");
    assert_eq!(first_prompt(&srv, &mut ua, "3422"), "welcome");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);

    let (_, audit, _) = support::web::cli(&srv, "audit", &["export"]);
    for action in ["flows.stage", "flows.promote", "flows.rollback"] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {audit}"
        );
    }
}

#[test]
fn bad_requests_get_a_4xx_that_says_why() {
    let srv = Server::start_with(test_number_options());
    let (code, body) = post(
        &srv,
        "/api/v1/flows/check",
        json!({ "flow": "nope", "text": "" }),
    );
    assert_eq!(code, 404, "{body}");
    let (code, body) = curl(
        &srv,
        "POST",
        "/api/v1/flows/stage",
        Some(ADMIN_TOKEN),
        Some("{\"flow\": 3}"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("expected {\"flow\""),
        "{body}"
    );
    let demo = std::fs::read_to_string(srv.flows_dir().join("demo.toml")).unwrap();
    let renamed = demo.replace("name = \"demo\"", "name = \"demo2\"");
    let (code, body) = post(
        &srv,
        "/api/v1/flows/stage",
        json!({ "flow": "demo", "text": renamed }),
    );
    assert_eq!(code, 422, "{body}");
    let (code, body) = post(
        &srv,
        "/api/v1/flows/stage",
        json!({ "flow": "demo", "text": demo }),
    );
    assert_eq!(code, 409, "unchanged: {body}");
    let (code, body) = curl(
        &srv,
        "DELETE",
        "/api/v1/flows/stage",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 409, "{body}");
    let (code, body) = curl(
        &srv,
        "GET",
        "/api/v1/flows/diff?from=9",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 404, "{body}");
    let (code, body) = curl(&srv, "GET", "/api/v1/flows/diff", Some(ADMIN_TOKEN), None);
    assert_eq!(code, 400, "{body}");
    let (code, _) = curl(
        &srv,
        "GET",
        "/api/v1/flows/demo/source?version=1",
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(code, 200);
}
