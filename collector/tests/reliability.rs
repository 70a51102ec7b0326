//! Issue 6, "Show it": nothing acknowledged is lost when the backend goes away (outage), when
//! the collector is killed (crash, persistent queue), and a full queue answers with retryable
//! errors instead of growing. Spans are counted by id; no assertion is about time.

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
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SPANS_PER_REQUEST: u64 = 10;

/// A backend: OTLP/gRPC on `port`, every span appended to `out`.
fn backend(port: u16, out: &Path) -> Collector {
    Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{port}\nexporters:\n  file:\n    path: {}\n    append: true\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}",
        out.display()
    ))
}

/// Steady load at a fixed rate (one request of 10 spans per `period`), recording the spans
/// of every request answered 200.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeSet<u64>>>,
    requests: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(base: String, period: Duration, first: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(BTreeSet::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (s, a, r, f) = (
            stop.clone(),
            acked.clone(),
            requests.clone(),
            refused.clone(),
        );
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            // Bounded: at most 10 minutes of requests, whatever happens.
            for seq in 0..(600 * 1000 / period.as_millis().max(1) as u64) {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let due = t0 + period * u32::try_from(seq).unwrap();
                if let Some(d) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
                let id = first + seq * SPANS_PER_REQUEST;
                let res = post_spans(&base, spans_request("load", id..id + SPANS_PER_REQUEST));
                r.fetch_add(1, Ordering::Relaxed);
                match res {
                    Ok(200) => a.lock().unwrap().extend(id..id + SPANS_PER_REQUEST),
                    _ => {
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Self {
            stop,
            acked,
            requests,
            refused,
            thread: Some(thread),
        }
    }

    fn acked(&self) -> BTreeSet<u64> {
        self.acked.lock().unwrap().clone()
    }

    fn wait_requests(&self, n: usize) {
        eventually("load requests", || {
            (self.requests.load(Ordering::Relaxed) >= n).then_some(())
        });
    }

    fn finish(mut self) -> BTreeSet<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.acked()
    }
}

/// Waits for every acknowledged span to be in `out`; on timeout, says which are missing and
/// what the collectors logged, so that a rare failure can be told apart (dropped by the
/// front, acknowledged by a backend that never wrote it, or still queued).
fn assert_all_arrive(acked: &BTreeSet<u64>, out: &Path, collectors: &[(&str, &Collector)]) {
    let t0 = Instant::now();
    let missing = loop {
        let got: BTreeSet<u64> = span_ids_in_file(out).into_iter().collect();
        let missing: Vec<u64> = acked.difference(&got).copied().collect();
        if missing.is_empty() {
            return;
        }
        if t0.elapsed() > DEADLINE {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let requests: BTreeSet<u64> = missing.iter().map(|id| id / SPANS_PER_REQUEST).collect();
    let mut report = format!(
        "{} of {} acknowledged spans never reached the backend ({} requests, first ids {:?})",
        missing.len(),
        acked.len(),
        requests.len(),
        &missing[..missing.len().min(10)]
    );
    for (name, c) in collectors {
        report.push_str(&format!("\n--- {name}:\n{}", c.log_summary()));
    }
    panic!("{report}");
}

#[test]
fn a_30_second_backend_outage_loses_no_acknowledged_span() {
    let d = TempDir::new();
    let out = d.path("received.jsonl");
    let port = free_port();
    let mut b = backend(port, &out);
    let front = Collector::start(&format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:{port}
    tls:
      insecure: true
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
    sending_queue:
      num_consumers: 4
      queue_size: 5000
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
{TEST_TELEMETRY}"#
    ));
    // 20 requests (200 spans) a second.
    let load = Load::start(front.http_url(), Duration::from_millis(50), 0);
    load.wait_requests(40);
    b.stop();
    let before_outage = load.requests.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(30));
    let during_outage = load.requests.load(Ordering::Relaxed) - before_outage;
    let acked_during: usize = load.acked().len();
    let b2 = backend(port, &out);
    load.wait_requests(before_outage + during_outage + 40);
    let refused = load.refused.load(Ordering::Relaxed);
    let acked = load.finish();
    assert!(
        during_outage >= 100,
        "too little load during the outage: {during_outage}"
    );
    assert_eq!(refused, 0, "the queue should absorb the outage");
    assert!(acked_during > before_outage * SPANS_PER_REQUEST as usize);
    assert_all_arrive(
        &acked,
        &out,
        &[
            ("front", &front),
            ("backend before", &b),
            ("backend after", &b2),
        ],
    );
    assert_eq!(
        front.metric("otelcol_exporter_send_failed_spans_total{exporter=\"otlp_grpc\""),
        0.0
    );
    drop(b2);
}

#[test]
fn kill_9_with_a_persistent_queue_loses_no_acknowledged_span() {
    let d = TempDir::new();
    let storage = d.path("storage");
    std::fs::create_dir_all(&storage).unwrap();
    let out = d.path("received.jsonl");
    // The backend is down until the end.
    let port = free_port();
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:{port}
    tls:
      insecure: true
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
    sending_queue:
      storage: file_storage/queue
      num_consumers: 4
      queue_size: 100000
extensions:
  file_storage/queue:
    directory: {}
    fsync: true
service:
  extensions: [file_storage/queue]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
{TEST_TELEMETRY}"#,
        storage.display()
    );
    let mut front = Collector::start(&config);
    let load = Load::start(front.http_url(), Duration::from_millis(20), 0);
    load.wait_requests(100);
    // Under load, with requests in flight: no shutdown, no flush.
    front.kill9();
    let acked = load.finish();
    assert!(
        acked.len() >= 50 * SPANS_PER_REQUEST as usize,
        "too little load: {}",
        acked.len()
    );

    // What a crash can leave besides the records: a write cut short, and a damaged file.
    let qdir = storage.join("exporter_otlp_grpc__traces");
    let mut segs: Vec<_> = std::fs::read_dir(&qdir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    let last = segs.last().unwrap().clone();
    let mut torn = std::fs::read(&last).unwrap();
    torn.extend_from_slice(b"MTq1\x01\x02\x03");
    std::fs::write(&last, torn).unwrap();
    std::fs::write(
        qdir.join("09999999999999999999.seg"),
        b"not a segment at all",
    )
    .unwrap();

    let front2 = Collector::start(&config);
    let opened = front2
        .logs()
        .into_iter()
        .find(|l| msg(l) == "persistent queue opened")
        .unwrap();
    assert!(
        opened["fields"]["records"].as_u64().unwrap() > 0,
        "{opened}"
    );
    let labels = "{data_type=\"traces\",exporter=\"otlp_grpc\"";
    assert_eq!(
        front2.metric(&format!(
            "meshtrace_exporter_queue_truncated_records_total{labels}"
        )),
        1.0,
        "{}",
        front2.log_text()
    );
    assert_eq!(
        front2.metric(&format!(
            "meshtrace_exporter_queue_corrupt_records_total{labels}"
        )),
        1.0
    );
    assert!(front2.log_text().contains("skipping corrupt data"));

    let b = backend(port, &out);
    assert_all_arrive(&acked, &out, &[("front", &front2), ("backend", &b)]);
}

#[test]
fn a_full_queue_answers_retryable_errors_with_a_delay() {
    for storage in [false, true] {
        let d = TempDir::new();
        let ext = if storage {
            format!(
                "      storage: file_storage\nextensions:\n  file_storage:\n    directory: {}\n",
                d.0.display()
            )
        } else {
            String::new()
        };
        let service_ext = if storage {
            "  extensions: [file_storage]\n"
        } else {
            ""
        };
        let c = Collector::start(&format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  otlp_grpc:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true\n    retry_on_failure:\n      max_elapsed_time: 0\n    sending_queue:\n      num_consumers: 1\n      queue_size: 3\n{ext}service:\n{service_ext}  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp_grpc]\n{TEST_TELEMETRY}",
            free_port()
        ));
        let url = format!("{}/v1/traces", c.http_url());
        let mut statuses = Vec::new();
        let mut refusal = None;
        for i in 0..20u64 {
            let (s, h, body) = http(
                "POST",
                &url,
                &[("content-type", "application/json")],
                format!(
                    r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"{i:016x}","name":"x"}}]}}]}}]}}"#
                )
                .into_bytes(),
            )
            .unwrap();
            statuses.push(s);
            if s != 200 {
                refusal = Some((s, h, body));
                break;
            }
        }
        let (s, h, body) = refusal.unwrap_or_else(|| panic!("never refused: {statuses:?}"));
        assert_eq!(s, 429, "storage={storage}: {statuses:?}");
        assert_eq!(h.get("retry-after").unwrap(), "1");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], 8);
        assert_eq!(body["message"], "sending queue is full");
        // Never more than the capacity (plus the one being sent).
        assert!(statuses.len() <= 5, "{statuses:?}");

        let err = grpc_export(
            &c.grpc_url(),
            meshtrace_collector::otlp::Signal::Traces,
            spans_request("x", 1000..1001),
            false,
        )
        .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
        assert_eq!(
            meshtrace_collector::grpc_codec::retry_delay(&err),
            Some(Duration::from_secs(1))
        );
        assert!(
            c.metric("otelcol_exporter_enqueue_failed_spans_total{exporter=\"otlp_grpc\"") >= 2.0
        );
        assert!(c.metric("otelcol_receiver_refused_spans_total{receiver=\"otlp\"") >= 2.0);
        assert!(c.metric("otelcol_exporter_queue_size{") <= 3.0);
        assert_eq!(c.metric("otelcol_exporter_queue_capacity{"), 3.0);
    }
}
