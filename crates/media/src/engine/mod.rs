//! The media engine: a few worker threads, each owning many RTP sessions.
//! One paced 20 ms tick per worker sends the next frame of every session
//! (no task or timer per packet); received packets are read as they come
//! (mio readiness) and turned into DTMF events. Send jitter is measured on
//! every tick.

mod session;
mod taps;
mod worker;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};
use tokio::sync::mpsc::UnboundedSender;

use crate::bridge::{Scratch, MAX_RELAY};
use crate::codec::FRAME_SAMPLES;
use crate::dtmf::DtmfEvent;
use crate::load::{LoadGauge, Meter, WorkerLoad};
use crate::mmsg::RecvBatch;
use crate::pacer::Pacer;
pub use crate::peer::SessionParams;
use crate::ports::PortPool;
use crate::priority::{self, Priority};
use crate::prompt::Prompt;
use crate::record::RecordSink;
use crate::stats::{JitterHistogram, MediaStats, PacketCounts};
use worker::Worker;

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
    /// First RTP port of the range.
    pub port_min: u16,
    /// Last RTP port of the range.
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

/// Why a play ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayEnd {
    /// Played to its end.
    Completed,
    /// Cut by a digit (barge-in).
    BargeIn,
    /// Stopped: another play, a bridge, or the call's end.
    Stopped,
}

/// Events a session reports to its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A play ended.
    PlayFinished {
        /// The play's id, as the caller gave it.
        play_id: u64,
        /// Frames sent before it ended.
        frames_sent: usize,
        /// Frames in the whole prompt.
        frames_total: usize,
        /// Why it ended.
        end: PlayEnd,
    },
    /// A DTMF digit was detected (RFC 4733 or in-band).
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
    /// Counters for /metrics and benchmarks.
    pub stats: Arc<MediaStats>,
}

impl MediaEngine {
    /// Start the worker threads over the port range (an empty range is an error).
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

    /// Stop recording the conversation `caller` is in.
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
    /// Where the session receives RTP (advertised in SDP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The session's id in the engine.
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

    /// Stop the prompt playing now (reported `Stopped`).
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
