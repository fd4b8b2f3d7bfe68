//! Agent registrations (REGISTER with digest auth, RFC 3261 section 10):
//! where each agent's phone is reached, until its binding expires. Every
//! change is reported, so an agent is never offered a call while its phone
//! is unregistered. Agents configured with a static URI are reached there
//! without registering, and never expire.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sip::auth::{Attempt, AuthStats, Outcome, Secret};
use sip::message::{self, name_addr_param, name_addr_uri, uri_user};
use sip::rsip::prelude::*;
use sip::rsip::{Header, Request};
use sip::{Endpoint, Essentials, Peer, ServerTxId, Transport};
use tokio::sync::mpsc;

use crate::digest::{retry_after_secs, SipAuth};

/// Registration lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct ExpiryLimits {
    /// Shortest lifetime accepted; a shorter ask gets 423 with Min-Expires.
    pub min: u32,
    /// Longest lifetime granted; a longer ask is cut to it.
    pub max: u32,
    /// Lifetime when the REGISTER asks none (no `expires` parameter nor
    /// Expires header).
    pub default: u32,
}

impl Default for ExpiryLimits {
    fn default() -> Self {
        ExpiryLimits {
            min: 30,
            max: 3600,
            default: 600,
        }
    }
}

/// Where an agent's phone is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI the phone registered, or the agent's static URI.
    pub contact: String,
    /// Where its REGISTER came from: requests go there (NAT, TCP connection).
    /// For a static URI, its host and port over UDP.
    pub peer: Peer,
    /// When the registration ends; `None` for a static URI, which never does.
    pub expires_at: Option<Instant>,
    /// The phone's User-Agent header, if it sent one (`None` for a static
    /// URI).
    pub user_agent: Option<String>,
}

/// A phone at a fixed address, from the configuration (an `[[agents]]`
/// entry's `uri`): reached over UDP without any REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticUri {
    /// The Request-URI of the INVITEs, as configured.
    pub uri: String,
    /// Where they are sent.
    pub addr: SocketAddr,
}

impl StaticUri {
    /// `sip:user@IP[:port]` (port 5060 by default, parameters allowed);
    /// `None` for another scheme, a host name (no DNS here), an unspecified
    /// address or port 0, or a transport other than UDP.
    pub fn parse(uri: &str) -> Option<StaticUri> {
        let (_, addr) = crate::dialer::parse_uri(uri)?;
        let udp_only = uri.split(';').skip(1).all(|param| {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            !name.trim().eq_ignore_ascii_case("transport")
                || value.trim().eq_ignore_ascii_case("udp")
        });
        (udp_only && !addr.ip().is_unspecified() && addr.port() != 0).then(|| StaticUri {
            uri: uri.to_string(),
            addr,
        })
    }

    fn binding(&self) -> Binding {
        Binding {
            contact: self.uri.clone(),
            peer: Peer {
                transport: Transport::Udp,
                addr: self.addr,
                conn: None,
            },
            expires_at: None,
            user_agent: None,
        }
    }
}

/// A registration change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEvent {
    /// The agent is now reached at `contact`: a phone registered, or a
    /// registration ended and the agent's static URI is back in use.
    Registered {
        /// Agent id.
        agent: String,
        /// The URI the agent's phone is now reached at.
        contact: String,
    },
    /// The agent's phone cannot be reached any more (never sent for an
    /// agent with a static URI).
    Unregistered {
        /// Agent id.
        agent: String,
        /// Why, for logs (`registration expired`, `phone unregistered`...).
        reason: &'static str,
    },
}

/// The registrar of agent phones; cheap to share.
pub struct Registrar {
    auth: Arc<SipAuth>,
    /// Agent id -> password or HA1 (replaced on config reload).
    accounts: RwLock<HashMap<String, Secret>>,
    /// Registered phones.
    bindings: DashMap<String, Binding>,
    /// Agent id -> static URI, for agents reached without REGISTER.
    statics: HashMap<String, StaticUri>,
    limits: ExpiryLimits,
    events: mpsc::UnboundedSender<RegEvent>,
}

impl Registrar {
    /// A registrar checking REGISTERs with `auth` against `accounts` (agent
    /// id -> secret), reporting changes on `events`; no static URIs.
    pub fn new(
        auth: Arc<SipAuth>,
        accounts: HashMap<String, Secret>,
        limits: ExpiryLimits,
        events: mpsc::UnboundedSender<RegEvent>,
    ) -> Arc<Self> {
        Registrar::with_static_uris(auth, accounts, HashMap::new(), limits, events)
    }

    /// A registrar where the agents of `statics` are reachable from the
    /// start at their URI, without registering (an agent may also have an
    /// account in `accounts`, see [`Registrar::lookup`]). They are listed by
    /// [`Registrar::registered`]; no event is sent for them here.
    pub fn with_static_uris(
        auth: Arc<SipAuth>,
        accounts: HashMap<String, Secret>,
        statics: HashMap<String, StaticUri>,
        limits: ExpiryLimits,
        events: mpsc::UnboundedSender<RegEvent>,
    ) -> Arc<Self> {
        Arc::new(Registrar {
            auth,
            accounts: RwLock::new(accounts),
            bindings: DashMap::new(),
            statics,
            limits,
            events,
        })
    }

    /// The phone of an agent: its registered binding if it has one that has
    /// not expired, else its static URI if it has one, else `None`.
    ///
    /// An agent with both a static URI and a password is reached at the
    /// contact its phone registered while that registration lasts, and at
    /// the static URI again once it ends (unregistered, expired or account
    /// removed): such an agent never becomes unreachable, so its end is
    /// reported as [`RegEvent::Registered`] with the static URI, never as
    /// [`RegEvent::Unregistered`].
    pub fn lookup(&self, agent: &str) -> Option<Binding> {
        self.registered_binding(agent)
            .or_else(|| self.statics.get(agent).map(StaticUri::binding))
    }

    /// What the agent's phone registered, if live (not the static URI).
    fn registered_binding(&self, agent: &str) -> Option<Binding> {
        let now = Instant::now();
        self.bindings
            .get(agent)
            .filter(|b| b.expires_at.is_none_or(|t| t > now))
            .map(|b| b.clone())
    }

    /// Agents that can be reached: those with a live binding, and every
    /// agent with a static URI.
    pub fn registered(&self) -> Vec<String> {
        let mut agents: Vec<String> = self.statics.keys().cloned().collect();
        agents.extend(
            self.bindings
                .iter()
                .map(|b| b.key().clone())
                .filter(|a| !self.statics.contains_key(a)),
        );
        agents
    }

    /// Counters of digest failures and of the failure limits, for
    /// `/metrics` (the same as the trunks', see [`SipAuth::stats`]).
    pub fn auth_stats(&self) -> &Arc<AuthStats> {
        self.auth.stats()
    }

    /// New accounts (config reload); bindings of removed agents are dropped.
    pub fn set_accounts(&self, accounts: HashMap<String, Secret>) {
        let gone: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| !accounts.contains_key(b.key()))
            .map(|b| b.key().clone())
            .collect();
        *self.accounts.write().expect("accounts lock") = accounts;
        for agent in gone {
            self.unbind(&agent, "account removed");
        }
    }

    fn secret(&self, user: &str) -> Option<Secret> {
        self.accounts
            .read()
            .expect("accounts lock")
            .get(user)
            .cloned()
    }

    /// End a registration. An agent with a static URI is reached there
    /// again: that is news of where it is, not of it being gone.
    fn unbind(&self, agent: &str, reason: &'static str) {
        if self.bindings.remove(agent).is_none() {
            return;
        }
        if let Some(s) = self.statics.get(agent) {
            tracing::info!(agent, reason, contact = %s.uri, "agent phone unregistered: reached at its static URI again");
            let _ = self.events.send(RegEvent::Registered {
                agent: agent.to_string(),
                contact: s.uri.clone(),
            });
            return;
        }
        tracing::info!(agent, reason, "agent phone unregistered");
        let _ = self.events.send(RegEvent::Unregistered {
            agent: agent.to_string(),
            reason,
        });
    }

    /// Answer a REGISTER.
    pub fn register(
        &self,
        ep: &Endpoint,
        id: ServerTxId,
        req: &Request,
        _ess: &Essentials,
        from: Peer,
    ) {
        let (code, extra) = self.answer_register(req, from);
        let mut r = message::response(req, code, Some(&message::random_token(8)));
        r.headers.extend(extra);
        ep.respond(id, r);
    }

    /// Apply a REGISTER: the status and headers of the answer. Refusals
    /// say nothing of why (an unknown agent and a wrong password get the
    /// same bare 403; the reason is logged); past the failure limits of its
    /// source or account, a REGISTER gets 503 with Retry-After whatever it
    /// carries.
    fn answer_register(&self, req: &Request, from: Peer) -> (u16, Vec<Header>) {
        let warn = |text: &str| Header::Warning(format!("399 softswitch \"{text}\"").into());
        let authorization = req.headers.iter().find_map(|h| match h {
            Header::Authorization(a) => Some(a.value()),
            _ => None,
        });
        let to_user = req.headers.iter().find_map(|h| match h {
            Header::To(t) => uri_user(name_addr_uri(t.value())).map(str::to_string),
            _ => None,
        });
        let request_uri = req.uri.to_string();
        let attempt = Attempt {
            source: from.addr.ip(),
            method: "REGISTER",
            request_uri: &request_uri,
            authorization,
            account: to_user.as_deref(),
        };
        let user = match self.auth.handle(&attempt, |u| self.secret(u)) {
            Outcome::Ok(user) => user,
            Outcome::Challenge(c) => return (401, vec![Header::WwwAuthenticate(c.into())]),
            Outcome::Forbidden => return (403, vec![]),
            Outcome::Limited(wait) => {
                return (
                    503,
                    vec![Header::RetryAfter(
                        retry_after_secs(wait).to_string().into(),
                    )],
                )
            }
        };
        if to_user.as_deref() != Some(user.as_str()) {
            return (
                403,
                vec![warn("the To user must be the authenticated agent")],
            );
        }
        let header_expires = req.headers.iter().find_map(|h| match h {
            Header::Expires(e) => e.value().trim().parse::<u32>().ok(),
            _ => None,
        });
        let contacts: Vec<&str> = req
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Contact(c) => Some(c.value()),
                _ => None,
            })
            .flat_map(sip::parse_list)
            .collect();
        if contacts.is_empty() {
            // A query: tell the current registration (a static URI is no
            // registration: the phone can neither refresh nor remove it).
            let extra = self
                .registered_binding(&user)
                .map(|b| vec![contact_header(&b)])
                .unwrap_or_default();
            return (200, extra);
        }
        if contacts.iter().any(|c| c.trim() == "*") {
            if header_expires != Some(0) || contacts.len() > 1 {
                return (
                    400,
                    vec![warn("Contact: * needs Expires: 0 and no other contact")],
                );
            }
            self.unbind(&user, "phone removed its binding");
            return (200, vec![]);
        }
        // One phone per agent: the last contact of the request wins.
        let contact = contacts[contacts.len() - 1];
        let expires = name_addr_param(contact, "expires")
            .and_then(|e| e.parse::<u32>().ok())
            .or(header_expires)
            .unwrap_or(self.limits.default);
        if expires == 0 {
            self.unbind(&user, "phone unregistered");
            return (200, vec![]);
        }
        if expires < self.limits.min {
            return (
                423,
                vec![Header::Other(
                    "Min-Expires".into(),
                    self.limits.min.to_string(),
                )],
            );
        }
        let expires = expires.min(self.limits.max);
        let binding = Binding {
            contact: name_addr_uri(contact).to_string(),
            peer: from,
            expires_at: Some(Instant::now() + Duration::from_secs(expires as u64)),
            user_agent: req.headers.iter().find_map(|h| match h {
                Header::UserAgent(u) => Some(u.value().to_string()),
                _ => None,
            }),
        };
        let header = contact_header(&binding);
        let previous = self.bindings.insert(user.clone(), binding.clone());
        let fresh = previous
            .as_ref()
            .is_none_or(|p| p.contact != binding.contact || p.peer != binding.peer);
        // A refresh of the same binding is not news.
        if fresh {
            tracing::info!(agent = %user, contact = %binding.contact, source = %from.addr, expires, "agent phone registered");
            let _ = self.events.send(RegEvent::Registered {
                agent: user,
                contact: binding.contact,
            });
        }
        (200, vec![header])
    }

    /// Drop bindings whose time is up; run every second by [`Registrar::run_expiry`].
    pub fn expire(&self, now: Instant) {
        let due: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| b.expires_at.is_some_and(|t| t <= now))
            .map(|b| b.key().clone())
            .collect();
        for agent in due {
            self.unbind(&agent, "registration expired");
        }
    }

    /// End expired registrations, checking every second; never returns.
    pub async fn run_expiry(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            self.expire(Instant::now());
        }
    }
}

fn contact_header(b: &Binding) -> Header {
    match b.expires_at {
        Some(at) => {
            let left = at.saturating_duration_since(Instant::now()).as_secs();
            Header::Contact(format!("<{}>;expires={left}", b.contact).into())
        }
        None => Header::Contact(format!("<{}>", b.contact).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATIC: &str = "sip:agent5@10.0.0.5:5070";

    fn registrar(
        accounts: &[(&str, &str)],
        statics: &[(&str, &str)],
    ) -> (Arc<Registrar>, mpsc::UnboundedReceiver<RegEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let accounts = accounts
            .iter()
            .map(|(a, p)| (a.to_string(), Secret::Password(p.to_string())))
            .collect();
        let statics = statics
            .iter()
            .map(|(a, u)| (a.to_string(), StaticUri::parse(u).unwrap()))
            .collect();
        let r = Registrar::with_static_uris(
            SipAuth::new(sip::auth::DigestConfig::new("softswitch")),
            accounts,
            statics,
            ExpiryLimits::default(),
            tx,
        );
        (r, rx)
    }

    fn phone() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "127.0.0.1:40000".parse().unwrap(),
            conn: None,
        }
    }

    fn request(agent: &str, expires: u32, auth: Option<&str>) -> Request {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let raw = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK1\r\nFrom: <sip:{agent}@127.0.0.1>;tag=1\r\nTo: <sip:{agent}@127.0.0.1>\r\nCall-ID: reg\r\nCSeq: 1 REGISTER\r\nContact: <sip:{agent}@127.0.0.1:40000>\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        match sip::parse(raw.as_bytes()).unwrap() {
            sip::rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    /// REGISTER with the digest answer to the registrar's challenge.
    fn register(r: &Registrar, agent: &str, password: &str, expires: u32) -> u16 {
        answer(r, agent, password, expires).0
    }

    /// The answer to a REGISTER with credentials (or to the first one,
    /// when it is not a challenge).
    fn answer(r: &Registrar, agent: &str, password: &str, expires: u32) -> (u16, Vec<Header>) {
        let (code, headers) = r.answer_register(&request(agent, expires, None), phone());
        if code != 401 {
            return (code, headers);
        }
        let challenge = headers
            .iter()
            .find_map(|h| match h {
                Header::WwwAuthenticate(c) => Some(c.value().to_string()),
                _ => None,
            })
            .expect("challenge");
        let auth =
            sip::auth::authorization(&challenge, agent, password, "REGISTER", "sip:127.0.0.1")
                .unwrap();
        r.answer_register(&request(agent, expires, Some(&auth)), phone())
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn static_uris_parse_only_sip_with_an_ip_host_over_udp() {
        let s = StaticUri::parse("sip:agent5@10.0.0.5").unwrap();
        assert_eq!(s.addr, "10.0.0.5:5060".parse().unwrap(), "default port");
        assert_eq!(s.uri, "sip:agent5@10.0.0.5");
        let s = StaticUri::parse("sip:agent5@10.0.0.5:5070;transport=UDP").unwrap();
        assert_eq!(s.addr, "10.0.0.5:5070".parse().unwrap());
        assert!(StaticUri::parse("sip:agent5@[2001:db8::5]:5062").is_some());
        for bad in [
            "sips:agent5@10.0.0.5",
            "tel:+33123456789",
            "agent5@10.0.0.5",
            "sip:agent5@phone5.example.org",
            "sip:agent5@10.0.0.5:5060;transport=tcp",
            "sip:agent5@0.0.0.0:5060",
            "sip:agent5@10.0.0.5:0",
            "sip:agent5@10.0.0.5:99999",
        ] {
            assert_eq!(StaticUri::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_static_agent_is_reachable_at_its_uri_from_the_start() {
        let (r, mut events) = registrar(&[("agent1", "agent1")], &[("agent5", STATIC)]);
        let b = r.lookup("agent5").expect("static agent found");
        assert_eq!(b.contact, STATIC);
        assert_eq!(
            b.peer,
            Peer {
                transport: Transport::Udp,
                addr: "10.0.0.5:5070".parse().unwrap(),
                conn: None,
            }
        );
        assert_eq!(b.expires_at, None, "never expires");
        assert_eq!(r.lookup("agent1"), None, "not registered yet");
        assert_eq!(r.registered(), vec!["agent5".to_string()]);
        // Time passing changes nothing.
        r.expire(Instant::now() + Duration::from_secs(365 * 24 * 3600));
        assert_eq!(r.lookup("agent5").unwrap().contact, STATIC);
        assert_eq!(r.registered(), vec!["agent5".to_string()]);
        assert!(events.try_recv().is_err(), "no event: registered() tells");
    }

    #[test]
    fn a_static_agent_without_password_cannot_register() {
        let (r, mut events) = registrar(&[], &[("agent5", STATIC)]);
        assert_eq!(register(&r, "agent5", "", 3600), 403);
        assert_eq!(r.lookup("agent5").unwrap().contact, STATIC);
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn registered_lists_static_and_registered_agents_once() {
        let (r, _events) = registrar(
            &[("agent1", "agent1"), ("agent5", "pw5")],
            &[("agent5", STATIC)],
        );
        assert_eq!(register(&r, "agent1", "agent1", 3600), 200);
        assert_eq!(register(&r, "agent5", "pw5", 3600), 200);
        assert_eq!(sorted(r.registered()), vec!["agent1", "agent5"]);
    }

    #[test]
    fn a_registration_of_a_static_agent_wins_while_it_lasts_then_the_uri_is_back() {
        let (r, mut events) = registrar(&[("agent5", "pw5")], &[("agent5", STATIC)]);
        assert_eq!(register(&r, "agent5", "pw5", 3600), 200);
        let b = r.lookup("agent5").unwrap();
        assert_eq!(
            b.contact, "sip:agent5@127.0.0.1:40000",
            "the registration wins"
        );
        assert_eq!(b.peer, phone());
        assert!(b.expires_at.is_some());
        assert_eq!(
            events.try_recv().unwrap(),
            RegEvent::Registered {
                agent: "agent5".into(),
                contact: "sip:agent5@127.0.0.1:40000".into()
            }
        );

        // The phone unregisters: the static URI again, and no Unregistered.
        assert_eq!(register(&r, "agent5", "pw5", 0), 200);
        assert_eq!(r.lookup("agent5").unwrap().contact, STATIC);
        assert_eq!(r.registered(), vec!["agent5".to_string()]);
        assert_eq!(
            events.try_recv().unwrap(),
            RegEvent::Registered {
                agent: "agent5".into(),
                contact: STATIC.into()
            }
        );
        assert!(events.try_recv().is_err(), "nothing else");

        // Same when the registration expires.
        assert_eq!(register(&r, "agent5", "pw5", 60), 200);
        let _ = events.try_recv();
        r.expire(Instant::now() + Duration::from_secs(61));
        assert_eq!(r.lookup("agent5").unwrap().contact, STATIC);
        assert_eq!(
            events.try_recv().unwrap(),
            RegEvent::Registered {
                agent: "agent5".into(),
                contact: STATIC.into()
            }
        );
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn an_agent_without_static_uri_is_unregistered_when_its_registration_ends() {
        let (r, mut events) = registrar(&[("agent1", "agent1")], &[("agent5", STATIC)]);
        assert_eq!(register(&r, "agent1", "agent1", 3600), 200);
        let _ = events.try_recv();
        assert_eq!(register(&r, "agent1", "agent1", 0), 200);
        assert_eq!(r.lookup("agent1"), None);
        assert_eq!(
            events.try_recv().unwrap(),
            RegEvent::Unregistered {
                agent: "agent1".into(),
                reason: "phone unregistered"
            }
        );
    }

    #[test]
    fn refusals_tell_nothing_and_past_the_limits_every_register_gets_503() {
        let (tx, _events) = mpsc::unbounded_channel();
        let ha1 = sip::auth::ha1("agent2", "softswitch", "pw2");
        let accounts = HashMap::from([
            ("agent1".to_string(), Secret::Password("agent1".into())),
            ("agent2".to_string(), Secret::Ha1(ha1)),
        ]);
        let r = Registrar::new(
            SipAuth::new(sip::auth::DigestConfig::new("softswitch")),
            accounts,
            ExpiryLimits::default(),
            tx,
        );
        assert_eq!(register(&r, "agent2", "pw2", 3600), 200, "from its HA1");
        // An unknown agent and a wrong password: the same bare 403.
        for (agent, password) in [("nobody", "nobody"), ("agent1", "wrong")] {
            let (code, headers) = answer(&r, agent, password, 3600);
            assert_eq!((code, headers), (403, vec![]), "{agent}");
        }
        for _ in 0..4 {
            assert_eq!(register(&r, "agent1", "wrong", 3600), 403);
        }
        // The 6th failure of this source opens a delay: everything from it
        // gets 503 with the seconds left, the right password too.
        let (code, headers) = answer(&r, "agent2", "pw2", 3600);
        assert_eq!(code, 503);
        assert_eq!(headers, vec![Header::RetryAfter("1".into())]);
        assert_eq!(r.auth_stats().snapshot().failures_total, 6);
        assert_eq!(r.auth_stats().snapshot().refused_total, 1);
    }
}
