//! From the merged tree to typed, checked configs: component types looked up in the registry,
//! each config deserialized and validated, the service section typed, and the pipelines'
//! references checked. Every problem is collected; warnings (deprecated names, unused
//! components) are returned for the caller to log.

use super::RawConfig;
use super::error::{ConfigError, ConfigErrors};
use super::merge::Provenance;
use super::service::{PipelineId, ServiceConfig};
use super::value::Value;
use crate::component::{
    ComponentId, ConnectorConfig, ExporterConfig, ExtensionConfig, Kind, ProcessorConfig,
    ReceiverConfig, Validate,
};
use crate::otlp::Signal;
use crate::registry::{self, Factory, Registry};
use std::collections::{BTreeMap, BTreeSet};

/// A pipeline with its references parsed.
#[derive(Debug, Clone)]
pub struct ResolvedPipeline {
    /// `traces/NAME`.
    pub id: PipelineId,
    /// Receiver ids.
    pub receivers: Vec<ComponentId>,
    /// Processor ids, in order.
    pub processors: Vec<ComponentId>,
    /// Exporter ids.
    pub exporters: Vec<ComponentId>,
}

/// A configuration that passed every check.
#[derive(Debug)]
pub struct Resolved {
    /// Receivers by id.
    pub receivers: BTreeMap<ComponentId, Box<dyn ReceiverConfig>>,
    /// Processors by id.
    pub processors: BTreeMap<ComponentId, Box<dyn ProcessorConfig>>,
    /// Exporters by id.
    pub exporters: BTreeMap<ComponentId, Box<dyn ExporterConfig>>,
    /// Extensions by id.
    pub extensions: BTreeMap<ComponentId, Box<dyn ExtensionConfig>>,
    /// Connectors by id.
    pub connectors: BTreeMap<ComponentId, Box<dyn ConnectorConfig>>,
    /// The pipelines.
    pub pipelines: Vec<ResolvedPipeline>,
    /// Indexes into `pipelines`, each before every pipeline it feeds through a connector:
    /// built in reverse (a connector needs the pipelines it feeds), flushed in this order.
    pub order: Vec<usize>,
    /// The typed `service:` section.
    pub service: ServiceConfig,
    /// Things to warn about.
    pub warnings: Vec<String>,
}

struct Ctx<'a> {
    prov: &'a Provenance,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    /// Records `e`, about `path` (section, id, then the field path), naming its file.
    fn err(&mut self, path: &[&str], e: ConfigError) {
        let mut full: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        if let Some(f) = &e.field {
            full.extend(f.split('.').map(String::from));
        }
        let e = match self.prov.source_of(&full) {
            Some(file) => e.file(file),
            None => e,
        };
        self.errors.push(e);
    }
}

/// The signals each defined component id supports and, for a connector, the pairs of signals
/// it joins.
type Signals = BTreeMap<String, (&'static [Signal], &'static [(Signal, Signal)])>;

/// One section's components: the typed configs, every id defined (even invalid ones, so
/// references to them are not reported twice) and their signals.
type Section<C> = (BTreeMap<ComponentId, Box<C>>, BTreeSet<String>, Signals);

/// One section's components, typed.
fn section<C: ?Sized + Validate>(
    ctx: &mut Ctx<'_>,
    tree: &Value,
    kind: Kind,
    factories: &[Factory<C>],
) -> Section<C> {
    let name = kind.section();
    let mut out = BTreeMap::new();
    let mut defined = BTreeSet::new();
    let mut signals = BTreeMap::new();
    let Some(v) = tree.get(name) else {
        return (out, defined, signals);
    };
    if v.is_null() {
        return (out, defined, signals);
    }
    let Some(entries) = v.as_map() else {
        ctx.err(
            &[name],
            ConfigError::new(format!(
                "`{name}` must be a map of component ids, found {}",
                v.kind()
            ))
            .component(name),
        );
        return (out, defined, signals);
    };
    for (key, cfg) in entries {
        defined.insert(key.clone());
        let label = format!("{name}::{key}");
        let id = match ComponentId::parse(key) {
            Ok(id) => id,
            Err(e) => {
                ctx.err(&[name, key], ConfigError::new(e).component(label));
                continue;
            }
        };
        let Some(factory) = registry::find(factories, id.type_name()) else {
            ctx.err(
                &[name, key],
                ConfigError::new(format!(
                    "unknown {} type {:?} (supported: {})",
                    kind.singular(),
                    id.type_name(),
                    registry::names(factories)
                ))
                .component(label),
            );
            continue;
        };
        signals.insert(key.clone(), (factory.signals, factory.joins));
        if let Some(new) = factory.deprecated {
            ctx.warnings.push(format!(
                "{label}: the {} type {:?} is deprecated; use {new:?}",
                kind.singular(),
                id.type_name()
            ));
        }
        match (factory.parse)(cfg) {
            Ok(c) => {
                for e in c.validate() {
                    ctx.err(&[name, key], e.component(label.clone()));
                }
                for w in c.warnings() {
                    ctx.warnings.push(format!("{label}: {w}"));
                }
                out.insert(id, c);
            }
            Err(e) => ctx.err(&[name, key], e.component(label)),
        }
    }
    (out, defined, signals)
}

/// The extension types a reference from `field` may name.
fn expected_types(field: &str) -> (&'static [&'static str], &'static str) {
    if field.ends_with("storage") {
        (&["file_storage"], "a storage extension (file_storage)")
    } else {
        (
            &["bearertokenauth", "basicauth"],
            "an authenticator (bearertokenauth, basicauth)",
        )
    }
}

/// Why the reference `field: ext` is wrong, if it is.
fn check_reference(
    field: &str,
    ext: &str,
    defined: &BTreeSet<String>,
    enabled: &[String],
) -> Option<String> {
    if !defined.contains(ext) {
        return Some(format!(
            "references extension {ext:?} which is not configured under `extensions`"
        ));
    }
    let (types, what) = expected_types(field);
    let type_name = ext.split('/').next().unwrap_or(ext);
    if !types.contains(&type_name) {
        return Some(format!("extension {ext:?} is not {what}"));
    }
    if !enabled.iter().any(|e| e == ext) {
        return Some(format!(
            "extension {ext:?} must also be listed in service.extensions to run"
        ));
    }
    None
}

/// Checks and types `raw` against `registry`.
pub fn resolve(raw: RawConfig, registry: &Registry) -> Result<Resolved, ConfigErrors> {
    let mut ctx = Ctx {
        prov: &raw.provenance,
        errors: Vec::new(),
        warnings: raw.warnings.clone(),
    };
    let tree = &raw.tree;
    const SECTIONS: [&str; 6] = [
        "receivers",
        "processors",
        "exporters",
        "extensions",
        "connectors",
        "service",
    ];
    for (k, _) in tree.as_map().unwrap_or(&[]) {
        if !SECTIONS.contains(&k.as_str()) {
            ctx.err(
                &[k],
                ConfigError::new(format!(
                    "unknown top-level section `{k}` (expected one of: {})",
                    SECTIONS.join(", ")
                )),
            );
        }
    }
    let (receivers, rdef, rsig) = section(&mut ctx, tree, Kind::Receiver, &registry.receivers);
    let (processors, pdef, psig) = section(&mut ctx, tree, Kind::Processor, &registry.processors);
    let (exporters, edef, esig) = section(&mut ctx, tree, Kind::Exporter, &registry.exporters);
    let (extensions, xdef, _) = section(&mut ctx, tree, Kind::Extension, &registry.extensions);
    let (connectors, cdef, csig) = section(&mut ctx, tree, Kind::Connector, &registry.connectors);
    for c in &cdef {
        for (kind, defined) in [(Kind::Receiver, &rdef), (Kind::Exporter, &edef)] {
            if defined.contains(c) {
                let k = kind.singular();
                ctx.err(
                    &["connectors", c],
                    ConfigError::new(format!(
                        "ambiguous ID: found both {c:?} {k} and {c:?} connector; change one of \
                         the ids (e.g. rename the connector to \"{c}/connector\")",
                    ))
                    .component(format!("connectors::{c}")),
                );
            }
        }
    }
    let service: ServiceConfig = match tree.get("service") {
        None => {
            ctx.err(
                &[],
                ConfigError::new("missing `service` section (with at least one pipeline)"),
            );
            ServiceConfig::default()
        }
        Some(v) => match registry::parse_typed::<ServiceConfig>(v) {
            Ok(s) => s,
            Err(e) => {
                ctx.err(&["service"], e.component("service"));
                ServiceConfig::default()
            }
        },
    };
    for e in service.telemetry.validate() {
        ctx.err(&["service", "telemetry"], e.component("service::telemetry"));
    }

    // Extensions named by `service.extensions` and by components (e.g. `auth.authenticator`).
    for (i, ext) in service.extensions.iter().enumerate() {
        if !xdef.contains(ext) {
            ctx.err(
                &["service", "extensions"],
                ConfigError::new(format!(
                    "references extension {ext:?} which is not configured under `extensions`"
                ))
                .component("service::extensions")
                .field(i.to_string()),
            );
        }
    }
    let mut refs: Vec<(String, Vec<(String, String)>)> = Vec::new();
    refs.extend(
        receivers
            .iter()
            .map(|(id, c)| (format!("receivers::{id}"), c.referenced_extensions())),
    );
    refs.extend(
        exporters
            .iter()
            .map(|(id, c)| (format!("exporters::{id}"), c.referenced_extensions())),
    );
    for (label, list) in refs {
        let (section, id) = label.split_once("::").unwrap_or(("", ""));
        for (field, ext) in list {
            if let Some(reason) = check_reference(&field, &ext, &xdef, &service.extensions) {
                ctx.err(
                    &[section, id],
                    ConfigError::new(reason)
                        .component(label.clone())
                        .field(field),
                );
            }
        }
    }

    let mut pipelines = Vec::new();
    let mut used: BTreeSet<(Kind, String)> = BTreeSet::new();
    // Read from the tree, not from `service`: when the section failed to parse (its error is
    // reported above), `service` is the default, with no pipelines, whatever the file holds.
    let no_pipelines = tree.get("service").is_some_and(|s| {
        s.get("pipelines")
            .is_none_or(|p| p.is_null() || p.as_map().is_some_and(<[_]>::is_empty))
    });
    if no_pipelines {
        ctx.err(
            &["service"],
            ConfigError::new("at least one pipeline is required").component("service::pipelines"),
        );
    }
    for (pid, p) in &service.pipelines {
        let label = format!("service::pipelines::{pid}");
        let path = ["service", "pipelines", pid.as_str()];
        let id = match PipelineId::parse(pid) {
            Ok(id) => id,
            Err(e) => {
                ctx.err(&path, ConfigError::new(e).component(label));
                continue;
            }
        };
        if p.receivers.is_empty() {
            ctx.err(
                &path,
                ConfigError::new("must have at least one receiver").component(label.clone()),
            );
        }
        if p.exporters.is_empty() {
            ctx.err(
                &path,
                ConfigError::new("must have at least one exporter").component(label.clone()),
            );
        }
        let lists: [(Kind, &Vec<String>, &BTreeSet<String>, &Signals); 3] = [
            (Kind::Receiver, &p.receivers, &rdef, &rsig),
            (Kind::Processor, &p.processors, &pdef, &psig),
            (Kind::Exporter, &p.exporters, &edef, &esig),
        ];
        // A connector stands in the receivers and exporters lists; `connect::check` below
        // checks the signals it joins.
        let takes_connectors = |kind: Kind| matches!(kind, Kind::Receiver | Kind::Exporter);
        let mut parsed: [Vec<ComponentId>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for (slot, (kind, list, defined, sigs)) in parsed.iter_mut().zip(lists) {
            let mut seen = BTreeSet::new();
            for (i, r) in list.iter().enumerate() {
                let field = format!("{}.{i}", kind.section());
                if !seen.insert(r) {
                    ctx.err(
                        &path,
                        ConfigError::new(format!(
                            "references {} {r:?} more than once",
                            kind.singular()
                        ))
                        .component(label.clone())
                        .field(field),
                    );
                    continue;
                }
                let connector = takes_connectors(kind) && cdef.contains(r);
                if !defined.contains(r) && !connector {
                    let sections = if takes_connectors(kind) && !cdef.is_empty() {
                        format!("`{}` or `connectors`", kind.section())
                    } else {
                        format!("`{}`", kind.section())
                    };
                    ctx.err(
                        &path,
                        ConfigError::new(format!(
                            "references {} {r:?} which is not configured under {sections}",
                            kind.singular(),
                        ))
                        .component(label.clone())
                        .field(field),
                    );
                    continue;
                }
                used.insert((if connector { Kind::Connector } else { kind }, r.clone()));
                if let Some((s, _)) = sigs.get(r)
                    && !s.contains(&id.signal)
                {
                    ctx.err(
                        &path,
                        ConfigError::new(format!(
                            "{} {r:?} does not support {}",
                            kind.singular(),
                            crate::signal_name(id.signal)
                        ))
                        .component(label.clone())
                        .field(field),
                    );
                }
                if let Ok(cid) = ComponentId::parse(r) {
                    slot.push(cid);
                }
            }
        }
        let [receivers, processors, exporters] = parsed;
        pipelines.push(ResolvedPipeline {
            id,
            receivers,
            processors,
            exporters,
        });
    }

    let named: super::connect::NamedPipelines = connectors
        .iter()
        .map(|(id, c)| (id.to_string(), c.named_pipelines()))
        .collect();
    let joins: super::connect::ConnectorSignals =
        csig.iter().map(|(id, (_, j))| (id.clone(), *j)).collect();
    let joined = super::connect::check(&pipelines, &joins, &named);
    for (component, e) in joined.errors {
        let path: Vec<&str> = component.split("::").collect();
        ctx.err(&path, e.component(component.clone()));
    }

    for (kind, defined) in [
        (Kind::Receiver, &rdef),
        (Kind::Processor, &pdef),
        (Kind::Exporter, &edef),
        (Kind::Connector, &cdef),
    ] {
        for d in defined {
            if !used.contains(&(kind, d.clone())) {
                ctx.warnings.push(format!(
                    "{}::{d} is configured but not used in any pipeline; it will not run",
                    kind.section()
                ));
            }
        }
    }
    for d in &xdef {
        if !service.extensions.contains(d) {
            ctx.warnings.push(format!("extensions::{d} is configured but not listed in service.extensions; it will not run"));
        }
    }

    // Messages quote config values; one that came from a reference is shown as the reference.
    let scrub = &raw.scrub;
    if !ctx.errors.is_empty() {
        let errors = ctx
            .errors
            .into_iter()
            .map(|mut e| {
                e.reason = scrub.apply(&e.reason);
                e
            })
            .collect();
        return Err(ConfigErrors(errors));
    }
    Ok(Resolved {
        receivers,
        processors,
        exporters,
        extensions,
        connectors,
        pipelines,
        order: joined.order,
        service,
        warnings: ctx.warnings.iter().map(|w| scrub.apply(w)).collect(),
    })
}
