//! An echo upstream: answers every request with a JSON object listing the request line and
//! every header field it received, in order (values as lossy UTF-8); `/status/<code>` answers
//! with that status, `/grpc-status/<code>` as a failing gRPC server (200, `grpc-status`).
//!
//! ```json
//! {"method": "GET", "path": "/x", "headers": [["host", "..."], ["traceparent", "00-..."]]}
//! ```

use std::convert::Infallible;
use std::thread::JoinHandle;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::error::{Context, Error, Result};

/// A running echo server on 127.0.0.1; stopped on drop.
pub struct EchoServer {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Starts the server on a free port (`port` 0) or on `port`.
    pub fn start(port: u16) -> Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .context(format_args!("binding the echo server to 127.0.0.1:{port}"))?;
        listener
            .set_nonblocking(true)
            .context("non-blocking listener")?;
        let port = listener.local_addr().context("echo address")?.port();
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("echo server runtime")?;
        let thread = std::thread::Builder::new()
            .name(format!("echo-{port}"))
            .spawn(move || runtime.block_on(serve(listener, stopped)))
            .context("echo server thread")?;
        Ok(EchoServer {
            port,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: std::net::TcpListener, mut stopped: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                });
            }
        }
    }
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let headers: Vec<serde_json::Value> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            serde_json::Value::from(vec![
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ])
        })
        .collect();
    let body = serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        "headers": headers,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    // `/status/503` answers 503: a failing upstream for the tests and the demo.
    if let Some(code) = req
        .uri()
        .path()
        .strip_prefix("/status/")
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| hyper::StatusCode::from_u16(c).ok())
    {
        *response.status_mut() = code;
    }
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    // `/grpc-status/14` answers as a gRPC server does when it fails at once: HTTP 200 with
    // the status in the headers (a trailers-only response).
    if let Some(code) = req
        .uri()
        .path()
        .strip_prefix("/grpc-status/")
        .and_then(|c| c.parse::<u32>().ok())
    {
        let h = response.headers_mut();
        h.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/grpc"),
        );
        h.insert("grpc-status", hyper::header::HeaderValue::from(code));
        h.insert(
            "grpc-message",
            hyper::header::HeaderValue::from_static("echo%20says%20so"),
        );
    }
    Ok(response)
}

/// What the upstream received, decoded from an echo response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// Decodes an echo response body.
    pub fn from_body(body: &[u8]) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_slice(body).context("echo body is not JSON")?;
        let fields = value
            .get("headers")
            .and_then(|h| h.as_array())
            .ok_or_else(|| Error(format!("no headers in echo body {value}")))?;
        let headers = fields
            .iter()
            .filter_map(|pair| {
                let name = pair.get(0)?.as_str()?;
                let value = pair.get(1)?.as_str()?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        Ok(Received { headers })
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of `name`; `None` if absent. Several fields are an error.
    pub fn one(&self, name: &str) -> Result<Option<&str>> {
        match self.all(name).as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            many => Err(Error(format!("{} {name} fields: {many:?}", many.len()))),
        }
    }
}
