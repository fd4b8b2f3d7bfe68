//! sipflood: a flood of new INVITEs for softswitch's overload benchmark
//! (`benches/load/flood.sh` with `FLOODER=raw`).
//!
//! SIPp keeps state for every call it places, which on a 2-core machine
//! caps it near 6,000 calls a second, less than a misconfigured trunk or an
//! attack can send. This sends pre-formatted INVITEs (each its own Call-ID
//! and branch) at a fixed rate from one UDP socket, batched with sendmmsg,
//! never retransmits, acknowledges every final answer as a caller would,
//! and times the first final answer of each call. Aim it at a number that
//! refuses (an unknown DID): answered calls are acknowledged but never
//! hung up. Loopback only, bounded by `--seconds` plus `--linger`; one
//! JSON summary line goes to stdout.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use media::mmsg::{self, RecvBatch, SendBatch};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "sipflood",
    about = "Flood of new INVITEs, timing each first final answer"
)]
struct Args {
    /// softswitch's SIP address (UDP).
    #[arg(long)]
    target: SocketAddr,
    /// The number called (use one that refuses).
    #[arg(long, default_value = "0000")]
    did: String,
    /// New INVITEs a second.
    #[arg(long)]
    rate: u32,
    /// How long to send.
    #[arg(long)]
    seconds: u64,
    /// How long to wait for answers after the last INVITE.
    #[arg(long, default_value_t = 10)]
    linger: u64,
}

/// One call: when its INVITE left, and when (and how) it was answered.
struct Call {
    sent: Instant,
    answer: Option<(u16, Duration)>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.target.ip().is_loopback() {
        bail!(
            "sipflood only floods loopback addresses, not {}",
            args.target
        );
    }
    if args.rate == 0 || args.rate > 200_000 || args.seconds == 0 || args.seconds > 120 {
        bail!("--rate must be 1..=200000 and --seconds 1..=120");
    }
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_nonblocking(true)?;
    let fd = sock.as_raw_fd();
    mmsg::set_receive_buffer(fd, 32 << 20).context("receive buffer")?;
    mmsg::set_send_buffer(fd, 16 << 20).context("send buffer")?;
    let local = sock.local_addr()?;
    let run = std::process::id();
    let mut calls: Vec<Call> = Vec::with_capacity((args.rate as u64 * args.seconds) as usize);
    let mut out = SendBatch::new(64);
    let mut acks = SendBatch::new(64);
    let mut inb = RecvBatch::new(64, false);
    let mut duplicates = 0u64;
    let mut send_errors = 0u64;
    let start = Instant::now();
    let stop_sending = start + Duration::from_secs(args.seconds);
    let end = stop_sending + Duration::from_secs(args.linger);
    let total = args.rate as u64 * args.seconds;
    let mut due = start;
    while Instant::now() < end {
        let now = Instant::now();
        // The calls due by now: rate x elapsed, sent in batches.
        let owed = if now < stop_sending {
            ((now - start).as_secs_f64() * args.rate as f64) as u64
        } else {
            total
        }
        .min(total);
        while (calls.len() as u64) < owed {
            let n = calls.len();
            out.push(args.target, |b| invite(b, &args, local, run, n));
            calls.push(Call {
                sent: Instant::now(),
                answer: None,
            });
            if out.is_full() {
                send_errors += flush(&mut out, fd);
            }
        }
        send_errors += flush(&mut out, fd);
        loop {
            let k = match inb.recv(fd) {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue, // ICMP of an earlier send
            };
            let now = Instant::now();
            for i in 0..k {
                let data = inb.data(i);
                let Some((code, n)) = final_answer(data, run) else {
                    continue;
                };
                let Some(call) = calls.get_mut(n) else {
                    continue;
                };
                if call.answer.is_some() {
                    duplicates += 1; // the server's retransmission
                } else {
                    call.answer = Some((code, now - call.sent));
                }
                if acks.is_full() {
                    send_errors += flush(&mut acks, fd);
                }
                acks.push(args.target, |b| ack(b, data, &args, local, run, n));
            }
            if k < inb.capacity() {
                break;
            }
        }
        send_errors += flush(&mut acks, fd);
        if now >= stop_sending && calls.iter().all(|c| c.answer.is_some()) {
            break;
        }
        due += Duration::from_millis(1);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            due = now;
        }
    }
    println!("{}", summary(&calls, duplicates, send_errors, start));
    Ok(())
}

/// Send what is batched; the datagrams the kernel refused.
fn flush(batch: &mut SendBatch, fd: i32) -> u64 {
    let queued = batch.len();
    match batch.flush(fd) {
        Ok(sent) => (queued - sent) as u64,
        Err(_) => queued as u64,
    }
}

/// The Via of call `n`'s INVITE, which its ACK repeats.
fn via(local: SocketAddr, run: u32, n: usize) -> String {
    format!("Via: SIP/2.0/UDP {local};branch=z9hG4bKflood{run}x{n};rport")
}

fn invite(b: &mut [u8], args: &Args, local: SocketAddr, run: u32, n: usize) -> usize {
    let msg = format!(
        "INVITE sip:{did}@{target} SIP/2.0\r\n\
         {via}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:flood@{ip}>;tag=f{n}\r\n\
         To: <sip:{did}@{target}>\r\n\
         Call-ID: flood-{run}-{n}@{ip}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:flood@{local}>\r\n\
         Content-Length: 0\r\n\r\n",
        did = args.did,
        target = args.target,
        via = via(local, run, n),
        ip = local.ip(),
    );
    copy_into(b, msg.as_bytes())
}

/// RFC 3261 17.1.1.3: the ACK of a final answer carries the INVITE's
/// Via, and the To of the answer (its tag).
fn ack(b: &mut [u8], response: &[u8], args: &Args, local: SocketAddr, run: u32, n: usize) -> usize {
    let text = String::from_utf8_lossy(response);
    let line = |name: &str| {
        text.split("\r\n")
            .find(|l| {
                l.split_once(':')
                    .is_some_and(|(h, _)| h.trim().eq_ignore_ascii_case(name))
            })
            .unwrap_or("")
            .to_string()
    };
    let msg = format!(
        "ACK sip:{did}@{target} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n{from}\r\n{to}\r\n{call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        did = args.did,
        target = args.target,
        via = via(local, run, n),
        from = line("From"),
        to = line("To"),
        call_id = line("Call-ID"),
    );
    copy_into(b, msg.as_bytes())
}

fn copy_into(b: &mut [u8], msg: &[u8]) -> usize {
    let n = msg.len().min(b.len());
    b[..n].copy_from_slice(&msg[..n]);
    n
}

/// A final answer (200-699) to one of this run's INVITEs: its code and
/// the call's index.
fn final_answer(data: &[u8], run: u32) -> Option<(u16, usize)> {
    let text = std::str::from_utf8(data).ok()?;
    let code: u16 = text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
    if code < 200 {
        return None;
    }
    let marker = format!("flood-{run}-");
    let at = text.find(&marker)? + marker.len();
    let n = text[at..].split('@').next()?.parse().ok()?;
    Some((code, n))
}

fn summary(calls: &[Call], duplicates: u64, send_errors: u64, start: Instant) -> serde_json::Value {
    let mut by_code: BTreeMap<u16, Vec<Duration>> = BTreeMap::new();
    for c in calls {
        if let Some((code, t)) = c.answer {
            by_code.entry(code).or_default().push(t);
        }
    }
    let answers: serde_json::Map<String, serde_json::Value> = by_code
        .iter_mut()
        .map(|(code, times)| {
            times.sort();
            let q = |p: f64| {
                let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
                times[i].as_secs_f64() * 1000.0
            };
            let within_10ms = times.partition_point(|t| *t <= Duration::from_millis(10));
            (
                code.to_string(),
                json!({
                    "count": times.len(),
                    "within_10ms": within_10ms,
                    "p50_ms": q(0.5),
                    "p99_ms": q(0.99),
                    "max_ms": q(1.0),
                }),
            )
        })
        .collect();
    json!({
        "sent": calls.len(),
        "unanswered": calls.iter().filter(|c| c.answer.is_none()).count(),
        "answers": answers,
        "retransmitted_answers": duplicates,
        "send_errors": send_errors,
        "elapsed_s": start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_final_answers_of_its_own_run_only() {
        let ok = "SIP/2.0 503 Service Unavailable\r\nCall-ID: flood-42-17@127.0.0.1\r\n\r\n";
        assert_eq!(final_answer(ok.as_bytes(), 42), Some((503, 17)));
        let other = "SIP/2.0 503 Service Unavailable\r\nCall-ID: flood-41-17@127.0.0.1\r\n\r\n";
        assert_eq!(final_answer(other.as_bytes(), 42), None);
        let trying = "SIP/2.0 100 Trying\r\nCall-ID: flood-42-17@127.0.0.1\r\n\r\n";
        assert_eq!(final_answer(trying.as_bytes(), 42), None);
    }

    #[test]
    fn the_ack_takes_the_answer_s_to_tag_and_the_invite_s_via() {
        let args = Args {
            target: "127.0.0.1:5060".parse().unwrap(),
            did: "0000".into(),
            rate: 1,
            seconds: 1,
            linger: 1,
        };
        let resp = "SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKflood1x0;received=127.0.0.1;rport=4000\r\nFrom: <sip:flood@127.0.0.1>;tag=f0\r\nTo: <sip:0000@127.0.0.1:5060>;tag=abc\r\nCall-ID: flood-1-0@127.0.0.1\r\nCSeq: 1 INVITE\r\n\r\n";
        let mut b = [0u8; 2048];
        let n = ack(
            &mut b,
            resp.as_bytes(),
            &args,
            "127.0.0.1:4000".parse().unwrap(),
            1,
            0,
        );
        let text = std::str::from_utf8(&b[..n]).unwrap();
        assert!(
            text.starts_with("ACK sip:0000@127.0.0.1:5060 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKflood1x0;rport\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: <sip:0000@127.0.0.1:5060>;tag=abc\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 1 ACK\r\n"), "{text}");
    }
}
