//! Tests of SDP parsing, offer/answer negotiation and answers.

use super::*;

const SIPP_OFFER: &str = "v=0\r\n\
    o=user1 53655765 2353687637 IN IP4 127.0.1.1\r\n\
    s=-\r\n\
    c=IN IP4 127.0.1.1\r\n\
    t=0 0\r\n\
    m=audio 6000 RTP/AVP 0\r\n\
    a=rtpmap:0 PCMU/8000\r\n";

const SOFTPHONE_OFFER: &str = "v=0\r\n\
    o=- 3898766417 3898766418 IN IP4 192.0.2.20\r\n\
    s=pjmedia\r\n\
    b=AS:84\r\n\
    t=0 0\r\n\
    a=X-nat:0\r\n\
    m=audio 4000 RTP/AVP 8 0 18 101\r\n\
    c=IN IP4 192.0.2.20\r\n\
    b=TIAS:64000\r\n\
    a=rtcp:4001 IN IP4 192.0.2.20\r\n\
    a=sendrecv\r\n\
    a=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:18 G729/8000\r\n\
    a=fmtp:18 annexb=no\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-16\r\n\
    a=ptime:30\r\n\
    a=ssrc:1218957185 cname:4b1e6c2b3a7d2f1e\r\n";

fn negotiate_text(text: &str) -> Result<Negotiated, SdpError> {
    negotiate(&parse(text)?, &Codec::ALL)
}

#[test]
fn sipp_default_offer() {
    let sdp = parse(SIPP_OFFER).unwrap();
    assert_eq!(sdp.origin.username, "user1");
    assert_eq!(sdp.origin.session_id, "53655765");
    assert_eq!(sdp.origin.session_version, 2353687637);
    assert_eq!(sdp.session_name, "-");
    assert_eq!(sdp.connection, Some("127.0.1.1".parse().unwrap()));
    let audio = sdp.audio().unwrap();
    assert_eq!((audio.port, audio.protocol.as_str()), (6000, "RTP/AVP"));
    assert_eq!(audio.formats, ["0"]);
    let n = negotiate(&sdp, &Codec::ALL).unwrap();
    assert_eq!(
        n,
        Negotiated {
            codec: Codec::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
            remote_rtp: "127.0.1.1:6000".parse().unwrap(),
            direction: Direction::SendRecv,
            ptime_ms: 20,
            remote_session_version: 2353687637,
            lines: vec![None],
        }
    );
}

#[test]
fn softphone_offer_in_offer_order_with_dtmf() {
    let sdp = parse(SOFTPHONE_OFFER).unwrap();
    let audio = sdp.audio().unwrap();
    assert_eq!(audio.fmtp(18), Some("annexb=no"));
    assert_eq!(audio.fmtp(101), Some("0-16"));
    assert_eq!(audio.ptime, Some(30));
    assert_eq!(audio.direction, Some(Direction::SendRecv));
    let n = negotiate(&sdp, &Codec::ALL).unwrap();
    assert_eq!(
        n.codec,
        Codec::Pcma,
        "the offer's first supported codec wins"
    );
    assert_eq!(n.payload_type, 8);
    assert_eq!(n.dtmf_payload_type, Some(101));
    assert_eq!(n.remote_rtp, "192.0.2.20:4000".parse().unwrap());
    assert_eq!(n.ptime_ms, 30);
    assert_eq!(n.remote_session_version, 3898766418);
    // Restricting what we support changes the pick.
    let n = negotiate(&sdp, &[Codec::Pcmu]).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
}

#[test]
fn only_g729_is_no_common_codec() {
    let offer = SOFTPHONE_OFFER.replace(
        "m=audio 4000 RTP/AVP 8 0 18 101",
        "m=audio 4000 RTP/AVP 18 101",
    );
    assert_eq!(negotiate_text(&offer), Err(SdpError::NoCommonCodec));
    assert_eq!(
        negotiate(&parse(SIPP_OFFER).unwrap(), &[Codec::Pcma]),
        Err(SdpError::NoCommonCodec)
    );
    assert_eq!(
        negotiate(&parse(SIPP_OFFER).unwrap(), &[]),
        Err(SdpError::NoCommonCodec)
    );
}

#[test]
fn dynamic_payload_types_and_rates() {
    let offer = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
        m=audio 5004 RTP/AVP 97 96 0 100 101\n\
        a=rtpmap:97 PCMU/16000\n\
        a=rtpmap:96 pcma/8000/1\n\
        a=rtpmap:0 PCMU/8000\n\
        a=rtpmap:100 telephone-event/48000\n\
        a=rtpmap:101 telephone-event/8000\n";
    let n = negotiate_text(offer).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 96));
    assert_eq!(n.dtmf_payload_type, Some(101));
    // Stereo G.711 is not ours; a static type remapped to another codec is not G.711.
    let offer = "v=0\no=- 1 1 IN IP4 10.0.0.1\nc=IN IP4 10.0.0.1\n\
        m=audio 5004 RTP/AVP 96 0\na=rtpmap:96 PCMA/8000/2\na=rtpmap:0 G722/8000\n";
    assert_eq!(negotiate_text(offer), Err(SdpError::NoCommonCodec));
    // telephone-event declared but not in the format list is not negotiated.
    let offer = "v=0\no=- 1 1 IN IP4 10.0.0.1\nc=IN IP4 10.0.0.1\n\
        m=audio 5004 RTP/AVP 0\na=rtpmap:101 telephone-event/8000\n";
    assert_eq!(negotiate_text(offer).unwrap().dtmf_payload_type, None);
}

#[test]
fn ipv6_offer() {
    let offer = "v=0\r\no=- 42 7 IN IP6 2001:db8::10\r\ns=-\r\nc=IN IP6 2001:db8::10\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let n = negotiate_text(offer).unwrap();
    assert_eq!(n.remote_rtp, "[2001:db8::10]:30000".parse().unwrap());
    let answer = build_answer("2001:db8::1".parse().unwrap(), 20000, &n, 5, 6);
    assert!(
        answer.contains("o=softswitch 5 6 IN IP6 2001:db8::1\r\n"),
        "{answer}"
    );
    assert!(answer.contains("c=IN IP6 2001:db8::1\r\n"), "{answer}");
    let back = parse(&answer).unwrap();
    assert_eq!(back.connection, Some("2001:db8::1".parse().unwrap()));
}

#[test]
fn hold_and_directions() {
    let with = |attr: &str| SIPP_OFFER.to_string() + attr;
    let dir = |text: &str| negotiate_text(text).unwrap().direction;
    assert_eq!(dir(&with("a=sendonly\r\n")), Direction::RecvOnly);
    assert_eq!(dir(&with("a=recvonly\r\n")), Direction::SendOnly);
    assert_eq!(dir(&with("a=inactive\r\n")), Direction::Inactive);
    assert_eq!(dir(&with("a=sendrecv\r\n")), Direction::SendRecv);
    // Session-level direction applies unless the media section overrides it.
    let session_level = SIPP_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    assert_eq!(dir(&session_level), Direction::RecvOnly);
    assert_eq!(
        dir(&(session_level + "a=sendrecv\r\n")),
        Direction::SendRecv
    );
    // RFC 2543 hold: c=0.0.0.0.
    let held = SIPP_OFFER.replace("c=IN IP4 127.0.1.1", "c=IN IP4 0.0.0.0");
    let n = negotiate_text(&held).unwrap();
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(n.remote_rtp.ip().is_unspecified());
    assert_eq!(dir(&(held.clone() + "a=sendonly\r\n")), Direction::RecvOnly);
    assert_eq!(dir(&(held + "a=recvonly\r\n")), Direction::Inactive);
}

#[test]
fn media_level_connection_overrides_session_level() {
    let offer = SIPP_OFFER.replace(
        "a=rtpmap:0 PCMU/8000\r\n",
        "c=IN IP4 198.51.100.7\r\na=rtpmap:0 PCMU/8000\r\n",
    );
    let n = negotiate_text(&offer).unwrap();
    assert_eq!(n.remote_rtp, "198.51.100.7:6000".parse().unwrap());
}

#[test]
fn negotiation_errors() {
    let no_c = SIPP_OFFER.replace("c=IN IP4 127.0.1.1\r\n", "");
    assert_eq!(negotiate_text(&no_c), Err(SdpError::NoConnection));
    let port0 = SIPP_OFFER.replace("m=audio 6000", "m=audio 0");
    assert_eq!(negotiate_text(&port0), Err(SdpError::AudioDisabled));
    let video = SIPP_OFFER.replace("m=audio 6000 RTP/AVP 0", "m=video 6000 RTP/AVP 31");
    assert_eq!(negotiate_text(&video), Err(SdpError::NoAudio));
    let srtp = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP");
    assert_eq!(
        negotiate_text(&srtp),
        Err(SdpError::UnsupportedTransport("RTP/SAVP".into()))
    );
    // With an SRTP and a plain RTP audio section, the plain one is used.
    let both = SIPP_OFFER.replace(
        "m=audio 6000 RTP/AVP 0\r\n",
        "m=audio 7000 RTP/SAVP 0\r\nm=audio 6000 RTP/AVP 0\r\n",
    );
    assert_eq!(negotiate_text(&both).unwrap().remote_rtp.port(), 6000);
    // Audio after a video section is found.
    let av = SIPP_OFFER.replace(
        "m=audio 6000 RTP/AVP 0\r\n",
        "m=video 6002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 6000 RTP/AVP 0\r\n",
    );
    assert_eq!(negotiate_text(&av).unwrap().codec, Codec::Pcmu);
}

#[test]
fn syntax_errors_name_the_line_and_what_was_expected() {
    let bad_m = SIPP_OFFER.replace("m=audio 6000 RTP/AVP 0", "m=audio six RTP/AVP 0");
    let err = parse(&bad_m).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 6: bad m= line: expected \"m=audio <port> RTP/AVP <formats>\""
    );
    let cases = [
        (
            "m=audio 6000 RTP/AVP 0",
            "m=audio 6000 RTP/AVP",
            6,
            "bad m= line",
        ),
        (
            "m=audio 6000 RTP/AVP 0",
            "m=audio 6000 RTP/AVP PCMU",
            6,
            "bad m= line",
        ),
        (
            "m=audio 6000 RTP/AVP 0",
            "m=audio 70000 RTP/AVP 0",
            6,
            "bad m= line",
        ),
        (
            "c=IN IP4 127.0.1.1",
            "c=IN IP4 pbx.example.com",
            4,
            "bad c= line",
        ),
        ("c=IN IP4 127.0.1.1", "c=IN IP6 127.0.1.1", 4, "bad c= line"),
        ("c=IN IP4 127.0.1.1", "c=IN", 4, "bad c= line"),
        (
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:0 PCMU",
            7,
            "bad a=rtpmap line",
        ),
        (
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:x PCMU/8000",
            7,
            "bad a=rtpmap line",
        ),
        (
            "a=rtpmap:0 PCMU/8000",
            "a=fmtp:zz 0-16",
            7,
            "bad a=fmtp line",
        ),
        (
            "a=rtpmap:0 PCMU/8000",
            "a=ptime:soon",
            7,
            "bad a=ptime line",
        ),
        (
            "o=user1 53655765 2353687637 IN IP4 127.0.1.1",
            "o=user1 1 2",
            2,
            "bad o= line",
        ),
        ("s=-", "garbage", 3, "expected \"<type>=<value>\""),
    ];
    for (from, to, line, what) in cases {
        let text = SIPP_OFFER.replace(from, to);
        match parse(&text) {
            Err(SdpError::Syntax { line: l, message }) => {
                assert_eq!(l, line, "{to}");
                assert!(message.starts_with(what), "{to}: {message}");
            }
            other => panic!("{to}: {other:?}"),
        }
    }
    let err = parse("o=- 1 1 IN IP4 1.2.3.4\r\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1: expected \"v=0\" as the first line"
    );
    assert_eq!(parse(""), Err(SdpError::MissingLine("v=")));
    assert_eq!(parse("v=0\r\ns=x\r\n"), Err(SdpError::MissingLine("o=")));
}

#[test]
fn lf_endings_blank_lines_and_unknown_lines() {
    let text = SIPP_OFFER.replace("\r\n", "\n") + "\n\nx=whatever\nb=AS:64\na=maxptime:40\n";
    let sdp = parse(&text).unwrap();
    assert_eq!(sdp, parse(SIPP_OFFER).unwrap());
    assert_eq!(SIPP_OFFER.parse::<SessionDescription>().unwrap(), sdp);
    assert_eq!(SessionDescription::parse(SIPP_OFFER).unwrap(), sdp);
}

#[test]
fn answer_is_valid_and_round_trips() {
    let n = negotiate_text(SOFTPHONE_OFFER).unwrap();
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let answer = build_answer(ip, 20002, &n, 1234, 1);
    assert_eq!(
        answer,
        "v=0\r\n\
         o=softswitch 1234 1 IN IP4 127.0.0.1\r\n\
         s=softswitch\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         m=audio 20002 RTP/AVP 8 101\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
    let back = parse(&answer).unwrap();
    assert_eq!(back.origin.session_id, "1234");
    assert_eq!(back.session_name, "softswitch");
    // Negotiating our own answer as if it were an offer gives the same media.
    let again = negotiate(&back, &Codec::ALL).unwrap();
    assert_eq!(again.codec, n.codec);
    assert_eq!(again.payload_type, 8);
    assert_eq!(again.dtmf_payload_type, Some(101));
    assert_eq!(again.remote_rtp, SocketAddr::new(ip, 20002));
    assert_eq!(again.ptime_ms, 20);
    assert_eq!(again.remote_session_version, 1);

    // Without DTMF and on hold.
    let held = SIPP_OFFER.to_string() + "a=sendonly\r\n";
    let n = negotiate_text(&held).unwrap();
    let answer = build_answer(ip, 20004, &n, 9, 2);
    assert!(answer.contains("m=audio 20004 RTP/AVP 0\r\n"), "{answer}");
    assert!(!answer.contains("telephone-event"));
    assert!(answer.ends_with("a=recvonly\r\n"));
    let back = parse(&answer).unwrap();
    assert_eq!(back.audio().unwrap().direction, Some(Direction::RecvOnly));
}

#[test]
fn answer_declines_extra_m_lines_at_port_0_in_the_offer_order() {
    // A video line first, two audio lines (the SRTP one we cannot take and
    // a plain one), and a data channel: RFC 3264 section 6.
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
         m=video 5002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
         m=audio 5004 RTP/SAVP 0\r\n\
         m=audio 5006 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
         m=application 5008 UDP/BFCP *\r\n";
    let n = negotiate_text(offer).unwrap();
    assert_eq!(n.remote_rtp, "192.0.2.7:5006".parse().unwrap());
    assert_eq!(n.lines.len(), 4);
    assert!(n.lines[2].is_none(), "{:?}", n.lines);
    let answer = build_answer("127.0.0.1".parse().unwrap(), 20020, &n, 5, 1);
    let ms: Vec<&str> = answer.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        ms,
        [
            "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/SAVP 0",
            "m=audio 20020 RTP/AVP 8 101",
            "m=application 0 UDP/BFCP *",
        ]
    );
    let back = parse(&answer).unwrap();
    assert_eq!(back.media.len(), 4);
    assert_eq!(
        back.audio().unwrap().port,
        0,
        "the first audio line is declined"
    );
    assert_eq!(negotiate(&back, &Codec::ALL).unwrap().codec, Codec::Pcma);
}

#[test]
fn offer_round_trips() {
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let offer = build_offer(ip, 20010, &[Codec::Pcma, Codec::Pcmu], 101, 77, 3);
    assert!(
        offer.contains("m=audio 20010 RTP/AVP 8 0 101\r\n"),
        "{offer}"
    );
    assert!(offer.contains("a=rtpmap:0 PCMU/8000\r\n"));
    assert!(offer.contains("a=fmtp:101 0-16\r\n"));
    assert!(offer.lines().all(|l| !l.is_empty()));
    assert!(offer
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .all(|l| !l.contains('\n')));
    let sdp = parse(&offer).unwrap();
    let n = negotiate(&sdp, &Codec::ALL).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    assert_eq!(n.dtmf_payload_type, Some(101));
    assert_eq!(n.direction, Direction::SendRecv);
    assert_eq!(n.remote_rtp, SocketAddr::new(ip, 20010));
}

#[test]
fn direction_helpers() {
    for d in [
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ] {
        assert_eq!(Direction::from_attribute(d.attribute()), Some(d));
        assert_eq!(d.reverse().reverse(), d);
        assert_eq!(d.reverse().sends(), d.receives());
    }
    assert_eq!(Direction::from_attribute("sendRecv"), None);
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(text in "(v=0\r\n)?([a-z]=[ -~]{0,40}\r?\n){0,12}") {
        if let Ok(sdp) = parse(&text) {
            let _ = negotiate(&sdp, &Codec::ALL);
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_offers(pos in 0usize..300, byte in proptest::num::u8::ANY) {
        let mut bytes = SOFTPHONE_OFFER.as_bytes().to_vec();
        let pos = pos % bytes.len();
        bytes[pos] = byte;
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(sdp) = parse(&text) {
            let _ = negotiate(&sdp, &Codec::ALL);
        }
    }
}
