//! Sans-IO SIP transactions (RFC 3261 section 17, with RFC 6026's Accepted
//! state): the four state machines, their timers A-K/L/M, retransmission and
//! absorption, CANCEL matching. Fed with `(now, input)`, drained with
//! [`Transactions::poll_output`]; the next wake-up is [`Transactions::poll_timeout`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rsip::{Header, Method, Request, Response, SipMessage};

use crate::message::{self, Essentials};

/// Transport a message came in on / goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP (`sips:` or `transport=tls`).
    Tls,
    /// WebSocket (RFC 7118, `transport=ws`): browsers' phones.
    Ws,
    /// WebSocket over TLS (`transport=wss`).
    Wss,
}

impl Transport {
    /// Reliable transports need no retransmissions (RFC 3261 17.1.1.2).
    pub fn reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }
    /// Its name as written in a Via (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Its `transport=` URI parameter (none for UDP, the default).
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
            Transport::Ws => ";transport=ws",
            Transport::Wss => ";transport=wss",
        }
    }
}

/// A remote end: address plus, for streams, the connection it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport to or from the peer.
    pub transport: Transport,
    /// The peer's IP address and port.
    pub addr: SocketAddr,
    /// Stream connection id for TCP; responses go back on it (RFC 3261 18.2.2).
    pub conn: Option<u64>,
}

/// RFC 3261 timer base values.
#[derive(Debug, Clone, Copy)]
pub struct TimerConfig {
    /// T1, the round-trip time estimate: base of the retransmission
    /// intervals and of the 64*T1 timeouts (default 500 ms).
    pub t1: Duration,
    /// T2, the longest retransmission interval of non-INVITE requests and
    /// INVITE responses (default 4 s).
    pub t2: Duration,
    /// T4, the longest a message stays in the network: how long completed
    /// transactions linger over UDP (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Handle on a server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub u64);
/// Handle on a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(pub u64);

/// What the transaction layer tells its user (the call layer).
#[derive(Debug)]
pub enum TxEvent {
    /// A new request (not ACK, not CANCEL) opened a server transaction.
    Request {
        /// The new server transaction; answer it with [`Transactions::respond`].
        id: ServerTxId,
        /// The request as received.
        request: Request,
        /// Its essential headers.
        ess: Essentials,
        /// Where it came from.
        from: Peer,
    },
    /// A CANCEL matched a pending INVITE; `200` to the CANCEL has been sent.
    /// The user should answer the INVITE with `487`.
    Cancelled {
        /// The pending INVITE's server transaction.
        invite: ServerTxId,
        /// The CANCEL's essential headers.
        ess: Essentials,
    },
    /// An ACK for a 2xx (its own transaction; `invite` when we matched it).
    Ack {
        /// The ACK as received.
        request: Request,
        /// Its essential headers.
        ess: Essentials,
        /// Where it came from.
        from: Peer,
        /// The INVITE server transaction whose 2xx it acknowledges; `None` when
        /// none awaits it (unknown, or already over).
        invite: Option<ServerTxId>,
    },
    /// A 2xx to an INVITE was never acknowledged within 64*T1.
    AckTimeout {
        /// The INVITE's server transaction, now terminated.
        id: ServerTxId,
        /// The INVITE's essential headers.
        ess: Essentials,
    },
    /// A response to one of our requests (provisional, final, or a 2xx
    /// retransmission while Accepted).
    Response {
        /// Our client transaction it answers.
        id: ClientTxId,
        /// The response as received.
        response: Response,
        /// Its essential headers.
        ess: Essentials,
    },
    /// Timer B or F: our request got no final response (`ess`: the
    /// request's, so a dialog knows which of its requests it was).
    Timeout {
        /// The client transaction that gave up, now terminated.
        id: ClientTxId,
        /// The request's essential headers.
        ess: Essentials,
    },
}

/// Something for the I/O edge to do.
// Events are most outputs; boxing them would add an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output {
    /// Send these bytes to this peer.
    Transmit {
        /// Where to send it (for a stream, on which connection).
        to: Peer,
        /// The encoded message.
        data: Bytes,
    },
    /// Tell the layer's user (the call layer).
    Event(TxEvent),
}

/// Errors from the user's calls into the layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    /// The transaction is unknown: never started, or already terminated.
    #[error("no such transaction (already terminated)")]
    Unknown,
    /// The server transaction has already sent its final response.
    #[error("a final response was already sent")]
    AlreadyFinal,
    /// The message cannot be used (a missing header, or an ACK given to
    /// [`Transactions::request`]): why.
    #[error("bad message: {0}")]
    Bad(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    branch: String,
    sent_by: String,
    method: &'static str,
}

/// rsip's `Method` is not `Hash`; key on its name.
fn method_name(m: Method) -> &'static str {
    match m {
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Info => "INFO",
        Method::Invite => "INVITE",
        Method::Message => "MESSAGE",
        Method::Notify => "NOTIFY",
        Method::Options => "OPTIONS",
        Method::PRack => "PRACK",
        Method::Publish => "PUBLISH",
        Method::Refer => "REFER",
        Method::Register => "REGISTER",
        Method::Subscribe => "SUBSCRIBE",
        Method::Update => "UPDATE",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SState {
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CState {
    Calling,
    Trying,
    Proceeding,
    Accepted,
    Completed,
}

/// Timers; each transaction uses a subset. Index into the deadline array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A (INVITE) / E (non-INVITE) client retransmit; G server final retransmit.
    Retransmit = 0,
    /// B / F client give-up; H server ACK wait; L / M Accepted end.
    Expire = 1,
    /// D / K client wait; I server Confirmed; J server Completed.
    Linger = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TxRef {
    Server(u64),
    Client(u64),
}

struct ServerTx {
    key: Key,
    invite: bool,
    state: SState,
    peer: Peer,
    last_response: Option<Bytes>,
    interval: Duration,
    deadlines: [Option<Instant>; 3],
    ess: Essentials,
}

struct ClientTx {
    key: Key,
    invite: bool,
    state: CState,
    peer: Peer,
    request: Bytes,
    /// Kept for building the ACK to a non-2xx final response.
    invite_req: Option<Request>,
    ack: Option<Bytes>,
    interval: Duration,
    deadlines: [Option<Instant>; 3],
    /// The request's essentials, for the timeout event.
    ess: Essentials,
}

/// All transactions of one SIP endpoint.
pub struct Transactions {
    cfg: TimerConfig,
    next_id: u64,
    server: HashMap<u64, ServerTx>,
    server_keys: HashMap<Key, u64>,
    /// (Call-ID, CSeq) -> INVITE server tx that sent a 2xx and awaits the ACK.
    accepted: HashMap<(String, u32), u64>,
    client: HashMap<u64, ClientTx>,
    client_keys: HashMap<Key, u64>,
    timers: BinaryHeap<Reverse<(Instant, TxRef, Timer)>>,
    out: VecDeque<Output>,
}

fn server_key(ess: &Essentials, method: Method) -> Key {
    let method = method_name(if method == Method::Ack {
        Method::Invite
    } else {
        method
    });
    if ess.branch.starts_with("z9hG4bK") {
        Key {
            branch: ess.branch.clone(),
            sent_by: ess.sent_by.to_ascii_lowercase(),
            method,
        }
    } else {
        // RFC 2543 peers: no magic cookie, match on dialog identifiers.
        Key {
            branch: format!(
                "{}|{}|{}|{}",
                ess.call_id,
                ess.cseq,
                ess.from_tag.as_deref().unwrap_or(""),
                ess.branch
            ),
            sent_by: ess.sent_by.to_ascii_lowercase(),
            method,
        }
    }
}

fn client_key(ess: &Essentials) -> Key {
    Key {
        branch: ess.branch.clone(),
        sent_by: String::new(),
        method: method_name(ess.cseq_method),
    }
}

impl Transactions {
    /// An empty transaction layer using the timer values `cfg`.
    pub fn new(cfg: TimerConfig) -> Self {
        Transactions {
            cfg,
            next_id: 1,
            server: HashMap::new(),
            server_keys: HashMap::new(),
            accepted: HashMap::new(),
            client: HashMap::new(),
            client_keys: HashMap::new(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
        }
    }

    /// Live transactions (server, client).
    pub fn len(&self) -> (usize, usize) {
        (self.server.len(), self.client.len())
    }

    /// No live transaction, server or client.
    pub fn is_empty(&self) -> bool {
        self.server.is_empty() && self.client.is_empty()
    }

    /// Next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Transactions::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    fn arm(&mut self, tx: TxRef, timer: Timer, at: Instant) {
        let slot = match tx {
            TxRef::Server(id) => self.server.get_mut(&id).map(|t| &mut t.deadlines),
            TxRef::Client(id) => self.client.get_mut(&id).map(|t| &mut t.deadlines),
        };
        if let Some(d) = slot {
            d[timer as usize] = Some(at);
            self.timers.push(Reverse((at, tx, timer)));
        }
    }

    fn disarm(deadlines: &mut [Option<Instant>; 3], timer: Timer) {
        deadlines[timer as usize] = None;
    }

    fn transmit(&mut self, to: Peer, data: Bytes) {
        self.out.push_back(Output::Transmit { to, data });
    }

    /// Send a message outside any transaction (ACK for 2xx, stateless errors).
    pub fn send_stateless(&mut self, to: Peer, data: Bytes) {
        self.transmit(to, data);
    }

    /// A message arrived from the network.
    pub fn receive(&mut self, now: Instant, msg: SipMessage, from: Peer) -> Result<(), TxError> {
        let ess = Essentials::of(&msg).map_err(|e| TxError::Bad(e.to_string()))?;
        match msg {
            SipMessage::Request(req) => self.receive_request(now, req, ess, from),
            SipMessage::Response(resp) => self.receive_response(now, resp, ess),
        }
        Ok(())
    }

    fn receive_request(&mut self, now: Instant, req: Request, ess: Essentials, from: Peer) {
        let method = req.method;
        let key = server_key(&ess, method);
        if method == Method::Ack {
            self.receive_ack(now, req, ess, from, key);
            return;
        }
        if let Some(&id) = self.server_keys.get(&key) {
            // Retransmission: resend the last response, or absorb.
            let tx = self.server.get(&id).expect("index in sync");
            if let Some(last) = tx.last_response.clone() {
                let peer = tx.peer;
                self.transmit(peer, last);
            }
            return;
        }
        if method == Method::Cancel {
            self.receive_cancel(now, req, ess, from);
            return;
        }
        let id = self.new_server(key, method == Method::Invite, from, ess.clone());
        if method == Method::Invite {
            // 100 Trying at once (RFC 3261 17.2.1 allows it; it stops the
            // caller's Timer A retransmissions immediately).
            let trying = message::response(&req, 100, None);
            let _ = self.respond(now, ServerTxId(id), trying);
        }
        self.out.push_back(Output::Event(TxEvent::Request {
            id: ServerTxId(id),
            request: req,
            ess,
            from,
        }));
    }

    fn new_server(&mut self, key: Key, invite: bool, peer: Peer, ess: Essentials) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.server_keys.insert(key.clone(), id);
        self.server.insert(
            id,
            ServerTx {
                key,
                invite,
                state: if invite {
                    SState::Proceeding
                } else {
                    SState::Trying
                },
                peer,
                last_response: None,
                interval: self.cfg.t1,
                deadlines: [None; 3],
                ess,
            },
        );
        id
    }

    fn receive_cancel(&mut self, now: Instant, req: Request, ess: Essentials, from: Peer) {
        let invite_key = server_key(&ess, Method::Invite);
        let invite_id = self.server_keys.get(&invite_key).copied();
        let id = self.new_server(server_key(&ess, Method::Cancel), false, from, ess.clone());
        let Some(invite_id) = invite_id else {
            let resp = message::response(&req, 481, Some(&message::random_token(8)));
            let _ = self.respond(now, ServerTxId(id), resp);
            return;
        };
        let pending = self
            .server
            .get(&invite_id)
            .is_some_and(|t| t.state == SState::Proceeding);
        // RFC 3261 9.2: the To tag of the 200 to CANCEL should match the one
        // the INVITE responses carry; the user has not told us, so none is
        // added beyond what the CANCEL had, which peers accept.
        let ok = message::response(&req, 200, None);
        let _ = self.respond(now, ServerTxId(id), ok);
        if pending {
            self.out.push_back(Output::Event(TxEvent::Cancelled {
                invite: ServerTxId(invite_id),
                ess,
            }));
        }
    }

    fn receive_ack(&mut self, now: Instant, req: Request, ess: Essentials, from: Peer, key: Key) {
        // ACK to a non-2xx final: same branch as the INVITE; absorbed here.
        if let Some(&id) = self.server_keys.get(&key) {
            let tx = self.server.get_mut(&id).expect("index in sync");
            if tx.state == SState::Completed {
                tx.state = SState::Confirmed;
                Self::disarm(&mut tx.deadlines, Timer::Retransmit);
                Self::disarm(&mut tx.deadlines, Timer::Expire);
                let linger = if tx.peer.transport.reliable() {
                    Duration::ZERO
                } else {
                    self.cfg.t4
                };
                self.arm(TxRef::Server(id), Timer::Linger, now + linger);
                return;
            }
            if tx.state == SState::Confirmed {
                return; // retransmitted ACK
            }
        }
        // ACK to a 2xx: its own branch; match the INVITE by Call-ID + CSeq.
        let invite = self
            .accepted
            .remove(&(ess.call_id.clone(), ess.cseq))
            .inspect(|id| {
                // The ACK ends the 2xx retransmissions; keep absorbing INVITE
                // retransmissions until Timer L.
                if let Some(tx) = self.server.get_mut(id) {
                    Self::disarm(&mut tx.deadlines, Timer::Retransmit);
                    tx.state = SState::Confirmed;
                }
            });
        self.out.push_back(Output::Event(TxEvent::Ack {
            request: req,
            ess,
            from,
            invite: invite.map(ServerTxId),
        }));
    }

    /// Send a response within a server transaction.
    pub fn respond(&mut self, now: Instant, id: ServerTxId, resp: Response) -> Result<(), TxError> {
        let code = resp.status_code.code();
        let data = Bytes::from(message::encode(&SipMessage::Response(resp)));
        let cfg = self.cfg;
        let tx = self.server.get_mut(&id.0).ok_or(TxError::Unknown)?;
        if !matches!(tx.state, SState::Trying | SState::Proceeding) {
            return Err(TxError::AlreadyFinal);
        }
        let peer = tx.peer;
        let reliable = peer.transport.reliable();
        tx.last_response = Some(data.clone());
        let mut arms: Vec<(Timer, Instant)> = Vec::with_capacity(2);
        if code < 200 {
            tx.state = SState::Proceeding;
        } else if tx.invite && code < 300 {
            tx.state = SState::Accepted;
            self.accepted
                .insert((tx.ess.call_id.clone(), tx.ess.cseq), id.0);
            if !reliable {
                tx.interval = cfg.t1;
                arms.push((Timer::Retransmit, now + cfg.t1));
            }
            arms.push((Timer::Expire, now + cfg.t1 * 64));
        } else if tx.invite {
            tx.state = SState::Completed;
            if !reliable {
                tx.interval = cfg.t1;
                arms.push((Timer::Retransmit, now + cfg.t1));
            }
            arms.push((Timer::Expire, now + cfg.t1 * 64));
        } else {
            tx.state = SState::Completed;
            let linger = if reliable {
                Duration::ZERO
            } else {
                cfg.t1 * 64
            };
            arms.push((Timer::Linger, now + linger));
        }
        self.transmit(peer, data);
        for (timer, at) in arms {
            self.arm(TxRef::Server(id.0), timer, at);
        }
        Ok(())
    }

    /// Start a client transaction. The request must carry its top Via with a
    /// fresh branch (see [`message::new_branch`]).
    pub fn request(&mut self, now: Instant, req: Request, to: Peer) -> Result<ClientTxId, TxError> {
        let ess = Essentials::of(&SipMessage::Request(req.clone()))
            .map_err(|e| TxError::Bad(e.to_string()))?;
        if req.method == Method::Ack {
            return Err(TxError::Bad("ACK is sent with send_stateless".into()));
        }
        let invite = req.method == Method::Invite;
        let key = client_key(&ess);
        let data = Bytes::from(message::encode(&SipMessage::Request(req.clone())));
        let id = self.next_id;
        self.next_id += 1;
        self.client_keys.insert(key.clone(), id);
        self.client.insert(
            id,
            ClientTx {
                key,
                invite,
                state: if invite {
                    CState::Calling
                } else {
                    CState::Trying
                },
                peer: to,
                request: data.clone(),
                invite_req: invite.then_some(req),
                ack: None,
                interval: self.cfg.t1,
                deadlines: [None; 3],
                ess,
            },
        );
        self.transmit(to, data);
        if !to.transport.reliable() {
            self.arm(TxRef::Client(id), Timer::Retransmit, now + self.cfg.t1);
        }
        self.arm(TxRef::Client(id), Timer::Expire, now + self.cfg.t1 * 64);
        Ok(ClientTxId(id))
    }

    fn receive_response(&mut self, now: Instant, resp: Response, ess: Essentials) {
        let key = client_key(&ess);
        let Some(&id) = self.client_keys.get(&key) else {
            tracing::debug!(call_id = %ess.call_id, code = resp.status_code.code(), "stray response dropped");
            return;
        };
        let code = resp.status_code.code();
        let cfg = self.cfg;
        let tx = self.client.get_mut(&id).expect("index in sync");
        let reliable = tx.peer.transport.reliable();
        let mut arms = Vec::new();
        let mut deliver = true;
        match (tx.state, code) {
            (CState::Calling | CState::Trying | CState::Proceeding, 100..=199) => {
                if tx.state == CState::Calling {
                    Self::disarm(&mut tx.deadlines, Timer::Retransmit);
                    Self::disarm(&mut tx.deadlines, Timer::Expire);
                } else if tx.state == CState::Trying && !reliable {
                    // Timer E now fires at T2 (17.1.2.2).
                    tx.interval = cfg.t2;
                }
                tx.state = CState::Proceeding;
            }
            (CState::Calling | CState::Proceeding, 200..=299) if tx.invite => {
                tx.state = CState::Accepted;
                tx.deadlines = [None; 3];
                arms.push((Timer::Expire, now + cfg.t1 * 64));
            }
            (CState::Accepted, 200..=299) => {} // retransmitted 2xx: user re-ACKs
            (CState::Calling | CState::Proceeding, _) if tx.invite => {
                let ack = tx
                    .invite_req
                    .as_ref()
                    .map(|inv| ack_for_non_2xx(inv, &resp));
                tx.ack = ack.map(|a| Bytes::from(message::encode(&SipMessage::Request(a))));
                tx.state = CState::Completed;
                tx.deadlines = [None; 3];
                let linger = if reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                arms.push((Timer::Linger, now + linger));
                if let Some(ack) = tx.ack.clone() {
                    let peer = tx.peer;
                    self.transmit(peer, ack);
                }
            }
            (CState::Completed, 300..) if tx.invite => {
                // Retransmitted final: ACK again, do not deliver twice.
                deliver = false;
                if let Some(ack) = tx.ack.clone() {
                    let peer = tx.peer;
                    self.transmit(peer, ack);
                }
            }
            (CState::Trying | CState::Proceeding, 200..) => {
                tx.state = CState::Completed;
                tx.deadlines = [None; 3];
                let linger = if reliable { Duration::ZERO } else { cfg.t4 };
                arms.push((Timer::Linger, now + linger));
            }
            _ => deliver = false,
        }
        for (timer, at) in arms {
            self.arm(TxRef::Client(id), timer, at);
        }
        if deliver {
            self.out.push_back(Output::Event(TxEvent::Response {
                id: ClientTxId(id),
                response: resp,
                ess,
            }));
        }
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, tx, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let live = match tx {
                TxRef::Server(id) => self
                    .server
                    .get(&id)
                    .is_some_and(|t| t.deadlines[timer as usize] == Some(at)),
                TxRef::Client(id) => self
                    .client
                    .get(&id)
                    .is_some_and(|t| t.deadlines[timer as usize] == Some(at)),
            };
            if !live {
                continue; // stale entry (timer disarmed or re-armed)
            }
            match tx {
                TxRef::Server(id) => self.server_timer(now, id, timer),
                TxRef::Client(id) => self.client_timer(now, id, timer),
            }
        }
    }

    fn server_timer(&mut self, now: Instant, id: u64, timer: Timer) {
        let cfg = self.cfg;
        let tx = self.server.get_mut(&id).expect("checked live");
        tx.deadlines[timer as usize] = None;
        match (timer, tx.state) {
            // Timer G (Completed) and the 2xx retransmission (Accepted).
            (Timer::Retransmit, SState::Completed | SState::Accepted) => {
                let next = (tx.interval * 2).min(cfg.t2);
                tx.interval = next;
                let (peer, data) = (tx.peer, tx.last_response.clone());
                if let Some(data) = data {
                    self.transmit(peer, data);
                }
                self.arm(TxRef::Server(id), Timer::Retransmit, now + next);
            }
            // Timer L: 2xx never acknowledged.
            (Timer::Expire, SState::Accepted) => {
                let ess = tx.ess.clone();
                self.accepted.remove(&(ess.call_id.clone(), ess.cseq));
                self.remove_server(id);
                self.out.push_back(Output::Event(TxEvent::AckTimeout {
                    id: ServerTxId(id),
                    ess,
                }));
            }
            // Timer H: no ACK to our non-2xx final; Timer L after the ACK;
            // Timers I and J: linger done.
            _ => self.remove_server(id),
        }
    }

    fn client_timer(&mut self, now: Instant, id: u64, timer: Timer) {
        let cfg = self.cfg;
        let tx = self.client.get_mut(&id).expect("checked live");
        tx.deadlines[timer as usize] = None;
        match (timer, tx.state) {
            (Timer::Retransmit, CState::Calling) => {
                tx.interval *= 2; // Timer A doubles without cap
                let (peer, data, next) = (tx.peer, tx.request.clone(), tx.interval);
                self.transmit(peer, data);
                self.arm(TxRef::Client(id), Timer::Retransmit, now + next);
            }
            (Timer::Retransmit, CState::Trying | CState::Proceeding) => {
                let next = if tx.state == CState::Trying {
                    (tx.interval * 2).min(cfg.t2)
                } else {
                    cfg.t2
                };
                tx.interval = next;
                let (peer, data) = (tx.peer, tx.request.clone());
                self.transmit(peer, data);
                self.arm(TxRef::Client(id), Timer::Retransmit, now + next);
            }
            (Timer::Expire, CState::Calling | CState::Trying | CState::Proceeding) => {
                if let Some(tx) = self.client.remove(&id) {
                    self.client_keys.remove(&tx.key);
                    self.out.push_back(Output::Event(TxEvent::Timeout {
                        id: ClientTxId(id),
                        ess: tx.ess,
                    }));
                }
            }
            _ => self.remove_client(id),
        }
    }

    fn remove_server(&mut self, id: u64) {
        if let Some(tx) = self.server.remove(&id) {
            self.server_keys.remove(&tx.key);
        }
    }

    fn remove_client(&mut self, id: u64) {
        if let Some(tx) = self.client.remove(&id) {
            self.client_keys.remove(&tx.key);
        }
    }
}

/// RFC 3261 17.1.1.3: ACK for a non-2xx final response, built by the
/// transaction from the INVITE (same branch, Request-URI, Call-ID, From, Route)
/// and the response's To.
fn ack_for_non_2xx(invite: &Request, resp: &Response) -> Request {
    let to = resp.headers.iter().find(|h| matches!(h, Header::To(_)));
    same_branch_request(invite, Method::Ack, to)
}

/// RFC 3261 9.1: the CANCEL of a pending INVITE we sent (same branch,
/// Request-URI, Call-ID, From, To, Route and CSeq number).
pub fn cancel_for(invite: &Request) -> Request {
    let to = invite.headers.iter().find(|h| matches!(h, Header::To(_)));
    same_branch_request(invite, Method::Cancel, to)
}

fn same_branch_request(invite: &Request, method: Method, to: Option<&Header>) -> Request {
    let mut headers = rsip::Headers::default();
    let mut via_done = false;
    for h in invite.headers.iter() {
        match h {
            Header::Via(_) if !via_done => {
                via_done = true;
                headers.push(h.clone());
            }
            Header::From(_) | Header::CallId(_) | Header::Route(_) | Header::MaxForwards(_) => {
                headers.push(h.clone())
            }
            Header::CSeq(c) => {
                let num = rsip::prelude::UntypedHeader::value(c)
                    .split_whitespace()
                    .next()
                    .unwrap_or("1")
                    .to_string();
                headers.push(Header::CSeq(format!("{num} {method}").into()));
            }
            _ => {}
        }
    }
    if let Some(to) = to {
        headers.push(to.clone());
    }
    Request {
        method,
        uri: invite.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
