//! SIP over TLS end to end: a call over TLS with `sips:` and
//! `transport=tls` answered normally, TLS 1.0/1.1 refused and 1.2/1.3
//! taken (checked with `openssl s_client`), the certificate swapped on
//! SIGHUP, a failing peer logged once, the per-source connection cap, a
//! trunk admitted by its client certificate (mutual TLS), and a call out
//! to a trunk's proxy over TLS that answers its digest challenge.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::agent::{md5_hex, param};
use support::*;

const T: Duration = Duration::from_secs(5);

fn tls_server(extra: &str) -> Server {
    Server::start_with(Options {
        sip_extra: format!("tls = [\"127.0.0.1:0\"]\n{extra}"),
        ..Options::default()
    })
}

fn self_signed_cert(srv: &Server) -> PathBuf {
    srv.dir.join("var/tls/sip-cert.pem")
}

/// `openssl s_client` against `addr` with one protocol flag; its output.
fn s_client(addr: std::net::SocketAddr, flag: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), flag])
        .stdin(Stdio::null())
        .output()
        .expect("openssl (Debian package openssl)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_call_over_tls_is_answered_and_ended_with_tls_contacts() {
    let srv = tls_server("");
    let tls = srv.tls.expect("READY names sip_tls");
    let mut ua = Ua::tls(tls, &self_signed_cert(&srv));
    let mut call = ua.invite("3422", &Offer::default());
    let ok = ua.answer(&mut call, T);
    let contact = header(&ok, "Contact").unwrap();
    assert!(contact.contains("transport=tls"), "{contact}");
    assert!(
        contact.contains(&format!(":{}", tls.port())),
        "Contact names the TLS listener: {contact}"
    );
    assert!(
        !call.collect_rtp(Duration::from_millis(400)).is_empty(),
        "the call's media flows as for any call"
    );
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["flow"], "demo", "{rec}");

    // A sips: Request-URI on the same connection reaches the same DID.
    let local = ua.local;
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sdp = Offer::default().sdp(rtp.local_addr().unwrap().port());
    let invite = format!(
        "INVITE sips:3422@{tls} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKsips1\r\nMax-Forwards: 70\r\nFrom: <sips:0612345678@127.0.0.1>;tag=s1\r\nTo: <sips:3422@{tls}>\r\nCall-ID: sips-1@test\r\nCSeq: 1 INVITE\r\nContact: <sips:test@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    ua.send(&invite);
    let ok = ua.final_response(T);
    assert_eq!(status(&ok), Some(200), "{ok}");
    let to = header(&ok, "To").unwrap().to_string();
    ua.send(&format!(
        "ACK sips:3422@{tls} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKsips2\r\nMax-Forwards: 70\r\nFrom: <sips:0612345678@127.0.0.1>;tag=s1\r\nTo: {to}\r\nCall-ID: sips-1@test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    ));
    ua.send(&format!(
        "BYE sips:3422@{tls} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKsips3\r\nMax-Forwards: 70\r\nFrom: <sips:0612345678@127.0.0.1>;tag=s1\r\nTo: {to}\r\nCall-ID: sips-1@test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    let bye_ok = ua
        .recv_until(T, |m| header(m, "CSeq") == Some("2 BYE"))
        .expect("200 to BYE");
    assert_eq!(status(&bye_ok), Some(200), "{bye_ok}");
    let rec = srv.record("sips-1@test");
    assert_eq!(rec["did"], "3422", "{rec}");
}

#[test]
fn only_tls_1_2_and_1_3_are_spoken() {
    let srv = tls_server("");
    let tls = srv.tls.unwrap();
    for flag in ["-tls1", "-tls1_1"] {
        let (ok, text) = s_client(tls, flag);
        assert!(!ok, "{flag} must be refused:\n{text}");
    }
    let (ok, text) = s_client(tls, "-tls1_2");
    assert!(ok, "{text}");
    assert!(text.contains("TLSv1.2"), "{text}");
    let (ok, text) = s_client(tls, "-tls1_3");
    assert!(ok, "{text}");
    assert!(text.contains("TLSv1.3"), "{text}");
    // Our own client: a TLS 1.2-only connection works too.
    let cfg = tls_client(&self_signed_cert(&srv), &[&rustls::version::TLS12]);
    let (tls_conn, _) = tls_connect(tls, cfg).expect("TLS 1.2 handshake");
    assert_eq!(
        tls_conn.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

/// A certificate for 127.0.0.1 made by openssl into `dir`.
fn openssl_cert(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    openssl_self_signed(
        dir,
        stem,
        stem,
        &[
            "subjectAltName=IP:127.0.0.1",
            "basicConstraints=critical,CA:FALSE",
        ],
    )
}

/// A self-signed P-256 certificate `<stem>.pem` / `<stem>.key` in `dir`
/// for the common name `cn`, with these `-addext` extensions.
fn openssl_self_signed(dir: &Path, stem: &str, cn: &str, exts: &[&str]) -> (PathBuf, PathBuf) {
    let (pem, key) = (format!("{stem}.pem"), format!("{stem}.key"));
    let subject = format!("/CN={cn}");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &subject,
        "-keyout",
        &key,
        "-out",
        &pem,
    ];
    for e in exts {
        args.extend(["-addext", e]);
    }
    openssl(dir, &args);
    (dir.join(pem), dir.join(key))
}

fn peer_cert_der(tls: std::net::SocketAddr, ca: &Path) -> Vec<u8> {
    let cfg = tls_client(ca, &[&rustls::version::TLS13]);
    let (conn, _) = tls_connect(tls, cfg).expect("handshake");
    conn.conn.peer_certificates().unwrap()[0].to_vec()
}

#[test]
fn certificate_files_are_read_again_on_sighup_and_a_bad_peer_is_logged_once() {
    let dir = std::env::temp_dir().join(format!("sip-tls-certs-{}", std::process::id()));
    let (cert, key) = openssl_cert(&dir, "first");
    let srv = tls_server(&format!(
        "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        cert.display(),
        key.display()
    ));
    let tls = srv.tls.unwrap();
    let first = peer_cert_der(tls, &cert);
    assert!(srv.log_text().contains("SIP listening"));

    // New files in place, SIGHUP: new connections get the new certificate.
    let (cert2, key2) = openssl_cert(&dir, "second");
    std::fs::copy(&cert2, &cert).unwrap();
    std::fs::copy(&key2, &key).unwrap();
    let st = Command::new("kill")
        .args(["-HUP", &srv.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + T;
    while !srv.log_text().contains("SIP over TLS certificate reloaded") {
        assert!(Instant::now() < deadline, "{}", srv.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = peer_cert_der(tls, &cert);
    assert_ne!(first, second, "the reloaded certificate is served");

    // Plain text to the TLS port, three times: one warning, three failures.
    for _ in 0..3 {
        let mut s = TcpStream::connect(tls).unwrap();
        std::io::Write::write_all(
            &mut s,
            b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let mut buf = [0u8; 256];
        // rustls answers garbage with an alert (or closes); then EOF.
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    }
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.log_text();
    assert_eq!(
        log.matches("TLS handshake failed (logged once per address)")
            .count(),
        1,
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connections_past_the_per_source_cap_are_closed_at_once() {
    let srv = tls_server("max_connections_per_source = 3\n");
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(srv.tcp).unwrap())
        .collect();
    // Let the server take the three before the fourth comes.
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = TcpStream::connect(srv.tcp).unwrap();
    fourth.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(fourth.read(&mut buf), Ok(0) | Err(_)),
        "the fourth connection is closed"
    );
    // The three held ones still serve (OPTIONS over the first).
    let mut ua_conn = held.remove(0);
    let local = ua_conn.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:{tcp} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKcap\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{tcp}>\r\nCall-ID: cap@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        tcp = srv.tcp
    );
    std::io::Write::write_all(&mut ua_conn, options.as_bytes()).unwrap();
    ua_conn.set_read_timeout(Some(T)).unwrap();
    let mut got = [0u8; 2048];
    let n = ua_conn.read(&mut got).unwrap();
    let text = String::from_utf8_lossy(&got[..n]);
    assert_eq!(status(&text), Some(200), "{text}");
    // Closing one frees a place (the two others stay open).
    drop(ua_conn);
    assert_eq!(held.len(), 2);
    std::thread::sleep(Duration::from_millis(200));
    let mut again = Ua::tcp(srv.tcp);
    let again_local = again.local;
    again.send(&options.replace(&local.to_string(), &again_local.to_string()));
    let r = again.recv(T).expect("a new connection is served");
    assert_eq!(status(&r), Some(200), "{r}");
    let log = srv.log_text();
    assert_eq!(
        log.matches("too many SIP connections from one address")
            .count(),
        1,
        "{log}"
    );
}

/// Run openssl with `args` in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate authority `<stem>-ca.pem` / `<stem>-ca.key` in `dir`.
fn openssl_ca(dir: &Path, stem: &str) -> PathBuf {
    let exts = [
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign",
    ];
    openssl_self_signed(dir, &format!("{stem}-ca"), &format!("{stem} CA"), &exts).0
}

/// A client certificate `<stem>.pem` / `<stem>.key` for the DNS name
/// `name`, signed by the authority `ca` made by [`openssl_ca`].
fn openssl_client(dir: &Path, stem: &str, ca: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (pem, key, csr, ext) = (
        format!("{stem}.pem"),
        format!("{stem}.key"),
        format!("{stem}.csr"),
        format!("{stem}.ext"),
    );
    std::fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName=DNS:{name}\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    let ca_key = ca.with_extension("key");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
    (dir.join(pem), dir.join(key))
}

#[test]
fn a_trunk_with_mutual_tls_takes_calls_with_its_certificate_only() {
    let dir = std::env::temp_dir().join(format!("softswitch-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = openssl_ca(&dir, "oxe");
    let rogue = openssl_ca(&dir, "rogue");
    let good = openssl_client(&dir, "good", &ca, "oxe.example.fr");
    let misnamed = openssl_client(&dir, "misnamed", &ca, "other.example.fr");
    let forged = openssl_client(&dir, "forged", &rogue, "oxe.example.fr");
    let srv = Server::start_with(Options {
        sip_extra: "tls = [\"127.0.0.1:0\"]\n".into(),
        // The plain trunk no longer takes loopback calls by address.
        allow: "192.0.2.0/24".into(),
        extra_trunks: format!(
            "[[trunks]]\nname = \"oxe-tls\"\ntls_client_ca_files = [\"{}\"]\ntls_client_names = [\"oxe.example.fr\"]\ndids = {{ \"3423\" = \"demo\" }}\n",
            ca.display()
        ),
        ..Options::default()
    });
    let tls = srv.tls.expect("READY names sip_tls");
    let server_ca = self_signed_cert(&srv);

    // Over UDP the call is not the trunk's: 403, with nothing said of
    // certificates (a scan from the internet is not a TLS problem).
    let mut udp = Ua::udp(srv.udp);
    let _ = udp.invite("3423", &Offer::default());
    let resp = udp.final_response(T);
    assert_eq!(status(&resp), Some(403), "{resp}");
    assert!(
        !srv.log_text().contains("mutual TLS refused"),
        "{}",
        srv.log_text()
    );

    // The trunk's own certificate: the call is the trunk's.
    let mut ua = Ua::tls_with(tls, tls_client_cert(&server_ca, &good.0, &good.1));
    let mut call = ua.invite("3423", &Offer::default());
    ua.answer(&mut call, T);
    let r = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&r), Some(200), "{r}");
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["trunk"], "oxe-tls", "{rec}");

    // No certificate, or one for another name from the same authority:
    // 403, and the log says why.
    for (ua, why) in [
        (Ua::tls(tls, &server_ca), "no client certificate"),
        (
            Ua::tls_with(tls, tls_client_cert(&server_ca, &misnamed.0, &misnamed.1)),
            "client certificate names none of oxe.example.fr",
        ),
    ] {
        let mut ua = ua;
        let call = ua.invite("3423", &Offer::default());
        let resp = ua.final_response(T);
        assert_eq!(status(&resp), Some(403), "{why}: {resp}");
        let _ = call;
        let log = srv.log_text();
        assert!(
            log.contains("mutual TLS refused the call") && log.contains(why),
            "{why}:\n{log}"
        );
    }

    // A certificate from an authority no trunk trusts fails the handshake
    // (TLS 1.3 clients learn it at their first read): no SIP reaches the
    // call layer.
    if let Ok((mut conn, _)) = tls_connect(tls, tls_client_cert(&server_ca, &forged.0, &forged.1)) {
        use std::io::Write;
        let _ = conn.write_all(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n");
        let mut buf = [0u8; 64];
        assert!(
            !matches!(conn.read(&mut buf), Ok(n) if n > 0),
            "a forged certificate gets no answer"
        );
    }
    let deadline = Instant::now() + T;
    while !srv.log_text().contains("TLS handshake failed") {
        assert!(Instant::now() < deadline, "{}", srv.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The UDP refusal, the call and the two TLS refusals, and nothing
    // from the forged client.
    let deadline = Instant::now() + T;
    while srv.records().len() < 4 {
        assert!(Instant::now() < deadline, "{:?}", srv.records());
        std::thread::sleep(Duration::from_millis(50));
    }
    let recs = srv.records();
    assert_eq!(recs.len(), 4, "{recs:?}");
    assert_eq!(
        recs.iter().filter(|r| r["sip_code"] == 403).count(),
        3,
        "{recs:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A self-signed certificate for the DNS name `name` only (no address).
fn openssl_named_cert(dir: &Path, stem: &str, name: &str) -> (PathBuf, PathBuf) {
    let san = format!("subjectAltName=DNS:{name}");
    openssl_self_signed(
        dir,
        stem,
        name,
        &[&san, "basicConstraints=critical,CA:FALSE"],
    )
}

/// A final response to `req` with `status` (e.g. "407 Proxy Authentication
/// Required"), a To tag, and `extra` header lines.
fn reply(req: &str, status: &str, extra: &str) -> String {
    let ok = ok_to(req);
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in ok.lines().skip(1).filter(|l| !l.is_empty()) {
        if line.starts_with("Content-Length") {
            continue;
        }
        out.push_str(line);
        if line.starts_with("To:") && !line.contains("tag=") {
            out.push_str(";tag=far1");
        }
        out.push_str("\r\n");
    }
    out.push_str(extra);
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

#[test]
fn a_call_out_over_tls_answers_the_proxys_digest_challenge() {
    let dir = std::env::temp_dir().join(format!("softswitch-tls-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The carrier's SBC: known by its name, not its address.
    let (cert, key) = openssl_named_cert(&dir, "sbc", "sbc.carrier.test");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let far = listener.local_addr().unwrap();
    let srv = Server::start_with(Options {
        sip_extra: format!(
            "tls = [\"127.0.0.1:0\"]\ntls_ca_files = [\"{}\"]\n",
            cert.display()
        ),
        flows: vec![("transfer-out.toml".into(), TRANSFER_FLOW.into())],
        dids: r#", "7300" = "transfer-out""#.into(),
        extra_trunks: format!(
            "[[trunks]]\nname = \"out\"\noutbound_proxy = \"{far}\"\noutbound_transport = \"tls\"\noutbound_tls_name = \"sbc.carrier.test\"\noutbound_username = \"softswitch\"\noutbound_password = \"s3cret\"\n"
        ),
        ..Options::default()
    });
    let server_cfg = {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
        )
    };
    let sbc = std::thread::spawn(move || {
        let (tcp, peer) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(T)).unwrap();
        let socket = tcp.try_clone().unwrap();
        let conn = rustls::ServerConnection::new(server_cfg).unwrap();
        let mut ua = Ua::on_stream(
            peer,
            Box::new(rustls::StreamOwned::new(conn, tcp)),
            socket,
            "TLS",
        );
        let first = ua
            .recv_until(T, |m| m.starts_with("INVITE"))
            .expect("INVITE over TLS");
        ua.send(&reply(
            &first,
            "407 Proxy Authentication Required",
            "Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce42\", qop=\"auth\", algorithm=MD5\r\n",
        ));
        ua.recv_until(T, |m| m.starts_with("ACK"))
            .expect("ACK of the 407");
        let second = ua
            .recv_until(T, |m| m.starts_with("INVITE"))
            .expect("INVITE again");
        ua.send(&reply(&second, "486 Busy Here", ""));
        ua.recv_until(T, |m| m.starts_with("ACK"))
            .expect("ACK of the 486");
        (first, second)
    });
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7300", &Offer::default());
    ua.answer(&mut call, T);
    let (first, second) = sbc.join().unwrap();
    assert!(first.starts_with("INVITE sip:0184903422@"), "{first}");
    assert!(
        // Parameter values are case-insensitive (RFC 3261 19.1.4).
        first
            .lines()
            .next()
            .unwrap()
            .to_ascii_lowercase()
            .ends_with(";transport=tls sip/2.0"),
        "{first}"
    );
    assert!(
        header(&first, "Via").unwrap().starts_with("SIP/2.0/TLS "),
        "{first}"
    );
    assert!(header(&first, "Proxy-Authorization").is_none());
    // The second INVITE: a new transaction answering the challenge.
    assert_eq!(header(&second, "CSeq"), Some("2 INVITE"), "{second}");
    assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"));
    let auth = header(&second, "Proxy-Authorization").expect("Proxy-Authorization");
    let uri = param(auth, "uri").unwrap_or_default();
    let ha1 = md5_hex("softswitch:carrier:s3cret");
    let ha2 = md5_hex(&format!("INVITE:{uri}"));
    let expected = md5_hex(&format!(
        "{ha1}:n0nce42:{}:{}:auth:{ha2}",
        param(auth, "nc").unwrap_or_default(),
        param(auth, "cnonce").unwrap_or_default()
    ));
    assert_eq!(
        param(auth, "username").unwrap_or_default(),
        "softswitch",
        "{auth}"
    );
    assert_eq!(
        param(auth, "response").unwrap_or_default(),
        expected,
        "{auth}"
    );
    // Busy: the flow's fallback plays and hangs up; the record says so.
    let bye = ua
        .recv_until(Duration::from_secs(20), |m| m.starts_with("BYE"))
        .expect("the fallback hangs up");
    ua.reply_ok(&bye);
    let rec = srv.record(&call.call_id);
    let t = &rec["transfer_out"];
    assert_eq!(
        (
            t["trunk"].as_str(),
            t["result"].as_str(),
            t["sip_code"].as_u64()
        ),
        (Some("out"), Some("busy"), Some(486)),
        "{rec}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
