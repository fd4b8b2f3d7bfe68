//! The dialog state machine for one call leg, either side (RFC 3261
//! sections 12 to 15, UPDATE from RFC 3311, session timers from RFC 4028),
//! without I/O: transaction events and the leg's commands go in with the
//! time, responses, requests and events come out of [`DialogMachine::poll`],
//! and [`DialogMachine::poll_timeout`] says when to call
//! [`DialogMachine::handle_timeout`].
//!
//! It sits above the transaction layer: retransmissions, the 2xx
//! retransmission and the ACK wait belong to [`crate::Transactions`]; this
//! machine decides what a request means for the dialog (tags, CSeq order,
//! offer/answer state and glare, BYE, session refresh).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rsip::prelude::*;
use rsip::{Header, Method, Request, Response};

use super::ids::Dialog;

mod challenge;
mod from_peer;
use super::session_timer::{min_se_header, SessionTimer};
use crate::message::{self, Essentials};
use crate::transaction::{ServerTxId, TxEvent};

/// Which side of the INVITE that made the dialog we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We answered the INVITE (an inbound call).
    Uas,
    /// We sent the INVITE (an agent's phone, a transfer).
    Uac,
}

/// What every dialog of a leg kind shares.
#[derive(Debug, Clone)]
pub struct DialogConfig {
    /// The methods we accept inside the dialog (the Allow header). Those
    /// the machine does not serve itself (INFO, REFER...) go to the leg.
    pub allow: &'static str,
    /// Our Contact URI.
    pub contact: String,
    /// Our Via without branch, e.g. `SIP/2.0/UDP 192.0.2.1:5060`.
    pub via: String,
}

/// Something for the leg's edge to do.
#[derive(Debug)]
pub enum DialogOutput {
    /// Answer this server transaction.
    Respond {
        /// The transaction.
        id: ServerTxId,
        /// The response.
        response: Response,
    },
    /// Send a request in a new client transaction.
    Send(Request),
    /// Send an ACK to a 2xx (no transaction).
    Ack(Request),
    /// Tell the leg.
    Event(DialogEvent),
}

/// What the leg hears from its dialog.
#[derive(Debug)]
pub enum DialogEvent {
    /// UAC: a provisional response other than 100.
    Progress {
        /// Its status code (180, 183...).
        code: u16,
    },
    /// UAC: the 2xx to our INVITE; the ACK is sent. Its body is the answer.
    Answered {
        /// The 2xx.
        response: Response,
    },
    /// UAC: the INVITE failed, with a final response or none (`None`).
    Failed {
        /// The final status, if one came.
        code: Option<u16>,
    },
    /// UAS: the ACK to a 2xx that carried our offer (an INVITE or
    /// re-INVITE without SDP: RFC 3261 section 13.2.1). Comes before
    /// [`DialogEvent::Confirmed`] for the dialog's own INVITE. `None`: the
    /// ACK carried no answer, which ends a late-offer call (13.3.1.4).
    AckAnswer {
        /// The ACK's body.
        body: Option<Vec<u8>>,
    },
    /// UAS: the ACK to our 2xx came.
    Confirmed,
    /// The peer's re-INVITE or UPDATE: answer it with
    /// [`DialogMachine::answer_offer`].
    Offer {
        /// Its transaction.
        id: ServerTxId,
        /// The request (empty body: an offerless re-INVITE).
        request: Request,
    },
    /// The peer answered our re-INVITE or UPDATE with a 2xx.
    OfferAnswered {
        /// The 2xx (its body is the answer, if we offered).
        response: Response,
    },
    /// A request the leg serves itself (INFO, REFER, NOTIFY...): answer
    /// it with [`DialogMachine::respond`].
    Request {
        /// Its transaction.
        id: ServerTxId,
        /// The request.
        request: Request,
    },
    /// The dialog ended without the leg asking.
    Ended(EndReason),
}

/// Why a dialog ended by itself or by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    Bye,
    /// The caller cancelled before the answer (UAS).
    Cancelled,
    /// Our 2xx was never acknowledged (BYE sent).
    AckTimeout,
    /// No session refresh came in time, or ours failed (BYE sent).
    SessionExpired,
    /// The peer no longer knows the dialog (481 or 408 to our request).
    Gone,
}

impl EndReason {
    /// The reason as written in call records and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Bye => "bye",
            EndReason::Cancelled => "cancel",
            EndReason::AckTimeout => "ack_timeout",
            EndReason::SessionExpired => "session_expired",
            EndReason::Gone => "dialog_gone",
        }
    }
}

/// The leg asked something the dialog cannot do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// Not in the state the command needs.
    #[error("the dialog is not in a state where this can be done")]
    WrongState,
    /// An offer/answer exchange is already under way (RFC 3261 14.1).
    #[error("an offer is already pending")]
    OfferPending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// UAS: the INVITE is not answered yet.
    Early,
    /// UAS: 2xx sent, waiting for the ACK.
    Accepted,
    /// UAC: INVITE sent, no final response.
    Calling,
    /// UAC: CANCEL sent; a 2xx that crosses it is acknowledged and ended.
    Cancelling,
    Confirmed,
    Terminated,
}

/// An offer/answer exchange we started (re-INVITE or UPDATE).
#[derive(Debug, Clone)]
struct OurOffer {
    cseq: u32,
    method: Method,
    /// What to send again after a 491 (body, for a re-INVITE).
    body: Option<Vec<u8>>,
    /// Set after a 491: when to try again.
    retry_at: Option<Instant>,
}

/// One dialog's state machine. See the module doc.
pub struct DialogMachine {
    role: Role,
    cfg: DialogConfig,
    state: State,
    /// The INVITE that made the dialog (ours as UAC, theirs as UAS).
    invite: Request,
    invite_cseq: u32,
    /// UAS: its server transaction.
    invite_tx: Option<ServerTxId>,
    local_tag: String,
    /// Known once there is a dialog (UAS at once, UAC at the 2xx).
    dialog: Option<Dialog>,
    /// The peer's Allow (to choose UPDATE for refreshes).
    peer_allows_update: bool,
    /// Our last session description, kept only while we refresh the
    /// session (a re-INVITE carries it); a UAC without one uses its INVITE's.
    local_body: Option<Vec<u8>>,
    /// The peer's re-INVITE/UPDATE the leg has not answered yet.
    /// Boxed: rare, and a request is large; every call carries this field.
    their_offer: Option<Box<(ServerTxId, Request)>>,
    our_offer: Option<OurOffer>,
    timer: Option<SessionTimer>,
    /// When the session timer next acts (refresh, or BYE).
    timer_at: Option<Instant>,
    /// The CSeq of an INVITE we answered with an offer: its ACK carries
    /// the peer's answer.
    offer_in_2xx: Option<u32>,
    /// The CSeq of our last re-INVITE answered with a 2xx: a retransmitted
    /// 2xx gets the ACK again.
    reinvite_acked: Option<u32>,
    /// UAC: credentials for one challenge to the INVITE (boxed: most legs
    /// have none).
    credentials: Option<Box<challenge::Credentials>>,
    /// The last refresh (or the answer).
    refreshed_at: Instant,
    out: VecDeque<DialogOutput>,
}

impl DialogMachine {
    /// The dialog of an INVITE we received in server transaction `tx`.
    /// `Err` carries the 422 to send when its session interval is too small.
    pub fn uas(
        now: Instant,
        invite: Request,
        ess: &Essentials,
        tx: ServerTxId,
        cfg: DialogConfig,
    ) -> Result<Self, Box<Response>> {
        let timer = SessionTimer::for_answer(&invite.headers).map_err(|_| {
            let mut r = message::response(&invite, 422, None);
            r.headers.push(min_se_header());
            Box::new(r)
        })?;
        let local_tag = message::random_token(10);
        let dialog = Dialog::uas(&invite, ess, &local_tag, &cfg.contact);
        let peer_allows_update = allows_update(&invite.headers);
        Ok(DialogMachine {
            role: Role::Uas,
            state: State::Early,
            invite_cseq: ess.cseq,
            invite_tx: Some(tx),
            local_tag,
            dialog: Some(dialog),
            peer_allows_update,
            local_body: None,
            their_offer: None,
            our_offer: None,
            timer,
            timer_at: None,
            offer_in_2xx: None,
            reinvite_acked: None,
            credentials: None,
            refreshed_at: now,
            out: VecDeque::new(),
            invite,
            cfg,
        })
    }

    /// The dialog of an INVITE we send: the first output is `Send(invite)`.
    /// The INVITE carries our From tag, Call-ID and CSeq.
    pub fn uac(now: Instant, invite: Request, cfg: DialogConfig) -> Self {
        let ess = Essentials::of(&rsip::SipMessage::Request(invite.clone())).ok();
        let local_tag = ess
            .as_ref()
            .and_then(|e| e.from_tag.clone())
            .unwrap_or_default();
        let invite_cseq = ess.map(|e| e.cseq).unwrap_or(1);
        let mut out = VecDeque::new();
        out.push_back(DialogOutput::Send(invite.clone()));
        DialogMachine {
            role: Role::Uac,
            state: State::Calling,
            invite_cseq,
            invite_tx: None,
            local_tag,
            dialog: None,
            peer_allows_update: false,
            local_body: None,
            their_offer: None,
            our_offer: None,
            timer: None,
            timer_at: None,
            offer_in_2xx: None,
            reinvite_acked: None,
            credentials: None,
            refreshed_at: now,
            out,
            invite,
            cfg,
        }
    }

    /// Our tag in this dialog.
    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// Our Contact URI.
    pub fn contact(&self) -> &str {
        &self.cfg.contact
    }

    /// True once the dialog is over and nothing is left to send or await.
    pub fn is_done(&self) -> bool {
        self.state == State::Terminated && self.out.is_empty()
    }

    /// True when the call is up (ACK received, or 2xx acknowledged).
    pub fn is_confirmed(&self) -> bool {
        self.state == State::Confirmed
    }

    /// The session timer in force, if the peer asked for one.
    pub fn session_timer(&self) -> Option<SessionTimer> {
        self.timer
    }

    /// Next output.
    pub fn poll(&mut self) -> Option<DialogOutput> {
        let out = self.out.pop_front();
        if out.is_none() && self.out.capacity() > 0 {
            // Outputs are large (whole messages) and come in bursts; an
            // idle call holds no room for them.
            self.out = VecDeque::new();
        }
        out
    }

    /// When [`DialogMachine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Timers act only on a confirmed dialog (a refresh answered before
        // the ACK waits for it): none otherwise, so no edge spins.
        if self.state != State::Confirmed {
            return None;
        }
        let retry = self.our_offer.as_ref().and_then(|o| o.retry_at);
        [self.timer_at, retry].into_iter().flatten().min()
    }

    /// Time passed: a glare retry, a session refresh or its expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != State::Confirmed {
            return;
        }
        if let Some(o) = self
            .our_offer
            .take_if(|o| o.retry_at.is_some_and(|t| t <= now))
        {
            let _ = self.send_offer(now, o.method, o.body);
        }
        if self.timer_at.is_some_and(|t| t <= now) {
            self.timer_at = None;
            let expired = self.expires_at(now).is_some_and(|t| t <= now);
            match self.timer {
                Some(t) if t.we_refresh && !expired => self.refresh(now),
                Some(_) => {
                    tracing::info!("no session refresh came in time; hanging up");
                    self.end(EndReason::SessionExpired);
                }
                None => {}
            }
        }
    }

    /// A transaction event for this dialog (the INVITE's own server
    /// transaction aside: the machine was made from it).
    pub fn handle(&mut self, now: Instant, ev: TxEvent) {
        match ev {
            TxEvent::Request {
                id, request, ess, ..
            } => self.request(now, id, request, &ess),
            TxEvent::Cancelled { .. } => {
                if self.state == State::Early {
                    tracing::info!("the caller cancelled before the answer");
                    self.respond_invite(487);
                    self.state = State::Terminated;
                    self.event(DialogEvent::Ended(EndReason::Cancelled));
                }
            }
            TxEvent::Ack { request, ess, .. } => {
                if self.offer_in_2xx == Some(ess.cseq) {
                    self.offer_in_2xx = None;
                    let body = (!request.body.is_empty()).then_some(request.body);
                    self.event(DialogEvent::AckAnswer { body });
                }
                if self.state == State::Accepted && ess.cseq == self.invite_cseq {
                    self.state = State::Confirmed;
                    self.arm_timer(now);
                    self.event(DialogEvent::Confirmed);
                }
            }
            TxEvent::AckTimeout { ess, .. } => {
                if self.state == State::Accepted && ess.cseq == self.invite_cseq {
                    tracing::warn!("no ACK for our 2xx; hanging up");
                    self.end(EndReason::AckTimeout);
                } else {
                    tracing::debug!(cseq = ess.cseq, "no ACK for the 2xx to a re-INVITE");
                }
            }
            TxEvent::Response { response, ess, .. } => self.response(now, response, &ess),
            TxEvent::Timeout { ess, .. } => self.no_response(&ess),
        }
    }

    // ---- the leg's commands ----

    /// UAS: a provisional response (180 ringing, 183 with early media).
    pub fn ring(&mut self, code: u16) -> Result<(), DialogError> {
        if self.state != State::Early || !(101..200).contains(&code) {
            return Err(DialogError::WrongState);
        }
        self.respond_invite(code);
        Ok(())
    }

    /// UAS: answer the INVITE with a 2xx carrying `sdp`.
    pub fn answer(&mut self, sdp: Vec<u8>) -> Result<(), DialogError> {
        if self.state != State::Early {
            return Err(DialogError::WrongState);
        }
        let mut r = self.invite_response(200);
        self.add_answer_headers(&mut r);
        self.keep_body(&sdp);
        message::set_body(&mut r.headers, &mut r.body, "application/sdp", sdp);
        self.respond_invite_with(r);
        self.state = State::Accepted;
        if self.invite.body.is_empty() {
            // A late offer: `sdp` is our offer, the ACK brings the answer.
            self.offer_in_2xx = Some(self.invite_cseq);
        }
        Ok(())
    }

    /// UAS: refuse the INVITE with a final response (`code` >= 300) and
    /// extra headers (Retry-After...).
    pub fn reject(&mut self, code: u16, headers: Vec<Header>) -> Result<(), DialogError> {
        if self.state != State::Early || code < 300 {
            return Err(DialogError::WrongState);
        }
        let mut r = self.invite_response(code);
        r.headers.extend(headers);
        self.respond_invite_with(r);
        self.state = State::Terminated;
        Ok(())
    }

    /// Hang up however the state asks: CANCEL while calling, BYE once
    /// answered (a pending offer from the peer gets 487 first), a 480 to an
    /// unanswered INVITE. Nothing once over.
    pub fn hangup(&mut self) {
        match self.state {
            State::Calling => {
                self.out
                    .push_back(DialogOutput::Send(crate::cancel_for(&self.invite)));
                self.state = State::Cancelling;
            }
            State::Early => {
                self.respond_invite(480);
                self.state = State::Terminated;
            }
            // RFC 3261 15.1.1 would have a UAS wait for the ACK before its
            // BYE; we do not keep a call the leg has ended waiting on the
            // peer: the BYE goes now, as every peer we meet accepts.
            State::Accepted | State::Confirmed => self.bye(),
            State::Cancelling | State::Terminated => {}
        }
    }

    /// Answer the peer's re-INVITE/UPDATE ([`DialogEvent::Offer`]): a 2xx
    /// with `sdp` (the answer, or our offer to an offerless re-INVITE), or
    /// the refusal the leg built.
    pub fn answer_offer(
        &mut self,
        now: Instant,
        id: ServerTxId,
        answer: Result<Option<Vec<u8>>, Response>,
    ) -> Result<(), DialogError> {
        let Some(offer) = self.their_offer.take() else {
            return Err(DialogError::WrongState);
        };
        if offer.0 != id {
            self.their_offer = Some(offer);
            return Err(DialogError::WrongState);
        }
        let (_, request) = *offer;
        let response = match answer {
            Err(refusal) => refusal,
            Ok(sdp) => match SessionTimer::for_answer(&request.headers) {
                Err(_) => {
                    let mut r = message::response(&request, 422, None);
                    r.headers.push(min_se_header());
                    r
                }
                Ok(timer) => {
                    self.timer = timer;
                    let mut r = message::response(&request, 200, None);
                    self.add_answer_headers(&mut r);
                    if let Some(sdp) = sdp {
                        self.keep_body(&sdp);
                        message::set_body(&mut r.headers, &mut r.body, "application/sdp", sdp);
                        if request.method == Method::Invite && request.body.is_empty() {
                            self.offer_in_2xx = cseq_number(&request);
                        }
                    }
                    self.arm_timer(now);
                    r
                }
            },
        };
        self.out.push_back(DialogOutput::Respond { id, response });
        Ok(())
    }

    /// Answer a request passed on as [`DialogEvent::Request`].
    pub fn respond(&mut self, id: ServerTxId, response: Response) {
        self.out.push_back(DialogOutput::Respond { id, response });
    }

    /// Send a request inside the confirmed dialog (NOTIFY, INFO...), with
    /// extra headers and an optional `(content type, body)`.
    pub fn send(
        &mut self,
        method: Method,
        headers: Vec<Header>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(), DialogError> {
        if self.state != State::Confirmed {
            return Err(DialogError::WrongState);
        }
        let req = self.build(method, headers, body)?;
        self.out.push_back(DialogOutput::Send(req));
        Ok(())
    }

    /// Start an offer/answer exchange ourselves: a re-INVITE with `sdp`, or
    /// an UPDATE. Refused while another is under way either side.
    pub fn offer(
        &mut self,
        now: Instant,
        method: Method,
        sdp: Option<Vec<u8>>,
    ) -> Result<(), DialogError> {
        if self.state != State::Confirmed {
            return Err(DialogError::WrongState);
        }
        if self.our_offer.is_some() || self.their_offer.is_some() {
            return Err(DialogError::OfferPending);
        }
        self.send_offer(now, method, sdp)
    }

    // ---- inside ----

    fn event(&mut self, ev: DialogEvent) {
        self.out.push_back(DialogOutput::Event(ev));
    }

    fn invite_response(&self, code: u16) -> Response {
        let mut r = message::response(&self.invite, code, Some(&self.local_tag));
        if (101..300).contains(&code) {
            r.headers
                .push(Header::Contact(format!("<{}>", self.cfg.contact).into()));
        }
        r
    }

    fn respond_invite(&mut self, code: u16) {
        let r = self.invite_response(code);
        self.respond_invite_with(r);
    }

    fn respond_invite_with(&mut self, response: Response) {
        if let Some(id) = self.invite_tx {
            self.out.push_back(DialogOutput::Respond { id, response });
        }
    }

    /// Contact, Allow and the session timer of a 2xx we send.
    fn add_answer_headers(&self, r: &mut Response) {
        if !r.headers.iter().any(|h| matches!(h, Header::Contact(_))) {
            r.headers
                .push(Header::Contact(format!("<{}>", self.cfg.contact).into()));
        }
        r.headers.push(Header::Allow(self.cfg.allow.into()));
        if let Some(t) = self.timer {
            r.headers.extend(t.answer_headers());
        }
    }

    fn build(
        &mut self,
        method: Method,
        headers: Vec<Header>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Request, DialogError> {
        let d = self.dialog.as_mut().ok_or(DialogError::WrongState)?;
        let mut req = d.request(method, &self.cfg.via);
        req.headers.extend(headers);
        if let Some((ctype, data)) = body {
            message::set_body(&mut req.headers, &mut req.body, ctype, data);
        }
        Ok(req)
    }

    /// BYE now; a peer's offer still unanswered gets 487 first.
    fn bye(&mut self) {
        let bye = self.build(Method::Bye, Vec::new(), None);
        self.close();
        if let Ok(bye) = bye {
            self.out.push_back(DialogOutput::Send(bye));
        }
    }

    /// The dialog is over: a peer's offer still unanswered gets 487, ours
    /// and the session timer are dropped.
    fn close(&mut self) {
        if let Some((id, request)) = self.their_offer.take().map(|b| *b) {
            let response = message::response(&request, 487, None);
            self.out.push_back(DialogOutput::Respond { id, response });
        }
        self.our_offer = None;
        self.timer_at = None;
        self.state = State::Terminated;
    }

    /// End by ourselves (BYE) and say why.
    fn end(&mut self, why: EndReason) {
        self.bye();
        self.event(DialogEvent::Ended(why));
    }

    /// The message is about the INVITE we sent to make the dialog (a UAS's
    /// own CSeq space starts afresh: its CSeq 1 is not the caller's).
    fn is_our_invite(&self, ess: &Essentials) -> bool {
        self.role == Role::Uac && ess.cseq_method == Method::Invite && ess.cseq == self.invite_cseq
    }

    /// Our re-INVITE/UPDATE is out and not answered (one waiting to be
    /// sent again after a 491 is not: the peer may offer meanwhile).
    fn offer_in_flight(&self) -> bool {
        self.our_offer
            .as_ref()
            .is_some_and(|o| o.retry_at.is_none())
    }

    /// Keep our session description when we are the one refreshing.
    fn keep_body(&mut self, sdp: &[u8]) {
        if self.timer.is_some_and(|t| t.we_refresh) {
            self.local_body = Some(sdp.to_vec());
        }
    }

    /// A refresh happened (or the session started) now.
    fn arm_timer(&mut self, now: Instant) {
        self.refreshed_at = now;
        self.timer_at = self.timer.map(|t| now + t.next_deadline());
    }

    /// When the session is over without a further refresh.
    fn expires_at(&self, now: Instant) -> Option<Instant> {
        self.timer
            .map(|t| (self.refreshed_at + t.expiry()).max(now))
    }

    fn refresh(&mut self, now: Instant) {
        if self.our_offer.is_some() || self.their_offer.is_some() {
            // An exchange under way refreshes the session when it succeeds;
            // look again shortly.
            self.timer_at = Some(now + Duration::from_secs(2));
            return;
        }
        let (method, body) = if self.peer_allows_update {
            (Method::Update, None)
        } else {
            let body = match (&self.local_body, self.role) {
                (Some(b), _) => Some(b.clone()),
                (None, Role::Uac) => Some(self.invite.body.clone()).filter(|b| !b.is_empty()),
                (None, Role::Uas) => None,
            };
            (Method::Invite, body)
        };
        tracing::debug!(%method, "refreshing the session");
        let _ = self.send_offer(now, method, body);
    }

    fn send_offer(
        &mut self,
        now: Instant,
        method: Method,
        body: Option<Vec<u8>>,
    ) -> Result<(), DialogError> {
        let headers = self.timer.map(|t| t.refresh_headers()).unwrap_or_default();
        let req = self.build(
            method,
            headers,
            body.clone().map(|b| ("application/sdp", b)),
        )?;
        let cseq = self.dialog.as_ref().map(|d| d.local_cseq).unwrap_or(0);
        self.our_offer = Some(OurOffer {
            cseq,
            method,
            body,
            retry_at: None,
        });
        // Until it is answered, the session ends on its expiry at the latest.
        self.timer_at = self.expires_at(now);
        self.out.push_back(DialogOutput::Send(req));
        Ok(())
    }
}

pub(super) fn allows_update(headers: &rsip::Headers) -> bool {
    headers.iter().any(|h| match h {
        Header::Allow(v) => v
            .value()
            .split(',')
            .any(|m| m.trim().eq_ignore_ascii_case("UPDATE")),
        _ => false,
    })
}

/// The CSeq number of a request.
fn cseq_number(req: &Request) -> Option<u32> {
    req.headers.iter().find_map(|h| match h {
        Header::CSeq(v) => v.value().split_whitespace().next()?.parse().ok(),
        _ => None,
    })
}
