//! Calls: enqueue, offers and how they end, overflow, widening, max wait.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Call, CallState, CallTimers, Offer, Router};
use crate::agent::{AgentState, RONA, UNREACHABLE};
use crate::config::{MAX_LEVEL, MIN_LEVEL};
use crate::event::{CallId, InputError, LeaveReason, OfferFailure, OfferId, Output, RequeueReason};
use crate::queue::WaitKey;
use crate::skills::{satisfies, skill_sum, ReqId, Requirement};
use crate::strategy::Candidate;
use crate::timers::{after, Timer, Timers};

/// How an offer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OfferEnd {
    /// The call goes back to its place. `tell_edge`: the edge does not know
    /// yet, send `CancelOffer`.
    Failed {
        reason: RequeueReason,
        tell_edge: bool,
    },
    /// Another agent answered, or the caller left: the agent is freed.
    Cancelled,
}

impl Router {
    pub(super) fn enqueue(
        &mut self,
        now: Instant,
        call: CallId,
        queue: String,
        priority: i32,
        boost_s: u32,
        skills: BTreeMap<String, u8>,
    ) {
        if self.calls.contains_key(&call) {
            return self.error(InputError::DuplicateCall(call));
        }
        let active = self.queue_ix.get(&queue).copied();
        let Some(q) = active.filter(|&q| self.queues[q].active) else {
            tracing::info!(call_id = call, %queue, "enqueue into an unknown queue");
            let reason = LeaveReason::UnknownQueue;
            return self.emit(Output::Left {
                call,
                queue,
                reason,
                destination: None,
            });
        };
        let extra = self.clamp_skills(call, skills);
        let arrival_ns = self.ns(now);
        let key = WaitKey::new(priority, arrival_ns, boost_s, self.next_seq);
        self.next_seq += 1;
        let req = self.intern_req(q, false, &extra);
        let c = Call {
            queue: q,
            key,
            arrival_ns,
            enqueued_at: now,
            entered_at: now,
            extra,
            widened: false,
            req,
            state: CallState::Waiting,
            timers: CallTimers::default(),
            long_wait_sent: false,
            overflow_due: false,
            max_wait_due: false,
        };
        self.calls.insert(call, c);
        self.queues[q].list.push(req, key, arrival_ns, call);
        self.arm_call_timers(call);
        tracing::debug!(call_id = call, queue = %self.queues[q].cfg.name, priority, boost_s, "enqueued");
        self.dispatch_call(now, call);
    }

    fn clamp_skills(&mut self, call: CallId, skills: BTreeMap<String, u8>) -> Requirement {
        let mut out = Requirement::new();
        for (skill, level) in skills {
            let clamped = level.clamp(MIN_LEVEL, MAX_LEVEL);
            if clamped != level {
                let skill = skill.clone();
                self.error(InputError::SkillLevelClamped { call, skill, level });
            }
            out.insert(skill, clamped);
        }
        out
    }

    pub(super) fn intern_req(&mut self, q: usize, widened: bool, extra: &Requirement) -> ReqId {
        let req = self.queues[q].requirement(widened, extra);
        self.reqs.intern(req)
    }

    pub(super) fn abandon(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if let CallState::Connected { .. } = c.state {
            return self.call_ended(now, call);
        }
        tracing::debug!(call_id = call, "abandoned");
        self.drop_call(now, call);
    }

    /// Take a waiting or ringing call out of the router, cancelling its offers.
    fn drop_call(&mut self, now: Instant, call: CallId) {
        let Some(mut c) = self.calls.remove(&call) else {
            return;
        };
        cancel_all(&mut self.timers, &mut c.timers);
        let list = &mut self.queues[c.queue].list;
        match c.state {
            CallState::Waiting => list.remove(c.req, c.key, c.arrival_ns),
            CallState::Offering(offers) => {
                list.end_offer(c.key);
                for offer in offers {
                    self.end_offer(now, offer, OfferEnd::Cancelled);
                }
            }
            CallState::Connected { .. } => {}
        }
    }

    pub(super) fn answered(&mut self, now: Instant, offer: OfferId) {
        let Some(mut o) = self.offers.remove(&offer) else {
            return self.error(InputError::UnknownOffer(offer));
        };
        self.timers.cancel(&mut o.timer);
        let Some(c) = self.calls.get_mut(&o.call) else {
            // Unreachable by construction: free the agent all the same.
            self.settle(now, o.agent, AgentState::Available);
            self.dispatch_agent(now, o.agent);
            return self.error(InputError::UnknownCall(o.call));
        };
        let others: Vec<OfferId> = match &c.state {
            CallState::Offering(all) => all.iter().copied().filter(|&x| x != offer).collect(),
            _ => Vec::new(),
        };
        c.state = CallState::Connected {
            agent: o.agent,
            at: now,
        };
        cancel_all(&mut self.timers, &mut c.timers);
        let waited = now.saturating_duration_since(c.enqueued_at);
        self.queues[o.queue].list.end_offer(c.key);
        let ag = &mut self.agents[o.agent];
        ag.answered += 1;
        ag.remember_call(o.call, o.queue);
        let (agent, queue) = (
            self.agents[o.agent].id.clone(),
            self.queues[o.queue].cfg.name.clone(),
        );
        tracing::info!(call_id = o.call, %agent, %queue, waited_ms = waited.as_millis() as u64, "connected");
        self.emit(Output::Connected {
            call: o.call,
            agent,
            offer,
            queue,
            waited,
        });
        self.set_state(now, o.agent, AgentState::OnCall { call: o.call });
        for other in others {
            self.end_offer(now, other, OfferEnd::Cancelled);
        }
    }

    pub(super) fn offer_failed(&mut self, now: Instant, offer: OfferId, reason: OfferFailure) {
        if !self.offers.contains_key(&offer) {
            return self.error(InputError::UnknownOffer(offer));
        }
        let reason = match reason {
            OfferFailure::NoAnswer => RequeueReason::NoAnswer,
            OfferFailure::Declined => RequeueReason::Declined,
            OfferFailure::Unreachable => RequeueReason::Unreachable,
        };
        let tell_edge = false;
        self.end_offer(now, offer, OfferEnd::Failed { reason, tell_edge });
    }

    pub(super) fn ring_timeout(&mut self, now: Instant, offer: OfferId) {
        if let Some(o) = self.offers.get_mut(&offer) {
            o.timer = None;
        }
        let reason = RequeueReason::NoAnswer;
        self.end_offer(
            now,
            offer,
            OfferEnd::Failed {
                reason,
                tell_edge: true,
            },
        );
    }

    /// Close one offer: free or pause its agent, and put its call back at
    /// its place when that was the call's last offer.
    pub(super) fn end_offer(&mut self, now: Instant, offer: OfferId, end: OfferEnd) {
        let Some(mut o) = self.offers.remove(&offer) else {
            return;
        };
        self.timers.cancel(&mut o.timer);
        let cancel = match end {
            OfferEnd::Failed { tell_edge, .. } => tell_edge,
            OfferEnd::Cancelled => true,
        };
        if cancel {
            let agent = self.agents[o.agent].id.clone();
            self.emit(Output::CancelOffer {
                offer,
                call: o.call,
                agent,
            });
        }
        let requeued = self.detach_offer(o.call, offer);
        let next = match end {
            OfferEnd::Failed { reason, .. } => self.after_failure(now, &o, reason),
            OfferEnd::Cancelled => AgentState::Available,
        };
        self.settle(now, o.agent, next);
        if let (true, OfferEnd::Failed { reason, .. }) = (requeued, end) {
            let queue = self.queues[o.queue].cfg.name.clone();
            tracing::info!(call_id = o.call, %queue, ?reason, agent = %self.agents[o.agent].id, "requeued");
            self.emit(Output::Requeued {
                call: o.call,
                queue,
                reason,
            });
        }
        if requeued {
            self.after_requeue(now, o.call);
        }
        self.dispatch_agent(now, o.agent);
    }

    /// The agent's state after a failed offer (unless a pause or logout was asked).
    fn after_failure(&mut self, now: Instant, o: &Offer, reason: RequeueReason) -> AgentState {
        match reason {
            RequeueReason::NoAnswer => AgentState::Paused {
                reason: RONA.into(),
            },
            RequeueReason::Unreachable => AgentState::Paused {
                reason: UNREACHABLE.into(),
            },
            RequeueReason::Declined => {
                let delay = self.queues[o.queue].cfg.reject_delay_s;
                self.start_reject_delay(now, o.agent, delay);
                AgentState::Available
            }
            RequeueReason::Unregistered => AgentState::Available,
        }
    }

    /// Remove `offer` from its call; if it was the last one, the call is
    /// waiting again at its original place. Returns whether it is.
    fn detach_offer(&mut self, call: CallId, offer: OfferId) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let CallState::Offering(offers) = &mut c.state else {
            return false;
        };
        offers.retain(|&x| x != offer);
        if !offers.is_empty() {
            return false;
        }
        c.state = CallState::Waiting;
        let list = &mut self.queues[c.queue].list;
        list.end_offer(c.key);
        list.push(c.req, c.key, c.arrival_ns, call);
        true
    }

    /// A call is waiting again after its offers failed: do what came due
    /// while it rang, else route it.
    fn after_requeue(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.max_wait_due {
            self.leave_max_wait(now, call);
        } else if c.overflow_due {
            self.overflow(now, call);
        } else {
            self.dispatch_call(now, call);
        }
    }

    pub(super) fn call_ended(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return self.error(InputError::UnknownCall(call));
        };
        let CallState::Connected { agent, at } = c.state else {
            // Ended before an agent answered: the caller is gone.
            return self.drop_call(now, call);
        };
        let q = c.queue;
        self.calls.remove(&call);
        let wrap_s = self.queues[q].cfg.wrap_up_s;
        let handled = now.saturating_duration_since(at) + Duration::from_secs(wrap_s);
        self.queues[q].record_handle_time(handled);
        tracing::info!(call_id = call, agent = %self.agents[agent].id, talk_ms = now.saturating_duration_since(at).as_millis() as u64, "call ended");
        self.start_wrap_up(now, agent, wrap_s);
    }

    pub(super) fn overflow_timer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.timers.overflow = None;
        match c.state {
            CallState::Waiting => self.overflow(now, call),
            CallState::Offering(_) => c.overflow_due = true,
            CallState::Connected { .. } => {}
        }
    }

    pub(super) fn widen_timer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.timers.widen = None;
        self.widen(now, call);
    }

    pub(super) fn max_wait_timer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.timers.max_wait = None;
        match c.state {
            CallState::Waiting => self.leave_max_wait(now, call),
            CallState::Offering(_) => c.max_wait_due = true,
            CallState::Connected { .. } => {}
        }
    }

    pub(super) fn long_wait_timer(&mut self, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.timers.long_wait = None;
        if c.long_wait_sent || matches!(c.state, CallState::Connected { .. }) {
            return;
        }
        c.long_wait_sent = true;
        let queue = self.queues[c.queue].cfg.name.clone();
        tracing::info!(call_id = call, %queue, "long wait");
        self.emit(Output::LongWait { call, queue });
    }

    /// Move a waiting call to its queue's overflow target (if it still is
    /// one), keeping its key, then route it.
    fn overflow(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.overflow_due = false;
        let from = c.queue;
        if let Some(to) = self.overflow_target(from) {
            self.move_call(now, call, to);
            let from = self.queues[from].cfg.name.clone();
            let to = self.queues[to].cfg.name.clone();
            tracing::info!(call_id = call, %from, %to, "overflowed");
            self.emit(Output::Overflowed { call, from, to });
        }
        self.dispatch_call(now, call);
    }

    fn overflow_target(&self, from: usize) -> Option<usize> {
        let o = self.queues[from].cfg.overflow.as_ref()?;
        let to = *self.queue_ix.get(&o.queue)?;
        (to != from && self.queues[to].active).then_some(to)
    }

    fn move_call(&mut self, now: Instant, call: CallId, to: usize) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let extra = c.extra.clone();
        let req = self.intern_req(to, false, &extra);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        self.queues[c.queue].list.remove(c.req, c.key, c.arrival_ns);
        self.queues[to].list.push(req, c.key, c.arrival_ns, call);
        c.queue = to;
        c.req = req;
        c.widened = false;
        c.entered_at = now;
        self.arm_call_timers(call);
    }

    fn widen(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let q = c.queue;
        if c.widened
            || self.queues[q].widen.is_none()
            || matches!(c.state, CallState::Connected { .. })
        {
            return;
        }
        let extra = c.extra.clone();
        let req = self.intern_req(q, true, &extra);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let waiting = c.state == CallState::Waiting;
        if waiting {
            let list = &mut self.queues[q].list;
            list.remove(c.req, c.key, c.arrival_ns);
            list.push(req, c.key, c.arrival_ns, call);
        }
        c.req = req;
        c.widened = true;
        let queue = self.queues[q].cfg.name.clone();
        tracing::info!(call_id = call, %queue, "widened");
        self.emit(Output::Widened { call, queue });
        if waiting {
            self.dispatch_call(now, call);
        }
    }

    fn leave_max_wait(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.max_wait_due = false;
        let q = c.queue;
        let Some(max_wait) = self.queues[q].cfg.max_wait.clone() else {
            return self.dispatch_call(now, call);
        };
        self.drop_call(now, call);
        let queue = self.queues[q].cfg.name.clone();
        tracing::info!(call_id = call, %queue, destination = %max_wait.destination, "max wait reached");
        self.emit(Output::Left {
            call,
            queue,
            reason: LeaveReason::MaxWait,
            destination: Some(max_wait.destination),
        });
    }

    /// (Re)schedule the call's overflow, widening, max wait and long wait
    /// from its current queue's settings.
    pub(super) fn arm_call_timers(&mut self, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let timers = &mut self.timers;
        cancel_all(timers, &mut c.timers);
        let q = &self.queues[c.queue];
        let cfg = &q.cfg;
        if let Some(o) = &cfg.overflow {
            c.timers.overflow = timers.add(after(c.entered_at, o.after_s), Timer::Overflow(call));
        }
        if let (Some(w), false) = (&cfg.widen, c.widened) {
            c.timers.widen = timers.add(after(c.entered_at, w.after_s), Timer::Widen(call));
        }
        if let Some(m) = &cfg.max_wait {
            c.timers.max_wait = timers.add(after(c.enqueued_at, m.after_s), Timer::MaxWait(call));
        }
        if let (Some(s), false) = (cfg.long_wait_s, c.long_wait_sent) {
            c.timers.long_wait = timers.add(after(c.enqueued_at, s), Timer::LongWait(call));
        }
    }

    /// A call is waiting: offer it to the agent(s) its queue's strategy picks
    /// among those who could take it now.
    pub(super) fn dispatch_call(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.state != CallState::Waiting {
            return;
        }
        let req = self.reqs.get(c.req);
        let cands: Vec<Candidate> = self
            .idle
            .iter()
            .map(|&a| (a, &self.agents[a]))
            .filter(|(_, ag)| ag.offerable(now) && satisfies(&ag.skills, req))
            .map(|(a, ag)| Candidate {
                agent: a,
                order: ag.order,
                idle_since: ag.since.unwrap_or(now),
                answered: ag.answered,
                skill_sum: skill_sum(&ag.skills, req),
            })
            .collect();
        if cands.is_empty() {
            return;
        }
        let queue = &self.queues[c.queue];
        let last = queue.rr_last.map(|a| self.agents[a].order);
        let chosen = queue.cfg.strategy.pick(&cands, last);
        self.offer(now, call, &chosen);
    }

    /// An agent may take a call: offer it the best waiting call, across all
    /// queues, among those it can serve.
    pub(super) fn dispatch_agent(&mut self, now: Instant, a: usize) {
        let ag = &self.agents[a];
        if !ag.offerable(now) {
            return;
        }
        let reqs = &self.reqs;
        let best = self
            .queues
            .iter()
            .filter(|q| q.list.waiting() > 0)
            .filter_map(|q| q.list.best(|r| satisfies(&ag.skills, reqs.get(r))))
            .min_by_key(|(key, _)| *key);
        if let Some((_, call)) = best {
            self.offer(now, call, &[a]);
        }
    }

    fn offer(&mut self, now: Instant, call: CallId, agents: &[usize]) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let q = c.queue;
        let list = &mut self.queues[q].list;
        list.remove(c.req, c.key, c.arrival_ns);
        list.start_offer(c.key);
        let ring_s = self.queues[q].cfg.ring_timeout_s;
        let mut ids = Vec::with_capacity(agents.len());
        for &agent in agents {
            let offer = self.next_offer;
            self.next_offer += 1;
            let timer = self.timers.add(after(now, ring_s), Timer::Ring(offer));
            self.offers.insert(
                offer,
                Offer {
                    call,
                    agent,
                    queue: q,
                    timer,
                },
            );
            ids.push(offer);
        }
        c.state = CallState::Offering(ids.clone());
        self.queues[q].rr_last = agents.last().copied();
        let queue = self.queues[q].cfg.name.clone();
        for (&a, offer) in agents.iter().zip(ids) {
            let agent = self.agents[a].id.clone();
            tracing::info!(call_id = call, %agent, %queue, offer, "offer");
            self.emit(Output::Offer {
                offer,
                call,
                agent,
                queue: queue.clone(),
                ring_timeout: Duration::from_secs(ring_s),
            });
            self.set_state(now, a, AgentState::Reserved { offer, call });
        }
    }
}

fn cancel_all(timers: &mut Timers, t: &mut CallTimers) {
    timers.cancel(&mut t.overflow);
    timers.cancel(&mut t.widen);
    timers.cancel(&mut t.max_wait);
    timers.cancel(&mut t.long_wait);
}
