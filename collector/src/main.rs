//! The `meshtrace-collector` binary: command line, signals, exit codes. Everything else is in
//! the library.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// An OTLP collector for service meshes, configured with the OpenTelemetry Collector's YAML.
#[derive(Parser, Debug)]
#[command(name = "meshtrace-collector", version, about)]
struct Cli {
    /// Configuration source: a file path, `file:PATH`, `env:VAR` or `yaml:a::b: value`.
    /// Repeat to merge several; later ones win.
    #[arg(long = "config", global = true, value_name = "URI")]
    config: Vec<String>,

    /// Sets one configuration property, as the OpenTelemetry Collector's `--set`:
    /// `processors.batch.timeout=2s`. Repeatable; applied after every `--config`, so it wins
    /// (maps merge, lists are replaced).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_set)]
    set: Vec<String>,

    /// How long a graceful shutdown may take before remaining data is dropped.
    #[arg(long, global = true, default_value = "25s", value_parser = parse_duration)]
    shutdown_timeout: Duration,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Checks the configuration and exits: 0 when valid, 1 otherwise, naming each problem (within one component's section, the first)
    Validate,
    /// Lists the supported receivers, processors, exporters, extensions and connectors.
    Components,
}

impl Cli {
    /// The configuration sources in the order they merge: every `--config`, then every `--set`.
    fn sources(&self) -> Vec<String> {
        self.config.iter().chain(&self.set).cloned().collect()
    }
}

fn parse_set(s: &str) -> Result<String, String> {
    meshtrace_collector::config::set_flag_source(s)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    meshtrace_collector::config::duration::parse(s)
}

fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Components) => {
            print!(
                "{}",
                meshtrace_collector::registry::Registry::builtin().describe()
            );
            ExitCode::SUCCESS
        }
        Some(Command::Validate) => match meshtrace_collector::load_config(&cli.sources()) {
            Ok(cfg) => {
                for w in &cfg.warnings {
                    eprintln!("warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("Error: {e}");
                ExitCode::FAILURE
            }
        },
        None => match run(&cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let cfg = meshtrace_collector::load_config(&cli.sources())?;
    let log_export = meshtrace_collector::telemetry::logs::init(&cfg.service.telemetry.logs)
        .map_err(|e| meshtrace_collector::config::ConfigErrors(vec![e]))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("meshtrace")
        .build()
        .context("cannot start the async runtime")?;
    // Registered before anything starts, so a signal that arrives while the pipelines start
    // up is a clean shutdown rather than the default action (death).
    let (mut int, mut term) = rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        anyhow::Ok((
            signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        ))
    })?;
    rt.block_on(async {
        let shutdown = async move {
            tokio::select! {
                _ = int.recv() => tracing::info!("Received signal from OS: interrupt"),
                _ = term.recv() => tracing::info!("Received signal from OS: terminated"),
            }
        };
        meshtrace_collector::run(cfg, log_export, shutdown, cli.shutdown_timeout).await
    })
    .context("the collector stopped with an error")
}

/// glibc raises its mmap threshold to the size of the largest block freed (up to 32 MiB); after
/// that, batch-sized buffers (megabytes each, alive for one export) come from the heap, and their
/// pages stay resident long after use. A fixed threshold keeps every block over 256 KiB in a
/// mapping of its own, returned to the system when freed: peak RSS at 100 spans/request went
/// from 100–114 MiB to 78–79 MiB (BENCHMARKS.md). A threshold the user set through the
/// environment is left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    let user_set = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("mmap_threshold"));
    if !user_set {
        // SAFETY: mallopt only sets an allocator parameter; it runs first thing in main, before
        // any other thread exists.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}
