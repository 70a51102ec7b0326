//! The floor module (`filter-wasm/floor`) in the real Envoy, in each mode the benchmarks run
//! (`floor-*` variants of `scripts/bench.sh envoy` and `scripts/envoy-instructions.sh`),
//! through the configs `envoy_config` in `scripts/lib.sh` renders: the floor is only a floor
//! if it does the work it stands for. Propagation must reach the upstream, spans the
//! collector; the header-only twin must not be called at the end of a stream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use meshtrace_e2e::bench::{Ports, render_variant};
use meshtrace_e2e::client;
use meshtrace_e2e::collector::Collector;
use meshtrace_e2e::echo::{EchoServer, Received};
use meshtrace_e2e::envoy::Envoy;
use meshtrace_e2e::ports::free_port;
use meshtrace_e2e::traces::FlatSpan;
use meshtrace_e2e::wasm::{FLOOR_END_OF_STREAM_EXPORTS, filter_wasm, floor_wasm};
use meshtrace_filter::module::export_names;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// `envoy_config VARIANT` as the benchmarks render it, with this test's ports.
fn render(variant: &str, listen: u16, app: u16, collector_http: u16) -> String {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let ports = Ports {
        listen,
        app,
        // Nothing here traces natively.
        sink_grpc: 1,
        sink_http: collector_http,
    };
    let out = render_variant(variant, &wasm, ports).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{variant}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the upstream saw of one request through Envoy, with or without a caller's
/// `traceparent`.
fn upstream_traceparent(listen: u16, caller: bool) -> Option<String> {
    let tp = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let headers: Vec<(&str, &[u8])> = if caller {
        vec![("traceparent", tp.as_bytes())]
    } else {
        vec![]
    };
    let response = client::send(listen, "GET", "/productpage", "productpage", &headers)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    let received = Received::from_body(&response.body).unwrap();
    received.one("traceparent").unwrap().map(str::to_owned)
}

/// `(trace id, span id)` of a `traceparent` of version 00, sampled; panics on anything else.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!((parts[0], parts[3]), ("00", "01"), "{traceparent}");
    assert!(
        parts[1].len() == 32 && parts[2].len() == 16,
        "{traceparent}"
    );
    assert!(
        parts[1]
            .bytes()
            .chain(parts[2].bytes())
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{traceparent}"
    );
    (parts[1].to_owned(), parts[2].to_owned())
}

#[test]
fn the_header_only_twin_exports_no_end_of_stream_callback() {
    let (full, headers) = floor_wasm().unwrap_or_else(|e| panic!("{e}"));
    let full = export_names(&std::fs::read(full).unwrap()).unwrap();
    let headers = export_names(&std::fs::read(headers).unwrap()).unwrap();
    for name in FLOOR_END_OF_STREAM_EXPORTS {
        assert!(full.iter().any(|e| e == name), "{name} not in {full:?}");
    }
    let expected: Vec<&String> = full
        .iter()
        .filter(|e| !FLOOR_END_OF_STREAM_EXPORTS.contains(&e.as_str()))
        .collect();
    assert_eq!(headers.iter().collect::<Vec<_>>(), expected);
}

#[test]
fn every_floor_mode_does_the_work_it_stands_for() {
    let app = EchoServer::start(0).unwrap();
    // (variant, propagates, records spans, records the stream properties)
    for (variant, propagates, spans, properties) in [
        ("floor-empty", false, false, false),
        ("floor-propagation", true, false, false),
        ("floor-bare", true, true, false),
        ("floor-span", true, true, true),
    ] {
        let mut collector = Collector::start(0).unwrap();
        let listen = free_port().unwrap();
        let config = render(variant, listen, app.port(), collector.http_port());
        let envoy = Envoy::start(&config).unwrap_or_else(|e| panic!("{variant}: {e}"));

        let fresh = upstream_traceparent(listen, false);
        let child = upstream_traceparent(listen, true);
        let caller = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
        if !propagates {
            assert_eq!(fresh, None, "{variant}");
            assert_eq!(child.as_deref(), Some(caller.as_str()), "{variant}");
            // Let a span the mode should not record have its chance to arrive.
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(collector.spans().unwrap().len(), 0, "{variant}");
            continue;
        }
        let (fresh_trace, fresh_span) = ids(fresh
            .as_deref()
            .unwrap_or_else(|| panic!("{variant}: no traceparent upstream\n{}", envoy.log())));
        let (child_trace, child_span) = ids(child.as_deref().unwrap());
        assert_eq!(child_trace, CALLER_TRACE, "{variant}");
        assert_ne!(child_span, CALLER_SPAN, "{variant}");
        assert_ne!(fresh_trace, CALLER_TRACE, "{variant}");
        if !spans {
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(collector.spans().unwrap().len(), 0, "{variant}");
            continue;
        }

        let got = collector
            .wait_for(Duration::from_secs(30), |s| s.len() >= 2)
            .unwrap_or_else(|e| panic!("{variant}: {e}\n{}", envoy.log()));
        let mut got: Vec<&FlatSpan> = got.iter().collect();
        got.sort_by_key(|s| s.parent_id());
        let summary: Vec<_> = got
            .iter()
            .map(|s| {
                (
                    s.trace_id(),
                    s.span_id(),
                    s.parent_id(),
                    s.kind(),
                    s.attr("http.response.status_code"),
                )
            })
            .collect();
        let status = Some("200".to_owned());
        assert_eq!(
            summary,
            vec![
                (
                    fresh_trace,
                    fresh_span,
                    String::new(),
                    "SERVER",
                    status.clone()
                ),
                (
                    CALLER_TRACE.to_owned(),
                    child_span,
                    CALLER_SPAN.to_owned(),
                    "SERVER",
                    status
                ),
            ],
            "{variant}"
        );
        for span in &got {
            assert!(span.duration_ms() >= 0.0, "{variant}: {span:?}");
            let answer = span.attr("meshtrace.floor.properties");
            if !properties {
                assert_eq!(answer, None, "{variant}");
                continue;
            }
            // The filter's expression: direction, flags, protocol, peer, upstream, cluster.
            let answer = answer.unwrap_or_else(|| panic!("{variant}: no properties: {span:?}"));
            let parts: Vec<&str> = answer.split('\u{1f}').collect();
            assert_eq!(parts.len(), 6, "{variant}: {answer:?}");
            assert_eq!(
                (parts[0], parts[1], parts[2], parts[5]),
                ("0", "0", "HTTP/1.1", "app"),
                "{variant}: {answer:?}"
            );
            assert!(parts[3].starts_with("127.0.0.1:"), "{variant}: {answer:?}");
            assert_eq!(parts[4], format!("127.0.0.1:{}", app.port()), "{variant}");
        }
    }
}
