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
// A global allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system allocator.
#![allow(unsafe_code)]

#[path = "../../otlp/benches/envoy.rs"]
mod envoy;
#[path = "../benches/support/pipeline.rs"]
mod pipeline;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use bytes::Bytes;
use meshtrace_collector::otlp::{Batch, Limits, Signal};
use meshtrace_collector::pipeline::Consumer;
use pipeline::{Null, SEED_ATTRIBUTES, SEED_FILTER, chain, now};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwards the caller's layout unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwards the caller's arguments unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations of one `consume` call, after a warm-up call.
fn per_request(p: &Arc<dyn Consumer>, batch: &Batch) -> usize {
    now(p.consume(batch.clone())).unwrap();
    let before = ALLOCATIONS.with(Cell::get);
    now(p.consume(batch.clone())).unwrap();
    ALLOCATIONS.with(Cell::get) - before
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
