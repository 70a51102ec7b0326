//! The HTTP context: one per request, a thin adapter from proxy-wasm callbacks to
//! [`Propagator::propagate`].

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::host::{HostRandom, HostRequestHeaders};
use crate::ids::RandomIds;
use crate::propagation::{Propagated, Propagator};
use crate::root::VmIds;

/// Per-request state.
pub struct Http {
    propagator: Rc<Propagator>,
    ids: VmIds,
}

impl Http {
    /// A context sharing the root's propagator and ids.
    pub fn new(propagator: Rc<Propagator>, ids: VmIds) -> Self {
        Http { propagator, ids }
    }
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let mut headers = HostRequestHeaders;
        let result = match self.ids.try_borrow_mut() {
            Ok(mut ids) => self.propagator.propagate(&mut headers, &mut *ids),
            // Not reachable on a single-threaded VM; never worth a panic.
            Err(_) => self
                .propagator
                .propagate(&mut headers, &mut RandomIds::new(HostRandom::default())),
        };
        log_outcome(&result);
        Action::Continue
    }
}

fn log_outcome(result: &Propagated) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    let span = &result.span;
    let notes = &result.notes;
    log::debug!(
        "origin={:?} trace_id={} span_id={} parent_span_id={} sampled={} traceparent_error={:?} tracestate_error={:?} tracestate_truncated={} tracestate_duplicates={} b3_error={:?}",
        span.origin,
        span.trace_id,
        span.span_id,
        span.parent_span_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
        span.sampled(),
        notes.traceparent,
        notes.tracestate,
        notes.tracestate_truncated,
        notes.tracestate_duplicates,
        notes.b3,
    );
}
