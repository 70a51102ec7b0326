//! Throughput of the collector binary: OTLP/gRPC clients → collector (otlp → batch →
//! otlp_grpc) → a counting sink, all on loopback. Reports spans/s and the collector's CPU.
//!
//! ```sh
//! cargo build --release -p meshtrace-collector --examples
//! target/release/examples/loadgen target/release/meshtrace-collector [SECONDS] [CONNECTIONS] [SPANS_PER_REQUEST] [COMPRESSION]
//! ```
//!
//! `LOADGEN_QUEUE=file` (or `file-fsync`) puts the exporter's queue on disk (`file_storage`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::Bytes;
use meshtrace_collector::grpc_codec::{RawCodec, export_path};
use meshtrace_collector::otlp::Signal;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// A request shaped like Envoy's: `n` server spans with a handful of HTTP attributes.
fn request(n: u64) -> Vec<u8> {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: [&[3u8; 8][..], &i.to_be_bytes()[..]].concat(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: "ingress".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_001_000_000 + i,
            attributes: vec![
                kv(
                    "http.url",
                    "http://productpage.default.svc.cluster.local:9080/productpage",
                ),
                kv("http.method", "GET"),
                kv("http.status_code", "200"),
                kv(
                    "upstream_cluster",
                    "outbound|9080||productpage.default.svc.cluster.local",
                ),
                kv(
                    "node_id",
                    "sidecar~10.0.0.12~productpage-v1-abc.default~default.svc.cluster.local",
                ),
                kv("user_agent", "curl/8.5.0"),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "productpage.default")],
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

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

#[derive(Clone)]
struct Sink(Arc<AtomicU64>);

impl tonic::codegen::Service<tonic::Request<Bytes>> for Sink {
    type Response = tonic::Response<Bytes>;
    type Error = tonic::Status;
    type Future = std::future::Ready<Result<Self::Response, tonic::Status>>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), tonic::Status>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let n =
            meshtrace_collector::otlp::validate(Signal::Traces, req.get_ref(), &Default::default())
                .unwrap_or(0);
        self.0.fetch_add(n as u64, Ordering::Relaxed);
        std::future::ready(Ok(tonic::Response::new(Bytes::new())))
    }
}

#[derive(Clone)]
struct SinkService(Sink);

impl tonic::server::NamedService for SinkService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for SinkService {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let sink = self.0.clone();
        Box::pin(async move {
            let mut g = tonic::server::Grpc::new(RawCodec)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_decoding_message_size(64 << 20);
            Ok(g.unary(sink, req).await)
        })
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/meshtrace-collector".into());
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conns: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let per_req: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
    let compression = args.get(5).cloned().unwrap_or_else(|| "none".into());

    let received = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = listener.local_addr().unwrap();
    let svc = SinkService(Sink(received.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let dir = std::env::temp_dir().join(format!("meshtrace-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // LOADGEN_QUEUE=file or file-fsync: the exporter's queue on disk (file_storage).
    let (queue, ext, service_ext) = match std::env::var("LOADGEN_QUEUE").as_deref() {
        Ok(q @ ("file" | "file-fsync")) => (
            "    sending_queue:\n      storage: file_storage\n".to_owned(),
            format!(
                "extensions:\n  file_storage:\n    directory: {}\n    create_directory: true\n    fsync: {}\n",
                dir.join("storage").display(),
                q == "file-fsync"
            ),
            "  extensions: [file_storage]\n",
        ),
        _ => (String::new(), String::new(), ""),
    };
    let cfg = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n        max_recv_msg_size_mib: 64\nprocessors:\n  batch:\nexporters:\n  otlp_grpc:\n    endpoint: {sink_addr}\n    compression: {compression}\n    tls:\n      insecure: true\n{queue}{ext}service:\n{service_ext}  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlp_grpc]\n  telemetry:\n    logs:\n      encoding: json\n    metrics:\n      level: none\n"
    );
    std::fs::write(dir.join("c.yaml"), cfg).unwrap();
    let mut child = Command::new(&bin)
        .arg(format!("--config={}", dir.join("c.yaml").display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut addr = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
        if let Some(a) = v["fields"]["address"].as_str() {
            addr = a.to_owned();
        }
        if v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Everything is ready"))
        {
            break;
        }
    }
    let body = Bytes::from(request(per_req));
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let (body, sent) = (body.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut g = tonic::client::Grpc::new(ch);
            while Instant::now() < deadline {
                g.ready().await.unwrap();
                let path = http::uri::PathAndQuery::from_static(export_path(Signal::Traces));
                if g.unary::<_, Bytes, _>(tonic::Request::new(body.clone()), path, RawCodec)
                    .await
                    .is_ok()
                {
                    sent.fetch_add(per_req, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let acked = sent.load(Ordering::Relaxed);
    let wait = Instant::now();
    while received.load(Ordering::Relaxed) < acked && wait.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{conns} connections, {per_req} spans/request, exporter compression {compression}: {:.0} spans/s accepted, {} of {} received by the sink, collector CPU {:.2} cores ({:.0} spans per CPU-second)",
        acked as f64 / elapsed,
        received.load(Ordering::Relaxed),
        acked,
        cpu / elapsed,
        acked as f64 / cpu.max(1e-9)
    );
}
