//! The Envoy variants of the benchmarks (`scripts/bench.sh envoy`,
//! `scripts/envoy-instructions.sh`) as `envoy_config` in `scripts/lib.sh` renders them: each
//! one an Envoy config the pinned Envoy accepts, sampling what its name says. A benchmark that
//! silently ran another configuration would measure the wrong thing.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output};

use meshtrace_e2e::bench::{Ports, render_variant};
use meshtrace_e2e::envoy::envoy_binary;
use meshtrace_e2e::process::TempDir;
use meshtrace_e2e::wasm::filter_wasm;

/// `envoy_config VARIANT` with fixed ports (validate mode binds none), `$WASM` the filter.
fn render(variant: &str, wasm: &Path) -> Output {
    let ports = Ports {
        listen: 10000,
        app: 10001,
        sink_grpc: 10002,
        sink_http: 10003,
    };
    render_variant(variant, wasm, ports).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether Envoy (`--mode validate`) accepts `config`, written under `dir`; and its log.
fn validate(envoy: &Path, dir: &Path, variant: &str, config: &[u8]) -> (bool, String) {
    let path = dir.join(format!("{}.yaml", variant.replace(['@', '+'], "_")));
    std::fs::write(&path, config).unwrap();
    let out = Command::new(envoy)
        .args(["--mode", "validate", "--disable-hot-restart", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The first `@NAME@` placeholder left in a rendered config (comments aside).
fn placeholder(config: &str) -> Option<&str> {
    config
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let parts: Vec<&str> = l.split('@').collect();
            // Only a part with an `@` on both sides can be a placeholder.
            parts
                .get(1..parts.len().saturating_sub(1))?
                .iter()
                .copied()
                .find(|name| {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                })
        })
}

#[test]
fn placeholders_are_found_next_to_type_urls() {
    assert_eq!(
        placeholder("random_sampling: { value: @SAMPLING@ }"),
        Some("SAMPLING")
    );
    assert_eq!(
        placeholder(r#"{ "@type": t, port_value: @APP_PORT@ }"#),
        Some("APP_PORT")
    );
    assert_eq!(placeholder(r#"{ "@type": "type.googleapis.com/x" }"#), None);
    assert_eq!(
        placeholder("# @...@ placeholders are filled in\nvalue: 1"),
        None
    );
}

/// (variant, a line the rendered config must hold, a line the filter must log when it loads
/// its configuration in Envoy; "" for no filter).
const VARIANTS: &[(&str, &str, &str)] = &[
    ("none", "stat_prefix: inbound", ""),
    ("native", "random_sampling: { value: 100 }", ""),
    ("native@1", "random_sampling: { value: 1 }", ""),
    ("native@0.5", "random_sampling: { value: 0.5 }", ""),
    (
        "enricher",
        "request_header: { name: x-meshtrace-route",
        "configured: mode=enricher enricher.route_header=x-meshtrace-route enricher.workload_header=- span.routes=2",
    ),
    (
        "enricher@1",
        "random_sampling: { value: 1 }",
        "configured: mode=enricher enricher.route_header=x-meshtrace-route",
    ),
    (
        "filter-idle",
        r#""mode": "enricher""#,
        "configured: mode=enricher",
    ),
    (
        "filter-propagation",
        r#""percentage": 100"#,
        "sampling.percentage=100 propagation.b3.extract=true propagation.b3.inject=none propagation.tracestate_max_length=512 export=off",
    ),
    (
        "filter-export",
        r#""percentage": 100"#,
        "sampling.percentage=100 propagation.b3.extract=true",
    ),
    (
        "filter-export@1",
        r#""percentage": 1"#,
        "sampling.percentage=1 propagation.b3.extract=true",
    ),
    // A configured kind: the expression reads what that kind's spans need, no more.
    (
        "filter-export-server",
        r#""kind": "server""#,
        "stream properties: one CEL evaluation per span (5 properties)",
    ),
    (
        "filter-export-client",
        r#""kind": "client""#,
        "stream properties: one CEL evaluation per span (4 properties)",
    ),
    // The floor module: its mode is the whole plugin configuration, the header-only twin for
    // the modes that record nothing.
    ("floor-empty", "value: 'empty'", ""),
    ("floor-propagation", "meshtrace_wasm_floor-headers.wasm", ""),
    ("floor-bare", "meshtrace_wasm_floor.wasm", ""),
    ("floor-span", "value: 'span'", ""),
    ("floor-bare+cel", "value: 'bare+cel'", ""),
];

#[test]
fn every_bench_variant_renders_a_config_envoy_accepts() {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let envoy = envoy_binary().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("bench-configs").unwrap();
    for &(variant, holds, logs) in VARIANTS {
        let out = render(variant, &wasm);
        let config = text(&out.stdout);
        assert!(out.status.success(), "{variant}: {}", text(&out.stderr));
        assert_eq!(placeholder(&config), None, "{variant}:\n{config}");
        assert!(
            config.lines().any(|l| l.contains(holds)),
            "{variant}: no `{holds}` in\n{config}"
        );
        let (accepted, log) = validate(&envoy, dir.path(), variant, config.as_bytes());
        assert!(accepted, "{variant}: Envoy refused it:\n{log}\n{config}");
        if !logs.is_empty() {
            assert!(log.contains(logs), "{variant}: no `{logs}` in\n{log}");
        }
    }
}

#[test]
fn a_variant_that_cannot_sample_as_asked_is_refused() {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    for (variant, why) in [
        (
            "filter-idle@1",
            "variant filter-idle@1: filter-idle does not sample",
        ),
        ("none@1", "variant none@1: none does not sample"),
        (
            "zipkin",
            "variant zipkin: no scripts/bench/envoy-zipkin.yaml",
        ),
        (
            "filter-foo",
            "variant filter-foo: no scripts/bench/filter-foo.json",
        ),
        (
            "native@half",
            "variant native@half: the sampling percentage must be a number",
        ),
        (
            "native@",
            "variant native@: the sampling percentage must be a number",
        ),
        (
            "floor-span@1",
            "variant floor-span@1: floor-span does not sample",
        ),
    ] {
        let out = render(variant, &wasm);
        assert!(!out.status.success(), "{variant} rendered");
        let err = text(&out.stderr);
        assert!(err.contains(why), "{variant}: {err}");
        assert_eq!(text(&out.stdout), "", "{variant}: half a config");
    }
}

/// A floor mode the module does not know renders (the shell does not parse modes), and Envoy
/// refuses it: the module's configure fails, so no benchmark runs a floor that does nothing.
#[test]
fn an_unknown_floor_mode_is_refused_by_envoy() {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let envoy = envoy_binary().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("bench-configs-floor").unwrap();
    for variant in ["floor-nothing", "floor-propagation+cel"] {
        let out = render(variant, &wasm);
        assert!(out.status.success(), "{variant}: {}", text(&out.stderr));
        let (accepted, log) = validate(&envoy, dir.path(), variant, &out.stdout);
        assert!(!accepted, "{variant}: Envoy accepted it:\n{log}");
        let mode = variant.trim_start_matches("floor-");
        for says in [
            format!("meshtrace-wasm-floor: unknown mode \"{mode}\""),
            "Unable to create Wasm plugin meshtrace".to_owned(),
        ] {
            assert!(log.contains(&says), "{variant}: no `{says}` in\n{log}");
        }
    }
}
