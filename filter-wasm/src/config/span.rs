//! `span`: how the span of each request is named, which kind it is, and which attributes it
//! carries beyond the standard ones.

use std::collections::BTreeMap;

/// `span` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanConfig {
    /// The span kind: `auto` takes it from the listener's traffic direction (Istio's inbound
    /// listeners make `server` spans, outbound ones `client` spans; a listener without a
    /// direction makes `server` spans); `server` or `client` force it (gateways).
    /// Default: `auto`.
    pub kind: KindSetting,
    /// Span names: `otel` (the OpenTelemetry HTTP convention: `GET /users/{id}` when a
    /// template in `routes` matches, else `GET`) or `envoy` (Envoy's own style: the
    /// authority and path, `reviews:9080/api/reviews/1`, without the query).
    /// Default: `otel`.
    pub name: NameStyle,
    /// Record the query string in `url.query` (and `url.full` on client spans). Off by
    /// default: queries often carry tokens and personal data.
    /// Default: `false`.
    pub url_query: bool,
    /// Path templates (`/users/{id}`, `/static/*`), tried in order; the first match becomes
    /// `http.route` and part of the span name.
    /// Default: none.
    pub routes: Vec<String>,
    /// Request headers recorded as `http.request.header.<name>` (a list of the values).
    /// Exact names, or patterns with `*` (`x-tenant-*`); a pattern never matches
    /// credentials (`authorization`, `cookie`, …), which must be named exactly.
    /// Default: none.
    pub request_headers: Vec<String>,
    /// Response headers recorded as `http.response.header.<name>`, as `request_headers`.
    /// Default: none.
    pub response_headers: Vec<String>,
    /// Literal attributes added to every span (`{"team": "payments"}`).
    /// Default: none.
    pub tags: BTreeMap<String, String>,
    /// The methods recorded as they are; others become `_OTHER` (with
    /// `http.request.method_original`). Replaces the conventions' list, as their
    /// `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` does (WebDAV's `PROPFIND`, …).
    /// Default: the conventions' list (`GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `CONNECT`,
    /// `OPTIONS`, `TRACE`, `PATCH`, `QUERY`).
    pub known_methods: Option<Vec<String>>,
}

/// `span.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KindSetting {
    /// From the listener direction.
    #[default]
    Auto,
    /// Always `SPAN_KIND_SERVER`.
    Server,
    /// Always `SPAN_KIND_CLIENT`.
    Client,
}

impl KindSetting {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KindSetting::Auto => "auto",
            KindSetting::Server => "server",
            KindSetting::Client => "client",
        }
    }
}

/// `span.name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameStyle {
    /// `{method} {route}` or `{method}`.
    #[default]
    Otel,
    /// `{authority}{path}`.
    Envoy,
}

impl NameStyle {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NameStyle::Otel => "otel",
            NameStyle::Envoy => "envoy",
        }
    }
}
