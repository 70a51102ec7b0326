use super::*;
use crate::component::{ComponentId, Kind};
use crate::extension::health_check::Health;
use crate::telemetry::Telemetry;
use crate::testutil::traces;
use std::sync::Mutex;

/// Fails the first `fail` attempts with `err`, then succeeds; records what it delivered.
struct Flaky {
    fail: Mutex<usize>,
    err: ConsumeError,
    attempts: Mutex<usize>,
    delivered: Mutex<Vec<u64>>,
}

impl Sender for Flaky {
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let batch = payload.into_batch()?;
            *self.attempts.lock().unwrap() += 1;
            let mut f = self.fail.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(self.err.clone());
            }
            self.delivered
                .lock()
                .unwrap()
                .extend(crate::testutil::span_numbers(&batch));
            Ok(())
        })
    }
}

/// Encodes a batch as its span numbers (one byte each) and fails the first attempt; records
/// every encode and what each attempt was given.
#[derive(Default)]
struct Encoding {
    encodes: Mutex<usize>,
    sent: Mutex<Vec<Vec<u8>>>,
}

impl Sender for Encoding {
    fn encode(&self, batch: Batch) -> Result<Payload, ConsumeError> {
        *self.encodes.lock().unwrap() += 1;
        let numbers = crate::testutil::span_numbers(&batch);
        Ok(Payload::Encoded(numbers.iter().map(|&n| n as u8).collect()))
    }

    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let Payload::Encoded(body) = payload else {
                return Err(ConsumeError::permanent("not encoded"));
            };
            let mut sent = self.sent.lock().unwrap();
            sent.push(body.to_vec());
            if sent.len() == 1 {
                return Err(ConsumeError::retryable("first attempt fails"));
            }
            Ok(())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_encoded_once_and_retries_resend_those_bytes() {
    let s = Arc::new(Encoding::default());
    let (h, t) = setup(s.clone(), direct_with_retry());
    h.consume(traces(0, 3)).await.unwrap();
    assert_eq!(*s.encodes.lock().unwrap(), 1);
    assert_eq!(*s.sent.lock().unwrap(), vec![vec![0, 1, 2], vec![0, 1, 2]]);
    assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 3);
}

/// An encoding failure is permanent: counted as failed, never attempted.
struct Unencodable;

impl Sender for Unencodable {
    fn encode(&self, _: Batch) -> Result<Payload, ConsumeError> {
        Err(ConsumeError::permanent("too large"))
    }

    fn send(&self, _: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async { Err(ConsumeError::permanent("never called")) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_cannot_be_encoded_fails_at_once() {
    let (h, t) = setup(Arc::new(Unencodable), direct_with_retry());
    assert_eq!(
        h.consume(traces(0, 2)).await.unwrap_err(),
        ConsumeError::permanent("too large")
    );
    assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 2);
    assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 0);
}

fn flaky(fail: usize, err: ConsumeError) -> Arc<Flaky> {
    Arc::new(Flaky {
        fail: Mutex::new(fail),
        err,
        attempts: Mutex::new(0),
        delivered: Mutex::new(Vec::new()),
    })
}

fn setup(
    sender: Arc<dyn Sender>,
    settings: HelperSettings,
) -> (Arc<ExporterHelper>, Arc<Telemetry>) {
    let telemetry = Arc::new(Telemetry::new("t", "i"));
    let ctx = Context {
        id: ComponentId::parse("otlp_grpc").unwrap(),
        kind: Kind::Exporter,
        telemetry: telemetry.clone(),
        health: Arc::new(Health::default()),
        host: Default::default(),
        topology: Default::default(),
    };
    (
        ExporterHelper::new(&ctx, Signal::Traces, sender, settings),
        telemetry,
    )
}

fn metric(t: &Telemetry, name: &str) -> u64 {
    t.counter(name, "", &[("exporter", "otlp_grpc")]).get()
}

fn direct_with_retry() -> HelperSettings {
    HelperSettings {
        retry: RetryConfig::default(),
        ..HelperSettings::direct()
    }
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_are_retried_until_they_succeed() {
    let s = flaky(3, ConsumeError::retryable("backend down"));
    let (h, t) = setup(s.clone(), direct_with_retry());
    h.consume(traces(0, 4)).await.unwrap();
    assert_eq!(*s.attempts.lock().unwrap(), 4);
    assert_eq!(*s.delivered.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 4);
    assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 0);
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_not_retried() {
    let s = flaky(1, ConsumeError::permanent("400"));
    let (h, t) = setup(s.clone(), direct_with_retry());
    assert_eq!(
        h.consume(traces(0, 2)).await.unwrap_err(),
        ConsumeError::permanent("400")
    );
    assert_eq!(*s.attempts.lock().unwrap(), 1);
    assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_elapsed_time() {
    let s = flaky(usize::MAX, ConsumeError::retryable("down"));
    let mut settings = direct_with_retry();
    settings.retry.max_elapsed_time = Duration::from_secs(60);
    let (h, t) = setup(s.clone(), settings);
    assert!(h.consume(traces(0, 1)).await.unwrap_err().is_retryable());
    // 5s, 7.5s, 11.25s, ... with ±50% jitter: a handful of attempts within a minute.
    let n = *s.attempts.lock().unwrap();
    assert!((3..=12).contains(&n), "{n} attempts");
    assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let s = flaky(
        1,
        ConsumeError::Retryable {
            reason: "slow down".into(),
            retry_after: Some(Duration::from_secs(40)),
            throttled: true,
        },
    );
    let (h, _) = setup(s.clone(), direct_with_retry());
    let t0 = tokio::time::Instant::now();
    h.consume(traces(0, 1)).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_secs(40),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_with_a_retryable_error_and_shutdown_drains_it() {
    let s = flaky(0, ConsumeError::permanent("unused"));
    let settings = HelperSettings {
        queue: QueueConfig {
            queue_size: 2,
            ..QueueConfig::default()
        },
        ..HelperSettings::default()
    };
    let (h, t) = setup(s.clone(), settings);
    // Not started: nothing drains the queue yet.
    h.consume(traces(0, 1)).await.unwrap();
    h.consume(traces(1, 1)).await.unwrap();
    let e = h.consume(traces(2, 5)).await.unwrap_err();
    assert_eq!(
        e,
        ConsumeError::Retryable {
            reason: "sending queue is full".into(),
            retry_after: Some(QUEUE_FULL_RETRY_AFTER),
            throttled: true,
        }
    );
    assert_eq!(metric(&t, "otelcol_exporter_enqueue_failed_spans_total"), 5);
    h.start().await.unwrap();
    h.shutdown().await;
    let mut got = s.delivered.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, vec![0, 1]);
    assert!(
        h.consume(traces(9, 1)).await.unwrap_err().is_retryable(),
        "closed after shutdown"
    );
}

/// Never answers (a backend that accepted the connection and hangs); counts attempts.
#[derive(Default)]
struct Silent {
    attempts: Mutex<usize>,
}

impl Sender for Silent {
    fn send(&self, _: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            *self.attempts.lock().unwrap() += 1;
            std::future::pending().await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_outlives_timeout_fails_as_timed_out_and_is_retried_then_dropped() {
    let s = Arc::new(Silent::default());
    let mut settings = direct_with_retry();
    settings.timeout = Duration::from_secs(2);
    settings.retry = RetryConfig {
        enabled: true,
        initial_interval: Duration::from_secs(1),
        randomization_factor: 0.0,
        multiplier: 1.0,
        max_interval: Duration::from_secs(1),
        max_elapsed_time: Duration::from_secs(10),
    };
    let (h, t) = setup(s.clone(), settings.clone());
    let t0 = tokio::time::Instant::now();
    let e = h.consume(traces(0, 3)).await.unwrap_err();
    assert_eq!(e, ConsumeError::retryable("request timed out after 2s"));
    // Attempts start at 0s, 3s, 6s and 9s (2s timeout + 1s wait each); after the fourth times
    // out at 11s, another wait would pass max_elapsed_time (10s): dropped.
    assert_eq!(*s.attempts.lock().unwrap(), 4);
    assert_eq!(t0.elapsed(), Duration::from_secs(11));
    assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 3);
    assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 0);

    // Without retries: one attempt, dropped when it times out.
    settings.retry.enabled = false;
    let s = Arc::new(Silent::default());
    let (h, t) = setup(s.clone(), settings);
    let t0 = tokio::time::Instant::now();
    let e = h.consume(traces(0, 1)).await.unwrap_err();
    assert_eq!(e, ConsumeError::retryable("request timed out after 2s"));
    assert_eq!(*s.attempts.lock().unwrap(), 1);
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_blocking_queue_makes_the_producer_wait_instead_of_refusing() {
    let s = flaky(0, ConsumeError::permanent("unused"));
    let settings = HelperSettings {
        queue: QueueConfig {
            queue_size: 1,
            num_consumers: 1,
            block_on_overflow: true,
            ..QueueConfig::default()
        },
        ..HelperSettings::default()
    };
    let (h, t) = setup(s.clone(), settings);
    // Not started: nothing drains the queue, so the second batch finds it full.
    h.consume(traces(0, 1)).await.unwrap();
    let waiting = tokio::spawn({
        let h = h.clone();
        async move { h.consume(traces(1, 2)).await }
    });
    // A minute later (paused clock) the producer is still waiting, and nothing was refused.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!waiting.is_finished(), "the producer should wait for room");
    assert_eq!(metric(&t, "otelcol_exporter_enqueue_failed_spans_total"), 0);
    // Workers make room: the waiting batch goes in, and everything is delivered.
    h.start().await.unwrap();
    waiting.await.unwrap().unwrap();
    h.shutdown().await;
    let mut got = s.delivered.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, vec![0, 1, 2]);
    assert_eq!(metric(&t, "otelcol_exporter_enqueue_failed_spans_total"), 0);
}

/// Takes a second (of tokio time) per batch; records how many sends overlap at most.
#[derive(Default)]
struct Slow {
    in_flight: Mutex<usize>,
    max_in_flight: Mutex<usize>,
    delivered: Mutex<Vec<u64>>,
}

impl Sender for Slow {
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let batch = payload.into_batch()?;
            {
                let mut n = self.in_flight.lock().unwrap();
                *n += 1;
                let mut max = self.max_in_flight.lock().unwrap();
                *max = (*max).max(*n);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            *self.in_flight.lock().unwrap() -= 1;
            self.delivered
                .lock()
                .unwrap()
                .extend(crate::testutil::span_numbers(&batch));
            Ok(())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn num_consumers_is_the_number_of_sends_in_flight() {
    for consumers in [1, 3, 5] {
        let s = Arc::new(Slow::default());
        let settings = HelperSettings {
            queue: QueueConfig {
                queue_size: 100,
                num_consumers: consumers,
                ..QueueConfig::default()
            },
            ..HelperSettings::default()
        };
        let (h, t) = setup(s.clone(), settings);
        for i in 0..12 {
            h.consume(traces(i, 1)).await.unwrap();
        }
        h.start().await.unwrap();
        h.shutdown().await;
        assert_eq!(*s.max_in_flight.lock().unwrap(), consumers);
        let mut got = s.delivered.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, (0..12).collect::<Vec<_>>(), "{consumers} consumers");
        assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 12);
    }
}

/// Records the span numbers of each request it is given.
#[derive(Default)]
struct Requests(Mutex<Vec<Vec<u64>>>);

impl Sender for Requests {
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let batch = payload.into_batch()?;
            self.0
                .lock()
                .unwrap()
                .push(crate::testutil::span_numbers(&batch));
            Ok(())
        })
    }
}

fn batching(min_size: usize, max_size: usize) -> HelperSettings {
    HelperSettings {
        queue: QueueConfig {
            batch: Some(config::QueueBatchConfig {
                min_size,
                max_size,
                ..config::QueueBatchConfig::default()
            }),
            ..QueueConfig::default()
        },
        ..HelperSettings::default()
    }
}

#[tokio::test(start_paused = true)]
async fn queued_requests_are_merged_to_min_size_and_split_at_max_size() {
    // (min_size, max_size) → the requests the backend gets for four of 3 spans, then one of 2.
    let cases: [(usize, usize, &[&[u64]]); 3] = [
        // 9 spans wait for more; the 12th fills it; the last 2 go at flush_timeout.
        (10, 0, &[&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], &[12, 13]]),
        (
            10,
            5,
            &[&[0, 1, 2], &[3, 4, 5], &[6, 7, 8], &[9, 10, 11], &[12, 13]],
        ),
        (
            6,
            8,
            &[&[0, 1, 2, 3, 4, 5], &[6, 7, 8, 9, 10, 11], &[12, 13]],
        ),
    ];
    for (min, max, want) in cases {
        let s = Arc::new(Requests::default());
        let (h, t) = setup(s.clone(), batching(min, max));
        for i in 0..4 {
            h.consume(traces(i * 3, 3)).await.unwrap();
        }
        h.start().await.unwrap();
        // Paused time runs ahead when every task waits: well past the 200ms flush_timeout.
        tokio::time::sleep(Duration::from_secs(1)).await;
        h.consume(traces(12, 2)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut got = s.0.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, want, "min {min}, max {max}");
        assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 14);
        h.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_a_batch_that_has_not_reached_min_size() {
    let s = Arc::new(Requests::default());
    let (h, _) = setup(s.clone(), batching(1000, 0));
    h.start().await.unwrap();
    h.consume(traces(0, 2)).await.unwrap();
    h.consume(traces(2, 2)).await.unwrap();
    h.shutdown().await;
    assert_eq!(*s.0.lock().unwrap(), [vec![0, 1, 2, 3]]);
}
