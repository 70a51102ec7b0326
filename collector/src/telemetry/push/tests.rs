use super::*;
use crate::otlp::proto::metrics::v1::metric::Data;

fn cfg(yaml: &str) -> OtlpPush {
    let v = crate::config::value::from_yaml(yaml).unwrap();
    crate::registry::parse_typed(&v).unwrap()
}

#[test]
fn a_snapshot_holds_every_series_under_its_instrument_name() {
    let t = Telemetry::new("gateway", "pod-1");
    t.counter(
        "otelcol_exporter_sent_spans_total",
        "Number of spans sent",
        &[("exporter", "otlp")],
    )
    .add(5);
    t.gauge(
        "otelcol_exporter_queue_size",
        "Current size of the queue",
        &[("exporter", "otlp"), ("data_type", "traces")],
    )
    .set(3);
    let h = t.histogram(
        "otelcol_processor_batch_batch_send_size",
        "Number of units in the batch",
        &[("processor", "batch")],
        &[10, 100],
    );
    for v in [5, 50, 500] {
        h.observe(v);
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let req = t.otlp_snapshot(now);
    let rm = &req.resource_metrics[0];
    let resource: Vec<(String, String)> = rm
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|a| {
            let Some(any_value::Value::StringValue(v)) =
                a.value.as_ref().and_then(|v| v.value.clone())
            else {
                panic!("{a:?}")
            };
            (a.key.clone(), v)
        })
        .collect();
    assert_eq!(
        resource,
        [
            ("service.instance.id".into(), "pod-1".into()),
            ("service.name".into(), "gateway".into()),
            (
                "service.version".into(),
                env!("CARGO_PKG_VERSION").to_owned()
            ),
        ]
    );
    let sm = &rm.scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, "meshtrace-collector");
    let names: Vec<&str> = sm.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "otelcol_process_cpu_seconds",
            "otelcol_process_memory_rss",
            "otelcol_process_uptime",
            "otelcol_exporter_queue_size",
            "otelcol_exporter_sent_spans",
            "otelcol_processor_batch_batch_send_size",
        ]
    );
    let start = unix_nanos(t.started_at());
    let time = 2_000_000_000 * 1_000_000_000;
    let attrs =
        |pairs: &[(&str, &str)]| -> Vec<KeyValue> { pairs.iter().map(|(k, v)| kv(k, v)).collect() };
    let by_name = |n: &str| sm.metrics.iter().find(|m| m.name == n).unwrap();
    assert_eq!(
        by_name("otelcol_exporter_sent_spans").data,
        Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: attrs(&[("exporter", "otlp")]),
                start_time_unix_nano: start,
                time_unix_nano: time,
                value: Some(number_data_point::Value::AsInt(5)),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }))
    );
    assert_eq!(
        by_name("otelcol_exporter_sent_spans").description,
        "Number of spans sent"
    );
    assert_eq!(
        by_name("otelcol_exporter_queue_size").data,
        Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: attrs(&[("exporter", "otlp"), ("data_type", "traces")]),
                start_time_unix_nano: start,
                time_unix_nano: time,
                value: Some(number_data_point::Value::AsInt(3)),
                ..Default::default()
            }],
        }))
    );
    assert_eq!(
        by_name("otelcol_processor_batch_batch_send_size").data,
        Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: attrs(&[("processor", "batch")]),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: 3,
                sum: Some(555.0),
                // Per bucket, not cumulative: (..10], (10..100], (100..).
                bucket_counts: vec![1, 1, 1],
                explicit_bounds: vec![10.0, 100.0],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }))
    );
    // A valid request: it passes the receivers' own checks.
    use prost::Message as _;
    Batch::new_validated(
        Signal::Metrics,
        req.encode_to_vec().into(),
        &Limits::default(),
    )
    .unwrap();
}

#[test]
fn a_push_section_is_the_exporter_config_it_stands_for() {
    // (otlp section, gRPC?, the exporter config as JSON)
    let cases = [
        (
            "{endpoint: 'https://backend:4318'}",
            false,
            r#"{"compression":"none","endpoint":"https://backend:4318","headers":{},"timeout":"10000ms","tls":{}}"#,
        ),
        (
            "{protocol: http/protobuf, endpoint: 'http://backend:4318/custom/metrics', timeout: 2500}",
            false,
            r#"{"compression":"none","headers":{},"metrics_endpoint":"http://backend:4318/custom/metrics","timeout":"2500ms","tls":{}}"#,
        ),
        (
            "{protocol: http/json, endpoint: 'https://backend:4318', compression: gzip, headers_list: 'tenant=a, x=1', headers: [{name: api-key, value: s3cret}], certificate: /ca.pem, client_certificate: /c.pem, client_key: /k.pem}",
            false,
            r#"{"compression":"gzip","encoding":"json","endpoint":"https://backend:4318","headers":{"api-key":"s3cret","tenant":"a","x":"1"},"timeout":"10000ms","tls":{"ca_file":"/ca.pem","cert_file":"/c.pem","key_file":"/k.pem"}}"#,
        ),
        (
            "{protocol: grpc, endpoint: 'http://gateway:4317'}",
            true,
            r#"{"compression":"none","endpoint":"http://gateway:4317","headers":{},"timeout":"10000ms","tls":{"insecure":true}}"#,
        ),
        (
            "{protocol: grpc, endpoint: 'https://gateway:4317/', certificate: /ca.pem}",
            true,
            r#"{"compression":"none","endpoint":"https://gateway:4317","headers":{},"timeout":"10000ms","tls":{"ca_file":"/ca.pem","insecure":false}}"#,
        ),
        (
            "{protocol: grpc, endpoint: 'https://gateway:4317', insecure: true}",
            true,
            r#"{"compression":"none","endpoint":"https://gateway:4317","headers":{},"timeout":"10000ms","tls":{"insecure":true}}"#,
        ),
    ];
    for (yaml, grpc, want) in cases {
        let (is_grpc, value) = exporter_config(&cfg(yaml), Signal::Metrics).unwrap();
        assert_eq!(is_grpc, grpc, "{yaml}");
        assert_eq!(value.to_json().to_string(), want, "{yaml}");
        // The OTLP exporters take it as it is.
        if grpc {
            crate::registry::parse_typed::<crate::exporter::otlp_grpc::OtlpGrpcConfig>(&value)
                .unwrap();
        } else {
            crate::registry::parse_typed::<crate::exporter::otlp_http::OtlpHttpConfig>(&value)
                .unwrap();
        }
    }
}

/// Answers with `answers` in turn (then success), counting attempts.
struct Scripted {
    answers: std::sync::Mutex<Vec<ConsumeError>>,
    attempts: std::sync::atomic::AtomicUsize,
}

impl Sender for Scripted {
    fn send(
        &self,
        _: crate::exporter::helper::Payload,
    ) -> crate::pipeline::BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.attempts
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                Ok(())
            } else {
                Err(answers.remove(0))
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_push_is_retried_while_the_backend_says_later() {
    // (answers before success, result, attempts made)
    let cases = [
        (vec![ConsumeError::retryable("503")], Ok(()), 2),
        (
            vec![
                ConsumeError::retryable("refused"),
                ConsumeError::retryable("refused"),
            ],
            Ok(()),
            3,
        ),
        (
            vec![ConsumeError::permanent("400 bad request")],
            Err("400 bad request".to_owned()),
            1,
        ),
        // Never delivered within the timeout: the retries stop there.
        (
            (0..1000).map(|_| ConsumeError::retryable("503")).collect(),
            Err("not delivered within 10s".to_owned()),
            // At 0, 0.5, 1.5, 3.5 and 7.5 s; the next wait (5 s) passes the 10 s.
            5,
        ),
    ];
    for (answers, want, attempts) in cases {
        let sender = Arc::new(Scripted {
            answers: std::sync::Mutex::new(answers),
            attempts: Default::default(),
        });
        let d = Destination::Otlp(sender.clone());
        let got = d
            .send(crate::testutil::traces(0, 1), Duration::from_secs(10))
            .await;
        assert_eq!(got, want);
        assert_eq!(
            sender.attempts.load(std::sync::atomic::Ordering::SeqCst),
            attempts
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_is_down_holds_shutdown_five_seconds_at_most() {
    let always_later = || {
        Arc::new(Scripted {
            answers: std::sync::Mutex::new(
                (0..10_000)
                    .map(|_| ConsumeError::retryable("connection refused"))
                    .collect(),
            ),
            attempts: Default::default(),
        })
    };
    let telemetry = Arc::new(Telemetry::new("t", "i"));
    // A metrics reader in the middle of a 30 s push when shutdown comes.
    let sender = always_later();
    let pusher = Pusher {
        destination: Destination::Otlp(sender.clone()),
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(30),
        label: "readers::0".into(),
    };
    let running = pusher.start(telemetry.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t0 = tokio::time::Instant::now();
    running.shutdown().await;
    // Virtual time: the last push's 5 s, not the 30 s push it interrupted.
    let took = t0.elapsed();
    assert!(took <= AT_SHUTDOWN + Duration::from_millis(100), "{took:?}");
    assert!(took >= AT_SHUTDOWN - Duration::from_secs(1), "{took:?}");
    assert!(sender.attempts.load(std::sync::atomic::Ordering::SeqCst) > 2);

    // A log processor in the middle of a 30 s send when shutdown comes.
    let queue = Arc::new(LogQueue::new(100, 10));
    for _ in 0..5 {
        queue.push(crate::otlp::proto::logs::v1::LogRecord::default());
    }
    let log_sender = always_later();
    let logs = LogSender {
        destination: Destination::Otlp(log_sender.clone()),
        shipping: LogShipping {
            delay: Duration::from_millis(100),
            timeout: Duration::from_secs(30),
            queue: 100,
            batch: 10,
            exporter: PushExporter {
                otlp: None,
                console: None,
            },
        },
        queue,
        label: "processors::0".into(),
    };
    let running = logs.start(telemetry);
    // Attempts at 0.1, 0.6 and 1.6 s, then the next wait (2 s) is cut short.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t0 = tokio::time::Instant::now();
    running.shutdown().await;
    assert!(t0.elapsed() <= AT_SHUTDOWN + Duration::from_millis(100));
    assert!(
        log_sender
            .attempts
            .load(std::sync::atomic::Ordering::SeqCst)
            > 2
    );
}
