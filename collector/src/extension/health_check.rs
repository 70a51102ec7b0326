//! `health_check`: an HTTP endpoint (default `localhost:13133`, path `/`) for liveness and
//! readiness probes. It answers 200 only once every pipeline has started, and 503 again as
//! soon as shutdown begins, so Kubernetes stops sending traffic before receivers close.

use crate::component::{ComponentError, Context, Extension, ExtensionConfig, Validate};
use crate::config::ConfigError;
use crate::net::{self, HttpServer};
use crate::pipeline::BoxFuture;
use http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Instant, SystemTime};

/// The collector's state as the health check reports it.
#[derive(Debug)]
pub struct Health {
    state: AtomicU8,
    since: std::sync::Mutex<(Instant, SystemTime)>,
}

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

impl Default for Health {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(STARTING),
            since: std::sync::Mutex::new((Instant::now(), SystemTime::now())),
        }
    }
}

impl Health {
    /// Every pipeline has started.
    pub fn set_ready(&self) {
        if let Ok(mut s) = self.since.lock() {
            *s = (Instant::now(), SystemTime::now());
        }
        self.state.store(READY, Ordering::SeqCst);
    }
    /// Shutdown has begun.
    pub fn set_stopping(&self) {
        self.state.store(STOPPING, Ordering::SeqCst);
    }
    /// True between `set_ready` and `set_stopping`.
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::SeqCst) == READY
    }
    fn up_since(&self) -> (String, String) {
        let (at, wall) = self
            .since
            .lock()
            .map(|s| *s)
            .unwrap_or((Instant::now(), SystemTime::now()));
        let secs = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        (
            secs.to_string(),
            crate::config::duration::format(std::time::Duration::from_secs(at.elapsed().as_secs())),
        )
    }
}

/// Bodies to answer with instead of the default JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    /// Body when healthy.
    #[serde(default)]
    pub healthy: Option<String>,
    /// Body when not healthy.
    #[serde(default)]
    pub unhealthy: Option<String>,
}

/// `extensions: health_check:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Where to listen (default `localhost:13133`; use `0.0.0.0:13133` for kubelet probes).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// The older form: a port, listening on all interfaces (`0.0.0.0:PORT`). Deprecated.
    #[serde(default)]
    pub port: Option<u16>,
    /// URL path that answers (default `/`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Custom response bodies.
    #[serde(default)]
    pub response_body: Option<ResponseBody>,
    /// Deprecated in the Collector and not implemented: accepted with a warning.
    #[serde(default)]
    pub check_collector_pipeline: Option<crate::config::Value>,
    /// Server TLS arrives with the receivers' TLS; refused for now rather than ignored.
    #[serde(default)]
    pub tls: Option<crate::config::Value>,
}

fn default_endpoint() -> String {
    "localhost:13133".into()
}
fn default_path() -> String {
    "/".into()
}

impl HealthCheckConfig {
    /// The endpoint to bind, taking the legacy `port` into account.
    pub fn effective_endpoint(&self) -> String {
        match self.port {
            Some(p) => format!("0.0.0.0:{p}"),
            None => self.endpoint.clone(),
        }
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if let Err(r) = net::check_endpoint(&self.endpoint) {
            e.push(ConfigError::new(r).field("endpoint"));
        }
        if !self.path.starts_with('/') {
            e.push(
                ConfigError::new(format!("path {:?} must start with `/`", self.path)).field("path"),
            );
        }
        if self.tls.is_some() {
            e.push(ConfigError::new("TLS on the health check is not supported yet").field("tls"));
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(p) = self.port {
            w.push(format!(
                "`port` is deprecated: use `endpoint: 0.0.0.0:{p}` (listening on 0.0.0.0:{p})"
            ));
        }
        if self.check_collector_pipeline.is_some() {
            w.push("`check_collector_pipeline` is deprecated and has no effect".into());
        }
        w
    }
}

impl ExtensionConfig for HealthCheckConfig {
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError> {
        Ok(Box::new(HealthCheck {
            cfg: self.clone(),
            ctx: ctx.clone(),
            server: None,
        }))
    }
}

struct HealthCheck {
    cfg: HealthCheckConfig,
    ctx: Context,
    server: Option<HttpServer>,
}

fn answer(health: &Health, cfg: &HealthCheckConfig) -> (StatusCode, String) {
    let (since, uptime) = health.up_since();
    let bodies = cfg.response_body.clone().unwrap_or_default();
    if health.is_ready() {
        let body = bodies.healthy.unwrap_or_else(|| {
            format!("{{\"status\":\"Server available\",\"upSince\":\"{since}\",\"uptime\":\"{uptime}\"}}")
        });
        (StatusCode::OK, body)
    } else {
        let body = bodies.unhealthy.unwrap_or_else(|| {
            format!("{{\"status\":\"Server not available\",\"upSince\":\"{since}\",\"uptime\":\"{uptime}\"}}")
        });
        (StatusCode::SERVICE_UNAVAILABLE, body)
    }
}

impl Extension for HealthCheck {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let endpoint = self.cfg.effective_endpoint();
            let label = self.ctx.label();
            let listener = net::bind(&label, "health check", &endpoint, true)
                .await
                .map_err(|e| self.ctx.error(e))?;
            let health = self.ctx.health.clone();
            let cfg = Arc::new(self.cfg.clone());
            self.server = Some(HttpServer::serve(
                listener,
                move |req: hyper::Request<hyper::body::Incoming>| {
                    let health = health.clone();
                    let cfg = cfg.clone();
                    async move {
                        if req.uri().path() != cfg.path {
                            return net::text(StatusCode::NOT_FOUND, "not found\n");
                        }
                        let (status, body) = answer(&health, &cfg);
                        let mut r = net::text(status, body);
                        if cfg.response_body.is_none() {
                            r.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static("application/json"),
                            );
                        }
                        r
                    }
                },
            ));
            Ok(())
        })
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(mut s) = self.server.take() {
                s.shutdown().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let h = Health::default();
        let cfg: HealthCheckConfig = serde_json_free_default();
        assert_eq!(answer(&h, &cfg).0, StatusCode::SERVICE_UNAVAILABLE);
        h.set_ready();
        let (s, body) = answer(&h, &cfg);
        assert_eq!(s, StatusCode::OK);
        assert!(
            body.starts_with("{\"status\":\"Server available\""),
            "{body}"
        );
        h.set_stopping();
        assert_eq!(answer(&h, &cfg).0, StatusCode::SERVICE_UNAVAILABLE);
    }

    fn serde_json_free_default() -> HealthCheckConfig {
        HealthCheckConfig::deserialize(&crate::config::Value::Null).unwrap()
    }

    #[test]
    fn legacy_port_listens_everywhere() {
        let v: crate::config::Value = crate::config::value::from_yaml("port: 13133").unwrap();
        let c = HealthCheckConfig::deserialize(&v).unwrap();
        assert_eq!(c.effective_endpoint(), "0.0.0.0:13133");
        assert_eq!(
            serde_json_free_default().effective_endpoint(),
            "localhost:13133"
        );
    }
}
