//! The public API as the collector's filter processor uses it: condition lists with
//! `error_mode`, error reporting, thread-safety.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use meshtrace_ottl::{
    ConditionSet, ErrorKind, ErrorMode, EvalError, Span, SpanCondition, SpanEvent,
    SpanEventCondition,
};

const LIST: &[&str] = &[
    r#"attributes["http.route"] == "/nope""#,
    r#"Substring(attributes["http.method"], 0, 10) == "x""#,
    r#"name == "OperationHandler.handle""#,
];

#[test]
fn error_modes() {
    let probe = common::kube_probe();
    let mut seen = Vec::new();

    let ignore = ConditionSet::<Span>::parse(LIST, ErrorMode::Ignore).unwrap();
    let matched = ignore
        .matches(&probe, |c, e| seen.push((c.source().to_owned(), e.clone())))
        .unwrap();
    assert!(
        matched,
        "the third condition still runs after the second fails"
    );
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, LIST[1]);
    assert!(
        matches!(
            &seen[0].1,
            EvalError::Invalid {
                function: "Substring",
                ..
            }
        ),
        "{:?}",
        seen[0].1
    );

    let silent = ConditionSet::<Span>::parse(LIST, ErrorMode::Silent).unwrap();
    assert!(
        silent
            .matches(&probe, |_, _| panic!("silent reports nothing"))
            .unwrap()
    );

    let propagate = ConditionSet::<Span>::parse(LIST, ErrorMode::Propagate).unwrap();
    let failure = propagate
        .matches(&probe, |_, _| panic!("propagate does not ignore"))
        .unwrap_err();
    assert_eq!(failure.index, 1);
    assert_eq!(failure.condition, LIST[1]);
    assert!(
        failure
            .to_string()
            .starts_with("failed to eval condition: Substring("),
        "{failure}"
    );

    // Nothing true, nothing failing: kept.
    let none = ConditionSet::<Span>::parse(&[r#"name == "x""#], ErrorMode::Propagate).unwrap();
    assert_eq!(none.matches(&probe, |_, _| {}), Ok(false));
    let empty = ConditionSet::<Span>::parse::<&str>(&[], ErrorMode::Propagate).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.matches(&probe, |_, _| {}), Ok(false));
}

#[test]
fn list_errors_name_the_condition() {
    let err = ConditionSet::<Span>::parse(
        &[r#"name == "a""#, r#"attributes[test] == "pass""#],
        ErrorMode::Ignore,
    )
    .unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(err.error.kind(), ErrorKind::UnknownPath);
    assert_eq!(
        err.to_string(),
        "condition 1 (\"attributes[test] == \\\"pass\\\"\"): 1:12: unknown path \"test\": \"test\" is not a field of \
         the span context (valid: name, kind, kind.string, kind.deprecated_string, trace_id, trace_id.string, span_id, \
         span_id.string, parent_span_id, parent_span_id.string, trace_state, trace_state[\"\"], status.code, \
         status.message, start_time_unix_nano, end_time_unix_nano, start_time, end_time, attributes, attributes[\"\"], \
         dropped_attributes_count, dropped_events_count, dropped_links_count, cache)"
    );
    assert!(ConditionSet::<SpanEvent>::parse(&["IsRootSpan()"], ErrorMode::Ignore).is_err());
}

#[test]
fn error_mode_parses_like_the_collector() {
    assert_eq!("ignore".parse::<ErrorMode>(), Ok(ErrorMode::Ignore));
    assert_eq!("Silent".parse::<ErrorMode>(), Ok(ErrorMode::Silent));
    assert_eq!("PROPAGATE".parse::<ErrorMode>(), Ok(ErrorMode::Propagate));
    assert_eq!(ErrorMode::default(), ErrorMode::Propagate);
    assert!(
        "test"
            .parse::<ErrorMode>()
            .unwrap_err()
            .contains("unknown error mode")
    );
    assert_eq!(ErrorMode::Silent.to_string(), "silent");
}

#[test]
fn constants_are_folded() {
    assert_eq!(
        SpanCondition::parse("1 + 1 == 2").unwrap().constant(),
        Some(true)
    );
    assert_eq!(
        SpanCondition::parse(r#"IsMatch("abc", "^a") and not false"#)
            .unwrap()
            .constant(),
        Some(true)
    );
    assert_eq!(
        SpanCondition::parse(r#"false and name == "x""#)
            .unwrap()
            .constant(),
        None
    );
    assert_eq!(
        SpanCondition::parse(r#"IsMatch("abc", "^b")"#)
            .unwrap()
            .constant(),
        Some(false)
    );
    assert_eq!(
        SpanCondition::parse("name == name").unwrap().constant(),
        None
    );
}

#[test]
fn compiled_conditions_are_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SpanCondition>();
    assert_send_sync::<SpanEventCondition>();
    assert_send_sync::<ConditionSet<Span>>();
    let cond = std::sync::Arc::new(SpanCondition::parse(r#"IsMatch(name, "^Op")"#).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let cond = cond.clone();
            std::thread::spawn(move || cond.eval(&common::kube_probe()).unwrap())
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}

/// The same text in the span, resource and scope contexts reads three different maps; a
/// resource or scope condition evaluated per span answers for the span's resource or scope.
#[test]
fn conditions_in_the_resource_and_scope_contexts_read_their_own_attributes() {
    use meshtrace_ottl::memory::{SpanData, attrs};
    use meshtrace_ottl::{ContextKind, ResourceCondition};
    let span = SpanData {
        name: "GET /".into(),
        attributes: attrs([("tier", "span")]),
        resource_attributes: attrs([("tier", "resource")]),
        scope_attributes: attrs([("tier", "scope")]),
        scope_name: "envoy".into(),
        ..Default::default()
    };
    let text = |v: &str| format!(r#"attributes["tier"] == "{v}""#);
    let table = [
        (ContextKind::Span, "span"),
        (ContextKind::Resource, "resource"),
        (ContextKind::Scope, "scope"),
    ];
    for (kind, own) in table {
        for (_, other) in table {
            let c = SpanCondition::parse_in(&text(other), kind).unwrap();
            assert_eq!(
                c.eval(&span).unwrap(),
                own == other,
                "{kind:?} reading {other}"
            );
        }
    }
    // `name` is the scope's in the scope context and no path at all in the resource's.
    let c = SpanCondition::parse_in(r#"name == "envoy""#, ContextKind::Scope).unwrap();
    assert!(c.eval(&span).unwrap());
    assert!(SpanCondition::parse_in(r#"name == "envoy""#, ContextKind::Resource).is_err());
    let r = ResourceCondition::parse(&text("resource")).unwrap();
    assert!(r.eval(&span).unwrap());
    let set = ConditionSet::<Span>::parse_in(
        &[text("nope"), text("scope")],
        ErrorMode::Propagate,
        ContextKind::Scope,
    )
    .unwrap();
    assert!(set.matches(&span, |_, _| {}).unwrap());
}
