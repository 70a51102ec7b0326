//! The root context: parses the plugin configuration and reads the node metadata once (in
//! `on_configure`), hands each HTTP context the shared [`Tracer`] and export buffer, and on
//! its tick sends due batches to the collector and reports the counters.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use crate::config::{Config, Mode};
use crate::export::{ExportQueue, Outcome, QueueSettings};
use crate::host::{self, ExportRequest, HostNode, HostRandom, Metrics, StreamExpression};
use crate::http::Http;
use crate::ids::RandomIds;
use crate::node::{NodeInfo, Resource};
use crate::otlp::Framing;
use crate::otlp::response::parse_partial_success;
use crate::stream;
use crate::tracer::Tracer;

/// Ids for every request of this VM (one VM per worker thread, so no sharing across threads).
pub type VmIds = Rc<RefCell<RandomIds<HostRandom>>>;
/// The export buffer of this root context, shared with its HTTP contexts.
pub type SharedQueue = Rc<RefCell<ExportQueue>>;

/// Export failures are logged at most this often; the counters count every one.
const FAILURE_LOG_INTERVAL_NS: u64 = 60_000_000_000;

/// Where batches go.
#[derive(Debug)]
struct Target {
    cluster: String,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

/// The plugin's root context.
pub struct Root {
    tracer: Rc<Tracer>,
    ids: VmIds,
    queue: Option<SharedQueue>,
    target: Option<Target>,
    metrics: Option<Metrics>,
    expression: StreamExpression,
    last_failure_log_ns: Option<u64>,
}

impl Root {
    /// A root with the default configuration until `on_configure` runs.
    pub fn new() -> Self {
        Root {
            tracer: Rc::new(Tracer::new(&Config::default(), &NodeInfo::default())),
            ids: Rc::new(RefCell::new(RandomIds::new(HostRandom::default()))),
            queue: None,
            target: None,
            metrics: None,
            expression: StreamExpression::default(),
            last_failure_log_ns: None,
        }
    }

    /// Sends every due batch (all of them when `force`) and reports the counters.
    fn flush(&mut self, force: bool) {
        let (Some(queue), Some(target)) = (&self.queue, &self.target) else {
            return;
        };
        let Ok(mut q) = queue.try_borrow_mut() else {
            return;
        };
        let now_ms = host::now_ns() / 1_000_000;
        while let Some(out) = q.next_batch(now_ms, force) {
            let request = ExportRequest {
                cluster: &target.cluster,
                authority: &target.authority,
                path: &target.path,
                headers: &target.headers,
                body: out.body(),
                timeout: target.timeout,
            };
            match host::dispatch(&request) {
                Ok(token) => q.sent(out, token),
                Err(why) => {
                    let spans = out.spans();
                    q.send_failed(out);
                    if should_log(&mut self.last_failure_log_ns) {
                        log::error!(
                            "span export failed: {why}; {spans} spans lost (meshtrace.spans_failed counts every failure; logged at most once a minute)"
                        );
                    }
                }
            }
        }
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.report(&q.take_counts(), q.buffered());
        }
    }
}

fn should_log(last: &mut Option<u64>) -> bool {
    let now = host::now_ns();
    match *last {
        Some(t) if now.saturating_sub(t) < FAILURE_LOG_INTERVAL_NS => false,
        _ => {
            *last = Some(now);
            true
        }
    }
}

impl Default for Root {
    fn default() -> Self {
        Root::new()
    }
}

impl Context for Root {
    /// Envoy is shutting down or replacing the plugin: send what is buffered (best effort).
    fn on_done(&mut self) -> bool {
        self.flush(true);
        true
    }

    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let (status, body) = host::export_response(num_headers, body_size);
        let outcome = match status {
            Some(s) if (200..300).contains(&s) => Outcome::Success {
                rejected: parse_partial_success(&body).map_or(0, |p| {
                    if p.rejected_spans > 0 {
                        log::warn!(
                            "the collector rejected {} spans: {}",
                            p.rejected_spans,
                            p.error_message
                        );
                    }
                    p.rejected_spans
                }),
            },
            _ => Outcome::Failure,
        };
        let Some(queue) = &self.queue else { return };
        let Ok(mut q) = queue.try_borrow_mut() else {
            return;
        };
        let spans = q.on_response(token_id, outcome);
        if outcome == Outcome::Failure && should_log(&mut self.last_failure_log_ns) {
            let cluster = self.target.as_ref().map_or("", |t| t.cluster.as_str());
            match status {
                Some(s) => log::warn!(
                    "span export to {cluster} failed: HTTP {s}; {} spans lost (logged at most once a minute)",
                    spans.unwrap_or(0)
                ),
                None => log::warn!(
                    "span export to {cluster} failed: timeout or connection failure; {} spans lost (logged at most once a minute)",
                    spans.unwrap_or(0)
                ),
            }
        }
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.report(&q.take_counts(), q.buffered());
        }
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        host::sync_log_level();
        true
    }

    /// Refuses a bad configuration: Envoy then rejects the filter (at startup, or the
    /// listener update in Istio) with this log line, instead of failing requests later.
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        host::sync_log_level();
        let config = match Config::from_json(&host::plugin_configuration()) {
            Ok(config) => config,
            Err(e) => {
                log::error!("invalid plugin configuration: {e}");
                return false;
            }
        };
        let node = NodeInfo::read(&mut HostNode);
        log::info!("configured: {}", config.summary());
        self.tracer = Rc::new(Tracer::new(&config, &node));
        self.queue = None;
        self.target = None;
        if let (Mode::Tracer, Some(export)) = (config.mode, &config.export) {
            let resource = Resource::build(&node, &config.resource);
            for warning in &resource.warnings {
                log::warn!("{warning}");
            }
            log::info!(
                "resource: {}",
                resource
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            self.queue = Some(Rc::new(RefCell::new(ExportQueue::new(
                QueueSettings::new(export),
                Framing::new(&resource.attributes),
            ))));
            self.target = Some(Target {
                cluster: export.cluster.clone(),
                authority: export.effective_authority(),
                path: export.path.clone(),
                headers: export
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                timeout: Duration::from_millis(export.timeout_ms),
            });
            self.metrics = Some(Metrics::define());
            // One per root context, reading what its spans need (`span.kind` set: fewer).
            self.expression = self
                .expression
                .for_properties(stream::batched(config.span.kind));
            // A fifth of the flush interval: a full batch waits at most that long.
            let tick = (export.flush_interval_ms / 5).clamp(20, 200);
            host::set_tick_period(Duration::from_millis(tick));
        }
        true
    }

    fn on_tick(&mut self) {
        self.flush(false);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http::new(
            Rc::clone(&self.tracer),
            Rc::clone(&self.ids),
            self.queue.clone(),
            self.expression.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
