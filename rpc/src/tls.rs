//! Mutual TLS for internal links. Every node presents a certificate signed by the
//! deployment's CA and accepts only peers that do the same; the certificates carry one
//! shared DNS name (`server_name`) so nodes can be addressed by IP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use serde::{Deserialize, Serialize};

/// The DNS name internal certificates are issued for when none is configured.
pub const DEFAULT_SERVER_NAME: &str = "meridian.internal";

/// PEM files of one node's TLS identity, as written in its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// CA certificate(s) that sign every node's certificate.
    pub ca: PathBuf,
    /// This node's certificate chain.
    pub cert: PathBuf,
    /// This node's private key.
    pub key: PathBuf,
    /// The name every internal certificate carries (default `meridian.internal`).
    #[serde(default = "default_server_name")]
    pub server_name: String,
}

fn default_server_name() -> String {
    DEFAULT_SERVER_NAME.to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("tls: {0}")]
    Config(String),
}

/// Client and server configurations built from one node's [`TlsFiles`].
#[derive(Clone)]
pub struct TlsSettings {
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_err = |reason: String| TlsError::File {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err("no PEM certificate found".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl TlsSettings {
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&files.ca)? {
            roots.add(ca).map_err(|e| TlsError::File {
                path: files.ca.clone(),
                reason: e.to_string(),
            })?;
        }
        let roots = Arc::new(roots);
        let certs = read_certs(&files.cert)?;
        let key = read_key(&files.key)?;
        let config_err = |e: rustls::Error| TlsError::Config(e.to_string());

        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(config_err)?;
        server.alpn_protocols = vec![b"h2".to_vec()];

        let mut client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_err)?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(config_err)?;
        client.alpn_protocols = vec![b"h2".to_vec()];

        let server_name = ServerName::try_from(files.server_name.clone())
            .map_err(|e| TlsError::Config(format!("server_name {:?}: {e}", files.server_name)))?;
        Ok(Self {
            server: Arc::new(server),
            client: Arc::new(client),
            server_name,
        })
    }
}

/// The certificate a public listener (an edge's client and Server API port) presents.
/// Clients are not asked for certificates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicTlsFiles {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

impl PublicTlsFiles {
    /// A server configuration offering HTTP/2 and HTTP/1.1 (WebSocket upgrades use 1.1).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = read_certs(&self.cert)?;
        let key = read_key(&self.key)?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A client configuration trusting the CA certificates in `ca` (PEM), for clients of a
/// deployment with its own CA (tests, `meridian dev` with TLS).
pub fn client_config_trusting(ca: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca)? {
        roots.add(cert).map_err(|e| TlsError::File {
            path: ca.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A throw-away CA and node certificates for tests and local deployments.
pub struct DevPki {
    ca_cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl DevPki {
    pub fn new() -> Result<Self, TlsError> {
        let err = |e: rcgen::Error| TlsError::Config(e.to_string());
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Meridian dev CA");
        let cert = params.self_signed(&key).map_err(err)?;
        Ok(Self {
            ca_cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// Writes `ca.pem`, `<name>.pem` and `<name>.key` into `dir` and returns their paths.
    pub fn write_node(&self, dir: &Path, name: &str) -> Result<TlsFiles, TlsError> {
        let err = |e: rcgen::Error| TlsError::Config(e.to_string());
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let params = rcgen::CertificateParams::new(vec![
            DEFAULT_SERVER_NAME.to_string(),
            "localhost".to_string(),
        ])
        .map_err(err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(err)?;
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
            server_name: DEFAULT_SERVER_NAME.to_string(),
        };
        let write = |path: &Path, contents: &str| {
            std::fs::write(path, contents).map_err(|e| TlsError::File {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        };
        write(&files.ca, &self.ca_cert_pem)?;
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}

/// A throw-away self-signed certificate for `localhost` and 127.0.0.1, and a server
/// configuration presenting it and offering `alpn`: local stand-ins for third parties
/// (tests' fakes of push providers and app servers).
pub fn self_signed_server(
    alpn: &[&[u8]],
) -> Result<(CertificateDer<'static>, Arc<ServerConfig>), TlsError> {
    let err = |e: &dyn std::fmt::Display| TlsError::Config(e.to_string());
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(|e| err(&e))?;
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .map_err(|e| err(&e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok((cert, Arc::new(config)))
}
