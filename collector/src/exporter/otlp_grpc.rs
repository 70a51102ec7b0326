//! `otlp_grpc` (formerly `otlp`): OTLP/gRPC to a backend (Tempo, Jaeger, New Relic, another
//! collector). The batch bytes go out as they are, framed as a unary gRPC call on tonic's
//! channel (connection, HTTP/2, TLS) and gzipped here at `compression_params.level`.

use super::balance::{self, Balancer, Policy};
use super::helper::{ExporterHelper, HelperSettings, Payload, QueueConfig, RetryConfig, Sender};
use super::{
    ClientTlsConfig, Codec, CompressionParams, check_headers, default_compression,
    parse_compression,
};
use super::{ErrorChain, proxy};
use crate::component::{ComponentError, Context, Exporter, ExporterConfig, Validate};
use crate::config::{ConfigError, Secret, Value, duration};
use crate::grpc_codec::export_path;
use crate::otlp::{Batch, Signal, gzip};
use crate::pipeline::{BoxFuture, ConsumeError};
use http::{HeaderValue, header};
use http_body_util::BodyExt;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Endpoint;

/// gRPC client keepalive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeepalive {
    /// Ping the server after this long without activity.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub time: Option<Duration>,
    /// Close the connection if a ping is not answered within this long.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub timeout: Option<Duration>,
    /// Ping even without active calls.
    #[serde(default)]
    pub permit_without_stream: bool,
}

/// `exporters: otlp_grpc:` (and `otlp:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpGrpcConfig {
    /// `host:port` or a URL. `https://` or no scheme uses TLS unless `tls.insecure`; `http://`
    /// is plaintext.
    pub endpoint: String,
    /// Headers sent with every request (e.g. New Relic's `api-key`): a map, or a list of
    /// `{name, value}`.
    #[serde(default, deserialize_with = "crate::config::maplist::de")]
    pub headers: BTreeMap<String, Secret>,
    /// `gzip` (default) or `none`.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// `level`: the gzip level (see [`CompressionParams`]).
    #[serde(default)]
    pub compression_params: CompressionParams,
    /// Client TLS.
    #[serde(default)]
    pub tls: ClientTlsConfig,
    /// Per-request timeout (default 5s).
    #[serde(default = "default_timeout", deserialize_with = "duration::de")]
    pub timeout: Duration,
    /// Retries on retryable failures.
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
    /// The in-memory sending queue.
    #[serde(default)]
    pub sending_queue: QueueConfig,
    /// HTTP/2 keepalive pings.
    #[serde(default)]
    pub keepalive: Option<ClientKeepalive>,
    /// `round_robin` (the default: a connection to each of the endpoint's addresses, requests
    /// in turn) or `pick_first` (one connection); see [`balance`].
    #[serde(default)]
    pub balancer_name: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub read_buffer_size: Option<u64>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub write_buffer_size: Option<u64>,
    /// `true`: a request that finds no address accepting a connection waits for one (within its
    /// `timeout`) instead of failing at once, as grpc-go's `WaitForReady`.
    #[serde(default)]
    pub wait_for_ready: bool,
    /// `:authority` override.
    #[serde(default)]
    pub authority: Option<String>,
    /// Client authentication through an extension.
    #[serde(default)]
    pub auth: Option<crate::receiver::otlp::AuthConfig>,
    /// Accepted for compatibility: the exporter sends traces, metrics and logs only.
    #[serde(default)]
    pub profiles: Option<Value>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

impl OtlpGrpcConfig {
    fn settings(&self) -> HelperSettings {
        HelperSettings {
            timeout: self.timeout,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        }
    }

    /// How requests are spread over the endpoint's addresses. A `passthrough:` target is one
    /// address to gRPC whatever the balancer (its resolver does not resolve it).
    fn policy(&self) -> Result<Policy, String> {
        let policy = Policy::parse(self.balancer_name.as_deref())?;
        Ok(if self.endpoint.trim().starts_with("passthrough:") {
            Policy::PickFirst
        } else {
            policy
        })
    }

    /// How long a connection may take: half the request's `timeout` (at most 10 s, at least
    /// 100 ms), so that a request whose address does not answer can still go to another.
    fn connect_timeout(&self) -> Duration {
        (self.timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(10))
    }

    /// The URI to connect to and whether TLS is on.
    pub fn target(&self) -> Result<(String, bool), String> {
        let ep = self.endpoint.trim();
        let resolved = resolver_target(ep).transpose()?;
        let ep = resolved
            .as_ref()
            .map_or(ep, |(hostport, _)| hostport.as_str());
        if let Some(rest) = ep.strip_prefix("https://") {
            Ok((format!("https://{rest}"), true))
        } else if let Some(rest) = ep.strip_prefix("http://") {
            Ok((format!("http://{rest}"), false))
        } else if ep.starts_with("unix:") || ep.starts_with("unix-abstract:") {
            Err(format!(
                "Unix domain sockets are not supported ({ep:?}): use host:port, dns:///host:port, http:// or https://"
            ))
        } else if ep.contains("://") {
            Err(format!(
                "unsupported scheme in endpoint {ep:?} (use host:port, dns:///host:port, http:// or https://)"
            ))
        } else if self.tls.insecure {
            Ok((format!("http://{ep}"), false))
        } else {
            Ok((format!("https://{ep}"), true))
        }
    }
}

/// The `host:port` of a gRPC name-resolver target, for the schemes grpc-go resolves itself and
/// the Collector passes through to it: `dns:[//DNS_SERVER/]HOST[:PORT]` (port 443 when absent,
/// as in grpc-go) and `passthrough:///HOST:PORT`; with the DNS server the target names, if any.
/// `None` for an endpoint without such a scheme. The host is resolved by the system resolver,
/// as for a plain `host:port`.
fn resolver_target(ep: &str) -> Option<Result<(String, Option<&str>), String>> {
    let malformed = || {
        format!("invalid endpoint {ep:?}: expected dns:///host:port or dns://DNS_SERVER/host:port")
    };
    let (server, hostport) = if let Some(rest) = ep.strip_prefix("passthrough:///") {
        (None, rest)
    } else if let Some(rest) = ep.strip_prefix("dns://") {
        match rest.split_once('/') {
            Some((server, hostport)) => (Some(server).filter(|s| !s.is_empty()), hostport),
            None => return Some(Err(malformed())),
        }
    } else if let Some(rest) = ep.strip_prefix("dns:").filter(|r| r.contains(':')) {
        // `dns:host:port`; `dns:4317` is the host "dns" on port 4317.
        (None, rest)
    } else {
        return None;
    };
    if hostport.is_empty() || hostport.contains('/') {
        return Some(Err(malformed()));
    }
    let has_port = hostport.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.ends_with(':') && port.parse::<u16>().is_ok()
    });
    let hostport = if has_port {
        hostport.to_owned()
    } else {
        format!("{hostport}:443")
    };
    Some(Ok((hostport, server)))
}

impl Validate for OtlpGrpcConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.endpoint.trim().is_empty() {
            e.push(ConfigError::new("must not be empty").field("endpoint"));
        } else if let Err(r) = self.target().and_then(|(uri, _)| {
            uri.parse::<http::Uri>()
                .map_err(|x| format!("invalid endpoint {:?}: {x}", self.endpoint))
        }) {
            e.push(ConfigError::new(r).field("endpoint"));
        }
        match parse_compression(&self.compression) {
            Ok(c) => e.extend(self.compression_params.validate(c)),
            Err(c) => e.push(c),
        }
        if let Err(r) = Policy::parse(self.balancer_name.as_deref()) {
            e.push(ConfigError::new(r).field("balancer_name"));
        }
        e.extend(check_headers(&self.headers));
        e.extend(self.tls.validate());
        e.extend(self.settings().validate());
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
        if let Some(Ok((hostport, Some(server)))) = resolver_target(self.endpoint.trim()) {
            w.push(format!(
                "endpoint: the DNS server {server:?} is not used: {hostport} is resolved by the system resolver"
            ));
        }
        w
    }
}

impl ExporterConfig for OtlpGrpcConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
        let sender = Arc::new(self.sender(ctx, signal)?);
        Ok(ExporterHelper::new(ctx, signal, sender, self.settings()))
    }
}

impl OtlpGrpcConfig {
    /// What sends one request, without the helper's queue and retries.
    /// A sender of `signal` without the exporter's queue and retries: what the collector's own
    /// metrics and logs are pushed with.
    pub fn push_sender(
        &self,
        ctx: &Context,
        signal: Signal,
    ) -> Result<Arc<dyn Sender>, ComponentError> {
        Ok(Arc::new(self.sender(ctx, signal)?))
    }

    fn sender(&self, ctx: &Context, signal: Signal) -> Result<GrpcSender, ComponentError> {
        let dialing = Dialing {
            resolve: balance::system_resolver(),
            refresh: balance::REFRESH,
            env: &proxy::process_env,
        };
        self.sender_with(ctx, signal, dialing)
    }

    /// [`Self::sender`], resolving and finding a proxy as `dialing` says.
    fn sender_with(
        &self,
        ctx: &Context,
        signal: Signal,
        dialing: Dialing<'_>,
    ) -> Result<GrpcSender, ComponentError> {
        let (uri, tls) = self.target().map_err(|e| ctx.error(e))?;
        let plain = uri.replacen("https://", "http://", 1);
        let mut ep = Endpoint::from_shared(plain)
            .map_err(|e| ctx.error(format!("invalid endpoint {uri:?}: {e}")))?;
        if tls && self.authority.is_none() {
            let origin: http::Uri = uri
                .parse()
                .map_err(|e| ctx.error(format!("invalid endpoint {uri:?}: {e}")))?;
            ep = ep.origin(origin);
        }
        ep = ep.tcp_nodelay(true);
        if let Some(a) = &self.authority {
            let origin: http::Uri = format!("{}://{a}", if tls { "https" } else { "http" })
                .parse()
                .map_err(|e| ctx.error(format!("invalid authority: {e}")))?;
            ep = ep.origin(origin);
        }
        if let Some(k) = &self.keepalive {
            if let Some(t) = k.time {
                ep = ep.http2_keep_alive_interval(t);
            }
            if let Some(t) = k.timeout {
                ep = ep.keep_alive_timeout(t);
            }
            ep = ep.keep_alive_while_idle(k.permit_without_stream);
        }
        // TLS is ours (rustls, `tls:` options), so tonic sees an http:// endpoint; requests
        // still carry the https scheme.
        let connector = if tls {
            let host = uri
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.host().map(str::to_owned))
                .unwrap_or_default();
            let name = self.tls.server_name(&host).map_err(|e| ctx.error(e))?;
            let cfg = self
                .tls
                .rustls(&[b"h2"])
                .map_err(|e| ctx.error(format!("TLS setup failed: {e}")))?;
            if self.tls.insecure_skip_verify {
                tracing::warn!(component = %ctx.label(), "tls.insecure_skip_verify: the backend's certificate is not verified");
            }
            super::connector::Connector::new(Some((cfg, name)), self.connect_timeout())
        } else {
            super::connector::Connector::new(None, self.connect_timeout())
        };
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            let key = http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| ctx.error(format!("invalid header name {k:?}")))?;
            let mut val = HeaderValue::from_str(v.expose())
                .map_err(|_| ctx.error(format!("invalid value for header {k:?}")))?;
            val.set_sensitive(true);
            headers.insert(key, val);
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
        let target: http::Uri = uri
            .parse()
            .map_err(|e| ctx.error(format!("invalid endpoint {uri:?}: {e}")))?;
        let host = target
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = target.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let route = proxy::grpc_route(&host, port, dialing.env).map_err(|e| ctx.error(e))?;
        let backend = match (&route, host.contains(':')) {
            (Some(route), _) => format!("{host}:{port} through the proxy {}", route.proxy),
            (None, true) => format!("[{host}]:{port}"),
            (None, false) => format!("{host}:{port}"),
        };
        let balancer = match (&route, self.policy().map_err(|e| ctx.error(e))?) {
            // Through a proxy there is one address, the proxy's: it resolves the host.
            (Some(route), _) => {
                tracing::info!(component = %ctx.label(), proxy = %route.proxy, backend = %format_args!("{host}:{port}"), "exporting through an HTTP proxy (HTTPS_PROXY)");
                let connector = connector
                    .through(route, &host, port)
                    .map_err(|e| ctx.error(format!("invalid endpoint {host}:{port}: {e}")))?;
                Balancer::One(ep.connect_with_connector_lazy(connector))
            }
            (None, Policy::PickFirst) => Balancer::One(ep.connect_with_connector_lazy(connector)),
            (None, Policy::RoundRobin) => {
                let make: balance::MakeChannel = Box::new(move |addr, link| {
                    ep.clone()
                        .connect_with_connector_lazy(connector.to(addr, link))
                });
                Balancer::RoundRobin(balance::Pool::new(
                    host,
                    port,
                    make,
                    dialing.resolve,
                    dialing.refresh,
                ))
            }
        };
        Ok(GrpcSender {
            balancer,
            backend,
            wait_for_ready: self.wait_for_ready,
            auth,
            headers,
            codec,
            signal,
            label: ctx.label(),
        })
    }
}

/// How the exporter finds its backend's addresses and proxy.
struct Dialing<'a> {
    /// Resolves the endpoint's host for `round_robin`.
    resolve: balance::Resolve,
    /// How often `round_robin` resolves it again.
    refresh: Duration,
    /// The environment the proxy is read from.
    env: &'a proxy::Env,
}

struct GrpcSender {
    balancer: Balancer,
    /// The backend's host and port (and the proxy, if one is used), for error messages.
    backend: String,
    /// `wait_for_ready`.
    wait_for_ready: bool,
    auth: Option<Arc<dyn crate::extension::auth::ClientAuthenticator>>,
    /// `headers` from the config.
    headers: http::HeaderMap,
    /// How requests are compressed, if they are.
    codec: Option<Codec>,
    signal: Signal,
    label: String,
}

/// Classifies a gRPC failure as the OTLP specification does.
pub fn classify(status: &tonic::Status) -> ConsumeError {
    use tonic::Code;
    let reason = format!(
        "rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    );
    let delay = crate::grpc_codec::retry_delay(status);
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => ConsumeError::Retryable {
            reason,
            retry_after: delay,
            throttled: false,
        },
        // Only retryable when the server says when.
        Code::ResourceExhausted if delay.is_some() => ConsumeError::Retryable {
            reason,
            retry_after: delay,
            throttled: true,
        },
        _ => ConsumeError::permanent(reason),
    }
}

/// A backend's answer body larger than this is refused (an export response is a few bytes).
const MAX_RESPONSE_BYTES: usize = 4 << 20;

impl GrpcSender {
    /// The backend as an error names it: its host and port, and the address tried when the
    /// host has several (`gw-headless:4317 (10.0.0.3:4317)`), as Go's `dial tcp` error names it.
    fn at(&self, address: Option<std::net::SocketAddr>) -> String {
        match address {
            Some(a) if a.to_string() != self.backend => format!("{} ({a})", self.backend),
            _ => self.backend.clone(),
        }
    }

    /// The gRPC message: the batch bytes behind the 5-byte message prefix, gzipped in place at
    /// the configured level (tonic's own gzip has a fixed level 6).
    fn message(&self, batch: Batch) -> Result<bytes::Bytes, ConsumeError> {
        let payload = batch.into_bytes();
        let (flag, mut framed) = match self.codec {
            Some(codec) => (
                1,
                codec
                    .compress_after(vec![0; 5], &payload)
                    .map_err(ConsumeError::permanent)?,
            ),
            None => {
                let mut v = Vec::with_capacity(payload.len() + 5);
                v.extend_from_slice(&[0; 5]);
                v.extend_from_slice(&payload);
                (0, v)
            }
        };
        let len = u32::try_from(framed.len().saturating_sub(5))
            .ok()
            .filter(|&l| framed.len() > 5 && (flag == 0 || l > 0))
            .ok_or_else(|| ConsumeError::permanent("request too large for one gRPC message"))?;
        let [a, b, c, d] = len.to_be_bytes();
        if let Some(prefix) = framed.first_chunk_mut::<5>() {
            *prefix = [flag, a, b, c, d];
        }
        Ok(bytes::Bytes::from(framed))
    }

    /// The unary call carrying `message`.
    fn request(
        &self,
        message: bytes::Bytes,
    ) -> Result<http::Request<tonic::body::Body>, ConsumeError> {
        let mut headers = self.headers.clone();
        if let Some(a) = &self.auth {
            for (k, mut v) in a.headers().map_err(ConsumeError::retryable)? {
                v.set_sensitive(true);
                headers.insert(k, v);
            }
        }
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(GRPC_ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        if let Some(codec) = self.codec {
            headers.insert(GRPC_ENCODING, HeaderValue::from_static(codec.name()));
        }
        let mut req =
            http::Request::new(tonic::body::Body::new(http_body_util::Full::new(message)));
        *req.method_mut() = http::Method::POST;
        *req.version_mut() = http::Version::HTTP_2;
        // The channel fills in scheme and authority from the endpoint.
        *req.uri_mut() = http::Uri::from_static(export_path(self.signal));
        *req.headers_mut() = headers;
        Ok(req)
    }
}

impl Sender for GrpcSender {
    fn encode(&self, batch: Batch) -> Result<Payload, ConsumeError> {
        self.message(batch).map(Payload::Encoded)
    }

    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            use tonic::codegen::Service;
            let message = match payload {
                Payload::Encoded(message) => message,
                Payload::Batch(batch) => self.message(batch)?,
            };
            let mut attempts = None;
            // `wait_for_ready`'s pause between rounds of connection attempts.
            let mut pause = Duration::from_millis(50);
            let resp = loop {
                let pick = self
                    .balancer
                    .pick()
                    .await
                    .map_err(ConsumeError::retryable)?;
                let left = attempts.get_or_insert(pick.of);
                let req = self.request(message.clone())?;
                let mut channel = pick.channel.clone();
                let answer = match std::future::poll_fn(|cx| channel.poll_ready(cx)).await {
                    Ok(()) => channel.call(req).await,
                    Err(e) => Err(e),
                };
                match answer {
                    Ok(resp) => {
                        pick.sent();
                        break resp;
                    }
                    // Nothing was sent: another address may take it now.
                    Err(e) if balance::is_connect_error(&e) => {
                        *left = left.saturating_sub(1);
                        let another = pick.connect_failed() && *left > 0;
                        if another {
                            continue;
                        }
                        if !self.wait_for_ready {
                            return Err(ConsumeError::retryable(format!(
                                "connection to the backend {} failed: {}",
                                self.at(pick.address()),
                                ErrorChain(&e)
                            )));
                        }
                        // Every address failed: try them all again until the helper's timeout
                        // ends the attempt.
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(1));
                        attempts = None;
                    }
                    Err(e) => {
                        return Err(ConsumeError::retryable(format!(
                            "request to the backend {} failed: {}",
                            self.at(pick.address()),
                            ErrorChain(&e)
                        )));
                    }
                }
            };
            let (parts, body) = resp.into_parts();
            if parts.status != http::StatusCode::OK {
                return Err(classify(&status_from_http(parts.status)));
            }
            // A trailers-only answer carries the status in the headers.
            if let Some(status) = tonic::Status::from_header_map(&parts.headers)
                && status.code() != tonic::Code::Ok
            {
                return Err(classify(&status));
            }
            let collected = http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| ConsumeError::retryable(format!("reading the answer failed: {e}")))?;
            let status = collected
                .trailers()
                .and_then(tonic::Status::from_header_map)
                .or_else(|| tonic::Status::from_header_map(&parts.headers))
                .unwrap_or_else(|| tonic::Status::unknown("the backend sent no grpc-status"));
            if status.code() != tonic::Code::Ok {
                return Err(classify(&status));
            }
            if let Some(message) = response_message(&collected.to_bytes()) {
                warn_partial_success(&self.label, self.signal, &message, false);
            }
            Ok(())
        })
    }
}

const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");
const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");

/// The gRPC status for a non-200 HTTP answer (gRPC's HTTP-to-gRPC status mapping), e.g. from
/// a proxy in front of the backend.
fn status_from_http(code: http::StatusCode) -> tonic::Status {
    use tonic::Code;
    let c = match code.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    tonic::Status::new(c, format!("the backend answered HTTP {code}"))
}

/// The first message of a unary answer, decompressed when flagged.
fn response_message(body: &[u8]) -> Option<Vec<u8>> {
    let (&flag, rest) = body.split_first()?;
    let len = usize::try_from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)).ok()?;
    let message = rest.get(4..4 + len)?;
    match flag {
        0 => Some(message.to_vec()),
        1 => gzip::decompress(message, MAX_RESPONSE_BYTES).ok(),
        _ => None,
    }
}

/// A backend's partial success: how many items it rejected and why; `None` for a full success
/// or an answer that is not an `Export*ServiceResponse`. `json`: the answer is OTLP/JSON
/// (lowerCamelCase or proto field names; 64-bit counts as strings or numbers).
pub fn partial_success(signal: Signal, body: &[u8], json: bool) -> Option<(i64, String)> {
    use crate::otlp::proto::collector::{logs, metrics, trace};
    use prost::Message;
    let (rejected, message) = if json {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let field = |o: &serde_json::Value, camel: &str, snake: &str| {
            o.get(camel).or_else(|| o.get(snake)).cloned()
        };
        let p = field(&v, "partialSuccess", "partial_success")?;
        let (camel, snake) = match signal {
            Signal::Traces => ("rejectedSpans", "rejected_spans"),
            Signal::Metrics => ("rejectedDataPoints", "rejected_data_points"),
            Signal::Logs => ("rejectedLogRecords", "rejected_log_records"),
        };
        let rejected = match field(&p, camel, snake) {
            Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or_default(),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or_default(),
            _ => 0,
        };
        let message = field(&p, "errorMessage", "error_message")
            .and_then(|m| m.as_str().map(str::to_owned))
            .unwrap_or_default();
        (rejected, message)
    } else {
        match signal {
            Signal::Traces => trace::v1::ExportTraceServiceResponse::decode(body)
                .ok()?
                .partial_success
                .map(|p| (p.rejected_spans, p.error_message))?,
            Signal::Metrics => metrics::v1::ExportMetricsServiceResponse::decode(body)
                .ok()?
                .partial_success
                .map(|p| (p.rejected_data_points, p.error_message))?,
            Signal::Logs => logs::v1::ExportLogsServiceResponse::decode(body)
                .ok()?
                .partial_success
                .map(|p| (p.rejected_log_records, p.error_message))?,
        }
    };
    (rejected > 0 || !message.is_empty()).then_some((rejected, message))
}

/// Logs a backend's partial success as a warning (see [`partial_success`]).
pub fn warn_partial_success(label: &str, signal: Signal, body: &[u8], json: bool) {
    if let Some((rejected, message)) = partial_success(signal, body, json) {
        tracing::warn!(component = label, rejected, message = %message, "partial success response from the backend");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(y: &str) -> OtlpGrpcConfig {
        let v: Value = crate::config::value::from_yaml(y).unwrap();
        crate::registry::parse_typed(&v).unwrap()
    }

    #[test]
    fn endpoints_and_tls() {
        let t = |y: &str| cfg(y).target().unwrap();
        assert_eq!(
            t("endpoint: tempo:4317"),
            ("https://tempo:4317".into(), true)
        );
        assert_eq!(
            t("endpoint: tempo:4317\ntls: {insecure: true}"),
            ("http://tempo:4317".into(), false)
        );
        assert_eq!(
            t("endpoint: http://tempo:4317"),
            ("http://tempo:4317".into(), false)
        );
        assert_eq!(
            t("endpoint: https://otlp.nr-data.net:4317"),
            ("https://otlp.nr-data.net:4317".into(), true)
        );
        assert!(
            cfg("endpoint: ftp://x:1")
                .validate()
                .iter()
                .any(|e| e.field.as_deref() == Some("endpoint"))
        );
    }

    #[test]
    fn grpc_resolver_schemes() {
        // endpoint, tls.insecure → the URI connected to and TLS, or the error.
        type Case = (
            &'static str,
            bool,
            Result<(&'static str, bool), &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "dns:///gw-headless:4317",
                false,
                Ok(("https://gw-headless:4317", true)),
            ),
            (
                "dns:///gw-headless:4317",
                true,
                Ok(("http://gw-headless:4317", false)),
            ),
            (
                "dns://8.8.8.8:53/gw.example.com:4317",
                true,
                Ok(("http://gw.example.com:4317", false)),
            ),
            ("dns:gw:4317", true, Ok(("http://gw:4317", false))),
            ("dns:///gw", false, Ok(("https://gw:443", true))),
            ("dns:///[::1]:4317", true, Ok(("http://[::1]:4317", false))),
            ("dns:///[::1]", true, Ok(("http://[::1]:443", false))),
            (
                "passthrough:///10.0.0.1:4317",
                true,
                Ok(("http://10.0.0.1:4317", false)),
            ),
            // A host called "dns", not a scheme.
            ("dns:4317", true, Ok(("http://dns:4317", false))),
            (
                "dns://gw:4317",
                false,
                Err(
                    "invalid endpoint \"dns://gw:4317\": expected dns:///host:port or dns://DNS_SERVER/host:port",
                ),
            ),
            (
                "dns:///",
                false,
                Err(
                    "invalid endpoint \"dns:///\": expected dns:///host:port or dns://DNS_SERVER/host:port",
                ),
            ),
            (
                "unix:///var/run/otel.sock",
                true,
                Err(
                    "Unix domain sockets are not supported (\"unix:///var/run/otel.sock\"): use host:port, dns:///host:port, http:// or https://",
                ),
            ),
            (
                "xds:///gw:4317",
                false,
                Err(
                    "unsupported scheme in endpoint \"xds:///gw:4317\" (use host:port, dns:///host:port, http:// or https://)",
                ),
            ),
        ];
        for (endpoint, insecure, want) in cases {
            let c = cfg(&format!(
                "endpoint: {endpoint:?}\ntls: {{insecure: {insecure}}}"
            ));
            let got = c.target();
            assert_eq!(
                got.as_ref()
                    .map(|(u, t)| (u.as_str(), *t))
                    .map_err(String::as_str),
                want,
                "{endpoint}"
            );
            // What validate reports is the same verdict.
            assert_eq!(
                c.validate().is_empty(),
                want.is_ok(),
                "{endpoint}: {:?}",
                c.validate()
            );
        }
        assert_eq!(
            cfg("endpoint: dns://8.8.8.8:53/gw:4317").warnings(),
            vec![
                "endpoint: the DNS server \"8.8.8.8:53\" is not used: gw:4317 is resolved by the system resolver"
            ]
        );
        assert!(cfg("endpoint: dns:///gw:4317").warnings().is_empty());
    }

    #[tokio::test]
    async fn headers_in_either_form_are_sent() {
        for headers in [
            "headers: {api-key: s3cret, x-tenant: t1}",
            "headers: [{name: api-key, value: s3cret}, {name: x-tenant, value: t1}]",
        ] {
            let (url, seen) = backend(ok_answer()).await;
            let exp = sender(&url, headers);
            exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap();
            let (got, _) = seen.lock().unwrap().pop().unwrap();
            assert_eq!(
                (&got["api-key"], &got["x-tenant"]),
                (
                    &http::HeaderValue::from_static("s3cret"),
                    &http::HeaderValue::from_static("t1")
                ),
                "{headers}"
            );
        }
    }

    #[tokio::test]
    async fn a_dns_endpoint_connects_as_host_port_does() {
        let batch = crate::testutil::traces(0, 3);
        let (url, seen) = backend(ok_answer()).await;
        let port = url.rsplit_once(':').unwrap().1;
        let exp = sender(&format!("dns:///localhost:{port}"), "tls: {insecure: true}");
        exp.send(exp.encode(batch).unwrap()).await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn defaults_match_the_collector() {
        let c = cfg("endpoint: x:1");
        assert_eq!(c.compression, "gzip");
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert!(c.retry_on_failure.enabled && c.sending_queue.enabled);
        assert_eq!(
            (c.sending_queue.num_consumers, c.sending_queue.queue_size),
            (10, 1000)
        );
    }

    /// What the fake backend answers: HTTP status, headers, body, trailers.
    #[derive(Clone)]
    struct Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        trailers: Vec<(&'static str, String)>,
    }

    /// An HTTP/2 server that records each request (headers, body) and answers with `answer`.
    async fn backend(
        answer: Answer,
    ) -> (
        String,
        Arc<std::sync::Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>,
    ) {
        backend_at("127.0.0.1:0", answer).await
    }

    /// [`backend`] on `addr`.
    async fn backend_at(
        addr: &str,
        answer: Answer,
    ) -> (
        String,
        Arc<std::sync::Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>,
    ) {
        use http_body_util::{BodyExt, StreamBody};
        use hyper::body::Frame;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (record, answer) = (record.clone(), answer.clone());
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (record, answer) = (record.clone(), answer.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes().to_vec();
                            record.lock().unwrap().push((parts.headers, body));
                            let mut trailers = http::HeaderMap::new();
                            for (k, v) in &answer.trailers {
                                trailers.insert(*k, v.parse().unwrap());
                            }
                            let mut frames = vec![Ok::<_, std::convert::Infallible>(Frame::data(
                                bytes::Bytes::from(answer.body.clone()),
                            ))];
                            if !trailers.is_empty() {
                                frames.push(Ok(Frame::trailers(trailers)));
                            }
                            let mut resp =
                                http::Response::new(StreamBody::new(futures_stream(frames)));
                            *resp.status_mut() = http::StatusCode::from_u16(answer.status).unwrap();
                            for (k, v) in &answer.headers {
                                resp.headers_mut().insert(*k, v.parse().unwrap());
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc),
                );
            }
        });
        (format!("http://{addr}"), seen)
    }

    fn futures_stream<T: Send + 'static>(
        items: Vec<T>,
    ) -> impl tokio_stream::Stream<Item = T> + Send + 'static {
        tokio_stream::iter(items)
    }

    fn sender(endpoint: &str, yaml: &str) -> GrpcSender {
        let c = cfg(&format!("endpoint: {endpoint}\n{yaml}"));
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let mut ctx = crate::processor::testspans::ctx("otlp_grpc");
        ctx.kind = crate::component::Kind::Exporter;
        c.sender(&ctx, Signal::Traces).unwrap()
    }

    /// A resolver answering the `n`th lookup (from 0) with `answers(n)`, and how many there were.
    fn resolver(
        answers: impl Fn(usize) -> std::io::Result<Vec<std::net::SocketAddr>> + Send + Sync + 'static,
    ) -> (balance::Resolve, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let resolve: balance::Resolve = Arc::new(move |host, port| {
            assert_eq!((host.as_str(), port), ("gw-headless", 4317));
            let answer = answers(counted.fetch_add(1, Ordering::SeqCst));
            Box::pin(async move { answer })
        });
        (resolve, calls)
    }

    /// Resolving with `resolve` every `refresh`, in an environment without proxies.
    fn dialing(resolve: balance::Resolve, refresh: Duration) -> Dialing<'static> {
        Dialing {
            resolve,
            refresh,
            env: &|_| None,
        }
    }

    /// A sender to `gw-headless:4317`, resolved by `resolve` every `refresh`.
    fn balanced_sender(yaml: &str, resolve: balance::Resolve, refresh: Duration) -> GrpcSender {
        let c = cfg(&format!(
            "endpoint: dns:///gw-headless:4317
tls: {{insecure: true}}
{yaml}"
        ));
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let mut ctx = crate::processor::testspans::ctx("otlp_grpc");
        ctx.kind = crate::component::Kind::Exporter;
        c.sender_with(&ctx, Signal::Traces, dialing(resolve, refresh))
            .unwrap()
    }

    fn addr(url: &str) -> std::net::SocketAddr {
        url.trim_start_matches("http://").parse().unwrap()
    }

    /// An address nothing listens on.
    async fn closed_port() -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    }

    #[test]
    fn partial_success_answers() {
        use crate::otlp::proto::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        use prost::Message;
        let proto = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "spans too old".into(),
            }),
        }
        .encode_to_vec();
        let some = |n: i64, m: &str| Some((n, m.to_owned()));
        for (signal, body, json, want) in [
            (
                Signal::Traces,
                proto.as_slice(),
                false,
                some(3, "spans too old"),
            ),
            (Signal::Traces, &[][..], false, None),
            (
                Signal::Traces,
                br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"spans too old"}}"#,
                true,
                some(3, "spans too old"),
            ),
            (
                Signal::Logs,
                br#"{"partial_success":{"rejected_log_records":2}}"#,
                true,
                some(2, ""),
            ),
            (
                Signal::Metrics,
                br#"{"partialSuccess":{"errorMessage":"one series dropped"}}"#,
                true,
                some(0, "one series dropped"),
            ),
            (Signal::Traces, br#"{"partialSuccess":{}}"#, true, None),
            (Signal::Traces, b"{}", true, None),
            (Signal::Traces, b"not json", true, None),
        ] {
            assert_eq!(
                partial_success(signal, body, json),
                want,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn balancer_names() {
        for (yaml, want) in [
            ("", Ok(Policy::RoundRobin)),
            ("balancer_name: round_robin", Ok(Policy::RoundRobin)),
            ("balancer_name: pick_first", Ok(Policy::PickFirst)),
            (
                "balancer_name: least_request",
                Err(
                    "unknown balancer \"least_request\": use round_robin (the default) or pick_first",
                ),
            ),
        ] {
            let c = cfg(&format!("endpoint: gw:4317\n{yaml}"));
            let errors: Vec<_> = c
                .validate()
                .into_iter()
                .map(|e| (e.field.unwrap_or_default(), e.reason))
                .collect();
            match want {
                Ok(policy) => {
                    assert!(errors.is_empty(), "{yaml}: {errors:?}");
                    assert_eq!(c.policy(), Ok(policy), "{yaml}");
                }
                Err(reason) => assert_eq!(
                    errors,
                    vec![("balancer_name".to_owned(), reason.to_owned())],
                    "{yaml}"
                ),
            }
        }
        // A passthrough target is one address, whatever the balancer.
        assert_eq!(
            cfg("endpoint: passthrough:///gw:4317\nbalancer_name: round_robin").policy(),
            Ok(Policy::PickFirst)
        );
    }

    #[tokio::test]
    async fn round_robin_sends_to_every_address_in_turn() {
        let (a, seen_a) = backend(ok_answer()).await;
        let (b, seen_b) = backend(ok_answer()).await;
        let addrs = vec![addr(&a), addr(&b)];
        let (resolve, calls) = resolver(move |_| Ok(addrs.clone()));
        let exp = balanced_sender("", resolve, balance::REFRESH);
        for _ in 0..6 {
            exp.send(exp.encode(crate::testutil::traces(0, 2)).unwrap())
                .await
                .unwrap();
        }
        assert_eq!(
            (seen_a.lock().unwrap().len(), seen_b.lock().unwrap().len()),
            (3, 3)
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn pick_first_does_not_resolve_addresses_itself() {
        let (a, seen_a) = backend(ok_answer()).await;
        let (resolve, calls) = resolver(|_| Ok(vec![]));
        let c = cfg(&format!("endpoint: {a}\nbalancer_name: pick_first"));
        let mut ctx = crate::processor::testspans::ctx("otlp_grpc");
        ctx.kind = crate::component::Kind::Exporter;
        let exp = c
            .sender_with(&ctx, Signal::Traces, dialing(resolve, balance::REFRESH))
            .unwrap();
        for _ in 0..3 {
            exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap();
        }
        assert_eq!(seen_a.lock().unwrap().len(), 3);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_address_that_refuses_connections_is_passed_over() {
        let (live, seen) = backend(ok_answer()).await;
        let dead = closed_port().await;
        let addrs = vec![dead, addr(&live)];
        // Each exporter starts its turn at a random address: eight of them start at the dead
        // one, almost surely, and with the first request too.
        for round in 0..8 {
            let addrs = addrs.clone();
            let (resolve, _) = resolver(move |_| Ok(addrs.clone()));
            let exp = balanced_sender("", resolve, balance::REFRESH);
            // Every request lands, the dead address's turns included: nothing was sent there.
            for i in 0..3 {
                exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                    .await
                    .unwrap_or_else(|e| panic!("exporter {round}, request {i}: {e}"));
            }
        }
        assert_eq!(seen.lock().unwrap().len(), 24);
    }

    /// A TLS gRPC backend (a self-signed certificate for `localhost`) answering OK; its address
    /// and how many requests it took.
    async fn tls_backend() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
            )
            .unwrap();
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, count) = (acceptor.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |_req| {
                        count.fetch_add(1, Ordering::SeqCst);
                        let answer = ok_answer();
                        async move {
                            let mut trailers = http::HeaderMap::new();
                            for (k, v) in &answer.trailers {
                                trailers.insert(*k, v.parse().unwrap());
                            }
                            let frames = vec![
                                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(
                                    bytes::Bytes::from(answer.body),
                                )),
                                Ok(hyper::body::Frame::trailers(trailers)),
                            ];
                            let mut resp = http::Response::new(http_body_util::StreamBody::new(
                                futures_stream(frames),
                            ));
                            resp.headers_mut().insert(
                                "content-type",
                                HeaderValue::from_static("application/grpc"),
                            );
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
                });
            }
        });
        (addr, served)
    }

    #[tokio::test]
    async fn an_address_that_never_completes_a_connection_is_passed_over() {
        use std::sync::atomic::Ordering;
        let (live, served) = tls_backend().await;
        // Takes the TCP connection and never answers the TLS handshake: a hung peer.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let held = Arc::new(std::sync::Mutex::new(Vec::new()));
        let hold = held.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = silent.accept().await {
                hold.lock().unwrap().push(tcp);
            }
        });
        let (resolve, _) = resolver(move |_| Ok(vec![silent_addr, live]));
        let c = cfg(
            "endpoint: dns:///gw-headless:4317\ntls: {insecure_skip_verify: true, server_name_override: localhost}\ntimeout: 1s",
        );
        let mut ctx = crate::processor::testspans::ctx("otlp_grpc");
        ctx.kind = crate::component::Kind::Exporter;
        let exp = c
            .sender_with(&ctx, Signal::Traces, dialing(resolve, balance::REFRESH))
            .unwrap();
        // The request that finds the silent address gives it up after half its timeout and
        // goes to the live one: every request lands.
        for i in 0..4 {
            exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
        }
        assert_eq!(served.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn wait_for_ready_waits_for_a_backend_that_is_starting() {
        for (yaml, waits) in [("", false), ("wait_for_ready: true", true)] {
            let port = closed_port().await;
            let exp = sender(&format!("http://{port}"), yaml);
            let started = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                backend_at(&port.to_string(), ok_answer()).await
            });
            let sent = exp
                .send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await;
            let (_, seen) = started.await.unwrap();
            assert_eq!(sent.is_ok(), waits, "{yaml:?}: {sent:?}");
            assert_eq!(seen.lock().unwrap().len(), usize::from(waits), "{yaml:?}");
        }
    }

    #[tokio::test]
    async fn no_address_that_connects_is_a_retryable_failure() {
        let dead = closed_port().await;
        let (resolve, _) = resolver(move |_| Ok(vec![dead]));
        let exp = balanced_sender("", resolve, balance::REFRESH);
        let e = exp
            .send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
            .await
            .unwrap_err();
        assert!(e.is_retryable(), "{e}");
        // Each cause once: tonic's connect error prints its source as its own message.
        let reason = e.to_string();
        assert!(
            reason.ends_with(&format!("connection to the backend gw-headless:4317 ({dead}) failed: transport error: Connection refused (os error 111)")),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn a_failed_connection_names_the_backend() {
        let dead = closed_port().await;
        let port = dead.port();
        // (endpoint, balancer_name, the backend as the error names it)
        let cases = [
            (
                format!("127.0.0.1:{port}"),
                "round_robin",
                format!("127.0.0.1:{port}"),
            ),
            (
                format!("http://127.0.0.1:{port}"),
                "pick_first",
                format!("127.0.0.1:{port}"),
            ),
            (
                format!("localhost:{port}"),
                "pick_first",
                format!("localhost:{port}"),
            ),
        ];
        for (endpoint, policy, named) in cases {
            let exp = sender(
                &endpoint,
                &format!("tls: {{insecure: true}}\nbalancer_name: {policy}"),
            );
            let e = exp
                .send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!(
                    "connection to the backend {named} failed: transport error: "
                )),
                "{endpoint} {policy}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn an_unresolved_host_fails_the_request_until_it_resolves() {
        let (a, seen) = backend(ok_answer()).await;
        let live = addr(&a);
        let (resolve, calls) = resolver(move |n| match n {
            0 => Err(std::io::Error::other("no such host")),
            1 => Ok(vec![]),
            _ => Ok(vec![live]),
        });
        let exp = balanced_sender("", resolve, balance::REFRESH);
        let send = || exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap());
        let e = send().await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(
            e.to_string()
                .contains("resolving gw-headless:4317 failed: no such host"),
            "{e}"
        );
        let e = send().await.unwrap_err();
        assert!(
            e.to_string()
                .contains("resolving gw-headless:4317 failed: no address"),
            "{e}"
        );
        send().await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_addresses_follow_the_host_as_it_resolves_again() {
        let (a, seen_a) = backend(ok_answer()).await;
        let (b, seen_b) = backend(ok_answer()).await;
        let (a, b) = (addr(&a), addr(&b));
        // A scale-up (a, then a and b), a failed lookup (kept), then a scale-down (b alone).
        let (resolve, calls) = resolver(move |n| match n {
            0..3 => Ok(vec![a]),
            3..6 => Ok(vec![a, b]),
            6 => Err(std::io::Error::other("SERVFAIL")),
            _ => Ok(vec![b]),
        });
        let exp = balanced_sender("", resolve, Duration::ZERO);
        let counts = || (seen_a.lock().unwrap().len(), seen_b.lock().unwrap().len());
        let mut sent = 0;
        // Each request asks for the addresses again, in the background: it goes to those
        // known when it starts.
        while calls.load(std::sync::atomic::Ordering::SeqCst) < 12 {
            exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap();
            sent += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(sent < 200, "the host was resolved {calls:?} times");
        }
        let before = counts();
        assert!(before.1 > 0, "b never saw a request: {before:?}");
        for _ in 0..4 {
            exp.send(exp.encode(crate::testutil::traces(0, 1)).unwrap())
                .await
                .unwrap();
        }
        let after = counts();
        assert_eq!((after.0 - before.0, after.1 - before.1), (0, 4));
    }

    fn grpc_message(flag: u8, message: &[u8]) -> Vec<u8> {
        let mut v = vec![flag];
        v.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        v.extend_from_slice(message);
        v
    }

    fn ok_answer() -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type", "application/grpc".into())],
            body: grpc_message(0, &[]),
            trailers: vec![("grpc-status", "0".into())],
        }
    }

    #[tokio::test]
    async fn requests_are_framed_and_compressed_at_the_configured_level() {
        use super::super::{DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL};
        let batch = crate::testutil::traces(0, 50);
        for (yaml, codec) in [
            ("", Some(Codec::Gzip(DEFAULT_GZIP_LEVEL))),
            ("compression_params: {level: 9}", Some(Codec::Gzip(9))),
            ("compression: zstd", Some(Codec::Zstd(DEFAULT_ZSTD_LEVEL))),
            (
                "compression: zstd\ncompression_params: {level: 19}",
                Some(Codec::Zstd(19)),
            ),
            ("compression: none", None),
        ] {
            let (url, seen) = backend(ok_answer()).await;
            let exp = sender(&url, &format!("{yaml}\nheaders: {{api-key: s3cret}}"));
            // As the helper does it: encoded once, then sent.
            exp.send(exp.encode(batch.clone()).unwrap()).await.unwrap();
            let (headers, body) = seen.lock().unwrap().pop().unwrap();
            assert_eq!(headers["content-type"], "application/grpc");
            assert_eq!(headers["te"], "trailers");
            assert_eq!(headers["grpc-accept-encoding"], "gzip");
            assert_eq!(headers["api-key"], "s3cret");
            let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
            assert_eq!(len, body.len() - 5, "{yaml}");
            match codec {
                Some(codec) => {
                    assert_eq!(
                        (body[0], headers["grpc-encoding"].to_str().unwrap()),
                        (1, codec.name())
                    );
                    let encoding =
                        crate::otlp::encoding::ContentEncoding::parse(codec.name()).unwrap();
                    let got =
                        crate::otlp::encoding::decompress(encoding, &body[5..], 1 << 20).unwrap();
                    assert_eq!(got, batch.bytes().as_ref(), "{yaml}");
                    // The same bytes as compressing at that level directly.
                    let direct = match codec {
                        Codec::Gzip(level) => crate::otlp::gzip::compress(batch.bytes(), level),
                        Codec::Zstd(level) => {
                            zstd::encode_all(batch.bytes().as_ref(), level).unwrap()
                        }
                    };
                    assert_eq!(body[5..], direct[..], "{yaml}");
                }
                None => {
                    assert_eq!(body[0], 0);
                    assert!(!headers.contains_key("grpc-encoding"));
                    assert_eq!(&body[5..], batch.bytes().as_ref());
                }
            }
        }
    }

    #[tokio::test]
    async fn backend_answers_are_classified() {
        use crate::otlp::proto::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        use prost::Message;
        let partial = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "two too old".into(),
            }),
        }
        .encode_to_vec();
        let retry_info = crate::grpc_codec::status_with_retry_info(
            tonic::Code::ResourceExhausted,
            "slow down".into(),
            Duration::from_secs(7),
        );
        let details = base64_no_pad(retry_info.details());
        let with = |f: &dyn Fn(&mut Answer)| {
            let mut a = ok_answer();
            f(&mut a);
            a
        };
        // (case, answer, Ok / Err(retryable, retry_after))
        // Ok, or Err((retryable, retry_after in seconds)).
        type Want = Result<(), (bool, Option<u64>)>;
        let table: Vec<(&str, Answer, Want)> = vec![
            ("ok, empty response", ok_answer(), Ok(())),
            (
                "ok, gzipped partial success",
                with(&|a| {
                    a.headers.push(("grpc-encoding", "gzip".into()));
                    a.body = grpc_message(1, &crate::otlp::gzip::compress(&partial, 6));
                }),
                Ok(()),
            ),
            (
                "unavailable in trailers",
                with(&|a| a.trailers = vec![("grpc-status", "14".into())]),
                Err((true, None)),
            ),
            (
                "trailers-only invalid argument",
                with(&|a| {
                    a.headers.push(("grpc-status", "3".into()));
                    a.headers.push(("grpc-message", "bad%20span".into()));
                    a.body.clear();
                    a.trailers.clear();
                }),
                Err((false, None)),
            ),
            (
                "resource exhausted with RetryInfo",
                with(&|a| {
                    a.trailers = vec![
                        ("grpc-status", "8".into()),
                        ("grpc-status-details-bin", details.clone()),
                    ]
                }),
                Err((true, Some(7))),
            ),
            (
                "resource exhausted without RetryInfo",
                with(&|a| a.trailers = vec![("grpc-status", "8".into())]),
                Err((false, None)),
            ),
            (
                "no grpc-status at all",
                with(&|a| a.trailers.clear()),
                Err((false, None)),
            ),
            (
                "HTTP 503 from a proxy",
                with(&|a| {
                    a.status = 503;
                    a.trailers.clear();
                }),
                Err((true, None)),
            ),
            (
                "HTTP 401 from a proxy",
                with(&|a| {
                    a.status = 401;
                    a.trailers.clear();
                }),
                Err((false, None)),
            ),
        ];
        for (case, answer, want) in table {
            let (url, _) = backend(answer).await;
            let got = sender(&url, "")
                .send(Payload::Batch(crate::testutil::traces(0, 3)))
                .await;
            let got = got.map_err(|e| {
                let after = match &e {
                    ConsumeError::Retryable { retry_after, .. } => retry_after.map(|d| d.as_secs()),
                    _ => None,
                };
                (e.is_retryable(), after)
            });
            assert_eq!(got, want, "{case}");
        }
    }

    /// gRPC's binary metadata encoding (base64 without padding).
    fn base64_no_pad(b: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
    }

    #[test]
    fn status_classification() {
        assert!(classify(&tonic::Status::unavailable("x")).is_retryable());
        assert!(!classify(&tonic::Status::invalid_argument("x")).is_retryable());
        assert!(!classify(&tonic::Status::resource_exhausted("x")).is_retryable());
        assert!(!classify(&tonic::Status::permission_denied("x")).is_retryable());
    }

    /// A status whose details are a `google.rpc.Status` carrying a `RetryInfo` of `delay`,
    /// encoded here with prost as a server (or our receiver) sends it.
    fn with_retry_info(code: tonic::Code, message: &str, delay: Duration) -> tonic::Status {
        use crate::grpc_codec::rpc;
        use prost::Message;
        let info = rpc::RetryInfo {
            retry_delay: Some(rpc::Duration {
                seconds: i64::try_from(delay.as_secs()).unwrap(),
                nanos: i32::try_from(delay.subsec_nanos()).unwrap(),
            }),
        };
        let details = rpc::Status {
            code: code as i32,
            message: message.into(),
            details: vec![
                // Other details come first in some servers; RetryInfo must still be found.
                rpc::Any {
                    type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                    value: vec![0x0a, 0x01, b'x'],
                },
                rpc::Any {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                    value: info.encode_to_vec(),
                },
            ],
        };
        tonic::Status::with_details(code, message, details.encode_to_vec().into())
    }

    #[test]
    fn retry_info_makes_resource_exhausted_retryable_with_its_delay() {
        use tonic::Code;
        let table = [
            (
                with_retry_info(
                    Code::ResourceExhausted,
                    "slow down",
                    Duration::from_millis(1500),
                ),
                ConsumeError::Retryable {
                    reason: "rpc error: code = ResourceExhausted desc = slow down".into(),
                    retry_after: Some(Duration::from_millis(1500)),
                    throttled: true,
                },
            ),
            // Without RetryInfo the server gives no sign it will ever take it: permanent.
            (
                tonic::Status::resource_exhausted("too big"),
                ConsumeError::permanent("rpc error: code = ResourceExhausted desc = too big"),
            ),
            // Details that are not a google.rpc.Status: no delay, still permanent.
            (
                tonic::Status::with_details(
                    Code::ResourceExhausted,
                    "garbage",
                    bytes::Bytes::from_static(&[0xff, 0xff]),
                ),
                ConsumeError::permanent("rpc error: code = ResourceExhausted desc = garbage"),
            ),
            // UNAVAILABLE is retryable either way; RetryInfo adds its delay.
            (
                with_retry_info(Code::Unavailable, "busy", Duration::from_secs(7)),
                ConsumeError::Retryable {
                    reason: "rpc error: code = Unavailable desc = busy".into(),
                    retry_after: Some(Duration::from_secs(7)),
                    throttled: false,
                },
            ),
            (
                tonic::Status::unavailable("down"),
                ConsumeError::Retryable {
                    reason: "rpc error: code = Unavailable desc = down".into(),
                    retry_after: None,
                    throttled: false,
                },
            ),
            // RetryInfo does not make a permanent code retryable.
            (
                with_retry_info(Code::InvalidArgument, "bad", Duration::from_secs(1)),
                ConsumeError::permanent("rpc error: code = InvalidArgument desc = bad"),
            ),
        ];
        for (status, want) in table {
            assert_eq!(classify(&status), want, "{status:?}");
        }
    }
}
