//! Per-request costs of the filter's core, natively (`scripts/bench.sh filter` or
//! `cargo bench -p meshtrace-filter --bench propagation`). Figures go to BENCHMARKS.md.
//! Inside Envoy the host calls dominate; these show the core adds little on top.

#![cfg(not(target_family = "wasm"))]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use meshtrace_filter::ids::{RandomIds, SplitMix64};
use meshtrace_filter::propagation::{MemoryHeaders, Propagator};
use meshtrace_filter::tracecontext::{TraceParent, TraceState, b3};

const TP: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TS2: &[u8] = b"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

fn parsers(c: &mut Criterion) {
    c.bench_function("traceparent/parse", |b| {
        b.iter(|| TraceParent::parse(black_box(TP)))
    });
    c.bench_function("traceparent/parse_invalid", |b| {
        b.iter(|| {
            TraceParent::parse(black_box(
                b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            ))
        })
    });
    let tp = TraceParent::parse(TP).ok();
    c.bench_function("traceparent/encode", |b| {
        b.iter(|| black_box(tp).map(|t| t.encode()))
    });
    c.bench_function("tracestate/parse_2_members", |b| {
        b.iter(|| TraceState::parse(black_box(TS2)).map(|s| s.len()))
    });
    let ts32: String = (0..32)
        .map(|i| format!("vendor{i:02}=value{i:02}"))
        .collect::<Vec<_>>()
        .join(",");
    c.bench_function("tracestate/parse_truncate_32_members", |b| {
        b.iter(|| {
            TraceState::parse(black_box(ts32.as_bytes())).map(|mut s| {
                s.truncate(256);
                s.to_header_value()
            })
        })
    });
    c.bench_function("b3/parse_single", |b| {
        b.iter(|| {
            b3::parse_single(black_box(
                b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            ))
        })
    });
}

fn propagate(c: &mut Criterion) {
    let propagator = Propagator::default();
    let mut ids = RandomIds::new(SplitMix64(1));
    type Fields = Vec<(&'static str, &'static [u8])>;
    let cases: [(&str, Fields); 3] = [
        (
            "traceparent_tracestate",
            vec![("traceparent", TP), ("tracestate", TS2)],
        ),
        ("no_context", vec![]),
        (
            "b3_single",
            vec![("b3", b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")],
        ),
    ];
    for (name, fields) in cases {
        let headers = MemoryHeaders::new(
            fields
                .iter()
                .copied()
                .chain([(":path", &b"/api"[..]), ("user-agent", b"curl/8")]),
        );
        c.bench_function(&format!("propagate/{name}"), |b| {
            b.iter_batched_ref(
                || headers.clone(),
                |h| propagator.propagate(h, &mut ids),
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, parsers, propagate);
criterion_main!(benches);
