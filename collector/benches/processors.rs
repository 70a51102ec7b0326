//! The data-editing processors on Envoy-sidecar-shaped requests (10 and 100 spans, 15 attributes
//! each, as istio-proxy exports them; `otlp/benches/envoy.rs`): cost per span of the seed
//! pipeline's `filter` (four OTTL conditions) and `attributes` (one upsert), alone and
//! chained, and the `transform` processor doing the same upsert (and a typical mesh clean-up),
//! next to `batching::concat` — what a pass-through pipeline costs per span — for
//! the ratio issue 8 asks about. Also the `routing` connector deciding per resource group, the
//! `spanmetrics` connector counting a request's spans into its series, `servicegraph` storing
//! half calls, and
//! what a `zpages` tracez record adds per request or per exported batch. Time is the benchmark thread's CPU time.
//!
//! Run: `cargo bench -p meshtrace-collector --bench processors`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshtrace_collector::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_collector::otlp::{Batch, Limits, Signal, batching};
use prost::Message;

#[path = "../../otlp/benches/cpu_time.rs"]
mod cpu_time;
#[path = "../../otlp/benches/envoy.rs"]
mod envoy;
#[path = "support/pipeline.rs"]
mod pipeline;

use cpu_time::CpuTime;
use pipeline::{Null, SEED_ATTRIBUTES, SEED_FILTER, chain, connector, now};

/// The Envoy request, with every tenth span renamed so that the seed filter drops it.
fn with_matches(pb: &[u8]) -> Batch {
    let mut req = ExportTraceServiceRequest::decode(pb).unwrap();
    for (n, s) in req.resource_spans[0].scope_spans[0]
        .spans
        .iter_mut()
        .enumerate()
    {
        if n % 10 == 0 {
            s.name = "OperationHandler.handle".into();
        }
    }
    Batch::new_validated(
        Signal::Traces,
        Bytes::from(req.encode_to_vec()),
        &Limits::default(),
    )
    .unwrap()
}

/// The Envoy request regrouped into ten resource groups (a gateway's request from ten
/// sidecars), every other one in namespace `payments`.
fn ten_resources(pb: &[u8]) -> Batch {
    let req = ExportTraceServiceRequest::decode(pb).unwrap();
    let template = &req.resource_spans[0];
    let spans = &template.scope_spans[0].spans;
    let per = spans.len().div_ceil(10);
    let resource_spans = spans
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let mut rs = template.clone();
            rs.scope_spans[0].spans = chunk.to_vec();
            if i % 2 == 0 {
                for kv in &mut rs.resource.as_mut().unwrap().attributes {
                    if kv.key == "k8s.namespace.name" {
                        kv.value = Some(meshtrace_collector::otlp::proto::common::v1::AnyValue {
                            value: Some(
                                meshtrace_collector::otlp::proto::common::v1::any_value::Value::StringValue(
                                    "payments".into(),
                                ),
                            ),
                        });
                    }
                }
            }
            rs
        })
        .collect();
    let req = ExportTraceServiceRequest { resource_spans };
    Batch::new_validated(
        Signal::Traces,
        Bytes::from(req.encode_to_vec()),
        &Limits::default(),
    )
    .unwrap()
}

fn benches(c: &mut Criterion<CpuTime>) {
    for spans in [10, 100] {
        group(c, spans);
    }
}

fn group(c: &mut Criterion<CpuTime>, spans: usize) {
    let pb = envoy::envoy_request(spans);
    let batch =
        Batch::new_validated(Signal::Traces, Bytes::from(pb.clone()), &Limits::default()).unwrap();
    let ten_percent = with_matches(&pb);
    let null: Arc<dyn meshtrace_collector::pipeline::Consumer> = Arc::new(Null);
    let filter = chain(&[("filter", SEED_FILTER)], null.clone());
    let attributes = chain(&[("attributes", SEED_ATTRIBUTES)], null.clone());
    let seed = chain(
        &[("filter", SEED_FILTER), ("attributes", SEED_ATTRIBUTES)],
        null.clone(),
    );
    let resource = chain(
        &[(
            "resource",
            "attributes:\n  - {key: k8s.cluster.name, value: tap-sandbox, action: upsert}\n",
        )],
        null.clone(),
    );
    let sampler = chain(
        &[(
            "probabilistic_sampler",
            "sampling_percentage: 50\nmode: proportional\n",
        )],
        null.clone(),
    );

    let transform_set = chain(
        &[(
            "transform",
            "trace_statements:\n  - context: span\n    statements:\n      - set(attributes[\"cluster\"], \"tap-sandbox\")\n",
        )],
        null.clone(),
    );
    let transform_none = chain(
        &[(
            "transform",
            "trace_statements:\n  - context: span\n    statements:\n      - set(status.code, STATUS_CODE_ERROR) where attributes[\"http.status_code\"] == \"503\"\n",
        )],
        null.clone(),
    );
    let transform_some = chain(
        &[(
            "transform",
            "trace_statements:\n  - context: span\n    statements:\n      - set(status.code, STATUS_CODE_ERROR) where name == \"OperationHandler.handle\"\n",
        )],
        null.clone(),
    );
    let transform_mesh = chain(
        &[(
            "transform",
            r#"trace_statements:
  - context: resource
    statements:
      - set(attributes["k8s.cluster.name"], "east")
  - context: span
    statements:
      - replace_pattern(attributes["url.path"], "[0-9]+", "{id}")
      - set(status.code, STATUS_CODE_ERROR) where attributes["http.response.status_code"] >= 500
      - delete_key(attributes, "user_agent.original")
"#,
        )],
        null.clone(),
    );

    let routing = connector(
        "routing",
        r#"default_pipelines: [traces/default]
table:
  - statement: route() where attributes["k8s.namespace.name"] == "payments"
    pipelines: [traces/payments]
  - condition: attributes["service.name"] == "checkout"
    pipelines: [traces/checkout]
"#,
        &["traces/default", "traces/payments", "traces/checkout"],
        null.clone(),
    );
    let split = ten_resources(&pb);

    let mut g = c.benchmark_group(format!("processors/{spans}_spans"));
    g.throughput(Throughput::Elements(spans as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let parts: Vec<Batch> = (0..2).map(|_| batch.clone()).collect();
    g.throughput(Throughput::Elements(2 * spans as u64));
    g.bench_function("concat (pass-through reference, 2 requests)", |b| {
        b.iter(|| batching::concat(Signal::Traces, black_box(&parts)))
    });
    g.throughput(Throughput::Elements(spans as u64));
    for (name, p, input) in [
        ("filter seed, no match", &filter, &batch),
        ("filter seed, 10% dropped", &filter, &ten_percent),
        ("attributes upsert", &attributes, &batch),
        ("filter + attributes (seed)", &seed, &batch),
        (
            "filter + attributes (seed), 10% dropped",
            &seed,
            &ten_percent,
        ),
        ("resource upsert", &resource, &batch),
        ("probabilistic_sampler 50% proportional", &sampler, &batch),
        ("transform set one attribute", &transform_set, &batch),
        (
            "transform resource + 3 span statements",
            &transform_mesh,
            &batch,
        ),
        ("transform where matching no span", &transform_none, &batch),
        (
            "transform where matching 10% of spans",
            &transform_some,
            &ten_percent,
        ),
        (
            "routing connector, one resource, default route",
            &routing,
            &batch,
        ),
        (
            "routing connector, 10 resources over 2 routes",
            &routing,
            &split,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| now(p.consume(black_box(input).clone())).unwrap())
        });
    }
    // The connector's consume is this under a mutex; its series exist after the first request,
    // as they do for a mesh's steady traffic.
    for (name, yaml) in [
        ("spanmetrics aggregate, default dimensions", "{}"),
        (
            "spanmetrics aggregate, 3 dimensions",
            "dimensions: [{name: http.request.method}, {name: http.response.status_code}, {name: k8s.namespace.name}]",
        ),
    ] {
        let v = meshtrace_collector::config::parse_yaml("bench", yaml).unwrap();
        let cfg: meshtrace_collector::connector::spanmetrics::SpanMetricsConfig =
            meshtrace_collector::registry::parse_typed(&v).unwrap();
        let mut agg =
            meshtrace_collector::connector::spanmetrics::aggregate::Aggregator::new(cfg.settings());
        agg.add(batch.bytes(), 1);
        g.bench_function(name, |b| b.iter(|| agg.add(black_box(batch.bytes()), 2)));
    }
    // The loadbalancing exporter's own work per request: every span's trace id on the ring,
    // and the request cut into one request per backend.
    let ring = meshtrace_collector::exporter::loadbalancing::Ring::new(&[
        "10.0.0.1:4317",
        "10.0.0.2:4317",
        "10.0.0.3:4317",
        "10.0.0.4:4317",
    ]);
    g.bench_function("loadbalancing, cut by trace id for 4 backends", |b| {
        b.iter(|| {
            batching::partition_items(black_box(&batch), 4, |_, item| {
                use meshtrace_collector::otlp::views::SpanView;
                ring.backend(&SpanView::parse(item).trace_id())
            })
        })
    });
    // tail_sampling's decision on one trace: the docs' four policies (errors, slow, a drop
    // rule on probes, a share of the rest) over the request's spans as one trace.
    let policies: Vec<meshtrace_collector::processor::tail_sampling::policy::PolicyConfig> =
        meshtrace_collector::registry::parse_typed(
            &meshtrace_collector::config::parse_yaml(
                "bench",
                r#"
- {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
- {name: slow, type: latency, latency: {threshold_ms: 1000}}
- {name: probes, type: drop, drop: {drop_sub_policy: [{name: p, type: string_attribute, string_attribute: {key: url.path, values: [/healthz, /readyz]}}]}}
- {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 5}}
"#,
            )
            .unwrap(),
        )
        .unwrap();
    let rules: Vec<_> = policies
        .iter()
        .map(|p| {
            p.compile(
                "bench",
                meshtrace_collector::processor::tail_sampling::policy::Level::Top,
            )
            .unwrap()
        })
        .collect();
    let parts = [batch.clone()];
    // The request as one trace, read afresh for each decision.
    let one_trace = || {
        meshtrace_collector::processor::tail_sampling::policy::Trace::new(
            [7; 16],
            black_box(&parts),
            spans,
            std::time::Instant::now(),
        )
    };
    g.bench_function(
        "tail_sampling, four policies on the request as one trace",
        |b| {
            b.iter(|| {
                let trace = one_trace();
                rules.iter().filter_map(|r| r.evaluate(&trace).ok()).last()
            })
        },
    );
    // A composite budget (the docs' example, with a budget too large to run out): its
    // sub-policies in turn, and the window's bookkeeping, per decision.
    let composite: meshtrace_collector::processor::tail_sampling::policy::PolicyConfig =
        meshtrace_collector::registry::parse_typed(
            &meshtrace_collector::config::parse_yaml(
                "bench",
                r#"{name: budget, type: composite, composite: {max_total_spans_per_second: 1000000000000, composite_sub_policy: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}, {name: checkout, type: string_attribute, string_attribute: {key: http.route, values: [/api/checkout]}}, {name: the-rest, type: always_sample}], rate_allocation: [{policy: errors, percent: 50}, {policy: checkout, percent: 30}, {policy: the-rest, percent: 20}]}}"#,
            )
            .unwrap(),
        )
        .unwrap();
    let composite = composite
        .compile(
            "bench",
            meshtrace_collector::processor::tail_sampling::policy::Level::Top,
        )
        .unwrap();
    g.bench_function(
        "tail_sampling, a composite budget on the request as one trace",
        |b| b.iter(|| composite.evaluate(&one_trace())),
    );
    // Every span is half a call, stored until its other half comes: the store's insert path,
    // a fresh graph per request.
    let v = meshtrace_collector::config::parse_yaml("bench", "store: {max_items: 100000}").unwrap();
    let cfg: meshtrace_collector::connector::servicegraph::ServiceGraphConfig =
        meshtrace_collector::registry::parse_typed(&v).unwrap();
    g.bench_function("servicegraph, every span waiting for its other half", |b| {
        b.iter_batched(
            || meshtrace_collector::connector::servicegraph::graph::Graph::new(cfg.settings(), 1),
            |mut graph| {
                graph.add(black_box(batch.bytes()), 2);
                graph
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A gateway's batch: 200 sidecar requests of 10 spans (a resource each), 2,000 traces, cut
/// into a part per trace as `tail_sampling` cuts it, and into 4 parts as `loadbalancing` does.
fn gateway_batch(c: &mut Criterion<CpuTime>) {
    let one = ExportTraceServiceRequest::decode(envoy::envoy_request(10).as_slice()).unwrap();
    let mut req = ExportTraceServiceRequest::default();
    for copy in 0..200u8 {
        let mut rs = one.resource_spans[0].clone();
        for span in &mut rs.scope_spans[0].spans {
            span.trace_id[0] = copy;
        }
        req.resource_spans.push(rs);
    }
    let batch = Batch::new_validated(
        Signal::Traces,
        Bytes::from(req.encode_to_vec()),
        &Limits::default(),
    )
    .unwrap();
    let mut g = c.benchmark_group("gateway_batch/2000_spans");
    g.throughput(Throughput::Elements(batch.items() as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("cut into a part per trace (2,000 parts)", |b| {
        b.iter(|| {
            use meshtrace_collector::otlp::views::SpanView;
            let mut index = std::collections::HashMap::new();
            batching::partition_items(black_box(&batch), batch.items(), |_, item| {
                let id = SpanView::parse(item).trace_id();
                let next = index.len();
                Some(*index.entry(id).or_insert(next))
            })
        })
    });
    let ring = meshtrace_collector::exporter::loadbalancing::Ring::new(&[
        "10.0.0.1:4317",
        "10.0.0.2:4317",
        "10.0.0.3:4317",
        "10.0.0.4:4317",
    ]);
    g.bench_function("cut by trace id for 4 backends", |b| {
        b.iter(|| {
            batching::partition_items(black_box(&batch), 4, |_, item| {
                use meshtrace_collector::otlp::views::SpanView;
                ring.backend(&SpanView::parse(item).trace_id())
            })
        })
    });
    g.finish();
}

/// One `/debug/tracez` record (start and end), as a receiver makes per request.
fn tracez(c: &mut Criterion<CpuTime>) {
    let t = meshtrace_collector::telemetry::tracez::Tracez::default();
    t.enable();
    let op = t.operation("receiver/otlp/TraceDataReceived").unwrap();
    let mut g = c.benchmark_group("zpages");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("tracez record (start + end)", |b| {
        b.iter(|| black_box(&op).start().end(black_box(100), "grpc", None))
    });
    g.finish();
}

criterion_group! {
    name = processors;
    config = Criterion::default().with_measurement(CpuTime);
    targets = benches, gateway_batch, tracez
}
criterion_main!(processors);
