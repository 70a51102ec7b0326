//! The running form of a connector that turns spans into metrics (`spanmetrics`,
//! `servicegraph`): it aggregates what the traces pipelines hand it under a mutex and, every
//! flush interval and once more at shutdown, hands the metrics it built to the metrics
//! pipelines. What the metrics pipelines refuse is logged; the data was acknowledged upstream.

use crate::background::Background;
use crate::component::PipelineHeads;
use crate::component::{ComponentError, Connector, Context};
use crate::config::ConfigError;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::{InstrumentationScope, KeyValue};
use crate::otlp::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::{Batch, Limits, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer, Fanout};
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// The state between flushes. Times are Unix nanoseconds, passed in so tests drive them.
pub trait Aggregate: Send + 'static {
    /// Takes an encoded, validated `ExportTraceServiceRequest`; returns the spans it could not
    /// count, with why, for a debug log.
    fn add(&mut self, request: &[u8], now: u64) -> Option<(usize, &'static str)>;
    /// The metrics to emit now, if any.
    fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest>;
    /// Periodic upkeep between flushes (expiring what waits too long).
    fn maintain(&mut self, _now: u64) {}
}

/// Unix nanoseconds now.
pub fn now_nanos() -> u64 {
    crate::telemetry::push::unix_nanos(SystemTime::now())
}

/// How often to flush and to run [`Aggregate::maintain`].
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Between flushes; zero: after every request.
    pub flush: Duration,
    /// Between upkeeps, if any.
    pub maintain: Option<Duration>,
}

/// One resource's metrics under the connector's scope.
pub fn resource_metrics(
    attributes: Vec<KeyValue>,
    scope: &str,
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: scope.to_owned(),
                ..Default::default()
            }),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// A connector's build: refused with every error `validate` found, else started.
pub fn build<A: Aggregate>(
    ctx: &Context,
    errors: &[ConfigError],
    schedule: Schedule,
    pipelines: PipelineHeads,
    state: impl FnOnce() -> A,
) -> Result<Arc<dyn Connector>, ComponentError> {
    if !errors.is_empty() {
        return Err(ctx.config_errors(errors));
    }
    Ok(start(state(), schedule, pipelines, ctx.label()))
}

/// Builds the running connector and starts its timer (needs a tokio runtime).
pub fn start<A: Aggregate>(
    state: A,
    schedule: Schedule,
    pipelines: PipelineHeads,
    label: String,
) -> Arc<dyn Connector> {
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        next: Fanout::build(pipelines.into_iter().map(|(_, head)| head).collect()),
        label,
        every_request: schedule.flush.is_zero(),
    });
    let task = Background::spawn(|stop| tick(shared.clone(), schedule, stop));
    Arc::new(Periodic { shared, task })
}

struct Shared<A> {
    state: Mutex<A>,
    next: Arc<dyn Consumer>,
    label: String,
    every_request: bool,
}

impl<A: Aggregate> Shared<A> {
    /// Builds the metrics of what is held and hands them to the metrics pipelines.
    async fn flush(&self) {
        let request = match self.state.lock() {
            Ok(mut a) => a.flush(now_nanos()),
            Err(_) => return,
        };
        let Some(request) = request else { return };
        let batch = match Batch::new_validated(
            Signal::Metrics,
            request.encode_to_vec().into(),
            &Limits::default(),
        ) {
            Ok(b) => b,
            Err(e) => {
                // Only a dimension value over the attribute limits could get here.
                tracing::error!(component = %self.label, error = %e, "metrics not emitted");
                return;
            }
        };
        let points = batch.items();
        if let Err(e) = self.next.consume(batch).await {
            tracing::warn!(
                component = %self.label,
                data_points = points,
                error = %e,
                "metrics not delivered"
            );
        }
    }

    fn maintain(&self) {
        if let Ok(mut a) = self.state.lock() {
            a.maintain(now_nanos());
        }
    }
}

async fn tick<A: Aggregate>(shared: Arc<Shared<A>>, schedule: Schedule, stop: CancellationToken) {
    let interval = |every: Duration| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    };
    // A zero flush interval flushes after each request instead; the timer then never fires.
    let mut flush = interval(if schedule.flush.is_zero() {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        schedule.flush
    });
    let mut maintain = schedule.maintain.map(interval);
    loop {
        let upkeep = async {
            match maintain.as_mut() {
                Some(m) => {
                    m.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = flush.tick() => shared.flush().await,
            _ = upkeep => shared.maintain(),
        }
    }
}

struct Periodic<A> {
    shared: Arc<Shared<A>>,
    task: Background,
}

impl<A: Aggregate> Consumer for Periodic<A> {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let skipped = match self.shared.state.lock() {
                Ok(mut a) => a.add(batch.bytes(), now_nanos()),
                Err(_) => {
                    return Err(ConsumeError::permanent(format!(
                        "{}: the aggregation state is unusable after a panic",
                        self.shared.label
                    )));
                }
            };
            if let Some((spans, why)) = skipped {
                tracing::debug!(component = %self.shared.label, spans, "spans not counted: {why}");
            }
            if self.shared.every_request {
                self.shared.flush().await;
            }
            Ok(())
        })
    }
}

impl<A: Aggregate> Connector for Periodic<A> {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.task.stop().await {
                // What arrived since the last tick goes out before the metrics pipelines
                // stop; the Collector drops it.
                self.shared.flush().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::otlp::proto::metrics::v1::{Gauge, NumberDataPoint, metric};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts what it is given; a flush emits one gauge point per request added since.
    #[derive(Default)]
    struct Counting {
        added: usize,
        maintained: Arc<AtomicUsize>,
    }

    impl Aggregate for Counting {
        fn add(&mut self, _request: &[u8], _now: u64) -> Option<(usize, &'static str)> {
            self.added += 1;
            None
        }
        fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
            let n = std::mem::take(&mut self.added);
            (n > 0).then(|| ExportMetricsServiceRequest {
                resource_metrics: vec![resource_metrics(
                    Vec::new(),
                    "test",
                    (0..n)
                        .map(|_| Metric {
                            name: "added".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![NumberDataPoint {
                                    time_unix_nano: now,
                                    ..Default::default()
                                }],
                            })),
                            ..Default::default()
                        })
                        .collect(),
                )],
            })
        }
        fn maintain(&mut self, _now: u64) {
            self.maintained.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<usize>>);

    impl Consumer for Recorder {
        fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async move {
                self.0.lock().unwrap().push(batch.items());
                Ok(())
            })
        }
    }

    fn heads(r: &Arc<Recorder>) -> PipelineHeads {
        vec![(
            crate::config::PipelineId::parse("metrics").unwrap(),
            r.clone() as Arc<dyn Consumer>,
        )]
    }

    fn seen(r: &Recorder) -> Vec<usize> {
        r.0.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn flushes_on_the_interval_with_upkeep_between_and_once_more_at_shutdown() {
        let rec = Arc::new(Recorder::default());
        let maintained = Arc::new(AtomicUsize::new(0));
        let state = Counting {
            added: 0,
            maintained: maintained.clone(),
        };
        let schedule = Schedule {
            flush: Duration::from_secs(10),
            maintain: Some(Duration::from_secs(1)),
        };
        let c = start(state, schedule, heads(&rec), "connectors::test".into());
        c.consume(Batch::empty(Signal::Traces)).await.unwrap();
        c.consume(Batch::empty(Signal::Traces)).await.unwrap();
        assert_eq!(
            seen(&rec),
            Vec::<usize>::new(),
            "nothing before the interval"
        );
        tokio::time::sleep(Duration::from_millis(10_500)).await;
        assert_eq!(seen(&rec), [2]);
        assert_eq!(maintained.load(Ordering::Relaxed), 10);
        c.consume(Batch::empty(Signal::Traces)).await.unwrap();
        c.shutdown().await;
        assert_eq!(
            seen(&rec),
            [2, 1],
            "what came after the last tick, at shutdown"
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(seen(&rec), [2, 1], "the timer stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_interval_flushes_after_every_request() {
        let rec = Arc::new(Recorder::default());
        let schedule = Schedule {
            flush: Duration::ZERO,
            maintain: None,
        };
        let c = start(Counting::default(), schedule, heads(&rec), "t".into());
        c.consume(Batch::empty(Signal::Traces)).await.unwrap();
        assert_eq!(seen(&rec), [1]);
        c.consume(Batch::empty(Signal::Traces)).await.unwrap();
        assert_eq!(seen(&rec), [1, 1]);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        c.shutdown().await;
        assert_eq!(seen(&rec), [1, 1], "nothing left to flush");
    }
}
