//! Data-plane benchmarks on Envoy-sidecar-shaped trace requests (istio-proxy's OpenTelemetry
//! tracer: a resource with k8s/istio attributes, 15 attributes per span), at 10 and 100 spans
//! per request. Time is the benchmark thread's CPU time (see `cpu_time.rs`), so figures hold
//! on a busy shared machine; the `thrpt` line gives it per span (`ns/elem`).
//!
//! Run: `cargo bench -p meshtrace-otlp --bench otlp`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::rewrite::{Action, SpanEdit, TracesEditor, Value, rewrite_traces};
use meshtrace_otlp::views::{ResourceSpansView, ScopeSpansView, SpanView, TracesView};
use meshtrace_otlp::{Batch, Limits, Signal, batching, validate};
use prost::Message;

mod cpu_time;
mod envoy;

use cpu_time::CpuTime;
use envoy::envoy_request;

struct Upsert;
impl<'a> TracesEditor<'a> for Upsert {
    fn span(
        &mut self,
        _: &ResourceSpansView<'a>,
        _: &ScopeSpansView<'a>,
        _: &SpanView<'a>,
        e: &mut SpanEdit<'a>,
    ) -> Action {
        e.attributes
            .upsert("k8s.cluster.name", Value::from("prod-eu-west1"));
        Action::Keep
    }
}

fn benches(c: &mut Criterion<CpuTime>) {
    let limits = Limits::default();
    for n in [10usize, 100] {
        let pb = envoy_request(n);
        let batch = Batch::new_validated(Signal::Traces, Bytes::from(pb.clone()), &limits).unwrap();
        let mut g = c.benchmark_group(format!("traces/{n}_spans"));
        g.throughput(Throughput::Elements(n as u64));
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));

        g.bench_function("validate", |b| {
            b.iter(|| validate(Signal::Traces, black_box(&pb), &limits).unwrap())
        });
        g.bench_function("prost_decode (baseline)", |b| {
            b.iter(|| ExportTraceServiceRequest::decode(black_box(pb.as_slice())).unwrap())
        });
        g.bench_function("prost_decode_encode (baseline)", |b| {
            b.iter(|| {
                ExportTraceServiceRequest::decode(black_box(pb.as_slice()))
                    .unwrap()
                    .encode_to_vec()
            })
        });
        // OTLP/HTTP with `application/json`: the reader against serde into the prost types
        // and prost's encoding, which is what it replaced.
        let js = meshtrace_otlp::json::from_protobuf(Signal::Traces, &pb).unwrap();
        g.bench_function("json_to_protobuf", |b| {
            b.iter(|| meshtrace_otlp::json::to_protobuf(Signal::Traces, black_box(&js)).unwrap())
        });
        g.bench_function("json_serde_prost_encode (baseline)", |b| {
            b.iter(|| {
                serde_json::from_slice::<ExportTraceServiceRequest>(black_box(&js))
                    .unwrap()
                    .encode_to_vec()
            })
        });
        g.bench_function("view_scan_lookup", |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for rs in TracesView::new(black_box(&pb)).resource_spans() {
                    let svc = rs.resource().attributes().get("service.name");
                    for ss in rs.scope_spans() {
                        for span in ss.spans() {
                            if span
                                .attributes()
                                .get("http.status_code")
                                .and_then(|v| v.as_str())
                                == Some("200")
                                && span.kind() == 2
                                && svc.is_some()
                            {
                                hits += 1;
                            }
                        }
                    }
                }
                hits
            })
        });
        let parts: Vec<Batch> = (0..10).map(|_| batch.clone()).collect();
        g.throughput(Throughput::Elements(10 * n as u64));
        g.bench_function(BenchmarkId::new("concat", "10_requests"), |b| {
            b.iter(|| batching::concat(Signal::Traces, black_box(&parts)))
        });
        g.throughput(Throughput::Elements(n as u64));
        let max = (n / 4).max(1);
        g.bench_function(BenchmarkId::new("split", format!("max_{max}")), |b| {
            b.iter(|| batching::split(black_box(&batch), max))
        });
        g.bench_function("rewrite_upsert_1_attr", |b| {
            b.iter(|| rewrite_traces(black_box(&batch), &mut Upsert))
        });
        g.finish();
    }
}

/// What an exporter compresses: a batch of ~8192 sidecar spans (82 requests of 100), at the
/// gzip and zstd levels a user can pick. Sizes are printed once, for the ratio.
fn gzip_levels(c: &mut Criterion<CpuTime>) {
    let limits = Limits::default();
    // Every span with its own random ids and times, as in real traffic (identical copies
    // would flatter the compression ratio).
    let template = ExportTraceServiceRequest::decode(envoy_request(100).as_slice()).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let parts: Vec<Batch> = (0..82)
        .map(|_| {
            let mut req = template.clone();
            for span in req
                .resource_spans
                .iter_mut()
                .flat_map(|r| &mut r.scope_spans)
                .flat_map(|s| &mut s.spans)
            {
                span.trace_id = [next().to_le_bytes(), next().to_le_bytes()].concat();
                span.span_id = next().to_le_bytes().to_vec();
                span.parent_span_id = next().to_le_bytes().to_vec();
                span.start_time_unix_nano = 1_763_800_000_000_000_000 + next() % 1_000_000_000_000;
                span.end_time_unix_nano = span.start_time_unix_nano + next() % 50_000_000;
            }
            Batch::new_validated(Signal::Traces, Bytes::from(req.encode_to_vec()), &limits).unwrap()
        })
        .collect();
    let batch = batching::concat(Signal::Traces, &parts);
    let raw = batch.bytes();
    let mut g = c.benchmark_group("gzip/8200_spans");
    g.throughput(Throughput::Elements(8200));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for level in [1u32, 6] {
        let size = meshtrace_otlp::gzip::compress(raw, level).len();
        eprintln!(
            "gzip level {level}: {} -> {size} bytes ({:.1} % of the input)",
            raw.len(),
            100.0 * size as f64 / raw.len() as f64
        );
        g.bench_function(
            BenchmarkId::new("compress", format!("level_{level}")),
            |b| b.iter(|| meshtrace_otlp::gzip::compress(black_box(raw), level)),
        );
    }
    // `compression: zstd` (the exporters' zstd goes through the same library call).
    for level in [1i32, 3] {
        let size = zstd::encode_all(raw.as_ref(), level).unwrap().len();
        eprintln!(
            "zstd level {level}: {} -> {size} bytes ({:.1} % of the input)",
            raw.len(),
            100.0 * size as f64 / raw.len() as f64
        );
        g.bench_function(
            BenchmarkId::new("compress", format!("zstd_level_{level}")),
            |b| b.iter(|| zstd::encode_all(black_box(raw.as_ref()), level).unwrap()),
        );
    }
    g.finish();
}

criterion_group! {
    name = otlp;
    config = Criterion::default().with_measurement(CpuTime);
    targets = benches, gzip_levels
}
criterion_main!(otlp);
