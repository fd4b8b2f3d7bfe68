//! The inbound call leg (a trunk's call, we are the UAS): ring, answer with
//! SDP, run the script once the ACK comes, serve the caller's re-offers and
//! SIP INFO digits, and report every step to the call's record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cdr::{CallEvent, CdrSink, DigitSource, EventKind, Party};
use media::dtmf::{DtmfEvent, DtmfSource};
use media::engine::{MediaEvent, MediaSession, PlayEnd, SessionParams};
use media::sdp::{self, Negotiated};
use sip::message::{self, content_type};
use sip::rsip::{Header, Request};
use sip::{DialogEvent, DialogMachine, EndReason, Essentials, Peer, ServerTxId};
use tokio::sync::mpsc;

use super::{drive, CallContext, DialogPort, Flow, LegCore, LegKind};
use crate::handle::{CallHandle, CallInfo, ScriptCmd, ScriptEvent};
use crate::offer::{self, session_params, OFFER_DTMF_PT};
use crate::registry::{CallInput, CallRegistry};
use crate::trunk::{InbandDtmf, TrunkSlot};

/// Methods we answer inside a dialog.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// Everything a new call starts with.
pub(crate) struct Setup {
    pub info: Arc<CallInfo>,
    pub invite: Request,
    pub ess: Essentials,
    pub tx: ServerTxId,
    pub peer: Peer,
    /// `None`: a late offer (no SDP in the INVITE).
    pub negotiated: Option<Negotiated>,
    pub media: MediaSession,
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    pub slot: TrunkSlot,
    pub inputs: mpsc::UnboundedReceiver<Box<CallInput>>,
    pub answer_after: Duration,
    pub symmetric: bool,
    pub inband: InbandDtmf,
}

struct CurrentPlay {
    play_id: u64,
    name: String,
    total_ms: u64,
    barge_in: bool,
    /// Stopped because of a SIP INFO digit (the engine only sees RTP).
    info_barge: bool,
}

/// Ends the call once: closes its record, leaves the registry and frees its
/// trunk place, however the task ends (even on a panic): every call ends in
/// a CDR, and a place is free as soon as its call is over.
struct EndGuard {
    registry: CallRegistry,
    cdr: CdrSink,
    sip_call_id: String,
    record_id: String,
    slot: Option<TrunkSlot>,
}

impl EndGuard {
    fn end(&mut self, by: Party, reason: &str) {
        if let Some(slot) = self.slot.take() {
            self.registry.remove(&self.sip_call_id);
            drop(slot);
            self.cdr.emit(CallEvent::now(
                &self.record_id,
                EventKind::Ended {
                    by,
                    reason: reason.into(),
                },
            ));
        }
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.end(Party::System, "error");
    }
}

/// Where the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    /// 200 OK sent, waiting for the ACK.
    Answered,
    /// The script runs.
    Talking,
}

/// The inbound leg kind.
struct Inbound {
    info: Arc<CallInfo>,
    phase: Phase,
    /// When to answer (a trunk may ask for some ringing first).
    answer_at: Option<Instant>,
    /// What the media runs on; `None` until a late offer's ACK answers.
    negotiated: Option<Negotiated>,
    symmetric: bool,
    inband: InbandDtmf,
    sdp_session: u64,
    sdp_version: u64,
    current: Option<CurrentPlay>,
    /// Kept until the script starts (the command channel stays open).
    script_cmds: Option<mpsc::UnboundedSender<ScriptCmd>>,
    script_events: Option<mpsc::UnboundedSender<ScriptEvent>>,
    /// Who ended the call and why, once known.
    end: Option<(Party, &'static str)>,
    guard: EndGuard,
}

/// The call's task, to spawn; `None` when the INVITE was refused at once
/// (422). Built outside any `async fn` so that the leg's state lives once
/// in the task (an async wrapper would keep a moved-from copy of it).
pub(crate) fn start(
    ctx: CallContext,
    s: Setup,
) -> Option<impl std::future::Future<Output = ()> + Send> {
    let Setup {
        info,
        invite,
        ess,
        tx,
        peer,
        negotiated,
        media,
        media_events,
        slot,
        inputs,
        answer_after,
        symmetric,
        inband,
    } = s;
    let mut guard = EndGuard {
        registry: ctx.registry.clone(),
        cdr: ctx.cdr.clone(),
        sip_call_id: info.sip_call_id.clone(),
        record_id: info.record_id.clone(),
        slot: Some(slot),
    };
    let span = tracing::info_span!("call", call_id = %info.sip_call_id, record_id = %info.record_id,
        trunk = %info.trunk, did = %info.did, flow = %info.flow);
    let cfg = ctx.dialog_config(peer.transport, ALLOW);
    let machine = match DialogMachine::uas(Instant::now(), invite, &ess, tx, cfg) {
        Ok(m) => m,
        Err(too_small) => {
            span.in_scope(|| tracing::info!("session interval under our Min-SE: 422"));
            ctx.endpoint.respond(tx, *too_small);
            guard.end(Party::System, "session_interval_too_small");
            return None;
        }
    };
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let mut kind = Inbound {
        info,
        phase: Phase::Ringing,
        answer_at: None,
        negotiated,
        symmetric,
        inband,
        sdp_session: rand::random::<u32>() as u64,
        sdp_version: 1,
        current: None,
        script_cmds: Some(cmd_tx),
        script_events: None,
        end: None,
        guard,
    };
    let mut leg = LegCore {
        dialog: DialogPort::new(machine, ctx.endpoint.clone(), peer),
        ctx,
        media,
    };
    span.in_scope(|| {
        if answer_after.is_zero() {
            kind.answer(&mut leg);
        } else {
            let _ = leg.dialog.machine.ring(180);
            kind.answer_at = Some(Instant::now() + answer_after);
        }
    });
    let fut = drive(kind, leg, inputs, cmd_rx, media_events);
    Some(tracing::Instrument::instrument(fut, span))
}

impl LegKind for Inbound {
    type Cmd = ScriptCmd;

    fn dialog(&mut self, leg: &mut LegCore, ev: DialogEvent) -> Flow {
        match ev {
            DialogEvent::AckAnswer { body } => self.ack_answer(leg, body),
            DialogEvent::Confirmed => {
                self.emit(leg, EventKind::Confirmed);
                if self.negotiated.is_some() {
                    self.start_script(leg);
                }
                Flow::Go
            }
            DialogEvent::Ended(why) => {
                let by = match why {
                    EndReason::Bye | EndReason::Cancelled => Party::Caller,
                    _ => Party::System,
                };
                match why {
                    EndReason::Cancelled => tracing::info!("caller cancelled while ringing"),
                    EndReason::Bye => tracing::info!("caller hung up"),
                    other => tracing::warn!(reason = other.as_str(), "the dialog ended"),
                }
                self.over(by, why.as_str())
            }
            DialogEvent::Offer { id, request } => {
                self.reoffer(leg, id, &request);
                Flow::Go
            }
            DialogEvent::Request { id, request } => {
                self.info_request(leg, id, &request);
                Flow::Go
            }
            DialogEvent::OfferAnswered { response } => {
                if !response.body.is_empty() {
                    self.apply(leg, &response.body);
                }
                Flow::Go
            }
            DialogEvent::Progress { .. }
            | DialogEvent::Answered { .. }
            | DialogEvent::Failed { .. } => Flow::Go,
        }
    }

    fn media(&mut self, leg: &mut LegCore, ev: MediaEvent) -> Flow {
        match ev {
            MediaEvent::Dtmf(d) => self.digit(leg, d),
            MediaEvent::PlayFinished {
                play_id,
                frames_sent,
                end,
                ..
            } => self.play_finished(leg, play_id, frames_sent, end, None),
            MediaEvent::RtpTimeout if self.phase == Phase::Talking => {
                tracing::warn!("caller's RTP stopped; hanging up");
                leg.dialog.machine.hangup();
                return self.over(Party::System, "rtp_timeout");
            }
            _ => {}
        }
        Flow::Go
    }

    fn command(&mut self, leg: &mut LegCore, cmd: Option<ScriptCmd>) -> Flow {
        match cmd {
            Some(ScriptCmd::Play {
                prompt,
                barge_in,
                play_id,
            }) => {
                self.current = Some(CurrentPlay {
                    play_id,
                    name: prompt.name().to_string(),
                    total_ms: prompt.duration_ms(),
                    barge_in,
                    info_barge: false,
                });
                leg.media.play(prompt, barge_in, play_id);
            }
            Some(ScriptCmd::Record(kind)) => self.emit(leg, *kind),
            Some(ScriptCmd::Bridge(other)) => leg.media.bridge(&other),
            Some(ScriptCmd::Unbridge) => leg.media.unbridge(),
            Some(ScriptCmd::Hangup { by, reason }) => {
                leg.dialog.machine.hangup();
                return self.over(by, reason);
            }
            None => {
                leg.dialog.machine.hangup();
                return self.over(Party::System, "script_end");
            }
        }
        Flow::Go
    }

    fn hangup(&mut self, leg: &mut LegCore, reason: &'static str) -> Flow {
        if self.phase == Phase::Ringing {
            let retry = Header::RetryAfter("5".into());
            let _ = leg.dialog.machine.reject(503, vec![retry]);
        } else {
            leg.dialog.machine.hangup();
        }
        self.over(Party::System, reason)
    }

    fn deadline(&self) -> Option<Instant> {
        self.answer_at
    }

    fn wake(&mut self, leg: &mut LegCore) -> Flow {
        self.answer_at = None;
        self.answer(leg);
        Flow::Go
    }

    fn ending(&mut self, leg: &mut LegCore) -> bool {
        if self.current.is_some() {
            leg.media.stop_play();
            return true;
        }
        false
    }

    fn ended(&mut self, leg: &mut LegCore, last: Option<MediaEvent>) {
        if let Some(MediaEvent::PlayFinished {
            play_id,
            frames_sent,
            end,
            ..
        }) = last
        {
            self.play_finished(leg, play_id, frames_sent, end, Some("hangup"));
        }
        if let Some(tx) = self.script_events.take() {
            let _ = tx.send(ScriptEvent::HungUp);
        }
        let (by, reason) = self.end.unwrap_or((Party::System, "error"));
        self.guard.end(by, reason);
    }
}

impl Inbound {
    fn emit(&self, leg: &LegCore, kind: EventKind) {
        leg.ctx.cdr.emit(CallEvent::now(&self.info.record_id, kind));
    }

    fn over(&mut self, by: Party, reason: &'static str) -> Flow {
        self.end.get_or_insert((by, reason));
        Flow::End
    }

    /// Our answer to the session agreed; our offer while there is none
    /// (a late offer).
    fn local_sdp(&self, leg: &LegCore) -> Vec<u8> {
        let (ip, port) = (leg.ctx.media_ip, leg.media.local_addr().port());
        match &self.negotiated {
            Some(n) => sdp::build_answer(ip, port, n, self.sdp_session, self.sdp_version),
            None => sdp::build_offer(
                ip,
                port,
                &leg.ctx.codecs,
                OFFER_DTMF_PT,
                self.sdp_session,
                self.sdp_version,
            ),
        }
        .into_bytes()
    }

    fn answer(&mut self, leg: &mut LegCore) {
        let body = self.local_sdp(leg);
        if leg.dialog.machine.answer(body).is_err() {
            return;
        }
        self.phase = Phase::Answered;
        match self.negotiated.clone() {
            Some(n) => {
                leg.media.start(self.params(&n));
                self.answered(leg, &n);
            }
            None => {
                tracing::info!(local_rtp = %leg.media.local_addr(), "late offer: our offer in the 200, the answer comes in the ACK");
            }
        }
    }

    /// The media is agreed: the call counts as answered.
    fn answered(&self, leg: &LegCore, n: &Negotiated) {
        self.emit(
            leg,
            EventKind::Answered {
                codec: n.codec.name().to_string(),
            },
        );
        tracing::info!(codec = n.codec.name(), remote_rtp = %n.remote_rtp, local_rtp = %leg.media.local_addr(), "answered");
    }

    /// The ACK to a 2xx that carried our offer: the late offer's answer, or
    /// the answer to an offerless re-INVITE. A late offer whose ACK brings
    /// no usable answer has no media to run on: BYE (RFC 3261 13.3.1.4).
    fn ack_answer(&mut self, leg: &mut LegCore, body: Option<Vec<u8>>) -> Flow {
        let late = self.negotiated.is_none();
        let Some(body) = body else {
            if late {
                tracing::warn!("late offer: the ACK carried no answer; hanging up");
                leg.dialog.machine.hangup();
                return self.over(Party::System, "no_sdp_answer");
            }
            return Flow::Go;
        };
        match offer::negotiate_body(&body, &leg.ctx.codecs) {
            Ok(n) => {
                if late {
                    self.answered(leg, &n);
                }
                self.use_session(leg, n);
            }
            Err(e) if late => {
                tracing::warn!(error = %e, "late offer: the ACK's answer cannot be used; hanging up");
                leg.dialog.machine.hangup();
                return self.over(Party::System, "bad_sdp_answer");
            }
            Err(e) => {
                tracing::info!(error = %e, "the ACK's answer cannot be used; the session stays as it was");
            }
        }
        Flow::Go
    }

    fn params(&self, n: &Negotiated) -> SessionParams {
        session_params(n, self.symmetric, self.inband)
    }

    fn start_script(&mut self, leg: &mut LegCore) {
        let Some(cmd_tx) = self.script_cmds.take() else {
            return;
        };
        self.phase = Phase::Talking;
        let (evt_tx, evt_rx) = mpsc::unbounded_channel();
        self.script_events = Some(evt_tx);
        let handle = CallHandle::new(self.info.clone(), cmd_tx, evt_rx);
        let script = leg.ctx.script.run(handle);
        tokio::spawn(tracing::Instrument::instrument(
            script,
            tracing::Span::current(),
        ));
    }

    fn digit(&mut self, leg: &LegCore, d: DtmfEvent) {
        let source = match d.source {
            DtmfSource::Rfc4733 => DigitSource::Rfc4733,
            DtmfSource::SipInfo => DigitSource::SipInfo,
            DtmfSource::InBand => DigitSource::InBand,
        };
        tracing::info!(digit = %d.digit, ?source, duration_ms = d.duration_ms, "digit");
        self.emit(
            leg,
            EventKind::Digit {
                digit: d.digit,
                source,
            },
        );
        if let Some(tx) = &self.script_events {
            let _ = tx.send(ScriptEvent::Digit(d));
        }
    }

    fn play_finished(
        &mut self,
        leg: &LegCore,
        play_id: u64,
        frames_sent: usize,
        end: PlayEnd,
        override_end: Option<&str>,
    ) {
        let Some(cur) = self.current.take_if(|c| c.play_id == play_id) else {
            return;
        };
        let heard_ms = ((frames_sent as u64) * 20).min(cur.total_ms);
        let end = if cur.info_barge {
            PlayEnd::BargeIn
        } else {
            end
        };
        let end_name = override_end.unwrap_or(match end {
            PlayEnd::Completed => "completed",
            PlayEnd::BargeIn => "barge_in",
            PlayEnd::Stopped => "stopped",
        });
        self.emit(
            leg,
            EventKind::PromptPlayed {
                name: cur.name,
                duration_ms: cur.total_ms,
                heard_ms,
                end: end_name.to_string(),
            },
        );
        if let Some(tx) = &self.script_events {
            let _ = tx.send(ScriptEvent::PlayFinished {
                play_id,
                heard_ms,
                total_ms: cur.total_ms,
                end,
            });
        }
    }

    /// re-INVITE / UPDATE: hold, unhold, new address or codec.
    fn reoffer(&mut self, leg: &mut LegCore, id: ServerTxId, req: &Request) {
        let now = Instant::now();
        if req.body.is_empty() {
            // Offerless re-INVITE (a bodyless UPDATE is a refresh the
            // dialog answers itself): offer what we have; the ACK answers.
            let body = self.local_sdp(leg);
            let _ = leg.dialog.machine.answer_offer(now, id, Ok(Some(body)));
            return;
        }
        match offer::negotiate_body(&req.body, &leg.ctx.codecs) {
            Ok(n) => {
                self.sdp_version += 1;
                tracing::info!(direction = ?n.direction, remote_rtp = %n.remote_rtp, "session modified");
                // Media first, so that no frame leaves on the old terms
                // after the peer has read our answer (a hold is a hold).
                self.use_session(leg, n);
                let body = self.local_sdp(leg);
                let _ = leg.dialog.machine.answer_offer(now, id, Ok(Some(body)));
            }
            Err(why) => {
                tracing::info!(error = %why, "re-offer refused");
                let _ = leg
                    .dialog
                    .machine
                    .answer_offer(now, id, Err(offer::refuse(req, &why)));
            }
        }
    }

    /// The caller's answer to our re-offer (a session refresh).
    fn apply(&mut self, leg: &mut LegCore, body: &[u8]) {
        if let Ok(n) = offer::negotiate_body(body, &leg.ctx.codecs) {
            self.use_session(leg, n);
        }
    }

    /// Send and receive by a new negotiation.
    fn use_session(&mut self, leg: &mut LegCore, n: Negotiated) {
        leg.media.start(self.params(&n));
        self.negotiated = Some(n);
    }

    fn info_request(&mut self, leg: &mut LegCore, id: ServerTxId, req: &Request) {
        let machine = &mut leg.dialog.machine;
        if self.phase != Phase::Talking {
            // Digits before the script listens mean nothing yet.
            machine.respond(id, message::response(req, 200, None));
            return;
        }
        let ctype = content_type(&req.headers).unwrap_or("").to_string();
        match media::dtmf::info::parse_info_body(&ctype, &req.body) {
            Ok(d) => {
                machine.respond(id, message::response(req, 200, None));
                if let Some(cur) = self.current.as_mut() {
                    if cur.barge_in {
                        cur.info_barge = true;
                        leg.media.stop_play();
                    }
                }
                self.digit(leg, d);
            }
            Err(_) if ctype.is_empty() => {
                // An empty INFO is a keep-alive probe for some peers.
                machine.respond(id, message::response(req, 200, None));
            }
            Err(e) => {
                let dtmf_type = ctype.to_ascii_lowercase().starts_with("application/dtmf");
                let code = if dtmf_type { 400 } else { 415 };
                tracing::info!(error = %e, content_type = %ctype, code, "INFO refused");
                let mut r = message::response(req, code, None);
                if code == 415 {
                    r.headers.push(Header::Accept(
                        "application/dtmf-relay, application/dtmf".into(),
                    ));
                }
                machine.respond(id, r);
            }
        }
    }
}
