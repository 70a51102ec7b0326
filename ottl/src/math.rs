//! Arithmetic of `pkg/ottl/math.go`: `int64` and `float64` (mixed operands compute as
//! `float64`), `time.Time` ± `time.Duration`, `time.Time` − `time.Time`, and durations.
//! Integer overflow wraps and integer division truncates, as in Go; dividing by zero is an error.

use crate::ast::MathOp;
use crate::context::AttributeMap;
use crate::error::EvalError;
use crate::value::{Ty, Value};

/// `x op y`.
pub(crate) fn apply<'a, M: AttributeMap<'a>>(
    x: Value<'a, M>,
    op: MathOp,
    y: Value<'a, M>,
) -> Result<Value<'a, M>, EvalError> {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => int_op(a, op, b).map(Value::Int),
        (Value::Int(a), Value::Double(b)) => float_op(a as f64, op, b).map(Value::Double),
        (Value::Double(a), Value::Int(b)) => float_op(a, op, b as f64).map(Value::Double),
        (Value::Double(a), Value::Double(b)) => float_op(a, op, b).map(Value::Double),
        (Value::Int(_) | Value::Double(_), y) => Err(EvalError::ty(
            op_name(op),
            format!("{} must be int64 or float64", y.type_name()),
        )),
        (Value::Time(t), y) => time_op(t, op, y),
        (Value::Duration(d), y) => duration_op(d, op, y),
        (x, _) => Err(EvalError::ty(
            op_name(op),
            format!(
                "{} must be int64, float64, time.Time or time.Duration",
                x.type_name()
            ),
        )),
    }
}

/// Unary minus.
pub(crate) fn negate<'a, M: AttributeMap<'a>>(v: Value<'a, M>) -> Result<Value<'a, M>, EvalError> {
    match v {
        Value::Int(i) => Ok(Value::Int(i.wrapping_neg())),
        Value::Double(d) => Ok(Value::Double(-d)),
        v => Err(EvalError::ty(
            "-",
            format!(
                "unsupported unary minus operation on type {}",
                v.type_name()
            ),
        )),
    }
}

/// The result type of `x op y` when both operand types are known, or the reason it fails.
pub(crate) fn static_type(x: Ty, op: MathOp, y: Ty) -> Result<Ty, String> {
    use Ty::*;
    let additive = matches!(op, MathOp::Add | MathOp::Sub);
    match (x, y) {
        (Any, _) | (_, Any) => Ok(Any),
        (Int, Int) => Ok(Int),
        (Int | Double, Int | Double) => Ok(Double),
        (Time, Duration) if additive => Ok(Time),
        (Time, Time) if op == MathOp::Sub => Ok(Duration),
        (Duration, Duration) if additive => Ok(Duration),
        (Duration, Time) if op == MathOp::Add => Ok(Time),
        (Time | Duration, _) if !additive => Err(
            "only addition and subtraction are supported for time.Time and time.Duration".into(),
        ),
        (Int | Double | Time | Duration, y) => Err(format!(
            "cannot apply '{op}' to {} and {}",
            x.name(),
            y.name()
        )),
        (x, _) => Err(format!(
            "{} must be int64, float64, time.Time or time.Duration",
            x.name()
        )),
    }
}

fn op_name(op: MathOp) -> &'static str {
    match op {
        MathOp::Add => "+",
        MathOp::Sub => "-",
        MathOp::Mul => "*",
        MathOp::Div => "/",
    }
}

fn int_op(a: i64, op: MathOp, b: i64) -> Result<i64, EvalError> {
    Ok(match op {
        MathOp::Add => a.wrapping_add(b),
        MathOp::Sub => a.wrapping_sub(b),
        MathOp::Mul => a.wrapping_mul(b),
        MathOp::Div if b == 0 => return Err(EvalError::DivideByZero),
        MathOp::Div => a.wrapping_div(b),
    })
}

fn float_op(a: f64, op: MathOp, b: f64) -> Result<f64, EvalError> {
    Ok(match op {
        MathOp::Add => a + b,
        MathOp::Sub => a - b,
        MathOp::Mul => a * b,
        MathOp::Div if b == 0.0 => return Err(EvalError::DivideByZero),
        MathOp::Div => a / b,
    })
}

fn time_op<'a, M: AttributeMap<'a>>(
    t: i128,
    op: MathOp,
    y: Value<'a, M>,
) -> Result<Value<'a, M>, EvalError> {
    match (op, y) {
        (MathOp::Add, Value::Duration(d)) => Ok(Value::Time(t + i128::from(d))),
        (MathOp::Add, y) => Err(EvalError::ty(
            "+",
            format!(
                "time.Time must be added to time.Duration; found {} instead",
                y.type_name()
            ),
        )),
        (MathOp::Sub, Value::Time(u)) => Ok(Value::Duration(saturate(t - u))),
        (MathOp::Sub, Value::Duration(d)) => Ok(Value::Time(t - i128::from(d))),
        (MathOp::Sub, y) => Err(EvalError::ty(
            "-",
            format!(
                "time.Time or time.Duration must be subtracted from time.Time; found {} instead",
                y.type_name()
            ),
        )),
        (op, _) => Err(EvalError::ty(
            op_name(op),
            "only addition and subtraction supported for time.Time and time.Duration",
        )),
    }
}

fn duration_op<'a, M: AttributeMap<'a>>(
    d: i64,
    op: MathOp,
    y: Value<'a, M>,
) -> Result<Value<'a, M>, EvalError> {
    match (op, y) {
        (MathOp::Add, Value::Duration(e)) => Ok(Value::Duration(d.wrapping_add(e))),
        (MathOp::Add, Value::Time(t)) => Ok(Value::Time(t + i128::from(d))),
        (MathOp::Add, y) => Err(EvalError::ty(
            "+",
            format!(
                "time.Duration must be added to time.Duration or time.Time; found {} instead",
                y.type_name()
            ),
        )),
        (MathOp::Sub, Value::Duration(e)) => Ok(Value::Duration(d.wrapping_sub(e))),
        (MathOp::Sub, y) => Err(EvalError::ty(
            "-",
            format!(
                "time.Duration must be subtracted from time.Duration; found {} instead",
                y.type_name()
            ),
        )),
        (op, _) => Err(EvalError::ty(
            op_name(op),
            "only addition and subtraction supported for time.Time and time.Duration",
        )),
    }
}

/// `time.Time.Sub` saturates at the extremes of `time.Duration`.
fn saturate(ns: i128) -> i64 {
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::NoAttributes;

    type V = Value<'static, NoAttributes>;

    fn run(x: V, op: MathOp, y: V) -> Result<String, EvalError> {
        apply(x, op, y).map(|v| format!("{v:?}"))
    }

    #[test]
    fn numbers() {
        assert_eq!(run(Value::Int(7), MathOp::Div, Value::Int(2)).unwrap(), "3");
        assert_eq!(run(Value::Int(3), MathOp::Mul, Value::Int(2)).unwrap(), "6");
        assert_eq!(
            run(Value::Int(-7), MathOp::Div, Value::Int(2)).unwrap(),
            "-3"
        );
        assert_eq!(
            run(Value::Int(1), MathOp::Add, Value::Double(0.5)).unwrap(),
            "1.5"
        );
        assert_eq!(
            run(Value::Int(i64::MAX), MathOp::Add, Value::Int(1)).unwrap(),
            i64::MIN.to_string()
        );
        assert_eq!(
            run(Value::Int(i64::MIN), MathOp::Div, Value::Int(-1)).unwrap(),
            i64::MIN.to_string()
        );
        assert_eq!(
            run(Value::Int(1), MathOp::Div, Value::Int(0)),
            Err(EvalError::DivideByZero)
        );
        assert_eq!(
            run(Value::Double(1.0), MathOp::Div, Value::Double(0.0)),
            Err(EvalError::DivideByZero)
        );
        assert!(run(Value::Nil, MathOp::Add, Value::Int(1)).is_err());
        assert!(run(Value::Int(1), MathOp::Add, Value::Nil).is_err());
    }

    #[test]
    fn times() {
        assert!(matches!(
            apply(V::Time(10), MathOp::Sub, V::Time(4)),
            Ok(Value::Duration(6))
        ));
        assert!(matches!(
            apply(V::Time(10), MathOp::Add, V::Duration(4)),
            Ok(Value::Time(14))
        ));
        assert!(matches!(
            apply(V::Duration(4), MathOp::Add, V::Time(10)),
            Ok(Value::Time(14))
        ));
        assert!(apply(V::Time(10), MathOp::Mul, V::Duration(4)).is_err());
        assert!(apply(V::Duration(4), MathOp::Sub, V::Time(10)).is_err());
        assert_eq!(
            static_type(Ty::Time, MathOp::Sub, Ty::Time),
            Ok(Ty::Duration)
        );
        assert!(static_type(Ty::Str, MathOp::Add, Ty::Int).is_err());
        assert_eq!(
            static_type(Ty::Int, MathOp::Mul, Ty::Double),
            Ok(Ty::Double)
        );
    }
}
