//! SIP trunks: who may send us calls (source CIDRs and/or digest
//! credentials), how many at once, and which DIDs they reach.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ipnet::IpNet;
use serde::Deserialize;
use sip::auth::{Authenticator, Verdict};
use sip::rsip::{Header, Request};

/// When to look for DTMF tones in the audio itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InbandDtmf {
    /// Only when the caller's SDP offers no telephone-event.
    #[default]
    Auto,
    Always,
    Never,
}

/// One trunk as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    pub name: String,
    /// Source networks allowed without credentials (e.g. the OXE over VPN).
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Digest credentials the trunk must present (with or without `allow`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Concurrent calls on this trunk; more get `503` with Retry-After.
    pub max_calls: Option<usize>,
    /// Called number (DID) -> flow name. Several DIDs may share a flow.
    #[serde(default)]
    pub dids: BTreeMap<String, String>,
    /// Send RTP back to where the caller's RTP comes from (NAT).
    #[serde(default)]
    pub symmetric_rtp: bool,
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
}

/// A trunk with its live call count.
#[derive(Debug)]
pub struct Trunk {
    pub cfg: TrunkConfig,
    active: AtomicUsize,
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
}

/// Result of checking who sent an INVITE.
#[derive(Debug)]
pub enum Admission {
    Allowed(Arc<Trunk>),
    /// Send `401` with this WWW-Authenticate value.
    Challenge(String),
    Forbidden(&'static str),
}

/// All trunks.
#[derive(Debug)]
pub struct Trunks {
    list: Vec<Arc<Trunk>>,
    auth: Authenticator,
}

impl Trunks {
    pub fn new(cfgs: Vec<TrunkConfig>, realm: &str) -> Self {
        Trunks {
            list: cfgs
                .into_iter()
                .map(|cfg| {
                    Arc::new(Trunk {
                        cfg,
                        active: AtomicUsize::new(0),
                    })
                })
                .collect(),
            auth: Authenticator::new(realm),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Trunk>> {
        self.list.iter()
    }

    /// The trunk of this name.
    pub fn get(&self, name: &str) -> Option<&Arc<Trunk>> {
        self.list.iter().find(|t| t.cfg.name == name)
    }

    /// Decide which trunk an INVITE from `source` belongs to.
    pub fn admit(&self, source: IpAddr, req: &Request) -> Admission {
        let from_net = |t: &Trunk| t.cfg.allow.iter().any(|n| n.contains(&source));
        let auth_header = req.headers.iter().find_map(|h| match h {
            Header::Authorization(a) => Some(sip::rsip::prelude::UntypedHeader::value(a)),
            Header::ProxyAuthorization(a) => Some(sip::rsip::prelude::UntypedHeader::value(a)),
            _ => None,
        });
        // Trusted network, no credentials needed: the common private-trunk case.
        if let Some(t) = self.list.iter().find(|t| from_net(t) && !t.needs_auth()) {
            return Admission::Allowed(t.clone());
        }
        let candidates: Vec<&Arc<Trunk>> = self
            .list
            .iter()
            .filter(|t| t.needs_auth() && (t.cfg.allow.is_empty() || from_net(t)))
            .collect();
        if candidates.is_empty() {
            return Admission::Forbidden("source address not allowed on any trunk");
        }
        let Some(header) = auth_header else {
            return Admission::Challenge(self.auth.challenge(false));
        };
        let method = req.method.to_string();
        let lookup = |user: &str| {
            candidates
                .iter()
                .find(|t| t.cfg.username.as_deref() == Some(user))
                .and_then(|t| t.cfg.password.clone())
        };
        match self.auth.verify(header, &method, lookup) {
            (Verdict::Ok, Some(user)) => candidates
                .iter()
                .find(|t| t.cfg.username.as_deref() == Some(user.as_str()))
                .map(|t| Admission::Allowed((*t).clone()))
                .unwrap_or(Admission::Forbidden("unknown user")),
            (Verdict::Stale, _) => Admission::Challenge(self.auth.challenge(true)),
            (Verdict::Denied(why), user) => {
                tracing::info!(user = user.as_deref().unwrap_or("-"), why, source = %source, "trunk authentication failed");
                Admission::Forbidden("bad credentials")
            }
            (Verdict::Ok, None) => Admission::Forbidden("bad credentials"),
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
        Trunks::new(cfg, "softswitch")
    }

    #[test]
    fn cidr_trunk_and_capacity() {
        let t = trunks();
        let Admission::Allowed(oxe) = t.admit("10.8.1.2".parse().unwrap(), &invite(None)) else {
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
        let Admission::Challenge(ch) = t.admit(src, &invite(None)) else {
            panic!("challenge expected")
        };
        let good =
            sip::auth::authorization(&ch, "carrier", "s3cret", "INVITE", "sip:3422@127.0.0.1")
                .unwrap();
        assert!(
            matches!(t.admit(src, &invite(Some(&good))), Admission::Allowed(x) if x.name() == "internet")
        );
        let bad = sip::auth::authorization(&ch, "carrier", "nope", "INVITE", "sip:3422@127.0.0.1")
            .unwrap();
        assert!(matches!(
            t.admit(src, &invite(Some(&bad))),
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
                max_calls: None,
                dids: Default::default(),
                symmetric_rtp: false,
                inband_dtmf: InbandDtmf::Auto,
                answer_after_ms: 0,
                outbound_proxy: None,
                outbound_caller_id: None,
            }],
            "softswitch",
        );
        assert!(matches!(
            t.admit("192.0.2.1".parse().unwrap(), &invite(None)),
            Admission::Forbidden(_)
        ));
    }
}
