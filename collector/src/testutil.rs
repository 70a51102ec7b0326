//! Test helpers: spans with known ids, and a consumer that records what it gets.

use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::proto::common::v1::InstrumentationScope;
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::otlp::{Batch, Limits, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use prost::Message;
use std::sync::Mutex;

/// A request with spans numbered `first..first+n` (the number is in the span id).
pub fn traces(first: u64, n: u64) -> Batch {
    let spans = (first..first + n)
        .map(|i| Span {
            trace_id: [1; 16].to_vec(),
            span_id: i.to_be_bytes().to_vec(),
            name: format!("span-{i}"),
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope::default()),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Batch::new_validated(
        Signal::Traces,
        req.encode_to_vec().into(),
        &Limits::default(),
    )
    .unwrap()
}

/// The span numbers in a traces batch, in order.
pub fn span_numbers(b: &Batch) -> Vec<u64> {
    let req = ExportTraceServiceRequest::decode(b.bytes().as_ref()).unwrap();
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| u64::from_be_bytes(s.span_id.clone().try_into().unwrap()))
        .collect()
}

/// Records every batch.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Batch>>);

impl Recorder {
    /// Item counts of the batches received so far.
    pub fn sizes(&self) -> Vec<usize> {
        self.0.lock().unwrap().iter().map(Batch::items).collect()
    }
    /// All span numbers received, in order.
    pub fn numbers(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .flat_map(span_numbers)
            .collect()
    }
}

impl Consumer for Recorder {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.0.lock().unwrap().push(batch);
            Ok(())
        })
    }
}
