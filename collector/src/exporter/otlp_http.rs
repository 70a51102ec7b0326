//! `otlp_http` (formerly `otlphttp`): OTLP/HTTP to a backend; protobuf bytes as the body
//! (or JSON with `encoding: json`), gzip by default.

use super::helper::{ExporterHelper, HelperSettings, Payload, QueueConfig, RetryConfig, Sender};
use super::{
    ClientTlsConfig, Codec, CompressionParams, check_headers, default_compression,
    parse_compression, proxy,
};
use crate::component::{ComponentError, Context, Exporter, ExporterConfig, Validate};
use crate::config::{ConfigError, duration};
use crate::otlp::{Batch, Signal, json};
use crate::pipeline::{BoxFuture, ConsumeError};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Body encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpEncoding {
    /// Protobuf (default).
    #[default]
    Proto,
    /// OTLP/JSON.
    Json,
}

/// `exporters: otlp_http:` (and `otlphttp:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpConfig {
    /// Base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Full URL for traces, overriding `endpoint`.
    #[serde(default)]
    pub traces_endpoint: Option<String>,
    /// Full URL for metrics, overriding `endpoint`.
    #[serde(default)]
    pub metrics_endpoint: Option<String>,
    /// Full URL for logs, overriding `endpoint`.
    #[serde(default)]
    pub logs_endpoint: Option<String>,
    /// Accepted for compatibility: profiles are not exported.
    #[serde(default)]
    pub profiles_endpoint: Option<String>,
    /// Headers sent with every request: a map, or a list of `{name, value}`.
    #[serde(default, deserialize_with = "crate::config::maplist::de")]
    pub headers: BTreeMap<String, crate::config::Secret>,
    /// `gzip` (default) or `none`.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// `level`: the gzip level (see [`CompressionParams`]).
    #[serde(default)]
    pub compression_params: CompressionParams,
    /// `proto` (default) or `json`.
    #[serde(default)]
    pub encoding: HttpEncoding,
    /// Client TLS (for `https://` endpoints).
    #[serde(default)]
    pub tls: ClientTlsConfig,
    /// Per-request timeout (default 30s).
    #[serde(default = "default_timeout", deserialize_with = "duration::de")]
    pub timeout: Duration,
    /// Retries on retryable failures (429, 502, 503, 504, connection errors).
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
    /// The in-memory sending queue.
    #[serde(default)]
    pub sending_queue: QueueConfig,
    /// Accepted for compatibility.
    #[serde(default)]
    pub read_buffer_size: Option<u64>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub write_buffer_size: Option<u64>,
    /// Idle connections kept per host (default: unbounded).
    #[serde(default)]
    pub max_idle_conns_per_host: Option<usize>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub max_idle_conns: Option<usize>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub max_conns_per_host: Option<usize>,
    /// How long idle connections are kept (default 90s).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub idle_conn_timeout: Option<Duration>,
    /// One connection per request, closed after it (no connection is kept idle).
    #[serde(default)]
    pub disable_keep_alives: bool,
    /// HTTP/2 health checks: after this long without a frame from the backend, a PING is sent,
    /// and the connection is closed when it is not answered within `http2_ping_timeout`
    /// (default 15s), so that the next request opens a new one. Unset or 0: no pings.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub http2_read_idle_timeout: Option<Duration>,
    /// See `http2_read_idle_timeout`.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub http2_ping_timeout: Option<Duration>,
    /// `false`: HTTP/1.1 only, even where the backend offers HTTP/2 (default `true`).
    #[serde(default = "yes")]
    pub force_attempt_http2: bool,
    /// An http:// proxy for every request (see [`proxy`]); unset, the
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment decides. A secret: the URL may
    /// hold the proxy's password.
    #[serde(default)]
    pub proxy_url: Option<crate::config::Secret>,
    /// Client authentication through an extension.
    #[serde(default)]
    pub auth: Option<crate::receiver::otlp::AuthConfig>,
    /// `enabled: true`: cookies the backend sets are sent back on later requests (see
    /// [`cookies`](super::cookies)), e.g. a load balancer's sticky-session cookie.
    #[serde(default)]
    pub cookies: CookiesConfig,
}

/// `cookies:` of an HTTP client (confighttp's `CookiesConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookiesConfig {
    /// Keep and send back cookies (default `false`).
    #[serde(default)]
    pub enabled: bool,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn yes() -> bool {
    true
}

/// `http2_ping_timeout`'s default, as Go's HTTP/2 transport has it.
const DEFAULT_HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(15);

impl OtlpHttpConfig {
    fn settings(&self) -> HelperSettings {
        HelperSettings {
            timeout: self.timeout,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        }
    }

    /// The URL for `signal`.
    pub fn url(&self, signal: Signal) -> Option<String> {
        let (specific, suffix) = match signal {
            Signal::Traces => (&self.traces_endpoint, "v1/traces"),
            Signal::Metrics => (&self.metrics_endpoint, "v1/metrics"),
            Signal::Logs => (&self.logs_endpoint, "v1/logs"),
        };
        if let Some(s) = specific {
            return Some(s.clone());
        }
        let base = self.endpoint.as_ref()?;
        Some(if base.ends_with('/') {
            format!("{base}{suffix}")
        } else {
            format!("{base}/{suffix}")
        })
    }
}

impl Validate for OtlpHttpConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let all = [
            &self.endpoint,
            &self.traces_endpoint,
            &self.metrics_endpoint,
            &self.logs_endpoint,
        ];
        if all.iter().all(|x| x.is_none()) {
            e.push(ConfigError::new("at least one of endpoint, traces_endpoint, metrics_endpoint, logs_endpoint is required").field("endpoint"));
        }
        for (f, v) in [
            "endpoint",
            "traces_endpoint",
            "metrics_endpoint",
            "logs_endpoint",
        ]
        .iter()
        .zip(all)
        {
            if let Some(u) = v {
                let ok = u.parse::<http::Uri>().ok().filter(|u| {
                    matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
                });
                if ok.is_none() {
                    e.push(
                        ConfigError::new(format!(
                            "invalid URL {u:?} (expected http:// or https://)"
                        ))
                        .field(*f),
                    );
                }
            }
        }
        match parse_compression(&self.compression) {
            Ok(c) => e.extend(self.compression_params.validate(c)),
            Err(c) => e.push(c),
        }
        e.extend(check_headers(&self.headers));
        e.extend(self.tls.validate());
        e.extend(self.settings().validate());
        if let Some(Err(r)) = self
            .proxy_url
            .as_ref()
            .map(|u| proxy::check_scheme(u.expose()))
        {
            e.push(ConfigError::new(r).field("proxy_url"));
        }
        e
    }
    fn referenced_extensions(&self) -> Vec<(String, String)> {
        let auth = self
            .auth
            .iter()
            .map(|a| ("auth.authenticator".to_owned(), a.authenticator.clone()));
        let storage = self
            .sending_queue
            .storage
            .iter()
            .map(|s| ("sending_queue.storage".to_owned(), s.clone()));
        auth.chain(storage).collect()
    }
    fn warnings(&self) -> Vec<String> {
        let mut w = self.settings().warnings();
        w.extend(self.tls.warnings());
        w
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<proxy::Dial>, Full<Bytes>>;

impl ExporterConfig for OtlpHttpConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
        let sender = Arc::new(self.sender(ctx, signal, &proxy::process_env)?);
        Ok(ExporterHelper::new(ctx, signal, sender, self.settings()))
    }
}

impl OtlpHttpConfig {
    /// A sender of `signal` without the exporter's queue and retries: what the collector's own
    /// metrics and logs are pushed with.
    pub fn push_sender(
        &self,
        ctx: &Context,
        signal: Signal,
    ) -> Result<Arc<dyn Sender>, ComponentError> {
        Ok(Arc::new(self.sender(ctx, signal, &proxy::process_env)?))
    }

    /// What sends one request, the proxy settings read from `env`.
    fn sender(
        &self,
        ctx: &Context,
        signal: Signal,
        env: &proxy::Env,
    ) -> Result<HttpSender, ComponentError> {
        let url = self
            .url(signal)
            .ok_or_else(|| ctx.error(format!("no endpoint for {}", crate::signal_name(signal))))?;
        let uri: http::Uri = url
            .parse()
            .map_err(|e| ctx.error(format!("invalid URL {url:?}: {e}")))?;
        let tls = self
            .tls
            .rustls(&[])
            .map_err(|e| ctx.error(format!("TLS setup failed: {e}")))?;
        if self.tls.insecure_skip_verify && uri.scheme_str() == Some("https") {
            tracing::warn!(component = %ctx.label(), "tls.insecure_skip_verify: the backend's certificate is not verified");
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let schemes = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let schemes = match &self.tls.server_name_override {
            Some(_) => {
                let name = self
                    .tls
                    .server_name(uri.host().unwrap_or_default())
                    .map_err(|e| ctx.error(e))?;
                schemes.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
            }
            None => schemes,
        };
        let route = proxy::http_route(self.proxy_url.as_ref().map(|u| u.expose()), &uri, env)
            .map_err(|e| ctx.error(e))?;
        if let Some(r) = &route {
            tracing::info!(component = %ctx.label(), proxy = %r.proxy, backend = %uri, "exporting through an HTTP proxy");
        }
        let dial = proxy::Dial::new(http, &uri, route.as_ref());
        let proxy_auth = dial.request_auth().cloned();
        let connector = if self.force_attempt_http2 {
            schemes.enable_http1().enable_http2().wrap_connector(dial)
        } else {
            schemes.enable_http1().wrap_connector(dial)
        };
        let mut builder = Client::builder(TokioExecutor::new());
        // The timer closes idle connections when their time is up, not at the next checkout.
        builder
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(self.idle_conn_timeout.unwrap_or(Duration::from_secs(90)));
        if let Some(n) = self.max_idle_conns_per_host {
            builder.pool_max_idle_per_host(n);
        }
        if self.disable_keep_alives {
            builder.pool_max_idle_per_host(0);
        }
        if let Some(idle) = self.http2_read_idle_timeout.filter(|d| !d.is_zero()) {
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .http2_keep_alive_interval(idle)
                .http2_keep_alive_timeout(
                    self.http2_ping_timeout
                        .filter(|d| !d.is_zero())
                        .unwrap_or(DEFAULT_HTTP2_PING_TIMEOUT),
                )
                .http2_keep_alive_while_idle(true);
        }
        let client: HttpsClient = builder.build(connector);
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| ctx.error(format!("invalid header name {k:?}")))?;
            let mut value = HeaderValue::from_str(v.expose())
                .map_err(|_| ctx.error(format!("invalid value for header {k:?}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let codec = match parse_compression(&self.compression) {
            Ok(c) => Codec::new(c, &self.compression_params),
            Err(e) => return Err(ctx.error(e.reason)),
        };
        let auth = self
            .auth
            .as_ref()
            .map(|a| ctx.host.client_auth(&a.authenticator))
            .transpose()
            .map_err(|e| ctx.error(e))?;
        if let Some(a) = proxy_auth {
            headers.insert(header::PROXY_AUTHORIZATION, a);
        }
        Ok(HttpSender {
            client,
            auth,
            jar: self.cookies.enabled.then(|| super::cookies::Jar::new(&uri)),
            uri,
            headers,
            codec,
            encoding: self.encoding,
            signal,
            label: ctx.label(),
        })
    }
}

struct HttpSender {
    client: HttpsClient,
    auth: Option<Arc<dyn crate::extension::auth::ClientAuthenticator>>,
    /// `cookies: {enabled: true}`.
    jar: Option<super::cookies::Jar>,
    uri: http::Uri,
    headers: HeaderMap,
    /// How requests are compressed, if they are.
    codec: Option<Codec>,
    encoding: HttpEncoding,
    signal: Signal,
    label: String,
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // An HTTP-date: the wait is until then (none if it is past).
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Classifies an HTTP failure as the OTLP specification does.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ConsumeError {
    let snippet: String = String::from_utf8_lossy(body).chars().take(256).collect();
    let reason = format!("HTTP {status}: {snippet}");
    match status.as_u16() {
        429 | 502 | 503 | 504 => ConsumeError::Retryable {
            reason,
            retry_after: retry_after(headers),
            throttled: status == StatusCode::TOO_MANY_REQUESTS,
        },
        _ => ConsumeError::permanent(reason),
    }
}

impl HttpSender {
    /// The request body: protobuf or JSON, gzipped when configured.
    fn body(&self, batch: Batch) -> Result<Bytes, ConsumeError> {
        let body = match self.encoding {
            HttpEncoding::Proto => batch.into_bytes(),
            HttpEncoding::Json => Bytes::from(
                json::from_protobuf(self.signal, batch.bytes())
                    .map_err(|e| ConsumeError::permanent(e.to_string()))?,
            ),
        };
        Ok(match self.codec {
            Some(codec) => Bytes::from(
                codec
                    .compress_after(Vec::new(), &body)
                    .map_err(ConsumeError::permanent)?,
            ),
            None => body,
        })
    }
}

impl Sender for HttpSender {
    fn encode(&self, batch: Batch) -> Result<Payload, ConsumeError> {
        self.body(batch).map(Payload::Encoded)
    }

    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let body = match payload {
                Payload::Encoded(body) => body,
                Payload::Batch(batch) => self.body(batch)?,
            };
            let ctype = match self.encoding {
                HttpEncoding::Proto => "application/x-protobuf",
                HttpEncoding::Json => "application/json",
            };
            let mut req = http::Request::post(self.uri.clone());
            let auth = match &self.auth {
                Some(a) => a.headers().map_err(ConsumeError::retryable)?,
                None => Vec::new(),
            };
            if let Some(h) = req.headers_mut() {
                h.clone_from(&self.headers);
                for (k, v) in auth {
                    h.insert(k, v);
                }
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
                if let Some(cookie) = self.jar.as_ref().and_then(super::cookies::Jar::header) {
                    h.insert(header::COOKIE, cookie);
                }
                h.insert(
                    header::USER_AGENT,
                    HeaderValue::from_static(concat!(
                        "meshtrace-collector/",
                        env!("CARGO_PKG_VERSION")
                    )),
                );
            }
            if let Some(codec) = self.codec
                && let Some(h) = req.headers_mut()
            {
                h.insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(codec.name()),
                );
            }
            let req = req
                .body(Full::new(body))
                .map_err(|e| ConsumeError::permanent(e.to_string()))?;
            let resp = self.client.request(req).await.map_err(|e| {
                ConsumeError::retryable(format!(
                    "request to {} failed: {}",
                    self.uri,
                    super::ErrorChain(&e)
                ))
            })?;
            let (parts, body) = resp.into_parts();
            // Every answer may set cookies, errors included (as Go's client keeps them).
            if let Some(jar) = &self.jar {
                jar.store(&parts.headers);
            }
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if parts.status.is_success() {
                super::otlp_grpc::warn_partial_success(
                    &self.label,
                    self.signal,
                    &body,
                    self.encoding == HttpEncoding::Json,
                );
                Ok(())
            } else {
                Err(classify(parts.status, &parts.headers, &body))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    fn cfg(y: &str) -> OtlpHttpConfig {
        let v: Value = crate::config::value::from_yaml(y).unwrap();
        crate::registry::parse_typed(&v).unwrap()
    }

    #[test]
    fn urls() {
        let c = cfg("endpoint: https://otlp.nr-data.net:4318\ntraces_endpoint: https://x/custom");
        assert_eq!(c.url(Signal::Traces).unwrap(), "https://x/custom");
        assert_eq!(
            c.url(Signal::Metrics).unwrap(),
            "https://otlp.nr-data.net:4318/v1/metrics"
        );
        assert_eq!(
            cfg("endpoint: http://a:1/").url(Signal::Logs).unwrap(),
            "http://a:1/v1/logs"
        );
        assert!(
            cfg("headers: {a: b}")
                .validate()
                .iter()
                .any(|e| e.field.as_deref() == Some("endpoint"))
        );
        assert!(
            cfg("endpoint: a:1")
                .validate()
                .iter()
                .any(|e| e.field.as_deref() == Some("endpoint"))
        );
    }

    /// An HTTP/1.1 backend on a free port, serving each connection it accepts with the
    /// service `accept` makes for it; its URL.
    async fn http1_backend<S, F>(accept: F) -> String
    where
        F: Fn() -> S + Send + 'static,
        S: hyper::service::Service<
                http::Request<hyper::body::Incoming>,
                Response = http::Response<Full<Bytes>>,
                Error = std::convert::Infallible,
                Future: Send,
            > + Send
            + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), accept()),
                );
            }
        });
        format!("http://{addr}")
    }

    /// An HTTP/1.1 backend answering 200 to everything; the connections it accepted.
    async fn counting_backend() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let conns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = conns.clone();
        let url = http1_backend(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
            })
        })
        .await;
        (url, conns)
    }

    #[tokio::test]
    async fn keep_alives_reuse_one_connection_unless_disabled() {
        for (yaml, connections) in [("", 1), ("disable_keep_alives: true", 3)] {
            let (url, conns) = counting_backend().await;
            let c = cfg(&format!("endpoint: {url}\n{yaml}"));
            let mut ctx = crate::processor::testspans::ctx("otlp_http");
            ctx.kind = crate::component::Kind::Exporter;
            let exp = c.sender(&ctx, Signal::Traces, &|_| None).unwrap();
            for _ in 0..3 {
                exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                    .await
                    .unwrap();
            }
            assert_eq!(
                conns.load(std::sync::atomic::Ordering::SeqCst),
                connections,
                "{yaml:?}"
            );
        }
    }

    /// A backend that sets a sticky-session cookie on its first answer (a 503, as a
    /// balancer's may be) and a second on its second; the `Cookie` header of each request.
    async fn cookie_backend() -> (String, Arc<std::sync::Mutex<Vec<Option<String>>>>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let url = http1_backend(move || {
            let log = log.clone();
            hyper::service::service_fn(move |req: http::Request<_>| {
                let mut seen = log.lock().unwrap();
                seen.push(
                    req.headers()
                        .get(header::COOKIE)
                        .map(|v: &HeaderValue| v.to_str().unwrap().to_owned()),
                );
                let mut resp = http::Response::new(Full::new(Bytes::new()));
                let set = match seen.len() {
                    1 => {
                        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        Some("AWSALB=pod-7; Path=/; Max-Age=604800")
                    }
                    2 => Some("session=s1; HttpOnly"),
                    _ => None,
                };
                if let Some(c) = set {
                    resp.headers_mut()
                        .insert(header::SET_COOKIE, HeaderValue::from_static(c));
                }
                async { Ok::<_, std::convert::Infallible>(resp) }
            })
        })
        .await;
        (url, seen)
    }

    #[tokio::test]
    async fn cookies_are_sent_back_when_enabled() {
        let with = [
            None,
            Some("AWSALB=pod-7".to_owned()),
            // session=s1 has the longer (default) path, /v1: it comes first.
            Some("session=s1; AWSALB=pod-7".to_owned()),
        ];
        for (yaml, want) in [
            ("", [None, None, None]),
            ("cookies: {enabled: false}", [None, None, None]),
            ("cookies: {enabled: true}", with),
        ] {
            let (url, seen) = cookie_backend().await;
            let c = cfg(&format!("endpoint: {url}\n{yaml}"));
            let mut ctx = crate::processor::testspans::ctx("otlp_http");
            ctx.kind = crate::component::Kind::Exporter;
            let exp = c.sender(&ctx, Signal::Traces, &|_| None).unwrap();
            for _ in 0..3 {
                // The first answer is a 503: its cookie counts all the same.
                let _ = exp
                    .send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                    .await;
            }
            assert_eq!(*seen.lock().unwrap(), want, "{yaml:?}");
        }
        let bad = crate::registry::parse_typed::<OtlpHttpConfig>(
            &crate::config::value::from_yaml("cookies: {enable: true}").unwrap(),
        );
        assert!(bad.is_err());
    }

    /// A TLS backend for `localhost` offering HTTP/2 and HTTP/1.1, behind a relay that can
    /// freeze (stop passing bytes, as a dead peer or a black-holed route does); its CA, the
    /// relay's URL, the HTTP versions it served, the freeze switch and the connections the
    /// client closed.
    struct TlsBackend {
        ca_pem: String,
        url: String,
        versions: Arc<std::sync::Mutex<Vec<http::Version>>>,
        frozen: Arc<std::sync::atomic::AtomicBool>,
        closed: Arc<std::sync::atomic::AtomicUsize>,
    }

    async fn tls_backend() -> TlsBackend {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_addr = backend.local_addr().unwrap();
        let versions = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = versions.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = backend.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req: http::Request<_>| {
                        seen.lock().unwrap().push(req.version());
                        async {
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = relay.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicUsize::new(0));
        let (freeze, close) = (frozen.clone(), closed.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = relay.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(backend_addr).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let (f1, f2, close) = (freeze.clone(), freeze.clone(), close.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 << 10];
                    // Reads on while frozen, to see the client close its side.
                    while let Ok(n @ 1..) = cr.read(&mut buf).await {
                        if !f1.load(Ordering::SeqCst) && sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    close.fetch_add(1, Ordering::SeqCst);
                });
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 << 10];
                    while let Ok(n @ 1..) = sr.read(&mut buf).await {
                        if !f2.load(Ordering::SeqCst) && cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        TlsBackend {
            ca_pem: ca.pem(),
            url: format!("https://localhost:{port}"),
            versions,
            frozen,
            closed,
        }
    }

    fn tls_sender(b: &TlsBackend, yaml: &str) -> HttpSender {
        let ca = b.ca_pem.replace('\n', "\n      ");
        let c = cfg(&format!(
            "endpoint: {}\ntls:\n  ca_pem: |\n      {ca}\n{yaml}",
            b.url
        ));
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let mut ctx = crate::processor::testspans::ctx("otlp_http");
        ctx.kind = crate::component::Kind::Exporter;
        c.sender(&ctx, Signal::Traces, &|_| None).unwrap()
    }

    #[tokio::test]
    async fn http2_unless_told_otherwise() {
        for (yaml, version) in [
            ("", http::Version::HTTP_2),
            ("force_attempt_http2: false", http::Version::HTTP_11),
        ] {
            let b = tls_backend().await;
            let exp = tls_sender(&b, yaml);
            exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap();
            assert_eq!(*b.versions.lock().unwrap(), vec![version], "{yaml:?}");
        }
    }

    #[tokio::test]
    async fn an_unanswered_http2_ping_closes_the_connection() {
        use std::sync::atomic::Ordering;
        let b = tls_backend().await;
        let exp = tls_sender(
            &b,
            "http2_read_idle_timeout: 200ms\nhttp2_ping_timeout: 200ms\nretry_on_failure: {enabled: false}",
        );
        exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
            .await
            .unwrap();
        // The backend goes silent: the client's PING is never answered, so it gives the
        // connection up (without pings it would keep it for idle_conn_timeout, 90s).
        b.frozen.store(true, Ordering::SeqCst);
        let gave_up = tokio::time::timeout(Duration::from_secs(30), async {
            while b.closed.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(gave_up.is_ok(), "the client kept the dead connection");
        // The next request opens a new one.
        b.frozen.store(false, Ordering::SeqCst);
        exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
            .await
            .unwrap();
        assert_eq!(b.versions.lock().unwrap().len(), 2);
    }

    #[test]
    fn proxy_url_must_be_an_http_proxy() {
        let errors = |yaml: &str| -> Vec<(String, String)> {
            cfg(&format!("endpoint: https://otlp.nr-data.net\n{yaml}"))
                .validate()
                .into_iter()
                .map(|e| (e.field.unwrap_or_default(), e.reason))
                .collect()
        };
        assert_eq!(errors("proxy_url: http://user:pw@egress:3128"), vec![]);
        assert_eq!(errors("proxy_url: egress:3128"), vec![]);
        assert_eq!(
            errors("proxy_url: socks5://user:pw@egress:1080"),
            vec![(
                "proxy_url".to_owned(),
                "socks5:// proxies are not supported: use an http:// proxy".to_owned()
            )]
        );
        assert_eq!(
            errors("proxy_url: 'http://'"),
            vec![("proxy_url".to_owned(), "not a proxy URL".to_owned())]
        );
    }

    #[test]
    fn status_classification() {
        let h = HeaderMap::new();
        for (code, retry) in [
            (429, true),
            (502, true),
            (503, true),
            (504, true),
            (400, false),
            (401, false),
            (404, false),
            (500, false),
        ] {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap(), &h, b"").is_retryable(),
                retry,
                "{code}"
            );
        }
        let mut h = HeaderMap::new();
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &h, b"slow down"),
            ConsumeError::Retryable {
                reason: "HTTP 429 Too Many Requests: slow down".into(),
                retry_after: Some(Duration::from_secs(7)),
                throttled: true,
            }
        );
    }
}
