//! `filter`: drops spans and span events, with the OpenTelemetry Collector's configuration.
//!
//! - `traces.span`: OTTL conditions in the span context; a span is dropped when **any** is
//!   true. `traces.resource`: conditions in the resource context; a matching resource is
//!   dropped with its spans. `traces.spanevent`: conditions in the span-event context; matching events are
//!   removed from spans that were kept (a span that loses all its events stays).
//! - `spans.include` / `spans.exclude`: the legacy match properties (see
//!   [`crate::processor::matcher`]); spans failing `include` or matching `exclude` are
//!   dropped. Cannot be combined with OTTL conditions, as in the Collector.
//! - `error_mode`: what an evaluation error does — `ignore` (the default of current
//!   Collectors: log it, the condition counts as false), `silent` (same, no log),
//!   `propagate` (the whole request is refused with a permanent error).
//! - `trace_conditions`: the newest Collectors' context-inferred form: condition strings, or
//!   groups with `context`, `conditions` and `error_mode`, each path with its context prefix
//!   (`span.name`, `spanevent.attributes["x"]`, `resource.attributes["y"]`).
//! - Scopes and resources left without spans are removed; a request left empty is not sent
//!   on.
//!
//! Conditions compile when the configuration is validated, so `meshtrace-collector validate`
//! reports an OTTL error with the condition, its position and a caret under the culprit.
//! Only traces are filtered: non-empty `metrics`, `logs`, `profiles`, `metric_conditions`, …
//! sections are refused by name; in metrics and logs pipelines the processor passes data
//! through unchanged.

pub(crate) mod inferred;
mod prefilter;
mod processor;

use meshtrace_ottl::{
    ConditionSet, ContextKind, ErrorMode, Span, SpanCondition, SpanEvent, SpanEventCondition,
};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;

use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::{ConfigError, Value};
use crate::otlp::Signal;
use crate::pipeline::Consumer;
use crate::processor::matcher::{MatchConfig, SkipMatcher};

pub use processor::FilterProcessor;

/// `processors: filter:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// What an OTTL evaluation error does: `ignore` (default), `silent` or `propagate`.
    #[serde(default = "default_error_mode", deserialize_with = "de_error_mode")]
    pub error_mode: ErrorMode,
    /// OTTL conditions for traces pipelines.
    #[serde(default)]
    pub traces: TraceConditions,
    /// Legacy span matching (`include` / `exclude`).
    #[serde(default)]
    pub spans: MatchConfig,
    /// Metric conditions: not supported (only an empty section is accepted).
    #[serde(default)]
    pub metrics: Option<Value>,
    /// Log conditions: not supported (only an empty section is accepted).
    #[serde(default)]
    pub logs: Option<Value>,
    /// Profile conditions: not supported (only an empty section is accepted).
    #[serde(default)]
    pub profiles: Option<Value>,
    /// Context-inferred conditions (newest Collectors): a list of conditions whose paths
    /// carry their context (`span.name`, `spanevent.name`, `resource.attributes["k"]`), or
    /// of groups `{context, conditions, error_mode}`.
    #[serde(default)]
    pub trace_conditions: Option<Value>,
    /// Not supported (metrics).
    #[serde(default)]
    pub metric_conditions: Option<Value>,
    /// Not supported (logs).
    #[serde(default)]
    pub log_conditions: Option<Value>,
    /// Not supported (profiles).
    #[serde(default)]
    pub profile_conditions: Option<Value>,
}

/// `traces:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConditions {
    /// Conditions in the `span` context: a span is dropped when any is true.
    #[serde(default, deserialize_with = "de_list")]
    pub span: Vec<String>,
    /// Conditions in the `spanevent` context: an event is dropped when any is true.
    #[serde(default, deserialize_with = "de_list")]
    pub spanevent: Vec<String>,
    /// Conditions in the `resource` context (unprefixed paths are the resource's): a
    /// resource is dropped, with all its spans, when any is true.
    #[serde(default, deserialize_with = "de_list")]
    pub resource: Vec<String>,
}

fn default_error_mode() -> ErrorMode {
    ErrorMode::Ignore
}

pub(crate) fn de_error_mode<'de, D: Deserializer<'de>>(d: D) -> Result<ErrorMode, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// A list that may be written empty (`span:`).
fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// True when a section holds anything but empty maps, lists and nulls.
pub(crate) fn has_content(v: &Value) -> bool {
    match v.resolved() {
        Value::Null => false,
        Value::Seq(s) => !s.is_empty(),
        Value::Map(m) => m.iter().any(|(_, v)| has_content(v)),
        _ => true,
    }
}

/// The compiled form: what a running filter evaluates.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Span condition sets (one per group; `traces.span` is one group).
    pub spans: Vec<ConditionSet<Span>>,
    /// Span-event condition sets.
    pub events: Vec<ConditionSet<SpanEvent>>,
    pub legacy: Option<SkipMatcher>,
}

/// An OTTL parse error as a config error: the position and a caret under the culprit.
pub(crate) fn ottl_error(
    field: String,
    source: &str,
    e: &meshtrace_ottl::ParseError,
) -> ConfigError {
    ConfigError::new(format!(
        "invalid OTTL condition: {}",
        e.render(source).replace('\n', "\n      ")
    ))
    .field(field)
}

impl FilterConfig {
    pub(crate) fn compile(&self) -> Result<Compiled, Vec<ConfigError>> {
        let mut errors = Vec::new();
        for (name, v) in [
            ("metrics", &self.metrics),
            ("logs", &self.logs),
            ("profiles", &self.profiles),
            ("metric_conditions", &self.metric_conditions),
            ("log_conditions", &self.log_conditions),
            ("profile_conditions", &self.profile_conditions),
        ] {
            if v.as_ref().is_some_and(has_content) {
                errors.push(
                    ConfigError::new(format!(
                        "`{name}` conditions are not supported: meshtrace-collector filters traces only (leave the section out or empty)"
                    ))
                    .field(name),
                );
            }
        }
        let inferred = self.trace_conditions.as_ref().filter(|v| has_content(v));
        let groups = match inferred {
            None => Vec::new(),
            Some(v) => inferred::groups(v, self.error_mode).unwrap_or_else(|e| {
                errors.extend(e);
                Vec::new()
            }),
        };
        let has_ottl = !self.traces.span.is_empty()
            || !self.traces.spanevent.is_empty()
            || !self.traces.resource.is_empty();
        let has_legacy = self.spans.include.is_some() || self.spans.exclude.is_some();
        if has_ottl && has_legacy {
            errors.push(ConfigError::new(
                "cannot use \"traces.span\", \"traces.spanevent\" and the span settings \"spans.include\", \"spans.exclude\" at the same time",
            ));
        }
        if inferred.is_some() && (has_ottl || !self.traces.resource.is_empty()) {
            errors.push(ConfigError::new(
                "cannot use context inferred trace conditions \"trace_conditions\" and the settings \"traces.resource\", \"traces.span\", \"traces.spanevent\" at the same time",
            ));
        }
        if inferred.is_some() && has_legacy {
            errors.push(ConfigError::new(
                "cannot use context inferred trace conditions \"trace_conditions\" and the span settings \"spans.include\", \"spans.exclude\" at the same time",
            ));
        }
        for g in &groups {
            for (i, c) in g.conditions.iter().enumerate() {
                let r = if g.level == inferred::Level::SpanEvent {
                    SpanEventCondition::parse(c).map(|_| ())
                } else if g.explicit {
                    SpanCondition::parse_in(c, g.level.context()).map(|_| ())
                } else {
                    SpanCondition::parse(c).map(|_| ())
                };
                if let Err(e) = r {
                    errors.push(ottl_error(format!("{}.{i}", g.field), c, &e));
                }
            }
        }
        for (i, c) in self.traces.resource.iter().enumerate() {
            if let Err(e) = SpanCondition::parse_in(c, ContextKind::Resource) {
                errors.push(ottl_error(format!("traces.resource.{i}"), c, &e));
            }
        }
        for (i, c) in self.traces.span.iter().enumerate() {
            if let Err(e) = SpanCondition::parse(c) {
                errors.push(ottl_error(format!("traces.span.{i}"), c, &e));
            }
        }
        for (i, c) in self.traces.spanevent.iter().enumerate() {
            if let Err(e) = SpanEventCondition::parse(c) {
                errors.push(ottl_error(format!("traces.spanevent.{i}"), c, &e));
            }
        }
        let legacy = if has_legacy {
            match self.spans.compile("spans") {
                Ok(m) => Some(m),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            }
        } else {
            None
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut spans = Vec::new();
        let mut events = Vec::new();
        let fail = |e: meshtrace_ottl::ConditionError| vec![ConfigError::new(e.to_string())];
        if !self.traces.resource.is_empty() {
            // Evaluated per span: a matching resource loses every span, and is then removed
            // as any resource left without spans is.
            spans.push(
                ConditionSet::parse_in(
                    &self.traces.resource,
                    self.error_mode,
                    ContextKind::Resource,
                )
                .map_err(fail)?,
            );
        }
        if !self.traces.span.is_empty() {
            spans.push(ConditionSet::parse(&self.traces.span, self.error_mode).map_err(fail)?);
        }
        if !self.traces.spanevent.is_empty() {
            events
                .push(ConditionSet::parse(&self.traces.spanevent, self.error_mode).map_err(fail)?);
        }
        for g in &groups {
            if g.conditions.is_empty() {
                continue;
            }
            if g.level == inferred::Level::SpanEvent {
                events.push(ConditionSet::parse(&g.conditions, g.error_mode).map_err(fail)?);
            } else if g.explicit {
                spans.push(
                    ConditionSet::parse_in(&g.conditions, g.error_mode, g.level.context())
                        .map_err(fail)?,
                );
            } else {
                spans.push(ConditionSet::parse(&g.conditions, g.error_mode).map_err(fail)?);
            }
        }
        Ok(Compiled {
            spans,
            events,
            legacy,
        })
    }
}

impl Validate for FilterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.spans.include.is_some() || self.spans.exclude.is_some() {
            w.push(
                "`spans` include/exclude is deprecated in the OpenTelemetry Collector; it still works here, but consider `traces.span` OTTL conditions".to_owned(),
            );
        }
        w
    }
}

impl ProcessorConfig for FilterConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let compiled = self.compile().map_err(|e| ctx.config_errors(&e))?;
        Ok(Arc::new(FilterProcessor::new(ctx, signal, compiled, next)))
    }
}

#[cfg(test)]
mod tests;
