//! Taps on a worker: conversations recorded or listened to by supervisors
//! (both sides decoded and mixed each tick).

use super::worker::Worker;
use super::PlayEnd;
use crate::codec::FRAME_SAMPLES;
use crate::record::{ChannelBuffer, RecMsg};
use crate::rtp::MAX_PACKET;

/// A conversation whose audio is taken on a worker: recorded, listened
/// to by supervisors (silent monitoring), or both.
pub(super) struct Tapped {
    pub(super) caller: u64,
    pub(super) agent: u64,
    pub(super) recording: bool,
    /// Sessions that hear both sides, mixed.
    pub(super) listeners: Vec<u64>,
}

impl Worker {
    /// The tapped conversation of `caller` and `agent`, created (and the
    /// two sessions' taps opened) when new.
    pub(super) fn tapped(&mut self, caller: u64, agent: u64) -> Option<&mut Tapped> {
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

    pub(super) fn start_recording(&mut self, caller: u64, agent: u64, path: std::path::PathBuf) {
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
    pub(super) fn start_listening(&mut self, caller: u64, agent: u64, listener: u64) {
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
    pub(super) fn stop_recording(&mut self, id: u64) {
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
    pub(super) fn untap(&mut self, id: u64) {
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
    pub(super) fn prune_taps(&mut self) {
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
    pub(super) fn tap_tick(&mut self) {
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
}
