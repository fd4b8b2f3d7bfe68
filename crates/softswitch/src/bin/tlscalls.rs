//! tlscalls: whole calls (INVITE, 200, ACK, BYE, 200) over UDP or over TLS
//! with the same code, for `benches/load/tls_cps.sh`: what SIP over TLS
//! costs against UDP in one run. Debian's SIPp has no TLS, hence this.
//!
//! `--concurrency` workers each place their share of `--calls` one after
//! the other, on one UDP socket or one TLS connection each (as a trunk
//! keeps its connection), and time each INVITE to its 200. Loopback only,
//! bounded: every wait ends after `--timeout-ms`. One JSON summary line
//! goes to stdout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use rustls::pki_types::pem::PemObject;
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    Udp,
    Tls,
}

#[derive(Parser)]
#[command(name = "tlscalls", about = "Whole calls over UDP or TLS, timed")]
struct Args {
    /// softswitch's SIP address for this transport.
    #[arg(long)]
    target: SocketAddr,
    #[arg(long, value_enum)]
    transport: Transport,
    /// The server's certificate (or its authority), PEM: for TLS.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Calls in all.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Calls at once (one worker, and one connection, each).
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// The number called.
    #[arg(long, default_value = "7300")]
    did: String,
    /// The longest wait for any answer.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// One worker's link to softswitch: messages out, whole messages in.
enum Link {
    Udp(UdpSocket),
    Tls(
        Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
        Vec<u8>,
    ),
}

impl Link {
    fn send(&mut self, msg: &str, to: SocketAddr) -> std::io::Result<()> {
        match self {
            Link::Udp(s) => s.send_to(msg.as_bytes(), to).map(|_| ()),
            Link::Tls(s, _) => s.write_all(msg.as_bytes()),
        }
    }

    /// The next whole message, or `None` at the deadline.
    fn recv(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.checked_duration_since(Instant::now())?;
        match self {
            Link::Udp(s) => {
                s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .ok()?;
                let mut buf = [0u8; 8192];
                let (n, _) = s.recv_from(&mut buf).ok()?;
                Some(String::from_utf8_lossy(&buf[..n]).into_owned())
            }
            Link::Tls(s, buf) => loop {
                if let Some(len) = whole(buf) {
                    let msg = String::from_utf8_lossy(&buf[..len]).into_owned();
                    buf.drain(..len);
                    return Some(msg);
                }
                let left = deadline.checked_duration_since(Instant::now())?;
                s.sock
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .ok()?;
                let mut chunk = [0u8; 8192];
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            },
        }
    }

    /// Messages until a final response to `cseq` of `call_id`.
    fn final_response(&mut self, call_id: &str, cseq: &str, deadline: Instant) -> Option<String> {
        loop {
            let m = self.recv(deadline)?;
            let ours = header(&m, "Call-ID") == Some(call_id) && header(&m, "CSeq") == Some(cseq);
            if ours && m.starts_with("SIP/2.0 ") && !m.starts_with("SIP/2.0 1") {
                return Some(m);
            }
        }
    }
}

/// The length of the first whole message in `buf`, by Content-Length.
fn whole(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let len: usize = header(head, "Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (buf.len() >= end + len).then_some(end + len)
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn tls_config(ca: &PathBuf) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("{}", ca.display()))?
    {
        roots.add(cert?)?;
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    ))
}

/// What one worker did: setup times of its answered calls, and failures.
struct Done {
    setups: Vec<Duration>,
    failed: usize,
}

/// Place `n` calls one after the other.
fn worker(args: &Args, id: usize, n: usize, tls: Option<Arc<rustls::ClientConfig>>) -> Done {
    let mut done = Done {
        setups: Vec::with_capacity(n),
        failed: 0,
    };
    let connect = || -> anyhow::Result<Link> {
        Ok(match &tls {
            None => Link::Udp(UdpSocket::bind("127.0.0.1:0")?),
            Some(cfg) => {
                let tcp = TcpStream::connect(args.target)?;
                tcp.set_nodelay(true)?;
                let name = rustls::pki_types::ServerName::IpAddress(args.target.ip().into());
                let conn = rustls::ClientConnection::new(cfg.clone(), name)?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                while s.conn.is_handshaking() {
                    s.conn.complete_io(&mut s.sock)?;
                }
                Link::Tls(Box::new(s), Vec::new())
            }
        })
    };
    let (mut link, rtp) = match (connect(), UdpSocket::bind("127.0.0.1:0")) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) => {
            eprintln!("worker {id}: {e:#}");
            done.failed = n;
            return done;
        }
        (_, Err(e)) => {
            eprintln!("worker {id}: RTP socket: {e}");
            done.failed = n;
            return done;
        }
    };
    let local = match &link {
        Link::Udp(s) => s.local_addr().ok(),
        Link::Tls(s, _) => s.sock.local_addr().ok(),
    }
    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9)));
    let rtp_port = rtp.local_addr().map(|a| a.port()).unwrap_or(9);
    let (via, param) = match args.transport {
        Transport::Udp => ("UDP", ""),
        Transport::Tls => ("TLS", ";transport=tls"),
    };
    let wait = Duration::from_millis(args.timeout_ms);
    let target = args.target;
    let did = &args.did;
    for i in 0..n {
        let call_id = format!("tlscalls-{id}-{i}-{}", std::process::id());
        let sdp = format!(
            "v=0\r\no=tlscalls 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        );
        let invite = format!(
            "INVITE sip:{did}@{target}{param} SIP/2.0\r\nVia: SIP/2.0/{via} {local};branch=z9hG4bKi{id}x{i};rport\r\nMax-Forwards: 70\r\nFrom: <sip:0612345678@{local}>;tag=f{id}x{i}\r\nTo: <sip:{did}@{target}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:load@{local}{param}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        let t0 = Instant::now();
        if link.send(&invite, target).is_err() {
            done.failed += 1;
            continue;
        }
        let Some(resp) = link.final_response(&call_id, "1 INVITE", Instant::now() + wait) else {
            done.failed += 1;
            continue;
        };
        if !resp.starts_with("SIP/2.0 200") {
            done.failed += 1;
            continue;
        }
        let setup = t0.elapsed();
        let to = header(&resp, "To").unwrap_or_default().to_string();
        let in_dialog = |method: &str, cseq: u32, branch: &str| {
            format!(
                "{method} sip:{did}@{target}{param} SIP/2.0\r\nVia: SIP/2.0/{via} {local};branch=z9hG4bK{branch}{id}x{i};rport\r\nMax-Forwards: 70\r\nFrom: <sip:0612345678@{local}>;tag=f{id}x{i}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let ok = link.send(&in_dialog("ACK", 1, "a"), target).is_ok()
            && link.send(&in_dialog("BYE", 2, "b"), target).is_ok()
            && link
                .final_response(&call_id, "2 BYE", Instant::now() + wait)
                .is_some_and(|r| r.starts_with("SIP/2.0 200"));
        if ok {
            done.setups.push(setup);
        } else {
            done.failed += 1;
        }
    }
    done
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.target.ip().is_loopback() {
        bail!("load goes to loopback addresses only, not {}", args.target);
    }
    let tls = match (args.transport, &args.ca) {
        (Transport::Tls, Some(ca)) => Some(tls_config(ca)?),
        (Transport::Tls, None) => bail!("--transport tls needs --ca (the server's certificate)"),
        (Transport::Udp, _) => None,
    };
    let workers = args.concurrency.clamp(1, args.calls.max(1));
    let started = Instant::now();
    let results: Vec<Done> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let n = args.calls / workers + usize::from(w < args.calls % workers);
                let (args, tls) = (&args, tls.clone());
                s.spawn(move || worker(args, w, n, tls))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut setups: Vec<Duration> = results.iter().flat_map(|d| d.setups.clone()).collect();
    setups.sort();
    let failed: usize = results.iter().map(|d| d.failed).sum();
    let pct = |p: f64| -> f64 {
        setups
            .get(((setups.len() as f64 * p) as usize).min(setups.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let transport = match args.transport {
        Transport::Udp => "udp",
        Transport::Tls => "tls",
    };
    println!(
        "{}",
        json!({
            "transport": transport,
            "calls": args.calls,
            "ok": setups.len(),
            "failed": failed,
            "concurrency": workers,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "calls_per_s": ((setups.len() as f64 / seconds) * 10.0).round() / 10.0,
            "setup_ms_p50": (pct(0.5) * 100.0).round() / 100.0,
            "setup_ms_p99": (pct(0.99) * 100.0).round() / 100.0,
        })
    );
    Ok(())
}
