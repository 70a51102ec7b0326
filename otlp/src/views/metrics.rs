//! Metric views: request → `ResourceMetrics` → `ScopeMetrics` → `Metric` (name, unit, type,
//! data point count). Enough for routing and resource/filter decisions on metrics.

use crate::wire::{Fields, Val};

use super::group::{Item, ResourceGroup, ScopeGroup, messages};
use super::utf8;

/// An encoded `ExportMetricsServiceRequest` (or `MetricsData`).
#[derive(Debug, Clone, Copy)]
pub struct MetricsView<'a> {
    buf: &'a [u8],
}

/// A `ResourceMetrics`.
pub type ResourceMetricsView<'a> = ResourceGroup<'a, MetricView<'a>>;
/// A `ScopeMetrics`.
pub type ScopeMetricsView<'a> = ScopeGroup<'a, MetricView<'a>>;

impl<'a> MetricsView<'a> {
    /// A view over an encoded request.
    pub fn new(buf: &'a [u8]) -> Self {
        MetricsView { buf }
    }

    /// The resource groups.
    pub fn resource_metrics(
        &self,
    ) -> impl Iterator<Item = ResourceMetricsView<'a>> + Clone + use<'a> {
        messages(self.buf, 1).map(ResourceGroup::new)
    }
}

impl<'a> ResourceGroup<'a, MetricView<'a>> {
    /// The scope groups.
    pub fn scope_metrics(&self) -> impl Iterator<Item = ScopeMetricsView<'a>> + Clone + use<'a> {
        self.scopes()
    }
}

impl<'a> ScopeGroup<'a, MetricView<'a>> {
    /// The metrics.
    pub fn metrics(&self) -> impl Iterator<Item = MetricView<'a>> + Clone + use<'a> {
        self.items()
    }
}

/// A `Metric`.
#[derive(Debug, Clone, Copy)]
pub struct MetricView<'a> {
    buf: &'a [u8],
    name: &'a str,
    description: &'a str,
    unit: &'a str,
    data_field: u32,
    data: &'a [u8],
}

impl<'a> Item<'a> for MetricView<'a> {
    fn parse(buf: &'a [u8]) -> Self {
        let mut m = MetricView {
            buf,
            name: "",
            description: "",
            unit: "",
            data_field: 0,
            data: &[],
        };
        for f in Fields::ok(buf) {
            match (f.num, f.val) {
                (1, Val::Len(b)) => m.name = utf8(b),
                (2, Val::Len(b)) => m.description = utf8(b),
                (3, Val::Len(b)) => m.unit = utf8(b),
                (5 | 7 | 9 | 10 | 11, Val::Len(b)) => {
                    m.data_field = f.num;
                    m.data = b;
                }
                _ => {}
            }
        }
        m
    }
}

impl<'a> MetricView<'a> {
    /// `name`.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// `description`.
    pub fn description(&self) -> &'a str {
        self.description
    }
    /// `unit`.
    pub fn unit(&self) -> &'a str {
        self.unit
    }
    /// `"gauge"`, `"sum"`, `"histogram"`, `"exponential_histogram"`, `"summary"`, or `""`
    /// when the metric has no data.
    pub fn data_type(&self) -> &'static str {
        match self.data_field {
            5 => "gauge",
            7 => "sum",
            9 => "histogram",
            10 => "exponential_histogram",
            11 => "summary",
            _ => "",
        }
    }
    /// Number of data points (of the last data field, as decoders read the oneof).
    pub fn data_points_len(&self) -> usize {
        messages(self.data, 1).count()
    }
    /// The encoded `Metric` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}
