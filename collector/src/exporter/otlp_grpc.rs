//! `otlp_grpc` (formerly `otlp`): OTLP/gRPC to a backend (Tempo, Jaeger, New Relic, another
//! collector). The batch bytes go out as they are through a raw-bytes codec; gzip is tonic's.

use super::helper::{ExporterHelper, HelperSettings, QueueConfig, RetryConfig, Sender};
use super::{ClientTlsConfig, Compression, check_headers, default_compression, parse_compression};
use crate::component::{ComponentError, Context, Exporter, ExporterConfig, Validate};
use crate::config::{ConfigError, Secret, Value, duration};
use crate::grpc_codec::{RawCodec, export_path};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};

/// gRPC client keepalive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeepalive {
    /// Ping the server after this long without activity.
    #[serde(default, deserialize_with = "opt_dur")]
    pub time: Option<Duration>,
    /// Close the connection if a ping is not answered within this long.
    #[serde(default, deserialize_with = "opt_dur")]
    pub timeout: Option<Duration>,
    /// Ping even without active calls.
    #[serde(default)]
    pub permit_without_stream: bool,
}

fn opt_dur<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration::de(d).map(Some)
}

/// `exporters: otlp_grpc:` (and `otlp:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpGrpcConfig {
    /// `host:port` or a URL. `https://` or no scheme uses TLS unless `tls.insecure`; `http://`
    /// is plaintext.
    pub endpoint: String,
    /// Headers sent with every request (e.g. New Relic's `api-key`).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// `gzip` (default) or `none`.
    #[serde(default = "default_compression")]
    pub compression: String,
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
    /// Accepted for compatibility (one connection, HTTP/2 multiplexed).
    #[serde(default)]
    pub balancer_name: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub read_buffer_size: Option<u64>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub write_buffer_size: Option<u64>,
    /// Accepted for compatibility.
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

    /// The URI to connect to and whether TLS is on.
    pub fn target(&self) -> Result<(String, bool), String> {
        let ep = self.endpoint.trim();
        if let Some(rest) = ep.strip_prefix("https://") {
            Ok((format!("https://{rest}"), true))
        } else if let Some(rest) = ep.strip_prefix("http://") {
            Ok((format!("http://{rest}"), false))
        } else if ep.contains("://") {
            Err(format!(
                "unsupported scheme in endpoint {ep:?} (use http://, https:// or host:port)"
            ))
        } else if self.tls.insecure {
            Ok((format!("http://{ep}"), false))
        } else {
            Ok((format!("https://{ep}"), true))
        }
    }
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
        if let Err(c) = parse_compression(&self.compression) {
            e.push(c);
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
        w
    }
}

impl ExporterConfig for OtlpGrpcConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
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
        ep = ep
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10));
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
            super::connector::Connector::new(Some((cfg, name)))
        } else {
            super::connector::Connector::new(None)
        };
        let mut metadata = MetadataMap::new();
        for (k, v) in &self.headers {
            let key = AsciiMetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| ctx.error(format!("invalid header name {k:?}")))?;
            let val = AsciiMetadataValue::try_from(v.expose())
                .map_err(|_| ctx.error(format!("invalid value for header {k:?}")))?;
            metadata.insert(key, val);
        }
        let compression = parse_compression(&self.compression).map_err(|e| ctx.error(e.reason))?;
        let auth = self
            .auth
            .as_ref()
            .map(|a| ctx.host.client_auth(&a.authenticator))
            .transpose()
            .map_err(|e| ctx.error(e))?;
        let sender = Arc::new(GrpcSender {
            channel: ep.connect_with_connector_lazy(connector),
            auth,
            metadata,
            compression,
            signal,
            label: ctx.label(),
        });
        Ok(ExporterHelper::new(ctx, signal, sender, self.settings()))
    }
}

struct GrpcSender {
    channel: Channel,
    auth: Option<Arc<dyn crate::extension::auth::ClientAuthenticator>>,
    metadata: MetadataMap,
    compression: Compression,
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

impl Sender for GrpcSender {
    fn send(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let mut client = tonic::client::Grpc::new(self.channel.clone());
            if self.compression == Compression::Gzip {
                client = client.send_compressed(CompressionEncoding::Gzip);
            }
            client = client
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(64 << 20);
            client.ready().await.map_err(|e| {
                ConsumeError::retryable(format!("connection to the backend failed: {e}"))
            })?;
            let mut req = tonic::Request::new(batch.into_bytes());
            *req.metadata_mut() = self.metadata.clone();
            if let Some(a) = &self.auth {
                for (k, v) in a.headers().map_err(ConsumeError::retryable)? {
                    if let (Ok(k), Ok(mut v)) = (
                        AsciiMetadataKey::from_bytes(k.as_str().as_bytes()),
                        AsciiMetadataValue::try_from(v.as_bytes()),
                    ) {
                        v.set_sensitive(true);
                        req.metadata_mut().insert(k, v);
                    }
                }
            }
            let path = http::uri::PathAndQuery::from_static(export_path(self.signal));
            match client
                .unary::<_, bytes::Bytes, _>(req, path, RawCodec)
                .await
            {
                Ok(resp) => {
                    warn_partial_success(&self.label, self.signal, resp.get_ref());
                    Ok(())
                }
                Err(status) => Err(classify(&status)),
            }
        })
    }
}

/// Logs a backend's partial-success answer (some items rejected), as the Collector does.
pub fn warn_partial_success(label: &str, signal: Signal, body: &[u8]) {
    use crate::otlp::proto::collector::{logs, metrics, trace};
    use prost::Message;
    let (rejected, message) = match signal {
        Signal::Traces => trace::v1::ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => metrics::v1::ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
        Signal::Logs => logs::v1::ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
    }
    .unwrap_or_default();
    if rejected > 0 || !message.is_empty() {
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
