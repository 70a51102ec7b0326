//! Runs one data-editing pipeline over an Envoy-shaped request N times, with no runtime and no
//! output, so that `valgrind --tool=callgrind` can count the instructions it takes per span: a
//! figure this shared, noisy VM cannot disturb (wall and CPU time moved by 20-40 % between runs
//! of the criterion benchmark). Counts of a run with N and of a run with 0 give the cost of N
//! requests; `scripts/instructions.sh` does the arithmetic.
//!
//! ```sh
//! cargo build --release -p meshtrace-collector --example processor_instructions
//! scripts/instructions.sh seed 10    # filter | attributes | seed | validate, spans per request
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bytes::Bytes;
use meshtrace_collector::otlp::{Batch, Limits, Signal};
use meshtrace_collector::pipeline::Consumer;

#[path = "../../otlp/benches/envoy.rs"]
mod envoy;
#[path = "../benches/support/pipeline.rs"]
mod pipeline;

use pipeline::{Null, SEED_ATTRIBUTES, SEED_FILTER, chain, now};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [which, requests, spans] = args.as_slice() else {
        panic!("usage: processor_instructions filter|attributes|seed|validate REQUESTS SPANS");
    };
    let requests: usize = requests.parse().expect("REQUESTS is a number");
    let spans: usize = spans.parse().expect("SPANS is a number");
    let bytes = Bytes::from(envoy::envoy_request(spans));
    let batch = Batch::new_validated(Signal::Traces, bytes.clone(), &Limits::default()).unwrap();
    let null: Arc<dyn Consumer> = Arc::new(Null);
    let p = match which.as_str() {
        "filter" => chain(&[("filter", SEED_FILTER)], null),
        "attributes" => chain(&[("attributes", SEED_ATTRIBUTES)], null),
        "seed" => chain(
            &[("filter", SEED_FILTER), ("attributes", SEED_ATTRIBUTES)],
            null,
        ),
        "validate" => {
            for _ in 0..requests {
                let b = Batch::new_validated(Signal::Traces, bytes.clone(), &Limits::default());
                std::hint::black_box(b.unwrap());
            }
            return;
        }
        other => panic!("unknown pipeline {other:?}"),
    };
    for _ in 0..requests {
        now(p.consume(batch.clone())).unwrap();
    }
}
