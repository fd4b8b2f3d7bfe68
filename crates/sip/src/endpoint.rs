//! The tokio edge around [`Transactions`]: UDP, TCP and TLS listeners
//! (streams in [`crate::stream`]), Via `received`/`rport` stamping,
//! response routing (RFC 3261 section 18, RFC 3581) and the command
//! channel the call layer talks through.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rsip::prelude::*;
use rsip::{Header, Request, Response, SipMessage};
use rustls::pki_types::CertificateDer;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use crate::guard::{Admit, Guard, GuardConfig, Shed};
use crate::message::{self, param, split_via, Essentials};
use crate::parse::{self, ParseError};
use crate::stream::{self, PeerCerts, StreamLimits, Streams};
use crate::tls::LiveTls;
use crate::transaction::{
    ClientTxId, Output, Peer, ServerTxId, TimerConfig, Transactions, Transport, TxEvent,
};

/// Where to listen.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// UDP addresses.
    pub udp: Vec<SocketAddr>,
    /// TCP addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS addresses (5061 by convention); they need `tls_server`.
    pub tls: Vec<SocketAddr>,
    /// WebSocket addresses (RFC 7118, `ws://`).
    pub ws: Vec<SocketAddr>,
    /// WebSocket over TLS addresses (`wss://`); they need `tls_server`.
    pub wss: Vec<SocketAddr>,
    /// Our certificate for TLS listeners, reloadable.
    pub tls_server: Option<LiveTls>,
    /// Trust for TLS connections we open; none: requests to `Tls` peers
    /// with no connection up are not sent.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// The name a peer's certificate must carry, by address (a trunk's
    /// proxy known by its host name); others must name their IP address.
    pub tls_names: HashMap<SocketAddr, String>,
    /// Bounds on TCP and TLS connections.
    pub limits: StreamLimits,
    /// RFC 3261 timer values.
    pub timers: TimerConfig,
    /// The bound on messages waiting for the transaction layer.
    pub guard: GuardConfig,
    /// Where INVITEs refused by the guard go for their call record.
    pub shed_records: Option<mpsc::Sender<Shed>>,
}

/// What the endpoint hands to the call layer.
pub type SipEvent = TxEvent;

/// Where the responses to one of our requests go. Boxed: tokio allocates
/// an unbounded channel's first 32 slots when it is created, and an event
/// is over 400 bytes (13 KB per channel, which a call leg holds for its
/// whole life).
pub type Replies = mpsc::UnboundedSender<Box<TxEvent>>;

enum Command {
    Respond(ServerTxId, Response),
    Request(Request, Peer, Replies),
    Stateless(Peer, Bytes),
}

// The message variant is nearly every value sent; boxing it would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inbound {
    Message(SipMessage, Peer),
    Connected(u64, Transport, SocketAddr, mpsc::UnboundedSender<Bytes>),
    Closed(u64),
}

/// Counters an operator reads in /metrics.
#[derive(Debug, Default)]
pub struct EndpointStats {
    /// Messages read.
    pub received: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Messages that did not parse.
    pub parse_errors: AtomicU64,
    /// Of those, the ones answered with 400.
    pub rejected_400: AtomicU64,
    /// Stream connections closed at once: their source was at its cap.
    pub stream_refused: AtomicU64,
    /// TLS handshakes that failed or timed out, both ways.
    pub tls_failures: AtomicU64,
}

/// Handle on a running endpoint; cheap to clone.
#[derive(Clone)]
pub struct Endpoint {
    cmd: mpsc::UnboundedSender<Command>,
    /// Bound UDP addresses.
    pub udp_addrs: Arc<Vec<SocketAddr>>,
    /// Bound TCP addresses.
    pub tcp_addrs: Arc<Vec<SocketAddr>>,
    /// Bound TLS addresses.
    pub tls_addrs: Arc<Vec<SocketAddr>>,
    /// Bound WebSocket addresses.
    pub ws_addrs: Arc<Vec<SocketAddr>>,
    /// Bound WebSocket over TLS addresses.
    pub wss_addrs: Arc<Vec<SocketAddr>>,
    /// Counters.
    pub stats: Arc<EndpointStats>,
    /// The overload guard (its counters and backlog).
    pub guard: Arc<Guard>,
    certs: Arc<PeerCerts>,
}

impl Endpoint {
    /// Bind every listener and start the transaction loop. Events (new
    /// requests, ACKs, CANCELs) go to `events`.
    pub async fn start(
        cfg: EndpointConfig,
        events: mpsc::UnboundedSender<SipEvent>,
    ) -> io::Result<Endpoint> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(EndpointStats::default());
        let guard = Arc::new(Guard::new(cfg.guard, cfg.shed_records.clone()));
        let mut udp_socks = Vec::new();
        let mut udp_addrs = Vec::new();
        for addr in &cfg.udp {
            let sock = Arc::new(bind_udp(*addr)?);
            let local = sock.local_addr()?;
            udp_addrs.push(local);
            tokio::spawn(udp_recv(
                sock.clone(),
                in_tx.clone(),
                stats.clone(),
                guard.clone(),
            ));
            udp_socks.push(sock);
        }
        if !(cfg.tls.is_empty() && cfg.wss.is_empty()) && cfg.tls_server.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SIP over TLS or secure WebSocket needs a certificate",
            ));
        }
        let mut streams = Streams::new(
            in_tx.clone(),
            stats.clone(),
            guard.clone(),
            cfg.limits,
            cfg.tls_server.clone(),
            cfg.tls_client.clone(),
        );
        streams.tls_names = cfg.tls_names.clone();
        let streams = Arc::new(streams);
        let certs = streams.certs.clone();
        let mut tcp_addrs = Vec::new();
        for addr in &cfg.tcp {
            let listener = TcpListener::bind(addr).await?;
            tcp_addrs.push(listener.local_addr()?);
            tokio::spawn(stream::accept(streams.clone(), listener, Transport::Tcp));
        }
        let mut tls_addrs = Vec::new();
        for addr in &cfg.tls {
            let listener = TcpListener::bind(addr).await?;
            tls_addrs.push(listener.local_addr()?);
            tokio::spawn(stream::accept(streams.clone(), listener, Transport::Tls));
        }
        let mut ws_addrs = Vec::new();
        for (addrs, transport) in [(&cfg.ws, Transport::Ws), (&cfg.wss, Transport::Wss)] {
            for addr in addrs {
                let listener = TcpListener::bind(addr).await?;
                ws_addrs.push((transport, listener.local_addr()?));
                tokio::spawn(stream::accept(streams.clone(), listener, transport));
            }
        }
        let pick = |t: Transport| -> Vec<SocketAddr> {
            ws_addrs
                .iter()
                .filter(|(x, _)| *x == t)
                .map(|(_, a)| *a)
                .collect()
        };
        let (ws_addrs, wss_addrs) = (pick(Transport::Ws), pick(Transport::Wss));
        let core = Core {
            tx: Transactions::new(cfg.timers),
            udp: udp_socks,
            conns: HashMap::new(),
            by_addr: HashMap::new(),
            replies: HashMap::new(),
            events,
            streams,
        };
        tokio::spawn(core.run(cmd_rx, in_rx));
        tracing::info!(udp = ?udp_addrs, tcp = ?tcp_addrs, tls = ?tls_addrs, ws = ?ws_addrs, wss = ?wss_addrs, "SIP listening");
        Ok(Endpoint {
            cmd: cmd_tx,
            udp_addrs: Arc::new(udp_addrs),
            tcp_addrs: Arc::new(tcp_addrs),
            tls_addrs: Arc::new(tls_addrs),
            ws_addrs: Arc::new(ws_addrs),
            wss_addrs: Arc::new(wss_addrs),
            stats,
            guard,
            certs,
        })
    }

    /// The certificate chain (leaf first) the client of TLS connection
    /// `conn` presented, while the connection is up: `None` for a client
    /// without one, or another transport.
    pub fn peer_certificates(&self, conn: u64) -> Option<Arc<[CertificateDer<'static>]>> {
        self.certs.get(conn)
    }

    /// Answer within a server transaction.
    pub fn respond(&self, id: ServerTxId, resp: Response) {
        let _ = self.cmd.send(Command::Respond(id, resp));
    }

    /// Send a request in a new client transaction; its responses (and a
    /// timeout) arrive on `replies`.
    pub fn request(&self, req: Request, to: Peer, replies: Replies) {
        let _ = self.cmd.send(Command::Request(req, to, replies));
    }

    /// Send outside any transaction (ACK to a 2xx).
    pub fn send_stateless(&self, to: Peer, msg: &SipMessage) {
        let data = Bytes::from(message::encode(msg));
        let _ = self.cmd.send(Command::Stateless(to, data));
    }

    /// Our sent-by for a transport, for Via and Contact headers.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        match transport {
            Transport::Udp => self.udp_addrs.first().copied(),
            Transport::Tcp => self.tcp_addrs.first().copied(),
            Transport::Tls => self.tls_addrs.first().copied(),
            Transport::Ws => self.ws_addrs.first().copied(),
            Transport::Wss => self.wss_addrs.first().copied(),
        }
    }
}

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Large buffers absorb bursts at thousands of calls per second.
    let _ = sock.set_recv_buffer_size(8 << 20);
    let _ = sock.set_send_buffer_size(8 << 20);
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

/// RFC 3261 18.2.1 / RFC 3581: note where the request really came from.
fn stamp_via(req: &mut Request, source: SocketAddr) {
    if let Some(Header::Via(via)) = req.headers.iter_mut().find(|h| matches!(h, Header::Via(_))) {
        let value = via.value().to_string();
        let (sent_by, params) = split_via(&value);
        let host = sent_by
            .rsplit_once(':')
            .filter(|(h, p)| !h.ends_with(']') || p.parse::<u16>().is_ok())
            .map(|(h, _)| h)
            .unwrap_or(sent_by)
            .trim_matches(['[', ']']);
        let mut out = String::with_capacity(value.len() + 32);
        let prefix_end = value.len() - params.len();
        out.push_str(&value[..prefix_end]);
        let needs_received = host.parse::<IpAddr>().ok() != Some(source.ip());
        let has_rport = param(params, "rport").is_some();
        for p in params.split(';').skip(1) {
            let name = p.split('=').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("rport") || name.eq_ignore_ascii_case("received") {
                continue;
            }
            out.push(';');
            out.push_str(p);
        }
        if needs_received || has_rport {
            out.push_str(&format!(";received={}", source.ip()));
        }
        if has_rport {
            out.push_str(&format!(";rport={}", source.port()));
        }
        *via = out.into();
    }
}

/// Where responses to this request go (RFC 3261 18.2.2 with RFC 3581).
pub(crate) fn response_peer(req: &Request, source: Peer) -> Peer {
    if source.transport.reliable() {
        return source;
    }
    let via = req.headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(v.value()),
        _ => None,
    });
    let Some(via) = via else { return source };
    let (sent_by, params) = split_via(via);
    if param(params, "rport").is_some_and(|p| !p.is_empty()) {
        return source;
    }
    let port = sent_by
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(5060);
    Peer {
        addr: SocketAddr::new(source.ip(), port),
        ..source
    }
}

trait PeerIp {
    fn ip(&self) -> IpAddr;
}
impl PeerIp for Peer {
    fn ip(&self) -> IpAddr {
        self.addr.ip()
    }
}

/// Parse one message; requests get their Via stamped. Unreadable requests
/// get a stateless 400/501 through `reply`.
pub(crate) fn ingest(
    data: &[u8],
    from: Peer,
    stats: &EndpointStats,
) -> Result<(SipMessage, Essentials), Option<Bytes>> {
    stats.received.fetch_add(1, Ordering::Relaxed);
    match parse::parse(data).and_then(check_mandatory) {
        Ok((SipMessage::Request(mut req), ess)) => {
            stamp_via(&mut req, from.addr);
            Ok((SipMessage::Request(req), ess))
        }
        Ok(resp) => Ok(resp),
        Err(err) => {
            stats.parse_errors.fetch_add(1, Ordering::Relaxed);
            let reply = parse::reject_unparsable(data, &err);
            tracing::warn!(peer = %from.addr, transport = from.transport.as_str(), error = %err,
                answered = reply.as_ref().map(|r| r.0), "unreadable SIP message");
            if reply.is_some() {
                stats.rejected_400.fetch_add(1, Ordering::Relaxed);
            }
            Err(reply.map(|(_, b)| Bytes::from(b)))
        }
    }
}

fn check_mandatory(msg: SipMessage) -> Result<(SipMessage, Essentials), ParseError> {
    let ess = Essentials::of(&msg)?;
    Ok((msg, ess))
}

async fn udp_recv(
    sock: Arc<UdpSocket>,
    in_tx: mpsc::UnboundedSender<Inbound>,
    stats: Arc<EndpointStats>,
    guard: Arc<Guard>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port unreachable surfaces here on Linux; keep serving.
                tracing::debug!(error = %e, "UDP receive error");
                continue;
            }
        };
        let data = &buf[..n];
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue; // keep-alive
        }
        let peer = Peer {
            transport: Transport::Udp,
            addr: src,
            conn: None,
        };
        match ingest(data, peer, &stats) {
            Ok((msg, ess)) => match guard.admit(msg, ess, peer) {
                Admit::Queue(msg) => {
                    if in_tx.send(Inbound::Message(msg, peer)).is_err() {
                        return;
                    }
                }
                // Never waits: under a flood, a full send buffer must not
                // hold up reading (the caller retransmits and is answered
                // again).
                Admit::Refuse(reply, to) => {
                    let _ = sock.try_send_to(&reply, to.addr);
                }
                Admit::Drop => {}
            },
            // Never waits either (a flood of garbage must not stall reading).
            Err(Some(reply)) => {
                let _ = sock.try_send_to(&reply, src);
            }
            Err(None) => {}
        }
    }
}

struct Core {
    tx: Transactions,
    udp: Vec<Arc<UdpSocket>>,
    conns: HashMap<u64, mpsc::UnboundedSender<Bytes>>,
    by_addr: HashMap<(Transport, SocketAddr), u64>,
    replies: HashMap<ClientTxId, Replies>,
    events: mpsc::UnboundedSender<SipEvent>,
    streams: Arc<Streams>,
}

impl Core {
    async fn run(
        mut self,
        mut cmd_rx: mpsc::UnboundedReceiver<Command>,
        mut in_rx: mpsc::UnboundedReceiver<Inbound>,
    ) {
        loop {
            let wake = self.tx.poll_timeout();
            // Work under way first: what the call layer asks us to send,
            // then retransmission timers, then what arrives. Taking new
            // messages first would, under a flood, hold back our own
            // answers until callers retransmit, adding to the flood.
            tokio::select! {
                biased;
                cmd = cmd_rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => return,
                },
                _ = sleep_until(wake), if wake.is_some() => {
                    self.tx.handle_timeout(Instant::now());
                }
                Some(inbound) = in_rx.recv() => self.inbound(inbound),
            }
            self.flush().await;
        }
    }

    fn inbound(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Message(msg, from) => {
                self.streams
                    .guard
                    .taken(matches!(msg, SipMessage::Response(_)));
                let from = match &msg {
                    SipMessage::Request(req) => response_peer(req, from),
                    SipMessage::Response(_) => from,
                };
                if let Err(e) = self.tx.receive(Instant::now(), msg, from) {
                    tracing::debug!(error = %e, "message dropped by transaction layer");
                }
            }
            Inbound::Connected(id, transport, addr, sender) => {
                self.conns.insert(id, sender);
                self.by_addr.insert((transport, addr), id);
            }
            Inbound::Closed(id) => {
                self.conns.remove(&id);
                self.by_addr.retain(|_, c| *c != id);
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Respond(id, resp) => {
                if let Err(e) = self.tx.respond(now, id, resp) {
                    tracing::debug!(error = %e, "response not sent");
                }
            }
            Command::Request(req, to, replies) => match self.tx.request(now, req, to) {
                Ok(id) => {
                    self.replies.insert(id, replies);
                }
                Err(e) => tracing::warn!(error = %e, "request not sent"),
            },
            Command::Stateless(to, data) => self.tx.send_stateless(to, data),
        }
    }

    async fn flush(&mut self) {
        while let Some(out) = self.tx.poll_output() {
            match out {
                Output::Transmit { to, data } => self.transmit(to, data).await,
                Output::Event(ev) => self.deliver(ev),
            }
        }
    }

    fn deliver(&mut self, ev: TxEvent) {
        match &ev {
            TxEvent::Response { id, response, .. } => {
                let id = *id;
                let last = response.status_code.code() >= 200;
                if let Some(r) = self.replies.get(&id) {
                    let _ = r.send(Box::new(ev));
                }
                // A 2xx to an INVITE may come again (the user re-ACKs it), so
                // routes are kept while their receiver lives; closed ones go.
                if last && self.replies.len() > 64 {
                    self.replies.retain(|_, r| !r.is_closed());
                }
            }
            TxEvent::Timeout { id, .. } => {
                if let Some(r) = self.replies.remove(id) {
                    let _ = r.send(Box::new(ev));
                }
            }
            _ => {
                let _ = self.events.send(ev);
            }
        }
    }

    async fn transmit(&mut self, to: Peer, data: Bytes) {
        self.streams.stats.sent.fetch_add(1, Ordering::Relaxed);
        match to.transport {
            Transport::Udp => {
                let Some(sock) = self.udp.first() else { return };
                if let Err(e) = sock.send_to(&data, to.addr).await {
                    tracing::debug!(peer = %to.addr, error = %e, "UDP send failed");
                }
            }
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => {
                let live = to
                    .conn
                    .and_then(|c| self.conns.get(&c))
                    .filter(|s| !s.is_closed());
                match live {
                    Some(sender) => {
                        let _ = sender.send(data);
                    }
                    None => self.connect_and_send(to, data),
                }
            }
        }
    }

    /// No live connection to that peer: reuse one to the same address and
    /// transport (RFC 5923 style), else open one (RFC 3261 18.2.2: a
    /// response whose connection closed is sent on a new connection to
    /// the same address).
    fn connect_and_send(&mut self, to: Peer, data: Bytes) {
        if let Some(sender) = self
            .by_addr
            .get(&(to.transport, to.addr))
            .and_then(|id| self.conns.get(id))
            .filter(|s| !s.is_closed())
        {
            let _ = sender.send(data);
            return;
        }
        stream::open(&self.streams, to, data);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
