//! Evaluation of a compiled condition against one span or span event.
//!
//! Values borrow from the span and from the compiled condition, so comparisons of paths with
//! literals, `IsMatch` with a literal pattern and `and`/`or`/`not` allocate nothing.

use std::borrow::Cow;

use crate::compare::compare;
use crate::context::{AttributeMap, SpanContext, SpanEventContext};
use crate::error::EvalError;
use crate::functions;
use crate::math;
use crate::paths::Accessor;
use crate::program::{Cond, Expr, KeyExpr, PathExpr};
use crate::value::{Const, ListVal, MapVal, Value};

/// The attribute handle type of a context.
pub(crate) type Attrs<'a, C> = <C as SpanContext>::Attributes<'a>;
/// The value type evaluation produces in an environment.
pub(crate) type Val<'a, E> = Value<'a, Attrs<'a, <E as Env<'a>>::Ctx>>;

/// Where paths read from: a span, or a span event with its span.
pub(crate) trait Env<'a>: Copy + 'a {
    type Ctx: SpanContext + ?Sized + 'a;
    fn ctx(self) -> &'a Self::Ctx;
    fn event_name(self) -> &'a str {
        ""
    }
    fn event_time_unix_nano(self) -> u64 {
        0
    }
    fn event_attributes(self) -> Option<Attrs<'a, Self::Ctx>> {
        None
    }
    fn event_dropped_attributes_count(self) -> u32 {
        0
    }
}

/// A span condition's environment.
pub(crate) struct SpanEnv<'a, C: ?Sized>(pub &'a C);

impl<C: ?Sized> Clone for SpanEnv<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: ?Sized> Copy for SpanEnv<'_, C> {}

impl<'a, C: SpanContext + ?Sized + 'a> Env<'a> for SpanEnv<'a, C> {
    type Ctx = C;
    fn ctx(self) -> &'a C {
        self.0
    }
}

/// A span-event condition's environment.
pub(crate) struct EventEnv<'a, C: ?Sized>(pub &'a C);

impl<C: ?Sized> Clone for EventEnv<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: ?Sized> Copy for EventEnv<'_, C> {}

impl<'a, C: SpanEventContext + ?Sized + 'a> Env<'a> for EventEnv<'a, C> {
    type Ctx = C;
    fn ctx(self) -> &'a C {
        self.0
    }
    fn event_name(self) -> &'a str {
        self.0.event_name()
    }
    fn event_time_unix_nano(self) -> u64 {
        self.0.event_time_unix_nano()
    }
    fn event_attributes(self) -> Option<Attrs<'a, C>> {
        Some(self.0.event_attributes())
    }
    fn event_dropped_attributes_count(self) -> u32 {
        self.0.event_dropped_attributes_count()
    }
}

/// Evaluates expressions in one environment.
pub(crate) struct Eval<'a, E: Env<'a>> {
    pub env: E,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl<'a, E: Env<'a>> Eval<'a, E> {
    pub(crate) fn new(env: E) -> Self {
        Self {
            env,
            _marker: std::marker::PhantomData,
        }
    }

    pub(crate) fn cond(&self, c: &'a Cond) -> Result<bool, EvalError> {
        match c {
            Cond::Const(b) => Ok(*b),
            Cond::Or(items) => {
                for item in items {
                    if self.cond(item)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Cond::And(items) => {
                for item in items {
                    if !self.cond(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Cond::Not(inner) => Ok(!self.cond(inner)?),
            Cond::Compare(cmp) => {
                let (left, op, right) = &**cmp;
                let l = self.operand(left)?;
                let r = self.operand(right)?;
                Ok(compare(&l, &r, *op))
            }
            Cond::Bool(e) => match self.expr(e)? {
                Value::Bool(b) => Ok(b),
                v => Err(EvalError::NotBool(v.type_name())),
            },
        }
    }

    /// A comparison operand: constants and plain paths (the common `path == literal`) without
    /// going through the general expression evaluator.
    #[inline(always)]
    fn operand(&self, e: &'a Expr) -> Result<Val<'a, E>, EvalError> {
        match e {
            Expr::Const(c) => Ok(Value::from_const(c)),
            Expr::Path(p) => self.path(p),
            e => self.expr(e),
        }
    }

    pub(crate) fn expr(&self, e: &'a Expr) -> Result<Val<'a, E>, EvalError> {
        match e {
            Expr::Const(c) => Ok(Value::from_const(c)),
            Expr::Path(p) => self.path(p),
            Expr::Call(call) => {
                let v = functions::call(self, call)?;
                self.apply_keys(v, &call.keys, KeyMode::Converter)
            }
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.expr(item)?);
                }
                Ok(Value::List(ListVal::Owned(out)))
            }
            Expr::Map(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (k, v) in items {
                    out.push((Cow::Borrowed(k.as_str()), self.expr(v)?));
                }
                Ok(Value::Map(MapVal::Owned(out)))
            }
            Expr::Math(m) => {
                let (l, op, r) = &**m;
                let x = self.expr(l)?;
                let y = self.expr(r)?;
                math::apply(x, *op, y)
            }
            Expr::Neg(inner) => math::negate(self.expr(inner)?),
        }
    }

    #[inline(always)]
    pub(crate) fn path(&self, p: &'a PathExpr) -> Result<Val<'a, E>, EvalError> {
        let ctx = self.env.ctx();
        let str_val = |s: &'a str| Value::Str(Cow::Borrowed(s));
        let v = match p.acc {
            Accessor::Name => str_val(ctx.name()),
            Accessor::Kind => Value::Int(i64::from(ctx.kind())),
            Accessor::KindString => str_val(kind_string(ctx.kind())),
            Accessor::KindDeprecatedString => str_val(kind_deprecated_string(ctx.kind())),
            Accessor::TraceId => Value::TraceId(ctx.trace_id()),
            Accessor::TraceIdString => Value::Str(Cow::Owned(hex(&ctx.trace_id()))),
            Accessor::SpanId => Value::SpanId(ctx.span_id()),
            Accessor::SpanIdString => Value::Str(Cow::Owned(hex(&ctx.span_id()))),
            Accessor::ParentSpanId => Value::SpanId(ctx.parent_span_id()),
            Accessor::ParentSpanIdString => Value::Str(Cow::Owned(hex(&ctx.parent_span_id()))),
            Accessor::TraceState => str_val(ctx.trace_state()),
            Accessor::TraceStateKey => return self.trace_state_key(ctx.trace_state(), p),
            Accessor::StartTimeUnixNano => Value::Int(ctx.start_time_unix_nano() as i64),
            Accessor::EndTimeUnixNano => Value::Int(ctx.end_time_unix_nano() as i64),
            Accessor::StartTime => Value::Time(i128::from(ctx.start_time_unix_nano())),
            Accessor::EndTime => Value::Time(i128::from(ctx.end_time_unix_nano())),
            Accessor::Attributes => Value::Map(MapVal::Attr(ctx.attributes())),
            Accessor::DroppedAttributesCount => {
                Value::Int(i64::from(ctx.dropped_attributes_count()))
            }
            Accessor::DroppedEventsCount => Value::Int(i64::from(ctx.dropped_events_count())),
            Accessor::DroppedLinksCount => Value::Int(i64::from(ctx.dropped_links_count())),
            Accessor::StatusCode => Value::Int(i64::from(ctx.status_code())),
            Accessor::StatusMessage => str_val(ctx.status_message()),
            Accessor::ResourceAttributes => Value::Map(MapVal::Attr(ctx.resource_attributes())),
            Accessor::ResourceDroppedAttributesCount => {
                Value::Int(i64::from(ctx.resource_dropped_attributes_count()))
            }
            Accessor::ResourceSchemaUrl => str_val(ctx.resource_schema_url()),
            Accessor::ScopeName => str_val(ctx.scope_name()),
            Accessor::ScopeVersion => str_val(ctx.scope_version()),
            Accessor::ScopeAttributes => Value::Map(MapVal::Attr(ctx.scope_attributes())),
            Accessor::ScopeDroppedAttributesCount => {
                Value::Int(i64::from(ctx.scope_dropped_attributes_count()))
            }
            Accessor::ScopeSchemaUrl => str_val(ctx.scope_schema_url()),
            Accessor::EventName => str_val(self.env.event_name()),
            Accessor::EventTimeUnixNano => Value::Int(self.env.event_time_unix_nano() as i64),
            Accessor::EventTime => Value::Time(i128::from(self.env.event_time_unix_nano())),
            Accessor::EventAttributes => match self.env.event_attributes() {
                Some(m) => Value::Map(MapVal::Attr(m)),
                None => Value::Map(MapVal::Const(&[])),
            },
            Accessor::EventDroppedAttributesCount => {
                Value::Int(i64::from(self.env.event_dropped_attributes_count()))
            }
            Accessor::Cache => match ctx.cache() {
                Some(m) => Value::Map(MapVal::Attr(m)),
                None => Value::Map(MapVal::Const(&[])),
            },
        };
        if p.keys.is_empty() {
            return Ok(v);
        }
        self.apply_keys(v, &p.keys, KeyMode::Path)
    }

    /// `trace_state["k"]`: the member's value, `""` when absent, `nil` when the header is invalid
    /// (Go's `trace.ParseTraceState` + `Get`).
    fn trace_state_key(&self, ts: &'a str, p: &'a PathExpr) -> Result<Val<'a, E>, EvalError> {
        let key = match p.keys.first() {
            Some(KeyExpr::Str(s)) => Cow::Borrowed(s.as_str()),
            Some(KeyExpr::Dyn(e)) => match self.expr(e)? {
                Value::Str(s) => s,
                v => {
                    return Err(EvalError::Index(format!(
                        "trace_state indexing type must be a string, got {}",
                        v.type_name()
                    )));
                }
            },
            _ => {
                return Err(EvalError::Index(
                    "trace_state indexing type must be a string".into(),
                ));
            }
        };
        Ok(match crate::tracestate::get(ts, &key) {
            Some(v) => Value::Str(Cow::Borrowed(v)),
            None => Value::Nil,
        })
    }

    pub(crate) fn apply_keys(
        &self,
        mut v: Val<'a, E>,
        keys: &'a [KeyExpr],
        mode: KeyMode,
    ) -> Result<Val<'a, E>, EvalError> {
        for key in keys {
            if mode == KeyMode::Path && v.is_nil() {
                return Ok(Value::Nil);
            }
            let k = match key {
                KeyExpr::Str(s) => ResolvedKey::Str(Cow::Borrowed(s.as_str())),
                KeyExpr::Int(i) => ResolvedKey::Int(*i),
                KeyExpr::Dyn(e) => match self.expr(e)? {
                    Value::Str(s) => ResolvedKey::Str(s),
                    Value::Int(i) => ResolvedKey::Int(i),
                    other => {
                        return Err(EvalError::Index(format!(
                            "could not resolve key for map/slice, expecting 'string' or 'int64' but got '{}'",
                            other.type_name()
                        )));
                    }
                },
            };
            v = index(v, k, mode)?;
        }
        Ok(v)
    }
}

/// How missing keys behave: paths give `nil` (pdata map lookup), converter results error
/// (`key not found in map`), as in Go OTTL.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMode {
    Path,
    Converter,
}

enum ResolvedKey<'a> {
    Str(Cow<'a, str>),
    Int(i64),
}

fn index<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    key: ResolvedKey<'_>,
    mode: KeyMode,
) -> Result<Value<'a, M>, EvalError> {
    match (v, key) {
        (Value::Map(m), ResolvedKey::Str(k)) => match m.get(&k) {
            Some(found) => Ok(found),
            None if mode == KeyMode::Path => Ok(Value::Nil),
            None => Err(EvalError::Index("key not found in map".into())),
        },
        (Value::List(l), ResolvedKey::Int(i)) => {
            let len = l.len();
            usize::try_from(i)
                .ok()
                .filter(|&i| i < len)
                .and_then(|i| l.get(i))
                .ok_or_else(|| EvalError::Index(format!("index {i} out of bounds")))
        }
        (Value::Map(_), ResolvedKey::Int(_)) => Err(EvalError::Index(
            "unable to resolve a string index in map: invalid key type".into(),
        )),
        (Value::List(_), ResolvedKey::Str(_)) => Err(EvalError::Index(
            "unable to resolve an integer index in slice: invalid key type".into(),
        )),
        (v, ResolvedKey::Str(_)) => Err(EvalError::Index(format!(
            "type {} does not support string indexing",
            v.type_name()
        ))),
        (v, ResolvedKey::Int(_)) => Err(EvalError::Index(format!(
            "type {} does not support int indexing",
            v.type_name()
        ))),
    }
}

pub(crate) fn kind_string(kind: i32) -> &'static str {
    match kind {
        0 => "Unspecified",
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "",
    }
}

/// A span kind's enum name (`SPAN_KIND_SERVER` for 2; `""` for an unknown kind): OTTL's
/// `kind.deprecated_string`, and how the Collector's span metrics label a kind.
pub fn kind_deprecated_string(kind: i32) -> &'static str {
    match kind {
        0 => "SPAN_KIND_UNSPECIFIED",
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "",
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            s.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    s
}

/// The environment used to fold constants at compile time: no telemetry at all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoSpan;

impl SpanContext for NoSpan {
    type Attributes<'a> = crate::value::NoAttributes;

    fn trace_id(&self) -> [u8; 16] {
        [0; 16]
    }
    fn span_id(&self) -> [u8; 8] {
        [0; 8]
    }
    fn parent_span_id(&self) -> [u8; 8] {
        [0; 8]
    }
    fn trace_state(&self) -> &str {
        ""
    }
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> i32 {
        0
    }
    fn start_time_unix_nano(&self) -> u64 {
        0
    }
    fn end_time_unix_nano(&self) -> u64 {
        0
    }
    fn attributes(&self) -> Self::Attributes<'_> {
        crate::value::NoAttributes
    }
    fn dropped_attributes_count(&self) -> u32 {
        0
    }
    fn dropped_events_count(&self) -> u32 {
        0
    }
    fn dropped_links_count(&self) -> u32 {
        0
    }
    fn status_code(&self) -> i32 {
        0
    }
    fn status_message(&self) -> &str {
        ""
    }
    fn resource_attributes(&self) -> Self::Attributes<'_> {
        crate::value::NoAttributes
    }
    fn resource_dropped_attributes_count(&self) -> u32 {
        0
    }
    fn resource_schema_url(&self) -> &str {
        ""
    }
    fn scope_name(&self) -> &str {
        ""
    }
    fn scope_version(&self) -> &str {
        ""
    }
    fn scope_attributes(&self) -> Self::Attributes<'_> {
        crate::value::NoAttributes
    }
    fn scope_dropped_attributes_count(&self) -> u32 {
        0
    }
    fn scope_schema_url(&self) -> &str {
        ""
    }
}

/// Evaluates an expression that reads no telemetry (all of its leaves are constants).
pub(crate) fn fold(e: &Expr) -> Result<Const, EvalError> {
    static NO_SPAN: NoSpan = NoSpan;
    let ev = Eval::new(SpanEnv(&NO_SPAN));
    ev.expr(e).map(|v| Const::from_value(&v))
}
