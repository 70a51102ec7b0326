//! TLS pieces shared by servers (receivers, [`server`]) and clients (exporters,
//! `exporter::ClientTlsConfig`): rustls with the ring provider, the Collector's `min_version`,
//! `max_version` and `cipher_suites` settings, and PEM loading.

pub mod server;

use crate::config::ConfigError;
use rustls::SupportedProtocolVersion;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// `"1.2"` / `"1.3"`; the Collector also knows 1.0 and 1.1, which rustls refuses to speak.
fn version(v: &str) -> Result<&'static SupportedProtocolVersion, String> {
    match v {
        "1.2" => Ok(&rustls::version::TLS12),
        "1.3" => Ok(&rustls::version::TLS13),
        "1.0" | "1.1" => Err(format!(
            "TLS {v} is insecure and not supported (use 1.2 or 1.3)"
        )),
        other => Err(format!("unsupported TLS version {other:?} (1.2 or 1.3)")),
    }
}

/// The protocol versions from `min_version` (default 1.2) to `max_version` (default 1.3).
pub fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let lo = min.filter(|s| !s.is_empty()).map(version).transpose()?;
    let hi = max.filter(|s| !s.is_empty()).map(version).transpose()?;
    let all = [&rustls::version::TLS12, &rustls::version::TLS13];
    let pos = |v: &SupportedProtocolVersion| all.iter().position(|x| x.version == v.version);
    let from = lo.and_then(pos).unwrap_or(0);
    let to = hi.and_then(pos).unwrap_or(1);
    if from > to {
        return Err("min_version is greater than max_version".into());
    }
    Ok(all.get(from..=to).map(<[_]>::to_vec).unwrap_or_default())
}

/// The ring provider, restricted to `cipher_suites` for TLS 1.2 when the list is not empty
/// (TLS 1.3 suites are always on, as in Go). Names are IANA's, as the Collector takes them.
pub fn provider(cipher_suites: &[String]) -> Result<Arc<CryptoProvider>, String> {
    let mut p = rustls::crypto::ring::default_provider();
    if cipher_suites.is_empty() {
        return Ok(Arc::new(p));
    }
    let name = |s: &rustls::SupportedCipherSuite| format!("{:?}", s.suite());
    let mut keep = Vec::new();
    for wanted in cipher_suites {
        let w = wanted
            .trim_end_matches("_SHA256")
            .replace("TLS_AES", "TLS13_AES");
        let w = w.replace("TLS_CHACHA20", "TLS13_CHACHA20");
        let found = p
            .cipher_suites
            .iter()
            .find(|s| name(s).trim_end_matches("_SHA256") == w || name(s) == *wanted);
        match found {
            Some(s) => keep.push(*s),
            None => {
                let known: Vec<String> = p.cipher_suites.iter().map(name).collect();
                return Err(format!(
                    "unsupported cipher suite {wanted:?} (supported: {})",
                    known.join(", ")
                ));
            }
        }
    }
    p.cipher_suites
        .retain(|s| keep.contains(s) || s.version() == &rustls::version::TLS13);
    Ok(Arc::new(p))
}

/// Config errors for the version and cipher settings, under `prefix` (`tls`).
pub fn validate_common(
    prefix: &str,
    min: Option<&str>,
    max: Option<&str>,
    cipher_suites: &[String],
) -> Vec<ConfigError> {
    let mut e = Vec::new();
    for (f, v) in [("min_version", min), ("max_version", max)] {
        if let Some(Err(r)) = v.filter(|s| !s.is_empty()).map(version) {
            e.push(ConfigError::new(r).field(format!("{prefix}.{f}")));
        }
    }
    if e.is_empty()
        && let Err(r) = versions(min, max)
    {
        e.push(ConfigError::new(r).field(format!("{prefix}.min_version")));
    }
    if let Err(r) = provider(cipher_suites) {
        e.push(ConfigError::new(r).field(format!("{prefix}.cipher_suites")));
    }
    e
}

/// Every certificate in a PEM bundle (at least one).
pub fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM in {what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {what}"));
    }
    Ok(certs)
}

/// The private key in a PEM file. The error never includes the key.
pub fn key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, String> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|_| format!("invalid PEM in {what}"))?
        .ok_or_else(|| format!("no private key found in {what}"))
}

/// A root store from a PEM bundle.
pub fn roots(pem: &[u8], what: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(pem, what)? {
        roots
            .add(c)
            .map_err(|e| format!("invalid certificate in {what}: {e}"))?;
    }
    Ok(roots)
}

/// Reads a file for TLS, naming it in the error.
pub fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ranges() {
        let v = |a, b| {
            versions(a, b).map(|v| {
                v.iter()
                    .map(|x| format!("{:?}", x.version))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(v(None, None).unwrap(), ["TLSv1_2", "TLSv1_3"]);
        assert_eq!(v(Some("1.3"), None).unwrap(), ["TLSv1_3"]);
        assert_eq!(v(None, Some("1.2")).unwrap(), ["TLSv1_2"]);
        assert!(v(Some("1.3"), Some("1.2")).is_err());
        assert!(v(Some("1.1"), None).unwrap_err().contains("insecure"));
        assert!(v(Some("2"), None).is_err());
    }

    #[test]
    fn cipher_suites_by_iana_name() {
        let p = provider(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()]).unwrap();
        let names: Vec<String> = p
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned()));
        assert!(!names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_owned()));
        assert!(names.iter().any(|n| n.starts_with("TLS13_")));
        assert!(provider(&["TLS_RSA_WITH_RC4_128_SHA".into()]).is_err());
    }
}
