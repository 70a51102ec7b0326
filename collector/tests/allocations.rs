//! The processors allocate per request, not per span: over Envoy-shaped 100-span requests
//! the seed `filter` (no match: the common case) and `attributes` (an upsert on every span)
//! make a bounded number of allocations whatever the span count. Counted with a per-thread
//! counting allocator after a warm-up (regex caches, scratch buffers).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../ottl/tests/common/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../otlp/benches/envoy.rs"]
mod envoy;
#[path = "../benches/support/pipeline.rs"]
mod pipeline;

use std::sync::Arc;

use bytes::Bytes;
use meshtrace_collector::otlp::{Batch, Limits, Signal};
use meshtrace_collector::pipeline::Consumer;
use pipeline::{Null, SEED_ATTRIBUTES, SEED_FILTER, chain, now};

/// Allocations of one `consume` call, after a warm-up call.
fn per_request(p: &Arc<dyn Consumer>, batch: &Batch) -> usize {
    now(p.consume(batch.clone())).unwrap();
    let before = counting_alloc::allocations();
    now(p.consume(batch.clone())).unwrap();
    counting_alloc::allocations() - before
}

fn request(spans: usize) -> Batch {
    Batch::new_validated(
        Signal::Traces,
        Bytes::from(envoy::envoy_request(spans)),
        &Limits::default(),
    )
    .unwrap()
}

#[test]
fn allocations_do_not_grow_with_spans() {
    let null: Arc<dyn Consumer> = Arc::new(Null);
    for (name, p, max) in [
        // Boxed futures of the two consumers; no output buffer, no per-span work.
        (
            "filter, no match",
            chain(&[("filter", SEED_FILTER)], null.clone()),
            4,
        ),
        // Plus the output request and the rewrite's scratch buffers (17 measured).
        (
            "attributes upsert",
            chain(&[("attributes", SEED_ATTRIBUTES)], null.clone()),
            20,
        ),
        (
            "filter + attributes",
            chain(
                &[("filter", SEED_FILTER), ("attributes", SEED_ATTRIBUTES)],
                null.clone(),
            ),
            24,
        ),
    ] {
        let small = per_request(&p, &request(10));
        let large = per_request(&p, &request(100));
        eprintln!("{name}: {small} allocations for 10 spans, {large} for 100");
        assert!(large <= max, "{name}: {large} allocations for 100 spans");
        // The scratch buffers may grow once more for the larger request; nothing per span.
        assert!(
            large <= small + 4,
            "{name}: {small} for 10 spans, {large} for 100"
        );
    }
}
