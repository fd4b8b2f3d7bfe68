//! rtpload: the RTP end of softswitch's load benchmarks (`benches/*.sh`).
//!
//! It listens where the SIPp scenarios' SDP points. Every stream reaching a
//! port (one per softswitch session, told apart by its source address) is
//! measured from kernel receive timestamps: packets, losses, and how far
//! each packet's spacing from the previous one of its call is from 20 ms
//! (the per-call send jitter the budget speaks of). With `--echo` it also
//! talks back: 50 G.711 frames a second to each stream's source, from the
//! same port, batched with sendmmsg; a bridge relays that audio to the
//! other leg, whose port measures it in turn. Load and measurement stay on
//! loopback and end after `--seconds`; one JSON summary line goes to stdout.

mod stream;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use media::mmsg::{self, RecvBatch, SendBatch};
use media::stats::JitterHistogram;
use serde_json::json;

use stream::{Counters, Observed, Stream, FRAME};

/// How often a port is drained.
const POLL: Duration = Duration::from_millis(1);

#[derive(Parser, Clone)]
#[command(
    name = "rtpload",
    about = "RTP receiver (per-call spacing, loss) and echo for load benchmarks"
)]
struct Args {
    /// UDP address to listen on; repeat for more ports (a thread each).
    #[arg(long, required = true)]
    listen: Vec<SocketAddr>,
    /// Send G.711 silence back to every stream heard, 50 packets a second.
    #[arg(long)]
    echo: bool,
    /// Stop after this many seconds and print the summary.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Measure spacing only from this many seconds on (calls still arriving before).
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// A line on stderr every this many seconds (0: none).
    #[arg(long, default_value_t = 5)]
    report_every: u64,
    /// Sockets (and threads) per listen address, sharing it with
    /// SO_REUSEPORT: the kernel keeps each stream on one of them.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// A stream silent this long has ended: no more echo to it.
    #[arg(long, default_value_t = 2)]
    idle_s: u64,
}

/// What one port saw.
#[derive(Default)]
struct PortReport {
    /// Over the measured window.
    window: Counters,
    streams: usize,
    active_peak: usize,
    echo_sent: u64,
    echo_dropped: u64,
    /// How late each echo tick began, over the window (its packets go out
    /// right after, in one batch): the talking side's own pacing, which a
    /// bridge relays as it comes. Tells a late relay from a starved
    /// generator.
    echo_late: JitterHistogram,
    /// How long the window lasted.
    window_s: f64,
}

/// SIGUSR1: measure from now on (whatever `--skip` said); SIGUSR2: stop
/// now and print the summary. Scripts whose plateau time is not known in
/// advance (agents registering first) mark the window this way.
static MEASURE: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    match sig {
        libc::SIGUSR1 => MEASURE.store(true, Ordering::Relaxed),
        _ => STOP.store(true, Ordering::Relaxed),
    }
}

fn signalled(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // SAFETY: the handler only stores to atomics (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGUSR1, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR2, on_signal as *const () as libc::sighandler_t);
    }
    let start = Instant::now();
    let mut threads = Vec::new();
    let mut bound = Vec::new();
    for (k, addr) in args.listen.iter().enumerate() {
        let mut at = *addr;
        for _ in 0..args.threads.max(1) {
            let sock = listen(at).with_context(|| format!("cannot listen on {at}"))?;
            at = sock.local_addr()?; // the port 0 asked for, now known
            let a = args.clone();
            threads.push((
                k,
                std::thread::Builder::new()
                    .name(format!("rtp-{}", at.port()))
                    .spawn(move || run_port(sock, &a, start))?,
            ));
        }
        bound.push(at);
    }
    // Scripts read the ports from this line (`--listen 127.0.0.1:0` works).
    eprintln!("{}", json!({"rtpload": "listening", "addrs": bound}));
    let mut total = PortReport::default();
    let mut per_port: Vec<PortReport> = bound.iter().map(|_| PortReport::default()).collect();
    for (k, t) in threads {
        let r = t
            .join()
            .map_err(|_| anyhow::anyhow!("port thread panicked"))??;
        per_port[k].add(&r);
        total.add(&r);
    }
    let ports: Vec<_> = per_port
        .iter()
        .zip(&bound)
        .map(|(r, addr)| {
            json!({
                "port": addr.port(),
                "streams": r.streams,
                "active_peak": r.active_peak,
                "packets": r.window.packets,
                "lost": r.window.lost,
                "jitter_p50_us": r.window.spacing.quantile_us(0.5),
                "jitter_p99_us": r.window.spacing.quantile_us(0.99),
                "jitter_p999_us": r.window.spacing.quantile_us(0.999),
                "jitter_max_us": r.window.spacing.summary().2,
            })
        })
        .collect();
    let secs = total.window_s.max(0.001);
    let w = &total.window;
    let h = &w.spacing;
    let expected = w.packets + w.lost;
    println!(
        "{}",
        json!({
            "streams": total.streams,
            "active_peak": total.active_peak,
            "window_s": secs,
            "packets": w.packets,
            "pps": (w.packets as f64 / secs).round(),
            "lost": w.lost,
            "loss_ratio": if expected > 0 { w.lost as f64 / expected as f64 } else { 0.0 },
            "reordered": w.reordered,
            "not_rtp": w.not_rtp,
            "spacing_samples": h.samples(),
            "jitter_p50_us": h.quantile_us(0.5),
            "jitter_p99_us": h.quantile_us(0.99),
            "jitter_p999_us": h.quantile_us(0.999),
            "jitter_max_us": h.summary().2,
            "echo_sent": total.echo_sent,
            "echo_dropped": total.echo_dropped,
            "echo_late_p99_us": total.echo_late.quantile_us(0.99),
            "echo_late_max_us": total.echo_late.summary().2,
            "ports": ports,
        })
    );
    Ok(())
}

impl PortReport {
    fn add(&mut self, r: &PortReport) {
        self.window.merge(&r.window);
        self.streams += r.streams;
        self.active_peak += r.active_peak;
        self.echo_sent += r.echo_sent;
        self.echo_dropped += r.echo_dropped;
        self.echo_late.merge(&r.echo_late);
        self.window_s = self.window_s.max(r.window_s);
    }
}

/// A non-blocking socket with kernel timestamps, large buffers, and
/// SO_REUSEPORT so more threads can share its port.
fn listen(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    let sock: UdpSocket = sock.into();
    let fd = sock.as_raw_fd();
    mmsg::enable_timestamps(fd).context("SO_TIMESTAMPNS")?;
    // Room for a whole tick of packets from thousands of calls.
    mmsg::set_receive_buffer(fd, 64 << 20).context("receive buffer")?;
    mmsg::set_send_buffer(fd, 16 << 20).context("send buffer")?;
    Ok(sock)
}

/// Receive (and echo) on one socket until the run ends.
fn run_port(sock: UdpSocket, args: &Args, start: Instant) -> anyhow::Result<PortReport> {
    let fd = sock.as_raw_fd();
    let port = sock.local_addr()?.port();
    let end = start + Duration::from_secs(args.seconds);
    let measure_from = start + Duration::from_secs(args.skip);
    let idle = Duration::from_secs(args.idle_s.max(1));
    let report_every = Duration::from_secs(args.report_every);
    let mut batch = RecvBatch::new(256, true);
    let mut out = SendBatch::new(256);
    let mut streams: HashMap<SocketAddr, Stream> = HashMap::new();
    let mut report = PortReport::default();
    // Before the window; the interval since the last stderr line.
    let mut warmup = Counters::default();
    let mut interval = Counters::default();
    let mut interval_sent = 0u64;
    let mut next_tick = Instant::now() + FRAME;
    let mut next_report = start + report_every;
    let mut errors = 0u32;
    let mut window_from: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= end || signalled(&STOP) {
            break;
        }
        if window_from.is_none() && (now >= measure_from || signalled(&MEASURE)) {
            window_from = Some(now);
        }
        // Sleep on a 1 ms clock, not on the socket: a sender that finds a
        // reader asleep on its socket pays for waking it, on every packet
        // (a cost a receiver on another machine would not put on softswitch).
        // Receive times come from the kernel, so they do not depend on it.
        let mut wake = end.min(now + POLL);
        if args.echo {
            wake = wake.min(next_tick);
        }
        std::thread::sleep(wake.saturating_duration_since(now));
        // A bounded drain, so the echo tick and the end are never starved.
        for _ in 0..64 {
            match batch.recv(fd) {
                Ok(n) => {
                    let now = Instant::now();
                    let c = if window_from.is_some() {
                        &mut report.window
                    } else {
                        &mut warmup
                    };
                    for i in 0..n {
                        let new = on_datagram(&batch, i, now, &mut streams, c, &mut interval);
                        report.streams += usize::from(new);
                    }
                    if n < batch.capacity() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors for echoes to streams that just ended.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && errors < 1000 => {
                    errors += 1
                }
                Err(e) => return Err(e).context("recvmmsg"),
            }
        }
        let now = Instant::now();
        if args.echo && now >= next_tick {
            if window_from.is_some() {
                report.echo_late.record(now - next_tick);
            }
            let mut queued = 0u64;
            let mut sent = 0u64;
            for (addr, s) in streams.iter_mut() {
                if now.duration_since(s.last_rx) > idle {
                    continue;
                }
                if out.is_full() {
                    sent += out.flush(fd).context("sendmmsg")? as u64;
                }
                out.push(*addr, |b| s.echo_frame(b));
                queued += 1;
            }
            sent += out.flush(fd).context("sendmmsg")? as u64;
            report.echo_sent += sent;
            report.echo_dropped += queued - sent;
            interval_sent += sent;
            next_tick += FRAME;
            if now > next_tick + FRAME * 5 {
                next_tick = now + FRAME; // fell behind: do not burst to catch up
            }
        }
        if !report_every.is_zero() && now >= next_report {
            let active = active(&streams, now, idle);
            report.active_peak = report.active_peak.max(active);
            let secs = report_every.as_secs_f64();
            eprintln!(
                "{}",
                json!({
                    "t_s": (now - start).as_secs(),
                    "port": port,
                    "active": active,
                    "rx_pps": (interval.packets as f64 / secs).round(),
                    "echo_pps": (interval_sent as f64 / secs).round(),
                    "lost": interval.lost,
                    "jitter_p99_us": interval.spacing.quantile_us(0.99),
                    "measuring": window_from.is_some(),
                })
            );
            interval = Counters::default();
            interval_sent = 0;
            next_report += report_every;
            streams.retain(|_, s| now.duration_since(s.last_rx) <= idle * 30);
        }
    }
    report.active_peak = report
        .active_peak
        .max(active(&streams, Instant::now(), idle));
    report.window_s = window_from.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Ok(report)
}

/// Streams heard within `idle` of `now`.
fn active(streams: &HashMap<SocketAddr, Stream>, now: Instant, idle: Duration) -> usize {
    streams
        .values()
        .filter(|s| now.duration_since(s.last_rx) <= idle)
        .count()
}

/// Count one datagram into the window (or warm-up) and interval counters;
/// true when it opened a stream.
fn on_datagram(
    batch: &RecvBatch,
    i: usize,
    now: Instant,
    streams: &mut HashMap<SocketAddr, Stream>,
    c: &mut Counters,
    interval: &mut Counters,
) -> bool {
    let (Some(src), Some(p)) = (batch.source(i), media::rtp::read(batch.data(i))) else {
        c.not_rtp += 1;
        return false;
    };
    let at = batch.received_at(i).unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    });
    let (seen, new) = if p.payload_type >= 96 {
        (Observed::default(), false) // telephone events: not audio frames
    } else {
        match streams.get_mut(&src) {
            Some(s) if s.ssrc == p.ssrc => (s.on_packet(&p, at, now), false),
            // New, or a new call from a port softswitch used before.
            _ => {
                streams.insert(src, Stream::new(&p, at, now));
                (Observed::default(), true)
            }
        }
    };
    c.add(&seen);
    interval.add(&seen);
    new
}
