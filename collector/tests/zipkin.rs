//! The `zipkin` receiver end to end: a real Zipkin client library (py_zipkin from PyPI, in
//! `.venv`) reports through its own HTTP transport, in JSON and in protobuf, and the file
//! exporter must hold the OTLP spans the OpenTelemetry Collector's translator produces; the
//! golden payloads of `zipkin/testdata` posted as Brave and zipkin-js send them arrive as
//! their `.otlp.json` twins.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
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

fn config(extra_receiver: &str) -> String {
    format!(
        "receivers:\n  zipkin:\n    endpoint: 127.0.0.1:0\n{extra_receiver}exporters:\n  file:\n    path: {{dir}}/spans.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n{TEST_TELEMETRY}"
    )
}

fn requests(c: &Collector) -> Vec<ExportTraceServiceRequest> {
    lines(&c.dir.path("spans.jsonl"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a V> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key) {
        Some(V::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn py_zipkin_reports_arrive_as_the_collector_translates_them() {
    let py = python();
    let mut c = Collector::start(&config(""));
    let addr = c.addr("receivers::zipkin");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/send_zipkin.py");
    let mut sent = Vec::new();
    for fmt in ["json", "proto"] {
        let out = Command::new(&py)
            .arg(&script)
            .arg(fmt)
            .arg(host)
            .arg(port)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{fmt}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (v["sent"].as_u64(), v["errors"].as_array().map(Vec::len)),
            (Some(1), Some(0)),
            "{fmt}: {v} {stderr}"
        );
        sent.push(v);
    }
    c.stop();
    let reqs = requests(&c);
    assert_eq!(reqs.len(), 2, "one OTLP request per Zipkin POST");
    for (req, s) in reqs.iter().zip(&sent) {
        assert_eq!(req.resource_spans.len(), 1);
        let rs = &req.resource_spans[0];
        assert_eq!(
            str_attr(&rs.resource.as_ref().unwrap().attributes, "service.name").as_deref(),
            s["service"].as_str()
        );
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        // 64-bit Zipkin trace ids are the low half of the OTLP id.
        let trace = format!("{:0>32}", s["traceId"].as_str().unwrap());
        let by_id = |id: &str| spans.iter().find(|sp| hex(&sp.span_id) == id).unwrap();
        let root = by_id(s["root"].as_str().unwrap());
        let child = by_id(s["child"].as_str().unwrap());
        for sp in [root, child] {
            assert_eq!(hex(&sp.trace_id), trace);
            assert!(sp.start_time_unix_nano > 1_600_000_000_000_000_000);
            assert!(sp.end_time_unix_nano >= sp.start_time_unix_nano);
        }

        assert_eq!((root.name.as_str(), root.kind), ("POST /api/orders", 2));
        assert!(root.parent_span_id.is_empty());
        for (k, v) in [
            ("http.method", "POST"),
            ("http.route", "/api/orders"),
            ("http.status_code", "201"),
            ("net.host.ip", "10.4.2.17"),
        ] {
            assert_eq!(str_attr(&root.attributes, k).as_deref(), Some(v), "{k}");
        }
        assert_eq!(
            attr(&root.attributes, "net.host.port"),
            Some(&V::IntValue(8080))
        );
        assert_eq!(
            root.events
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["validated"]
        );
        assert_eq!(root.status.clone().unwrap_or_default().code, 0);

        assert_eq!((child.name.as_str(), child.kind), ("SELECT orders", 3));
        assert_eq!(hex(&child.parent_span_id), s["root"].as_str().unwrap());
        // An error tag with a message: status ERROR, the message kept as an attribute.
        assert_eq!(child.status.clone().unwrap().code, 2);
        for (k, v) in [
            ("error", "connection reset"),
            ("db.system", "postgresql"),
            ("peer.service", "postgres"),
            ("net.peer.ip", "10.0.3.4"),
        ] {
            assert_eq!(str_attr(&child.attributes, k).as_deref(), Some(v), "{k}");
        }
        assert_eq!(
            attr(&child.attributes, "net.peer.port"),
            Some(&V::IntValue(5432))
        );
    }
}

#[test]
fn golden_zipkin_payloads_arrive_as_their_otlp_twins() {
    let mut c = Collector::start(&config("    parse_string_tags: false\n"));
    let url = format!("http://{}/api/v2/spans", c.addr("receivers::zipkin"));
    let dir = root().join("zipkin/testdata");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| (n.ends_with(".json") && !n.ends_with(".otlp.json")) || n.ends_with(".pb"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for (i, name) in names.iter().enumerate() {
        let body = std::fs::read(dir.join(name)).unwrap();
        let ctype = if name.ends_with(".pb") {
            "application/x-protobuf"
        } else {
            "application/json"
        };
        // Alternate plain and gzip bodies, as Brave's reporters (gzip by default) and
        // zipkin-js send them.
        let (body, enc) = if i % 2 == 0 {
            (gzip(&body), "gzip")
        } else {
            (body, "identity")
        };
        let (status, _, resp) = http(
            "POST",
            &url,
            &[("content-type", ctype), ("content-encoding", enc)],
            body,
        )
        .unwrap();
        assert_eq!(status, 202, "{name}: {}", String::from_utf8_lossy(&resp));
        // One request at a time, so file lines follow the names.
        eventually(&format!("{name} written"), || {
            (lines(&c.dir.path("spans.jsonl")).len() == i + 1).then_some(())
        });
    }
    c.stop();
    let got = lines(&c.dir.path("spans.jsonl"));
    for (name, line) in names.iter().zip(&got) {
        let stem = name.rsplit_once('.').unwrap().0;
        let want: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{stem}.otlp.json"))).unwrap())
                .unwrap();
        let got: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(got, want, "{name}");
    }
}
