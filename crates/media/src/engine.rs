//! The media engine: a few worker threads, each owning many RTP sessions.
//! One paced 20 ms tick per worker sends the next frame of every session
//! (no task or timer per packet); received packets are read as they come
//! (mio readiness) and turned into DTMF events. Send jitter is measured on
//! every tick.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::mpsc::UnboundedSender;

use crate::bridge::{Relay, Scratch, MAX_RELAY};
use crate::codec::{Codec, FRAME_SAMPLES};
use crate::dtmf::goertzel::InbandDetector;
use crate::dtmf::rfc4733::Rfc4733Detector;
use crate::dtmf::DtmfEvent;
use crate::ports::PortPool;
use crate::prompt::Prompt;
use crate::record::{ChannelBuffer, RecMsg, RecordSink};
use crate::rtp::{self, RtpSender, MAX_PACKET};
use crate::stats::{JitterHistogram, MediaStats};

/// Pacing interval: one G.711 frame.
pub const TICK: Duration = Duration::from_millis(20);
const WAKER: Token = Token(usize::MAX);

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

#[derive(Clone)]
struct WorkerHandle {
    tx: Sender<Cmd>,
    waker: Arc<Waker>,
}

impl WorkerHandle {
    fn send(&self, cmd: Cmd) {
        if self.tx.send(cmd).is_ok() {
            let _ = self.waker.wake();
        }
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
        let stats = Arc::new(MediaStats::default());
        let recorder = RecordSink::start()?;
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (tx, rx) = mpsc::channel();
            let worker = Worker {
                poll,
                rx,
                sessions: HashMap::new(),
                ports: ports.clone(),
                stats: stats.clone(),
                rtp_timeout: cfg.rtp_timeout,
                jitter: JitterHistogram::default(),
                pending: JitterHistogram::default(),
                offset: JitterHistogram::default(),
                scratch: Scratch::default(),
                relay_buf: Box::new([0u8; MAX_RELAY]),
                recorder: recorder.clone(),
                tapped: Vec::new(),
            };
            std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || worker.run())?;
            workers.push(WorkerHandle { tx, waker });
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
    pub fn open(&self, events: UnboundedSender<MediaEvent>) -> io::Result<MediaSession> {
        let w = self.next_worker.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        self.open_on(w, events)
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
    events: UnboundedSender<MediaEvent>,
    params: Option<SessionParams>,
    /// Where we send and accept from (SDP address, or the latched source).
    remote: Option<SocketAddr>,
    latched: bool,
    tx: RtpSender,
    sent_last_tick: bool,
    playing: Option<Playing>,
    rfc4733: Rfc4733Detector,
    inband: Option<InbandDetector>,
    last_rx: Option<Instant>,
    timed_out: bool,
    /// Bridged: what we receive goes out of the peer session.
    relay: Option<Relay>,
    /// Recorded: what we receive, decoded, waiting for the next tick.
    tap: Option<ChannelBuffer>,
    /// A supervisor's leg: it gets the mix of a conversation, no prompts.
    listening: bool,
}

/// What reading one datagram of a session gave.
enum Read {
    /// Nothing left to read.
    Drained,
    /// Read (and maybe dropped, or turned into a digit).
    Kept,
    /// A packet of `n` bytes to send out of the bridged peer.
    Relay(usize, SessionParams, Relay),
}

impl Session {
    /// Read one datagram: check its source, detect DTMF; a bridged session
    /// hands the packet (and its relay state) back to be sent on.
    fn read_one(&mut self, buf: &mut [u8], pcm: &mut Vec<i16>, stats: &MediaStats) -> Read {
        let (n, src) = match self.socket.recv_from(buf) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::Drained,
            Err(_) => return Read::Kept, // ICMP errors from our own sends
        };
        stats.packets_received.fetch_add(1, Ordering::Relaxed);
        let Some(params) = self.params else {
            return Read::Kept; // not negotiated yet
        };
        if params.symmetric && !self.latched {
            self.remote = Some(src);
            self.latched = true;
        } else if self.remote != Some(src) {
            stats.dropped_source.fetch_add(1, Ordering::Relaxed);
            return Read::Kept;
        }
        let Some(pkt) = rtp::read(&buf[..n]) else {
            stats.dropped_malformed.fetch_add(1, Ordering::Relaxed);
            return Read::Kept;
        };
        self.last_rx = Some(Instant::now());
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
        match self.relay.take() {
            Some(relay) => Read::Relay(n, params, relay),
            None => Read::Kept,
        }
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
    poll: Poll,
    rx: Receiver<Cmd>,
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
    recorder: RecordSink,
    tapped: Vec<Tapped>,
}

impl Worker {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut buf = [0u8; 2048];
        let mut next_tick = Instant::now() + TICK;
        let mut ticks: u64 = 0;
        let mut prev_offset = Duration::ZERO;
        loop {
            let now = Instant::now();
            let timeout = next_tick.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "media poll failed");
                }
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    if !self.commands() {
                        return; // engine dropped
                    }
                } else {
                    self.receive(ev.token().0 as u64, &mut buf);
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                let late = now - next_tick;
                self.tick();
                let spent = Instant::now() - now;
                // The last session of the batch goes out `late + spent` after
                // its slot (the batch offset). A call's packet spacing moves
                // by how much that offset changed since the previous tick:
                // the bound on any call's send jitter this tick.
                let offset = late + spent;
                let deviation = offset.abs_diff(prev_offset);
                prev_offset = offset;
                self.jitter.record(deviation);
                self.pending.record(deviation);
                self.offset.record(offset);
                next_tick += TICK;
                if now > next_tick + TICK * 5 {
                    tracing::warn!(
                        behind_ms = (now - next_tick).as_millis() as u64,
                        "media worker overrun; resynchronising"
                    );
                    self.stats.overruns.fetch_add(1, Ordering::Relaxed);
                    next_tick = now + TICK;
                }
                ticks += 1;
                if ticks.is_multiple_of(50) {
                    self.check_timeouts(now);
                    self.stats.merge_jitter(&self.pending);
                    self.pending = JitterHistogram::default();
                }
                if ticks.is_multiple_of(3000) {
                    self.report();
                }
            }
        }
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
            match self.rx.try_recv() {
                Ok(cmd) => self.command(cmd),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
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
                if let Err(e) = self.poll.registry().register(
                    &mut socket,
                    Token(id as usize),
                    Interest::READABLE,
                ) {
                    tracing::error!(error = %e, port, "cannot register RTP socket");
                }
                self.stats.sessions.fetch_add(1, Ordering::Relaxed);
                self.sessions.insert(
                    id,
                    Session {
                        socket,
                        port,
                        events,
                        params: None,
                        remote: None,
                        latched: false,
                        tx: RtpSender::new(),
                        sent_last_tick: false,
                        playing: None,
                        rfc4733: Rfc4733Detector::new(),
                        inband: None,
                        last_rx: None,
                        timed_out: false,
                        relay: None,
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
                    s.inband = params
                        .inband_dtmf
                        .then(|| s.inband.take().unwrap_or_else(InbandDetector::new));
                    s.params = Some(params);
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
                    let _ = self.poll.registry().deregister(&mut s.socket);
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
                match s.socket.send_to(&packet[..len], remote) {
                    Ok(_) => {
                        self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.stats.send_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {}
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

    /// Drain one socket. The session is looked up once per readiness,
    /// and again only after relaying a packet of a bridge.
    fn receive(&mut self, id: u64, buf: &mut [u8]) {
        let mut pcm = Vec::new();
        loop {
            let Some(s) = self.sessions.get_mut(&id) else {
                return;
            };
            let (n, params, mut relay) = loop {
                match s.read_one(buf, &mut pcm, &self.stats) {
                    Read::Drained => return,
                    Read::Kept => {}
                    Read::Relay(n, params, relay) => break (n, params, relay),
                }
            };
            self.relay(&mut relay, &params, &buf[..n]);
            if let Some(s) = self.sessions.get_mut(&id) {
                if s.relay.is_none() {
                    s.relay = Some(relay);
                }
            }
        }
    }

    /// Send a packet received on a bridged session out of its peer.
    fn relay(&mut self, relay: &mut Relay, from: &SessionParams, data: &[u8]) {
        let Some(pkt) = rtp::read(data) else {
            return;
        };
        let Some(peer) = self.sessions.get_mut(&relay.peer) else {
            return;
        };
        let (Some(to), Some(remote)) = (peer.params, peer.remote) else {
            return;
        };
        if !to.send {
            return; // the other leg holds
        }
        let Some(len) = relay.forward(
            &pkt,
            from,
            &to,
            &mut peer.tx,
            &mut self.scratch,
            &mut self.relay_buf,
        ) else {
            return;
        };
        match peer.socket.send_to(&self.relay_buf[..len], remote) {
            Ok(_) => {
                self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                self.stats.packets_relayed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stats.send_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }

    /// Send the next frame of every session.
    fn tick(&mut self) {
        let mut packet = [0u8; MAX_PACKET];
        let mut sent = 0u64;
        for s in self.sessions.values_mut() {
            s.tx.advance(FRAME_SAMPLES as u32);
            let (Some(params), Some(remote)) = (s.params, s.remote) else {
                continue;
            };
            if s.relay.is_some() || s.listening {
                // Bridged: the peer's packets go out as they come; a
                // listener gets the mix in `tap_tick`.
                continue;
            }
            if !params.send {
                s.sent_last_tick = false;
                continue;
            }
            let frame = match s.playing.as_mut() {
                Some(p) => match p.prompt.frame(params.codec, p.frame) {
                    Some(f) => {
                        p.frame += 1;
                        Some(f)
                    }
                    None => None,
                },
                None => None,
            };
            let len = match frame {
                Some(f) => s.tx.build(params.payload_type, f, &mut packet),
                None => {
                    if s.playing.is_some() {
                        s.finish_play(PlayEnd::Completed);
                    }
                    if !params.send_silence {
                        if s.sent_last_tick {
                            s.tx.mark_spurt();
                        }
                        s.sent_last_tick = false;
                        continue;
                    }
                    let silence = [params.codec.silence(); FRAME_SAMPLES];
                    s.tx.build(params.payload_type, &silence, &mut packet)
                }
            };
            match s.socket.send_to(&packet[..len], remote) {
                Ok(_) => sent += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.send_dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {}
            }
            s.sent_last_tick = true;
            // A finished prompt reports at once, not a tick later.
            if let Some(p) = s.playing.as_ref() {
                if p.frame >= p.prompt.frame_count() {
                    s.finish_play(PlayEnd::Completed);
                }
            }
        }
        self.stats.packets_sent.fetch_add(sent, Ordering::Relaxed);
        self.tap_tick();
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
