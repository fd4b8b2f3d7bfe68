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

/// Why a certificate could not be loaded or made; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Pem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{}: no certificate in it (PEM expected)", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{}: no private key in it (PEM expected): {source}", path.display())]
    NoKey {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate and key do not go together (or rustls refuses them).
    #[error("{} and {}: {source}", cert.display(), key.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS versions: {0}")]
    Versions(rustls::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating a certificate: {0}")]
    Generate(rcgen::Error),
}

/// Build a server configuration from PEM files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem = |source| TlsError::Pem {
        path: files.cert.clone(),
        source,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(pem)?
        .collect::<Result<_, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::NoKey {
        path: files.key.clone(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Versions)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            source,
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The configuration axum-server serves, reloadable.
pub fn rustls_config(files: &TlsFiles) -> Result<RustlsConfig, TlsError> {
    Ok(RustlsConfig::from_config(server_config(files)?))
}

/// Load the files again into a live configuration (SIGHUP). On error the
/// running certificate stays.
pub fn reload(live: &RustlsConfig, files: &TlsFiles) -> Result<(), TlsError> {
    live.reload_from_config(server_config(files)?);
    Ok(())
}

/// The self-signed certificate in `dir` (`admin-cert.pem`, `admin-key.pem`),
/// made now if absent, for `names` (host names and addresses). Whether it
/// was just made.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<(TlsFiles, bool), TlsError> {
    let files = TlsFiles {
        cert: dir.join("admin-cert.pem"),
        key: dir.join("admin-key.pem"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok((files, false));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let made = rcgen::generate_simple_self_signed(names.to_vec()).map_err(TlsError::Generate)?;
    write_private(&files.key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, made.cert.pem()).map_err(|source| TlsError::Io {
        path: files.cert.clone(),
        source,
    })?;
    Ok((files, true))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| TlsError::Io {
            path: path.to_path_buf(),
            source,
        })
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
        assert!(server_config(&files)
            .unwrap_err()
            .to_string()
            .contains("admin-key.pem"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
