//! The server side of SIP digest authentication, as the registrar and the
//! trunks use it: failure limits first (cheap, before any digest is
//! computed), then the challenge or the check of the answer against a
//! password or an HA1, with the digest `uri` bound to the Request-URI, the
//! nonce to the client's address and its count to one use. Sans-IO: the
//! caller passes the time and holds it behind its own lock.
//!
//! An unknown user and a wrong password get the same answer, a bare 403;
//! the real reason is logged here, once per failure. Failures past the
//! limits are not logged one by one: only the lock and its end are.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::{AuthStats, Limits, LimitsConfig};
use super::nonce::{Count, NonceState, Nonces};
use super::{digest_response_ha1, parse_digest, same_secret, same_uri, Secret};

/// How the server authenticates.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    /// The realm put in challenges; an answer naming another is refused.
    pub realm: String,
    /// How long a nonce is good for; an answer with an older one gets a
    /// new challenge with `stale=true`.
    pub nonce_ttl: Duration,
    /// Most nonces whose counts are remembered at once.
    pub max_nonces: usize,
    /// Failure limits per source and per account, checked before any
    /// digest is computed.
    pub limits: LimitsConfig,
}

impl DigestConfig {
    /// Defaults: nonces good for 300 s, 100,000 remembered, the default limits.
    pub fn new(realm: impl Into<String>) -> Self {
        DigestConfig {
            realm: realm.into(),
            nonce_ttl: Duration::from_secs(300),
            max_nonces: 100_000,
            limits: LimitsConfig::default(),
        }
    }
}

/// One request to authenticate.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The address the request came from.
    pub source: IpAddr,
    /// Its method (part of the digest).
    pub method: &'a str,
    /// Its Request-URI, which the digest `uri` must name.
    pub request_uri: &'a str,
    /// Its `Authorization` or `Proxy-Authorization` value, if any.
    pub authorization: Option<&'a str>,
    /// The account the request is for when it carries no credentials (a
    /// REGISTER's To user), so a locked account is refused either way.
    pub account: Option<&'a str>,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Authenticated as this user.
    Ok(String),
    /// `401` with this `WWW-Authenticate` value: no credentials yet, or
    /// right ones with a stale nonce (`stale=true`).
    Challenge(String),
    /// `403`, saying nothing of why.
    Forbidden,
    /// `503` with `Retry-After` (this long, rounded up): the source or the
    /// account is past its failure limits.
    Limited(Duration),
}

/// Why an answer is refused (logged, never sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denial {
    NotDigest,
    WrongRealm,
    Algorithm,
    UriMismatch,
    UnknownUser,
    WrongPassword,
    Replay,
}

impl Denial {
    fn text(self) -> &'static str {
        match self {
            Denial::NotDigest => "not a Digest authorization",
            Denial::WrongRealm => "wrong realm",
            Denial::Algorithm => "unsupported algorithm",
            Denial::UriMismatch => "digest uri does not name the Request-URI",
            Denial::UnknownUser => "unknown user",
            Denial::WrongPassword => "wrong password",
            Denial::Replay => "replayed nonce count",
        }
    }
}

enum Verdict {
    Ok,
    Stale(&'static str),
    Denied(Denial),
}

/// Digest authentication with its failure limits.
#[derive(Debug)]
pub struct DigestServer {
    realm: String,
    nonces: Nonces,
    limits: Limits,
}

impl DigestServer {
    /// A server configured by `cfg`; nonce times count from `now`.
    pub fn new(cfg: DigestConfig, now: Instant) -> Self {
        DigestServer {
            realm: cfg.realm,
            nonces: Nonces::new(now, cfg.nonce_ttl, cfg.max_nonces),
            limits: Limits::new(cfg.limits, Arc::new(AuthStats::default())),
        }
    }

    /// The realm it challenges with.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The counters for `/metrics`.
    pub fn stats(&self) -> Arc<AuthStats> {
        self.limits.stats().clone()
    }

    /// A `WWW-Authenticate` value for a client at `source`.
    pub fn challenge(&self, now: Instant, source: IpAddr, stale: bool) -> String {
        format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            self.nonces.issue(now, source),
            if stale { ", stale=true" } else { "" }
        )
    }

    /// Authenticate `a`; `lookup` gives the secret of a user name, if the
    /// account exists.
    pub fn handle(
        &mut self,
        now: Instant,
        a: &Attempt<'_>,
        lookup: impl FnOnce(&str) -> Option<Secret>,
    ) -> Outcome {
        let Some(header) = a.authorization else {
            if let Some(wait) = self.limits.check(now, a.source, a.account) {
                return Outcome::Limited(wait);
            }
            return Outcome::Challenge(self.challenge(now, a.source, false));
        };
        let params = parse_digest(header);
        let user = params.as_ref().map_or("", |p| p.username.as_str());
        if let Some(wait) = self.limits.check(now, a.source, Some(user)) {
            return Outcome::Limited(wait);
        }
        let verdict = match &params {
            Some(p) => self.verify(now, a, p, lookup),
            None => Verdict::Denied(Denial::NotDigest),
        };
        match verdict {
            Verdict::Ok => {
                self.limits.success(user);
                Outcome::Ok(user.to_string())
            }
            Verdict::Stale(why) => {
                tracing::debug!(user, source = %a.source, why, "digest answer with a stale nonce: challenged again");
                Outcome::Challenge(self.challenge(now, a.source, true))
            }
            Verdict::Denied(why) => {
                tracing::info!(
                    method = a.method,
                    user,
                    source = %a.source,
                    why = why.text(),
                    "SIP authentication failed (answered 403)"
                );
                self.limits.failure(now, a.source, user);
                Outcome::Forbidden
            }
        }
    }

    fn verify(
        &mut self,
        now: Instant,
        a: &Attempt<'_>,
        p: &super::DigestParams,
        lookup: impl FnOnce(&str) -> Option<Secret>,
    ) -> Verdict {
        if p.realm != self.realm {
            return Verdict::Denied(Denial::WrongRealm);
        }
        if p.algorithm
            .as_deref()
            .is_some_and(|alg| !alg.eq_ignore_ascii_case("MD5"))
        {
            return Verdict::Denied(Denial::Algorithm);
        }
        if !same_uri(&p.uri, a.request_uri) {
            return Verdict::Denied(Denial::UriMismatch);
        }
        // An unknown user costs the same work as a known one.
        let secret = lookup(&p.username);
        let ha1 = match &secret {
            Some(s) => s.ha1(&p.username, &self.realm),
            None => super::ha1(&p.username, &self.realm, "\u{0}unknown"),
        };
        let right = same_secret(
            &digest_response_ha1(p, &ha1, a.method),
            &p.response.to_ascii_lowercase(),
        );
        if secret.is_none() {
            return Verdict::Denied(Denial::UnknownUser);
        }
        if !right {
            return Verdict::Denied(Denial::WrongPassword);
        }
        let issued = match self.nonces.check(now, &p.nonce, a.source) {
            NonceState::Valid(issued) => issued,
            // Another address, an earlier run: the client asks again.
            NonceState::Foreign => return Verdict::Stale("nonce not issued to this address"),
            NonceState::Expired => return Verdict::Stale("nonce expired"),
        };
        let with_qop = p
            .qop
            .as_deref()
            .is_some_and(|q| q.eq_ignore_ascii_case("auth"))
            && p.cnonce.is_some();
        let nc = match (with_qop, p.nc.as_deref()) {
            (true, Some(nc)) => match u32::from_str_radix(nc, 16) {
                Ok(n) => Some(n),
                Err(_) => return Verdict::Denied(Denial::Replay),
            },
            _ => None,
        };
        // Counted per nonce and user: a client answering for several
        // accounts with one nonce starts each at 1.
        let key = format!("{} {}", p.nonce, p.username);
        match self.nonces.count(now, &key, issued, nc) {
            Count::Fresh => Verdict::Ok,
            // qop=auth: the same count twice is a replay. Without qop a
            // nonce serves once: the client is simply challenged again.
            Count::Replayed if nc.is_some() => Verdict::Denied(Denial::Replay),
            Count::Replayed => Verdict::Stale("nonce used already (no qop)"),
            Count::Forgotten => Verdict::Stale("nonce forgotten"),
        }
    }

    /// Notice ended locks, forget expired nonces and stale failures: every
    /// second or so.
    pub fn tick(&mut self, now: Instant) {
        self.limits.sweep(now);
        self.nonces.prune(now);
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
