//! Agent registrations (REGISTER with digest auth, RFC 3261 section 10):
//! where each agent's phone is reached, until its binding expires. Every
//! change is reported, so an agent is never offered a call while its phone
//! is unregistered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sip::auth::{Authenticator, Verdict};
use sip::message::{self, name_addr_param, name_addr_uri, uri_user};
use sip::rsip::prelude::*;
use sip::rsip::{Header, Request};
use sip::{Endpoint, Essentials, Peer, ServerTxId};
use tokio::sync::mpsc;

/// Registration lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct ExpiryLimits {
    pub min: u32,
    pub max: u32,
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
    /// The Contact URI the phone registered.
    pub contact: String,
    /// Where its REGISTER came from: requests go there (NAT, TCP connection).
    pub peer: Peer,
    pub expires_at: Instant,
    pub user_agent: Option<String>,
}

/// A registration change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEvent {
    Registered { agent: String, contact: String },
    Unregistered { agent: String, reason: &'static str },
}

/// The registrar of agent phones; cheap to share.
pub struct Registrar {
    auth: Authenticator,
    /// Agent id -> password (replaced on config reload).
    accounts: RwLock<HashMap<String, String>>,
    bindings: DashMap<String, Binding>,
    limits: ExpiryLimits,
    events: mpsc::UnboundedSender<RegEvent>,
}

impl Registrar {
    pub fn new(
        realm: &str,
        accounts: HashMap<String, String>,
        limits: ExpiryLimits,
        events: mpsc::UnboundedSender<RegEvent>,
    ) -> Arc<Self> {
        Arc::new(Registrar {
            auth: Authenticator::new(realm),
            accounts: RwLock::new(accounts),
            bindings: DashMap::new(),
            limits,
            events,
        })
    }

    /// The phone of an agent, if registered and not expired.
    pub fn lookup(&self, agent: &str) -> Option<Binding> {
        self.bindings
            .get(agent)
            .filter(|b| b.expires_at > Instant::now())
            .map(|b| b.clone())
    }

    /// Agents with a live binding.
    pub fn registered(&self) -> Vec<String> {
        self.bindings.iter().map(|b| b.key().clone()).collect()
    }

    /// New accounts (config reload); bindings of removed agents are dropped.
    pub fn set_accounts(&self, accounts: HashMap<String, String>) {
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

    fn password(&self, user: &str) -> Option<String> {
        self.accounts
            .read()
            .expect("accounts lock")
            .get(user)
            .cloned()
    }

    fn unbind(&self, agent: &str, reason: &'static str) {
        if self.bindings.remove(agent).is_some() {
            tracing::info!(agent, reason, "agent phone unregistered");
            let _ = self.events.send(RegEvent::Unregistered {
                agent: agent.to_string(),
                reason,
            });
        }
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
        let reply = |code: u16, extra: Vec<Header>| {
            let mut r = message::response(req, code, Some(&message::random_token(8)));
            r.headers.extend(extra);
            ep.respond(id, r);
        };
        let warn = |text: &str| Header::Warning(format!("399 softswitch \"{text}\"").into());
        let auth = req.headers.iter().find_map(|h| match h {
            Header::Authorization(a) => Some(a.value()),
            _ => None,
        });
        let Some(auth) = auth else {
            reply(
                401,
                vec![Header::WwwAuthenticate(self.auth.challenge(false).into())],
            );
            return;
        };
        let (verdict, user) = self.auth.verify(auth, "REGISTER", |u| self.password(u));
        match verdict {
            Verdict::Ok => {}
            Verdict::Stale => {
                reply(
                    401,
                    vec![Header::WwwAuthenticate(self.auth.challenge(true).into())],
                );
                return;
            }
            Verdict::Denied(why) => {
                tracing::warn!(user = user.as_deref().unwrap_or("?"), source = %from.addr, why, "REGISTER refused");
                reply(403, vec![warn(why)]);
                return;
            }
        }
        let user = user.unwrap_or_default();
        let to_user = req.headers.iter().find_map(|h| match h {
            Header::To(t) => uri_user(name_addr_uri(t.value())).map(str::to_string),
            _ => None,
        });
        if to_user.as_deref() != Some(user.as_str()) {
            reply(
                403,
                vec![warn("the To user must be the authenticated agent")],
            );
            return;
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
            // A query: tell the current binding.
            let extra = self
                .lookup(&user)
                .map(|b| vec![contact_header(&b)])
                .unwrap_or_default();
            reply(200, extra);
            return;
        }
        if contacts.iter().any(|c| c.trim() == "*") {
            if header_expires != Some(0) || contacts.len() > 1 {
                reply(
                    400,
                    vec![warn("Contact: * needs Expires: 0 and no other contact")],
                );
                return;
            }
            self.unbind(&user, "phone removed its binding");
            reply(200, vec![]);
            return;
        }
        // One phone per agent: the last contact of the request wins.
        let contact = contacts[contacts.len() - 1];
        let expires = name_addr_param(contact, "expires")
            .and_then(|e| e.parse::<u32>().ok())
            .or(header_expires)
            .unwrap_or(self.limits.default);
        if expires == 0 {
            self.unbind(&user, "phone unregistered");
            reply(200, vec![]);
            return;
        }
        if expires < self.limits.min {
            reply(
                423,
                vec![Header::Other(
                    "Min-Expires".into(),
                    self.limits.min.to_string(),
                )],
            );
            return;
        }
        let expires = expires.min(self.limits.max);
        let binding = Binding {
            contact: name_addr_uri(contact).to_string(),
            peer: from,
            expires_at: Instant::now() + Duration::from_secs(expires as u64),
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
        reply(200, vec![header]);
    }

    /// Drop bindings whose time is up; run every second by [`Registrar::run_expiry`].
    pub fn expire(&self, now: Instant) {
        let due: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| b.expires_at <= now)
            .map(|b| b.key().clone())
            .collect();
        for agent in due {
            self.unbind(&agent, "registration expired");
        }
    }

    pub async fn run_expiry(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            self.expire(Instant::now());
        }
    }
}

fn contact_header(b: &Binding) -> Header {
    let left = b
        .expires_at
        .saturating_duration_since(Instant::now())
        .as_secs();
    Header::Contact(format!("<{}>;expires={left}", b.contact).into())
}
