//! Who the proxy is: Istio's node metadata (read once per VM by the root context) turned into
//! the OpenTelemetry resource of every span, and `OTEL_RESOURCE_ATTRIBUTES` parsing.
//!
//! `service.name` follows Istio's `tracingServiceName` rules (istiod's `getServiceCluster`
//! and `labels.CanonicalService`), so the filter's spans carry the same service names as
//! Envoy's native spans would. Precedence, lowest first: derived from node metadata, the
//! node metadata's `OTEL_RESOURCE_ATTRIBUTES` (`ISTIO_META_OTEL_RESOURCE_ATTRIBUTES`), the VM
//! environment's `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`, then the configuration's
//! `resource.attributes`.

use std::fmt;

use crate::config::{ResourceConfig, TracingServiceName};

/// Node metadata keys read (Istio's names).
pub const METADATA_KEYS: &[&str] = &[
    "NAME",
    "NAMESPACE",
    "WORKLOAD_NAME",
    "OWNER",
    "CLUSTER_ID",
    "MESH_ID",
    "NODE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
];

/// Pod labels read from the node metadata's `LABELS`.
pub const LABEL_KEYS: &[&str] = &[
    CANONICAL_NAME,
    "app.kubernetes.io/name",
    "app",
    CANONICAL_REVISION,
    "app.kubernetes.io/version",
    "version",
];

const CANONICAL_NAME: &str = "service.istio.io/canonical-name";
const CANONICAL_REVISION: &str = "service.istio.io/canonical-revision";

/// Where node metadata and the environment come from (the host, or a map in tests).
pub trait NodeSource {
    /// `xds.node.metadata.<key>` as a string.
    fn metadata(&mut self, key: &str) -> Option<String>;
    /// `xds.node.metadata.LABELS.<key>`.
    fn label(&mut self, key: &str) -> Option<String>;
    /// An environment variable of the VM.
    fn env(&mut self, name: &str) -> Option<String>;
}

/// What the proxy knows about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Metadata values by key (only [`METADATA_KEYS`] present and non-empty).
    pub metadata: Vec<(&'static str, String)>,
    /// Labels by key (only [`LABEL_KEYS`] present).
    pub labels: Vec<(&'static str, String)>,
    /// `OTEL_RESOURCE_ATTRIBUTES` from the environment.
    pub env_resource_attributes: Option<String>,
    /// `OTEL_SERVICE_NAME` from the environment.
    pub env_service_name: Option<String>,
}

impl NodeInfo {
    /// Reads everything once (a few host calls, at configuration time).
    pub fn read(source: &mut impl NodeSource) -> Self {
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        NodeInfo {
            metadata: METADATA_KEYS
                .iter()
                .filter_map(|&k| non_empty(source.metadata(k)).map(|v| (k, v)))
                .collect(),
            labels: LABEL_KEYS
                .iter()
                .filter_map(|&k| non_empty(source.label(k)).map(|v| (k, v)))
                .collect(),
            env_resource_attributes: non_empty(source.env("OTEL_RESOURCE_ATTRIBUTES")),
            env_service_name: non_empty(source.env("OTEL_SERVICE_NAME")),
        }
    }

    /// A metadata value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The workload name (`WORKLOAD_NAME`).
    pub fn workload_name(&self) -> Option<&str> {
        self.get("WORKLOAD_NAME")
    }

    /// Istio's canonical service name: the first of the `service.istio.io/canonical-name`,
    /// `app.kubernetes.io/name` and `app` labels, else the workload name, else
    /// `istio-proxy`.
    pub fn canonical_service(&self) -> &str {
        [CANONICAL_NAME, "app.kubernetes.io/name", "app"]
            .iter()
            .find_map(|k| self.label(k))
            .or(self.workload_name())
            .unwrap_or("istio-proxy")
    }

    /// Istio's canonical revision, when a revision label is set.
    pub fn canonical_revision(&self) -> Option<&str> {
        [CANONICAL_REVISION, "app.kubernetes.io/version", "version"]
            .iter()
            .find_map(|k| self.label(k))
    }

    /// `service.name` by Istio's `tracingServiceName` rules.
    pub fn service_name(&self, rule: TracingServiceName) -> String {
        let namespace = self.get("NAMESPACE");
        match rule {
            TracingServiceName::AppLabelAndNamespace => self.service_or_default("istio-proxy"),
            TracingServiceName::CanonicalNameOnly => {
                self.service_or_default(self.canonical_service())
            }
            TracingServiceName::CanonicalNameAndNamespace => match namespace {
                Some(ns) => format!("{}.{ns}", self.canonical_service()),
                None => self.service_or_default(self.canonical_service()),
            },
        }
    }

    /// istiod's `serviceClusterOrDefault`.
    fn service_or_default(&self, name: &str) -> String {
        if !name.is_empty() && name != "istio-proxy" {
            return name.to_owned();
        }
        let namespace = self.get("NAMESPACE").unwrap_or_default();
        if let Some(app) = self.label("app") {
            return format!("{app}.{namespace}");
        }
        if let Some(workload) = self.workload_name() {
            return format!("{workload}.{namespace}");
        }
        if !namespace.is_empty() {
            return format!("istio-proxy.{namespace}");
        }
        "istio-proxy".to_owned()
    }

    /// The Kubernetes workload kind from `OWNER`
    /// (`kubernetes://apis/apps/v1/namespaces/ns/deployments/name`), as the semantic
    /// conventions' attribute name (`k8s.deployment.name` …).
    fn workload_attribute(&self) -> Option<&'static str> {
        let owner = self.get("OWNER")?;
        let kind = owner.rsplit('/').nth(1)?;
        Some(match kind {
            "deployments" => "k8s.deployment.name",
            "statefulsets" => "k8s.statefulset.name",
            "daemonsets" => "k8s.daemonset.name",
            "replicasets" => "k8s.replicaset.name",
            "jobs" => "k8s.job.name",
            "cronjobs" => "k8s.cronjob.name",
            _ => return None,
        })
    }
}

/// The resource attributes, in order, each key once; plus the problems met (to log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// `(key, value)` pairs.
    pub attributes: Vec<(String, String)>,
    /// Why an `OTEL_RESOURCE_ATTRIBUTES` value was ignored, if one was.
    pub warnings: Vec<String>,
}

impl Resource {
    /// The resource of a proxy described by `node`, configured by `config`.
    pub fn build(node: &NodeInfo, config: &ResourceConfig) -> Self {
        let mut r = Resource::default();
        r.set(
            "service.name",
            node.service_name(config.tracing_service_name),
        );
        if let Some(ns) = node.get("NAMESPACE") {
            r.set("service.namespace", ns.to_owned());
        }
        if let Some(rev) = node.canonical_revision() {
            r.set("service.version", rev.to_owned());
        }
        for (key, meta) in [
            ("k8s.pod.name", "NAME"),
            ("k8s.namespace.name", "NAMESPACE"),
            ("k8s.node.name", "NODE_NAME"),
        ] {
            if let Some(v) = node.get(meta) {
                r.set(key, v.to_owned());
            }
        }
        if let (Some(attr), Some(workload)) = (node.workload_attribute(), node.workload_name()) {
            r.set(attr, workload.to_owned());
        }
        if !node.metadata.is_empty() || !node.labels.is_empty() {
            r.set(
                "istio.canonical_service",
                node.canonical_service().to_owned(),
            );
            r.set(
                "istio.canonical_revision",
                node.canonical_revision().unwrap_or("latest").to_owned(),
            );
        }
        for (key, meta) in [
            ("istio.workload_name", "WORKLOAD_NAME"),
            ("istio.mesh_id", "MESH_ID"),
            ("istio.cluster_id", "CLUSTER_ID"),
        ] {
            if let Some(v) = node.get(meta) {
                r.set(key, v.to_owned());
            }
        }
        r.set("telemetry.sdk.name", "meshtrace".to_owned());
        r.set("telemetry.sdk.language", "rust".to_owned());
        r.set(
            "telemetry.sdk.version",
            env!("CARGO_PKG_VERSION").to_owned(),
        );
        for (origin, value) in [
            (
                "node metadata OTEL_RESOURCE_ATTRIBUTES",
                node.get("OTEL_RESOURCE_ATTRIBUTES"),
            ),
            (
                "environment OTEL_RESOURCE_ATTRIBUTES",
                node.env_resource_attributes.as_deref(),
            ),
        ] {
            let Some(value) = value else { continue };
            match parse_resource_attributes(value) {
                Ok(pairs) => pairs.into_iter().for_each(|(k, v)| r.set(&k, v)),
                Err(e) => r.warnings.push(format!("{origin} ignored: {e}")),
            }
        }
        if let Some(name) = &node.env_service_name {
            r.set("service.name", name.clone());
        }
        for (k, v) in &config.attributes {
            r.set(k, v.clone());
        }
        r
    }

    /// Sets `key`, replacing an earlier value in place.
    fn set(&mut self, key: &str, value: String) {
        match self.attributes.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.attributes.push((key.to_owned(), value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an `OTEL_RESOURCE_ATTRIBUTES` value is refused (the whole value is then ignored, as
/// the OpenTelemetry SDK specification asks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceAttributesError {
    /// A member without `=`.
    MissingEquals(usize),
    /// A member with an empty key.
    EmptyKey(usize),
    /// A `%` not followed by two hex digits.
    BadPercentEncoding(usize),
    /// Bytes that are not UTF-8 after percent-decoding.
    NotUtf8(usize),
}

impl fmt::Display for ResourceAttributesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingEquals(i) => write!(f, "member {} has no '='", i + 1),
            Self::EmptyKey(i) => write!(f, "member {} has an empty key", i + 1),
            Self::BadPercentEncoding(i) => {
                write!(f, "member {} has a bad percent-encoding", i + 1)
            }
            Self::NotUtf8(i) => write!(f, "member {} is not UTF-8 once decoded", i + 1),
        }
    }
}

/// Parses `key1=value1,key2=value2` (W3C Baggage syntax without properties, values
/// percent-encoded). Spaces around keys and values are trimmed; empty members are skipped.
pub fn parse_resource_attributes(
    value: &str,
) -> Result<Vec<(String, String)>, ResourceAttributesError> {
    let mut out = Vec::new();
    for (i, member) in value.split(',').enumerate() {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let Some((key, val)) = member.split_once('=') else {
            return Err(ResourceAttributesError::MissingEquals(i));
        };
        let key = key.trim_matches([' ', '\t']);
        if key.is_empty() {
            return Err(ResourceAttributesError::EmptyKey(i));
        }
        let key = percent_decode(key, i)?;
        let val = percent_decode(val.trim_matches([' ', '\t']), i)?;
        out.push((key, val));
    }
    Ok(out)
}

fn percent_decode(s: &str, member: usize) -> Result<String, ResourceAttributesError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(ResourceAttributesError::BadPercentEncoding(member)),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ResourceAttributesError::NotUtf8(member))
}

#[cfg(test)]
mod tests;
