//! HTTP digest authentication for SIP (RFC 2617 / RFC 8760 with MD5, qop=auth):
//! the digest arithmetic, the parsing of its headers, secrets kept as a
//! password or as HA1, and the client's answer to a challenge.
//!
//! The server side is sans-IO and lives in the submodules: [`nonce`] issues
//! nonces bound to the client's address and tracks their counts (replays),
//! [`limits`] counts failures per source and per account, and [`server`]
//! puts them together in the order that keeps a flood cheap: the failure
//! limits are checked before any digest is computed.

pub mod limits;
pub mod nonce;
pub mod server;

pub use limits::{AuthStats, AuthStatsSnapshot, Limits, LimitsConfig};
pub use nonce::Nonces;
pub use server::{Attempt, DigestConfig, DigestServer, Outcome};

use md5::{Digest, Md5};

pub(crate) fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-MD5 (RFC 2104) of `data` under `key`, in lower-case hex (the
/// `hmac` crate's).
pub(crate) fn hmac_md5_hex(key: &[u8], data: &[u8]) -> String {
    use hmac::Mac;
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = hmac::Hmac::<Md5>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    hex(&mac.finalize().into_bytes())
}

/// Equality whose time does not depend on where two strings differ (the
/// `subtle` crate's; the length is not secret).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `HA1 = MD5(user:realm:password)`, lower-case hex: what an operator may
/// store instead of the password (`softswitch ha1`).
pub fn ha1(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&[user, realm, password])
}

/// Is `s` an HA1 as [`ha1`] writes it (32 hex digits, any case)?
pub fn is_ha1(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the server knows of an account: its password, or only its HA1 (so
/// no clear password need be stored). Its `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The account's password, in clear.
    Password(String),
    /// `MD5(user:realm:password)` in hex; only valid for that realm.
    Ha1(String),
}

impl Secret {
    /// The HA1 of `user` in `realm`.
    pub fn ha1(&self, user: &str, realm: &str) -> String {
        match self {
            Secret::Password(p) => ha1(user, realm, p),
            Secret::Ha1(h) => h.to_ascii_lowercase(),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Password(_) => "Password(..)",
            Secret::Ha1(_) => "Ha1(..)",
        })
    }
}

/// Parsed `Authorization` / `Proxy-Authorization` / `WWW-Authenticate` params.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestParams {
    /// `username`: the account name the client authenticates as.
    pub username: String,
    /// `realm`: the protection domain (the server's own, in a challenge).
    pub realm: String,
    /// `nonce`: the server-issued nonce the answer is computed with.
    pub nonce: String,
    /// `uri`: the digest URI; a server checks that it names the Request-URI.
    pub uri: String,
    /// `response`: the 32 hex digits of the client's digest (empty in a
    /// challenge).
    pub response: String,
    /// `algorithm`, if given; only `MD5` is supported (absent means MD5).
    pub algorithm: Option<String>,
    /// `qop`: in an answer, `auth` selects the RFC 2617 form of the digest
    /// (with `nc` and `cnonce`); in a challenge, the values offered.
    pub qop: Option<String>,
    /// `nc`: the nonce count, 8 hex digits; sent with `qop=auth`.
    pub nc: Option<String>,
    /// `cnonce`: the client's nonce; sent with `qop=auth`.
    pub cnonce: Option<String>,
    /// `opaque`: a server string the client echoes back unchanged.
    pub opaque: Option<String>,
}

/// Parse `Digest k="v", k=v, ...`. `None` when not a Digest header.
pub fn parse_digest(value: &str) -> Option<DigestParams> {
    let rest = value.trim();
    let (scheme, rest) = rest.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let mut p = DigestParams::default();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (val, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        let val = val.to_string();
        match key.as_str() {
            "username" => p.username = val,
            "realm" => p.realm = val,
            "nonce" => p.nonce = val,
            "uri" => p.uri = val,
            "response" => p.response = val,
            "algorithm" => p.algorithm = Some(val),
            "qop" => p.qop = Some(val),
            "nc" => p.nc = Some(val),
            "cnonce" => p.cnonce = Some(val),
            "opaque" => p.opaque = Some(val),
            _ => {}
        }
        s = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(p)
}

/// Expected `response` value for the given password and request.
pub fn digest_response(p: &DigestParams, password: &str, method: &str) -> String {
    digest_response_ha1(p, &ha1(&p.username, &p.realm, password), method)
}

/// Expected `response` value from the account's HA1.
pub fn digest_response_ha1(p: &DigestParams, ha1: &str, method: &str) -> String {
    let ha2 = md5_hex(&[method, &p.uri]);
    match (p.qop.as_deref(), &p.nc, &p.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
            md5_hex(&[ha1, &p.nonce, nc, cnonce, qop, &ha2])
        }
        _ => md5_hex(&[ha1, &p.nonce, &ha2]),
    }
}

/// Does the digest `uri` name the Request-URI (RFC 3261 section 22.4)?
/// Compared without regard to ASCII case, angle brackets or URI parameters
/// and headers, a missing port being the scheme's default (5060, sips 5061).
pub fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    fn core(uri: &str) -> Option<(String, String)> {
        let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
        let end = uri.find([';', '?']).unwrap_or(uri.len());
        let uri = uri[..end].to_ascii_lowercase();
        let (scheme, rest) = uri.split_once(':')?;
        let (user, host) = match rest.rsplit_once('@') {
            Some((u, h)) => (format!("{u}@"), h),
            None => (String::new(), rest),
        };
        let has_port = match host.rfind(']') {
            Some(close) => host[close..].contains(':'),
            None => host.contains(':'),
        };
        let host = if has_port {
            host.to_string()
        } else {
            let port = if scheme == "sips" { 5061 } else { 5060 };
            format!("{host}:{port}")
        };
        Some((scheme.to_string(), format!("{user}{host}")))
    }
    digest_uri.trim().eq_ignore_ascii_case(request_uri.trim())
        || matches!((core(digest_uri), core(request_uri)), (Some(a), Some(b)) if a == b)
}

/// Client side: the Authorization value answering `challenge`.
pub fn authorization(
    challenge: &str,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    let c = parse_digest(challenge)?;
    let qop = c
        .qop
        .as_deref()
        .filter(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")))
        .map(|_| "auth".to_string());
    let p = DigestParams {
        username: username.into(),
        realm: c.realm.clone(),
        nonce: c.nonce.clone(),
        uri: uri.into(),
        qop: qop.clone(),
        nc: qop.as_ref().map(|_| "00000001".into()),
        cnonce: qop.as_ref().map(|_| crate::message::random_token(8)),
        ..Default::default()
    };
    let response = digest_response(&p, password, method);
    let mut v = format!(
        "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5",
        c.realm, c.nonce
    );
    if let (Some(nc), Some(cnonce)) = (&p.nc, &p.cnonce) {
        v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
    }
    if let Some(opaque) = &c.opaque {
        v.push_str(&format!(", opaque=\"{opaque}\""));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_vector() {
        // RFC 2617 section 3.5 (HTTP example, same algorithm).
        let p = DigestParams {
            username: "Mufasa".into(),
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            uri: "/dir/index.html".into(),
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("0a4f113b".into()),
            ..Default::default()
        };
        assert_eq!(
            digest_response(&p, "Circle Of Life", "GET"),
            "6629fae49393a05397450978507c4ef1"
        );
        // The same from the stored HA1, in either case.
        let h = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(h, "939e7578ed9e3c518a452acee763bce9");
        for stored in [h.clone(), h.to_ascii_uppercase()] {
            let s = Secret::Ha1(stored);
            assert_eq!(
                digest_response_ha1(&p, &s.ha1("Mufasa", "testrealm@host.com"), "GET"),
                "6629fae49393a05397450978507c4ef1"
            );
        }
        assert!(is_ha1(&h) && !is_ha1("Circle Of Life") && !is_ha1(&h[1..]));
    }

    #[test]
    fn hmac_md5_rfc2104_vectors() {
        assert_eq!(
            hmac_md5_hex(&[0x0b; 16], b"Hi There"),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hmac_md5_hex(b"Jefe", b"what do ya want for nothing?"),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = format!(
            "{:?} {:?}",
            Secret::Password("hunter2".into()),
            Secret::Ha1("0123".into())
        );
        assert!(!s.contains("hunter2") && !s.contains("0123"), "{s}");
    }

    #[test]
    fn uris_compare_sensibly() {
        for (a, b) in [
            ("sip:127.0.0.1", "sip:127.0.0.1"),
            ("SIP:Agent1@Example.ORG", "sip:agent1@example.org"),
            ("sip:127.0.0.1", "sip:127.0.0.1:5060"),
            (
                "<sip:3422@10.0.0.1:5070>",
                "sip:3422@10.0.0.1:5070;transport=udp",
            ),
            ("sips:pbx.example.org", "sips:pbx.example.org:5061"),
            ("sip:[2001:db8::1]", "sip:[2001:db8::1]:5060"),
        ] {
            assert!(same_uri(a, b), "{a} ~ {b}");
        }
        for (a, b) in [
            ("sip:127.0.0.1", "sip:127.0.0.2"),
            ("sip:127.0.0.1:5062", "sip:127.0.0.1"),
            ("sip:3422@127.0.0.1", "sip:3900@127.0.0.1"),
            ("sips:pbx.example.org", "sip:pbx.example.org"),
            ("sip:[2001:db8::1]:5062", "sip:[2001:db8::1]"),
            ("", "sip:127.0.0.1"),
        ] {
            assert!(!same_uri(a, b), "{a} !~ {b}");
        }
    }

    #[test]
    fn constant_time_comparison_is_still_equality() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
