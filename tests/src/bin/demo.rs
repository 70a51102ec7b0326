//! `scripts/demo.sh`: the real Envoy with the meshtrace filter in front of an echo upstream;
//! sends a few requests and shows, per request, the trace headers sent and what the upstream
//! received. Everything it starts stops when it ends.

use std::process::ExitCode;

use meshtrace_e2e::Result;
use meshtrace_e2e::client;
use meshtrace_e2e::echo::{EchoServer, Received};
use meshtrace_e2e::envoy::{DEMO_CONFIG, DemoConfig, Envoy};
use meshtrace_e2e::wasm::filter_wasm;

const TRACE_HEADERS: &[&str] = &[
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

struct Case {
    title: &'static str,
    headers: &'static [(&'static str, &'static str)],
    explain: &'static str,
}

const CASES: &[Case] = &[
    Case {
        title: "a caller that is already traced (valid traceparent + tracestate)",
        headers: &[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ],
        explain: "same trace id and sampled flag; the parent-id is now the proxy's span; tracestate kept",
    },
    Case {
        title: "no trace context",
        headers: &[],
        explain: "a new trace: random ids, flags 03 = sampled (100 % by default) + random trace id",
    },
    Case {
        title: "an invalid traceparent (uppercase hex) with a tracestate",
        headers: &[
            (
                "traceparent",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
        explain: "treated as absent: a new trace, and the orphaned tracestate is not forwarded",
    },
    Case {
        title: "a future traceparent version with extra fields",
        headers: &[(
            "traceparent",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
        )],
        explain: "the known fields are used and written back as version 00",
    },
    Case {
        title: "a Zipkin app: single b3 header",
        headers: &[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )],
        explain: "the B3 trace continues as W3C traceparent (b3 is passed on as is: injection is off)",
    },
    Case {
        title: "a Zipkin app: multi x-b3-* headers, not sampled",
        headers: &[
            ("x-b3-traceid", "64fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "0"),
        ],
        explain: "the 64-bit trace id is widened to 128 bits; the not-sampled decision is kept",
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
    let echo = EchoServer::start(0)?;
    let config = DemoConfig {
        listener_port: 0,
        admin_port: 0,
        upstream_port: echo.port(),
        wasm: wasm.clone(),
        plugin_config: None,
    }
    .render(&DemoConfig::template()?)?;
    let envoy = Envoy::start(&config)?;
    let port = envoy.listener_port("ingress")?;

    println!("meshtrace demo");
    println!(
        "  Envoy (v8 runtime) from {DEMO_CONFIG} with {} ({} KiB)",
        wasm.display(),
        size / 1024
    );
    println!(
        "  client -> Envoy 127.0.0.1:{port} -> echo upstream 127.0.0.1:{}",
        echo.port()
    );
    for (i, case) in CASES.iter().enumerate() {
        let headers: Vec<(&str, &[u8])> = case
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_bytes()))
            .collect();
        let response = client::get(port, "/demo", &headers)?;
        let received = Received::from_body(&response.body)?;
        println!();
        println!("{}. {} -> HTTP {}", i + 1, case.title, response.status);
        if case.headers.is_empty() {
            println!("   sent:     (no trace headers)");
        }
        for (j, (name, value)) in case.headers.iter().enumerate() {
            let label = if j == 0 { "sent:" } else { "" };
            println!("   {label:<9} {name}: {value}");
        }
        let mut first = true;
        for (name, value) in &received.headers {
            if TRACE_HEADERS.contains(&name.as_str()) {
                let label = if first { "upstream:" } else { "" };
                println!("   {label:<9} {name}: {value}");
                first = false;
            }
        }
        println!("   => {}", case.explain);
    }
    println!();
    println!(
        "Run it yourself: cargo build -p meshtrace-filter --target wasm32-wasip1 --profile wasm-release"
    );
    println!(
        "                 func-e run -c {DEMO_CONFIG}   (or .venv/bin/envoy -c {DEMO_CONFIG})"
    );
    println!("Configuration reference: docs/filter.md");
    Ok(())
}
