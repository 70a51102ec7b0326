//! `routing`: sends each resource group of a request (`ResourceSpans`, `ResourceMetrics`,
//! `ResourceLogs`) to the pipelines of the first route whose OTTL condition it meets, and the
//! rest to `default_pipelines`, as the Collector's `routingconnector` does in its `resource`
//! context. In a mesh that is the per-tenant split: spans of namespace `payments` to one
//! backend, everything else to another, decided on `k8s.namespace.name` or `service.name`.
//!
//! ```yaml
//! connectors:
//!   routing:
//!     default_pipelines: [traces/default]
//!     error_mode: ignore
//!     table:
//!       - statement: route() where attributes["k8s.namespace.name"] == "payments"
//!         pipelines: [traces/payments]
//!       - condition: attributes["service.name"] == "checkout"
//!         pipelines: [traces/checkout]
//!       - 'route(["traces/audit"]) where IsMatch(attributes["k8s.namespace.name"], "^audit-")'
//! ```
//!
//! Routing reads each group's resource on the request's bytes and copies each group once into
//! the request of its route; a request whose groups all take one route goes on as the same
//! bytes. Under `error_mode: propagate` (the default) a condition that fails to evaluate refuses
//! the request before any of it is sent (the Collector sends what it routed and then reports
//! the error, which makes clients retry what was delivered); `ignore` logs it and treats the
//! route as not matching, `silent` does the same without logging. Only the `resource` context
//! is supported: `span`, `metric`, `datapoint`, `log` and `request` routes are refused by name.

use crate::component::{
    ComponentError, Connector, ConnectorConfig, Context, PipelineHeads, Validate,
};
use crate::config::{ConfigError, PipelineId, Value};
use crate::otlp::Signal;
use crate::otlp::batching::partition_resources;
use crate::pipeline::{BoxFuture, ConsumeError, Consumer, Fanout};
use crate::processor::filter::de_error_mode;
use crate::processor::ottl_views::SpanCtx;
use crate::registry::parse_typed;
use meshtrace_ottl::ast::Value as Expr;
use meshtrace_ottl::{ErrorMode, ResourceCondition, parse_statement};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `connectors: routing:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// What a condition that fails to evaluate does: `propagate` (default), `ignore`, `silent`.
    #[serde(default = "propagate", deserialize_with = "de_error_mode")]
    pub error_mode: ErrorMode,
    /// Where groups no route takes go (none: they are dropped).
    #[serde(default)]
    pub default_pipelines: Vec<String>,
    /// The routes, in order: `{context, statement | condition, pipelines}` maps, or strings
    /// `route(["PIPELINE", …]) where CONDITION`.
    #[serde(default)]
    pub table: Option<Value>,
}

fn propagate() -> ErrorMode {
    ErrorMode::Propagate
}

/// One `table` entry written as a map.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableItem {
    #[serde(default)]
    context: String,
    #[serde(default)]
    statement: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    pipelines: Vec<String>,
    /// Written as a string (`route([…]) where …`): errors name the entry, not `statement`.
    #[serde(skip)]
    bare: bool,
}

/// A compiled route: its condition (`None`: `route()` without `where`, always taken) and its
/// pipelines (empty: the default ones).
#[derive(Debug)]
struct Route {
    condition: Option<ResourceCondition>,
    pipelines: Vec<PipelineId>,
}

/// The compiled config.
#[derive(Debug)]
struct Table {
    routes: Vec<Route>,
    defaults: Vec<PipelineId>,
    /// Every pipeline named, with the field naming it.
    named: Vec<(String, String)>,
}

const NOT_SUPPORTED: &[&str] = &["span", "metric", "datapoint", "log", "request"];

fn pipeline_ids(
    list: &[String],
    field: &str,
    named: &mut Vec<(String, String)>,
    errors: &mut Vec<ConfigError>,
) -> Vec<PipelineId> {
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let f = format!("{field}.{i}");
        match PipelineId::parse(p) {
            Ok(id) => {
                named.push((f, p.clone()));
                out.push(id);
            }
            Err(e) => errors.push(ConfigError::new(e).field(f)),
        }
    }
    out
}

impl RoutingConfig {
    fn compile(&self) -> Result<Table, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut named = Vec::new();
        let defaults = pipeline_ids(
            &self.default_pipelines,
            "default_pipelines",
            &mut named,
            &mut errors,
        );
        let entries = match self.table.as_ref().map(Value::resolved) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Seq(items)) => items.clone(),
            Some(other) => {
                errors.push(
                    ConfigError::new(format!("want a list of routes, found {}", other.kind()))
                        .field("table"),
                );
                return Err(errors);
            }
        };
        if entries.is_empty() {
            errors.push(
                ConfigError::new("invalid routing table: the routing table is empty")
                    .field("table"),
            );
        }
        let mut routes = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let field = format!("table.{i}");
            let item = match entry.resolved() {
                Value::String(s) => TableItem {
                    statement: s.clone(),
                    bare: true,
                    ..TableItem::default()
                },
                other => match parse_typed::<TableItem>(other) {
                    Ok(item) => item,
                    Err(mut e) => {
                        e.field = Some(match e.field.take() {
                            Some(f) if !f.is_empty() && f != "." => format!("{field}.{f}"),
                            _ => field.clone(),
                        });
                        errors.push(e);
                        continue;
                    }
                },
            };
            match compile_route(&item, &field, &mut named) {
                Ok(route) => routes.push(route),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Table {
                routes,
                defaults,
                named,
            })
        } else {
            Err(errors)
        }
    }
}

/// One route, checked as the Collector checks it (`invalid route: …`).
fn compile_route(
    item: &TableItem,
    field: &str,
    named: &mut Vec<(String, String)>,
) -> Result<Route, ConfigError> {
    let at = |f: &str| format!("{field}.{f}");
    match item.context.as_str() {
        "" | "resource" => {}
        c if NOT_SUPPORTED.contains(&c) => {
            return Err(ConfigError::new(format!(
                "the `{c}` context is not supported (meshtrace routes whole resource groups: use \
                 the `resource` context)"
            ))
            .field(at("context")));
        }
        c => return Err(ConfigError::new(format!("invalid context: {c}")).field(at("context"))),
    }
    let (statement, condition) = (item.statement.trim(), item.condition.trim());
    let mut errors = Vec::new();
    let mut pipelines = pipeline_ids(&item.pipelines, &at("pipelines"), named, &mut errors);
    if let Some(e) = errors.pop() {
        return Err(e);
    }
    let condition = match (statement.is_empty(), condition.is_empty()) {
        (true, true) => {
            return Err(
                ConfigError::new("invalid route: no condition or statement provided").field(field),
            );
        }
        (false, false) => {
            return Err(
                ConfigError::new("invalid route: both condition and statement provided")
                    .field(field),
            );
        }
        (true, false) => {
            if pipelines.is_empty() {
                return Err(ConfigError::new("invalid route: no pipelines defined").field(field));
            }
            let c = ResourceCondition::parse(condition).map_err(|e| {
                ConfigError::new(format!("invalid OTTL condition (resource context): {e}"))
                    .field(at("condition"))
            })?;
            Some(c)
        }
        (false, true) => {
            let f = if item.bare {
                field.to_owned()
            } else {
                at("statement")
            };
            let bad = |m: String| ConfigError::new(m).field(f.clone());
            let st = parse_statement(statement)
                .map_err(|e| bad(format!("invalid OTTL statement (resource context): {e}")))?;
            if st.editor.name != "route" {
                return Err(bad(format!(
                    "invalid route: a routing statement calls route(), found {}()",
                    st.editor.name
                )));
            }
            let listed = route_args(&st.editor.args).map_err(bad)?;
            if !listed.is_empty() && !pipelines.is_empty() {
                return Err(bad(
                    "invalid route: pipelines given both in route(…) and in `pipelines`".into(),
                ));
            }
            if !listed.is_empty() {
                let mut errors = Vec::new();
                let f = if item.bare {
                    field.to_owned()
                } else {
                    at("statement")
                };
                pipelines = pipeline_ids(&listed, &format!("{f}.route"), named, &mut errors);
                if let Some(e) = errors.pop() {
                    return Err(e);
                }
            }
            ResourceCondition::from_where(statement, &st)
                .map_err(|e| bad(format!("invalid OTTL statement (resource context): {e}")))?
        }
    };
    Ok(Route {
        condition,
        pipelines,
    })
}

/// The pipelines of `route(["traces/a", …])`: no argument, or one list of strings.
fn route_args(args: &[meshtrace_ottl::ast::Arg]) -> Result<Vec<String>, String> {
    match args {
        [] => Ok(Vec::new()),
        [arg] if arg.name.is_none() => match &arg.value {
            Expr::List(items, _) => items
                .iter()
                .map(|v| match v {
                    Expr::Str(s, _) => Ok(s.clone()),
                    _ => Err("invalid route: route() takes a list of pipeline names".to_owned()),
                })
                .collect(),
            _ => Err("invalid route: route() takes a list of pipeline names".to_owned()),
        },
        _ => Err("invalid route: route() takes at most one argument, a list of pipelines".into()),
    }
}

impl Validate for RoutingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl ConnectorConfig for RoutingConfig {
    fn named_pipelines(&self) -> Vec<(String, String)> {
        self.compile().map(|t| t.named).unwrap_or_default()
    }

    fn build(
        &self,
        ctx: &Context,
        from: Signal,
        _to: Signal,
        pipelines: PipelineHeads,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        let table = self.compile().map_err(|e| ctx.config_errors(&e))?;
        let heads: BTreeMap<PipelineId, Arc<dyn Consumer>> = pipelines.into_iter().collect();
        // One outlet per distinct list of pipelines: routes naming the same ones share it, so
        // a request's groups for them go on as one request.
        let mut lists: Vec<Vec<PipelineId>> = Vec::new();
        let mut outlet_of = |list: &[PipelineId]| -> Option<usize> {
            if list.is_empty() {
                return None;
            }
            Some(match lists.iter().position(|l| l == list) {
                Some(i) => i,
                None => {
                    lists.push(list.to_vec());
                    lists.len() - 1
                }
            })
        };
        let default = outlet_of(&table.defaults);
        let routes: Vec<(Option<ResourceCondition>, Option<usize>)> = table
            .routes
            .into_iter()
            .map(|r| {
                let outlet = outlet_of(&r.pipelines).or(default);
                (r.condition, outlet)
            })
            .collect();
        let mut outlets = Vec::with_capacity(lists.len());
        for list in &lists {
            let mut consumers = Vec::with_capacity(list.len());
            for p in list {
                let head = heads.get(p).ok_or_else(|| {
                    ctx.error(format!(
                        "pipeline \"{p}\" does not receive from this connector (list it under \
                         the pipeline's receivers)"
                    ))
                })?;
                consumers.push(head.clone());
            }
            outlets.push(Fanout::build(consumers));
        }
        Ok(Arc::new(Router {
            label: ctx.id.to_string(),
            signal: from,
            error_mode: self.error_mode,
            routes,
            default,
            outlets,
        }))
    }
}

/// The running connector.
struct Router {
    label: String,
    signal: Signal,
    error_mode: ErrorMode,
    /// Each route's condition and outlet (`None` outlet: no default pipelines either, dropped).
    routes: Vec<(Option<ResourceCondition>, Option<usize>)>,
    default: Option<usize>,
    outlets: Vec<Arc<dyn Consumer>>,
}

impl Router {
    /// The outlet of one resource group, or the first evaluation error under `propagate`;
    /// errors ignored are counted into `ignored` (with the first one's text).
    fn route(
        &self,
        group: &[u8],
        ignored: &mut (usize, Option<String>),
    ) -> Result<Option<usize>, String> {
        let ctx = SpanCtx::of_resource_group(group);
        for (condition, outlet) in &self.routes {
            let Some(condition) = condition else {
                return Ok(*outlet);
            };
            match condition.eval(&ctx) {
                Ok(true) => return Ok(*outlet),
                Ok(false) => {}
                Err(e) => match self.error_mode {
                    ErrorMode::Propagate => {
                        return Err(format!("condition {:?}: {e}", condition.source()));
                    }
                    ErrorMode::Ignore => {
                        ignored.0 += 1;
                        ignored
                            .1
                            .get_or_insert_with(|| format!("{:?}: {e}", condition.source()));
                    }
                    ErrorMode::Silent => {}
                },
            }
        }
        Ok(self.default)
    }
}

impl Connector for Router {}

impl Consumer for Router {
    fn consume(&self, batch: crate::otlp::Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if batch.signal() != self.signal {
                return Err(ConsumeError::permanent(format!(
                    "{}: got {} data on a {} connector",
                    self.label,
                    crate::signal_name(batch.signal()),
                    crate::signal_name(self.signal)
                )));
            }
            let mut failure = None;
            let mut ignored = (0usize, None);
            let parts = partition_resources(&batch, self.outlets.len(), |group| {
                if failure.is_some() {
                    return None;
                }
                self.route(group, &mut ignored).unwrap_or_else(|e| {
                    failure = Some(e);
                    None
                })
            });
            if let Some(e) = failure {
                tracing::warn!(component = %self.label, error = %e, "request refused (error_mode: propagate)");
                return Err(ConsumeError::permanent(format!(
                    "{}: failed to evaluate a route: {e}",
                    self.label
                )));
            }
            if let (n @ 1.., Some(first)) = ignored {
                tracing::warn!(
                    component = %self.label,
                    errors = n,
                    first = %first,
                    "failed to evaluate routes (error_mode: ignore); those routes were skipped"
                );
            }
            let mut retryable = None;
            let mut permanent = None;
            for (part, outlet) in parts.into_iter().zip(&self.outlets) {
                if part.is_empty() {
                    continue;
                }
                match outlet.consume(part).await {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => retryable = retryable.or(Some(e)),
                    Err(e) => permanent = permanent.or(Some(e)),
                }
            }
            match retryable.or(permanent) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests;
