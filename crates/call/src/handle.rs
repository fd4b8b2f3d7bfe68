//! The call handle a script (the IVR) drives: play prompts, read digits,
//! hang up. Digits from RFC 4733, SIP INFO and in-band tones arrive here as
//! one stream, with type-ahead kept.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use media::dtmf::DtmfEvent;
use media::engine::{MediaSessionRef, PlayEnd};
use media::prompt::Prompt;
use tokio::sync::mpsc;

/// What is known about a call when its script starts.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// Our id of the call and its record (CDR): UTC time plus a random part.
    pub record_id: String,
    /// The Call-ID of the caller's INVITE.
    pub sip_call_id: String,
    /// Name of the trunk the call came in on.
    pub trunk: String,
    /// The called number (DID): user part of the Request-URI, else of To.
    pub did: String,
    /// Name of the flow the DID leads to (the trunk's `dids`).
    pub flow: String,
    /// Caller number (P-Asserted-Identity, else From); `None` if absent.
    pub caller: Option<String>,
    /// The caller asked for privacy or sent an anonymous identity.
    pub withheld: bool,
    /// When the call was admitted (its INVITE accepted).
    pub arrived: DateTime<Utc>,
    /// The caller's RTP session, for bridging.
    pub media: MediaSessionRef,
}

/// Script -> call task.
#[derive(Debug)]
pub(crate) enum ScriptCmd {
    Play {
        prompt: Arc<Prompt>,
        barge_in: bool,
        play_id: u64,
    },
    /// A step the script wants in the call's record.
    /// Boxed: an event kind is large, and a call's command channel
    /// allocates room for 32 commands when it is created.
    Record(Box<cdr::EventKind>),
    /// Relay the caller's media with another leg's (an agent).
    Bridge(MediaSessionRef),
    Unbridge,
    Hangup {
        by: cdr::Party,
        reason: &'static str,
    },
}

/// Call task -> script.
#[derive(Debug)]
pub(crate) enum ScriptEvent {
    Digit(DtmfEvent),
    PlayFinished {
        play_id: u64,
        heard_ms: u64,
        total_ms: u64,
        end: PlayEnd,
    },
    HungUp,
}

/// The caller is gone; the script should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("caller hung up")]
pub struct HungUp;

/// How a play ended and how much of it the caller heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayResult {
    /// Milliseconds of the prompt played before it ended.
    pub heard_ms: u64,
    /// Length of the whole prompt, in milliseconds.
    pub total_ms: u64,
    /// Why it ended: played out, cut by a digit, or stopped.
    pub end: PlayEnd,
}

/// What the ACD holds of a caller's leg it connects: it bridges the
/// caller's media with the agent's where it decides so, and undoes it.
/// Weak: it never keeps a call up once its script is done.
#[derive(Clone)]
pub struct CallPort {
    cmd: mpsc::WeakUnboundedSender<ScriptCmd>,
}

impl CallPort {
    /// Relay the caller's media with `other` (an agent's leg).
    pub fn bridge(&self, other: MediaSessionRef) {
        if let Some(cmd) = self.cmd.upgrade() {
            let _ = cmd.send(ScriptCmd::Bridge(other));
        }
    }

    /// Stop relaying; the caller's leg hears its script again.
    pub fn unbridge(&self) {
        if let Some(cmd) = self.cmd.upgrade() {
            let _ = cmd.send(ScriptCmd::Unbridge);
        }
    }
}

/// A script's view of one call.
pub struct CallHandle {
    info: Arc<CallInfo>,
    cmd: mpsc::UnboundedSender<ScriptCmd>,
    events: mpsc::UnboundedReceiver<ScriptEvent>,
    digits: VecDeque<char>,
    next_play: u64,
    gone: bool,
}

impl CallHandle {
    pub(crate) fn new(
        info: Arc<CallInfo>,
        cmd: mpsc::UnboundedSender<ScriptCmd>,
        events: mpsc::UnboundedReceiver<ScriptEvent>,
    ) -> Self {
        CallHandle {
            info,
            cmd,
            events,
            digits: VecDeque::new(),
            next_play: 1,
            gone: false,
        }
    }

    /// What is known about the call.
    pub fn info(&self) -> &CallInfo {
        &self.info
    }

    /// The call's info, shared (for the ACD, which outlives the node).
    pub fn shared_info(&self) -> Arc<CallInfo> {
        self.info.clone()
    }

    /// The leg's port for the ACD (bridging, weakly held).
    pub fn port(&self) -> CallPort {
        CallPort {
            cmd: self.cmd.downgrade(),
        }
    }

    /// Play a prompt to its end, or until a digit when `barge_in`. A digit
    /// already typed ahead skips a barge-in prompt at once.
    pub async fn play(
        &mut self,
        prompt: Arc<Prompt>,
        barge_in: bool,
    ) -> Result<PlayResult, HungUp> {
        if self.gone {
            return Err(HungUp);
        }
        let total_ms = prompt.duration_ms();
        if barge_in && !self.digits.is_empty() {
            return Ok(PlayResult {
                heard_ms: 0,
                total_ms,
                end: PlayEnd::BargeIn,
            });
        }
        let play_id = self.next_play;
        self.next_play += 1;
        self.cmd
            .send(ScriptCmd::Play {
                prompt,
                barge_in,
                play_id,
            })
            .map_err(|_| HungUp)?;
        loop {
            match self.events.recv().await {
                Some(ScriptEvent::Digit(d)) => self.digits.push_back(d.digit),
                Some(ScriptEvent::PlayFinished {
                    play_id: id,
                    heard_ms,
                    total_ms,
                    end,
                }) if id == play_id => {
                    return Ok(PlayResult {
                        heard_ms,
                        total_ms,
                        end,
                    })
                }
                Some(ScriptEvent::PlayFinished { .. }) => {} // an older play
                Some(ScriptEvent::HungUp) | None => {
                    self.gone = true;
                    return Err(HungUp);
                }
            }
        }
    }

    /// Next digit (typed ahead or new), waiting at most `timeout`.
    pub async fn next_digit(&mut self, timeout: Duration) -> Result<Option<char>, HungUp> {
        if let Some(d) = self.digits.pop_front() {
            return Ok(Some(d));
        }
        if self.gone {
            return Err(HungUp);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Ok(None),
                Ok(Some(ScriptEvent::Digit(d))) => return Ok(Some(d.digit)),
                Ok(Some(ScriptEvent::PlayFinished { .. })) => {}
                Ok(Some(ScriptEvent::HungUp)) | Ok(None) => {
                    self.gone = true;
                    return Err(HungUp);
                }
            }
        }
    }

    /// Forget digits typed ahead.
    pub fn clear_digits(&mut self) {
        self.digits.clear();
    }

    /// Add a step to the call's record (file 0 redirect, flow steps).
    pub fn record(&self, kind: cdr::EventKind) {
        let _ = self.cmd.send(ScriptCmd::Record(Box::new(kind)));
    }

    /// End the call from our side (BYE). The script should return after.
    pub fn hangup(&mut self) {
        self.hangup_as(cdr::Party::System, "script_end");
    }

    /// End the call, saying who ended it and why in its record (the agent
    /// hung up, so we end the caller's leg too).
    pub fn hangup_as(&mut self, by: cdr::Party, reason: &'static str) {
        let _ = self.cmd.send(ScriptCmd::Hangup { by, reason });
        self.gone = true;
    }

    /// Connect the caller's audio with another leg the script opened
    /// beside it (a `transfer` node's leg; the ACD bridges through a
    /// [`CallPort`]).
    pub fn bridge(&self, other: MediaSessionRef) {
        let _ = self.cmd.send(ScriptCmd::Bridge(other));
    }

    /// Stop relaying the other leg's audio; the caller hears the script again.
    pub fn unbridge(&self) {
        let _ = self.cmd.send(ScriptCmd::Unbridge);
    }

    /// Wait for the next digit or the caller's hang-up, without a limit
    /// (used while the caller talks to an agent).
    pub async fn hung_up(&mut self) -> HungUp {
        loop {
            match self.events.recv().await {
                Some(ScriptEvent::HungUp) | None => {
                    self.gone = true;
                    return HungUp;
                }
                Some(_) => {}
            }
        }
    }
}

/// Boxed future a script returns.
pub type ScriptFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What runs on an answered call (the IVR). When the future returns and
/// the caller is still there, the call is hung up.
pub trait CallScript: Send + Sync + 'static {
    /// The script of one answered call, driving it through `call`; the future
    /// is spawned as a task of its own.
    fn run(&self, call: CallHandle) -> ScriptFuture;
}
