//! The configured matchers, compiled once per configuration: drop rules (which requests make
//! no span) and header allow-lists (which headers become attributes).

use crate::config::{DropConfig, PathRule};
use crate::fields::{Fields, parse_decimal};
use crate::glob::Glob;
use crate::route::strip_query;

/// Why a request was dropped (debug logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// `drop.paths`.
    Path,
    /// `drop.user_agents`.
    UserAgent,
    /// `drop.methods`.
    Method,
    /// `drop.hosts`.
    Host,
}

/// `drop`, compiled.
#[derive(Debug, Clone, Default)]
pub struct DropRules {
    exact_paths: Vec<Vec<u8>>,
    prefixes: Vec<Vec<u8>>,
    user_agents: Vec<Glob>,
    methods: Vec<Vec<u8>>,
    hosts: Vec<Glob>,
}

impl DropRules {
    /// Compiles a (validated) `drop` section.
    pub fn new(config: &DropConfig) -> Self {
        let mut rules = DropRules::default();
        for rule in &config.paths {
            match rule {
                PathRule::Exact(p) => rules.exact_paths.push(p.as_bytes().to_vec()),
                PathRule::Prefix(p) => rules.prefixes.push(p.as_bytes().to_vec()),
            }
        }
        rules.user_agents = config.user_agents.iter().map(|p| Glob::new(p)).collect();
        rules.methods = config
            .methods
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect();
        rules.hosts = config
            .hosts
            .iter()
            .map(|p| Glob::new_case_insensitive(p))
            .collect();
        rules
    }

    /// Whether no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.exact_paths.is_empty()
            && self.prefixes.is_empty()
            && self.user_agents.is_empty()
            && self.methods.is_empty()
            && self.hosts.is_empty()
    }

    /// The first rule the request matches.
    pub fn check(&self, request: &Fields) -> Option<DropReason> {
        if self.is_empty() {
            return None;
        }
        if !self.exact_paths.is_empty() || !self.prefixes.is_empty() {
            let path = strip_query(request.first(":path").unwrap_or_default());
            if self.exact_paths.iter().any(|p| p == path)
                || self.prefixes.iter().any(|p| path.starts_with(p))
            {
                return Some(DropReason::Path);
            }
        }
        if !self.user_agents.is_empty()
            && let Some(ua) = request.first("user-agent")
            && self.user_agents.iter().any(|g| g.matches(ua))
        {
            return Some(DropReason::UserAgent);
        }
        if !self.methods.is_empty()
            && let Some(method) = request.first(":method")
            && self.methods.iter().any(|m| m == method)
        {
            return Some(DropReason::Method);
        }
        if !self.hosts.is_empty()
            && let Some(authority) = request.first(":authority")
        {
            let (host, _) = split_authority(authority);
            if self.hosts.iter().any(|g| g.matches(host)) {
                return Some(DropReason::Host);
            }
        }
        None
    }
}

/// Splits `host[:port]` (`[v6]:port` too) into the host (brackets removed) and the port.
pub fn split_authority(authority: &[u8]) -> (&[u8], Option<u16>) {
    if let Some(rest) = authority.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|&b| b == b']') else {
            return (authority, None);
        };
        let host = rest.get(..end).unwrap_or_default();
        let port = rest
            .get(end + 1..)
            .and_then(|p| p.strip_prefix(b":"))
            .and_then(parse_port);
        return (host, port);
    }
    match authority.iter().rposition(|&b| b == b':') {
        // More than one ':' without brackets: a bare IPv6 address, no port.
        Some(i) if authority.iter().filter(|&&b| b == b':').count() == 1 => (
            authority.get(..i).unwrap_or_default(),
            authority.get(i + 1..).and_then(parse_port),
        ),
        _ => (authority, None),
    }
}

fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.len() > 5 {
        return None;
    }
    parse_decimal(digits).and_then(|n| u16::try_from(n).ok())
}

/// Header names a pattern never matches: they carry credentials. Naming one exactly in the
/// allow-list still records it (an explicit choice).
pub fn is_sensitive(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-forwarded-client-cert",
    ];
    const PARTS: &[&str] = &[
        "auth", "token", "secret", "password", "api-key", "apikey", "session",
    ];
    EXACT.iter().any(|e| name.eq_ignore_ascii_case(e))
        || PARTS.iter().any(|p| name.to_ascii_lowercase().contains(p))
}

/// A header allow-list, compiled: exact names and `*` patterns.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    exact: Vec<String>,
    patterns: Vec<Glob>,
}

impl AllowList {
    /// Compiles a (validated) list of lowercase names and patterns.
    pub fn new(entries: &[String]) -> Self {
        let mut list = AllowList::default();
        for e in entries {
            let glob = Glob::new_case_insensitive(e);
            if glob.has_wildcard() {
                list.patterns.push(glob);
            } else if !list.exact.contains(e) {
                list.exact.push(e.to_ascii_lowercase());
            }
        }
        list
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.patterns.is_empty()
    }

    /// Calls `f(name, fields)` once per allowed header present in `fields` (exact names in
    /// configuration order, then pattern matches in the order they arrived). `name` is
    /// lowercase.
    pub fn for_each<'f>(&self, fields: &'f Fields, mut f: impl FnMut(&str, &'f Fields)) {
        for name in &self.exact {
            if fields.contains(name) {
                f(name, fields);
            }
        }
        if self.patterns.is_empty() {
            return;
        }
        for (i, (name, _)) in fields.pairs().enumerate() {
            // Envoy's header names are tokens; one that is not text cannot name an attribute.
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let lower_name_matches = self.patterns.iter().any(|g| g.matches(name.as_bytes()));
            if !lower_name_matches
                || name.starts_with(':')
                || is_sensitive(name)
                || self.exact.iter().any(|e| e.eq_ignore_ascii_case(name))
            {
                continue;
            }
            // Only at the first field of that name: the values are collected together.
            let seen_before = fields
                .pairs()
                .take(i)
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()));
            if !seen_before {
                if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    f(&name.to_ascii_lowercase(), fields);
                } else {
                    f(name, fields);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn request(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    #[test]
    fn drop_rules_table() {
        let config = Config::from_json(
            br#"{"export": {"cluster": "c"}, "drop": {
                "paths": [{"exact": "/healthz"}, {"exact": "/livez"}, {"prefix": "/debug/"}],
                "user_agents": ["kube-probe/*", "GoogleHC/*"],
                "methods": ["OPTIONS"],
                "hosts": ["*.internal", "localhost"]}}"#,
        )
        .unwrap();
        let rules = DropRules::new(&config.drop);
        type Request<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Request, Option<DropReason>)] = &[
            (&[(":path", "/healthz")], Some(DropReason::Path)),
            (&[(":path", "/healthz?full=1")], Some(DropReason::Path)),
            (&[(":path", "/healthz/deep")], None),
            (&[(":path", "/HEALTHZ")], None),
            (&[(":path", "/debug/pprof")], Some(DropReason::Path)),
            (&[(":path", "/debug")], None),
            (
                &[(":path", "/"), ("user-agent", "kube-probe/1.32")],
                Some(DropReason::UserAgent),
            ),
            (&[(":path", "/"), ("user-agent", "curl/8")], None),
            (&[(":method", "OPTIONS")], Some(DropReason::Method)),
            (&[(":method", "options")], None),
            (
                &[(":authority", "db.internal:5432")],
                Some(DropReason::Host),
            ),
            (&[(":authority", "LOCALHOST")], Some(DropReason::Host)),
            (&[(":authority", "example.com")], None),
            (&[], None),
        ];
        for (req, want) in cases {
            assert_eq!(rules.check(&request(req)), *want, "{req:?}");
        }
        assert_eq!(
            DropRules::default().check(&request(&[(":path", "/healthz")])),
            None
        );
    }

    #[test]
    fn authorities() {
        let cases: &[(&str, &str, Option<u16>)] = &[
            ("example.com", "example.com", None),
            ("example.com:8080", "example.com", Some(8080)),
            ("example.com:", "example.com", None),
            ("example.com:99999", "example.com", None),
            ("[::1]:443", "::1", Some(443)),
            ("[::1]", "::1", None),
            ("::1", "::1", None),
            ("[::1", "[::1", None),
        ];
        for (input, host, port) in cases {
            let (h, p) = split_authority(input.as_bytes());
            assert_eq!((h, p), (host.as_bytes(), *port), "{input}");
        }
    }

    #[test]
    fn allow_list_exact_patterns_and_credentials() {
        let list = AllowList::new(&[
            "x-tenant".to_owned(),
            "authorization".to_owned(),
            "x-*".to_owned(),
        ]);
        let fields = request(&[
            (":path", "/"),
            ("x-b", "1"),
            ("authorization", "Bearer t"),
            ("x-api-key", "secret"),
            ("x-b", "2"),
            ("x-tenant", "acme"),
            ("x-session-id", "s"),
            ("X-Upper", "u"),
            ("other", "o"),
        ]);
        let mut got = Vec::new();
        list.for_each(&fields, |name, f| {
            let values: Vec<&[u8]> = f.values(name).collect();
            got.push((name.to_owned(), values.concat()));
        });
        assert_eq!(
            got,
            vec![
                ("x-tenant".to_owned(), b"acme".to_vec()),
                // Named exactly: recorded.
                ("authorization".to_owned(), b"Bearer t".to_vec()),
                ("x-b".to_owned(), b"12".to_vec()),
                ("x-upper".to_owned(), b"u".to_vec()),
            ]
        );
    }

    #[test]
    fn sensitive_names() {
        for name in [
            "authorization",
            "Cookie",
            "x-auth-request-user",
            "x-csrf-token",
            "x-api-key",
            "x-session",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["x-request-id", "user-agent", "x-tenant"] {
            assert!(!is_sensitive(name), "{name}");
        }
    }
}
