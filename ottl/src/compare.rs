//! Comparison semantics of `pkg/ottl/compare.go`.
//!
//! - `nil == nil`; `nil` equals nothing else, and an empty byte slice counts as `nil`.
//! - Numbers compare numerically; an `int64` against a `float64` compares as `float64`.
//! - Strings compare byte-wise, byte slices with `bytes.Compare`, booleans with `false < true`.
//! - Times and durations compare chronologically.
//! - Maps, lists and ids support only `==` and `!=` (deep, type-strict equality).
//! - Any other pairing is "not equal": `!=` is true and every other operator false.

use std::cmp::Ordering;

use crate::ast::CmpOp;
use crate::context::AttributeMap;
use crate::value::{ListVal, MapVal, Value};

/// `a op b` under OTTL's rules.
#[inline(always)]
pub(crate) fn compare<'a, M: AttributeMap<'a>>(
    a: &Value<'a, M>,
    b: &Value<'a, M>,
    op: CmpOp,
) -> bool {
    let (a_nil, b_nil) = (is_nil_like(a), is_nil_like(b));
    if a_nil || b_nil {
        return if a_nil && b_nil {
            matches!(op, CmpOp::Eq | CmpOp::Le | CmpOp::Ge)
        } else {
            op == CmpOp::Ne
        };
    }
    let ordering = match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Double(y)) => return cmp_float(*x as f64, *y, op),
        (Value::Double(x), Value::Int(y)) => return cmp_float(*x, *y as f64, op),
        (Value::Double(x), Value::Double(y)) => return cmp_float(*x, *y, op),
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match ordering {
        Some(ord) => apply(ord, op),
        None => match op {
            CmpOp::Eq => equal_only(a, b),
            CmpOp::Ne => !equal_only(a, b),
            _ => false,
        },
    }
}

fn is_nil_like<'a, M: AttributeMap<'a>>(v: &Value<'a, M>) -> bool {
    match v {
        Value::Nil => true,
        Value::Bytes(b) => b.is_empty(),
        _ => false,
    }
}

fn apply(ord: Ordering, op: CmpOp) -> bool {
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

/// Go's float comparison: every operator but `!=` is false when a NaN is involved.
fn cmp_float(x: f64, y: f64, op: CmpOp) -> bool {
    match op {
        CmpOp::Eq => x == y,
        CmpOp::Ne => x != y,
        CmpOp::Lt => x < y,
        CmpOp::Le => x <= y,
        CmpOp::Gt => x > y,
        CmpOp::Ge => x >= y,
    }
}

/// Equality for the types that only support `==`/`!=`: maps, lists, ids; mismatched types are
/// never equal.
fn equal_only<'a, M: AttributeMap<'a>>(a: &Value<'a, M>, b: &Value<'a, M>) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => maps_equal(x, y),
        (Value::List(x), Value::List(y)) => lists_equal(x, y),
        (Value::TraceId(x), Value::TraceId(y)) => x == y,
        (Value::SpanId(x), Value::SpanId(y)) => x == y,
        _ => false,
    }
}

/// Deep, type-strict equality (Go's `reflect.DeepEqual` on raw values / pdata `Equal`).
pub(crate) fn deep_equal<'a, M: AttributeMap<'a>>(a: &Value<'a, M>, b: &Value<'a, M>) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Double(x), Value::Double(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        _ => equal_only(a, b),
    }
}

fn maps_equal<'a, M: AttributeMap<'a>>(a: &MapVal<'a, M>, b: &MapVal<'a, M>) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut equal = true;
    a.for_each(|k, v| {
        equal = b.get(k).is_some_and(|w| deep_equal(&v, &w));
        equal
    });
    equal
}

fn lists_equal<'a, M: AttributeMap<'a>>(a: &ListVal<'a, M>, b: &ListVal<'a, M>) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    let mut equal = true;
    a.for_each(|v| {
        equal = b.get(i).is_some_and(|w| deep_equal(&v, &w));
        i += 1;
        equal
    });
    equal
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::value::{Const, NoAttributes};

    type V = Value<'static, NoAttributes>;

    fn s(x: &'static str) -> V {
        Value::Str(Cow::Borrowed(x))
    }

    fn all<'a>(a: &Value<'a, NoAttributes>, b: &Value<'a, NoAttributes>) -> [bool; 6] {
        [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ]
        .map(|op| compare(a, b, op))
    }

    const T: bool = true;
    const F: bool = false;

    #[test]
    fn table_of_pairs() {
        let empty_bytes: V = Value::Bytes(Cow::Borrowed(&[]));
        let list = Const::List(vec![Const::Int(1)]);
        let list2 = Const::List(vec![Const::Int(1)]);
        let list_f = Const::List(vec![Const::Double(1.0)]);
        let cases: Vec<(V, V, [bool; 6])> = vec![
            (Value::Nil, Value::Nil, [T, F, F, T, F, T]),
            (Value::Nil, Value::Int(0), [F, T, F, F, F, F]),
            (Value::Int(0), Value::Nil, [F, T, F, F, F, F]),
            (empty_bytes.clone(), Value::Nil, [T, F, F, T, F, T]),
            (Value::Int(1), Value::Int(2), [F, T, T, T, F, F]),
            (Value::Int(2), Value::Double(1.5), [F, T, F, F, T, T]),
            (Value::Double(2.0), Value::Int(2), [T, F, F, T, F, T]),
            (
                Value::Double(f64::NAN),
                Value::Double(f64::NAN),
                [F, T, F, F, F, F],
            ),
            (s("a"), s("b"), [F, T, T, T, F, F]),
            (s("B"), s("a"), [F, T, T, T, F, F]),
            (s("1"), Value::Int(1), [F, T, F, F, F, F]),
            (Value::Bool(false), Value::Bool(true), [F, T, T, T, F, F]),
            (Value::Bool(true), Value::Int(1), [F, T, F, F, F, F]),
            (
                Value::Bytes(Cow::Borrowed(b"\x01")),
                Value::Bytes(Cow::Borrowed(b"\x02")),
                [F, T, T, T, F, F],
            ),
            (
                Value::TraceId([1; 16]),
                Value::TraceId([1; 16]),
                [T, F, F, F, F, F],
            ),
            (
                Value::TraceId([1; 16]),
                Value::Bytes(Cow::Borrowed(&[1; 16])),
                [F, T, F, F, F, F],
            ),
            (Value::Duration(5), Value::Duration(7), [F, T, T, T, F, F]),
            (Value::Time(5), Value::Duration(5), [F, T, F, F, F, F]),
        ];
        for (a, b, want) in &cases {
            assert_eq!(&all(a, b), want, "{a:?} vs {b:?}");
        }
        // Lists compare only for equality; an int element never equals a float element.
        let l1: Value<'_, NoAttributes> = Value::from_const(&list);
        let (l2, lf) = (Value::from_const(&list2), Value::from_const(&list_f));
        assert_eq!(all(&l1, &l2), [T, F, F, F, F, F]);
        assert_eq!(all(&l1, &lf), [F, T, F, F, F, F]);
    }
}
