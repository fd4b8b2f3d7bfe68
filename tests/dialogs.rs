//! The dialog machine seen from a caller, end to end: session timers the
//! caller asks for (RFC 4028), out-of-order requests, requests inside the
//! early dialog.

mod support;

use std::time::Duration;

use support::*;

const T: Duration = Duration::from_secs(5);

fn with_headers(extra: &str) -> Offer {
    Offer {
        extra_headers: extra.into(),
        ..Offer::default()
    }
}

#[test]
fn a_session_timer_asked_by_the_caller_is_granted_and_refreshed() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite(
        "7000",
        &with_headers("Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n"),
    );
    let ok = ua.answer(&mut call, T);
    assert_eq!(
        header(&ok, "Session-Expires"),
        Some("120;refresher=uac"),
        "{ok}"
    );
    assert_eq!(header(&ok, "Require"), Some("timer"), "{ok}");
    // The caller refreshes with an UPDATE without a body: 200, no SDP.
    let r = ua.request(
        &mut call,
        "UPDATE",
        "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n",
        "",
    );
    assert_eq!(status(&r), Some(200), "{r}");
    assert_eq!(header(&r, "Session-Expires"), Some("120;refresher=uac"));
    assert!(body(&r).is_empty(), "no offer, no answer: {r}");
    assert!(!call.collect_rtp(Duration::from_millis(200)).is_empty());
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200));
    assert_eq!(srv.record(&call.call_id)["end_reason"], "bye");
}

#[test]
fn a_session_interval_under_90_s_gets_422_with_min_se_and_a_record() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let call = ua.invite(
        "7000",
        &with_headers("Session-Expires: 30\r\nSupported: timer\r\n"),
    );
    let r = ua.final_response(T);
    assert_eq!(status(&r), Some(422), "{r}");
    assert_eq!(header(&r, "Min-SE"), Some("90"), "{r}");
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["end_reason"], "session_interval_too_small", "{rec}");
    assert_eq!(rec["outcome"], "failed", "{rec}");
}

#[test]
fn an_out_of_order_request_gets_500_with_retry_after_and_the_call_goes_on() {
    let srv = Server::start();
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    // CSeq 1 again: not above the INVITE's.
    let stale = call.in_dialog(&ua, "OPTIONS", "", "");
    ua.send(&stale);
    let r = ua
        .recv_until(T, |m| {
            status(m).is_some_and(|c| c >= 200)
                && header(m, "CSeq").is_some_and(|c| c.ends_with("OPTIONS"))
        })
        .expect("an answer to the stale OPTIONS");
    assert_eq!(status(&r), Some(500), "{r}");
    let wait: u32 = header(&r, "Retry-After").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "{r}");
    let r = ua.request(&mut call, "OPTIONS", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
    assert!(header(&r, "Allow").is_some_and(|a| a.contains("UPDATE")));
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200));
}

#[test]
fn inside_the_early_dialog_a_re_invite_waits_and_a_bye_ends_the_invite_with_487() {
    let srv = Server::start_with(Options {
        answer_after_ms: 3000,
        ..Options::default()
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    let ringing = ua
        .recv_until(T, |m| status(m) == Some(180))
        .expect("180 Ringing");
    call.to_tag = header(&ringing, "To").and_then(tag);
    let port = call.rtp.local_addr().unwrap().port();
    // RFC 3261 14.2: a second INVITE before the first is answered.
    let r = ua.request(&mut call, "INVITE", "", &Offer::default().sdp(port));
    assert_eq!(status(&r), Some(500), "{r}");
    assert!(header(&r, "Retry-After").is_some(), "{r}");
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
    let r = ua
        .recv_until(T, |m| {
            status(m).is_some_and(|c| c >= 300)
                && header(m, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
                && header(m, "CSeq").is_some_and(|c| c.starts_with("1 "))
        })
        .expect("the INVITE's final answer");
    assert_eq!(status(&r), Some(487), "{r}");
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["outcome"], "cancelled", "{rec}");
    assert_eq!(rec["end_reason"], "bye", "{rec}");
}
