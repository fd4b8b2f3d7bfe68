//! Accounts, logins, second factors and tokens on a fake clock.

use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::*;

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn store() -> (Dir, AccountStore) {
    let p = std::env::temp_dir().join(format!("auth-test-{}", token::random_hex(8)));
    let s = AccountStore::open(&p).unwrap();
    (Dir(p), s)
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn new(id: &str, role: Role) -> NewAccount {
    NewAccount {
        id: id.into(),
        name: format!("{id} name"),
        role,
        queues: Scope::all(),
        recordings: false,
        agent: None,
    }
}

const GOOD: &str = "Tr0ub4dour&Horse";
const GOOD2: &str = "Bl4ck-Numb3r-Offl0ad";

#[test]
fn a_temporary_password_must_be_changed_and_history_is_kept() {
    let (_d, s) = store();
    let (_, temp) = s
        .add(new("marie", Role::Supervisor), None, "admin", t0())
        .unwrap();
    let temp = temp.unwrap();
    let a = s.check_password("marie", &temp).unwrap();
    assert!(a.must_change);
    assert_eq!(
        next_stage(&a, &[Role::Admin, Role::Supervisor]),
        Stage::ChangePassword
    );
    s.change_password("marie", &temp, GOOD, t0()).unwrap();
    let a = s.check_password("marie", GOOD).unwrap();
    assert!(!a.must_change);
    assert_eq!(
        next_stage(&a, &[Role::Admin, Role::Supervisor]),
        Stage::EnrolTotp
    );
    assert_eq!(next_stage(&a, &[]), Stage::Ready);
    // No reuse of the last 5 (the current one included).
    let e = s.change_password("marie", GOOD, GOOD, t0()).unwrap_err();
    assert!(e.to_string().contains("last 5"), "{e}");
    let mut current = GOOD.to_string();
    for i in 0..5 {
        let next = format!("Tr0ub4dour&Horse-{i}x");
        s.change_password("marie", &current, &next, t0()).unwrap();
        current = next;
    }
    // GOOD is now 6 back: allowed again; one of the last 5 is not.
    assert!(s
        .change_password("marie", &current, "Tr0ub4dour&Horse-1x", t0())
        .is_err());
    s.change_password("marie", &current, GOOD, t0()).unwrap();
    // The store survives a reopen, hashes only.
    let text = std::fs::read_to_string(s.path()).unwrap();
    assert!(!text.contains(GOOD) && text.contains("$argon2id$"));
    let again = AccountStore::open(s.path().parent().unwrap()).unwrap();
    assert!(again.check_password("marie", GOOD).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn unknown_account_and_wrong_password_read_the_same() {
    let (_d, s) = store();
    s.add(new("marie", Role::Supervisor), Some(GOOD), "admin", t0())
        .unwrap();
    let a = s.check_password("nobody", GOOD).unwrap_err().to_string();
    let b = s.check_password("marie", "wrong").unwrap_err().to_string();
    assert_eq!(a, b);
    assert!(s
        .add(new("marie", Role::Client), Some(GOOD), "admin", t0())
        .is_err());
    assert!(s
        .add(new("Bad Name", Role::Client), Some(GOOD), "admin", t0())
        .is_err());
    assert!(s
        .add(new("paul", Role::Client), Some("short"), "admin", t0())
        .is_err());
}

#[test]
fn logins_slow_down_then_lock_for_an_account_and_source() {
    let (_d, s) = store();
    s.add(new("marie", Role::Supervisor), Some(GOOD), "admin", t0())
        .unwrap();
    let l = Logins::default();
    let ip: IpAddr = "10.1.2.3".parse().unwrap();
    let other: IpAddr = "10.9.9.9".parse().unwrap();
    let mut now = Instant::now();
    for _ in 0..5 {
        assert!(matches!(
            l.password(&s, "marie", "nope", ip, now, t0()),
            Err(AuthError::Denied)
        ));
    }
    // 6th failure: then a wait, even for the right password.
    assert!(matches!(
        l.password(&s, "marie", "nope", ip, now, t0()),
        Err(AuthError::Denied)
    ));
    assert!(matches!(
        l.password(&s, "marie", GOOD, ip, now, t0()),
        Err(AuthError::Throttled(_))
    ));
    // Another source is not slowed by this one's failures.
    assert!(l.password(&s, "marie", GOOD, other, now, t0()).is_ok());
    for _ in 0..4 {
        now += std::time::Duration::from_secs(60);
        let _ = l.password(&s, "marie", "nope", ip, now, t0());
    }
    now += std::time::Duration::from_secs(60);
    match l.password(&s, "marie", GOOD, ip, now, t0()) {
        Err(AuthError::Locked(d)) => assert!(d.as_secs() >= 13 * 60, "{d:?}"),
        other => panic!("expected a lock, got {other:?}"),
    }
    assert_eq!(l.locked(now).0, 1);
    l.unlock("marie");
    assert!(l.password(&s, "marie", GOOD, ip, now, t0()).is_ok());
}

#[test]
fn unused_accounts_are_disabled_after_90_days() {
    let (_d, s) = store();
    s.add(new("marie", Role::Supervisor), Some(GOOD), "admin", t0())
        .unwrap();
    s.add(new("paul", Role::Client), Some(GOOD2), "admin", t0())
        .unwrap();
    s.logged_in("paul", t0() + Duration::days(60)).unwrap();
    assert!(s
        .disable_inactive(90, t0() + Duration::days(90))
        .unwrap()
        .is_empty());
    let off = s.disable_inactive(90, t0() + Duration::days(91)).unwrap();
    assert_eq!(off, vec!["marie"]);
    assert!(matches!(
        s.check_password("marie", GOOD),
        Err(AuthError::Disabled(_))
    ));
    assert!(s.check_password("paul", GOOD2).is_ok());
    // Enabled again: the clock restarts.
    s.enable("marie", t0() + Duration::days(100)).unwrap();
    assert!(s
        .disable_inactive(90, t0() + Duration::days(151))
        .unwrap()
        .contains(&"paul".to_string()));
    assert!(s.check_password("marie", GOOD).is_ok());
}

#[test]
fn totp_enrolment_codes_and_recovery() {
    let (_d, s) = store();
    s.add(new("marie", Role::Supervisor), Some(GOOD), "admin", t0())
        .unwrap();
    let secret = s.totp_begin("marie").unwrap();
    let now = t0();
    assert!(
        s.totp_confirm("marie", "000000", now).is_err()
            || totp::code_at(&secret, now.timestamp() as u64).unwrap() == "000000"
    );
    let code = totp::code_at(&secret, now.timestamp() as u64).unwrap();
    let recovery = s.totp_confirm("marie", &code, now).unwrap();
    assert_eq!(recovery.len(), 10);
    // The enrolment code cannot be replayed to sign in.
    assert!(s.second_factor("marie", &code, now).is_err());
    let later = now + Duration::seconds(30);
    let code = totp::code_at(&secret, later.timestamp() as u64).unwrap();
    assert!(!s.second_factor("marie", &code, later).unwrap());
    assert!(s.second_factor("marie", &recovery[3], later).unwrap());
    assert!(
        s.second_factor("marie", &recovery[3], later).is_err(),
        "used once"
    );
    assert_eq!(s.get("marie").unwrap().view().recovery_codes_left, 9);
    let a = s.get("marie").unwrap();
    assert_eq!(next_stage(&a, &[Role::Supervisor]), Stage::Totp);
    s.totp_reset("marie").unwrap();
    assert_eq!(
        next_stage(&s.get("marie").unwrap(), &[Role::Supervisor]),
        Stage::EnrolTotp
    );
}

#[test]
fn tokens_are_hashed_scoped_expire_and_revoke() {
    let (_d, s) = store();
    let mut n = new("marie", Role::Supervisor);
    n.queues = Scope(vec!["general".into()]);
    s.add(n, Some(GOOD), "admin", t0()).unwrap();
    let (t, full) = s
        .token_create("marie", "wallboard", Some(Role::Client), 30, t0())
        .unwrap();
    assert_eq!(t.role, Role::Client);
    assert!(
        s.token_create("marie", "x", Some(Role::Admin), 30, t0())
            .is_err(),
        "no more than the account"
    );
    assert!(s.token_create("marie", "", None, 30, t0()).is_err());
    assert!(!std::fs::read_to_string(s.path()).unwrap().contains(&full));
    let (got, acc) = s.token_check(&full, t0() + Duration::days(1)).unwrap();
    assert_eq!((got.id.as_str(), acc.id.as_str()), (t.id.as_str(), "marie"));
    assert_eq!(got.queues, Scope(vec!["general".into()]));
    assert!(
        s.token_check(&full, t0() + Duration::days(31)).is_none(),
        "expired"
    );
    let wrong = format!("sst_{}_{}", t.id, "A".repeat(43));
    assert!(s.token_check(&wrong, t0()).is_none());
    s.disable("marie", "left", "admin", t0()).unwrap();
    assert!(
        s.token_check(&full, t0()).is_none(),
        "a disabled account's tokens stop"
    );
    s.enable("marie", t0()).unwrap();
    s.token_revoke(&t.id, Some("marie"), t0()).unwrap();
    assert!(s.token_check(&full, t0()).is_none());
    assert!(s.token_revoke(&t.id, Some("paul"), t0()).is_err());
}

#[test]
fn sso_accounts_never_take_over_local_ones() {
    let (_d, s) = store();
    s.add(new("marie", Role::Supervisor), Some(GOOD), "admin", t0())
        .unwrap();
    assert!(s
        .sso_account(
            "https://idp#1",
            "marie",
            "Marie",
            Role::Admin,
            Scope::all(),
            t0()
        )
        .is_err());
    let a = s
        .sso_account(
            "https://idp#2",
            "paul",
            "Paul",
            Role::Client,
            Scope::all(),
            t0(),
        )
        .unwrap();
    assert_eq!(a.role, Role::Client);
    assert!(a.password.is_none());
    // The provider's groups change: the role follows.
    let a = s
        .sso_account(
            "https://idp#2",
            "paul",
            "Paul",
            Role::Supervisor,
            Scope::all(),
            t0(),
        )
        .unwrap();
    assert_eq!(a.role, Role::Supervisor);
    assert!(matches!(
        s.check_password("paul", ""),
        Err(AuthError::Denied)
    ));
}

#[test]
fn a_change_by_another_process_is_seen() {
    // The running softswitch and `softswitch account add` share the file.
    let (d, server) = store();
    server
        .add(new("marie", Role::Supervisor), Some(GOOD), "admin", t0())
        .unwrap();
    let cli = AccountStore::open(&d.0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(10));
    cli.add(new("paul", Role::Client), Some(GOOD2), "cli", t0())
        .unwrap();
    assert!(
        server.check_password("paul", GOOD2).is_ok(),
        "the server sees the new account"
    );
    assert_eq!(server.list().len(), 2);
    // And a change made by the server afterwards keeps the CLI's account.
    server.disable("marie", "left", "admin", t0()).unwrap();
    let again = AccountStore::open(&d.0).unwrap();
    assert!(again.get("paul").is_some() && again.get("marie").unwrap().disabled.is_some());
}
