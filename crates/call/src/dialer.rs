//! Calls out for the IVR's `transfer` node: to a number through a trunk's
//! outbound proxy (over UDP, TCP or TLS, answering its digest challenge
//! with the trunk's account), or to a SIP URI. Controlled transfer: the caller stays
//! on our B2BUA (we bridge the two legs), and the far end may not transfer
//! the call further (its REFER gets 403).

use std::net::SocketAddr;
use std::sync::Arc;

use media::engine::MediaEngine;
use sip::message;
use sip::{Peer, Transport};
use tokio::sync::mpsc;

use crate::handle::CallInfo;
use crate::leg::outbound::{self, LegControl, LegEvent, OutboundRequest};
use crate::leg::CallContext;
use crate::trunk::{TrunkSlot, Trunks};

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A number, sent to the trunk's outbound proxy.
    Number {
        /// The number to call.
        number: String,
        /// Name of the trunk to call through.
        trunk: String,
    },
    /// A SIP URI with an IP address host (`sip:desk@10.1.2.3:5060`).
    Uri(String),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Number { number, trunk } => write!(f, "{number} via {trunk}"),
            Destination::Uri(u) => f.write_str(u),
        }
    }
}

/// Why a call out could not be placed (or its destination is invalid).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// No trunk of that name is configured.
    #[error("no trunk {0:?} in the configuration")]
    UnknownTrunk(String),
    /// The trunk has no `outbound_proxy`: it takes calls in only.
    #[error("trunk {0:?} has no outbound_proxy: it takes calls in only")]
    NoOutbound(String),
    /// The trunk already carries its `max_calls`.
    #[error("trunk {0:?} is at its max_calls")]
    TrunkFull(String),
    /// The destination is not a SIP URI with an IP address host.
    #[error("{0:?}: expected a SIP URI with an IP address host, e.g. sip:desk@10.1.2.3:5060")]
    BadUri(String),
    /// No RTP session could be opened for the call out.
    #[error("cannot open an RTP session for the call out: {0}")]
    Media(std::io::Error),
}

/// Places calls out; cheap to clone.
#[derive(Clone)]
pub struct Dialer {
    ctx: CallContext,
    engine: MediaEngine,
    trunks: Arc<Trunks>,
}

/// A call out in progress. Dropping it cancels or hangs it up.
pub struct Outbound {
    events: mpsc::UnboundedReceiver<LegEvent>,
    leg: LegControl,
    /// The trunk place it holds, if it went through a trunk.
    _slot: Option<TrunkSlot>,
}

impl Outbound {
    /// The next step of the leg (`None` once it is over).
    pub async fn next(&mut self) -> Option<LegEvent> {
        self.events.recv().await
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        self.leg.stop();
    }
}

/// `sip:user@1.2.3.4:5060;x` -> (user, 1.2.3.4:5060); no port: 5060.
pub(crate) fn parse_uri(uri: &str) -> Option<(String, SocketAddr)> {
    let rest = uri.strip_prefix("sip:")?;
    let (user, host) = match rest.split_once('@') {
        Some((u, h)) => (u.to_string(), h),
        None => (String::new(), rest),
    };
    let host = host.split(';').next()?;
    let addr = host.parse::<SocketAddr>().ok().or_else(|| {
        let ip = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        ip.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 5060))
    })?;
    Some((user, addr))
}

impl Dialer {
    /// A dialer placing legs with `ctx` and `engine`, through `trunks`.
    pub fn new(ctx: CallContext, engine: MediaEngine, trunks: Arc<Trunks>) -> Dialer {
        Dialer {
            ctx,
            engine,
            trunks,
        }
    }

    /// Check a destination without calling (flow validation at load).
    pub fn check(&self, dest: &Destination) -> Result<(), DialError> {
        match dest {
            Destination::Number { trunk, .. } => {
                let t = self
                    .trunks
                    .get(trunk)
                    .ok_or_else(|| DialError::UnknownTrunk(trunk.clone()))?;
                t.cfg
                    .outbound_proxy
                    .map(|_| ())
                    .ok_or_else(|| DialError::NoOutbound(trunk.clone()))
            }
            Destination::Uri(u) => parse_uri(u)
                .map(|_| ())
                .ok_or_else(|| DialError::BadUri(u.clone())),
        }
    }

    /// Call `dest` for the caller `info` (its number is presented unless
    /// the trunk sets its own, or the caller withheld it).
    pub fn dial(&self, info: &CallInfo, dest: &Destination) -> Result<Outbound, DialError> {
        let caller = info.caller.clone().filter(|_| !info.withheld);
        let (req, slot) = match dest {
            Destination::Number { number, trunk } => {
                let t = self
                    .trunks
                    .get(trunk)
                    .ok_or_else(|| DialError::UnknownTrunk(trunk.clone()))?;
                let proxy = t
                    .cfg
                    .outbound_proxy
                    .ok_or_else(|| DialError::NoOutbound(trunk.clone()))?;
                let slot = t
                    .try_acquire()
                    .ok_or_else(|| DialError::TrunkFull(trunk.clone()))?;
                let transport = t.cfg.outbound_transport.transport();
                let param = transport.uri_param();
                let req = OutboundRequest {
                    callee: number.clone(),
                    uri: format!("sip:{number}@{proxy}{param}"),
                    peer: Peer {
                        transport,
                        addr: proxy,
                        conn: None,
                    },
                    caller: t.cfg.outbound_caller_id.clone().or(caller),
                    record_id: info.record_id.clone(),
                    beside: info.media,
                    trunk: trunk.clone(),
                    credentials: t
                        .cfg
                        .outbound_username
                        .clone()
                        .zip(t.cfg.outbound_password.clone()),
                };
                (req, Some(slot))
            }
            Destination::Uri(uri) => {
                let (user, addr) = parse_uri(uri).ok_or_else(|| DialError::BadUri(uri.clone()))?;
                let req = OutboundRequest {
                    callee: if user.is_empty() {
                        message::uri_user(uri).unwrap_or("").to_string()
                    } else {
                        user
                    },
                    uri: uri.clone(),
                    peer: Peer {
                        transport: Transport::Udp,
                        addr,
                        conn: None,
                    },
                    caller,
                    record_id: info.record_id.clone(),
                    beside: info.media,
                    trunk: "uri".into(),
                    credentials: None,
                };
                (req, None)
            }
        };
        let (tx, events) = mpsc::unbounded_channel();
        let report = Box::new(move |ev: LegEvent| {
            let _ = tx.send(ev);
        });
        let leg =
            outbound::dial_out(&self.ctx, &self.engine, req, report).map_err(DialError::Media)?;
        Ok(Outbound {
            events,
            leg,
            _slot: slot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("sip:desk@10.1.2.3:5070;transport=udp"),
            Some(("desk".into(), "10.1.2.3:5070".parse().unwrap()))
        );
        assert_eq!(
            parse_uri("sip:10.1.2.3"),
            Some((String::new(), "10.1.2.3:5060".parse().unwrap()))
        );
        assert_eq!(
            parse_uri("sip:desk@[::1]"),
            Some(("desk".into(), "[::1]:5060".parse().unwrap()))
        );
        assert_eq!(parse_uri("sip:desk@pbx.example.org"), None, "no DNS");
        assert_eq!(parse_uri("tel:+33123"), None);
    }
}
