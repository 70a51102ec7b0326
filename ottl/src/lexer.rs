//! Tokens of the OTTL grammar, with byte spans into the source.
//!
//! Follows the lexer of `pkg/ottl/grammar.go` in opentelemetry-collector-contrib: `0x…` bytes,
//! floats (`\d*\.\d+([eE][-+]?\d+)?`), integers, double-quoted strings with Go escapes, the
//! keywords `not`, `and`, `or`, `true`, `false`, `nil`, comparison operators, math operators and
//! identifiers. Two deliberate differences, both accepting a superset of what Go accepts:
//! numbers carry no sign (a leading `-`/`+` is a unary operator the parser folds into the literal,
//! as the newest OTTL does), and identifiers are lexed as whole words (`[A-Za-z][A-Za-z0-9_]*`)
//! instead of runs of upper/lowercase pieces.

use crate::ast::{CmpOp, MathOp, Span};
use crate::error::{ErrorKind, ParseError};

/// One token kind. Text-carrying tokens borrow from the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tok<'s> {
    /// `0x` followed by hex digits; the text after `0x`.
    Bytes(&'s str),
    /// A float literal's text.
    Float(&'s str),
    /// An integer literal's text (digits only).
    Int(&'s str),
    /// A string literal's text including its quotes, escapes not yet decoded.
    Str(&'s str),
    Not,
    And,
    Or,
    True,
    False,
    Nil,
    Cmp(CmpOp),
    Math(MathOp),
    /// `=`, used by named arguments.
    Assign,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Colon,
    Comma,
    Dot,
    /// An identifier starting with an uppercase letter: converter, enum or function name.
    Upper(&'s str),
    /// An identifier starting with a lowercase letter: path segment or (misplaced) editor.
    Lower(&'s str),
    Eof,
}

impl Tok<'_> {
    /// How the token is named in "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Bytes(t) => format!("bytes 0x{t}"),
            Tok::Float(t) => format!("float {t}"),
            Tok::Int(t) => format!("integer {t}"),
            Tok::Str(t) => format!("string {t}"),
            Tok::Not => "'not'".into(),
            Tok::And => "'and'".into(),
            Tok::Or => "'or'".into(),
            Tok::True => "'true'".into(),
            Tok::False => "'false'".into(),
            Tok::Nil => "'nil'".into(),
            Tok::Cmp(op) => format!("'{op}'"),
            Tok::Math(op) => format!("'{op}'"),
            Tok::Assign => "'='".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::Colon => "':'".into(),
            Tok::Comma => "','".into(),
            Tok::Dot => "'.'".into(),
            Tok::Upper(t) | Tok::Lower(t) => format!("'{t}'"),
            Tok::Eof => "end of condition".into(),
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub span: Span,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let start = i;
        // Go's `\s` is ASCII: tab, newline, form feed, carriage return and space.
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
            i += 1;
            continue;
        }
        let tok = match c {
            b'0' if bytes.get(i + 1) == Some(&b'x') && is_hex(bytes.get(i + 2)) => {
                i += 2;
                let digits = i;
                while is_hex(bytes.get(i)) {
                    i += 1;
                }
                Tok::Bytes(slice(src, digits, i))
            }
            b'0'..=b'9' | b'.' if starts_number(bytes, i) => lex_number(src, &mut i),
            b'"' => lex_string(src, &mut i)?,
            b'A'..=b'Z' | b'a'..=b'z' => {
                while matches!(
                    bytes.get(i),
                    Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_')
                ) {
                    i += 1;
                }
                keyword_or_ident(slice(src, start, i))
            }
            _ => {
                let (tok, len) = lex_punct(bytes, i).ok_or_else(|| unexpected_char(src, i))?;
                i += len;
                tok
            }
        };
        out.push(Token {
            tok,
            span: Span::new(start, i),
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(src.len(), src.len()),
    });
    Ok(out)
}

fn slice(src: &str, start: usize, end: usize) -> &str {
    src.get(start..end).unwrap_or_default()
}

fn is_hex(b: Option<&u8>) -> bool {
    b.is_some_and(u8::is_ascii_hexdigit)
}

fn is_digit(b: Option<&u8>) -> bool {
    b.is_some_and(u8::is_ascii_digit)
}

/// A digit, or a `.` followed by a digit (`.5` is a float).
fn starts_number(bytes: &[u8], i: usize) -> bool {
    match bytes.get(i) {
        Some(b'.') => is_digit(bytes.get(i + 1)),
        b => is_digit(b),
    }
}

/// Float if the digits are followed by `.digit`, else integer; an exponent only follows a fraction.
fn lex_number<'s>(src: &'s str, i: &mut usize) -> Tok<'s> {
    let bytes = src.as_bytes();
    let start = *i;
    while is_digit(bytes.get(*i)) {
        *i += 1;
    }
    if bytes.get(*i) != Some(&b'.') || !is_digit(bytes.get(*i + 1)) {
        return Tok::Int(slice(src, start, *i));
    }
    *i += 1;
    while is_digit(bytes.get(*i)) {
        *i += 1;
    }
    if matches!(bytes.get(*i), Some(b'e' | b'E')) {
        let mut j = *i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if is_digit(bytes.get(j)) {
            while is_digit(bytes.get(j)) {
                j += 1;
            }
            *i = j;
        }
    }
    Tok::Float(slice(src, start, *i))
}

fn lex_string<'s>(src: &'s str, i: &mut usize) -> Result<Tok<'s>, ParseError> {
    let bytes = src.as_bytes();
    let start = *i;
    *i += 1;
    loop {
        match bytes.get(*i) {
            None => {
                return Err(ParseError::new(
                    ErrorKind::Syntax,
                    "unterminated string literal: no closing '\"'",
                    Span::new(start, src.len()),
                    src,
                ));
            }
            Some(b'"') => {
                *i += 1;
                return Ok(Tok::Str(slice(src, start, *i)));
            }
            Some(b'\\') => {
                // The escaped character may be multi-byte; step over all of it.
                *i += 1;
                let width = src
                    .get(*i..)
                    .and_then(|r| r.chars().next())
                    .map_or(0, char::len_utf8);
                *i += width;
            }
            Some(_) => *i += 1,
        }
    }
}

fn keyword_or_ident(word: &str) -> Tok<'_> {
    match word {
        "not" => Tok::Not,
        "and" => Tok::And,
        "or" => Tok::Or,
        "true" => Tok::True,
        "false" => Tok::False,
        "nil" => Tok::Nil,
        w if w.as_bytes().first().is_some_and(u8::is_ascii_uppercase) => Tok::Upper(w),
        w => Tok::Lower(w),
    }
}

fn lex_punct(bytes: &[u8], i: usize) -> Option<(Tok<'static>, usize)> {
    let next = bytes.get(i + 1).copied();
    let two = |op| Some((Tok::Cmp(op), 2));
    match (bytes.get(i)?, next) {
        (b'=', Some(b'=')) => two(CmpOp::Eq),
        (b'!', Some(b'=')) => two(CmpOp::Ne),
        (b'>', Some(b'=')) => two(CmpOp::Ge),
        (b'<', Some(b'=')) => two(CmpOp::Le),
        (b'>', _) => Some((Tok::Cmp(CmpOp::Gt), 1)),
        (b'<', _) => Some((Tok::Cmp(CmpOp::Lt), 1)),
        (b'=', _) => Some((Tok::Assign, 1)),
        (b'+', _) => Some((Tok::Math(MathOp::Add), 1)),
        (b'-', _) => Some((Tok::Math(MathOp::Sub), 1)),
        (b'*', _) => Some((Tok::Math(MathOp::Mul), 1)),
        (b'/', _) => Some((Tok::Math(MathOp::Div), 1)),
        (b'(', _) => Some((Tok::LParen, 1)),
        (b')', _) => Some((Tok::RParen, 1)),
        (b'[', _) => Some((Tok::LBracket, 1)),
        (b']', _) => Some((Tok::RBracket, 1)),
        (b'{', _) => Some((Tok::LBrace, 1)),
        (b'}', _) => Some((Tok::RBrace, 1)),
        (b':', _) => Some((Tok::Colon, 1)),
        (b',', _) => Some((Tok::Comma, 1)),
        (b'.', _) => Some((Tok::Dot, 1)),
        _ => None,
    }
}

fn unexpected_char(src: &str, i: usize) -> ParseError {
    let ch = src
        .get(i..)
        .and_then(|r| r.chars().next())
        .unwrap_or('\u{fffd}');
    let hint = match ch {
        '\'' => " (OTTL strings use double quotes)",
        '&' | '|' => " (use 'and' / 'or')",
        '!' => " (use 'not' or '!=')",
        _ => "",
    };
    ParseError::new(
        ErrorKind::Syntax,
        format!("unexpected character {ch:?}{hint}"),
        Span::new(i, i + ch.len_utf8()),
        src,
    )
}

/// Decodes a string literal (with its quotes) the way Go's `strconv.Unquote` does.
pub(crate) fn unquote(lit: &str) -> Result<String, &'static str> {
    let inner = lit
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or("string literal must be double-quoted")?;
    if !inner.contains('\\') {
        if inner.contains('\n') {
            return Err("string literal contains a raw newline; use \\n");
        }
        return Ok(inner.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\n' => return Err("string literal contains a raw newline; use \\n"),
            '\\' => {}
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
        }
        let (_, e) = chars
            .next()
            .ok_or("string literal ends with a lone backslash")?;
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        match e {
            'x' => out.push(take_radix(&mut chars, 2, 16)? as u8),
            '0'..='7' => {
                let rest = take_radix(&mut chars, 2, 8)?;
                let v = (e as u32 - '0' as u32) * 64 + rest;
                out.push(u8::try_from(v).map_err(|_| "octal escape value above \\377")?);
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let code = take_radix(&mut chars, n, 16)?;
                let ch = char::from_u32(code).ok_or("escape is not a valid Unicode code point")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err("unknown escape sequence in string literal"),
        }
    }
    String::from_utf8(out).map_err(|_| "string literal escapes do not form valid UTF-8")
}

fn take_radix(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    n: usize,
    radix: u32,
) -> Result<u32, &'static str> {
    let mut v: u32 = 0;
    for _ in 0..n {
        let (_, c) = chars.next().ok_or("escape sequence is too short")?;
        let d = c
            .to_digit(radix)
            .ok_or("invalid digit in escape sequence")?;
        v = v.wrapping_mul(radix).wrapping_add(d);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_follow_the_go_rules() {
        assert_eq!(kinds("1.5"), vec![Tok::Float("1.5"), Tok::Eof]);
        assert_eq!(kinds(".5e-3"), vec![Tok::Float(".5e-3"), Tok::Eof]);
        assert_eq!(kinds("1."), vec![Tok::Int("1"), Tok::Dot, Tok::Eof]);
        assert_eq!(
            kinds("1e5"),
            vec![Tok::Int("1"), Tok::Lower("e5"), Tok::Eof]
        );
        assert_eq!(kinds("0x0aF"), vec![Tok::Bytes("0aF"), Tok::Eof]);
        assert_eq!(
            kinds("0xg"),
            vec![Tok::Int("0"), Tok::Lower("xg"), Tok::Eof]
        );
        assert_eq!(
            kinds("1-1"),
            vec![
                Tok::Int("1"),
                Tok::Math(MathOp::Sub),
                Tok::Int("1"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn keywords_are_whole_words() {
        assert_eq!(
            kinds("not nothing and_x"),
            vec![
                Tok::Not,
                Tok::Lower("nothing"),
                Tok::Lower("and_x"),
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("IsMatch SPAN_KIND_SERVER"),
            vec![
                Tok::Upper("IsMatch"),
                Tok::Upper("SPAN_KIND_SERVER"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn spans_are_byte_offsets() {
        let toks = tokenize("name == \"é\"").unwrap();
        assert_eq!(toks[0].span, Span::new(0, 4));
        assert_eq!(toks[1].span, Span::new(5, 7));
        assert_eq!(toks[2].span, Span::new(8, 12));
    }

    #[test]
    fn unquote_decodes_go_escapes() {
        assert_eq!(unquote(r#""a\"b\\c\n\t""#).unwrap(), "a\"b\\c\n\t");
        assert_eq!(unquote(r#""\x41\101\u00e9\U0001F600""#).unwrap(), "AAé😀");
        assert!(unquote(r#""\q""#).is_err());
        assert!(unquote(r#""\xff""#).is_err(), "invalid UTF-8");
        assert!(unquote("\"a\nb\"").is_err());
        assert!(unquote(r#""\400""#).is_err());
    }

    #[test]
    fn errors_point_at_the_bad_character() {
        let e = tokenize("name == 'x'").unwrap_err();
        assert_eq!(e.span(), Span::new(8, 9));
        assert!(e.message().contains("double quotes"), "{e}");
        let e = tokenize("name == \"abc").unwrap_err();
        assert_eq!(e.span().start, 8);
    }
}
