//! validate() on arbitrary bytes; whatever it accepts must split, concat and rewrite into
//! requests that validate again with the same item counts; partition_items() routes every item
//! once, into requests that validate. salvage_traces() on the same bytes
//! keeps exactly the spans that validate, in a request that validates.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshtrace_otlp::rewrite::{Action, rewrite_resources};
use meshtrace_otlp::{Batch, Limits, batching, salvage_traces, validate};

include!("otlp_common.rs");

fuzz_target!(|data: &[u8]| {
    let Some((signal, payload)) = signal_and_payload(data) else { return };
    let limits = Limits::default();
    if signal == Signal::Traces
        && let Ok(s) = salvage_traces(payload, &limits)
    {
        assert_eq!(validate(signal, &s.bytes, &limits), Ok(s.kept));
        assert_eq!(s.first.is_some(), s.rejected > 0);
        if let Ok(items) = validate(signal, payload, &limits) {
            assert_eq!((s.kept, s.rejected), (items, 0));
        }
    }
    let Ok(items) = validate(signal, payload, &limits) else { return };
    let batch = Batch::new_validated(signal, Bytes::copy_from_slice(payload), &limits).unwrap();
    assert_eq!(batch.items(), items);
    let max = usize::from(data[0] >> 2) % 5 + 1;
    let parts = batching::split(&batch, max);
    let mut total = 0;
    for p in &parts {
        assert!(p.items() <= max || parts.len() == 1);
        assert_eq!(validate(signal, p.bytes(), &limits), Ok(p.items()));
        total += p.items();
    }
    assert_eq!(total, items);
    let merged = batching::concat(signal, &parts);
    assert_eq!(validate(signal, merged.bytes(), &limits), Ok(items));
    // Items by the first byte of their encoding: the same cut as the loadbalancing exporter's.
    let outputs = max.min(4);
    let mut routed = 0;
    let parts = batching::partition_items(&batch, outputs, |_, item| {
        routed += 1;
        item.first().map(|b| usize::from(*b) % (outputs + 1))
    });
    assert_eq!(routed, items);
    for p in &parts {
        assert_eq!(validate(signal, p.bytes(), &limits), Ok(p.items()));
    }
    assert!(parts.iter().map(Batch::items).sum::<usize>() <= items);
    let edited = rewrite_resources(&batch, |r, e| {
        if r.attributes().len() == 2 {
            return Action::Drop;
        }
        e.upsert("fuzz", 1i64);
        e.delete("service.name");
        Action::Keep
    });
    assert_eq!(validate(signal, edited.bytes(), &limits), Ok(edited.items()));
});
