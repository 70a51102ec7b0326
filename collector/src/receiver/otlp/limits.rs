//! `limits:` on the `otlp` receiver — a meshtrace extension with no Collector equivalent (a
//! config using it does not load in the OpenTelemetry Collector). Requests over a limit are
//! refused whole with HTTP 400 / gRPC `INVALID_ARGUMENT` naming the field and the limit.

use crate::config::ConfigError;
use crate::otlp::Limits;
use serde::Deserialize;

/// Per-request limits enforced while validating.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most entries in one attribute list or `kvlist_value` (default 1024; SDKs send at most
    /// 128 by default).
    #[serde(default = "default_attributes")]
    pub max_attributes: usize,
    /// Longest string or bytes value, or attribute key, in bytes (default 1048576).
    #[serde(default = "default_value_bytes")]
    pub max_value_bytes: usize,
    /// Deepest nesting of array and kvlist values (default 20, at most 32).
    #[serde(default = "default_depth")]
    pub max_depth: usize,
}

fn default_attributes() -> usize {
    Limits::default().max_attributes
}
fn default_value_bytes() -> usize {
    Limits::default().max_value_bytes
}
fn default_depth() -> usize {
    Limits::default().max_depth
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_attributes: default_attributes(),
            max_value_bytes: default_value_bytes(),
            max_depth: default_depth(),
        }
    }
}

impl LimitsConfig {
    /// The validator's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_attributes: self.max_attributes,
            max_value_bytes: self.max_value_bytes,
            max_depth: self.max_depth,
        }
    }

    /// Problems (field paths under `limits.`).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        // Deeper values would exceed prost's recursion limit in the JSON and debug paths.
        if !(1..=32).contains(&self.max_depth) {
            e.push(ConfigError::new("must be between 1 and 32").field("limits.max_depth"));
        }
        for (f, v) in [
            ("max_attributes", self.max_attributes),
            ("max_value_bytes", self.max_value_bytes),
        ] {
            if v == 0 {
                e.push(ConfigError::new("must be positive").field(format!("limits.{f}")));
            }
        }
        e
    }
}
