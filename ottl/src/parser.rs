//! Recursive-descent parser for OTTL boolean expressions (the `where` clause grammar, which is
//! what filter conditions are), producing an [`ast::BoolExpr`](crate::ast::BoolExpr), and for
//! transform statements (`editor(args…) where condition`, an [`ast::Statement`](crate::ast::Statement)).
//!
//! Like participle in the Go implementation, a boolean term first tries to read a comparison and
//! falls back to a literal boolean, a converter call or a parenthesised expression; when every
//! alternative fails the error that got furthest into the text is reported, with what was expected.

use crate::ast::{Arg, BoolExpr, Converter, Field, Key, MathOp, Path, Span, Statement, Value};
use crate::error::{ErrorKind, ParseError};
use crate::lexer::{Tok, Token, tokenize, unquote};

/// Longest condition accepted, in bytes.
pub const MAX_CONDITION_LEN: usize = 64 * 1024;
/// Deepest nesting of parentheses, calls, lists and maps accepted.
pub const MAX_DEPTH: usize = 64;

/// Parses one condition into its syntax tree (no path or function checks yet).
pub fn parse(src: &str) -> Result<BoolExpr, ParseError> {
    let mut p = Parser::new(src)?;
    if p.peek() == Tok::Eof {
        return Err(p.error_here("expected a condition, found an empty string"));
    }
    let expr = p.or_expr()?;
    if p.peek() != Tok::Eof {
        return Err(p.error_here(format!(
            "expected 'and', 'or' or end of condition, found {}",
            p.peek().describe()
        )));
    }
    Ok(expr)
}

/// Parses one transform statement, `editor(args…) [where condition]`, into its syntax tree.
pub fn parse_statement(src: &str) -> Result<Statement, ParseError> {
    let mut p = Parser::new(src)?;
    let editor = match (p.peek(), p.peek_at(1)) {
        (Tok::Lower(_), Tok::LParen) => p.call()?,
        (Tok::Upper(name), Tok::LParen) => {
            return Err(p.error(
                ErrorKind::UnknownFunction,
                format!("editor names must start with a lowercase letter but got '{name}' (a statement is an editor call, e.g. set(…))"),
                p.span(),
            ));
        }
        (Tok::Eof, _) => return Err(p.error_here("expected a statement, found an empty string")),
        (t, _) => {
            return Err(p.error_here(format!(
                "expected an editor call such as set(…), found {}",
                t.describe()
            )));
        }
    };
    if !editor.keys.is_empty() {
        let span = editor.keys.first().map_or(editor.span, Key::span);
        return Err(p.error(
            ErrorKind::Syntax,
            "an editor's result cannot be indexed",
            span,
        ));
    }
    let condition = match p.peek() {
        Tok::Eof => None,
        Tok::Lower("where") => {
            p.bump();
            if p.peek() == Tok::Eof {
                return Err(p.error_here("expected a condition after 'where'"));
            }
            Some(p.or_expr()?)
        }
        t => {
            return Err(p.error_here(format!(
                "expected 'where' or end of statement, found {}",
                t.describe()
            )));
        }
    };
    if p.peek() != Tok::Eof {
        return Err(p.error_here(format!(
            "expected 'and', 'or' or end of statement, found {}",
            p.peek().describe()
        )));
    }
    Ok(Statement { editor, condition })
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token<'s>>,
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> PResult<Self> {
        if src.len() > MAX_CONDITION_LEN {
            return Err(ParseError::new(
                ErrorKind::Limit,
                format!(
                    "condition is {} bytes long; at most {MAX_CONDITION_LEN} are accepted",
                    src.len()
                ),
                Span::new(0, 0),
                src,
            ));
        }
        Ok(Parser {
            src,
            toks: tokenize(src)?,
            pos: 0,
            depth: 0,
        })
    }

    fn token(&self, at: usize) -> Token<'s> {
        self.toks
            .get(at)
            .or(self.toks.last())
            .copied()
            .unwrap_or(Token {
                tok: Tok::Eof,
                span: Span::new(self.src.len(), self.src.len()),
            })
    }

    fn peek(&self) -> Tok<'s> {
        self.token(self.pos).tok
    }

    fn peek_at(&self, n: usize) -> Tok<'s> {
        self.token(self.pos + n).tok
    }

    fn span(&self) -> Span {
        self.token(self.pos).span
    }

    /// The span of the last consumed token.
    fn prev_span(&self) -> Span {
        self.token(self.pos.saturating_sub(1)).span
    }

    fn bump(&mut self) -> Token<'s> {
        let t = self.token(self.pos);
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: Tok<'_>) -> bool {
        if self.peek() == tok {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok<'_>, what: &str) -> PResult<Span> {
        if self.peek() == tok {
            Ok(self.bump().span)
        } else {
            Err(self.error_here(format!("expected {what}, found {}", self.peek().describe())))
        }
    }

    fn error_here(&self, msg: impl Into<String>) -> ParseError {
        self.error(ErrorKind::Syntax, msg, self.span())
    }

    fn error(&self, kind: ErrorKind, msg: impl Into<String>, span: Span) -> ParseError {
        ParseError::new(kind, msg, span, self.src)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                ErrorKind::Limit,
                format!("condition is nested more than {MAX_DEPTH} levels deep"),
                self.span(),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // === Boolean expressions ===

    fn or_expr(&mut self) -> PResult<BoolExpr> {
        let first = self.and_expr()?;
        if self.peek() != Tok::Or {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(Tok::Or) {
            items.push(self.and_expr()?);
        }
        Ok(BoolExpr::Or(items))
    }

    fn and_expr(&mut self) -> PResult<BoolExpr> {
        let first = self.bool_value()?;
        if self.peek() != Tok::And {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(Tok::And) {
            items.push(self.bool_value()?);
        }
        Ok(BoolExpr::And(items))
    }

    fn bool_value(&mut self) -> PResult<BoolExpr> {
        self.enter()?;
        let result = self.bool_value_inner();
        self.leave();
        result
    }

    fn bool_value_inner(&mut self) -> PResult<BoolExpr> {
        if self.peek() == Tok::Not {
            let not_span = self.bump().span;
            if self.peek() == Tok::Not {
                return Err(self.error_here("'not' cannot follow 'not'; write not (not …)"));
            }
            let inner = self.bool_alternatives()?;
            return Ok(BoolExpr::Not(Box::new(inner), not_span));
        }
        self.bool_alternatives()
    }

    /// comparison | true | false | Converter(…) | '(' expr ')', keeping the furthest error.
    fn bool_alternatives(&mut self) -> PResult<BoolExpr> {
        let (start, depth) = (self.pos, self.depth);
        let cmp_err = match self.comparison() {
            Ok(e) => return Ok(e),
            Err(e) if e.kind() == ErrorKind::Limit || e.kind() == ErrorKind::Literal => {
                return Err(e);
            }
            Err(e) => e,
        };
        // Backtrack: the failed attempt may have stopped inside nested calls.
        self.pos = start;
        self.depth = depth;
        let alt = match self.peek() {
            Tok::True | Tok::False => {
                let t = self.bump();
                return Ok(BoolExpr::Const(t.tok == Tok::True, t.span));
            }
            Tok::Upper(_) if self.peek_at(1) == Tok::LParen => {
                self.converter().map(BoolExpr::Converter)
            }
            Tok::LParen => {
                self.bump();
                self.or_expr().and_then(|e| {
                    self.expect(Tok::RParen, "')' or a comparison operator")?;
                    Ok(e)
                })
            }
            _ => return Err(cmp_err),
        };
        match alt {
            Ok(e) => Ok(e),
            Err(alt_err)
                if alt_err.kind() == ErrorKind::Limit
                    || alt_err.span().start > cmp_err.span().start =>
            {
                Err(alt_err)
            }
            Err(_) => Err(cmp_err),
        }
    }

    fn comparison(&mut self) -> PResult<BoolExpr> {
        let left = self.value(false)?;
        let (op, op_span) = match self.peek() {
            Tok::Cmp(op) => (op, self.bump().span),
            Tok::Assign => {
                return Err(self
                    .error_here("expected a comparison operator, found '='; use '==' to compare"));
            }
            t => {
                return Err(self.error_here(format!(
                    "expected a comparison operator (==, !=, <, <=, >, >=) after {}, found {}",
                    self.src
                        .get(left.span().start..left.span().end)
                        .unwrap_or("value"),
                    t.describe()
                )));
            }
        };
        let right = self.value(false)?;
        Ok(BoolExpr::Compare {
            left,
            op,
            op_span,
            right,
        })
    }

    // === Values ===

    /// Any value. `in_args` allows a bare function name (`SHA256` as an argument).
    fn value(&mut self, in_args: bool) -> PResult<Value> {
        self.enter()?;
        let result = self.value_inner(in_args);
        self.leave();
        result
    }

    fn value_inner(&mut self, in_args: bool) -> PResult<Value> {
        let span = self.span();
        match self.peek() {
            Tok::Nil => {
                self.bump();
                Ok(Value::Nil(span))
            }
            Tok::True | Tok::False => {
                let t = self.bump();
                Ok(Value::Bool(t.tok == Tok::True, span))
            }
            Tok::Str(raw) => {
                self.bump();
                let s = unquote(raw).map_err(|m| self.error(ErrorKind::Literal, m, span))?;
                Ok(Value::Str(s, span))
            }
            Tok::Bytes(hex) => {
                self.bump();
                decode_hex(hex)
                    .map(|b| Value::Bytes(b, span))
                    .ok_or_else(|| {
                        self.error(
                            ErrorKind::Literal,
                            "byte literal 0x… must have an even number of hex digits",
                            span,
                        )
                    })
            }
            Tok::LBracket => self.list(),
            Tok::LBrace => self.map(),
            Tok::Upper(name) if self.peek_at(1) != Tok::LParen => {
                self.bump();
                if name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                {
                    Ok(Value::Enum(name.to_owned(), span))
                } else if in_args {
                    Ok(Value::FuncName(name.to_owned(), span))
                } else {
                    Err(self.error(
                        ErrorKind::Syntax,
                        format!("expected '(' after converter name '{name}'"),
                        self.span(),
                    ))
                }
            }
            _ => self.math_expr(),
        }
    }

    /// Each operator deepens the (left-leaning) tree, so each counts against the nesting limit.
    fn math_expr(&mut self) -> PResult<Value> {
        let depth = self.depth;
        let result = self.math_chain(true);
        self.depth = depth;
        result
    }

    fn math_chain(&mut self, additive: bool) -> PResult<Value> {
        let mut left = if additive {
            self.math_term()?
        } else {
            self.math_value()?
        };
        loop {
            let op = match self.peek() {
                Tok::Math(op @ (MathOp::Add | MathOp::Sub)) if additive => op,
                Tok::Math(op @ (MathOp::Mul | MathOp::Div)) if !additive => op,
                _ => return Ok(left),
            };
            self.enter()?;
            self.bump();
            let right = if additive {
                self.math_term()?
            } else {
                self.math_value()?
            };
            let span = left.span().to(right.span());
            left = Value::Math {
                left: Box::new(left),
                op,
                right: Box::new(right),
                span,
            };
        }
    }

    fn math_term(&mut self) -> PResult<Value> {
        let depth = self.depth;
        let result = self.math_chain(false);
        self.depth = depth;
        result
    }

    /// `[+|-] (literal | path | converter | '(' math ')')`; a sign on a number folds into it.
    fn math_value(&mut self) -> PResult<Value> {
        let sign = match self.peek() {
            Tok::Math(op @ (MathOp::Add | MathOp::Sub)) => Some((op, self.bump().span)),
            _ => None,
        };
        let negative = matches!(sign, Some((MathOp::Sub, _)));
        let start = sign.map_or(self.span(), |(_, s)| s);
        match self.peek() {
            Tok::Int(text) => {
                let span = start.to(self.bump().span);
                let signed = if negative {
                    format!("-{text}")
                } else {
                    text.to_owned()
                };
                parse_go_int(&signed)
                    .map(|i| Value::Int(i, span))
                    .ok_or_else(|| {
                        self.error(
                            ErrorKind::Literal,
                            format!("invalid integer {signed}: out of range or bad octal digits"),
                            span,
                        )
                    })
            }
            Tok::Float(text) => {
                let span = start.to(self.bump().span);
                // Like Go's strconv.ParseFloat, a value beyond float64's range is an error, not ±Inf.
                let x: f64 = text
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .ok_or_else(|| {
                        self.error(
                            ErrorKind::Literal,
                            format!("invalid float {text}: value out of range"),
                            span,
                        )
                    })?;
                Ok(Value::Float(if negative { -x } else { x }, span))
            }
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let inner = self.math_expr()?;
                self.leave();
                self.expect(Tok::RParen, "')'")?;
                Ok(negate(inner, negative, start.to(self.prev_span())))
            }
            Tok::Lower(_) => {
                let v = if self.peek_at(1) == Tok::LParen {
                    self.editor_error()?
                } else {
                    Value::Path(self.path()?)
                };
                let span = start.to(v.span());
                Ok(negate(v, negative, span))
            }
            Tok::Upper(_) if self.peek_at(1) == Tok::LParen => {
                let v = Value::Converter(self.converter()?);
                let span = start.to(v.span());
                Ok(negate(v, negative, span))
            }
            t => Err(self.error_here(format!("expected a value, found {}", t.describe()))),
        }
    }

    /// `isMatch(…)`: lowercase calls are editors, which conditions cannot contain.
    fn editor_error(&mut self) -> PResult<Value> {
        let t = self.bump();
        let name = match t.tok {
            Tok::Lower(n) => n,
            _ => "",
        };
        Err(self.error(
            ErrorKind::UnknownFunction,
            format!("converter names must start with an uppercase letter but got '{name}' (editors cannot be used in conditions)"),
            t.span,
        ))
    }

    fn path(&mut self) -> PResult<Path> {
        let mut fields = Vec::new();
        loop {
            let t = self.bump();
            let Tok::Lower(name) = t.tok else {
                let msg = match t.tok {
                    Tok::Upper(n) => {
                        format!("path segments must start with a lowercase letter, found '{n}'")
                    }
                    other => format!(
                        "expected a path segment after '.', found {}",
                        other.describe()
                    ),
                };
                return Err(self.error(ErrorKind::Syntax, msg, t.span));
            };
            if !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(self.error(
                    ErrorKind::Syntax,
                    format!(
                        "path segment '{name}' may only contain lowercase letters, digits and '_'"
                    ),
                    t.span,
                ));
            }
            let keys = self.keys()?;
            fields.push(Field {
                name: name.to_owned(),
                keys,
                span: t.span,
            });
            if !self.eat(Tok::Dot) {
                break;
            }
        }
        let start = fields.first().map_or(self.span(), |f| f.span);
        Ok(Path {
            fields,
            span: start.to(self.prev_span()),
        })
    }

    fn keys(&mut self) -> PResult<Vec<Key>> {
        let mut keys = Vec::new();
        while self.peek() == Tok::LBracket {
            self.bump();
            self.enter()?;
            let key = match self.peek() {
                Tok::Str(raw) => {
                    let span = self.bump().span;
                    Key::Str(
                        unquote(raw).map_err(|m| self.error(ErrorKind::Literal, m, span))?,
                        span,
                    )
                }
                Tok::Int(_)
                | Tok::Float(_)
                | Tok::Lower(_)
                | Tok::Upper(_)
                | Tok::LParen
                | Tok::Math(_) => match self.math_expr()? {
                    Value::Int(i, span) => Key::Int(i, span),
                    v => Key::Expr(Box::new(v)),
                },
                t => {
                    return Err(self.error_here(format!(
                        "expected a string key, an integer index or an expression inside '[ ]', found {}",
                        t.describe()
                    )));
                }
            };
            self.leave();
            self.expect(Tok::RBracket, "']'")?;
            keys.push(key);
        }
        Ok(keys)
    }

    fn converter(&mut self) -> PResult<Converter> {
        if !matches!(self.peek(), Tok::Upper(_)) {
            return Err(self.error_here("expected a converter name"));
        }
        self.call()
    }

    /// `name(args…)[keys…]`: a converter (uppercase) or, at the start of a statement, an editor.
    fn call(&mut self) -> PResult<Converter> {
        let t = self.bump();
        let (Tok::Upper(name) | Tok::Lower(name)) = t.tok else {
            return Err(self.error(ErrorKind::Syntax, "expected a function name", t.span));
        };
        self.expect(Tok::LParen, "'('")?;
        self.enter()?;
        let mut args = Vec::new();
        if !self.eat(Tok::RParen) {
            loop {
                args.push(self.arg()?);
                if self.eat(Tok::RParen) {
                    break;
                }
                self.expect(
                    Tok::Comma,
                    &format!("',' or ')' in the arguments of {name}"),
                )?;
            }
        }
        self.leave();
        let keys = self.keys()?;
        Ok(Converter {
            name: name.to_owned(),
            name_span: t.span,
            args,
            keys,
            span: t.span.to(self.prev_span()),
        })
    }

    fn arg(&mut self) -> PResult<Arg> {
        let name = match (self.peek(), self.peek_at(1)) {
            (Tok::Lower(n), Tok::Assign) => {
                let span = self.bump().span;
                self.bump();
                Some((n.to_owned(), span))
            }
            _ => None,
        };
        Ok(Arg {
            name,
            value: self.value(true)?,
        })
    }

    /// Go's grammar: `'[' value* (',' value)* ']'`, so `[1, 2]` and also `[1 2]`.
    fn list(&mut self) -> PResult<Value> {
        let start = self.bump().span;
        self.enter()?;
        let mut items = Vec::new();
        while !matches!(self.peek(), Tok::Comma | Tok::RBracket | Tok::Eof) {
            items.push(self.value(false)?);
        }
        while self.eat(Tok::Comma) {
            items.push(self.value(false)?);
        }
        self.leave();
        let end = self.expect(Tok::RBracket, "',' or ']' in list")?;
        Ok(Value::List(items, start.to(end)))
    }

    /// Go's grammar: `'{' (String ':' value ','?)* '}'`.
    fn map(&mut self) -> PResult<Value> {
        let start = self.bump().span;
        self.enter()?;
        let mut items = Vec::new();
        while let Tok::Str(raw) = self.peek() {
            let span = self.bump().span;
            let key = unquote(raw).map_err(|m| self.error(ErrorKind::Literal, m, span))?;
            self.expect(Tok::Colon, "':' after map key")?;
            items.push((key, self.value(false)?));
            self.eat(Tok::Comma);
        }
        self.leave();
        let end = self.expect(Tok::RBrace, "a string key or '}' in map")?;
        Ok(Value::Map(items, start.to(end)))
    }
}

fn negate(v: Value, negative: bool, span: Span) -> Value {
    if negative {
        Value::Neg(Box::new(v), span)
    } else {
        v
    }
}

/// Integer literals are read like participle does, with Go's `strconv.ParseInt(s, 0, 64)`: a
/// leading `0` means octal (`010` is 8).
fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let (radix, body) = match digits.strip_prefix('0') {
        Some(rest) if !rest.is_empty() => (8, rest),
        _ => (10, digits),
    };
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(src: &str) -> String {
        parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .to_string()
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(
            roundtrip(r#"attributes["http.route"]=="/livez""#),
            r#"attributes["http.route"] == "/livez""#
        );
        assert_eq!(
            roundtrip("a == 1 or b == 2 and not c == 3"),
            "a == 1 or b == 2 and not c == 3"
        );
        assert_eq!(
            roundtrip("(a == 1 or b == 2) and c == 3"),
            "(a == 1 or b == 2) and c == 3"
        );
        assert_eq!(roundtrip("x == (1 + 2) * -3"), "x == (1 + 2) * -3");
        assert_eq!(roundtrip("x == 1 - (2 - 3)"), "x == 1 - (2 - 3)");
        assert_eq!(roundtrip("x == -(a + 1)"), "x == -(a + 1)");
        assert_eq!(roundtrip("x == 1.0e300"), "x == 1.0e300");
        assert_eq!(
            roundtrip(r#"Split(name, ",")[0] == "a""#),
            r#"Split(name, ",")[0] == "a""#
        );
        assert_eq!(
            roundtrip("IsMatch(name, pattern = \"a\\\"b\")"),
            "IsMatch(name, pattern = \"a\\\"b\")"
        );
        assert_eq!(
            roundtrip("[1 2, 3] == {\"a\": 1 \"b\": 2,}"),
            "[1, 2, 3] == {\"a\": 1, \"b\": 2}"
        );
    }

    #[test]
    fn folds_signs_and_reads_octal() {
        assert_eq!(roundtrip("x == -010"), "x == -8");
        assert_eq!(
            roundtrip("x == -9223372036854775808"),
            "x == -9223372036854775808"
        );
        assert_eq!(roundtrip("x == + 5"), "x == 5");
        assert!(parse("x == 9223372036854775808").is_err());
        assert!(parse("x == 09").is_err());
    }

    #[test]
    fn reports_furthest_error() {
        let e = parse("name = \"x\"").unwrap_err();
        assert_eq!(e.span(), Span::new(5, 6));
        assert!(e.message().contains("use '=='"), "{e}");
        let e = parse("IsMatch(name, \"a\"").unwrap_err();
        assert_eq!(e.span().start, 17, "{e}");
        let e = parse("isMatch(name, \"a\")").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownFunction);
        assert!(e.message().contains("'isMatch'"), "{e}");
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!("{}a == 1{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(parse(&deep).unwrap_err().kind(), ErrorKind::Limit);
        let ok = format!("{}a == 1{}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&ok).is_ok());
        let long_math = format!("x == 1{}", " + 1".repeat(500));
        assert_eq!(parse(&long_math).unwrap_err().kind(), ErrorKind::Limit);
        let deep_math = format!("x == {}1{}", "(".repeat(500), ")".repeat(500));
        assert_eq!(parse(&deep_math).unwrap_err().kind(), ErrorKind::Limit);
        let deep_keys = format!("x{} == 1", "[x".repeat(500));
        assert_eq!(parse(&deep_keys).unwrap_err().kind(), ErrorKind::Limit);
        let deep_lists = format!("x == {}", "[".repeat(500));
        assert_eq!(parse(&deep_lists).unwrap_err().kind(), ErrorKind::Limit);
    }
}
