//! The Prometheus endpoint: `GET /metrics` on each configured address.

use super::Telemetry;
use crate::net::{self, HttpServer};
use http::StatusCode;
use std::sync::Arc;

/// Starts serving `telemetry` on `address`.
pub async fn start(address: &str, telemetry: Arc<Telemetry>) -> Result<HttpServer, String> {
    let listener = net::bind(
        "service::telemetry::metrics",
        "self-metrics endpoint (/metrics)",
        address,
        true,
    )
    .await?;
    Ok(HttpServer::serve(
        listener,
        move |req: hyper::Request<hyper::body::Incoming>| {
            let t = telemetry.clone();
            async move {
                if req.uri().path() != "/metrics" {
                    return net::text(
                        StatusCode::NOT_FOUND,
                        "not found; metrics are at /metrics\n",
                    );
                }
                let mut r = net::text(StatusCode::OK, t.render());
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                r
            }
        },
    ))
}
