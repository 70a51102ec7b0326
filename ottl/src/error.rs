//! Errors: [`ParseError`] at compile (`validate`) time, with a position, and [`EvalError`] per
//! span at run time, which the filter processor maps through its `error_mode`.

use std::fmt;

use crate::ast::Span;

/// What kind of problem a [`ParseError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text does not follow the OTTL grammar (unexpected token, unterminated string…).
    Syntax,
    /// A literal is malformed: integer out of range, bad escape, odd-length `0x…` bytes.
    Literal,
    /// The path does not exist in this context (`attributes[test]`, `span.foo`, `metric.name`).
    UnknownPath,
    /// A path that exists but cannot be used this way (keys on `name`, a struct used as a value).
    InvalidPath,
    /// The function is not a known converter, or is not available in this context.
    UnknownFunction,
    /// Wrong number, order or names of arguments.
    Arguments,
    /// A value has a type that can never work where it is used (`IsMatch(1, 2)`, `"a" + 1`).
    Type,
    /// A regular expression does not compile (RE2 syntax).
    Regex,
    /// An enum symbol that this context does not define.
    UnknownEnum,
    /// A literal argument with an invalid value (unknown case name, bad CIDR, bad duration).
    InvalidArgument,
    /// The condition is too long or nested too deeply.
    Limit,
}

/// A condition that cannot be compiled, with the byte span and line/column it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    kind: ErrorKind,
    message: String,
    span: Span,
    line: usize,
    column: usize,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>, span: Span, src: &str) -> Self {
        let (line, column) = line_column(src, span.start);
        Self {
            kind,
            message: message.into(),
            span,
            line,
            column,
        }
    }

    /// The kind of problem.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What is wrong and, where it helps, what was expected instead.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte range of the offending text in the condition.
    pub fn span(&self) -> Span {
        self.span
    }

    /// 1-based line of the start of the span.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column (in characters) of the start of the span.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The message followed by the condition's line and a caret under the offending text, for
    /// people reading `validate` output.
    pub fn render(&self, src: &str) -> String {
        let line_start = src
            .get(..self.span.start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |p| p + 1);
        let line_end = src
            .get(line_start..)
            .and_then(|s| s.find('\n'))
            .map_or(src.len(), |p| line_start + p);
        let text = src.get(line_start..line_end).unwrap_or_default();
        let pad = " ".repeat(self.column.saturating_sub(1));
        let width = src
            .get(self.span.start..self.span.end.min(line_end).max(self.span.start))
            .map_or(1, |s| s.chars().count().max(1));
        format!("{self}\n  {text}\n  {pad}{}", "^".repeat(width))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Why evaluating a condition against one span failed. The filter processor applies its
/// `error_mode`: `propagate` fails the batch, `ignore` logs and treats the condition as false,
/// `silent` treats it as false.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A converter or operator got a value of a type it cannot handle.
    #[error("{function}: {message}")]
    Type {
        /// The converter or operator (`IsMatch`, `+`, `index`).
        function: &'static str,
        /// What was expected and what was found.
        message: String,
    },
    /// A converter got a value of the right type that it still cannot process
    /// (`Substring` out of range, `TraceID` of the wrong length, `Duration` that does not parse).
    #[error("{function}: {message}")]
    Invalid {
        /// The converter.
        function: &'static str,
        /// What was wrong with the value.
        message: String,
    },
    /// Division by zero in a math expression.
    #[error("attempted to divide by 0")]
    DivideByZero,
    /// A key or index could not be applied (`index 3 out of bounds`, `key not found in map`).
    #[error("{0}")]
    Index(String),
    /// A converter used as a condition returned something other than a boolean.
    #[error("value returned from Converter in constant expression must be bool but got {0}")]
    NotBool(&'static str),
}

impl EvalError {
    pub(crate) fn ty(function: &'static str, message: impl Into<String>) -> Self {
        Self::Type {
            function,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(function: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            function,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "name == \"é\" and\n  kind == 1x";
        let e = ParseError::new(ErrorKind::Syntax, "boom", Span::new(27, 28), src);
        assert_eq!((e.line(), e.column()), (2, 11));
        assert_eq!(e.to_string(), "2:11: boom");
        assert_eq!(e.render(src), "2:11: boom\n    kind == 1x\n            ^");
    }
}
