//! OTTL conditions and statements for trace data: the parser and evaluator behind the
//! collector's `filter` processor (`traces.span` and `traces.spanevent`) and, in [`transform`],
//! its `transform` processor's statements, following the OpenTelemetry
//! Transformation Language of opentelemetry-collector-contrib (`pkg/ottl`) so that conditions
//! users already run paste in unchanged.
//!
//! # Compile once, evaluate per span
//!
//! ```
//! use meshtrace_ottl::{ConditionSet, ErrorMode, Span, SpanCondition};
//! use meshtrace_ottl::memory::{AttrValue, SpanData, attrs};
//!
//! // At config validation: errors carry line:column and what was expected.
//! let cond = SpanCondition::parse(r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#)?;
//! let err = SpanCondition::parse(r#"attributes[test] == "pass""#).unwrap_err();
//! assert_eq!(err.to_string().split(':').take(2).collect::<Vec<_>>(), ["1", "12"]);
//!
//! // Per span: anything implementing `SpanContext` (the collector's protobuf views).
//! let span = SpanData {
//!     name: "ingress".into(),
//!     attributes: attrs([("upstream_cluster", "grafana/grafana-0")]),
//!     ..Default::default()
//! };
//! assert!(cond.eval(&span)?);
//!
//! // The filter processor's list: dropped when any condition is true.
//! let filter = ConditionSet::<Span>::parse(
//!     &[r#"attributes["http.route"] == "/livez""#, r#"name == "OperationHandler.handle""#],
//!     ErrorMode::Ignore,
//! )?;
//! let drop = filter.matches(&span, |cond, err| eprintln!("{}: {err}", cond.source()))?;
//! assert!(!drop);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The collector implements [`SpanContext`] (and [`SpanEventContext`] for span events) over
//! its zero-copy views: accessors return `&str`, fixed-size ids and small `Copy` handles for
//! attribute maps ([`AttributeMap`], [`AttributeList`]), so `path == literal`, `IsMatch` with a
//! literal pattern and `and`/`or`/`not` evaluate without allocating (`tests/allocations.rs`
//! counts). [`memory`] is a complete implementation over owned data to copy from.
//! Evaluation errors ([`EvalError`]) are per span; [`ConditionSet`] applies the processor's
//! `error_mode` ([`ErrorMode`]).
//! [`ConditionSet::required_literals`] tells a caller when a request need not be evaluated at
//! all: literals one of which its bytes hold whenever a condition can be true ([`prefilter`]).
//!
//! # Language
//!
//! The boolean-expression grammar of `pkg/ottl/grammar.go`: `or`, `and`, one `not` per term,
//! parentheses; comparisons `== != < <= > >=` between values; values are `nil`, booleans,
//! integers (Go rules: a leading `0` is octal), floats, strings with Go escapes, `0x…` bytes,
//! enums, paths with `["key"]`/`[0]`/`[expression]` indexes, converter calls with positional and
//! named arguments and indexes (`Split(name, "/")[1]`), list and map literals, and math
//! (`+ - * /`, unary minus) over ints, floats, times and durations. Comparison follows
//! `compare.go` (int against float compares as float, mismatched types are only `!=`,
//! booleans order `false < true`, maps and lists compare deeply for `==`/`!=`).
//!
//! **Paths** (`span` context; `span.` may prefix them): `name`, `kind`, `kind.string`,
//! `kind.deprecated_string`, `trace_id`, `trace_id.string`, `span_id`, `span_id.string`,
//! `parent_span_id`, `parent_span_id.string`, `trace_state`, `trace_state["k"]`, `status.code`,
//! `status.message`, `start_time_unix_nano`, `end_time_unix_nano`, `start_time`, `end_time`,
//! `attributes`, `attributes["k"]…`, `dropped_attributes_count`, `dropped_events_count`,
//! `dropped_links_count`, `cache`; `resource.attributes…`, `resource.dropped_attributes_count`,
//! `resource.schema_url`; `instrumentation_scope.` (or `scope.`) `name`, `version`,
//! `attributes…`, `dropped_attributes_count`, `schema_url`. The `spanevent` context adds
//! `name`, `time_unix_nano`, `time`, `attributes…`, `dropped_attributes_count`, `cache`
//! (`spanevent.` may prefix them) and reaches the span through `span.…`.
//! **Enums**: `SPAN_KIND_UNSPECIFIED` … `SPAN_KIND_CONSUMER`, `STATUS_CODE_UNSET`,
//! `STATUS_CODE_OK`, `STATUS_CODE_ERROR`.
//!
//! **Converters** ([`supported_converters`]): `IsBool IsDouble IsInt IsString IsMap IsList
//! IsEmpty IsMatch IsRootSpan IsInCIDR IsValidLuhn Concat ConvertCase HasPrefix HasSuffix
//! ToLowerCase ToUpperCase ToSnakeCase ToCamelCase Substring Split Trim TrimPrefix TrimSuffix
//! Format ExtractPatterns Len Index ContainsValue Coalesce Keys Values Int Double Bool String
//! Hex ParseInt ParseJSON Base64Encode Decode SHA1 SHA256 SHA512 MD5 FNV TraceID SpanID Log Now
//! Unix UnixNano UnixMicro UnixMilli UnixSeconds Duration Nanoseconds Microseconds Milliseconds
//! Seconds Minutes Hours Year Month Day Hour Minute Second Nanosecond Weekday TruncateTime`.
//! Regexes use Go's RE2 syntax, with Go's ASCII-only `\d`, `\w`, `\s`, `\b` and `\Q…\E` quoting,
//! and are compiled once when the pattern is a literal.
//!
//! # Differences from the Go implementation
//!
//! - Stricter at compile time: calls whose arguments are all constants are evaluated then,
//!   so `TraceID("xyz")` or `1 / 0` is a configuration error instead of an error on every
//!   span; a converter used as a condition must return a boolean when its type is known;
//!   paths to whole structs (`status`, `resource`, `events`, `links`) are rejected.
//! - Not implemented: lambda converters
//!   (`All`, `Any`, `Filter`, …, behind a Go feature gate), XML, grok, CSV, key-value, URL,
//!   user-agent, `Time`/`FormatTime` (strptime), Murmur3/XXH hashes, `Sort`, `SliceToMap`,
//!   `UUID`; `Decode` supports base64 variants, UTF-8 and US-ASCII only. Using one is a
//!   compile error naming it.
//! - Calendar converters read `Now()` in UTC (Go uses the local zone); trace and span ids
//!   convert to strings as hex (Go's JSON would give a number array).
//! - Numbers carry no sign in the lexer (the newest OTTL's unary minus), so `1 -1` means
//!   `1 - 1`; older Go versions rejected it. Everything older Go versions accept still parses.

#![forbid(unsafe_code)]

pub mod ast;
mod check;
mod compare;
mod condition;
mod context;
mod error;
mod eval;
mod functions;
mod lexer;
mod math;
pub mod memory;
mod parser;
mod paths;
pub mod prefilter;
mod program;
mod regex_go;
mod tracestate;
pub mod transform;
mod value;

pub use condition::{
    Condition, ConditionError, ConditionSet, Context, ErrorMode, EvalFailure, Resource,
    ResourceCondition, Span, SpanCondition, SpanEvent, SpanEventCondition,
};
pub use context::{
    AnyValue, AttributeList, AttributeMap, ContextKind, SpanContext, SpanEventContext,
};
pub use error::{ErrorKind, EvalError, ParseError};
pub use eval::kind_deprecated_string as span_kind_name;
pub use functions::{go_float_to_int, parse_go_float, supported_converters};
pub use parser::{MAX_CONDITION_LEN, MAX_DEPTH, parse as parse_ast, parse_statement};
pub use regex_go::compile as compile_go_regex;
