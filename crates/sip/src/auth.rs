//! HTTP digest authentication for SIP (RFC 2617 / RFC 8760 with MD5, qop=auth):
//! stateless server nonces, challenge header, verification, client response.

use md5::{Digest, Md5};
use std::time::{SystemTime, UNIX_EPOCH};

fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parsed `Authorization` / `Proxy-Authorization` / `WWW-Authenticate` params.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestParams {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
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

/// Expected `response` value for the given credentials and request.
pub fn digest_response(p: &DigestParams, password: &str, method: &str) -> String {
    let ha1 = md5_hex(&[&p.username, &p.realm, password]);
    let ha2 = md5_hex(&[method, &p.uri]);
    match (p.qop.as_deref(), &p.nc, &p.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
            md5_hex(&[&ha1, &p.nonce, nc, cnonce, qop, &ha2])
        }
        _ => md5_hex(&[&ha1, &p.nonce, &ha2]),
    }
}

/// Issues and checks stateless nonces: `<unix-seconds hex>.<md5(secret:ts)>`.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub realm: String,
    secret: String,
    /// How long a nonce stays valid.
    pub nonce_ttl_secs: u64,
}

/// Outcome of checking an Authorization header.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Right password but an old nonce: challenge again with `stale=true`.
    Stale,
    Denied(&'static str),
}

impl Authenticator {
    pub fn new(realm: impl Into<String>) -> Self {
        Authenticator {
            realm: realm.into(),
            secret: crate::message::random_token(24),
            nonce_ttl_secs: 300,
        }
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    pub fn nonce(&self) -> String {
        let ts = format!("{:x}", Self::now());
        let mac = md5_hex(&[&self.secret, &ts]);
        format!("{ts}.{mac}")
    }

    /// Value of a `WWW-Authenticate` header.
    pub fn challenge(&self, stale: bool) -> String {
        format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            self.nonce(),
            if stale { ", stale=true" } else { "" }
        )
    }

    /// Check an Authorization header value against the user's password.
    /// `lookup` returns the password of a username, if that user exists.
    pub fn verify(
        &self,
        header: &str,
        method: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> (Verdict, Option<String>) {
        let Some(p) = parse_digest(header) else {
            return (Verdict::Denied("not a Digest header"), None);
        };
        if p.realm != self.realm {
            return (Verdict::Denied("wrong realm"), Some(p.username));
        }
        if let Some(alg) = &p.algorithm {
            if !alg.eq_ignore_ascii_case("MD5") {
                return (Verdict::Denied("unsupported algorithm"), Some(p.username));
            }
        }
        let Some(password) = lookup(&p.username) else {
            return (Verdict::Denied("unknown user"), Some(p.username));
        };
        if digest_response(&p, &password, method) != p.response.to_ascii_lowercase() {
            return (Verdict::Denied("wrong password"), Some(p.username));
        }
        let Some((ts, mac)) = p.nonce.split_once('.') else {
            return (Verdict::Denied("foreign nonce"), Some(p.username));
        };
        if md5_hex(&[&self.secret, ts]) != mac {
            return (Verdict::Stale, Some(p.username)); // e.g. issued before a restart
        }
        let issued = u64::from_str_radix(ts, 16).unwrap_or(0);
        if Self::now().saturating_sub(issued) > self.nonce_ttl_secs {
            return (Verdict::Stale, Some(p.username));
        }
        (Verdict::Ok, Some(p.username))
    }
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
    }

    #[test]
    fn round_trip_and_rejections() {
        let a = Authenticator::new("softswitch");
        let ch = a.challenge(false);
        let ok = authorization(&ch, "agent1", "agent1", "REGISTER", "sip:127.0.0.1").unwrap();
        let users = |u: &str| (u == "agent1").then(|| "agent1".to_string());
        assert_eq!(a.verify(&ok, "REGISTER", users).0, Verdict::Ok);
        assert_eq!(
            a.verify(&ok, "INVITE", users).0,
            Verdict::Denied("wrong password"),
            "method is part of the hash"
        );
        let bad = authorization(&ch, "agent1", "nope", "REGISTER", "sip:127.0.0.1").unwrap();
        assert_eq!(
            a.verify(&bad, "REGISTER", users).0,
            Verdict::Denied("wrong password")
        );
        let other = Authenticator::new("softswitch");
        assert_eq!(other.verify(&ok, "REGISTER", users).0, Verdict::Stale);
        assert_eq!(
            a.verify("Basic abc", "REGISTER", users).0,
            Verdict::Denied("not a Digest header")
        );
    }
}
