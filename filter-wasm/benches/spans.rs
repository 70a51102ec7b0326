//! Per-request costs of span recording in the filter's core, natively
//! (`cargo bench -p meshtrace-filter --bench spans`): the whole tracer flow of a sampled
//! request (header snapshot, propagation, span building, OTLP encoding into the buffer), the
//! encoding alone, and framing a full batch. Inside Envoy the host calls come on top (see the
//! load figures in BENCHMARKS.md).

#![cfg(not(target_family = "wasm"))]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use meshtrace_filter::config::{Config, WhenFull};
use meshtrace_filter::export::{ExportQueue, QueueSettings};
use meshtrace_filter::fields::{Fields, RecordedWrites};
use meshtrace_filter::ids::{RandomIds, SplitMix64};
use meshtrace_filter::node::NodeInfo;
use meshtrace_filter::otlp::{Framing, SpanKind};
use meshtrace_filter::span::{Exchange, SpanOptions, encode_span};
use meshtrace_filter::tracer::{Property, RequestOutcome, StreamInfo, Tracer};

const CONFIG: &[u8] = br#"{"span": {"routes": ["/api/users/{id}"]}, "export": {"cluster": "c"}}"#;

fn request() -> Fields {
    Fields::from_pairs([
        (":method", &b"GET"[..]),
        (":path", b"/api/users/42?page=1"),
        (":authority", b"users.prod.svc.cluster.local:8080"),
        (":scheme", b"http"),
        (
            "user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        ),
        ("x-request-id", b"8a1c5c3e-4a3f-4a8e-9a56-0c6d8e1f2b3a"),
        (
            "traceparent",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("accept", b"application/json"),
    ])
}

struct Stream;

impl StreamInfo for Stream {
    fn property(&mut self, p: Property) -> Option<Vec<u8>> {
        let n = |v: u64| Some(v.to_le_bytes().to_vec());
        match p {
            Property::ListenerDirection => n(1),
            Property::ResponseCode => n(200),
            Property::ResponseFlags | Property::RequestSize => n(0),
            Property::ResponseSize => n(512),
            Property::RequestProtocol => Some(b"HTTP/1.1".to_vec()),
            Property::SourceAddress => Some(b"10.1.2.3:51234".to_vec()),
            Property::UpstreamAddress => Some(b"10.1.2.4:8080".to_vec()),
            Property::ClusterName => Some(b"inbound|8080||".to_vec()),
            Property::ResponseCodeDetails => Some(b"via_upstream".to_vec()),
        }
    }
    fn response_headers(&mut self) -> Fields {
        Fields::from_pairs([
            (":status", &b"200"[..]),
            ("content-type", b"application/json"),
            ("content-length", b"512"),
            ("date", b"Sun, 22 Nov 2026 14:00:00 GMT"),
            ("x-envoy-upstream-service-time", b"3"),
        ])
    }
    fn response_trailers(&mut self) -> Fields {
        Fields::default()
    }
    fn now_ns(&mut self) -> u64 {
        1_700_000_000_001_250_000
    }
}

fn queue(batch: usize) -> ExportQueue {
    ExportQueue::new(
        QueueSettings {
            batch_size: batch,
            max_spans: batch,
            when_full: WhenFull::DropNewest,
            flush_interval_ms: 1000,
        },
        Framing::new(&[("service.name".into(), "users.prod".into())]),
    )
}

/// The request-headers step of the benchmark's sampled request.
fn sampled_headers(tracer: &Tracer, ids: &mut RandomIds<SplitMix64>) -> RequestOutcome {
    tracer.on_request_headers(request(), &mut RecordedWrites::default(), ids, None, || {
        1_700_000_000_000_000_000
    })
}

fn spans(c: &mut Criterion) {
    let config = Config::from_json(CONFIG).unwrap_or_default();
    let tracer = Tracer::new(&config, &NodeInfo::default());
    let mut ids = RandomIds::new(SplitMix64(1));
    let mut q = queue(512);
    c.bench_function("tracer/sampled_request_headers_and_log", |b| {
        b.iter(|| {
            let outcome = sampled_headers(&tracer, &mut ids);
            if let Some(p) = &outcome.pending {
                tracer.on_log(p, &mut Stream, &mut q);
            }
            if q.buffered() >= 512
                && let Some(out) = q.next_batch(0, true)
            {
                q.sent(out, 0);
                q.on_response(
                    0,
                    meshtrace_filter::export::Outcome::Success { rejected: 0 },
                );
            }
        })
    });

    let options = SpanOptions::new(&config.span);
    let req = request();
    let exchange = Exchange {
        request: Some(&req),
        route: Some("/api/users/{id}"),
        kind: Some(SpanKind::Server),
        start_ns: 1,
        end_ns: 2,
        protocol: Some(b"HTTP/1.1"),
        status: 200,
        response_body_size: 512,
        source_address: Some(b"10.1.2.3:51234"),
        upstream_address: Some(b"10.1.2.4:8080"),
        cluster: Some(b"inbound|8080||"),
        ..Exchange::default()
    };
    let outcome = sampled_headers(&tracer, &mut ids);
    let context = outcome.context.unwrap_or_else(fallback_context);
    let mut buf = Vec::with_capacity(1 << 20);
    c.bench_function("span/encode_server_span", |b| {
        b.iter(|| {
            buf.clear();
            encode_span(
                &mut buf,
                black_box(&context),
                black_box(&exchange),
                &options,
            );
            buf.len()
        })
    });

    c.bench_function("export/frame_batch_of_512", |b| {
        b.iter_batched_ref(
            || {
                let mut q = queue(512);
                for _ in 0..512 {
                    q.push(0, |buf| encode_span(buf, &context, &exchange, &options));
                }
                q
            },
            |q| q.next_batch(0, true).map(|o| o.body().len()),
            BatchSize::LargeInput,
        )
    });
}

fn fallback_context() -> meshtrace_filter::propagation::SpanContext {
    meshtrace_filter::propagation::SpanContext {
        trace_id: meshtrace_filter::tracecontext::TraceId([1; 16]),
        span_id: meshtrace_filter::tracecontext::SpanId([2; 8]),
        parent_span_id: None,
        flags: meshtrace_filter::tracecontext::TraceFlags(1),
        tracestate: String::new(),
        origin: meshtrace_filter::propagation::Origin::New,
        b3_debug: false,
    }
}

criterion_group!(benches, spans);
criterion_main!(benches);
