//! Conditions that must be rejected at compile (`validate`) time, with the kind of error, the
//! 1-based column it points at, and a piece of the message a user needs to fix it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use meshtrace_ottl::{ErrorKind, SpanCondition, SpanEventCondition};

use ErrorKind::*;

const INVALID: &[(&str, ErrorKind, usize, &str)] = &[
    // The collector's own test config: `bad_syntax_span` / `bad_syntax_spanevent`.
    (
        r#"attributes[test] == "pass""#,
        UnknownPath,
        12,
        "\"test\" is not a field of the span context",
    ),
    // Syntax.
    ("", Syntax, 1, "expected a condition"),
    (
        "name ==",
        Syntax,
        8,
        "expected a value, found end of condition",
    ),
    (r#"name = "x""#, Syntax, 6, "use '=='"),
    ("name == 'x'", Syntax, 9, "double quotes"),
    (r#"name == "x"#, Syntax, 9, "unterminated string"),
    (
        r#"name == "a" && kind == 1"#,
        Syntax,
        13,
        "use 'and' / 'or'",
    ),
    (
        r#"IsMatch(name, "a""#,
        Syntax,
        18,
        "',' or ')' in the arguments of IsMatch",
    ),
    ("not not true", Syntax, 5, "'not' cannot follow 'not'"),
    (r#"(name == "x""#, Syntax, 13, "expected ')'"),
    (
        r#"name == "x")"#,
        Syntax,
        12,
        "expected 'and', 'or' or end of condition, found ')'",
    ),
    (r#"name == "x" and"#, Syntax, 16, "expected a value"),
    ("attributes", Syntax, 11, "expected a comparison operator"),
    (
        r#""a" + "b" == "ab""#,
        Syntax,
        5,
        "expected a comparison operator",
    ),
    (
        "Foo == 1",
        Syntax,
        5,
        "expected '(' after converter name 'Foo'",
    ),
    (
        "attributes[true] == 1",
        Syntax,
        12,
        "inside '[ ]', found 'true'",
    ),
    (
        r#"{"a": 1, 2: 3} == nil"#,
        Syntax,
        10,
        "a string key or '}' in map",
    ),
    ("[1, 2,] == nil", Syntax, 7, "expected a value, found ']'"),
    (
        "name.Foo == 1",
        Syntax,
        6,
        "must start with a lowercase letter",
    ),
    // Literals.
    ("name == 0x123", Literal, 9, "even number of hex digits"),
    (
        "kind == 99999999999999999999",
        Literal,
        9,
        "invalid integer",
    ),
    ("kind == 08", Literal, 9, "bad octal digits"),
    // Found by the fuzzer: a float beyond float64's range must not become infinity.
    (
        "-1.5e3030 < 1000",
        Literal,
        1,
        "invalid float 1.5e3030: value out of range",
    ),
    (r#"name == "\q""#, Literal, 9, "unknown escape"),
    // Paths.
    (r#"name["x"] == "y""#, InvalidPath, 6, "cannot be indexed"),
    (
        "status == nil",
        InvalidPath,
        1,
        "use status.code or status.message",
    ),
    ("resource == nil", InvalidPath, 1, "whole resource"),
    ("events == nil", InvalidPath, 1, "dropped_events_count"),
    (
        r#"metric.name == "x""#,
        UnknownPath,
        1,
        "context \"metric\"",
    ),
    (
        r#"spanevent.name == "x""#,
        UnknownPath,
        1,
        "not valid in the span context",
    ),
    (
        r#"attributes[0] == "x""#,
        InvalidPath,
        12,
        "must be indexed by a string key",
    ),
    (
        r#"attributes["a"].b == 1"#,
        InvalidPath,
        12,
        "keys may only follow the last segment",
    ),
    (
        "time_unix_nano > 0",
        UnknownPath,
        1,
        "\"time_unix_nano\" is not a field of the span context",
    ),
    ("span.foo == 1", UnknownPath, 6, "\"foo\" is not a field"),
    (
        "status.foo == 1",
        UnknownPath,
        8,
        "status has no field \"foo\"",
    ),
    (
        r#"trace_state["a"]["b"] == "x""#,
        InvalidPath,
        1,
        "exactly 1 key",
    ),
    // Enums.
    (
        "kind == SPAN_KIND_SERVERS",
        UnknownEnum,
        9,
        "enum symbol, SPAN_KIND_SERVERS, not found",
    ),
    (
        "IsMatch(name, SHA256)",
        UnknownEnum,
        15,
        "enum symbol, SHA256, not found",
    ),
    // Functions and arguments.
    (
        r#"isMatch(name, "a")"#,
        UnknownFunction,
        1,
        "converter names must start with an uppercase letter but got 'isMatch'",
    ),
    (
        r#"IsMatches(name, "a")"#,
        UnknownFunction,
        1,
        "undefined function \"IsMatches\" (did you mean IsMatch?)",
    ),
    (
        "UserAgent(name) == nil",
        UnknownFunction,
        1,
        "not supported by meshtrace",
    ),
    (
        "IsMatch(name)",
        Arguments,
        1,
        "IsMatch is missing its 'pattern' argument",
    ),
    (
        r#"IsMatch(name, "a", "b")"#,
        Arguments,
        20,
        "IsMatch takes 2 arguments (target, pattern), got 3",
    ),
    (
        r#"IsMatch(target = name, "a")"#,
        Arguments,
        24,
        "positional arguments must come before named arguments",
    ),
    (
        r#"IsMatch(name, regex = "a")"#,
        Arguments,
        15,
        "no parameter named 'regex'",
    ),
    (
        r#"IsMatch(name, pattern = "a", pattern = "b")"#,
        Arguments,
        40,
        "given more than once",
    ),
    (
        "IsRootSpan(name)",
        Arguments,
        12,
        "IsRootSpan takes 0 arguments",
    ),
    // Types known before any span is seen.
    (
        "IsMatch(name, 1)",
        Type,
        15,
        "expected string but got int64",
    ),
    (
        r#"HasPrefix(kind, "a")"#,
        Type,
        11,
        "expected string but got int64",
    ),
    (
        r#"Substring(name, "0", 1) == "a""#,
        Type,
        17,
        "expected int64 but got string",
    ),
    (
        r#"Substring(name, 0, 1, utf8_safe = "yes") == "a""#,
        Type,
        35,
        "must be true or false",
    ),
    (
        r#"ConvertCase(name, attributes["case"]) == "x""#,
        Type,
        19,
        "must be a string literal",
    ),
    (
        r#"Concat(["a"], "-")"#,
        Type,
        1,
        "Concat returns string, but a condition needs a boolean",
    ),
    (
        r#"Len(name)["x"] == 1"#,
        Type,
        11,
        "Len returns int64, which cannot be indexed",
    ),
    (
        r#"-name == "x""#,
        Type,
        1,
        "unary minus needs a number, got string",
    ),
    (
        r#"name + 1 == "x""#,
        Type,
        1,
        "string must be int64, float64, time.Time or time.Duration",
    ),
    (
        "start_time * 2 == nil",
        Type,
        1,
        "only addition and subtraction",
    ),
    (
        "UnixNano(name) == 0",
        Type,
        10,
        "expected time.Time but got string",
    ),
    (
        "ContainsValue(name, 1)",
        Type,
        15,
        "expected a list but got string",
    ),
    // Regexes and literal arguments.
    (
        r#"IsMatch(name, "(")"#,
        Regex,
        15,
        "not a valid regexp pattern",
    ),
    (
        r#"IsMatch(name, "a{2,1}")"#,
        Regex,
        15,
        "not a valid regexp pattern",
    ),
    (
        r#"ExtractPatterns(name, "(a)")["x"] == "a""#,
        Regex,
        23,
        "named capture group",
    ),
    (
        r#"ConvertCase(name, "kebab") == "x""#,
        InvalidArgument,
        19,
        "invalid case: kebab",
    ),
    (
        r#"IsInCIDR(name, ["10.0.0.0/33"])"#,
        InvalidArgument,
        16,
        "invalid CIDR network",
    ),
    (
        r#"Base64Encode(name, "base32") == "x""#,
        InvalidArgument,
        20,
        "unsupported base64 variant",
    ),
    (
        r#"Decode(name, "shift_jis") == "x""#,
        InvalidArgument,
        14,
        "unsupported encoding",
    ),
    // Constant sub-expressions that can only fail.
    ("1 / 0 == 1", InvalidArgument, 1, "attempted to divide by 0"),
    (
        r#"TraceID("xyz") == trace_id"#,
        InvalidArgument,
        1,
        "32 hex characters",
    ),
    (
        "SpanID(0x0102) == span_id",
        InvalidArgument,
        1,
        "ids must be 8 bytes",
    ),
    (
        r#"Duration("5 minutes") == nil"#,
        InvalidArgument,
        1,
        "time: unknown unit \" minutes\"",
    ),
    (
        r#"Substring("abc", 2, 5) == "c""#,
        InvalidArgument,
        1,
        "invalid range for substring function",
    ),
    (
        r#"ParseJSON("1") == nil"#,
        InvalidArgument,
        1,
        "could not convert parsed value",
    ),
];

#[test]
fn invalid_span_conditions() {
    let mut failures = Vec::new();
    for (src, kind, column, needle) in INVALID {
        match SpanCondition::parse(src) {
            Ok(_) => failures.push(format!("{src}: compiled, expected {kind:?}")),
            Err(e) => {
                if e.kind() != *kind
                    || e.column() != *column
                    || e.line() != 1
                    || !e.message().contains(needle)
                {
                    failures.push(format!(
                        "{src}\n    want {kind:?} at 1:{column} containing {needle:?}\n    got  {:?} {}",
                        e.kind(),
                        e.render(src)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        INVALID.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_span_event_conditions() {
    for (src, kind, column, needle) in [
        (
            "IsRootSpan()",
            UnknownFunction,
            1,
            "only available in the span context",
        ),
        (
            r#"attributes[test] == "pass""#,
            UnknownPath,
            12,
            "not a field of the spanevent context",
        ),
        (
            "span.cache == nil",
            UnknownPath,
            6,
            "\"cache\" is not a field of the span context",
        ),
        (
            "kind == 1",
            UnknownPath,
            1,
            "\"kind\" is not a field of the spanevent context",
        ),
    ] {
        let e = SpanEventCondition::parse(src).expect_err(src);
        assert_eq!((e.kind(), e.column()), (kind, column), "{src}: {e}");
        assert!(e.message().contains(needle), "{src}: {e}");
    }
}

#[test]
fn positions_span_lines() {
    let src = "name == \"x\" and\n  kind == \n  or";
    let e = SpanCondition::parse(src).unwrap_err();
    assert_eq!((e.line(), e.column()), (3, 3), "{e}");
    assert_eq!(
        e.render(src),
        "3:3: expected a value, found 'or'\n    or\n    ^^"
    );
}

#[test]
fn limits() {
    let long = format!(
        "name == \"{}\"",
        "x".repeat(meshtrace_ottl::MAX_CONDITION_LEN)
    );
    assert_eq!(SpanCondition::parse(&long).unwrap_err().kind(), Limit);
    let deep = format!("{}true{}", "(".repeat(1000), ")".repeat(1000));
    assert_eq!(SpanCondition::parse(&deep).unwrap_err().kind(), Limit);
}
