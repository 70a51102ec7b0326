use super::*;
use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::{Batch, gzip};
use crate::processor::testspans::ctx;
use prost::Message;
use std::sync::Mutex;
use std::time::Duration;

/// Records batches and the client they came with; answers with a configured error.
#[derive(Default)]
struct Sink {
    got: Mutex<Vec<(Batch, Option<Arc<ClientInfo>>)>>,
    answer: Mutex<Option<ConsumeError>>,
}

impl Consumer for Sink {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if let Some(e) = self.answer.lock().unwrap().clone() {
                return Err(e);
            }
            self.got.lock().unwrap().push((batch, client::current()));
            Ok(())
        })
    }
}

struct Running {
    r: ZipkinReceiver,
    sink: Arc<Sink>,
    url: String,
    ctx: Context,
}

async fn start(extra: &str) -> Running {
    start_with_host(extra, crate::extension::Host::default()).await
}

async fn start_with_host(extra: &str, host: crate::extension::Host) -> Running {
    let yaml = format!("endpoint: 127.0.0.1:0\n{extra}");
    let cfg: ZipkinConfig =
        crate::registry::parse_typed(&crate::config::value::from_yaml(&yaml).unwrap()).unwrap();
    assert_eq!(cfg.validate(), vec![]);
    let mut c = ctx("zipkin");
    c.kind = crate::component::Kind::Receiver;
    c.host = Arc::new(host);
    let sink = Arc::new(Sink::default());
    let mut r = ZipkinReceiver::new(cfg, &c, sink.clone()).unwrap();
    r.start().await.unwrap();
    let url = format!("http://{}", r.server.as_ref().unwrap().local_addr);
    Running {
        r,
        sink,
        url,
        ctx: c,
    }
}

async fn post(
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, String) {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{url}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

const SPAN: &str = r#"[{"traceId":"5b8efff798038103d269b633813fc60c","id":"00f067aa0ba902b7","kind":"SERVER","name":"get /","timestamp":1706175283018000,"duration":1000,"localEndpoint":{"serviceName":"frontend"},"tags":{"http.status_code":"200"}}]"#;

fn only_span_name(b: &Batch) -> (String, String) {
    let req = ExportTraceServiceRequest::decode(b.bytes().as_ref()).unwrap();
    let rs = &req.resource_spans[0];
    let service = rs.resource.as_ref().unwrap().attributes[0]
        .value
        .clone()
        .unwrap()
        .value
        .unwrap();
    let crate::otlp::proto::common::v1::any_value::Value::StringValue(service) = service else {
        panic!("service.name is not a string")
    };
    (service, rs.scope_spans[0].spans[0].name.clone())
}

#[tokio::test]
async fn json_protobuf_and_compressed_bodies_are_accepted() {
    let mut t = start("").await;
    let pb = {
        let mut spans = meshtrace_zipkin::proto::ListOfSpans::default();
        spans.spans.push(meshtrace_zipkin::proto::Span {
            trace_id: vec![1; 16],
            id: vec![2; 8],
            name: "proto span".into(),
            timestamp: 1,
            local_endpoint: Some(meshtrace_zipkin::proto::ProtoEndpoint {
                service_name: "pb".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        spans.encode_to_vec()
    };
    let deflated = {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(SPAN.as_bytes()).unwrap();
        z.finish().unwrap()
    };
    for (headers, body) in [
        (
            vec![("content-type", "application/json")],
            SPAN.as_bytes().to_vec(),
        ),
        // No content type: JSON, as the Collector assumes.
        (vec![], SPAN.as_bytes().to_vec()),
        (
            vec![
                ("content-type", "application/json; charset=utf-8"),
                ("content-encoding", "gzip"),
            ],
            gzip::compress(SPAN.as_bytes(), 6),
        ),
        (
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "deflate"),
            ],
            deflated,
        ),
        (vec![("content-type", "application/x-protobuf")], pb),
    ] {
        let (status, _, text) = post(&t.url, "/api/v2/spans", &headers, body).await;
        assert_eq!((status, text.as_str()), (202, ""), "{headers:?}");
    }
    let got: Vec<(String, String)> = t
        .sink
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| only_span_name(b))
        .collect();
    assert_eq!(
        got[..4],
        vec![("frontend".to_owned(), "get /".to_owned()); 4]
    );
    assert_eq!(got[4], ("pb".to_owned(), "proto span".to_owned()));
    let m = t.ctx.telemetry.render();
    for l in [
        "otelcol_receiver_accepted_spans_total{receiver=\"zipkin\",",
        "transport=\"http_v2_json\"} 4",
        "transport=\"http_v2_proto\"} 1",
    ] {
        assert!(m.contains(l), "{l} in\n{m}");
    }
    t.r.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_a_clear_answer() {
    let mut t = start("max_request_body_size: 2048\n").await;
    for (path, headers, body, status, text) in [
        (
            "/api/v1/spans",
            vec![],
            SPAN.as_bytes().to_vec(),
            400,
            "Zipkin v1 spans are not supported",
        ),
        (
            "/spans",
            vec![],
            SPAN.as_bytes().to_vec(),
            404,
            "404 page not found",
        ),
        (
            "/api/v2/spans",
            vec![],
            b"{\"not\":\"a list\"}".to_vec(),
            400,
            "invalid Zipkin v2 JSON",
        ),
        (
            "/api/v2/spans",
            vec![],
            br#"[{"traceId":"1","id":"0"}]"#.to_vec(),
            400,
            "invalid span 0: invalid id",
        ),
        (
            "/api/v2/spans",
            vec![("content-type", "application/x-protobuf")],
            vec![0xff; 3],
            400,
            "invalid Zipkin protobuf",
        ),
        (
            "/api/v2/spans",
            vec![("content-encoding", "gzip")],
            b"not gzip".to_vec(),
            400,
            "gzip",
        ),
        (
            "/api/v2/spans",
            vec![("content-encoding", "br")],
            SPAN.as_bytes().to_vec(),
            400,
            "unsupported Content-Encoding \"br\"",
        ),
        (
            "/api/v2/spans",
            vec![],
            vec![b' '; 4096],
            413,
            "request body exceeds 2048 bytes",
        ),
        (
            "/api/v2/spans",
            vec![("content-encoding", "gzip")],
            gzip::compress(&[b' '; 100_000], 9),
            413,
            "decompressed body exceeds 2048 bytes",
        ),
    ] {
        let (s, _, body) = post(&t.url, path, &headers, body).await;
        assert_eq!(s, status, "{path} {headers:?}: {body}");
        assert!(body.contains(text), "{path}: {body}");
    }
    assert!(t.sink.got.lock().unwrap().is_empty());
    // An empty list is fine.
    assert_eq!(
        post(&t.url, "/api/v2/spans", &[], b"[]".to_vec()).await.0,
        202
    );
    t.r.shutdown().await;
}

#[tokio::test]
async fn downstream_refusals_map_to_retry_answers() {
    let mut t = start("").await;
    for (answer, status, retry_after) in [
        (
            ConsumeError::retryable("data refused due to high memory usage"),
            503,
            None,
        ),
        (
            ConsumeError::Retryable {
                reason: "queue full".into(),
                retry_after: Some(Duration::from_millis(1500)),
                throttled: true,
            },
            429,
            Some("2"),
        ),
        (
            ConsumeError::unavailable_for(
                "data refused due to high memory usage",
                Duration::from_millis(100),
            ),
            503,
            Some("1"),
        ),
        (ConsumeError::permanent("filter processor: boom"), 400, None),
    ] {
        *t.sink.answer.lock().unwrap() = Some(answer.clone());
        let (s, h, body) = post(&t.url, "/api/v2/spans", &[], SPAN.as_bytes().to_vec()).await;
        assert_eq!(s, status, "{answer:?}");
        assert!(body.contains(&answer.to_string()), "{body}");
        assert_eq!(
            h.get("retry-after").and_then(|v| v.to_str().ok()),
            retry_after
        );
    }
    let m = t.ctx.telemetry.render();
    assert!(
        m.contains("otelcol_receiver_refused_spans_total{receiver=\"zipkin\",")
            && m.contains("transport=\"http_v2_json\"} 4"),
        "{m}"
    );
    t.r.shutdown().await;
}

#[tokio::test]
async fn the_client_travels_with_the_request() {
    let mut t = start("include_metadata: true\n").await;
    post(
        &t.url,
        "/api/v2/spans",
        &[("x-tenant", "blue")],
        SPAN.as_bytes().to_vec(),
    )
    .await;
    let got = t.sink.got.lock().unwrap()[0].1.clone().unwrap();
    assert_eq!(got.address, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(
        got.metadata_values("x-tenant").collect::<Vec<_>>(),
        ["blue"]
    );
    t.r.shutdown().await;

    // Without include_metadata: the address only.
    let mut t = start("").await;
    post(
        &t.url,
        "/api/v2/spans",
        &[("x-tenant", "blue")],
        SPAN.as_bytes().to_vec(),
    )
    .await;
    let got = t.sink.got.lock().unwrap()[0].1.clone().unwrap();
    assert!(got.metadata.is_empty());
    assert!(got.address.is_some());
    t.r.shutdown().await;
}

#[test]
fn config_defaults_and_refusals() {
    let cfg: ZipkinConfig =
        crate::registry::parse_typed(&crate::config::value::from_yaml("{}").unwrap()).unwrap();
    assert_eq!(cfg.endpoint, "localhost:9411");
    assert!(!cfg.parse_string_tags);
    for (yaml, want) in [
        ("endpoint: nowhere", "field `endpoint`"),
        (
            "tls: {cert_file: x}",
            "field `tls.key_file`: a server needs a private key",
        ),
        (
            "cors: {allowed_origins: ['']}",
            "field `cors.allowed_origins.0`: an origin must not be empty",
        ),
        ("limits: {max_depth: 40}", "field `limits.max_depth`"),
    ] {
        let cfg: ZipkinConfig =
            crate::registry::parse_typed(&crate::config::value::from_yaml(yaml).unwrap()).unwrap();
        let e: Vec<String> = cfg.validate().iter().map(ToString::to_string).collect();
        assert!(e.iter().any(|m| m.contains(want)), "{yaml}: {e:?}");
    }
}

/// Writes `bytes` on a new connection, keeps it open without sending more, and returns what
/// the server answered before closing it: `Some(status)`, or `None` when it closed without
/// an answer. Fails the test when nothing happens within 30 s.
async fn raw(url: &str, bytes: &[u8]) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .expect("the server neither answered nor closed the connection")
        .ok();
    let text = String::from_utf8_lossy(&buf);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test]
async fn slow_bodies_get_408_and_slow_headers_are_cut_off() {
    let mut t = start("read_timeout: 200ms\nread_header_timeout: 200ms\n").await;
    let half_body = format!(
        "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        SPAN.len(),
        &SPAN[..SPAN.len() / 2]
    );
    assert_eq!(raw(&t.url, half_body.as_bytes()).await, Some(408));
    assert_eq!(
        raw(
            &t.url,
            b"POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nX-Slow: "
        )
        .await,
        None
    );
    assert!(t.sink.got.lock().unwrap().is_empty());
    // The receiver still serves well-behaved clients.
    assert_eq!(
        post(&t.url, "/api/v2/spans", &[], SPAN.as_bytes().to_vec())
            .await
            .0,
        202
    );
    t.r.shutdown().await;
}

#[tokio::test]
async fn limits_apply_to_the_translated_spans() {
    let mut t = start("limits:\n  max_attributes: 2\n  max_value_bytes: 16\n").await;
    let span = |tags: &str| {
        format!(
            r#"[{{"traceId":"5b8efff798038103d269b633813fc60c","id":"00f067aa0ba902b7","name":"x","timestamp":1,"localEndpoint":{{"serviceName":"svc"}},"tags":{{{tags}}}}}]"#
        )
        .into_bytes()
    };
    for (tags, status, text) in [
        (r#""a":"1","b":"2""#, 202, ""),
        (
            r#""a":"1","b":"2","c":"3""#,
            400,
            "spans[0].attributes[2]: more than 2 attributes",
        ),
        (
            r#""a":"12345678901234567""#,
            400,
            "value of 17 bytes exceeds the limit of 16",
        ),
    ] {
        let (s, _, body) = post(&t.url, "/api/v2/spans", &[], span(tags)).await;
        assert_eq!(s, status, "{tags}: {body}");
        assert!(body.contains(text), "{tags}: {body}");
    }
    assert_eq!(t.sink.got.lock().unwrap().len(), 1);
    t.r.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_requests_get_401_before_their_body_is_read() {
    use crate::component::ExtensionConfig;
    let ext_cfg: crate::extension::auth::bearer::BearerTokenAuthConfig =
        crate::processor::testspans::config("token: s3cr3t-zk\n");
    let ext = ext_cfg.build(&ctx("bearertokenauth")).unwrap();
    let mut host = crate::extension::Host::default();
    host.add("bearertokenauth", ext.as_ref());
    let mut t = start_with_host("auth:\n  authenticator: bearertokenauth\n", host).await;

    // Headers announce a body that never comes: the answer must not wait for it.
    let no_body = |auth: &str| {
        format!("POST /api/v2/spans HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1000\r\n\r\n")
    };
    assert_eq!(raw(&t.url, no_body("").as_bytes()).await, Some(401));
    assert_eq!(
        raw(&t.url, no_body("Authorization: Bearer nope\r\n").as_bytes()).await,
        Some(401)
    );
    let (s, _, body) = post(
        &t.url,
        "/api/v2/spans",
        &[("authorization", "Bearer s3cr3t-zk")],
        SPAN.as_bytes().to_vec(),
    )
    .await;
    assert_eq!((s, body.as_str()), (202, ""));
    assert_eq!(t.sink.got.lock().unwrap().len(), 1);
    let m = t.ctx.telemetry.render();
    let line = m
        .lines()
        .find(|l| l.starts_with("meshtrace_receiver_unauthenticated_requests_total{"))
        .unwrap_or_else(|| panic!("no unauthenticated counter in\n{m}"));
    assert!(
        line.contains("receiver=\"zipkin\"") && line.ends_with("transport=\"http\"} 2"),
        "{line}"
    );
    t.r.shutdown().await;

    // An authenticator that is not running stops the build with a clear error.
    let cfg: ZipkinConfig =
        crate::processor::testspans::config("auth:\n  authenticator: bearertokenauth/missing\n");
    let e = ZipkinReceiver::new(cfg, &ctx("zipkin"), t.sink.clone())
        .err()
        .unwrap();
    assert!(
        e.reason
            .contains("\"bearertokenauth/missing\" cannot authenticate"),
        "{e}"
    );
}
