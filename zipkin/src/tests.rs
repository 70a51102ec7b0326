//! Translation tables: Zipkin v2 JSON and protobuf in, the OTLP request the Collector's
//! translator produces out (built by hand), plus golden payloads in `testdata/`.

use std::collections::BTreeMap;

use meshtrace_otlp::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use meshtrace_otlp::proto::resource::v1::Resource;
use meshtrace_otlp::proto::trace::v1::span::Event;
use meshtrace_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};
use meshtrace_otlp::{Limits, Signal};
use proptest::prelude::*;
use prost::Message;

use super::*;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn b(k: &str, v: bool) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(v)),
        }),
        ..Default::default()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn json(body: &str) -> ExportTraceServiceRequest {
    to_otlp(body.as_bytes(), Format::Json, Options::default()).unwrap()
}

fn only_span(r: &ExportTraceServiceRequest) -> &OtlpSpan {
    assert_eq!(r.resource_spans.len(), 1, "{r:?}");
    assert_eq!(r.resource_spans[0].scope_spans.len(), 1, "{r:?}");
    &r.resource_spans[0].scope_spans[0].spans[0]
}

/// A client call and the server span that shares its id, as Brave reports an RPC whose two
/// halves are recorded by different services.
const RPC: &str = r#"[
  {"traceId":"5b8efff798038103d269b633813fc60c","parentId":"eee19b7ec3c1b174","id":"00f067aa0ba902b7",
   "kind":"CLIENT","name":"get /api/orders","timestamp":1706175283018000,"duration":38000,
   "localEndpoint":{"serviceName":"frontend","ipv4":"10.4.2.17","port":8080},
   "remoteEndpoint":{"serviceName":"orders","ipv4":"10.4.2.9","port":9080},
   "annotations":[{"timestamp":1706175283019000,"value":"ws"},{"timestamp":1706175283055000,"value":"wr"}],
   "tags":{"http.method":"GET","http.path":"/api/orders","http.status_code":"503","error":"503"}},
  {"traceId":"5b8efff798038103d269b633813fc60c","parentId":"eee19b7ec3c1b174","id":"00f067aa0ba902b7",
   "kind":"SERVER","name":"get /api/orders","timestamp":1706175283020000,"duration":30000,"shared":true,
   "localEndpoint":{"serviceName":"orders","ipv6":"2001:db8::1"},
   "tags":{"http.method":"GET","error":"true","k8s.pod.name":"orders-7d9f","w3c.tracestate":"rojo=00f067aa0ba902b7"}}
]"#;

#[test]
fn an_rpc_translates_exactly_as_the_collector_translates_it() {
    let got = json(RPC);
    let trace = hex("5b8efff798038103d269b633813fc60c");
    let want = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![s("service.name", "frontend")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![OtlpSpan {
                        trace_id: trace.clone(),
                        span_id: hex("00f067aa0ba902b7"),
                        parent_span_id: hex("eee19b7ec3c1b174"),
                        name: "get /api/orders".into(),
                        kind: 3,
                        start_time_unix_nano: 1_706_175_283_018_000_000,
                        end_time_unix_nano: 1_706_175_283_056_000_000,
                        // The error tag carries a message: status ERROR, tag kept.
                        attributes: vec![
                            s("error", "503"),
                            s("http.method", "GET"),
                            s("http.path", "/api/orders"),
                            s("http.status_code", "503"),
                            s("net.host.ip", "10.4.2.17"),
                            i("net.host.port", 8080),
                            s("peer.service", "orders"),
                            s("net.peer.ip", "10.4.2.9"),
                            i("net.peer.port", 9080),
                        ],
                        events: vec![
                            Event {
                                time_unix_nano: 1_706_175_283_019_000_000,
                                name: "ws".into(),
                                ..Default::default()
                            },
                            Event {
                                time_unix_nano: 1_706_175_283_055_000_000,
                                name: "wr".into(),
                                ..Default::default()
                            },
                        ],
                        status: Some(Status {
                            code: 2,
                            message: String::new(),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", "orders"),
                        s("k8s.pod.name", "orders-7d9f"),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![OtlpSpan {
                        trace_id: trace,
                        span_id: hex("00f067aa0ba902b7"),
                        parent_span_id: hex("eee19b7ec3c1b174"),
                        trace_state: "rojo=00f067aa0ba902b7".into(),
                        name: "get /api/orders".into(),
                        kind: 2,
                        start_time_unix_nano: 1_706_175_283_020_000_000,
                        end_time_unix_nano: 1_706_175_283_050_000_000,
                        attributes: vec![s("http.method", "GET"), s("net.host.ip", "2001:db8::1")],
                        status: Some(Status {
                            code: 2,
                            message: String::new(),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    };
    assert_eq!(got, want);
}

#[test]
fn kinds() {
    for (kind, tag, want, tag_kept) in [
        ("CLIENT", None, 3, false),
        ("SERVER", None, 2, false),
        ("PRODUCER", None, 4, false),
        ("CONSUMER", None, 5, false),
        ("", None, 0, false),
        ("server", None, 0, false),
        ("", Some("internal"), 1, false),
        ("", Some("client"), 0, false),
        // A known kind leaves the span.kind tag alone (it becomes an attribute).
        ("CLIENT", Some("internal"), 3, true),
    ] {
        let tags = tag.map_or(String::new(), |t| {
            format!(r#","tags":{{"span.kind":"{t}"}}"#)
        });
        let body = format!(r#"[{{"traceId":"01","id":"02","kind":"{kind}","timestamp":1{tags}}}]"#);
        let r = json(&body);
        let span = only_span(&r);
        assert_eq!(span.kind, want, "{body}");
        assert_eq!(
            span.attributes.iter().any(|a| a.key == "span.kind"),
            tag_kept,
            "{body}"
        );
    }
}

#[test]
fn status_from_tags() {
    for (tags, code, message, kept) in [
        (
            r#"{"otel.status_code":"STATUS_CODE_ERROR","otel.status_description":"boom"}"#,
            2,
            "boom",
            vec![],
        ),
        (r#"{"otel.status_code":"Ok"}"#, 1, "", vec![]),
        (r#"{"otel.status_code":"Error"}"#, 2, "", vec![]),
        (r#"{"otel.status_code":"whatever"}"#, 0, "", vec![]),
        // A description without a code is an ordinary tag.
        (
            r#"{"otel.status_description":"x"}"#,
            0,
            "",
            vec!["otel.status_description"],
        ),
        (r#"{"error":"true"}"#, 2, "", vec![]),
        (r#"{"error":"false"}"#, 2, "", vec!["error"]),
        (r#"{"error":""}"#, 2, "", vec!["error"]),
        (
            r#"{"otel.status_code":"STATUS_CODE_OK","error":"true"}"#,
            2,
            "",
            vec![],
        ),
        (
            r#"{"http.status_code":"500"}"#,
            0,
            "",
            vec!["http.status_code"],
        ),
    ] {
        let body = format!(r#"[{{"traceId":"01","id":"02","timestamp":1,"tags":{tags}}}]"#);
        let r = json(&body);
        let span = only_span(&r);
        let st = span.status.clone().unwrap_or_default();
        assert_eq!((st.code, st.message.as_str()), (code, message), "{tags}");
        let keys: Vec<&str> = span
            .attributes
            .iter()
            .map(|a| a.key.as_str())
            .filter(|k| !k.starts_with("otel.zipkin"))
            .collect();
        assert_eq!(keys, kept, "{tags}");
    }
}

#[test]
fn parse_string_tags_types_values() {
    let body = br#"[{"traceId":"01","id":"02","timestamp":1,"tags":{"a":"12","b":"1.5","c":"true","d":"x1","e":"-7","f":""}}]"#;
    let typed = to_otlp(
        body,
        Format::Json,
        Options {
            parse_string_tags: true,
        },
    )
    .unwrap();
    let span = only_span(&typed);
    let double = KeyValue {
        key: "b".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::DoubleValue(1.5)),
        }),
        ..Default::default()
    };
    assert_eq!(
        span.attributes,
        vec![
            i("a", 12),
            double,
            b("c", true),
            s("d", "x1"),
            i("e", -7),
            s("f", "")
        ]
    );
    let plain = to_otlp(body, Format::Json, Options::default()).unwrap();
    assert_eq!(
        only_span(&plain).attributes,
        vec![
            s("a", "12"),
            s("b", "1.5"),
            s("c", "true"),
            s("d", "x1"),
            s("e", "-7"),
            s("f", "")
        ]
    );
}

#[test]
fn absent_timestamp_starts_at_zero_and_is_flagged() {
    let r = json(r#"[{"traceId":"01","id":"02","duration":250}]"#);
    let span = only_span(&r);
    assert_eq!(
        (span.start_time_unix_nano, span.end_time_unix_nano),
        (0, 250_000)
    );
    assert_eq!(
        span.attributes,
        vec![b("otel.zipkin.absentField.startTime", true)]
    );
    // No service: the resource carries no attributes.
    assert_eq!(r.resource_spans[0].resource, Some(Resource::default()));
}

#[test]
fn ids() {
    let r = json(r#"[{"traceId":"d269b633813fc60c","id":"2","parentId":"2","timestamp":1}]"#);
    let span = only_span(&r);
    assert_eq!(span.trace_id, hex("0000000000000000d269b633813fc60c"));
    assert_eq!(span.span_id, hex("0000000000000002"));
    assert!(
        span.parent_span_id.is_empty(),
        "a parent equal to the span id is dropped"
    );
}

#[test]
fn grouping_by_service_and_library() {
    let body = r#"[
      {"traceId":"01","id":"01","timestamp":1,"localEndpoint":{"serviceName":"b"}},
      {"traceId":"01","id":"02","timestamp":1,"localEndpoint":{"serviceName":"a"},
       "tags":{"otel.library.name":"io.opentelemetry.spring-webmvc-6.0","otel.library.version":"1.32.0","host.name":"node-1"}},
      {"traceId":"01","id":"03","timestamp":1,"localEndpoint":{"serviceName":"a"},"tags":{"host.name":"node-2","x":"y"}},
      {"traceId":"01","id":"04","timestamp":1,"localEndpoint":{"serviceName":"b"},
       "tags":{"otlp.service.name.source":"app.name"}}
    ]"#;
    let r = json(body);
    type Scope = (String, String, Vec<Vec<u8>>);
    let summary: Vec<(Vec<KeyValue>, Vec<Scope>)> = r
        .resource_spans
        .iter()
        .map(|rs| {
            (
                rs.resource.clone().unwrap().attributes,
                rs.scope_spans
                    .iter()
                    .map(|ss| {
                        let sc = ss.scope.clone().unwrap_or_default();
                        (
                            sc.name,
                            sc.version,
                            ss.spans.iter().map(|s| s.span_id.clone()).collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // Resource attributes come from the first span of the service (after sorting):
            // span 3 (no library) sorts before span 2.
            (
                vec![s("service.name", "a"), s("host.name", "node-2")],
                vec![
                    (String::new(), String::new(), vec![hex("0000000000000003")]),
                    (
                        "io.opentelemetry.spring-webmvc-6.0".into(),
                        "1.32.0".into(),
                        vec![hex("0000000000000002")]
                    ),
                ]
            ),
            (
                vec![s("service.name", "b")],
                vec![(
                    String::new(),
                    String::new(),
                    vec![hex("0000000000000001"), hex("0000000000000004")]
                )]
            ),
        ]
    );
    // The second span of service a had host.name too: a resource key is never a span attribute.
    let span2 = &r.resource_spans[0].scope_spans[1].spans[0];
    assert!(span2.attributes.iter().all(|a| a.key != "host.name"));
    let span3 = &r.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span3.attributes[0], s("x", "y"));
}

#[test]
fn service_name_source_tag_names_the_resource_key() {
    let r = json(
        r#"[{"traceId":"01","id":"04","timestamp":1,"localEndpoint":{"serviceName":"b"},"tags":{"otlp.service.name.source":"app.name"}}]"#,
    );
    assert_eq!(
        r.resource_spans[0].resource.clone().unwrap().attributes,
        vec![s("app.name", "b")]
    );
}

#[test]
fn links_and_event_attributes_written_by_the_collectors_exporter() {
    let r = json(
        r#"[{"traceId":"01","id":"02","timestamp":1,
            "annotations":[{"timestamp":2,"value":"exception|{\"exception.type\":\"IOError\",\"n\":3}|1"}],
            "tags":{"otlp.link.0":"0af7651916cd43dd8448eb211c80319c|b7ad6b7169203331|k=v|{\"a\":\"b\"}|2","otlp.link.1":"x|y"}}]"#,
    );
    let span = only_span(&r);
    assert_eq!(span.links.len(), 1);
    let l = &span.links[0];
    assert_eq!(l.trace_id, hex("0af7651916cd43dd8448eb211c80319c"));
    assert_eq!(l.span_id, hex("b7ad6b7169203331"));
    assert_eq!(
        (l.trace_state.as_str(), l.dropped_attributes_count),
        ("k=v", 2)
    );
    assert_eq!(l.attributes, vec![s("a", "b")]);
    let e = &span.events[0];
    assert_eq!(e.name, "exception");
    assert_eq!(
        e.attributes,
        vec![s("exception.type", "IOError"), i("n", 3)]
    );
    assert_eq!(e.dropped_attributes_count, 1);
    assert!(
        span.attributes
            .iter()
            .all(|a| !a.key.starts_with("otlp.link"))
    );
}

#[test]
fn invalid_json_is_refused_with_the_reason() {
    for (body, want) in [
        ("{}", "invalid Zipkin v2 JSON"),
        (
            "[{\"traceId\":\"01\",\"id\":\"0\"}]",
            "invalid span 0: invalid id",
        ),
        ("[{\"traceId\":\"01\"}]", "invalid span 0: invalid id"),
        (
            "[{\"traceId\":\"xyz\",\"id\":\"1\"}]",
            "invalid span 0: invalid traceId",
        ),
        (
            "[{\"traceId\":\"01\",\"id\":\"1\",\"parentId\":\"q\"}]",
            "invalid parentId",
        ),
        (
            "[{\"traceId\":\"01\",\"id\":\"12345678901234567\"}]",
            "invalid id",
        ),
        (
            "[{\"traceId\":\"01\",\"id\":\"1\",\"tags\":{\"a\":1}}]",
            "invalid Zipkin v2 JSON",
        ),
        (
            "[{\"traceId\":\"01\",\"id\":\"1\",\"annotations\":[{\"value\":\"x\"}]}]",
            "valid annotation timestamp required",
        ),
        (
            "[{\"traceId\":\"01\",\"id\":\"1\",\"localEndpoint\":{\"ipv4\":\"10.0.0\"}}]",
            "invalid IP address",
        ),
        (
            "[{\"traceId\":\"01\",\"id\":\"1\",\"timestamp\":-1}]",
            "invalid Zipkin v2 JSON",
        ),
        (
            "[null,{\"traceId\":\"01\",\"id\":\"1\",\"tags\":{\"otlp.link.0\":\"01|02|x|{}|1\"}}]",
            "invalid length for ID",
        ),
    ] {
        let e = to_otlp(body.as_bytes(), Format::Json, Options::default()).unwrap_err();
        assert!(e.to_string().contains(want), "{body}: {e}");
    }
    // Empty and null bodies are valid, empty requests.
    assert_eq!(json("[]"), ExportTraceServiceRequest::default());
    assert_eq!(json("null"), ExportTraceServiceRequest::default());
}

fn proto_span() -> proto::Span {
    proto::Span {
        trace_id: hex("5b8efff798038103d269b633813fc60c"),
        parent_id: hex("eee19b7ec3c1b174"),
        id: hex("00f067aa0ba902b7"),
        kind: 1,
        name: "get /api/orders".into(),
        timestamp: 1_706_175_283_018_000,
        duration: 38_000,
        local_endpoint: Some(proto::ProtoEndpoint {
            service_name: "frontend".into(),
            ipv4: vec![10, 4, 2, 17],
            ipv6: vec![],
            port: 8080,
        }),
        remote_endpoint: Some(proto::ProtoEndpoint {
            service_name: "orders".into(),
            ipv4: vec![10, 4, 2, 9],
            ipv6: vec![],
            port: 9080,
        }),
        annotations: vec![
            proto::ProtoAnnotation {
                timestamp: 1_706_175_283_019_000,
                value: "ws".into(),
            },
            proto::ProtoAnnotation {
                timestamp: 1_706_175_283_055_000,
                value: "wr".into(),
            },
        ],
        tags: BTreeMap::from([
            ("http.method".to_owned(), "GET".to_owned()),
            ("http.path".to_owned(), "/api/orders".to_owned()),
            ("http.status_code".to_owned(), "503".to_owned()),
            ("error".to_owned(), "503".to_owned()),
        ]),
        debug: false,
        shared: false,
    }
}

#[test]
fn protobuf_translates_like_json() {
    let pb = proto::ListOfSpans {
        spans: vec![proto_span()],
    }
    .encode_to_vec();
    let from_pb = to_otlp(&pb, Format::Proto, Options::default()).unwrap();
    let mut from_json = json(RPC);
    from_json.resource_spans.truncate(1);
    assert_eq!(from_pb, from_json);
}

#[test]
fn protobuf_ids_are_checked() {
    let enc = |f: &dyn Fn(&mut proto::Span)| {
        let mut s = proto_span();
        f(&mut s);
        proto::ListOfSpans { spans: vec![s] }.encode_to_vec()
    };
    // A 64-bit trace id (Brave's default) is the low half of the OTLP id.
    let pb = enc(&|s| s.trace_id = hex("d269b633813fc60c"));
    let r = to_otlp(&pb, Format::Proto, Options::default()).unwrap();
    assert_eq!(
        only_span(&r).trace_id,
        hex("0000000000000000d269b633813fc60c")
    );
    for (f, want) in [
        (
            &(|s: &mut proto::Span| s.trace_id = vec![1; 5]) as &dyn Fn(&mut proto::Span),
            "trace_id has length 5",
        ),
        (&|s: &mut proto::Span| s.id = vec![], "id has length 0"),
        (&|s: &mut proto::Span| s.id = vec![0; 8], "non-zero span id"),
        (
            &|s: &mut proto::Span| s.parent_id = vec![1; 3],
            "parent_id has length 3",
        ),
    ] {
        let e = to_otlp(&enc(f), Format::Proto, Options::default()).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    assert!(to_otlp(&[0xff, 0xff], Format::Proto, Options::default()).is_err());
}

#[test]
fn to_batch_validates_and_counts() {
    let batch = to_batch(
        RPC.as_bytes(),
        Format::Json,
        Options::default(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((batch.signal(), batch.items()), (Signal::Traces, 2));
}

/// `testdata/brave_rpc.pb`: the protobuf twin of `brave_rpc.json`, as Brave's
/// `SpanBytesEncoder.PROTO3` writes it (8-byte trace ids are valid there too).
fn brave_rpc_proto() -> Vec<u8> {
    let mut server = proto_span();
    server.kind = 2;
    server.name = "get /entries/{entryid}".into();
    server.trace_id = hex("664a1e8f3b4c5d6e");
    server.parent_id = vec![];
    server.id = hex("664a1e8f3b4c5d6e");
    server.local_endpoint = Some(proto::ProtoEndpoint {
        service_name: "blog-api".into(),
        ipv4: vec![10, 0, 1, 8],
        ipv6: vec![],
        port: 0,
    });
    server.remote_endpoint = Some(proto::ProtoEndpoint {
        service_name: String::new(),
        ipv4: vec![10, 0, 1, 2],
        ipv6: vec![],
        port: 48126,
    });
    server.annotations = vec![];
    server.tags = BTreeMap::from([
        ("http.method".to_owned(), "GET".to_owned()),
        ("http.path".to_owned(), "/entries/2".to_owned()),
        (
            "mvc.controller.class".to_owned(),
            "EntryController".to_owned(),
        ),
    ]);
    let mut client = server.clone();
    client.kind = 1;
    client.name = "query".into();
    client.parent_id = hex("664a1e8f3b4c5d6e");
    client.id = hex("3f2e1d0c4b5a6978");
    client.timestamp += 1200;
    client.duration = 4_100;
    client.remote_endpoint = Some(proto::ProtoEndpoint {
        service_name: "postgres".into(),
        ipv4: vec![10, 0, 3, 4],
        ipv6: vec![],
        port: 5432,
    });
    client.tags = BTreeMap::from([
        (
            "jdbc.query[0]".to_owned(),
            "select * from entry where entry_id = ?".to_owned(),
        ),
        ("error".to_owned(), "connection reset".to_owned()),
    ]);
    proto::ListOfSpans {
        spans: vec![server, client],
    }
    .encode_to_vec()
}

#[test]
fn proto_golden_is_what_the_builder_encodes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/brave_rpc.pb");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, brave_rpc_proto()).unwrap();
    }
    assert_eq!(std::fs::read(&path).unwrap(), brave_rpc_proto());
}

/// Golden payloads: `testdata/NAME.json` (Zipkin v2 JSON as Brave / zipkin-js send it) and
/// `NAME.pb` (the same spans in protobuf) translate to `NAME.otlp.json` (OTLP/JSON).
/// `UPDATE_GOLDEN=1` rewrites the `.otlp.json` files.
#[test]
fn golden_payloads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let format = if name.ends_with(".otlp.json") {
            continue;
        } else if name.ends_with(".json") {
            Format::Json
        } else if name.ends_with(".pb") {
            Format::Proto
        } else {
            continue;
        };
        let stem = name.rsplit_once('.').unwrap().0;
        let body = std::fs::read(&path).unwrap();
        let req = to_otlp(&body, format, Options::default()).unwrap();
        let got =
            meshtrace_otlp::json::from_protobuf(Signal::Traces, &req.encode_to_vec()).unwrap();
        let got: serde_json::Value = serde_json::from_slice(&got).unwrap();
        let golden = dir.join(format!("{stem}.otlp.json"));
        if update {
            std::fs::write(&golden, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        } else {
            let want: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&golden).unwrap()).unwrap();
            assert_eq!(got, want, "{name}");
        }
        n += 1;
    }
    assert!(n >= 2, "golden payloads missing");
}

proptest! {
    #[test]
    fn decoders_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = to_otlp(&body, Format::Json, Options { parse_string_tags: true });
        let _ = to_otlp(&body, Format::Proto, Options::default());
    }

    #[test]
    fn protobuf_round_trips_ids_and_times(
        trace in any::<[u8; 16]>(), id in 1u64.., ts in 1u64..(u64::MAX / 2000), dur in 0u64..1_000_000_000,
    ) {
        let pb = proto::ListOfSpans { spans: vec![proto::Span {
            trace_id: trace.to_vec(), id: id.to_be_bytes().to_vec(), timestamp: ts, duration: dur,
            ..Default::default()
        }] }.encode_to_vec();
        let r = to_otlp(&pb, Format::Proto, Options::default()).unwrap();
        let span = only_span(&r);
        prop_assert_eq!(&span.trace_id, &trace.to_vec());
        prop_assert_eq!(span.start_time_unix_nano, ts * 1000);
        prop_assert_eq!(span.end_time_unix_nano, ts * 1000 + dur * 1000);
    }
}
