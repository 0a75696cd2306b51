//! HTTPS: rustls (ring) as the handshake of the one listener loop
//! ([`crate::connections`]), so that connection limits, timeouts, draining and
//! graceful shutdown are exactly those of plain HTTP.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::connections::Handshake;

/// A client that has not completed its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's TLS configuration.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    /// The PEM certificate chain and key, for Arrow Flight's own TLS (tonic's).
    pem: Arc<(Vec<u8>, Vec<u8>)>,
}

impl Tls {
    /// Reads a PEM certificate chain (leaf first) and its PEM private key
    /// (PKCS#8, PKCS#1 or SEC1), and checks that they belong together. The
    /// server then speaks TLS 1.2 and 1.3 with ring's cipher suites and offers
    /// ALPN `http/1.1`.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsError::from_pem(PemFile::Certificate, cert, e))?;
        if chain.is_empty() {
            return Err(TlsError::from_pem(
                PemFile::Certificate,
                cert,
                pem::Error::NoItemsFound,
            ));
        }
        let key_der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| TlsError::from_pem(PemFile::PrivateKey, key, e))?;
        let pair_error = |source| TlsError::Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        };
        // The provider is named, not taken from the process default, so that
        // another crate enabling a second one cannot make this ambiguous.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(pair_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(pair_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        let pem = (
            read(PemFile::Certificate, cert)?,
            read(PemFile::PrivateKey, key)?,
        );
        Ok(Self {
            config: Arc::new(config),
            pem: Arc::new(pem),
        })
    }

    /// The PEM certificate chain and private key.
    pub(crate) fn pem(&self) -> (&[u8], &[u8]) {
        (&self.pem.0, &self.pem.1)
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key: only what is safe to log.
        f.debug_struct("Tls")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemFile {
    Certificate,
    PrivateKey,
}

impl fmt::Display for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemFile::Certificate => "certificate",
            PemFile::PrivateKey => "private key",
        })
    }
}

/// Why the TLS files cannot be used; each names the file. No message ever
/// quotes a file's contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS {what} {}: {source}", path.display())]
    Read {
        what: PemFile,
        path: PathBuf,
        source: io::Error,
    },
    #[error("invalid TLS {what} {}: {reason}", path.display())]
    Invalid {
        what: PemFile,
        path: PathBuf,
        reason: &'static str,
    },
    #[error(
        "TLS certificate {} and private key {} cannot be used together: {source}",
        cert.display(),
        key.display()
    )]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

impl TlsError {
    fn from_pem(what: PemFile, path: &Path, error: pem::Error) -> Self {
        let reason = match error {
            pem::Error::Io(source) => {
                return TlsError::Read {
                    what,
                    path: path.to_path_buf(),
                    source,
                };
            }
            pem::Error::NoItemsFound => match what {
                PemFile::Certificate => "no PEM certificate (`BEGIN CERTIFICATE`) in it",
                PemFile::PrivateKey => {
                    "no PEM private key (PKCS#8, PKCS#1 or SEC1; not encrypted) in it"
                }
            },
            pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line",
            pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
            pem::Error::Base64Decode(_) => "a PEM section is not valid base64",
            _ => "not a valid PEM file",
        };
        TlsError::Invalid {
            what,
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// The TLS handshake of each accepted connection, in the connection's own
/// task (a slow client never holds up the others); a failed one is logged at
/// debug and the connection dropped.
#[derive(Clone)]
pub(crate) struct TlsHandshake {
    acceptor: TlsAcceptor,
}

impl TlsHandshake {
    pub(crate) fn new(tls: Tls) -> Self {
        Self {
            acceptor: TlsAcceptor::from(tls.config),
        }
    }
}

impl Handshake for TlsHandshake {
    type Io = TlsStream<TcpStream>;

    async fn handshake(&self, stream: TcpStream, peer: SocketAddr) -> Option<Self::Io> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                None
            }
        }
    }
}
