//! A test agent phone: registers with digest auth (computed here, not with
//! the code under test), is rung by the softswitch, rings, answers with its
//! own RTP socket, declines, or hangs up.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use super::{body, header, ok_to, sdp_media, status, token};

/// MD5 in lower-case hex, as digest authentication writes it.
pub fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `name="value"` (or `name=value`) out of a Digest header.
pub fn param(challenge: &str, name: &str) -> Option<String> {
    let i = challenge.find(&format!("{name}="))?;
    let rest = &challenge[i + name.len() + 1..];
    Some(match rest.strip_prefix('"') {
        Some(q) => q[..q.find('"')?].to_string(),
        None => rest.split([',', ' ']).next()?.to_string(),
    })
}

/// An agent's SIP phone on UDP.
pub struct AgentPhone {
    pub id: String,
    password: String,
    pub sock: UdpSocket,
    pub local: SocketAddr,
    pub server: SocketAddr,
    call_id: String,
    cseq: u32,
}

/// A call the softswitch placed to the phone.
pub struct Ringing {
    pub invite: String,
    pub call_id: String,
    pub to_tag: String,
    pub from: String,
}

/// An answered call on the phone.
pub struct AgentCall {
    pub ring: Ringing,
    pub rtp: UdpSocket,
    pub remote_rtp: SocketAddr,
    cseq: u32,
    seq: u16,
    ts: u32,
}

impl AgentPhone {
    pub fn new(id: &str, password: &str, server: SocketAddr) -> AgentPhone {
        AgentPhone::new_from("127.0.0.1", id, password, server)
    }

    /// A phone on another loopback address (`127.0.0.7`): another source.
    pub fn new_from(ip: &str, id: &str, password: &str, server: SocketAddr) -> AgentPhone {
        let sock = UdpSocket::bind(format!("{ip}:0")).unwrap();
        let local = sock.local_addr().unwrap();
        AgentPhone {
            id: id.into(),
            password: password.into(),
            sock,
            local,
            server,
            call_id: format!("reg-{}@test", token()),
            cseq: 0,
        }
    }

    pub fn send(&self, msg: &str) {
        self.sock.send_to(msg.as_bytes(), self.server).unwrap();
    }

    pub fn recv(&self, timeout: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 65536];
        let (n, _) = self.sock.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).to_string())
    }

    pub fn recv_until(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.recv(deadline.checked_duration_since(Instant::now())?)?;
            if pred(&m) {
                return Some(m);
            }
        }
    }

    fn register_msg(&mut self, expires: u32, auth: &str) -> String {
        self.cseq += 1;
        format!(
            "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{id}@{srv}>;tag={t}\r\nTo: <sip:{id}@{srv}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{id}@{local}>\r\nExpires: {expires}\r\n{auth}User-Agent: test-agent\r\nContent-Length: 0\r\n\r\n",
            srv = self.server,
            local = self.local,
            b = token(),
            id = self.id,
            t = token(),
            cid = self.call_id,
            cseq = self.cseq,
        )
    }

    /// REGISTER, answer the challenge; the final status.
    pub fn register_for(&mut self, expires: u32) -> u16 {
        status(&self.register_response(expires)).unwrap()
    }

    /// REGISTER, answer the challenge; the final response.
    pub fn register_response(&mut self, expires: u32) -> String {
        let first = self.register_msg(expires, "");
        self.send(&first);
        let resp = self
            .recv_until(Duration::from_secs(5), |m| {
                status(m).is_some_and(|c| c >= 200)
            })
            .expect("response to REGISTER");
        if status(&resp) != Some(401) {
            return resp;
        }
        let ch = header(&resp, "WWW-Authenticate").expect("challenge");
        let (realm, nonce) = (param(ch, "realm").unwrap(), param(ch, "nonce").unwrap());
        let uri = format!("sip:{}", self.server);
        let ha1 = md5_hex(&format!("{}:{realm}:{}", self.id, self.password));
        let ha2 = md5_hex(&format!("REGISTER:{uri}"));
        let cnonce = token();
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        let auth = format!(
            "Authorization: Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"\r\n",
            self.id
        );
        let second = self.register_msg(expires, &auth);
        self.send(&second);
        self.recv_until(Duration::from_secs(5), |m| {
            status(m).is_some_and(|c| c >= 200)
        })
        .expect("response to the authenticated REGISTER")
    }

    /// Register for an hour; panics unless 200.
    pub fn register(&mut self) {
        assert_eq!(self.register_for(3600), 200, "agent {} registers", self.id);
    }

    /// Wait for the softswitch to ring this phone.
    pub fn await_invite(&self, within: Duration) -> Option<Ringing> {
        let inv = self.recv_until(within, |m| m.starts_with("INVITE "))?;
        let ring = Ringing {
            call_id: header(&inv, "Call-ID").unwrap().to_string(),
            to_tag: token(),
            from: header(&inv, "From").unwrap().to_string(),
            invite: inv,
        };
        self.reply(&ring, 180, "Ringing", "", "");
        Some(ring)
    }

    fn reply(&self, ring: &Ringing, code: u16, reason: &str, extra: &str, body: &str) {
        let mut out = format!("SIP/2.0 {code} {reason}\r\n");
        for l in ring
            .invite
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .lines()
            .skip(1)
        {
            let name = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            match name.as_str() {
                "via" | "from" | "call-id" | "cseq" => {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
                "to" => out.push_str(&format!("{l};tag={}\r\n", ring.to_tag)),
                _ => {}
            }
        }
        let ctype = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        out.push_str(&format!(
            "Contact: <sip:{}@{}>\r\n{extra}{ctype}Content-Length: {}\r\n\r\n{body}",
            self.id,
            self.local,
            body.len()
        ));
        self.send(&out);
    }

    /// Refuse with `code` (486 busy, 603 decline); expects the ACK.
    pub fn decline(&self, ring: &Ringing, code: u16) {
        self.reply(ring, code, "Busy Here", "", "");
        self.recv_until(Duration::from_secs(5), |m| m.starts_with("ACK "))
            .expect("ACK to our refusal");
    }

    /// Answer with PCMU (or `codec` "PCMA") and wait for the ACK.
    pub fn answer(&self, ring: Ringing, codec: &str) -> AgentCall {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rtp.local_addr().unwrap().port();
        let pt = if codec == "PCMA" { 8 } else { 0 };
        let sdp = format!(
            "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=agent\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {codec}/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        self.reply(&ring, 200, "OK", "", &sdp);
        self.recv_until(Duration::from_secs(5), |m| m.starts_with("ACK "))
            .expect("ACK to the agent's 200");
        let remote_rtp = sdp_media(body(&ring.invite));
        AgentCall {
            ring,
            rtp,
            remote_rtp,
            cseq: 1,
            seq: 1,
            ts: 0,
        }
    }

    /// Send a request inside an answered call; its final response.
    pub fn request(&self, call: &mut AgentCall, method: &str, extra: &str) -> String {
        self.request_with_body(call, method, extra, "")
    }

    /// Hold (`a=sendonly`) or resume (`a=sendrecv`) by re-INVITE; ACKs the 200.
    pub fn reinvite(&self, call: &mut AgentCall, direction: &str) -> String {
        let port = call.rtp.local_addr().unwrap().port();
        let sdp = format!(
            "v=0\r\no=agent 1 2 IN IP4 127.0.0.1\r\ns=agent\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
        );
        let resp =
            self.request_with_body(call, "INVITE", "Content-Type: application/sdp\r\n", &sdp);
        let to = header(&call.ring.invite, "To").unwrap();
        let ack = format!(
            "ACK sip:softswitch@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\nFrom: {to};tag={tt}\r\nTo: {from}\r\nCall-ID: {cid}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
            srv = self.server,
            local = self.local,
            b = token(),
            tt = call.ring.to_tag,
            from = header(&resp, "To").unwrap_or(call.ring.from.as_str()),
            cid = call.ring.call_id,
            cseq = call.cseq,
        );
        self.send(&ack);
        resp
    }

    fn request_with_body(
        &self,
        call: &mut AgentCall,
        method: &str,
        extra: &str,
        body: &str,
    ) -> String {
        call.cseq += 1;
        let to = header(&call.ring.invite, "To").unwrap();
        let msg = format!(
            "{method} sip:softswitch@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\nFrom: {to};tag={tt}\r\nTo: {from}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{id}@{local}>\r\n{extra}Content-Length: {len}\r\n\r\n{body}",
            len = body.len(),
            srv = self.server,
            local = self.local,
            b = token(),
            tt = call.ring.to_tag,
            from = call.ring.from,
            cid = call.ring.call_id,
            cseq = call.cseq,
            id = self.id,
        );
        self.send(&msg);
        self.recv_until(Duration::from_secs(5), |m| {
            status(m).is_some_and(|c| c >= 200)
                && header(m, "CSeq").is_some_and(|c| c.ends_with(method))
        })
        .unwrap_or_else(|| panic!("no final response to the agent's {method}"))
    }

    /// Hang up an answered call and wait for the 200.
    pub fn bye(&self, call: &mut AgentCall) {
        let ok = self.request(call, "BYE", "");
        assert_eq!(status(&ok), Some(200), "{ok}");
    }

    /// Blind transfer (REFER) to `target`; the status of the REFER, and
    /// the sipfrag of the NOTIFY that reports the outcome (answered 200).
    pub fn refer(&self, call: &mut AgentCall, target: &str) -> (u16, String) {
        let resp = self.request(
            call,
            "REFER",
            &format!("Refer-To: <sip:{target}@{}>\r\n", self.server),
        );
        let code = status(&resp).unwrap();
        if code != 202 {
            return (code, String::new());
        }
        let notify = self
            .recv_until(Duration::from_secs(5), |m| {
                m.starts_with("NOTIFY ") && header(m, "Call-ID") == Some(call.ring.call_id.as_str())
            })
            .expect("NOTIFY with the transfer's outcome");
        self.send(&ok_to(&notify));
        (code, body(&notify).to_string())
    }

    /// Answer the softswitch's BYE for this call.
    pub fn await_bye(&self, call: &AgentCall, within: Duration) -> bool {
        let Some(bye) = self.recv_until(within, |m| {
            m.starts_with("BYE ") && header(m, "Call-ID") == Some(call.ring.call_id.as_str())
        }) else {
            return false;
        };
        self.send(&ok_to(&bye));
        true
    }
}

impl AgentCall {
    /// Send `n` frames of payload type `pt`, 20 ms apart, every byte `byte`.
    pub fn send_frames(&mut self, n: usize, byte: u8, pt: u8) {
        for _ in 0..n {
            let mut p = vec![0x80, pt];
            p.extend_from_slice(&self.seq.to_be_bytes());
            p.extend_from_slice(&self.ts.to_be_bytes());
            p.extend_from_slice(&0xA6E7_0001u32.to_be_bytes());
            p.extend_from_slice(&[byte; 160]);
            self.rtp.send_to(&p, self.remote_rtp).unwrap();
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(160);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
