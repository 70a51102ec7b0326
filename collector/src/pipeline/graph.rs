//! The running service: components built from a [`Resolved`] config and wired into a graph.
//!
//! - One exporter instance per (exporter id, signal), shared by every pipeline of that signal
//!   that names it (fan-in).
//! - One processor instance per (pipeline, processor id), as in the Collector.
//! - One receiver instance per id, feeding every pipeline that names it (fan-out per signal).
//! - One connector instance per (connector id, signal in, signal out), fed by every pipeline
//!   naming it as an exporter, feeding every pipeline naming it as a receiver.
//!
//! Start: extensions → exporters → receivers (processors run from when they are built), then
//! the health check turns healthy. Shutdown, within a deadline: health unhealthy → receivers
//! stop accepting and finish in-flight requests → processors flush, in pipeline order
//! (a pipeline, then the connectors it feeds, before the pipelines they feed) →
//! exporters drain their queues → extensions stop.

use crate::component::{
    ComponentError, ComponentId, Connector, Context, Exporter, Extension, Kind, PipelineHeads,
    Processor, Receiver, SignalConsumers,
};
use crate::config::Resolved;
use crate::extension::health_check::Health;
use crate::otlp::Signal;
use crate::pipeline::{Consumer, Fanout};
use crate::telemetry::Telemetry;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One pipeline's processors in order and the connectors it is the last to feed.
type Stage = (Vec<Arc<dyn Processor>>, Vec<Arc<dyn Connector>>);

/// The built collector.
pub struct Service {
    extensions: Vec<(ComponentId, Box<dyn Extension>)>,
    exporters: Vec<((ComponentId, Signal), Arc<dyn Exporter>)>,
    /// Per pipeline, what it flushes on shutdown; the pipelines upstream first.
    processors: Vec<Stage>,
    receivers: Vec<(ComponentId, Box<dyn Receiver>)>,
    health: Arc<Health>,
}

impl Service {
    /// Builds every component of `cfg` (nothing listens yet).
    pub fn build(
        cfg: &Resolved,
        telemetry: &Arc<Telemetry>,
        health: &Arc<Health>,
    ) -> Result<Self, ComponentError> {
        let mut host = crate::extension::Host::default();
        let topology = Arc::new(crate::component::Topology {
            pipelines: cfg.pipelines.clone(),
            extensions: cfg.service.extensions.clone(),
        });
        let ctx_in = |id: &ComponentId, kind: Kind, host: &Arc<crate::extension::Host>| Context {
            id: id.clone(),
            kind,
            telemetry: telemetry.clone(),
            health: health.clone(),
            host: host.clone(),
            topology: topology.clone(),
        };
        let empty = Arc::new(crate::extension::Host::default());
        let missing = |kind: Kind, id: &ComponentId| ComponentError {
            component: format!("{}::{id}", kind.section()),
            reason: "not configured".into(),
        };

        let mut extensions = Vec::new();
        for name in &cfg.service.extensions {
            let id = ComponentId::parse(name).map_err(|e| ComponentError {
                component: "service::extensions".into(),
                reason: e,
            })?;
            let c = cfg
                .extensions
                .get(&id)
                .ok_or_else(|| missing(Kind::Extension, &id))?;
            let ext = c.build(&ctx_in(&id, Kind::Extension, &empty))?;
            host.add(name, ext.as_ref());
            extensions.push((id.clone(), ext));
        }
        let host = Arc::new(host);
        let ctx = |id: &ComponentId, kind: Kind| ctx_in(id, kind, &host);

        let mut exporters: BTreeMap<(ComponentId, Signal), Arc<dyn Exporter>> = BTreeMap::new();
        let mut heads: BTreeMap<(ComponentId, Signal), Vec<Arc<dyn Consumer>>> = BTreeMap::new();
        // Per pipeline, its first consumer, once built.
        let mut firsts: Vec<Option<Arc<dyn Consumer>>> = vec![None; cfg.pipelines.len()];
        // One connector instance per (id, signal in, signal out), as in the Collector.
        let mut connectors: BTreeMap<(ComponentId, Signal, Signal), Arc<dyn Connector>> =
            BTreeMap::new();
        let mut processors = Vec::new();
        // Downstream first: a connector is built from the pipelines it feeds.
        for &index in cfg.order.iter().rev() {
            let Some(p) = cfg.pipelines.get(index) else {
                continue;
            };
            let signal = p.id.signal;
            let mut outs: Vec<Arc<dyn Consumer>> = Vec::new();
            // Built here: this is the most downstream pipeline feeding them, so the last one
            // flushed before them on shutdown.
            let mut built: Vec<Arc<dyn Connector>> = Vec::new();
            for id in &p.exporters {
                if let Some(c) = cfg.connectors.get(id) {
                    // Every pipeline receiving from it is downstream of this one, so built.
                    let mut fed: BTreeMap<Signal, PipelineHeads> = BTreeMap::new();
                    for (q, first) in cfg.pipelines.iter().zip(&firsts) {
                        if let Some(first) = first
                            && q.receivers.contains(id)
                        {
                            fed.entry(q.id.signal)
                                .or_default()
                                .push((q.id.clone(), first.clone()));
                        }
                    }
                    for (to, list) in fed {
                        let key = (id.clone(), signal, to);
                        let instance = match connectors.get(&key) {
                            Some(i) => i.clone(),
                            None => {
                                let i = c.build(&ctx(id, Kind::Connector), signal, to, list)?;
                                connectors.insert(key, i.clone());
                                built.push(i.clone());
                                i
                            }
                        };
                        outs.push(instance);
                    }
                    continue;
                }
                let key = (id.clone(), signal);
                if !exporters.contains_key(&key) {
                    let c = cfg
                        .exporters
                        .get(id)
                        .ok_or_else(|| missing(Kind::Exporter, id))?;
                    exporters.insert(key.clone(), c.build(&ctx(id, Kind::Exporter), signal)?);
                }
                if let Some(e) = exporters.get(&key) {
                    outs.push(e.clone());
                }
            }
            let mut next = Fanout::build(outs);
            let mut chain = Vec::new();
            for id in p.processors.iter().rev() {
                let c = cfg
                    .processors
                    .get(id)
                    .ok_or_else(|| missing(Kind::Processor, id))?;
                let proc = c.build(&ctx(id, Kind::Processor), signal, next)?;
                next = proc.clone();
                chain.push(proc);
            }
            chain.reverse();
            processors.push((chain, built));
            if let Some(slot) = firsts.get_mut(index) {
                *slot = Some(next.clone());
            }
            for r in p
                .receivers
                .iter()
                .filter(|r| !cfg.connectors.contains_key(r))
            {
                heads
                    .entry((r.clone(), signal))
                    .or_default()
                    .push(next.clone());
            }
        }
        // Flushed upstream first, so what a pipeline holds reaches the ones it feeds.
        processors.reverse();

        let mut receivers = Vec::new();
        let mut ids: Vec<&ComponentId> = heads.keys().map(|(id, _)| id).collect();
        ids.dedup();
        for id in ids {
            let mut consumers = SignalConsumers::default();
            for s in [Signal::Traces, Signal::Metrics, Signal::Logs] {
                if let Some(list) = heads.get(&(id.clone(), s)) {
                    consumers.set(s, Fanout::build(list.clone()));
                }
            }
            let c = cfg
                .receivers
                .get(id)
                .ok_or_else(|| missing(Kind::Receiver, id))?;
            receivers.push((id.clone(), c.build(&ctx(id, Kind::Receiver), consumers)?));
        }

        Ok(Self {
            extensions,
            exporters: exporters.into_iter().collect(),
            processors,
            receivers,
            health: health.clone(),
        })
    }

    /// Starts everything in order; on failure, stops what had started and returns the error.
    pub async fn start(&mut self) -> Result<(), ComponentError> {
        let mut failure = None;
        let mut ext_started = 0;
        for (_, e) in &mut self.extensions {
            if let Err(err) = e.start().await {
                failure = Some(err);
                break;
            }
            ext_started += 1;
        }
        if failure.is_none() {
            for (_, e) in &self.exporters {
                if let Err(err) = e.start().await {
                    failure = Some(err);
                    break;
                }
            }
        }
        let mut rec_started = 0;
        if failure.is_none() {
            for (_, r) in &mut self.receivers {
                if let Err(err) = r.start().await {
                    failure = Some(err);
                    break;
                }
                rec_started += 1;
            }
        }
        if let Some(err) = failure {
            for (_, r) in self.receivers.iter_mut().take(rec_started) {
                r.shutdown().await;
            }
            self.stop_processors_and_exporters().await;
            for (_, e) in self.extensions.iter_mut().take(ext_started).rev() {
                e.shutdown().await;
            }
            return Err(err);
        }
        self.health.set_ready();
        tracing::info!(
            receivers = self.receivers.len(),
            exporters = self.exporters.len(),
            pipelines = self.processors.len(),
            "Everything is ready. Begin running and processing data."
        );
        Ok(())
    }

    async fn stop_processors_and_exporters(&mut self) {
        // Each pipeline's processors in order, so an upstream batch flushes into a live
        // downstream one, then the connectors it was the last to feed.
        for (chain, connectors) in &self.processors {
            for p in chain {
                p.shutdown().await;
            }
            for c in connectors {
                c.shutdown().await;
            }
        }
        for (_, e) in &self.exporters {
            e.shutdown().await;
        }
    }

    /// Shuts down in reverse order, giving up after `deadline`.
    pub async fn shutdown(mut self, deadline: Duration) {
        self.health.set_stopping();
        tracing::info!("Starting shutdown...");
        let work = async {
            for (_, r) in &mut self.receivers {
                r.shutdown().await;
            }
            tracing::debug!("receivers stopped");
            self.stop_processors_and_exporters().await;
            tracing::debug!("processors and exporters drained");
        };
        if tokio::time::timeout(deadline, work).await.is_err() {
            tracing::error!(
                deadline = %crate::config::duration::format(deadline),
                "shutdown deadline exceeded: data still held by processors or exporter queues is lost"
            );
        }
        for (_, e) in self.extensions.iter_mut().rev() {
            e.shutdown().await;
        }
        tracing::info!("Shutdown complete.");
    }
}
