//! The plugin configuration: the JSON object users write as `pluginConfig` in an Istio
//! `WasmPlugin`, or as the `configuration` of Envoy's Wasm HTTP filter.
//!
//! Every section and field is optional; empty or absent configuration means "propagate,
//! sample 100 % of new traces, export nothing". Unknown fields are refused, and every error
//! names the field (`sampling.percentage: …`), because a typo silently ignored is a
//! misconfigured mesh. Defaults live in the `Default` impls below and nowhere else.
//! `docs/filter.md` is the user-facing reference for this file.

mod decode;
pub mod drop;
pub mod export;
pub mod resource;
pub mod span;

pub use drop::{DropConfig, PathRule};
pub use export::{ExportConfig, WhenFull};
pub use resource::{ResourceConfig, TracingServiceName};
pub use span::{KindSetting, NameStyle, SpanConfig};

/// The whole plugin configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// `tracer`: the filter owns the trace context and makes the spans (Envoy's native
    /// tracing off). `enricher`: Envoy's native tracer makes the spans and owns the context;
    /// the filter only writes request headers that Istio `Telemetry` `customTags` read into
    /// those spans. Default: `tracer`.
    pub mode: Mode,
    /// Sampling of the traces this proxy starts.
    pub sampling: SamplingConfig,
    /// Which headers carry the trace context in and out of the proxy.
    pub propagation: PropagationConfig,
    /// Span name, kind and extra attributes.
    pub span: SpanConfig,
    /// Requests whose spans are dropped in the proxy.
    pub drop: DropConfig,
    /// The resource (service name and identity) of the spans.
    pub resource: ResourceConfig,
    /// The OTLP/HTTP export to the collector; absent: no spans are recorded.
    pub export: Option<ExportConfig>,
    /// Making the trace id available to access logs.
    pub access_log: AccessLogConfig,
    /// The request headers written in `enricher` mode.
    pub enricher: EnricherConfig,
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The filter is the mesh's tracer.
    #[default]
    Tracer,
    /// The filter adds attributes to Envoy's native spans.
    Enricher,
}

impl Mode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tracer => "tracer",
            Mode::Enricher => "enricher",
        }
    }
}

/// `access_log`: the trace id for access logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessLogConfig {
    /// A request header the filter sets to the request's trace id (32 hex characters), so an
    /// access log format can print it: `%REQ(X-TRACE-ID)%`. Any incoming value is replaced.
    /// Tracer mode only (in enricher mode use Envoy's `%TRACE_ID%`).
    /// Default: none.
    pub trace_id_header: Option<String>,
}

/// `enricher`: the request headers the filter writes for Envoy's native spans in `enricher`
/// mode, to be read by `Telemetry` `customTags` (`header: {name: …}`). The filter always
/// sets or removes them, so a value sent by a client never reaches a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnricherConfig {
    /// Header carrying the `http.route` template matched in `span.routes`; `null`: not
    /// written. Default: `x-meshtrace-route`.
    pub route_header: Option<String>,
    /// Header carrying the proxy's workload name (node metadata `WORKLOAD_NAME`); `null`: not
    /// written. Default: `x-meshtrace-workload`.
    pub workload_header: Option<String>,
}

impl Default for EnricherConfig {
    fn default() -> Self {
        EnricherConfig {
            route_header: Some("x-meshtrace-route".to_owned()),
            workload_header: Some("x-meshtrace-workload".to_owned()),
        }
    }
}

/// `sampling`: how traces without an upstream decision are sampled.
///
/// Requests that arrive with a valid `traceparent` (or a B3 decision) keep the caller's
/// decision (parent-based sampling); this section only decides for new traces.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Percentage of new traces to sample, from 0 to 100; fractions such as `0.1` are allowed
    /// (like Istio's `randomSamplingPercentage`). The decision is derived from the trace id,
    /// so every proxy configured alike decides the same way for the same trace.
    /// Default: `100`.
    pub percentage: f64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig { percentage: 100.0 }
    }
}

/// `propagation`: reading and writing trace context headers.
#[derive(Debug, Clone, PartialEq)]
pub struct PropagationConfig {
    /// Zipkin B3 interoperability.
    pub b3: B3Config,
    /// Longest `tracestate` value forwarded, in characters. Longer lists are cut by whole
    /// members as the W3C spec prescribes (members over 128 characters first, then from the
    /// right). At least 512, the length the spec asks every vendor to propagate.
    /// Default: `512`.
    pub tracestate_max_length: usize,
}

impl Default for PropagationConfig {
    fn default() -> Self {
        PropagationConfig {
            b3: B3Config::default(),
            tracestate_max_length: 512,
        }
    }
}

/// `propagation.b3`: B3 headers (`b3`, `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`,
/// `x-b3-flags`, `x-b3-parentspanid`).
#[derive(Debug, Clone, PartialEq)]
pub struct B3Config {
    /// Continue the trace from B3 headers when a request has no valid `traceparent`
    /// (the single `b3` header is preferred over the `x-b3-*` ones).
    /// Default: `true`.
    pub extract: bool,
    /// B3 headers to write next to `traceparent`, for apps that only speak B3: `none`,
    /// `single` (`b3`), `multi` (`x-b3-*`) or `single_and_multi`. When set, the filter owns
    /// these headers: it writes the chosen form with its own span id and removes the other
    /// form, so no stale id goes upstream. With `none` they pass through untouched.
    /// Default: `none`.
    pub inject: B3Inject,
}

impl Default for B3Config {
    fn default() -> Self {
        B3Config {
            extract: true,
            inject: B3Inject::None,
        }
    }
}

/// Which B3 form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum B3Inject {
    /// Write no B3 header.
    #[default]
    None,
    /// Write the single `b3` header.
    Single,
    /// Write `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (or `x-b3-flags`) and
    /// `x-b3-parentspanid`.
    Multi,
    /// Write both forms.
    SingleAndMulti,
}

impl B3Inject {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            B3Inject::None => "none",
            B3Inject::Single => "single",
            B3Inject::Multi => "multi",
            B3Inject::SingleAndMulti => "single_and_multi",
        }
    }
}

/// A configuration that cannot be used; the message names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// Dotted path of the offending field (`sampling.percentage`), or `configuration`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

impl Config {
    /// Parses and validates the plugin configuration bytes. Empty or whitespace-only input
    /// gives the defaults.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => return Ok(Config::default()),
            Some(b'{') => {}
            Some(_) => {
                return Err(ConfigError::new(
                    "configuration",
                    "must be a JSON object, such as {\"sampling\": {\"percentage\": 10}}",
                ));
            }
        }
        let json = crate::json::parse(bytes)
            .map_err(|e| ConfigError::new("configuration", e.to_string()))?;
        let config = decode::config(&json)?;
        config.validate()?;
        Ok(config)
    }

    /// One line with the effective settings, for the log at configuration time.
    pub fn summary(&self) -> String {
        let mut s = format!("mode={}", self.mode.as_str());
        if self.mode == Mode::Enricher {
            let h = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
            s.push_str(&format!(
                " enricher.route_header={} enricher.workload_header={} span.routes={}",
                h(&self.enricher.route_header),
                h(&self.enricher.workload_header),
                self.span.routes.len()
            ));
            return s;
        }
        s.push_str(&format!(
            " sampling.percentage={} propagation.b3.extract={} propagation.b3.inject={} propagation.tracestate_max_length={}",
            number_text(self.sampling.percentage),
            self.propagation.b3.extract,
            self.propagation.b3.inject.as_str(),
            self.propagation.tracestate_max_length,
        ));
        match &self.export {
            None => s.push_str(" export=off (propagation only, no spans)"),
            Some(e) => s.push_str(&format!(
                " export.cluster={} export.authority={} export.path={} export.timeout_ms={} export.batch_size={} export.flush_interval_ms={} export.max_buffered_spans={} export.when_full={} span.kind={} span.name={} span.url_query={} span.routes={} span.request_headers={} span.response_headers={} drop.rules={} resource.tracing_service_name={}",
                e.cluster,
                e.effective_authority(),
                e.path,
                e.timeout_ms,
                e.batch_size,
                e.flush_interval_ms,
                e.max_buffered_spans,
                e.when_full.as_str(),
                self.span.kind.as_str(),
                self.span.name.as_str(),
                self.span.url_query,
                self.span.routes.len(),
                self.span.request_headers.len(),
                self.span.response_headers.len(),
                self.drop.paths.len() + self.drop.user_agents.len() + self.drop.methods.len() + self.drop.hosts.len(),
                self.resource.tracing_service_name.as_str(),
            )),
        }
        if let Some(h) = &self.access_log.trace_id_header {
            s.push_str(&format!(" access_log.trace_id_header={h}"));
        }
        s
    }

    /// Checks what decoding does not: ranges, limits, names, and settings that would have
    /// no effect in the chosen mode (refused rather than silently ignored).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = self.sampling.percentage;
        if !(0.0..=100.0).contains(&p) {
            return Err(ConfigError::new(
                "sampling.percentage",
                format!("must be between 0 and 100, got {}", number_text(p)),
            ));
        }
        let max = self.propagation.tracestate_max_length;
        if max < crate::tracecontext::tracestate::MIN_PROPAGATED_LEN {
            return Err(ConfigError::new(
                "propagation.tracestate_max_length",
                format!("must be at least 512 (the W3C minimum to propagate), got {max}"),
            ));
        }
        self.validate_span()?;
        self.validate_drop()?;
        for key in self.resource.attributes.keys() {
            if key.is_empty() {
                return Err(ConfigError::new(
                    "resource.attributes",
                    "attribute names must not be empty",
                ));
            }
        }
        if let Some(export) = &self.export {
            validate_export(export)?;
        }
        if let Some(name) = &self.access_log.trace_id_header {
            check_header_name("access_log.trace_id_header", name)?;
        }
        for (field, name) in [
            ("enricher.route_header", &self.enricher.route_header),
            ("enricher.workload_header", &self.enricher.workload_header),
        ] {
            if let Some(name) = name {
                check_header_name(field, name)?;
            }
        }
        self.validate_mode()
    }

    fn validate_span(&self) -> Result<(), ConfigError> {
        crate::route::Routes::parse(&self.span.routes).map_err(|(i, e)| {
            ConfigError::new(
                &format!("span.routes[{i}]"),
                format!(
                    "{} {e}",
                    quoted(self.span.routes.get(i).map_or("", |s| s.as_str()))
                ),
            )
        })?;
        for (field, list) in [
            ("span.request_headers", &self.span.request_headers),
            ("span.response_headers", &self.span.response_headers),
        ] {
            for (i, name) in list.iter().enumerate() {
                if !is_header_pattern(name) {
                    return Err(ConfigError::new(
                        &format!("{field}[{i}]"),
                        format!(
                            "{} is not a header name or a pattern with * (lowercase letters, digits and -._~!#$%&'^`|+)",
                            quoted(name)
                        ),
                    ));
                }
            }
        }
        for (i, m) in self.span.known_methods.iter().flatten().enumerate() {
            check_method(&format!("span.known_methods[{i}]"), m)?;
        }
        for key in self.span.tags.keys() {
            if key.is_empty() {
                return Err(ConfigError::new(
                    "span.tags",
                    "attribute names must not be empty",
                ));
            }
            if crate::span::OWN_ATTRIBUTES.contains(&key.as_str())
                || crate::span::OWN_ATTRIBUTE_PREFIXES
                    .iter()
                    .any(|p| key.starts_with(p))
            {
                return Err(ConfigError::new(
                    &format!("span.tags.{key}"),
                    "the filter writes this attribute itself; a span's attribute names must be unique",
                ));
            }
        }
        Ok(())
    }

    fn validate_drop(&self) -> Result<(), ConfigError> {
        for (i, rule) in self.drop.paths.iter().enumerate() {
            let (kind, path) = match rule {
                PathRule::Exact(p) => ("exact", p),
                PathRule::Prefix(p) => ("prefix", p),
            };
            if !path.starts_with('/') {
                return Err(ConfigError::new(
                    &format!("drop.paths[{i}].{kind}"),
                    format!("must start with /, got {}", quoted(path)),
                ));
            }
            if path.contains(['?', '#']) {
                return Err(ConfigError::new(
                    &format!("drop.paths[{i}].{kind}"),
                    format!(
                        "paths are matched without the query: remove ?/# from {}",
                        quoted(path)
                    ),
                ));
            }
        }
        for (i, m) in self.drop.methods.iter().enumerate() {
            check_method(&format!("drop.methods[{i}]"), m)?;
        }
        for (field, list) in [
            ("drop.user_agents", &self.drop.user_agents),
            ("drop.hosts", &self.drop.hosts),
        ] {
            for (i, pattern) in list.iter().enumerate() {
                if pattern.is_empty() {
                    return Err(ConfigError::new(
                        &format!("{field}[{i}]"),
                        "must not be empty (use \"*\" to match everything)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Settings that cannot take effect in the chosen mode are refused, naming the field.
    fn validate_mode(&self) -> Result<(), ConfigError> {
        match self.mode {
            Mode::Tracer => {
                if self.enricher != EnricherConfig::default() {
                    return Err(ConfigError::new(
                        "enricher",
                        "only used with \"mode\": \"enricher\"",
                    ));
                }
                if self.export.is_none() {
                    let unused = [
                        ("span", self.span != SpanConfig::default()),
                        ("resource", self.resource != ResourceConfig::default()),
                    ];
                    if let Some((field, _)) = unused.iter().find(|(_, set)| *set) {
                        return Err(ConfigError::new(
                            field,
                            "has no effect without export: the filter records spans only when \"export\" is set",
                        ));
                    }
                }
                Ok(())
            }
            Mode::Enricher => {
                let default = Config::default();
                let span_without_routes = SpanConfig {
                    routes: Vec::new(),
                    ..self.span.clone()
                };
                let unused = [
                    ("export", self.export.is_some()),
                    ("sampling", self.sampling != default.sampling),
                    ("propagation", self.propagation != default.propagation),
                    ("span", span_without_routes != SpanConfig::default()),
                    ("drop", self.drop != default.drop),
                    ("resource", self.resource != default.resource),
                    (
                        "access_log.trace_id_header",
                        self.access_log.trace_id_header.is_some(),
                    ),
                ];
                match unused.iter().find(|(_, set)| *set) {
                    Some(("access_log.trace_id_header", _)) => Err(ConfigError::new(
                        "access_log.trace_id_header",
                        "not available in enricher mode: Envoy's tracer picks the trace id after this filter ran; print %TRACE_ID% in the access log instead",
                    )),
                    Some((field, _)) => Err(ConfigError::new(
                        field,
                        "not used in enricher mode: Envoy's native tracer samples, propagates and reports the spans (only span.routes and enricher apply); remove it or use \"mode\": \"tracer\"",
                    )),
                    None => Ok(()),
                }
            }
        }
    }
}

fn validate_export(export: &ExportConfig) -> Result<(), ConfigError> {
    if export.cluster.is_empty() {
        return Err(ConfigError::new(
            "export.cluster",
            "required: the Envoy cluster of the collector's OTLP/HTTP port (in Istio: outbound|4318||<collector service FQDN>)",
        ));
    }
    if let Some(authority) = &export.authority
        && (authority.is_empty() || !authority.bytes().all(is_field_value_byte))
    {
        return Err(ConfigError::new(
            "export.authority",
            format!("must be a non-empty host[:port], got {}", quoted(authority)),
        ));
    }
    if !export.path.starts_with('/') || !export.path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            "export.path",
            format!(
                "must start with / and have no spaces, got {}",
                quoted(&export.path)
            ),
        ));
    }
    let ranges: [(&str, u64, u64, u64); 4] = [
        ("export.timeout_ms", export.timeout_ms, 1, 300_000),
        ("export.batch_size", export.batch_size as u64, 1, 65_536),
        (
            "export.flush_interval_ms",
            export.flush_interval_ms,
            50,
            60_000,
        ),
        (
            "export.max_buffered_spans",
            export.max_buffered_spans as u64,
            1,
            1_000_000,
        ),
    ];
    for (field, value, min, max) in ranges {
        if !(min..=max).contains(&value) {
            return Err(ConfigError::new(
                field,
                format!("must be between {min} and {max}, got {value}"),
            ));
        }
    }
    if export.max_buffered_spans < export.batch_size {
        return Err(ConfigError::new(
            "export.max_buffered_spans",
            format!(
                "must be at least export.batch_size ({}), got {}",
                export.batch_size, export.max_buffered_spans
            ),
        ));
    }
    for (name, value) in &export.headers {
        let field = format!("export.headers.{name}");
        check_header_name(&field, name)?;
        if matches!(
            name.as_str(),
            "content-type" | "content-length" | "host" | "te"
        ) {
            return Err(ConfigError::new(
                &field,
                "is set by the filter (content-type: application/x-protobuf) or by Envoy",
            ));
        }
        if !value.bytes().all(is_field_value_byte) {
            return Err(ConfigError::new(
                &field,
                "values must not contain control characters (CR, LF, NUL …)",
            ));
        }
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header name as the config must spell it: a lowercase token (Envoy keeps names
/// lowercase, and so do HTTP/2 and HTTP/3).
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase())
}

/// A header name, or a pattern with `*` (`*` is a `tchar`, so this is the same check).
fn is_header_pattern(name: &str) -> bool {
    is_header_name(name)
}

fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

fn check_header_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if is_header_name(name) && !name.contains('*') {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{} is not a lowercase header name", quoted(name)),
        ))
    }
}

/// An HTTP method as configured: methods are case-sensitive, and the ones worth naming are
/// uppercase tokens.
fn check_method(field: &str, m: &str) -> Result<(), ConfigError> {
    if m.is_empty()
        || !m
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::new(
            field,
            format!(
                "methods are case-sensitive uppercase tokens such as OPTIONS, got {}",
                quoted(m)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// `s` in double quotes with `"`, `\\` and control characters escaped, for messages. (Not
/// `{:?}`: its Unicode tables cost kilobytes of `.wasm`.)
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    let digit = (c as u32 >> shift) & 0xf;
                    out.push(char::from_digit(digit, 16).unwrap_or('0'));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number as users wrote it: integers without a fraction, others with up to 9 decimals.
/// (Not `{}`: float formatting costs about 20 KB of `.wasm`.)
pub fn number_text(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".to_owned()
        } else if x > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    let negative = x < 0.0;
    let a = x.abs();
    if a >= 1e15 {
        // Beyond what a configuration needs exactly: an integer approximation.
        return format!("{}{}", if negative { "-" } else { "" }, a as u128);
    }
    let scaled = (a * 1e9).round() as u64;
    let (int, frac) = (scaled / 1_000_000_000, scaled % 1_000_000_000);
    let mut out = format!("{}{int}", if negative { "-" } else { "" });
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}
