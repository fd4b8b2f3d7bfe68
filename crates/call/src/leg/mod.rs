//! The leg seam. A call leg is a SIP dialog ([`sip::DialogMachine`]) plus
//! a media session, driven by one small task ([`drive`]); what differs
//! between leg kinds (an inbound trunk call running a script, an agent's
//! phone rung by the ACD, a transfer out through a trunk) is a [`LegKind`]:
//! what the leg does when its dialog, its media, its owner or the clock
//! says something. The task never decides protocol matters (the dialog
//! machine does) nor call logic (the kind does); it only carries events
//! between them. See `crates/call/README.md` for where new kinds go.

use std::time::Instant;

use media::engine::{MediaEvent, MediaSession};
use sip::DialogEvent;
use tokio::sync::mpsc;

mod context;
pub(crate) mod inbound;
pub(crate) mod outbound;
mod port;

pub use context::CallContext;
pub(crate) use port::DialogPort;

use crate::registry::CallInput;

/// Whether the leg goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Go,
    /// The leg is over for its owner; the dialog is still pumped until
    /// it has nothing left to do (a CANCEL's 487, a crossing 2xx).
    End,
}

/// What one kind of leg does; the task in [`drive`] calls it.
pub(crate) trait LegKind: Send + 'static {
    /// Commands this kind takes from whoever drives it (the IVR script,
    /// the ACD edge or the IVR's transfer node).
    type Cmd: Send + 'static;

    /// An event from the dialog (answered, an offer, a request, the end).
    fn dialog(&mut self, leg: &mut LegCore, ev: DialogEvent) -> Flow;

    /// An event from the media session (a digit, a prompt's end, RTP gone).
    fn media(&mut self, leg: &mut LegCore, ev: MediaEvent) -> Flow;

    /// A command; `None` once every sender is gone.
    fn command(&mut self, leg: &mut LegCore, cmd: Option<Self::Cmd>) -> Flow;

    /// End from our side (shutdown, an operator): the call registry's
    /// [`CallInput::Hangup`].
    fn hangup(&mut self, leg: &mut LegCore, reason: &'static str) -> Flow;

    /// The kind's own deadline (an inbound leg's ring time), if any.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// That deadline passed.
    fn wake(&mut self, _leg: &mut LegCore) -> Flow {
        Flow::Go
    }

    /// The leg is ending: true when a prompt was cut and its end should
    /// be awaited (briefly) and given to [`LegKind::ended`].
    fn ending(&mut self, _leg: &mut LegCore) -> bool {
        false
    }

    /// The leg is over (the last media event awaited by
    /// [`LegKind::ending`], if any came).
    fn ended(&mut self, leg: &mut LegCore, last: Option<MediaEvent>);
}

/// What every leg has: the shared context, its dialog and its media.
pub(crate) struct LegCore {
    pub ctx: CallContext,
    pub dialog: DialogPort,
    pub media: MediaSession,
}

/// How long an ending leg waits for a cut prompt's end.
const CUT_PROMPT_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
/// How long a leg pumps its dialog after the end (a CANCEL's final
/// response comes within Timer B, 32 s).
const DIALOG_TAIL: std::time::Duration = std::time::Duration::from_secs(40);

/// Run one leg until it is over and its dialog has nothing left to do.
pub(crate) async fn drive<K: LegKind>(
    mut kind: K,
    mut leg: LegCore,
    mut inputs: mpsc::UnboundedReceiver<Box<CallInput>>,
    mut cmds: mpsc::UnboundedReceiver<K::Cmd>,
    mut media: mpsc::UnboundedReceiver<MediaEvent>,
) {
    let mut cmds_open = true;
    let mut media_open = true;
    let mut alarm = Alarm::default();
    let mut flow = Flow::Go;
    while flow == Flow::Go {
        while let Some(ev) = leg.dialog.next_event() {
            flow = kind.dialog(&mut leg, ev);
            if flow == Flow::End {
                break;
            }
        }
        if flow == Flow::End {
            break;
        }
        let kind_at = kind.deadline();
        let at = [leg.dialog.poll_timeout(), kind_at]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            _ = alarm.wait(at) => {
                leg.dialog.handle_timeout();
                if kind_at.is_some_and(|t| t <= Instant::now()) {
                    flow = kind.wake(&mut leg);
                }
            }
            input = inputs.recv() => match input.map(|i| *i) {
                Some(CallInput::Sip(ev)) => leg.dialog.handle(ev),
                Some(CallInput::Hangup(reason)) => flow = kind.hangup(&mut leg, reason),
                None => return,
            },
            reply = leg.dialog.reply() => leg.dialog.handle(reply),
            ev = media.recv(), if media_open => match ev {
                Some(ev) => flow = kind.media(&mut leg, ev),
                None => media_open = false,
            },
            cmd = cmds.recv(), if cmds_open => {
                cmds_open = cmd.is_some();
                flow = kind.command(&mut leg, cmd);
            }
        }
    }
    let mut last = None;
    if kind.ending(&mut leg) {
        let wait = tokio::time::timeout(CUT_PROMPT_WAIT, async {
            while let Some(ev) = media.recv().await {
                if matches!(ev, MediaEvent::PlayFinished { .. }) {
                    return Some(ev);
                }
            }
            None
        });
        last = wait.await.ok().flatten();
    }
    kind.ended(&mut leg, last);
    // Whatever the dialog still has to send or hear (a BYE, the 487 to
    // our CANCEL, a 2xx crossing it); events no longer matter.
    let tail = Instant::now() + DIALOG_TAIL;
    let mut inputs_open = true;
    while leg.dialog.next_event().is_some() {}
    while !leg.dialog.is_done() {
        let at = leg.dialog.poll_timeout();
        tokio::select! {
            _ = alarm.wait(Some(at.map_or(tail, |t| t.min(tail)))) => {
                if Instant::now() >= tail {
                    break;
                }
                leg.dialog.handle_timeout();
            }
            input = inputs.recv(), if inputs_open => match input.map(|i| *i) {
                Some(CallInput::Sip(ev)) => leg.dialog.handle(ev),
                Some(CallInput::Hangup(_)) => {}
                None => inputs_open = false,
            },
            reply = leg.dialog.reply() => leg.dialog.handle(reply),
        }
        while leg.dialog.next_event().is_some() {}
    }
}

/// A leg's one timer, allocated only while it has a deadline: a tokio
/// `Sleep` is large, and most legs (an IVR call after its answer) have
/// none for most of their life.
#[derive(Default)]
struct Alarm {
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Alarm {
    /// Wait until `at`, or forever when there is no deadline.
    async fn wait(&mut self, at: Option<Instant>) {
        let Some(at) = at else {
            self.sleep = None;
            return std::future::pending().await;
        };
        let at = tokio::time::Instant::from_std(at);
        match self.sleep.as_mut() {
            Some(s) if s.deadline() == at => {}
            Some(s) => s.as_mut().reset(at),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        if let Some(s) = self.sleep.as_mut() {
            s.as_mut().await;
        }
        self.sleep = None;
    }
}
