//! Path resolution for the `span` and `spanevent` contexts (and the `resource` and
//! `instrumentation_scope`/`scope` contexts above them), following the ottlspan, ottlspanevent,
//! ottlresource and ottlscope READMEs.
//!
//! A path may name its context first (`span.name`, `resource.attributes["k"]`,
//! `spanevent.name`); without one it belongs to the condition's own context. Paths that only
//! return whole structs (`status`, `resource`, `events`, `links`) cannot be compared usefully
//! and are rejected with a hint to use one of their fields.

use crate::ast::{Field, Key, Path};
use crate::context::ContextKind;
use crate::error::{ErrorKind, ParseError};
use crate::value::Ty;

/// A resolved telemetry read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accessor {
    Name,
    Kind,
    KindString,
    KindDeprecatedString,
    TraceId,
    TraceIdString,
    SpanId,
    SpanIdString,
    ParentSpanId,
    ParentSpanIdString,
    TraceState,
    /// `trace_state["key"]`: exactly one key.
    TraceStateKey,
    StartTimeUnixNano,
    EndTimeUnixNano,
    StartTime,
    EndTime,
    Attributes,
    DroppedAttributesCount,
    DroppedEventsCount,
    DroppedLinksCount,
    StatusCode,
    StatusMessage,
    ResourceAttributes,
    ResourceDroppedAttributesCount,
    ResourceSchemaUrl,
    ScopeName,
    ScopeVersion,
    ScopeAttributes,
    ScopeDroppedAttributesCount,
    ScopeSchemaUrl,
    EventName,
    EventTimeUnixNano,
    EventTime,
    EventAttributes,
    EventDroppedAttributesCount,
    /// The per-evaluation scratch map; always empty in conditions.
    Cache,
}

impl Accessor {
    /// The static type of the read, before keys.
    pub(crate) fn ty(self) -> Ty {
        use Accessor::*;
        match self {
            Name | KindString | KindDeprecatedString | TraceIdString | SpanIdString
            | ParentSpanIdString | TraceState | StatusMessage | ResourceSchemaUrl | ScopeName
            | ScopeVersion | ScopeSchemaUrl | EventName => Ty::Str,
            Kind
            | StartTimeUnixNano
            | EndTimeUnixNano
            | DroppedAttributesCount
            | DroppedEventsCount
            | DroppedLinksCount
            | StatusCode
            | ResourceDroppedAttributesCount
            | ScopeDroppedAttributesCount
            | EventTimeUnixNano
            | EventDroppedAttributesCount => Ty::Int,
            TraceId => Ty::TraceId,
            SpanId | ParentSpanId => Ty::SpanId,
            StartTime | EndTime | EventTime => Ty::Time,
            Attributes | ResourceAttributes | ScopeAttributes | EventAttributes | Cache => Ty::Map,
            TraceStateKey => Ty::Any,
        }
    }

    fn takes_keys(self) -> bool {
        use Accessor::*;
        matches!(
            self,
            Attributes
                | ResourceAttributes
                | ScopeAttributes
                | EventAttributes
                | Cache
                | TraceState
        )
    }
}

/// A path resolved to an accessor, with the keys still to compile.
pub(crate) struct Resolved<'p> {
    pub acc: Accessor,
    pub keys: &'p [Key],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Span,
    SpanEvent,
    Resource,
    Scope,
}

const SPAN_FIELDS: &str = "name, kind, kind.string, kind.deprecated_string, trace_id, trace_id.string, span_id, \
     span_id.string, parent_span_id, parent_span_id.string, trace_state, trace_state[\"\"], status.code, \
     status.message, start_time_unix_nano, end_time_unix_nano, start_time, end_time, attributes, \
     attributes[\"\"], dropped_attributes_count, dropped_events_count, dropped_links_count, cache";
const EVENT_FIELDS: &str =
    "name, time_unix_nano, time, attributes, attributes[\"\"], dropped_attributes_count, cache";
const RESOURCE_FIELDS: &str = "attributes, attributes[\"\"], dropped_attributes_count, schema_url";
const SCOPE_FIELDS: &str =
    "name, version, attributes, attributes[\"\"], dropped_attributes_count, schema_url";

/// Context names of other signals, recognised only to give a precise error.
const FOREIGN_CONTEXTS: &[&str] = &[
    "metric",
    "datapoint",
    "log",
    "profile",
    "profilesample",
    "spanlink",
];

/// Resolves `path` for a condition in context `kind`.
pub(crate) fn resolve<'p>(
    path: &'p Path,
    kind: ContextKind,
    src: &str,
) -> Result<Resolved<'p>, ParseError> {
    let err = |k: ErrorKind, msg: String, span| ParseError::new(k, msg, span, src);
    let Some(first) = path.fields.first() else {
        return Err(err(ErrorKind::Syntax, "empty path".into(), path.span));
    };
    let own = match kind {
        ContextKind::Span => Ctx::Span,
        ContextKind::SpanEvent => Ctx::SpanEvent,
        ContextKind::Resource => Ctx::Resource,
        ContextKind::Scope => Ctx::Scope,
    };
    let valid_contexts = match kind {
        ContextKind::Span => "\"resource\", \"scope\", \"instrumentation_scope\", \"span\"",
        ContextKind::SpanEvent => {
            "\"resource\", \"scope\", \"instrumentation_scope\", \"span\", \"spanevent\""
        }
        ContextKind::Resource => "\"resource\"",
        ContextKind::Scope => "\"resource\", \"scope\", \"instrumentation_scope\"",
    };
    let named = match first.name.as_str() {
        "span" => Some(Ctx::Span),
        "spanevent" => Some(Ctx::SpanEvent),
        "resource" => Some(Ctx::Resource),
        "scope" | "instrumentation_scope" => Some(Ctx::Scope),
        _ => None,
    };
    let qualified = path.fields.len() >= 2 && first.keys.is_empty();
    // A context below the statement's own has no single value to read (which span of a scope?).
    let below = |c: Ctx| match own {
        Ctx::SpanEvent => false,
        Ctx::Span => c == Ctx::SpanEvent,
        Ctx::Scope => matches!(c, Ctx::Span | Ctx::SpanEvent),
        Ctx::Resource => c != Ctx::Resource,
    };
    let (ctx, rest) = match named {
        Some(c) if qualified && below(c) => {
            return Err(err(
                ErrorKind::UnknownPath,
                format!(
                    "context \"{}\" from path \"{path}\" is not valid in the {kind} context; use one of: {valid_contexts}",
                    ctx_name(c).trim_start_matches("instrumentation_")
                ),
                first.span,
            ));
        }
        Some(ctx) if qualified => (ctx, path.fields.get(1..).unwrap_or_default()),
        Some(ctx) => {
            return Err(err(
                ErrorKind::InvalidPath,
                format!(
                    "path \"{path}\" is a whole {} and cannot be used as a value in a condition; use one of its fields: {}",
                    first.name,
                    fields_of(ctx)
                ),
                path.span,
            ));
        }
        _ if qualified && FOREIGN_CONTEXTS.contains(&first.name.as_str()) => {
            return Err(err(
                ErrorKind::UnknownPath,
                format!(
                    "context \"{}\" from path \"{path}\" is not valid for {kind} conditions; use one of: {valid_contexts}",
                    first.name
                ),
                first.span,
            ));
        }
        _ => (own, path.fields.as_slice()),
    };
    let acc = resolve_in(ctx, own, rest, path, src)?;
    let last = rest.last().unwrap_or(first);
    // Keys are only meaningful on the last segment; resolve_in checks the others.
    if !last.keys.is_empty() && !acc.takes_keys() {
        let span = last.keys.first().map_or(last.span, |k| k.span());
        return Err(err(
            ErrorKind::InvalidPath,
            format!("path \"{path}\": {} cannot be indexed", last.name),
            span,
        ));
    }
    if acc == Accessor::TraceState && !last.keys.is_empty() {
        if last.keys.len() != 1 {
            return Err(err(
                ErrorKind::InvalidPath,
                "must provide exactly 1 key when accessing trace_state".into(),
                last.span,
            ));
        }
        return Ok(Resolved {
            acc: Accessor::TraceStateKey,
            keys: &last.keys,
        });
    }
    Ok(Resolved {
        acc,
        keys: &last.keys,
    })
}

fn fields_of(ctx: Ctx) -> &'static str {
    match ctx {
        Ctx::Span => SPAN_FIELDS,
        Ctx::SpanEvent => EVENT_FIELDS,
        Ctx::Resource => RESOURCE_FIELDS,
        Ctx::Scope => SCOPE_FIELDS,
    }
}

fn ctx_name(ctx: Ctx) -> &'static str {
    match ctx {
        Ctx::Span => "span",
        Ctx::SpanEvent => "spanevent",
        Ctx::Resource => "resource",
        Ctx::Scope => "instrumentation_scope",
    }
}

fn resolve_in(
    ctx: Ctx,
    own: Ctx,
    fields: &[Field],
    path: &Path,
    src: &str,
) -> Result<Accessor, ParseError> {
    let unknown = |f: &Field| {
        ParseError::new(
            ErrorKind::UnknownPath,
            format!(
                "unknown path \"{path}\": \"{}\" is not a field of the {} context (valid: {})",
                f.name,
                ctx_name(ctx),
                fields_of(ctx)
            ),
            f.span,
            src,
        )
    };
    let Some(head) = fields.first() else {
        return Err(ParseError::new(
            ErrorKind::UnknownPath,
            format!("incomplete path \"{path}\""),
            path.span,
            src,
        ));
    };
    let sub = fields.get(1);
    if sub.is_some() && !head.keys.is_empty() {
        let span = head.keys.first().map_or(head.span, |k| k.span());
        return Err(ParseError::new(
            ErrorKind::InvalidPath,
            format!("path \"{path}\": keys may only follow the last segment"),
            span,
            src,
        ));
    }
    let sub_name = sub.map(|f| f.name.as_str());
    use Accessor::*;
    let acc = match (ctx, head.name.as_str(), sub_name) {
        (Ctx::Span, "name", None) => Name,
        (Ctx::Span, "kind", None) => Kind,
        (Ctx::Span, "kind", Some("string")) => KindString,
        (Ctx::Span, "kind", Some("deprecated_string")) => KindDeprecatedString,
        (Ctx::Span, "trace_id", None) => TraceId,
        (Ctx::Span, "trace_id", Some("string")) => TraceIdString,
        (Ctx::Span, "span_id", None) => SpanId,
        (Ctx::Span, "span_id", Some("string")) => SpanIdString,
        (Ctx::Span, "parent_span_id", None) => ParentSpanId,
        (Ctx::Span, "parent_span_id", Some("string")) => ParentSpanIdString,
        (Ctx::Span, "trace_state", None) => TraceState,
        (Ctx::Span, "start_time_unix_nano", None) => StartTimeUnixNano,
        (Ctx::Span, "end_time_unix_nano", None) => EndTimeUnixNano,
        (Ctx::Span, "start_time", None) => StartTime,
        (Ctx::Span, "end_time", None) => EndTime,
        (Ctx::Span, "attributes", None) => Attributes,
        (Ctx::Span, "dropped_attributes_count", None) => DroppedAttributesCount,
        (Ctx::Span, "dropped_events_count", None) => DroppedEventsCount,
        (Ctx::Span, "dropped_links_count", None) => DroppedLinksCount,
        (Ctx::Span, "status", Some("code")) => StatusCode,
        (Ctx::Span, "status", Some("message")) => StatusMessage,
        (Ctx::SpanEvent, "name", None) => EventName,
        (Ctx::SpanEvent, "time_unix_nano", None) => EventTimeUnixNano,
        (Ctx::SpanEvent, "time", None) => EventTime,
        (Ctx::SpanEvent, "attributes", None) => EventAttributes,
        (Ctx::SpanEvent, "dropped_attributes_count", None) => EventDroppedAttributesCount,
        (c, "cache", None) if c == own => Cache,
        (Ctx::Resource, "attributes", None) => ResourceAttributes,
        (Ctx::Resource, "dropped_attributes_count", None) => ResourceDroppedAttributesCount,
        (Ctx::Resource, "schema_url", None) => ResourceSchemaUrl,
        (Ctx::Scope, "name", None) => ScopeName,
        (Ctx::Scope, "version", None) => ScopeVersion,
        (Ctx::Scope, "attributes", None) => ScopeAttributes,
        (Ctx::Scope, "dropped_attributes_count", None) => ScopeDroppedAttributesCount,
        (Ctx::Scope, "schema_url", None) => ScopeSchemaUrl,
        (Ctx::Span, "status" | "events" | "links", None) => {
            let hint = match head.name.as_str() {
                "status" => "use status.code or status.message",
                _ => {
                    "span events and links are not values; use dropped_events_count / dropped_links_count, or a spanevent condition"
                }
            };
            return Err(ParseError::new(
                ErrorKind::InvalidPath,
                format!("path \"{path}\" cannot be used as a value in a condition; {hint}"),
                head.span,
                src,
            ));
        }
        (_, _, Some(_)) if is_known(ctx, own, &head.name) => {
            return Err(sub.map_or_else(
                || unknown(head),
                |s| {
                    ParseError::new(
                        ErrorKind::UnknownPath,
                        format!(
                            "unknown path \"{path}\": {} has no field \"{}\"",
                            head.name, s.name
                        ),
                        s.span,
                        src,
                    )
                },
            ));
        }
        _ => return Err(unknown(head)),
    };
    if let Some(extra) = fields.get(2) {
        return Err(ParseError::new(
            ErrorKind::UnknownPath,
            format!(
                "unknown path \"{path}\": unexpected segment \"{}\"",
                extra.name
            ),
            extra.span,
            src,
        ));
    }
    if let Some(s) = sub
        && !head.keys.is_empty()
    {
        return Err(unknown(s));
    }
    Ok(acc)
}

fn is_known(ctx: Ctx, own: Ctx, name: &str) -> bool {
    let fields = fields_of(ctx);
    fields
        .split(", ")
        .any(|f| f.split(['.', '[']).next() == Some(name))
        || (name == "cache" && ctx == own)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{BoolExpr, Value};
    use crate::parser::parse;

    fn resolve_src(src: &str, kind: ContextKind) -> Result<Accessor, ParseError> {
        let cond = format!("{src} == nil");
        let BoolExpr::Compare {
            left: Value::Path(p),
            ..
        } = parse(&cond).unwrap()
        else {
            panic!("{src}")
        };
        resolve(&p, kind, &cond).map(|r| r.acc)
    }

    #[test]
    fn resolves_qualified_and_unqualified_paths() {
        use Accessor::*;
        let span = ContextKind::Span;
        let event = ContextKind::SpanEvent;
        for (src, kind, want) in [
            ("name", span, Name),
            ("span.name", span, Name),
            ("status.code", span, StatusCode),
            ("span.status.message", span, StatusMessage),
            ("kind.string", span, KindString),
            ("trace_id.string", span, TraceIdString),
            ("trace_state[\"k\"]", span, TraceStateKey),
            ("resource.attributes[\"k\"]", span, ResourceAttributes),
            ("instrumentation_scope.name", span, ScopeName),
            ("scope.version", span, ScopeVersion),
            ("name", event, EventName),
            ("spanevent.attributes[\"a\"][\"b\"]", event, EventAttributes),
            ("span.name", event, Name),
            ("span.attributes[\"k\"]", event, Attributes),
            ("cache[\"x\"]", event, Cache),
            ("resource.schema_url", event, ResourceSchemaUrl),
        ] {
            assert_eq!(
                resolve_src(src, kind).unwrap_or_else(|e| panic!("{src}: {e}")),
                want,
                "{src}"
            );
        }
    }

    #[test]
    fn rejects_bad_paths_with_a_reason() {
        let span = ContextKind::Span;
        for (src, kind, needle) in [
            ("test", span, "\"test\" is not a field of the span context"),
            ("span.foo", span, "\"foo\" is not a field"),
            ("name[\"x\"]", span, "cannot be indexed"),
            ("status", span, "status.code"),
            ("status.foo", span, "has no field \"foo\""),
            ("spanevent.name", span, "not valid in the span context"),
            ("metric.name", span, "context \"metric\""),
            ("resource", span, "whole resource"),
            ("trace_state[\"a\"][\"b\"]", span, "exactly 1 key"),
            ("kind.string.x", span, "unexpected segment"),
            ("time_unix_nano", span, "not a field"),
            ("span.cache", ContextKind::SpanEvent, "not a field"),
            ("attributes[\"a\"].b", span, "keys may only follow"),
        ] {
            let e = resolve_src(src, kind).expect_err(src);
            assert!(e.message().contains(needle), "{src}: {e}");
        }
    }
}
