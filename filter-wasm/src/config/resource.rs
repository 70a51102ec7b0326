//! `resource`: the OpenTelemetry resource of the proxy's spans (who emitted them).

use std::collections::BTreeMap;

/// `resource` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceConfig {
    /// How `service.name` is derived from the proxy's node metadata, with the names and rules
    /// of Istio's `tracingServiceName`: `APP_LABEL_AND_NAMESPACE` (`<app label>.<namespace>`),
    /// `CANONICAL_NAME_ONLY` (the canonical service: `service.istio.io/canonical-name`,
    /// `app.kubernetes.io/name` or `app` label, else the workload name) or
    /// `CANONICAL_NAME_AND_NAMESPACE`. `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and
    /// `attributes` below override it.
    /// Default: `APP_LABEL_AND_NAMESPACE`.
    pub tracing_service_name: TracingServiceName,
    /// Extra resource attributes; they win over everything derived or read from the
    /// environment.
    /// Default: none.
    pub attributes: BTreeMap<String, String>,
}

/// `resource.tracing_service_name`: Istio's `ProxyConfig.tracingServiceName` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TracingServiceName {
    /// `<app label>.<namespace>`, falling back to `<workload>.<namespace>`.
    #[default]
    AppLabelAndNamespace,
    /// The canonical service name.
    CanonicalNameOnly,
    /// `<canonical service>.<namespace>`.
    CanonicalNameAndNamespace,
}

impl TracingServiceName {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TracingServiceName::AppLabelAndNamespace => "APP_LABEL_AND_NAMESPACE",
            TracingServiceName::CanonicalNameOnly => "CANONICAL_NAME_ONLY",
            TracingServiceName::CanonicalNameAndNamespace => "CANONICAL_NAME_AND_NAMESPACE",
        }
    }
}
