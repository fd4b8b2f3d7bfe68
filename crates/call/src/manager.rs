//! The call manager: takes every SIP event from the endpoint, admits or
//! rejects new INVITEs (trunk, DID, capacity, SDP), starts a task per call
//! and routes in-dialog traffic to it. Every rejection is a call event too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cdr::{new_record_id, CallEvent, EventKind};
use media::engine::MediaEngine;
use media::sdp;
use sip::guard::{Shed, SHED_REASON};
use sip::message::{self, name_addr_uri, other_header, uri_user};
use sip::rsip::{Header, Method, Request};
use sip::{Essentials, Peer, ServerTxId, Transport, TxEvent};
use tokio::sync::mpsc;

use crate::handle::CallInfo;
use crate::leg::inbound::{self, Setup, ALLOW};
use crate::leg::CallContext;
use crate::offer::{self, OfferError};
use crate::rate::CallRate;
use crate::registrar::Registrar;
use crate::registry::{CallEntry, CallInput, CallRegistry};
use crate::shed::{ShedLog, SHED_REPORT};
use crate::trunk::{Admission, Trunks};

/// `reject_reason` of INVITEs refused because their source or trunk account
/// is past its authentication failure limits (503 with Retry-After).
pub const AUTH_LIMITED: &str = "authentication failure limit";

/// Limits and switches of the call layer.
#[derive(Debug, Clone)]
pub struct CallLimits {
    /// Concurrent calls in all; more get `503` with Retry-After.
    pub max_calls: usize,
    /// Seconds a refused caller is told to wait before retrying.
    pub retry_after_secs: u32,
    /// New calls admitted per second; more get `503` (0 = no limit).
    pub max_cps: u32,
}

/// A new INVITE being decided on: its server transaction, and the caller.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    id: ServerTxId,
    caller: Caller<'a>,
}

/// A new call's request, its essentials, where it came from (all a
/// refusal's record needs; the SIP transport's refusals have no
/// transaction).
#[derive(Clone, Copy)]
struct Caller<'a> {
    req: &'a Request,
    ess: &'a Essentials,
    from: Peer,
}

/// Admits calls and routes SIP events to them.
pub struct CallManager {
    ctx: CallContext,
    /// Agent phones' REGISTER goes here (none: REGISTER gets 405).
    registrar: Option<Arc<Registrar>>,
    media: MediaEngine,
    trunks: Arc<Trunks>,
    limits: CallLimits,
    rate: CallRate,
    shed: ShedLog,
    draining: AtomicBool,
}

impl CallManager {
    /// A manager admitting calls through `trunks` under `limits`; REGISTERs go
    /// to `registrar` (`None`: answered 405).
    pub fn new(
        ctx: CallContext,
        media: MediaEngine,
        trunks: Arc<Trunks>,
        limits: CallLimits,
        registrar: Option<Arc<Registrar>>,
    ) -> Arc<Self> {
        Arc::new(CallManager {
            ctx,
            registrar,
            media,
            trunks,
            rate: CallRate::new(limits.max_cps),
            shed: ShedLog::default(),
            limits,
            draining: AtomicBool::new(false),
        })
    }

    /// The live calls.
    pub fn registry(&self) -> &CallRegistry {
        &self.ctx.registry
    }

    /// The configured trunks.
    pub fn trunks(&self) -> &Trunks {
        &self.trunks
    }

    /// Serve SIP events until the endpoint closes.
    pub async fn run(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<TxEvent>) {
        let manager = Arc::downgrade(&self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SHED_REPORT);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(m) = manager.upgrade() else { return };
                m.shed.report();
            }
        });
        while let Some(ev) = events.recv().await {
            self.event(ev);
        }
    }

    fn event(&self, ev: TxEvent) {
        match ev {
            TxEvent::Request {
                id,
                request,
                ess,
                from,
            } => self.request(id, request, ess, from),
            TxEvent::Ack { ref ess, .. }
            | TxEvent::Cancelled { ref ess, .. }
            | TxEvent::AckTimeout { ref ess, .. } => {
                let call_id = ess.call_id.clone();
                if !self.ctx.registry.send(&call_id, CallInput::Sip(ev)) {
                    tracing::debug!(call_id = %call_id, "ACK/CANCEL for no live call");
                }
            }
            TxEvent::Response { .. } | TxEvent::Timeout { .. } => {}
        }
    }

    fn request(&self, id: ServerTxId, req: Request, ess: Essentials, from: Peer) {
        // In-dialog (or a request for a call we know): to its task.
        if self.ctx.registry.contains(&ess.call_id) {
            if req.method == Method::Invite && ess.to_tag.is_none() {
                // Same Call-ID, new INVITE outside the dialog: a loop or a fork.
                self.respond(id, &req, 482, None);
                return;
            }
            let call_id = ess.call_id.clone();
            let ev = TxEvent::Request {
                id,
                request: req,
                ess,
                from,
            };
            if !self.ctx.registry.send(&call_id, CallInput::Sip(ev)) {
                tracing::debug!(call_id = %call_id, "call ended while a request was on its way");
            }
            return;
        }
        match req.method {
            Method::Invite if ess.to_tag.is_none() => self.invite(id, req, ess, from),
            Method::Options => {
                // Trunk keep-alive.
                let mut r = message::response(&req, 200, Some(&message::random_token(8)));
                r.headers.push(Header::Allow(ALLOW.into()));
                r.headers.push(Header::Accept("application/sdp".into()));
                self.ctx.endpoint.respond(id, r);
            }
            Method::Register if self.registrar.is_some() => {
                if let Some(reg) = &self.registrar {
                    reg.register(&self.ctx.endpoint, id, &req, &ess, from);
                }
            }
            Method::Register => {
                let mut r = message::response(&req, 405, Some(&message::random_token(8)));
                r.headers.push(Header::Allow(ALLOW.into()));
                self.ctx.endpoint.respond(id, r);
            }
            _ => self.respond(id, &req, 481, None),
        }
    }

    fn respond(&self, id: ServerTxId, req: &Request, code: u16, extra: Option<Header>) {
        let mut r = message::response(req, code, Some(&message::random_token(8)));
        if let Some(h) = extra {
            r.headers.push(h);
        }
        self.ctx.endpoint.respond(id, r);
    }

    /// Refuse a new call: SIP response plus its call record. A 503 tells
    /// the caller when to retry; a 488 says what we accept.
    fn reject(
        &self,
        inc: &Incoming<'_>,
        code: u16,
        reason: &str,
        trunk: Option<&str>,
        did: Option<&str>,
    ) {
        let Incoming { id, caller } = *inc;
        self.record_refusal(caller, code, reason, trunk, did);
        let mut r = message::response(caller.req, code, Some(&message::random_token(8)));
        // A 403 tells nothing of why (unknown user or wrong password alike):
        // the reason is in the log and the call record only.
        if code != 403 {
            r.headers.push(Header::Warning(
                format!("399 softswitch \"{reason}\"").into(),
            ));
        }
        match code {
            503 => r.headers.push(Header::RetryAfter(
                self.limits.retry_after_secs.to_string().into(),
            )),
            488 => r.headers.push(Header::Accept("application/sdp".into())),
            _ => {}
        }
        self.ctx.endpoint.respond(id, r);
    }

    /// The log line (or the shed sums) and the call record of a refused
    /// call, whoever sent the refusal.
    fn record_refusal(
        &self,
        caller: Caller<'_>,
        code: u16,
        reason: &str,
        trunk: Option<&str>,
        did: Option<&str>,
    ) {
        let Caller { req, ess, from } = caller;
        if code == 503 {
            // Capacity: summed and logged every few seconds (see shed.rs).
            self.shed.count(reason);
            tracing::debug!(call_id = %ess.call_id, source = %from.addr, trunk, did, code, reason, "call refused");
        } else {
            tracing::info!(call_id = %ess.call_id, source = %from.addr, trunk, did, code, reason, "call refused");
        }
        let record_id = new_record_id();
        let (caller, withheld) = caller_identity(req);
        self.ctx.cdr.emit(CallEvent::now(
            &record_id,
            EventKind::Arrived {
                sip_call_id: ess.call_id.clone(),
                trunk: trunk.map(str::to_string),
                did: did.map(str::to_string),
                flow: None,
                caller,
                caller_withheld: withheld,
                source: from.addr.to_string(),
                transport: from.transport.as_str().to_string(),
            },
        ));
        self.ctx.cdr.emit(CallEvent::now(
            &record_id,
            EventKind::Rejected {
                sip_code: code,
                reason: reason.to_string(),
            },
        ));
    }

    /// Call records for the INVITEs the SIP transport refused itself
    /// (its backlog past `max_backlog`, see `sip::guard`): the caller has
    /// its 503 already.
    pub async fn record_shed(self: Arc<Self>, mut shed: mpsc::Receiver<Shed>) {
        while let Some(Shed { request, ess, from }) = shed.recv().await {
            let did = called_number(&request);
            let caller = Caller {
                req: &request,
                ess: &ess,
                from,
            };
            self.record_refusal(caller, 503, SHED_REASON, None, did.as_deref());
        }
    }

    fn invite(&self, id: ServerTxId, req: Request, ess: Essentials, from: Peer) {
        let inc = Incoming {
            id,
            caller: Caller {
                req: &req,
                ess: &ess,
                from,
            },
        };
        if self.draining.load(Ordering::Acquire) {
            self.reject(&inc, 503, "shutting down", None, None);
            return;
        }
        let chain = match (from.transport, from.conn) {
            (Transport::Tls, Some(conn)) => self.ctx.endpoint.peer_certificates(conn),
            _ => None,
        };
        let over_tls = from.transport == Transport::Tls;
        let trunk = match self
            .trunks
            .admit(from.addr.ip(), over_tls, chain.as_deref(), &req)
        {
            Admission::Allowed(t) => t,
            Admission::Challenge(ch) => {
                // Not a refusal yet: the caller retries with credentials.
                self.respond(id, &req, 401, Some(Header::WwwAuthenticate(ch.into())));
                return;
            }
            Admission::Forbidden(why) => {
                self.reject(&inc, 403, why, None, None);
                return;
            }
            Admission::Limited(wait) => {
                let secs = crate::digest::retry_after_secs(wait);
                self.record_refusal(inc.caller, 503, AUTH_LIMITED, None, None);
                let mut r = message::response(&req, 503, Some(&message::random_token(8)));
                r.headers.push(Header::RetryAfter(secs.to_string().into()));
                self.ctx.endpoint.respond(id, r);
                return;
            }
        };
        let tname = trunk.name().to_string();
        let did = called_number(&req);
        let Some(flow) = did.as_deref().and_then(|d| trunk.cfg.dids.get(d)).cloned() else {
            self.reject(&inc, 404, "unknown number", Some(&tname), did.as_deref());
            return;
        };
        let did = did.unwrap_or_default();
        if self.ctx.registry.len() >= self.limits.max_calls {
            self.reject(&inc, 503, "system at capacity", Some(&tname), Some(&did));
            return;
        }
        if self.media.overloaded() {
            self.reject(&inc, 503, "media overload", Some(&tname), Some(&did));
            return;
        }
        let Some(slot) = trunk.try_acquire() else {
            self.reject(&inc, 503, "trunk at capacity", Some(&tname), Some(&did));
            return;
        };
        // `None`: a late offer, answered by the ACK.
        let negotiated = match offer::offer_of(&req).and_then(|o| {
            o.map(|o| sdp::negotiate(&o, &self.ctx.codecs))
                .transpose()
                .map_err(OfferError::from)
        }) {
            Ok(n) => n,
            Err(why) => {
                self.reject(&inc, 488, &why.to_string(), Some(&tname), Some(&did));
                return;
            }
        };
        // Last of the checks: a call refused for another reason takes no
        // place in the rate.
        if !self.rate.admit() {
            self.reject(&inc, 503, "call rate limit", Some(&tname), Some(&did));
            return;
        }
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let media = match self.media.open(media_tx) {
            Ok(m) => m,
            Err(e) => {
                self.reject(
                    &inc,
                    503,
                    &format!("no media port: {e}"),
                    Some(&tname),
                    Some(&did),
                );
                return;
            }
        };
        let record_id = new_record_id();
        let (caller, withheld) = caller_identity(&req);
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let entry = CallEntry {
            record_id: record_id.clone(),
            trunk: tname.clone(),
            input: in_tx,
        };
        if !self.ctx.registry.insert(&ess.call_id, entry) {
            self.respond(id, &req, 482, None);
            return;
        }
        self.ctx.cdr.emit(CallEvent::now(
            &record_id,
            EventKind::Arrived {
                sip_call_id: ess.call_id.clone(),
                trunk: Some(tname.clone()),
                did: Some(did.clone()),
                flow: Some(flow.clone()),
                caller: caller.clone(),
                caller_withheld: withheld,
                source: from.addr.to_string(),
                transport: from.transport.as_str().to_string(),
            },
        ));
        tracing::info!(call_id = %ess.call_id, record_id = %record_id, trunk = %tname, did = %did, flow = %flow,
            caller = caller.as_deref().unwrap_or("withheld"), source = %from.addr, "call arrived");
        let info = Arc::new(CallInfo {
            record_id,
            sip_call_id: ess.call_id.clone(),
            trunk: tname,
            did,
            flow,
            caller,
            withheld,
            arrived: chrono::Utc::now(),
            media: media.reference(),
        });
        let setup = Setup {
            info,
            answer_after: Duration::from_millis(trunk.cfg.answer_after_ms),
            symmetric: trunk.cfg.symmetric_rtp,
            inband: trunk.cfg.inband_dtmf,
            invite: req,
            ess,
            tx: id,
            peer: from,
            negotiated,
            media,
            media_events: media_rx,
            slot,
            inputs: in_rx,
        };
        if let Some(call) = inbound::start(self.ctx.clone(), setup) {
            tokio::spawn(call);
        }
    }

    /// Stop taking calls (new INVITEs get 503), let calls end for up to
    /// `drain`, then hang up the rest. Returns how many were hung up.
    pub async fn shutdown(&self, drain: Duration) -> usize {
        self.draining.store(true, Ordering::Release);
        let reg = &self.ctx.registry;
        tracing::info!(
            calls = reg.len(),
            drain_s = drain.as_secs(),
            "draining calls"
        );
        let deadline = tokio::time::Instant::now() + drain;
        while !reg.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let left = reg.len();
        if left > 0 {
            tracing::info!(calls = left, "drain timeout; hanging up remaining calls");
            reg.hangup_all("shutdown");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            while !reg.is_empty() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        left
    }

    /// Whether [`CallManager::shutdown`] has begun: new INVITEs get 503.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

/// The DID: user part of the Request-URI, else of To.
pub fn called_number(req: &Request) -> Option<String> {
    let ruri = req.uri.to_string();
    if let Some(u) = uri_user(&ruri) {
        return Some(u.to_string());
    }
    req.headers.iter().find_map(|h| match h {
        Header::To(t) => {
            uri_user(name_addr_uri(sip::rsip::prelude::UntypedHeader::value(t))).map(str::to_string)
        }
        _ => None,
    })
}

/// Caller number from P-Asserted-Identity, else From; and whether the
/// caller asked for it to be withheld (Privacy: id / anonymous).
pub fn caller_identity(req: &Request) -> (Option<String>, bool) {
    let pai = other_header(&req.headers, "P-Asserted-Identity");
    let from = req.headers.iter().find_map(|h| match h {
        Header::From(f) => Some(sip::rsip::prelude::UntypedHeader::value(f)),
        _ => None,
    });
    let privacy = other_header(&req.headers, "Privacy")
        .map(|p| {
            p.split([';', ',']).any(|t| {
                let t = t.trim().to_ascii_lowercase();
                t == "id" || t == "user" || t == "header"
            })
        })
        .unwrap_or(false);
    let number = pai
        .or(from)
        .and_then(|v| uri_user(name_addr_uri(v)))
        .map(str::to_string);
    let anonymous = number
        .as_deref()
        .is_none_or(|n| n.eq_ignore_ascii_case("anonymous") || n.eq_ignore_ascii_case("unknown"));
    let number = number.filter(|n| !n.eq_ignore_ascii_case("anonymous"));
    (number, privacy || anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(extra: &str, from_user: &str) -> Request {
        let raw = format!(
            "INVITE sip:3422@127.0.0.1;user=phone SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nFrom: \"X\" <sip:{from_user}@1.2.3.4>;tag=1\r\nTo: <sip:3422@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n{extra}\r\n"
        );
        match sip::parse(raw.as_bytes()).unwrap() {
            sip::rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn did_and_caller() {
        let r = req("", "0612345678");
        assert_eq!(called_number(&r).as_deref(), Some("3422"));
        assert_eq!(caller_identity(&r), (Some("0612345678".into()), false));
        let r = req("P-Asserted-Identity: <sip:+33184903422@oxe>\r\n", "1000");
        assert_eq!(caller_identity(&r), (Some("+33184903422".into()), false));
        let r = req("Privacy: id\r\n", "0612345678");
        assert!(caller_identity(&r).1, "Privacy: id withholds the number");
        let r = req("", "anonymous");
        assert_eq!(caller_identity(&r), (None, true));
    }
}
