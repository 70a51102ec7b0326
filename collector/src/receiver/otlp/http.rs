//! OTLP/HTTP: `POST` protobuf or JSON bodies (gzip, zstd, snappy, … as the Collector accepts:
//! [`crate::otlp::encoding`]) to the signal paths; answers in the request's encoding, as the
//! OTLP specification asks.

use super::{HttpConfig, RequestError, Shared, check_url_path};
use crate::net::{self, HttpServer};
use crate::otlp::{Signal, json};
use crate::pipeline::ConsumeError;
use crate::receiver::cors::Cors;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// With the media type the request named (`application/x-protobuf` or
    /// `application/protobuf`): the answer uses the same.
    Proto(&'static str),
    Json,
}

impl Encoding {
    /// The request's encoding from its `Content-Type` (parameters and case ignored).
    fn of(headers: &http::HeaderMap) -> Result<Encoding, String> {
        let ctype = net::media_type(headers);
        match ctype.as_str() {
            "application/x-protobuf" => Ok(Encoding::Proto("application/x-protobuf")),
            "application/protobuf" => Ok(Encoding::Proto("application/protobuf")),
            "application/json" => Ok(Encoding::Json),
            _ => Err(ctype),
        }
    }
}

struct Routes {
    traces: String,
    metrics: String,
    logs: String,
    max_body: usize,
    read_timeout: Option<std::time::Duration>,
    response_headers: Vec<(http::HeaderName, HeaderValue)>,
    /// `compression_algorithms`, when set.
    compression: Option<net::AllowedEncodings>,
    cors: Option<Cors>,
}

/// An `Export*ServiceResponse` or a `google.rpc.Status`, in the request's encoding.
fn respond(enc: Encoding, status: StatusCode, message: Option<&str>) -> Response<Full<Bytes>> {
    let (body, ctype) = match (enc, message) {
        // Full success: an empty Export*ServiceResponse (no partial_success).
        (Encoding::Proto(ctype), None) => (Bytes::new(), ctype),
        (Encoding::Json, None) => (Bytes::from_static(b"{}"), "application/json"),
        (Encoding::Proto(ctype), Some(m)) => (Bytes::from(rpc_status(grpc_code(status), m)), ctype),
        (Encoding::Json, Some(m)) => (
            Bytes::from(serde_json::json!({"code": grpc_code(status), "message": m}).to_string()),
            "application/json",
        ),
    };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn grpc_code(status: StatusCode) -> i32 {
    match status {
        StatusCode::BAD_REQUEST
        | StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
        StatusCode::NOT_FOUND => 5,
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::REQUEST_TIMEOUT => 4,
        StatusCode::METHOD_NOT_ALLOWED => 12,
        StatusCode::TOO_MANY_REQUESTS => 8,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        _ => 2,
    }
}

/// A `google.rpc.Status` with `code` and `message`, encoded.
fn rpc_status(code: i32, message: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(message.len() + 8);
    prost::encoding::int32::encode(1, &code, &mut buf);
    prost::encoding::string::encode(2, &message.to_owned(), &mut buf);
    buf
}

fn error_response(enc: Encoding, e: RequestError) -> Response<Full<Bytes>> {
    match e {
        RequestError::Invalid(m) => respond(enc, StatusCode::BAD_REQUEST, Some(&m)),
        RequestError::Consume(ConsumeError::Permanent { reason }) => {
            respond(enc, StatusCode::BAD_REQUEST, Some(&reason))
        }
        RequestError::Consume(ConsumeError::Retryable {
            reason,
            retry_after,
            throttled,
        }) => {
            let status = if throttled {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let mut r = respond(enc, status, Some(&reason));
            if let Some(v) = retry_after.and_then(net::retry_after) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    routes: Arc<Routes>,
    shared: Arc<Shared>,
) -> Response<Full<Bytes>> {
    let enc = Encoding::of(req.headers());
    // Before anything else: an unauthenticated client learns nothing, and its body is not read.
    // The refusal is a Status in the request's encoding, as every OTLP/HTTP error is.
    let auth = match shared.authenticate(req.headers()) {
        Ok(auth) => auth,
        Err(e) => {
            return match enc {
                Ok(enc) => respond(enc, StatusCode::UNAUTHORIZED, Some(&e.to_string())),
                Err(_) => net::text(StatusCode::UNAUTHORIZED, format!("{e}\n")),
            };
        }
    };
    let path = req.uri().path();
    let signal = if path == routes.traces {
        Signal::Traces
    } else if path == routes.metrics {
        Signal::Metrics
    } else if path == routes.logs {
        Signal::Logs
    } else {
        return net::text(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    if shared.consumers.get(signal).is_none() {
        return net::text(
            StatusCode::NOT_FOUND,
            format!(
                "no {} pipeline uses this receiver\n",
                crate::signal_name(signal)
            ),
        );
    }
    if req.method() != http::Method::POST {
        let mut r = net::text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} method not allowed, supported: [POST]\n", req.method()),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let enc = match enc {
        Ok(enc) => enc,
        Err(other) => {
            return net::text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "{other:?} is not supported, supported: [application/json, application/x-protobuf]\n"
                ),
            );
        }
    };
    let client = std::sync::Arc::new(crate::client::ClientInfo {
        auth,
        ..crate::client::ClientInfo::from_http(
            req.extensions().get::<net::RemoteAddr>().map(|a| a.0.ip()),
            shared.include_metadata.then(|| req.headers()),
        )
    });
    let encoding = match net::content_encoding(req.headers(), routes.compression.as_ref()) {
        Ok(e) => e,
        Err(m) => return respond(enc, StatusCode::BAD_REQUEST, Some(&m)),
    };
    let collect = Limited::new(req.into_body(), routes.max_body).collect();
    let collected = match routes.read_timeout {
        None => collect.await,
        Some(t) => match tokio::time::timeout(t, collect).await {
            Ok(r) => r,
            Err(_) => {
                return respond(
                    enc,
                    StatusCode::REQUEST_TIMEOUT,
                    Some("the request body did not arrive within read_timeout"),
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
                return respond(
                    enc,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some(&format!("request body exceeds {} bytes", routes.max_body)),
                );
            }
            return respond(
                enc,
                StatusCode::BAD_REQUEST,
                Some(&format!("failed to read the request body: {e}")),
            );
        }
    };
    let body = match net::decode_body(encoding, body, routes.max_body) {
        Ok(b) => b,
        Err((status, m)) => return respond(enc, status, Some(&m)),
    };
    // JSON is converted and validated in one step; protobuf is validated as it came.
    let result = match enc {
        Encoding::Proto(_) => crate::client::scope(client, shared.export(signal, body)).await,
        Encoding::Json => match json::to_batch(signal, &body, &shared.limits) {
            Ok(batch) => crate::client::scope(client, shared.export_batch(batch))
                .await
                .map(|()| None),
            Err(e) => return respond(enc, StatusCode::BAD_REQUEST, Some(&e.to_string())),
        },
    };
    match result {
        Ok(None) => respond(enc, StatusCode::OK, None),
        Ok(Some(partial)) => {
            let mut r = Response::new(Full::new(Bytes::from(partial.encode())));
            // Only protobuf requests are answered in part (see `export`).
            let ctype = match enc {
                Encoding::Proto(ctype) => ctype,
                Encoding::Json => "application/json",
            };
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
            r
        }
        Err(e) => error_response(enc, e),
    }
}

/// Binds and serves.
pub async fn start(
    label: &str,
    cfg: &HttpConfig,
    shared: Arc<Shared>,
) -> Result<HttpServer, String> {
    let routes = Arc::new(Routes {
        traces: check_url_path(&cfg.traces_url_path)?,
        metrics: check_url_path(&cfg.metrics_url_path)?,
        logs: check_url_path(&cfg.logs_url_path)?,
        max_body: cfg.max_body_bytes(),
        read_timeout: cfg.read_timeout.filter(|d| !d.is_zero()),
        compression: net::AllowedEncodings::new(cfg.compression_algorithms.as_deref()),
        cors: cfg.cors.as_ref().and_then(Cors::new),
        response_headers: net::response_headers(&cfg.response_headers),
    });
    let tls = cfg
        .tls
        .as_ref()
        .map(|t| crate::tls::server::TlsServer::new(label, t, &[b"h2", b"http/1.1"]))
        .transpose()?;
    let opts = net::ServeOptions {
        tls,
        // The Collector's default; 0 turns it off.
        read_header_timeout: Some(
            cfg.read_header_timeout
                .unwrap_or(std::time::Duration::from_secs(60)),
        )
        .filter(|d| !d.is_zero()),
    };
    let listener = net::bind(label, "OTLP/HTTP receiver", &cfg.endpoint, true).await?;
    Ok(HttpServer::serve_with(listener, opts, move |req| {
        let routes = routes.clone();
        let shared = shared.clone();
        async move {
            // Ahead of authentication: a preflight carries no credentials.
            Cors::around(routes.cors.as_ref(), &routes.response_headers, req, |req| {
                handle(req, routes.clone(), shared)
            })
            .await
        }
    }))
}
