//! Issue 6, "Show it": a table of malformed and hostile requests, each with the exact answer
//! expected, sent while a well-behaved client keeps exporting over gRPC and HTTP. Every one
//! of its requests must succeed and arrive, and the collector is healthy afterwards.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use meshtrace_collector::otlp::Signal;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to send.
enum Req {
    /// POST /v1/traces with a content type (and optional content encoding).
    Post(&'static str, Option<&'static str>, Vec<u8>),
    /// Any method, path and headers.
    Http(
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
        Vec<u8>,
    ),
    /// Raw bytes on a TCP connection, then stall (keep the connection open, send nothing).
    Raw(Vec<u8>),
    /// Raw bytes, then close our sending side.
    RawEof(Vec<u8>),
    /// A gRPC traces Export (gzip: the client compresses the message).
    Rpc(Vec<u8>, bool),
    /// A gRPC Export of another signal (no pipeline for it).
    RpcSignal(Signal, Vec<u8>),
}

/// The answer expected.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Want {
    Status(u16),
    /// The server closes the connection without an answer.
    Closed,
    Grpc(tonic::Code),
}

fn request(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn span(name: &str) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.into(),
        ..Default::default()
    }
}

fn with_attrs(attrs: Vec<KeyValue>) -> Vec<u8> {
    request(vec![Span {
        attributes: attrs,
        ..span("attrs")
    }])
}

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn nested(depth: usize) -> any_value::Value {
    let mut v = any_value::Value::StringValue("leaf".into());
    for _ in 0..depth {
        v = any_value::Value::ArrayValue(ArrayValue {
            values: vec![AnyValue { value: Some(v) }],
        });
    }
    v
}

/// `good` with the bytes of `from` replaced by `to` (same length).
fn patch(good: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = good.windows(from.len()).position(|w| w == from).unwrap();
    let mut b = good.to_vec();
    b[at..at + to.len()].copy_from_slice(to);
    b
}

fn json_span(trace_id: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{trace_id}","spanId":"0102030405060708","name":"j"{extra}}}]}}]}}]}}"#
    )
    .into_bytes()
}

fn raw(addr: &str, bytes: &[u8], eof: bool) -> Option<u16> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(bytes).unwrap();
    if eof {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn cases() -> Vec<(&'static str, Req, Want)> {
    let good = request(vec![span("good")]);
    let bomb = gzip(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 64 << 10);
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let deep_kvlist = {
        let mut v = r#"{"stringValue":"x"}"#.to_owned();
        for _ in 0..30 {
            v = format!(r#"{{"arrayValue":{{"values":[{v}]}}}}"#);
        }
        json_span(
            "0102030405060708090a0b0c0d0e0f10",
            &format!(r#","attributes":[{{"key":"k","value":{v}}}]"#),
        )
    };
    let slow_body = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: {}\r\n\r\n",
        good.len()
    )
    .into_bytes()
    .into_iter()
    .chain(good[..good.len() / 2].iter().copied())
    .collect();
    use Req::*;
    use Want::*;
    vec![
        // Protobuf.
        ("valid request (control)", Post(PB, None, good.clone()), Status(200)),
        ("empty body (an empty request)", Post(PB, None, vec![]), Status(200)),
        ("unknown field is skipped", Post(PB, None, [good.clone(), vec![0xfa, 0x06, 0x00]].concat()), Status(200)),
        ("content type with parameters", Post("application/x-protobuf; charset=binary", None, good.clone()), Status(200)),
        ("truncated protobuf", Post(PB, None, good[..good.len() - 3].to_vec()), Status(400)),
        ("wrong wire type for resource_spans", Post(PB, None, vec![0x08, 0x01]), Status(400)),
        ("group wire type", Post(PB, None, vec![0x0b, 0x0c]), Status(400)),
        ("overlong varint key", Post(PB, None, vec![0xff; 11]), Status(400)),
        ("huge declared length", Post(PB, None, vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), Status(400)),
        ("invalid UTF-8 in a span name", Post(PB, None, patch(&request(vec![span("ABCD")]), b"ABCD", &[0xff, 0xfe, 0xfd, 0xfc])), Status(400)),
        ("trace id of 15 bytes", Post(PB, None, request(vec![Span { trace_id: vec![1; 15], ..span("t") }])), Status(400)),
        ("span id of 9 bytes", Post(PB, None, request(vec![Span { span_id: vec![1; 9], ..span("s") }])), Status(400)),
        ("AnyValue nested 30 deep", Post(PB, None, with_attrs(vec![kv("deep", nested(30))])), Status(400)),
        ("2000 attributes on a span", Post(PB, None, with_attrs((0..2000).map(|i| kv(&format!("k{i}"), any_value::Value::IntValue(i))).collect())), Status(400)),
        ("attribute value over limits.max_value_bytes", Post(PB, None, with_attrs(vec![kv("big", any_value::Value::StringValue("x".repeat(5000)))])), Status(400)),
        // Sizes and compression.
        ("body over max_request_body_size", Post(PB, None, vec![0u8; (1 << 20) + 1]), Status(413)),
        ("gzip bomb (16 MiB of zeros)", Post(PB, Some("gzip"), bomb.clone()), Status(413)),
        ("gzip header on plain bytes", Post(PB, Some("gzip"), good.clone()), Status(400)),
        ("truncated gzip", Post(PB, Some("gzip"), gzip(&good)[..10].to_vec()), Status(400)),
        ("unsupported content encoding", Post(PB, Some("br"), good.clone()), Status(400)),
        // JSON.
        ("JSON syntax error", Post(JSON, None, br#"{"resourceSpans": ["#.to_vec()), Status(400)),
        ("JSON trailing garbage", Post(JSON, None, br#"{} trailing"#.to_vec()), Status(400)),
        ("JSON wrong type for resourceSpans", Post(JSON, None, br#"{"resourceSpans":"x"}"#.to_vec()), Status(400)),
        ("JSON span name as a number", Post(JSON, None, json_span("0102030405060708090a0b0c0d0e0f10", r#","name":7"#)), Status(400)),
        // null is an absent field (proto3 JSON; pdata reads it so too).
        ("JSON null for a string", Post(JSON, None, br#"{"resourceSpans":[{"schemaUrl":null}]}"#.to_vec()), Status(200)),
        ("JSON null in a list", Post(JSON, None, br#"{"resourceSpans":[null]}"#.to_vec()), Status(400)),
        ("JSON field given twice", Post(JSON, None, br#"{"resourceSpans":[],"resource_spans":[]}"#.to_vec()), Status(400)),
        ("JSON trace id of 15 bytes", Post(JSON, None, json_span("0102030405060708090a0b0c0d0e0f", "")), Status(400)),
        ("JSON trace id not hex", Post(JSON, None, json_span("zz02030405060708090a0b0c0d0e0f10", "")), Status(400)),
        ("JSON nested 100000 deep", Post(JSON, None, deep_json), Status(400)),
        ("JSON AnyValue nested 30 deep", Post(JSON, None, deep_kvlist), Status(400)),
        // HTTP.
        ("text/plain", Post("text/plain", None, good.clone()), Status(415)),
        ("no content type", Http("POST", "/v1/traces", vec![], good.clone()), Status(415)),
        ("GET", Http("GET", "/v1/traces", vec![], vec![]), Status(405)),
        ("PUT", Http("PUT", "/v1/traces", vec![("content-type", PB)], good.clone()), Status(405)),
        ("unknown path", Http("POST", "/v1/spans", vec![("content-type", PB)], good.clone()), Status(404)),
        ("no metrics pipeline", Http("POST", "/v1/metrics", vec![("content-type", PB)], vec![]), Status(404)),
        ("path traversal", Http("POST", "/v1/../v1/traces", vec![("content-type", PB)], good.clone()), Status(404)),
        ("slow body (half sent, then nothing)", Raw(slow_body), Status(408)),
        ("body shorter than Content-Length", RawEof(format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: 1000\r\n\r\nshort").into_bytes()), Status(400)),
        ("headers never finished (slowloris)", Raw(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec()), Closed),
        ("not HTTP at all", RawEof(b"\x16\x03\x01\x00\x05hello".to_vec()), Status(400)),
        // gRPC.
        ("gRPC valid (control)", Rpc(good.clone(), false), Grpc(tonic::Code::Ok)),
        ("gRPC truncated protobuf", Rpc(good[..good.len() - 3].to_vec(), false), Grpc(tonic::Code::InvalidArgument)),
        ("gRPC invalid UTF-8", Rpc(patch(&request(vec![span("ABCD")]), b"ABCD", &[0xc3, 0x28, 0xa0, 0xa1]), false), Grpc(tonic::Code::InvalidArgument)),
        ("gRPC trace id of 0xff bytes", Rpc(request(vec![Span { trace_id: vec![0xff; 255], ..span("t") }]), false), Grpc(tonic::Code::InvalidArgument)),
        ("gRPC message over max_recv_msg_size_mib", Rpc(vec![0u8; 2 << 20], false), Grpc(tonic::Code::ResourceExhausted)),
        ("gRPC gzip bomb", Rpc(vec![0u8; 16 << 20], true), Grpc(tonic::Code::ResourceExhausted)),
        ("gRPC service without a pipeline", RpcSignal(Signal::Metrics, vec![]), Grpc(tonic::Code::Unimplemented)),
    ]
}

#[test]
fn hostile_requests_get_exact_answers_while_others_are_served() {
    let c = Collector::start(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        max_recv_msg_size_mib: 1
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 1048576
        read_timeout: 2s
        read_header_timeout: 2s
    limits:
      max_value_bytes: 4096
exporters:
  file:
    path: {{dir}}/out.jsonl
extensions:
  health_check:
    endpoint: 127.0.0.1:0
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
{TEST_TELEMETRY}"#
    ));
    let http_url = c.http_url();
    let grpc_url = c.grpc_url();
    let http_addr = c.addr("receivers::otlp/http");

    // The well-behaved client: alternating gRPC and HTTP exports until the table is done.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(BTreeSet::new()));
    let polite = {
        let (stop, sent, http_url, grpc_url) = (
            stop.clone(),
            sent.clone(),
            http_url.clone(),
            grpc_url.clone(),
        );
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            for i in 0..100_000u64 {
                if stop.load(Ordering::Relaxed) && i >= 20 {
                    break;
                }
                let ids = 1_000_000 + i * 2..1_000_000 + i * 2 + 2;
                let body = spans_request("polite", ids.clone());
                let ok = if i % 2 == 0 {
                    post_spans(&http_url, body) == Ok(200)
                } else {
                    grpc_export(&grpc_url, Signal::Traces, body, i % 4 == 1).is_ok()
                };
                if ok {
                    sent.lock().unwrap().extend(ids);
                } else {
                    failures.push(i);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            failures
        })
    };

    let cases = cases();
    assert!(cases.len() >= 30, "{}", cases.len());
    let mut wrong = Vec::new();
    for (name, req, want) in cases {
        let got = match req {
            Req::Post(ctype, enc, body) => {
                let mut h = vec![("content-type", ctype)];
                if let Some(e) = enc {
                    h.push(("content-encoding", e));
                }
                Want::Status(
                    http("POST", &format!("{http_url}/v1/traces"), &h, body)
                        .unwrap()
                        .0,
                )
            }
            Req::Http(method, path, h, body) => Want::Status(
                http(method, &format!("{http_url}{path}"), &h, body)
                    .unwrap()
                    .0,
            ),
            Req::Raw(bytes) => raw(&http_addr, &bytes, false).map_or(Want::Closed, Want::Status),
            Req::RawEof(bytes) => raw(&http_addr, &bytes, true).map_or(Want::Closed, Want::Status),
            Req::Rpc(body, gz) => Want::Grpc(
                grpc_export(&grpc_url, Signal::Traces, body, gz)
                    .map_or_else(|s| s.code(), |()| tonic::Code::Ok),
            ),
            Req::RpcSignal(signal, body) => Want::Grpc(
                grpc_export(&grpc_url, signal, body, false)
                    .map_or_else(|s| s.code(), |()| tonic::Code::Ok),
            ),
        };
        if got != want {
            wrong.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let failures = polite.join().unwrap();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        failures.is_empty(),
        "the well-behaved client failed at {failures:?}"
    );

    // Healthy, still serving, and everything the well-behaved client sent arrived.
    let health = c.addr("extensions::health_check");
    assert_eq!(
        http("GET", &format!("http://{health}/"), &[], vec![])
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        post_spans(&http_url, spans_request("after", 5..6)).unwrap(),
        200
    );
    let sent = sent.lock().unwrap().clone();
    assert!(sent.len() >= 40);
    let out = c.dir.path("out.jsonl");
    eventually("the well-behaved client's spans", || {
        let got: BTreeSet<u64> = span_ids_in_file(&out).into_iter().collect();
        sent.is_subset(&got).then_some(())
    });
}

/// A span numbered `n` (in its span id), valid unless `broken` says how not to be.
fn numbered(n: u64, broken: Option<&str>) -> Span {
    let mut s = Span {
        span_id: n.to_be_bytes().to_vec(),
        ..span(&format!("span-{n}"))
    };
    match broken {
        Some("trace id") => s.trace_id = vec![1; 15],
        Some("parent id") => s.parent_span_id = vec![1; 3],
        Some("long value") => {
            s.attributes = vec![kv("k", any_value::Value::StringValue("x".repeat(5000)))]
        }
        _ => {}
    }
    s
}

#[test]
fn invalid_spans_are_rejected_and_the_rest_accepted_as_a_partial_success() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    let c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n      http:\n        endpoint: 127.0.0.1:0\n    limits:\n      max_value_bytes: 4096\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    // (spans: number and how it is broken, want: rejected count and first reason, or a whole refusal)
    type Spans = Vec<(u64, Option<&'static str>)>;
    let table: Vec<(Spans, Option<(i64, &str)>)> = vec![
        (
            vec![(1, None), (2, Some("trace id")), (3, None)],
            Some((
                1,
                "1 invalid span(s) rejected, the first: resource_spans[0].scope_spans[0].spans[1].trace_id: length 15, want 16",
            )),
        ),
        (
            vec![
                (4, Some("parent id")),
                (5, None),
                (6, Some("long value")),
                (7, None),
            ],
            Some((
                2,
                "2 invalid span(s) rejected, the first: resource_spans[0].scope_spans[0].spans[0].parent_span_id: length 3, want 8",
            )),
        ),
        (vec![(8, None), (9, None)], None),
    ];
    let mut want_ids = BTreeSet::new();
    for (i, (spans, want)) in table.iter().enumerate() {
        for grpc in [false, true] {
            // Distinct ids per transport so the file shows which ones came through.
            let offset = if grpc { 100 } else { 0 };
            let body = request(
                spans
                    .iter()
                    .map(|&(n, b)| numbered(n + offset, b))
                    .collect(),
            );
            let response = if grpc {
                grpc_export_response(&c.grpc_url(), Signal::Traces, body, false)
                    .unwrap()
                    .to_vec()
            } else {
                let (status, headers, body) = http(
                    "POST",
                    &format!("{}/v1/traces", c.http_url()),
                    &[("content-type", "application/x-protobuf")],
                    body,
                )
                .unwrap();
                assert_eq!(status, 200, "case {i}");
                assert_eq!(headers["content-type"], "application/x-protobuf");
                body
            };
            let got = ExportTraceServiceResponse::decode(response.as_slice()).unwrap();
            let got = got
                .partial_success
                .map(|p| (p.rejected_spans, p.error_message));
            let want_owned = want.map(|(n, m)| (n, format!("{m} (at byte {})", at_byte(&got))));
            assert_eq!(got, want_owned, "case {i}, grpc {grpc}");
            want_ids.extend(
                spans
                    .iter()
                    .filter(|(_, b)| b.is_none())
                    .map(|(n, _)| n + offset),
            );
        }
    }
    // A request whose spans are all invalid is refused whole.
    let all_bad = request(vec![numbered(50, Some("trace id"))]);
    assert_eq!(post_spans(&c.http_url(), all_bad).unwrap(), 400);
    let got: BTreeSet<u64> = eventually("the valid spans in the file", || {
        let ids: BTreeSet<u64> = span_ids_in_file(&c.dir.path("out.jsonl"))
            .into_iter()
            .collect();
        (ids.len() >= want_ids.len()).then_some(ids)
    });
    assert_eq!(got, want_ids);
}

/// The byte offset at the end of a partial-success message (it depends on the encoding of the
/// request, which the table does not spell out).
fn at_byte(got: &Option<(i64, String)>) -> String {
    got.as_ref()
        .and_then(|(_, m)| {
            m.rsplit_once("(at byte ")
                .map(|(_, b)| b.trim_end_matches(')').to_owned())
        })
        .unwrap_or_default()
}
