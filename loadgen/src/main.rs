//! `meshtrace-loadgen`: the command line over the library (send, sink, upstream).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use meshtrace_loadgen::send::transport::Protocol;
use meshtrace_loadgen::send::{self, SendConfig};
use meshtrace_loadgen::sink::{self, SinkConfig};
use meshtrace_loadgen::{duration, upstream};

/// The sink frees millions of small strings a second (every decoded attribute key and value);
/// with glibc's allocator that was half its CPU, which the benchmarks charge to the harness.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// OTLP load shaped like an Istio mesh's Envoy sidecar spans, a decoding counting sink, and a
/// trivial HTTP upstream: the tools behind scripts/bench.sh.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send OTLP trace load (gRPC or HTTP) and report accepted spans/s, latency and errors.
    Send(SendArgs),
    /// Receive OTLP (gRPC and HTTP), decode and count every span; stats on GET /stats.
    Sink(SinkArgs),
    /// Answer every HTTP request with 200: the service behind a proxy under test.
    Upstream(UpstreamArgs),
}

#[derive(Debug, Args)]
struct SendArgs {
    /// OTLP transport.
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    protocol: Protocol,
    /// Receiver: host:port or http://host:port[/path]. Default 127.0.0.1:4317 (gRPC) or
    /// http://127.0.0.1:4318/v1/traces (HTTP).
    #[arg(long)]
    endpoint: Option<String>,
    /// Spans per export request.
    #[arg(long, short = 'b', default_value_t = 100)]
    spans_per_request: usize,
    /// Closed loop: requests in flight (default 8). Open loop (--rate): the most allowed in
    /// flight (default 1000); requests due beyond it are counted as not sent.
    #[arg(long, short = 'c')]
    concurrency: Option<usize>,
    /// Open loop: send this many spans per second whatever the receiver does.
    #[arg(long)]
    rate: Option<f64>,
    /// HTTP/2 connections for gRPC (default: one per request in flight, like many sidecars;
    /// at most 64 in open loop). OTLP/HTTP uses one connection per request in flight.
    #[arg(long)]
    connections: Option<usize>,
    /// How long to send (e.g. 20s, 2m).
    #[arg(long, short = 'd', default_value = "10s", value_parser = duration::parse)]
    duration: Duration,
    /// Stop after this many requests (whichever comes first with --duration).
    #[arg(long)]
    requests: Option<u64>,
    /// gzip request bodies (prepared up front: ids then repeat every --gzip-pool requests).
    #[arg(long)]
    gzip: bool,
    /// Compressed requests prepared for --gzip.
    #[arg(long, default_value_t = 256)]
    gzip_pool: usize,
    /// Distinct request shapes (pods and their traffic) to rotate through.
    #[arg(long, default_value_t = 64)]
    templates: usize,
    /// Seed for shapes and ids (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    timeout: Duration,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SinkArgs {
    /// OTLP/gRPC listen address ("off" to disable).
    #[arg(long, default_value = "127.0.0.1:4317", value_parser = parse_listen)]
    grpc: Listen,
    /// OTLP/HTTP, /stats and /control listen address ("off" to disable).
    #[arg(long, default_value = "127.0.0.1:4318", value_parser = parse_listen)]
    http: Listen,
    /// Count distinct span ids and duplicates (keeps every id in memory).
    #[arg(long)]
    distinct: bool,
    /// Append "<trace_id> <span_id>" (hex) for every span to FILE (implies --distinct).
    #[arg(long, value_name = "FILE")]
    record_ids: Option<PathBuf>,
    /// Answer UNAVAILABLE / 503 for this long after starting (e.g. 5s), to play an outage.
    #[arg(long, value_parser = duration::parse)]
    refuse_for: Option<Duration>,
    /// Largest request accepted, in MiB after decompression.
    #[arg(long, default_value_t = 64)]
    max_message_mib: usize,
    /// Print the first N requests as OTLP JSON on stderr.
    #[arg(long, default_value_t = 0)]
    print: u64,
    /// On exit, also write the final stats JSON to FILE.
    #[arg(long, value_name = "FILE")]
    stats_file: Option<PathBuf>,
    /// Runtime worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Debug, Args)]
struct UpstreamArgs {
    /// Listen address (port 0: any free port; the address is printed as JSON).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Bytes in every response body.
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// Runtime worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

/// A listen address, or none ("off").
#[derive(Debug, Clone, Copy)]
struct Listen(Option<SocketAddr>);

fn parse_listen(s: &str) -> Result<Listen, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(Listen(None));
    }
    s.parse()
        .map(|a| Listen(Some(a)))
        .map_err(|e| format!("{s:?}: {e} (want ip:port or off)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Send(a) => Some(a.threads),
        Command::Sink(a) => a.threads,
        Command::Upstream(a) => a.threads,
    };
    // One thread: the current-thread scheduler, without work-stealing bookkeeping (the bench
    // pins each tool to a core, so more threads would only contend).
    let mut builder = if threads == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if let Some(n) = threads.filter(|n| *n > 1) {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Send(args) => run_send(args).await,
            Command::Sink(args) => run_sink(args).await,
            Command::Upstream(args) => run_upstream(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run_send(args: SendArgs) -> Result<(), BoxError> {
    let endpoint = args.endpoint.unwrap_or_else(|| match args.protocol {
        Protocol::Grpc => "127.0.0.1:4317".to_owned(),
        Protocol::Http => "http://127.0.0.1:4318/v1/traces".to_owned(),
    });
    let concurrency = args
        .concurrency
        .unwrap_or(if args.rate.is_some() { 1000 } else { 8 });
    let connections = args.connections.unwrap_or(if args.rate.is_some() {
        concurrency.min(64)
    } else {
        concurrency
    });
    let config = SendConfig {
        protocol: args.protocol,
        endpoint,
        spans_per_request: args.spans_per_request,
        concurrency,
        rate: args.rate,
        connections,
        duration: args.duration,
        max_requests: args.requests,
        gzip: args.gzip,
        gzip_pool: args.gzip_pool,
        templates: args.templates,
        seed: args.seed.unwrap_or_else(clock_seed),
        timeout: args.timeout,
    };
    // SIGINT/SIGTERM end the run early; the report still covers what was sent.
    let stop = Arc::new(AtomicBool::new(false));
    let signal_stop = Arc::clone(&stop);
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        signal_stop.store(true, Ordering::Relaxed);
    });
    let report = send::run(&config, stop).await;
    signals.abort();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

async fn run_sink(args: SinkArgs) -> Result<(), BoxError> {
    let config = SinkConfig {
        grpc: args.grpc.0,
        http: args.http.0,
        distinct: args.distinct,
        record_ids: args.record_ids,
        refuse_for: args.refuse_for,
        max_message_bytes: args.max_message_mib.saturating_mul(1 << 20),
        print: args.print,
    };
    let running = sink::start(config).await?;
    // One JSON line with the bound addresses, so callers can bind port 0.
    let addrs = serde_json::json!({
        "grpc": running.grpc_addr.map(|a| a.to_string()),
        "http": running.http_addr.map(|a| a.to_string()),
    });
    println!("{addrs}");
    std::io::stdout().flush()?;
    wait_for_signal().await;
    let stats = running.shutdown().await;
    let json = serde_json::to_string(&stats)?;
    println!("{json}");
    if let Some(path) = args.stats_file {
        std::fs::write(&path, format!("{json}\n"))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

async fn run_upstream(args: UpstreamArgs) -> Result<(), BoxError> {
    let (listener, addr) = upstream::bind(args.listen)
        .await
        .map_err(|e| format!("listen on {}: {e}", args.listen))?;
    println!("{}", serde_json::json!({ "http": addr.to_string() }));
    std::io::stdout().flush()?;
    tokio::select! {
        () = upstream::serve(listener, args.body_bytes) => {}
        () = wait_for_signal() => {}
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM (on other platforms, Ctrl-C).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn clock_seed() -> u64 {
    meshtrace_loadgen::pool::unix_nanos() ^ (u64::from(std::process::id()) << 32)
}
