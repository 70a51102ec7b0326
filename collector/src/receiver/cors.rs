//! Browser CORS for the HTTP receivers: `cors:` as the Collector's confighttp takes it, with
//! the rules of the library it hands it to (rs/cors), so that a web app's OpenTelemetry JS
//! exporter can send OTLP/HTTP from another origin.
//!
//! A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, before
//! authentication (a browser sends no credentials with it), on every path: 204, and the
//! `Access-Control-Allow-*` headers when the origin, method and headers are allowed. Other
//! requests go through and gain `Access-Control-Allow-Origin` and `-Credentials` when their
//! origin and method are allowed. `Vary` always names what the answer depended on, for caches.

use crate::config::ConfigError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;
use hyper::{Request, Response};
use serde::Deserialize;

/// `cors:` of an HTTP receiver.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to send, e.g. `https://app.example.com`; one `*` in an origin stands for
    /// any run of characters (`https://*.example.com`), and `*` alone for any origin. None:
    /// CORS is off.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Request headers a cross-origin request may carry besides the CORS-safelisted ones
    /// (`Accept`, `Accept-Language`, `Content-Type`, `Content-Language`); `*` allows any. None
    /// listed: `X-Requested-With` too.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// `Access-Control-Max-Age`: how long, in seconds, a browser may reuse a preflight's answer
    /// (not sent when 0; a negative value sends 0, "do not reuse").
    #[serde(default)]
    pub max_age: i64,
}

impl CorsConfig {
    /// The problems, with `field` the path of this section.
    pub fn validate(&self, field: &str) -> Vec<ConfigError> {
        let mut e = Vec::new();
        for (i, o) in self.allowed_origins.iter().enumerate() {
            if o.trim().is_empty() {
                e.push(
                    ConfigError::new("an origin must not be empty")
                        .field(format!("{field}.allowed_origins.{i}")),
                );
            }
        }
        for (i, h) in self.allowed_headers.iter().enumerate() {
            if h != "*" && http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                e.push(
                    ConfigError::new(format!("invalid header name {h:?}"))
                        .field(format!("{field}.allowed_headers.{i}")),
                );
            }
        }
        e
    }

    /// What the Collector warns about too.
    pub fn warnings(&self, field: &str) -> Vec<String> {
        if self.allowed_origins.is_empty() && !self.allowed_headers.is_empty() {
            vec![format!(
                "{field}: allowed_headers without allowed_origins: CORS is off, the section is ignored"
            )]
        } else {
            Vec::new()
        }
    }
}

/// Always allowed, as confighttp documents ("implicitly allowed"). rs/cors itself allows only
/// the listed headers once any are listed, so with `allowed_headers: [X-Tenant]` the Collector
/// refuses a JSON export's preflight (it names `content-type`); this one grants it.
const SAFELISTED: [&str; 4] = [
    "accept",
    "accept-language",
    "content-type",
    "content-language",
];
/// The methods a cross-origin request may use: rs/cors's default, the "simple" methods, and
/// `OPTIONS`, which it always allows.
fn allows_method(method: &[u8]) -> bool {
    matches!(method, b"GET" | b"POST" | b"HEAD" | b"OPTIONS")
}
/// Bounds the work one `Access-Control-Request-Headers` can ask for.
const MAX_REQUESTED_HEADERS: usize = 64;

const PREFLIGHT_VARY: HeaderValue = HeaderValue::from_static(
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
);
const ORIGIN_VARY: HeaderValue = HeaderValue::from_static("Origin");
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// A receiver's CORS rules.
#[derive(Debug, Clone)]
pub struct Cors {
    any_origin: bool,
    /// Lowercased.
    origins: Vec<String>,
    /// Lowercased prefix and suffix around the `*`.
    wildcards: Vec<(String, String)>,
    any_header: bool,
    /// Lowercased, the safelisted ones included.
    headers: Vec<String>,
    max_age: Option<HeaderValue>,
}

impl Cors {
    /// The rules of `cfg`; `None` when it allows no origin (CORS off, as in the Collector).
    pub fn new(cfg: &CorsConfig) -> Option<Cors> {
        if cfg.allowed_origins.is_empty() {
            return None;
        }
        let mut cors = Cors {
            any_origin: false,
            origins: Vec::new(),
            wildcards: Vec::new(),
            any_header: cfg.allowed_headers.iter().any(|h| h == "*"),
            headers: SAFELISTED.iter().map(|h| (*h).to_owned()).collect(),
            max_age: match cfg.max_age {
                0 => None,
                n => HeaderValue::from_str(&n.max(0).to_string()).ok(),
            },
        };
        for origin in &cfg.allowed_origins {
            let origin = origin.trim().to_ascii_lowercase();
            if origin == "*" {
                cors.any_origin = true;
            } else if let Some((prefix, suffix)) = origin.split_once('*') {
                cors.wildcards.push((prefix.to_owned(), suffix.to_owned()));
            } else {
                cors.origins.push(origin);
            }
        }
        if cfg.allowed_headers.is_empty() {
            cors.headers.push("x-requested-with".to_owned());
        } else {
            cors.headers
                .extend(cfg.allowed_headers.iter().map(|h| h.to_ascii_lowercase()));
        }
        Some(cors)
    }

    fn allows_origin(&self, origin: &[u8]) -> bool {
        if self.any_origin {
            return true;
        }
        let Ok(origin) = std::str::from_utf8(origin) else {
            return false;
        };
        let origin = origin.to_ascii_lowercase();
        self.origins.contains(&origin)
            || self.wildcards.iter().any(|(prefix, suffix)| {
                origin.len() >= prefix.len() + suffix.len()
                    && origin.starts_with(prefix.as_str())
                    && origin.ends_with(suffix.as_str())
            })
    }

    /// Whether every header named in the `Access-Control-Request-Headers` fields is allowed.
    fn allows_headers<'a>(&self, requested: impl Iterator<Item = &'a HeaderValue>) -> bool {
        if self.any_header {
            return true;
        }
        let mut names = 0usize;
        for value in requested {
            let Ok(value) = value.to_str() else {
                return false;
            };
            for name in value.split(',').map(str::trim) {
                names += 1;
                if names > MAX_REQUESTED_HEADERS {
                    return false;
                }
                if !name.is_empty() && !self.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    return false;
                }
            }
        }
        true
    }

    /// Whether a request is a preflight: `OPTIONS` naming the method it asks for.
    fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .is_some_and(|m| !m.is_empty())
    }

    /// The answer to a preflight request (204 and the grant, if any); `None` for any other
    /// request.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response<Full<Bytes>>> {
        Self::is_preflight(method, headers).then(|| {
            let mut r = no_content();
            self.answer_preflight(headers, r.headers_mut());
            r
        })
    }

    /// A preflight's headers, added to `out`.
    fn answer_preflight(&self, headers: &HeaderMap, out: &mut HeaderMap) {
        out.append(header::VARY, PREFLIGHT_VARY);
        let (Some(origin), Some(requested_method)) = (
            headers.get(header::ORIGIN).filter(|o| !o.is_empty()),
            headers.get(header::ACCESS_CONTROL_REQUEST_METHOD),
        ) else {
            return;
        };
        let requested_headers = headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS);
        if !self.allows_origin(origin.as_bytes())
            || !allows_method(requested_method.as_bytes())
            || !self.allows_headers(requested_headers.iter())
        {
            return;
        }
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allowed_origin(origin),
        );
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            requested_method.clone(),
        );
        for h in requested_headers.iter().filter(|h| !h.is_empty()) {
            out.append(header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
        }
        out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        if let Some(age) = &self.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
        }
    }

    /// Adds the CORS headers to the answer of a request that is not a preflight, given its
    /// method and `Origin`. An `OPTIONS` without `Access-Control-Request-Method` is such a
    /// request, and allowed, as in rs/cors.
    pub fn decorate(&self, method: &Method, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        out.append(header::VARY, ORIGIN_VARY);
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return;
        };
        if self.allows_origin(origin.as_bytes()) && allows_method(method.as_str().as_bytes()) {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                self.allowed_origin(origin),
            );
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
    }

    /// `Access-Control-Allow-Origin`: `*` when any origin is allowed, else the request's own.
    fn allowed_origin(&self, origin: &HeaderValue) -> HeaderValue {
        if self.any_origin {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// Answers a preflight itself; any other request goes to `handle`. Either answer gets the
    /// receiver's `response_headers` first and the CORS headers over them, as in the
    /// Collector, where CORS wraps the handler and `response_headers` wraps CORS: `Vary` is
    /// added to, the `Access-Control-*` headers are CORS's.
    pub async fn around<B, F>(
        cors: Option<&Cors>,
        response_headers: &[(http::HeaderName, HeaderValue)],
        req: Request<B>,
        handle: impl FnOnce(Request<B>) -> F,
    ) -> Response<Full<Bytes>>
    where
        F: Future<Output = Response<Full<Bytes>>>,
    {
        let add_configured = |r: &mut Response<Full<Bytes>>| {
            for (k, v) in response_headers {
                r.headers_mut().insert(k.clone(), v.clone());
            }
        };
        let Some(cors) = cors else {
            let mut r = handle(req).await;
            add_configured(&mut r);
            return r;
        };
        if Self::is_preflight(req.method(), req.headers()) {
            let mut r = no_content();
            add_configured(&mut r);
            cors.answer_preflight(req.headers(), r.headers_mut());
            return r;
        }
        let method = req.method().clone();
        let origin = req.headers().get(header::ORIGIN).cloned();
        let mut r = handle(req).await;
        add_configured(&mut r);
        cors.decorate(&method, origin.as_ref(), r.headers_mut());
        r
    }
}

/// An empty 204, a preflight's answer.
fn no_content() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(yaml: &str) -> Option<Cors> {
        let v: crate::config::Value = crate::config::value::from_yaml(yaml).unwrap();
        let cfg: CorsConfig = crate::registry::parse_typed(&v).unwrap();
        assert!(cfg.validate("cors").is_empty());
        Cors::new(&cfg)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn show(h: &HeaderMap) -> Vec<(String, String)> {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    /// The Collector's example (`otlpreceiver/config.yaml`).
    const EXAMPLE: &str =
        "allowed_origins: ['https://*.test.com', 'https://test.com']\nmax_age: 7200";

    #[test]
    fn no_origin_no_cors() {
        assert!(cors("allowed_headers: [X-Custom]").is_none());
        assert!(cors("{}").is_none());
        assert!(cors(EXAMPLE).is_some());
    }

    #[test]
    fn preflights() {
        const VARY: (&str, &str) = (
            "vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        );
        // config, request headers → the answer's headers (always 204).
        let allowed = |origin: &str, headers: Option<&str>, age: Option<&str>| {
            let mut v = vec![
                (VARY.0.to_owned(), VARY.1.to_owned()),
                ("access-control-allow-origin".to_owned(), origin.to_owned()),
                ("access-control-allow-methods".to_owned(), "POST".to_owned()),
            ];
            if let Some(h) = headers {
                v.push(("access-control-allow-headers".to_owned(), h.to_owned()));
            }
            v.push((
                "access-control-allow-credentials".to_owned(),
                "true".to_owned(),
            ));
            if let Some(a) = age {
                v.push(("access-control-max-age".to_owned(), a.to_owned()));
            }
            v
        };
        let refused = vec![(VARY.0.to_owned(), VARY.1.to_owned())];
        type Case = (
            &'static str,
            Vec<(&'static str, &'static str)>,
            Vec<(String, String)>,
        );
        let cases: Vec<Case> = vec![
            (
                EXAMPLE,
                vec![
                    ("origin", "https://www.test.com"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                allowed("https://www.test.com", Some("content-type"), Some("7200")),
            ),
            (
                EXAMPLE,
                vec![
                    ("origin", "https://test.com"),
                    ("access-control-request-method", "POST"),
                ],
                allowed("https://test.com", None, Some("7200")),
            ),
            // The wildcard needs the dot: not a subdomain.
            (
                EXAMPLE,
                vec![
                    ("origin", "https://wwwtest.com"),
                    ("access-control-request-method", "POST"),
                ],
                refused.clone(),
            ),
            // Origins compare without case.
            (
                EXAMPLE,
                vec![
                    ("origin", "HTTPS://Foo.Test.com"),
                    ("access-control-request-method", "POST"),
                ],
                allowed("HTTPS://Foo.Test.com", None, Some("7200")),
            ),
            (
                EXAMPLE,
                vec![("access-control-request-method", "POST")],
                refused.clone(),
            ),
            // Only the simple methods.
            (
                EXAMPLE,
                vec![
                    ("origin", "https://test.com"),
                    ("access-control-request-method", "PUT"),
                ],
                refused.clone(),
            ),
            // A header that was not listed.
            (
                EXAMPLE,
                vec![
                    ("origin", "https://test.com"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type,x-tenant"),
                ],
                refused.clone(),
            ),
            (
                "allowed_origins: ['https://test.com']\nallowed_headers: [X-Tenant]",
                vec![
                    ("origin", "https://test.com"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type,x-tenant"),
                ],
                allowed("https://test.com", Some("content-type,x-tenant"), None),
            ),
            // Listing headers drops the default X-Requested-With.
            (
                "allowed_origins: ['https://test.com']\nallowed_headers: [X-Tenant]",
                vec![
                    ("origin", "https://test.com"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "x-requested-with"),
                ],
                refused.clone(),
            ),
            (
                "allowed_origins: ['https://test.com']",
                vec![
                    ("origin", "https://test.com"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "x-requested-with"),
                ],
                allowed("https://test.com", Some("x-requested-with"), None),
            ),
            (
                "allowed_origins: ['*']\nallowed_headers: ['*']\nmax_age: -1",
                vec![
                    ("origin", "https://anywhere.example"),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, x-anything",
                    ),
                ],
                allowed("*", Some("authorization, x-anything"), Some("0")),
            ),
        ];
        for (cfg, req, want) in cases {
            let c = cors(cfg).unwrap();
            let r = c
                .preflight(&Method::OPTIONS, &headers(&req))
                .unwrap_or_else(|| panic!("{cfg} {req:?}: not a preflight"));
            assert_eq!(r.status(), StatusCode::NO_CONTENT, "{cfg} {req:?}");
            assert_eq!(show(r.headers()), want, "{cfg} {req:?}");
        }
    }

    #[test]
    fn only_options_with_a_requested_method_is_a_preflight() {
        let c = cors(EXAMPLE).unwrap();
        let h = headers(&[("origin", "https://test.com")]);
        assert!(c.preflight(&Method::OPTIONS, &h).is_none());
        let h = headers(&[
            ("origin", "https://test.com"),
            ("access-control-request-method", "POST"),
        ]);
        assert!(c.preflight(&Method::POST, &h).is_none());
    }

    #[test]
    fn requests_after_the_preflight() {
        let c = cors(EXAMPLE).unwrap();
        let origin = |o: &'static str| Some(HeaderValue::from_static(o));
        let vary = ("vary".to_owned(), "Origin".to_owned());
        let granted = |o: &str| {
            vec![
                vary.clone(),
                ("access-control-allow-origin".to_owned(), o.to_owned()),
                (
                    "access-control-allow-credentials".to_owned(),
                    "true".to_owned(),
                ),
            ]
        };
        for (method, origin, want) in [
            (
                Method::POST,
                origin("https://a.test.com"),
                granted("https://a.test.com"),
            ),
            (
                Method::POST,
                origin("https://evil.example"),
                vec![vary.clone()],
            ),
            (Method::POST, None, vec![vary.clone()]),
            (
                Method::PUT,
                origin("https://a.test.com"),
                vec![vary.clone()],
            ),
            // Not a preflight (no requested method): an actual request, and allowed.
            (
                Method::OPTIONS,
                origin("https://a.test.com"),
                granted("https://a.test.com"),
            ),
        ] {
            let mut out = HeaderMap::new();
            c.decorate(&method, origin.as_ref(), &mut out);
            assert_eq!(show(&out), want, "{method} {origin:?}");
        }
    }

    #[test]
    fn config_problems_name_the_field() {
        let v: crate::config::Value = crate::config::value::from_yaml(
            "allowed_origins: ['']\nallowed_headers: ['bad header']",
        )
        .unwrap();
        let cfg: CorsConfig = crate::registry::parse_typed(&v).unwrap();
        let got: Vec<_> = cfg
            .validate("protocols.http.cors")
            .into_iter()
            .map(|e| (e.field.unwrap_or_default(), e.reason))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "protocols.http.cors.allowed_origins.0".to_owned(),
                    "an origin must not be empty".to_owned()
                ),
                (
                    "protocols.http.cors.allowed_headers.0".to_owned(),
                    "invalid header name \"bad header\"".to_owned()
                ),
            ]
        );
        let v: crate::config::Value =
            crate::config::value::from_yaml("allowed_headers: [X-Tenant]").unwrap();
        let cfg: CorsConfig = crate::registry::parse_typed(&v).unwrap();
        assert_eq!(
            cfg.warnings("cors"),
            vec![
                "cors: allowed_headers without allowed_origins: CORS is off, the section is ignored"
            ]
        );
    }

    proptest::proptest! {
        /// Whatever a client sends, a grant names exactly its origin and an allowed method,
        /// and only for an origin the rules allow.
        #[test]
        fn a_grant_is_only_for_what_the_rules_allow(
            origin in "[a-zA-Z:/.*-]{0,24}|https://[a-z]{1,6}\\.test\\.com",
            method in "[A-Z]{0,8}",
            headers in "[a-zA-Z, -]{0,40}",
        ) {
            let c = cors(EXAMPLE).unwrap();
            let mut h = HeaderMap::new();
            for (k, v) in [
                (header::ORIGIN, &origin),
                (header::ACCESS_CONTROL_REQUEST_METHOD, &method),
                (header::ACCESS_CONTROL_REQUEST_HEADERS, &headers),
            ] {
                if let Ok(v) = HeaderValue::from_str(v) {
                    h.insert(k, v);
                }
            }
            if let Some(r) = c.preflight(&Method::OPTIONS, &h) {
                proptest::prop_assert_eq!(r.status(), StatusCode::NO_CONTENT);
                if let Some(granted) = r.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
                    let o = origin.to_ascii_lowercase();
                    proptest::prop_assert_eq!(granted.as_bytes(), origin.as_bytes());
                    proptest::prop_assert!(
                        o == "https://test.com"
                            || (o.starts_with("https://") && o.ends_with(".test.com"))
                    );
                    proptest::prop_assert!(["GET", "POST", "HEAD", "OPTIONS"].contains(&method.as_str()));
                }
            }
        }
    }
}
