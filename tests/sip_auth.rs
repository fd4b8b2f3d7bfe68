//! SIP authentication against the attacker's own tools and a flood: svwar
//! (sipvicious) finds no account, svcrack is stopped by the failure limits
//! long before it reaches the right password, a locked source is refused
//! even with a right password until its lock ends while other phones
//! register, and a flood of bad REGISTERs leaves a call's audio untouched
//! and the log with one lock line.

mod support;

use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::agent::AgentPhone;
use support::*;

const T: Duration = Duration::from_secs(5);

/// Output of one sipvicious run.
struct Tool {
    stdout: String,
    stderr: String,
}

/// Run a sipvicious tool with its own HOME (it writes sessions there),
/// killed after `limit` (its exit status is always 0: the output tells).
fn sipvicious(tool: &str, args: &[&str], dir: &Path, limit: Duration) -> Tool {
    let path = Path::new("/usr/bin").join(tool);
    assert!(
        path.exists(),
        "{tool} is not installed: `scripts/deps.sh test` installs Debian's sipvicious"
    );
    let home = dir.join(format!("home-{tool}"));
    std::fs::create_dir_all(&home).unwrap();
    let (out, err) = (
        dir.join(format!("{tool}.out")),
        dir.join(format!("{tool}.err")),
    );
    let mut child = Command::new("/usr/bin/python3")
        .arg(&path)
        .args(args)
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("start {tool}: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Tool {
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// A word list file.
fn words(dir: &Path, name: &str, words: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    for w in words {
        writeln!(f, "{w}").unwrap();
    }
    path
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn svwar_finds_no_account() {
    let srv = Server::start();
    let users: Vec<String> = [
        "agent1", "agent2", "agent3", "agent4", "alice", "bob", "100", "1000", "admin", "agent5",
        "operator",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dict = words(&srv.dir, "users.txt", &users);
    let port = srv.udp.port().to_string();
    let run = sipvicious(
        "svwar",
        &[
            "--force",
            "-vv",
            "-m",
            "REGISTER",
            "-d",
            dict.to_str().unwrap(),
            "-p",
            &port,
            "-x",
            "127.0.0.1",
            "-P",
            "0",
            "127.0.0.1",
        ],
        &srv.dir,
        Duration::from_secs(30),
    );
    // It talked to us: its probe of a random user was answered...
    assert!(
        run.stderr.contains("Bad user = SIP/2.0 "),
        "svwar got no answer:\n{}",
        run.stderr
    );
    // ...and every user got that same answer: no table of extensions.
    assert!(
        !run.stdout.contains("Extension") && !run.stdout.contains('|'),
        "svwar found accounts:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    for agent in ["agent1", "agent2", "agent3", "agent4"] {
        assert!(
            !run.stdout.contains(agent),
            "{agent} found:\n{}",
            run.stdout
        );
    }
}

#[test]
fn svcrack_is_stopped_long_before_the_right_password() {
    let srv = Server::start();
    // 30 guesses, the right one (agent1) 25th.
    let guesses: Vec<String> = (1..=30)
        .map(|i| {
            if i == 25 {
                "agent1".into()
            } else {
                format!("pw{i:02}")
            }
        })
        .collect();
    let dict = words(&srv.dir, "passwords.txt", &guesses);
    let port = srv.udp.port().to_string();
    let started = Instant::now();
    let run = sipvicious(
        "svcrack",
        &[
            "-vv",
            "-u",
            "agent1",
            "-d",
            dict.to_str().unwrap(),
            "-p",
            &port,
            "-x",
            "127.0.0.1",
            "-P",
            "0",
            "127.0.0.1",
        ],
        &srv.dir,
        Duration::from_secs(25),
    );
    let tries = count(&run.stderr, "DEBUG:ASipOfRedWine:trying");
    eprintln!(
        "svcrack: {tries} passwords tried in {:.1} s before it stopped",
        started.elapsed().as_secs_f64()
    );
    assert!(
        !run.stdout.contains("agent1") && !run.stderr.contains("The password for agent1 is"),
        "svcrack found the password:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(tries > 0, "svcrack never tried:\n{}", run.stderr);
    assert!(tries < 20, "{tries} tries:\n{}", run.stderr);
    // What stopped it: a 503 from the limits, which it does not understand.
    assert!(
        run.stderr.contains("SIP/2.0 503 Service Unavailable"),
        "{}",
        run.stderr
    );
    // Real phones, of the attacked account too, register from elsewhere.
    let mut phone = AgentPhone::new_from("127.0.0.2", "agent2", "agent2", srv.udp);
    phone.register();
    let mut phone = AgentPhone::new_from("127.0.0.2", "agent1", "agent1", srv.udp);
    phone.register();
    let log = srv.log_text();
    assert_eq!(
        count(&log, "SIP authentication failed"),
        tries,
        "one line per failure:\n{log}"
    );
}

#[test]
fn a_locked_source_is_refused_even_with_a_right_password_until_its_lock_ends() {
    let srv = Server::start_with(Options {
        sip_extra: "auth_lock_s = 3\nauth_delay_ms = 0\n".into(),
        ..Options::default()
    });
    // Ten wrong passwords from 127.0.0.7: locked at the 10th.
    let mut attacker = AgentPhone::new_from("127.0.0.7", "agent1", "guess", srv.udp);
    for i in 0..10 {
        assert_eq!(attacker.register_for(3600), 403, "failure {}", i + 1);
    }
    let locked_at = Instant::now();
    // The tradeoff: a right REGISTER of another agent from that address
    // (a phone behind the same NAT) is refused too, with the time left.
    let mut neighbour = AgentPhone::new_from("127.0.0.7", "agent3", "agent3", srv.udp);
    let resp = neighbour.register_response(3600);
    assert_eq!(status(&resp), Some(503), "{resp}");
    let retry: u64 = header(&resp, "Retry-After")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("Retry-After:\n{resp}"));
    assert!((1..=3).contains(&retry), "{resp}");
    assert!(header(&resp, "Warning").is_none(), "{resp}");
    // Phones elsewhere are not affected, the attacked account's either
    // (10 failures are under the account's 20 free).
    AgentPhone::new_from("127.0.0.1", "agent2", "agent2", srv.udp).register();
    AgentPhone::new_from("127.0.0.1", "agent1", "agent1", srv.udp).register();
    // After the lock: the neighbour registers.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(locked_at.elapsed()));
    let deadline = Instant::now() + T;
    loop {
        match neighbour.register_for(3600) {
            200 => break,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("after the lock: {other}"),
        }
    }
    // The lock and its end were logged once each (the sweep runs every second).
    std::thread::sleep(Duration::from_millis(1200));
    let log = srv.log_text();
    assert_eq!(count(&log, "source locked"), 1, "{log}");
    assert_eq!(count(&log, "source lock lifted"), 1, "{log}");
    assert_eq!(count(&log, "SIP authentication failed"), 10, "{log}");
}

#[test]
fn a_flood_of_bad_registers_leaves_a_call_alone_and_logs_one_lock() {
    let srv = Server::start_with(Options {
        sip_extra: "auth_delay_ms = 0\n".into(),
        ..Options::default()
    });
    // A call that plays welcome and menu (14 s of prompt).
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7000", &Offer::default());
    ua.answer(&mut call, T);
    assert!(!call.collect_rtp(Duration::from_millis(300)).is_empty());

    // 1,000 REGISTERs a second with wrong credentials for 3 s, from 127.0.0.5.
    let server = srv.udp;
    let flood = std::thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.5:0").unwrap();
        let local = sock.local_addr().unwrap();
        sock.set_nonblocking(true).unwrap();
        let (mut sent, mut answers, mut refused) = (0u32, 0u32, 0u32);
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < Duration::from_secs(3) {
            // Ten every 10 ms.
            for _ in 0..10 {
                sent += 1;
                let msg = format!(
                    "REGISTER sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKflood{sent};rport\r\nMax-Forwards: 70\r\nFrom: <sip:agent1@{server}>;tag=f{sent}\r\nTo: <sip:agent1@{server}>\r\nCall-ID: flood-{sent}@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:agent1@{local}>\r\nAuthorization: Digest username=\"agent1\", realm=\"softswitch\", nonce=\"0.0\", uri=\"sip:{server}\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n"
                );
                sock.send_to(msg.as_bytes(), server).unwrap();
            }
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                answers += 1;
                if buf[..n].starts_with(b"SIP/2.0 503") {
                    refused += 1;
                }
            }
            let next = Duration::from_millis(10 * u64::from(sent / 10));
            std::thread::sleep(next.saturating_sub(start.elapsed()));
        }
        let sending = start.elapsed();
        // The last answers.
        sock.set_nonblocking(false).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            answers += 1;
            if buf[..n].starts_with(b"SIP/2.0 503") {
                refused += 1;
            }
        }
        (sent, answers, refused, sending)
    });
    let rtp = call.collect_rtp(Duration::from_millis(3600));
    let (sent, answers, refused, took) = flood.join().unwrap();
    let gap = rtp
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .max()
        .unwrap_or(Duration::MAX);
    eprintln!(
        "flood: {sent} REGISTERs in {:.2} s ({:.0}/s), {answers} answered ({refused} with 503); call: {} RTP packets in 3.6 s, largest gap {} ms",
        took.as_secs_f64(),
        f64::from(sent) / took.as_secs_f64(),
        rtp.len(),
        gap.as_millis()
    );
    assert!(sent >= 2900, "the flood ran at {sent} in 3 s");
    assert!(answers >= sent * 99 / 100, "{answers} answers to {sent}");
    assert_eq!(refused, answers - 10, "10 failures, then 503 to the rest");
    assert!(rtp.len() >= 170, "{} packets in 3.6 s", rtp.len());
    assert!(gap < Duration::from_millis(100), "RTP gap of {gap:?}");

    // The call still goes on, and another phone registers meanwhile.
    AgentPhone::new("agent2", "agent2", srv.udp).register();
    assert!(!call.collect_rtp(Duration::from_millis(300)).is_empty());
    ua.request(&mut call, "BYE", "", "");

    let log = srv.log_text();
    assert_eq!(count(&log, "source locked"), 1, "one lock line");
    assert_eq!(count(&log, "SIP authentication failed"), 10);
    let lines_about_it = count(&log, "127.0.0.5");
    assert!(
        lines_about_it < 30,
        "{lines_about_it} log lines about the flooding source"
    );
}
