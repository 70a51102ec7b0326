//! `meshtrace-collector validate`: golden files of its messages for broken configs
//! (`testdata/validate/NAME.yaml` → `NAME.golden`; `NAME.args` overrides the arguments), and
//! the command line's other promises. `UPDATE_GOLDEN=1` rewrites the golden files.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[String], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("KUBERNETES_SERVICE_HOST");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_messages_match_the_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/validate");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(String::from))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "the golden set shrank: {names:?}");
    let mut failures = Vec::new();
    for name in names {
        let args: Vec<String> = match std::fs::read_to_string(dir.join(format!("{name}.args"))) {
            Ok(a) => a.lines().map(String::from).collect(),
            Err(_) => vec!["validate".into(), "--config".into(), format!("{name}.yaml")],
        };
        let (code, stdout, stderr) = run(&dir, &args, &[]);
        assert!(
            stdout.is_empty(),
            "{name}: validate printed to stdout: {stdout}"
        );
        let got = format!("exit: {code}\n{stderr}");
        let golden = dir.join(format!("{name}.golden"));
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("missing {}", golden.display()));
        if got != want {
            failures.push(format!("--- {name}: want\n{want}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const VALID: &str = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: ${env:MY_POD_IP}:4317\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n";

#[test]
fn config_flag_forms_and_env_expansion() {
    let d = TempDir::new();
    std::fs::write(d.path("c.yaml"), VALID).unwrap();
    let env = [("MY_POD_IP", "10.1.2.3")];
    for args in [
        vec!["validate", "--config", "c.yaml"],
        vec!["validate", "--config=c.yaml"],
        vec!["--config=c.yaml", "validate"],
        vec!["validate", "--config=file:c.yaml"],
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let (code, _, stderr) = run(&d.0, &args, &env);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
    }
    // Unset: expands to empty (with a warning), leaving ":4317", which is still valid.
    let (code, _, stderr) = run(&d.0, &["validate".into(), "--config=c.yaml".into()], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        stderr,
        "warning: configuration references unset environment variable MY_POD_IP; it expands to an empty string\n"
    );
}

#[test]
fn repeated_config_flags_merge_later_wins() {
    let d = TempDir::new();
    std::fs::write(d.path("a.yaml"), VALID).unwrap();
    // The second file adds an exporter and replaces the pipeline's exporter list.
    std::fs::write(d.path("b.yaml"), "exporters:\n  file:\n    path: /tmp/x\nservice:\n  pipelines:\n    traces:\n      exporters: [file]\n").unwrap();
    std::fs::write(
        d.path("bad.yaml"),
        "service:\n  pipelines:\n    traces:\n      exporters: [nope]\n",
    )
    .unwrap();
    let env = [("MY_POD_IP", "1.2.3.4")];
    let args = |files: &[&str]| -> Vec<String> {
        let mut v = vec!["validate".to_string()];
        v.extend(files.iter().map(|f| format!("--config={f}")));
        v
    };
    let (code, _, stderr) = run(&d.0, &args(&["a.yaml", "b.yaml"]), &env);
    // debug is now unused: the list was replaced, not appended to.
    assert_eq!(
        (code, stderr.as_str()),
        (
            0,
            "warning: exporters::debug is configured but not used in any pipeline; it will not run\n"
        )
    );
    let (code, _, stderr) = run(&d.0, &args(&["a.yaml", "bad.yaml"]), &env);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error: invalid configuration: bad.yaml: service::pipelines::traces: field `exporters.0`: references exporter \"nope\" which is not configured under `exporters`\n"
    );
    let (code, _, stderr) = run(
        &d.0,
        &args(&["a.yaml", "yaml:exporters::debug::verbosity: detailed"]),
        &env,
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn set_flags_apply_after_every_config() {
    let d = TempDir::new();
    std::fs::write(
        d.path("c.yaml"),
        VALID.replace(
            "exporters:\n",
            "processors:\n  batch:\n    timeout: soon\nexporters:\n",
        ),
    )
    .unwrap();
    let env = [("MY_POD_IP", "1.2.3.4")];
    let args = |a: &[&str]| -> Vec<String> { a.iter().map(|s| (*s).to_string()).collect() };
    // (arguments, exit code, stderr)
    let cases = [
        (
            args(&["validate", "--config=c.yaml"]),
            1,
            "Error: invalid configuration: c.yaml: processors::batch: field `timeout`: invalid duration \"soon\" (expected e.g. \"5s\", \"200ms\", \"1m30s\")\n".to_string(),
        ),
        // --set wins over the file, wherever it sits on the command line.
        (
            args(&["validate", "--set=processors.batch.timeout=2s", "--config=c.yaml"]),
            0,
            "warning: processors::batch is configured but not used in any pipeline; it will not run\n".to_string(),
        ),
        (
            args(&[
                "validate",
                "--config=c.yaml",
                "--set",
                "processors.batch.timeout=2s",
                "--set=service.pipelines.traces.processors=[batch]",
            ]),
            0,
            String::new(),
        ),
        // A later --set wins over an earlier one.
        (
            args(&[
                "--set=processors.batch.timeout=2s",
                "--set=processors.batch.timeout=later",
                "validate",
                "--config=c.yaml",
            ]),
            1,
            "Error: invalid configuration: yaml:processors::batch::timeout: later: processors::batch: field `timeout`: invalid duration \"later\" (expected e.g. \"5s\", \"200ms\", \"1m30s\")\n".to_string(),
        ),
    ];
    for (a, code, stderr) in cases {
        assert_eq!(run(&d.0, &a, &env), (code, String::new(), stderr), "{a:?}");
    }
    let (code, _, stderr) = run(
        &d.0,
        &args(&[
            "validate",
            "--config=c.yaml",
            "--set=processors.batch.timeout",
        ]),
        &env,
    );
    assert_eq!(code, 2);
    assert!(
        stderr
            .contains("missing equal sign (expected KEY=VALUE, e.g. processors.batch.timeout=2s)"),
        "{stderr}"
    );
}

#[test]
fn components_lists_what_is_supported() {
    let (code, stdout, _) = run(Path::new("."), &["components".into()], &[]);
    assert_eq!(code, 0);
    for line in [
        "receivers:\n  - otlp [traces, metrics, logs]\n",
        "  - zipkin [traces]\n",
        "processors:\n  - batch [traces, metrics, logs]\n",
        "  - filter [traces, metrics, logs]\n",
        "  - attributes [traces]\n",
        "  - resource [traces, metrics, logs]\n",
        "  - transform [traces, metrics, logs]\n",
        "  - probabilistic_sampler [traces]\n",
        "  - memory_limiter [traces, metrics, logs]\n",
        "  - otlp_grpc [traces, metrics, logs]\n",
        "  - otlp [traces, metrics, logs] (deprecated name of otlp_grpc)\n",
        "  - otlp_http [traces, metrics, logs]\n",
        "  - otlphttp [traces, metrics, logs] (deprecated name of otlp_http)\n",
        "  - debug [traces, metrics, logs]\n",
        "  - logging [traces, metrics, logs] (deprecated name of debug)\n",
        "  - file [traces, metrics, logs]\n",
        "extensions:\n  - health_check\n  - pprof\n  - zpages\n",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn a_bad_config_stops_the_collector_with_the_same_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/validate");
    let (code, _, stderr) = run(&dir, &["--config=unknown_field.yaml".into()], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown_field.yaml: exporters::otlp_grpc/tempo: field `endpont`: unknown field `endpont`, expected one of `endpoint`"), "{stderr}");
}

#[test]
fn secrets_never_appear_in_validate_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/validate");
    let args: Vec<String> = ["validate", "--config", "extensions_security.yaml"]
        .map(String::from)
        .to_vec();
    let (code, stdout, stderr) = run(&dir, &args, &[]);
    assert_eq!(code, 1);
    // Every secret in the file is in a field that has an error or sits next to one.
    for secret in [
        "super-secret-api-key",
        "s3cr3t-token-value",
        "hunter2-password",
        "SECRET-KEY-MATERIAL",
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("invalid value for header \"api-key\""),
        "{stderr}"
    );
}

/// A referenced value can land in any field, a URL included, and errors quote URLs: they show
/// the reference instead of its value.
#[test]
fn referenced_values_are_shown_as_their_references_in_errors() {
    let d = std::env::temp_dir().join(format!("meshtrace-scrub-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("c.yaml"),
        r#"
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  otlp_grpc:
    endpoint: "ftp://${env:EXPORT_TOKEN}@tempo:4317"
  otlp_http:
    endpoint: "ftp://user:${file:pw.txt}@backend"
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc, otlp_http]
"#,
    )
    .unwrap();
    std::fs::write(d.join("pw.txt"), "pa55-in-a-file\n").unwrap();
    let args: Vec<String> = ["validate", "--config", "c.yaml"]
        .map(String::from)
        .to_vec();
    let (code, _, stderr) = run(&d, &args, &[("EXPORT_TOKEN", "tok-9f8e7d")]);
    assert_eq!(code, 1, "{stderr}");
    for secret in ["tok-9f8e7d", "pa55-in-a-file"] {
        assert!(!stderr.contains(secret), "{secret} leaked:\n{stderr}");
    }
    for shown in ["${env:EXPORT_TOKEN}", "${file:pw.txt}"] {
        assert!(stderr.contains(shown), "{shown} not shown:\n{stderr}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// The `n`-th yaml block (from 1) of the docs/istio.md section headed `heading`.
fn istio_guide_snippet(heading: &str, n: usize) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/istio.md")).unwrap();
    guide
        .split(heading)
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .and_then(|s| s.split("```yaml\n").nth(n))
        .and_then(|s| s.split("```").next())
        .unwrap_or_else(|| panic!("yaml block {n} under {heading:?} in docs/istio.md"))
        .to_owned()
}

/// `validate` of a shipped collector config (relative to istio-manifests/collector) with
/// `snippet` merged onto it, as a user would add it: the exit code and stderr.
fn validate_on_shipped(shipped: &str, snippet: &str, env: &[(&str, &str)]) -> (i32, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = TempDir::new();
    std::fs::write(dir.path("snippet.yaml"), snippet).unwrap();
    let shipped = root.join("istio-manifests/collector").join(shipped);
    let args: Vec<String> = vec![
        "validate".into(),
        format!("--config={}", shipped.display()),
        format!("--config={}", dir.path("snippet.yaml").display()),
    ];
    let (code, _, stderr) = run(&dir.0, &args, env);
    (code, stderr)
}

const SECTION_6: &str = "### 6. RED metrics and a service graph";

/// The connectors snippet of docs/istio.md §6 on the shipped Tempo config: it must validate,
/// without warnings.
#[test]
fn the_istio_guides_span_metrics_snippet_validates_on_the_shipped_config() {
    let snippet = istio_guide_snippet(SECTION_6, 1);
    assert!(snippet.contains("servicegraph") && snippet.contains("spanmetrics"));
    let got = validate_on_shipped(
        "components/tempo/config.yaml",
        &snippet,
        &[("POD_NAME", "gw-0")],
    );
    assert_eq!(got, (0, String::new()));
}

/// The load-balancing tier of §6 (its second yaml block) on the shipped base config: it must
/// validate, and name the two-tier overlay's gateway Service as the shipped agent config does.
#[test]
fn the_istio_guides_load_balancing_tier_validates_on_the_shipped_config() {
    let snippet = istio_guide_snippet(SECTION_6, 2);
    assert!(snippet.contains("loadbalancing"), "{snippet}");
    let hostname = "hostname: meshtrace-collector-gateway.observability.svc.cluster.local\n";
    assert!(snippet.contains(hostname), "{snippet}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let agent = std::fs::read_to_string(
        root.join("istio-manifests/collector/overlays/two-tier/agent/config.yaml"),
    )
    .unwrap();
    assert!(agent.contains(hostname), "{agent}");
    // The base's placeholder exporter is what the tier replaces.
    assert_eq!(
        validate_on_shipped("base/config.yaml", &snippet, &[]),
        (
            0,
            "warning: exporters::debug is configured but not used in any pipeline; it will not run\n"
                .to_owned()
        )
    );
}

/// The tail-sampling snippet of §7 on the shipped Tempo config: it must validate without
/// warnings.
#[test]
fn the_istio_guides_tail_sampling_snippet_validates_on_the_shipped_config() {
    let snippet = istio_guide_snippet("### 7. Keep every error and slow request", 1);
    assert!(snippet.contains("tail_sampling"));
    let got = validate_on_shipped("components/tempo/config.yaml", &snippet, &[]);
    assert_eq!(got, (0, String::new()));
}
