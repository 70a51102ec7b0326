//! The filter's hand-written OTLP encoding, decoded exactly: a batch of spans built by the
//! filter's own code (span building, export buffer, framing) is validated by the collector's
//! validator (`meshtrace_otlp::validate`) and decoded with `opentelemetry-proto` (prost), and
//! every field is compared with what the filter meant to write; and what the end of a stream
//! (`Tracer::on_log`) takes from Envoy's answers.

#![cfg(not(target_family = "wasm"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use meshtrace_filter::config::{Config, WhenFull};
use meshtrace_filter::export::{ExportQueue, QueueSettings};
use meshtrace_filter::fields::{Fields, RecordedWrites};
use meshtrace_filter::ids::{RandomIds, SplitMix64};
use meshtrace_filter::node::NodeInfo;
use meshtrace_filter::otlp::{
    Framing, MAX_VALUE_LEN, SCHEMA_URL, SCOPE_NAME, SCOPE_VERSION, SpanKind,
};
use meshtrace_filter::propagation::{Origin, SpanContext};
use meshtrace_filter::span::{Exchange, SpanOptions, encode_span};
use meshtrace_filter::tracecontext::{SpanId, TraceFlags, TraceId};
use meshtrace_filter::tracer::{Property, StreamInfo, Tracer};
use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use meshtrace_otlp::proto::trace::v1::{Span, span::SpanKind as PbKind, status::StatusCode};
use meshtrace_otlp::{Limits, Signal, validate};
use prost::Message;

fn context(span: u8, parent: Option<u8>, tracestate: &str) -> SpanContext {
    SpanContext {
        trace_id: TraceId([0x4b; 16]),
        span_id: SpanId([span; 8]),
        parent_span_id: parent.map(|p| SpanId([p; 8])),
        flags: TraceFlags(0x01),
        tracestate: tracestate.to_owned(),
        origin: Origin::TraceContext,
        b3_debug: false,
    }
}

fn fields(pairs: &[(&str, &[u8])]) -> Fields {
    Fields::from_pairs(pairs.iter().copied())
}

/// Attributes as a map of key → printable value (arrays joined with `|`).
fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    fn show(v: &Option<AnyValue>) -> String {
        match v.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => s.clone(),
            Some(Value::IntValue(i)) => format!("int:{i}"),
            Some(Value::ArrayValue(a)) => a
                .values
                .iter()
                .map(|v| show(&Some(v.clone())))
                .collect::<Vec<_>>()
                .join("|"),
            other => format!("{other:?}"),
        }
    }
    let mut map = BTreeMap::new();
    for kv in kvs {
        assert!(
            map.insert(kv.key.clone(), show(&kv.value)).is_none(),
            "duplicate attribute {}",
            kv.key
        );
    }
    map
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn a_batch_decodes_exactly() {
    let config = Config::from_json(
        br#"{"export": {"cluster": "c"}, "span": {
            "routes": ["/users/{id}"],
            "request_headers": ["x-tenant", "x-feature-*"],
            "response_headers": ["content-type"],
            "tags": {"team": "payments"}}}"#,
    )
    .unwrap();
    let options = SpanOptions::new(&config.span);
    let resource = vec![
        ("service.name".to_owned(), "productpage.bookinfo".to_owned()),
        ("k8s.pod.name".to_owned(), "productpage-v1-abc".to_owned()),
    ];
    let mut queue = ExportQueue::new(
        QueueSettings {
            batch_size: 10,
            max_spans: 10,
            when_full: WhenFull::DropNewest,
            flush_interval_ms: 1000,
        },
        Framing::new(&resource),
    );

    // 1. A server span: route matched, headers allow-listed (one repeated, one by pattern,
    //    one credential that the pattern must not pick), tracestate kept.
    let server_req = fields(&[
        (":method", b"GET"),
        (":path", b"/users/42?token=secret"),
        (":authority", b"productpage:9080"),
        (":scheme", b"http"),
        ("user-agent", b"curl/8.5.0"),
        ("x-request-id", b"5d3f0c1e"),
        ("x-tenant", b"acme"),
        ("x-tenant", b"beta"),
        ("x-feature-flag", b"on"),
        ("x-feature-token", b"hidden"),
    ]);
    let server_resp = fields(&[(":status", b"200"), ("content-type", b"application/json")]);
    let server = Exchange {
        request: Some(&server_req),
        route: Some("/users/{id}"),
        kind: Some(SpanKind::Server),
        start_ns: 1_700_000_000_000_000_000,
        end_ns: 1_700_000_000_002_500_000,
        protocol: Some(b"HTTP/1.1"),
        status: 200,
        response_flags: 0,
        code_details: None,
        request_body_size: 0,
        response_body_size: 1234,
        source_address: Some(b"10.0.0.1:51234"),
        upstream_address: Some(b"127.0.0.1:9080"),
        cluster: Some(b"inbound|9080||"),
        response_headers: Some(&server_resp),
        ..Exchange::default()
    };
    // 2. A client span that failed: 503 with upstream connection failure, IPv6 peer,
    //    non-UTF-8 and over-long header values, an unknown method.
    let long = vec![b'a'; MAX_VALUE_LEN + 100];
    let client_req = fields(&[
        (":method", b"PROPFIND"),
        (":path", b"/reviews/1"),
        (":authority", b"reviews"),
        (":scheme", b"https"),
        ("user-agent", &long),
        ("x-tenant", b"caf\xe9"),
    ]);
    let client = Exchange {
        request: Some(&client_req),
        route: None,
        kind: Some(SpanKind::Client),
        start_ns: 1_700_000_000_000_100_000,
        end_ns: 1_700_000_000_001_000_000,
        protocol: Some(b"HTTP/2"),
        status: 503,
        response_flags: 1 << 5,
        code_details: Some(b"upstream_reset_before_response_started{connection_failure}"),
        request_body_size: 10,
        response_body_size: 91,
        source_address: None,
        upstream_address: Some(b"[fd00::2]:9080"),
        cluster: Some(b"outbound|9080||reviews.bookinfo.svc.cluster.local"),
        response_headers: None,
        ..Exchange::default()
    };
    // 3. A root span of a reset request: no response at all.
    let bare_req = fields(&[(":method", b"POST"), (":path", b"/")]);
    let reset = Exchange {
        request: Some(&bare_req),
        kind: Some(SpanKind::Server),
        start_ns: 5,
        end_ns: 4,
        ..Exchange::default()
    };

    let cases = [
        (context(1, Some(9), "congo=t61rcWkgMzE"), &server),
        (context(2, Some(1), ""), &client),
        (context(3, None, ""), &reset),
    ];
    for (ctx, ex) in &cases {
        queue.push(0, |buf| encode_span(buf, ctx, ex, &options));
    }
    let out = queue.next_batch(0, true).unwrap();
    assert_eq!(out.spans(), 3);

    // The collector's validator accepts it and counts 3 spans.
    assert_eq!(
        validate(Signal::Traces, out.body(), &Limits::default()),
        Ok(3)
    );

    // prost decodes it, and re-encoding gives the same bytes (no stray or duplicate field).
    let request = ExportTraceServiceRequest::decode(out.body()).unwrap();
    assert_eq!(request.encode_to_vec(), out.body());

    let [rs] = request.resource_spans.as_slice() else {
        panic!("one ResourceSpans: {request:?}")
    };
    assert_eq!(rs.schema_url, SCHEMA_URL);
    assert_eq!(
        attrs(&rs.resource.as_ref().unwrap().attributes),
        expect(&[
            ("service.name", "productpage.bookinfo"),
            ("k8s.pod.name", "productpage-v1-abc")
        ])
    );
    let [ss] = rs.scope_spans.as_slice() else {
        panic!("one ScopeSpans")
    };
    assert_eq!(ss.schema_url, SCHEMA_URL);
    let scope = ss.scope.as_ref().unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        (SCOPE_NAME, SCOPE_VERSION)
    );
    let [s1, s2, s3] = ss.spans.as_slice() else {
        panic!("three spans")
    };

    let ids = |s: &Span| {
        (
            s.trace_id.clone(),
            s.span_id.clone(),
            s.parent_span_id.clone(),
        )
    };
    assert_eq!(ids(s1), (vec![0x4b; 16], vec![1; 8], vec![9; 8]));
    assert_eq!(s1.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(s1.name, "GET /users/{id}");
    assert_eq!(s1.kind(), PbKind::Server);
    assert_eq!(
        (s1.start_time_unix_nano, s1.end_time_unix_nano),
        (1_700_000_000_000_000_000, 1_700_000_000_002_500_000)
    );
    // Sampled, parent known to be remote.
    assert_eq!(s1.flags, 0x301);
    assert_eq!(s1.status, None, "a 200 leaves the status unset");
    assert_eq!(
        attrs(&s1.attributes),
        expect(&[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("url.path", "/users/42"),
            ("server.address", "productpage"),
            ("server.port", "int:9080"),
            ("http.route", "/users/{id}"),
            ("http.response.status_code", "int:200"),
            ("user_agent.original", "curl/8.5.0"),
            ("network.protocol.version", "1.1"),
            ("client.address", "10.0.0.1"),
            ("network.peer.address", "10.0.0.1"),
            ("network.peer.port", "int:51234"),
            ("http.response.body.size", "int:1234"),
            ("upstream_cluster", "inbound|9080||"),
            ("upstream_address", "127.0.0.1:9080"),
            ("guid:x-request-id", "5d3f0c1e"),
            ("http.request.header.x-tenant", "acme|beta"),
            ("http.request.header.x-feature-flag", "on"),
            ("http.response.header.content-type", "application/json"),
            ("team", "payments"),
        ])
    );

    assert_eq!(ids(s2), (vec![0x4b; 16], vec![2; 8], vec![1; 8]));
    assert_eq!(s2.name, "HTTP");
    assert_eq!(s2.kind(), PbKind::Client);
    let status = s2.status.as_ref().unwrap();
    assert_eq!(status.code(), StatusCode::Error);
    assert_eq!(
        status.message,
        "upstream_reset_before_response_started{connection_failure}"
    );
    let a2 = attrs(&s2.attributes);
    assert_eq!(a2["http.request.method"], "_OTHER");
    assert_eq!(a2["http.request.method_original"], "PROPFIND");
    assert_eq!(a2["url.full"], "https://reviews/reviews/1");
    assert_eq!(a2["server.port"], "int:443");
    assert_eq!(a2["network.peer.address"], "fd00::2");
    assert_eq!(a2["network.protocol.version"], "2");
    assert_eq!(a2["http.request.body.size"], "int:10");
    assert_eq!(a2["response_flags"], "UF");
    assert_eq!(a2["error.type"], "503");
    assert_eq!(a2["user_agent.original"].len(), MAX_VALUE_LEN);
    assert_eq!(a2["http.request.header.x-tenant"], "caf\u{fffd}");
    assert!(!a2.contains_key("http.route"));

    assert_eq!(ids(s3), (vec![0x4b; 16], vec![3; 8], vec![]));
    assert_eq!(s3.name, "POST");
    assert_eq!(s3.flags, 0x101, "a root span: parent not remote");
    assert_eq!((s3.start_time_unix_nano, s3.end_time_unix_nano), (5, 5));
    assert_eq!(s3.status.as_ref().unwrap().code(), StatusCode::Error);
    let a3 = attrs(&s3.attributes);
    assert_eq!(a3["error.type"], "_OTHER");
    assert!(!a3.contains_key("http.response.status_code"));
}

/// Encodes one span of `ex` alone and decodes it.
fn one_span(ex: &Exchange<'_>, options: &SpanOptions) -> Span {
    let mut queue = ExportQueue::new(
        QueueSettings {
            batch_size: 1,
            max_spans: 1,
            when_full: WhenFull::DropNewest,
            flush_interval_ms: 1000,
        },
        Framing::new(&[]),
    );
    queue.push(0, |buf| {
        encode_span(buf, &context(1, None, ""), ex, options)
    });
    let out = queue.next_batch(0, true).unwrap();
    let mut request = ExportTraceServiceRequest::decode(out.body()).unwrap();
    request
        .resource_spans
        .remove(0)
        .scope_spans
        .remove(0)
        .spans
        .remove(0)
}

/// The HTTP conventions' finer points: the client's address is not always the connection's
/// peer; a request the proxy could not parse is the caller's error on a server span; a status
/// description says what the status code does not.
#[test]
fn client_address_caller_faults_and_status_descriptions() {
    let options = SpanOptions::default();
    let req = fields(&[(":method", b"GET"), (":path", b"/"), (":authority", b"a")]);
    let base = Exchange {
        request: Some(&req),
        kind: Some(SpanKind::Server),
        status: 200,
        ..Exchange::default()
    };
    // A peer the connection manager took from `x-forwarded-for` has port 0: the client's
    // address, not the network peer's.
    let s = one_span(
        &Exchange {
            source_address: Some(b"203.0.113.7:0"),
            ..base.clone()
        },
        &options,
    );
    let a = attrs(&s.attributes);
    assert_eq!(a["client.address"], "203.0.113.7");
    assert!(!a.contains_key("network.peer.address"), "{a:?}");
    assert!(!a.contains_key("network.peer.port"), "{a:?}");
    let s = one_span(
        &Exchange {
            source_address: Some(b"[fd00::7]:40000"),
            ..base.clone()
        },
        &options,
    );
    let a = attrs(&s.attributes);
    assert_eq!(
        (
            a["client.address"].as_str(),
            a["network.peer.address"].as_str(),
            a["network.peer.port"].as_str()
        ),
        ("fd00::7", "fd00::7", "int:40000")
    );
    // DPE (Envoy could not parse the request, answered 400): unset on a server span, an
    // error on a client span, as any 400.
    let dpe = Exchange {
        status: 400,
        response_flags: 1 << 18,
        code_details: Some(b"http1.codec_error"),
        ..base.clone()
    };
    let s = one_span(&dpe, &options);
    assert_eq!(s.status, None);
    assert!(!attrs(&s.attributes).contains_key("error.type"));
    let s = one_span(
        &Exchange {
            kind: Some(SpanKind::Client),
            ..dpe
        },
        &options,
    );
    assert_eq!(s.status.as_ref().unwrap().code(), StatusCode::Error);
    assert_eq!(s.status.as_ref().unwrap().message, "http1.codec_error");
    assert_eq!(attrs(&s.attributes)["error.type"], "400");
    // The upstream's own 503: no description beyond the code.
    let s = one_span(
        &Exchange {
            status: 503,
            code_details: Some(b"via_upstream"),
            ..base
        },
        &options,
    );
    let status = s.status.as_ref().unwrap();
    assert_eq!(
        (status.code(), status.message.as_str()),
        (StatusCode::Error, "")
    );
}

/// `span.known_methods` replaces the conventions' list: a WebDAV method is named, a method
/// left out becomes `_OTHER`.
#[test]
fn configured_methods_are_recorded_as_they_are() {
    let config = Config::from_json(
        br#"{"export": {"cluster": "c"}, "span": {"known_methods": ["GET", "PROPFIND"]}}"#,
    )
    .unwrap();
    let options = SpanOptions::new(&config.span);
    for (method, name, recorded, original) in [
        (&b"PROPFIND"[..], "PROPFIND", "PROPFIND", None),
        (b"POST", "HTTP", "_OTHER", Some("POST")),
    ] {
        let req = fields(&[(":method", method), (":path", b"/d")]);
        let s = one_span(
            &Exchange {
                request: Some(&req),
                status: 207,
                ..Exchange::default()
            },
            &options,
        );
        let a = attrs(&s.attributes);
        assert_eq!(s.name, name);
        assert_eq!(a["http.request.method"], recorded);
        assert_eq!(
            a.get("http.request.method_original").map(String::as_str),
            original
        );
    }
}

#[test]
fn envoy_names_query_and_the_official_example_resource() {
    let config = Config::from_json(
        br#"{"export": {"cluster": "c"}, "span": {"name": "envoy", "url_query": true}}"#,
    )
    .unwrap();
    let options = SpanOptions::new(&config.span);
    let req = fields(&[
        (":method", b"GET"),
        (":path", b"/api/v1/items?page=2#frag"),
        (":authority", b"api.example.com:8443"),
        (":scheme", b"https"),
    ]);
    let ex = Exchange {
        request: Some(&req),
        kind: Some(SpanKind::Client),
        status: 404,
        start_ns: 1,
        end_ns: 2,
        ..Exchange::default()
    };
    let mut queue = ExportQueue::new(
        QueueSettings {
            batch_size: 1,
            max_spans: 1,
            when_full: WhenFull::DropNewest,
            flush_interval_ms: 50,
        },
        Framing::new(&[]),
    );
    queue.push(0, |buf| {
        encode_span(buf, &context(7, None, ""), &ex, &options)
    });
    let out = queue.next_batch(0, false).unwrap();
    assert_eq!(
        validate(Signal::Traces, out.body(), &Limits::default()),
        Ok(1)
    );
    let request = ExportTraceServiceRequest::decode(out.body()).unwrap();
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "api.example.com:8443/api/v1/items");
    let a = attrs(&span.attributes);
    assert_eq!(a["url.query"], "page=2");
    assert_eq!(
        a["url.full"],
        "https://api.example.com:8443/api/v1/items?page=2"
    );
    assert_eq!(a["server.port"], "int:8443");
    // A client's 404 is an error; a server's is not.
    assert_eq!(span.status.as_ref().unwrap().code(), StatusCode::Error);
    assert_eq!(a["error.type"], "404");
    // An empty resource is still a valid (empty) Resource message.
    assert_eq!(
        request.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes,
        vec![]
    );
}

/// A finished stream as Envoy answers the filter at the access log.
struct Stream {
    response: Fields,
    trailers: Fields,
    flags: u64,
    now_ns: u64,
}

/// Envoy's own counts, different from any header value so that the test sees which was used.
const ENVOY_REQUEST_SIZE: u64 = 777;
const ENVOY_RESPONSE_SIZE: u64 = 888;
/// The clock when the filter saw the request headers.
const REQUEST_TIME: u64 = 1_700_000_000_000_000_000;

impl StreamInfo for Stream {
    fn property(&mut self, p: Property) -> Option<Vec<u8>> {
        let n = |v: u64| Some(v.to_le_bytes().to_vec());
        match p {
            Property::ListenerDirection => n(1),
            Property::ResponseCode => n(502),
            Property::ResponseFlags => n(self.flags),
            Property::RequestSize => n(ENVOY_REQUEST_SIZE),
            Property::ResponseSize => n(ENVOY_RESPONSE_SIZE),
            Property::RequestProtocol => Some(b"HTTP/1.1".to_vec()),
            Property::SourceAddress => Some(b"10.0.0.1:51234".to_vec()),
            Property::UpstreamAddress => Some(b"10.0.0.2:8080".to_vec()),
            Property::ClusterName => Some(b"inbound|8080||".to_vec()),
            Property::ResponseCodeDetails => Some(b"upstream_reset".to_vec()),
        }
    }
    fn response_headers(&mut self) -> Fields {
        self.response.clone()
    }
    fn response_trailers(&mut self) -> Fields {
        self.trailers.clone()
    }
    fn now_ns(&mut self) -> u64 {
        self.now_ns
    }
}

/// What the end of a stream puts in the span: the status and body sizes from the headers
/// where they settle them, Envoy's counts otherwise; the start from the clock at the request
/// headers, the end from the clock at the access log.
#[test]
fn the_end_of_a_stream_lands_in_the_span() {
    let tp: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let end = REQUEST_TIME + 2_500_000;
    let ok = fields(&[(":status", b"200"), ("content-length", b"42")]);
    // (case, method and extra request headers, response headers, flags, clock,
    //  want: status, request body size, response body size, end time)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a [u8])],
        Fields,
        u64,
        u64,
        (Option<&'a str>, Option<&'a str>, Option<&'a str>, u64),
    );
    let cases: Vec<Case> = vec![
        (
            "GET, content-length",
            &[(":method", b"GET")],
            ok.clone(),
            0,
            end,
            (Some("int:200"), None, Some("int:42"), end),
        ),
        (
            "POST with a declared body",
            &[(":method", b"POST"), ("content-length", b"12")],
            ok.clone(),
            0,
            end,
            (Some("int:200"), Some("int:12"), Some("int:42"), end),
        ),
        (
            "chunked both ways: Envoy's counts",
            &[(":method", b"POST"), ("transfer-encoding", b"chunked")],
            fields(&[(":status", b"200"), ("transfer-encoding", b"chunked")]),
            0,
            end,
            (Some("int:200"), Some("int:777"), Some("int:888"), end),
        ),
        (
            "reset after the response headers: Envoy's counts",
            &[(":method", b"POST"), ("content-length", b"12")],
            ok.clone(),
            1 << 4,
            end,
            (Some("int:200"), Some("int:777"), Some("int:888"), end),
        ),
        (
            "no response headers: Envoy's code",
            &[(":method", b"GET")],
            Fields::default(),
            1 << 4,
            end,
            (Some("int:502"), None, Some("int:888"), end),
        ),
        (
            "HEAD",
            &[(":method", b"HEAD")],
            ok.clone(),
            0,
            end,
            (Some("int:200"), None, None, end),
        ),
        (
            "a clock behind the start: a zero-length span, never a negative one",
            &[(":method", b"GET")],
            ok.clone(),
            0,
            REQUEST_TIME - 1,
            (Some("int:200"), None, Some("int:42"), REQUEST_TIME),
        ),
    ];
    let config = Config::from_json(br#"{"export": {"cluster": "c"}}"#).unwrap();
    let tracer = Tracer::new(&config, &NodeInfo::default());
    for (name, request, response, flags, now_ns, want) in cases {
        let mut queue = ExportQueue::new(
            QueueSettings {
                batch_size: 1,
                max_spans: 1,
                when_full: WhenFull::DropNewest,
                flush_interval_ms: 1000,
            },
            Framing::new(&[("service.name".into(), "s".into())]),
        );
        let mut headers = request.to_vec();
        headers.extend([(":path", &b"/"[..]), ("traceparent", tp)]);
        let outcome = tracer.on_request_headers(
            fields(&headers),
            &mut RecordedWrites::default(),
            &mut RandomIds::new(SplitMix64(1)),
            Some(&mut queue),
            || REQUEST_TIME,
        );
        let mut stream = Stream {
            response,
            trailers: Fields::default(),
            flags,
            now_ns,
        };
        tracer.on_log(&outcome.pending.unwrap(), &mut stream, &mut queue);
        let out = queue.next_batch(0, true).unwrap();
        let request = ExportTraceServiceRequest::decode(out.body()).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        let a = attrs(&span.attributes);
        let got = (
            a.get("http.response.status_code").map(String::as_str),
            a.get("http.request.body.size").map(String::as_str),
            a.get("http.response.body.size").map(String::as_str),
            span.end_time_unix_nano,
        );
        assert_eq!(got, want, "{name}: {a:#?}");
        assert_eq!(span.start_time_unix_nano, REQUEST_TIME, "{name}");
    }
}

/// A gRPC call's span: the RPC conventions' attributes, and its status from `grpc-status`
/// (in the trailers, or in the headers of a trailers-only answer), which HTTP's 200 hides.
#[test]
fn grpc_calls_take_their_status_from_grpc_status() {
    let tp: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ok = fields(&[(":status", b"200"), ("content-type", b"application/grpc")]);
    let trailers =
        |code: &[u8], message: &[u8]| fields(&[("grpc-status", code), ("grpc-message", message)]);
    // (case, kind, response headers, trailers,
    //  want: status code, message, rpc.grpc.status_code, error.type)
    type Case<'a> = (
        &'a str,
        &'a str,
        Fields,
        Fields,
        (StatusCode, &'a str, Option<&'a str>, Option<&'a str>),
    );
    let cases: Vec<Case> = vec![
        (
            "OK",
            "server",
            ok.clone(),
            trailers(b"0", b""),
            (StatusCode::Unset, "", Some("int:0"), None),
        ),
        (
            "UNAVAILABLE from the server: its fault",
            "server",
            ok.clone(),
            trailers(b"14", b"backend down"),
            (
                StatusCode::Error,
                "backend down",
                Some("int:14"),
                Some("UNAVAILABLE"),
            ),
        ),
        (
            "NOT_FOUND from the server: the caller's",
            "server",
            ok.clone(),
            trailers(b"5", b"no such user"),
            (StatusCode::Unset, "", Some("int:5"), None),
        ),
        (
            "NOT_FOUND on a client span",
            "client",
            ok.clone(),
            trailers(b"5", b"no such user"),
            (
                StatusCode::Error,
                "no such user",
                Some("int:5"),
                Some("NOT_FOUND"),
            ),
        ),
        (
            "trailers-only: the status in the headers",
            "server",
            fields(&[
                (":status", b"200"),
                ("content-type", b"application/grpc"),
                ("grpc-status", b"13"),
                ("grpc-message", b"boom"),
            ]),
            Fields::default(),
            (StatusCode::Error, "boom", Some("int:13"), Some("INTERNAL")),
        ),
        (
            "an HTTP failure keeps HTTP's rules",
            "server",
            fields(&[(":status", b"503")]),
            Fields::default(),
            (StatusCode::Error, "upstream_reset", None, Some("503")),
        ),
    ];
    for (name, kind, response, trailers, want) in cases {
        let config = Config::from_json(
            format!(r#"{{"export": {{"cluster": "c"}}, "span": {{"kind": "{kind}"}}}}"#).as_bytes(),
        )
        .unwrap();
        let tracer = Tracer::new(&config, &NodeInfo::default());
        let mut queue = ExportQueue::new(
            QueueSettings {
                batch_size: 1,
                max_spans: 1,
                when_full: WhenFull::DropNewest,
                flush_interval_ms: 1000,
            },
            Framing::new(&[]),
        );
        let outcome = tracer.on_request_headers(
            fields(&[
                (":method", b"POST"),
                (":path", b"/helloworld.Greeter/SayHello"),
                ("content-type", b"application/grpc"),
                ("traceparent", tp),
            ]),
            &mut RecordedWrites::default(),
            &mut RandomIds::new(SplitMix64(1)),
            Some(&mut queue),
            || REQUEST_TIME,
        );
        let mut stream = Stream {
            response,
            trailers,
            flags: 0,
            now_ns: REQUEST_TIME + 1,
        };
        tracer.on_log(&outcome.pending.unwrap(), &mut stream, &mut queue);
        let out = queue.next_batch(0, true).unwrap();
        let request = ExportTraceServiceRequest::decode(out.body()).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        let a = attrs(&span.attributes);
        assert_eq!(
            (
                a["rpc.system"].as_str(),
                a["rpc.service"].as_str(),
                a["rpc.method"].as_str()
            ),
            ("grpc", "helloworld.Greeter", "SayHello"),
            "{name}"
        );
        let status = span.status.clone().unwrap_or_default();
        let got = (
            status.code(),
            status.message.as_str(),
            a.get("rpc.grpc.status_code").map(String::as_str),
            a.get("error.type").map(String::as_str),
        );
        assert_eq!(got, want, "{name}: {a:#?}");
    }
}
