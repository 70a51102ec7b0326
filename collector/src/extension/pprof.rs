//! `pprof`: CPU profiles of the running collector in the pprof format, at the Collector's
//! address (default `localhost:1777`) and paths, so that
//! `go tool pprof http://localhost:1777/debug/pprof/profile?seconds=30` (after
//! `kubectl port-forward`) and continuous profilers that scrape that path work unchanged.
//!
//! The profile samples every thread's stack 100 times a CPU-second (Go's rate) with a SIGPROF
//! timer (the `pprof` crate), only while one is being taken. Go's other profiles (heap,
//! goroutine, block, mutex) are Go runtime views and answer 404 saying so. `save_to_file`
//! profiles the whole run and writes the profile at shutdown, as the Collector does.

pub mod profile;

use crate::component::{ComponentError, Context, Extension, ExtensionConfig, Validate};
use crate::config::ConfigError;
use crate::net::{self, HttpServer};
use crate::pipeline::BoxFuture;
use http::StatusCode;
use http_body_util::Full;
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// Samples per CPU-second, as Go's `runtime/pprof`.
pub const FREQUENCY: u32 = 100;
/// `seconds` when the request gives none, as Go's handler.
pub const DEFAULT_SECONDS: u64 = 30;
/// The longest profile one request may ask for.
pub const MAX_SECONDS: u64 = 3600;

/// `extensions: pprof:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PprofConfig {
    /// Where to listen (default `localhost:1777`: reach it with `kubectl port-forward`).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Go's block profile rate: only `0` (off) is accepted.
    #[serde(default)]
    pub block_profile_fraction: i64,
    /// Go's mutex profile rate: only `0` (off) is accepted.
    #[serde(default)]
    pub mutex_profile_fraction: i64,
    /// Profile the whole run and write it here at shutdown.
    #[serde(default)]
    pub save_to_file: Option<String>,
}

fn default_endpoint() -> String {
    "localhost:1777".into()
}

impl Validate for PprofConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if let Err(r) = net::check_endpoint(&self.endpoint) {
            e.push(ConfigError::new(r).field("endpoint"));
        }
        for (field, v) in [
            ("block_profile_fraction", self.block_profile_fraction),
            ("mutex_profile_fraction", self.mutex_profile_fraction),
        ] {
            if v != 0 {
                e.push(
                    ConfigError::new(format!(
                        "{v}: Go's runtime profiles blocking and lock contention; this collector is not a Go program and has only the CPU profile (set 0 or remove it)"
                    ))
                    .field(field),
                );
            }
        }
        if self.save_to_file.as_deref() == Some("") {
            e.push(ConfigError::new("must be a file path").field("save_to_file"));
        }
        e
    }
}

impl ExtensionConfig for PprofConfig {
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError> {
        Ok(Box::new(Pprof {
            cfg: self.clone(),
            ctx: ctx.clone(),
            server: None,
            stop: CancellationToken::new(),
            whole_run: None,
        }))
    }
}

/// The profiler is process-wide: one profile at a time, across every `pprof` extension.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Why a profile could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Another profile is being taken.
    #[error(
        "a CPU profile is already being taken (one at a time; `save_to_file` holds it for the whole run)"
    )]
    Busy,
    /// The profiler failed.
    #[error("profiling failed: {0}")]
    Profiler(String),
}

/// A CPU profile being taken; [`Session::finish`] stops it and encodes it.
pub struct Session {
    guard: pprof::ProfilerGuard<'static>,
    started: Instant,
    wall: SystemTime,
}

impl Session {
    /// Starts sampling.
    pub fn start() -> Result<Self, ProfileError> {
        if BUSY.swap(true, Ordering::AcqRel) {
            return Err(ProfileError::Busy);
        }
        // Unwinding through these from a signal handler can deadlock on their locks.
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY as i32)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .map_err(|e| {
                BUSY.store(false, Ordering::Release);
                ProfileError::Profiler(e.to_string())
            })?;
        Ok(Self {
            guard,
            started: Instant::now(),
            wall: SystemTime::now(),
        })
    }

    /// Stops sampling and returns the profile, gzip-compressed as Go writes it.
    pub fn finish(self) -> Result<Vec<u8>, ProfileError> {
        let report = self.guard.report().build();
        let duration = self.started.elapsed();
        drop(self.guard);
        BUSY.store(false, Ordering::Release);
        let report = report.map_err(|e| ProfileError::Profiler(e.to_string()))?;
        let stacks: profile::Stacks = report
            .data
            .iter()
            .map(|(frames, count)| {
                let stack = frames
                    .frames
                    .iter()
                    .map(|symbols| profile::Frame {
                        address: symbols
                            .first()
                            .and_then(|s| s.addr)
                            .map_or(0, |a| a as usize as u64),
                        symbols: symbols
                            .iter()
                            .map(|s| profile::Symbol {
                                name: s.name(),
                                system_name: s.sys_name().into_owned(),
                                filename: s.filename().into_owned(),
                                line: s.lineno(),
                            })
                            .collect(),
                    })
                    .collect();
                (
                    stack,
                    frames.thread_name_or_id(),
                    u64::try_from(*count).unwrap_or(0),
                )
            })
            .collect();
        let since_epoch = self
            .wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let p = profile::cpu_profile(
            &stacks,
            FREQUENCY,
            i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX),
            i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX),
        );
        Ok(crate::otlp::gzip::compress(
            &prost::Message::encode_to_vec(&p),
            6,
        ))
    }
}

/// Takes a CPU profile of `seconds`, ended early by `stop`, on a blocking thread (sampling
/// needs no task, and symbolizing takes CPU).
pub async fn take(seconds: u64, stop: CancellationToken) -> Result<Vec<u8>, ProfileError> {
    let session = Session::start()?;
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        () = stop.cancelled() => {}
    }
    tokio::task::spawn_blocking(move || session.finish())
        .await
        .map_err(|e| ProfileError::Profiler(e.to_string()))?
}

struct Pprof {
    cfg: PprofConfig,
    ctx: Context,
    server: Option<HttpServer>,
    stop: CancellationToken,
    /// `save_to_file`: the session and where it goes.
    whole_run: Option<(Session, std::fs::File)>,
}

impl Extension for Pprof {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(path) = &self.cfg.save_to_file {
                // Opened now, as the Collector does, so that a bad path stops start-up.
                let file = std::fs::File::create(path).map_err(|e| {
                    self.ctx
                        .error(format!("save_to_file: cannot create {path:?}: {e}"))
                })?;
                let session = Session::start().map_err(|e| self.ctx.error(e))?;
                self.whole_run = Some((session, file));
            }
            let label = self.ctx.label();
            // Loopback is the intended default (port-forward reaches it): no warning.
            let listener = net::bind(&label, "pprof", &self.cfg.endpoint, false)
                .await
                .map_err(|e| self.ctx.error(e))?;
            let stop = self.stop.clone();
            self.server = Some(HttpServer::serve(listener, move |req| {
                let stop = stop.clone();
                async move { answer(req.method(), req.uri(), stop).await }
            }));
            Ok(())
        })
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // In-flight profiles end now, with what they have, rather than hold shutdown.
            self.stop.cancel();
            if let Some(mut s) = self.server.take() {
                s.shutdown().await;
            }
            if let Some((session, mut file)) = self.whole_run.take() {
                let label = self.ctx.label();
                let path = self.cfg.save_to_file.clone().unwrap_or_default();
                let written = tokio::task::spawn_blocking(move || {
                    let bytes = session.finish().map_err(|e| e.to_string())?;
                    std::io::Write::write_all(&mut file, &bytes).map_err(|e| e.to_string())?;
                    file.sync_all().map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                match written {
                    Ok(()) => {
                        tracing::info!(component = %label, path, "CPU profile of the whole run written")
                    }
                    Err(e) => {
                        tracing::error!(component = %label, path, error = %e, "could not write the CPU profile")
                    }
                }
            }
        })
    }
}

type Response = http::Response<Full<bytes::Bytes>>;

/// Go's profiles that have no counterpart here.
const GO_ONLY: [&str; 8] = [
    "heap",
    "allocs",
    "goroutine",
    "block",
    "mutex",
    "threadcreate",
    "trace",
    "symbol",
];

/// The `seconds` of a profile request: 30 when absent; a positive whole number up to an hour.
pub fn seconds(query: Option<&str>) -> Result<u64, String> {
    match query.and_then(|q| net::query_param(q, "seconds")) {
        None => Ok(DEFAULT_SECONDS),
        Some(s) => match s.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_SECONDS).contains(&n) => Ok(n),
            _ => Err(format!(
                "seconds={s:?}: must be a whole number of seconds from 1 to {MAX_SECONDS}"
            )),
        },
    }
}

async fn answer(method: &http::Method, uri: &http::Uri, stop: CancellationToken) -> Response {
    if let Some(refused) = net::only_get(method) {
        return refused;
    }
    let path = uri.path();
    match path {
        "/debug/pprof" | "/debug/pprof/" => net::html(index()),
        "/debug/pprof/cmdline" => net::text(
            StatusCode::OK,
            std::env::args().collect::<Vec<_>>().join("\0"),
        ),
        "/debug/pprof/profile" => {
            let secs = match seconds(uri.query()) {
                Ok(s) => s,
                Err(e) => return net::text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            };
            match take(secs, stop).await {
                Ok(bytes) => {
                    let mut r = http::Response::new(Full::new(bytes::Bytes::from(bytes)));
                    let h = r.headers_mut();
                    h.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/octet-stream"),
                    );
                    h.insert(
                        http::header::CONTENT_DISPOSITION,
                        http::HeaderValue::from_static("attachment; filename=\"profile\""),
                    );
                    h.insert(
                        http::header::X_CONTENT_TYPE_OPTIONS,
                        http::HeaderValue::from_static("nosniff"),
                    );
                    r
                }
                Err(e @ ProfileError::Busy) => net::text(StatusCode::CONFLICT, format!("{e}\n")),
                Err(e) => net::text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
            }
        }
        _ => match path.strip_prefix("/debug/pprof/") {
            Some(name) if GO_ONLY.contains(&name) => net::text(
                StatusCode::NOT_FOUND,
                format!(
                    "{name}: a Go runtime profile; this collector is written in Rust and offers the CPU profile: /debug/pprof/profile?seconds=30\n"
                ),
            ),
            _ => net::text(StatusCode::NOT_FOUND, "not found\n"),
        },
    }
}

fn index() -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>/debug/pprof/ · meshtrace</title></head><body>\n\
         <h1>/debug/pprof/</h1>\n<table>\n\
         <tr><td><a href=\"profile?seconds={DEFAULT_SECONDS}\">profile</a></td><td>CPU profile: every thread's stacks, {FREQUENCY} samples per CPU-second. <code>go tool pprof http://HOST/debug/pprof/profile?seconds=30</code></td></tr>\n\
         <tr><td><a href=\"cmdline\">cmdline</a></td><td>the command line, arguments separated by NUL</td></tr>\n\
         </table>\n<p>Go's heap, allocs, goroutine, block, mutex, threadcreate and trace profiles are views of the Go runtime; this collector is written in Rust.</p>\n\
         </body></html>\n"
    )
}

#[cfg(test)]
mod tests;
