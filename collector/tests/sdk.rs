//! A real OpenTelemetry SDK (Python, from PyPI, installed into `.venv` by `scripts/setup.sh`)
//! exports spans over OTLP/gRPC and OTLP/HTTP (both gzip); they arrive intact in the file.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    let venv =
        std::env::var_os("MESHTRACE_VENV").map_or_else(|| root().join(".venv"), PathBuf::from);
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/setup.sh",
        py.display()
    );
    py
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attr_json(v: &V) -> serde_json::Value {
    match v {
        V::StringValue(s) => serde_json::json!(s),
        V::BoolValue(b) => serde_json::json!(b),
        V::IntValue(i) => serde_json::json!(i),
        V::DoubleValue(d) => serde_json::json!(d),
        other => serde_json::json!(format!("{other:?}")),
    }
}

#[test]
fn python_sdk_spans_over_grpc_and_http_arrive_intact() {
    let py = python();
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n      http:\n        endpoint: 127.0.0.1:0\nprocessors:\n  batch:\nexporters:\n  file:\n    path: {{dir}}/spans.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/send_spans.py");
    let mut sent = Vec::new();
    for (proto, endpoint) in [("grpc", c.grpc_url()), ("http", c.http_url())] {
        let out = Command::new(&py)
            .arg(&script)
            .arg(proto)
            .arg(&endpoint)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{proto}: {stderr}");
        assert!(!stderr.contains("Failed to export"), "{proto}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["flushed"], true, "{proto}: {stderr}");
        for s in v["spans"].as_array().unwrap() {
            sent.push((format!("sdk-{proto}"), s.clone()));
        }
    }
    assert_eq!(sent.len(), 12);
    c.stop();

    let mut got = Vec::new();
    for line in lines(&c.dir.path("spans.jsonl")) {
        let req: ExportTraceServiceRequest = serde_json::from_str(&line).unwrap();
        for rs in req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref()?.value.clone());
            for ss in rs.scope_spans {
                let scope = ss.scope.clone().unwrap_or_default();
                assert_eq!(
                    (scope.name.as_str(), scope.version.as_str()),
                    ("meshtrace.test", "1.0.0")
                );
                for s in ss.spans {
                    got.push((service.clone(), s));
                }
            }
        }
    }
    assert_eq!(got.len(), sent.len(), "every span arrives exactly once");
    for (service, want) in &sent {
        let (svc, span) = got
            .iter()
            .find(|(_, s)| hex(&s.span_id) == want["span_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("span {} not received", want["name"]));
        assert_eq!(svc, &Some(V::StringValue(service.clone())));
        assert_eq!(hex(&span.trace_id), want["trace_id"].as_str().unwrap());
        assert_eq!(
            hex(&span.parent_span_id),
            want["parent_span_id"].as_str().unwrap()
        );
        assert_eq!(span.name, want["name"].as_str().unwrap());
        // Python's SpanKind enum starts at INTERNAL = 0; OTLP's at UNSPECIFIED = 0.
        assert_eq!(i64::from(span.kind), want["kind"].as_i64().unwrap() + 1);
        let attrs: serde_json::Map<String, serde_json::Value> = span
            .attributes
            .iter()
            .map(|a| {
                (
                    a.key.clone(),
                    attr_json(a.value.as_ref().unwrap().value.as_ref().unwrap()),
                )
            })
            .collect();
        assert_eq!(
            serde_json::Value::Object(attrs),
            want["attributes"],
            "{}",
            span.name
        );
        let events: Vec<&str> = span.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(serde_json::json!(events), want["events"]);
        assert_eq!(
            i64::from(span.status.clone().unwrap_or_default().code),
            want["status"].as_i64().unwrap()
        );
        assert!(span.end_time_unix_nano > span.start_time_unix_nano);
    }
}
