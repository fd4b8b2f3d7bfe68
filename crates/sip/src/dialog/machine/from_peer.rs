//! What the peer sends into a dialog: in-dialog requests (tags, CSeq
//! order, BYE, offers and glare, OPTIONS, the leg's own methods), the
//! responses to our requests, and their timeouts.

use std::time::{Duration, Instant};

use rand::Rng;
use rsip::{Header, Method, Request, Response};

use super::{
    allows_update, Dialog, DialogEvent, DialogMachine, DialogOutput, EndReason, Role, State,
};
use crate::dialog::session_timer::SessionTimer;
use crate::message::{self, Essentials};
use crate::transaction::ServerTxId;

impl DialogMachine {
    pub(super) fn request(
        &mut self,
        now: Instant,
        id: ServerTxId,
        request: Request,
        ess: &Essentials,
    ) {
        let early = matches!(
            self.state,
            State::Early | State::Calling | State::Cancelling
        );
        let ours = ess.to_tag.as_deref() == Some(self.local_tag.as_str());
        let dialog = self.dialog.as_mut().filter(|_| ours);
        let Some(d) = dialog.filter(|_| self.state != State::Terminated) else {
            self.respond(id, message::response(&request, 481, None));
            return;
        };
        if let Err(e) = d.check_remote_cseq(request.method, ess.cseq) {
            // RFC 3261 12.2.2: a lower CSeq is an error; Retry-After lets a
            // peer that merely raced itself try again.
            tracing::debug!(error = %e, method = %request.method, "out-of-order in-dialog request");
            self.respond(id, retry_later(&request));
            return;
        }
        match request.method {
            Method::Bye => {
                self.respond(id, message::response(&request, 200, None));
                if self.state == State::Early {
                    self.respond_invite(487);
                }
                // The leg says it, in its words (caller, callee).
                tracing::debug!("the peer hung up");
                self.close();
                self.event(DialogEvent::Ended(EndReason::Bye));
            }
            Method::Invite | Method::Update => {
                if early || self.their_offer.is_some() {
                    // RFC 3261 14.2 (INVITE before the first is answered),
                    // RFC 3311 5.2 (an offer while one of theirs is open).
                    self.respond(id, retry_later(&request));
                } else if self.offer_in_flight()
                    && (request.method == Method::Invite || !request.body.is_empty())
                {
                    // Glare (RFC 3261 14.2, RFC 3311 5.2).
                    self.respond(id, message::response(&request, 491, None));
                } else if request.method == Method::Update && request.body.is_empty() {
                    // No offer, only a session refresh (RFC 4028 section 9):
                    // no answer to seek from the leg.
                    self.their_offer = Some(Box::new((id, request)));
                    let _ = self.answer_offer(now, id, Ok(None));
                } else {
                    self.their_offer = Some(Box::new((id, request.clone())));
                    self.event(DialogEvent::Offer { id, request });
                }
            }
            Method::Options => {
                let mut r = message::response(&request, 200, None);
                r.headers.push(Header::Allow(self.cfg.allow.into()));
                self.respond(id, r);
            }
            m if allowed(self.cfg.allow, m) && !matches!(m, Method::Ack | Method::Cancel) => {
                self.event(DialogEvent::Request { id, request });
            }
            _ => {
                let mut r = message::response(&request, 405, None);
                r.headers.push(Header::Allow(self.cfg.allow.into()));
                self.respond(id, r);
            }
        }
    }

    pub(super) fn response(&mut self, now: Instant, response: Response, ess: &Essentials) {
        let code = response.status_code.code();
        if self.is_our_invite(ess) {
            return self.invite_answer(now, code, response);
        }
        if (200..300).contains(&code)
            && ess.cseq_method == Method::Invite
            && self.reinvite_acked == Some(ess.cseq)
        {
            // A retransmitted 2xx to our re-INVITE: our ACK was lost, send
            // it again (RFC 3261 section 13.2.2.4).
            if let Some(d) = &self.dialog {
                self.out
                    .push_back(DialogOutput::Ack(d.ack_for(ess.cseq, &self.cfg.via)));
            }
            return;
        }
        let Some(o) = self.our_offer.as_ref() else {
            return; // BYE, NOTIFY... answered: nothing to do
        };
        if o.cseq != ess.cseq || o.method != ess.cseq_method || code < 200 {
            return;
        }
        match code {
            200..=299 => {
                if o.method == Method::Invite {
                    if let Some(d) = &self.dialog {
                        let ack = d.ack_for(o.cseq, &self.cfg.via);
                        self.out.push_back(DialogOutput::Ack(ack));
                    }
                    self.reinvite_acked = Some(o.cseq);
                }
                self.our_offer = None;
                if let Some(t) = SessionTimer::from_answer(&response.headers) {
                    self.timer = Some(t);
                }
                self.arm_timer(now);
                self.event(DialogEvent::OfferAnswered { response });
            }
            491 => {
                // RFC 3261 14.1: the Call-ID's owner waits 2.1-4 s, the
                // other side 0-2 s, so the two do not collide again.
                let ms = match self.role {
                    Role::Uac => rand::thread_rng().gen_range(2100..=4000),
                    Role::Uas => rand::thread_rng().gen_range(0..=2000),
                };
                tracing::debug!(wait_ms = ms, "re-offer glare; trying again later");
                if let Some(o) = self.our_offer.as_mut() {
                    o.retry_at = Some(now + Duration::from_millis(ms));
                }
            }
            481 => {
                self.close();
                self.event(DialogEvent::Ended(EndReason::Gone));
            }
            408 => {
                self.our_offer = None;
                self.end(EndReason::Gone);
            }
            _ => {
                // Refused: the session goes on as it was (RFC 3261 14.1);
                // a refused refresh leaves the expiry to end it.
                self.our_offer = None;
                self.timer_at = self.expires_at(now);
            }
        }
    }

    fn invite_answer(&mut self, now: Instant, code: u16, response: Response) {
        if self.state == State::Calling
            && matches!(code, 401 | 407)
            && self.answer_challenge(&response)
        {
            return;
        }
        match (self.state, code) {
            (State::Calling, 101..=199) => self.event(DialogEvent::Progress { code }),
            (State::Calling | State::Cancelling, 200..=299) => {
                let d = Dialog::uac(&self.invite, &response, &self.cfg.contact);
                let ack = d.ack(&self.cfg.via);
                self.dialog = Some(d);
                self.out.push_back(DialogOutput::Ack(ack));
                if self.state == State::Cancelling {
                    tracing::info!("the callee answered as we cancelled; hanging up");
                    self.bye();
                    return;
                }
                self.peer_allows_update = allows_update(&response.headers);
                self.timer = SessionTimer::from_answer(&response.headers);
                self.state = State::Confirmed;
                self.arm_timer(now);
                self.event(DialogEvent::Answered { response });
            }
            (_, 200..=299) => {
                // A retransmitted 2xx: acknowledge it again (built anew:
                // keeping the ACK would cost every call its size).
                if let Some(d) = &self.dialog {
                    self.out.push_back(DialogOutput::Ack(d.ack(&self.cfg.via)));
                }
            }
            (State::Calling, 300..) => {
                self.state = State::Terminated;
                self.event(DialogEvent::Failed { code: Some(code) });
            }
            (State::Cancelling, 300..) => self.state = State::Terminated,
            _ => {}
        }
    }

    pub(super) fn no_response(&mut self, ess: &Essentials) {
        if self.is_our_invite(ess) {
            match self.state {
                State::Calling => {
                    tracing::warn!("no final response to our INVITE");
                    self.state = State::Terminated;
                    self.event(DialogEvent::Failed { code: None });
                }
                State::Cancelling => self.state = State::Terminated,
                _ => {}
            }
            return;
        }
        let ours = self
            .our_offer
            .as_ref()
            .is_some_and(|o| o.cseq == ess.cseq && o.method == ess.cseq_method);
        if ours && self.state == State::Confirmed {
            // RFC 3261 12.2.1.2: a timeout ends the dialog like a 408.
            self.our_offer = None;
            self.end(EndReason::Gone);
        }
    }
}

/// 500 with Retry-After (RFC 3261 14.2: a random 0-10 s).
fn retry_later(request: &Request) -> Response {
    let mut r = message::response(request, 500, None);
    let secs = rand::thread_rng().gen_range(1..=10);
    r.headers.push(Header::RetryAfter(secs.to_string().into()));
    r
}

fn allowed(allow: &str, method: Method) -> bool {
    let name = method.to_string();
    allow
        .split(',')
        .any(|m| m.trim().eq_ignore_ascii_case(&name))
}
