//! `send`: OTLP load from the request pool, closed loop (a fixed number of requests in flight,
//! each worker sending its next request when the previous one is answered) or open loop (a
//! fixed rate, whatever the receiver does), for a duration or a number of requests.

pub mod report;
pub mod transport;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::pool::{Framing, PoolConfig, PoolError, RequestPool, unix_nanos};

use self::report::{Recorder, Report, RunInfo};
use self::transport::{Connections, EndpointError, Failure, Protocol, Target};

/// What to send, how, and for how long.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Transport.
    pub protocol: Protocol,
    /// `host:port` or `http://host:port[/path]`.
    pub endpoint: String,
    /// Spans in every request.
    pub spans_per_request: usize,
    /// Closed loop: requests in flight. Open loop: the most allowed in flight.
    pub concurrency: usize,
    /// Open loop at this many spans per second; `None`: closed loop.
    pub rate: Option<f64>,
    /// HTTP/2 connections for gRPC (requests are spread over them).
    pub connections: usize,
    /// Stop starting requests after this long.
    pub duration: Duration,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// gzip bodies.
    pub gzip: bool,
    /// Prepared compressed requests (gzip only).
    pub gzip_pool: usize,
    /// Distinct request shapes.
    pub templates: usize,
    /// Seed for shapes and ids.
    pub seed: u64,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The endpoint is malformed or unsupported.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The endpoint's host did not resolve.
    #[error("resolving {host}: {reason}")]
    Resolve {
        /// The `host:port`.
        host: String,
        /// Why.
        reason: String,
    },
    /// The request pool could not be built.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A parameter is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The latency histogram could not be created.
    #[error("histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// Shared state of a run.
struct Run {
    pool: RequestPool,
    conns: Connections,
    recorder: Mutex<Recorder>,
    next_seq: AtomicU64,
    max_requests: u64,
    stop: Arc<AtomicBool>,
}

impl Run {
    /// The next request number, or `None` when the run has sent enough.
    fn next_seq(&self) -> Option<u64> {
        if self.stop.load(Relaxed) {
            return None;
        }
        let seq = self.next_seq.fetch_add(1, Relaxed);
        (seq < self.max_requests).then_some(seq)
    }

    async fn send_one(&self, slot: usize, seq: u64, started: Instant) -> Result<(), Failure> {
        let body = self.pool.body(seq, unix_nanos());
        let bytes = body.len() as u64;
        let result = self.conns.export(slot, body).await;
        let latency = started.elapsed();
        let spans = self.pool.spans_per_request();
        if let Ok(mut recorder) = self.recorder.lock() {
            recorder.record(latency, spans, bytes, &result);
        }
        result.map(drop)
    }
}

/// Runs the load until the duration, the request count or `stop` ends it, then waits for the
/// requests in flight and reports.
pub async fn run(config: &SendConfig, stop: Arc<AtomicBool>) -> Result<Report, SendError> {
    if config.concurrency == 0 {
        return Err(SendError::Invalid(
            "concurrency must be at least 1".to_owned(),
        ));
    }
    if let Some(rate) = config.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(SendError::Invalid(format!(
            "rate must be a positive number, not {rate}"
        )));
    }
    let (authority, path) = transport::parse_endpoint(&config.endpoint, config.protocol)?;
    let addr = tokio::net::lookup_host(&authority)
        .await
        .map_err(|e| SendError::Resolve {
            host: authority.clone(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| SendError::Resolve {
            host: authority.clone(),
            reason: "no address".to_owned(),
        })?;
    let framing = match config.protocol {
        Protocol::Grpc => Framing::Grpc,
        Protocol::Http => Framing::Http,
    };
    let pool = RequestPool::new(&PoolConfig {
        spans_per_request: config.spans_per_request,
        templates: config.templates,
        seed: config.seed,
        framing,
        gzip: config.gzip,
        gzip_pool: config.gzip_pool,
    })?;
    let connections = match config.protocol {
        Protocol::Grpc => config.connections.max(1),
        // HTTP/1.1 has one request in flight per connection.
        Protocol::Http => config.concurrency,
    };
    let target = Target {
        protocol: config.protocol,
        addr,
        authority,
        path,
        gzip: config.gzip,
    };
    let info = RunInfo {
        protocol: match config.protocol {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        },
        endpoint: config.endpoint.clone(),
        mode: if config.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        concurrency: config.concurrency,
        connections,
        rate_spans_per_s: config.rate,
        spans_per_request: pool.spans_per_request(),
        gzip: config.gzip,
        unique_ids: pool.unique_ids(),
    };
    let run = Arc::new(Run {
        pool,
        conns: Connections::new(target, connections, config.timeout),
        recorder: Mutex::new(Recorder::new()?),
        next_seq: AtomicU64::new(0),
        max_requests: config.max_requests.unwrap_or(u64::MAX),
        stop,
    });

    let cpu_before = crate::cpu::process_cpu_time();
    let started = Instant::now();
    let deadline = started + config.duration;
    match config.rate {
        None => closed_loop(&run, config.concurrency, deadline).await,
        Some(rate) => open_loop(&run, rate, config.concurrency, started, deadline).await,
    }
    let elapsed = started.elapsed();
    let cpu = match (cpu_before, crate::cpu::process_cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let report = match run.recorder.lock() {
        Ok(recorder) => recorder.report(info, elapsed, cpu),
        Err(poisoned) => poisoned.into_inner().report(info, elapsed, cpu),
    };
    Ok(report)
}

/// `concurrency` workers, each with one request in flight at a time.
async fn closed_loop(run: &Arc<Run>, concurrency: usize, deadline: Instant) {
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let run = Arc::clone(run);
        workers.spawn(async move {
            while Instant::now() < deadline {
                let Some(seq) = run.next_seq() else { break };
                if let Err(Failure::Connect(_)) = run.send_one(worker, seq, Instant::now()).await {
                    // Nothing listening: retry soon, without spinning a core on refusals.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// Requests due at a fixed interval, each sent on its own task; latency is measured from
/// when a request was due, so a slow receiver shows as latency, not as a lower rate (no
/// coordinated omission). Tokio's timer has millisecond resolution, so at higher rates the
/// requests due within a millisecond leave together.
async fn open_loop(
    run: &Arc<Run>,
    rate: f64,
    max_in_flight: usize,
    started: Instant,
    deadline: Instant,
) {
    let spans = run.pool.spans_per_request() as f64;
    let interval = Duration::from_secs_f64(spans / rate);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let slots = AtomicUsize::new(0);
    let mut tasks = JoinSet::new();
    for k in 0u32.. {
        let due = started + interval.saturating_mul(k);
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due).await;
        // Reap finished tasks so the set stays small.
        while tasks.try_join_next().is_some() {}
        let Some(seq) = run.next_seq() else { break };
        if in_flight.load(Relaxed) >= max_in_flight {
            if let Ok(mut recorder) = run.recorder.lock() {
                recorder.skipped(run.pool.spans_per_request());
            }
            continue;
        }
        in_flight.fetch_add(1, Relaxed);
        let (run, in_flight) = (Arc::clone(run), Arc::clone(&in_flight));
        let slot = slots.fetch_add(1, Relaxed);
        tasks.spawn(async move {
            let _ = run.send_one(slot, seq, due).await;
            in_flight.fetch_sub(1, Relaxed);
        });
    }
    while tasks.join_next().await.is_some() {}
}
