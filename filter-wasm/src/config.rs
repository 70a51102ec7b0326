//! The plugin configuration: the JSON object users write as `pluginConfig` in an Istio
//! `WasmPlugin`, or as the `configuration` of Envoy's Wasm HTTP filter.
//!
//! Every section and field is optional; empty or absent configuration means "propagate,
//! sample 100 % of new traces, export nothing". Unknown fields are refused, and every error
//! names the field (`sampling.percentage: …`), because a typo silently ignored is a
//! misconfigured mesh. Defaults live in the `Default` impls below and nowhere else.
//! `docs/filter.md` is the user-facing reference for this file.

use serde::Deserialize;

/// The whole plugin configuration.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Sampling of the traces this proxy starts.
    pub sampling: SamplingConfig,
    /// Which headers carry the trace context in and out of the proxy.
    pub propagation: PropagationConfig,
}

/// `sampling`: how traces without an upstream decision are sampled.
///
/// Requests that arrive with a valid `traceparent` (or a B3 decision) keep the caller's
/// decision (parent-based sampling); this section only decides for new traces.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    fn new(field: &str, problem: impl Into<String>) -> Self {
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
            // serde would take `[]` for a struct with defaults; a list is never what was meant.
            Some(_) => {
                return Err(ConfigError::new(
                    "configuration",
                    "must be a JSON object, such as {\"sampling\": {\"percentage\": 10}}",
                ));
            }
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let config: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = match path.as_str() {
                // The root, an unknown position, or a key that is the empty string.
                "" | "." | "?" => "configuration".to_owned(),
                _ => path,
            };
            ConfigError {
                field,
                problem: e.into_inner().to_string(),
            }
        })?;
        de.end()
            .map_err(|e| ConfigError::new("configuration", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values serde cannot: ranges and limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = self.sampling.percentage;
        if !(0.0..=100.0).contains(&p) {
            return Err(ConfigError::new(
                "sampling.percentage",
                format!("must be between 0 and 100, got {p}"),
            ));
        }
        let max = self.propagation.tracestate_max_length;
        if max < crate::tracecontext::tracestate::MIN_PROPAGATED_LEN {
            return Err(ConfigError::new(
                "propagation.tracestate_max_length",
                format!("must be at least 512 (the W3C minimum to propagate), got {max}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
