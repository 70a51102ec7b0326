//! `scripts/bench-filter-load.sh`: sustained open-loop load through the real Envoy with the
//! filter, to show that span export never delays requests and that the buffer stays bounded.
//!
//! Topology: load generator → Envoy inbound listener (shipped `envoy/filter-demo.yaml`, the
//! filter as in the demo) → echo upstream. Scenarios:
//! - `no-filter`: the same Envoy config with the Wasm filter removed (baseline);
//! - `propagate`: the filter without `export` (trace context only, issue 2's behaviour);
//! - `export`: the filter recording every request (100 % sampling) and exporting to an OTLP
//!   sink that answers 200 at once (the filter's cost alone: on a 2-core machine a collector
//!   competes with Envoy for CPU);
//! - `export-collector`: the same, to the real collector (`file` exporter, JSON);
//! - `blackhole`: the same, to a "collector" that accepts connections and never answers:
//!   exports pile up, the buffer fills and spans are dropped (and counted).
//!
//! Latency is measured from each request's scheduled send time (open loop, so a stall shows
//! up instead of being hidden by a slower sender). Envoy's CPU time comes from
//! `/proc/<pid>/stat`. `meshtrace.buffered_spans` is sampled from `/stats` every 100 ms.
//!
//! ```text
//! meshtrace-filter-load [--rps 2000] [--seconds 10] [--connections 16] [--scenarios a,b,…]
//! ```

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use meshtrace_e2e::collector::Collector;
use meshtrace_e2e::echo::EchoServer;
use meshtrace_e2e::envoy::{DemoConfig, Envoy};
use meshtrace_e2e::wasm::filter_wasm;
use meshtrace_e2e::{Error, Result};

const EXPORT_CONFIG: &str = r#"{"sampling": {"percentage": 100}, "span": {"routes": ["/reviews/{id}"]}, "export": {"cluster": "outbound|4318||meshtrace-collector.observability.svc.cluster.local"}}"#;
const PROPAGATE_CONFIG: &str = r#"{"sampling": {"percentage": 100}}"#;

#[derive(Debug, Clone)]
struct Options {
    rps: u64,
    seconds: u64,
    connections: u64,
    scenarios: Vec<String>,
}

fn options() -> Result<Options> {
    let mut o = Options {
        rps: 2000,
        seconds: 10,
        connections: 16,
        scenarios: [
            "no-filter",
            "propagate",
            "export",
            "export-collector",
            "blackhole",
        ]
        .map(str::to_owned)
        .to_vec(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| Error(format!("{flag} needs a value")))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| Error(format!("{flag}: not a number: {value}")))
        };
        match flag.as_str() {
            "--rps" => o.rps = number()?.max(1),
            "--seconds" => o.seconds = number()?.max(1),
            "--connections" => o.connections = number()?.max(1),
            "--scenarios" => o.scenarios = value.split(',').map(str::to_owned).collect(),
            _ => return Err(Error(format!("unknown option {flag}"))),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load test failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let o = options()?;
    let wasm = filter_wasm()?;
    println!(
        "open-loop load: {} requests/s for {} s over {} keep-alive connections, Envoy --concurrency 2",
        o.rps, o.seconds, o.connections
    );
    println!();
    println!(
        "| scenario | sent | ok | achieved rps | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | Envoy CPU µs/req | max buffered spans | exported | dropped | failed |"
    );
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for scenario in &o.scenarios {
        let row = scenario_row(scenario, &o, &wasm)?;
        println!("{row}");
    }
    Ok(())
}

/// Removes the Wasm filter from both listeners (the `no-filter` baseline).
fn without_filter(config: &str) -> Result<String> {
    let mut out = config.to_owned();
    while let Some(start) = out.find("          - name: meshtrace\n") {
        let (before, after) = out.split_at(start);
        let end = after
            .find("          - name: envoy.filters.http.router")
            .ok_or_else(|| Error::new("no router after the filter"))?;
        let (_, rest) = after.split_at(end);
        out = format!("{before}{rest}");
    }
    Ok(out)
}

fn scenario_row(scenario: &str, o: &Options, wasm: &std::path::Path) -> Result<String> {
    let echo = EchoServer::start(0)?;
    let collector = Collector::start(0)?;
    let black_hole = TcpListener::bind("127.0.0.1:0").map_err(|e| Error(e.to_string()))?;
    let hole_port = black_hole
        .local_addr()
        .map_err(|e| Error(e.to_string()))?
        .port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in black_hole.incoming().flatten() {
            held.push(c);
        }
    });
    let sink = Sink::start()?;
    let (plugin, collector_port) = match scenario {
        "no-filter" | "propagate" => (PROPAGATE_CONFIG, collector.http_port()),
        "export" => (EXPORT_CONFIG, sink.port),
        "export-collector" => (EXPORT_CONFIG, collector.http_port()),
        "blackhole" => (EXPORT_CONFIG, hole_port),
        other => return Err(Error(format!("unknown scenario {other}"))),
    };
    let mut config = DemoConfig {
        inbound_port: 0,
        outbound_port: 0,
        admin_port: 0,
        app_port: echo.port(),
        upstream_port: echo.port(),
        collector_port,
        wasm: wasm.to_path_buf(),
        plugin_config: Some(plugin.to_owned()),
    }
    .render(&DemoConfig::template()?)?;
    if scenario == "no-filter" {
        config = without_filter(&config)?;
    }
    let envoy = Envoy::start(&config)?;
    let port = envoy.listener_port("inbound")?;
    let admin = envoy.admin_port();

    // Warm up connections and the VMs.
    for _ in 0..50 {
        meshtrace_e2e::client::get(port, "/reviews/0", &[])?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let max_buffered = Arc::new(AtomicU64::new(0));
    let sampler = {
        let stop = Arc::clone(&stop);
        let max_buffered = Arc::clone(&max_buffered);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(r) = meshtrace_e2e::client::get(
                    admin,
                    "/stats?filter=wasmcustom.meshtrace.buffered_spans",
                    &[],
                ) {
                    let text = String::from_utf8_lossy(&r.body);
                    if let Some(v) = text
                        .lines()
                        .filter_map(|l| l.split_once(": ")?.1.trim().parse::<u64>().ok())
                        .next()
                    {
                        max_buffered.fetch_max(v, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let cpu_before = cpu_ticks(envoy.pid())?;
    let result = load(port, o)?;
    let cpu_after = cpu_ticks(envoy.pid())?;
    // Let the last flushes finish before reading the counters.
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let stats = envoy.stats("wasmcustom.meshtrace")?;
    let stat = |n: &str| {
        stats
            .get(&format!("wasmcustom.meshtrace.{n}"))
            .map_or("-".to_owned(), u64::to_string)
    };
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let cpu_us = (cpu_after.saturating_sub(cpu_before)) as f64 / ticks_per_second * 1e6
        / result.ok.max(1) as f64;
    let buffered = if matches!(scenario, "no-filter" | "propagate") {
        "-".to_owned()
    } else {
        max_buffered.load(Ordering::Relaxed).to_string()
    };
    let q = |p: f64| result.quantile_ms(p);
    Ok(format!(
        "| {scenario} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {buffered} | {} | {} | {} |",
        result.sent,
        result.ok,
        result.ok as f64 / o.seconds as f64,
        q(0.50),
        q(0.90),
        q(0.99),
        q(0.999),
        q(1.0),
        cpu_us,
        stat("spans_exported"),
        stat("spans_dropped"),
        stat("spans_failed"),
    ))
}

/// An OTLP/HTTP endpoint that answers every export with an empty 200 at once.
struct Sink {
    port: u16,
}

impl Sink {
    fn start() -> Result<Sink> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error(e.to_string()))?
            .port();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            |req: hyper::Request<hyper::body::Incoming>| async move {
                                let _ = req.into_body().collect().await;
                                let mut r =
                                    hyper::Response::new(http_body_util::Full::new(Bytes::new()));
                                r.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static(
                                        "application/x-protobuf",
                                    ),
                                );
                                Ok::<_, std::convert::Infallible>(r)
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Ok(Sink { port })
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| Error(format!("/proc/{pid}/stat: {e}")))?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| Error::new("unexpected /proc stat format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after ")" and the state.
    Ok(get(11) + get(12))
}

struct LoadResult {
    sent: u64,
    ok: u64,
    latencies_us: Vec<u64>,
}

impl LoadResult {
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }
}

fn load(port: u16, o: &Options) -> Result<LoadResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error(e.to_string()))?;
    runtime.block_on(async move {
        let per_connection = o.rps as f64 / o.connections as f64;
        let interval = Duration::from_secs_f64(1.0 / per_connection);
        let count = (per_connection * o.seconds as f64).round() as u64;
        let start = tokio::time::Instant::now() + Duration::from_millis(100);
        let mut tasks = Vec::new();
        for c in 0..o.connections {
            // Spread the connections' schedules over one interval.
            let offset = interval.mul_f64(c as f64 / o.connections as f64);
            tasks.push(tokio::spawn(connection(
                port,
                start + offset,
                interval,
                count,
            )));
        }
        let mut result = LoadResult {
            sent: 0,
            ok: 0,
            latencies_us: Vec::new(),
        };
        for t in tasks {
            let (sent, ok, mut lat) = t.await.map_err(|e| Error(e.to_string()))??;
            result.sent += sent;
            result.ok += ok;
            result.latencies_us.append(&mut lat);
        }
        result.latencies_us.sort_unstable();
        Ok(result)
    })
}

async fn connection(
    port: u16,
    start: tokio::time::Instant,
    interval: Duration,
    count: u64,
) -> Result<(u64, u64, Vec<u64>)> {
    let mut sender = connect(port).await?;
    let mut latencies = Vec::with_capacity(count as usize);
    let (mut sent, mut ok) = (0, 0);
    for i in 0..count {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let request = hyper::Request::get(format!("/reviews/{i}"))
            .header("host", "productpage:9080")
            .body(Empty::<Bytes>::new())
            .map_err(|e| Error(e.to_string()))?;
        sent += 1;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(_) => {
                sender = connect(port).await?;
                continue;
            }
        };
        let status = response.status();
        let _ = response.into_body().collect().await;
        if status.is_success() {
            ok += 1;
        }
        latencies.push(scheduled.elapsed().as_micros() as u64);
    }
    Ok((sent, ok, latencies))
}

async fn connect(port: u16) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| Error(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| Error(e.to_string()))?;
    tokio::spawn(conn);
    Ok(sender)
}
