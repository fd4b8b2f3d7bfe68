//! Silent monitoring: a supervisor's registered phone is called and hears a
//! live conversation, both sides mixed; what it sends reaches nobody. It is
//! hung up when the conversation ends (hang-up, transfer).

use ::acd::CallId;
use cdr::EventKind;

use super::edge::Edge;
use super::messages::EdgeIn;
use super::MonitorError;
use crate::leg::outbound::{self, DialRequest, LegControl, LegEvent};

/// Which conversation a supervisor wants to hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorTarget {
    /// The call with this record id.
    Call(String),
    /// The call this agent is talking on.
    Agent(String),
}

/// A supervisor's leg listening to a call.
pub(super) struct MonitorState {
    call: CallId,
    leg: LegControl,
    phone: String,
}

impl Edge {
    /// Ring `phone` (a registered account) to listen to a conversation.
    pub(super) fn monitor(
        &mut self,
        target: &MonitorTarget,
        phone: &str,
        by: &str,
    ) -> Result<(), MonitorError> {
        let found = self.calls.iter().find_map(|(id, c)| {
            let (offer, _) = c.connected.as_ref()?;
            let o = self.offers.get(offer)?;
            o.media?;
            let wanted = match target {
                MonitorTarget::Call(record_id) => &c.info.record_id == record_id,
                MonitorTarget::Agent(agent) => &o.agent == agent,
            };
            wanted.then(|| (*id, c.info.clone()))
        });
        let Some((call, info)) = found else {
            return Err(match target {
                MonitorTarget::Call(r) => MonitorError::CallNotTalking(r.clone()),
                MonitorTarget::Agent(a) => MonitorError::AgentNotTalking(a.clone()),
            });
        };
        let record_id = info.record_id.as_str();
        let Some(target) = self.registrar.lookup(phone) else {
            return Err(MonitorError::PhoneNotRegistered(phone.to_string()));
        };
        let id = self.next_monitor;
        self.next_monitor += 1;
        let tx = self.tx.clone();
        let report = Box::new(move |ev: LegEvent| {
            let _ = tx.send(EdgeIn::MonitorLeg { id, ev });
        });
        let req = DialRequest {
            agent: phone.to_string(),
            target,
            caller: Some("monitor".into()),
            record_id: info.record_id.clone(),
            beside: info.media,
        };
        let leg = outbound::dial(&self.ctx, &self.engine, req, report).map_err(|source| {
            MonitorError::Dial {
                phone: phone.to_string(),
                source,
            }
        })?;
        tracing::info!(record_id = %record_id, phone = %phone, by = %by, "supervisor listening in: ringing the phone");
        self.emit(
            call,
            EventKind::Monitored {
                by: by.to_string(),
                phone: phone.to_string(),
            },
        );
        self.monitors.insert(
            id,
            MonitorState {
                call,
                leg,
                phone: phone.to_string(),
            },
        );
        Ok(())
    }

    pub(super) fn monitor_leg(&mut self, id: u64, ev: LegEvent) {
        let Some(m) = self.monitors.get(&id) else {
            return;
        };
        match ev {
            LegEvent::Answered { media, .. } => {
                let sides = self.calls.get(&m.call).and_then(|c| {
                    let (offer, _) = c.connected.as_ref()?;
                    Some((c.info.media, self.offers.get(offer)?.media?))
                });
                match sides {
                    Some((caller, agent)) => {
                        tracing::info!(phone = %m.phone, "supervisor listening");
                        self.engine.listen(&caller, &agent, &media);
                    }
                    None => {
                        // The conversation ended while the phone rang.
                        if let Some(m) = self.monitors.remove(&id) {
                            m.leg.stop();
                        }
                    }
                }
            }
            LegEvent::TransferAsked { .. } => m.leg.transfer_done(403),
            LegEvent::Failed { .. } | LegEvent::Ended { .. } => {
                tracing::info!(phone = %m.phone, "supervisor's leg ended");
                self.monitors.remove(&id);
            }
            LegEvent::Ringing | LegEvent::Hold { .. } => {}
        }
    }

    /// The conversation of `call` is over: hang up whoever listened.
    pub(super) fn stop_monitors(&mut self, call: CallId) {
        self.monitors.retain(|_, m| {
            if m.call == call {
                m.leg.stop();
                false
            } else {
                true
            }
        });
    }
}
