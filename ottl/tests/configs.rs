//! Real configurations: the OpenTelemetry Collector's own filter/transform processor test
//! configs and the seed (a user's Contour/TAP filter), read from `../shared`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;

use meshtrace_ottl::{ConditionSet, ErrorKind, ErrorMode, Span, SpanCondition, SpanEventCondition};
use serde_json::Value;

fn shared() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    assert!(
        dir.is_dir(),
        "reference data missing: {} (the checkout's ../shared)",
        dir.display()
    );
    dir
}

fn load_yaml(rel: &str) -> Value {
    let path = shared().join("otelcol-configs").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn filterprocessor_config_ottl() {
    let config = load_yaml("contrib/filterprocessor-config_ottl.yaml");
    let (mut accepted, mut rejected) = (0, 0);
    for (id, component) in config.as_object().expect("a map of filter components") {
        let traces = &component["traces"];
        let bad = id.starts_with("filter/bad_syntax");
        for cond in strings(&traces["span"]) {
            match SpanCondition::parse(&cond) {
                Ok(_) => {
                    assert!(!bad, "{id}: {cond} must be rejected");
                    accepted += 1;
                }
                Err(e) => {
                    assert!(bad, "{id}: {cond}: {e}");
                    assert_eq!(
                        (e.kind(), e.column()),
                        (ErrorKind::UnknownPath, 12),
                        "{id}: {e}"
                    );
                    rejected += 1;
                }
            }
        }
        for cond in strings(&traces["spanevent"]) {
            match SpanEventCondition::parse(&cond) {
                Ok(_) => {
                    assert!(!bad, "{id}: {cond} must be rejected");
                    accepted += 1;
                }
                Err(e) => {
                    assert!(bad, "{id}: {cond}: {e}");
                    rejected += 1;
                }
            }
        }
        // The whole list compiles (or not) as the processor would see it.
        let list = strings(&traces["span"]);
        if !list.is_empty() {
            assert_eq!(
                ConditionSet::<Span>::parse(&list, ErrorMode::Ignore).is_ok(),
                !bad,
                "{id}"
            );
        }
    }
    // filter/ottl (span + spanevent), filter/multiline (2), filter/spans_mix_config; two bad ones.
    assert_eq!((accepted, rejected), (5, 2));
}

#[test]
fn transformprocessor_where_clauses() {
    let config = load_yaml("contrib/transformprocessor-config.yaml");
    let mut checked = 0;
    for (id, component) in config.as_object().expect("a map of transform components") {
        if id.contains("bad_syntax") || id.contains("unknown") {
            continue;
        }
        for signal in ["trace_statements", "metric_statements", "log_statements"] {
            let Some(groups) = component[signal].as_array() else {
                continue;
            };
            for group in groups {
                let mut conditions = strings(&group["conditions"]);
                let statements = if group.is_string() {
                    vec![group.as_str().unwrap_or_default().to_owned()]
                } else {
                    strings(&group["statements"])
                };
                conditions.extend(
                    statements
                        .iter()
                        .filter_map(|s| s.rsplit_once(" where ").map(|(_, c)| c.to_owned())),
                );
                for cond in conditions {
                    // Paths of the log and metric contexts cannot appear in span conditions.
                    let result = SpanCondition::parse(&cond);
                    let foreign = cond.contains("log.") || cond.contains("metric.");
                    if !foreign {
                        assert!(result.is_ok(), "{id} {signal}: {cond}: {:?}", result.err());
                    } else {
                        let e = result.expect_err(&cond);
                        assert_eq!(e.kind(), ErrorKind::UnknownPath, "{id}: {cond}: {e}");
                        assert!(
                            e.message().contains("is not valid for span conditions"),
                            "{e}"
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 15, "checked {checked} where clauses");
}

/// The seed: a user's filter list for Contour/TAP traces, evaluated on the fixed spans.
#[test]
fn seed_filter_conditions() {
    let seeds = shared().join("seeds");
    let seed = std::fs::read_dir(&seeds)
        .expect("seeds dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("002_"))
        })
        .expect("seed 002");
    let text = std::fs::read_to_string(seed).expect("seed text");
    let conditions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- "))
        .filter(|l| {
            l.starts_with("IsMatch(") || l.starts_with("attributes[") || l.starts_with("name ==")
        })
        .collect();
    assert_eq!(conditions.len(), 9, "{conditions:#?}");
    let filter = ConditionSet::<Span>::parse(&conditions, ErrorMode::Propagate)
        .expect("seed conditions compile");
    let ignore = |_: &meshtrace_ottl::SpanCondition, e: &meshtrace_ottl::EvalError| panic!("{e}");
    assert_eq!(
        filter.matches(&common::grafana_ingress(), ignore),
        Ok(true),
        "Grafana's own traffic is dropped"
    );
    assert_eq!(
        filter.matches(&common::kube_probe(), ignore),
        Ok(true),
        "kube-probe is dropped"
    );
    assert_eq!(
        filter.matches(&common::failed_client(), ignore),
        Ok(false),
        "application traffic is kept"
    );
}
