//! Regular expressions with Go's `regexp` (RE2) semantics on top of the `regex` crate.
//!
//! Both implement RE2 syntax; the differences that matter for telemetry are that Go's Perl
//! classes are ASCII-only (`\d` is `[0-9]`, `\w` is `[0-9A-Za-z_]`, `\s` is `[\t\n\f\r ]`, `\b`
//! is an ASCII word boundary) while the `regex` crate's are Unicode, and that Go supports
//! `\Q…\E` literal quoting. Patterns are rewritten accordingly before compiling, so
//! `IsMatch(attributes["id"], "^\\d+$")` rejects Arabic-Indic digits exactly as the
//! OpenTelemetry Collector does.

use regex::{Regex, RegexBuilder};

/// Limits how large a compiled pattern may become (bytes of compiled program), guarding the
/// collector against pathological patterns in configuration.
const SIZE_LIMIT: usize = 8 << 20;

/// Compiles a Go-syntax (RE2) pattern with Go's semantics, for other Collector features that
/// take regular expressions (the filter processor's `match_type: regexp`, the attributes
/// processor's `pattern`). The error is a one-line description.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| describe(&e))
}

/// The regex crate's message without its multi-line echo of the pattern.
fn describe(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map_or_else(
            || text.clone(),
            |l| l.trim_start_matches("error: ").to_owned(),
        )
}

/// Rewrites Go-only syntax into the `regex` crate's dialect.
pub(crate) fn translate(pattern: &str) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    // Depth of `[...]` classes (the regex crate nests; Go does not, but `[[:alpha:]]` looks nested).
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    return Err("trailing backslash at end of expression".into());
                };
                class_start = false;
                if e == 'Q' {
                    let mut literal = String::new();
                    loop {
                        match chars.next() {
                            None => break,
                            Some('\\') if chars.peek() == Some(&'E') => {
                                chars.next();
                                break;
                            }
                            Some(ch) => literal.push(ch),
                        }
                    }
                    for ch in literal.chars() {
                        push_literal(&mut out, ch, in_class);
                    }
                    continue;
                }
                out.push_str(match (e, in_class) {
                    ('d', false) => "[0-9]",
                    ('D', false) => "[^0-9]",
                    ('w', false) => "[0-9A-Za-z_]",
                    ('W', false) => "[^0-9A-Za-z_]",
                    ('s', false) => "[\\t\\n\\f\\r ]",
                    ('S', false) => "[^\\t\\n\\f\\r ]",
                    ('d', true) => "0-9",
                    ('w', true) => "0-9A-Za-z_",
                    ('s', true) => "\\t\\n\\f\\r ",
                    ('D', true) => "[^0-9]",
                    ('W', true) => "[^0-9A-Za-z_]",
                    ('S', true) => "[^\\t\\n\\f\\r ]",
                    ('b', false) => "(?-u:\\b)",
                    ('B', false) => "(?-u:\\B)",
                    _ => {
                        out.push('\\');
                        out.push(e);
                        continue;
                    }
                });
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // A `]` right after `[` or `[^` is a literal in both dialects.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class `[:alpha:]`: copy through to its closing `:]`.
                out.push('[');
                for ch in chars.by_ref() {
                    out.push(ch);
                    if ch == ']' {
                        break;
                    }
                }
            }
            '[' if in_class => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => {
                if class_start && c == '&'
                    || in_class && (c == '&' || c == '~' || c == '-' && chars.peek() == Some(&'-'))
                {
                    // Characters the regex crate treats as class set operators (`&&`, `--`, `~~`).
                    out.push('\\');
                }
                class_start = false;
                out.push(c);
            }
        }
    }
    Ok(out)
}

fn push_literal(out: &mut String, ch: char, in_class: bool) {
    if in_class {
        if matches!(ch, '\\' | ']' | '[' | '^' | '-' | '&' | '~') {
            out.push('\\');
        }
        out.push(ch);
    } else {
        let mut buf = [0u8; 4];
        out.push_str(&regex::escape(ch.encode_utf8(&mut buf)));
    }
}

#[cfg(test)]
mod tests {
    use super::compile;

    fn is_match(p: &str, s: &str) -> bool {
        compile(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(s)
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(is_match(r"^\d+$", "0123"));
        assert!(!is_match(r"^\d+$", "٣"), "Arabic-Indic digit");
        assert!(!is_match(r"^\w+$", "é"));
        assert!(is_match(r"^\W$", "é"));
        assert!(is_match(r"^[\d_]+$", "1_2"));
        assert!(!is_match(r"^[\w]+$", "é"));
        assert!(is_match(r"^[\D]$", "é"));
        assert!(!is_match(r"^\s$", "\u{a0}"));
        assert!(is_match(r"\bfoo\b", "a foo b"));
        assert!(is_match(r"^\\d$", "\\d"), "escaped backslash stays literal");
    }

    #[test]
    fn go_syntax() {
        assert!(is_match(r"^\Qa.b*\E$", "a.b*"));
        assert!(!is_match(r"^\Qa.b*\E$", "axbb"));
        assert!(is_match(r"^[[:alpha:]]+$", "abc"));
        assert!(is_match(r"^[]a]+$", "]a"));
        assert!(is_match(r"^[a&&b]+$", "a&b"));
        assert!(is_match(r"(?i)^GRAFANA/", "grafana/x"));
        assert!(is_match(r"(?P<x>a)(?<y>b)", "ab"));
        assert!(is_match("grafana/.*", "grafana/loki"));
        assert!(compile("a(").is_err());
        assert!(compile("a\\").is_err());
        assert!(compile("[a").is_err());
    }
}
