//! Integration-test harness: runs the real `meshtrace-collector` binary on ports chosen by the
//! OS (port 0), learns the bound addresses from its JSON start-up logs, and kills it on drop.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod certs;
pub mod proxy;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous: the machine is small and shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `../shared` beside the checkout.
pub fn shared() -> PathBuf {
    root().join("../shared")
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_meshtrace-collector")
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "meshtrace-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running collector.
pub struct Collector {
    child: Option<Child>,
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    pub dir: TempDir,
    /// Component label → bound address, from the start-up logs.
    pub addrs: BTreeMap<String, String>,
}

/// What every test config gets: JSON logs, every line of them (tests read the log as a record
/// of what happened, so sampling is off), and a metrics endpoint on a free port.
pub const TEST_TELEMETRY: &str = "\n  telemetry:\n    logs:\n      level: debug\n      encoding: json\n      sampling:\n        enabled: false\n    metrics:\n      address: 127.0.0.1:0\n";

impl Collector {
    /// Starts the binary with `config` (YAML; `{dir}` is replaced by its scratch dir) and
    /// waits until it reports ready.
    pub fn start(config: &str) -> Self {
        Self::start_with(config, &[], &[])
    }

    pub fn start_with(config: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        let cfg = config.replace("{dir}", dir.0.to_str().unwrap());
        let path = dir.path("config.yaml");
        std::fs::write(&path, cfg).unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg(format!("--config={}", path.display()))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("RUST_LOG");
        // Exporters read these: a test names its proxy itself, or has none.
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"raw": line}));
                sink.lock().unwrap().push(v);
            }
        });
        let mut c = Collector {
            child: Some(child),
            logs,
            dir,
            addrs: BTreeMap::new(),
        };
        let t0 = Instant::now();
        loop {
            if c.logs
                .lock()
                .unwrap()
                .iter()
                .any(|l| msg(l).starts_with("Everything is ready"))
            {
                break;
            }
            if let Some(status) = c.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "collector exited with {status} before getting ready; logs:\n{}",
                    c.dump_logs()
                );
            }
            assert!(
                t0.elapsed() < DEADLINE,
                "collector not ready in time; logs:\n{}",
                c.dump_logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for l in c.logs.lock().unwrap().iter() {
            let f = &l["fields"];
            if let (Some(comp), Some(addr)) = (f["component"].as_str(), f["address"].as_str()) {
                let what = f["message"].as_str().unwrap_or("");
                let key = if what.contains("gRPC") {
                    format!("{comp}/grpc")
                } else if what.contains("HTTP receiver") {
                    format!("{comp}/http")
                } else {
                    comp.to_owned()
                };
                c.addrs.insert(key, addr.to_owned());
            }
        }
        c
    }

    /// `receivers::otlp/grpc`, `receivers::otlp/http`, `extensions::health_check`,
    /// `service::telemetry::metrics`.
    pub fn addr(&self, key: &str) -> String {
        self.addrs
            .get(key)
            .unwrap_or_else(|| panic!("no address for {key}; have {:?}", self.addrs))
            .clone()
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.addr("receivers::otlp/grpc"))
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr("receivers::otlp/http"))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn logs(&self) -> Vec<serde_json::Value> {
        self.logs.lock().unwrap().clone()
    }

    pub fn dump_logs(&self) -> String {
        self.logs()
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What a failed test needs to read from a long debug log: each distinct message with its
    /// level and count, then the last warnings and errors in full.
    pub fn log_summary(&self) -> String {
        let logs = self.logs();
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for l in &logs {
            // A line that is not JSON (a panic's message) is counted as it is.
            let (level, m) = match l["raw"].as_str() {
                Some(raw) => ("RAW", raw),
                None => (l["level"].as_str().unwrap_or("?"), msg(l)),
            };
            *counts.entry((level.to_owned(), m.to_owned())).or_default() += 1;
        }
        let mut out: Vec<String> = counts
            .into_iter()
            .map(|((level, m), n)| format!("{n:>6} {level:<5} {m}"))
            .collect();
        let problems: Vec<_> = logs
            .iter()
            .filter(|l| matches!(l["level"].as_str(), Some("WARN" | "ERROR")))
            .collect();
        // The span counters, while the process still answers.
        if let Ok(page) = self.metrics_text() {
            out.extend(
                page.lines()
                    .filter(|l| l.starts_with("otelcol_") && l.contains("_spans"))
                    .map(str::to_owned),
            );
        }
        out.push(format!("last warnings and errors of {}:", problems.len()));
        let skip = problems.len().saturating_sub(20);
        out.extend(problems.into_iter().skip(skip).map(|l| l.to_string()));
        out.join("\n")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return s;
            }
            assert!(
                t0.elapsed() < DEADLINE * 2,
                "collector did not exit; logs:\n{}",
                self.dump_logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: no shutdown, no flush, no drain.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// The value of the self-metric series whose line starts with `series` (name and the
    /// first labels, e.g. `otelcol_exporter_sent_spans_total{exporter="otlp_grpc"`); 0 when
    /// absent.
    pub fn metric(&self, series: &str) -> f64 {
        self.metrics_text()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    }

    /// The self-metrics page, or why it could not be read (the process may have exited).
    pub fn metrics_text(&self) -> Result<String, String> {
        let url = format!(
            "http://{}/metrics",
            self.addr("service::telemetry::metrics")
        );
        let (_, _, body) = http("GET", &url, &[], vec![])?;
        String::from_utf8(body).map_err(|e| e.to_string())
    }

    /// Every log line, as text, for grepping.
    pub fn log_text(&self) -> String {
        self.dump_logs()
    }

    /// SIGTERM and wait; asserts a clean exit.
    pub fn stop(&mut self) {
        self.terminate();
        let s = self.wait();
        assert!(
            s.success(),
            "collector exited with {s}; logs:\n{}",
            self.dump_logs()
        );
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn msg(l: &serde_json::Value) -> &str {
    l["fields"]["message"].as_str().unwrap_or("")
}

/// Polls `f` until it returns `Some`, up to the deadline.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A blocking HTTP request (HTTP/1.1) on a small runtime: (status, headers, body).
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, http::HeaderMap, Vec<u8>), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use http_body_util::{BodyExt, Full};
        let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(bytes::Bytes::from(body))).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok((parts.status.as_u16(), parts.headers, body))
    })
}

/// Lines of a file (empty when it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// One OTLP/gRPC `Export` call with raw protobuf bytes.
pub fn grpc_export(
    url: &str,
    signal: meshtrace_collector::otlp::Signal,
    body: Vec<u8>,
    gzip: bool,
) -> Result<(), tonic::Status> {
    grpc_export_response(url, signal, body, gzip).map(drop)
}

/// One OTLP/gRPC `Export` call with raw protobuf bytes: the response message.
pub fn grpc_export_response(
    url: &str,
    signal: meshtrace_collector::otlp::Signal,
    body: Vec<u8>,
    gzip: bool,
) -> Result<bytes::Bytes, tonic::Status> {
    let encoding = gzip.then_some(tonic::codec::CompressionEncoding::Gzip);
    grpc_export_encoded(url, signal, body, encoding)
}

/// One OTLP/gRPC `Export` call, the message compressed with `encoding`: the response message.
pub fn grpc_export_encoded(
    url: &str,
    signal: meshtrace_collector::otlp::Signal,
    body: Vec<u8>,
    encoding: Option<tonic::codec::CompressionEncoding>,
) -> Result<bytes::Bytes, tonic::Status> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ch = tonic::transport::Endpoint::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut g = tonic::client::Grpc::new(ch);
        if let Some(e) = encoding {
            g = g.send_compressed(e);
        }
        g.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = http::uri::PathAndQuery::from_static(
            meshtrace_collector::grpc_codec::export_path(signal),
        );
        g.unary::<_, bytes::Bytes, _>(
            tonic::Request::new(bytes::Bytes::from(body)),
            path,
            meshtrace_collector::grpc_codec::RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
    })
}

/// Reference payloads.
pub fn example(name: &str) -> Vec<u8> {
    std::fs::read(shared().join("otlp-examples").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    meshtrace_collector::otlp::gzip::compress(data, 6)
}

/// An OTLP/protobuf traces request with spans numbered `ids` (the number is the span id;
/// the trace id is fixed per request).
pub fn spans_request(service: &str, ids: std::ops::Range<u64>) -> Vec<u8> {
    use opentelemetry_proto::tonic::trace::v1::Span;
    let spans = ids
        .map(|i| Span {
            trace_id: [&[7u8; 8][..], &i.to_be_bytes()[..]].concat(),
            span_id: i.to_be_bytes().to_vec(),
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_001_000 + i,
            ..Default::default()
        })
        .collect();
    service_request(service, spans)
}

/// An OTLP/protobuf traces request: `spans` of one resource with `service.name`.
pub fn service_request(
    service: &str,
    spans: Vec<opentelemetry_proto::tonic::trace::v1::Span>,
) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
    use prost::Message;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

/// Span ids (as numbers) in a JSON-lines file written by the `file` exporter.
pub fn span_ids_in_file(path: &Path) -> Vec<u64> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    lines(path)
        .iter()
        .flat_map(|l| {
            serde_json::from_str::<ExportTraceServiceRequest>(l)
                .unwrap()
                .resource_spans
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|s| u64::from_be_bytes(s.span_id.try_into().unwrap()))
        .collect()
}

/// A one-shot gRPC `Export` over a given tonic endpoint (TLS, metadata): the status.
pub fn grpc_export_with(
    ep: tonic::transport::Endpoint,
    metadata: &[(&'static str, &str)],
    body: Vec<u8>,
) -> Result<(), tonic::Status> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ch = ep
            .connect()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("{e:?}")))?;
        let mut g = tonic::client::Grpc::new(ch);
        g.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut req = tonic::Request::new(bytes::Bytes::from(body));
        for (k, v) in metadata {
            req.metadata_mut().insert(*k, v.parse().unwrap());
        }
        let path = http::uri::PathAndQuery::from_static(
            meshtrace_collector::grpc_codec::export_path(meshtrace_collector::otlp::Signal::Traces),
        );
        g.unary::<_, bytes::Bytes, _>(req, path, meshtrace_collector::grpc_codec::RawCodec)
            .await
            .map(|_| ())
    })
}

/// A free loopback port (bound, then released) for a backend that starts later, stops and
/// starts again, or never starts. It lies below the kernel's ephemeral range: while it is
/// unbound, no server binding port 0 (every other test's receivers) and no outgoing
/// connection can be given it. A port from `bind(0)` could, and an exporter retrying through
/// a 30-second outage would then deliver to another test's receiver, or connect to itself.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    const FROM: u16 = 10_000;
    let span = u64::from(ephemeral_low.saturating_sub(FROM));
    if span >= 1000 {
        let start = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        for i in 0..span {
            let port = FROM + u16::try_from((start % span + i) % span).unwrap();
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    // No room below the ephemeral range: any free port.
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs a protobuf traces request; returns the status.
pub fn post_spans(base: &str, body: Vec<u8>) -> Result<u16, String> {
    http(
        "POST",
        &format!("{base}/v1/traces"),
        &[("content-type", "application/x-protobuf")],
        body,
    )
    .map(|(s, _, _)| s)
}
