//! HTTPS for the admin listener: the certificate files and self-signed
//! fallback of [`sip::tls`] (TLS 1.2 and 1.3 only), offered with ALPN h2
//! and http/1.1 and reloaded in place (SIGHUP) without dropping
//! connections.

use std::path::Path;

use axum_server::tls_rustls::RustlsConfig;
pub use sip::tls::{TlsError, TlsFiles};

const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The configuration axum-server serves, reloadable.
pub fn rustls_config(files: &TlsFiles) -> Result<RustlsConfig, TlsError> {
    Ok(RustlsConfig::from_config(sip::tls::server_config(
        files, ALPN,
    )?))
}

/// Load the files again into a live configuration (SIGHUP). On error the
/// running certificate stays.
pub fn reload(live: &RustlsConfig, files: &TlsFiles) -> Result<(), TlsError> {
    live.reload_from_config(sip::tls::server_config(files, ALPN)?);
    Ok(())
}

/// The self-signed certificate in `dir` (`admin-cert.pem`, `admin-key.pem`),
/// made now if absent, for `names` (host names and addresses). Whether it
/// was just made.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<(TlsFiles, bool), TlsError> {
    sip::tls::self_signed(dir, "admin", names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_certificate_offers_h2_and_http1() {
        let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (files, made) = self_signed(&dir, &["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(made);
        assert!(files.cert.ends_with("admin-cert.pem"));
        let cfg = sip::tls::server_config(&files, ALPN).unwrap();
        assert_eq!(cfg.alpn_protocols.len(), 2);
        assert!(rustls_config(&files).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
