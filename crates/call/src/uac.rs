//! One outbound leg (UAC), to an agent's phone or out through a trunk:
//! INVITE with our SDP offer, ringing, CANCEL when asked, ACK to the 2xx,
//! then BYE, re-INVITE, OPTIONS and (agents only) REFER inside the dialog.
//! Each step is reported to whoever dialled (the ACD edge, or the IVR's
//! `transfer` node); the leg's RTP session sits on the caller's media
//! worker so the two can be bridged.

use media::engine::{MediaEngine, MediaEvent, MediaSession, MediaSessionRef, SessionParams};
use media::sdp::{self, Direction, Negotiated};
use sip::message;
use sip::rsip::{Header, Method, Request, SipMessage};
use sip::{Dialog, Essentials, Peer, ServerTxId, TxEvent};
use tokio::sync::mpsc;

use crate::offer::{self, session_params};
use crate::registrar::Binding;
use crate::registry::{CallEntry, CallInput};
use crate::uas::CallContext;

/// Payload type we offer telephone-event on.
const OFFER_DTMF_PT: u8 = 101;

/// Who to call and for whom.
#[derive(Debug, Clone)]
pub struct DialRequest {
    pub agent: String,
    pub target: Binding,
    /// The caller's number, shown to the agent.
    pub caller: Option<String>,
    /// The caller's record, for logs.
    pub record_id: String,
    /// The caller's RTP session: ours goes on the same worker.
    pub beside: MediaSessionRef,
}

/// Why a leg was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegFailure {
    /// The phone said busy or declined (486, 600, 603).
    Declined,
    /// No final answer came (408, 480, 487 without our CANCEL).
    NoAnswer,
    /// The phone could not be reached or failed (timeout, 4xx-6xx, bad SDP).
    Unreachable,
}

/// What a leg reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    Ringing,
    Answered {
        media: MediaSessionRef,
        codec: String,
    },
    Failed {
        why: LegFailure,
        code: Option<u16>,
    },
    /// The answered leg is over: `by_agent` when the phone sent BYE.
    Ended {
        by_agent: bool,
        reason: &'static str,
    },
    /// The far end put the call on hold (`on`), or took it back.
    Hold {
        on: bool,
    },
    /// The phone asked for a blind transfer (REFER, answered 202): the
    /// user part of its Refer-To (a queue name or a number). The dialler
    /// answers with [`LegControl::transfer_done`].
    TransferAsked {
        target: String,
    },
}

/// What the dialler tells a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegCmd {
    /// Stop ringing (CANCEL), or hang up if already answered.
    Stop,
    /// The outcome of the phone's REFER: NOTIFY it with this status; on
    /// 200 the phone's leg is hung up (the caller went on elsewhere).
    TransferDone(u16),
}

/// Handle on a running leg.
#[derive(Debug, Clone)]
pub struct LegControl {
    cmd: mpsc::UnboundedSender<LegCmd>,
    pub sip_call_id: String,
}

impl LegControl {
    pub fn stop(&self) {
        let _ = self.cmd.send(LegCmd::Stop);
    }

    /// Answer the phone's transfer request (see [`LegEvent::TransferAsked`]).
    pub fn transfer_done(&self, status: u16) {
        let _ = self.cmd.send(LegCmd::TransferDone(status));
    }
}

type Report = Box<dyn Fn(LegEvent) + Send + Sync>;

/// What an agent's phone may send us inside the call (REFER: blind
/// transfer to a queue).
const AGENT_ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER";

/// A call out through a trunk or to a SIP URI (the IVR `transfer` node).
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Who is called, shown in To (the number, or the URI's user).
    pub callee: String,
    /// Request-URI.
    pub uri: String,
    /// Where the INVITE goes (the trunk's proxy, or the URI's host).
    pub peer: Peer,
    /// Number presented in From.
    pub caller: Option<String>,
    /// The caller's record, for logs.
    pub record_id: String,
    /// The caller's RTP session: ours goes on the same worker.
    pub beside: MediaSessionRef,
    /// The trunk's name (logs, call registry).
    pub trunk: String,
}

/// What any leg we place needs.
struct LegSpec {
    callee: String,
    uri: String,
    peer: Peer,
    caller: Option<String>,
    record_id: String,
    beside: MediaSessionRef,
    label: String,
    /// Agents' phones may REFER (controlled transfer to a queue); other
    /// far ends may not.
    allow_refer: bool,
}

/// Ring an agent's phone; `report` hears every step.
pub fn dial(
    ctx: &CallContext,
    engine: &MediaEngine,
    req: DialRequest,
    report: Report,
) -> std::io::Result<LegControl> {
    let spec = LegSpec {
        callee: req.agent,
        uri: req.target.contact,
        peer: req.target.peer,
        caller: req.caller,
        record_id: req.record_id,
        beside: req.beside,
        label: "agents".into(),
        allow_refer: true,
    };
    place(ctx, engine, spec, report)
}

/// Call out through a trunk or to a URI; `report` hears every step.
pub fn dial_out(
    ctx: &CallContext,
    engine: &MediaEngine,
    req: OutboundRequest,
    report: Report,
) -> std::io::Result<LegControl> {
    let spec = LegSpec {
        callee: req.callee,
        uri: req.uri,
        peer: req.peer,
        caller: req.caller,
        record_id: req.record_id,
        beside: req.beside,
        label: req.trunk,
        allow_refer: false,
    };
    place(ctx, engine, spec, report)
}

fn place(
    ctx: &CallContext,
    engine: &MediaEngine,
    req: LegSpec,
    report: Report,
) -> std::io::Result<LegControl> {
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let media = engine.open_beside(req.beside, media_tx)?;
    let sip_call_id = format!("{}@softswitch", message::random_token(20));
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    ctx.registry.insert(
        &sip_call_id,
        CallEntry {
            record_id: req.record_id.clone(),
            trunk: req.label.clone(),
            input: in_tx,
        },
    );
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (local, contact) = ctx.local_sip(req.peer.transport);
    let via = format!("SIP/2.0/{} {local}", req.peer.transport.as_str());
    let invite = build_invite(&req, &sip_call_id, &via, &contact, &local, ctx, &media);
    let leg = Leg {
        ctx: ctx.clone(),
        sip_call_id: sip_call_id.clone(),
        peer: req.peer,
        via,
        contact,
        invite,
        media,
        dialog: None,
        report,
        sdp_session: rand::random::<u32>() as u64,
        sdp_version: 1,
        negotiated: None,
        refer_pending: false,
        allow_refer: req.allow_refer,
    };
    let span = tracing::info_span!("leg", call_id = %sip_call_id, record_id = %req.record_id, callee = %req.callee, trunk = %req.label);
    tokio::spawn(tracing::Instrument::instrument(
        leg.run(in_rx, cmd_rx, media_rx),
        span,
    ));
    Ok(LegControl {
        cmd: cmd_tx,
        sip_call_id,
    })
}

fn build_invite(
    req: &LegSpec,
    call_id: &str,
    via: &str,
    contact: &str,
    local: &std::net::SocketAddr,
    ctx: &CallContext,
    media: &MediaSession,
) -> Request {
    let host = local.ip();
    let caller = req.caller.as_deref().unwrap_or("anonymous");
    let mut headers = sip::rsip::Headers::default();
    headers.push(Header::Via(
        format!("{via};branch={};rport", message::new_branch()).into(),
    ));
    headers.push(Header::MaxForwards("70".into()));
    headers.push(Header::From(
        format!(
            "\"{caller}\" <sip:{caller}@{host}>;tag={}",
            message::random_token(10)
        )
        .into(),
    ));
    headers.push(Header::To(format!("<sip:{}@{host}>", req.callee).into()));
    headers.push(Header::CallId(call_id.to_string().into()));
    headers.push(Header::CSeq("1 INVITE".into()));
    headers.push(Header::Contact(format!("<{contact}>").into()));
    headers.push(Header::Allow(AGENT_ALLOW.into()));
    headers.push(Header::UserAgent(message::PRODUCT.into()));
    let offer = sdp::build_offer(
        ctx.media_ip,
        media.local_addr().port(),
        &ctx.codecs,
        OFFER_DTMF_PT,
        rand::random::<u32>() as u64,
        1,
    );
    let mut body = Vec::new();
    message::set_body(
        &mut headers,
        &mut body,
        "application/sdp",
        offer.into_bytes(),
    );
    let uri = sip::rsip::Uri::try_from(req.uri.as_str()).unwrap_or_default();
    Request {
        method: Method::Invite,
        uri,
        version: sip::rsip::Version::V2,
        headers,
        body,
    }
}

struct Leg {
    ctx: CallContext,
    sip_call_id: String,
    peer: Peer,
    via: String,
    contact: String,
    invite: Request,
    media: MediaSession,
    dialog: Option<Dialog>,
    report: Report,
    sdp_session: u64,
    sdp_version: u64,
    negotiated: Option<Negotiated>,
    /// A REFER was accepted (202) and its NOTIFY is not sent yet.
    refer_pending: bool,
    allow_refer: bool,
}

/// What a request inside the dialog meant.
enum InDialog {
    Served,
    Bye,
    /// A REFER to this target (202 sent).
    Refer(String),
}

/// Where the leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Calling,
    /// We sent CANCEL; a 2xx that crosses it is acknowledged and hung up.
    Cancelling,
    Confirmed,
    Done,
}

impl Leg {
    async fn run(
        mut self,
        mut inputs: mpsc::UnboundedReceiver<Box<CallInput>>,
        mut cmds: mpsc::UnboundedReceiver<LegCmd>,
        mut media_events: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        let (reply_tx, mut replies) = mpsc::unbounded_channel();
        self.ctx
            .endpoint
            .request(self.invite.clone(), self.peer, reply_tx);
        tracing::info!(contact = %self.invite.uri, "ringing the callee");
        let mut phase = Phase::Calling;
        let mut rang = false;
        while phase != Phase::Done {
            tokio::select! {
                r = replies.recv() => match r.map(|r| *r) {
                    Some(TxEvent::Response { response, .. }) => {
                        phase = self.response(phase, &response, &mut rang);
                    }
                    Some(TxEvent::Timeout { .. }) | None => {
                        if phase == Phase::Calling {
                            tracing::warn!("the callee did not answer the INVITE (transaction timeout)");
                            (self.report)(LegEvent::Failed { why: LegFailure::Unreachable, code: None });
                        }
                        if phase != Phase::Confirmed {
                            phase = Phase::Done;
                        }
                    }
                    Some(_) => {}
                },
                c = cmds.recv() => match (c, phase) {
                    (Some(LegCmd::TransferDone(status)), Phase::Confirmed) => {
                        self.notify_refer(status);
                        if status == 200 {
                            tracing::info!("transfer done; hanging up the agent's leg");
                            self.bye();
                            (self.report)(LegEvent::Ended { by_agent: true, reason: "transfer" });
                            phase = Phase::Done;
                        }
                    }
                    (Some(LegCmd::TransferDone(_)), _) => {}
                    // A stop, or the dialler gone: cancel or hang up.
                    (_, phase_now) => match phase_now {
                    Phase::Calling => phase = self.cancel(),
                    Phase::Confirmed => {
                        self.bye();
                        (self.report)(LegEvent::Ended { by_agent: false, reason: "caller_side" });
                        phase = Phase::Done;
                    }
                    _ => {}
                    },
                },
                i = inputs.recv() => match i.map(|i| *i) {
                    Some(CallInput::Sip(TxEvent::Request { id, request, ess, .. })) => {
                        match self.in_dialog(id, &request, &ess) {
                            InDialog::Bye => {
                                (self.report)(LegEvent::Ended { by_agent: true, reason: "bye" });
                                phase = Phase::Done;
                            }
                            InDialog::Refer(target) => {
                                (self.report)(LegEvent::TransferAsked { target });
                            }
                            InDialog::Served => {}
                        }
                    }
                    Some(CallInput::Hangup(reason)) => {
                        match phase {
                            Phase::Confirmed => {
                                self.bye();
                                (self.report)(LegEvent::Ended { by_agent: false, reason });
                                phase = Phase::Done;
                            }
                            Phase::Calling => {
                                (self.report)(LegEvent::Failed { why: LegFailure::Unreachable, code: None });
                                phase = self.cancel();
                            }
                            _ => {}
                        }
                    }
                    Some(CallInput::Sip(_)) => {}
                    None => phase = Phase::Done,
                },
                m = media_events.recv() => {
                    if let Some(MediaEvent::RtpTimeout) = m {
                        if phase == Phase::Confirmed {
                            tracing::warn!("the callee's RTP stopped; hanging up its leg");
                            self.bye();
                            (self.report)(LegEvent::Ended { by_agent: false, reason: "rtp_timeout" });
                            phase = Phase::Done;
                        }
                    }
                }
            }
        }
        self.ctx.registry.remove(&self.sip_call_id);
    }

    /// Stop ringing: CANCEL our INVITE.
    fn cancel(&self) -> Phase {
        let (tx, _rx) = mpsc::unbounded_channel();
        self.ctx
            .endpoint
            .request(sip::cancel_for(&self.invite), self.peer, tx);
        Phase::Cancelling
    }

    /// A response to our INVITE; returns the new phase.
    fn response(&mut self, phase: Phase, resp: &sip::rsip::Response, rang: &mut bool) -> Phase {
        let code = resp.status_code.code();
        match code {
            100..=199 => {
                if code != 100 && !*rang && phase == Phase::Calling {
                    *rang = true;
                    (self.report)(LegEvent::Ringing);
                }
                phase
            }
            200..=299 => {
                if self.dialog.is_none() {
                    self.dialog = Some(Dialog::uac(&self.invite, resp, &self.contact));
                }
                self.send_ack();
                match phase {
                    Phase::Calling => self.answered(resp),
                    Phase::Cancelling => {
                        tracing::info!("the callee answered as we cancelled; hanging up its leg");
                        self.bye();
                        Phase::Done
                    }
                    other => other, // a 2xx retransmission
                }
            }
            _ => {
                if phase == Phase::Calling {
                    let why = match code {
                        486 | 600 | 603 => LegFailure::Declined,
                        408 | 480 | 487 => LegFailure::NoAnswer,
                        _ => LegFailure::Unreachable,
                    };
                    tracing::info!(code, ?why, "the callee refused the call");
                    (self.report)(LegEvent::Failed {
                        why,
                        code: Some(code),
                    });
                }
                Phase::Done
            }
        }
    }

    fn answered(&mut self, resp: &sip::rsip::Response) -> Phase {
        match offer::negotiate_body(&resp.body, &self.ctx.codecs) {
            Ok(n) => {
                self.media.start(params(&n));
                tracing::info!(codec = n.codec.name(), remote_rtp = %n.remote_rtp, "the callee answered");
                (self.report)(LegEvent::Answered {
                    media: self.media.reference(),
                    codec: n.codec.name().to_string(),
                });
                self.negotiated = Some(n);
                Phase::Confirmed
            }
            Err(why) => {
                tracing::warn!(error = %why, "the callee's SDP answer is unusable; hanging up");
                self.bye();
                (self.report)(LegEvent::Failed {
                    why: LegFailure::Unreachable,
                    code: None,
                });
                Phase::Done
            }
        }
    }

    fn send_ack(&self) {
        if let Some(d) = &self.dialog {
            let ack = d.ack(&self.via);
            self.ctx
                .endpoint
                .send_stateless(self.peer, &SipMessage::Request(ack));
        }
    }

    fn bye(&mut self) {
        if let Some(d) = self.dialog.as_mut() {
            let bye = d.request(Method::Bye, &self.via);
            let (tx, _rx) = mpsc::unbounded_channel();
            self.ctx.endpoint.request(bye, self.peer, tx);
        }
    }

    /// Serve a request from the phone.
    fn in_dialog(&mut self, id: ServerTxId, req: &Request, ess: &Essentials) -> InDialog {
        let ep = self.ctx.endpoint.clone();
        let Some(d) = self.dialog.as_mut() else {
            ep.respond(id, message::response(req, 481, None));
            return InDialog::Served;
        };
        if ess.to_tag.as_deref() != Some(d.local_tag.as_str()) {
            ep.respond(id, message::response(req, 481, None));
            return InDialog::Served;
        }
        if d.check_remote_cseq(req.method, ess.cseq).is_err() {
            ep.respond(id, message::response(req, 500, None));
            return InDialog::Served;
        }
        match req.method {
            Method::Bye => {
                ep.respond(id, message::response(req, 200, None));
                tracing::info!("the callee hung up");
                InDialog::Bye
            }
            Method::Invite | Method::Update => {
                self.reoffer(id, req);
                InDialog::Served
            }
            Method::Options | Method::Info => {
                ep.respond(id, message::response(req, 200, None));
                InDialog::Served
            }
            Method::Refer if self.allow_refer => self.refer(id, req),
            Method::Refer => {
                let mut r = message::response(req, 403, None);
                r.headers.push(Header::Warning(
                    "399 softswitch \"transfers are controlled: not from this leg\"".into(),
                ));
                ep.respond(id, r);
                InDialog::Served
            }
            _ => {
                let mut r = message::response(req, 405, None);
                r.headers.push(Header::Allow(AGENT_ALLOW.into()));
                ep.respond(id, r);
                InDialog::Served
            }
        }
    }

    /// A blind transfer asked by the phone (RFC 3515): 202, then the
    /// dialler decides; the outcome goes back in a NOTIFY.
    fn refer(&mut self, id: ServerTxId, req: &Request) -> InDialog {
        let ep = self.ctx.endpoint.clone();
        let target = message::other_header(&req.headers, "Refer-To")
            .map(message::name_addr_uri)
            .and_then(|uri| message::uri_user(uri).map(str::to_string));
        let Some(target) = target else {
            let mut r = message::response(req, 400, None);
            r.headers.push(Header::Warning(
                "399 softswitch \"Refer-To with a user part (queue or number) expected\"".into(),
            ));
            ep.respond(id, r);
            return InDialog::Served;
        };
        if self.refer_pending {
            // One transfer at a time (RFC 3515 section 2.4.7 allows 491).
            ep.respond(id, message::response(req, 491, None));
            return InDialog::Served;
        }
        self.refer_pending = true;
        let mut r = message::response(req, 202, None);
        r.headers
            .push(Header::Contact(format!("<{}>", self.contact).into()));
        ep.respond(id, r);
        tracing::info!(target = %target, "agent asked for a blind transfer");
        InDialog::Refer(target)
    }

    /// Tell the phone how its REFER ended (the implicit subscription ends
    /// with it).
    fn notify_refer(&mut self, status: u16) {
        if !std::mem::take(&mut self.refer_pending) {
            return;
        }
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let mut notify = d.request(Method::Notify, &self.via);
        notify.headers.push(Header::Event("refer".into()));
        notify.headers.push(Header::SubscriptionState(
            "terminated;reason=noresource".into(),
        ));
        let frag = format!("SIP/2.0 {status} {}\r\n", message::reason_phrase(status));
        message::set_body(
            &mut notify.headers,
            &mut notify.body,
            "message/sipfrag;version=2.0",
            frag.into_bytes(),
        );
        let (tx, _rx) = mpsc::unbounded_channel();
        self.ctx.endpoint.request(notify, self.peer, tx);
    }

    /// The phone holds, resumes or moves its media.
    fn reoffer(&mut self, id: ServerTxId, req: &Request) {
        let ep = self.ctx.endpoint.clone();
        let n = if req.body.is_empty() {
            self.negotiated
                .clone()
                .ok_or_else(|| "no session".to_string())
        } else {
            offer::negotiate_body(&req.body, &self.ctx.codecs)
        };
        match n {
            Ok(n) => {
                self.sdp_version += 1;
                let body = sdp::build_answer(
                    self.ctx.media_ip,
                    self.media.local_addr().port(),
                    &n,
                    self.sdp_session,
                    self.sdp_version,
                );
                let mut r = message::response(req, 200, None);
                r.headers
                    .push(Header::Contact(format!("<{}>", self.contact).into()));
                message::set_body(
                    &mut r.headers,
                    &mut r.body,
                    "application/sdp",
                    body.into_bytes(),
                );
                ep.respond(id, r);
                self.media.start(params(&n));
                tracing::info!(direction = ?n.direction, "the callee modified the session");
                // `direction` is ours in the answer: recvonly or inactive
                // when the phone holds (sendonly or inactive offer).
                let held = |n: &Negotiated| {
                    matches!(n.direction, Direction::RecvOnly | Direction::Inactive)
                };
                let was = self.negotiated.as_ref().is_some_and(held);
                if held(&n) != was {
                    (self.report)(LegEvent::Hold { on: held(&n) });
                }
                self.negotiated = Some(n);
            }
            Err(why) => ep.respond(id, offer::refuse(req, &why)),
        }
    }
}

/// The agent's phone may sit behind NAT: latch on its source.
fn params(n: &Negotiated) -> SessionParams {
    session_params(n, true, false)
}
