//! Properties: printing a syntax tree and parsing it back gives the same tree; parsing,
//! compiling and evaluating never panic, whatever the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use meshtrace_ottl::ast::{Arg, BoolExpr, CmpOp, Converter, Field, Key, MathOp, Path, Span, Value};
use meshtrace_ottl::memory::EventView;
use meshtrace_ottl::{SpanCondition, SpanEventCondition, parse_ast};
use proptest::prelude::*;

const KEYWORDS: &[&str] = &["not", "and", "or", "true", "false", "nil"];
const SP: Span = Span { start: 0, end: 0 };

fn lower_ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,6}".prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

fn enum_ident() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9_]{0,8}"
}

fn converter_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z][A-Za-z0-9_]{0,8}",
        Just("IsMatch".to_owned()),
        Just("Concat".to_owned())
    ]
}

fn func_name() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{0,3}[a-z][A-Za-z0-9]{0,4}"
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge)
    ]
}

fn math_op() -> impl Strategy<Value = MathOp> {
    prop_oneof![
        Just(MathOp::Add),
        Just(MathOp::Sub),
        Just(MathOp::Mul),
        Just(MathOp::Div)
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
    ]
}

/// Values that can stand alone anywhere.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil(SP)),
        any::<bool>().prop_map(|b| Value::Bool(b, SP)),
        any::<i64>().prop_map(|i| Value::Int(i, SP)),
        float().prop_map(|x| Value::Float(x, SP)),
        any::<String>().prop_map(|s| Value::Str(s, SP)),
        prop::collection::vec(any::<u8>(), 1..6).prop_map(|b| Value::Bytes(b, SP)),
        enum_ident().prop_map(|e| Value::Enum(e, SP)),
        simple_path(),
    ]
}

fn simple_path() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(lower_ident(), 1..4),
        prop::collection::vec(any::<String>(), 0..3),
    )
        .prop_map(|(names, keys)| {
            let mut fields: Vec<Field> = names
                .into_iter()
                .map(|name| Field {
                    name,
                    keys: vec![],
                    span: SP,
                })
                .collect();
            if let Some(last) = fields.last_mut() {
                last.keys = keys.into_iter().map(|k| Key::Str(k, SP)).collect();
            }
            Value::Path(Path { fields, span: SP })
        })
}

/// Any value, recursively.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        let math_operand = inner.clone().prop_filter("operand of math", |v| {
            matches!(
                v,
                Value::Int(..)
                    | Value::Float(..)
                    | Value::Path(_)
                    | Value::Converter(_)
                    | Value::Math { .. }
                    | Value::Neg(..)
            )
        });
        let key = prop_oneof![
            any::<String>().prop_map(|s| Key::Str(s, SP)),
            any::<i64>().prop_map(|i| Key::Int(i, SP)),
            math_operand
                .clone()
                .prop_filter("expression keys", |v| !matches!(v, Value::Int(..)))
                .prop_map(|v| Key::Expr(Box::new(v))),
        ];
        let arg = (
            prop::option::of(lower_ident()),
            prop_oneof![
                inner.clone(),
                func_name().prop_map(|n| Value::FuncName(n, SP))
            ],
        )
            .prop_map(|(name, value)| Arg {
                name: name.map(|n| (n, SP)),
                value,
            });
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| Value::List(items, SP)),
            prop::collection::vec((any::<String>(), inner.clone()), 0..3)
                .prop_map(|items| Value::Map(items, SP)),
            (
                converter_name(),
                prop::collection::vec(arg, 0..4),
                prop::collection::vec(key.clone(), 0..2)
            )
                .prop_map(|(name, args, keys)| Value::Converter(Converter {
                    name,
                    name_span: SP,
                    args,
                    keys,
                    span: SP
                })),
            (math_operand.clone(), math_op(), math_operand.clone()).prop_map(|(l, op, r)| {
                Value::Math {
                    left: Box::new(l),
                    op,
                    right: Box::new(r),
                    span: SP,
                }
            }),
            math_operand
                .prop_filter("non-literal", |v| !matches!(
                    v,
                    Value::Int(..) | Value::Float(..)
                ))
                .prop_map(|v| Value::Neg(Box::new(v), SP)),
            (lower_ident(), prop::collection::vec(key, 1..3)).prop_map(|(name, keys)| Value::Path(
                Path {
                    fields: vec![Field {
                        name,
                        keys,
                        span: SP
                    }],
                    span: SP
                }
            )),
        ]
    })
}

fn bool_expr() -> impl Strategy<Value = BoolExpr> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(|b| BoolExpr::Const(b, SP)),
        (value(), cmp_op(), value()).prop_map(|(left, op, right)| BoolExpr::Compare {
            left,
            op,
            op_span: SP,
            right
        }),
        value().prop_filter_map("converter", |v| match v {
            Value::Converter(c) => Some(BoolExpr::Converter(c)),
            _ => None,
        }),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(BoolExpr::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(BoolExpr::And),
            inner.prop_map(|e| BoolExpr::Not(Box::new(e), SP)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(expr in bool_expr()) {
        let text = expr.to_string();
        let mut parsed = parse_ast(&text).map_err(|e| TestCaseError::fail(format!("{}\n{text}", e.render(&text))))?;
        parsed.clear_spans();
        prop_assert_eq!(&parsed, &expr, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse_ast(&text);
        let _ = SpanCondition::parse(&text);
    }

    #[test]
    fn parsing_token_soup_never_panics(tokens in prop::collection::vec(token(), 0..40)) {
        let text = tokens.join(" ");
        let _ = SpanCondition::parse(&text);
        let _ = SpanEventCondition::parse(&text);
    }

    #[test]
    fn evaluating_never_panics(cond in meaningful_condition()) {
        let spans = [common::grafana_ingress(), common::kube_probe(), common::failed_client()];
        if let Ok(c) = SpanCondition::parse(&cond) {
            for s in &spans {
                let _ = c.eval(s);
            }
        }
        if let Ok(c) = SpanEventCondition::parse(&cond) {
            let view = EventView { span: &spans[0], event: &spans[0].events[0] };
            let _ = c.eval(&view);
        }
    }
}

/// Pieces of OTTL, to reach deeper into the parser than random text does.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ".",
            ":",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "=",
            "+",
            "-",
            "*",
            "/",
            "not",
            "and",
            "or",
            "true",
            "false",
            "nil",
            "name",
            "attributes",
            "resource",
            "span",
            "spanevent",
            "IsMatch",
            "Concat",
            "Split",
            "SPAN_KIND_SERVER",
            "\"x\"",
            "0x0a",
            "1",
            "-2",
            "1.5",
            ".5",
            "010",
            "\"\\u00e9\"",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z_][a-zA-Z0-9_]{0,5}",
        "\"[^\"\\\\]{0,5}\"",
        "[0-9]{1,25}",
    ]
}

/// Conditions built from real paths, converters and literals, so many of them compile and
/// exercise evaluation.
fn meaningful_condition() -> impl Strategy<Value = String> {
    let path = prop::sample::select(vec![
        "name",
        "kind",
        "status.code",
        "status.message",
        "trace_id",
        "span_id.string",
        "parent_span_id",
        "trace_state",
        "trace_state[\"rojo\"]",
        "start_time",
        "end_time_unix_nano",
        "attributes",
        "attributes[\"http.method\"]",
        "attributes[\"tags\"]",
        "attributes[\"tags\"][1]",
        "attributes[\"k8s\"][\"labels\"]",
        "attributes[\"response_size\"]",
        "attributes[\"sample.ratio\"]",
        "attributes[\"payload\"]",
        "attributes[\"codes\"]",
        "attributes[\"customer\"]",
        "attributes[\"empty\"]",
        "resource.attributes",
        "instrumentation_scope.name",
        "span.name",
        "time",
    ])
    .prop_map(str::to_owned);
    let literal = prop_oneof![
        Just("nil".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        (-50i64..50).prop_map(|i| i.to_string()),
        "\"[a-z%/\\.\\*]{0,6}\"",
        Just("0x01ff".to_owned()),
        Just("1.5".to_owned()),
        Just("[1, \"a\", nil]".to_owned()),
        Just("{\"a\": 1}".to_owned()),
        Just("SPAN_KIND_SERVER".to_owned()),
    ];
    let atom = prop_oneof![path, literal];
    let value = atom.prop_recursive(3, 12, 3, |inner| {
        let func = prop::sample::select(meshtrace_ottl::supported_converters());
        prop_oneof![
            (func, prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, k)| format!("Split({a}, \",\")[{k}]")),
            prop::collection::vec(inner, 0..3).prop_map(|items| format!("[{}]", items.join(", "))),
        ]
    });
    (
        value.clone(),
        prop::sample::select(vec!["==", "!=", "<", ">=", "and"]),
        value,
    )
        .prop_map(|(a, op, b)| {
            if op == "and" {
                format!("IsMatch({a}, \"a\") and IsString({b})")
            } else {
                format!("{a} {op} {b}")
            }
        })
}
