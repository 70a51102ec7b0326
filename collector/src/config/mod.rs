//! Loading the configuration: read one or more sources (`--config`), merge them like the
//! OpenTelemetry Collector, expand `${...}` references, then check and type everything against
//! the component registry ([`resolve`]). Every error names the file, the component id, the
//! field path and the reason; all errors are reported at once.

mod connect;
pub mod duration;
mod error;
pub mod expand;
pub mod maplist;
pub mod merge;
mod resolve;
pub mod secret;
mod service;
pub mod value;

pub use error::{ConfigError, ConfigErrors};
pub use resolve::{Resolved, ResolvedPipeline, resolve};
pub use secret::Secret;
pub use service::{PipelineConfig, PipelineId, ServiceConfig};
pub use value::Value;

use expand::Lookup;
use merge::Provenance;

/// The merged, expanded configuration tree, before typing.
#[derive(Debug)]
pub struct RawConfig {
    /// The tree.
    pub tree: Value,
    /// Which source set each path.
    pub provenance: Provenance,
    /// Things worth a warning found so far (unset variables).
    pub warnings: Vec<String>,
    /// Expanded values to keep out of messages.
    pub scrub: expand::Scrub,
}

/// Reads one `--config` value: a path, `file:PATH`, `env:VAR` (YAML in a variable) or
/// `yaml:INLINE` (e.g. `yaml:exporters::debug::verbosity: detailed`), as the Collector accepts.
fn read_source(source: &str, lookup: &dyn Lookup) -> Result<(String, String), ConfigError> {
    if let Some(var) = source.strip_prefix("env:") {
        let text = lookup.env(var).ok_or_else(|| {
            ConfigError::new(format!("environment variable {var} is not set")).file(source)
        })?;
        return Ok((source.to_owned(), text));
    }
    if let Some(inline) = source.strip_prefix("yaml:") {
        return Ok((source.to_owned(), yaml_uri_to_yaml(inline)));
    }
    let path = source.strip_prefix("file:").unwrap_or(source);
    let text = lookup
        .file(path)
        .map_err(|e| ConfigError::new(format!("cannot read the config file: {e}")).file(path))?;
    Ok((path.to_owned(), text))
}

/// The configuration source a `--set KEY=VALUE` flag stands for, built as the Collector builds
/// it: the dots of KEY become `::` and the pair a `yaml:` source
/// (`processors.batch.timeout=2s` → `yaml:processors::batch::timeout: 2s`). The caller gives
/// these after every `--config`, so they win: maps merge, lists and scalars are replaced.
pub fn set_flag_source(arg: &str) -> Result<String, String> {
    let (key, value) = arg.split_once('=').ok_or_else(|| {
        format!(
            "{arg:?}: missing equal sign (expected KEY=VALUE, e.g. processors.batch.timeout=2s)"
        )
    })?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!(
            "{arg:?}: invalid key {key:?} (expected dot-separated names, e.g. processors.batch.timeout)"
        ));
    }
    Ok(format!("yaml:{}: {}", key.replace('.', "::"), value.trim()))
}

/// `a::b::c: v` → nested YAML maps, as the Collector's `yaml:` provider does.
fn yaml_uri_to_yaml(inline: &str) -> String {
    let Some((path, value)) = inline.split_once(": ") else {
        return inline.to_owned();
    };
    let keys: Vec<&str> = path.split("::").collect();
    let mut out = String::new();
    for (depth, key) in keys.iter().enumerate() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(key);
        out.push(':');
        if depth + 1 == keys.len() {
            out.push(' ');
            out.push_str(value);
        }
        out.push('\n');
    }
    out
}

/// Parses YAML text into a tree; errors carry the line and column.
///
/// Empty documents are ignored, so a file ending in a bare `---` (a config pasted from a
/// heredoc or a multi-document manifest) loads. A second document with content is refused:
/// the Collector silently reads only the first, and configuration that is silently ignored is
/// worse than an error.
pub fn parse_yaml(name: &str, text: &str) -> Result<Value, ConfigError> {
    let mut docs = crate::config::value::from_yaml_documents(text)
        .map_err(|e| ConfigError::new(format!("invalid YAML: {e}")).file(name))?;
    if docs.len() > 1 {
        let at = second_document_line(text)
            .map(|l| format!(" (the second starts after the `---` on line {l})"))
            .unwrap_or_default();
        return Err(ConfigError::new(format!(
            "holds {} YAML documents{at}; a config file must hold one (the OpenTelemetry \
             Collector would ignore all but the first): remove the `---` or pass the other \
             document as a second --config",
            docs.len()
        ))
        .file(name));
    }
    Ok(docs.pop().unwrap_or(Value::Null))
}

/// The line of the `---` that starts the second document with content, for the error message
/// only (the parser has already counted the documents).
fn second_document_line(text: &str) -> Option<usize> {
    let mut seen_content = false;
    let mut marker = None;
    for (i, line) in text.lines().enumerate() {
        // `--- value` starts a document with content on the marker's own line.
        let (is_marker, rest) = match line.strip_prefix("---") {
            Some(r) if r.is_empty() || r.starts_with([' ', '\t']) => (true, r.trim()),
            _ => (false, line.trim()),
        };
        if is_marker {
            marker = Some(i + 1);
        }
        let blank = rest.is_empty()
            || rest.starts_with('#')
            || (!is_marker && (rest.starts_with('%') || rest == "..."));
        if blank {
            continue;
        }
        if seen_content && marker.is_some() {
            return marker;
        }
        seen_content = true;
        marker = None;
    }
    None
}

/// Reads, merges and expands `sources` (in order; later sources win).
pub fn load_sources(sources: &[String], lookup: &dyn Lookup) -> Result<RawConfig, ConfigErrors> {
    if sources.is_empty() {
        return Err(ConfigError::new("no configuration given: pass --config FILE").into());
    }
    let mut tree = Value::Null;
    let mut provenance = Provenance::default();
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match read_source(source, lookup).and_then(|(name, text)| {
            let v = parse_yaml(&name, &text)?;
            Ok((name, v))
        }) {
            Ok((name, v)) => {
                provenance.sources.push(name.clone());
                if !matches!(v, Value::Map(_) | Value::Null) {
                    errors.push(
                        ConfigError::new(format!(
                            "the top level must be a map of sections, found {}",
                            v.kind()
                        ))
                        .file(name),
                    );
                    continue;
                }
                merge::merge(&mut tree, v, i, &mut provenance);
            }
            Err(e) => {
                provenance.sources.push(source.clone());
                errors.push(e);
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let mut warnings = Vec::new();
    let mut path = Vec::new();
    let scrub =
        expand::expand_recording(&mut tree, &mut path, lookup, &mut warnings).map_err(|e| {
            let file = e
                .field
                .as_deref()
                .map(|f| f.split('.').map(String::from).collect::<Vec<_>>())
                .and_then(|p| provenance.source_of(&p).map(String::from));
            let e = match file {
                Some(f) => e.file(f),
                None => e,
            };
            attribute(e)
        })?;
    Ok(RawConfig {
        tree,
        provenance,
        warnings,
        scrub,
    })
}

/// Turns a tree path (`exporters.otlp.headers.x`) into component + field.
fn attribute(e: ConfigError) -> ConfigError {
    const SECTIONS: [&str; 5] = [
        "receivers",
        "processors",
        "exporters",
        "extensions",
        "connectors",
    ];
    let Some(field) = e.field.clone() else {
        return e;
    };
    let parts: Vec<&str> = field.splitn(3, '.').collect();
    match parts.as_slice() {
        [section, id, rest] if SECTIONS.contains(section) => {
            let e = e.component(format!("{section}::{id}"));
            e.field(*rest)
        }
        ["service", rest @ ..] => e.component("service").field(rest.join(".")),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_documents_are_ignored_a_second_one_is_refused() {
        let ok = |t: &str| parse_yaml("c.yaml", t).unwrap();
        let one = value::from_yaml("a: 1\n").unwrap();
        // A trailing `---` (heredocs, multi-document manifests), a leading one, empty ones.
        for t in [
            "a: 1\n",
            "a: 1\n---\n",
            "a: 1\n---",
            "---\na: 1\n",
            "---\na: 1\n---\n# nothing more\n",
            "a: 1\n---\n---\n...\n",
            "a: 1\n--- ~\n",
        ] {
            assert_eq!(ok(t), one, "{t:?}");
        }
        assert_eq!(ok(""), Value::Null);
        assert_eq!(ok("---\n"), Value::Null);
        let err = |t: &str| parse_yaml("c.yaml", t).unwrap_err().to_string();
        let cases = [
            (
                "a: 1\n---\nb: 2\n",
                "holds 2 YAML documents (the second starts after the `---` on line 2)",
            ),
            (
                "---\na: 1\n\n---\n# b\nb: 2\n---\nc: 3\n",
                "holds 3 YAML documents (the second starts after the `---` on line 4)",
            ),
            (
                "a: 1\n--- {b: 2}\n",
                "holds 2 YAML documents (the second starts after the `---` on line 2)",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(
                err(t),
                format!(
                    "c.yaml: {want}; a config file must hold one (the OpenTelemetry Collector \
                     would ignore all but the first): remove the `---` or pass the other \
                     document as a second --config"
                ),
                "{t:?}"
            );
        }
    }

    #[test]
    fn set_flags_become_yaml_sources() {
        // --set value → the source, and the tree it stands for.
        let ok = [
            (
                "processors.batch.timeout=2s",
                "yaml:processors::batch::timeout: 2s",
                "processors:\n  batch:\n    timeout: 2s\n",
            ),
            (
                " exporters.otlp_grpc/tempo.endpoint = tempo:4317 ",
                "yaml:exporters::otlp_grpc/tempo::endpoint: tempo:4317",
                "exporters:\n  otlp_grpc/tempo:\n    endpoint: tempo:4317\n",
            ),
            (
                "service.pipelines.traces.processors=[memory_limiter, batch]",
                "yaml:service::pipelines::traces::processors: [memory_limiter, batch]",
                "service:\n  pipelines:\n    traces:\n      processors: [memory_limiter, batch]\n",
            ),
            (
                "exporters.otlp.headers.x-token=a=b",
                "yaml:exporters::otlp::headers::x-token: a=b",
                "exporters:\n  otlp:\n    headers:\n      x-token: a=b\n",
            ),
            (
                "processors.batch=",
                "yaml:processors::batch: ",
                "processors:\n  batch: \n",
            ),
        ];
        for (arg, source, yaml) in ok {
            let got = set_flag_source(arg).unwrap();
            assert_eq!(got, source, "{arg:?}");
            let inline = got.strip_prefix("yaml:").unwrap();
            assert_eq!(yaml_uri_to_yaml(inline), yaml, "{arg:?}");
        }
        let bad = [
            (
                "processors.batch.timeout",
                "\"processors.batch.timeout\": missing equal sign (expected KEY=VALUE, e.g. processors.batch.timeout=2s)",
            ),
            (
                "=2s",
                "\"=2s\": invalid key \"\" (expected dot-separated names, e.g. processors.batch.timeout)",
            ),
            (
                "processors..timeout=2s",
                "\"processors..timeout=2s\": invalid key \"processors..timeout\" (expected dot-separated names, e.g. processors.batch.timeout)",
            ),
        ];
        for (arg, want) in bad {
            assert_eq!(set_flag_source(arg).unwrap_err(), want, "{arg:?}");
        }
    }

    #[test]
    fn yaml_uris_become_nested_maps() {
        assert_eq!(
            yaml_uri_to_yaml("exporters::debug::verbosity: detailed"),
            "exporters:\n  debug:\n    verbosity: detailed\n"
        );
    }
}
