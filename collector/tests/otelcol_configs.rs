//! The OpenTelemetry Collector's own configs (`../shared/otelcol-configs`): those that use only
//! supported components validate; the others fail naming every unsupported component.
//! Component-level files (one receiver's or exporter's config) are placed under their
//! component in a minimal full config; Kubernetes manifests have their ConfigMaps' configs
//! extracted.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::process::Command;

fn validate(yaml: &str) -> (i32, String) {
    let d = TempDir::new();
    std::fs::write(d.path("config.yaml"), yaml).unwrap();
    let out = Command::new(bin())
        .current_dir(&d.0)
        .args(["validate", "--config=config.yaml"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

fn read(rel: &str) -> String {
    let base = shared().join("otelcol-configs");
    let path = if rel.starts_with("contrib/") {
        base.join(rel)
    } else {
        base.join("core").join(rel)
    };
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A full config with `content` as the config of `section.id`.
fn wrap(section: &str, id: &str, content: &str) -> String {
    let body = indent(content, 4);
    let (receivers, exporters, processors) = match section {
        "receivers" => (
            format!("receivers:\n  {id}:\n{body}"),
            "exporters:\n  debug:\n".to_owned(),
            String::new(),
        ),
        "exporters" => (
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n".to_owned(),
            format!("exporters:\n  {id}:\n{body}"),
            String::new(),
        ),
        "processors" => (
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n".to_owned(),
            "exporters:\n  debug:\n".to_owned(),
            format!("processors:\n  {id}:\n{body}"),
        ),
        _ => unreachable!(),
    };
    let rid = if section == "receivers" { id } else { "otlp" };
    let eid = if section == "exporters" { id } else { "debug" };
    let procs = if section == "processors" {
        format!("[{id}]")
    } else {
        "[]".into()
    };
    format!(
        "{receivers}{processors}{exporters}service:\n  pipelines:\n    traces:\n      receivers: [{rid}]\n      processors: {procs}\n      exporters: [{eid}]\n"
    )
}

/// Expected: `Ok(())` for valid, or the fragments the error output must contain.
type Want = Result<(), &'static [&'static str]>;

fn check(name: &str, yaml: &str, want: Want) {
    let (code, stderr) = validate(yaml);
    match want {
        Ok(()) => assert_eq!(code, 0, "{name} should validate:\n{stderr}\n{yaml}"),
        Err(fragments) => {
            assert_eq!(code, 1, "{name} should fail:\n{stderr}");
            for f in fragments {
                assert!(stderr.contains(f), "{name}: missing {f:?} in:\n{stderr}");
            }
        }
    }
}

const NOP: &[&str] = &[
    "receivers::nop: unknown receiver type \"nop\"",
    "processors::nop: unknown processor type \"nop\"",
    "exporters::nop: unknown exporter type \"nop\"",
];

#[test]
fn full_configs() {
    let cases: &[(&str, Want)] = &[
        // memory_limiter (issue 5) and zpages are supported: the Collector's local example
        // runs as it is.
        ("examples/local-otel-config.yaml", Ok(())),
        (
            "otelcol/otelcol-nop.yaml",
            Err(&[
                "extensions::nop: unknown extension type \"nop\"",
                "connectors::nop/con: unknown connector type \"nop\" (supported: forward, routing, servicegraph, spanmetrics)",
            ]),
        ),
        (
            "otelcol/otelcol-invalid.yaml",
            Err(&["references processor \"invalid\" which is not configured"]),
        ),
        (
            "otelcol/otelcol-valid-connector-use.yaml",
            Err(&["connectors::nop/connector1: unknown connector type \"nop\""]),
        ),
        (
            "otelcol/otelcol-cyclic-connector.yaml",
            Err(&["connectors::nop/forward: unknown connector type \"nop\""]),
        ),
    ];
    for (file, want) in cases {
        check(file, &read(file), *want);
        if file.starts_with("otelcol/") && *file != "otelcol/otelcol-invalid.yaml" {
            check(file, &read(file), Err(&NOP[..1]));
        }
    }
    check(
        "otelcol/otelcol-invalid.yaml",
        &read("otelcol/otelcol-invalid.yaml"),
        Err(NOP),
    );
    check(
        "otelcol/otelcol-nop.yaml",
        &read("otelcol/otelcol-nop.yaml"),
        Err(NOP),
    );
}

/// `yaml` with the Collector's `nop` test components replaced by real ones: the otlp receiver,
/// the batch processor, the debug exporter, the health check, and `forward` connectors.
fn with_real_components(yaml: &str) -> String {
    let mut section = "";
    let mut out = String::new();
    for line in yaml.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':');
        }
        let real = |key: &str| match key {
            "receivers" => "otlp",
            "processors" => "batch",
            "exporters" => "debug",
            "extensions" => "health_check",
            _ => "nop",
        };
        let line = line.replace("nop/", "forward/");
        let line = if line == "  nop:" && section == "receivers" {
            "  otlp:\n    protocols:\n      grpc:".to_owned()
        } else if line == "  nop:" {
            format!("  {}:", real(section))
        } else if let Some((key, list)) = line.split_once(": [") {
            let items: Vec<&str> = list
                .trim_end_matches(']')
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(|i| if i == "nop" { real(key.trim()) } else { i })
                .collect();
            format!("{key}: [{}]", items.join(", "))
        } else {
            line
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The Collector's connector configs, with real components in place of `nop`: the valid one
/// runs, the others fail with the Collector's messages (`service/internal/graph`).
#[test]
fn connector_configs_with_real_components() {
    let cases: &[(&str, Want)] = &[
        ("otelcol/otelcol-valid-connector-use.yaml", Ok(())),
        (
            "otelcol/otelcol-cyclic-connector.yaml",
            Err(&[
                "service::pipelines: cycle detected: connector \"forward/forward\" (traces to traces) -> connector \"forward/forward\" (traces to traces)",
            ]),
        ),
        // `forward` joins a signal to the same signal only: traces out, logs in is no pair.
        (
            "otelcol/otelcol-nop.yaml",
            Err(&[
                "connectors::forward/con: connector \"forward/con\" used as exporter in [traces] pipeline but not used in any supported receiver pipeline",
                "connectors::forward/con: connector \"forward/con\" used as receiver in [logs] pipeline but not used in any supported exporter pipeline",
            ]),
        ),
    ];
    for (file, want) in cases {
        let yaml = with_real_components(&read(file));
        assert!(!yaml.contains("nop"), "{file}: {yaml}");
        check(file, &yaml, *want);
    }
    let (_, stderr) = validate(&with_real_components(&read(
        "otelcol/otelcol-cyclic-connector.yaml",
    )));
    assert_eq!(stderr.matches("cycle detected").count(), 1, "{stderr}");
}

#[test]
fn kubernetes_example_configmaps() {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_str_multiple(&read("examples/k8s-otel-config.yaml")).unwrap();
    let mut configs = Vec::new();
    for d in docs.iter().filter(|d| d["kind"] == "ConfigMap") {
        for (k, v) in d["data"].as_object().unwrap() {
            configs.push((k.clone(), v.as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(configs.len(), 2, "agent and collector configs");
    for (name, yaml) in configs {
        // Both use memory_limiter, zpages and otlp_grpc with a sending queue and retries:
        // all supported.
        check(&name, &yaml, Ok(()));
    }
}

#[test]
fn component_level_configs() {
    let cases: &[(&str, &str, &str, Want)] = &[
        ("receivers", "otlp", "otlpreceiver/default.yaml", Ok(())),
        ("receivers", "otlp", "otlpreceiver/only_grpc.yaml", Ok(())),
        ("receivers", "otlp", "otlpreceiver/only_http.yaml", Ok(())),
        (
            "receivers",
            "otlp",
            "otlpreceiver/config.yaml",
            Err(&[
                "field `protocols.http.auth.authenticator`: references extension \"test\" which is not configured",
            ]),
        ),
        (
            "receivers",
            "otlp",
            "otlpreceiver/bad_proto_config.yaml",
            Err(&["field `protocols.thrift`: unknown field `thrift`"]),
        ),
        (
            "receivers",
            "otlp",
            "otlpreceiver/typo_default_proto_config.yaml",
            Err(&["field `protocols.htttp`: unknown field `htttp`"]),
        ),
        (
            "receivers",
            "otlp",
            "otlpreceiver/invalid_traces_path.yaml",
            Err(&["invalid URL path \":invalid\""]),
        ),
        (
            "processors",
            "batch",
            "processors/batchprocessor-config.yaml",
            Ok(()),
        ),
        // Only supported components, but one header name is not a valid HTTP field name (the
        // Collector only finds out when it sends): refused up front, naming it.
        (
            "exporters",
            "otlp_http",
            "exporters/otlphttpexporter-config.yaml",
            Err(&[
                "exporters::otlp_http: field `headers`: invalid header name \"can you have a . here?\"",
            ]),
        ),
        (
            "exporters",
            "otlp_grpc",
            "exporters/otlpexporter-config.yaml",
            // Its `sending_queue.batch` (exporter-side batching) is taken as it is.
            Err(&[
                "field `auth.authenticator`: references extension \"nop\" which is not configured",
                "field `headers`: invalid header name \"can you have a . here?\"",
            ]),
        ),
    ];
    for (section, id, file, want) in cases {
        check(file, &wrap(section, id, &read(file)), *want);
    }
    // Without that header, everything else in it (TLS files, queue, retry, buffers) is accepted.
    let text = read("exporters/otlphttpexporter-config.yaml");
    let fixed: String = text
        .lines()
        .filter(|l| !l.contains("can you have"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(fixed, text);
    check(
        "otlphttpexporter-config without the bad header",
        &wrap("exporters", "otlp_http", &fixed),
        Ok(()),
    );
}

/// The transform processor's own test configs: every trace statement group is checked as
/// the Collector checks it; metric and log statements are refused by name (meshtrace
/// transforms traces only). Exactly these problems, and no others.
#[test]
fn contrib_transform_configs_are_checked_processor_by_processor() {
    let file = "contrib/transformprocessor-config.yaml";
    let text = read(file);
    let yaml = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\nprocessors:\n{}exporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
        indent(&text, 2)
    );
    let (code, stderr) = validate(&yaml);
    assert_eq!(code, 1);
    let trace_errors = [
        "processors::transform/bad_syntax_trace: field `trace_statements.0.statements.0`: invalid OTTL statement (span context): 1:18: expected ',' or ')' in the arguments of set, found 'where'",
        "processors::transform/bad_syntax_multi_signal: field `trace_statements.0.statements.0`: invalid OTTL statement (span context): 1:18:",
        "processors::transform/unknown_function_trace: field `trace_statements.0.statements.1`: invalid OTTL statement (span context): 1:1: undefined editor \"not_a_function\"",
        "processors::transform/unknown_context: field `trace_statements.0.context`: unknown context \"test\"",
        "processors::transform/unknown_error_mode: field `error_mode`: unknown error mode \"test\"",
        "processors::transform/mixed_configuration_styles: field `trace_statements`: configuring multiple configuration styles is not supported",
    ];
    for want in trace_errors {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    let refused = stderr
        .lines()
        .filter(|l| l.contains("_statements` are not supported"))
        .count();
    assert_eq!(
        refused, 19,
        "metric and log sections, each named:\n{stderr}"
    );
    assert!(stderr.contains("(25 errors)"), "{stderr}");
    // The groups the Collector accepts are accepted: none of these ids has an error.
    for ok in [
        "transform:",
        "transform/with_conditions:",
        "transform/ignore_errors:",
        "transform/structured_configuration_with_path_context:",
        "transform/structured_configuration_with_inferred_context:",
        "transform/flat_configuration:",
        "transform/with_shared_cache_key:",
        "transform/context_statements_error_mode:",
    ] {
        let id = format!("processors::{}", ok.trim_end_matches(':'));
        assert!(
            stderr
                .lines()
                .filter(|l| l.contains(&format!("{id}: ")))
                .all(|l| l.contains("_statements` are not supported")),
            "{id}:\n{stderr}"
        );
    }
}

/// The filter processor's own test configs: each processor is checked as the Collector
/// checks it, except that metric and log conditions are refused by name (meshtrace filters
/// traces only).
#[test]
fn contrib_filter_configs_are_checked_processor_by_processor() {
    let file = "contrib/filterprocessor-config_ottl.yaml";
    let text = read(file);
    let yaml = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\nprocessors:\n{}exporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
        indent(&text, 2)
    );
    check(
        file,
        &yaml,
        Err(&[
            "processors::filter/ottl: field `metrics`: `metrics` conditions are not supported",
            "processors::filter/ottl: field `logs`: `logs` conditions are not supported",
            "processors::filter/spans_mix_config: cannot use \"traces.span\", \"traces.spanevent\" and the span settings \"spans.include\", \"spans.exclude\" at the same time",
            "processors::filter/metrics_mix_config: field `metrics`",
            "processors::filter/logs_mix_config: field `logs`",
            "processors::filter/bad_syntax_span: field `traces.span.0`: invalid OTTL condition: 1:12: unknown path \"test\"",
            "processors::filter/bad_syntax_spanevent: field `traces.spanevent.0`: invalid OTTL condition: 1:12:",
            "processors::filter/bad_syntax_metric: field `metrics`",
            "processors::filter/bad_syntax_datapoint: field `metrics`",
            "processors::filter/bad_syntax_log: field `logs`",
        ]),
    );
    let (_, stderr) = validate(&yaml);
    assert!(!stderr.contains("filter/multiline"), "{stderr}");
    // The traces part of filter/ottl alone is a valid traces filter.
    let traces_only = wrap(
        "processors",
        "filter",
        "error_mode: ignore\ntraces:\n  span:\n    - 'attributes[\"test\"] == \"pass\"'\n  spanevent:\n    - 'attributes[\"test\"] == \"pass\"'\n",
    );
    check("filter/ottl traces part", &traces_only, Ok(()));
}
