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
