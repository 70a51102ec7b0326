//! Reading a call's arguments with the conversions of its parameter kinds.

use std::borrow::Cow;

use super::getters;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::{Call, CallArg};
use crate::value::{ListVal, Value};

impl<'a, E: Env<'a>> Eval<'a, E> {
    /// The argument at `i` as any value; `nil` when an optional argument is omitted. A list
    /// literal passed to a slice parameter is materialised.
    pub(crate) fn arg(&self, call: &'a Call, i: usize) -> Result<Val<'a, E>, EvalError> {
        match call.args.get(i) {
            Some(Some(CallArg::Expr(e))) => self.expr(e),
            Some(Some(CallArg::Items(items))) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.expr(item)?);
                }
                Ok(Value::List(ListVal::Owned(out)))
            }
            _ => Ok(Value::Nil),
        }
    }

    /// Whether the optional argument at `i` was given.
    pub(crate) fn has_arg(&self, call: &'a Call, i: usize) -> bool {
        matches!(call.args.get(i), Some(Some(_)))
    }

    /// `StringGetter`.
    pub(crate) fn arg_str(&self, call: &'a Call, i: usize) -> Result<Cow<'a, str>, EvalError> {
        getters::string(self.arg(call, i)?, call.def.name)
    }

    /// `StringLikeGetter`.
    pub(crate) fn arg_str_like(
        &self,
        call: &'a Call,
        i: usize,
    ) -> Result<Option<Cow<'a, str>>, EvalError> {
        getters::string_like(self.arg(call, i)?, call.def.name)
    }

    /// `IntGetter`.
    pub(crate) fn arg_int(&self, call: &'a Call, i: usize) -> Result<i64, EvalError> {
        getters::int(self.arg(call, i)?, call.def.name)
    }

    /// `TimeGetter`.
    pub(crate) fn arg_time(&self, call: &'a Call, i: usize) -> Result<i128, EvalError> {
        match self.arg(call, i)? {
            Value::Time(t) => Ok(t),
            v => Err(EvalError::ty(
                call.def.name,
                format!("expected time but got {}", v.type_name()),
            )),
        }
    }

    /// `DurationGetter`.
    pub(crate) fn arg_duration(&self, call: &'a Call, i: usize) -> Result<i64, EvalError> {
        match self.arg(call, i)? {
            Value::Duration(d) => Ok(d),
            v => Err(EvalError::ty(
                call.def.name,
                format!("expected duration but got {}", v.type_name()),
            )),
        }
    }

    /// A literal `bool` parameter (checked at compile time), with its default.
    pub(crate) fn arg_lit_bool(
        &self,
        call: &'a Call,
        i: usize,
        default: bool,
    ) -> Result<bool, EvalError> {
        match self.arg(call, i)? {
            Value::Bool(b) => Ok(b),
            _ => Ok(default),
        }
    }

    /// Calls `f` with each item of a slice-of-getters argument: the items of a list literal
    /// evaluated one at a time, or the elements of a list value.
    pub(crate) fn for_each_item(
        &self,
        call: &'a Call,
        i: usize,
        mut f: impl FnMut(Val<'a, E>) -> Result<bool, EvalError>,
    ) -> Result<(), EvalError> {
        if let Some(Some(CallArg::Items(items))) = call.args.get(i) {
            for item in items {
                if !f(self.expr(item)?)? {
                    break;
                }
            }
            return Ok(());
        }
        match self.arg(call, i)? {
            Value::List(l) => {
                let mut result = Ok(());
                l.for_each(|v| match f(v) {
                    Ok(more) => more,
                    Err(e) => {
                        result = Err(e);
                        false
                    }
                });
                result
            }
            v => Err(EvalError::ty(
                call.def.name,
                format!("expected a slice but got {}", v.type_name()),
            )),
        }
    }
}
