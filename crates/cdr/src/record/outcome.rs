//! How a call ended: its outcome (answered, abandoned in queue or IVR,
//! self-service, dissuaded, transferred, failed...), decided once at its end.

use super::*;

impl CallRecord {
    /// The call ended: close the record and decide its outcome; true when
    /// the record is complete (no wrap-up still running).
    pub(super) fn ended(&mut self, ev: &CallEvent, by: Party, reason: &str) -> bool {
        let agent_hung_up = self.ended_by == Some(Party::Agent);
        self.ended_at = Some(ev.at);
        self.ended_by = Some(by);
        self.end_reason = Some(reason.to_string());
        if let Some(a) = self.answered_at {
            self.duration_ms = (ev.at - a).num_milliseconds().max(0) as u64;
        }
        if self.agent_answered_at.is_some() && self.agent_ended_at.is_none() {
            // Hung up while talking: the conversation ends with the call.
            self.apply(&CallEvent {
                record_id: ev.record_id.clone(),
                at: ev.at,
                kind: EventKind::AgentEnded { by },
            });
        }
        if agent_hung_up {
            self.ended_by = Some(Party::Agent);
        }
        let waiting = self.queued_at.is_some()
            && self.agent_answered_at.is_none()
            && self.queue_left.is_none();
        if waiting && by == Party::Caller {
            self.wait_ms = self.since_queued(ev.at);
        }
        self.outcome = match (self.answered_at, by, reason) {
            _ if self.agent_answered_at.is_some() && !matches!(reason, "shutdown" | "crash") => {
                Outcome::Answered
            }
            (Some(_), Party::Caller, _) if waiting => Outcome::AbandonedQueue,
            (None, Party::Caller, _) => Outcome::Cancelled,
            (_, _, "shutdown" | "crash") if by == Party::System => Outcome::Interrupted,
            (_, _, "ack_timeout" | "error" | "rtp_timeout" | "session_expired" | "dialog_gone") => {
                Outcome::Failed
            }
            (None, Party::System, _) => Outcome::Failed,
            (Some(_), Party::Caller, _) => Outcome::AbandonedIvr,
            (Some(_), Party::System | Party::Agent, _) => Outcome::SelfService,
            (None, Party::Agent, _) => Outcome::Failed,
        };
        if self.outcome == Outcome::Cancelled {
            self.sip_code = Some(487);
        }
        let transferred = self
            .transfer_out
            .as_ref()
            .is_some_and(|t| t.answered_at.is_some());
        if transferred
            && self.agent_answered_at.is_none()
            && matches!(
                self.outcome,
                Outcome::SelfService | Outcome::AbandonedIvr | Outcome::Dissuaded
            )
        {
            self.outcome = Outcome::Transferred;
        }
        if self.outcome == Outcome::SelfService {
            self.dissuasion = self.dissuasion_reason();
            if self.dissuasion.is_some() {
                self.outcome = Outcome::Dissuaded;
            }
        }
        // An answered call is complete once the agent's wrap-up is
        // over too (the journal writes it anyway after a while).
        !self.awaits_wrap_up()
    }

    /// The conversation is over but the agent's wrap-up is not (and the
    /// process is not stopping).
    pub fn awaits_wrap_up(&self) -> bool {
        self.conversations
            .iter()
            .any(|c| c.wrapup_ended_at.is_none())
            && !matches!(self.outcome, Outcome::Interrupted)
    }

    /// Last touches from the settings, just before the record is written.
    pub fn finish(&mut self, opts: &FoldOptions) {
        self.test_number = self
            .caller
            .as_ref()
            .is_some_and(|c| opts.test_numbers.contains(c));
        self.short_abandon = self.outcome == Outcome::AbandonedQueue
            && self.wait_ms.is_some_and(|w| w < opts.short_abandon_ms);
    }

    pub(super) fn dissuasion_reason(&self) -> Option<String> {
        if let Some(d) = self.flow_disposition.as_deref().and_then(dissuasion_of) {
            return Some(d.to_string());
        }
        let file0_hangup = self.file0.as_ref().is_some_and(|f| f.mode == "hangup");
        file0_hangup.then(|| "file0".to_string())
    }
}
