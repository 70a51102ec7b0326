//! `otelcol_processor_incoming_items_total` / `_outgoing_items_total`, which every processor
//! reports per pipeline signal.

use std::sync::Arc;

use crate::component::Context;
use crate::otlp::Signal;
use crate::telemetry::Counter;

/// The two item counters of one processor instance.
pub(crate) struct ItemCounters {
    /// Items handed to the processor.
    pub incoming: Arc<Counter>,
    /// Items the processor passed on.
    pub outgoing: Arc<Counter>,
}

impl ItemCounters {
    /// Registers (or finds) the counters for `ctx`'s processor on `signal`.
    pub(crate) fn new(ctx: &Context, signal: Signal) -> Self {
        let id = ctx.id.to_string();
        let labels: &[(&'static str, &str)] = &[
            ("otel_signal", crate::signal_name(signal)),
            ("processor", &id),
        ];
        let t = &ctx.telemetry;
        Self {
            incoming: t.counter(
                "otelcol_processor_incoming_items_total",
                "Number of items passed to the processor.",
                labels,
            ),
            outgoing: t.counter(
                "otelcol_processor_outgoing_items_total",
                "Number of items emitted from the processor.",
                labels,
            ),
        }
    }
}
