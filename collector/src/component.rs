//! What a component is: its id, the traits its config and its running form implement, and
//! the context it is built with. Adding a component = a config struct implementing one of the
//! `*Config` traits + a factory entry in [`crate::registry`].

use crate::config::ConfigError;
use crate::extension::health_check::Health;
use crate::otlp::Signal;
use crate::pipeline::{BoxFuture, Consumer};
use crate::telemetry::Telemetry;
use std::fmt;
use std::sync::Arc;

/// The five kinds of components, as the config sections name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `receivers:`
    Receiver,
    /// `processors:`
    Processor,
    /// `exporters:`
    Exporter,
    /// `extensions:`
    Extension,
    /// `connectors:`
    Connector,
}

impl Kind {
    /// The config section (`receivers`).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
            Kind::Connector => "connectors",
        }
    }
    /// The singular (`receiver`), used in messages and metric labels.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
            Kind::Connector => "connector",
        }
    }
}

/// A component id: `type` or `type/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    type_: String,
    name: Option<String>,
}

impl ComponentId {
    /// Parses `type` or `type/name` with the Collector's rules: the type is a letter followed by
    /// up to 62 letters, digits or `_`; the name is non-empty, without spaces or control
    /// characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (type_, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let mut chars = type_.chars();
        let type_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && type_.len() <= 63;
        if !type_ok {
            return Err(format!(
                "invalid component id {s:?}: the type must start with a letter and contain only letters, digits and `_`"
            ));
        }
        if let Some(n) = name
            && (n.is_empty() || n.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(format!(
                "invalid component id {s:?}: the name after `/` must be non-empty, without spaces"
            ));
        }
        Ok(Self {
            type_: type_.to_owned(),
            name: name.map(str::to_owned),
        })
    }

    /// The type (`otlp`).
    pub fn type_name(&self) -> &str {
        &self.type_
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.type_, n),
            None => f.write_str(&self.type_),
        }
    }
}

/// A failure to build or start a component (a port in use, an unreadable certificate).
#[derive(Debug, thiserror::Error)]
#[error("{component}: {reason}")]
pub struct ComponentError {
    /// `exporters::otlp/tempo`.
    pub component: String,
    /// Why.
    pub reason: String,
}

/// What every component is built with.
#[derive(Clone)]
pub struct Context {
    /// Its id.
    pub id: ComponentId,
    /// Its kind.
    pub kind: Kind,
    /// Self-metrics: components register their counters here at build time.
    pub telemetry: Arc<Telemetry>,
    /// The collector's health, for the health check.
    pub health: Arc<Health>,
    /// The running extensions (storage, authenticators); empty while extensions are built.
    pub host: Arc<crate::extension::Host>,
    /// The service's pipelines and extensions, for pages that show them (`zpages`).
    pub topology: Arc<Topology>,
}

/// What the service runs: its pipelines, in config order, and its extensions.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// The pipelines with their components.
    pub pipelines: Vec<crate::config::ResolvedPipeline>,
    /// The extensions' ids, as `service.extensions` lists them.
    pub extensions: Vec<String>,
}

impl Context {
    /// `exporters::otlp/tempo`, for messages.
    pub fn label(&self) -> String {
        format!("{}::{}", self.kind.section(), self.id)
    }

    /// A [`ComponentError`] about this component.
    pub fn error(&self, reason: impl fmt::Display) -> ComponentError {
        ComponentError {
            component: self.label(),
            reason: reason.to_string(),
        }
    }

    /// A configuration that validation refused, as a build error (every problem, `; `-joined).
    pub fn config_errors(&self, errors: &[crate::config::ConfigError]) -> ComponentError {
        self.error(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// The consumers a receiver feeds, per signal (`None`: no pipeline of that signal uses it).
#[derive(Clone, Default)]
pub struct SignalConsumers {
    /// Traces.
    pub traces: Option<Arc<dyn Consumer>>,
    /// Metrics.
    pub metrics: Option<Arc<dyn Consumer>>,
    /// Logs.
    pub logs: Option<Arc<dyn Consumer>>,
}

impl SignalConsumers {
    /// The consumer for `signal`.
    pub fn get(&self, signal: Signal) -> Option<&Arc<dyn Consumer>> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
        }
    }
    /// Sets the consumer for `signal`.
    pub fn set(&mut self, signal: Signal, c: Arc<dyn Consumer>) {
        match signal {
            Signal::Traces => self.traces = Some(c),
            Signal::Metrics => self.metrics = Some(c),
            Signal::Logs => self.logs = Some(c),
        }
    }
}

/// Checks done after parsing, returning every problem (field path + reason).
pub trait Validate {
    /// The problems of this config; empty when it is valid.
    fn validate(&self) -> Vec<ConfigError> {
        Vec::new()
    }
    /// Extensions this component refers to (e.g. `auth.authenticator`), checked to exist.
    fn referenced_extensions(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Deprecation notes and the like, logged at start-up and printed by `validate`.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A receiver's config: validates itself and builds the receiver.
pub trait ReceiverConfig: Validate + fmt::Debug + Send + Sync {
    /// Builds the receiver, feeding `consumers`.
    fn build(
        &self,
        ctx: &Context,
        consumers: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, ComponentError>;
}

/// A running receiver.
pub trait Receiver: Send {
    /// Binds its listeners and starts serving; returns once it accepts connections.
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>>;
    /// Stops accepting, lets in-flight requests finish (their data reaches the pipeline).
    fn shutdown(&mut self) -> BoxFuture<'_, ()>;
}

/// A processor's config.
pub trait ProcessorConfig: Validate + fmt::Debug + Send + Sync {
    /// Builds one instance for one pipeline of `signal`, passing its output to `next`.
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError>;
}

/// A running processor: a consumer that also drains on shutdown.
pub trait Processor: Consumer {
    /// Flushes what it holds to the next consumer and stops.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// An exporter's config.
pub trait ExporterConfig: Validate + fmt::Debug + Send + Sync {
    /// Builds the exporter for `signal` (one instance per signal, shared by every pipeline of
    /// that signal that names it).
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError>;
}

/// A running exporter.
pub trait Exporter: Consumer {
    /// Starts its workers.
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>>;
    /// Sends what it holds (queue, buffers) and stops.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// The pipelines a connector feeds: each pipeline's id and first consumer.
pub type PipelineHeads = Vec<(crate::config::PipelineId, Arc<dyn Consumer>)>;

/// A connector's config. A connector is an exporter at the end of some pipelines and a
/// receiver at the start of others.
pub trait ConnectorConfig: Validate + fmt::Debug + Send + Sync {
    /// The pipelines its config names, each with the field naming it (`table.0.pipelines.1`):
    /// each must be a pipeline receiving from this connector.
    fn named_pipelines(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Builds the instance that takes `from` data from every pipeline naming it as an exporter
    /// and hands `to` data to `pipelines`: the first consumer of each pipeline naming it as a
    /// receiver, in config order.
    fn build(
        &self,
        ctx: &Context,
        from: Signal,
        to: Signal,
        pipelines: PipelineHeads,
    ) -> Result<Arc<dyn Connector>, ComponentError>;
}

/// A running connector: a consumer for the pipelines it ends that hands data to those it
/// starts.
pub trait Connector: Consumer {
    /// Hands what it still holds to the pipelines it feeds and stops; called after every
    /// pipeline feeding it has flushed and before the pipelines it feeds do.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// An extension's config.
pub trait ExtensionConfig: Validate + fmt::Debug + Send + Sync {
    /// Builds the extension.
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError>;
}

/// A running extension.
pub trait Extension: Send {
    /// Starts it (extensions start first, before any pipeline).
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>>;
    /// Stops it (extensions stop last).
    fn shutdown(&mut self) -> BoxFuture<'_, ()>;
    /// Storage for persistent queues, if it is a storage extension.
    fn storage(&self) -> Option<Arc<crate::extension::file_storage::FileStorage>> {
        None
    }
    /// A server-side authenticator, if it is one.
    fn server_auth(&self) -> Option<Arc<dyn crate::extension::auth::ServerAuthenticator>> {
        None
    }
    /// A client-side authenticator, if it is one.
    fn client_auth(&self) -> Option<Arc<dyn crate::extension::auth::ClientAuthenticator>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(ComponentId::parse("otlp").unwrap().to_string(), "otlp");
        let id = ComponentId::parse("otlp_grpc/tempo-1").unwrap();
        assert_eq!(
            (id.type_name(), id.to_string().as_str()),
            ("otlp_grpc", "otlp_grpc/tempo-1")
        );
        assert_eq!(
            ComponentId::parse("traces/a/b").unwrap().to_string(),
            "traces/a/b"
        );
        for bad in ["", "1otlp", "ot-lp", "otlp/", "otlp/a b", "/x"] {
            assert!(ComponentId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
