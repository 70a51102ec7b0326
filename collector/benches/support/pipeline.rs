//! Shared by the processor benchmark and the allocation test: processors built from YAML
//! through the registry (as the binary builds them) and driven without a runtime (their
//! futures complete at once when the next consumer does).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use meshtrace_collector::component::{ComponentId, Context, Kind, Processor, Validate};
use meshtrace_collector::config::value::from_yaml;
use meshtrace_collector::extension::health_check::Health;
use meshtrace_collector::otlp::{Batch, Signal};
use meshtrace_collector::pipeline::{BoxFuture, ConsumeError, Consumer};
use meshtrace_collector::registry::{Registry, find};
use meshtrace_collector::telemetry::Telemetry;

/// Drops what it gets (the exporter of a benchmark pipeline).
pub struct Null;

impl Consumer for Null {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            std::hint::black_box(batch);
            Ok(())
        })
    }
}

/// Polls a future that must be ready at once.
pub fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the pipeline waited"),
    }
}

/// A chain of processors (`(type, yaml)` in order) in front of `next`.
pub fn chain(processors: &[(&str, &str)], next: Arc<dyn Consumer>) -> Arc<dyn Consumer> {
    let registry = Registry::builtin();
    let telemetry = Arc::new(Telemetry::new("bench", "bench"));
    let health = Arc::new(Health::default());
    let mut next = next;
    for (ty, yaml) in processors.iter().rev() {
        let factory = find(&registry.processors, ty).expect("a known processor");
        let cfg = (factory.parse)(&from_yaml(yaml).unwrap()).unwrap();
        assert!(Validate::validate(&*cfg).is_empty(), "{ty}: {yaml}");
        let ctx = Context {
            id: ComponentId::parse(ty).unwrap(),
            kind: Kind::Processor,
            telemetry: telemetry.clone(),
            health: health.clone(),
            host: Default::default(),
            topology: Default::default(),
        };
        let p: Arc<dyn Processor> = cfg.build(&ctx, Signal::Traces, next).unwrap();
        next = p;
    }
    next
}

/// The seed pipeline's filter (issue 5).
pub const SEED_FILTER: &str = r#"
error_mode: ignore
traces:
  span:
    - IsMatch(attributes["upstream_cluster"], "grafana/.*")
    - attributes["http.route"] == "/livez"
    - attributes["user_agent.original"] == "kube-probe//"
    - name == "OperationHandler.handle"
"#;

/// The seed pipeline's attributes processor.
pub const SEED_ATTRIBUTES: &str =
    "actions:\n  - {key: cluster, value: tap-sandbox, action: upsert}\n";

/// A connector (`type`, yaml) feeding `pipelines`, each into `next`.
pub fn connector(
    ty: &str,
    yaml: &str,
    pipelines: &[&str],
    next: Arc<dyn Consumer>,
) -> Arc<dyn Consumer> {
    let registry = Registry::builtin();
    let factory = find(&registry.connectors, ty).expect("a known connector");
    let cfg = (factory.parse)(&from_yaml(yaml).unwrap()).unwrap();
    assert!(Validate::validate(&*cfg).is_empty(), "{ty}: {yaml}");
    let ctx = Context {
        id: ComponentId::parse(ty).unwrap(),
        kind: Kind::Connector,
        telemetry: Arc::new(Telemetry::new("bench", "bench")),
        health: Arc::new(Health::default()),
        host: Default::default(),
        topology: Default::default(),
    };
    let heads = pipelines
        .iter()
        .map(|p| {
            (
                meshtrace_collector::config::PipelineId::parse(p).unwrap(),
                next.clone(),
            )
        })
        .collect();
    cfg.build(&ctx, Signal::Traces, Signal::Traces, heads)
        .unwrap()
}
