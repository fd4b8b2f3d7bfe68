//! Agents' blind transfers (REFER from the agent's phone), controlled: to a
//! queue of the configuration, or to a number the call's queue allows.

use std::collections::HashMap;
use std::time::Instant;

use ::acd::{CallId, Input, OfferId};
use cdr::{EventKind, Party};

use super::edge::Edge;
use super::{Notice, QueueRequest};
use crate::leg::outbound::LegControl;

pub(super) fn transfer_rules(
    queues: &[acd::QueueConfig],
) -> HashMap<String, (String, Vec<String>)> {
    queues
        .iter()
        .filter_map(|q| {
            let trunk = q.transfer_trunk.clone()?;
            Some((q.name.clone(), (trunk, q.transfer_prefixes.clone())))
        })
        .collect()
}

impl Edge {
    /// The agent's phone asked for a blind transfer. Controlled: to a queue
    /// of the configuration (the caller stays with us, queued there with its
    /// original priority and skills), or to a number the call's queue allows
    /// (the caller leaves the ACD); the agent goes to wrap-up either way.
    pub(super) fn transfer(&mut self, now: Instant, offer: OfferId, target: String) {
        let Some(o) = self.offers.get(&offer) else {
            return;
        };
        let (call, agent) = (o.call, o.agent.clone());
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(leg) = c
            .connected
            .as_ref()
            .filter(|(connected, _)| *connected == offer)
            .map(|(_, leg)| leg.clone())
        else {
            return;
        };
        if self.queues.contains(&target) {
            tracing::info!(agent = %agent, queue = %target, "agent transferred the call to a queue");
            self.hand_over(offer, call, agent, &leg, &target);
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            c.connected = None;
            c.port.unbridge();
            let req = QueueRequest {
                queue: target.clone(),
                ..c.req.clone()
            };
            let _ = c.notices.send(Notice::Transferred { queue: target });
            self.router.handle(now, Input::CallEnded { call });
            self.enqueue(now, call, req);
            return;
        }
        let queue = c.req.queue.clone();
        let Some(trunk) = self.number_trunk(&queue, &target) else {
            tracing::warn!(agent = %agent, target = %target, queue = %queue,
                "transfer refused: neither a queue nor a number the queue allows");
            leg.transfer_done(404);
            return;
        };
        tracing::info!(agent = %agent, number = %target, trunk = %trunk, "agent transferred the call to a number");
        self.hand_over(offer, call, agent, &leg, &target);
        if let Some(c) = self.calls.remove(&call) {
            c.port.unbridge();
            let _ = c.notices.send(Notice::TransferredOut {
                number: target,
                trunk,
            });
        }
        self.router.handle(now, Input::CallEnded { call });
    }

    /// The trunk a call of `queue` may be transferred to `number` through
    /// (its `transfer_trunk`, when `number` starts with one of its
    /// `transfer_prefixes`).
    fn number_trunk(&self, queue: &str, number: &str) -> Option<String> {
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (trunk, prefixes) = self.transfer_rules.get(queue)?;
        prefixes
            .iter()
            .any(|p| number.starts_with(p.as_str()))
            .then(|| trunk.clone())
    }

    /// An accepted transfer: NOTIFY 200 and the agent's leg hung up, its
    /// wrap-up started, the CDR told.
    fn hand_over(
        &mut self,
        offer: OfferId,
        call: CallId,
        agent: String,
        leg: &LegControl,
        to: &str,
    ) {
        leg.transfer_done(200);
        self.offers.remove(&offer);
        self.conversation_over(&agent);
        self.emit(call, EventKind::AgentEnded { by: Party::Agent });
        self.emit(
            call,
            EventKind::Transferred {
                agent,
                to: to.to_string(),
            },
        );
    }
}
