//! A dialog machine wired to the SIP endpoint: its responses and requests
//! go out, the replies to its requests come back on one channel, and its
//! events go to the leg.

use std::time::Instant;

use sip::endpoint::Replies;
use sip::rsip::SipMessage;
use sip::{DialogEvent, DialogMachine, DialogOutput, Endpoint, Peer, TxEvent};
use tokio::sync::mpsc;

/// One leg's dialog and where it talks to.
pub(crate) struct DialogPort {
    pub machine: DialogMachine,
    endpoint: Endpoint,
    /// The far end: where our requests and ACKs go.
    peer: Peer,
    /// Made at the first request we send: most inbound calls send only
    /// their BYE, and a channel costs memory for the call's whole life.
    replies: Option<(Replies, mpsc::UnboundedReceiver<Box<TxEvent>>)>,
}

impl DialogPort {
    pub fn new(machine: DialogMachine, endpoint: Endpoint, peer: Peer) -> Self {
        DialogPort {
            machine,
            endpoint,
            peer,
            replies: None,
        }
    }

    /// A transaction event for this dialog.
    pub fn handle(&mut self, ev: TxEvent) {
        self.machine.handle(Instant::now(), ev);
    }

    pub fn handle_timeout(&mut self) {
        self.machine.handle_timeout(Instant::now());
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    pub fn is_done(&self) -> bool {
        self.machine.is_done()
    }

    /// Carry out what the machine has to send; the next event for the leg.
    pub fn next_event(&mut self) -> Option<DialogEvent> {
        while let Some(out) = self.machine.poll() {
            match out {
                DialogOutput::Respond { id, response } => self.endpoint.respond(id, response),
                DialogOutput::Send(request) => {
                    let replies = &mut self.replies;
                    let (tx, _) = replies.get_or_insert_with(mpsc::unbounded_channel);
                    self.endpoint.request(request, self.peer, tx.clone());
                }
                DialogOutput::Ack(ack) => self
                    .endpoint
                    .send_stateless(self.peer, &SipMessage::Request(ack)),
                DialogOutput::Event(ev) => return Some(ev),
            }
        }
        None
    }

    /// The next reply to one of our requests (never, before the first).
    pub async fn reply(&mut self) -> TxEvent {
        match self.replies.as_mut() {
            Some((_, rx)) => match rx.recv().await {
                Some(ev) => *ev,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }
}
