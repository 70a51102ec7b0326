//! `probabilistic_sampler`: keeps a share of the spans, decided from the trace id so that
//! every replica and every span of a trace agree — the OpenTelemetry Collector's processor,
//! for traces.
//!
//! Modes (`mode`):
//! - `hash_seed` (default): FNV-1a of `hash_seed` and the trace id, 14 bits of precision;
//!   sampled spans get `ot=rv:…;th:…` in their tracestate. Spans that already carry `rv` or
//!   `th` are an error (use a consistent mode for them).
//! - `proportional`: OpenTelemetry consistent sampling on the W3C randomness of the trace id
//!   (or an explicit `rv`); the arriving `th` is multiplied by the configured ratio.
//! - `equalizing`: the same randomness; the threshold is raised to the configured one unless
//!   the span arrived with a lower probability already.
//!
//! A span's `sampling.priority` attribute overrides the decision (0: drop, > 0: keep).
//! Errors (unparsable tracestate, no randomness: an all-zero trace id, an arriving `th`
//! inconsistent with the randomness) drop the span with `fail_closed: true` (the default)
//! and keep it otherwise.

mod sampling;

use std::sync::Arc;

use serde::{Deserialize, Deserializer};

use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::ConfigError;
use crate::otlp::rewrite::{Action, SpanEdit, TracesEditor, rewrite_traces};
use crate::otlp::views::{AnyValueRef, ResourceSpansView, ScopeSpansView, SpanView};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::telemetry::Counter;

pub use sampling::{Randomness, Threshold, TraceState};

/// `mode:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The legacy FNV-hash mode (default).
    #[default]
    HashSeed,
    /// OTEP 235, multiplying arriving probabilities.
    Proportional,
    /// OTEP 235, equalizing to the configured probability.
    Equalizing,
}

/// `processors: probabilistic_sampler:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerConfig {
    /// Percentage of spans to keep (0 keeps none; 100 or more keeps all). Read as a 32-bit
    /// float, like the Collector.
    #[serde(default)]
    pub sampling_percentage: f32,
    /// Seed of the `hash_seed` mode's hash; every collector of a tier must use the same one.
    #[serde(default)]
    pub hash_seed: u32,
    /// `hash_seed` (default), `proportional` or `equalizing`.
    #[serde(default, deserialize_with = "de_mode")]
    pub mode: Mode,
    /// Drop spans whose sampling information is broken (default `true`).
    #[serde(default = "default_true")]
    pub fail_closed: bool,
    /// Hex digits of the thresholds written to `th` (1–14, default 4).
    #[serde(default = "default_precision")]
    pub sampling_precision: u32,
    /// Logs only in the Collector; not used for traces (the span attribute is always
    /// `sampling.priority`). Accepted so shared configs load.
    #[serde(default)]
    pub sampling_priority: Option<String>,
    /// Logs only; accepted, not used for traces.
    #[serde(default)]
    pub attribute_source: Option<String>,
    /// Logs only; accepted, not used for traces.
    #[serde(default)]
    pub from_attribute: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_precision() -> u32 {
    4
}

fn de_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    match s.as_str() {
        "" | "hash_seed" => Ok(Mode::HashSeed),
        "proportional" => Ok(Mode::Proportional),
        "equalizing" => Ok(Mode::Equalizing),
        other => Err(serde::de::Error::custom(format!(
            "unsupported sampler mode {other:?} (use hash_seed, proportional or equalizing)"
        ))),
    }
}

impl Validate for SamplerConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let pct = f64::from(self.sampling_percentage);
        if !pct.is_finite() {
            e.push(
                ConfigError::new(format!("sampling rate is invalid: {pct}%"))
                    .field("sampling_percentage"),
            );
        } else if pct < 0.0 {
            e.push(
                ConfigError::new(format!("sampling rate is negative: {pct}%"))
                    .field("sampling_percentage"),
            );
        } else if pct > 0.0 && pct / 100.0 < sampling::MIN_PROBABILITY {
            e.push(
                ConfigError::new(format!("sampling rate is too small: {pct}%"))
                    .field("sampling_percentage"),
            );
        }
        if self.sampling_precision == 0 {
            e.push(ConfigError::new("invalid sampling precision: 0").field("sampling_precision"));
        } else if self.sampling_precision as usize > sampling::NUM_HEX_DIGITS {
            e.push(
                ConfigError::new(format!(
                    "sampling precision is too great, should be <= 14: {}",
                    self.sampling_precision
                ))
                .field("sampling_precision"),
            );
        }
        if let Some(s) = &self.attribute_source
            && s != "traceID"
            && s != "record"
        {
            e.push(
                ConfigError::new(format!(
                    "invalid attribute source: {s}. Expected: traceID or record"
                ))
                .field("attribute_source"),
            );
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        for (name, set) in [
            ("sampling_priority", self.sampling_priority.is_some()),
            ("attribute_source", self.attribute_source.is_some()),
            ("from_attribute", self.from_attribute.is_some()),
        ] {
            if set {
                w.push(format!(
                    "`{name}` applies to logs only; it has no effect on traces"
                ));
            }
        }
        w
    }
}

/// How one sampler decides.
#[derive(Debug, Clone, Copy)]
enum Decider {
    /// 0 %: nothing passes (except by priority).
    Never,
    /// The legacy mode's fixed threshold.
    Hash { threshold: Threshold, seed: u32 },
    /// Consistent, multiplying.
    Proportional { ratio: f64, precision: usize },
    /// Consistent, equalizing.
    Equalizing { threshold: Threshold },
}

impl SamplerConfig {
    fn decider(&self) -> Decider {
        let pct = self.sampling_percentage.min(100.0);
        if pct <= 0.0 {
            return Decider::Never;
        }
        let ratio = (f64::from(pct) / 100.0).max(sampling::MIN_PROBABILITY);
        let precision = self.sampling_precision as usize;
        match self.mode {
            Mode::Equalizing => Decider::Equalizing {
                threshold: Threshold::from_probability(ratio, precision)
                    .unwrap_or(Threshold::ALWAYS),
            },
            Mode::Proportional => Decider::Proportional { ratio, precision },
            Mode::HashSeed => {
                // The original arithmetic, kept for consistency across versions: a 32-bit
                // float product, truncated.
                let scaled = (pct * (sampling::NUM_HASH_BUCKETS as f32 / 100.0)) as u32;
                if scaled == 0 {
                    return Decider::Never;
                }
                let reject = u64::from(sampling::NUM_HASH_BUCKETS.saturating_sub(scaled)) << 42;
                Decider::Hash {
                    threshold: Threshold(reject),
                    seed: self.hash_seed,
                }
            }
        }
    }
}

impl ProcessorConfig for SamplerConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        Ok(Arc::new(SamplerProcessor::new(ctx, signal, self, next)))
    }
}

/// The policy label of `otelcol_processor_probabilistic_sampler_count_traces_sampled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    TraceIdHash,
    TraceIdW3c,
    SamplingRandomness,
    SamplingPriority,
    MissingRandomness,
}

impl Policy {
    const ALL: [Policy; 5] = [
        Policy::TraceIdHash,
        Policy::TraceIdW3c,
        Policy::SamplingRandomness,
        Policy::SamplingPriority,
        Policy::MissingRandomness,
    ];
    fn name(self) -> &'static str {
        match self {
            Policy::TraceIdHash => "trace_id_hash",
            Policy::TraceIdW3c => "trace_id_w3c",
            Policy::SamplingRandomness => "sampling_randomness",
            Policy::SamplingPriority => "sampling_priority",
            Policy::MissingRandomness => "missing_randomness",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// A running `probabilistic_sampler`.
pub struct SamplerProcessor {
    decider: Decider,
    fail_closed: bool,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
    /// Per policy: [not sampled, sampled].
    decisions: Vec<[Arc<Counter>; 2]>,
}

/// The outcome for one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Keep the span.
    pub sampled: bool,
    /// The new tracestate, when it changes.
    pub trace_state: Option<String>,
    policy: Policy,
}

/// The threshold a span arrived with.
fn arriving(carrier: Option<&TraceState>) -> Option<Threshold> {
    carrier.and_then(|c| c.ot.th.as_ref()).map(|(_, t)| *t)
}

/// `sampling.priority`: `Some(false)` drop, `Some(true)` keep, `None` decide normally.
fn priority(span: &SpanView<'_>) -> Option<bool> {
    let v = span.attributes().get("sampling.priority")?;
    let x = match v {
        AnyValueRef::Int(i) => i as f64,
        AnyValueRef::Double(d) => d,
        AnyValueRef::Str(s) => s.parse::<f64>().ok()?,
        _ => return None,
    };
    if x == 0.0 {
        Some(false)
    } else if x > 0.0 {
        Some(true)
    } else {
        None
    }
}

impl SamplerProcessor {
    fn new(ctx: &Context, signal: Signal, cfg: &SamplerConfig, next: Arc<dyn Consumer>) -> Self {
        let decisions = Policy::ALL
            .iter()
            .map(|p| {
                [false, true].map(|sampled| {
                    ctx.telemetry.counter(
                        "otelcol_processor_probabilistic_sampler_count_traces_sampled_total",
                        "Count of traces that were sampled or not",
                        &[
                            ("policy", p.name()),
                            ("sampled", if sampled { "true" } else { "false" }),
                        ],
                    )
                })
            })
            .collect();
        Self {
            decider: cfg.decider(),
            fail_closed: cfg.fail_closed,
            next,
            counters: ItemCounters::new(ctx, signal),
            decisions,
        }
    }

    /// Decides for one span (`commonShouldSampleLogic` of the Collector).
    pub fn decide(&self, span: &SpanView<'_>) -> Decision {
        let trace_id = span.trace_id();
        let tid_empty = trace_id == [0; 16];
        let parsed = TraceState::parse(span.trace_state());
        // Randomness, the carrier (tracestate to update) and the first error.
        let (mut policy, rnd, mut carrier, mut error): (
            Policy,
            Randomness,
            Option<TraceState>,
            bool,
        ) = match self.decider {
            Decider::Never => (
                Policy::SamplingPriority,
                Randomness::ALL,
                parsed.as_ref().ok().cloned(),
                parsed.is_err(),
            ),
            Decider::Hash { seed, .. } => {
                let (policy, rnd) = if tid_empty {
                    (Policy::MissingRandomness, Randomness::ALL)
                } else {
                    (
                        Policy::TraceIdHash,
                        sampling::hash_randomness(&trace_id, seed),
                    )
                };
                match parsed {
                    Err(_) => (policy, rnd, None, true),
                    // Explicit sampling information: this mode must leave it alone.
                    Ok(ts) if ts.ot.rv.is_some() || ts.ot.th.is_some() => (policy, rnd, None, true),
                    Ok(mut ts) => {
                        ts.ot.rv = Some((rnd.rvalue(), rnd));
                        (policy, rnd, Some(ts), false)
                    }
                }
            }
            Decider::Proportional { .. } | Decider::Equalizing { .. } => match parsed {
                // An unreadable tracestate leaves the span without randomness.
                Err(_) => (Policy::MissingRandomness, Randomness::ALL, None, true),
                Ok(ts) => {
                    let (p, r) = match &ts.ot.rv {
                        Some((_, r)) => (Policy::SamplingRandomness, *r),
                        None if tid_empty => (Policy::MissingRandomness, Randomness::ALL),
                        None => (Policy::TraceIdW3c, Randomness::from_trace_id(&trace_id)),
                    };
                    (p, r, Some(ts), false)
                }
            },
        };
        // Consistency check.
        if !error {
            if policy == Policy::MissingRandomness {
                error = true;
            } else if let Some(ts) = carrier.as_mut()
                && let Some((_, th)) = ts.ot.th
                && !th.should_sample(rnd)
            {
                // The arriving threshold is a lie for this randomness: clear it.
                ts.ot.th = None;
                error = true;
            }
        }
        let mut threshold = if error {
            if self.fail_closed {
                Threshold::NEVER
            } else {
                Threshold::ALWAYS
            }
        } else {
            match self.decider {
                Decider::Never => Threshold::NEVER,
                Decider::Hash { threshold, .. } => threshold,
                Decider::Equalizing { threshold } => match arriving(carrier.as_ref()) {
                    Some(arriving) if threshold < arriving => arriving,
                    _ => threshold,
                },
                Decider::Proportional { ratio, precision } => {
                    let incoming = arriving(carrier.as_ref()).map_or(1.0, Threshold::probability);
                    Threshold::from_probability(incoming * ratio, precision)
                        .unwrap_or(Threshold::NEVER)
                }
            }
        };
        if let Some(p) = priority(span) {
            threshold = if p {
                Threshold::ALWAYS
            } else {
                Threshold::NEVER
            };
            policy = Policy::SamplingPriority;
        }
        let sampled = threshold.should_sample(rnd);
        let trace_state = match (sampled, carrier.as_mut()) {
            (true, Some(ts)) => {
                ts.update_threshold(threshold);
                let new = ts.serialize();
                (new != span.trace_state()).then_some(new)
            }
            _ => None,
        };
        Decision {
            sampled,
            trace_state,
            policy,
        }
    }

    /// Samples one request.
    pub fn sample(&self, batch: &Batch) -> Batch {
        let mut editor = Editor { p: self };
        rewrite_traces(batch, &mut editor)
    }
}

struct Editor<'p> {
    p: &'p SamplerProcessor,
}

impl<'a> TracesEditor<'a> for Editor<'_> {
    fn span(
        &mut self,
        _: &ResourceSpansView<'a>,
        _: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        let d = self.p.decide(span);
        if let Some(c) = self
            .p
            .decisions
            .get(d.policy.index())
            .and_then(|c| c.get(usize::from(d.sampled)))
        {
            c.add(1);
        }
        if !d.sampled {
            return Action::Drop;
        }
        if let Some(ts) = d.trace_state {
            edit.set_trace_state(ts);
        }
        Action::Keep
    }
}

impl Consumer for SamplerProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.counters.incoming.add(batch.items() as u64);
            let out = if batch.signal() == Signal::Traces {
                self.sample(&batch)
            } else {
                batch
            };
            if out.items() == 0 {
                return Ok(());
            }
            self.counters.outgoing.add(out.items() as u64);
            self.next.consume(out).await
        })
    }
}

impl Processor for SamplerProcessor {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests;
