//! `*` wildcard patterns, as users write them for user agents (`kube-probe/*`), hosts
//! (`*.internal`) and header names (`x-tenant-*`).
//!
//! `*` matches any run of bytes, including none; every other byte matches itself (ASCII case
//! folded when the pattern is case-insensitive). No other metacharacters: `?` and `[` are
//! literal, so a user agent such as `curl/8.0 (x?)` needs no escaping. Matching is the classic
//! two-pointer walk that backtracks only to the last `*`: linear in practice, `O(n·m)` at
//! worst, with no allocation and no recursion.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<u8>,
    case_insensitive: bool,
}

impl Glob {
    /// A case-sensitive pattern (user agents).
    pub fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.as_bytes().to_vec(),
            case_insensitive: false,
        }
    }

    /// An ASCII case-insensitive pattern (hosts, header names); stored lowercased.
    pub fn new_case_insensitive(pattern: &str) -> Self {
        Glob {
            pattern: pattern.to_ascii_lowercase().into_bytes(),
            case_insensitive: true,
        }
    }

    /// Whether the pattern has a `*`.
    pub fn has_wildcard(&self) -> bool {
        self.pattern.contains(&b'*')
    }

    /// The pattern as written (lowercased when case-insensitive).
    pub fn as_bytes(&self) -> &[u8] {
        &self.pattern
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &[u8]) -> bool {
        let eq = |p: u8, t: u8| {
            if self.case_insensitive {
                p == t.to_ascii_lowercase()
            } else {
                p == t
            }
        };
        let pat = &self.pattern;
        let (mut p, mut t) = (0usize, 0usize);
        // Position of the last `*` seen and the text position it currently absorbs up to.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match (pat.get(p), text.get(t)) {
                (Some(b'*'), _) => {
                    star = Some((p, t));
                    p += 1;
                }
                (Some(&pc), Some(&tc)) if eq(pc, tc) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    // Let the last `*` absorb one more byte and retry after it.
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pat.get(p..)
            .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            ("kube-probe/*", "kube-probe/1.32", true),
            ("kube-probe/*", "kube-probe/", true),
            ("kube-probe/*", "kube-probe", false),
            ("kube-probe/*", "Kube-probe/1.32", false),
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "x", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*b*c", "acb", false),
            ("*.internal", "db.internal", true),
            ("*.internal", "internal", false),
            ("*a", "aaaa", true),
            ("a**", "a", true),
            ("x?y", "x?y", true),
            ("x?y", "xzy", false),
            ("*probe*", "GoogleHC probe/1.0", true),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text.as_bytes()),
                *want,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn case_insensitive_folds_ascii_only() {
        let g = Glob::new_case_insensitive("*.Example.COM");
        assert!(g.matches(b"api.example.com"));
        assert!(g.matches(b"API.EXAMPLE.COM"));
        assert!(!g.matches(b"example.com"));
        assert!(Glob::new_case_insensitive("caf\u{e9}").matches("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn pathological_patterns_stay_fast_enough() {
        let text = vec![b'a'; 4096];
        let pattern = format!("{}b", "*a".repeat(16));
        assert!(!Glob::new(&pattern).matches(&text));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Reference: backtracking over every split.
        fn reference(p: &[u8], t: &[u8]) -> bool {
            match p.split_first() {
                None => t.is_empty(),
                Some((b'*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
                Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
            }
        }

        proptest! {
            #[test]
            fn agrees_with_the_reference(p in "[ab*]{0,8}", t in "[ab]{0,10}") {
                prop_assert_eq!(Glob::new(&p).matches(t.as_bytes()), reference(p.as_bytes(), t.as_bytes()));
            }
        }
    }
}
