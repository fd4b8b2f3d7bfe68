//! TLS settings shared by SIP over TLS and the admin's HTTPS: TLS 1.2 and
//! 1.3 only (rustls with ring), certificates from PEM files, a self-signed
//! certificate generated at a first start without files, trust anchors
//! for connections we open, and a server configuration swapped in place
//! when the files are read again (SIGHUP).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
pub use rustls::pki_types::CertificateDer;
use rustls::pki_types::{PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;

/// Where a certificate chain and its key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why a certificate could not be loaded or made; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file is not readable PEM.
    #[error("{}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls::pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error("{}: no certificate in it (PEM expected)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no private key.
    #[error("{}: no private key in it (PEM expected): {source}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate and key do not go together (or rustls refuses them).
    #[error("{} and {}: {source}", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// A certificate authority file rustls does not take as a trust anchor.
    #[error("{}: not a usable CA certificate: {source}", path.display())]
    Anchor {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// The protocol versions could not be set (a rustls build without TLS 1.2).
    #[error("TLS versions: {0}")]
    Versions(rustls::Error),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// Making a self-signed certificate failed.
    #[error("generating a certificate: {0}")]
    Generate(rcgen::Error),
    /// The client certificate checker could not be built.
    #[error("client certificates: {0}")]
    Verifier(String),
}

/// Why a client certificate does not admit its connection to a trunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertRefused {
    /// The connection is not TLS, or its client sent no certificate.
    #[error("no client certificate")]
    Missing,
    /// The certificate does not chain to the trunk's authorities, or is
    /// expired or not for client use.
    #[error("client certificate not trusted: {0}")]
    Untrusted(String),
    /// The certificate names none of the trunk's names.
    #[error("client certificate names none of {0}")]
    WrongName(String),
}

/// One trunk's mutual TLS: the authorities its client certificate must
/// chain to and, when given, the names it must carry (DNS or IP subject
/// alternative names). The handshake already checked the chain against
/// every trunk's authorities together; this checks it against this
/// trunk's alone.
#[derive(Clone)]
pub struct ClientCheck {
    verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    /// The names, parsed once (checked on every call's INVITE).
    names: Vec<ServerName<'static>>,
}

impl std::fmt::Debug for ClientCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCheck")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl ClientCheck {
    /// Read the authorities from `ca_files`; `names` may be empty (any
    /// certificate from them).
    pub fn new(ca_files: &[PathBuf], names: &[String]) -> Result<ClientCheck, TlsError> {
        let names = names
            .iter()
            .map(|name| {
                ServerName::try_from(name.clone()).map_err(|_| {
                    TlsError::Verifier(format!("{name:?} is not a host name or address"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(anchors(ca_files)?), provider())
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
        Ok(ClientCheck { verifier, names })
    }

    /// Whether `chain` (leaf first, as the client sent it) admits its
    /// connection.
    pub fn check(&self, chain: Option<&[CertificateDer<'static>]>) -> Result<(), CertRefused> {
        let Some((leaf, intermediates)) = chain.and_then(|c| c.split_first()) else {
            return Err(CertRefused::Missing);
        };
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| CertRefused::Untrusted(e.to_string()))?;
        if self.names.is_empty() {
            return Ok(());
        }
        let cert = webpki::EndEntityCert::try_from(leaf)
            .map_err(|e| CertRefused::Untrusted(e.to_string()))?;
        let named = self
            .names
            .iter()
            .any(|n| cert.verify_is_valid_for_subject_name(n).is_ok());
        if named {
            Ok(())
        } else {
            let names: Vec<String> = self.names.iter().map(|n| n.to_str().into_owned()).collect();
            Err(CertRefused::WrongName(names.join(", ")))
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 and 1.2; never 1.1 or 1.0 (the tenders ask for 1.2 or later).
const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Read a certificate chain from a PEM file.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |source| TlsError::Pem {
        path: path.to_path_buf(),
        source,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<_, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// A server configuration from PEM files, offering `alpn` (empty for SIP).
pub fn server_config(
    files: &TlsFiles,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_for_clients(files, alpn, &[])
}

/// Trust anchors read from PEM files.
fn anchors(paths: &[PathBuf]) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for path in paths {
        for cert in read_certs(path)? {
            roots.add(cert).map_err(|e| TlsError::Anchor {
                path: path.clone(),
                source: rustls::Error::General(e.to_string()),
            })?;
        }
    }
    Ok(roots)
}

/// A server configuration that also asks clients for a certificate signed
/// by one of `client_ca` (none: no certificate asked). A client without
/// one still connects: one listener serves trunks with and without mutual
/// TLS, and each trunk checks its own ([`ClientCheck`]); a certificate
/// from an authority nobody trusts fails the handshake.
pub fn server_config_for_clients(
    files: &TlsFiles,
    alpn: &[&[u8]],
    client_ca: &[PathBuf],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::NoKey {
        path: files.key.clone(),
        source,
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(TlsError::Versions)?;
    let builder = if client_ca.is_empty() {
        builder.with_no_client_auth()
    } else {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(anchors(client_ca)?), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            source,
        })?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A client configuration for connections we open (calls out, requests
/// to phones over TLS): trusting the system's authorities
/// (`/etc/ssl/certs/ca-certificates.crt` where present) and `extra_ca`.
pub fn client_config(extra_ca: &[PathBuf]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if system.exists() {
        if let Ok(certs) = read_certs(system) {
            // Some bundles carry certificates webpki cannot parse; the
            // others still count.
            roots.add_parsable_certificates(certs);
        }
    }
    for anchor in anchors(extra_ca)?.roots {
        roots.roots.push(anchor);
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(TlsError::Versions)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// The self-signed certificate `<stem>-cert.pem` / `<stem>-key.pem` in
/// `dir`, made now if absent, for `names` (host names and addresses).
/// Whether it was just made.
pub fn self_signed(dir: &Path, stem: &str, names: &[String]) -> Result<(TlsFiles, bool), TlsError> {
    let files = TlsFiles {
        cert: dir.join(format!("{stem}-cert.pem")),
        key: dir.join(format!("{stem}-key.pem")),
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

/// A server configuration that new connections read as they arrive and
/// that a reload replaces; connections already up keep theirs.
#[derive(Debug, Clone)]
pub struct LiveTls {
    files: TlsFiles,
    client_ca: Vec<PathBuf>,
    current: Arc<RwLock<Arc<rustls::ServerConfig>>>,
}

impl LiveTls {
    /// Load `files` (no ALPN: SIP over TLS names no application protocol),
    /// asking clients for certificates from `client_ca` (the trunks' mutual
    /// TLS authorities; none: no certificate asked).
    pub fn load(files: TlsFiles, client_ca: Vec<PathBuf>) -> Result<LiveTls, TlsError> {
        let cfg = server_config_for_clients(&files, &[], &client_ca)?;
        Ok(LiveTls {
            files,
            client_ca,
            current: Arc::new(RwLock::new(cfg)),
        })
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Read the files again; on error the running certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let cfg = server_config_for_clients(&self.files, &[], &self.client_ca)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = cfg;
        Ok(())
    }

    /// The files it reads.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_loads_and_reloads() {
        let dir = std::env::temp_dir().join(format!("sip-tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (files, made) =
            self_signed(&dir, "sip", &["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(made);
        assert!(files.cert.ends_with("sip-cert.pem"));
        let (_, again) = self_signed(&dir, "sip", &["localhost".into()]).unwrap();
        assert!(!again);
        let live = LiveTls::load(files.clone(), Vec::new()).unwrap();
        assert!(live.current().alpn_protocols.is_empty());
        let before = live.current();
        live.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &live.current()), "a reload swaps");
        // A broken key: the reload fails, naming the file, and the old stays.
        std::fs::write(&files.key, "not a key").unwrap();
        let err = live.reload().unwrap_err().to_string();
        assert!(err.contains("sip-key.pem"), "{err}");
        assert!(server_config(&files, &[b"h2"])
            .unwrap_err()
            .to_string()
            .contains("sip-key.pem"));
        // Our own certificate is a usable trust anchor for calls out.
        assert!(client_config(std::slice::from_ref(&files.cert)).is_ok());
        let err = client_config(std::slice::from_ref(&files.key)).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
