//! `sink`: an OTLP receiver that decodes every span it is sent and counts them, for measuring
//! what a collector really delivered and for the collector's reliability tests.
//!
//! It listens for OTLP/gRPC and OTLP/HTTP, decodes each request fully with prost (gzip
//! accepted), counts requests and spans, optionally keeps the set of span ids (duplicates) or
//! writes every trace/span id to a file (losses), and can refuse data for a while to play an
//! outage. Counters are served as JSON on `GET /stats` (HTTP port) and printed on exit.

pub mod grpc;
pub mod http;
pub mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use self::stats::{SinkStats, Snapshot};

/// What the sink listens on and keeps.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// OTLP/gRPC address (port 0: any free port); `None`: no gRPC.
    pub grpc: Option<SocketAddr>,
    /// OTLP/HTTP, `/stats` and `/control/*` address (port 0: any free port); `None`: none.
    pub http: Option<SocketAddr>,
    /// Keep the set of span ids to count distinct ones and duplicates.
    pub distinct: bool,
    /// Append `<trace_id> <span_id>` (hex) for every span to this file.
    pub record_ids: Option<PathBuf>,
    /// Refuse data (UNAVAILABLE / 503) for this long after starting.
    pub refuse_for: Option<Duration>,
    /// Largest request accepted, after decompression.
    pub max_message_bytes: usize,
    /// Print the first N requests as OTLP JSON on stderr.
    pub print: u64,
}

/// Why the sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A listen address was in use or not local.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The id file could not be created.
    #[error("id file: {0}")]
    RecordFile(std::io::Error),
}

/// A started sink.
#[derive(Debug)]
pub struct RunningSink {
    /// Where OTLP/gRPC listens.
    pub grpc_addr: Option<SocketAddr>,
    /// Where OTLP/HTTP and `/stats` listen.
    pub http_addr: Option<SocketAddr>,
    stats: Arc<SinkStats>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// HTTP/2 flow-control windows large enough that a collector's 8192-span batch (several MiB)
/// is never throttled by the sink.
const STREAM_WINDOW: u32 = 8 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// Binds the listeners and starts serving.
pub async fn start(config: SinkConfig) -> Result<RunningSink, SinkError> {
    let stats = Arc::new(
        SinkStats::new(config.distinct, config.record_ids.as_deref(), config.print)
            .map_err(SinkError::RecordFile)?,
    );
    if let Some(d) = config.refuse_for {
        stats.refuse_for(d);
    }
    let (shutdown, _) = watch::channel(false);
    let mut tasks = Vec::new();

    let grpc_addr = match config.grpc {
        Some(addr) => {
            let listener = bind(addr).await?;
            let local = listener
                .local_addr()
                .map_err(|source| SinkError::Bind { addr, source })?;
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            let service = grpc::GrpcSink::service(Arc::clone(&stats), config.max_message_bytes);
            let mut stop = shutdown.subscribe();
            tasks.push(tokio::spawn(async move {
                let served = Server::builder()
                    .initial_stream_window_size(STREAM_WINDOW)
                    .initial_connection_window_size(CONNECTION_WINDOW)
                    .add_service(service)
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _ = stop.changed().await;
                    })
                    .await;
                if let Err(e) = served {
                    eprintln!("sink: gRPC server: {e}");
                }
            }));
            Some(local)
        }
        None => None,
    };

    let http_addr = match config.http {
        Some(addr) => {
            let listener = bind(addr).await?;
            let local = listener
                .local_addr()
                .map_err(|source| SinkError::Bind { addr, source })?;
            let stats = Arc::clone(&stats);
            let max = config.max_message_bytes;
            let mut stop = shutdown.subscribe();
            tasks.push(tokio::spawn(async move {
                loop {
                    let stream = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(e) => {
                                eprintln!("sink: accept: {e}");
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        },
                        _ = stop.changed() => break,
                    };
                    let _ = stream.set_nodelay(true);
                    let stats = Arc::clone(&stats);
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |req| http::handle(Arc::clone(&stats), max, req));
                        let mut builder = auto::Builder::new(TokioExecutor::new());
                        builder
                            .http2()
                            .initial_stream_window_size(STREAM_WINDOW)
                            .initial_connection_window_size(CONNECTION_WINDOW);
                        // A client hanging up mid-request is its business, not the sink's.
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }));
            Some(local)
        }
        None => None,
    };

    Ok(RunningSink {
        grpc_addr,
        http_addr,
        stats,
        shutdown,
        tasks,
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, SinkError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SinkError::Bind { addr, source })
}

impl RunningSink {
    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    /// Stops listening (giving open connections a moment to finish), flushes the id file and
    /// returns the final counters.
    pub async fn shutdown(self) -> Snapshot {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Err(e) = self.stats.flush() {
            eprintln!("sink: flushing the id file: {e}");
        }
        self.stats.snapshot()
    }
}
