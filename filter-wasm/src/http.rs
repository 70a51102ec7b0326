//! The HTTP context: one per request, a thin adapter from proxy-wasm callbacks to
//! [`Tracer::on_request_headers`] and [`Tracer::on_log`].

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::host::{self, HostRandom, HostRequestHeaders, HostStream, StreamExpression};
use crate::ids::RandomIds;
use crate::root::{SharedQueue, VmIds};
use crate::stream::BatchedStream;
use crate::tracer::{Pending, RequestOutcome, Tracer};

/// Per-request state.
pub struct Http {
    tracer: Rc<Tracer>,
    ids: VmIds,
    queue: Option<SharedQueue>,
    pending: Option<Box<Pending>>,
    expression: StreamExpression,
}

impl Http {
    /// A context sharing the root's tracer, ids, export buffer and stream expression.
    pub fn new(
        tracer: Rc<Tracer>,
        ids: VmIds,
        queue: Option<SharedQueue>,
        expression: StreamExpression,
    ) -> Self {
        Http {
            tracer,
            ids,
            queue,
            pending: None,
            expression,
        }
    }
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let request = host::request_headers();
        let mut writer = HostRequestHeaders;
        let mut queue = self.queue.as_ref().and_then(|q| q.try_borrow_mut().ok());
        let outcome = match self.ids.try_borrow_mut() {
            Ok(mut ids) => self.tracer.on_request_headers(
                request,
                &mut writer,
                &mut *ids,
                queue.as_deref_mut(),
                host::now_ns,
            ),
            // Not reachable on a single-threaded VM; never worth a panic.
            Err(_) => self.tracer.on_request_headers(
                request,
                &mut writer,
                &mut RandomIds::new(HostRandom::default()),
                queue.as_deref_mut(),
                host::now_ns,
            ),
        };
        log_outcome(&outcome);
        self.pending = outcome.pending;
        Action::Continue
    }

    fn on_log(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let Some(queue) = &self.queue else { return };
        if let Ok(mut queue) = queue.try_borrow_mut() {
            let mut stream = BatchedStream::new(HostStream, || self.expression.evaluate());
            self.tracer.on_log(&pending, &mut stream, &mut queue);
        }
    }
}

fn log_outcome(outcome: &RequestOutcome) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    if let Some(reason) = outcome.dropped {
        log::debug!("dropped by rule: {reason:?}");
        return;
    }
    let Some(span) = &outcome.context else {
        return;
    };
    let notes = &outcome.notes;
    log::debug!(
        "origin={:?} trace_id={} span_id={} parent_span_id={} sampled={} recorded={} traceparent_error={:?} tracestate_error={:?} tracestate_truncated={} tracestate_duplicates={} b3_error={:?}",
        span.origin,
        span.trace_id,
        span.span_id,
        span.parent_span_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
        span.sampled(),
        outcome.pending.is_some(),
        notes.traceparent,
        notes.tracestate,
        notes.tracestate_truncated,
        notes.tracestate_duplicates,
        notes.b3,
    );
}
