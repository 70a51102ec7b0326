//! The state of `spanmetrics` between flushes: per resource, the series of calls, durations
//! and events the spans fell into, read from the request's bytes (the zero-copy views), and
//! the OTLP metrics request a flush builds from them. No clock and no I/O: the caller passes
//! the time, so tests drive it exactly.
//!
//! A series is keyed by the exact bytes of its dimension values (length-prefixed, an absent
//! dimension marked as such), not by their text as the Collector does: an `int` 200 and a
//! string "200" are two series here, one in the Collector. A new series decodes its dimension
//! values once; a span of a known series allocates nothing.

use crate::connector::histogram::Hist;
use crate::connector::periodic::resource_metrics;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value as AnyVal};
use crate::otlp::proto::metrics::v1::{
    Exemplar, Histogram, Metric, NumberDataPoint, Sum, exemplar, metric, number_data_point,
};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::views::{Attributes, SpanView, TracesView};
use crate::telemetry::push::attribute;
use prost::Message;
use std::collections::HashMap;

/// The scope every emitted metric is under, as the Collector names it.
pub const SCOPE_NAME: &str = "spanmetricsconnector";
/// The data point attribute of the series that takes what is over the cardinality limit.
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// One configured dimension, compiled.
#[derive(Debug, Clone)]
pub struct Dim {
    /// The attribute looked up (span first, then event, then resource).
    pub name: String,
    /// Its default when no attribute has it: the encoded `AnyValue` and the value.
    pub default: Option<(Vec<u8>, AnyValue)>,
    /// Where its value is in the per-span lookup table (set by [`Aggregator::new`]).
    pub slot: usize,
}

impl Dim {
    /// A dimension with an optional string default.
    pub fn new(name: &str, default: Option<&str>) -> Dim {
        Dim {
            name: name.to_owned(),
            default: default.map(|d| {
                let v = AnyValue {
                    value: Some(AnyVal::StringValue(d.to_owned())),
                };
                (v.encode_to_vec(), v)
            }),
            slot: 0,
        }
    }
}

/// `AGGREGATION_TEMPORALITY_DELTA` / `_CUMULATIVE`, as in the metrics proto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// Each flush reports what arrived since the previous one.
    Delta = 1,
    /// Each flush reports every series' total since it was first seen.
    Cumulative = 2,
}

/// What a flush emits and how spans are keyed: the compiled configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `{namespace}.calls` and friends.
    pub calls_name: String,
    /// The duration histogram's name.
    pub duration_name: String,
    /// The events sum's name.
    pub events_name: String,
    /// `ms` or `s`.
    pub unit: &'static str,
    /// Nanoseconds per unit.
    pub divider: f64,
    /// The histogram's bounds, in `unit`; `None` when the histogram is disabled.
    pub bounds: Option<Vec<f64>>,
    /// Dimensions of every metric.
    pub dims: Vec<Dim>,
    /// More dimensions of the calls sum only.
    pub calls_dims: Vec<Dim>,
    /// More dimensions of the duration histogram only.
    pub histogram_dims: Vec<Dim>,
    /// The events sum's own dimensions; `None` when events are off.
    pub event_dims: Option<Vec<Dim>>,
    /// Left out of the four built-in dimensions: `service.name`, `span.name`, `span.kind`,
    /// `status.code`.
    pub exclude: [bool; 4],
    /// Scopes whose name and version become dimensions.
    pub include_scopes: Vec<String>,
    /// Resource attributes that tell resources apart; empty: all of them.
    pub resource_key: Vec<String>,
    /// Delta or cumulative.
    pub temporality: Temporality,
    /// A resource with no span for this long is dropped at the next flush (cumulative only).
    pub expiration_nanos: Option<u64>,
    /// The most resources kept between flushes; the least recently seen go first.
    pub resource_cap: usize,
    /// The most series of one metric per resource; 0: no limit.
    pub cardinality_limit: usize,
    /// Exemplars per data point and flush; `None`: no exemplars.
    pub exemplars: Option<usize>,
    /// Delta series whose last flush time is remembered.
    pub timestamp_cap: usize,
}

/// The four built-in dimensions, in the order the Collector writes them.
pub const BUILT_IN: [&str; 4] = ["service.name", "span.name", "span.kind", "status.code"];

pub use meshtrace_ottl::span_kind_name as kind_name;

/// `STATUS_CODE_ERROR` for 2.
pub fn status_name(code: i32) -> &'static str {
    match code {
        0 => "STATUS_CODE_UNSET",
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "",
    }
}

/// A calls series' count and, when the histogram has the same dimensions (no
/// `calls_dimensions`, no `histogram.dimensions`: the usual case), its histogram too, so a span
/// costs one lookup.
#[derive(Debug, Clone, Default)]
struct Calls {
    n: u64,
    hist: Hist,
}

#[derive(Debug, Clone)]
struct Series<T> {
    attributes: Vec<KeyValue>,
    /// When the series was first seen (its start, unless a delta flush came since).
    start: u64,
    value: T,
    exemplars: Vec<Exemplar>,
}

/// The series of one metric of one resource, and the one that takes the rest past the limit.
#[derive(Debug, Clone)]
struct SeriesMap<T> {
    map: HashMap<Vec<u8>, Series<T>>,
    overflow: Option<Series<T>>,
}

impl<T> Default for SeriesMap<T> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            overflow: None,
        }
    }
}

impl<T: Default> SeriesMap<T> {
    fn series(
        &mut self,
        key: &[u8],
        limit: usize,
        now: u64,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> &mut Series<T> {
        let new = |attributes| Series {
            attributes,
            start: now,
            value: T::default(),
            exemplars: Vec::new(),
        };
        if !self.map.contains_key(key) && limit > 0 && self.map.len() >= limit {
            return self.overflow.get_or_insert_with(|| {
                new(vec![attribute(OVERFLOW_KEY, AnyVal::BoolValue(true))])
            });
        }
        self.map
            .entry(key.to_vec())
            .or_insert_with(|| new(attributes()))
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty() && self.overflow.is_none()
    }

    /// Every series, by key (the overflow last), for a flush in a stable order.
    fn sorted(&mut self) -> Vec<(&[u8], &mut Series<T>)> {
        let mut out: Vec<(&[u8], &mut Series<T>)> = self
            .map
            .iter_mut()
            .map(|(k, s)| (k.as_slice(), s))
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(o) = self.overflow.as_mut() {
            out.push((&[0xff], o));
        }
        out
    }
}

fn add_exemplar(list: &mut Vec<Exemplar>, max: Option<usize>, span: &SpanView<'_>, v: f64) {
    let Some(max) = max else { return };
    let trace_id = span.trace_id();
    if list.len() >= max || trace_id == [0; 16] {
        return;
    }
    list.push(Exemplar {
        trace_id: trace_id.to_vec(),
        span_id: span.span_id().to_vec(),
        value: Some(exemplar::Value::AsDouble(v)),
        ..Default::default()
    });
}

#[derive(Debug, Clone)]
struct ResourceState {
    attributes: Vec<KeyValue>,
    last_seen: u64,
    /// The aggregator's tick when it was last seen, for evicting the least recent.
    last_used: u64,
    calls: SeriesMap<Calls>,
    /// Histograms with dimensions of their own; empty when they live in `calls`.
    durations: SeriesMap<Hist>,
    events: SeriesMap<u64>,
}

/// Which metric a delta start time belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Which {
    Calls,
    Durations,
    Events,
}

/// The spans seen since the last flush (or, cumulative, since each series began).
#[derive(Debug)]
pub struct Aggregator {
    s: Settings,
    resources: HashMap<Vec<u8>, ResourceState>,
    /// Delta only: per series, the time of the flush that last reported it.
    delta_starts: HashMap<SeriesId, u64>,
    tick: u64,
    scratch: Scratch,
    /// Every dimension name, once: the slots of the lookup tables.
    names: Vec<String>,
}

/// A series across flushes: its resource's key, its metric and its own key.
type SeriesId = (Vec<u8>, Which, Vec<u8>);

/// Buffers reused from span to span, so a span of a known series allocates nothing.
#[derive(Debug, Default)]
struct Scratch {
    resource: Vec<u8>,
    common: Vec<u8>,
    key: Vec<u8>,
}

/// Appends one length-prefixed part to a key.
fn part(key: &mut Vec<u8>, bytes: &[u8]) {
    key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    key.extend_from_slice(bytes);
}

/// Per dimension name (a [`Dim::slot`]), the encoded value one attribute list has for it.
type Values<'a> = [Option<&'a [u8]>];

/// Fills `out` with what `attrs` has for each of `names`, in one pass over the list (the first
/// attribute of a key wins, as [`Attributes::find`] finds it).
fn gather<'a>(attrs: Attributes<'a>, names: &[String], out: &mut Vec<Option<&'a [u8]>>) {
    out.clear();
    out.resize(names.len(), None);
    if names.is_empty() {
        return;
    }
    let mut left = names.len();
    for kv in attrs.iter() {
        let key = kv.key_bytes();
        if let Some(slot) = names.iter().position(|n| n.as_bytes() == key)
            && let Some(v @ None) = out.get_mut(slot)
        {
            *v = Some(kv.raw_value());
            left -= 1;
            if left == 0 {
                break;
            }
        }
    }
}

/// Where a dimension's value came from, for the series' attributes.
enum Found<'a> {
    Attr(&'a [u8]),
    Default(&'a [u8], &'a AnyValue),
}

/// The first of `sources` (in priority order) with a value for `d`, else its default.
fn lookup<'a>(d: &'a Dim, sources: &[&Values<'a>]) -> Option<Found<'a>> {
    sources
        .iter()
        .find_map(|v| v.get(d.slot).copied().flatten())
        .map(Found::Attr)
        .or_else(|| {
            d.default
                .as_ref()
                .map(|(raw, v)| Found::Default(raw.as_slice(), v))
        })
}

fn push_dims(key: &mut Vec<u8>, dims: &[Dim], sources: &[&Values<'_>]) {
    for d in dims {
        match lookup(d, sources) {
            Some(Found::Attr(raw) | Found::Default(raw, _)) => {
                key.push(1);
                part(key, raw);
            }
            None => key.push(0),
        }
    }
}

fn string_kv(key: &str, v: &str) -> KeyValue {
    attribute(key, AnyVal::StringValue(v.to_owned()))
}

/// What a span's built-in dimensions read.
struct Fixed<'s, 'a> {
    service: &'a str,
    scope: (&'a str, &'a str),
    span: &'s SpanView<'a>,
}

impl Fixed<'_, '_> {
    fn values(&self) -> [&str; 4] {
        [
            self.service,
            self.span.name(),
            kind_name(self.span.kind()),
            status_name(self.span.status_code()),
        ]
    }
}

impl Settings {
    /// Whether a histogram series is its calls series (same dimensions).
    fn shared(&self) -> bool {
        self.calls_dims.is_empty() && self.histogram_dims.is_empty()
    }

    fn scope_included(&self, name: &str) -> bool {
        !name.is_empty() && self.include_scopes.iter().any(|n| n == name)
    }

    fn fixed_key(&self, key: &mut Vec<u8>, f: &Fixed<'_, '_>) {
        for (v, skip) in f.values().iter().zip(self.exclude) {
            if !skip {
                part(key, v.as_bytes());
            }
        }
        if self.scope_included(f.scope.0) {
            key.push(1);
            part(key, f.scope.0.as_bytes());
            part(key, f.scope.1.as_bytes());
        }
    }

    /// A new series' data point attributes, in the Collector's order.
    fn attributes(
        &self,
        f: &Fixed<'_, '_>,
        lists: &[&[Dim]],
        sources: &[&Values<'_>],
    ) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(6 + lists.iter().map(|l| l.len()).sum::<usize>());
        for ((name, v), skip) in BUILT_IN.iter().zip(f.values()).zip(self.exclude) {
            if !skip {
                out.push(string_kv(name, v));
            }
        }
        for d in lists.iter().flat_map(|l| l.iter()) {
            let value = match lookup(d, sources) {
                Some(Found::Attr(raw)) => AnyValue::decode(raw).unwrap_or_default(),
                Some(Found::Default(_, v)) => v.clone(),
                None => continue,
            };
            out.push(KeyValue {
                key: d.name.clone(),
                value: Some(value),
                ..Default::default()
            });
        }
        let (scope, version) = f.scope;
        if self.scope_included(scope) {
            out.push(string_kv("span.instrumentation.scope.name", scope));
            if !version.is_empty() {
                out.push(string_kv("span.instrumentation.scope.version", version));
            }
        }
        out
    }

    /// Counts one span. `found` holds what the span's and the resource's attributes have for
    /// each dimension name; `event_values` is a buffer for each event's.
    #[allow(clippy::too_many_arguments)]
    fn add_span<'a>(
        &self,
        state: &mut ResourceState,
        scratch: &mut Scratch,
        f: &Fixed<'_, 'a>,
        found: [&Values<'a>; 2],
        names: &[String],
        event_values: &mut Vec<Option<&'a [u8]>>,
        now: u64,
    ) {
        let span = f.span;
        let (start, end) = (span.start_time_unix_nano(), span.end_time_unix_nano());
        // An end before the start counts as no time, as in the Collector.
        let duration = if end > start {
            (end - start) as f64 / self.divider
        } else {
            0.0
        };
        let sources = found;
        let limit = self.cardinality_limit;

        scratch.common.clear();
        self.fixed_key(&mut scratch.common, f);
        push_dims(&mut scratch.common, &self.dims, &sources);

        // Without dimensions of its own (the usual case) the calls key is the common one.
        let calls_key = if self.calls_dims.is_empty() {
            &scratch.common
        } else {
            scratch.key.clear();
            scratch.key.extend_from_slice(&scratch.common);
            push_dims(&mut scratch.key, &self.calls_dims, &sources);
            &scratch.key
        };
        let calls = state.calls.series(calls_key, limit, now, || {
            self.attributes(f, &[&self.dims, &self.calls_dims], &sources)
        });
        calls.value.n += 1;
        add_exemplar(&mut calls.exemplars, self.exemplars, span, duration);
        let shared = self.shared();
        if let Some(bounds) = self.bounds.as_deref().filter(|_| shared) {
            calls.value.hist.observe(bounds, duration);
        }

        if let Some(bounds) = self.bounds.as_deref().filter(|_| !shared) {
            scratch.key.clear();
            scratch.key.extend_from_slice(&scratch.common);
            push_dims(&mut scratch.key, &self.histogram_dims, &sources);
            let h = state.durations.series(&scratch.key, limit, now, || {
                self.attributes(f, &[&self.dims, &self.histogram_dims], &sources)
            });
            h.value.observe(bounds, duration);
            add_exemplar(&mut h.exemplars, self.exemplars, span, duration);
        }

        if let Some(event_dims) = &self.event_dims {
            for event in span.events() {
                // The span's attributes win, then the event's, then the resource's.
                gather(event.attributes(), names, event_values);
                let sources = [found[0], event_values.as_slice(), found[1]];
                scratch.key.clear();
                self.fixed_key(&mut scratch.key, f);
                push_dims(&mut scratch.key, &self.dims, &sources);
                push_dims(&mut scratch.key, event_dims, &sources);
                let e = state.events.series(&scratch.key, limit, now, || {
                    self.attributes(f, &[&self.dims, event_dims], &sources)
                });
                e.value += 1;
                add_exemplar(&mut e.exemplars, self.exemplars, span, duration);
            }
        }
    }

    /// The resource's key: its (chosen) attributes, sorted, whatever their order.
    fn resource_key(&self, out: &mut Vec<u8>, attrs: Attributes<'_>) {
        let mut entries: Vec<(&[u8], &[u8])> = attrs
            .iter()
            .filter(|kv| {
                self.resource_key.is_empty() || self.resource_key.iter().any(|k| k == kv.key())
            })
            .map(|kv| (kv.key_bytes(), kv.raw_value()))
            .collect();
        entries.sort_unstable();
        out.clear();
        for (k, v) in entries {
            part(out, k);
            part(out, v);
        }
    }
}

/// The start of a data point: the series' own, or for delta the last flush that reported it.
struct Starts<'a> {
    delta: Option<&'a HashMap<SeriesId, u64>>,
    resource: &'a [u8],
    flushed: &'a mut Vec<SeriesId>,
}

impl Starts<'_> {
    fn of(&mut self, which: Which, key: &[u8], first_seen: u64) -> u64 {
        let Some(known) = self.delta else {
            return first_seen;
        };
        let id = (self.resource.to_vec(), which, key.to_vec());
        let start = known.get(&id).copied().unwrap_or(first_seen);
        self.flushed.push(id);
        start
    }
}

fn sum_metric<T: Default>(
    name: &str,
    series: &mut SeriesMap<T>,
    count: impl Fn(&T) -> u64,
    which: Which,
    temporality: Temporality,
    now: u64,
    starts: &mut Starts<'_>,
) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: series
                .sorted()
                .into_iter()
                .map(|(k, s)| NumberDataPoint {
                    attributes: s.attributes.clone(),
                    start_time_unix_nano: starts.of(which, k, s.start),
                    time_unix_nano: now,
                    exemplars: stamped(std::mem::take(&mut s.exemplars), now),
                    value: Some(number_data_point::Value::AsInt(
                        i64::try_from(count(&s.value)).unwrap_or(i64::MAX),
                    )),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

/// The duration histogram; `hist` reads a series' histogram. When the series are the calls
/// series, their exemplars are copied (the calls sum takes them after), else taken.
fn histogram_metric<T: Default>(
    s: &Settings,
    bounds: &[f64],
    series: &mut SeriesMap<T>,
    hist: impl Fn(&T) -> &Hist,
    now: u64,
    starts: &mut Starts<'_>,
) -> Metric {
    let shared = s.shared();
    Metric {
        name: s.duration_name.clone(),
        unit: s.unit.to_owned(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: series
                .sorted()
                .into_iter()
                .map(|(k, series)| {
                    let exemplars = if shared {
                        series.exemplars.clone()
                    } else {
                        std::mem::take(&mut series.exemplars)
                    };
                    let start = starts.of(Which::Durations, k, series.start);
                    let mut p = hist(&series.value).point(bounds, start, now);
                    p.attributes = series.attributes.clone();
                    p.exemplars = stamped(exemplars, now);
                    p
                })
                .collect(),
            aggregation_temporality: s.temporality as i32,
        })),
        ..Default::default()
    }
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new(mut settings: Settings) -> Aggregator {
        let mut names: Vec<String> = Vec::new();
        let s = &mut settings;
        for d in s
            .dims
            .iter_mut()
            .chain(&mut s.calls_dims)
            .chain(&mut s.histogram_dims)
            .chain(s.event_dims.iter_mut().flatten())
        {
            d.slot = match names.iter().position(|n| *n == d.name) {
                Some(i) => i,
                None => {
                    names.push(d.name.clone());
                    names.len() - 1
                }
            };
        }
        Aggregator {
            names,
            s: settings,
            resources: HashMap::new(),
            delta_starts: HashMap::new(),
            tick: 0,
            scratch: Scratch::default(),
        }
    }

    /// Series held (all metrics, all resources).
    pub fn series(&self) -> usize {
        fn n<T>(m: &SeriesMap<T>) -> usize {
            m.map.len() + usize::from(m.overflow.is_some())
        }
        self.resources
            .values()
            .map(|r| n(&r.calls) + n(&r.durations) + n(&r.events))
            .sum()
    }

    /// Resources held.
    pub fn resources(&self) -> usize {
        self.resources.len()
    }

    /// Counts every span of an encoded, validated `ExportTraceServiceRequest` seen at `now`
    /// (Unix nanoseconds). Spans of a resource without `service.name` are skipped, as the
    /// Collector skips them; returns how many were.
    pub fn add(&mut self, request: &[u8], now: u64) -> usize {
        self.tick += 1;
        let tick = self.tick;
        let mut skipped = 0;
        let s = &self.s;
        let scratch = &mut self.scratch;
        let names = self.names.as_slice();
        // What the span, its resource and an event have for each dimension: one pass over each
        // list, not one per dimension.
        let (mut span_values, mut resource_values, mut event_values) =
            (Vec::new(), Vec::new(), Vec::new());
        for rs in TracesView::new(request).resource_spans() {
            let resource = rs.resource();
            let rattrs = resource.attributes();
            let Some(service) = rattrs.get("service.name") else {
                skipped += rs.scopes().map(|sc| sc.items().count()).sum::<usize>();
                continue;
            };
            let service = service.as_str().unwrap_or("");
            s.resource_key(&mut scratch.resource, rattrs);
            if !self.resources.contains_key(scratch.resource.as_slice()) {
                self.resources.insert(
                    scratch.resource.clone(),
                    ResourceState {
                        attributes: Resource::decode(resource.raw())
                            .map(|r| r.attributes)
                            .unwrap_or_default(),
                        last_seen: now,
                        last_used: tick,
                        calls: SeriesMap::default(),
                        durations: SeriesMap::default(),
                        events: SeriesMap::default(),
                    },
                );
            }
            let Some(state) = self.resources.get_mut(scratch.resource.as_slice()) else {
                continue;
            };
            state.last_seen = now;
            state.last_used = tick;
            gather(rattrs, names, &mut resource_values);
            for scope in rs.scopes() {
                let sv = scope.scope();
                for span in scope.items() {
                    let f = Fixed {
                        service,
                        scope: (sv.name(), sv.version()),
                        span: &span,
                    };
                    gather(span.attributes(), names, &mut span_values);
                    s.add_span(
                        state,
                        scratch,
                        &f,
                        [&span_values, &resource_values],
                        names,
                        &mut event_values,
                        now,
                    );
                }
            }
        }
        skipped
    }

    /// The metrics of every series held, stamped `now`, and the state after the flush:
    /// delta empties it, cumulative keeps the totals (dropping expired resources and the
    /// least recently seen ones over the cap). `None` when there is nothing to report.
    pub fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        let s = &self.s;
        let delta = s.temporality == Temporality::Delta;
        let mut keys: Vec<&Vec<u8>> = self.resources.keys().collect();
        keys.sort();
        let keys: Vec<Vec<u8>> = keys.into_iter().cloned().collect();
        let mut out = Vec::with_capacity(keys.len());
        let mut flushed: Vec<SeriesId> = Vec::new();
        for rk in &keys {
            // A resource whose requests held no span has no series to report.
            let Some(r) = self.resources.get_mut(rk).filter(|r| !r.calls.is_empty()) else {
                continue;
            };
            let mut starts = Starts {
                delta: delta.then_some(&self.delta_starts),
                resource: rk,
                flushed: &mut flushed,
            };
            let durations = s.bounds.as_deref().map(|bounds| {
                if s.shared() {
                    histogram_metric(s, bounds, &mut r.calls, |c| &c.hist, now, &mut starts)
                } else {
                    histogram_metric(s, bounds, &mut r.durations, |h| h, now, &mut starts)
                }
            });
            let mut metrics = Vec::with_capacity(3);
            metrics.push(sum_metric(
                &s.calls_name,
                &mut r.calls,
                |c| c.n,
                Which::Calls,
                s.temporality,
                now,
                &mut starts,
            ));
            metrics.extend(durations);
            if s.event_dims.is_some() {
                metrics.push(sum_metric(
                    &s.events_name,
                    &mut r.events,
                    |n| *n,
                    Which::Events,
                    s.temporality,
                    now,
                    &mut starts,
                ));
            }
            out.push(resource_metrics(r.attributes.clone(), SCOPE_NAME, metrics));
        }

        if delta {
            self.resources.clear();
            for id in flushed {
                self.delta_starts.insert(id, now);
            }
            if self.delta_starts.len() > s.timestamp_cap {
                // The series reported longest ago are forgotten first: their next point
                // starts when it is seen again, a reset for whoever reads them.
                let mut by_age: Vec<(u64, SeriesId)> =
                    self.delta_starts.drain().map(|(k, t)| (t, k)).collect();
                by_age.sort_by_key(|a| std::cmp::Reverse(a.0));
                by_age.truncate(s.timestamp_cap);
                self.delta_starts = by_age.into_iter().map(|(t, k)| (k, t)).collect();
            }
        } else {
            if let Some(exp) = s.expiration_nanos {
                self.resources
                    .retain(|_, r| now.saturating_sub(r.last_seen) < exp);
            }
            if self.resources.len() > s.resource_cap {
                let mut by_use: Vec<(u64, Vec<u8>)> = self
                    .resources
                    .iter()
                    .map(|(k, r)| (r.last_used, k.clone()))
                    .collect();
                by_use.sort();
                let excess = self.resources.len() - s.resource_cap;
                for (_, k) in by_use.into_iter().take(excess) {
                    self.resources.remove(&k);
                }
            }
        }
        (!out.is_empty()).then_some(ExportMetricsServiceRequest {
            resource_metrics: out,
        })
    }
}

fn stamped(mut exemplars: Vec<Exemplar>, now: u64) -> Vec<Exemplar> {
    for e in &mut exemplars {
        e.time_unix_nano = now;
    }
    exemplars
}
