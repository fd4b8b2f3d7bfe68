//! The kernel's floor for relaying RTP on this machine: how much CPU one
//! thread spends per packet to receive a datagram on one of N connected UDP
//! sockets and send it back out of the same socket, with nothing else
//! done. softswitch's bridged calls do this plus their own work (source
//! checks, RTP rewriting, DTMF, taps), so its cost per relayed packet
//! (`benches/load/bridged.sh`) is read against this floor.
//!
//! A pacer thread sends N/20 packets every millisecond (each socket one
//! packet every 20 ms, as a call leg does) and drains the echoes. The relay
//! thread wakes every millisecond, like a media worker under load, and
//! relays what came in one of three ways:
//! - `send`: no receiving; it sends N/20 packets a millisecond (the cost
//!   of `send(2)` alone, loopback delivery included);
//! - `epoll`: what the media engine does: ask epoll which sockets are
//!   ready, drain each with `recvmmsg(2)`, `send(2)` each packet back;
//! - `uring`: io_uring, a multishot receive armed once on every socket
//!   into a ring of provided buffers, and every send of a wake-up
//!   submitted in one system call.
//!
//! Loopback only, bounded: at most 60 s and 20,000 sockets.
//!   cargo run --release -p media --example relay_floor -- epoll 4000 5

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use media::load::thread_cpu_time;
use media::mmsg::{self, RecvBatch};

const PACKET: usize = 172; // G.711, 20 ms
const MS: Duration = Duration::from_millis(1);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: relay_floor send|epoll|uring SOCKETS [SECONDS]";
    let mode = args.get(1).context(usage)?.clone();
    let n: usize = args.get(2).context(usage)?.parse().context(usage)?;
    let secs: u64 = match args.get(3) {
        Some(s) => s.parse().context(usage)?,
        None => 5,
    };
    if !(20..=20_000).contains(&n) || !(1..=60).contains(&secs) {
        bail!("SOCKETS must be 20..=20000 and SECONDS 1..=60");
    }
    if !["send", "epoll", "uring"].contains(&mode.as_str()) {
        bail!("{usage}");
    }
    let r = measure(&mode, n, Duration::from_secs(secs))?;
    println!(
        "relay_floor {mode} sockets={n}: {} packets in {:.1} s, {:.0} pkt/s, \
         {:.2} us of CPU per packet, relay thread {:.0}% busy; offered {}, echoes back {}",
        r.relayed,
        r.wall.as_secs_f64(),
        r.relayed as f64 / r.wall.as_secs_f64(),
        r.cpu.as_nanos() as f64 / r.relayed.max(1) as f64 / 1000.0,
        r.cpu.as_secs_f64() / r.wall.as_secs_f64() * 100.0,
        r.offered,
        r.echoed,
    );
    Ok(())
}

/// One run's figures.
struct Report {
    /// Packets sent by the relay thread.
    relayed: u64,
    wall: Duration,
    /// The relay thread's CPU time.
    cpu: Duration,
    /// Packets the pacer sent to the relay sockets.
    offered: u64,
    /// Packets the pacer got back.
    echoed: u64,
}

fn measure(mode: &str, n: usize, length: Duration) -> anyhow::Result<Report> {
    let stop = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let pacer = UdpSocket::bind("127.0.0.1:0")?;
    // Room for every echo (as much as the process is allowed).
    mmsg::set_receive_buffer(pacer.as_raw_fd(), 64 << 20)?;
    pacer.set_nonblocking(true)?;
    let pacer_addr = pacer.local_addr()?;
    let relays = (0..n)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            s.connect(pacer_addr)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs: Vec<SocketAddr> = relays
        .iter()
        .map(|s| s.local_addr())
        .collect::<std::io::Result<_>>()?;
    let talk = mode != "send";
    let pacer_thread = {
        let (stop, echoed) = (stop.clone(), echoed.clone());
        std::thread::spawn(move || pace(&pacer, &addrs, talk, &stop, &echoed))
    };
    std::thread::sleep(Duration::from_millis(200));
    let fds: Vec<i32> = relays.iter().map(|s| s.as_raw_fd()).collect();
    let end = Instant::now() + length;
    let (t0, c0) = (Instant::now(), thread_cpu_time());
    let relayed = match mode {
        "send" => Ok(send_only(&fds, end)),
        "epoll" => epoll::relay(&fds, end),
        _ => uring::relay(&fds, end),
    };
    let (wall, cpu) = (t0.elapsed(), thread_cpu_time() - c0);
    stop.store(true, Ordering::Relaxed);
    let offered = pacer_thread.join().expect("pacer thread");
    Ok(Report {
        relayed: relayed?,
        wall,
        cpu,
        offered,
        echoed: echoed.load(Ordering::Relaxed),
    })
}

/// Every millisecond, one packet to the next N/20 sockets; drain echoes.
fn pace(
    s: &UdpSocket,
    addrs: &[SocketAddr],
    talk: bool,
    stop: &AtomicBool,
    echoed: &AtomicU64,
) -> u64 {
    let pkt = [0x80u8; PACKET];
    let mut buf = [0u8; 2048];
    let (mut next, mut offered) = (0usize, 0u64);
    let mut due = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if talk {
            for _ in 0..addrs.len() / 20 {
                let _ = s.send_to(&pkt, addrs[next]);
                next = (next + 1) % addrs.len();
                offered += 1;
            }
        }
        while s.recv(&mut buf).is_ok() {
            echoed.fetch_add(1, Ordering::Relaxed);
        }
        sleep_until(&mut due);
    }
    offered
}

fn sleep_until(due: &mut Instant) {
    *due += MS;
    let now = Instant::now();
    if *due > now {
        std::thread::sleep(*due - now);
    }
}

fn send_only(fds: &[i32], end: Instant) -> u64 {
    let pkt = [0x80u8; PACKET];
    let (mut next, mut sent) = (0usize, 0u64);
    let mut due = Instant::now();
    while Instant::now() < end {
        sleep_until(&mut due);
        for _ in 0..fds.len() / 20 {
            // SAFETY: a valid socket and buffer.
            unsafe { libc::send(fds[next], pkt.as_ptr().cast(), PACKET, 0) };
            next = (next + 1) % fds.len();
            sent += 1;
        }
    }
    sent
}

mod epoll {
    use super::*;
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};

    /// The media engine's way: epoll for readiness, recvmmsg per ready
    /// socket (batches of 8, as the engine), send(2) per packet.
    pub fn relay(fds: &[i32], end: Instant) -> anyhow::Result<u64> {
        let mut poll = Poll::new()?;
        for (i, fd) in fds.iter().enumerate() {
            poll.registry()
                .register(&mut SourceFd(fd), Token(i), Interest::READABLE)?;
        }
        let mut events = Events::with_capacity(1024);
        let mut batch = RecvBatch::new(8, false);
        let mut relayed = 0u64;
        let mut due = Instant::now();
        while Instant::now() < end {
            sleep_until(&mut due);
            loop {
                poll.poll(&mut events, Some(Duration::ZERO))?;
                let mut ready = 0;
                for ev in events.iter() {
                    ready += 1;
                    let fd = fds[ev.token().0];
                    while let Ok(k) = batch.recv(fd) {
                        for i in 0..k {
                            let d = batch.data(i);
                            // SAFETY: a valid socket and buffer.
                            unsafe { libc::send(fd, d.as_ptr().cast(), d.len(), 0) };
                            relayed += 1;
                        }
                        if k < batch.capacity() {
                            break;
                        }
                    }
                }
                if ready < events.capacity() {
                    break;
                }
            }
        }
        Ok(relayed)
    }
}

mod uring {
    use super::*;
    use io_uring::types::{BufRingEntry, Fd};
    use io_uring::{cqueue, opcode, IoUring};
    use std::sync::atomic::AtomicU16;

    const BUF: usize = 256;
    const BUFS: u16 = 8192;
    const GROUP: u16 = 0;
    const SEND: u64 = 1 << 40;
    const GETEVENTS: u32 = 1; // IORING_ENTER_GETEVENTS

    /// The kernel's ring of buffers it receives into (page-aligned memory
    /// shared with it) and the buffers themselves.
    struct Provided {
        ring: *mut BufRingEntry,
        bufs: Vec<u8>,
        tail: u16,
    }

    impl Provided {
        fn give(&mut self, bid: u16) {
            // SAFETY: `ring` holds BUFS entries; the index is masked.
            unsafe {
                let e = &mut *self.ring.add((self.tail & (BUFS - 1)) as usize);
                e.set_addr(self.bufs.as_mut_ptr().add(bid as usize * BUF) as u64);
                e.set_len(BUF as u32);
                e.set_bid(bid);
            }
            self.tail = self.tail.wrapping_add(1);
        }

        /// Let the kernel see the buffers given since the last publish.
        fn publish(&self) {
            // SAFETY: the tail field of the ring's first entry, which the
            // kernel reads atomically.
            unsafe {
                let tail = BufRingEntry::tail(self.ring) as *const AtomicU16;
                (*tail).store(self.tail, Ordering::Release);
            }
        }
    }

    pub fn relay(fds: &[i32], end: Instant) -> anyhow::Result<u64> {
        let mut ring: IoUring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(32_768)
            .build(8192)
            .context("io_uring setup (kernel 6.1 or later, not disabled)")?;
        let bytes = BUFS as usize * std::mem::size_of::<BufRingEntry>();
        // SAFETY: a fresh private anonymous mapping, page-aligned as the
        // kernel requires; it lives as long as the process.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mem == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        // Leaked, like the send slab below, never freed: receives stay
        // armed and sends may be in flight when the run ends, and the
        // kernel may still use the buffers after the ring is closed (its
        // teardown is asynchronous). A few MB per run; a process makes
        // one run (three in the smoke test).
        let provided: &mut Provided = Box::leak(Box::new(Provided {
            ring: mem.cast(),
            bufs: vec![0; BUFS as usize * BUF],
            tail: 0,
        }));
        // SAFETY: the ring memory stays mapped and unmoved while the ring
        // is in use.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(mem as u64, BUFS, GROUP, 0)
                .context("provided buffer ring (kernel 5.19 or later)")?
        };
        for bid in 0..BUFS {
            provided.give(bid);
        }
        provided.publish();
        // Send buffers: a send keeps its slot until its completion.
        const SLOTS: usize = 16_384;
        // Leaked (see above); one raw base pointer, as the kernel reads
        // the slots it was given while later ones are written.
        let slab: *mut u8 = Box::leak(vec![0u8; SLOTS * BUF].into_boxed_slice()).as_mut_ptr();
        let mut free: Vec<usize> = (0..SLOTS).collect();
        let mut queue: Vec<io_uring::squeue::Entry> =
            (0..fds.len()).map(|i| arm(fds[i], i)).collect();
        let mut relayed = 0u64;
        let mut due = Instant::now();
        while Instant::now() < end {
            sleep_until(&mut due);
            loop {
                submit(&mut ring, &mut queue)?;
                // SAFETY: no arguments passed.
                unsafe {
                    ring.submitter()
                        .enter::<libc::sigset_t>(0, 0, GETEVENTS, None)?
                };
                let mut seen = 0;
                for c in ring.completion() {
                    seen += 1;
                    let tag = c.user_data();
                    if tag & SEND != 0 {
                        free.push((tag & !SEND) as usize);
                        relayed += u64::from(c.result() > 0);
                        continue;
                    }
                    let i = tag as usize;
                    if !cqueue::more(c.flags()) {
                        queue.push(arm(fds[i], i));
                    }
                    let Some(bid) = cqueue::buffer_select(c.flags()) else {
                        continue;
                    };
                    let len = c.result().max(0) as usize;
                    if let Some(slot) = free.pop() {
                        let from = &provided.bufs[bid as usize * BUF..][..len.min(BUF)];
                        // SAFETY: a free slot (no send in flight uses it)
                        // of the leaked slab, BUF bytes long.
                        let to = unsafe { slab.add(slot * BUF) };
                        unsafe { std::ptr::copy_nonoverlapping(from.as_ptr(), to, from.len()) };
                        queue.push(
                            opcode::Send::new(Fd(fds[i]), to, from.len() as u32)
                                .build()
                                .user_data(SEND | slot as u64),
                        );
                    }
                    provided.give(bid);
                }
                provided.publish();
                if seen == 0 {
                    break;
                }
            }
        }
        Ok(relayed)
    }

    fn arm(fd: i32, i: usize) -> io_uring::squeue::Entry {
        opcode::RecvMulti::new(Fd(fd), GROUP)
            .build()
            .user_data(i as u64)
    }

    /// Submit everything queued, a ring's worth per system call.
    fn submit(ring: &mut IoUring, queue: &mut Vec<io_uring::squeue::Entry>) -> anyhow::Result<()> {
        for e in queue.drain(..) {
            if ring.submission().is_full() {
                ring.submit()?;
            }
            // SAFETY: every buffer an entry points to (a send slot) stays
            // untouched until its completion is reaped.
            unsafe { ring.submission().push(&e).expect("room just made") };
        }
        ring.submit()?;
        Ok(())
    }
}

/// Run by `cargo test` (the example is declared with `test = true`): a
/// second in each mode with a hundred sockets, so the tool does not rot.
/// Nothing about speed is asserted, only that packets went round.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_relays() {
        for mode in ["send", "epoll", "uring"] {
            let r = match measure(mode, 100, Duration::from_secs(1)) {
                Err(e) if mode == "uring" && format!("{e:#}").contains("io_uring setup") => {
                    // A kernel or container without io_uring: the tool says so.
                    eprintln!("io_uring unavailable here: {e:#}");
                    continue;
                }
                r => r.unwrap_or_else(|e| panic!("{mode}: {e:#}")),
            };
            // 100 sockets, 5 packets a millisecond, for a second.
            assert!(r.relayed > 1_000, "{mode}: {} relayed", r.relayed);
            assert!(r.echoed > 0, "{mode}: the pacer got packets back");
            assert!(
                r.echoed <= r.relayed,
                "{mode}: {} > {}",
                r.echoed,
                r.relayed
            );
            assert!(!r.cpu.is_zero(), "{mode}");
        }
    }
}
