//! A small SIP user agent speaking plain text over real sockets, and the
//! helpers that read SIP messages.

use super::*;

/// Status code of a response, `None` for a request.
pub fn status(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// First value of a header (long or compact name), case-insensitive.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let head = msg.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

/// `tag=` of a To/From value.
pub fn tag(value: &str) -> Option<String> {
    value
        .split(';')
        .find_map(|p| p.trim().strip_prefix("tag=").map(str::to_string))
}

/// RTP port and address from an SDP body.
pub fn sdp_media(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .expect("m=audio line")
        .parse::<u16>()
        .unwrap();
    format!("{ip}:{port}").parse().unwrap()
}

pub(crate) fn token() -> String {
    format!(
        "{:x}",
        rand_suffix() ^ (INSTANCE.load(Ordering::Relaxed) as u64) << 24
    )
}

/// What a stream transport reads and writes through.
pub trait ByteStream: Read + Write + Send {}
impl<T: Read + Write + Send> ByteStream for T {}

/// A TCP or TLS connection to the server.
struct StreamConn {
    io: Box<dyn ByteStream>,
    /// The socket under `io`, for read timeouts.
    socket: TcpStream,
    transport: &'static str,
}

/// A user agent on UDP (or TCP, or TLS) with one RTP socket per call.
pub struct Ua {
    pub sock: UdpSocket,
    pub local: SocketAddr,
    pub server: SocketAddr,
    tcp: Option<StreamConn>,
    tcp_buf: Vec<u8>,
}

/// A TLS client trusting only `ca` (a PEM certificate), TLS 1.2 or 1.3
/// as `versions` says.
pub fn tls_client(
    ca: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS client trusting `ca` that presents the client certificate `cert`
/// with its `key` (mutual TLS), TLS 1.3 or 1.2.
pub fn tls_client_cert(ca: &Path, cert: &Path, key: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap(),
    )
}

/// A TLS connection to `server` (certificate checked for its address).
pub fn tls_connect(
    server: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
) -> std::io::Result<(
    rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    TcpStream,
)> {
    let tcp = TcpStream::connect(server)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let socket = tcp.try_clone()?;
    let name = rustls::pki_types::ServerName::IpAddress(server.ip().into());
    let conn = rustls::ClientConnection::new(cfg, name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    // Finish the handshake now, so that a refused one shows here.
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok((tls, socket))
}

impl Ua {
    pub fn udp(server: SocketAddr) -> Ua {
        Ua::udp_from("127.0.0.1", server)
    }

    pub fn udp_from(ip: &str, server: SocketAddr) -> Ua {
        let sock = UdpSocket::bind(format!("{ip}:0")).unwrap();
        let local = sock.local_addr().unwrap();
        Ua {
            sock,
            local,
            server,
            tcp: None,
            tcp_buf: Vec::new(),
        }
    }

    pub fn tcp(server: SocketAddr) -> Ua {
        let stream = TcpStream::connect(server).unwrap();
        let socket = stream.try_clone().unwrap();
        Ua::stream(server, Box::new(stream), socket, "TCP")
    }

    /// A user agent over TLS, trusting the certificate in `ca`.
    pub fn tls(server: SocketAddr, ca: &Path) -> Ua {
        let cfg = tls_client(ca, &[&rustls::version::TLS13, &rustls::version::TLS12]);
        Ua::tls_with(server, cfg)
    }

    /// A user agent over TLS with these client settings.
    pub fn tls_with(server: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> Ua {
        let (tls, socket) = tls_connect(server, cfg).expect("TLS handshake");
        Ua::stream(server, Box::new(tls), socket, "TLS")
    }

    /// A user agent on a connection made elsewhere (one a test server
    /// accepted, say): `server` is the far end.
    pub fn on_stream(
        server: SocketAddr,
        io: Box<dyn ByteStream>,
        socket: TcpStream,
        transport: &'static str,
    ) -> Ua {
        Ua::stream(server, io, socket, transport)
    }

    fn stream(
        server: SocketAddr,
        io: Box<dyn ByteStream>,
        socket: TcpStream,
        transport: &'static str,
    ) -> Ua {
        let local = socket.local_addr().unwrap();
        // The UDP socket stays for symmetry but is unused.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Ua {
            sock,
            local,
            server,
            tcp: Some(StreamConn {
                io,
                socket,
                transport,
            }),
            tcp_buf: Vec::new(),
        }
    }

    fn transport(&self) -> &'static str {
        self.tcp.as_ref().map_or("UDP", |s| s.transport)
    }

    pub fn send(&mut self, msg: &str) {
        match self.tcp.as_mut() {
            Some(s) => {
                s.io.write_all(msg.as_bytes()).unwrap();
                s.io.flush().unwrap();
            }
            None => {
                self.sock.send_to(msg.as_bytes(), self.server).unwrap();
            }
        }
    }

    pub fn send_bytes(&self, data: &[u8]) {
        self.sock.send_to(data, self.server).unwrap();
    }

    /// Next SIP message, or `None` after `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Option<String> {
        if self.tcp.is_some() {
            return self.recv_tcp(timeout);
        }
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 65536];
        match self.sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
            Err(_) => None,
        }
    }

    fn recv_tcp(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = String::from_utf8_lossy(&self.tcp_buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = header(&text, "Content-Length")
                    .or_else(|| header(&text, "l"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if text.len() >= end + 4 + len {
                    let msg = text[..end + 4 + len].to_string();
                    self.tcp_buf.drain(..end + 4 + len);
                    return Some(msg);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let s = self.tcp.as_mut().unwrap();
            s.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut buf = [0u8; 8192];
            match s.io.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.tcp_buf.extend_from_slice(&buf[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Receive until a message matching `pred`, answering nothing else.
    pub fn recv_until(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let m = self.recv(left)?;
            if pred(&m) {
                return Some(m);
            }
        }
    }

    /// Receive a final response (skipping provisional ones).
    pub fn final_response(&mut self, timeout: Duration) -> String {
        self.recv_until(timeout, |m| status(m).is_some_and(|c| c >= 200))
            .expect("final response")
    }

    /// Start a call: returns after sending the INVITE.
    pub fn invite(&mut self, did: &str, offer: &Offer) -> Call {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtp_addr = rtp.local_addr().unwrap();
        let call_id = format!("{}@test", token());
        let from_tag = token();
        let branch = format!("z9hG4bK{}", token());
        let sdp = offer.sdp(rtp_addr.port());
        let extra = offer.extra_headers.clone();
        let msg = format!(
            "INVITE sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/{t} {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test\" <sip:{caller}@{ip}>;tag={from_tag}\r\nTo: <sip:{did}@{server}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:test@{local}>\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            server = self.server,
            t = self.transport(),
            local = self.local,
            caller = offer.caller,
            ip = self.local.ip(),
            len = sdp.len(),
        );
        self.send(&msg);
        Call {
            did: did.into(),
            call_id,
            from_tag,
            to_tag: None,
            branch,
            cseq: 1,
            rtp,
            remote_rtp: None,
            invite: msg,
            seq: 1000,
            ts: 5000,
            ssrc: 0x1234_5678,
            answer: String::new(),
        }
    }

    /// Send an in-dialog request; returns its final response.
    pub fn request(&mut self, call: &mut Call, method: &str, extra: &str, body: &str) -> String {
        call.cseq += 1;
        let msg = call.in_dialog(self, method, extra, body);
        self.send(&msg);
        self.recv_until(Duration::from_secs(5), |m| {
            status(m).is_some_and(|c| c >= 200)
                && header(m, "CSeq").is_some_and(|c| c.ends_with(method))
        })
        .unwrap_or_else(|| panic!("no final response to {method}"))
    }

    /// Wait for the 200 and ACK it. Returns the 200.
    pub fn answer(&mut self, call: &mut Call, timeout: Duration) -> String {
        let ok = self.final_response(timeout);
        assert_eq!(status(&ok), Some(200), "expected 200, got:\n{ok}");
        call.to_tag = header(&ok, "To").and_then(tag);
        call.remote_rtp = Some(sdp_media(body(&ok)));
        call.answer = ok.clone();
        let ack = call.in_dialog(self, "ACK", "", "");
        self.send(&ack);
        ok
    }

    /// Answer a request the server sent us (its BYE): 200 OK.
    pub fn reply_ok(&mut self, req: &str) {
        self.send(&ok_to(req));
    }
}

/// A 200 OK to a request: its Via, From, To, Call-ID and CSeq, no body.
pub fn ok_to(req: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        for l in req.split("\r\n\r\n").next().unwrap().lines().skip(1) {
            if let Some((k, _)) = l.split_once(':') {
                if k.trim().eq_ignore_ascii_case(name) {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
            }
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// What the caller offers.
#[derive(Clone)]
pub struct Offer {
    pub formats: String,
    pub rtpmaps: String,
    pub direction: &'static str,
    pub caller: String,
    pub extra_headers: String,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            formats: "0 8 101".into(),
            rtpmaps: "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n".into(),
            direction: "sendrecv",
            caller: "0612345678".into(),
            extra_headers: String::new(),
        }
    }
}

impl Offer {
    pub fn sdp(&self, port: u16) -> String {
        format!(
            "v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n{}a=ptime:20\r\na={}\r\n",
            self.formats, self.rtpmaps, self.direction
        )
    }
}

/// One call from the test UA.
pub struct Call {
    pub did: String,
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub branch: String,
    pub cseq: u32,
    pub rtp: UdpSocket,
    pub remote_rtp: Option<SocketAddr>,
    pub invite: String,
    pub(super) seq: u16,
    pub(super) ts: u32,
    pub(super) ssrc: u32,
    pub answer: String,
}

impl Call {
    pub fn in_dialog(&self, ua: &Ua, method: &str, extra: &str, body: &str) -> String {
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let (branch, cseq) = match method {
            "ACK" if self.to_tag.is_none() => (self.branch.clone(), 1), // ACK to a non-2xx
            "ACK" => (format!("z9hG4bK{}", token()), 1),
            "CANCEL" => (self.branch.clone(), 1),
            _ => (format!("z9hG4bK{}", token()), self.cseq),
        };
        let ctype = if body.is_empty() || extra.contains("Content-Type") {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".into()
        };
        format!(
            "{method} sip:{did}@{server} SIP/2.0\r\nVia: SIP/2.0/{t} {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test\" <sip:0612345678@{ip}>;tag={ft}\r\nTo: <sip:{did}@{server}>{to_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:test@{local}>\r\n{extra}{ctype}Content-Length: {len}\r\n\r\n{body}",
            did = self.did,
            server = ua.server,
            t = ua.transport(),
            local = ua.local,
            ip = ua.local.ip(),
            ft = self.from_tag,
            cid = self.call_id,
            len = body.len(),
        )
    }
}
