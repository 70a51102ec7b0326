//! The policies of `tail_sampling`: their config, checked and compiled, and their verdict on
//! one whole trace, as the OpenTelemetry Collector's evaluators give it (attribute policies
//! look at each resource, then its spans; `invert_match` turns a match into a veto).

use crate::config::ConfigError;
use crate::otlp::Batch;
use crate::otlp::views::{AnyValueRef, Attributes, ResourceView, SpanView, TracesView};
use crate::processor::ottl_views::{ContextCache, EventCtx, SpanCtx};
use meshtrace_ottl::{ConditionSet, ErrorMode, Span, SpanEvent};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// The salt of `probabilistic` when `hash_salt` is not set, as in the Collector.
const DEFAULT_HASH_SALT: &str = "default-hash-seed";

/// A policy's verdict on a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep the trace.
    Sampled,
    /// This policy does not keep it.
    NotSampled,
    /// An `invert_match` policy found no match: keep it, unless another policy said no.
    InvertSampled,
    /// An `invert_match` policy found a match: do not keep it, whatever the others say.
    InvertNotSampled,
    /// A `drop` policy matched: do not keep it.
    Dropped,
}

impl Verdict {
    /// The `sampled` label of the per-policy counter.
    pub fn sampled(self) -> bool {
        matches!(self, Verdict::Sampled | Verdict::InvertSampled)
    }
}

/// The final decision from every policy's verdict, by the Collector's precedence: a drop, then
/// an inverted no, then a yes; an inverted yes counts only where no policy said no.
pub fn decide(verdicts: &[Verdict]) -> bool {
    let has = |v: Verdict| verdicts.contains(&v);
    if has(Verdict::Dropped) || has(Verdict::InvertNotSampled) {
        return false;
    }
    has(Verdict::Sampled) || (has(Verdict::InvertSampled) && !has(Verdict::NotSampled))
}

/// Where a policy sits: what may be nested in it follows the Collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An entry of `policies`: any type.
    Top,
    /// In `composite.composite_sub_policy`: any type but `composite` and `drop`.
    Composite,
    /// In `and.and_sub_policy` or `drop.drop_sub_policy`: no combinator but `not`.
    Sub,
    /// In `not.not_sub_policy`: no combinator.
    Leaf,
}

/// One entry of `policies` (and of `and.and_sub_policy`, `drop.drop_sub_policy`,
/// `composite.composite_sub_policy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Names the policy in metrics and logs.
    #[serde(default)]
    pub name: String,
    /// Which evaluator.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `latency`.
    #[serde(default)]
    pub latency: Option<LatencyConfig>,
    /// `numeric_attribute`.
    #[serde(default)]
    pub numeric_attribute: Option<NumericConfig>,
    /// `probabilistic`.
    #[serde(default)]
    pub probabilistic: Option<ProbabilisticConfig>,
    /// `status_code`.
    #[serde(default)]
    pub status_code: Option<StatusCodeConfig>,
    /// `string_attribute`.
    #[serde(default)]
    pub string_attribute: Option<StringConfig>,
    /// `rate_limiting`.
    #[serde(default)]
    pub rate_limiting: Option<RateConfig>,
    /// `bytes_limiting`.
    #[serde(default)]
    pub bytes_limiting: Option<BytesConfig>,
    /// `span_count`.
    #[serde(default)]
    pub span_count: Option<SpanCountConfig>,
    /// `trace_state`.
    #[serde(default)]
    pub trace_state: Option<TraceStateConfig>,
    /// `boolean_attribute`.
    #[serde(default)]
    pub boolean_attribute: Option<BooleanConfig>,
    /// `ottl_condition`.
    #[serde(default)]
    pub ottl_condition: Option<OttlConfig>,
    /// `and`.
    #[serde(default)]
    pub and: Option<AndConfig>,
    /// `drop`.
    #[serde(default)]
    pub drop: Option<DropConfig>,
    /// `not`.
    #[serde(default)]
    pub not: Option<NotConfig>,
    /// `composite`.
    #[serde(default)]
    pub composite: Option<CompositeConfig>,
}

/// `latency`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyConfig {
    /// The trace lasts at least this long (ms)…
    #[serde(default)]
    pub threshold_ms: i64,
    /// …and, when set, at most this long (then strictly more than `threshold_ms`).
    #[serde(default)]
    pub upper_threshold_ms: i64,
}

/// `numeric_attribute`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericConfig {
    /// The attribute.
    #[serde(default)]
    pub key: String,
    /// Lowest value kept (inclusive).
    #[serde(default)]
    pub min_value: Option<i64>,
    /// Highest value kept (inclusive).
    #[serde(default)]
    pub max_value: Option<i64>,
    /// Keep traces without such a value instead.
    #[serde(default)]
    pub invert_match: bool,
}

/// `probabilistic`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbabilisticConfig {
    /// Salt of the trace-id hash: tiers sampling at different rates use different salts.
    #[serde(default)]
    pub hash_salt: String,
    /// Share of traces kept, in percent.
    #[serde(default)]
    pub sampling_percentage: f64,
}

/// `status_code`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCodeConfig {
    /// `OK`, `ERROR`, `UNSET`.
    #[serde(default)]
    pub status_codes: Vec<String>,
}

/// `string_attribute`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringConfig {
    /// The attribute.
    #[serde(default)]
    pub key: String,
    /// Values (or regular expressions) that keep a trace.
    #[serde(default)]
    pub values: Vec<String>,
    /// `values` are regular expressions (Go syntax, unanchored).
    #[serde(default)]
    pub enabled_regex_matching: bool,
    /// Accepted: regex results are not cached.
    #[serde(default)]
    pub cache_max_size: Option<u64>,
    /// Keep traces without such a value instead.
    #[serde(default)]
    pub invert_match: bool,
}

/// `rate_limiting`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Spans per second let through (a token bucket).
    #[serde(default)]
    pub spans_per_second: i64,
    /// The bucket's size (default twice `spans_per_second`).
    #[serde(default)]
    pub burst_capacity: Option<i64>,
}

/// `bytes_limiting`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BytesConfig {
    /// Bytes per second let through (a token bucket), counted as the trace's protobuf size.
    #[serde(default)]
    pub bytes_per_second: i64,
    /// The bucket's size (default, or 0: twice `bytes_per_second`).
    #[serde(default)]
    pub burst_capacity: i64,
}

/// `span_count`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanCountConfig {
    /// At least this many spans.
    #[serde(default)]
    pub min_spans: i64,
    /// At most this many (0: no limit).
    #[serde(default)]
    pub max_spans: i64,
}

/// `trace_state`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceStateConfig {
    /// The tracestate member's key.
    #[serde(default)]
    pub key: String,
    /// Its values that keep a trace.
    #[serde(default)]
    pub values: Vec<String>,
}

/// `boolean_attribute`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BooleanConfig {
    /// The attribute.
    #[serde(default)]
    pub key: String,
    /// The value that keeps a trace.
    #[serde(default)]
    pub value: bool,
    /// Keep traces without it instead.
    #[serde(default)]
    pub invert_match: bool,
}

/// `ottl_condition`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OttlConfig {
    /// `propagate` (default), `ignore` or `silent`.
    #[serde(default)]
    pub error_mode: Option<String>,
    /// Span conditions: any true for any span keeps the trace.
    #[serde(default)]
    pub span: Vec<String>,
    /// Span-event conditions, likewise.
    #[serde(default)]
    pub spanevent: Vec<String>,
}

/// `and`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndConfig {
    /// Every one must keep the trace.
    #[serde(default)]
    pub and_sub_policy: Vec<PolicyConfig>,
}

/// `drop`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConfig {
    /// When every one keeps the trace, it is dropped.
    #[serde(default)]
    pub drop_sub_policy: Vec<PolicyConfig>,
}

/// `composite`: the first sub-policy that keeps a trace decides, within its share of a
/// budget of spans per second.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeConfig {
    /// The budget: spans per second the sub-policies keep, each within its share.
    #[serde(default)]
    pub max_total_spans_per_second: i64,
    /// Accepted: the Collector evaluates the sub-policies in the order of
    /// `composite_sub_policy`, and so does this.
    #[serde(default)]
    pub policy_order: Vec<String>,
    /// The sub-policies, in order.
    #[serde(default)]
    pub composite_sub_policy: Vec<PolicyConfig>,
    /// Each sub-policy's share of the budget.
    #[serde(default)]
    pub rate_allocation: Vec<RateAllocationConfig>,
}

/// One entry of `composite.rate_allocation`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateAllocationConfig {
    /// The sub-policy's name.
    #[serde(default)]
    pub policy: String,
    /// Its share of `max_total_spans_per_second`, in percent; 0 or less: an equal share.
    #[serde(default)]
    pub percent: i64,
}

impl CompositeConfig {
    /// Spans per second of each sub-policy, as the Collector computes them: `percent` of the
    /// budget, an equal share for a percent of 0 or less, nothing for a sub-policy without an
    /// entry (the last entry for a name wins).
    fn allocations(&self) -> Vec<i64> {
        let total = self.max_total_spans_per_second as f64;
        let equal = total / self.composite_sub_policy.len().max(1) as f64;
        self.composite_sub_policy
            .iter()
            .map(|sub| {
                self.rate_allocation
                    .iter()
                    .rev()
                    .find(|a| a.policy == sub.name)
                    .map_or(0, |a| {
                        let sps = if a.percent > 0 {
                            a.percent as f64 / 100.0 * total
                        } else {
                            equal
                        };
                        // Go's int64(float64) truncates; the budget is far inside i64.
                        sps as i64
                    })
            })
            .collect()
    }

    /// What is accepted but will not do what it seems to.
    fn warnings(&self, field: &str) -> Vec<String> {
        let mut w = Vec::new();
        let names: Vec<&str> = self
            .composite_sub_policy
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for (sub, sps) in names.iter().zip(self.allocations()) {
            if sps == 0 && !sub.is_empty() {
                w.push(format!(
                    "{field}.composite.rate_allocation: no share for sub-policy {sub:?}: it keeps no trace (as in the Collector); give it a `percent`"
                ));
            }
        }
        for (i, a) in self.rate_allocation.iter().enumerate() {
            if !names.contains(&a.policy.as_str()) {
                w.push(format!(
                    "{field}.composite.rate_allocation[{i}].policy: {:?} is not a sub-policy of this composite; ignored",
                    a.policy
                ));
            }
        }
        let sum: i64 = self.rate_allocation.iter().map(|a| a.percent.max(0)).sum();
        if sum > 100 {
            w.push(format!(
                "{field}.composite.rate_allocation: the shares add up to {sum} %: together the sub-policies can keep more than max_total_spans_per_second"
            ));
        }
        if !self.policy_order.is_empty() && self.policy_order != names {
            w.push(format!(
                "{field}.composite.policy_order: not used: sub-policies are evaluated in the order of composite_sub_policy, as in the Collector"
            ));
        }
        w
    }
}

/// A compiled `composite`.
#[derive(Debug)]
pub struct Composite {
    /// `max_total_spans_per_second`.
    max_total: i64,
    /// Each sub-policy with its spans per second.
    subs: Vec<(Rule, i64)>,
    /// Spans kept by each sub-policy in the current second.
    window: Mutex<Window>,
}

/// The one-second window of a `composite`.
#[derive(Debug)]
struct Window {
    /// The first evaluation: seconds count from it.
    start: Option<Instant>,
    /// The second `kept` counts in.
    second: u64,
    /// Spans kept per sub-policy this second.
    kept: Vec<i64>,
}

impl Composite {
    /// The Collector's `Composite.Evaluate`: the first sub-policy that keeps the trace decides.
    /// Within its share (and the total) this second, the trace is kept and counted; past it,
    /// it is not kept, and nothing is counted, so a smaller trace may still fit.
    fn evaluate(&self, trace: &Trace<'_>) -> Result<Verdict, String> {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let start = *w.start.get_or_insert(trace.now);
        let second = trace.now.saturating_duration_since(start).as_secs();
        if second != w.second {
            w.second = second;
            w.kept.fill(0);
        }
        for ((rule, share), kept) in self.subs.iter().zip(w.kept.iter_mut()) {
            if rule.evaluate(trace)?.sampled() {
                let spans = i64::try_from(trace.spans).unwrap_or(i64::MAX);
                let after = kept.saturating_add(spans);
                if after <= *share && after <= self.max_total {
                    *kept = after;
                    return Ok(Verdict::Sampled);
                }
                return Ok(Verdict::NotSampled);
            }
        }
        Ok(Verdict::NotSampled)
    }
}

/// `not`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotConfig {
    /// The policy whose yes and no are swapped.
    #[serde(default)]
    pub not_sub_policy: Option<Box<PolicyConfig>>,
}

/// How `string_attribute` compares.
#[derive(Debug)]
pub enum Matcher {
    /// One of these values (empty ones left out, as in the Collector).
    Exact(HashSet<String>),
    /// Any of these expressions finds a match.
    Regex(Vec<regex::Regex>),
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(set) => set.contains(s),
            Matcher::Regex(list) => list.iter().any(|r| r.is_match(s)),
        }
    }
}

/// A token bucket of spans, as `golang.org/x/time/rate` keeps it.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    fn allow(&mut self, now: Instant, n: usize) -> bool {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.at = Some(now);
        let n = n as f64;
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// A compiled policy.
#[derive(Debug)]
pub enum Rule {
    /// `always_sample`.
    Always,
    /// `latency`.
    Latency {
        /// ms.
        lower: i64,
        /// ms, 0: none.
        upper: i64,
    },
    /// `numeric_attribute`.
    Numeric {
        /// Attribute.
        key: String,
        /// Inclusive range.
        min: i64,
        /// Inclusive range.
        max: i64,
        /// Inverted.
        invert: bool,
    },
    /// `probabilistic`.
    Probabilistic {
        /// Hash at or below this keeps the trace.
        threshold: u64,
        /// Salt.
        salt: String,
    },
    /// `status_code`: OK, ERROR, UNSET kept.
    Status([bool; 3]),
    /// `string_attribute`.
    Str {
        /// Attribute.
        key: String,
        /// Values.
        matcher: Matcher,
        /// Inverted.
        invert: bool,
    },
    /// `rate_limiting`.
    Rate(Mutex<TokenBucket>),
    /// `bytes_limiting`.
    Bytes(Mutex<TokenBucket>),
    /// `span_count`.
    SpanCount {
        /// At least.
        min: i64,
        /// At most (0: no limit).
        max: i64,
    },
    /// `trace_state`.
    TraceState {
        /// Member key.
        key: String,
        /// Values.
        values: HashSet<String>,
    },
    /// `boolean_attribute`.
    Bool {
        /// Attribute.
        key: String,
        /// Value.
        value: bool,
        /// Inverted.
        invert: bool,
    },
    /// `ottl_condition`.
    Ottl {
        /// Span conditions.
        spans: Box<ConditionSet<Span>>,
        /// Span-event conditions.
        events: Box<ConditionSet<SpanEvent>>,
    },
    /// `and`.
    And(Vec<Rule>),
    /// `drop`.
    Drop(Vec<Rule>),
    /// `composite`.
    Composite(Box<Composite>),
    /// `not`.
    Not(Box<Rule>),
    /// `trace_flags`: a span has the W3C sampled flag.
    TraceFlags,
}

/// The bucket behind `rate_limiting` and `bytes_limiting`.
#[derive(Debug)]
pub struct TokenBucket(Bucket);

impl TokenBucket {
    /// A full bucket of `burst` refilled at `rate` a second.
    fn full(rate: i64, burst: i64) -> Mutex<Self> {
        Mutex::new(TokenBucket(Bucket {
            rate: rate as f64,
            burst: burst as f64,
            tokens: burst as f64,
            at: None,
        }))
    }
}

/// What a policy reads of a trace: its requests, and how many spans they hold.
pub struct Trace<'a> {
    /// The trace id.
    pub id: [u8; 16],
    /// The requests holding its spans, in arrival order.
    pub parts: &'a [Batch],
    /// Spans in `parts`.
    pub spans: usize,
    /// When it is evaluated (for `rate_limiting`, `bytes_limiting` and `composite`).
    pub now: Instant,
    /// The resources and spans, read once for every policy that walks them.
    read: std::cell::OnceCell<Read<'a>>,
}

/// A trace's resources, each with the end of its spans in `spans`.
struct Read<'a> {
    resources: Vec<(ResourceView<'a>, usize)>,
    spans: Vec<SpanView<'a>>,
}

impl<'a> Trace<'a> {
    /// The trace `id` held in `parts` (`spans` spans), evaluated at `now`.
    pub fn new(id: [u8; 16], parts: &'a [Batch], spans: usize, now: Instant) -> Self {
        Trace {
            id,
            parts,
            spans,
            now,
            read: std::cell::OnceCell::new(),
        }
    }

    fn read(&self) -> &Read<'a> {
        self.read.get_or_init(|| {
            let mut r = Read {
                resources: Vec::new(),
                spans: Vec::with_capacity(self.spans),
            };
            for part in self.parts {
                for rs in TracesView::new(part.bytes()).resource_spans() {
                    r.spans.extend(rs.scope_spans().flat_map(|ss| ss.spans()));
                    r.resources.push((rs.resource(), r.spans.len()));
                }
            }
            r
        })
    }

    /// Every resource, each followed by its spans, in arrival order: `resource` is called for
    /// a resource, `span` for each of its spans; the first `Some` ends the walk.
    fn walk<T>(
        &self,
        mut resource: impl FnMut(ResourceView<'_>) -> Option<T>,
        mut span: impl FnMut(&SpanView<'_>) -> Option<T>,
    ) -> Option<T> {
        let read = self.read();
        let mut from = 0;
        for &(r, end) in &read.resources {
            if let Some(t) = resource(r) {
                return Some(t);
            }
            for s in read.spans.get(from..end).unwrap_or(&[]) {
                if let Some(t) = span(s) {
                    return Some(t);
                }
            }
            from = end;
        }
        None
    }

    /// Whether any span matches.
    fn any_span(&self, mut f: impl FnMut(&SpanView<'_>) -> bool) -> bool {
        self.walk(|_| None, |s| f(s).then_some(())).is_some()
    }

    /// `hasResourceOrSpanWithCondition`, or its inversion, on one attribute predicate.
    fn attribute_verdict(
        &self,
        invert: bool,
        on_resource: impl Fn(&Attributes<'_>) -> bool,
        on_span: impl Fn(&Attributes<'_>) -> bool,
    ) -> Verdict {
        let found = self
            .walk(
                |r| on_resource(&r.attributes()).then_some(()),
                |s| on_span(&s.attributes()).then_some(()),
            )
            .is_some();
        match (invert, found) {
            (false, true) => Verdict::Sampled,
            (false, false) => Verdict::NotSampled,
            (true, true) => Verdict::InvertNotSampled,
            (true, false) => Verdict::InvertSampled,
        }
    }
}

/// pdata's `Value.Int()`: 0 for a value of another type.
fn as_int(v: Option<AnyValueRef<'_>>) -> Option<i64> {
    v.map(|v| match v {
        AnyValueRef::Int(i) => i,
        _ => 0,
    })
}

/// pdata's `Value.Str()`: empty for a value of another type.
fn as_str(v: Option<AnyValueRef<'_>>) -> Option<&str> {
    v.map(|v| match v {
        AnyValueRef::Str(s) => s,
        _ => "",
    })
}

impl Rule {
    /// The verdict on `trace`; `Err` is an evaluation error (the policy is left out, counted).
    pub fn evaluate(&self, trace: &Trace<'_>) -> Result<Verdict, String> {
        let yes = |b: bool| {
            if b {
                Verdict::Sampled
            } else {
                Verdict::NotSampled
            }
        };
        Ok(match self {
            Rule::Always => Verdict::Sampled,
            Rule::Latency { lower, upper } => {
                // The Collector widens the span of time span by span and stops at the first
                // point where it qualifies.
                let (mut min, mut max) = (0u64, 0u64);
                yes(trace.any_span(|s| {
                    let (start, end) = (s.start_time_unix_nano(), s.end_time_unix_nano());
                    if min == 0 || start < min {
                        min = start;
                    }
                    if max == 0 || end > max {
                        max = end;
                    }
                    let ms = i64::try_from(max.saturating_sub(min) / 1_000_000).unwrap_or(i64::MAX);
                    if *upper == 0 {
                        ms >= *lower
                    } else {
                        *lower < ms && ms <= *upper
                    }
                }))
            }
            Rule::Numeric {
                key,
                min,
                max,
                invert,
            } => {
                let hit =
                    |a: &Attributes<'_>| as_int(a.get(key)).is_some_and(|v| *min <= v && v <= *max);
                trace.attribute_verdict(*invert, hit, hit)
            }
            Rule::Probabilistic { threshold, salt } => {
                yes(fnv1a64(salt.as_bytes(), &trace.id) <= *threshold)
            }
            Rule::Status(codes) => yes(trace.any_span(|s| {
                let i = match s.status_code() {
                    1 => 0,
                    2 => 1,
                    _ => 2,
                };
                codes.get(i).copied().unwrap_or(false)
            })),
            Rule::Str {
                key,
                matcher,
                invert,
            } => trace.attribute_verdict(
                *invert,
                |a| as_str(a.get(key)).is_some_and(|v| matcher.matches(v)),
                |a| as_str(a.get(key)).is_some_and(|v| !v.is_empty() && matcher.matches(v)),
            ),
            Rule::Rate(bucket) => yes(bucket
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .0
                .allow(trace.now, trace.spans)),
            Rule::Bytes(bucket) => {
                // The parts hold this trace's items alone: their encoded size is the trace's
                // protobuf size, as the Collector measures it.
                let bytes: usize = trace.parts.iter().map(|p| p.bytes().len()).sum();
                yes(bucket
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
                    .allow(trace.now, bytes))
            }
            Rule::SpanCount { min, max } => {
                let n = i64::try_from(trace.spans).unwrap_or(i64::MAX);
                yes(n >= *min && (*max == 0 || n <= *max))
            }
            Rule::TraceState { key, values } => yes(trace.any_span(|s| {
                s.trace_state().split(',').any(|member| {
                    member
                        .trim()
                        .split_once('=')
                        .is_some_and(|(k, v)| k == key && values.contains(v))
                })
            })),
            Rule::Bool { key, value, invert } => {
                let hit = |a: &Attributes<'_>| matches!(a.get(key), Some(AnyValueRef::Bool(b)) if b == *value);
                trace.attribute_verdict(*invert, hit, hit)
            }
            Rule::Ottl { spans, events } => {
                let mut failure = None;
                let mut cache = ContextCache::default();
                let mut hit = false;
                'parts: for part in trace.parts {
                    for (rs, ss, span) in TracesView::new(part.bytes()).spans() {
                        let ctx: SpanCtx<'_> = cache.get(&rs, &ss, &span);
                        match spans.matches(&ctx, |_, _| {}) {
                            Ok(true) => {
                                hit = true;
                                break 'parts;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                failure = Some(e.to_string());
                                break 'parts;
                            }
                        }
                        for event in span.events() {
                            let ectx = EventCtx { span: ctx, event };
                            match events.matches(&ectx, |_, _| {}) {
                                Ok(true) => {
                                    hit = true;
                                    break 'parts;
                                }
                                Ok(false) => {}
                                Err(e) => {
                                    failure = Some(e.to_string());
                                    break 'parts;
                                }
                            }
                        }
                    }
                }
                if let Some(f) = failure {
                    return Err(f);
                }
                yes(hit)
            }
            Rule::And(subs) => {
                for sub in subs {
                    match sub.evaluate(trace)? {
                        Verdict::NotSampled | Verdict::InvertNotSampled | Verdict::Dropped => {
                            return Ok(Verdict::NotSampled);
                        }
                        Verdict::Sampled | Verdict::InvertSampled => {}
                    }
                }
                Verdict::Sampled
            }
            Rule::Drop(subs) => {
                for sub in subs {
                    if !sub.evaluate(trace)?.sampled() {
                        return Ok(Verdict::NotSampled);
                    }
                }
                Verdict::Dropped
            }
            Rule::Composite(c) => c.evaluate(trace)?,
            // The Collector swaps yes and no only; an inverted verdict passes as it is.
            Rule::Not(sub) => match sub.evaluate(trace)? {
                Verdict::Sampled => Verdict::NotSampled,
                Verdict::NotSampled => Verdict::Sampled,
                other => other,
            },
            // The low byte of a span's `flags` holds the W3C trace flags.
            Rule::TraceFlags => yes(trace.any_span(|s| s.flags() & 0x01 != 0)),
        })
    }
}

/// FNV-1a (64 bits) of the salt then the trace id: the Collector's `hashTraceID`.
pub fn fnv1a64(salt: &[u8], id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.iter().chain(id) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The hash threshold of a percentage: `u64::MAX × ratio`, every trace at 100 % or more.
pub fn threshold(percentage: f64) -> u64 {
    let ratio = percentage / 100.0;
    if ratio >= 1.0 {
        u64::MAX
    } else if ratio <= 0.0 || ratio.is_nan() {
        0
    } else {
        // 2^64 × ratio fits: ratio < 1.
        (ratio * 18_446_744_073_709_551_616.0) as u64
    }
}

impl PolicyConfig {
    /// Checks and compiles the policy at `field` (`policies[2]`), which sits at `level`: the
    /// combinators nest as in the Collector (`and` in `composite`, nothing in `and` or `drop`).
    pub fn compile(&self, field: &str, level: Level) -> Result<Rule, Vec<ConfigError>> {
        let err = |sub: &str, reason: String| {
            let f = if sub.is_empty() {
                field.to_owned()
            } else {
                format!("{field}.{sub}")
            };
            vec![ConfigError::new(reason).field(f)]
        };
        if self.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        let t = self.type_.as_str();
        // The type's own settings, which the policy must have.
        fn need<'c, T>(v: &'c Option<T>, field: &str, t: &str) -> Result<&'c T, Vec<ConfigError>> {
            v.as_ref().ok_or_else(|| {
                vec![
                    ConfigError::new(format!("a policy of type {t:?} needs its `{t}` settings"))
                        .field(format!("{field}.{t}")),
                ]
            })
        }
        // A setting that must hold, or the reason it does not at `sub`.
        let require = |holds: bool, sub: &str, reason: &str| {
            if holds {
                Ok(())
            } else {
                Err(err(sub, reason.into()))
            }
        };
        let filled = |empty: bool, sub: &str| require(!empty, sub, "must not be empty");
        Ok(match t {
            "always_sample" => Rule::Always,
            "latency" => {
                let c = need(&self.latency, field, t)?;
                require(
                    c.upper_threshold_ms == 0 || c.upper_threshold_ms >= c.threshold_ms,
                    "latency.upper_threshold_ms",
                    "must be at least threshold_ms",
                )?;
                Rule::Latency {
                    lower: c.threshold_ms,
                    upper: c.upper_threshold_ms,
                }
            }
            "numeric_attribute" => {
                let c = need(&self.numeric_attribute, field, t)?;
                filled(c.key.is_empty(), "numeric_attribute.key")?;
                require(
                    c.min_value.is_some() || c.max_value.is_some(),
                    "numeric_attribute",
                    "set min_value, max_value or both",
                )?;
                let (min, max) = (
                    c.min_value.unwrap_or(i64::MIN),
                    c.max_value.unwrap_or(i64::MAX),
                );
                require(
                    min <= max,
                    "numeric_attribute.max_value",
                    "must be at least min_value",
                )?;
                Rule::Numeric {
                    key: c.key.clone(),
                    min,
                    max,
                    invert: c.invert_match,
                }
            }
            "probabilistic" => {
                let c = need(&self.probabilistic, field, t)?;
                require(
                    c.sampling_percentage >= 0.0,
                    "probabilistic.sampling_percentage",
                    "must not be negative",
                )?;
                Rule::Probabilistic {
                    threshold: threshold(c.sampling_percentage),
                    salt: if c.hash_salt.is_empty() {
                        DEFAULT_HASH_SALT.to_owned()
                    } else {
                        c.hash_salt.clone()
                    },
                }
            }
            "status_code" => {
                let c = need(&self.status_code, field, t)?;
                filled(c.status_codes.is_empty(), "status_code.status_codes")?;
                let mut codes = [false; 3];
                for s in &c.status_codes {
                    match s.as_str() {
                        "OK" => codes[0] = true,
                        "ERROR" => codes[1] = true,
                        "UNSET" => codes[2] = true,
                        other => {
                            return Err(err(
                                "status_code.status_codes",
                                format!("unknown status code {other:?}: use OK, ERROR or UNSET"),
                            ));
                        }
                    }
                }
                Rule::Status(codes)
            }
            "string_attribute" => {
                let c = need(&self.string_attribute, field, t)?;
                filled(c.key.is_empty(), "string_attribute.key")?;
                filled(c.values.is_empty(), "string_attribute.values")?;
                let matcher = if c.enabled_regex_matching {
                    let mut list = Vec::new();
                    for (i, v) in c.values.iter().enumerate() {
                        match meshtrace_ottl::compile_go_regex(v) {
                            Ok(r) => list.push(r),
                            Err(e) => {
                                return Err(err(
                                    &format!("string_attribute.values[{i}]"),
                                    format!("invalid regular expression {v:?}: {e}"),
                                ));
                            }
                        }
                    }
                    Matcher::Regex(list)
                } else {
                    Matcher::Exact(c.values.iter().filter(|v| !v.is_empty()).cloned().collect())
                };
                Rule::Str {
                    key: c.key.clone(),
                    matcher,
                    invert: c.invert_match,
                }
            }
            "rate_limiting" => {
                let c = need(&self.rate_limiting, field, t)?;
                require(
                    c.spans_per_second > 0,
                    "rate_limiting.spans_per_second",
                    "must be positive",
                )?;
                let burst = c
                    .burst_capacity
                    .unwrap_or(c.spans_per_second.saturating_mul(2));
                require(
                    burst > 0,
                    "rate_limiting.burst_capacity",
                    "must be positive",
                )?;
                Rule::Rate(TokenBucket::full(c.spans_per_second, burst))
            }
            "bytes_limiting" => {
                let c = need(&self.bytes_limiting, field, t)?;
                require(
                    c.bytes_per_second > 0,
                    "bytes_limiting.bytes_per_second",
                    "must be positive",
                )?;
                require(
                    c.burst_capacity >= 0,
                    "bytes_limiting.burst_capacity",
                    "must not be negative",
                )?;
                let burst = if c.burst_capacity == 0 {
                    c.bytes_per_second.saturating_mul(2)
                } else {
                    c.burst_capacity
                };
                Rule::Bytes(TokenBucket::full(c.bytes_per_second, burst))
            }
            "span_count" => {
                let c = need(&self.span_count, field, t)?;
                require(
                    c.max_spans == 0 || c.max_spans >= c.min_spans,
                    "span_count.max_spans",
                    "must be at least min_spans",
                )?;
                Rule::SpanCount {
                    min: c.min_spans,
                    max: c.max_spans,
                }
            }
            "trace_state" => {
                let c = need(&self.trace_state, field, t)?;
                filled(c.key.is_empty(), "trace_state.key")?;
                filled(c.values.is_empty(), "trace_state.values")?;
                Rule::TraceState {
                    key: c.key.clone(),
                    values: c.values.iter().cloned().collect(),
                }
            }
            "boolean_attribute" => {
                let c = need(&self.boolean_attribute, field, t)?;
                filled(c.key.is_empty(), "boolean_attribute.key")?;
                Rule::Bool {
                    key: c.key.clone(),
                    value: c.value,
                    invert: c.invert_match,
                }
            }
            "ottl_condition" => {
                let c = need(&self.ottl_condition, field, t)?;
                require(
                    !c.span.is_empty() || !c.spanevent.is_empty(),
                    "ottl_condition",
                    "set `span` or `spanevent` conditions",
                )?;
                let mode = match c.error_mode.as_deref() {
                    None => ErrorMode::Propagate,
                    Some(m) => m
                        .parse()
                        .map_err(|e: String| err("ottl_condition.error_mode", e))?,
                };
                let spans = ConditionSet::<Span>::parse(&c.span, mode).map_err(|e| {
                    err(
                        &format!("ottl_condition.span[{}]", e.index),
                        format!("invalid OTTL condition: {}", e.error),
                    )
                })?;
                let events = ConditionSet::<SpanEvent>::parse(&c.spanevent, mode).map_err(|e| {
                    err(
                        &format!("ottl_condition.spanevent[{}]", e.index),
                        format!("invalid OTTL condition: {}", e.error),
                    )
                })?;
                Rule::Ottl {
                    spans: Box::new(spans),
                    events: Box::new(events),
                }
            }
            "not" if level == Level::Leaf => {
                return Err(err(
                    "type",
                    format!("a {t:?} policy cannot be nested in another"),
                ));
            }
            "not" => {
                let Some(sub) = &need(&self.not, field, t)?.not_sub_policy else {
                    return Err(err("not.not_sub_policy", "must be set".into()));
                };
                let rule = sub.compile(&format!("{field}.not.not_sub_policy"), Level::Leaf)?;
                Rule::Not(Box::new(rule))
            }
            "trace_flags" => Rule::TraceFlags,
            "and" | "drop" | "composite"
                if matches!(level, Level::Sub | Level::Leaf)
                    || (level == Level::Composite && t != "and") =>
            {
                return Err(err(
                    "type",
                    format!("a {t:?} policy cannot be nested in another"),
                ));
            }
            "and" | "drop" => {
                let subs = if t == "and" {
                    &need(&self.and, field, t)?.and_sub_policy
                } else {
                    &need(&self.drop, field, t)?.drop_sub_policy
                };
                let list = if t == "and" {
                    "and.and_sub_policy"
                } else {
                    "drop.drop_sub_policy"
                };
                if subs.is_empty() {
                    return Err(err(list, "must not be empty".into()));
                }
                let mut rules = Vec::new();
                let mut errors = Vec::new();
                for (i, s) in subs.iter().enumerate() {
                    match s.compile(&format!("{field}.{list}[{i}]"), Level::Sub) {
                        Ok(r) => rules.push(r),
                        Err(e) => errors.extend(e),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                if t == "and" {
                    Rule::And(rules)
                } else {
                    Rule::Drop(rules)
                }
            }
            "composite" => {
                let c = need(&self.composite, field, t)?;
                require(
                    c.max_total_spans_per_second > 0,
                    "composite.max_total_spans_per_second",
                    "must be positive",
                )?;
                filled(
                    c.composite_sub_policy.is_empty(),
                    "composite.composite_sub_policy",
                )?;
                let mut subs = Vec::new();
                let mut errors = Vec::new();
                for (i, (s, share)) in c
                    .composite_sub_policy
                    .iter()
                    .zip(c.allocations())
                    .enumerate()
                {
                    let at = format!("{field}.composite.composite_sub_policy[{i}]");
                    match s.compile(&at, Level::Composite) {
                        Ok(r) => subs.push((r, share)),
                        Err(e) => errors.extend(e),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                let kept = vec![0; subs.len()];
                Rule::Composite(Box::new(Composite {
                    max_total: c.max_total_spans_per_second,
                    subs,
                    window: Mutex::new(Window {
                        start: None,
                        second: 0,
                        kept,
                    }),
                }))
            }
            "" => return Err(err("type", "must be set".into())),
            other => {
                return Err(err(
                    "type",
                    format!(
                        "unknown policy type {other:?} (supported: always_sample, latency, numeric_attribute, probabilistic, status_code, string_attribute, rate_limiting, bytes_limiting, span_count, trace_state, boolean_attribute, ottl_condition, trace_flags, and, drop, not, composite)"
                    ),
                ));
            }
        })
    }
}

impl PolicyConfig {
    /// What the policy at `field` accepts but will not do as it seems to.
    pub fn warnings(&self, field: &str) -> Vec<String> {
        match (&self.composite, self.type_.as_str()) {
            (Some(c), "composite") => c.warnings(field),
            _ => Vec::new(),
        }
    }
}
