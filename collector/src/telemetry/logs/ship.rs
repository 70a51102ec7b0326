//! `logs.processors`: the collector's log lines as OTLP log records, queued for the senders
//! `telemetry::push` starts with the service. Lines written before then (start-up) wait in
//! the queue; a full queue drops the newest and counts them, so a backend that is down never
//! holds the collector's memory.

use crate::config::Value;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::proto::logs::v1::{LogRecord, SeverityNumber};
use crate::telemetry::push::{attribute, unix_nanos};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The lines one processor has yet to send.
#[derive(Debug)]
pub struct LogQueue {
    records: Mutex<VecDeque<LogRecord>>,
    capacity: usize,
    batch: usize,
    dropped: AtomicU64,
    /// Woken when a batch is full.
    pub full: Notify,
}

impl LogQueue {
    /// A queue of at most `capacity` lines, whose sender wants `batch` at a time.
    pub fn new(capacity: usize, batch: usize) -> Self {
        Self {
            records: Mutex::new(VecDeque::new()),
            capacity,
            batch: batch.max(1),
            dropped: AtomicU64::new(0),
            full: Notify::new(),
        }
    }

    pub(crate) fn push(&self, record: LogRecord) {
        let len = {
            let mut q = self
                .records
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if q.len() >= self.capacity {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            q.push_back(record);
            q.len()
        };
        if len >= self.batch {
            self.full.notify_one();
        }
    }

    /// Up to one batch of the oldest lines.
    pub fn take_batch(&self) -> Vec<LogRecord> {
        let mut q = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = q.len().min(self.batch);
        q.drain(..n).collect()
    }

    /// Whether a whole batch is waiting.
    pub fn has_full_batch(&self) -> bool {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
            >= self.batch
    }

    /// Lines dropped since the last call, for a warning.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// The layer that turns events into records for every processor's queue.
pub struct Shipper {
    queues: Vec<Arc<LogQueue>>,
    initial: Vec<KeyValue>,
}

/// Events of the pushing code stay out of the queues: a backend that is down would otherwise
/// be sent, on each try, the warning that it is down.
const OWN_TARGET: &str = "meshtrace_collector::telemetry::push";

impl Shipper {
    /// A layer feeding `queues`; `initial_fields` go on every record.
    pub fn new(queues: Vec<Arc<LogQueue>>, initial_fields: &BTreeMap<String, Value>) -> Self {
        Self {
            queues,
            initial: initial_fields
                .iter()
                .map(|(k, v)| attribute(k, json_value(&v.to_json())))
                .collect(),
        }
    }
}

fn json_value(v: &serde_json::Value) -> any_value::Value {
    match v {
        serde_json::Value::Bool(b) => any_value::Value::BoolValue(*b),
        serde_json::Value::Number(n) => n.as_i64().map_or_else(
            || any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
            any_value::Value::IntValue,
        ),
        serde_json::Value::String(s) => any_value::Value::StringValue(s.clone()),
        other => any_value::Value::StringValue(other.to_string()),
    }
}

fn severity(level: &Level) -> (SeverityNumber, &'static str) {
    match *level {
        Level::TRACE => (SeverityNumber::Trace, "TRACE"),
        Level::DEBUG => (SeverityNumber::Debug, "DEBUG"),
        Level::INFO => (SeverityNumber::Info, "INFO"),
        Level::WARN => (SeverityNumber::Warn, "WARN"),
        Level::ERROR => (SeverityNumber::Error, "ERROR"),
    }
}

/// The message as the body, every other field as an attribute of its type.
#[derive(Default)]
struct Fields {
    body: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.body = Some(value.to_owned());
        } else {
            self.attributes.push(attribute(
                field.name(),
                any_value::Value::StringValue(value.to_owned()),
            ));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes
            .push(attribute(field.name(), any_value::Value::IntValue(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attributes.push(attribute(
            field.name(),
            i64::try_from(value).map_or_else(
                |_| any_value::Value::DoubleValue(value as f64),
                any_value::Value::IntValue,
            ),
        ));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(attribute(
            field.name(),
            any_value::Value::DoubleValue(value),
        ));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes
            .push(attribute(field.name(), any_value::Value::BoolValue(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// The record an event stands for, at `now`.
fn record(event: &Event<'_>, initial: &[KeyValue], now: SystemTime) -> LogRecord {
    let mut fields = Fields::default();
    event.record(&mut fields);
    let meta = event.metadata();
    let (number, text) = severity(meta.level());
    let mut attributes = fields.attributes;
    attributes.push(attribute(
        "code.namespace",
        any_value::Value::StringValue(meta.target().to_owned()),
    ));
    attributes.extend(initial.iter().cloned());
    let nanos = unix_nanos(now);
    LogRecord {
        time_unix_nano: nanos,
        observed_time_unix_nano: nanos,
        severity_number: number as i32,
        severity_text: text.to_owned(),
        body: fields.body.map(|b| AnyValue {
            value: Some(any_value::Value::StringValue(b)),
        }),
        attributes,
        ..Default::default()
    }
}

impl<S: Subscriber> Layer<S> for Shipper {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target().starts_with(OWN_TARGET) {
            return;
        }
        let r = record(event, &self.initial, SystemTime::now());
        if let Some((last, rest)) = self.queues.split_last() {
            for q in rest {
                q.push(r.clone());
            }
            last.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn s(k: &str, v: &str) -> KeyValue {
        attribute(k, any_value::Value::StringValue(v.into()))
    }

    #[test]
    fn an_event_is_a_record_with_its_fields_typed() {
        let queue = Arc::new(LogQueue::new(10, 10));
        let initial: BTreeMap<String, Value> =
            [("service".to_owned(), Value::String("gateway".into()))].into();
        let subscriber =
            tracing_subscriber::registry().with(Shipper::new(vec![queue.clone()], &initial));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                component = "exporters::otlp",
                items = 7u64,
                dropped = -1i64,
                retry = true,
                error = %"connection refused",
                "Exporting failed. Will retry the request after interval."
            );
        });
        let got = queue.take_batch();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(
            (r.severity_number, r.severity_text.as_str()),
            (SeverityNumber::Warn as i32, "WARN")
        );
        assert_eq!(
            r.body,
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(
                    "Exporting failed. Will retry the request after interval.".into()
                ))
            })
        );
        assert_eq!(
            r.attributes,
            [
                s("component", "exporters::otlp"),
                attribute("items", any_value::Value::IntValue(7)),
                attribute("dropped", any_value::Value::IntValue(-1)),
                attribute("retry", any_value::Value::BoolValue(true)),
                s("error", "connection refused"),
                s(
                    "code.namespace",
                    "meshtrace_collector::telemetry::logs::ship::tests"
                ),
                s("service", "gateway"),
            ]
        );
        assert!(r.time_unix_nano > 0 && r.time_unix_nano == r.observed_time_unix_nano);
    }

    #[test]
    fn a_full_queue_drops_the_newest_and_counts_them() {
        let q = LogQueue::new(3, 2);
        let at = |i: u64| LogRecord {
            time_unix_nano: i,
            ..Default::default()
        };
        for i in 1..=5 {
            q.push(at(i));
        }
        assert_eq!(q.take_dropped(), 2);
        assert_eq!(q.take_dropped(), 0);
        assert!(q.has_full_batch());
        let first: Vec<u64> = q.take_batch().iter().map(|r| r.time_unix_nano).collect();
        assert_eq!(first, [1, 2]);
        assert!(!q.has_full_batch());
        let rest: Vec<u64> = q.take_batch().iter().map(|r| r.time_unix_nano).collect();
        assert_eq!(rest, [3]);
        assert!(q.take_batch().is_empty());
    }

    #[test]
    fn a_full_batch_wakes_the_sender() {
        let q = Arc::new(LogQueue::new(10, 2));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let woken = tokio::spawn({
                let q = q.clone();
                async move { q.full.notified().await }
            });
            tokio::task::yield_now().await;
            q.push(LogRecord::default());
            q.push(LogRecord::default());
            tokio::time::timeout(Duration::from_secs(60), woken)
                .await
                .expect("woken")
                .unwrap();
        });
    }

    #[test]
    fn the_pushing_code_is_not_shipped() {
        let queue = Arc::new(LogQueue::new(10, 10));
        let subscriber = tracing_subscriber::registry()
            .with(Shipper::new(vec![queue.clone()], &BTreeMap::new()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "meshtrace_collector::telemetry::push", "Failed to export the internal logs");
            tracing::info!("kept");
        });
        let got = queue.take_batch();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].body.as_ref().and_then(|b| b.value.clone()),
            Some(any_value::Value::StringValue("kept".into()))
        );
    }
}
