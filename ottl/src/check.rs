//! Compiles a syntax tree into a [`program`](crate::program): resolves paths and enums, binds
//! converter arguments (positional, then named) to parameters, checks the types that are known
//! before any span is seen, compiles regexes, and folds constant sub-expressions. Every error
//! points at the offending text.

use crate::ast::{self, BoolExpr, Span};
use crate::compare::compare;
use crate::context::ContextKind;
use crate::error::{ErrorKind, ParseError};
use crate::eval::fold;
use crate::functions::{self, FuncDef, Kind};
use crate::math;
use crate::paths::{self, Accessor};
use crate::program::{Call, CallArg, Cond, Expr, KeyExpr, PathExpr};
use crate::value::{Const, NoAttributes, Ty, Value};

pub(crate) struct Compiler<'s> {
    pub src: &'s str,
    pub kind: ContextKind,
}

type CResult<T> = Result<T, ParseError>;

impl Compiler<'_> {
    fn err(&self, kind: ErrorKind, msg: impl Into<String>, span: Span) -> ParseError {
        ParseError::new(kind, msg, span, self.src)
    }

    fn text(&self, span: Span) -> &str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    pub(crate) fn cond(&self, e: &BoolExpr) -> CResult<Cond> {
        Ok(match e {
            BoolExpr::Or(items) => {
                let items = items
                    .iter()
                    .map(|i| self.cond(i))
                    .collect::<CResult<Vec<_>>>()?;
                fold_all(items, Cond::Or, |bs| bs.iter().any(|b| *b))
            }
            BoolExpr::And(items) => {
                let items = items
                    .iter()
                    .map(|i| self.cond(i))
                    .collect::<CResult<Vec<_>>>()?;
                fold_all(items, Cond::And, |bs| bs.iter().all(|b| *b))
            }
            BoolExpr::Not(inner, _) => match self.cond(inner)? {
                Cond::Const(b) => Cond::Const(!b),
                c => Cond::Not(Box::new(c)),
            },
            BoolExpr::Const(b, _) => Cond::Const(*b),
            BoolExpr::Converter(c) => {
                let (expr, ty) = self.call(c)?;
                match (expr, ty) {
                    (Expr::Const(Const::Bool(b)), _) => Cond::Const(b),
                    (_, ty) if ty != Ty::Bool && ty != Ty::Any => {
                        return Err(self.err(
                            ErrorKind::Type,
                            format!(
                                "{} returns {}, but a condition needs a boolean; compare the result instead (e.g. {} == …)",
                                c.name,
                                ty.name(),
                                self.text(c.span)
                            ),
                            c.span,
                        ));
                    }
                    (expr, _) => Cond::Bool(expr),
                }
            }
            BoolExpr::Compare {
                left, op, right, ..
            } => {
                let (l, _) = self.expr(left)?;
                let (r, _) = self.expr(right)?;
                match (&l, &r) {
                    (Expr::Const(a), Expr::Const(b)) => {
                        let (a, b): (Value<'_, NoAttributes>, _) =
                            (Value::from_const(a), Value::from_const(b));
                        Cond::Const(compare(&a, &b, *op))
                    }
                    _ => Cond::Compare(Box::new((l, *op, r))),
                }
            }
        })
    }

    pub(crate) fn expr(&self, v: &ast::Value) -> CResult<(Expr, Ty)> {
        let konst = |c: Const| {
            let ty = c.ty();
            Ok((Expr::Const(c), ty))
        };
        match v {
            ast::Value::Nil(_) => konst(Const::Nil),
            ast::Value::Bool(b, _) => konst(Const::Bool(*b)),
            ast::Value::Int(i, _) => konst(Const::Int(*i)),
            ast::Value::Float(x, _) => konst(Const::Double(*x)),
            ast::Value::Str(s, _) => konst(Const::Str(s.clone())),
            ast::Value::Bytes(b, _) => konst(Const::Bytes(b.clone())),
            ast::Value::Enum(name, span) => match enum_value(name) {
                Some(i) => konst(Const::Int(i)),
                None => Err(self.err(
                    ErrorKind::UnknownEnum,
                    format!(
                        "enum symbol, {name}, not found (the {} context defines SPAN_KIND_* and STATUS_CODE_*)",
                        self.kind
                    ),
                    *span,
                )),
            },
            ast::Value::FuncName(name, span) => Err(self.err(
                ErrorKind::Syntax,
                format!("'{name}' is a bare function name; call it with parentheses, e.g. {name}(…)"),
                *span,
            )),
            ast::Value::Path(p) => self.path(p),
            ast::Value::Converter(c) => self.call(c),
            ast::Value::List(items, _) => {
                let compiled = items.iter().map(|i| self.expr(i).map(|(e, _)| e)).collect::<CResult<Vec<_>>>()?;
                if compiled.iter().all(|e| matches!(e, Expr::Const(_))) {
                    let consts = compiled.into_iter().filter_map(|e| if let Expr::Const(c) = e { Some(c) } else { None });
                    return konst(Const::List(consts.collect()));
                }
                Ok((Expr::List(compiled), Ty::List))
            }
            ast::Value::Map(items, _) => {
                // Go builds literal maps through a Go map: a repeated key keeps its last value.
                let mut entries: Vec<(String, Expr)> = Vec::with_capacity(items.len());
                for (k, v) in items {
                    let (e, _) = self.expr(v)?;
                    match entries.iter_mut().find(|(existing, _)| existing == k) {
                        Some(slot) => slot.1 = e,
                        None => entries.push((k.clone(), e)),
                    }
                }
                if entries.iter().all(|(_, e)| matches!(e, Expr::Const(_))) {
                    let consts = entries.into_iter().filter_map(|(k, e)| if let Expr::Const(c) = e { Some((k, c)) } else { None });
                    return konst(Const::Map(consts.collect()));
                }
                Ok((Expr::Map(entries), Ty::Map))
            }
            ast::Value::Math { left, op, right, span } => {
                let (l, lt) = self.expr(left)?;
                let (r, rt) = self.expr(right)?;
                let ty = math::static_type(lt, *op, rt).map_err(|m| self.err(ErrorKind::Type, m, *span))?;
                self.fold_or(Expr::Math(Box::new((l, *op, r))), ty, *span)
            }
            ast::Value::Neg(inner, span) => {
                let (e, ty) = self.expr(inner)?;
                if !matches!(ty, Ty::Int | Ty::Double | Ty::Any) {
                    return Err(self.err(ErrorKind::Type, format!("unary minus needs a number, got {}", ty.name()), *span));
                }
                self.fold_or(Expr::Neg(Box::new(e)), ty, *span)
            }
        }
    }

    /// Folds `e` if all of its leaves are constants.
    fn fold_or(&self, e: Expr, ty: Ty, span: Span) -> CResult<(Expr, Ty)> {
        if !is_foldable(&e) {
            return Ok((e, ty));
        }
        match fold(&e) {
            Ok(c) => {
                let ty = c.ty();
                Ok((Expr::Const(c), ty))
            }
            Err(err) => Err(self.err(
                ErrorKind::InvalidArgument,
                format!("{} always fails: {err}", self.text(span)),
                span,
            )),
        }
    }

    fn path(&self, p: &ast::Path) -> CResult<(Expr, Ty)> {
        let resolved = paths::resolve(p, self.kind, self.src)?;
        let map_accessor = matches!(
            resolved.acc,
            Accessor::Attributes
                | Accessor::ResourceAttributes
                | Accessor::ScopeAttributes
                | Accessor::EventAttributes
                | Accessor::Cache
        );
        if let (true, Some(ast::Key::Int(_, span))) = (map_accessor, resolved.keys.first()) {
            return Err(self.err(
                ErrorKind::InvalidPath,
                format!(
                    "{} is a map and must be indexed by a string key, e.g. [\"key\"]",
                    p.fields.last().map_or("", |f| f.name.as_str())
                ),
                *span,
            ));
        }
        let keys = self.keys(resolved.keys)?;
        let ty = if keys.is_empty() {
            resolved.acc.ty()
        } else {
            Ty::Any
        };
        Ok((
            Expr::Path(Box::new(PathExpr {
                acc: resolved.acc,
                keys,
            })),
            ty,
        ))
    }

    fn keys(&self, keys: &[ast::Key]) -> CResult<Vec<KeyExpr>> {
        keys.iter()
            .map(|k| {
                Ok(match k {
                    ast::Key::Str(s, _) => KeyExpr::Str(s.clone()),
                    ast::Key::Int(i, _) => KeyExpr::Int(*i),
                    ast::Key::Expr(v) => {
                        let (e, ty) = self.expr(v)?;
                        match e {
                            Expr::Const(Const::Str(s)) => KeyExpr::Str(s),
                            Expr::Const(Const::Int(i)) => KeyExpr::Int(i),
                            e if matches!(ty, Ty::Str | Ty::Int | Ty::Any) => KeyExpr::Dyn(e),
                            _ => {
                                return Err(self.err(
                                    ErrorKind::Type,
                                    format!(
                                        "a key must be a string or an integer, got {}",
                                        ty.name()
                                    ),
                                    v.span(),
                                ));
                            }
                        }
                    }
                })
            })
            .collect()
    }

    fn call(&self, c: &ast::Converter) -> CResult<(Expr, Ty)> {
        let def = self.lookup(c)?;
        let bound = self.bind(def, c)?;
        let mut args: Vec<Option<CallArg>> = Vec::with_capacity(def.params.len());
        for (param, arg) in def.params.iter().zip(bound) {
            args.push(match arg {
                None => None,
                Some(a) => Some(self.arg(def, param, a)?),
            });
        }
        let lit = |i: usize| match args.get(i) {
            Some(Some(CallArg::Expr(Expr::Const(Const::Str(s))))) => Some(s.clone()),
            _ => None,
        };
        let lits = |i: usize| match args.get(i) {
            Some(Some(CallArg::Expr(Expr::Const(Const::List(items))))) => items
                .iter()
                .map(|c| {
                    if let Const::Str(s) = c {
                        Some(s.clone())
                    } else {
                        None
                    }
                })
                .collect(),
            _ => None,
        };
        let data = functions::prepare(def.func, lit, lits).map_err(|(i, msg)| {
            let kind = if matches!(
                def.func,
                functions::Func::IsMatch | functions::Func::ExtractPatterns
            ) {
                ErrorKind::Regex
            } else {
                ErrorKind::InvalidArgument
            };
            let span = c.args.get(i).map_or(c.span, |a| a.value.span());
            self.err(kind, msg, span)
        })?;
        if !c.keys.is_empty() && !matches!(def.ret, Ty::Map | Ty::List | Ty::Any) {
            return Err(self.err(
                ErrorKind::Type,
                format!(
                    "{} returns {}, which cannot be indexed",
                    def.name,
                    def.ret.name()
                ),
                c.keys.first().map_or(c.span, ast::Key::span),
            ));
        }
        let keys = self.keys(&c.keys)?;
        let ty = if keys.is_empty() { def.ret } else { Ty::Any };
        let expr = Expr::Call(Box::new(Call {
            def,
            args,
            data,
            keys,
        }));
        if def.pure_ {
            self.fold_or(expr, ty, c.span)
        } else {
            Ok((expr, ty))
        }
    }

    fn lookup(&self, c: &ast::Converter) -> CResult<&'static FuncDef> {
        let Some(def) = functions::lookup(&c.name) else {
            let msg = if functions::UNSUPPORTED.contains(&c.name.as_str()) {
                format!(
                    "converter {} exists in OTTL but is not supported by meshtrace",
                    c.name
                )
            } else {
                match suggest(&c.name) {
                    Some(s) => format!("undefined function \"{}\" (did you mean {s}?)", c.name),
                    None => format!("undefined function \"{}\"", c.name),
                }
            };
            return Err(self.err(ErrorKind::UnknownFunction, msg, c.name_span));
        };
        if def.span_only && self.kind != ContextKind::Span {
            return Err(self.err(
                ErrorKind::UnknownFunction,
                format!(
                    "{} is only available in the span context, not in {}",
                    def.name, self.kind
                ),
                c.name_span,
            ));
        }
        Ok(def)
    }

    /// Positional arguments fill parameters in order; named ones (after all positional ones)
    /// fill the parameter of that name.
    fn bind<'c>(
        &self,
        def: &FuncDef,
        c: &'c ast::Converter,
    ) -> CResult<Vec<Option<&'c ast::Value>>> {
        let mut bound: Vec<Option<&ast::Value>> = vec![None; def.params.len()];
        let mut seen_named = false;
        let names = || {
            def.params
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (i, arg) in c.args.iter().enumerate() {
            let slot = match &arg.name {
                None if seen_named => {
                    return Err(self.err(
                        ErrorKind::Arguments,
                        format!(
                            "{}: positional arguments must come before named arguments",
                            def.name
                        ),
                        arg.value.span(),
                    ));
                }
                None => {
                    if i >= def.params.len() {
                        return Err(self.err(
                            ErrorKind::Arguments,
                            format!(
                                "{} takes {} argument{} ({}), got {}",
                                def.name,
                                def.params.len(),
                                if def.params.len() == 1 { "" } else { "s" },
                                names(),
                                c.args.len()
                            ),
                            arg.value.span(),
                        ));
                    }
                    i
                }
                Some((name, span)) => {
                    seen_named = true;
                    def.params
                        .iter()
                        .position(|p| p.name == name)
                        .ok_or_else(|| {
                            self.err(
                                ErrorKind::Arguments,
                                format!(
                                    "{} has no parameter named '{name}' (parameters: {})",
                                    def.name,
                                    names()
                                ),
                                *span,
                            )
                        })?
                }
            };
            match bound.get_mut(slot) {
                Some(s @ None) => *s = Some(&arg.value),
                _ => {
                    return Err(self.err(
                        ErrorKind::Arguments,
                        format!(
                            "{}: argument '{}' is given more than once",
                            def.name,
                            def.params.get(slot).map_or("", |p| p.name)
                        ),
                        arg.value.span(),
                    ));
                }
            }
        }
        for (param, arg) in def.params.iter().zip(&bound) {
            if arg.is_none() && !param.optional {
                return Err(self.err(
                    ErrorKind::Arguments,
                    format!(
                        "{} is missing its '{}' argument (parameters: {})",
                        def.name,
                        param.name,
                        names()
                    ),
                    c.span,
                ));
            }
        }
        Ok(bound)
    }

    fn arg(&self, def: &FuncDef, param: &functions::Param, v: &ast::Value) -> CResult<CallArg> {
        let wrong = |ty: Ty, want: &str| {
            self.err(
                ErrorKind::Type,
                format!(
                    "invalid argument '{}' of {}: expected {want} but got {}",
                    param.name,
                    def.name,
                    ty.name()
                ),
                v.span(),
            )
        };
        if let (Kind::Items(_), ast::Value::List(items, _)) = (param.kind, v) {
            let compiled = items
                .iter()
                .map(|i| self.expr(i).map(|(e, _)| e))
                .collect::<CResult<Vec<_>>>()?;
            return Ok(CallArg::Items(compiled));
        }
        let (e, ty) = self.expr(v)?;
        let ok = match param.kind {
            Kind::Any | Kind::StrLike => true,
            Kind::Str => matches!(ty, Ty::Str | Ty::Any),
            Kind::Int => matches!(ty, Ty::Int | Ty::Any),
            Kind::FloatLike => matches!(
                ty,
                Ty::Int | Ty::Double | Ty::Str | Ty::Bool | Ty::Nil | Ty::Any
            ),
            Kind::BytesLike => matches!(
                ty,
                Ty::Bytes | Ty::Str | Ty::Int | Ty::Double | Ty::Bool | Ty::Nil | Ty::Any
            ),
            Kind::Time => matches!(ty, Ty::Time | Ty::Any),
            Kind::Duration => matches!(ty, Ty::Duration | Ty::Any),
            Kind::Map => matches!(ty, Ty::Map | Ty::Any),
            Kind::List | Kind::Items(_) => matches!(ty, Ty::List | Ty::Any),
            Kind::LitStr => matches!(e, Expr::Const(Const::Str(_))),
            Kind::LitBool => matches!(e, Expr::Const(Const::Bool(_))),
            Kind::LitStrs => {
                matches!(&e, Expr::Const(Const::List(items)) if items.iter().all(|i| matches!(i, Const::Str(_))))
            }
        };
        if !ok {
            return Err(match param.kind {
                Kind::LitStr => self.err(
                    ErrorKind::Type,
                    format!(
                        "invalid argument '{}' of {}: must be a string literal",
                        param.name, def.name
                    ),
                    v.span(),
                ),
                Kind::LitBool => self.err(
                    ErrorKind::Type,
                    format!(
                        "invalid argument '{}' of {}: must be true or false",
                        param.name, def.name
                    ),
                    v.span(),
                ),
                Kind::LitStrs => self.err(
                    ErrorKind::Type,
                    format!(
                        "invalid argument '{}' of {}: must be a list of string literals",
                        param.name, def.name
                    ),
                    v.span(),
                ),
                Kind::Str => wrong(ty, "string"),
                Kind::Int => wrong(ty, "int64"),
                Kind::FloatLike => wrong(ty, "a number, string or bool"),
                Kind::BytesLike => wrong(ty, "bytes, string, number or bool"),
                Kind::Time => wrong(ty, "time.Time"),
                Kind::Duration => wrong(ty, "time.Duration"),
                Kind::Map => wrong(ty, "a map"),
                _ => wrong(ty, "a list"),
            });
        }
        Ok(CallArg::Expr(e))
    }
}

/// Folds a list whose terms are all constants. A list with any non-constant term is kept
/// whole, even if a constant decides it, so evaluation errors surface as in Go.
fn fold_all(items: Vec<Cond>, build: fn(Vec<Cond>) -> Cond, decide: fn(&[bool]) -> bool) -> Cond {
    let consts: Vec<bool> = items
        .iter()
        .filter_map(|c| {
            if let Cond::Const(b) = c {
                Some(*b)
            } else {
                None
            }
        })
        .collect();
    if consts.len() == items.len() {
        Cond::Const(decide(&consts))
    } else {
        build(items)
    }
}

fn is_foldable(e: &Expr) -> bool {
    match e {
        Expr::Const(_) => true,
        Expr::Path(_) => false,
        Expr::List(items) => items.iter().all(is_foldable),
        Expr::Map(items) => items.iter().all(|(_, v)| is_foldable(v)),
        Expr::Math(m) => is_foldable(&m.0) && is_foldable(&m.2),
        Expr::Neg(inner) => is_foldable(inner),
        Expr::Call(call) => {
            call.def.pure_
                && call.args.iter().flatten().all(|a| match a {
                    CallArg::Expr(e) => is_foldable(e),
                    CallArg::Items(items) => items.iter().all(is_foldable),
                })
                && call.keys.iter().all(|k| match k {
                    KeyExpr::Dyn(e) => is_foldable(e),
                    _ => true,
                })
        }
    }
}

/// The span and spanevent contexts' enums (`SpanKind`, `StatusCode` from the traces proto).
fn enum_value(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        _ => return None,
    })
}

/// The supported converter closest to `name` (case-insensitive edit distance ≤ 2).
fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    functions::FUNCS
        .iter()
        .map(|d| (edit_distance(&lower, &d.name.to_ascii_lowercase()), d.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}
