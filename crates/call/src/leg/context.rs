//! What every leg task shares: the SIP endpoint, the CDR sink, the call
//! registry, the script inbound calls run, and our media address and codecs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cdr::CdrSink;
use media::codec::Codec;
use sip::{Endpoint, Transport};

use crate::handle::CallScript;
use crate::registry::CallRegistry;

/// Shared by every call task.
#[derive(Clone)]
pub struct CallContext {
    /// The SIP endpoint every leg sends and receives through.
    pub endpoint: Endpoint,
    /// Where call events (the CDR) go.
    pub cdr: CdrSink,
    /// The live calls, by SIP Call-ID.
    pub registry: CallRegistry,
    /// What runs on every answered inbound call (the IVR).
    pub script: Arc<dyn CallScript>,
    /// Address put in SDP (where our RTP sockets are bound).
    pub media_ip: IpAddr,
    /// Codecs we accept, in our order of preference.
    pub codecs: Vec<Codec>,
}

impl CallContext {
    /// Our SIP address on a transport (for Via) and our Contact URI.
    pub(crate) fn local_sip(&self, transport: Transport) -> (SocketAddr, String) {
        let local = self
            .endpoint
            .local_addr(transport)
            .map(|a| {
                if a.ip().is_unspecified() {
                    SocketAddr::new(self.media_ip, a.port())
                } else {
                    a
                }
            })
            .unwrap_or_else(|| SocketAddr::new(self.media_ip, 5060));
        (
            local,
            format!("sip:softswitch@{local}{}", transport.uri_param()),
        )
    }

    /// The dialog settings of a leg on `transport` allowing `allow`.
    pub(crate) fn dialog_config(
        &self,
        transport: Transport,
        allow: &'static str,
    ) -> sip::DialogConfig {
        let (local, contact) = self.local_sip(transport);
        sip::DialogConfig {
            allow,
            contact,
            via: format!("SIP/2.0/{} {local}", transport.as_str()),
        }
    }
}
