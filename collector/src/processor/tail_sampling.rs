//! `tail_sampling`: keeps or drops whole traces once they are complete, by policies over all
//! their spans — errors, slow traces, a route, a share of the rest — as the OpenTelemetry
//! Collector's processor of that name, with its config.
//!
//! A request is cut by trace ([`partition_items`]: each part keeps its spans' resources and
//! scopes) and each trace's parts wait, as they arrived, until `decision_wait` after its first
//! span, or `decision_wait_after_root_received` after its root span when that is sooner (in a
//! mesh the root, the edge proxy's SERVER span, ends and is exported last). Then every policy
//! gives its verdict ([`policy::decide`]: a drop or an inverted match vetoes, else any yes
//! keeps) and a kept trace's parts go on, in one request with the other traces decided at that
//! tick. Spans that come after the decision follow it while the trace
//! is remembered: among the last `num_traces` traces, or in the decision caches. Past
//! `num_traces` traces waiting, the oldest is dropped undecided, as in the Collector.
//! At shutdown every waiting trace is decided at once, so nothing a policy would keep is lost
//! (unless `drop_pending_traces_on_shutdown`). A trace past `maximum_trace_size_bytes` is
//! dropped as soon as it is, undecided, and its later spans with it.
//!
//! All buffered traces stay in memory: run a `memory_limiter` ahead of it, and a
//! [`loadbalancing`](crate::exporter::loadbalancing) tier in front of several replicas so that
//! each trace is decided whole in one place.

pub mod policy;

use crate::background::{Background, FirstCall};
use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::{ConfigError, duration};
use crate::otlp::batching::{concat, partition_items};
use crate::otlp::views::SpanView;
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::telemetry::{Counter, Gauge, Histogram};
use policy::{PolicyConfig, Rule, Trace, Verdict};
use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// `processors: tail_sampling:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSamplingConfig {
    /// How long after a trace's first span it is decided (default 30s).
    #[serde(default = "default_wait", deserialize_with = "duration::de")]
    pub decision_wait: Duration,
    /// Traces kept in memory, waiting or decided (default 50,000).
    #[serde(default = "default_num_traces")]
    pub num_traces: u64,
    /// Decide this long after a trace's root span (no parent) arrived, when that is sooner
    /// than `decision_wait` (default 0: off).
    #[serde(default, deserialize_with = "duration::de")]
    pub decision_wait_after_root_received: Duration,
    /// A trace whose spans take more than this many bytes (their protobuf size, counted as
    /// they arrive) is dropped at once, undecided (default 0: no limit).
    #[serde(default)]
    pub maximum_trace_size_bytes: u64,
    /// At shutdown, drop the traces still waiting instead of deciding them.
    #[serde(default)]
    pub drop_pending_traces_on_shutdown: bool,
    /// Accepted: a sizing hint in the Collector.
    #[serde(default)]
    pub expected_new_traces_per_sec: u64,
    /// Stop at the first policy that keeps a trace.
    #[serde(default)]
    pub sample_on_first_match: bool,
    /// Decisions remembered after their trace left memory.
    #[serde(default)]
    pub decision_cache: DecisionCacheConfig,
    /// The policies, evaluated in order.
    #[serde(default)]
    pub policies: Vec<PolicyConfig>,
}

fn default_wait() -> Duration {
    Duration::from_secs(30)
}

fn default_num_traces() -> u64 {
    50_000
}

/// `decision_cache`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionCacheConfig {
    /// Trace ids kept, remembered (0: none).
    #[serde(default)]
    pub sampled_cache_size: usize,
    /// Trace ids dropped, remembered (0: none).
    #[serde(default)]
    pub non_sampled_cache_size: usize,
}

impl TailSamplingConfig {
    fn compile(&self) -> Result<Vec<(String, Rule)>, Vec<ConfigError>> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        let mut names = HashSet::new();
        for (i, p) in self.policies.iter().enumerate() {
            let field = format!("policies[{i}]");
            if !p.name.is_empty() && !names.insert(p.name.as_str()) {
                errors.push(
                    ConfigError::new(format!("duplicate policy name {:?}", p.name))
                        .field(format!("{field}.name")),
                );
            }
            match p.compile(&field, policy::Level::Top) {
                Ok(r) => rules.push((p.name.clone(), r)),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(rules)
        } else {
            Err(errors)
        }
    }
}

impl Validate for TailSamplingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = self.compile().err().unwrap_or_default();
        if self.policies.is_empty() {
            e.push(ConfigError::new("no policies: list at least one").field("policies"));
        }
        if self.decision_wait.is_zero() {
            e.push(ConfigError::new("must be positive").field("decision_wait"));
        }
        if self.num_traces == 0 {
            e.push(ConfigError::new("must be positive").field("num_traces"));
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .policies
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.warnings(&format!("policies[{i}]")))
            .collect();
        if !self.decision_wait_after_root_received.is_zero()
            && self.decision_wait_after_root_received >= self.decision_wait
        {
            w.push("decision_wait_after_root_received: not shorter than decision_wait, so no trace is decided sooner".into());
        }
        w
    }
}

impl ProcessorConfig for TailSamplingConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        if signal != Signal::Traces {
            return Err(ctx.error("tail_sampling takes traces only"));
        }
        let rules = self.compile().map_err(|e| ctx.config_errors(&e))?;
        Ok(TailSampler::spawn(ctx, self, rules, next))
    }
}

/// Where a trace stands.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Stage {
    /// Its spans wait for the decision.
    Waiting,
    /// Its policies are being evaluated; spans arriving meanwhile wait for the outcome.
    Deciding,
    /// Decided (kept or not): later spans follow.
    Decided(bool),
}

/// The OpenTelemetry SDK's default histogram bounds, which the Collector's tail-sampling
/// histograms use (milliseconds for the decision timer, seconds for late span age).
const DEFAULT_BOUNDS: &[u64] = &[
    0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10_000,
];

struct TraceEntry {
    /// Arrival number, telling this trace from an earlier one with the same id.
    seq: u64,
    stage: Stage,
    parts: Vec<Batch>,
    spans: usize,
    /// Bytes of its parts so far, for `maximum_trace_size_bytes`.
    bytes: u64,
    /// When it was decided, for the age of spans that come after.
    decided_at: Option<Instant>,
    /// A root span arrived (its decision is due sooner: `State::after_root`).
    root_seen: bool,
}

/// A bounded set of trace ids, the oldest forgotten first.
#[derive(Default)]
struct Remembered {
    cap: usize,
    set: HashSet<[u8; 16]>,
    order: VecDeque<[u8; 16]>,
}

impl Remembered {
    fn insert(&mut self, id: [u8; 16]) {
        if self.cap == 0 || !self.set.insert(id) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

#[derive(Default)]
struct State {
    traces: HashMap<[u8; 16], TraceEntry>,
    /// (id, seq) in arrival order: the decision order, and the eviction order.
    arrivals: VecDeque<([u8; 16], u64, Instant)>,
    /// How far `arrivals` has been decided.
    decided_upto: usize,
    /// (id, seq, due) of traces whose root arrived, in that order: with one delay for all,
    /// also the order they are due.
    after_root: VecDeque<([u8; 16], u64, Instant)>,
    next_seq: u64,
    sampled: Remembered,
    not_sampled: Remembered,
}

struct Metrics {
    counters: ItemCounters,
    per_policy: Vec<[Arc<Counter>; 2]>,
    global: [Arc<Counter>; 2],
    new_traces: Arc<Counter>,
    too_early: Arc<Counter>,
    too_large: Arc<Counter>,
    errors: Arc<Counter>,
    late_dropped: Arc<Counter>,
    /// Spans that went on or were dropped by a decision cache's answer, by `sampled`.
    from_cache: [Arc<Counter>; 2],
    /// Seconds between a trace's decision and a part that came after it, while in memory.
    late_age: Arc<Histogram>,
    /// Milliseconds a tick took to decide its due traces.
    timer_latency: Arc<Histogram>,
    on_memory: Arc<Gauge>,
}

struct Shared {
    label: String,
    wait: Duration,
    /// `decision_wait_after_root_received`, when set.
    after_root: Option<Duration>,
    /// `maximum_trace_size_bytes` (0: no limit).
    max_bytes: u64,
    drop_pending: bool,
    num_traces: usize,
    first_match: bool,
    rules: Vec<(String, Rule)>,
    next: Arc<dyn Consumer>,
    state: Mutex<State>,
    metrics: Metrics,
}

/// A running `tail_sampling` processor.
pub struct TailSampler {
    shared: Arc<Shared>,
    /// The decision tick.
    tick: Background,
}

fn two(f: impl Fn(&'static str) -> Arc<Counter>) -> [Arc<Counter>; 2] {
    [f("false"), f("true")]
}

/// The counter of a `sampled` pair for an outcome.
fn of(pair: &[Arc<Counter>; 2], sampled: bool) -> &Counter {
    let [no, yes] = pair;
    if sampled { yes } else { no }
}

impl TailSampler {
    fn spawn(
        ctx: &Context,
        cfg: &TailSamplingConfig,
        rules: Vec<(String, Rule)>,
        next: Arc<dyn Consumer>,
    ) -> Arc<TailSampler> {
        let t = &ctx.telemetry;
        let id = ctx.id.to_string();
        let processor: (&'static str, &str) = ("processor", &id);
        let per_policy = rules
            .iter()
            .map(|(name, _)| {
                two(|sampled| {
                    t.counter(
                        "otelcol_processor_tail_sampling_count_traces_sampled_total",
                        "Count of traces that were sampled or not per sampling policy",
                        &[processor, ("policy", name), ("sampled", sampled)],
                    )
                })
            })
            .collect();
        let metrics = Metrics {
            counters: ItemCounters::new(ctx, Signal::Traces),
            per_policy,
            global: two(|sampled| {
                t.counter(
                    "otelcol_processor_tail_sampling_global_count_traces_sampled_total",
                    "Global count of traces that were sampled or not by at least one policy",
                    &[processor, ("sampled", sampled)],
                )
            }),
            new_traces: t.counter(
                "otelcol_processor_tail_sampling_new_trace_id_received_total",
                "Counts the arrival of new traces",
                &[processor],
            ),
            too_early: t.counter(
                "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total",
                "Count of traces that needed to be dropped before the configured wait time",
                &[processor],
            ),
            too_large: t.counter(
                "otelcol_processor_tail_sampling_traces_dropped_too_large_total",
                "Count of traces that were dropped because they were too large",
                &[processor],
            ),
            errors: t.counter(
                "otelcol_processor_tail_sampling_sampling_policy_evaluation_error_total",
                "Count of sampling policy evaluation errors",
                &[processor],
            ),
            late_dropped: t.counter(
                "meshtrace_processor_tail_sampling_late_spans_dropped_total",
                "Spans that came after their trace was decided not to be kept",
                &[processor],
            ),
            from_cache: two(|sampled| {
                t.counter(
                    "otelcol_processor_tail_sampling_early_releases_from_cache_decision_total",
                    "Number of spans that were able to be immediately released due to a decision cache hit",
                    &[processor, ("sampled", sampled)],
                )
            }),
            late_age: t.histogram(
                "otelcol_processor_tail_sampling_sampling_late_span_age",
                "Time (in seconds) from the sampling decision was taken and the arrival of a late span",
                &[processor],
                DEFAULT_BOUNDS,
            ),
            timer_latency: t.histogram(
                "otelcol_processor_tail_sampling_sampling_decision_timer_latency",
                "Latency (in milliseconds) of each run of the sampling decision timer",
                &[processor],
                DEFAULT_BOUNDS,
            ),
            on_memory: t.gauge(
                "otelcol_processor_tail_sampling_sampling_traces_on_memory",
                "Tracks the number of traces current on memory",
                &[processor],
            ),
        };
        let state = State {
            sampled: Remembered {
                cap: cfg.decision_cache.sampled_cache_size,
                ..Remembered::default()
            },
            not_sampled: Remembered {
                cap: cfg.decision_cache.non_sampled_cache_size,
                ..Remembered::default()
            },
            ..State::default()
        };
        let shared = Arc::new(Shared {
            label: ctx.label(),
            wait: cfg.decision_wait,
            after_root: Some(cfg.decision_wait_after_root_received).filter(|d| !d.is_zero()),
            max_bytes: cfg.maximum_trace_size_bytes,
            drop_pending: cfg.drop_pending_traces_on_shutdown,
            num_traces: usize::try_from(cfg.num_traces).unwrap_or(usize::MAX),
            first_match: cfg.sample_on_first_match,
            rules,
            next,
            state: Mutex::new(state),
            metrics,
        });
        // Decisions are due `decision_wait` after a trace's first span (or sooner after its
        // root); a tick a tenth of the shorter wait (10 ms to 1 s) keeps them close to it.
        let soonest = shared
            .after_root
            .map_or(cfg.decision_wait, |a| a.min(cfg.decision_wait));
        let every = (soonest / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let tick = Background::default();
        tick.every(every, FirstCall::Now, {
            let shared = shared.clone();
            move || {
                let shared = shared.clone();
                async move {
                    shared.decide_due(Instant::now(), false).await;
                    true
                }
            }
        });
        Arc::new(TailSampler { shared, tick })
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Files each trace's part of `batch`; returns the parts of traces already kept.
    fn file(&self, batch: &Batch, now: Instant) -> Vec<Batch> {
        // The trace ids of the request, in order (an item's output is its trace's), and
        // whether each trace's part holds a root span, read on the same pass.
        let mut ids: Vec<([u8; 16], bool)> = Vec::new();
        let mut index: HashMap<[u8; 16], usize> = HashMap::new();
        let mut parts = partition_items(batch, batch.items(), |_, item| {
            let span = SpanView::parse(item);
            let id = span.trace_id();
            let at = *index.entry(id).or_insert_with(|| {
                ids.push((id, false));
                ids.len() - 1
            });
            if span.parent_span_id() == [0; 8]
                && let Some((_, root)) = ids.get_mut(at)
            {
                *root = true;
            }
            Some(at)
        });
        parts.truncate(ids.len());
        let mut pass = Vec::new();
        let mut late_dropped = 0;
        let mut st = self.state();
        for ((id, has_root), part) in ids.into_iter().zip(parts) {
            if st.sampled.set.contains(&id) {
                of(&self.metrics.from_cache, true).add(part.items() as u64);
                pass.push(part);
                continue;
            }
            if st.not_sampled.set.contains(&id) {
                of(&self.metrics.from_cache, false).add(part.items() as u64);
                late_dropped += part.items();
                continue;
            }
            match st.traces.get_mut(&id) {
                Some(t) => match t.stage {
                    Stage::Decided(kept) => {
                        if let Some(at) = t.decided_at {
                            self.metrics
                                .late_age
                                .observe(now.saturating_duration_since(at).as_secs());
                        }
                        if kept {
                            pass.push(part);
                        } else {
                            late_dropped += part.items();
                        }
                    }
                    Stage::Waiting | Stage::Deciding => {
                        t.bytes = t.bytes.saturating_add(part.bytes().len() as u64);
                        if t.stage == Stage::Waiting && self.too_large(t.bytes) {
                            // Dropped undecided; later spans follow a "no".
                            t.stage = Stage::Decided(false);
                            t.parts = Vec::new();
                            st.not_sampled.insert(id);
                            continue;
                        }
                        let root = if t.stage == Stage::Waiting {
                            self.root_due(&mut t.root_seen, has_root)
                        } else {
                            None
                        };
                        let seq = t.seq;
                        t.spans += part.items();
                        t.parts.push(part);
                        if let Some(d) = root {
                            st.after_root.push_back((id, seq, now + d));
                        }
                    }
                },
                None => {
                    self.make_room(&mut st);
                    let seq = st.next_seq;
                    st.next_seq += 1;
                    let mut entry = TraceEntry {
                        seq,
                        stage: Stage::Waiting,
                        spans: part.items(),
                        parts: Vec::new(),
                        bytes: part.bytes().len() as u64,
                        decided_at: None,
                        root_seen: false,
                    };
                    if self.too_large(entry.bytes) {
                        // Dropped undecided, remembered so that later spans follow.
                        entry.stage = Stage::Decided(false);
                        entry.spans = 0;
                        st.not_sampled.insert(id);
                    } else {
                        if let Some(d) = self.root_due(&mut entry.root_seen, has_root) {
                            st.after_root.push_back((id, seq, now + d));
                        }
                        entry.parts.push(part);
                    }
                    st.traces.insert(id, entry);
                    st.arrivals.push_back((id, seq, now + self.wait));
                    self.metrics.new_traces.add(1);
                }
            }
        }
        self.metrics
            .on_memory
            .set(i64::try_from(st.traces.len()).unwrap_or(i64::MAX));
        drop(st);
        if late_dropped > 0 {
            self.metrics.late_dropped.add(late_dropped as u64);
        }
        pass
    }

    /// Whether a trace of `bytes` is past `maximum_trace_size_bytes`; counts it when it is.
    fn too_large(&self, bytes: u64) -> bool {
        let over = self.max_bytes > 0 && bytes > self.max_bytes;
        if over {
            self.metrics.too_large.add(1);
            tracing::debug!(component = %self.label, bytes, "maximum_trace_size_bytes exceeded: the trace is dropped");
        }
        over
    }

    /// With `decision_wait_after_root_received` set, the delay after which a trace is due once
    /// a part brought its first root span (`has_root`: a span without a parent, as the
    /// Collector tells a root); `None` otherwise.
    fn root_due(&self, root_seen: &mut bool, has_root: bool) -> Option<Duration> {
        let d = self.after_root?;
        if *root_seen || !has_root {
            return None;
        }
        *root_seen = true;
        Some(d)
    }

    /// Forgets the oldest traces until there is room for one more.
    fn make_room(&self, st: &mut State) {
        while st.traces.len() >= self.num_traces {
            let Some((id, seq, _)) = st.arrivals.pop_front() else {
                return;
            };
            st.decided_upto = st.decided_upto.saturating_sub(1);
            if st.traces.get(&id).is_some_and(|t| t.seq == seq)
                && let Some(t) = st.traces.remove(&id)
                && t.stage == Stage::Waiting
            {
                self.metrics.too_early.add(1);
                tracing::warn!(component = %self.label, spans = t.spans, "num_traces reached: the oldest trace was dropped before its decision");
            }
        }
    }

    /// Decides the traces whose wait is over at `now` (every waiting trace when `all`), and
    /// sends the kept ones on.
    async fn decide_due(&self, now: Instant, all: bool) {
        // Take the due traces' parts out under the lock, evaluate without it.
        let mut due: Vec<([u8; 16], u64, Vec<Batch>, usize)> = Vec::new();
        {
            let mut st = self.state();
            let st = &mut *st;
            // Traces due after their root first, then those due after their first span; a
            // trace in both is decided once (the second finds it no longer waiting).
            while let Some(&(id, seq, at)) = st.after_root.front() {
                if !all && at > now {
                    break;
                }
                st.after_root.pop_front();
                if let Some(t) = st.traces.get_mut(&id)
                    && t.seq == seq
                    && t.stage == Stage::Waiting
                {
                    t.stage = Stage::Deciding;
                    due.push((id, seq, std::mem::take(&mut t.parts), t.spans));
                }
            }
            while let Some(&(id, seq, at)) = st.arrivals.get(st.decided_upto) {
                if !all && at > now {
                    break;
                }
                st.decided_upto += 1;
                if let Some(t) = st.traces.get_mut(&id)
                    && t.seq == seq
                    && t.stage == Stage::Waiting
                {
                    t.stage = Stage::Deciding;
                    due.push((id, seq, std::mem::take(&mut t.parts), t.spans));
                }
            }
        }
        if due.is_empty() {
            return;
        }
        // The CPU time of the decisions, whatever clock the waits follow.
        let timer = std::time::Instant::now();
        let mut kept: Vec<Batch> = Vec::new();
        let mut outcomes = Vec::with_capacity(due.len());
        for (id, seq, parts, spans) in due {
            let sampled = self.evaluate(&Trace::new(id, &parts, spans, now.into_std()));
            if sampled {
                kept.extend(parts);
            }
            outcomes.push((id, seq, sampled));
        }
        self.metrics
            .timer_latency
            .observe(u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX));
        {
            let mut st = self.state();
            let st = &mut *st;
            let mut late_dropped = 0;
            for (id, seq, sampled) in outcomes {
                if let Some(t) = st.traces.get_mut(&id)
                    && t.seq == seq
                {
                    t.stage = Stage::Decided(sampled);
                    t.decided_at = Some(now);
                    // Spans that came while the policies ran.
                    let late = std::mem::take(&mut t.parts);
                    if sampled {
                        kept.extend(late);
                    } else {
                        late_dropped += late.iter().map(Batch::items).sum::<usize>();
                    }
                }
                if sampled {
                    st.sampled.insert(id);
                } else {
                    st.not_sampled.insert(id);
                }
            }
            if late_dropped > 0 {
                self.metrics.late_dropped.add(late_dropped as u64);
            }
        }
        self.send(kept).await;
    }

    /// Drops every trace still waiting (`drop_pending_traces_on_shutdown`).
    fn drop_waiting(&self) {
        let mut st = self.state();
        let (mut traces, mut spans) = (0, 0);
        for t in st.traces.values_mut() {
            if t.stage == Stage::Waiting {
                traces += 1;
                spans += t.spans;
                t.stage = Stage::Decided(false);
                t.parts = Vec::new();
            }
        }
        drop(st);
        if traces > 0 {
            tracing::info!(component = %self.label, traces, spans, "drop_pending_traces_on_shutdown: waiting traces dropped undecided");
        }
    }

    /// Every policy's verdict, counted, and the decision.
    fn evaluate(&self, trace: &Trace<'_>) -> bool {
        let mut verdicts = Vec::with_capacity(self.rules.len());
        for (i, (name, rule)) in self.rules.iter().enumerate() {
            match rule.evaluate(trace) {
                Ok(v) => {
                    if let Some(c) = self.metrics.per_policy.get(i) {
                        of(c, v.sampled()).add(1);
                    }
                    verdicts.push(v);
                    if v == Verdict::Dropped || (self.first_match && v == Verdict::Sampled) {
                        break;
                    }
                }
                Err(e) => {
                    self.metrics.errors.add(1);
                    tracing::debug!(component = %self.label, policy = %name, "policy evaluation failed: {e}");
                }
            }
        }
        let sampled = policy::decide(&verdicts);
        of(&self.metrics.global, sampled).add(1);
        sampled
    }

    async fn send(&self, parts: Vec<Batch>) {
        if parts.is_empty() {
            return;
        }
        let batch = concat(Signal::Traces, &parts);
        let items = batch.items();
        self.metrics.counters.outgoing.add(items as u64);
        if let Err(e) = self.next.consume(batch).await {
            // The traces were accepted long ago: nobody is left to retry them.
            tracing::warn!(component = %self.label, spans = items, "kept traces refused downstream and dropped: {e}");
        }
    }
}

impl Consumer for TailSampler {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.shared
                .metrics
                .counters
                .incoming
                .add(batch.items() as u64);
            let pass = self.shared.file(&batch, Instant::now());
            if pass.is_empty() {
                return Ok(());
            }
            // Spans of traces already kept go on with this request, and share its outcome.
            let batch = concat(Signal::Traces, &pass);
            self.shared
                .metrics
                .counters
                .outgoing
                .add(batch.items() as u64);
            self.shared.next.consume(batch).await
        })
    }
}

impl Processor for TailSampler {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.tick.stop().await;
            // Waiting traces are decided now rather than lost, unless told to drop them.
            if self.shared.drop_pending {
                self.shared.drop_waiting();
            } else {
                self.shared.decide_due(Instant::now(), true).await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
