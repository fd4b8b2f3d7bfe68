//! SIP trunks: who may send us calls (source CIDRs, mutual TLS client
//! certificates and/or digest credentials), how many at once, and which
//! DIDs they reach.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use sip::auth::{Attempt, AuthStats, Outcome, Secret};
use sip::rsip::{Header, Request};
use sip::tls::{CertificateDer, ClientCheck, TlsError};

use crate::digest::SipAuth;

/// When to look for DTMF tones in the audio itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InbandDtmf {
    /// Only when the caller's SDP offers no telephone-event.
    #[default]
    Auto,
    /// Always, even when telephone-event was negotiated.
    Always,
    /// Never: digits come only by RFC 4733 events or SIP INFO.
    Never,
}

/// The transport of a trunk's calls out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundTransport {
    /// SIP over UDP.
    #[default]
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS.
    Tls,
}

impl OutboundTransport {
    /// The endpoint's transport.
    pub fn transport(self) -> sip::Transport {
        match self {
            OutboundTransport::Udp => sip::Transport::Udp,
            OutboundTransport::Tcp => sip::Transport::Tcp,
            OutboundTransport::Tls => sip::Transport::Tls,
        }
    }
}

/// One trunk as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// The trunk's name, by which logs, call records and `transfer` nodes
    /// refer to it.
    pub name: String,
    /// Source networks allowed without credentials (e.g. the OXE over VPN).
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Digest credentials the trunk must present (with or without `allow`):
    /// a user name with its password, or with the password's HA1
    /// (`MD5(username:realm:password)` in hex, `softswitch ha1`) so that
    /// no clear password need be written.
    pub username: Option<String>,
    /// The password for `username`; used rather than `ha1` when both are set.
    pub password: Option<String>,
    /// The HA1 for `username`, in place of the password.
    #[serde(default)]
    pub ha1: Option<String>,
    /// Concurrent calls on this trunk; more get `503` with Retry-After.
    pub max_calls: Option<usize>,
    /// Called number (DID) -> flow name. Several DIDs may share a flow.
    #[serde(default)]
    pub dids: BTreeMap<String, String>,
    /// Send RTP back to where the caller's RTP comes from (NAT).
    #[serde(default)]
    pub symmetric_rtp: bool,
    /// When to detect DTMF tones in the caller's audio.
    #[serde(default)]
    pub inband_dtmf: InbandDtmf,
    /// Ring (180) this long before answering; 0 answers at once.
    #[serde(default)]
    pub answer_after_ms: u64,
    /// Where calls out through this trunk go (its SBC or IPBX), as
    /// `ip:port` over UDP: the target of `transfer` nodes to numbers.
    /// Absent: the trunk takes calls in only.
    #[serde(default)]
    pub outbound_proxy: Option<std::net::SocketAddr>,
    /// Number presented on calls out; absent: the caller's own number is
    /// passed on (as an IPBX would show it).
    #[serde(default)]
    pub outbound_caller_id: Option<String>,
    /// How calls out reach `outbound_proxy`: `udp` (default), `tcp` or
    /// `tls` (checked against the system's and `[sip] tls_ca_files`
    /// authorities, for `outbound_tls_name`).
    #[serde(default)]
    pub outbound_transport: OutboundTransport,
    /// The name the proxy's TLS certificate must carry; absent: its IP
    /// address.
    #[serde(default)]
    pub outbound_tls_name: Option<String>,
    /// The account we answer the proxy's digest challenge (401/407) with.
    #[serde(default)]
    pub outbound_username: Option<String>,
    /// The password of `outbound_username`.
    #[serde(default)]
    pub outbound_password: Option<String>,
    /// Mutual TLS: the authorities (PEM files) that sign the trunk's client
    /// certificate. Set, the trunk's calls must come over TLS with a
    /// certificate from them (and from `allow`, when also set).
    #[serde(default)]
    pub tls_client_ca_files: Vec<PathBuf>,
    /// The names (DNS or IP subject alternative names) the trunk's client
    /// certificate must carry, one of them; empty: any certificate from
    /// `tls_client_ca_files`.
    #[serde(default)]
    pub tls_client_names: Vec<String>,
}

/// A trunk whose settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrunkError {
    /// `tls_client_names` without `tls_client_ca_files`.
    #[error("trunk {0:?}: tls_client_names needs tls_client_ca_files (the authorities that sign the trunk's certificate)")]
    NamesWithoutCa(String),
    /// The mutual TLS settings do not load.
    #[error("trunk {trunk:?}: mutual TLS: {source}")]
    Tls {
        /// The trunk.
        trunk: String,
        /// What is wrong (boxed: a rare error, a large value).
        source: Box<TlsError>,
    },
}

/// A trunk with its live call count.
#[derive(Debug)]
pub struct Trunk {
    /// Its settings.
    pub cfg: TrunkConfig,
    active: AtomicUsize,
    /// Its mutual TLS check, when it has one.
    client_check: Option<ClientCheck>,
}

/// Holds one call's place on a trunk; dropping it frees the place.
#[derive(Debug)]
pub struct TrunkSlot(Arc<Trunk>);

impl Drop for TrunkSlot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Trunk {
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Take a place for a new call, if under `max_calls`.
    pub fn try_acquire(self: &Arc<Self>) -> Option<TrunkSlot> {
        let max = self.cfg.max_calls.unwrap_or(usize::MAX);
        let mut cur = self.active.load(Ordering::Acquire);
        loop {
            if cur >= max {
                return None;
            }
            match self
                .active
                .compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(TrunkSlot(self.clone())),
                Err(now) => cur = now,
            }
        }
    }

    fn needs_auth(&self) -> bool {
        self.cfg.username.is_some()
    }

    /// What its digest answers are checked against.
    fn secret(&self) -> Option<Secret> {
        match (&self.cfg.password, &self.cfg.ha1) {
            (Some(p), _) => Some(Secret::Password(p.clone())),
            (None, Some(h)) => Some(Secret::Ha1(h.clone())),
            (None, None) => None,
        }
    }
}

/// Result of checking who sent an INVITE.
#[derive(Debug)]
pub enum Admission {
    Allowed(Arc<Trunk>),
    /// Send `401` with this WWW-Authenticate value.
    Challenge(String),
    /// Send `403` (saying nothing of why: the reason is for the record).
    Forbidden(&'static str),
    /// Send `503` with this Retry-After: the source (or the account) is
    /// past its failure limits.
    Limited(Duration),
}

/// All trunks.
#[derive(Debug)]
pub struct Trunks {
    list: Vec<Arc<Trunk>>,
    auth: Arc<SipAuth>,
}

impl Trunks {
    /// The trunks, authenticating with `auth` (shared with the registrar);
    /// their mutual TLS authorities are read now.
    pub fn new(cfgs: Vec<TrunkConfig>, auth: Arc<SipAuth>) -> Result<Self, TrunkError> {
        let mut list = Vec::with_capacity(cfgs.len());
        for cfg in cfgs {
            let client_check = match (&cfg.tls_client_ca_files[..], &cfg.tls_client_names[..]) {
                ([], []) => None,
                ([], _) => return Err(TrunkError::NamesWithoutCa(cfg.name.clone())),
                (cas, names) => {
                    Some(
                        ClientCheck::new(cas, names).map_err(|source| TrunkError::Tls {
                            trunk: cfg.name.clone(),
                            source: Box::new(source),
                        })?,
                    )
                }
            };
            list.push(Arc::new(Trunk {
                cfg,
                active: AtomicUsize::new(0),
                client_check,
            }));
        }
        Ok(Trunks { list, auth })
    }

    /// Every trunk's mutual TLS authorities: the SIP over TLS listener
    /// asks clients for certificates from them.
    pub fn client_ca_files(cfgs: &[TrunkConfig]) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for p in cfgs.iter().flat_map(|c| &c.tls_client_ca_files) {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }

    /// Counters of digest failures and of the failure limits (the same as
    /// the registrar's).
    pub fn auth_stats(&self) -> &Arc<AuthStats> {
        self.auth.stats()
    }

    /// Every trunk, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Trunk>> {
        self.list.iter()
    }

    /// The trunk of this name.
    pub fn get(&self, name: &str) -> Option<&Arc<Trunk>> {
        self.list.iter().find(|t| t.cfg.name == name)
    }

    /// Decide which trunk an INVITE from `source` belongs to; `chain` is
    /// the client certificate of its connection when it came over TLS
    /// (`over_tls`), if the client sent one.
    pub fn admit(
        &self,
        source: IpAddr,
        over_tls: bool,
        chain: Option<&[CertificateDer<'static>]>,
        req: &Request,
    ) -> Admission {
        let from_net = |t: &Trunk| t.cfg.allow.iter().any(|n| n.contains(&source));
        let net_ok = |t: &Trunk| t.cfg.allow.is_empty() || from_net(t);
        // Each trunk's mutual TLS verdict (trunks without it pass); the
        // first refusal over TLS is logged if no trunk takes the call (a
        // call over UDP or TCP is simply not the trunk's).
        let mut refused = None;
        let ok: Vec<bool> = self
            .list
            .iter()
            .map(|t| match &t.client_check {
                None => true,
                Some(_) if !net_ok(t) || !over_tls => false,
                Some(c) => c
                    .check(chain)
                    .map_err(|e| refused.get_or_insert((t.cfg.name.clone(), e)))
                    .is_ok(),
            })
            .collect();
        // Which trunks the source stands for: by network, or by mutual TLS
        // (and network, when the trunk also has `allow`).
        let identified = |i: usize, t: &Trunk| {
            ok[i]
                && match t.client_check {
                    Some(_) => net_ok(t),
                    None => from_net(t),
                }
        };
        let auth_header = req.headers.iter().find_map(|h| match h {
            Header::Authorization(a) => Some(sip::rsip::prelude::UntypedHeader::value(a)),
            Header::ProxyAuthorization(a) => Some(sip::rsip::prelude::UntypedHeader::value(a)),
            _ => None,
        });
        // Trusted network or certificate, no credentials needed: the
        // common private-trunk case.
        if let Some((_, t)) = self
            .list
            .iter()
            .enumerate()
            .find(|(i, t)| identified(*i, t) && !t.needs_auth())
        {
            return Admission::Allowed(t.clone());
        }
        let candidates: Vec<&Arc<Trunk>> = self
            .list
            .iter()
            .enumerate()
            .filter(|(i, t)| t.needs_auth() && net_ok(t) && ok[*i])
            .map(|(_, t)| t)
            .collect();
        if candidates.is_empty() {
            if let Some((trunk, why)) = refused {
                tracing::info!(trunk = %trunk, source = %source, error = %why, "mutual TLS refused the call");
                return Admission::Forbidden("client certificate refused");
            }
            return Admission::Forbidden("source address not allowed on any trunk");
        }
        let request_uri = req.uri.to_string();
        let method = req.method.to_string();
        let attempt = Attempt {
            source,
            method: &method,
            request_uri: &request_uri,
            authorization: auth_header,
            account: None,
        };
        let lookup = |user: &str| {
            candidates
                .iter()
                .find(|t| t.cfg.username.as_deref() == Some(user))
                .and_then(|t| t.secret())
        };
        match self.auth.handle(&attempt, lookup) {
            Outcome::Ok(user) => candidates
                .iter()
                .find(|t| t.cfg.username.as_deref() == Some(user.as_str()))
                .map(|t| Admission::Allowed((*t).clone()))
                .unwrap_or(Admission::Forbidden("bad credentials")),
            Outcome::Challenge(c) => Admission::Challenge(c),
            Outcome::Forbidden => Admission::Forbidden("bad credentials"),
            Outcome::Limited(wait) => Admission::Limited(wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(auth: Option<&str>) -> Request {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let raw = format!(
            "INVITE sip:3422@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:3422@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n{auth}\r\n"
        );
        match sip::parse(raw.as_bytes()).unwrap() {
            sip::rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn trunks() -> Trunks {
        let cfg: Vec<TrunkConfig> = toml::from_str::<toml::Value>(
            r#"
            [[t]]
            name = "oxe"
            allow = ["10.8.0.0/16"]
            max_calls = 1
            dids = { "3422" = "demo" }
            [[t]]
            name = "internet"
            username = "carrier"
            password = "s3cret"
            dids = { "3900" = "office" }
            "#,
        )
        .unwrap()["t"]
            .clone()
            .try_into()
            .unwrap();
        Trunks::new(cfg, auth()).unwrap()
    }

    fn auth() -> Arc<SipAuth> {
        SipAuth::new(sip::auth::DigestConfig::new("softswitch"))
    }

    #[test]
    fn cidr_trunk_and_capacity() {
        let t = trunks();
        let Admission::Allowed(oxe) =
            t.admit("10.8.1.2".parse().unwrap(), false, None, &invite(None))
        else {
            panic!("allowed by CIDR")
        };
        assert_eq!(oxe.name(), "oxe");
        let slot = oxe.try_acquire().expect("first call fits");
        assert!(oxe.try_acquire().is_none(), "max_calls = 1");
        drop(slot);
        assert!(oxe.try_acquire().is_some(), "place freed on drop");
    }

    #[test]
    fn digest_trunk() {
        let t = trunks();
        let src = "203.0.113.5".parse().unwrap();
        let Admission::Challenge(ch) = t.admit(src, false, None, &invite(None)) else {
            panic!("challenge expected")
        };
        let good =
            sip::auth::authorization(&ch, "carrier", "s3cret", "INVITE", "sip:3422@127.0.0.1")
                .unwrap();
        assert!(
            matches!(t.admit(src, false, None, &invite(Some(&good))), Admission::Allowed(x) if x.name() == "internet")
        );
        let bad = sip::auth::authorization(&ch, "carrier", "nope", "INVITE", "sip:3422@127.0.0.1")
            .unwrap();
        assert!(matches!(
            t.admit(src, false, None, &invite(Some(&bad))),
            Admission::Forbidden(_)
        ));
    }

    #[test]
    fn unknown_source_without_auth_trunks_is_forbidden() {
        let t = Trunks::new(
            vec![TrunkConfig {
                name: "local".into(),
                allow: vec!["127.0.0.0/8".parse().unwrap()],
                username: None,
                password: None,
                ha1: None,
                max_calls: None,
                dids: Default::default(),
                symmetric_rtp: false,
                inband_dtmf: InbandDtmf::Auto,
                answer_after_ms: 0,
                outbound_proxy: None,
                outbound_caller_id: None,
                outbound_transport: OutboundTransport::Udp,
                outbound_tls_name: None,
                outbound_username: None,
                outbound_password: None,
                tls_client_ca_files: Vec::new(),
                tls_client_names: Vec::new(),
            }],
            auth(),
        )
        .unwrap();
        assert!(matches!(
            t.admit("192.0.2.1".parse().unwrap(), false, None, &invite(None)),
            Admission::Forbidden(_)
        ));
    }

    #[test]
    fn an_ha1_trunk_and_the_failure_limits_of_its_source() {
        let ha1 = sip::auth::ha1("carrier", "softswitch", "s3cret");
        let cfg: Vec<TrunkConfig> = toml::from_str::<toml::Value>(&format!(
            "[[t]]\nname = \"internet\"\nusername = \"carrier\"\nha1 = \"{ha1}\"\n"
        ))
        .unwrap()["t"]
            .clone()
            .try_into()
            .unwrap();
        let t = Trunks::new(cfg, auth()).unwrap();
        let src = "203.0.113.5".parse().unwrap();
        let uri = "sip:3422@127.0.0.1";
        let answer = |password: &str| {
            let Admission::Challenge(ch) = t.admit(src, false, None, &invite(None)) else {
                panic!("challenge expected")
            };
            let a = sip::auth::authorization(&ch, "carrier", password, "INVITE", uri).unwrap();
            t.admit(src, false, None, &invite(Some(&a)))
        };
        assert!(matches!(answer("s3cret"), Admission::Allowed(x) if x.name() == "internet"));
        for _ in 0..6 {
            assert!(matches!(
                answer("guess"),
                Admission::Forbidden("bad credentials")
            ));
        }
        // Past the source's free failures: 503 before any challenge.
        assert!(matches!(
            t.admit(src, false, None, &invite(None)),
            Admission::Limited(d) if d <= Duration::from_secs(1) && !d.is_zero()
        ));
        assert_eq!(t.auth_stats().snapshot().failures_total, 6);
    }
}
