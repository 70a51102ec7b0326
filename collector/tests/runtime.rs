//! The running collector: fan-out and fan-in, the health check, self-metrics, the Kubernetes
//! localhost warning, HTTP error answers and start-up failures.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

#[test]
fn fan_out_and_fan_in() {
    // otlp feeds two traces pipelines (fan-out); otlp/2 also feeds traces/b; traces/a and
    // traces/b both export to file/shared (fan-in); traces/a also exports to file/a.
    let mut c = Collector::start(&format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  otlp/2:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 10ms
exporters:
  file/a:
    path: {{dir}}/a.jsonl
  file/shared:
    path: {{dir}}/shared.jsonl
service:
  pipelines:
    traces/a:
      receivers: [otlp]
      processors: [batch]
      exporters: [file/a, file/shared]
    traces/b:
      receivers: [otlp, otlp/2]
      exporters: [file/shared]
{TEST_TELEMETRY}"#
    ));
    assert_eq!(
        post_spans(&c.http_url(), spans_request("svc", 0..3)).unwrap(),
        200
    );
    grpc_export(
        &format!("http://{}", c.addr("receivers::otlp/2/grpc")),
        meshtrace_collector::otlp::Signal::Traces,
        spans_request("svc", 100..102),
        false,
    )
    .unwrap();
    c.stop();
    let mut a = span_ids_in_file(&c.dir.path("a.jsonl"));
    let mut shared = span_ids_in_file(&c.dir.path("shared.jsonl"));
    a.sort_unstable();
    shared.sort_unstable();
    assert_eq!(a, vec![0, 1, 2]);
    // From otlp: twice (traces/a and traces/b); from otlp/2: once (traces/b).
    assert_eq!(shared, vec![0, 0, 1, 1, 2, 2, 100, 101]);
}

fn health_status(addr: &str) -> Option<u16> {
    http("GET", &format!("http://{addr}/"), &[], vec![])
        .ok()
        .map(|(s, _, _)| s)
}

#[test]
fn health_check_is_healthy_when_running_and_unhealthy_while_shutting_down() {
    // The exporter's backend is a closed port: at shutdown the queue keeps retrying until
    // the shutdown deadline, which keeps the collector in its "shutting down" state a while.
    let mut c = Collector::start_with(
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:1
    tls:
      insecure: true
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:0
    path: /health
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
{TEST_TELEMETRY}"#
        ),
        &["--shutdown-timeout=3s"],
        &[],
    );
    let addr = c.addr("extensions::health_check");
    let (status, _, body) = http("GET", &format!("http://{addr}/health"), &[], vec![]).unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).starts_with("{\"status\":\"Server available\""));
    assert_eq!(
        http("GET", &format!("http://{addr}/"), &[], vec![])
            .unwrap()
            .0,
        404
    );
    assert_eq!(
        post_spans(&c.http_url(), spans_request("svc", 0..1)).unwrap(),
        200
    );
    c.terminate();
    let seen = eventually("the health check to report 503", || {
        match http("GET", &format!("http://{addr}/health"), &[], vec![]) {
            Ok((503, _, body)) => Some(String::from_utf8_lossy(&body).into_owned()),
            Ok(_) => None,
            Err(e) => panic!("health check gone before reporting unhealthy: {e}"),
        }
    });
    assert!(
        seen.starts_with("{\"status\":\"Server not available\""),
        "{seen}"
    );
    assert!(c.wait().success());
    assert!(
        c.logs()
            .iter()
            .any(|l| msg(l).starts_with("shutdown deadline exceeded")),
        "{}",
        c.dump_logs()
    );
    assert!(
        health_status(&addr).is_none(),
        "the health check stops last, with the process"
    );
}

#[test]
fn self_metrics_use_the_collector_names() {
    let mut c = Collector::start(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    send_batch_size: 4
exporters:
  file:
    path: {dir}/out.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
  telemetry:
    logs:
      encoding: json
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: 0
"#,
    );
    assert_eq!(
        post_spans(&c.http_url(), spans_request("svc", 0..5)).unwrap(),
        200
    );
    assert_eq!(
        http(
            "POST",
            &format!("{}/v1/traces", c.http_url()),
            &[("content-type", "application/x-protobuf")],
            b"\xff\xff".to_vec()
        )
        .unwrap()
        .0,
        400
    );
    let url = format!("http://{}/metrics", c.addr("service::telemetry::metrics"));
    let text = eventually("spans to be exported", || {
        let (s, h, b) = http("GET", &url, &[], vec![]).ok()?;
        assert_eq!(s, 200);
        assert!(
            h["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let t = String::from_utf8(b).unwrap();
        // The counter is registered at zero when the exporter starts, so wait for
        // the export itself, not for the line.
        t.lines()
            .any(|l| {
                l.starts_with("otelcol_exporter_sent_spans_total{exporter=\"file\",")
                    && l.ends_with(" 5")
            })
            .then_some(t)
    });
    let value = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        value("otelcol_receiver_accepted_spans_total{receiver=\"otlp\","),
        5.0
    );
    assert!(text.contains("transport=\"http\"} 5\n"));
    assert_eq!(
        value("otelcol_receiver_refused_spans_total{receiver=\"otlp\","),
        0.0
    );
    assert_eq!(
        value("otelcol_processor_incoming_items_total{otel_signal=\"traces\",processor=\"batch\","),
        5.0
    );
    assert_eq!(
        value("otelcol_processor_outgoing_items_total{otel_signal=\"traces\",processor=\"batch\","),
        5.0
    );
    assert_eq!(
        value("otelcol_processor_batch_batch_size_trigger_send_total{processor=\"batch\","),
        1.0
    );
    assert_eq!(
        value("otelcol_processor_batch_batch_send_size_count{processor=\"batch\","),
        1.0
    );
    assert_eq!(
        value("otelcol_processor_batch_batch_send_size_sum{processor=\"batch\","),
        5.0
    );
    assert_eq!(
        value("otelcol_exporter_sent_spans_total{exporter=\"file\","),
        5.0
    );
    assert_eq!(
        value("otelcol_exporter_send_failed_spans_total{exporter=\"file\","),
        0.0
    );
    assert!(value("otelcol_process_memory_rss{") > 0.0);
    assert!(text.contains("# TYPE otelcol_process_cpu_seconds_total counter\n"));
    assert!(text.contains("# TYPE otelcol_processor_batch_batch_send_size histogram\n"));
    assert!(text.contains("service_name=\"meshtrace-collector\""));
    c.stop();
}

#[test]
fn localhost_listeners_inside_kubernetes_get_a_loud_warning() {
    let cfg = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n      http:\n        endpoint: 0.0.0.0:0\nexporters:\n  debug:\nextensions:\n  health_check:\n    endpoint: localhost:0\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n{TEST_TELEMETRY}"
    );
    let warnings = |c: &Collector| -> Vec<String> {
        c.logs()
            .iter()
            .filter(|l| l["level"] == "WARN" && msg(l).contains("Kubernetes"))
            .map(|l| format!("{} {}", l["fields"]["component"], msg(l)))
            .collect()
    };
    let mut outside = Collector::start(&cfg);
    assert!(warnings(&outside).is_empty());
    outside.stop();
    let mut inside = Collector::start_with(&cfg, &[], &[("KUBERNETES_SERVICE_HOST", "10.96.0.1")]);
    let w = warnings(&inside);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter().any(|m| m.starts_with(
            "\"service::telemetry::metrics\" self-metrics endpoint (/metrics) listens on loopback only"
        )),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m
                .starts_with("\"receivers::otlp\" OTLP/gRPC receiver listens on loopback only")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m
                .starts_with("\"extensions::health_check\" health check listens on loopback only")),
        "{w:?}"
    );
    assert!(
        w.iter().all(|m| m.contains("Set `endpoint: 0.0.0.0:")),
        "{w:?}"
    );
    // Every listener logs where it listens.
    let listening: Vec<String> = inside
        .logs()
        .iter()
        .filter(|l| msg(l).ends_with("listening"))
        .map(|l| msg(l).to_owned())
        .collect();
    assert_eq!(listening.len(), 4, "{listening:?}");
    inside.stop();
}

/// Method, path, headers, body, expected status.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16);

#[test]
fn http_receiver_answers_bad_requests_with_the_right_status() {
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n        max_request_body_size: 10000\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let base = c.http_url();
    let pb = "application/x-protobuf";
    let big = spans_request("svc", 0..400);
    assert!(big.len() > 10000);
    let mut bad_id = spans_request("svc", 0..1);
    // The first span's trace id is the 16 bytes after its tag and length: make it 15 long.
    let i = bad_id.windows(2).position(|w| w == [0x0a, 16]).unwrap();
    bad_id[i + 1] = 15;
    let cases: Vec<Case<'_>> = vec![
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb)],
            spans_request("svc", 0..2),
            200,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", "application/json")],
            br#"{"resourceSpans":[]}"#.to_vec(),
            200,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", "text/plain")],
            b"x".to_vec(),
            415,
        ),
        ("POST", "/v1/traces", vec![], b"x".to_vec(), 415),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb)],
            b"\x0a\xff\xff\xff".to_vec(),
            400,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb)],
            bad_id,
            400,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", "application/json")],
            b"{\"resourceSpans\": 5}".to_vec(),
            400,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb), ("content-encoding", "gzip")],
            b"not gzip".to_vec(),
            400,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb), ("content-encoding", "br")],
            b"x".to_vec(),
            400,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb)],
            big.clone(),
            413,
        ),
        (
            "POST",
            "/v1/traces",
            vec![("content-type", pb), ("content-encoding", "gzip")],
            gzip(&vec![0u8; 50_000]),
            413,
        ),
        ("GET", "/v1/traces", vec![], vec![], 405),
        (
            "POST",
            "/v1/metrics",
            vec![("content-type", pb)],
            vec![],
            404,
        ),
        ("POST", "/nope", vec![("content-type", pb)], vec![], 404),
    ];
    for (method, path, headers, body, want) in cases {
        let (status, h, resp) = http(method, &format!("{base}{path}"), &headers, body).unwrap();
        assert_eq!(
            status,
            want,
            "{method} {path} {headers:?}: {}",
            String::from_utf8_lossy(&resp)
        );
        if want == 400 && headers.iter().any(|(_, v)| *v == pb) {
            // A google.rpc.Status in protobuf: code 3 (INVALID_ARGUMENT) and a message.
            assert_eq!(h["content-type"], pb);
            assert_eq!(&resp[..2], &[0x08, 0x03], "{resp:?}");
        }
    }
    c.stop();
    let mut ids = span_ids_in_file(&c.dir.path("out.jsonl"));
    ids.sort_unstable();
    assert_eq!(ids, vec![0, 1], "only the valid request got through");
}

/// `data` in each `Content-Encoding` the Collector's HTTP receivers accept, by each format's
/// reference encoder.
fn encoded(encoding: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match encoding {
        "gzip" => gzip(data),
        "zlib" | "deflate" => {
            let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        "snappy" => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        "x-snappy-framed" => {
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            w.write_all(data).unwrap();
            w.into_inner().unwrap()
        }
        "lz4" => {
            let mut w = lz4_flex::frame::FrameEncoder::new(Vec::new());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        other => panic!("{other}"),
    }
}

/// An agent Collector sends with whatever `compression` its exporter names: every encoding
/// the Collector's receivers take arrives, over OTLP/HTTP and Zipkin; over gRPC, gzip and zstd.
/// `compression_algorithms` narrows the list, and the media type is answered as it was asked.
#[test]
fn receivers_take_every_compression_the_collector_takes() {
    use meshtrace_collector::otlp::Signal;
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n      grpc:\n        endpoint: 127.0.0.1:0\n  otlp/narrow:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n        compression_algorithms: [gzip]\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, otlp/narrow]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let url = format!("{}/v1/traces", c.http_url());
    let encodings = [
        "gzip",
        "zlib",
        "deflate",
        "zstd",
        "snappy",
        "x-snappy-framed",
        "lz4",
        "ZSTD",
    ];
    let mut want = Vec::new();
    for (i, encoding) in encodings.iter().enumerate() {
        let ids = (i as u64 * 10)..(i as u64 * 10 + 3);
        want.extend(ids.clone());
        let body = encoded(&encoding.to_ascii_lowercase(), &spans_request("enc", ids));
        let (status, _, resp) = http(
            "POST",
            &url,
            &[
                ("content-type", "application/protobuf"),
                ("content-encoding", encoding),
            ],
            body,
        )
        .unwrap();
        assert_eq!(
            status,
            200,
            "{encoding}: {}",
            String::from_utf8_lossy(&resp)
        );
    }
    // The media type of the request is the answer's, application/protobuf included.
    let (_, h, _) = http(
        "POST",
        &url,
        &[("content-type", "application/protobuf")],
        spans_request("enc", 100..101),
    )
    .unwrap();
    want.push(100);
    assert_eq!(h["content-type"], "application/protobuf");
    for (i, encoding) in [
        tonic::codec::CompressionEncoding::Gzip,
        tonic::codec::CompressionEncoding::Zstd,
    ]
    .into_iter()
    .enumerate()
    {
        let ids = (200 + i as u64 * 10)..(200 + i as u64 * 10 + 2);
        want.extend(ids.clone());
        grpc_export_encoded(
            &c.grpc_url(),
            Signal::Traces,
            spans_request("grpc", ids),
            Some(encoding),
        )
        .unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
    }
    // A receiver narrowed to gzip refuses zstd with a Status naming the setting, and still
    // takes an unencoded body.
    let narrow = format!("http://{}/v1/traces", c.addr("receivers::otlp/narrow/http"));
    let (status, _, resp) = http(
        "POST",
        &narrow,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "zstd"),
        ],
        encoded("zstd", b"{}"),
    )
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8(resp).unwrap(),
        r#"{"code":3,"message":"Content-Encoding \"zstd\" is not enabled (compression_algorithms: [gzip])"}"#
    );
    let (status, _, _) = http(
        "POST",
        &narrow,
        &[("content-type", "application/x-protobuf")],
        spans_request("narrow", 300..301),
    )
    .unwrap();
    assert_eq!(status, 200);
    want.push(300);
    c.stop();
    let mut ids = span_ids_in_file(&c.dir.path("out.jsonl"));
    ids.sort_unstable();
    want.sort_unstable();
    assert_eq!(ids, want);
}

/// `compression: zstd` on both exporters, into a collector that takes it: the Collector's
/// other common choice, at about gzip's size for a fraction of its CPU.
#[test]
fn exporters_send_zstd_that_a_receiver_reads() {
    let mut backend = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let mut agent = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nexporters:\n  otlp:\n    endpoint: {}\n    compression: zstd\n    tls:\n      insecure: true\n  otlphttp:\n    endpoint: {}\n    compression: zstd\n    compression_params:\n      level: 6\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp, otlphttp]\n{TEST_TELEMETRY}",
        backend.addr("receivers::otlp/grpc"),
        backend.http_url(),
    ));
    let status = post_spans(&agent.http_url(), spans_request("agent", 0..3)).unwrap();
    assert_eq!(status, 200);
    let out = backend.dir.path("out.jsonl");
    eventually("both exporters' spans to arrive", || {
        (span_ids_in_file(&out).len() == 6).then_some(())
    });
    agent.stop();
    backend.stop();
    let mut ids = span_ids_in_file(&out);
    ids.sort_unstable();
    assert_eq!(ids, vec![0, 0, 1, 1, 2, 2]);
}

#[test]
fn a_receiver_that_cannot_bind_stops_start_up_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let d = TempDir::new();
    std::fs::write(
        d.path("c.yaml"),
        format!("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{port}\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n  telemetry:\n    metrics:\n      level: none\n"),
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .arg(format!("--config={}", d.path("c.yaml").display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("Error: the collector stopped with an error: receivers::otlp: cannot listen on 127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("Everything is ready"), "{stderr}");
    // Console lines on a pipe (`kubectl logs`, a file) carry no color codes.
    assert!(
        stderr.contains(" INFO meshtrace_collector: Starting meshtrace-collector..."),
        "{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[test]
fn grpc_receiver_answers_with_the_otlp_status_codes() {
    use meshtrace_collector::otlp::Signal;
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n        max_recv_msg_size_mib: 1\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let url = c.grpc_url();
    grpc_export(&url, Signal::Traces, spans_request("svc", 0..2), false).unwrap();
    grpc_export(&url, Signal::Traces, spans_request("svc", 2..3), true).unwrap();
    let too_big = spans_request("svc", 100..30_000);
    assert!(too_big.len() > 1 << 20);
    // Not retryable (RESOURCE_EXHAUSTED without RetryInfo), unlike tonic's default OUT_OF_RANGE.
    assert_eq!(
        grpc_export(&url, Signal::Traces, too_big, false)
            .unwrap_err()
            .code(),
        tonic::Code::ResourceExhausted
    );
    let e = grpc_export(&url, Signal::Traces, b"\x0a\xff\xff".to_vec(), false).unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    // No metrics pipeline uses this receiver.
    assert_eq!(
        grpc_export(&url, Signal::Metrics, vec![], false)
            .unwrap_err()
            .code(),
        tonic::Code::Unimplemented
    );
    c.stop();
    assert_eq!(span_ids_in_file(&c.dir.path("out.jsonl")), vec![0, 1, 2]);
}

/// URL, content type, body, expected status.
type SizeCase<'a> = (&'a str, (&'a str, &'a str), Vec<u8>, u16);

#[test]
fn size_limits_of_zero_mean_the_collector_defaults() {
    // otelcol reads `max_request_body_size: 0` (and any value ≤ 0) as its 20 MiB default and
    // `max_recv_msg_size_mib: 0` as gRPC's 4 MiB; neither means "refuse every request".
    use meshtrace_collector::otlp::Signal;
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n        max_recv_msg_size_mib: 0\n      http:\n        endpoint: 127.0.0.1:0\n        max_request_body_size: 0\n  zipkin:\n    endpoint: 127.0.0.1:0\n    max_request_body_size: -1\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    const MIB: usize = 1024 * 1024;
    let zipkin = format!("http://{}/api/v2/spans", c.addr("receivers::zipkin"));
    let otlp = format!("{}/v1/traces", c.http_url());
    let pb = ("content-type", "application/x-protobuf");
    let json = ("content-type", "application/json");
    // A 20 MiB body of zeros is not OTLP (400): it got past the size check; one byte more is
    // over the default (413).
    let cases: Vec<SizeCase<'_>> = vec![
        (&otlp, pb, spans_request("svc", 0..2), 200),
        (&otlp, pb, vec![0; 20 * MIB], 400),
        (&otlp, pb, vec![0; 20 * MIB + 1], 413),
        (&zipkin, json, b"[]".to_vec(), 202),
        (&zipkin, json, vec![b' '; 20 * MIB + 1], 413),
    ];
    for (url, ct, body, want) in cases {
        let len = body.len();
        let (status, _, _) = http("POST", url, &[ct], body).unwrap();
        assert_eq!(status, want, "POST {url}, {len} bytes");
    }
    let url = c.grpc_url();
    let under_4_mib = spans_request("svc", 10..60_000);
    assert!((MIB..4 * MIB).contains(&under_4_mib.len()));
    grpc_export(&url, Signal::Traces, under_4_mib, false).unwrap();
    assert_eq!(
        grpc_export(&url, Signal::Traces, vec![0; 4 * MIB + 1], false)
            .unwrap_err()
            .code(),
        tonic::Code::ResourceExhausted
    );
    c.stop();
}

#[test]
fn response_headers_in_either_form() {
    // The Collector's configopaque.MapList: a map, or a list of {name, value}.
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n        response_headers:\n          - name: x-served-by\n            value: meshtrace\n          - name: x-tier\n            value: gateway\n  zipkin:\n    endpoint: 127.0.0.1:0\n    response_headers: {{x-served-by: meshtrace, x-tier: gateway}}\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let zipkin = format!("http://{}/api/v2/spans", c.addr("receivers::zipkin"));
    let otlp = format!("{}/v1/traces", c.http_url());
    for (url, ct, body, status) in [
        (
            &otlp,
            "application/x-protobuf",
            spans_request("svc", 0..1),
            200,
        ),
        (&zipkin, "application/json", b"[]".to_vec(), 202),
    ] {
        let (s, headers, _) = http("POST", url, &[("content-type", ct)], body).unwrap();
        assert_eq!(
            (s, &headers["x-served-by"], &headers["x-tier"]),
            (
                status,
                &"meshtrace".parse().unwrap(),
                &"gateway".parse().unwrap()
            ),
            "{url}"
        );
    }
    c.stop();
}

/// The numbers of a `/debug/tracez` row: running, the nine latency buckets, errors.
fn tracez_row(page: &str, name: &str) -> Option<Vec<u64>> {
    let start = page.find(&format!("<tr><td>{name}</td>"))?;
    let row = &page[start..start + page[start..].find("</tr>")?];
    let cells = regex::Regex::new(r">(\d+)<").unwrap();
    Some(
        cells
            .captures_iter(row)
            .map(|c| c[1].parse().unwrap())
            .collect(),
    )
}

#[test]
fn zpages_show_the_pipelines_and_each_operation() {
    // The Collector's own example config uses zpages; its pages answer here with what this
    // collector runs and does. A backend that is down makes every export fail.
    let down = free_port();
    let mut c = Collector::start(&format!(
        r#"
extensions:
  zpages:
    endpoint: 127.0.0.1:0
    expvar:
      enabled: true
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {{dir}}/spans.jsonl
  otlp_grpc/down:
    endpoint: 127.0.0.1:{down}
    tls:
      insecure: true
    retry_on_failure:
      enabled: false
service:
  extensions: [zpages]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    traces/down:
      receivers: [otlp]
      exporters: [otlp_grpc/down]
{TEST_TELEMETRY}"#
    ));
    let base = format!("http://{}", c.addr("extensions::zpages"));
    let page = |path: &str| {
        let (status, _, body) = http("GET", &format!("{base}{path}"), &[], Vec::new()).unwrap();
        assert_eq!(status, 200, "{path}");
        String::from_utf8(body).unwrap()
    };
    for i in 0..3 {
        assert_eq!(
            post_spans(&c.http_url(), spans_request("svc", i * 10..i * 10 + 4)).unwrap(),
            200
        );
    }
    grpc_export(
        &c.grpc_url(),
        meshtrace_collector::otlp::Signal::Traces,
        spans_request("svc", 100..102),
        false,
    )
    .unwrap();

    let tracez = eventually("four failed exports to the backend that is down", || {
        let p = page("/debug/tracez");
        let row = tracez_row(&p, "exporter/otlp_grpc/down/traces")?;
        (row.last() == Some(&4)).then_some(p)
    });
    let sum = |row: &[u64]| row[1..10].iter().sum::<u64>();
    let received = tracez_row(&tracez, "receiver/otlp/TraceDataReceived").unwrap();
    assert_eq!(
        (received[0], sum(&received), received[10]),
        (0, 4, 0),
        "{tracez}"
    );
    let file = tracez_row(&tracez, "exporter/file/traces").unwrap();
    assert_eq!((sum(&file), file[10]), (4, 0), "{tracez}");

    let failures = page("/debug/tracez?zspanname=exporter%2Fotlp_grpc%2Fdown%2Ftraces&ztype=2");
    assert_eq!(failures.matches("<tr><td>20").count(), 4, "{failures}");
    assert!(
        failures.contains(&format!(
            "<td>connection to the backend 127.0.0.1:{down} failed: "
        )),
        "the cause: {failures}"
    );
    // Each latency bucket with requests lists them, with their transport.
    let mut transports = Vec::new();
    for (b, n) in received[1..10].iter().enumerate() {
        if *n > 0 {
            let p = page(&format!(
                "/debug/tracez?zspanname=receiver/otlp/TraceDataReceived&ztype=1&zlatencybucket={b}"
            ));
            transports.extend(
                ["grpc", "http"].into_iter().flat_map(|t| {
                    std::iter::repeat_n(t, p.matches(&format!("<td>{t}</td>")).count())
                }),
            );
        }
    }
    transports.sort_unstable();
    assert_eq!(transports, ["grpc", "http", "http", "http"]);

    let pipelines = page("/debug/pipelinez");
    for pipeline in ["traces", "traces/down"] {
        assert!(
            pipelines.contains(&format!("<tr><td>{pipeline}</td><td>traces</td>")),
            "{pipelines}"
        );
    }
    let file =
        page("/debug/pipelinez?pipelinenamez=traces&componentnamez=file&componentkindz=exporter");
    assert!(
        file.contains(
            "<tr><td>otelcol_exporter_sent_spans_total</td><td></td><td class=\"n\">14</td></tr>"
        ),
        "{file}"
    );
    assert!(page("/debug/extensionz").contains("<tr><td>zpages</td></tr>"));
    assert!(page("/debug/servicez").contains("<th>Start time</th>"));
    let expvar: serde_json::Value = serde_json::from_str(&page("/debug/expvarz")).unwrap();
    assert!(
        expvar["cmdline"][1]
            .as_str()
            .unwrap()
            .starts_with("--config="),
        "{expvar}"
    );
    c.stop();
}

fn decode_profile(gz: &[u8]) -> (Vec<String>, i64) {
    use prost::Message;
    let raw = meshtrace_collector::otlp::gzip::decompress(gz, 64 << 20).unwrap();
    let p =
        meshtrace_collector::extension::pprof::profile::Profile::decode(raw.as_slice()).unwrap();
    let names = p
        .function
        .iter()
        .map(|f| p.string_table[f.name as usize].clone())
        .collect();
    (names, p.sample.iter().map(|s| s.value[0]).sum())
}

#[test]
fn pprof_profiles_the_running_collector() {
    // What `go tool pprof http://HOST:1777/debug/pprof/profile?seconds=N` fetches, taken while
    // the collector works; and `save_to_file`, which holds the profiler for the whole run.
    let saved_dir = TempDir::new();
    let saved = saved_dir.path("whole-run.pprof");
    let config = |extra: &str| {
        format!(
            r#"
extensions:
  pprof:
    endpoint: 127.0.0.1:0{extra}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {{dir}}/spans.jsonl
service:
  extensions: [pprof]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
{TEST_TELEMETRY}"#
        )
    };
    let mut on_demand = Collector::start(&config(""));
    let mut whole = Collector::start(&config(&format!("\n    save_to_file: {}", saved.display())));
    let profile_url = |c: &Collector, q: &str| {
        format!(
            "http://{}/debug/pprof/profile{q}",
            c.addr("extensions::pprof")
        )
    };

    let busy = http("GET", &profile_url(&whole, "?seconds=1"), &[], Vec::new()).unwrap();
    assert_eq!(busy.0, 409, "{}", String::from_utf8_lossy(&busy.2));
    let bad = http(
        "GET",
        &profile_url(&on_demand, "?seconds=abc"),
        &[],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(bad.0, 400);

    let url = profile_url(&on_demand, "?seconds=2");
    let fetch = std::thread::spawn(move || http("GET", &url, &[], Vec::new()));
    let mut sent = 0;
    while !fetch.is_finished() {
        for c in [&on_demand, &whole] {
            assert_eq!(
                post_spans(&c.http_url(), spans_request("svc", sent..sent + 100)).unwrap(),
                200
            );
        }
        sent += 100;
    }
    let (status, headers, body) = fetch.join().unwrap().unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/octet-stream");
    let (functions, samples) = decode_profile(&body);
    assert!(samples > 0, "no samples while {sent} spans were received");
    assert!(
        functions
            .iter()
            .any(|f| f.starts_with("meshtrace_collector::")),
        "{functions:?}"
    );

    on_demand.stop();
    whole.stop();
    let (functions, samples) = decode_profile(&std::fs::read(&saved).unwrap());
    assert!(samples > 0);
    assert!(
        functions
            .iter()
            .any(|f| f.starts_with("meshtrace_collector::")),
        "{functions:?}"
    );
    assert!(
        whole
            .log_text()
            .contains("CPU profile of the whole run written"),
        "{}",
        whole.dump_logs()
    );
}

/// Waits until the reader of a stopped collector's stderr has reached its last line.
fn all_logs_read(c: &Collector) {
    eventually("the shutdown line", || {
        c.logs()
            .iter()
            .any(|l| msg(l) == "Shutdown complete.")
            .then_some(())
    });
}

/// The collector's own log: a flood of one message is sampled as the Collector samples it (on
/// by default: 10 lines per message, then every 100th, in each window); the same run with
/// sampling off writes every line. The `debug` exporter's own sampling comes first.
#[test]
fn repeated_log_lines_are_sampled_by_default() {
    use meshtrace_collector::otlp::Signal;
    let config = |debug: &str, sampling: &str| {
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  debug: {debug}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n  telemetry:\n    logs:\n      encoding: json\n{sampling}    metrics:\n      address: 127.0.0.1:0\n"
        )
    };
    // (debug exporter, logs.sampling lines, debug lines written for 30 one-span requests). A
    // window of an hour keeps the count independent of how fast the requests go; the debug
    // exporter's window is a second, so only its all-or-nothing settings are counted here.
    let cases = [
        ("{}", "      sampling: {tick: 1h}\n", 10),
        ("{}", "      sampling: {enabled: false}\n", 30),
        // The 1st and 2nd, then the 9th, 16th, 23rd and 30th.
        (
            "{}",
            "      sampling: {tick: 1h, initial: 2, thereafter: 7}\n",
            6,
        ),
        (
            "{sampling_initial: 0, sampling_thereafter: 0}",
            "      sampling: {enabled: false}\n",
            0,
        ),
        (
            "{sampling_initial: 1, sampling_thereafter: 1}",
            "      sampling: {enabled: false}\n",
            30,
        ),
    ];
    for (debug, sampling, want) in cases {
        let mut c = Collector::start(&config(debug, sampling));
        for i in 0..30 {
            grpc_export(
                &c.grpc_url(),
                Signal::Traces,
                spans_request("svc", i..i + 1),
                false,
            )
            .unwrap();
        }
        eventually("30 spans sent", || {
            (c.metric("otelcol_exporter_sent_spans_total") >= 30.0).then_some(())
        });
        c.stop();
        all_logs_read(&c);
        let written = c
            .logs()
            .iter()
            .filter(|l| msg(l) == "traces: 1 spans")
            .count();
        assert_eq!(written, want, "{debug} {sampling}{}", c.dump_logs());
    }
}

/// `output_paths` with a file gets every line and `initial_fields` are on each; a log file
/// that cannot be opened stops start-up naming the field.
#[test]
fn logs_go_to_files_with_initial_fields() {
    let d = TempDir::new();
    let log = d.path("collector.log");
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n  telemetry:\n    logs:\n      encoding: json\n      output_paths: [stderr, 'file://{}']\n      initial_fields:\n        service: gateway\n        replica: 2\n    metrics:\n      address: 127.0.0.1:0\n",
        log.display()
    ));
    c.stop();
    all_logs_read(&c);
    let stderr: Vec<serde_json::Value> = c.logs();
    let file: Vec<serde_json::Value> = lines(&log)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(file, stderr, "the file and stderr hold the same lines");
    let ready = file
        .iter()
        .find(|l| msg(l).starts_with("Everything is ready"))
        .expect("the ready line");
    assert_eq!(ready["service"], "gateway");
    assert_eq!(ready["replica"], 2);
    assert!(file.iter().all(|l| l["service"] == "gateway"));

    let refused = std::process::Command::new(bin())
        .arg("--config=yaml:receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:0")
        .arg("--config=yaml:exporters::debug: {}")
        .arg("--config=yaml:service::pipelines::traces: {receivers: [otlp], exporters: [debug]}")
        .arg("--config=yaml:service::telemetry::metrics::level: none")
        .arg(format!(
            "--config=yaml:service::telemetry::logs::output_paths: [stdout, '{}/no/such/dir/x.log']",
            d.0.display()
        ))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("Error: invalid configuration: service::telemetry: field `logs.output_paths.1`: cannot open the log file {}/no/such/dir/x.log: No such file or directory", d.0.display())),
        "{stderr}"
    );
}

/// A collector taking `signal` over OTLP gRPC and HTTP into the file `name` of its directory.
fn file_backend(signal: &str, name: &str) -> Collector {
    Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: {{dir}}/{name}\nservice:\n  pipelines:\n    {signal}:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ))
}

/// The value of `metric` (a sum or gauge with one point) in the newest request of an OTLP JSON
/// metrics file that has it, with the request's `service.name`.
fn pushed_value(path: &std::path::Path, metric: &str) -> Option<(i64, String)> {
    lines(path).iter().rev().find_map(|line| {
        let req: serde_json::Value = serde_json::from_str(line).ok()?;
        let rm = &req["resourceMetrics"][0];
        let service = rm["resource"]["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == "service.name")?["value"]["stringValue"]
            .as_str()?
            .to_owned();
        let m = rm["scopeMetrics"][0]["metrics"]
            .as_array()?
            .iter()
            .find(|m| m["name"] == metric)?;
        let points = m["sum"]["dataPoints"]
            .as_array()
            .or_else(|| m["gauge"]["dataPoints"].as_array())?;
        let v: i64 = points
            .iter()
            .filter_map(|p| p["asInt"].as_str()?.parse::<i64>().ok())
            .sum();
        Some((v, service))
    })
}

/// `service.telemetry.metrics.readers[].periodic`: the self-metrics pushed over OTLP to another
/// collector, by each protocol; at shutdown, one last push carries the final totals.
#[test]
fn self_metrics_are_pushed_over_otlp() {
    use meshtrace_collector::otlp::Signal;
    // (protocol, interval in ms): an hour's interval leaves only the push at shutdown.
    for (protocol, interval) in [
        ("http/protobuf", 3_600_000),
        ("http/json", 3_600_000),
        ("grpc", 100),
    ] {
        let mut backend = file_backend("metrics", "metrics.jsonl");
        let endpoint = if protocol == "grpc" {
            backend.grpc_url()
        } else {
            backend.http_url()
        };
        let mut front = Collector::start(&format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n  telemetry:\n    resource:\n      service.name: front-{}\n    logs:\n      level: debug\n      encoding: json\n      sampling: {{enabled: false}}\n    metrics:\n      address: 127.0.0.1:0\n      readers:\n        - periodic:\n            interval: {interval}\n            exporter:\n              otlp:\n                protocol: {protocol}\n                endpoint: {endpoint}\n",
            protocol.replace('/', "-")
        ));
        grpc_export(
            &front.grpc_url(),
            Signal::Traces,
            spans_request("svc", 0..7),
            false,
        )
        .unwrap();
        let metrics = backend.dir.path("metrics.jsonl");
        let want = (7, format!("front-{}", protocol.replace('/', "-")));
        if interval < 1000 {
            // Pushed while running.
            eventually("a push with the 7 accepted spans", || {
                (pushed_value(&metrics, "otelcol_receiver_accepted_spans") == Some(want.clone()))
                    .then_some(())
            });
        } else {
            front.stop();
            eventually("the push at shutdown", || {
                pushed_value(&metrics, "otelcol_receiver_accepted_spans")
            });
        }
        assert_eq!(
            pushed_value(&metrics, "otelcol_receiver_accepted_spans"),
            Some(want),
            "{protocol}: {}",
            front.dump_logs()
        );
        if interval < 1000 {
            front.stop();
        }
        backend.stop();
    }
}

/// The log bodies in an OTLP JSON logs file, with each record's `service.name` and `service`
/// attribute.
fn shipped_lines(path: &std::path::Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for line in lines(path) {
        let Ok(req) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        for rl in req["resourceLogs"].as_array().into_iter().flatten() {
            let attr = |list: &serde_json::Value, key: &str| {
                list.as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == key)
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            let service = attr(&rl["resource"]["attributes"], "service.name");
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for r in sl["logRecords"].as_array().into_iter().flatten() {
                    out.push((
                        r["body"]["stringValue"].as_str().unwrap_or("").to_owned(),
                        service.clone(),
                        attr(&r["attributes"], "service"),
                    ));
                }
            }
        }
    }
    out
}

/// `service.telemetry.logs.processors`: the collector's log lines sent over OTLP to another
/// collector, from the first line at start-up (queued until the senders run) to the last at
/// shutdown.
#[test]
fn own_logs_are_sent_over_otlp() {
    for (processor, protocol) in [("batch", "http/protobuf"), ("simple", "grpc")] {
        let mut backend = file_backend("logs", "logs.jsonl");
        let endpoint = if protocol == "grpc" {
            backend.grpc_url()
        } else {
            backend.http_url()
        };
        let mut front = Collector::start(&format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n  telemetry:\n    resource:\n      service.name: front\n    logs:\n      encoding: json\n      initial_fields: {{service: gateway}}\n      processors:\n        - {processor}:\n            exporter:\n              otlp:\n                protocol: {protocol}\n                endpoint: {endpoint}\n    metrics:\n      address: 127.0.0.1:0\n"
        ));
        let file = backend.dir.path("logs.jsonl");
        let has = |body: &str| {
            shipped_lines(&file).iter().any(|(b, service, field)| {
                b.starts_with(body) && service == "front" && field == "gateway"
            })
        };
        eventually("the start-up lines", || {
            (has("Starting meshtrace-collector") && has("Everything is ready")).then_some(())
        });
        front.stop();
        eventually("the last line", || has("Shutdown complete").then_some(()));
        backend.stop();
    }
}

/// `sending_queue.batch` (exporter-side batching, the `batch` processor's successor): twenty
/// one-span requests reach the backend as one request of twenty, from a memory queue and from a
/// persistent one, whose records are all done afterwards (none is sent again after a restart).
#[test]
fn the_sending_queue_merges_requests_into_batches() {
    use meshtrace_collector::otlp::Signal;
    for persistent in [false, true] {
        let mut backend = file_backend("traces", "spans.jsonl");
        let storage = TempDir::new();
        let (ext, service_ext) = if persistent {
            (
                format!(
                    "      storage: file_storage\nextensions:\n  file_storage:\n    directory: {}\n",
                    storage.0.display()
                ),
                "  extensions: [file_storage]\n",
            )
        } else {
            (String::new(), "")
        };
        // An hour's flush_timeout: only min_size sends, so the shape does not depend on timing.
        let config = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  otlp_grpc:\n    endpoint: {}\n    tls:\n      insecure: true\n    sending_queue:\n      batch:\n        min_size: 20\n        flush_timeout: 1h\n{ext}service:\n{service_ext}  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp_grpc]\n{TEST_TELEMETRY}",
            backend.addr("receivers::otlp/grpc")
        );
        let mut front = Collector::start(&config);
        for i in 0..20 {
            grpc_export(
                &front.grpc_url(),
                Signal::Traces,
                spans_request("svc", i..i + 1),
                false,
            )
            .unwrap();
        }
        let file = backend.dir.path("spans.jsonl");
        eventually("the batch at the backend", || {
            (span_ids_in_file(&file).len() == 20).then_some(())
        });
        assert_eq!(lines(&file).len(), 1, "one request of twenty spans");
        let mut ids = span_ids_in_file(&file);
        ids.sort_unstable();
        assert_eq!(ids, (0..20).collect::<Vec<u64>>());
        front.stop();
        if persistent {
            let mut again = Collector::start(&config);
            let opened = again
                .logs()
                .into_iter()
                .find(|l| msg(l) == "persistent queue opened")
                .expect("the queue's start line");
            assert_eq!(opened["fields"]["records"], 0, "{opened}");
            again.stop();
        }
        backend.stop();
    }
}
