//! From a JSON document to a [`Config`]: every section starts from its `Default` and each
//! field present overrides it. Unknown fields are refused, and every error names the field's
//! path (`drop.paths[0].exact`) and the problem, in the wording serde users know
//! (`unknown field`, `invalid type: … expected …`).

use std::collections::BTreeMap;

use super::*;
use crate::json::Json;

/// A path inside the document, built as decoding descends.
fn join(path: &str, key: &str) -> String {
    // An empty key is still named, as `""`, so every error points at a field.
    let key = if key.is_empty() { "\"\"" } else { key };
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn invalid_type(path: &str, found: &Json, expected: &str) -> ConfigError {
    ConfigError::new(path, format!("invalid type: {found}, expected {expected}"))
}

/// `expected `a``, `expected `a` or `b``, `expected one of `a`, `b`, `c`` (serde's wording).
fn expected_list(names: &[&str]) -> String {
    match names {
        [] => "there are no fields".to_owned(),
        [one] => format!("expected `{one}`"),
        [a, b] => format!("expected `{a}` or `{b}`"),
        _ => format!(
            "expected one of {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The members of an object at `path`, each checked against `known`.
fn object<'a>(
    value: &'a Json,
    path: &str,
    known: &[&str],
) -> Result<&'a [(String, Json)], ConfigError> {
    let Json::Object(members) = value else {
        return Err(invalid_type(path, value, "an object"));
    };
    for (key, _) in members {
        if !known.contains(&key.as_str()) {
            return Err(ConfigError::new(
                &join(path, key),
                format!("unknown field `{key}`, {}", expected_list(known)),
            ));
        }
    }
    Ok(members)
}

fn boolean(value: &Json, path: &str) -> Result<bool, ConfigError> {
    match value {
        Json::Bool(b) => Ok(*b),
        other => Err(invalid_type(path, other, "a boolean")),
    }
}

fn number(value: &Json, path: &str) -> Result<f64, ConfigError> {
    match value {
        Json::Number(n) => Ok(n.float),
        other => Err(invalid_type(path, other, "a number")),
    }
}

fn integer(value: &Json, path: &str) -> Result<u64, ConfigError> {
    match value {
        Json::Number(n) => n
            .integer
            .ok_or_else(|| invalid_type(path, value, "a non-negative integer")),
        other => Err(invalid_type(path, other, "a non-negative integer")),
    }
}

fn size(value: &Json, path: &str) -> Result<usize, ConfigError> {
    let n = integer(value, path)?;
    usize::try_from(n).map_err(|_| ConfigError::new(path, format!("{n} is too large")))
}

fn string(value: &Json, path: &str) -> Result<String, ConfigError> {
    match value {
        Json::String(s) => Ok(s.clone()),
        other => Err(invalid_type(path, other, "a string")),
    }
}

/// A string, or `null` for "none".
fn optional_string(value: &Json, path: &str) -> Result<Option<String>, ConfigError> {
    match value {
        Json::Null => Ok(None),
        Json::String(s) => Ok(Some(s.clone())),
        other => Err(invalid_type(path, other, "a string or null")),
    }
}

fn strings(value: &Json, path: &str) -> Result<Vec<String>, ConfigError> {
    let Json::Array(items) = value else {
        return Err(invalid_type(path, value, "a list of strings"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| string(v, &format!("{path}[{i}]")))
        .collect()
}

/// An object of string values (`{"team": "payments"}`).
fn string_map(value: &Json, path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let Json::Object(members) = value else {
        return Err(invalid_type(path, value, "an object of strings"));
    };
    members
        .iter()
        .map(|(k, v)| Ok((k.clone(), string(v, &join(path, k))?)))
        .collect()
}

/// One of the named values.
fn variant<T: Copy>(value: &Json, path: &str, variants: &[(&str, T)]) -> Result<T, ConfigError> {
    let name = string(value, path)?;
    variants
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
            ConfigError::new(
                path,
                format!("unknown variant `{name}`, {}", expected_list(&names)),
            )
        })
}

/// The whole configuration.
pub(super) fn config(value: &Json) -> Result<Config, ConfigError> {
    if !matches!(value, Json::Object(_)) {
        return Err(ConfigError::new(
            "configuration",
            "must be a JSON object, such as {\"sampling\": {\"percentage\": 10}}",
        ));
    }
    let members = object(
        value,
        "",
        &[
            "mode",
            "sampling",
            "propagation",
            "span",
            "drop",
            "resource",
            "export",
            "access_log",
            "enricher",
        ],
    )?;
    let mut c = Config::default();
    for (key, v) in members {
        let path = key.as_str();
        match path {
            "mode" => {
                c.mode = variant(
                    v,
                    path,
                    &[("tracer", Mode::Tracer), ("enricher", Mode::Enricher)],
                )?
            }
            "sampling" => {
                for (k, v) in object(v, path, &["percentage"])? {
                    c.sampling.percentage = number(v, &join(path, k))?;
                }
            }
            "propagation" => propagation(v, path, &mut c.propagation)?,
            "span" => span(v, path, &mut c.span)?,
            "drop" => drop(v, path, &mut c.drop)?,
            "resource" => resource(v, path, &mut c.resource)?,
            "export" => {
                let mut export = ExportConfig::default();
                self::export(v, path, &mut export)?;
                c.export = Some(export);
            }
            "access_log" => {
                for (k, v) in object(v, path, &["trace_id_header"])? {
                    c.access_log.trace_id_header = optional_string(v, &join(path, k))?;
                }
            }
            _ => {
                for (k, v) in object(v, path, &["route_header", "workload_header"])? {
                    let value = optional_string(v, &join(path, k))?;
                    match k.as_str() {
                        "route_header" => c.enricher.route_header = value,
                        _ => c.enricher.workload_header = value,
                    }
                }
            }
        }
    }
    Ok(c)
}

fn propagation(value: &Json, path: &str, p: &mut PropagationConfig) -> Result<(), ConfigError> {
    for (key, v) in object(value, path, &["b3", "tracestate_max_length"])? {
        let here = join(path, key);
        match key.as_str() {
            "b3" => {
                for (k, v) in object(v, &here, &["extract", "inject"])? {
                    let field = join(&here, k);
                    match k.as_str() {
                        "extract" => p.b3.extract = boolean(v, &field)?,
                        _ => {
                            p.b3.inject = variant(
                                v,
                                &field,
                                &[
                                    ("none", B3Inject::None),
                                    ("single", B3Inject::Single),
                                    ("multi", B3Inject::Multi),
                                    ("single_and_multi", B3Inject::SingleAndMulti),
                                ],
                            )?
                        }
                    }
                }
            }
            _ => p.tracestate_max_length = size(v, &here)?,
        }
    }
    Ok(())
}

fn span(value: &Json, path: &str, s: &mut SpanConfig) -> Result<(), ConfigError> {
    let known = [
        "kind",
        "name",
        "url_query",
        "routes",
        "request_headers",
        "response_headers",
        "tags",
        "known_methods",
    ];
    for (key, v) in object(value, path, &known)? {
        let here = join(path, key);
        match key.as_str() {
            "kind" => {
                s.kind = variant(
                    v,
                    &here,
                    &[
                        ("auto", KindSetting::Auto),
                        ("server", KindSetting::Server),
                        ("client", KindSetting::Client),
                    ],
                )?
            }
            "name" => {
                s.name = variant(
                    v,
                    &here,
                    &[("otel", NameStyle::Otel), ("envoy", NameStyle::Envoy)],
                )?
            }
            "url_query" => s.url_query = boolean(v, &here)?,
            "routes" => s.routes = strings(v, &here)?,
            "request_headers" => s.request_headers = strings(v, &here)?,
            "response_headers" => s.response_headers = strings(v, &here)?,
            "known_methods" => s.known_methods = Some(strings(v, &here)?),
            _ => s.tags = string_map(v, &here)?,
        }
    }
    Ok(())
}

fn drop(value: &Json, path: &str, d: &mut DropConfig) -> Result<(), ConfigError> {
    for (key, v) in object(value, path, &["paths", "user_agents", "methods", "hosts"])? {
        let here = join(path, key);
        match key.as_str() {
            "paths" => {
                let Json::Array(items) = v else {
                    return Err(invalid_type(
                        &here,
                        v,
                        "a list of {\"exact\": …} or {\"prefix\": …}",
                    ));
                };
                d.paths = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| path_rule(item, &format!("{here}[{i}]")))
                    .collect::<Result<_, _>>()?;
            }
            "user_agents" => d.user_agents = strings(v, &here)?,
            "methods" => d.methods = strings(v, &here)?,
            _ => d.hosts = strings(v, &here)?,
        }
    }
    Ok(())
}

fn path_rule(value: &Json, path: &str) -> Result<PathRule, ConfigError> {
    let members = match value {
        Json::Object(m) => m,
        other => {
            return Err(invalid_type(
                path,
                other,
                "{\"exact\": …} or {\"prefix\": …}",
            ));
        }
    };
    match members.as_slice() {
        [(k, v)] if k == "exact" => Ok(PathRule::Exact(string(v, &join(path, k))?)),
        [(k, v)] if k == "prefix" => Ok(PathRule::Prefix(string(v, &join(path, k))?)),
        [(k, _)] => Err(ConfigError::new(
            path,
            format!("unknown variant `{k}`, expected `exact` or `prefix`"),
        )),
        _ => Err(ConfigError::new(
            path,
            "expected exactly one of `exact` or `prefix`",
        )),
    }
}

fn resource(value: &Json, path: &str, r: &mut ResourceConfig) -> Result<(), ConfigError> {
    for (key, v) in object(value, path, &["tracing_service_name", "attributes"])? {
        let here = join(path, key);
        match key.as_str() {
            "tracing_service_name" => {
                r.tracing_service_name = variant(
                    v,
                    &here,
                    &[
                        (
                            "APP_LABEL_AND_NAMESPACE",
                            TracingServiceName::AppLabelAndNamespace,
                        ),
                        ("CANONICAL_NAME_ONLY", TracingServiceName::CanonicalNameOnly),
                        (
                            "CANONICAL_NAME_AND_NAMESPACE",
                            TracingServiceName::CanonicalNameAndNamespace,
                        ),
                    ],
                )?
            }
            _ => r.attributes = string_map(v, &here)?,
        }
    }
    Ok(())
}

fn export(value: &Json, path: &str, e: &mut ExportConfig) -> Result<(), ConfigError> {
    let known = [
        "cluster",
        "authority",
        "path",
        "timeout_ms",
        "headers",
        "batch_size",
        "flush_interval_ms",
        "max_buffered_spans",
        "when_full",
    ];
    for (key, v) in object(value, path, &known)? {
        let here = join(path, key);
        match key.as_str() {
            "cluster" => e.cluster = string(v, &here)?,
            "authority" => e.authority = optional_string(v, &here)?,
            "path" => e.path = string(v, &here)?,
            "timeout_ms" => e.timeout_ms = integer(v, &here)?,
            "headers" => e.headers = string_map(v, &here)?,
            "batch_size" => e.batch_size = size(v, &here)?,
            "flush_interval_ms" => e.flush_interval_ms = integer(v, &here)?,
            "max_buffered_spans" => e.max_buffered_spans = size(v, &here)?,
            _ => {
                e.when_full = variant(
                    v,
                    &here,
                    &[
                        ("drop_newest", WhenFull::DropNewest),
                        ("drop_oldest", WhenFull::DropOldest),
                    ],
                )?
            }
        }
    }
    Ok(())
}
