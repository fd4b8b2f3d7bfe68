//! The SIP endpoint's TLS settings from `[sip]`: the listeners' certificate
//! (files, or a self-signed one made in <data>/tls/ at first start, with a
//! warning), the authorities of the trunks' client certificates (mutual
//! TLS), and the authorities trusted for connections we open.

use std::sync::Arc;

use anyhow::Result;
use sip::tls::{LiveTls, TlsFiles};

use crate::config::Config;

/// What the endpoint needs for TLS: the live server certificate when
/// there are TLS listeners, and the client trust.
pub struct SipTls {
    /// Our certificate, reloaded on SIGHUP.
    pub server: Option<LiveTls>,
    /// Trust for connections we open.
    pub client: Arc<rustls::ClientConfig>,
}

/// Load or make the certificate and read the trusted authorities.
pub fn load(cfg: &Config) -> Result<SipTls> {
    let o = &cfg.origin;
    let client = sip::tls::client_config(&cfg.sip.tls_ca_files)
        .map_err(|e| anyhow::anyhow!("{o}: [sip] tls_ca_files: {e}"))?;
    if cfg.sip.tls.is_empty() && cfg.sip.wss.is_empty() {
        return Ok(SipTls {
            server: None,
            client,
        });
    }
    let files = match (&cfg.sip.tls_cert_file, &cfg.sip.tls_key_file) {
        (Some(cert), Some(key)) => TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            let dir = cfg.data.dir.join("tls");
            let mut names = vec!["localhost".to_string()];
            let listeners = cfg.sip.tls.iter().chain(&cfg.sip.wss);
            let ips = listeners.map(|a| a.ip()).chain([cfg.media.ip]);
            for ip in ips.map(|ip| ip.to_string()) {
                if !names.contains(&ip) {
                    names.push(ip);
                }
            }
            let (files, made) = sip::tls::self_signed(&dir, "sip", &names)
                .map_err(|e| anyhow::anyhow!("SIP over TLS: {e}"))?;
            if made {
                tracing::warn!(cert = %files.cert.display(), "SIP over TLS: self-signed certificate generated; trunks and phones will not trust it: set [sip] tls_cert_file and tls_key_file");
            } else {
                tracing::warn!(cert = %files.cert.display(), "SIP over TLS uses the self-signed certificate of the data directory: set [sip] tls_cert_file and tls_key_file");
            }
            files
        }
    };
    let client_ca = call::Trunks::client_ca_files(&cfg.trunks);
    let live =
        LiveTls::load(files, client_ca).map_err(|e| anyhow::anyhow!("{o}: SIP over TLS: {e}"))?;
    Ok(SipTls {
        server: Some(live),
        client,
    })
}

/// Read the certificate files again (SIGHUP); the old one stays on error.
pub fn reload(live: &LiveTls) {
    match live.reload() {
        Ok(()) => {
            tracing::info!(cert = %live.files().cert.display(), "SIP over TLS certificate reloaded")
        }
        Err(e) => {
            tracing::error!(error = %e, "SIP over TLS certificate not reloaded; the old one stays")
        }
    }
}
