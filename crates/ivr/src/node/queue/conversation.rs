//! A caller in conversation with an agent. The ACD bridged the two and the
//! `queue` node that queued the call has ended; the flow follows the
//! conversation from here to its end and says where the call goes next:
//! - the agent's side ended: the node's `after` (a survey), else the end;
//! - the agent transferred to a queue: waiting again, with the node's
//!   music and announcements, until the next agent answers;
//! - the agent transferred to a number: a transfer out through the trunk
//!   the queue allows, then `after` or `fallback` as a `transfer` node.

use std::fmt;

use call::acd::{Notice, Waiting};
use call::HungUp;

use super::Queue;
use crate::node::transfer::Transfer;
use crate::run::{Ctx, Step};

/// The conversation's state: the ACD's handle on the call, and the options
/// of the queue node that connected it.
pub struct Conversation {
    node: Queue,
    waiting: Waiting,
}

impl fmt::Debug for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversation")
            .field("queue", &self.node.queue)
            .finish_non_exhaustive()
    }
}

impl Conversation {
    pub(super) fn new(node: Queue, waiting: Waiting) -> Conversation {
        Conversation { node, waiting }
    }

    /// Until the conversation ends, the caller hangs up or an agent's
    /// transfer connects the caller again (a new conversation).
    pub async fn follow(self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        let Conversation { node, mut waiting } = self;
        loop {
            tokio::select! {
                n = waiting.next() => match n {
                    Some(Notice::AgentEnded { .. }) | None => break,
                    Some(Notice::TransferredOut { number, trunk }) => {
                        // The caller left the ACD: its handle goes now.
                        drop(waiting);
                        let out = Transfer {
                            to: number,
                            trunk: Some(trunk),
                            ring_timeout_s: 30,
                            ringback: None,
                            fallback: node.fallback.clone(),
                            after: node.after.clone(),
                        };
                        return out.run(cx).await;
                    }
                    Some(Notice::Transferred { queue }) => {
                        tracing::info!(from = %node.queue, to = %queue, "agent transferred the call");
                        return node.wait_in(cx, waiting).await;
                    }
                    Some(_) => {}
                },
                _ = cx.call.hung_up() => {
                    waiting.caller_hung_up();
                    return Err(HungUp);
                }
            }
        }
        Ok(match &node.after {
            Some(a) => Step::Next(a.clone()),
            None => Step::Hangup("agent_ended".into()),
        })
    }
}
