//! Server-side TLS for receivers (`tls:` under `protocols.grpc` / `protocols.http`): a
//! certificate and key, optional client certificates (`client_ca_file`: mutual TLS), version
//! and cipher limits, and `reload_interval` to pick up rotated certificates (cert-manager)
//! without a restart.

use crate::config::{ConfigError, Secret, duration};
use rustls::ServerConfig;
use serde::Deserialize;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client gets to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `tls:` on a receiver protocol.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// The server certificate chain (PEM file).
    #[serde(default)]
    pub cert_file: Option<String>,
    /// The server certificate chain, inline PEM.
    #[serde(default)]
    pub cert_pem: Option<String>,
    /// The private key (PEM file).
    #[serde(default)]
    pub key_file: Option<String>,
    /// The private key, inline PEM (a secret: use `${file:...}` or `${env:...}`).
    #[serde(default)]
    pub key_pem: Option<Secret>,
    /// CAs (PEM) that client certificates must chain to: turns on mutual TLS, and clients
    /// without a valid certificate are refused during the handshake.
    #[serde(default)]
    pub client_ca_file: Option<String>,
    /// Re-read `client_ca_file` with the certificate at `reload_interval`.
    #[serde(default)]
    pub client_ca_file_reload: bool,
    /// Also trust the system's CAs for client certificates.
    #[serde(default)]
    pub include_system_ca_certs_pool: bool,
    /// Has no effect on a server (the Collector's shared TLS block); use `client_ca_file`.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Lowest TLS version accepted: `1.2` (default) or `1.3`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Highest TLS version accepted: `1.3` (default) or `1.2`.
    #[serde(default)]
    pub max_version: Option<String>,
    /// TLS 1.2 cipher suites allowed (IANA names); empty: rustls's safe defaults.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Re-read the certificate and key this often (none by default).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub reload_interval: Option<Duration>,
}

impl ServerTlsConfig {
    /// Problems, with field paths under `prefix` (`protocols.grpc.tls`).
    pub fn validate(&self, prefix: &str) -> Vec<ConfigError> {
        let mut e = Vec::new();
        match (&self.cert_file, &self.cert_pem) {
            (None, None) => e.push(
                ConfigError::new("a server needs a certificate: set cert_file (or cert_pem)")
                    .field(format!("{prefix}.cert_file")),
            ),
            (Some(_), Some(_)) => e.push(
                ConfigError::new("set cert_file or cert_pem, not both")
                    .field(format!("{prefix}.cert_file")),
            ),
            _ => {}
        }
        match (&self.key_file, &self.key_pem) {
            (None, None) => e.push(
                ConfigError::new("a server needs a private key: set key_file (or key_pem)")
                    .field(format!("{prefix}.key_file")),
            ),
            (Some(_), Some(_)) => e.push(
                ConfigError::new("set key_file or key_pem, not both")
                    .field(format!("{prefix}.key_file")),
            ),
            _ => {}
        }
        if self.reload_interval.is_some_and(|d| d.is_zero()) {
            e.push(ConfigError::new("must be positive").field(format!("{prefix}.reload_interval")));
        }
        e.extend(super::validate_common(
            prefix,
            self.min_version.as_deref(),
            self.max_version.as_deref(),
            &self.cipher_suites,
        ));
        e
    }

    /// Deprecation-style notes.
    pub fn warnings(&self, prefix: &str) -> Vec<String> {
        if self.ca_file.is_some() {
            vec![format!(
                "{prefix}.ca_file has no effect on a server; set client_ca_file to require client certificates"
            )]
        } else {
            Vec::new()
        }
    }

    /// Builds the rustls config, reading the files.
    fn build(&self, alpn: &[&[u8]]) -> Result<ServerConfig, String> {
        let provider = super::provider(&self.cipher_suites)?;
        let versions = super::versions(self.min_version.as_deref(), self.max_version.as_deref())?;
        let (cert_pem, cert_what) = match (&self.cert_file, &self.cert_pem) {
            (Some(f), _) => (super::read(f)?, f.clone()),
            (None, Some(p)) => (p.as_bytes().to_vec(), "cert_pem".to_owned()),
            (None, None) => return Err("no certificate configured".into()),
        };
        let (key_pem, key_what) = match (&self.key_file, &self.key_pem) {
            (Some(f), _) => (super::read(f)?, f.clone()),
            (None, Some(p)) => (p.expose().as_bytes().to_vec(), "key_pem".to_owned()),
            (None, None) => return Err("no private key configured".into()),
        };
        let certs = super::certs(&cert_pem, &cert_what)?;
        let key = super::key(&key_pem, &key_what)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| e.to_string())?;
        let builder = match &self.client_ca_file {
            Some(f) => {
                let mut roots = super::roots(&super::read(f)?, f)?;
                if self.include_system_ca_certs_pool {
                    for c in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(c);
                    }
                }
                let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| format!("invalid client_ca_file {f}: {e}"))?;
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let mut cfg = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("the certificate and key do not form a usable pair: {e}"))?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(cfg)
    }
}

/// A server's TLS acceptor, reloaded from its files at `reload_interval`.
pub struct TlsServer {
    cfg: ServerTlsConfig,
    alpn: Vec<&'static [u8]>,
    label: String,
    current: RwLock<(TlsAcceptor, Instant)>,
}

impl TlsServer {
    /// Loads the certificate (and client CAs) now, so that a bad file fails the start.
    /// `alpn`: `h2` for gRPC; `h2` and `http/1.1` for HTTP.
    pub fn new(
        label: &str,
        cfg: &ServerTlsConfig,
        alpn: &[&'static [u8]],
    ) -> Result<Arc<Self>, String> {
        let sc = cfg.build(alpn)?;
        Ok(Arc::new(Self {
            cfg: cfg.clone(),
            alpn: alpn.to_vec(),
            label: label.to_owned(),
            current: RwLock::new((TlsAcceptor::from(Arc::new(sc)), Instant::now())),
        }))
    }

    fn acceptor(&self) -> TlsAcceptor {
        let (acc, loaded) = self
            .current
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let Some(every) = self.cfg.reload_interval else {
            return acc;
        };
        if loaded.elapsed() < every {
            return acc;
        }
        let next = match self.cfg.build(&self.alpn) {
            Ok(sc) => TlsAcceptor::from(Arc::new(sc)),
            Err(e) => {
                tracing::warn!(component = %self.label, error = %e, "TLS reload failed; keeping the previous certificate");
                acc
            }
        };
        if let Ok(mut g) = self.current.write() {
            *g = (next.clone(), Instant::now());
        }
        next
    }

    /// Runs the handshake on an accepted connection, within [`HANDSHAKE_TIMEOUT`].
    pub async fn accept(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor().accept(tcp)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }
}
