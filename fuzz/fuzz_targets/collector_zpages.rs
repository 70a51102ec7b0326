//! The `zpages` extension's pages on arbitrary request targets: never panic; every answer is
//! one of the statuses the pages use, and nothing from the request reaches an HTML page
//! unescaped (the pages themselves have no `<script`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_collector::component::{ComponentId, Topology};
use meshtrace_collector::config::{PipelineId, ResolvedPipeline};
use meshtrace_collector::extension::zpages::Pages;
use meshtrace_collector::telemetry::Telemetry;
use std::sync::{Arc, OnceLock};

fn pages() -> &'static Pages {
    static PAGES: OnceLock<Pages> = OnceLock::new();
    PAGES.get_or_init(|| {
        let telemetry = Arc::new(Telemetry::new("fuzz", "1"));
        telemetry.tracez.enable();
        let op = telemetry
            .tracez
            .operation("receiver/otlp/TraceDataReceived")
            .expect("enabled");
        op.start().end(3, "grpc", None);
        op.start().end(5, "http", Some(&"refused"));
        let id = |s: &str| ComponentId::parse(s).expect("a valid id");
        Pages {
            telemetry,
            topology: Arc::new(Topology {
                pipelines: vec![ResolvedPipeline {
                    id: PipelineId::parse("traces").expect("a valid pipeline id"),
                    receivers: vec![id("otlp")],
                    processors: vec![id("batch")],
                    exporters: vec![id("otlp_grpc/tempo")],
                }],
                extensions: vec!["zpages".into()],
            }),
            expvar: true,
            headers: Vec::new(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else { return };
    let Ok(uri) = http::Uri::try_from(rest) else { return };
    let method = if m % 4 == 0 { http::Method::POST } else { http::Method::GET };
    let r = pages().answer(&method, &uri);
    let status = r.status().as_u16();
    assert!(matches!(status, 200 | 302 | 404 | 405), "{status} for {uri}");
    if status == 200 && r.headers()[http::header::CONTENT_TYPE] != "application/json" {
        let body = futures_lite_body(r.into_body());
        assert!(!body.contains("<script"), "unescaped input for {uri}");
    }
});

fn futures_lite_body(b: http_body_util::Full<bytes::Bytes>) -> String {
    use http_body::Body;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let mut b = pin!(b);
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    while let Poll::Ready(Some(Ok(frame))) = b.as_mut().poll_frame(&mut cx) {
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
