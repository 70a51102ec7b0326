//! `scripts/demo.sh`: the shipped `envoy/filter-demo.yaml` — Envoy as a sidecar with the
//! meshtrace filter on its inbound and outbound listeners — in front of a small app that calls
//! an upstream through it, and the collector receiving the spans. Sends a few requests and
//! prints the traces that arrived, one tree per trace. Everything it starts stops when it ends.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use meshtrace_e2e::client;
use meshtrace_e2e::envoy::DEMO_CONFIG;
use meshtrace_e2e::mesh::Mesh;
use meshtrace_e2e::traces::render;
use meshtrace_e2e::wasm::filter_wasm;
use meshtrace_e2e::{Error, Result};

struct Request {
    what: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    spans: usize,
}

const REQUESTS: &[Request] = &[
    Request {
        what: "a new request: the inbound proxy starts the trace",
        path: "/productpage",
        headers: &[("user-agent", "demo/1.0")],
        spans: 2,
    },
    Request {
        what: "a caller already traced: the trace continues",
        path: "/reviews/1",
        headers: &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        spans: 2,
    },
    Request {
        what: "the upstream fails with 503: both hops are ERROR",
        path: "/status/503",
        headers: &[],
        spans: 2,
    },
    Request {
        what: "a kubelet probe: dropped in the proxy, no span",
        path: "/healthz",
        headers: &[("user-agent", "kube-probe/1.32")],
        spans: 0,
    },
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let wasm = filter_wasm()?;
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    let mut mesh = Mesh::start(None)?;
    println!("meshtrace demo");
    println!(
        "  Envoy (v8) from {DEMO_CONFIG} with {} ({} KiB), collector OTLP/HTTP on 127.0.0.1:{}",
        wasm.display(),
        size / 1024,
        mesh.collector.http_port()
    );
    println!(
        "  client -> inbound :{} -> app :{} -> outbound :{} -> upstream :{}",
        mesh.inbound,
        mesh.app.port(),
        mesh.outbound,
        mesh.upstream.port()
    );
    println!();
    let mut want = 0;
    for r in REQUESTS {
        let headers: Vec<(&str, &[u8])> =
            r.headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        let response = client::send(mesh.inbound, "GET", r.path, "productpage:9080", &headers)?;
        println!("  GET {:<14} -> {}   {}", r.path, response.status, r.what);
        want += r.spans;
    }
    let spans = mesh
        .collector
        .wait_for(Duration::from_secs(30), |s| s.len() >= want)?;
    println!();
    println!("Traces the collector received ({} spans):", spans.len());
    println!();
    print!("{}", render(&spans));

    // The filter's counters (summed over Envoy's worker VMs), once the exports are answered.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let stats = mesh.envoy.stats("wasmcustom.meshtrace")?;
        let exported = stats
            .get("wasmcustom.meshtrace.spans_exported")
            .copied()
            .unwrap_or(0);
        if exported >= want as u64 || Instant::now() > deadline {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if stats.is_empty() {
        return Err(Error::new(
            "no wasmcustom.meshtrace.* stats in Envoy's /stats",
        ));
    }
    println!("Envoy /stats:");
    for (name, value) in &stats {
        println!("  {name}: {value}");
    }
    println!();
    // Envoy flushes its stdout access log about once a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let log = mesh.envoy.log();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.contains("] access "))
            .map(|l| l.trim().to_owned())
            .collect();
        if lines.len() > want || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("Access log (trace_id from the x-trace-id request header the filter sets):");
    for line in lines {
        println!("  {line}");
    }
    println!();
    println!("Run it yourself (docs/filter.md, \"Run it\"):");
    println!("  cargo build -p meshtrace-filter --target wasm32-wasip1 --profile wasm-release");
    println!("  cargo run -p meshtrace-collector -- --config envoy/collector-demo.yaml");
    println!("  func-e run -c {DEMO_CONFIG}      # or: .venv/bin/envoy -c {DEMO_CONFIG}");
    Ok(())
}
