//! The ACD state machine: calls wait in queues, agents change state, and
//! every decision comes out of [`Router::poll`]. No I/O, no clock, no locks:
//! the caller passes `now` with each input and asks when to wake up next.
//!
//! Invariant kept after every input: no agent that could be offered a call
//! right now coexists with a waiting call it could serve. So a new call only
//! looks at idle agents, and an agent that becomes free only looks at the
//! heads of the lists it can serve.

mod agents;
mod calls;
#[cfg(test)]
mod invariants;
mod reload;
mod view;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use crate::agent::Agent;
use crate::config::{AcdConfig, ConfigError};
use crate::event::{CallId, Input, InputError, OfferId, Output};
use crate::queue::{Queue, WaitKey};
use crate::skills::{Interner, ReqId, Requirement};
use crate::timers::{Timer, TimerKey, Timers};

/// The skills-based ACD router. See the crate documentation for a tour.
#[derive(Debug)]
pub struct Router {
    /// Queue slots; a removed queue stays (inactive) while it holds calls.
    queues: Vec<Queue>,
    queue_ix: BTreeMap<String, usize>,
    /// Agent slots; a removed agent stays (retired) until logged out.
    agents: Vec<Agent>,
    agent_ix: BTreeMap<String, usize>,
    /// Agents that are available and registered (reject delay aside).
    idle: BTreeSet<usize>,
    calls: BTreeMap<CallId, Call>,
    offers: BTreeMap<OfferId, Offer>,
    reqs: Interner,
    timers: Timers,
    out: VecDeque<Output>,
    /// First instant seen: virtual enqueue times are nanoseconds from it.
    origin: Option<Instant>,
    /// Latest instant seen (time never goes back inside the router).
    last_now: Option<Instant>,
    next_offer: OfferId,
    next_seq: u64,
}

#[derive(Debug)]
struct Call {
    queue: usize,
    key: WaitKey,
    /// Nanoseconds from the origin to `Enqueue`.
    arrival_ns: i64,
    enqueued_at: Instant,
    /// Entered its current queue (overflow resets it).
    entered_at: Instant,
    extra: Requirement,
    widened: bool,
    req: ReqId,
    state: CallState,
    timers: CallTimers,
    long_wait_sent: bool,
    /// Overflow or max wait came while ringing: done when the offer fails.
    overflow_due: bool,
    max_wait_due: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CallState {
    Waiting,
    Offering(Vec<OfferId>),
    Connected { agent: usize, at: Instant },
}

#[derive(Debug, Default)]
struct CallTimers {
    overflow: Option<TimerKey>,
    widen: Option<TimerKey>,
    max_wait: Option<TimerKey>,
    long_wait: Option<TimerKey>,
}

#[derive(Debug)]
struct Offer {
    call: CallId,
    agent: usize,
    queue: usize,
    timer: Option<TimerKey>,
}

impl Router {
    /// A router for `cfg`, with no calls. Agents with `logged_in` start
    /// available, but none is offered a call before `Input::Registered`.
    pub fn new(cfg: AcdConfig) -> Result<Router, ConfigError> {
        cfg.validate()?;
        let mut r = Router {
            queues: Vec::new(),
            queue_ix: BTreeMap::new(),
            agents: Vec::new(),
            agent_ix: BTreeMap::new(),
            idle: BTreeSet::new(),
            calls: BTreeMap::new(),
            offers: BTreeMap::new(),
            reqs: Interner::default(),
            timers: Timers::default(),
            out: VecDeque::new(),
            origin: None,
            last_now: None,
            next_offer: 1,
            next_seq: 0,
        };
        r.install(None, cfg);
        Ok(r)
    }

    /// Apply one input at `now`. Timers due at `now` fire first, so an input
    /// arriving after a deadline sees its effect (a late answer finds the
    /// offer already cancelled). Results are queued for [`Router::poll`].
    pub fn handle(&mut self, now: Instant, input: Input) {
        let now = self.clock(now);
        self.fire_due(now);
        self.apply(now, input);
        self.fire_due(now);
    }

    /// The next output, oldest first.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the router wants `Input::Timeout` (may be in the past: then now).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Replace the configuration, keeping calls and agent states. A removed
    /// queue takes no new calls but keeps serving its waiting calls under its
    /// old settings until empty. A removed agent is logged out, after its
    /// current call and wrap-up if busy. Calls of changed queues get the new
    /// requirements and timers (timers count from when they entered the queue).
    /// On error nothing changes.
    pub fn reconfigure(&mut self, now: Instant, cfg: AcdConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        let now = self.clock(now);
        self.fire_due(now);
        self.install(Some(now), cfg);
        self.rebalance(now);
        self.fire_due(now);
        Ok(())
    }

    fn clock(&mut self, now: Instant) -> Instant {
        let now = self.last_now.map_or(now, |last| last.max(now));
        self.last_now = Some(now);
        if self.origin.is_none() {
            self.origin = Some(now);
            for a in &mut self.agents {
                a.since.get_or_insert(now);
            }
        }
        now
    }

    /// Nanoseconds from the origin to `t`.
    fn ns(&self, t: Instant) -> i64 {
        let origin = self.origin.unwrap_or(t);
        i64::try_from(t.saturating_duration_since(origin).as_nanos()).unwrap_or(i64::MAX)
    }

    fn fire_due(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_due(now) {
            self.on_timer(now, t);
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Ring(offer) => self.ring_timeout(now, offer),
            Timer::Overflow(call) => self.overflow_timer(now, call),
            Timer::Widen(call) => self.widen_timer(now, call),
            Timer::MaxWait(call) => self.max_wait_timer(now, call),
            Timer::LongWait(call) => self.long_wait_timer(call),
            Timer::WrapUp(agent) => self.wrap_up_timer(now, agent),
            Timer::RejectDelay(agent) => self.reject_delay_timer(now, agent),
        }
    }

    fn apply(&mut self, now: Instant, input: Input) {
        match input {
            Input::Enqueue {
                call,
                queue,
                priority,
                boost_s,
                skills,
            } => self.enqueue(now, call, queue, priority, boost_s, skills),
            Input::Abandon { call } => self.abandon(now, call),
            Input::OfferAnswered { offer } => self.answered(now, offer),
            Input::OfferFailed { offer, reason } => self.offer_failed(now, offer, reason),
            Input::CallEnded { call } => self.call_ended(now, call),
            Input::Timeout => {}
            agent_input => self.agent_input(now, agent_input),
        }
    }

    fn agent_input(&mut self, now: Instant, input: Input) {
        let id = match &input {
            Input::Registered { agent }
            | Input::Unregistered { agent }
            | Input::Login { agent }
            | Input::Logout { agent }
            | Input::Pause { agent, .. }
            | Input::Unpause { agent }
            | Input::Ready { agent }
            | Input::Disposition { agent, .. } => agent,
            _ => return,
        };
        let Some(a) = self.agent_index(id) else {
            let error = InputError::UnknownAgent(id.clone());
            return self.error(error);
        };
        match input {
            Input::Registered { .. } => self.set_registered(now, a, true),
            Input::Unregistered { .. } => self.set_registered(now, a, false),
            Input::Login { .. } => self.login(now, a),
            Input::Logout { .. } => self.logout(now, a),
            Input::Pause { reason, .. } => self.pause(now, a, reason),
            Input::Unpause { .. } => self.unpause(now, a),
            Input::Ready { .. } => self.ready(now, a),
            Input::Disposition { call, code, .. } => self.disposition(a, call, code),
            _ => {}
        }
    }

    fn agent_index(&self, id: &str) -> Option<usize> {
        let &a = self.agent_ix.get(id)?;
        self.agents[a].visible().then_some(a)
    }

    fn emit(&mut self, output: Output) {
        self.out.push_back(output);
    }

    fn error(&mut self, error: InputError) {
        tracing::debug!(%error, "acd input refused");
        self.emit(Output::Error { error });
    }
}
