//! `basicauth`: HTTP Basic authentication. Server side: `htpasswd` (a file and/or inline
//! entries) checks `Authorization: Basic ...`; client side: `client_auth` sends it.

use super::htpasswd::{self, Entry};
use super::{AuthData, AuthError, ClientAuthenticator, ServerAuthenticator, sensitive_value};
use crate::component::{ComponentError, Context, Extension, ExtensionConfig, Validate};
use crate::config::{ConfigError, Secret};
use crate::pipeline::BoxFuture;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, header};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// `htpasswd:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtpasswdConfig {
    /// An htpasswd file (bcrypt, MD5 `$apr1$`, `{SHA}` or plain entries).
    #[serde(default)]
    pub file: Option<String>,
    /// htpasswd lines in the config, typically `${env:USER}:${env:PASSWORD}`.
    #[serde(default)]
    pub inline: Option<Secret>,
}

/// `client_auth:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// `extensions: basicauth:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthConfig {
    /// Users a server accepts.
    #[serde(default)]
    pub htpasswd: Option<HtpasswdConfig>,
    /// Credentials a client sends.
    #[serde(default)]
    pub client_auth: Option<ClientAuthConfig>,
}

impl Validate for BasicAuthConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.htpasswd.is_none() && self.client_auth.is_none() {
            e.push(ConfigError::new(
                "set `htpasswd` (to authenticate clients) or `client_auth` (to send credentials)",
            ));
        }
        if let Some(h) = &self.htpasswd {
            if h.file.is_none() && h.inline.is_none() {
                e.push(ConfigError::new("set `file` or `inline`").field("htpasswd"));
            }
            if let Some(Err(m)) = h.inline.as_ref().map(|i| htpasswd::parse(i.expose())) {
                e.push(ConfigError::new(m).field("htpasswd.inline"));
            }
        }
        if let Some(c) = &self.client_auth
            && c.username.contains(':')
        {
            e.push(ConfigError::new("must not contain `:`").field("client_auth.username"));
        }
        e
    }
}

impl ExtensionConfig for BasicAuthConfig {
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError> {
        let server = match &self.htpasswd {
            None => None,
            Some(h) => {
                let mut entries = Vec::new();
                if let Some(f) = &h.file {
                    let text = std::fs::read_to_string(f)
                        .map_err(|e| ctx.error(format!("cannot read htpasswd file {f}: {e}")))?;
                    entries.extend(
                        htpasswd::parse(&text).map_err(|e| ctx.error(format!("{f}: {e}")))?,
                    );
                }
                if let Some(i) = &h.inline {
                    entries.extend(
                        htpasswd::parse(i.expose())
                            .map_err(|e| ctx.error(format!("htpasswd.inline: {e}")))?,
                    );
                }
                Some(Arc::new(BasicServer {
                    entries,
                    verified: Mutex::new(HashSet::new()),
                }))
            }
        };
        let client = match &self.client_auth {
            None => None,
            Some(c) => {
                let raw = format!("{}:{}", c.username, c.password.expose());
                let value = sensitive_value(&format!("Basic {}", STANDARD.encode(raw)))
                    .map_err(|e| ctx.error(e))?;
                Some(Arc::new(BasicClient(value)))
            }
        };
        Ok(Box::new(BasicExtension { server, client }))
    }
}

/// Remembered successful checks: bcrypt is deliberately slow (tens of ms), too slow to run
/// on every export request. Keys are SHA-256 digests of `user:password`, never the password.
const CACHE_MAX: usize = 1024;

/// Checks `Authorization: Basic` against htpasswd entries.
pub struct BasicServer {
    entries: Vec<Entry>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl ServerAuthenticator for BasicServer {
    fn authenticate(&self, headers: &HeaderMap) -> Result<AuthData, AuthError> {
        let v = headers
            .get(header::AUTHORIZATION)
            .ok_or(AuthError("missing authorization header"))?;
        let v = v
            .to_str()
            .map_err(|_| AuthError("invalid authorization header"))?;
        let (scheme, b64) = v
            .split_once(' ')
            .ok_or(AuthError("invalid authorization header"))?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError("expected Basic authentication"));
        }
        let raw = STANDARD
            .decode(b64.trim())
            .map_err(|_| AuthError("invalid authorization header"))?;
        let raw = String::from_utf8(raw).map_err(|_| AuthError("invalid authorization header"))?;
        let (user, password) = raw
            .split_once(':')
            .ok_or(AuthError("invalid authorization header"))?;
        let key: [u8; 32] = {
            use sha2::Digest as _;
            sha2::Sha256::digest(raw.as_bytes()).into()
        };
        let mut cache = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The Collector's basicauth passes the user on (`from_context: auth.username`).
        let data = AuthData(vec![("username", user.to_owned())]);
        if cache.contains(&key) {
            return Ok(data);
        }
        drop(cache);
        let ok = self
            .entries
            .iter()
            .filter(|e| e.user == user)
            .any(|e| e.verify(password));
        if !ok {
            return Err(AuthError("invalid username or password"));
        }
        cache = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key);
        Ok(data)
    }
}

/// Sends `Authorization: Basic ...`.
pub struct BasicClient(http::HeaderValue);

impl ClientAuthenticator for BasicClient {
    fn headers(&self) -> Result<Vec<(HeaderName, http::HeaderValue)>, String> {
        Ok(vec![(header::AUTHORIZATION, self.0.clone())])
    }
}

struct BasicExtension {
    server: Option<Arc<BasicServer>>,
    client: Option<Arc<BasicClient>>,
}

impl Extension for BasicExtension {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn server_auth(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        self.server
            .clone()
            .map(|s| s as Arc<dyn ServerAuthenticator>)
    }
    fn client_auth(&self) -> Option<Arc<dyn ClientAuthenticator>> {
        self.client
            .clone()
            .map(|s| s as Arc<dyn ClientAuthenticator>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn server_and_client_agree() {
        let s = BasicServer {
            entries: htpasswd::parse(&format!(
                "alice:{}\nbob:plain",
                bcrypt::hash("wonder", 4).unwrap()
            ))
            .unwrap(),
            verified: Mutex::new(HashSet::new()),
        };
        let user = |name: &str| Ok(AuthData(vec![("username", name.to_owned())]));
        // The user is passed on, as the Collector's basicauth does (`auth.username`).
        assert_eq!(s.authenticate(&basic("alice", "wonder")), user("alice"));
        // Cached the second time; still checked per password.
        assert_eq!(s.authenticate(&basic("alice", "wonder")), user("alice"));
        assert!(s.authenticate(&basic("alice", "wonderx")).is_err());
        assert!(s.authenticate(&basic("bob", "wonder")).is_err());
        assert_eq!(s.authenticate(&basic("bob", "plain")), user("bob"));
        assert!(s.authenticate(&basic("carol", "plain")).is_err());
        assert_eq!(
            s.authenticate(&HeaderMap::new()),
            Err(AuthError("missing authorization header"))
        );
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(
            s.authenticate(&h),
            Err(AuthError("expected Basic authentication"))
        );
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(
            s.authenticate(&h),
            Err(AuthError("invalid authorization header"))
        );

        let c = BasicClient(
            sensitive_value(&format!("Basic {}", STANDARD.encode("bob:plain"))).unwrap(),
        );
        let mut h = HeaderMap::new();
        for (k, v) in c.headers().unwrap() {
            h.insert(k, v);
        }
        assert_eq!(s.authenticate(&h), user("bob"));
    }
}
