//! The `servicegraph` pairing over arbitrary requests: never panic; over a valid traces
//! request, a flush is a valid metrics request, and after the TTL no half edge still waits.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshtrace_collector::connector::servicegraph::ServiceGraphConfig;
use meshtrace_collector::connector::servicegraph::graph::Graph;
use meshtrace_collector::otlp::{Batch, Limits, Signal, validate};
use prost::Message;

/// Configs picked by the first byte: dimensions, a tiny store, virtual nodes off.
const CONFIGS: [&str; 3] = [
    "{}",
    "dimensions: [k, http.route]\nstore: {max_items: 2}\nvirtual_node_extra_label: true",
    "virtual_node_peer_attributes: []\ndatabase_name_attributes: [k]",
];

const SEC: u64 = 1_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, payload)) = data.split_first() else { return };
    let Some(yaml) = CONFIGS.get(usize::from(seed) % CONFIGS.len()) else { return };
    let cfg: ServiceGraphConfig = match meshtrace_collector::config::parse_yaml("fuzz", yaml)
        .and_then(|v| meshtrace_collector::registry::parse_typed(&v))
    {
        Ok(c) => c,
        Err(e) => panic!("{yaml}: {e}"),
    };
    let mut g = Graph::new(cfg.settings(), 1);
    g.add(payload, 1);
    g.maintain(2);
    let _ = g.flush(2);
    if validate(Signal::Traces, payload, &Limits::default()).is_err() {
        return;
    }
    let mut g = Graph::new(cfg.settings(), 1);
    // Twice: the second time every span finds its own first half waiting.
    g.add(payload, 1);
    g.add(payload, 2);
    g.maintain(10 * SEC);
    assert_eq!(g.pending(), 0, "half edges outlived the TTL");
    if let Some(req) = g.flush(10 * SEC) {
        let bytes = Bytes::from(req.encode_to_vec());
        if let Err(e) = Batch::new_validated(Signal::Metrics, bytes, &Limits::default()) {
            panic!("an invalid metrics request: {e}");
        }
    }
});
