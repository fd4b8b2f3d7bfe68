//! Stream transports, TCP and TLS: accepting under a cap per source
//! address, TLS handshakes with a deadline (a failing peer is logged once,
//! not once per try), connections we open for requests and for responses
//! whose connection closed, framing messages by Content-Length, and
//! writing what the core queues for each connection.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::endpoint::{ingest, EndpointStats, Inbound};
use crate::guard::{Admit, Guard};
use crate::parse;
use crate::tls::LiveTls;
use crate::transaction::{Peer, Transport};

/// Bounds on stream connections.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Connections at once from one source address (TCP and TLS together);
    /// more are closed at once. Phones behind one NAT share an address,
    /// hence a generous default.
    pub per_source: u32,
    /// A TLS handshake not done in this time is dropped.
    pub handshake: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_source: 256,
            handshake: Duration::from_secs(10),
        }
    }
}

/// A bounded memory of peers already logged, so that a peer failing over
/// and over fills the log once; forgotten wholesale when full.
struct LoggedOnce(Mutex<HashSet<IpAddr>>);

impl LoggedOnce {
    const MAX: usize = 4096;

    fn first(&self, ip: IpAddr) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        seen.insert(ip)
    }
}

/// The client certificate chains of TLS connections, by connection id,
/// while they are up: what trunks with mutual TLS are checked against.
#[derive(Default)]
pub(crate) struct PeerCerts(Mutex<HashMap<u64, Arc<[CertificateDer<'static>]>>>);

impl PeerCerts {
    /// The chain the client of connection `conn` sent, if any.
    pub(crate) fn get(&self, conn: u64) -> Option<Arc<[CertificateDer<'static>]>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&conn)
            .cloned()
    }

    fn set(&self, conn: u64, chain: Option<Arc<[CertificateDer<'static>]>>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match chain {
            Some(c) => map.insert(conn, c),
            None => map.remove(&conn),
        };
    }
}

/// What the accept loops, the connection tasks and the core share.
pub(crate) struct Streams {
    pub(crate) in_tx: mpsc::UnboundedSender<Inbound>,
    pub(crate) ids: AtomicU64,
    pub(crate) stats: Arc<EndpointStats>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) limits: StreamLimits,
    per_source: Mutex<HashMap<IpAddr, u32>>,
    tls_server: Option<LiveTls>,
    tls_client: Option<Arc<rustls::ClientConfig>>,
    /// The name to check a peer's certificate for, by address.
    pub(crate) tls_names: HashMap<SocketAddr, String>,
    pub(crate) certs: Arc<PeerCerts>,
    handshake_logged: LoggedOnce,
    cap_logged: LoggedOnce,
}

/// One connection's place under its source's cap; dropping it frees it.
pub(crate) struct SourceSlot {
    streams: Arc<Streams>,
    ip: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self
            .streams
            .per_source
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Streams {
    pub(crate) fn new(
        in_tx: mpsc::UnboundedSender<Inbound>,
        stats: Arc<EndpointStats>,
        guard: Arc<Guard>,
        limits: StreamLimits,
        tls_server: Option<LiveTls>,
        tls_client: Option<Arc<rustls::ClientConfig>>,
    ) -> Streams {
        Streams {
            in_tx,
            ids: AtomicU64::new(1),
            stats,
            guard,
            limits,
            per_source: Mutex::new(HashMap::new()),
            tls_server,
            tls_client,
            tls_names: HashMap::new(),
            certs: Arc::new(PeerCerts::default()),
            handshake_logged: LoggedOnce(Mutex::new(HashSet::new())),
            cap_logged: LoggedOnce(Mutex::new(HashSet::new())),
        }
    }

    /// A place for one more connection from `ip`, if under the cap.
    fn take_slot(self: &Arc<Self>, ip: IpAddr) -> Option<SourceSlot> {
        let mut map = self.per_source.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.limits.per_source {
            drop(map);
            self.stats.stream_refused.fetch_add(1, Ordering::Relaxed);
            if self.cap_logged.first(ip) {
                tracing::warn!(peer = %ip, cap = self.limits.per_source,
                    "too many SIP connections from one address; new ones are closed");
            }
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            streams: self.clone(),
            ip,
        })
    }

    fn handshake_failed(&self, addr: SocketAddr, why: &dyn std::fmt::Display) {
        self.stats.tls_failures.fetch_add(1, Ordering::Relaxed);
        if self.handshake_logged.first(addr.ip()) {
            tracing::warn!(peer = %addr, error = %why,
                "TLS handshake failed (logged once per address)");
        } else {
            tracing::debug!(peer = %addr, error = %why, "TLS handshake failed");
        }
    }

    /// A TLS handshake under the deadline; a failure is counted and
    /// logged (once per address), and gives `None`.
    async fn handshake<T, E: std::fmt::Display>(
        &self,
        addr: SocketAddr,
        shake: impl std::future::Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.limits.handshake, shake).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(e)) => {
                self.handshake_failed(addr, &e);
                None
            }
            Err(_) => {
                self.handshake_failed(addr, &"no handshake in time");
                None
            }
        }
    }
}

/// Accept connections on `listener` for `transport` (TCP or TLS).
pub(crate) async fn accept(streams: Arc<Streams>, listener: TcpListener, transport: Transport) {
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, transport = transport.as_str(), "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = streams.take_slot(addr.ip()) else {
            continue; // dropping `tcp` closes it
        };
        let _ = tcp.set_nodelay(true);
        let id = streams.ids.fetch_add(1, Ordering::Relaxed);
        let streams = streams.clone();
        tokio::spawn(async move {
            match (transport, &streams.tls_server) {
                (Transport::Tls, Some(live)) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(live.current());
                    if let Some(tls) = streams.handshake(addr, acceptor.accept(tcp)).await {
                        let chain = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .map(|c| c.iter().map(|d| d.clone().into_owned()).collect());
                        let mutual = chain.is_some();
                        streams.certs.set(id, chain);
                        serve(&streams, tls, addr, Transport::Tls, id, None, slot).await;
                        if mutual {
                            streams.certs.set(id, None);
                        }
                    }
                }
                (Transport::Wss, Some(live)) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(live.current());
                    if let Some(tls) = streams.handshake(addr, acceptor.accept(tcp)).await {
                        crate::ws::serve(&streams, tls, addr, Transport::Wss, id, slot).await
                    }
                }
                (Transport::Ws, _) => {
                    crate::ws::serve(&streams, tcp, addr, Transport::Ws, id, slot).await
                }
                _ => serve(&streams, tcp, addr, Transport::Tcp, id, None, slot).await,
            }
        });
    }
}

/// Open a connection to `to` and send `first` on it; it then serves like
/// an accepted one (responses to our requests come back on it). A TLS
/// peer with no TLS client settings, or a UDP one, gets nothing.
pub(crate) fn open(streams: &Arc<Streams>, to: Peer, first: Bytes) {
    let tls = match (to.transport, &streams.tls_client) {
        (Transport::Tcp, _) => None,
        (Transport::Tls, Some(cfg)) => Some(cfg.clone()),
        (transport, _) => {
            tracing::warn!(peer = %to.addr, transport = transport.as_str(),
                "no connection to the peer and none can be opened; message dropped");
            return;
        }
    };
    let streams = streams.clone();
    tokio::spawn(async move {
        let addr = to.addr;
        let Some(slot) = streams.take_slot(addr.ip()) else {
            return;
        };
        let connect = tokio::time::timeout(streams.limits.handshake, TcpStream::connect(addr));
        let tcp = match connect.await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                tracing::warn!(peer = %addr, transport = to.transport.as_str(), error = %e, "connect failed");
                return;
            }
            Err(_) => {
                tracing::warn!(peer = %addr, transport = to.transport.as_str(), "connect timed out");
                return;
            }
        };
        let _ = tcp.set_nodelay(true);
        let id = streams.ids.fetch_add(1, Ordering::Relaxed);
        match tls {
            Some(cfg) => {
                // The peer's certificate must carry the name configured
                // for its address, else the address itself (an IP subject
                // alternative name).
                let name = streams
                    .tls_names
                    .get(&addr)
                    .and_then(|n| rustls::pki_types::ServerName::try_from(n.clone()).ok())
                    .unwrap_or_else(|| rustls::pki_types::ServerName::IpAddress(addr.ip().into()));
                let connector = tokio_rustls::TlsConnector::from(cfg);
                if let Some(tls) = streams.handshake(addr, connector.connect(name, tcp)).await {
                    serve(&streams, tls, addr, Transport::Tls, id, Some(first), slot).await
                }
            }
            None => serve(&streams, tcp, addr, Transport::Tcp, id, Some(first), slot).await,
        }
    });
}

/// One framed message from a connection: to the core through the guard,
/// or a stateless answer back on the connection.
pub(crate) fn deliver(
    streams: &Streams,
    frame: &[u8],
    peer: Peer,
    out_tx: &mpsc::UnboundedSender<Bytes>,
) {
    match ingest(frame, peer, &streams.stats) {
        Ok((msg, ess)) => match streams.guard.admit(msg, ess, peer) {
            Admit::Queue(msg) => {
                let _ = streams.in_tx.send(Inbound::Message(msg, peer));
            }
            Admit::Refuse(reply, _) => {
                let _ = out_tx.send(reply);
            }
            Admit::Drop => {}
        },
        Err(Some(reply)) => {
            let _ = out_tx.send(reply);
        }
        Err(None) => {}
    }
}

/// One connection: frames messages by Content-Length, writes what the
/// core queues for it (after `first`, when we opened it to send that).
async fn serve<S>(
    streams: &Streams,
    stream: S,
    addr: SocketAddr,
    transport: Transport,
    id: u64,
    first: Option<Bytes>,
    _slot: SourceSlot,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    let in_tx = &streams.in_tx;
    if in_tx
        .send(Inbound::Connected(id, transport, addr, out_tx.clone()))
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        if let Some(data) = first {
            if wr.write_all(&data).await.is_err() {
                return;
            }
        }
        while let Some(data) = out_rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let peer = Peer {
        transport,
        addr,
        conn: Some(id),
    };
    let guard = &streams.guard;
    let mut buf = BytesMut::with_capacity(8192);
    'read: loop {
        // Requests past the guard's hard bound: leave the rest in the
        // socket (stream senders wait; they do not retransmit).
        while guard.pause_reading() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match parse::frame_len(&buf) {
                Ok(Some(len)) => {
                    let frame = buf.split_to(len);
                    if frame.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                        continue;
                    }
                    deliver(streams, &frame, peer, &out_tx);
                }
                Ok(None) => {
                    if buf.len() > parse::MAX_STREAM_MESSAGE {
                        tracing::warn!(peer = %addr, transport = transport.as_str(),
                            "message over 256 KiB; closing");
                        break 'read;
                    }
                    break;
                }
                Err(e) => {
                    // The stream cannot be re-synchronised: answer if we can, close.
                    tracing::warn!(peer = %addr, transport = transport.as_str(), error = %e,
                        "bad stream framing; closing");
                    if let Some((_, reply)) = parse::reject_unparsable(&buf, &e) {
                        let _ = out_tx.send(Bytes::from(reply));
                    }
                    break 'read;
                }
            }
        }
    }
    let _ = in_tx.send(Inbound::Closed(id));
    drop(out_tx);
    let _ = writer.await;
}
