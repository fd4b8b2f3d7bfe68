//! The media engine: a few worker threads, each owning many RTP sessions.
//! One paced 20 ms tick per worker sends the next frame of every session
//! (no task or timer per packet); received packets are read as they come
//! (mio readiness) and turned into DTMF events. Send jitter is measured on
//! every tick.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::mpsc::UnboundedSender;

use crate::bridge::{Relay, Scratch, MAX_RELAY};
use crate::codec::{Codec, FRAME_SAMPLES};
use crate::dtmf::goertzel::InbandDetector;
use crate::dtmf::rfc4733::Rfc4733Detector;
use crate::dtmf::DtmfEvent;
use crate::load::{thread_cpu_time, LoadGauge, Meter, WorkerLoad};
use crate::mmsg::RecvBatch;
use crate::pacer::Pacer;
use crate::ports::PortPool;
use crate::priority::{self, Priority};
use crate::prompt::Prompt;
use crate::record::{ChannelBuffer, RecMsg, RecordSink};
use crate::rtp::{self, RtpSender, MAX_PACKET};
use crate::stats::{JitterHistogram, MediaStats, PacketCounts};

/// Pacing interval: one G.711 frame.
pub const TICK: Duration = Duration::from_millis(20);
/// A tick is cut into this many slots, and each session sends in its own
/// slot: a worker sends a twentieth of its sessions every millisecond
/// instead of all of them at once, so a call's packet leaves at the same
/// moment of every tick whatever the other calls do.
pub const SLOTS: usize = 20;
const SLOT_PERIOD: Duration = Duration::from_micros(20_000 / SLOTS as u64);
/// Datagrams read from one socket per system call (recvmmsg).
const RECV_BATCH: usize = 8;
/// New sessions fill a slot up to this many before the next is used, so a
/// lightly loaded worker wakes once a tick, not once a slot.
const SLOT_FILL: usize = 64;
/// A bridged leg the peer sent nothing to for this many ticks gets silence.
const BRIDGE_QUIET_TICKS: u32 = 5;
const WAKER: Token = Token(usize::MAX);
const PACER: Token = Token(usize::MAX - 1);
const SOCKETS: Token = Token(usize::MAX - 2);

/// Engine settings.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Address RTP sockets bind to and SDP advertises.
    pub ip: IpAddr,
    pub port_min: u16,
    pub port_max: u16,
    /// Worker threads (0 = one per core).
    pub workers: usize,
    /// Hang-up hint when RTP stops for this long after it had flowed
    /// (`None` = never).
    pub rtp_timeout: Option<Duration>,
    /// Scheduling class asked for the worker threads.
    pub priority: Priority,
    /// Share of its time (0..1] a worker may spend working before it
    /// takes no new calls (see [`crate::load`]); `None`: no limit.
    pub busy_limit: Option<f64>,
}

/// What a session is told to do with its peer, from SDP negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    pub codec: Codec,
    pub payload_type: u8,
    pub dtmf_payload_type: Option<u8>,
    pub remote: SocketAddr,
    /// Latch on the first source that sends to us (callers behind NAT).
    pub symmetric: bool,
    /// Decode audio and look for DTMF tones in it.
    pub inband_dtmf: bool,
    /// We may send (not on hold / recvonly).
    pub send: bool,
    /// Send silence frames when nothing plays (keeps NAT bindings and RTP
    /// inactivity timers of trunks happy).
    pub send_silence: bool,
}

/// Why a play ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayEnd {
    Completed,
    BargeIn,
    Stopped,
}

/// Events a session reports to its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    PlayFinished {
        play_id: u64,
        frames_sent: usize,
        frames_total: usize,
        end: PlayEnd,
    },
    Dtmf(DtmfEvent),
    /// RTP had flowed and stopped for longer than the configured timeout.
    RtpTimeout,
}

enum Cmd {
    Add {
        id: u64,
        socket: mio::net::UdpSocket,
        port: u16,
        events: UnboundedSender<MediaEvent>,
    },
    Start(u64, SessionParams),
    Play {
        id: u64,
        prompt: Arc<Prompt>,
        barge_in: bool,
        play_id: u64,
    },
    StopPlay(u64),
    /// Relay each session's received packets out of the other (same worker).
    Bridge(u64, u64),
    Unbridge(u64),
    /// Record what `caller` and `agent` receive into a stereo WAV.
    Record {
        caller: u64,
        agent: u64,
        path: std::path::PathBuf,
    },
    /// Stop the recording `caller` is part of.
    StopRecord(u64),
    /// `listener` hears `caller` and `agent`, mixed (silent monitoring).
    Listen {
        caller: u64,
        agent: u64,
        listener: u64,
    },
    Close(u64),
}

/// Commands waiting for a worker. A mutex, not a lock-free channel: a
/// real-time worker that preempted a sender in the middle of a lock-free
/// push would spin on it while the sender cannot run (`sched_yield` does
/// not hand the core to a normal thread); a mutex makes the worker sleep.
#[derive(Default)]
struct Inbox {
    queue: Mutex<Vec<Cmd>>,
}

#[derive(Clone)]
struct WorkerHandle {
    inbox: Arc<Inbox>,
    waker: Arc<Waker>,
}

impl WorkerHandle {
    fn send(&self, cmd: Cmd) {
        self.inbox.queue.lock().expect("media inbox lock").push(cmd);
        let _ = self.waker.wake();
    }
}

/// Handle on the running engine; cheap to clone.
#[derive(Clone)]
pub struct MediaEngine {
    cfg: MediaConfig,
    workers: Arc<Vec<WorkerHandle>>,
    ports: Arc<PortPool>,
    next_id: Arc<AtomicU64>,
    next_worker: Arc<AtomicUsize>,
    pub stats: Arc<MediaStats>,
}

/// A conversation whose audio is taken on a worker: recorded, listened
/// to by supervisors (silent monitoring), or both.
struct Tapped {
    caller: u64,
    agent: u64,
    recording: bool,
    /// Sessions that hear both sides, mixed.
    listeners: Vec<u64>,
}

impl MediaEngine {
    pub fn start(cfg: MediaConfig) -> io::Result<MediaEngine> {
        if cfg.port_max <= cfg.port_min {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("RTP port range {}-{} is empty", cfg.port_min, cfg.port_max),
            ));
        }
        let n = if cfg.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.workers
        };
        let ports = Arc::new(PortPool::new(cfg.port_min, cfg.port_max));
        let stats = Arc::new(MediaStats {
            workers: (0..n).map(|_| WorkerLoad::default()).collect(),
            ..MediaStats::default()
        });
        let recorder = RecordSink::start()?;
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let pacer = Pacer::new()?;
            pacer.register(poll.registry(), PACER)?;
            let inbox = Arc::new(Inbox::default());
            let worker = Worker {
                index: i,
                gauge: LoadGauge::new(cfg.busy_limit),
                // Set again on the worker's own thread (see run).
                meter: Meter::new(Instant::now(), Duration::ZERO),
                poll,
                sockets: Poll::new()?,
                ready: Events::with_capacity(1024),
                direct: false,
                inbox: inbox.clone(),
                sessions: HashMap::new(),
                ports: ports.clone(),
                stats: stats.clone(),
                rtp_timeout: cfg.rtp_timeout,
                jitter: JitterHistogram::default(),
                pending: JitterHistogram::default(),
                offset: JitterHistogram::default(),
                scratch: Scratch::default(),
                relay_buf: Box::new([0u8; MAX_RELAY]),
                counts: PacketCounts::default(),
                recorder: recorder.clone(),
                tapped: Vec::new(),
                pacer,
                slots: vec![Vec::new(); SLOTS],
                rx_batch: RecvBatch::new(RECV_BATCH, false),
                pcm: Vec::with_capacity(FRAME_SAMPLES * 2),
            };
            let want = cfg.priority;
            std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || {
                    let got = priority::apply_to_current_thread(want);
                    if got != want && i == 0 {
                        tracing::warn!(
                            asked = ?want,
                            got = ?got,
                            "media worker priority not granted (needs CAP_SYS_NICE or RLIMIT_RTPRIO); packet spacing suffers on a busy machine"
                        );
                    }
                    worker.run()
                })?;
            workers.push(WorkerHandle { inbox, waker });
        }
        tracing::info!(workers = n, ports = ports.total(), ip = %cfg.ip, "media engine started");
        Ok(MediaEngine {
            cfg,
            workers: Arc::new(workers),
            ports,
            next_id: Arc::new(AtomicU64::new(1)),
            next_worker: Arc::new(AtomicUsize::new(0)),
            stats,
        })
    }

    /// Free ports left.
    pub fn ports_available(&self) -> usize {
        self.ports.available()
    }

    /// Open a session on a fresh port. It sends nothing until started.
    /// Workers take new sessions in turn, passing over overloaded ones
    /// while any other is not.
    pub fn open(&self, events: UnboundedSender<MediaEvent>) -> io::Result<MediaSession> {
        let n = self.workers.len();
        let first = self.next_worker.fetch_add(1, Ordering::Relaxed) % n;
        let w = (0..n)
            .map(|k| (first + k) % n)
            .find(|&w| !self.stats.workers[w].overloaded())
            .unwrap_or(first);
        self.open_on(w, events)
    }

    /// Every worker is overloaded: new calls should be refused (503) so
    /// the calls in progress keep their packet spacing.
    pub fn overloaded(&self) -> bool {
        self.stats.workers.iter().all(WorkerLoad::overloaded)
    }

    /// Open a session on the worker of `other`, so the two can be bridged.
    pub fn open_beside(
        &self,
        other: MediaSessionRef,
        events: UnboundedSender<MediaEvent>,
    ) -> io::Result<MediaSession> {
        self.open_on(other.worker_index, events)
    }

    /// Record a bridged call: what `caller` receives on the left channel,
    /// what `agent` receives on the right, into `path` (a stereo WAV,
    /// `path.part` until the recording ends). Both sessions must be on one
    /// worker (see [`MediaEngine::open_beside`]). The recording ends with
    /// [`MediaEngine::stop_recording`] or when either session closes.
    pub fn record(
        &self,
        caller: &MediaSessionRef,
        agent: &MediaSessionRef,
        path: std::path::PathBuf,
    ) {
        if caller.worker_index != agent.worker_index {
            tracing::error!(file = %path.display(), "recording refused: sessions on different workers");
            return;
        }
        self.workers[caller.worker_index].send(Cmd::Record {
            caller: caller.id,
            agent: agent.id,
            path,
        });
    }

    pub fn stop_recording(&self, caller: &MediaSessionRef) {
        self.workers[caller.worker_index].send(Cmd::StopRecord(caller.id));
    }

    /// Silent monitoring: `listener` (a session opened beside `caller`)
    /// hears the conversation of `caller` and `agent`, both sides mixed;
    /// nothing it sends reaches them. Ends when any of the three closes.
    pub fn listen(
        &self,
        caller: &MediaSessionRef,
        agent: &MediaSessionRef,
        listener: &MediaSessionRef,
    ) {
        let w = caller.worker_index;
        if agent.worker_index != w || listener.worker_index != w {
            tracing::error!("monitoring refused: sessions on different workers");
            return;
        }
        self.workers[w].send(Cmd::Listen {
            caller: caller.id,
            agent: agent.id,
            listener: listener.id,
        });
    }

    fn open_on(&self, w: usize, events: UnboundedSender<MediaEvent>) -> io::Result<MediaSession> {
        // A port may be taken by another program: try a few.
        let mut last_err = None;
        for _ in 0..16 {
            let Some(port) = self.ports.take() else {
                tracing::warn!(
                    sessions = self.stats.sessions.load(Ordering::Relaxed),
                    ports = self.ports.total(),
                    "RTP port range exhausted"
                );
                return Err(io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    "no free RTP port in the configured range",
                ));
            };
            match UdpSocket::bind(SocketAddr::new(self.cfg.ip, port)) {
                Ok(sock) => {
                    sock.set_nonblocking(true)?;
                    let local = sock.local_addr()?;
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let worker = self.workers[w].clone();
                    worker.send(Cmd::Add {
                        id,
                        socket: mio::net::UdpSocket::from_std(sock),
                        port,
                        events,
                    });
                    return Ok(MediaSession {
                        id,
                        local,
                        worker,
                        worker_index: w,
                    });
                }
                Err(e) => {
                    self.ports.give_back(port);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no RTP port could be bound")))
    }
}

/// One call leg's RTP session. Dropping it closes the socket and frees the port.
pub struct MediaSession {
    id: u64,
    local: SocketAddr,
    worker: WorkerHandle,
    worker_index: usize,
}

impl MediaSession {
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Start or update (re-INVITE, hold) the session.
    pub fn start(&self, params: SessionParams) {
        self.worker.send(Cmd::Start(self.id, params));
    }

    /// Play a prompt from its start; replaces what was playing.
    pub fn play(&self, prompt: Arc<Prompt>, barge_in: bool, play_id: u64) {
        self.worker.send(Cmd::Play {
            id: self.id,
            prompt,
            barge_in,
            play_id,
        });
    }

    pub fn stop_play(&self) {
        self.worker.send(Cmd::StopPlay(self.id));
    }

    /// Bridge with a session opened [`MediaEngine::open_beside`] this one:
    /// what either receives goes out of the other; prompts stop. Closing
    /// either session ends the bridge.
    pub fn bridge(&self, other: &MediaSessionRef) {
        if other.worker_index != self.worker_index {
            tracing::error!(
                a = self.id,
                b = other.id,
                "bridge refused: sessions on different workers"
            );
            return;
        }
        self.worker.send(Cmd::Bridge(self.id, other.id));
    }

    /// End this session's bridge (both directions).
    pub fn unbridge(&self) {
        self.worker.send(Cmd::Unbridge(self.id));
    }

    /// What another leg needs to bridge with this one.
    pub fn reference(&self) -> MediaSessionRef {
        MediaSessionRef {
            id: self.id,
            worker_index: self.worker_index,
        }
    }
}

/// Names a session for bridging, without owning it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaSessionRef {
    id: u64,
    worker_index: usize,
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.worker.send(Cmd::Close(self.id));
    }
}

struct Playing {
    prompt: Arc<Prompt>,
    frame: usize,
    barge_in: bool,
    play_id: u64,
}

struct Session {
    socket: mio::net::UdpSocket,
    port: u16,
    /// Which slot of the tick it sends in.
    slot: usize,
    events: UnboundedSender<MediaEvent>,
    params: Option<SessionParams>,
    /// Where we send and accept from (SDP address, or the latched source).
    remote: Option<SocketAddr>,
    latched: bool,
    /// The socket is connected to this address (the remote, once settled):
    /// the kernel then keeps its route and filters sources, which makes
    /// each send cheaper.
    connected: Option<SocketAddr>,
    tx: RtpSender,
    sent_last_tick: bool,
    playing: Option<Playing>,
    rfc4733: Rfc4733Detector,
    inband: Option<InbandDetector>,
    last_rx: Option<Instant>,
    timed_out: bool,
    /// Bridged: what we receive goes out of the peer session.
    relay: Option<Relay>,
    /// Ticks since the peer last relayed a packet out of this session.
    relay_idle: u32,
    /// Recorded: what we receive, decoded, waiting for the next tick.
    tap: Option<ChannelBuffer>,
    /// A supervisor's leg: it gets the mix of a conversation, no prompts.
    listening: bool,
}

impl Session {
    /// Connect the socket to the remote once it can no longer move: at
    /// once without latching, else when the first packet latched it. A
    /// re-INVITE to a new address connects again.
    fn settle(&mut self) {
        let Some(params) = self.params else {
            return;
        };
        if params.symmetric && !self.latched {
            return;
        }
        let Some(to) = self.remote else {
            return;
        };
        // A held call's 0.0.0.0 is no address to connect to.
        if to.ip().is_unspecified() || to.port() == 0 {
            return;
        }
        if self.connected != Some(to) {
            match self.socket.connect(to) {
                Ok(()) => self.connected = Some(to),
                Err(e) => {
                    tracing::debug!(error = %e, remote = %to, "RTP socket not connected");
                    self.connected = None;
                }
            }
        }
    }

    /// Send one packet; true when it went out. A full socket buffer drops
    /// it (a paced sender never waits) and is counted; other errors are
    /// ICMP reports of earlier sends.
    fn send(&self, data: &[u8], to: SocketAddr, counts: &mut PacketCounts) -> bool {
        let r = if self.connected == Some(to) {
            self.socket.send(data)
        } else {
            self.socket.send_to(data, to)
        };
        match r {
            Ok(_) => true,
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    counts.send_dropped += 1;
                }
                false
            }
        }
    }

    /// A silence frame in the session's codec, built into `packet`.
    fn silence(&mut self, params: &SessionParams, packet: &mut [u8; MAX_PACKET]) -> usize {
        let silence = [params.codec.silence(); FRAME_SAMPLES];
        self.tx.build(params.payload_type, &silence, packet)
    }

    /// One datagram from `src`: check its source, detect DTMF, feed the
    /// tap. A bridged session hands back what relaying it needs (its relay
    /// state is taken out while the peer is borrowed, then put back).
    fn on_datagram<'d>(
        &mut self,
        data: &'d [u8],
        src: Option<SocketAddr>,
        now: Instant,
        pcm: &mut Vec<i16>,
        counts: &mut PacketCounts,
    ) -> Option<(rtp::Received<'d>, SessionParams, Relay)> {
        counts.received += 1;
        let params = self.params?; // not negotiated yet
        if params.symmetric && !self.latched && src.is_some() {
            self.remote = src;
            self.latched = true;
            self.settle();
        } else if src.is_none() || self.remote != src {
            counts.dropped_source += 1;
            return None;
        }
        let Some(pkt) = rtp::read(data) else {
            counts.dropped_malformed += 1;
            return None;
        };
        self.last_rx = Some(now);
        self.timed_out = false;
        if Some(pkt.payload_type) == params.dtmf_payload_type {
            if let Some(ev) = self
                .rfc4733
                .on_packet(pkt.timestamp, pkt.marker, pkt.payload)
            {
                self.on_digit(ev);
            }
        } else if pkt.payload_type == params.payload_type
            && (self.inband.is_some() || self.tap.is_some())
        {
            pcm.clear();
            params.codec.decode(pkt.payload, pcm);
            if let Some(tap) = self.tap.as_mut() {
                tap.push(pcm);
            }
            if let Some(det) = self.inband.as_mut() {
                for ev in det.feed(pcm) {
                    self.on_digit(ev);
                }
            }
        }
        self.relay.take().map(|r| (pkt, params, r))
    }

    /// This tick's frame: the prompt's next one, else silence (if asked
    /// for). Bridged and listening sessions send as audio comes instead.
    /// True when a packet went out.
    fn send_frame(&mut self, packet: &mut [u8; MAX_PACKET], counts: &mut PacketCounts) -> bool {
        self.tx.advance(FRAME_SAMPLES as u32);
        let (Some(params), Some(remote)) = (self.params, self.remote) else {
            return false;
        };
        if self.listening {
            return false;
        }
        if !params.send {
            self.sent_last_tick = false;
            return false;
        }
        if self.relay.is_some() {
            // Bridged: the peer's packets go out as they come. When the
            // peer is quiet (a phone with voice activity detection, a hold
            // without music, a leg not talking yet), silence keeps this
            // leg's RTP flowing for NAT bindings and the far end's
            // inactivity timer.
            self.relay_idle = self.relay_idle.saturating_add(1);
            if self.relay_idle <= BRIDGE_QUIET_TICKS || !params.send_silence {
                return false;
            }
            if self.relay_idle == BRIDGE_QUIET_TICKS + 1 {
                self.tx.mark_spurt();
            }
            let len = self.silence(&params, packet);
            return self.send(&packet[..len], remote, counts);
        }
        let frame = match self.playing.as_mut() {
            Some(p) => p
                .prompt
                .frame(params.codec, p.frame)
                .inspect(|_| p.frame += 1),
            None => None,
        };
        let len = match frame {
            Some(f) => self.tx.build(params.payload_type, f, packet),
            None => {
                if self.playing.is_some() {
                    self.finish_play(PlayEnd::Completed);
                }
                if !params.send_silence {
                    if self.sent_last_tick {
                        self.tx.mark_spurt();
                    }
                    self.sent_last_tick = false;
                    return false;
                }
                self.silence(&params, packet)
            }
        };
        let sent = self.send(&packet[..len], remote, counts);
        self.sent_last_tick = true;
        // A finished prompt reports at once, not a tick later.
        if let Some(p) = self.playing.as_ref() {
            if p.frame >= p.prompt.frame_count() {
                self.finish_play(PlayEnd::Completed);
            }
        }
        sent
    }

    fn finish_play(&mut self, end: PlayEnd) {
        if let Some(p) = self.playing.take() {
            let _ = self.events.send(MediaEvent::PlayFinished {
                play_id: p.play_id,
                frames_sent: p.frame,
                frames_total: p.prompt.frame_count(),
                end,
            });
        }
    }

    /// The digit goes out before the end of the play it cuts, so whoever
    /// waits on the play finds the digit already there.
    fn on_digit(&mut self, ev: DtmfEvent) {
        let _ = self.events.send(MediaEvent::Dtmf(ev));
        if self.playing.as_ref().is_some_and(|p| p.barge_in) {
            self.finish_play(PlayEnd::BargeIn);
        }
    }
}

struct Worker {
    /// Its place in the engine's list (and in `stats.workers`).
    index: usize,
    gauge: LoadGauge,
    meter: Meter,
    /// The worker sleeps on this one: its waker and its pacer only.
    poll: Poll,
    /// RTP sockets, asked (without waiting) what is ready each time the
    /// worker wakes. Under load (`SLOT_FILL` sessions and more) a packet
    /// does not wake the worker by itself: it waits for the next slot, at
    /// most 1 ms, and every socket ready by then is read in one go (waking
    /// per packet cost 10 us a relayed packet, reading per slot 3.2 us).
    /// Below that, this poll is nested in `poll` and a packet wakes the
    /// worker at once.
    sockets: Poll,
    ready: Events,
    /// `sockets` is nested in `poll` (light load).
    direct: bool,
    inbox: Arc<Inbox>,
    sessions: HashMap<u64, Session>,
    ports: Arc<PortPool>,
    stats: Arc<MediaStats>,
    rtp_timeout: Option<Duration>,
    /// Since the last log line (one a minute).
    jitter: JitterHistogram,
    /// Since the last merge into the shared stats (once a second).
    pending: JitterHistogram,
    /// Batch offset of the last packet of each tick, since the last log line.
    offset: JitterHistogram,
    scratch: Scratch,
    relay_buf: Box<[u8; MAX_RELAY]>,
    /// Packet counts since the last wake-up, added to `stats` then.
    counts: PacketCounts,
    recorder: RecordSink,
    tapped: Vec<Tapped>,
    pacer: Pacer,
    /// Session ids by sending slot.
    slots: Vec<Vec<u64>>,
    rx_batch: RecvBatch,
    pcm: Vec<i16>,
}

impl Worker {
    fn run(mut self) {
        self.meter = Meter::new(Instant::now(), thread_cpu_time());
        let mut events = Events::with_capacity(1024);
        self.set_direct(true);
        let mut slot = 0usize;
        let mut due = Instant::now() + SLOT_PERIOD;
        let mut ticks: u64 = 0;
        // Offset of each slot's last packet the previous tick.
        let mut prev_offset = [Duration::ZERO; SLOTS];
        loop {
            // The pacer wakes us for the next slot with sessions, and slot 0
            // of every tick; the timeout is only a safety net.
            if let Err(e) = self.poll.poll(&mut events, Some(TICK)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "media poll failed");
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER if !self.commands() => return, // engine dropped
                    PACER => {
                        self.pacer.acknowledge();
                    }
                    _ => {}
                }
            }
            self.drain_sockets();
            loop {
                let now = Instant::now();
                if now < due {
                    break;
                }
                let late = now - due;
                let busy = !self.slots[slot].is_empty();
                self.send_slot(slot);
                if slot == 0 {
                    self.tap_tick();
                }
                // The slot's last session went out `late + spent` after the
                // slot began (its offset). A call's packet spacing moves by
                // how much that offset changed since the same slot of the
                // previous tick: the bound on its send jitter.
                if busy {
                    let offset = late + now.elapsed();
                    let deviation = offset.abs_diff(prev_offset[slot]);
                    prev_offset[slot] = offset;
                    self.meter.slot(deviation);
                    self.jitter.record(deviation);
                    self.pending.record(deviation);
                    self.offset.record(offset);
                }
                due += SLOT_PERIOD;
                slot = (slot + 1) % SLOTS;
                let now = Instant::now();
                if now > due + TICK * 5 {
                    tracing::warn!(
                        behind_ms = (now - due).as_millis() as u64,
                        "media worker overrun; resynchronising"
                    );
                    self.stats.overruns.fetch_add(1, Ordering::Relaxed);
                    // Whole ticks are skipped, so each slot keeps its place.
                    let behind = (now - due).as_nanos() / TICK.as_nanos() + 1;
                    due += TICK * behind as u32;
                }
                if slot == 0 {
                    ticks += 1;
                    if ticks.is_multiple_of(50) {
                        self.end_second(now);
                        self.check_timeouts(now);
                        self.stats.merge_jitter(&self.pending);
                        self.pending = JitterHistogram::default();
                    }
                    if ticks.is_multiple_of(3000) {
                        self.report();
                    }
                }
            }
            self.counts.flush(&self.stats);
            // `slot` is the next one due. Light load: empty slots are passed
            // over without waking up. Under load every slot wakes the
            // worker, which reads the sockets then.
            self.set_direct(self.sessions.len() < SLOT_FILL);
            let ahead = if self.direct {
                (0..SLOTS)
                    .find(|k| {
                        let s = (slot + k) % SLOTS;
                        s == 0 || !self.slots[s].is_empty()
                    })
                    .unwrap_or(0)
            } else {
                0
            };
            if let Err(e) = self.pacer.arm(due + SLOT_PERIOD * ahead as u32) {
                tracing::error!(error = %e, "media pacer failed");
            }
        }
    }

    /// Once a second: publish the worker's load, and refuse or take new
    /// calls again when its overload state changes.
    fn end_second(&mut self, now: Instant) {
        let s = self.meter.take(now, thread_cpu_time(), self.sessions.len());
        if self.gauge.second(s) {
            let busy_percent = (s.busy * 100.0).round() as u32;
            if self.gauge.overloaded() {
                tracing::warn!(
                    worker = self.index,
                    busy_percent,
                    late_slots = s.late,
                    slots = s.slots,
                    sessions = self.sessions.len(),
                    "media worker overloaded: new calls get 503 until it is calm again"
                );
            } else {
                tracing::info!(
                    worker = self.index,
                    busy_percent,
                    sessions = self.sessions.len(),
                    "media worker calm again: taking new calls"
                );
            }
        }
        self.stats.workers[self.index].publish(s.busy, self.gauge.overloaded());
    }

    fn report(&mut self) {
        let (p50, p99, max) = self.jitter.summary();
        let (o50, o99, omax) = self.offset.summary();
        tracing::info!(
            sessions = self.sessions.len(),
            jitter_p50_us = p50,
            jitter_p99_us = p99,
            jitter_max_us = max,
            offset_p50_us = o50,
            offset_p99_us = o99,
            offset_max_us = omax,
            "media worker send jitter and batch offset (last minute)"
        );
        self.jitter = JitterHistogram::default();
        self.offset = JitterHistogram::default();
    }

    /// Apply queued commands; false when the engine is gone.
    fn commands(&mut self) -> bool {
        loop {
            // Taken out, so the commands run outside the lock.
            let batch = std::mem::take(&mut *self.inbox.queue.lock().expect("media inbox lock"));
            if batch.is_empty() {
                // Nobody else holds the inbox: the engine and every
                // session are gone.
                return Arc::strong_count(&self.inbox) > 1;
            }
            for cmd in batch {
                self.command(cmd);
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Add {
                id,
                mut socket,
                port,
                events,
            } => {
                if let Err(e) = self.sockets.registry().register(
                    &mut socket,
                    Token(id as usize),
                    Interest::READABLE,
                ) {
                    tracing::error!(error = %e, port, "cannot register RTP socket");
                }
                self.stats.sessions.fetch_add(1, Ordering::Relaxed);
                // The first slot with room; when all are full, the least
                // used, which keeps the slots even as calls come and go.
                let slot = (0..SLOTS)
                    .find(|k| self.slots[*k].len() < SLOT_FILL)
                    .or_else(|| (0..SLOTS).min_by_key(|k| self.slots[*k].len()))
                    .unwrap_or(0);
                self.slots[slot].push(id);
                self.sessions.insert(
                    id,
                    Session {
                        socket,
                        port,
                        slot,
                        events,
                        params: None,
                        remote: None,
                        latched: false,
                        connected: None,
                        tx: RtpSender::new(),
                        sent_last_tick: false,
                        playing: None,
                        rfc4733: Rfc4733Detector::new(),
                        inband: None,
                        last_rx: None,
                        timed_out: false,
                        relay: None,
                        relay_idle: 0,
                        tap: None,
                        listening: false,
                    },
                );
            }
            Cmd::Start(id, params) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    let remote_changed = s.params.map(|p| p.remote) != Some(params.remote);
                    if remote_changed && !s.latched {
                        s.remote = Some(params.remote);
                    }
                    s.params = Some(params);
                    s.settle();
                    s.inband = params
                        .inband_dtmf
                        .then(|| s.inband.take().unwrap_or_else(InbandDetector::new));
                }
            }
            Cmd::Play {
                id,
                prompt,
                barge_in,
                play_id,
            } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.finish_play(PlayEnd::Stopped);
                    s.tx.mark_spurt();
                    s.playing = Some(Playing {
                        prompt,
                        frame: 0,
                        barge_in,
                        play_id,
                    });
                }
            }
            Cmd::StopPlay(id) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.finish_play(PlayEnd::Stopped);
                }
            }
            Cmd::Bridge(a, b) => self.bridge(a, b),
            Cmd::Unbridge(id) => self.unbridge(id),
            Cmd::Record {
                caller,
                agent,
                path,
            } => self.start_recording(caller, agent, path),
            Cmd::StopRecord(id) => self.stop_recording(id),
            Cmd::Listen {
                caller,
                agent,
                listener,
            } => self.start_listening(caller, agent, listener),
            Cmd::Close(id) => {
                self.untap(id);
                self.unbridge(id);
                if let Some(mut s) = self.sessions.remove(&id) {
                    self.slots[s.slot].retain(|x| *x != id);
                    let _ = self.sockets.registry().deregister(&mut s.socket);
                    drop(s.socket);
                    self.ports.give_back(s.port);
                    self.stats.sessions.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn bridge(&mut self, a: u64, b: u64) {
        if a == b || !self.sessions.contains_key(&a) || !self.sessions.contains_key(&b) {
            tracing::warn!(a, b, "bridge of a closed session ignored");
            return;
        }
        self.unbridge(a);
        self.unbridge(b);
        for (me, peer) in [(a, b), (b, a)] {
            if let Some(s) = self.sessions.get_mut(&me) {
                s.finish_play(PlayEnd::Stopped);
                s.relay = Some(Relay::new(peer));
                s.relay_idle = 0;
            }
        }
    }

    /// The tapped conversation of `caller` and `agent`, created (and the
    /// two sessions' taps opened) when new.
    fn tapped(&mut self, caller: u64, agent: u64) -> Option<&mut Tapped> {
        if caller == agent
            || !self.sessions.contains_key(&caller)
            || !self.sessions.contains_key(&agent)
        {
            return None;
        }
        let i = match self
            .tapped
            .iter()
            .position(|t| t.caller == caller && t.agent == agent)
        {
            Some(i) => i,
            None => {
                for id in [caller, agent] {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.tap = Some(ChannelBuffer::default());
                    }
                }
                self.tapped.push(Tapped {
                    caller,
                    agent,
                    recording: false,
                    listeners: Vec::new(),
                });
                self.tapped.len() - 1
            }
        };
        self.tapped.get_mut(i)
    }

    fn start_recording(&mut self, caller: u64, agent: u64, path: std::path::PathBuf) {
        let recorder = self.recorder.clone();
        let Some(t) = self.tapped(caller, agent) else {
            tracing::warn!(caller, agent, file = %path.display(), "recording of a closed session ignored");
            return;
        };
        if t.recording {
            recorder.send(RecMsg::Stop { key: caller });
        }
        t.recording = true;
        recorder.send(RecMsg::Start { key: caller, path });
    }

    /// `listener` hears both sides of the conversation, mixed (silent
    /// monitoring: what it sends goes nowhere).
    fn start_listening(&mut self, caller: u64, agent: u64, listener: u64) {
        if !self.sessions.contains_key(&listener) || listener == caller || listener == agent {
            tracing::warn!(
                caller,
                agent,
                listener,
                "monitoring of a closed session ignored"
            );
            return;
        }
        let Some(t) = self.tapped(caller, agent) else {
            tracing::warn!(
                caller,
                agent,
                listener,
                "monitoring of a closed conversation ignored"
            );
            return;
        };
        if !t.listeners.contains(&listener) {
            t.listeners.push(listener);
        }
        if let Some(s) = self.sessions.get_mut(&listener) {
            s.finish_play(PlayEnd::Stopped);
            s.listening = true;
        }
    }

    /// End the recording of the conversation session `id` is a side of.
    fn stop_recording(&mut self, id: u64) {
        for t in self
            .tapped
            .iter_mut()
            .filter(|t| t.caller == id || t.agent == id)
        {
            if std::mem::take(&mut t.recording) {
                self.recorder.send(RecMsg::Stop { key: t.caller });
            }
        }
        self.prune_taps();
    }

    /// Session `id` closes: conversations it was a side of are no longer
    /// taken; as a listener it is dropped.
    fn untap(&mut self, id: u64) {
        for t in self.tapped.iter_mut() {
            if t.caller == id || t.agent == id {
                if std::mem::take(&mut t.recording) {
                    self.recorder.send(RecMsg::Stop { key: t.caller });
                }
                t.listeners.clear();
            }
            t.listeners.retain(|l| *l != id);
        }
        self.prune_taps();
    }

    /// Forget conversations nobody records or listens to, closing taps.
    fn prune_taps(&mut self) {
        let sessions = &mut self.sessions;
        self.tapped.retain(|t| {
            let keep = t.recording || !t.listeners.is_empty();
            if !keep {
                for id in [t.caller, t.agent] {
                    if let Some(s) = sessions.get_mut(&id) {
                        s.tap = None;
                    }
                }
            }
            keep
        });
    }

    /// One 20 ms frame of every tapped conversation: stereo to the recorder
    /// thread, mixed to mono for its listeners.
    fn tap_tick(&mut self) {
        if self.tapped.is_empty() {
            return;
        }
        let per = FRAME_SAMPLES * 2;
        let mut keys = Vec::new();
        let mut samples = Vec::new();
        let mut frame = [0i16; FRAME_SAMPLES * 2];
        let mut mono = [0i16; FRAME_SAMPLES];
        let mut payload = Vec::with_capacity(FRAME_SAMPLES);
        let mut packet = [0u8; MAX_PACKET];
        for t in &self.tapped {
            frame.fill(0);
            for (channel, id) in [(0, t.caller), (1, t.agent)] {
                if let Some(tap) = self.sessions.get_mut(&id).and_then(|s| s.tap.as_mut()) {
                    tap.pop_into(&mut frame, channel);
                }
            }
            if t.recording {
                keys.push(t.caller);
                samples.extend_from_slice(&frame[..per]);
            }
            if t.listeners.is_empty() {
                continue;
            }
            for (i, m) in mono.iter_mut().enumerate() {
                *m = frame[i * 2].saturating_add(frame[i * 2 + 1]);
            }
            for l in &t.listeners {
                let Some(s) = self.sessions.get_mut(l) else {
                    continue;
                };
                let (Some(params), Some(remote)) = (s.params, s.remote) else {
                    continue;
                };
                if !params.send {
                    continue;
                }
                payload.clear();
                params.codec.encode(&mono, &mut payload);
                let len = s.tx.build(params.payload_type, &payload, &mut packet);
                if s.send(&packet[..len], remote, &mut self.counts) {
                    self.counts.sent += 1;
                }
            }
        }
        if !keys.is_empty() {
            self.recorder.send(RecMsg::Frames { keys, samples });
        }
    }

    fn unbridge(&mut self, id: u64) {
        let peer = self
            .sessions
            .get_mut(&id)
            .and_then(|s| s.relay.take())
            .map(|r| r.peer);
        if let Some(p) = peer.and_then(|p| self.sessions.get_mut(&p)) {
            p.relay = None;
            p.tx.mark_spurt();
        }
    }

    /// Nest (or un-nest) the sockets' poll in the one the worker sleeps on.
    fn set_direct(&mut self, direct: bool) {
        if direct == self.direct {
            return;
        }
        let fd = self.sockets.as_raw_fd();
        let registry = self.poll.registry();
        let r = if direct {
            registry.register(&mut SourceFd(&fd), SOCKETS, Interest::READABLE)
        } else {
            registry.deregister(&mut SourceFd(&fd))
        };
        match r {
            Ok(()) => self.direct = direct,
            Err(e) => tracing::error!(error = %e, direct, "media socket poll not switched"),
        }
    }

    /// Read every socket that has datagrams waiting.
    fn drain_sockets(&mut self) {
        let mut ready = std::mem::replace(&mut self.ready, Events::with_capacity(0));
        loop {
            if let Err(e) = self.sockets.poll(&mut ready, Some(Duration::ZERO)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "media socket poll failed");
                }
                break;
            }
            let mut n = 0;
            for ev in ready.iter() {
                n += 1;
                self.receive(ev.token().0 as u64);
            }
            if n < ready.capacity() {
                break;
            }
        }
        self.ready = ready;
    }

    /// Drain one socket, a batch of datagrams per system call (recvmmsg):
    /// a socket with one packet waiting costs one call, not two (the second
    /// being the read that found it empty).
    fn receive(&mut self, id: u64) {
        let mut errors = 0;
        loop {
            let Some(s) = self.sessions.get(&id) else {
                return;
            };
            let n = match self.rx_batch.recv(s.socket.as_raw_fd()) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // ICMP errors of our own sends come one per call: read on.
                Err(_) if errors < 8 => {
                    errors += 1;
                    continue;
                }
                Err(_) => return,
            };
            let now = Instant::now();
            for i in 0..n {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                let data = self.rx_batch.data(i);
                let src = self.rx_batch.source(i);
                let Some((pkt, params, mut relay)) =
                    s.on_datagram(data, src, now, &mut self.pcm, &mut self.counts)
                else {
                    continue;
                };
                relay_packet(
                    &mut self.sessions,
                    &mut relay,
                    &params,
                    &pkt,
                    &mut self.scratch,
                    &mut self.relay_buf,
                    &mut self.counts,
                );
                if let Some(s) = self.sessions.get_mut(&id) {
                    if s.relay.is_none() {
                        s.relay = Some(relay);
                    }
                }
            }
            if n < self.rx_batch.capacity() {
                return;
            }
        }
    }

    /// Send the next frame of every session of `slot`.
    fn send_slot(&mut self, slot: usize) {
        let mut packet = [0u8; MAX_PACKET];
        for id in &self.slots[slot] {
            if let Some(s) = self.sessions.get_mut(id) {
                self.counts.sent += u64::from(s.send_frame(&mut packet, &mut self.counts));
            }
        }
    }

    fn check_timeouts(&mut self, now: Instant) {
        let Some(limit) = self.rtp_timeout else {
            return;
        };
        for s in self.sessions.values_mut() {
            let on_hold = s.params.is_some_and(|p| !p.send);
            if let Some(last) = s.last_rx {
                if !s.timed_out && !on_hold && now - last > limit {
                    s.timed_out = true;
                    let _ = s.events.send(MediaEvent::RtpTimeout);
                }
            }
        }
    }
}

/// Send a packet received on a bridged session out of its peer.
fn relay_packet(
    sessions: &mut HashMap<u64, Session>,
    relay: &mut Relay,
    from: &SessionParams,
    pkt: &rtp::Received,
    scratch: &mut Scratch,
    relay_buf: &mut [u8; MAX_RELAY],
    counts: &mut PacketCounts,
) {
    let Some(peer) = sessions.get_mut(&relay.peer) else {
        return;
    };
    let (Some(to), Some(remote)) = (peer.params, peer.remote) else {
        return;
    };
    if !to.send {
        return; // the other leg holds
    }
    let Some(len) = relay.forward(pkt, from, &to, &mut peer.tx, scratch, relay_buf) else {
        return;
    };
    peer.relay_idle = 0;
    if peer.send(&relay_buf[..len], remote, counts) {
        counts.sent += 1;
        counts.relayed += 1;
    }
}
