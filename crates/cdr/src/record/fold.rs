//! Folding a call's events into its record, one event at a time.

use chrono::{DateTime, Utc};

use super::*;

impl CallRecord {
    /// Start a record from its `Arrived` event.
    pub fn open(ev: &CallEvent) -> Option<CallRecord> {
        let EventKind::Arrived {
            sip_call_id,
            trunk,
            did,
            flow,
            caller,
            caller_withheld,
            source,
            transport,
        } = &ev.kind
        else {
            return None;
        };
        Some(CallRecord {
            record_id: ev.record_id.clone(),
            sip_call_id: sip_call_id.clone(),
            trunk: trunk.clone(),
            did: did.clone(),
            flow: flow.clone(),
            caller: if *caller_withheld {
                None
            } else {
                caller.clone()
            },
            caller_class: classify_caller(caller.as_deref(), *caller_withheld),
            source: source.clone(),
            transport: transport.clone(),
            arrived_at: ev.at,
            answered_at: None,
            confirmed_at: None,
            ended_at: None,
            outcome: Outcome::Open,
            sip_code: None,
            reject_reason: None,
            ended_by: None,
            end_reason: None,
            codec: None,
            duration_ms: 0,
            digits: Vec::new(),
            prompts: Vec::new(),
            file0: None,
            flow_version: None,
            steps: Vec::new(),
            queue: None,
            priority: None,
            queued_at: None,
            overflowed_from: Vec::new(),
            offers: Vec::new(),
            agent: None,
            agent_answered_at: None,
            agent_ended_at: None,
            wait_ms: None,
            talk_ms: None,
            queue_left: None,
            short_abandon: false,
            test_number: false,
            flow_disposition: None,
            dissuasion: None,
            disposition: None,
            wrapup_ended_at: None,
            wrapup_ms: None,
            recording: None,
            conversations: Vec::new(),
            transfers: Vec::new(),
            transfer_out: None,
            hold_ms: 0,
            holds: 0,
            held_since: None,
            monitored: Vec::new(),
        })
    }

    /// Fold one more event in. Returns true when the record is complete.
    pub fn apply(&mut self, ev: &CallEvent) -> bool {
        match &ev.kind {
            EventKind::Arrived { .. } => {}
            EventKind::Rejected { sip_code, reason } => {
                self.sip_code = Some(*sip_code);
                self.reject_reason = Some(reason.clone());
                self.outcome = Outcome::Rejected;
                self.ended_at = Some(ev.at);
                self.ended_by = Some(Party::System);
                return true;
            }
            EventKind::Answered { codec } => {
                self.answered_at = Some(ev.at);
                self.sip_code = Some(200);
                self.codec = Some(codec.clone());
            }
            EventKind::Confirmed => self.confirmed_at = Some(ev.at),
            EventKind::Digit { digit, source } => self.digits.push(DigitRecord {
                digit: *digit,
                source: *source,
                at: ev.at,
            }),
            EventKind::PromptPlayed {
                name,
                duration_ms,
                heard_ms,
                end,
            } => self.prompts.push(PromptRecord {
                name: name.clone(),
                duration_ms: *duration_ms,
                heard_ms: *heard_ms,
                end: end.clone(),
                at: ev.at,
            }),
            EventKind::FlowStarted { version } => self.flow_version = Some(*version),
            EventKind::Step {
                node,
                node_kind,
                input,
            } => self.steps.push(StepRecord {
                node: node.clone(),
                kind: node_kind.clone(),
                input: input.clone(),
                at: ev.at,
            }),
            EventKind::File0 {
                activation_id,
                requested_at,
                mode,
                prompt,
            } => {
                self.file0 = Some(File0Record {
                    activation_id: activation_id.clone(),
                    requested_at: *requested_at,
                    redirected_at: ev.at,
                    delay_ms: (ev.at - *requested_at).num_milliseconds(),
                    mode: mode.clone(),
                    prompt: prompt.clone(),
                })
            }
            EventKind::Queued { queue, priority } => {
                self.queue = Some(queue.clone());
                self.priority = Some(*priority);
                self.queued_at.get_or_insert(ev.at);
                self.queue_left = None;
            }
            EventKind::Overflowed { from, to } => {
                self.overflowed_from.push(from.clone());
                self.queue = Some(to.clone());
            }
            EventKind::AgentOffered { agent } => self.offers.push(OfferRecord {
                agent: agent.clone(),
                at: ev.at,
                result: None,
            }),
            EventKind::AgentMissed { agent, reason } => self.offer_result(agent, reason),
            EventKind::AgentAnswered { agent } => {
                self.offer_result(agent, "answered");
                self.agent = Some(agent.clone());
                // Wait and pickup count from the first answer; a transferred
                // call's later conversations are in `conversations`.
                if self.agent_answered_at.is_none() {
                    self.agent_answered_at = Some(ev.at);
                    self.wait_ms = self.since_queued(ev.at);
                }
                self.agent_ended_at = None;
                self.conversations.push(ConversationRecord {
                    agent: agent.clone(),
                    queue: self.queue.clone(),
                    answered_at: ev.at,
                    ended_at: None,
                    wrapup_ended_at: None,
                });
            }
            EventKind::QueueLeft { reason } => {
                self.queue_left = Some(reason.clone());
                self.wait_ms = self.since_queued(ev.at);
            }
            EventKind::AgentEnded { by } => {
                self.end_hold(ev.at);
                self.agent_ended_at = Some(ev.at);
                self.ended_by = Some(*by);
                if let Some(c) = self.conversations.last_mut() {
                    c.ended_at.get_or_insert(ev.at);
                }
                if self.agent_answered_at.is_some() {
                    self.talk_ms = Some(self.conversations.iter().map(|c| c.talk_ms()).sum());
                }
            }
            EventKind::FlowEnded { disposition } => {
                self.flow_disposition = Some(disposition.clone())
            }
            EventKind::Disposition { code, .. } => self.disposition = Some(code.clone()),
            EventKind::Recorded { file } => self.recording = Some(file.clone()),
            EventKind::Hold { on: true } => {
                if self.held_since.is_none() {
                    self.held_since = Some(ev.at);
                    self.holds += 1;
                }
            }
            EventKind::Hold { on: false } => self.end_hold(ev.at),
            EventKind::Monitored { by, phone } => self.monitored.push(MonitorRecord {
                by: by.clone(),
                phone: phone.clone(),
                at: ev.at,
            }),
            EventKind::TransferStarted { to, trunk } => {
                self.transfer_out = Some(TransferOutRecord {
                    to: to.clone(),
                    trunk: trunk.clone(),
                    at: ev.at,
                    answered_at: None,
                    ended_at: None,
                    result: None,
                    sip_code: None,
                    ended_by: None,
                })
            }
            EventKind::TransferAnswered => {
                if let Some(t) = self.transfer_out.as_mut() {
                    t.answered_at = Some(ev.at);
                    t.result = Some("answered".into());
                }
            }
            EventKind::TransferFailed { reason, sip_code } => {
                if let Some(t) = self.transfer_out.as_mut() {
                    t.result = Some(reason.clone());
                    t.sip_code = *sip_code;
                }
            }
            EventKind::TransferEnded { by } => {
                if let Some(t) = self.transfer_out.as_mut() {
                    t.ended_at = Some(ev.at);
                    t.ended_by = Some(*by);
                }
            }
            EventKind::WrapUpEnded { agent } => {
                if let Some(c) = self
                    .conversations
                    .iter_mut()
                    .rev()
                    .find(|c| &c.agent == agent && c.wrapup_ended_at.is_none())
                {
                    c.wrapup_ended_at = Some(ev.at);
                }
                self.wrapup_ended_at = Some(ev.at);
                self.wrapup_ms = Some(self.conversations.iter().map(|c| c.wrapup_ms()).sum());
                return self.ended_at.is_some() && !self.awaits_wrap_up();
            }
            EventKind::Transferred { agent, to } => self.transfers.push(TransferRecord {
                agent: agent.clone(),
                to: to.clone(),
                at: ev.at,
            }),
            EventKind::Ended { by, reason } => return self.ended(ev, *by, reason),
        }
        false
    }

    fn end_hold(&mut self, at: DateTime<Utc>) {
        if let Some(since) = self.held_since.take() {
            self.hold_ms += (at - since).num_milliseconds().max(0) as u64;
        }
    }

    pub(super) fn since_queued(&self, at: DateTime<Utc>) -> Option<u64> {
        self.queued_at
            .map(|q| (at - q).num_milliseconds().max(0) as u64)
    }

    fn offer_result(&mut self, agent: &str, result: &str) {
        if let Some(o) = self
            .offers
            .iter_mut()
            .rev()
            .find(|o| o.agent == agent && o.result.is_none())
        {
            o.result = Some(result.to_string());
        }
    }
}
