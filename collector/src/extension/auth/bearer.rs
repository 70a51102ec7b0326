//! `bearertokenauth`: a static token in a header (`Authorization: Bearer TOKEN` by default),
//! from the config or from a file (one token per line, re-read when the file changes, e.g.
//! a rotated Kubernetes Secret).

use super::{AuthData, AuthError, ClientAuthenticator, ServerAuthenticator, sensitive_value};
use crate::component::{ComponentError, Context, Extension, ExtensionConfig, Validate};
use crate::config::secret::constant_time_eq;
use crate::config::{ConfigError, Secret};
use crate::pipeline::BoxFuture;
use http::{HeaderMap, HeaderName};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// `extensions: bearertokenauth:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerTokenAuthConfig {
    /// The header carrying the token (default `Authorization`).
    #[serde(default = "default_header")]
    pub header: String,
    /// The scheme before the token (default `Bearer`); empty sends the bare token.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// The token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Several tokens a server accepts (a client sends the first).
    #[serde(default)]
    pub tokens: Vec<Secret>,
    /// A file holding the token(s), one per line; re-read when it changes.
    #[serde(default)]
    pub filename: Option<String>,
}

fn default_header() -> String {
    "Authorization".into()
}
fn default_scheme() -> String {
    "Bearer".into()
}

impl Validate for BearerTokenAuthConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let sources = usize::from(self.token.is_some())
            + usize::from(!self.tokens.is_empty())
            + usize::from(self.filename.is_some());
        if sources != 1 {
            e.push(ConfigError::new(
                "exactly one of `token`, `tokens` or `filename` must be set",
            ));
        }
        if self.token.as_ref().is_some_and(Secret::is_empty)
            || self.tokens.iter().any(Secret::is_empty)
        {
            e.push(ConfigError::new("must not be empty").field("token"));
        }
        if HeaderName::from_bytes(self.header.to_ascii_lowercase().as_bytes()).is_err() {
            e.push(
                ConfigError::new(format!("invalid header name {:?}", self.header)).field("header"),
            );
        }
        e
    }
}

impl ExtensionConfig for BearerTokenAuthConfig {
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError> {
        let header = HeaderName::from_bytes(self.header.to_ascii_lowercase().as_bytes())
            .map_err(|e| ctx.error(e))?;
        let source = match &self.filename {
            Some(f) => Source::File {
                path: f.into(),
                cache: Mutex::new(None),
            },
            None => Source::Static(self.token.iter().chain(&self.tokens).cloned().collect()),
        };
        let auth = Arc::new(BearerAuth {
            header,
            scheme: self.scheme.clone(),
            source,
        });
        Ok(Box::new(BearerExtension {
            ctx: ctx.clone(),
            auth,
        }))
    }
}

/// How often a token file is checked for changes.
const RECHECK: Duration = Duration::from_secs(1);

struct FileCache {
    checked: Instant,
    modified: Option<SystemTime>,
    tokens: Arc<Vec<Secret>>,
}

enum Source {
    Static(Vec<Secret>),
    File {
        path: std::path::PathBuf,
        cache: Mutex<Option<FileCache>>,
    },
}

/// The running authenticator.
pub struct BearerAuth {
    header: HeaderName,
    scheme: String,
    source: Source,
}

fn parse_tokens(text: &str) -> Vec<Secret> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(Secret::new)
        .collect()
}

impl BearerAuth {
    fn tokens(&self) -> Result<Arc<Vec<Secret>>, String> {
        let (path, cache) = match &self.source {
            Source::Static(t) => return Ok(Arc::new(t.clone())),
            Source::File { path, cache } => (path, cache),
        };
        let mut c = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(fc) = c.as_ref()
            && fc.checked.elapsed() < RECHECK
        {
            return Ok(fc.tokens.clone());
        }
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if let Some(fc) = c.as_mut()
            && fc.modified == modified
            && modified.is_some()
        {
            fc.checked = Instant::now();
            return Ok(fc.tokens.clone());
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let tokens = Arc::new(parse_tokens(&text));
                *c = Some(FileCache {
                    checked: Instant::now(),
                    modified,
                    tokens: tokens.clone(),
                });
                Ok(tokens)
            }
            // Keep the last good tokens while a rotation is half done.
            Err(e) => match c.as_ref() {
                Some(fc) => Ok(fc.tokens.clone()),
                None => Err(format!(
                    "cannot read the token file {}: {e}",
                    path.display()
                )),
            },
        }
    }

    fn expected(&self, token: &Secret) -> String {
        if self.scheme.is_empty() {
            token.expose().to_owned()
        } else {
            format!("{} {}", self.scheme, token.expose())
        }
    }
}

impl ServerAuthenticator for BearerAuth {
    fn authenticate(&self, headers: &HeaderMap) -> Result<AuthData, AuthError> {
        let got = headers
            .get(&self.header)
            .ok_or(AuthError("missing authorization header"))?
            .as_bytes();
        let tokens = self
            .tokens()
            .map_err(|_| AuthError("authenticator unavailable"))?;
        // Check every token, so the time taken does not tell which one came close.
        let mut ok = false;
        for t in tokens.iter() {
            ok |= constant_time_eq(got, self.expected(t).as_bytes());
        }
        if ok {
            Ok(AuthData::default())
        } else {
            Err(AuthError("invalid bearer token"))
        }
    }
}

impl ClientAuthenticator for BearerAuth {
    fn headers(&self) -> Result<Vec<(HeaderName, http::HeaderValue)>, String> {
        let tokens = self.tokens()?;
        let t = tokens.first().ok_or("no token configured")?;
        Ok(vec![(
            self.header.clone(),
            sensitive_value(&self.expected(t))?,
        )])
    }
}

struct BearerExtension {
    ctx: Context,
    auth: Arc<BearerAuth>,
}

impl Extension for BearerExtension {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let n = self.auth.tokens().map_err(|e| self.ctx.error(e))?.len();
            if n == 0 {
                return Err(self
                    .ctx
                    .error("no token configured (the token file is empty)"));
            }
            Ok(())
        })
    }
    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn server_auth(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        Some(self.auth.clone())
    }
    fn client_auth(&self) -> Option<Arc<dyn ClientAuthenticator>> {
        Some(self.auth.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(scheme: &str, tokens: &[&str]) -> BearerAuth {
        BearerAuth {
            header: HeaderName::from_static("authorization"),
            scheme: scheme.into(),
            source: Source::Static(tokens.iter().map(|t| Secret::new(*t)).collect()),
        }
    }

    fn hdr(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", v.parse().unwrap());
        h
    }

    #[test]
    fn server_side() {
        let a = auth("Bearer", &["s3cret", "other"]);
        assert_eq!(
            a.authenticate(&hdr("Bearer s3cret")),
            Ok(AuthData::default())
        );
        assert_eq!(
            a.authenticate(&hdr("Bearer other")),
            Ok(AuthData::default())
        );
        for bad in [
            "Bearer s3cre",
            "bearer s3cret",
            "s3cret",
            "Bearer s3cret ",
            "Basic s3cret",
        ] {
            assert_eq!(
                a.authenticate(&hdr(bad)),
                Err(AuthError("invalid bearer token")),
                "{bad}"
            );
        }
        assert_eq!(
            a.authenticate(&HeaderMap::new()),
            Err(AuthError("missing authorization header"))
        );
        assert_eq!(
            auth("", &["raw"]).authenticate(&hdr("raw")),
            Ok(AuthData::default())
        );
    }

    #[test]
    fn client_side_and_token_files() {
        let h = auth("Bearer", &["s3cret"]).headers().unwrap();
        assert_eq!(h[0].0, "authorization");
        assert_eq!(h[0].1, "Bearer s3cret");
        assert!(h[0].1.is_sensitive());

        let path = std::env::temp_dir().join(format!("meshtrace-token-{}", std::process::id()));
        std::fs::write(&path, "first\n\nsecond\n").unwrap();
        let a = BearerAuth {
            header: HeaderName::from_static("x-token"),
            scheme: String::new(),
            source: Source::File {
                path: path.clone(),
                cache: Mutex::new(None),
            },
        };
        let mut h = HeaderMap::new();
        h.insert("x-token", "second".parse().unwrap());
        assert_eq!(a.authenticate(&h), Ok(AuthData::default()));
        assert_eq!(a.headers().unwrap()[0].1, "first");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn config_checks() {
        let parse = |y: &str| -> BearerTokenAuthConfig {
            crate::registry::parse_typed(&crate::config::value::from_yaml(y).unwrap()).unwrap()
        };
        assert!(parse("token: x").validate().is_empty());
        assert_eq!(parse("scheme: x").validate().len(), 1);
        assert_eq!(parse("token: x\nfilename: /f").validate().len(), 1);
        let c = parse("token: supersecret");
        assert!(!format!("{c:?}").contains("supersecret"));
    }
}
