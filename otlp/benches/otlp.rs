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

criterion_group! {
    name = otlp;
    config = Criterion::default().with_measurement(CpuTime);
    targets = benches
}
criterion_main!(otlp);
