//! Tests of the digest server on a fake clock: same answer for unknown user
//! and wrong password, HA1 secrets, Request-URI binding, address-bound and
//! expiring nonces, nonce-count replays, and limits checked before any
//! digest is computed.

use std::cell::Cell;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::auth::{digest_response, ha1, parse_digest, DigestParams};

const URI: &str = "sip:127.0.0.1";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn server(t0: Instant) -> DigestServer {
    DigestServer::new(DigestConfig::new("softswitch"), t0)
}

/// agent1's password is "secret1"; agent2 is stored as an HA1 of "secret2".
fn accounts(user: &str) -> Option<Secret> {
    match user {
        "agent1" => Some(Secret::Password("secret1".into())),
        "agent2" => Some(Secret::Ha1(ha1("agent2", "softswitch", "secret2"))),
        _ => None,
    }
}

/// The Authorization value answering `challenge`, with nonce count `nc`
/// (`None`: without qop, RFC 2069 style).
fn answer(challenge: &str, user: &str, password: &str, uri: &str, nc: Option<u32>) -> String {
    let c = parse_digest(challenge).unwrap();
    let p = DigestParams {
        username: user.into(),
        realm: c.realm.clone(),
        nonce: c.nonce.clone(),
        uri: uri.into(),
        qop: nc.map(|_| "auth".into()),
        nc: nc.map(|n| format!("{n:08x}")),
        cnonce: nc.map(|_| "c0ffee".into()),
        ..Default::default()
    };
    let response = digest_response(&p, password, "REGISTER");
    let mut v = format!(
        "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5",
        p.realm, p.nonce
    );
    if let Some(nc) = &p.nc {
        v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"c0ffee\""));
    }
    v
}

fn attempt<'a>(source: &str, auth: Option<&'a str>) -> Attempt<'a> {
    Attempt {
        source: ip(source),
        method: "REGISTER",
        request_uri: URI,
        authorization: auth,
        account: None,
    }
}

fn challenge_of(o: Outcome) -> String {
    match o {
        Outcome::Challenge(c) => c,
        other => panic!("challenge expected, got {other:?}"),
    }
}

#[test]
fn passwords_and_ha1_verify_and_failures_all_look_alike() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let ch = challenge_of(s.handle(t0, &attempt("192.0.2.1", None), accounts));
    assert!(ch.starts_with("Digest realm=\"softswitch\", nonce=\"") && !ch.contains("stale"));
    for (user, pw) in [("agent1", "secret1"), ("agent2", "secret2")] {
        let a = answer(&ch, user, pw, URI, Some(1));
        assert_eq!(
            s.handle(t0, &attempt("192.0.2.1", Some(&a)), accounts),
            Outcome::Ok(user.into()),
            "{user}"
        );
    }
    // Unknown user, wrong password, wrong method: one and the same answer.
    let unknown = answer(&ch, "nobody", "secret1", URI, Some(2));
    let wrong = answer(&ch, "agent1", "guess", URI, Some(3));
    for a in [&unknown, &wrong] {
        assert_eq!(
            s.handle(t0, &attempt("192.0.2.1", Some(a)), accounts),
            Outcome::Forbidden
        );
    }
    let right = answer(&ch, "agent1", "secret1", URI, Some(4));
    let invite = Attempt {
        method: "INVITE",
        ..attempt("192.0.2.1", Some(&right))
    };
    assert_eq!(
        s.handle(t0, &invite, accounts),
        Outcome::Forbidden,
        "method is hashed"
    );
    assert_eq!(
        s.handle(
            t0,
            &attempt("192.0.2.1", Some("Basic YWdlbnQxOnNlY3JldDE=")),
            accounts
        ),
        Outcome::Forbidden
    );
    assert_eq!(s.stats().snapshot().failures_total, 4);
}

#[test]
fn the_digest_uri_must_name_the_request_uri() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let ch = challenge_of(s.handle(t0, &attempt("192.0.2.1", None), accounts));
    // A right answer computed for another Request-URI.
    let other = answer(&ch, "agent1", "secret1", "sip:10.0.0.1", Some(1));
    assert_eq!(
        s.handle(t0, &attempt("192.0.2.1", Some(&other)), accounts),
        Outcome::Forbidden
    );
    // Case and the default port do not matter.
    let same = answer(&ch, "agent1", "secret1", "SIP:127.0.0.1:5060", Some(2));
    assert_eq!(
        s.handle(t0, &attempt("192.0.2.1", Some(&same)), accounts),
        Outcome::Ok("agent1".into())
    );
}

#[test]
fn nonces_are_bound_to_the_address_and_expire_into_stale_challenges() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let ch = challenge_of(s.handle(t0, &attempt("192.0.2.1", None), accounts));
    let a = answer(&ch, "agent1", "secret1", URI, Some(1));
    // The same right answer from another address: asked again, not admitted.
    let again = challenge_of(s.handle(t0, &attempt("192.0.2.2", Some(&a)), accounts));
    assert!(again.ends_with(", stale=true"), "{again}");
    // From its own address after 300 s: fine; after 301 s: stale.
    assert_eq!(
        s.handle(t0 + secs(300), &attempt("192.0.2.1", Some(&a)), accounts),
        Outcome::Ok("agent1".into())
    );
    let late = answer(&ch, "agent1", "secret1", URI, Some(2));
    let stale =
        challenge_of(s.handle(t0 + secs(301), &attempt("192.0.2.1", Some(&late)), accounts));
    assert!(stale.ends_with(", stale=true"), "{stale}");
    // The new nonce works; a wrong password with an expired nonce is a
    // failure, not a stale challenge (no hint that the nonce was the issue).
    let fresh = answer(&stale, "agent1", "secret1", URI, Some(1));
    assert_eq!(
        s.handle(
            t0 + secs(302),
            &attempt("192.0.2.1", Some(&fresh)),
            accounts
        ),
        Outcome::Ok("agent1".into())
    );
    let wrong_late = answer(&ch, "agent1", "nope", URI, Some(3));
    assert_eq!(
        s.handle(
            t0 + secs(400),
            &attempt("192.0.2.1", Some(&wrong_late)),
            accounts
        ),
        Outcome::Forbidden
    );
    assert_eq!(s.stats().snapshot().failures_total, 1);
}

#[test]
fn a_replayed_nonce_count_is_refused() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let ch = challenge_of(s.handle(t0, &attempt("192.0.2.1", None), accounts));
    let first = answer(&ch, "agent1", "secret1", URI, Some(1));
    assert_eq!(
        s.handle(t0, &attempt("192.0.2.1", Some(&first)), accounts),
        Outcome::Ok("agent1".into())
    );
    assert_eq!(
        s.handle(t0 + secs(1), &attempt("192.0.2.1", Some(&first)), accounts),
        Outcome::Forbidden,
        "the same (nonce, nc) again"
    );
    let next = answer(&ch, "agent1", "secret1", URI, Some(2));
    assert_eq!(
        s.handle(t0 + secs(2), &attempt("192.0.2.1", Some(&next)), accounts),
        Outcome::Ok("agent1".into()),
        "the next count of the same nonce"
    );
    // Without qop a nonce serves once, then the client is asked again.
    let bare = answer(&ch, "agent2", "secret2", URI, None);
    assert_eq!(
        s.handle(t0, &attempt("192.0.2.1", Some(&bare)), accounts),
        Outcome::Ok("agent2".into())
    );
    let again = challenge_of(s.handle(t0, &attempt("192.0.2.1", Some(&bare)), accounts));
    assert!(again.ends_with(", stale=true"));
}

#[test]
fn limits_come_before_any_digest_and_answer_503_to_everyone() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let looked_up = Cell::new(0);
    let counting = |u: &str| {
        looked_up.set(looked_up.get() + 1);
        accounts(u)
    };
    let src = "203.0.113.5";
    let ch = challenge_of(s.handle(t0, &attempt(src, None), accounts));
    // A flood of wrong answers from one address: five free failures and a
    // sixth, then 503 with the time left, without computing anything.
    let mut limited = 0;
    for i in 0..100_000u32 {
        let a = answer(&ch, "agent1", &format!("guess{i}"), URI, Some(i + 1));
        match s.handle(t0, &attempt(src, Some(&a)), counting) {
            Outcome::Forbidden => {}
            Outcome::Limited(wait) => {
                assert_eq!(wait, secs(1));
                limited += 1;
            }
            other => panic!("{other:?}"),
        }
        if i == 200 {
            break;
        }
    }
    assert_eq!(looked_up.get(), 6, "the digest was checked 6 times only");
    assert_eq!(limited, 195);
    // The right password from that address is refused too, and so is a
    // REGISTER without credentials.
    let right = answer(&ch, "agent2", "secret2", URI, Some(1));
    assert_eq!(
        s.handle(t0, &attempt(src, Some(&right)), accounts),
        Outcome::Limited(secs(1))
    );
    assert_eq!(
        s.handle(t0, &attempt(src, None), accounts),
        Outcome::Limited(secs(1))
    );
    // Another address is not affected.
    assert!(matches!(
        s.handle(t0, &attempt("192.0.2.1", None), accounts),
        Outcome::Challenge(_)
    ));
    // Lock at the 10th failure, then 15 minutes; the right answer after it.
    let mut now = t0;
    for wait in [1, 2, 4, 8] {
        now += secs(wait);
        let ch = challenge_of(s.handle(now, &attempt(src, None), accounts));
        let a = answer(&ch, "agent1", "guess", URI, Some(1));
        assert_eq!(
            s.handle(now, &attempt(src, Some(&a)), accounts),
            Outcome::Forbidden
        );
    }
    assert_eq!(
        s.handle(now + secs(60), &attempt(src, None), accounts),
        Outcome::Limited(secs(840))
    );
    let snap = s.stats().snapshot();
    assert_eq!((snap.failures_total, snap.sources_locked), (10, 1));
    let later = now + secs(900);
    s.tick(later);
    assert_eq!(s.stats().snapshot().sources_locked, 0);
    let ch = challenge_of(s.handle(later, &attempt(src, None), accounts));
    let a = answer(&ch, "agent2", "secret2", URI, Some(1));
    assert_eq!(
        s.handle(later, &attempt(src, Some(&a)), accounts),
        Outcome::Ok("agent2".into())
    );
}

#[test]
fn a_locked_account_is_refused_without_credentials_too() {
    let t0 = Instant::now();
    let mut cfg = DigestConfig::new("softswitch");
    cfg.limits.account.free = 1;
    cfg.limits.account.lock_after = 2;
    let mut s = DigestServer::new(cfg, t0);
    for src in ["10.0.0.1", "10.0.0.2"] {
        let ch = challenge_of(s.handle(t0, &attempt(src, None), accounts));
        let a = answer(&ch, "agent1", "guess", URI, Some(1));
        assert_eq!(
            s.handle(t0, &attempt(src, Some(&a)), accounts),
            Outcome::Forbidden
        );
    }
    let to_agent1 = Attempt {
        account: Some("agent1"),
        ..attempt("10.0.0.3", None)
    };
    assert_eq!(
        s.handle(t0, &to_agent1, accounts),
        Outcome::Limited(secs(900))
    );
    assert_eq!(s.stats().snapshot().accounts_locked, 1);
    let to_agent2 = Attempt {
        account: Some("agent2"),
        ..attempt("10.0.0.3", None)
    };
    assert!(matches!(
        s.handle(t0, &to_agent2, accounts),
        Outcome::Challenge(_)
    ));
}
