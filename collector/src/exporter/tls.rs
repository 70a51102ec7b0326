//! Client TLS settings shared by the network exporters (`tls:`), built on rustls with the ring
//! provider. Server-side TLS for receivers comes with issue 6 and will live beside this.

use crate::config::ConfigError;
use serde::Deserialize;
use std::sync::Arc;

/// A certificate chain and its key, as PEM.
pub type PemPair = (Vec<u8>, Vec<u8>);

/// `tls:` on an exporter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// Plaintext (no TLS) for endpoints without an `https://` scheme (default false).
    #[serde(default)]
    pub insecure: bool,
    /// CA bundle (PEM) to verify the server with, instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// Client key (PEM) for mutual TLS.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Server name to verify instead of the endpoint's host.
    #[serde(default)]
    pub server_name_override: Option<String>,
    /// Skipping verification is not supported (it defeats TLS).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Accepted: TLS 1.2 and 1.3 are both enabled.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Accepted: TLS 1.2 and 1.3 are both enabled.
    #[serde(default)]
    pub max_version: Option<String>,
}

impl ClientTlsConfig {
    /// Problems (field paths under `tls.`).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.cert_file.is_some() != self.key_file.is_some() {
            e.push(ConfigError::new("cert_file and key_file must be set together").field("tls"));
        }
        if self.insecure_skip_verify {
            e.push(
                ConfigError::new(
                    "insecure_skip_verify is not supported; set ca_file to the server's CA",
                )
                .field("tls.insecure_skip_verify"),
            );
        }
        for (f, v) in [
            ("min_version", &self.min_version),
            ("max_version", &self.max_version),
        ] {
            if let Some(v) = v
                && !matches!(v.as_str(), "1.2" | "1.3")
            {
                e.push(
                    ConfigError::new(format!("unsupported TLS version {v:?} (1.2 or 1.3)"))
                        .field(format!("tls.{f}")),
                );
            }
        }
        e
    }

    fn read(path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
    }

    /// The CA PEM, if configured.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, String> {
        self.ca_file.as_deref().map(Self::read).transpose()
    }

    /// The client certificate and key PEMs, if configured.
    pub fn identity_pem(&self) -> Result<Option<PemPair>, String> {
        match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Ok(Some((Self::read(c)?, Self::read(k)?))),
            _ => Ok(None),
        }
    }

    /// A rustls client config (for the HTTP exporter).
    pub fn rustls(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        match self.ca_pem()? {
            Some(pem) => {
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| format!("invalid certificate in ca_file: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("invalid certificate in ca_file: {e}"))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        match self.identity_pem()? {
            Some((cert, key)) => {
                let certs = rustls_pemfile::certs(&mut cert.as_slice())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("invalid cert_file: {e}"))?;
                let key = rustls_pemfile::private_key(&mut key.as_slice())
                    .map_err(|e| format!("invalid key_file: {e}"))?
                    .ok_or("no private key in key_file")?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("invalid client certificate: {e}"))
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }
}
