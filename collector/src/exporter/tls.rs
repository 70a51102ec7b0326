//! Client TLS settings shared by the network exporters (`tls:`), built on rustls with the ring
//! provider: one `rustls::ClientConfig` serves both the gRPC and the HTTP exporter.

use crate::config::{ConfigError, Secret};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
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
    /// CA bundle (PEM file) to verify the server with, instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// CA bundle, inline PEM.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Trust the system roots as well as `ca_file`.
    #[serde(default)]
    pub include_system_ca_certs_pool: bool,
    /// Client certificate (PEM file) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// Client certificate, inline PEM.
    #[serde(default)]
    pub cert_pem: Option<String>,
    /// Client key (PEM file) for mutual TLS.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Client key, inline PEM (a secret).
    #[serde(default)]
    pub key_pem: Option<Secret>,
    /// Server name to verify (and send as SNI) instead of the endpoint's host.
    #[serde(default)]
    pub server_name_override: Option<String>,
    /// Do not verify the server's certificate (default false). Encrypts but does not
    /// authenticate: anyone on the path can impersonate the backend. Tests only.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version: `1.2` (default) or `1.3`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Highest TLS version: `1.3` (default) or `1.2`.
    #[serde(default)]
    pub max_version: Option<String>,
    /// TLS 1.2 cipher suites allowed (IANA names); empty: rustls's safe defaults.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Accepted for compatibility: certificates are read once at start.
    #[serde(default, deserialize_with = "crate::config::duration::de_opt")]
    pub reload_interval: Option<std::time::Duration>,
}

impl ClientTlsConfig {
    /// Problems (field paths under `tls.`).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let has_cert = self.cert_file.is_some() || self.cert_pem.is_some();
        let has_key = self.key_file.is_some() || self.key_pem.is_some();
        if has_cert != has_key {
            e.push(
                ConfigError::new("a client certificate and its key must be set together")
                    .field("tls"),
            );
        }
        for (f, both) in [
            ("ca_file", self.ca_file.is_some() && self.ca_pem.is_some()),
            (
                "cert_file",
                self.cert_file.is_some() && self.cert_pem.is_some(),
            ),
            (
                "key_file",
                self.key_file.is_some() && self.key_pem.is_some(),
            ),
        ] {
            if both {
                e.push(
                    ConfigError::new("set the file or the inline PEM, not both")
                        .field(format!("tls.{f}")),
                );
            }
        }
        e.extend(crate::tls::validate_common(
            "tls",
            self.min_version.as_deref(),
            self.max_version.as_deref(),
            &self.cipher_suites,
        ));
        e
    }

    /// A warning for `insecure_skip_verify`.
    pub fn warnings(&self) -> Vec<String> {
        if self.insecure_skip_verify && !self.insecure {
            vec!["tls.insecure_skip_verify is on: the backend's certificate is not verified".into()]
        } else {
            Vec::new()
        }
    }

    /// The CA PEM, if configured.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, String> {
        match (&self.ca_file, &self.ca_pem) {
            (Some(f), _) => crate::tls::read(f).map(Some),
            (None, Some(p)) => Ok(Some(p.as_bytes().to_vec())),
            (None, None) => Ok(None),
        }
    }

    /// The client certificate and key PEMs, if configured.
    pub fn identity_pem(&self) -> Result<Option<PemPair>, String> {
        let cert = match (&self.cert_file, &self.cert_pem) {
            (Some(f), _) => crate::tls::read(f)?,
            (None, Some(p)) => p.as_bytes().to_vec(),
            (None, None) => return Ok(None),
        };
        let key = match (&self.key_file, &self.key_pem) {
            (Some(f), _) => crate::tls::read(f)?,
            (None, Some(p)) => p.expose().as_bytes().to_vec(),
            (None, None) => return Ok(None),
        };
        Ok(Some((cert, key)))
    }

    /// The rustls client config both network exporters use. `alpn`: `h2` for gRPC.
    pub fn rustls(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, String> {
        let provider = crate::tls::provider(&self.cipher_suites)?;
        let versions =
            crate::tls::versions(self.min_version.as_deref(), self.max_version.as_deref())?;
        let mut roots = rustls::RootCertStore::empty();
        let ca = self.ca_pem()?;
        if let Some(pem) = &ca {
            roots = crate::tls::roots(pem, "ca_file")?;
        }
        if ca.is_none() || self.include_system_ca_certs_pool {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| e.to_string())?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut cfg = match self.identity_pem()? {
            Some((cert, key)) => {
                let certs = crate::tls::certs(&cert, "cert_file")?;
                let key = crate::tls::key(&key, "key_file")?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("invalid client certificate: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(cfg)
    }

    /// The name to verify: `server_name_override`, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, String> {
        let name = self.server_name_override.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(name.to_owned())
            .map_err(|e| format!("invalid server name {name:?}: {e}"))
    }
}

/// `insecure_skip_verify`: accepts any certificate, but still checks that the server holds
/// the key of the certificate it showed (so the handshake itself is sound).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
