//! Batching by size and age, the bound and both policies when full, in-flight limits and the
//! accounting of every outcome. (That a framed batch decodes is checked with prost in
//! `tests/otlp_roundtrip.rs`.)

use super::*;

fn queue(batch_size: usize, max_spans: usize, when_full: WhenFull) -> ExportQueue {
    ExportQueue::new(
        QueueSettings {
            batch_size,
            max_spans,
            when_full,
            flush_interval_ms: 1000,
        },
        Framing::new(&[("service.name".into(), "s".into())]),
    )
}

/// A stand-in span: `ScopeSpans.spans` with a 1-byte body `n`.
fn span(n: u8) -> impl FnOnce(&mut Vec<u8>) {
    move |buf| buf.extend_from_slice(&[0x12, 0x01, n])
}

/// The stand-in spans inside a framed body (their marker bytes, in order).
fn markers(out: &Outgoing) -> Vec<u8> {
    let body = out.body();
    body.windows(3)
        .filter(|w| w[0] == 0x12 && w[1] == 0x01)
        .map(|w| w[2])
        .collect()
}

#[test]
fn flushes_a_full_batch_at_once_and_a_partial_one_after_the_interval() {
    let mut q = queue(3, 100, WhenFull::DropNewest);
    for i in 0..4 {
        assert_eq!(q.push(10, span(100 + i)), Pushed::Accepted);
    }
    assert_eq!(q.buffered(), 4);
    let full = q.next_batch(10, false).unwrap();
    assert_eq!((full.spans(), markers(&full)), (3, vec![100, 101, 102]));
    q.sent(full, 1);
    // The last span waits for the interval.
    assert!(q.next_batch(1009, false).is_none());
    let late = q.next_batch(1010, false).unwrap();
    assert_eq!(markers(&late), vec![103]);
    q.sent(late, 2);
    assert_eq!(q.buffered(), 0);
    assert!(q.next_batch(99_999, true).is_none(), "nothing left");
}

#[test]
fn drop_newest_keeps_the_buffer_bounded_and_counts() {
    let mut q = queue(2, 4, WhenFull::DropNewest);
    for i in 0..10 {
        q.push(0, span(i));
    }
    assert_eq!(q.buffered(), 4);
    assert_eq!(q.high_water(), 4);
    assert!(!q.reserve());
    let c = q.take_counts();
    assert_eq!(c.dropped, 6 + 1);
    let a = q.next_batch(0, false).unwrap();
    assert_eq!(markers(&a), vec![0, 1]);
}

#[test]
fn drop_oldest_drops_whole_batches() {
    let mut q = queue(2, 4, WhenFull::DropOldest);
    for i in 0..7 {
        q.push(0, span(i));
    }
    assert!(q.buffered() <= 4);
    assert!(q.reserve(), "drop_oldest always makes room");
    let c = q.take_counts();
    // 0,1 then 2,3 dropped; 4,5,6 kept.
    assert_eq!(c.dropped, 4);
    let a = q.next_batch(0, false).unwrap();
    assert_eq!(markers(&a), vec![4, 5]);
    q.sent(a, 7);
    let b = q.next_batch(0, true).unwrap();
    assert_eq!(markers(&b), vec![6]);
}

#[test]
fn in_flight_is_limited_and_every_outcome_is_counted() {
    let mut q = queue(1, 100, WhenFull::DropNewest);
    for i in 0..(MAX_IN_FLIGHT as u8 + 2) {
        q.push(0, span(i));
    }
    let mut tokens = Vec::new();
    for t in 0..MAX_IN_FLIGHT as u32 {
        let out = q.next_batch(0, false).unwrap();
        q.sent(out, t);
        tokens.push(t);
    }
    assert!(q.next_batch(0, true).is_none(), "limit reached");
    assert_eq!(q.on_response(0, Outcome::Success { rejected: 0 }), Some(1));
    assert_eq!(
        q.on_response(0, Outcome::Success { rejected: 0 }),
        None,
        "token used once"
    );
    assert_eq!(q.on_response(1, Outcome::Failure), Some(1));
    assert_eq!(q.on_response(2, Outcome::Success { rejected: 5 }), Some(1));
    let out = q.next_batch(0, false).unwrap();
    q.send_failed(out);
    let c = q.take_counts();
    assert_eq!(
        c,
        Counts {
            exported: 1,
            dropped: 0,
            failed: 3,
            filtered: 0,
            requests: MAX_IN_FLIGHT as u64 + 1,
            failed_requests: 2,
        }
    );
    assert!(q.take_counts().is_zero(), "taken once");
}

#[test]
fn buffers_are_reused() {
    let mut q = queue(2, 100, WhenFull::DropNewest);
    for round in 0..50u8 {
        q.push(0, span(round));
        q.push(0, span(round));
        let out = q.next_batch(0, false).unwrap();
        assert_eq!(out.body().len(), out.body().len());
        q.sent(out, u32::from(round));
        q.on_response(u32::from(round), Outcome::Success { rejected: 0 });
    }
    assert!(q.spare.len() <= 2);
    assert_eq!(q.take_counts().exported, 100);
    assert_eq!(q.unframed_len(), q.framing.reserved());
}
