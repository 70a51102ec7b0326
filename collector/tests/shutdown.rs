//! Graceful shutdown: SIGTERM during steady load loses nothing the collector acknowledged.
//! Spans are counted by id: every span in a request answered 200 must reach the backend.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SPANS_PER_REQUEST: u64 = 10;
const CLIENTS: u64 = 4;

#[test]
fn sigterm_under_load_loses_no_acknowledged_span() {
    let mut backend = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: {{dir}}/spans.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    // A long batch timeout: at SIGTERM, acknowledged spans sit in the batch processor and in
    // the exporter's queue, and must be flushed and drained.
    let mut front = Collector::start(&format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    send_batch_size: 500
    timeout: 30s
exporters:
  otlp_grpc:
    endpoint: {}
    tls:
      insecure: true
    sending_queue:
      num_consumers: 2
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_grpc]
{TEST_TELEMETRY}"#,
        backend.addr("receivers::otlp/grpc")
    ));
    let base = front.http_url();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let requests = Arc::new(AtomicUsize::new(0));
    let after_term = Arc::new(AtomicUsize::new(0));
    let terminated = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (base, acked, requests, after_term, terminated) = (
                base.clone(),
                acked.clone(),
                requests.clone(),
                after_term.clone(),
                terminated.clone(),
            );
            std::thread::spawn(move || {
                let mut failures_in_a_row = 0;
                for seq in 0..100_000u64 {
                    let first = c * 1_000_000_000 + seq * SPANS_PER_REQUEST;
                    let result = post_spans(
                        &base,
                        spans_request("load", first..first + SPANS_PER_REQUEST),
                    );
                    requests.fetch_add(1, Ordering::Relaxed);
                    if terminated.load(Ordering::Relaxed) {
                        after_term.fetch_add(1, Ordering::Relaxed);
                    }
                    match result {
                        Ok(200) => {
                            failures_in_a_row = 0;
                            acked
                                .lock()
                                .unwrap()
                                .extend(first..first + SPANS_PER_REQUEST);
                        }
                        // Refused (connection closed or 503 while stopping): not acknowledged.
                        _ => {
                            failures_in_a_row += 1;
                            if failures_in_a_row >= 20 {
                                return;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                    }
                }
            })
        })
        .collect();
    eventually("steady load", || {
        (requests.load(Ordering::Relaxed) >= 200).then_some(())
    });
    terminated.store(true, Ordering::Relaxed);
    front.terminate();
    let status = front.wait();
    assert!(
        status.success(),
        "front exited with {status}; logs:\n{}",
        front.dump_logs()
    );
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 200 * SPANS_PER_REQUEST as usize / 2,
        "too little load: {}",
        acked.len()
    );
    assert!(
        after_term.load(Ordering::Relaxed) > 0,
        "no request was in flight while shutting down"
    );
    let path = backend.dir.path("spans.jsonl");
    let received = eventually("every acknowledged span at the backend", || {
        let got: BTreeSet<u64> = span_ids_in_file(&path).into_iter().collect();
        acked.is_subset(&got).then_some(got)
    });
    backend.stop();
    let missing: Vec<_> = acked.difference(&received).take(10).collect();
    assert!(
        missing.is_empty(),
        "lost {} acknowledged spans, e.g. {missing:?}",
        acked.difference(&received).count()
    );
    assert!(
        !front.logs().iter().any(|l| msg(l).contains("dropped")),
        "{}",
        front.dump_logs()
    );
}

#[test]
fn sigint_stops_cleanly_too() {
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nprocessors:\n  batch:\n    timeout: 1h\nexporters:\n  file:\n    path: {{dir}}/out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    assert_eq!(
        post_spans(&c.http_url(), spans_request("svc", 0..3)).unwrap(),
        200
    );
    let ok = std::process::Command::new("kill")
        .arg("-INT")
        .arg(c.pid().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert!(c.wait().success());
    assert!(
        c.logs()
            .iter()
            .any(|l| msg(l) == "Received signal from OS: interrupt")
    );
    // The batch processor's hour-long timeout never fired: the spans came out at shutdown.
    assert_eq!(span_ids_in_file(&c.dir.path("out.jsonl")), vec![0, 1, 2]);
}
