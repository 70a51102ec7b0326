//! `zipkin` receiver: Zipkin v2 spans over HTTP (`POST /api/v2/spans`, JSON or protobuf,
//! optionally compressed as the `otlp` receiver's bodies are), translated to OTLP as the OpenTelemetry Collector's
//! `zipkin` receiver does (`meshtrace_zipkin`), then validated and handed down the traces
//! pipelines like any OTLP request. It is served as the `otlp` receiver's HTTP protocol is:
//! the same server TLS, authenticators (checked before the body is read), header and body
//! timeouts, and `limits`.
//!
//! Answers, as Zipkin servers do: 202 Accepted when the spans entered the pipeline; 401
//! without valid credentials; 400 for a body that is not Zipkin v2 (or for `/api/v1/spans`:
//! v1 is not supported) or over `limits`; 408 for a body slower than `read_timeout`; 413 for a body
//! over `max_request_body_size`; 429 (a full queue) or 503 (anything else), with
//! `Retry-After` when a delay is known, when the pipeline refuses for now, so reporters retry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde::Deserialize;

use crate::client::{self, ClientInfo};
use crate::component::{
    ComponentError, Context, Receiver, ReceiverConfig, SignalConsumers, Validate,
};
use crate::config::{ConfigError, duration};
use crate::extension::auth::ServerAuthenticator;
use crate::net::{self, HttpServer, RemoteAddr};
use crate::otlp::Limits;
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::receiver::cors::Cors;
use crate::receiver::otlp::{AuthConfig, LimitsConfig};
use crate::telemetry::Counter;
use crate::tls::server::{ServerTlsConfig, TlsServer};

/// The Collector's default `read_header_timeout`, as on the `otlp` receiver.
const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(60);

/// `receivers: zipkin:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZipkinConfig {
    /// `host:port` to listen on (default `localhost:9411`, as in current Collectors; set
    /// `0.0.0.0:9411` to receive from other pods).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Turn tag values that look like numbers or booleans into typed attributes.
    #[serde(default)]
    pub parse_string_tags: bool,
    /// Largest request body, compressed and decompressed, in bytes (default 20 MiB; `0` or
    /// less also means 20 MiB, as in the Collector).
    #[serde(default = "default_max_body")]
    pub max_request_body_size: i64,
    /// Pass request headers on as client metadata (for `from_context` in the `attributes`
    /// and `resource` processors).
    #[serde(default)]
    pub include_metadata: bool,
    /// Headers added to every response: a map, or a list of `{name, value}`.
    #[serde(default, deserialize_with = "crate::config::maplist::de")]
    pub response_headers: BTreeMap<String, String>,
    /// The request encodings accepted besides none (default: all of
    /// [`crate::otlp::encoding::SUPPORTED`]).
    #[serde(default)]
    pub compression_algorithms: Option<Vec<String>>,
    /// The whole request body must arrive within this long, else 408 (default: no limit).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub read_timeout: Option<Duration>,
    /// HTTP/1 request headers must arrive within this long (default 1m; `0` turns it off),
    /// else the connection is closed (slowloris).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub read_header_timeout: Option<Duration>,
    /// Accepted for compatibility.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub write_timeout: Option<Duration>,
    /// Accepted for compatibility.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub idle_timeout: Option<Duration>,
    /// Server TLS (none by default: plaintext); with it, every connection must be TLS.
    #[serde(default)]
    pub tls: Option<ServerTlsConfig>,
    /// Browser CORS (see [`cors`](crate::receiver::cors)).
    #[serde(default)]
    pub cors: Option<crate::receiver::cors::CorsConfig>,
    /// Authentication through a `bearertokenauth` or `basicauth` extension: requests without
    /// valid credentials get 401 before their body is read.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// meshtrace only (the Collector has no such setting): limits on attribute counts, value
    /// lengths and nesting depth of the translated spans; a request over one gets 400.
    #[serde(default)]
    pub limits: LimitsConfig,
}

fn default_endpoint() -> String {
    "localhost:9411".into()
}
fn default_max_body() -> i64 {
    net::DEFAULT_MAX_REQUEST_BODY_SIZE
}

impl Validate for ZipkinConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if let Err(r) = net::check_endpoint(&self.endpoint) {
            e.push(ConfigError::new(r).field("endpoint"));
        }
        if let Some(c) = &self.cors {
            e.extend(c.validate("cors"));
        }
        if let Some(t) = &self.tls {
            e.extend(t.validate("tls"));
        }
        e.extend(self.limits.validate());
        for k in self.response_headers.keys() {
            if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                e.push(
                    ConfigError::new(format!("invalid header name {k:?}"))
                        .field("response_headers"),
                );
            }
        }
        e.extend(net::check_compression_algorithms(
            self.compression_algorithms.as_deref(),
            "compression_algorithms",
        ));
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = self
            .tls
            .as_ref()
            .map(|t| t.warnings("tls"))
            .unwrap_or_default();
        if let Some(c) = &self.cors {
            w.extend(c.warnings("cors"));
        }
        w
    }

    fn referenced_extensions(&self) -> Vec<(String, String)> {
        self.auth
            .iter()
            .map(|a| ("auth.authenticator".to_owned(), a.authenticator.clone()))
            .collect()
    }
}

impl ReceiverConfig for ZipkinConfig {
    fn build(
        &self,
        ctx: &Context,
        consumers: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, ComponentError> {
        let next = consumers
            .traces
            .ok_or_else(|| ctx.error("the zipkin receiver is not used by a traces pipeline"))?;
        Ok(Box::new(ZipkinReceiver::new(self.clone(), ctx, next)?))
    }
}

impl ZipkinReceiver {
    fn new(
        cfg: ZipkinConfig,
        ctx: &Context,
        next: Arc<dyn Consumer>,
    ) -> Result<Self, ComponentError> {
        let auth = cfg
            .auth
            .as_ref()
            .map(|a| ctx.host.server_auth(&a.authenticator))
            .transpose()
            .map_err(|e| ctx.error(e))?;
        let id = ctx.id.to_string();
        let counter = |kind: &str, transport: &str, help: &'static str| {
            ctx.telemetry.counter(
                &format!("otelcol_receiver_{kind}_spans_total"),
                help,
                &[("receiver", &id), ("transport", transport)],
            )
        };
        let accepted = "Number of spans successfully pushed into the pipeline.";
        let refused = "Number of spans that could not be pushed into the pipeline.";
        // The same series as the `otlp` receiver's, so one alert covers every receiver.
        let unauthenticated = ctx.telemetry.counter(
            "meshtrace_receiver_unauthenticated_requests_total",
            "Requests refused because they were not authenticated (HTTP 401 / gRPC UNAUTHENTICATED).",
            &[("receiver", &id), ("transport", "http")],
        );
        Ok(ZipkinReceiver {
            shared: Arc::new(Shared {
                limits: cfg.limits.limits(),
                compression: net::AllowedEncodings::new(cfg.compression_algorithms.as_deref()),
                cfg,
                next,
                auth,
                unauthenticated,
                label: ctx.label(),
                json: [
                    counter("accepted", "http_v2_json", accepted),
                    counter("refused", "http_v2_json", refused),
                ],
                proto: [
                    counter("accepted", "http_v2_proto", accepted),
                    counter("refused", "http_v2_proto", refused),
                ],
                op: ctx
                    .telemetry
                    .tracez
                    .operation(&crate::receiver::otlp::receiver_operation(
                        &id,
                        crate::otlp::Signal::Traces,
                    )),
            }),
            label: ctx.label(),
            server: None,
        })
    }
}

struct Shared {
    cfg: ZipkinConfig,
    next: Arc<dyn Consumer>,
    limits: Limits,
    /// The extension named by `auth.authenticator`.
    auth: Option<Arc<dyn ServerAuthenticator>>,
    unauthenticated: Arc<Counter>,
    label: String,
    /// [accepted, refused] per transport.
    json: [Arc<Counter>; 2],
    proto: [Arc<Counter>; 2],
    /// The `/debug/tracez` record, when a `zpages` extension runs.
    op: Option<Arc<crate::telemetry::tracez::Operation>>,
    /// `compression_algorithms`, when set.
    compression: Option<net::AllowedEncodings>,
}

struct ZipkinReceiver {
    shared: Arc<Shared>,
    label: String,
    server: Option<HttpServer>,
}

impl Shared {
    /// Checks the request's credentials when the receiver has an authenticator; counts and
    /// logs (at debug, without the credentials) a refusal.
    fn authenticate(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<crate::extension::auth::AuthData, String> {
        let Some(a) = &self.auth else {
            return Ok(Default::default());
        };
        a.authenticate(headers).map_err(|e| {
            self.unauthenticated.add(1);
            tracing::debug!(component = %self.label, reason = %e, "unauthenticated request refused");
            e.to_string()
        })
    }
}

impl Receiver for ZipkinReceiver {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let error = |reason: String| ComponentError {
                component: self.label.clone(),
                reason,
            };
            let cfg = &self.shared.cfg;
            let tls = cfg
                .tls
                .as_ref()
                .map(|t| TlsServer::new(&self.label, t, &[b"h2", b"http/1.1"]))
                .transpose()
                .map_err(error)?;
            let opts = net::ServeOptions {
                tls,
                read_header_timeout: Some(
                    cfg.read_header_timeout
                        .unwrap_or(DEFAULT_READ_HEADER_TIMEOUT),
                )
                .filter(|d| !d.is_zero()),
            };
            let listener = net::bind(&self.label, "Zipkin receiver", &cfg.endpoint, true)
                .await
                .map_err(error)?;
            let shared = self.shared.clone();
            let cors = cfg.cors.as_ref().and_then(Cors::new).map(Arc::new);
            let response_headers: Arc<[(http::HeaderName, HeaderValue)]> =
                net::response_headers(&cfg.response_headers).into();
            self.server = Some(HttpServer::serve_with(listener, opts, move |req| {
                let shared = shared.clone();
                let cors = cors.clone();
                let response_headers = response_headers.clone();
                async move {
                    Cors::around(cors.as_deref(), &response_headers, req, |req| {
                        handle(req, &shared)
                    })
                    .await
                }
            }));
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

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    net::text(status, body)
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    // Before anything else: an unauthenticated client learns nothing, and its body is not read.
    let auth = match shared.authenticate(req.headers()) {
        Ok(auth) => auth,
        Err(e) => return reply(StatusCode::UNAUTHORIZED, format!("{e}\n")),
    };
    match req.uri().path() {
        "/api/v2/spans" => {}
        "/api/v1/spans" => {
            return reply(
                StatusCode::BAD_REQUEST,
                "Zipkin v1 spans are not supported: configure the reporter for the v2 API (POST /api/v2/spans, JSON or protobuf)\n",
            );
        }
        _ => return reply(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
    if req.method() != http::Method::POST {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} method not allowed, supported: [POST]\n", req.method()),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let media = net::media_type(req.headers());
    // JSON unless protobuf is declared, as the Collector's receiver decides.
    let (format, counters) = if media == "application/x-protobuf" || media == "application/protobuf"
    {
        (meshtrace_zipkin::Format::Proto, &shared.proto)
    } else {
        (meshtrace_zipkin::Format::Json, &shared.json)
    };
    let encoding = match net::content_encoding(req.headers(), shared.compression.as_ref()) {
        Ok(e) => e,
        Err(m) => return reply(StatusCode::BAD_REQUEST, format!("{m}\n")),
    };
    let max = net::max_request_body_bytes(shared.cfg.max_request_body_size);
    let info = Arc::new(ClientInfo {
        auth,
        ..ClientInfo::from_http(
            req.extensions().get::<RemoteAddr>().map(|a| a.0.ip()),
            shared.cfg.include_metadata.then(|| req.headers()),
        )
    });
    let collect = Limited::new(req.into_body(), max).collect();
    let collected = match shared.cfg.read_timeout.filter(|d| !d.is_zero()) {
        None => collect.await,
        Some(t) => match tokio::time::timeout(t, collect).await {
            Ok(r) => r,
            Err(_) => {
                return reply(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive within read_timeout\n",
                );
            }
        },
    };
    let body = match collected {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body exceeds {max} bytes\n"),
                );
            }
            return reply(
                StatusCode::BAD_REQUEST,
                format!("failed to read the request body: {e}\n"),
            );
        }
    };
    let body = match net::decode_body(encoding, body, max) {
        Ok(b) => b,
        Err((status, m)) => return reply(status, format!("{m}\n")),
    };
    let options = meshtrace_zipkin::Options {
        parse_string_tags: shared.cfg.parse_string_tags,
    };
    let batch = match meshtrace_zipkin::to_batch(&body, format, options, &shared.limits) {
        Ok(b) => b,
        Err(e) => return reply(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let n = batch.items() as u64;
    if n == 0 {
        return reply(StatusCode::ACCEPTED, "");
    }
    let [accepted, refused] = counters;
    let running = shared
        .op
        .as_deref()
        .map(crate::telemetry::tracez::Operation::start);
    let result = client::scope(info, shared.next.consume(batch)).await;
    if let Some(r) = running {
        r.end(n, "http", result.as_ref().err().map(|e| e as _));
    }
    match result {
        Ok(()) => {
            accepted.add(n);
            reply(StatusCode::ACCEPTED, "")
        }
        Err(e) => {
            refused.add(n);
            tracing::debug!(component = %shared.label, items = n, error = %e, "data refused");
            match e {
                ConsumeError::Permanent { reason } => {
                    reply(StatusCode::BAD_REQUEST, format!("{reason}\n"))
                }
                ConsumeError::Retryable {
                    reason,
                    retry_after,
                    throttled,
                } => {
                    let status = if throttled {
                        StatusCode::TOO_MANY_REQUESTS
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    let mut r = reply(status, format!("{reason}\n"));
                    if let Some(v) = retry_after.and_then(net::retry_after) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    r
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
