//! The tokio edge around the ACD router (`acd::Router`): one task owns the
//! router and feeds it queued calls, agent phone registrations, agent legs'
//! outcomes and supervisor actions; it carries out the router's decisions
//! (ring an agent, stop ringing, connect caller and agent) and writes each
//! step into the caller's record. The router itself never sees I/O.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ::acd::{
    AcdConfig, AgentStateKind, CallId, Input, LeaveReason, OfferFailure, OfferId, Output,
    RequeueReason, Router,
};
use cdr::{CallEvent, CdrSink, EventKind, Party};
use media::engine::{MediaEngine, MediaSessionRef};
use tokio::sync::mpsc;

use super::messages::EdgeIn;
use super::monitor::MonitorState;
use super::transfer::transfer_rules;
use super::{AgentAction, AgentActionError, Notice, QueueRequest};
use crate::handle::{CallInfo, CallPort};
use crate::leg::outbound::{self, DialRequest, LegControl, LegEvent, LegFailure};
use crate::leg::CallContext;
use crate::registrar::{RegEvent, Registrar};

/// A call the edge knows.
pub(super) struct CallState {
    pub(super) info: Arc<CallInfo>,
    /// The caller's leg, bridged here with the agent's.
    pub(super) port: CallPort,
    pub(super) notices: mpsc::UnboundedSender<Notice>,
    /// The answered agent leg, once connected.
    pub(super) connected: Option<(OfferId, LegControl)>,
    /// How it was queued (a transfer queues it again alike).
    pub(super) req: QueueRequest,
}

/// A ringing (or answered) agent leg.
pub(super) struct OfferState {
    pub(super) call: CallId,
    pub(super) agent: String,
    pub(super) leg: Option<LegControl>,
    /// The agent's RTP session once the phone answered.
    pub(super) media: Option<MediaSessionRef>,
}

pub(super) struct LastCall {
    pub(super) call: CallId,
    pub(super) record_id: String,
    /// The conversation is over and the agent's wrap-up has not ended.
    pub(super) wrapping: bool,
}

pub(super) struct Edge {
    pub(super) router: Router,
    pub(super) ctx: CallContext,
    pub(super) cdr: CdrSink,
    pub(super) engine: MediaEngine,
    pub(super) registrar: Arc<Registrar>,
    pub(super) calls: HashMap<CallId, CallState>,
    pub(super) offers: HashMap<OfferId, OfferState>,
    /// Each agent's last connected call (what a disposition qualifies, and
    /// whose record waits for the end of the agent's wrap-up).
    pub(super) last_call: HashMap<String, LastCall>,
    /// `var/recordings`.
    pub(super) recordings: PathBuf,
    /// Queues whose conversations are recorded.
    pub(super) recorded: HashSet<String>,
    /// Every configured queue (transfer targets).
    pub(super) queues: HashSet<String>,
    /// Per queue: the trunk and number prefixes agents may transfer to.
    pub(super) transfer_rules: HashMap<String, (String, Vec<String>)>,
    /// Supervisors' legs listening to calls.
    pub(super) monitors: HashMap<u64, MonitorState>,
    pub(super) next_monitor: u64,
    pub(super) tx: mpsc::UnboundedSender<EdgeIn>,
}

pub(super) fn recorded_queues(cfg: &AcdConfig) -> HashSet<String> {
    cfg.queues
        .iter()
        .filter(|q| q.record)
        .map(|q| q.name.clone())
        .collect()
}

impl Edge {
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<EdgeIn>) {
        loop {
            let wake = self.router.poll_timeout();
            let input = match wake {
                Some(at) => {
                    let at = tokio::time::Instant::from_std(at);
                    tokio::select! {
                        i = rx.recv() => i,
                        _ = tokio::time::sleep_until(at) => {
                            self.router.handle(Instant::now(), Input::Timeout);
                            self.drain();
                            continue;
                        }
                    }
                }
                None => rx.recv().await,
            };
            let Some(input) = input else {
                return;
            };
            self.input(input);
            self.drain();
        }
    }

    pub(super) fn emit(&self, call: CallId, kind: EventKind) {
        if let Some(c) = self.calls.get(&call) {
            self.cdr.emit(CallEvent::now(&c.info.record_id, kind));
        }
    }

    pub(super) fn notify(&self, call: CallId, n: Notice) {
        if let Some(c) = self.calls.get(&call) {
            let _ = c.notices.send(n);
        }
    }

    fn input(&mut self, input: EdgeIn) {
        let now = Instant::now();
        match input {
            EdgeIn::Enqueue {
                call,
                info,
                port,
                req,
                notices,
            } => {
                tracing::info!(call_id = %info.sip_call_id, record_id = %info.record_id, queue = %req.queue,
                    priority = req.priority, boost_s = req.boost_s, "call queued");
                self.calls.insert(
                    call,
                    CallState {
                        info,
                        port,
                        notices,
                        connected: None,
                        req: req.clone(),
                    },
                );
                self.enqueue(now, call, req);
            }
            EdgeIn::Gone {
                call,
                caller_hung_up,
            } => {
                let Some(state) = self.calls.remove(&call) else {
                    return;
                };
                match state.connected {
                    Some((offer, leg)) => {
                        leg.stop();
                        if let Some(o) = self.offers.remove(&offer) {
                            self.conversation_over(&o.agent);
                        }
                        if caller_hung_up {
                            self.cdr.emit(CallEvent::now(
                                &state.info.record_id,
                                EventKind::AgentEnded { by: Party::Caller },
                            ));
                        }
                        self.router.handle(now, Input::CallEnded { call });
                    }
                    None => {
                        if caller_hung_up {
                            tracing::info!(record_id = %state.info.record_id, "caller abandoned in queue");
                        }
                        self.router.handle(now, Input::Abandon { call });
                    }
                }
            }
            EdgeIn::Leg { offer, ev } => self.leg_event(now, offer, ev),
            EdgeIn::Registration(ev) => match ev {
                RegEvent::Registered { agent, .. } => {
                    self.router.handle(now, Input::Registered { agent })
                }
                RegEvent::Unregistered { agent, .. } => {
                    self.router.handle(now, Input::Unregistered { agent })
                }
            },
            EdgeIn::Agent {
                agent,
                action,
                reply,
            } => {
                let result = self.agent_action(now, agent, action);
                let _ = reply.send(result);
            }
            EdgeIn::Snapshot(reply) => {
                let _ = reply.send(self.router.snapshot(now));
            }
            EdgeIn::Position { call, reply } => {
                let _ = reply.send(self.router.position(call));
            }
            EdgeIn::Monitor {
                target,
                phone,
                by,
                reply,
            } => {
                let _ = reply.send(self.monitor(&target, &phone, &by));
            }
            EdgeIn::MonitorLeg { id, ev } => self.monitor_leg(id, ev),
            EdgeIn::Reconfigure(cfg, reply) => {
                let recorded = recorded_queues(&cfg);
                let queues = cfg.queues.iter().map(|q| q.name.clone()).collect();
                let rules = transfer_rules(&cfg.queues);
                let r = self.router.reconfigure(now, cfg);
                if r.is_ok() {
                    self.recorded = recorded;
                    self.queues = queues;
                    self.transfer_rules = rules;
                }
                let _ = reply.send(r);
            }
        }
    }

    /// Put a call (known to the edge) in a queue, and say so in its CDR.
    pub(super) fn enqueue(&mut self, now: Instant, call: CallId, req: QueueRequest) {
        self.emit(
            call,
            EventKind::Queued {
                queue: req.queue.clone(),
                priority: req.priority,
            },
        );
        self.router.handle(
            now,
            Input::Enqueue {
                call,
                queue: req.queue,
                priority: req.priority,
                boost_s: req.boost_s,
                skills: req.skills,
            },
        );
    }

    fn agent_action(
        &mut self,
        now: Instant,
        agent: String,
        action: AgentAction,
    ) -> Result<(), AgentActionError> {
        if self.router.agent(&agent).is_none() {
            return Err(AgentActionError::UnknownAgent(agent));
        }
        let input = match action {
            AgentAction::Login => Input::Login { agent },
            AgentAction::Logout => Input::Logout { agent },
            AgentAction::Pause { reason } => Input::Pause { agent, reason },
            AgentAction::Unpause => Input::Unpause { agent },
            AgentAction::Ready => Input::Ready { agent },
            AgentAction::Disposition { code } => {
                let Some(call) = self.last_call.get(&agent).map(|l| l.call) else {
                    return Err(AgentActionError::NoCallToQualify(agent));
                };
                Input::Disposition { agent, call, code }
            }
        };
        self.router.handle(now, input);
        // An invalid action comes back as an error output, first in line.
        let mut first_error = None;
        let mut rest = Vec::new();
        while let Some(o) = self.router.poll() {
            match o {
                Output::Error { error } if first_error.is_none() => {
                    first_error = Some(error.to_string())
                }
                other => rest.push(other),
            }
        }
        for o in rest {
            self.output(o);
        }
        match first_error {
            Some(e) => Err(AgentActionError::Refused(e)),
            None => Ok(()),
        }
    }

    fn leg_event(&mut self, now: Instant, offer: OfferId, ev: LegEvent) {
        let Some(o) = self.offers.get(&offer) else {
            return; // a leg we already gave up on
        };
        let (call, agent) = (o.call, o.agent.clone());
        match ev {
            LegEvent::Ringing => {}
            LegEvent::Answered { media, .. } => {
                // The caller is connected only once the router agrees (the
                // offer may have timed out at this very instant).
                if let Some(o) = self.offers.get_mut(&offer) {
                    o.media = Some(media);
                }
                self.router.handle(now, Input::OfferAnswered { offer });
            }
            LegEvent::Failed { why, code } => {
                self.offers.remove(&offer);
                let (failure, reason) = match why {
                    LegFailure::Declined => (OfferFailure::Declined, "declined"),
                    LegFailure::NoAnswer => (OfferFailure::NoAnswer, "no_answer"),
                    LegFailure::Unreachable => (OfferFailure::Unreachable, "unreachable"),
                };
                tracing::info!(agent = %agent, code, reason, "agent did not take the call");
                self.emit(
                    call,
                    EventKind::AgentMissed {
                        agent,
                        reason: reason.into(),
                    },
                );
                self.router.handle(
                    now,
                    Input::OfferFailed {
                        offer,
                        reason: failure,
                    },
                );
            }
            LegEvent::TransferAsked { target } => self.transfer(now, offer, target),
            LegEvent::Hold { on } => {
                tracing::info!(agent = %agent, on, "agent's phone hold");
                self.emit(call, EventKind::Hold { on });
            }
            LegEvent::Ended { by_agent, .. } => {
                self.offers.remove(&offer);
                self.conversation_over(&agent);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.connected = None;
                    c.port.unbridge();
                }
                let by = if by_agent {
                    Party::Agent
                } else {
                    Party::System
                };
                self.emit(call, EventKind::AgentEnded { by });
                self.notify(call, Notice::AgentEnded { by_agent });
                self.router.handle(now, Input::CallEnded { call });
            }
        }
    }

    fn drain(&mut self) {
        let batch: Vec<Output> = std::iter::from_fn(|| self.router.poll()).collect();
        for (i, o) in batch.iter().enumerate() {
            // A ring timeout or unregistration shows as CancelOffer then
            // Requeued for the same call: the CDR takes the reason.
            if let Output::CancelOffer { call, .. } = o {
                let why = batch[i + 1..].iter().find_map(|n| match n {
                    Output::Requeued {
                        call: c, reason, ..
                    } if c == call => Some(*reason),
                    _ => None,
                });
                self.cancel_offer(o.clone(), why);
                continue;
            }
            self.output(o.clone());
        }
    }

    fn cancel_offer(&mut self, o: Output, why: Option<RequeueReason>) {
        let Output::CancelOffer { offer, call, agent } = o else {
            return;
        };
        let Some(state) = self.offers.remove(&offer) else {
            return;
        };
        if let Some(leg) = state.leg {
            leg.stop();
        }
        let reason = match why {
            Some(RequeueReason::NoAnswer) => "no_answer",
            Some(RequeueReason::Declined) => "declined",
            Some(RequeueReason::Unreachable | RequeueReason::Unregistered) => "unreachable",
            None => "cancelled",
        };
        if why == Some(RequeueReason::NoAnswer) {
            tracing::info!(agent = %agent, "agent did not answer in time (RONA): paused, call back at its place");
        }
        self.emit(
            call,
            EventKind::AgentMissed {
                agent,
                reason: reason.into(),
            },
        );
    }

    fn output(&mut self, o: Output) {
        let now = Instant::now();
        match o {
            Output::Offer {
                offer,
                call,
                agent,
                queue,
                ..
            } => self.offer(now, offer, call, agent, queue),
            o @ Output::CancelOffer { .. } => self.cancel_offer(o, None),
            Output::Connected {
                call,
                agent,
                offer,
                queue,
                ..
            } => {
                let answered = self
                    .offers
                    .get(&offer)
                    .and_then(|o| Some((o.leg.clone()?, o.media?)));
                let Some((leg, media)) = answered else {
                    tracing::error!(agent = %agent, "router connected an offer the edge does not hold");
                    return;
                };
                if let Some(c) = self.calls.get(&call) {
                    let record_id = c.info.record_id.clone();
                    let last = LastCall {
                        call,
                        record_id,
                        wrapping: false,
                    };
                    self.last_call.insert(agent.clone(), last);
                }
                if let Some(c) = self.calls.get_mut(&call) {
                    tracing::info!(record_id = %c.info.record_id, agent = %agent, queue = %queue,
                        "caller connected to the agent");
                    // Bridged here, where it is decided: the flow only
                    // hears that its caller is in conversation. It hears
                    // so first, or the music the bridge stops would start
                    // again before the word comes.
                    let _ = c.notices.send(Notice::Connected {
                        agent: agent.clone(),
                    });
                    c.port.bridge(media);
                    c.connected = Some((offer, leg));
                }
                if self.recorded.contains(&queue) {
                    self.record(call, &queue, media);
                }
                self.emit(call, EventKind::AgentAnswered { agent });
            }
            Output::LongWait { call, .. } => self.notify(call, Notice::LongWait),
            Output::Overflowed { call, from, to } => {
                tracing::info!(from = %from, to = %to, "call overflowed");
                self.emit(
                    call,
                    EventKind::Overflowed {
                        from,
                        to: to.clone(),
                    },
                );
                self.notify(call, Notice::Overflowed { to });
            }
            Output::Left {
                call,
                reason,
                destination,
                ..
            } => {
                let reason = match reason {
                    LeaveReason::MaxWait => "max_wait",
                    LeaveReason::UnknownQueue => "unknown_queue",
                }
                .to_string();
                self.emit(
                    call,
                    EventKind::QueueLeft {
                        reason: reason.clone(),
                    },
                );
                self.notify(
                    call,
                    Notice::Left {
                        reason,
                        destination,
                    },
                );
            }
            Output::AgentState {
                agent,
                state,
                reason,
                registered,
            } => {
                tracing::info!(agent = %agent, state = ?state, reason = reason.as_deref().unwrap_or(""), registered, "agent state");
                self.cdr.agent_state(cdr::agents::AgentStateRecord {
                    at: chrono::Utc::now(),
                    agent: agent.clone(),
                    state: state.as_str().to_string(),
                    reason: reason.clone(),
                    registered,
                });
                if state != AgentStateKind::WrapUp {
                    self.wrap_up_over(&agent);
                }
            }
            Output::Disposition {
                agent,
                queue,
                code,
                call,
            } => {
                tracing::info!(agent = %agent, queue = %queue, code = %code, "call qualified");
                if let Some(l) = self.last_call.get(&agent).filter(|l| l.call == call) {
                    self.cdr.emit(CallEvent::now(
                        &l.record_id,
                        EventKind::Disposition { agent, code },
                    ));
                }
            }
            Output::Error { error } => tracing::warn!(error = %error, "ACD refused an input"),
            Output::Widened { queue, .. } => {
                tracing::info!(queue = %queue, "call's skill requirement widened")
            }
            Output::Requeued { queue, reason, .. } => {
                tracing::info!(queue = %queue, ?reason, "call back at its place in the queue")
            }
        }
    }

    /// Record the conversation (caller left, agent right) until either leg
    /// closes.
    fn record(&mut self, call: CallId, queue: &str, agent_media: MediaSessionRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let path = media::record::recording_path(&self.recordings, queue, &c.info.record_id);
        let relative = path
            .strip_prefix(&self.recordings)
            .unwrap_or(&path)
            .to_string_lossy()
            .to_string();
        self.engine.record(&c.info.media, &agent_media, path);
        self.emit(call, EventKind::Recorded { file: relative });
    }

    /// The agent's conversation ended: its wrap-up starts now, and
    /// supervisors listening to it are hung up.
    pub(super) fn conversation_over(&mut self, agent: &str) {
        let Some(l) = self.last_call.get_mut(agent) else {
            return;
        };
        l.wrapping = true;
        let call = l.call;
        self.stop_monitors(call);
    }

    /// The agent left wrap-up (or never entered it): the call's record can
    /// be completed.
    fn wrap_up_over(&mut self, agent: &str) {
        if let Some(l) = self.last_call.get_mut(agent).filter(|l| l.wrapping) {
            l.wrapping = false;
            let agent = agent.to_string();
            self.cdr.emit(CallEvent::now(
                &l.record_id,
                EventKind::WrapUpEnded { agent },
            ));
        }
    }

    /// Ring an agent's phone for a call.
    fn offer(&mut self, now: Instant, offer: OfferId, call: CallId, agent: String, queue: String) {
        let Some(c) = self.calls.get(&call) else {
            self.router.handle(
                now,
                Input::OfferFailed {
                    offer,
                    reason: OfferFailure::Unreachable,
                },
            );
            return;
        };
        let Some(target) = self.registrar.lookup(&agent) else {
            tracing::warn!(agent = %agent, "offered agent has no registered phone");
            self.router.handle(now, Input::Unregistered { agent });
            return;
        };
        self.emit(
            call,
            EventKind::AgentOffered {
                agent: agent.clone(),
            },
        );
        tracing::info!(record_id = %c.info.record_id, agent = %agent, queue = %queue, contact = %target.contact, "offering call to agent");
        let req = DialRequest {
            agent: agent.clone(),
            target,
            caller: c.info.caller.clone().filter(|_| !c.info.withheld),
            record_id: c.info.record_id.clone(),
            beside: c.info.media,
        };
        let tx = self.tx.clone();
        let report = Box::new(move |ev: LegEvent| {
            let _ = tx.send(EdgeIn::Leg { offer, ev });
        });
        match outbound::dial(&self.ctx, &self.engine, req, report) {
            Ok(leg) => {
                self.offers.insert(
                    offer,
                    OfferState {
                        call,
                        agent,
                        leg: Some(leg),
                        media: None,
                    },
                );
            }
            Err(e) => {
                tracing::error!(error = %e, agent = %agent, "cannot place the agent leg");
                self.emit(
                    call,
                    EventKind::AgentMissed {
                        agent,
                        reason: "unreachable".into(),
                    },
                );
                self.router.handle(
                    now,
                    Input::OfferFailed {
                        offer,
                        reason: OfferFailure::Unreachable,
                    },
                );
            }
        }
    }
}
