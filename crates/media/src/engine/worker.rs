//! A media worker thread: its paced tick, its commands, the sockets it
//! reads, the bridges it relays.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::session::{Playing, Session};
use super::taps::Tapped;
use super::{
    Cmd, Inbox, MediaEvent, PlayEnd, SessionParams, PACER, SLOTS, SLOT_FILL, SLOT_PERIOD, SOCKETS,
    TICK, WAKER,
};
use crate::bridge::{Relay, Scratch, MAX_RELAY};
use crate::dtmf::goertzel::InbandDetector;
use crate::dtmf::rfc4733::Rfc4733Detector;
use crate::load::{thread_cpu_time, LoadGauge, Meter};
use crate::mmsg::RecvBatch;
use crate::pacer::Pacer;
use crate::ports::PortPool;
use crate::record::RecordSink;
use crate::rtp::{self, RtpSender, MAX_PACKET};
use crate::stats::{JitterHistogram, MediaStats, PacketCounts};

pub(super) struct Worker {
    /// Its place in the engine's list (and in `stats.workers`).
    pub(super) index: usize,
    pub(super) gauge: LoadGauge,
    pub(super) meter: Meter,
    /// The worker sleeps on this one: its waker and its pacer only.
    pub(super) poll: Poll,
    /// RTP sockets, asked (without waiting) what is ready each time the
    /// worker wakes. Under load (`SLOT_FILL` sessions and more) a packet
    /// does not wake the worker by itself: it waits for the next slot, at
    /// most 1 ms, and every socket ready by then is read in one go (waking
    /// per packet cost 10 us a relayed packet, reading per slot 3.2 us).
    /// Below that, this poll is nested in `poll` and a packet wakes the
    /// worker at once.
    pub(super) sockets: Poll,
    pub(super) ready: Events,
    /// `sockets` is nested in `poll` (light load).
    pub(super) direct: bool,
    pub(super) inbox: Arc<Inbox>,
    pub(super) sessions: HashMap<u64, Session>,
    pub(super) ports: Arc<PortPool>,
    pub(super) stats: Arc<MediaStats>,
    pub(super) rtp_timeout: Option<Duration>,
    /// Since the last log line (one a minute).
    pub(super) jitter: JitterHistogram,
    /// Since the last merge into the shared stats (once a second).
    pub(super) pending: JitterHistogram,
    /// Batch offset of the last packet of each tick, since the last log line.
    pub(super) offset: JitterHistogram,
    pub(super) scratch: Scratch,
    pub(super) relay_buf: Box<[u8; MAX_RELAY]>,
    /// Packet counts since the last wake-up, added to `stats` then.
    pub(super) counts: PacketCounts,
    pub(super) recorder: RecordSink,
    pub(super) tapped: Vec<Tapped>,
    pub(super) pacer: Pacer,
    /// Session ids by sending slot.
    pub(super) slots: Vec<Vec<u64>>,
    pub(super) rx_batch: RecvBatch,
    pub(super) pcm: Vec<i16>,
}

impl Worker {
    pub(super) fn run(mut self) {
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
    pub(super) fn end_second(&mut self, now: Instant) {
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

    pub(super) fn report(&mut self) {
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
    pub(super) fn commands(&mut self) -> bool {
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

    pub(super) fn command(&mut self, cmd: Cmd) {
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
                    if s.relay.is_some() {
                        // Bridged: nothing plays over a conversation (a
                        // play that crossed the bridge ends at once).
                        s.finish_play(PlayEnd::Stopped);
                    }
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

    pub(super) fn bridge(&mut self, a: u64, b: u64) {
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

    pub(super) fn unbridge(&mut self, id: u64) {
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
    pub(super) fn set_direct(&mut self, direct: bool) {
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
    pub(super) fn drain_sockets(&mut self) {
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
    pub(super) fn receive(&mut self, id: u64) {
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
    pub(super) fn send_slot(&mut self, slot: usize) {
        let mut packet = [0u8; MAX_PACKET];
        for id in &self.slots[slot] {
            if let Some(s) = self.sessions.get_mut(id) {
                self.counts.sent += u64::from(s.send_frame(&mut packet, &mut self.counts));
            }
        }
    }

    pub(super) fn check_timeouts(&mut self, now: Instant) {
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
pub(super) fn relay_packet(
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
