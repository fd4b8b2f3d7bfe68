//! The outbound leg (we are the UAC), to an agent's phone or out through a
//! trunk: INVITE with our SDP offer, ringing, CANCEL when asked, then the
//! phone's re-offers (hold), INFO and (agents only) REFER inside the dialog.
//! Each step is reported to whoever dialled (the ACD edge, or the IVR's
//! `transfer` node); the leg's RTP session sits on the caller's media
//! worker so the two can be bridged.

use std::time::Instant;

use media::engine::{MediaEngine, MediaEvent, MediaSession, MediaSessionRef, SessionParams};
use media::sdp::{self, Direction, Negotiated};
use sip::message;
use sip::rsip::{Header, Method, Request, Response};
use sip::{DialogEvent, DialogMachine, EndReason, Peer, ServerTxId};
use tokio::sync::mpsc;

use super::{drive, CallContext, DialogPort, Flow, LegCore, LegKind};
use crate::offer::{self, session_params, OFFER_DTMF_PT};
use crate::registrar::Binding;
use crate::registry::{CallEntry, CallRegistry};
use crate::trunk::InbandDtmf;

/// Who to call and for whom.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// Whose phone is rung: the agent's id (a supervisor's, for listening),
    /// as the registrar knows it.
    pub agent: String,
    /// Where that phone is reached (its registration or static URI).
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
    /// The phone rings (a provisional response other than 100; reported
    /// once).
    Ringing,
    /// The phone answered (2xx with a usable SDP answer); media flows.
    Answered {
        /// The leg's RTP session, to bridge with the caller's.
        media: MediaSessionRef,
        /// Name of the negotiated codec.
        codec: String,
    },
    /// The leg ended without being answered.
    Failed {
        /// Why, in the terms the ACD uses.
        why: LegFailure,
        /// The final status received; `None` when none came or the answer
        /// was unusable (timeout, bad SDP answer, hung up by us while ringing).
        code: Option<u16>,
    },
    /// The answered leg is over: `by_agent` when the phone sent BYE.
    Ended {
        /// True when the phone ended it (BYE, or a completed transfer); false
        /// when our side did.
        by_agent: bool,
        /// Short reason for logs and records (`bye`, `transfer`,
        /// `rtp_timeout`, `caller_side`...).
        reason: &'static str,
    },
    /// The far end put the call on hold (`on`), or took it back.
    Hold {
        /// True: put on hold; false: taken back.
        on: bool,
    },
    /// The phone asked for a blind transfer (REFER, answered 202): the
    /// user part of its Refer-To (a queue name or a number). The dialler
    /// answers with [`LegControl::transfer_done`].
    TransferAsked {
        /// User part of the Refer-To: a queue name or a number.
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
    /// The Call-ID of the leg's dialog.
    pub sip_call_id: String,
}

impl LegControl {
    /// Cancel the leg if it is ringing, hang it up if answered.
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
    /// User name and password for the far end's digest challenge.
    pub credentials: Option<(String, String)>,
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
    /// User name and password for the far end's digest challenge.
    credentials: Option<(String, String)>,
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
        credentials: None,
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
        credentials: req.credentials,
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
    let cfg = ctx.dialog_config(req.peer.transport, AGENT_ALLOW);
    let invite = build_invite(&req, &sip_call_id, &cfg, ctx, &media);
    tracing::info!(call_id = %sip_call_id, record_id = %req.record_id, contact = %invite.uri, "ringing the callee");
    let mut machine = DialogMachine::uac(Instant::now(), invite, cfg);
    if let Some((user, password)) = &req.credentials {
        machine = machine.with_credentials(user, password);
    }
    let kind = Outbound {
        registry: ctx.registry.clone(),
        sip_call_id: sip_call_id.clone(),
        report,
        rang: false,
        sdp_session: rand::random::<u32>() as u64,
        sdp_version: 1,
        negotiated: None,
        refer_pending: false,
        allow_refer: req.allow_refer,
    };
    let leg = LegCore {
        dialog: DialogPort::new(machine, ctx.endpoint.clone(), req.peer),
        ctx: ctx.clone(),
        media,
    };
    let span = tracing::info_span!("leg", call_id = %sip_call_id, record_id = %req.record_id, callee = %req.callee, trunk = %req.label);
    tokio::spawn(tracing::Instrument::instrument(
        drive(kind, leg, in_rx, cmd_rx, media_rx),
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
    cfg: &sip::DialogConfig,
    ctx: &CallContext,
    media: &MediaSession,
) -> Request {
    let (local, _) = ctx.local_sip(req.peer.transport);
    let host = local.ip();
    let caller = req.caller.as_deref().unwrap_or("anonymous");
    let mut headers = sip::rsip::Headers::default();
    headers.push(Header::Via(
        format!("{};branch={};rport", cfg.via, message::new_branch()).into(),
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
    headers.push(Header::Contact(format!("<{}>", cfg.contact).into()));
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

/// The outbound leg kind.
struct Outbound {
    registry: CallRegistry,
    sip_call_id: String,
    report: Report,
    rang: bool,
    sdp_session: u64,
    sdp_version: u64,
    negotiated: Option<Negotiated>,
    /// A REFER was accepted (202) and its NOTIFY is not sent yet.
    refer_pending: bool,
    allow_refer: bool,
}

impl LegKind for Outbound {
    type Cmd = LegCmd;

    fn dialog(&mut self, leg: &mut LegCore, ev: DialogEvent) -> Flow {
        match ev {
            DialogEvent::Progress { code } => {
                if code != 100 && !self.rang {
                    self.rang = true;
                    (self.report)(LegEvent::Ringing);
                }
                Flow::Go
            }
            DialogEvent::Answered { response } => self.answered(leg, &response),
            DialogEvent::Failed { code } => {
                let why = match code {
                    Some(486 | 600 | 603) => LegFailure::Declined,
                    Some(408 | 480 | 487) => LegFailure::NoAnswer,
                    _ => LegFailure::Unreachable,
                };
                match code {
                    Some(code) => tracing::info!(code, ?why, "the callee refused the call"),
                    None => {
                        tracing::warn!("the callee did not answer the INVITE (transaction timeout)")
                    }
                }
                (self.report)(LegEvent::Failed { why, code });
                Flow::End
            }
            DialogEvent::Ended(why) => {
                if why == EndReason::Bye {
                    tracing::info!("the callee hung up");
                } else {
                    tracing::warn!(reason = why.as_str(), "the callee's dialog ended");
                }
                (self.report)(LegEvent::Ended {
                    by_agent: why == EndReason::Bye,
                    reason: why.as_str(),
                });
                Flow::End
            }
            DialogEvent::Offer { id, request } => {
                self.reoffer(leg, id, &request);
                Flow::Go
            }
            DialogEvent::Request { id, request } => self.request(leg, id, &request),
            DialogEvent::OfferAnswered { .. }
            | DialogEvent::Confirmed
            | DialogEvent::AckAnswer { .. } => Flow::Go,
        }
    }

    fn media(&mut self, leg: &mut LegCore, ev: MediaEvent) -> Flow {
        if matches!(ev, MediaEvent::RtpTimeout) && leg.dialog.machine.is_confirmed() {
            tracing::warn!("the callee's RTP stopped; hanging up its leg");
            return self.hang_up(leg, "rtp_timeout");
        }
        Flow::Go
    }

    fn command(&mut self, leg: &mut LegCore, cmd: Option<LegCmd>) -> Flow {
        let confirmed = leg.dialog.machine.is_confirmed();
        match cmd {
            Some(LegCmd::TransferDone(status)) if confirmed => {
                self.notify_refer(leg, status);
                if status == 200 {
                    tracing::info!("transfer done; hanging up the agent's leg");
                    leg.dialog.machine.hangup();
                    (self.report)(LegEvent::Ended {
                        by_agent: true,
                        reason: "transfer",
                    });
                    return Flow::End;
                }
                Flow::Go
            }
            Some(LegCmd::TransferDone(_)) => Flow::Go,
            // A stop, or the dialler gone: cancel or hang up.
            Some(LegCmd::Stop) | None if confirmed => self.hang_up(leg, "caller_side"),
            Some(LegCmd::Stop) | None => {
                leg.dialog.machine.hangup();
                Flow::End
            }
        }
    }

    fn hangup(&mut self, leg: &mut LegCore, reason: &'static str) -> Flow {
        if leg.dialog.machine.is_confirmed() {
            return self.hang_up(leg, reason);
        }
        (self.report)(LegEvent::Failed {
            why: LegFailure::Unreachable,
            code: None,
        });
        leg.dialog.machine.hangup();
        Flow::End
    }

    fn ended(&mut self, _leg: &mut LegCore, _last: Option<MediaEvent>) {
        self.registry.remove(&self.sip_call_id);
    }
}

impl Outbound {
    /// BYE from our side, reported as not the agent's doing.
    fn hang_up(&mut self, leg: &mut LegCore, reason: &'static str) -> Flow {
        leg.dialog.machine.hangup();
        (self.report)(LegEvent::Ended {
            by_agent: false,
            reason,
        });
        Flow::End
    }

    fn answered(&mut self, leg: &mut LegCore, resp: &Response) -> Flow {
        match offer::negotiate_body(&resp.body, &leg.ctx.codecs) {
            Ok(n) => {
                leg.media.start(params(&n));
                tracing::info!(codec = n.codec.name(), remote_rtp = %n.remote_rtp, "the callee answered");
                (self.report)(LegEvent::Answered {
                    media: leg.media.reference(),
                    codec: n.codec.name().to_string(),
                });
                self.negotiated = Some(n);
                Flow::Go
            }
            Err(why) => {
                tracing::warn!(error = %why, "the callee's SDP answer is unusable; hanging up");
                leg.dialog.machine.hangup();
                (self.report)(LegEvent::Failed {
                    why: LegFailure::Unreachable,
                    code: None,
                });
                Flow::End
            }
        }
    }

    /// INFO (answered, nothing more) and REFER from the phone.
    fn request(&mut self, leg: &mut LegCore, id: ServerTxId, req: &Request) -> Flow {
        let machine = &mut leg.dialog.machine;
        match req.method {
            Method::Refer if self.allow_refer => return self.refer(leg, id, req),
            Method::Refer => {
                let mut r = message::response(req, 403, None);
                r.headers.push(Header::Warning(
                    "399 softswitch \"transfers are controlled: not from this leg\"".into(),
                ));
                machine.respond(id, r);
            }
            _ => machine.respond(id, message::response(req, 200, None)),
        }
        Flow::Go
    }

    /// A blind transfer asked by the phone (RFC 3515): 202, then the
    /// dialler decides; the outcome goes back in a NOTIFY.
    fn refer(&mut self, leg: &mut LegCore, id: ServerTxId, req: &Request) -> Flow {
        let machine = &mut leg.dialog.machine;
        let target = message::other_header(&req.headers, "Refer-To")
            .map(message::name_addr_uri)
            .and_then(|uri| message::uri_user(uri).map(str::to_string));
        let Some(target) = target else {
            let mut r = message::response(req, 400, None);
            r.headers.push(Header::Warning(
                "399 softswitch \"Refer-To with a user part (queue or number) expected\"".into(),
            ));
            machine.respond(id, r);
            return Flow::Go;
        };
        if self.refer_pending {
            // One transfer at a time (RFC 3515 section 2.4.7 allows 491).
            machine.respond(id, message::response(req, 491, None));
            return Flow::Go;
        }
        self.refer_pending = true;
        let mut r = message::response(req, 202, None);
        r.headers
            .push(Header::Contact(format!("<{}>", machine.contact()).into()));
        machine.respond(id, r);
        tracing::info!(target = %target, "agent asked for a blind transfer");
        (self.report)(LegEvent::TransferAsked { target });
        Flow::Go
    }

    /// Tell the phone how its REFER ended (the implicit subscription ends
    /// with it).
    fn notify_refer(&mut self, leg: &mut LegCore, status: u16) {
        if !std::mem::take(&mut self.refer_pending) {
            return;
        }
        let headers = vec![
            Header::Event("refer".into()),
            Header::SubscriptionState("terminated;reason=noresource".into()),
        ];
        let frag = format!("SIP/2.0 {status} {}\r\n", message::reason_phrase(status));
        let body = ("message/sipfrag;version=2.0", frag.into_bytes());
        let _ = leg.dialog.machine.send(Method::Notify, headers, Some(body));
    }

    /// The phone holds, resumes or moves its media.
    fn reoffer(&mut self, leg: &mut LegCore, id: ServerTxId, req: &Request) {
        let now = Instant::now();
        let n = if req.body.is_empty() {
            self.negotiated.clone().ok_or(offer::OfferError::NoSession)
        } else {
            offer::negotiate_body(&req.body, &leg.ctx.codecs)
        };
        match n {
            Ok(n) => {
                self.sdp_version += 1;
                let body = sdp::build_answer(
                    leg.ctx.media_ip,
                    leg.media.local_addr().port(),
                    &n,
                    self.sdp_session,
                    self.sdp_version,
                );
                // Media first: no frame on the old terms once answered.
                leg.media.start(params(&n));
                let _ = leg
                    .dialog
                    .machine
                    .answer_offer(now, id, Ok(Some(body.into_bytes())));
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
            Err(why) => {
                let _ = leg
                    .dialog
                    .machine
                    .answer_offer(now, id, Err(offer::refuse(req, &why)));
            }
        }
    }
}

/// The agent's phone may sit behind NAT: latch on its source.
fn params(n: &Negotiated) -> SessionParams {
    session_params(n, true, InbandDtmf::Never)
}
