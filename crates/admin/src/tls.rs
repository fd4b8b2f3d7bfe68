//! HTTPS for the admin listener: TLS 1.2 and 1.3 only (rustls, ring),
//! certificates from PEM files, reloaded in place (SIGHUP) without dropping
//! connections; at a first start without files, a self-signed certificate
//! generated into the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate and key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Build a server configuration from PEM files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("{}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (PEM expected)",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!(
            "{}: no private key in it (PEM expected): {e}",
            files.key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{} and {}: {e}", files.cert.display(), files.key.display()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The configuration axum-server serves, reloadable.
pub fn rustls_config(files: &TlsFiles) -> Result<RustlsConfig, String> {
    Ok(RustlsConfig::from_config(server_config(files)?))
}

/// Load the files again into a live configuration (SIGHUP). On error the
/// running certificate stays.
pub fn reload(live: &RustlsConfig, files: &TlsFiles) -> Result<(), String> {
    live.reload_from_config(server_config(files)?);
    Ok(())
}

/// The self-signed certificate in `dir` (`admin-cert.pem`, `admin-key.pem`),
/// made now if absent, for `names` (host names and addresses). Whether it
/// was just made.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<(TlsFiles, bool), String> {
    let files = TlsFiles {
        cert: dir.join("admin-cert.pem"),
        key: dir.join("admin-key.pem"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok((files, false));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("generating a certificate: {e}"))?;
    write_private(&files.key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, made.cert.pem())
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    Ok((files, true))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_loads() {
        let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (files, made) = self_signed(&dir, &["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(made);
        let (_, again) = self_signed(&dir, &["localhost".into()]).unwrap();
        assert!(!again);
        let cfg = server_config(&files).unwrap();
        assert_eq!(cfg.alpn_protocols.len(), 2);
        std::fs::write(&files.key, "not a key").unwrap();
        assert!(server_config(&files).unwrap_err().contains("admin-key.pem"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
