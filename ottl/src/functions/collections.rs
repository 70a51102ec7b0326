//! Converters over strings, maps and lists as collections: `Len`, `Index`, `ContainsValue`,
//! `Coalesce`, `Keys`, `Values`.

use std::borrow::Cow;

use super::Func;
use crate::ast::CmpOp;
use crate::compare::compare;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::Call;
use crate::value::{ListVal, Value};

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    match call.def.func {
        Func::Len => len(ev.arg(call, 0)?).map(Value::Int),
        Func::Index => index(ev.arg(call, 0)?, ev.arg(call, 1)?).map(Value::Int),
        Func::ContainsValue => {
            let item = ev.arg(call, 1)?;
            let mut found = false;
            ev.for_each_item(call, 0, |v| {
                found = compare(&v, &item, CmpOp::Eq);
                Ok(!found)
            })
            .map_err(|e| match e {
                EvalError::Type { message, .. } => EvalError::ty(
                    "ContainsValue",
                    message.replace("expected a slice", "expected pcommon.Slice"),
                ),
                e => e,
            })?;
            Ok(Value::Bool(found))
        }
        Func::Coalesce => {
            let mut first = Value::Nil;
            ev.for_each_item(call, 0, |v| {
                if v.is_nil() {
                    return Ok(true);
                }
                first = v;
                Ok(false)
            })?;
            Ok(first)
        }
        Func::Keys | Func::Values => {
            let Value::Map(m) = ev.arg(call, 0)? else {
                return Err(EvalError::ty(call.def.name, "expected pcommon.Map"));
            };
            let keys = call.def.func == Func::Keys;
            let mut out = Vec::with_capacity(m.len());
            m.for_each(|k, v| {
                out.push(if keys {
                    Value::Str(Cow::Owned(k.to_owned()))
                } else {
                    v
                });
                true
            });
            Ok(Value::List(ListVal::Owned(out)))
        }
        _ => Err(EvalError::invalid(
            call.def.name,
            "not a collection converter",
        )),
    }
}

fn len<'a, M: crate::context::AttributeMap<'a>>(v: Value<'a, M>) -> Result<i64, EvalError> {
    let n = match &v {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Map(m) => m.len(),
        Value::List(l) => l.len(),
        v => {
            return Err(EvalError::ty(
                "Len",
                format!(
                    "target arg must be of type string, []any, map[string]any, pcommon.Map, pcommon.Slice, got {}",
                    v.type_name()
                ),
            ));
        }
    };
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

fn index<'a, M: crate::context::AttributeMap<'a>>(
    target: Value<'a, M>,
    value: Value<'a, M>,
) -> Result<i64, EvalError> {
    match (&target, &value) {
        (Value::Str(s), Value::Str(needle)) => Ok(s
            .find(needle.as_ref())
            .map_or(-1, |i| i64::try_from(i).unwrap_or(-1))),
        (Value::Str(_), v) => Err(EvalError::ty(
            "Index",
            format!(
                "value must be a string when target is a string, got {}",
                v.type_name()
            ),
        )),
        (Value::List(l), _) => Ok(position(l, &value)),
        (v, _) => Err(EvalError::ty(
            "Index",
            format!("target must be a string or a slice, got {}", v.type_name()),
        )),
    }
}

fn position<'a, M: crate::context::AttributeMap<'a>>(
    l: &ListVal<'a, M>,
    value: &Value<'a, M>,
) -> i64 {
    let mut i: i64 = 0;
    let mut found = -1;
    l.for_each(|v| {
        if compare(&v, value, CmpOp::Eq) {
            found = i;
            return false;
        }
        i += 1;
        true
    });
    found
}
