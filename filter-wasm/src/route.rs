//! Route templates: low-cardinality names for request paths (`/users/{id}`), used as the
//! span's `http.route` and in its name (`GET /users/{id}`), as the OpenTelemetry HTTP
//! conventions ask. Envoy knows no path templates (its route names are free text), so users
//! list them in `span.routes`; the first match wins.
//!
//! Syntax, one template per string:
//! - it starts with `/`; segments are separated by `/`;
//! - a literal segment matches itself exactly (case-sensitive, as paths are);
//! - `{name}` matches exactly one non-empty segment;
//! - a final `*` segment matches the rest of the path, including nothing (`/static/*`).
//!
//! The path is matched without its query string or fragment.

use std::fmt;

/// One parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate {
    text: String,
    segments: Vec<Segment>,
    rest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

/// Why a template is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// It does not start with `/`.
    NotAbsolute,
    /// Two `/` in a row, or a `/` at the end after other segments.
    EmptySegment,
    /// `{` without `}`, `}` without `{`, braces mixed with text, or an empty `{}`.
    BadParameter,
    /// `*` anywhere but as the whole last segment.
    BadWildcard,
    /// `?` or `#`: templates match the path only.
    QueryOrFragment,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteError::NotAbsolute => "must start with /",
            RouteError::EmptySegment => "has an empty segment (// or a trailing /)",
            RouteError::BadParameter => "parameters are whole segments such as {id}",
            RouteError::BadWildcard => "* is only allowed as the whole last segment (/static/*)",
            RouteError::QueryOrFragment => "must not contain ? or # (templates match the path)",
        })
    }
}

impl RouteTemplate {
    /// Parses one template.
    pub fn parse(text: &str) -> Result<Self, RouteError> {
        let Some(body) = text.strip_prefix('/') else {
            return Err(RouteError::NotAbsolute);
        };
        if text.contains(['?', '#']) {
            return Err(RouteError::QueryOrFragment);
        }
        let mut segments = Vec::new();
        let mut rest = false;
        if !body.is_empty() {
            let parts: Vec<&str> = body.split('/').collect();
            let last = parts.len() - 1;
            for (i, part) in parts.into_iter().enumerate() {
                if rest {
                    return Err(RouteError::BadWildcard);
                }
                if part.is_empty() {
                    return Err(RouteError::EmptySegment);
                }
                if part == "*" {
                    if i != last {
                        return Err(RouteError::BadWildcard);
                    }
                    rest = true;
                    continue;
                }
                if part.contains('*') {
                    return Err(RouteError::BadWildcard);
                }
                let opens = part.matches('{').count();
                let closes = part.matches('}').count();
                match (opens, closes) {
                    (0, 0) => segments.push(Segment::Literal(part.to_owned())),
                    (1, 1) if part.len() > 2 && part.starts_with('{') && part.ends_with('}') => {
                        segments.push(Segment::Param)
                    }
                    _ => return Err(RouteError::BadParameter),
                }
            }
        }
        Ok(RouteTemplate {
            text: text.to_owned(),
            segments,
            rest,
        })
    }

    /// The template as written: the value of `http.route`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` (query string and fragment ignored) matches.
    pub fn matches(&self, path: &[u8]) -> bool {
        let path = strip_query(path);
        let Some(body) = path.strip_prefix(b"/") else {
            return false;
        };
        let mut parts = body.split(|&b| b == b'/');
        if body.is_empty() {
            // "/" has no segment: only "/" and "/*" match it.
            return self.segments.is_empty();
        }
        for segment in &self.segments {
            let Some(part) = parts.next() else {
                return false;
            };
            let ok = match segment {
                Segment::Literal(lit) => part == lit.as_bytes(),
                Segment::Param => !part.is_empty(),
            };
            if !ok {
                return false;
            }
        }
        self.rest || parts.next().is_none()
    }
}

/// The path without `?query` and `#fragment`.
pub fn strip_query(path: &[u8]) -> &[u8] {
    match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => path.get(..end).unwrap_or(path),
        None => path,
    }
}

/// The configured templates, tried in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes(Vec<RouteTemplate>);

impl Routes {
    /// Parses every template; the error carries the index of the first bad one.
    pub fn parse<S: AsRef<str>>(templates: &[S]) -> Result<Self, (usize, RouteError)> {
        templates
            .iter()
            .enumerate()
            .map(|(i, t)| RouteTemplate::parse(t.as_ref()).map_err(|e| (i, e)))
            .collect::<Result<Vec<_>, _>>()
            .map(Routes)
    }

    /// The first template matching `path`.
    pub fn find(&self, path: &[u8]) -> Option<&RouteTemplate> {
        self.0.iter().find(|t| t.matches(path))
    }

    /// The index of the first template matching `path`.
    pub fn position(&self, path: &[u8]) -> Option<usize> {
        self.0.iter().position(|t| t.matches(path))
    }

    /// The template at `index`.
    pub fn get(&self, index: usize) -> Option<&RouteTemplate> {
        self.0.get(index)
    }

    /// Whether no template is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("/users/{id}", "/users/42", true),
            ("/users/{id}", "/users/42?x=1", true),
            ("/users/{id}", "/users/42#top", true),
            ("/users/{id}", "/users/", false),
            ("/users/{id}", "/users/42/", false),
            ("/users/{id}", "/users/42/orders", false),
            ("/users/{id}", "/users", false),
            ("/users/{id}/orders/{order}", "/users/1/orders/2", true),
            ("/static/*", "/static/", true),
            ("/static/*", "/static/css/site.css", true),
            ("/static/*", "/static", true),
            ("/static/*", "/statics/x", false),
            ("/", "/", true),
            ("/", "/x", false),
            ("/*", "/", true),
            ("/*", "/anything/at/all", true),
            ("/api/v1/{x}", "/API/v1/a", false),
            ("/a", "a", false),
            ("/a", "", false),
        ];
        for (template, path, want) in cases {
            let t = RouteTemplate::parse(template).unwrap();
            assert_eq!(t.matches(path.as_bytes()), *want, "{template} vs {path}");
        }
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, RouteError)] = &[
            ("users", RouteError::NotAbsolute),
            ("", RouteError::NotAbsolute),
            ("/a//b", RouteError::EmptySegment),
            ("/a/", RouteError::EmptySegment),
            ("/a/{", RouteError::BadParameter),
            ("/a/{}", RouteError::BadParameter),
            ("/a/x{id}", RouteError::BadParameter),
            ("/a/{id}}", RouteError::BadParameter),
            ("/a/*/b", RouteError::BadWildcard),
            ("/a/x*", RouteError::BadWildcard),
            ("/a?b=1", RouteError::QueryOrFragment),
        ];
        for (template, want) in cases {
            assert_eq!(
                RouteTemplate::parse(template),
                Err(want.clone()),
                "{template}"
            );
        }
    }

    #[test]
    fn first_match_wins() {
        let routes = Routes::parse(&["/users/me", "/users/{id}", "/*"]).unwrap();
        let find = |p: &str| routes.find(p.as_bytes()).map(|t| t.as_str().to_owned());
        assert_eq!(find("/users/me").as_deref(), Some("/users/me"));
        assert_eq!(find("/users/7").as_deref(), Some("/users/{id}"));
        assert_eq!(find("/other").as_deref(), Some("/*"));
        assert_eq!(
            Routes::parse(&["/ok", "bad"]).unwrap_err(),
            (1, RouteError::NotAbsolute)
        );
    }
}
