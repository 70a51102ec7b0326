use super::*;
use crate::component::ComponentId;
use crate::extension::health_check::Health;
use crate::telemetry::Telemetry;
use crate::testutil::{Recorder, traces};

fn ctx() -> Context {
    Context {
        id: ComponentId::parse("batch").unwrap(),
        kind: crate::component::Kind::Processor,
        telemetry: Arc::new(Telemetry::new("t", "i")),
        health: Arc::new(Health::default()),
        host: Default::default(),
        topology: Default::default(),
    }
}

fn cfg(size: usize, max: usize, timeout_ms: u64) -> BatchConfig {
    BatchConfig {
        send_batch_size: size,
        send_batch_max_size: max,
        timeout: Duration::from_millis(timeout_ms),
        metadata_keys: Vec::new(),
        metadata_cardinality_limit: None,
    }
}

/// Lets the processor task run until it is idle (the clock is paused in these tests).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn sends_when_send_batch_size_is_reached() {
    let rec = Arc::new(Recorder::default());
    let p = cfg(10, 0, 3_600_000)
        .build(&ctx(), Signal::Traces, rec.clone())
        .unwrap();
    for i in 0..3 {
        p.consume(traces(i * 3, 3)).await.unwrap();
    }
    settle().await;
    assert!(rec.sizes().is_empty(), "9 items are below the trigger");
    p.consume(traces(9, 3)).await.unwrap();
    settle().await;
    assert_eq!(rec.sizes(), vec![12]);
    assert_eq!(rec.numbers(), (0..12).collect::<Vec<_>>());
    p.shutdown().await;
    assert_eq!(rec.sizes(), vec![12], "nothing left to flush");
}

#[tokio::test(start_paused = true)]
async fn splits_at_send_batch_max_size_and_keeps_the_tail() {
    let rec = Arc::new(Recorder::default());
    let p = cfg(10, 10, 3_600_000)
        .build(&ctx(), Signal::Traces, rec.clone())
        .unwrap();
    p.consume(traces(0, 25)).await.unwrap();
    settle().await;
    assert_eq!(rec.sizes(), vec![10, 10]);
    p.shutdown().await;
    assert_eq!(rec.sizes(), vec![10, 10, 5]);
    assert_eq!(rec.numbers(), (0..25).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn flushes_on_timeout() {
    let rec = Arc::new(Recorder::default());
    let p = cfg(100, 0, 200)
        .build(&ctx(), Signal::Traces, rec.clone())
        .unwrap();
    p.consume(traces(0, 3)).await.unwrap();
    settle().await;
    tokio::time::advance(Duration::from_millis(150)).await;
    settle().await;
    assert!(rec.sizes().is_empty());
    tokio::time::advance(Duration::from_millis(60)).await;
    settle().await;
    assert_eq!(rec.sizes(), vec![3]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn flushes_everything_on_shutdown_and_refuses_afterwards() {
    let rec = Arc::new(Recorder::default());
    let p = cfg(100, 0, 3_600_000)
        .build(&ctx(), Signal::Traces, rec.clone())
        .unwrap();
    p.consume(traces(0, 7)).await.unwrap();
    p.consume(traces(7, 5)).await.unwrap();
    p.shutdown().await;
    assert_eq!(rec.sizes(), vec![12]);
    assert!(p.consume(traces(12, 1)).await.unwrap_err().is_retryable());
}

#[tokio::test(start_paused = true)]
async fn timeout_zero_sends_each_request_split_by_max() {
    let rec = Arc::new(Recorder::default());
    let p = cfg(5, 5, 0)
        .build(&ctx(), Signal::Traces, rec.clone())
        .unwrap();
    p.consume(traces(0, 2)).await.unwrap();
    settle().await;
    p.consume(traces(2, 12)).await.unwrap();
    settle().await;
    assert_eq!(rec.sizes(), vec![2, 5, 5, 2]);
    p.shutdown().await;
    assert_eq!(rec.numbers(), (0..14).collect::<Vec<_>>());
}

#[test]
fn max_below_size_is_refused() {
    let errs = cfg(100, 50, 200).validate();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field.as_deref(), Some("send_batch_max_size"));
}
