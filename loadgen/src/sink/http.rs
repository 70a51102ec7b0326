//! The sink's HTTP side: OTLP/HTTP (`POST /v1/traces`, protobuf or JSON, gzip or not), the
//! counters (`GET /stats`) and the controls that tests and the bench script use:
//! `POST /control/refuse?seconds=N` (answer 503 / UNAVAILABLE for N seconds; 0 stops) and
//! `POST /control/reset` (zero the counters).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flate2::read::GzDecoder;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::stats::{SinkStats, Via};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// Serves one HTTP request.
pub async fn handle(
    stats: Arc<SinkStats>,
    max_body_bytes: usize,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    Ok(match (req.method().clone(), path.as_str()) {
        (Method::POST, "/v1/traces") => export(&stats, max_body_bytes, req).await,
        (Method::GET, "/stats") => match serde_json::to_vec(&stats.snapshot()) {
            Ok(json) => reply(StatusCode::OK, JSON, json),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        (Method::POST, "/control/refuse") => match seconds_param(&query) {
            Some(seconds) => {
                stats.refuse_for(seconds);
                text(
                    StatusCode::OK,
                    format!("refusing for {} s\n", seconds.as_secs_f64()),
                )
            }
            None => text(StatusCode::BAD_REQUEST, "expected ?seconds=N\n".to_owned()),
        },
        (Method::POST, "/control/reset") => {
            stats.reset();
            text(StatusCode::OK, "reset\n".to_owned())
        }
        (_, "/v1/traces" | "/stats" | "/control/refuse" | "/control/reset") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".to_owned(),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n".to_owned()),
    })
}

/// Why an OTLP/HTTP body was refused.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("unsupported content-type {0:?} (want {PROTOBUF} or {JSON})")]
    ContentType(String),
    #[error("unsupported content-encoding {0:?} (want gzip or identity)")]
    Encoding(String),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading body: {0}")]
    Read(String),
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl BodyError {
    fn status(&self) -> StatusCode {
        match self {
            Self::ContentType(_) | Self::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Read(_) | Self::Gzip(_) | Self::Protobuf(_) | Self::Json(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }
}

async fn export(stats: &SinkStats, max: usize, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(left) = stats.refusing() {
        let mut resp = text(
            StatusCode::SERVICE_UNAVAILABLE,
            "sink refusing data\n".to_owned(),
        );
        let retry = left.as_secs().max(1).to_string();
        if let Ok(v) = HeaderValue::from_str(&retry) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let json = match content_type(&req) {
        ct if ct == PROTOBUF => false,
        ct if ct == JSON => true,
        other => return refuse(stats, &BodyError::ContentType(other)),
    };
    match decode(stats, max, json, req).await {
        Ok(request) => {
            stats.record(&request, Via::Http);
            let response = ExportTraceServiceResponse {
                partial_success: None,
            };
            if json {
                match serde_json::to_vec(&response) {
                    Ok(body) => reply(StatusCode::OK, JSON, body),
                    Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            } else {
                reply(StatusCode::OK, PROTOBUF, response.encode_to_vec())
            }
        }
        Err(e) => refuse(stats, &e),
    }
}

async fn decode(
    stats: &SinkStats,
    max: usize,
    json: bool,
    req: Request<Incoming>,
) -> Result<ExportTraceServiceRequest, BodyError> {
    let gzip = match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(HeaderValue::to_str)
    {
        None => false,
        Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") => true,
        Some(Ok(e)) if e.eq_ignore_ascii_case("identity") => false,
        Some(other) => {
            return Err(BodyError::Encoding(
                other.unwrap_or("<not ascii>").to_owned(),
            ));
        }
    };
    let body = Limited::new(req.into_body(), max)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                BodyError::TooLarge(max)
            } else {
                BodyError::Read(e.to_string())
            }
        })?
        .to_bytes();
    stats.http_body(body.len());
    let body = if gzip {
        // Capped: a small bomb must not inflate past the limit.
        let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
        let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        GzDecoder::new(body.as_ref())
            .take(cap)
            .read_to_end(&mut out)
            .map_err(BodyError::Gzip)?;
        if out.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        Bytes::from(out)
    } else {
        body
    };
    Ok(if json {
        serde_json::from_slice(&body)?
    } else {
        ExportTraceServiceRequest::decode(body)?
    })
}

fn content_type(req: &Request<Incoming>) -> String {
    let raw = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let essence = raw
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

fn refuse(stats: &SinkStats, e: &BodyError) -> Response<Full<Bytes>> {
    stats.bad_request();
    text(e.status(), format!("{e}\n"))
}

fn seconds_param(query: &str) -> Option<Duration> {
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("seconds="))?;
    let seconds: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", body.into_bytes())
}

fn reply(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_read_from_the_query() {
        assert_eq!(
            seconds_param("seconds=2.5"),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(seconds_param("x=1&seconds=0"), Some(Duration::ZERO));
        assert_eq!(seconds_param("seconds=-1"), None);
        assert_eq!(seconds_param(""), None);
    }
}
