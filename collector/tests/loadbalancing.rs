//! The `loadbalancing` exporter in the real binary: an agent collector spreading traces over
//! three gateway collectors, each trace whole on the gateway the Collector's ring names, and a
//! gateway that is down at first getting its traces once it is up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use meshtrace_collector::exporter::loadbalancing::Ring;
use std::collections::BTreeSet;

fn gateway(port: u16) -> Collector {
    Collector::start(&format!(
        "receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: {{dir}}/spans.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
{TEST_TELEMETRY}"
    ))
}

#[test]
fn traces_go_whole_to_the_gateway_the_ring_names() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    // The third gateway starts after the agent has sent: its backend queues and retries.
    let mut up: Vec<Collector> = ports[..2].iter().map(|&p| gateway(p)).collect();
    let hostnames: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let agent = Collector::start(&format!(
        "receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  loadbalancing:
    protocol:
      otlp:
        tls:
          insecure: true
        retry_on_failure:
          initial_interval: 100ms
          max_interval: 200ms
    resolver:
      static:
        hostnames: [{}]
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
{TEST_TELEMETRY}",
        hostnames.join(", ")
    ));
    // 200 one-span traces from two services (the trace id ends in the span id).
    assert_eq!(
        post_spans(&agent.http_url(), spans_request("productpage", 0..100)),
        Ok(200)
    );
    assert_eq!(
        post_spans(&agent.http_url(), spans_request("reviews", 100..200)),
        Ok(200)
    );
    up.push(gateway(ports[2]));

    let mut sorted = hostnames.clone();
    sorted.sort();
    let ring = Ring::new(&sorted);
    let trace_id = |id: u64| [[7u8; 8], id.to_be_bytes()].concat();
    let mut all = BTreeSet::new();
    for (gw, name) in up.iter().zip(&hostnames) {
        let at = sorted.iter().position(|n| n == name).unwrap();
        let want: BTreeSet<u64> = (0..200)
            .filter(|&id| ring.backend(&trace_id(id)) == Some(at))
            .collect();
        assert!(!want.is_empty(), "the ring gives {name} no trace of 200");
        let got = eventually(&format!("{name}'s {} spans", want.len()), || {
            let got: BTreeSet<u64> = span_ids_in_file(&gw.dir.path("spans.jsonl"))
                .into_iter()
                .collect();
            (got.len() >= want.len()).then_some(got)
        });
        assert_eq!(got, want, "{name}");
        all.extend(got);
    }
    assert_eq!(all.len(), 200);
    assert_eq!(
        agent.metric("otelcol_loadbalancer_num_backends{resolver=\"static\""),
        3.0
    );
    let text = agent.metrics_text().unwrap();
    for name in &hostnames {
        let ok = text.lines().find(|l| {
            l.starts_with(&format!(
                "otelcol_loadbalancer_backend_outcome_total{{endpoint=\"{name}\""
            )) && l.contains("success=\"true\"")
        });
        let n: f64 = ok
            .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
            .unwrap_or(0.0);
        assert!(n >= 1.0, "{name}: {text}");
    }
    // Each backend's exporter counts under its own id.
    let sent: f64 = hostnames
        .iter()
        .map(|n| {
            agent.metric(&format!(
                "otelcol_exporter_sent_spans_total{{exporter=\"loadbalancing/{n}\""
            ))
        })
        .sum();
    assert_eq!(sent, 200.0);
}

#[test]
fn a_kubernetes_resolver_is_refused_with_the_way_out() {
    let dir = TempDir::new();
    let path = dir.path("c.yaml");
    std::fs::write(
        &path,
        "receivers:
  otlp:
    protocols:
      grpc:
exporters:
  loadbalancing:
    protocol:
      otlp: {}
    resolver:
      k8s:
        service: gateway.observability
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
",
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["validate", &format!("--config={}", path.display())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exporters::loadbalancing: field `resolver.k8s`: the k8s resolver is not supported (it needs the Kubernetes API): use `dns` with the backends' headless Service"),
        "{err}"
    );
}

/// The shipped two-tier overlay's configs (istio-manifests/collector/overlays/two-tier), run as
/// they are but for what a test must change (loopback addresses, scratch paths, a static list of
/// the two gateways instead of the cluster's DNS name, a 1 s `decision_wait`, a file instead of
/// `debug`), each change merged on top as a second `--config`.
mod two_tier {
    use super::*;
    use meshtrace_collector::processor::tail_sampling::policy::{fnv1a64, threshold};
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{Span, Status};
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    const TRACES: u64 = 200;

    fn shipped(tier: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../istio-manifests/collector/overlays/two-tier")
            .join(tier)
            .join("config.yaml");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    const TELEMETRY: &str = "
  telemetry:
    logs:
      level: debug
      encoding: json
      sampling:
        enabled: false
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: 0
";

    /// Starts `tier`'s shipped config with `overrides` (and `service`'s, under the test's
    /// telemetry) merged on top.
    fn start(tier: &str, overrides: &str, service: &str, scratch: &TempDir) -> Collector {
        let path: PathBuf = scratch.path(&format!("{tier}-overrides.yaml"));
        std::fs::write(&path, format!("{overrides}service:{TELEMETRY}{service}")).unwrap();
        let arg = format!("--config={}", path.display());
        Collector::start_with(&shipped(tier), &[&arg], &[])
    }

    fn trace_id(i: u64) -> Vec<u8> {
        [
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes(),
            i.to_be_bytes(),
        ]
        .concat()
    }

    /// Span `k` (0–2, one per workload) of trace `i`. Trace `i % 4`: 0 fails in its last
    /// span, 1 takes 1.5 s, 2 answers 503 without an error status, 3 is a plain success.
    fn span(i: u64, k: u64) -> Span {
        let start = 1_700_000_000_000_000_000;
        let ms = if i % 4 == 1 && k == 1 { 1500 } else { 5 };
        Span {
            trace_id: trace_id(i),
            span_id: (i * 10 + k).to_be_bytes().to_vec(),
            parent_span_id: if k == 0 {
                vec![]
            } else {
                (i * 10 + k - 1).to_be_bytes().to_vec()
            },
            name: format!("op-{k}"),
            kind: 2,
            start_time_unix_nano: start,
            end_time_unix_nano: start + ms * 1_000_000,
            attributes: if i % 4 == 2 && k == 0 {
                vec![KeyValue {
                    key: "http.response.status_code".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(503)),
                    }),
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            status: (i.is_multiple_of(4) && k == 2).then(|| Status {
                code: 2,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Every trace with an error, a slow request or a 5xx, and the share of the others the
    /// shipped `probabilistic` policy (10 %, the Collector's default salt) keeps, arrive whole
    /// on the gateway the ring names for their trace id; nothing else arrives.
    #[test]
    fn the_shipped_tiers_keep_failed_and_slow_traces_whole_on_one_gateway() {
        let scratch = TempDir::new();
        let ports: Vec<u16> = (0..2).map(|_| free_port()).collect();
        let gateways: Vec<Collector> = ports
            .iter()
            .enumerate()
            .map(|(n, port)| {
                let kept = scratch.path(&format!("kept-{n}.jsonl"));
                start(
                    "gateway",
                    &format!(
                        "extensions:
  health_check:
    endpoint: 127.0.0.1:0
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  tail_sampling:
    decision_wait: 1s
exporters:
  file:
    path: {}
",
                        kept.display()
                    ),
                    "  pipelines:\n    traces:\n      exporters: [file]\n",
                    &scratch,
                )
            })
            .collect();
        let hostnames: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        std::fs::create_dir(scratch.path("queue")).unwrap();
        let agent = start(
            "agent",
            &format!(
                "extensions:
  health_check:
    endpoint: 127.0.0.1:0
  file_storage/queue:
    directory: {}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
  zipkin:
    endpoint: 127.0.0.1:0
exporters:
  loadbalancing:
    resolver:
      dns: null
      static:
        hostnames: [{}]
",
                scratch.path("queue").display(),
                hostnames.join(", ")
            ),
            "",
            &scratch,
        );
        // Each workload's sidecar exports its own span of every trace, as the mesh does.
        for (k, workload) in ["productpage", "reviews", "ratings"].iter().enumerate() {
            let spans = (0..TRACES).map(|i| span(i, k as u64)).collect();
            assert_eq!(
                post_spans(&agent.http_url(), service_request(workload, spans)),
                Ok(200)
            );
        }

        let rest = threshold(10.0);
        let kept: Vec<u64> = (0..TRACES)
            .filter(|i| i % 4 != 3 || fnv1a64(b"default-hash-seed", &trace_id(*i)) <= rest)
            .collect();
        let by_chance = kept.iter().filter(|i| *i % 4 == 3).count();
        assert!(
            by_chance > 0 && by_chance < 25,
            "the probabilistic policy keeps {by_chance} of 50: pick other ids"
        );
        let mut sorted = hostnames.clone();
        sorted.sort();
        let ring = Ring::new(&sorted);
        let mut want: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for &i in &kept {
            let at = ring.backend(&trace_id(i)).unwrap();
            let spans = want.entry(&sorted[at]).or_default();
            spans.extend((0..3).map(|k| i * 10 + k));
        }
        assert_eq!(want.len(), 2, "both gateways keep some traces");
        for (gw, (n, name)) in gateways.iter().zip(hostnames.iter().enumerate()) {
            let mut want = want.remove(name.as_str()).unwrap();
            want.sort_unstable();
            let mut got = eventually(&format!("{name}'s {} kept spans", want.len()), || {
                let got = span_ids_in_file(&scratch.path(&format!("kept-{n}.jsonl")));
                (got.len() >= want.len()).then_some(got)
            });
            got.sort_unstable();
            assert_eq!(got, want, "{name}");
            // Every trace it was given is decided: none left waiting, none dropped early.
            let sampled = |v: &str| {
                gw.metric(&format!(
                    "otelcol_processor_tail_sampling_global_count_traces_sampled_total{{processor=\"tail_sampling\",sampled=\"{v}\""
                ))
            };
            let given = (0..TRACES)
                .filter(|i| sorted[ring.backend(&trace_id(*i)).unwrap()] == *name)
                .count();
            eventually(&format!("{name}'s decisions"), || {
                (sampled("true") + sampled("false") >= given as f64).then_some(())
            });
            assert_eq!(sampled("true"), (want.len() / 3) as f64, "{name}");
            assert_eq!(
                gw.metric("otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total"),
                0.0
            );
        }
        assert_eq!(
            agent.metric("otelcol_loadbalancer_num_backends{resolver=\"static\""),
            2.0
        );
    }
}
