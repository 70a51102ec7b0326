//! Authenticators: `bearertokenauth` and `basicauth`, on the server side (a receiver's
//! `auth: {authenticator: ID}`: requests without the right credentials get HTTP 401 / gRPC
//! `UNAUTHENTICATED`) and the client side (an exporter's `auth: {authenticator: ID}`: the
//! credentials are added to every request). Credentials are [`Secret`](crate::config::Secret)s:
//! they never appear in logs or errors, and they are compared in constant time.

pub mod basic;
pub mod bearer;
pub mod htpasswd;

use http::{HeaderMap, HeaderName, HeaderValue};

/// Why a request was not authenticated. The message is safe to send to the client and to
/// log: it never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub &'static str);

/// What an authenticator learnt about the client, for `from_context: auth.<name>` (the
/// Collector's `client.AuthData`): `basicauth` gives `username`; `bearertokenauth` nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthData(pub Vec<(&'static str, String)>);

impl AuthData {
    /// The attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks incoming requests (receivers).
pub trait ServerAuthenticator: Send + Sync {
    /// Accepts or refuses a request by its headers (gRPC metadata are HTTP/2 headers); what
    /// it accepts, it describes.
    fn authenticate(&self, headers: &HeaderMap) -> Result<AuthData, AuthError>;
}

/// Adds credentials to outgoing requests (exporters).
pub trait ClientAuthenticator: Send + Sync {
    /// The headers to add (marked sensitive, so HTTP/2 never indexes them).
    fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, String>;
}

/// A sensitive header value from `s`, or an error that does not show `s`.
pub(crate) fn sensitive_value(s: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(s)
        .map_err(|_| "the credential contains characters not allowed in a header".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}
