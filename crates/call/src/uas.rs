//! One inbound call leg (UAS): ring, answer with SDP, wait for the ACK, run
//! the script, serve in-dialog requests (BYE, re-INVITE/UPDATE, INFO,
//! OPTIONS), end with BYE, and report every step as a call event.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use cdr::{CallEvent, CdrSink, DigitSource, EventKind, Party};
use media::codec::Codec;
use media::dtmf::{DtmfEvent, DtmfSource};
use media::engine::{MediaEvent, MediaSession, PlayEnd, SessionParams};
use media::sdp::{self, Negotiated};
use sip::message::{self, content_type};
use sip::rsip::{Header, Method, Request, Response};
use sip::{Dialog, Endpoint, Essentials, Peer, ServerTxId, Transport, TxEvent};
use tokio::sync::mpsc;

use crate::handle::{CallHandle, CallInfo, CallScript, ScriptCmd, ScriptEvent};
use crate::offer::{self, session_params};
use crate::registry::{CallInput, CallRegistry};
use crate::trunk::TrunkSlot;

/// Methods we answer inside a dialog.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// Shared by every call task.
#[derive(Clone)]
pub struct CallContext {
    pub endpoint: Endpoint,
    pub cdr: CdrSink,
    pub registry: CallRegistry,
    pub script: Arc<dyn CallScript>,
    /// Address put in SDP (where our RTP sockets are bound).
    pub media_ip: IpAddr,
    /// Codecs we accept, in our order of preference.
    pub codecs: Vec<Codec>,
}

impl CallContext {
    /// Our SIP address on a transport (for Via) and our Contact URI.
    pub(crate) fn local_sip(&self, transport: Transport) -> (std::net::SocketAddr, String) {
        let local = self
            .endpoint
            .local_addr(transport)
            .map(|a| {
                if a.ip().is_unspecified() {
                    std::net::SocketAddr::new(self.media_ip, a.port())
                } else {
                    a
                }
            })
            .unwrap_or_else(|| std::net::SocketAddr::new(self.media_ip, 5060));
        let transport_param = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        (local, format!("sip:softswitch@{local}{transport_param}"))
    }
}

/// Everything a new call starts with.
pub(crate) struct Setup {
    pub info: Arc<CallInfo>,
    pub invite: Request,
    pub ess: Essentials,
    pub tx: ServerTxId,
    pub peer: Peer,
    pub negotiated: Negotiated,
    pub media: MediaSession,
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    pub slot: TrunkSlot,
    pub inputs: mpsc::UnboundedReceiver<Box<CallInput>>,
    pub answer_after: Duration,
    pub symmetric: bool,
    pub inband_dtmf: bool,
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

struct Leg {
    ctx: CallContext,
    info: Arc<CallInfo>,
    invite: Request,
    tx: ServerTxId,
    peer: Peer,
    local_tag: String,
    dialog: Dialog,
    via: String,
    media: MediaSession,
    params: SessionParams,
    sdp_session: u64,
    sdp_version: u64,
    current: Option<CurrentPlay>,
    last_negotiated: Option<Negotiated>,
    script_events: Option<mpsc::UnboundedSender<ScriptEvent>>,
    guard: EndGuard,
}

/// How the ringing / answer phases ended when the call did not go on.
enum Stop {
    Ended,
}

pub(crate) async fn run(ctx: CallContext, s: Setup) {
    let Setup {
        info,
        invite,
        ess,
        tx,
        peer,
        negotiated,
        media,
        mut media_events,
        slot,
        mut inputs,
        answer_after,
        symmetric,
        inband_dtmf,
    } = s;
    let (local, contact) = ctx.local_sip(peer.transport);
    let local_tag = message::random_token(10);
    let dialog = Dialog::uas(&invite, &ess, &local_tag, &contact);
    let params = session_params(&negotiated, symmetric, inband_dtmf);
    let guard = EndGuard {
        registry: ctx.registry.clone(),
        cdr: ctx.cdr.clone(),
        sip_call_id: info.sip_call_id.clone(),
        record_id: info.record_id.clone(),
        slot: Some(slot),
    };
    let mut leg = Leg {
        via: format!("SIP/2.0/{} {local}", peer.transport.as_str()),
        ctx,
        info,
        invite,
        tx,
        peer,
        local_tag,
        dialog,
        media,
        params,
        sdp_session: rand::random::<u32>() as u64,
        sdp_version: 1,
        current: None,
        last_negotiated: None,
        script_events: None,
        guard,
    };
    let span = tracing::info_span!("call", call_id = %leg.info.sip_call_id, record_id = %leg.info.record_id,
        trunk = %leg.info.trunk, did = %leg.info.did, flow = %leg.info.flow);
    let fut = async move {
        if leg.ring(&mut inputs, answer_after).await.is_err() {
            return;
        }
        leg.answer(&negotiated);
        if leg.await_ack(&mut inputs).await.is_err() {
            return;
        }
        leg.converse(&mut inputs, &mut media_events).await;
    };
    tracing::Instrument::instrument(fut, span).await;
}

impl Leg {
    fn emit(&self, kind: EventKind) {
        self.ctx
            .cdr
            .emit(CallEvent::now(&self.info.record_id, kind));
    }

    /// A response to the INVITE (with our tag and Contact).
    fn invite_response(&self, code: u16) -> Response {
        let mut r = message::response(&self.invite, code, Some(&self.local_tag));
        if (101..300).contains(&code) {
            r.headers.push(Header::Contact(
                format!("<{}>", self.dialog.local_contact).into(),
            ));
        }
        r
    }

    fn respond_invite(&self, resp: Response) {
        self.ctx.endpoint.respond(self.tx, resp);
    }

    async fn ring(
        &mut self,
        inputs: &mut mpsc::UnboundedReceiver<Box<CallInput>>,
        answer_after: Duration,
    ) -> Result<(), Stop> {
        if answer_after.is_zero() {
            return Ok(());
        }
        self.respond_invite(self.invite_response(180));
        let deadline = tokio::time::Instant::now() + answer_after;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(()),
                input = inputs.recv() => match input.map(|i| *i) {
                    Some(CallInput::Sip(TxEvent::Cancelled { .. })) => {
                        tracing::info!("caller cancelled while ringing");
                        self.respond_invite(self.invite_response(487));
                        self.guard.end(Party::Caller, "cancel");
                        return Err(Stop::Ended);
                    }
                    Some(CallInput::Hangup(reason)) => {
                        let mut r = self.invite_response(503);
                        r.headers.push(Header::RetryAfter("5".into()));
                        self.respond_invite(r);
                        self.guard.end(Party::System, reason);
                        return Err(Stop::Ended);
                    }
                    Some(CallInput::Sip(ev)) => self.in_dialog_early(ev),
                    None => return Err(Stop::Ended),
                },
            }
        }
    }

    /// Requests inside an early dialog: only OPTIONS makes sense; others wait.
    fn in_dialog_early(&mut self, ev: TxEvent) {
        if let TxEvent::Request { id, request, .. } = ev {
            let code = if request.method == Method::Options {
                200
            } else {
                491
            };
            self.ctx
                .endpoint
                .respond(id, message::response(&request, code, None));
        }
    }

    fn local_sdp(&self, n: &Negotiated) -> Vec<u8> {
        sdp::build_answer(
            self.ctx.media_ip,
            self.media.local_addr().port(),
            n,
            self.sdp_session,
            self.sdp_version,
        )
        .into_bytes()
    }

    fn answer(&mut self, n: &Negotiated) {
        let mut r = self.invite_response(200);
        r.headers.push(Header::Allow(ALLOW.into()));
        let body = self.local_sdp(n);
        message::set_body(&mut r.headers, &mut r.body, "application/sdp", body);
        self.respond_invite(r);
        self.media.start(self.params);
        self.emit(EventKind::Answered {
            codec: n.codec.name().to_string(),
        });
        tracing::info!(codec = n.codec.name(), remote_rtp = %n.remote_rtp, local_rtp = %self.media.local_addr(), "answered");
        self.last_negotiated = Some(n.clone());
    }

    async fn await_ack(
        &mut self,
        inputs: &mut mpsc::UnboundedReceiver<Box<CallInput>>,
    ) -> Result<(), Stop> {
        loop {
            match inputs.recv().await.map(|i| *i) {
                Some(CallInput::Sip(TxEvent::Ack { .. })) => {
                    self.emit(EventKind::Confirmed);
                    return Ok(());
                }
                Some(CallInput::Sip(TxEvent::AckTimeout { .. })) => {
                    tracing::warn!("no ACK for our 200 OK; hanging up");
                    self.bye();
                    self.guard.end(Party::System, "ack_timeout");
                    return Err(Stop::Ended);
                }
                Some(CallInput::Sip(TxEvent::Request { id, request, .. }))
                    if request.method == Method::Bye =>
                {
                    self.ctx
                        .endpoint
                        .respond(id, message::response(&request, 200, None));
                    self.guard.end(Party::Caller, "bye");
                    return Err(Stop::Ended);
                }
                Some(CallInput::Sip(ev)) => self.in_dialog_early(ev),
                Some(CallInput::Hangup(reason)) => {
                    self.bye();
                    self.guard.end(Party::System, reason);
                    return Err(Stop::Ended);
                }
                None => return Err(Stop::Ended),
            }
        }
    }

    async fn converse(
        &mut self,
        inputs: &mut mpsc::UnboundedReceiver<Box<CallInput>>,
        media_events: &mut mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
        let (evt_tx, evt_rx) = mpsc::unbounded_channel();
        self.script_events = Some(evt_tx);
        let handle = CallHandle::new(self.info.clone(), cmd_tx, evt_rx);
        let script = self.ctx.script.run(handle);
        tokio::spawn(tracing::Instrument::instrument(
            script,
            tracing::Span::current(),
        ));
        loop {
            tokio::select! {
                input = inputs.recv() => match input.map(|i| *i) {
                    Some(CallInput::Sip(ev)) => {
                        if let Some((by, reason)) = self.in_dialog(ev) {
                            self.finish(media_events, by, reason).await;
                            return;
                        }
                    }
                    Some(CallInput::Hangup(reason)) => {
                        self.bye();
                        self.finish(media_events, Party::System, reason).await;
                        return;
                    }
                    None => return,
                },
                ev = media_events.recv() => match ev {
                    Some(MediaEvent::Dtmf(d)) => self.digit(d),
                    Some(MediaEvent::PlayFinished { play_id, frames_sent, end, .. }) => {
                        self.play_finished(play_id, frames_sent, end, None);
                    }
                    Some(MediaEvent::RtpTimeout) => {
                        tracing::warn!("caller's RTP stopped; hanging up");
                        self.bye();
                        self.finish(media_events, Party::System, "rtp_timeout").await;
                        return;
                    }
                    None => return,
                },
                cmd = cmd_rx.recv() => match cmd {
                    Some(ScriptCmd::Play { prompt, barge_in, play_id }) => {
                        self.current = Some(CurrentPlay {
                            play_id,
                            name: prompt.name().to_string(),
                            total_ms: prompt.duration_ms(),
                            barge_in,
                            info_barge: false,
                        });
                        self.media.play(prompt, barge_in, play_id);
                    }
                    Some(ScriptCmd::Record(kind)) => self.emit(*kind),
                    Some(ScriptCmd::Bridge(other)) => self.media.bridge(&other),
                    Some(ScriptCmd::Unbridge) => self.media.unbridge(),
                    Some(ScriptCmd::Hangup { by, reason }) => {
                        self.bye();
                        self.finish(media_events, by, reason).await;
                        return;
                    }
                    None => {
                        self.bye();
                        self.finish(media_events, Party::System, "script_end").await;
                        return;
                    }
                },
            }
        }
    }

    fn digit(&mut self, d: DtmfEvent) {
        let source = match d.source {
            DtmfSource::Rfc4733 => DigitSource::Rfc4733,
            DtmfSource::SipInfo => DigitSource::SipInfo,
            DtmfSource::InBand => DigitSource::InBand,
        };
        tracing::info!(digit = %d.digit, ?source, duration_ms = d.duration_ms, "digit");
        self.emit(EventKind::Digit {
            digit: d.digit,
            source,
        });
        if let Some(tx) = &self.script_events {
            let _ = tx.send(ScriptEvent::Digit(d));
        }
    }

    fn play_finished(
        &mut self,
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
        self.emit(EventKind::PromptPlayed {
            name: cur.name,
            duration_ms: cur.total_ms,
            heard_ms,
            end: end_name.to_string(),
        });
        if let Some(tx) = &self.script_events {
            let _ = tx.send(ScriptEvent::PlayFinished {
                play_id,
                heard_ms,
                total_ms: cur.total_ms,
                end,
            });
        }
    }

    /// Serve one in-dialog event; `Some` when it ends the call.
    fn in_dialog(&mut self, ev: TxEvent) -> Option<(Party, &'static str)> {
        let TxEvent::Request {
            id, request, ess, ..
        } = ev
        else {
            return None; // ACK retransmissions, late CANCEL, AckTimeout after ACK
        };
        let ep = self.ctx.endpoint.clone();
        if ess.to_tag.as_deref() != Some(self.local_tag.as_str()) {
            ep.respond(id, message::response(&request, 481, None));
            return None;
        }
        if let Err(e) = self.dialog.check_remote_cseq(request.method, ess.cseq) {
            tracing::debug!(error = %e, "out-of-order in-dialog request");
            let mut r = message::response(&request, 500, None);
            r.headers.push(Header::RetryAfter("1".into()));
            ep.respond(id, r);
            return None;
        }
        match request.method {
            Method::Bye => {
                ep.respond(id, message::response(&request, 200, None));
                tracing::info!("caller hung up");
                Some((Party::Caller, "bye"))
            }
            Method::Invite | Method::Update => {
                self.reoffer(id, &request);
                None
            }
            Method::Info => {
                self.info_request(id, &request);
                None
            }
            Method::Options => {
                let mut r = message::response(&request, 200, None);
                r.headers.push(Header::Allow(ALLOW.into()));
                ep.respond(id, r);
                None
            }
            _ => {
                let mut r = message::response(&request, 405, None);
                r.headers.push(Header::Allow(ALLOW.into()));
                ep.respond(id, r);
                None
            }
        }
    }

    /// re-INVITE / UPDATE: hold, unhold, new address or codec.
    fn reoffer(&mut self, id: ServerTxId, req: &Request) {
        let ep = self.ctx.endpoint.clone();
        let mut r = message::response(req, 200, None);
        r.headers.push(Header::Contact(
            format!("<{}>", self.dialog.local_contact).into(),
        ));
        r.headers.push(Header::Allow(ALLOW.into()));
        if req.body.is_empty() {
            // Offerless re-INVITE: offer what we have; the ACK answers.
            if req.method == Method::Invite {
                if let Some(n) = self.last_negotiated.clone() {
                    let body = self.local_sdp(&n);
                    message::set_body(&mut r.headers, &mut r.body, "application/sdp", body);
                }
            }
            ep.respond(id, r);
            return;
        }
        match offer::negotiate_body(&req.body, &self.ctx.codecs) {
            Ok(n) => {
                self.sdp_version += 1;
                let body = self.local_sdp(&n);
                message::set_body(&mut r.headers, &mut r.body, "application/sdp", body);
                ep.respond(id, r);
                self.params = session_params(&n, self.params.symmetric, self.params.inband_dtmf);
                self.media.start(self.params);
                tracing::info!(direction = ?n.direction, remote_rtp = %n.remote_rtp, "session modified");
                self.last_negotiated = Some(n);
            }
            Err(why) => {
                tracing::info!(error = %why, "re-offer refused");
                ep.respond(id, offer::refuse(req, &why));
            }
        }
    }

    fn info_request(&mut self, id: ServerTxId, req: &Request) {
        let ep = self.ctx.endpoint.clone();
        let ctype = content_type(&req.headers).unwrap_or("").to_string();
        match media::dtmf::info::parse_info_body(&ctype, &req.body) {
            Ok(d) => {
                ep.respond(id, message::response(req, 200, None));
                if let Some(cur) = self.current.as_mut() {
                    if cur.barge_in {
                        cur.info_barge = true;
                        self.media.stop_play();
                    }
                }
                self.digit(d);
            }
            Err(_) if ctype.is_empty() => {
                // An empty INFO is a keep-alive probe for some peers.
                ep.respond(id, message::response(req, 200, None));
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
                ep.respond(id, r);
            }
        }
    }

    fn bye(&mut self) {
        let bye = self.dialog.request(Method::Bye, &self.via);
        let (reply_tx, _reply_rx) = mpsc::unbounded_channel();
        self.ctx.endpoint.request(bye, self.peer, reply_tx);
    }

    /// Account for a prompt cut by the hang-up, close the record.
    async fn finish(
        &mut self,
        media_events: &mut mpsc::UnboundedReceiver<MediaEvent>,
        by: Party,
        reason: &'static str,
    ) {
        if self.current.is_some() {
            self.media.stop_play();
            let wait = tokio::time::timeout(Duration::from_millis(200), async {
                while let Some(ev) = media_events.recv().await {
                    if let MediaEvent::PlayFinished {
                        play_id,
                        frames_sent,
                        end,
                        ..
                    } = ev
                    {
                        return Some((play_id, frames_sent, end));
                    }
                }
                None
            });
            if let Ok(Some((play_id, sent, end))) = wait.await {
                self.play_finished(play_id, sent, end, Some("hangup"));
            }
        }
        if let Some(tx) = self.script_events.take() {
            let _ = tx.send(ScriptEvent::HungUp);
        }
        self.guard.end(by, reason);
    }
}
