//! Glob patterns of `replace_match` and `replace_all_matches` (Go's `gobwas/glob` without
//! separators): `*` any text, `?` one character, `[abc]`, `[a-z]`, `[!abc]`, `{a,b}`
//! alternatives (nestable), `\` quoting the next character. Compiled to an anchored regex.

use regex::Regex;

/// The regex matching exactly the strings the glob matches.
pub(crate) fn compile(glob: &str) -> Result<Regex, String> {
    let mut out = String::from("(?s)^");
    let mut chars = glob.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(q) => push_literal(&mut out, q),
                None => return Err("pattern ends with an unfinished escape '\\'".into()),
            },
            '[' => {
                out.push('[');
                let mut first = true;
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        ']' if !first => {
                            closed = true;
                            break;
                        }
                        '!' if first => out.push('^'),
                        '\\' => match chars.next() {
                            Some(q) => push_class_literal(&mut out, q),
                            None => {
                                return Err("pattern ends with an unfinished escape '\\'".into());
                            }
                        },
                        '-' => out.push('-'),
                        c => push_class_literal(&mut out, c),
                    }
                    first = false;
                }
                if !closed {
                    return Err("unclosed character class '['".into());
                }
                out.push(']');
            }
            '{' => {
                depth += 1;
                out.push_str("(?:");
            }
            ',' if depth > 0 => out.push('|'),
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            c => push_literal(&mut out, c),
        }
    }
    if depth > 0 {
        return Err("unclosed alternatives '{'".into());
    }
    out.push('$');
    Regex::new(&out).map_err(|e| e.to_string())
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

fn push_class_literal(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::compile;

    #[test]
    fn globs_match_as_gobwas() {
        for (glob, yes, no) in [
            ("*", &["", "anything/at all"][..], &[][..]),
            ("/api/*", &["/api/", "/api/v1/users"], &["/apix", "/health"]),
            ("user-?", &["user-1", "user-é"], &["user-", "user-12"]),
            ("[abc]x", &["ax", "cx"], &["dx", "x"]),
            ("[!abc]x", &["dx"], &["ax"]),
            ("[a-c]", &["b"], &["d"]),
            ("{GET,POST} /*", &["GET /a", "POST /"], &["PUT /a"]),
            ("{a,b{c,d}}", &["a", "bc", "bd"], &["b", "ac"]),
            ("\\*lit\\?", &["*lit?"], &["xlit?", "*lity"]),
            ("a.b(c)+", &["a.b(c)+"], &["axb(c)+", "a.bcc"]),
            ("line*", &["line1\nline2"], &["lin"]),
        ] {
            let re = compile(glob).unwrap_or_else(|e| panic!("{glob}: {e}"));
            for s in yes {
                assert!(re.is_match(s), "{glob} should match {s:?}");
            }
            for s in no {
                assert!(!re.is_match(s), "{glob} should not match {s:?}");
            }
        }
    }

    #[test]
    fn bad_globs_are_errors() {
        for (glob, want) in [
            ("[abc", "unclosed character class"),
            ("{a,b", "unclosed alternatives"),
            ("abc\\", "unfinished escape"),
        ] {
            assert!(compile(glob).unwrap_err().contains(want), "{glob}");
        }
    }
}
