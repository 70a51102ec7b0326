use super::*;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::KeyValue;
use crate::processor::testspans::*;
use crate::testutil::Recorder;
use prost::Message;

fn processor(yaml: &str, signal: Signal) -> (Arc<dyn Processor>, Arc<Recorder>) {
    let cfg: ResourceConfig = config(yaml);
    assert_eq!(cfg.validate(), vec![], "{yaml}");
    let rec = Arc::new(Recorder::default());
    let p = cfg.build(&ctx("resource"), signal, rec.clone()).unwrap();
    (p, rec)
}

const ACTIONS: &str = r"
attributes:
  - {key: k8s.cluster.name, value: tap-sandbox, action: upsert}
  - {key: deployment.environment, value: prod, action: insert}
  - {key: service.name, value: ignored, action: insert}
  - {key: host.name, action: delete}
  - {key: k8s.pod.uid, action: hash}
  - {key: k8s.pod.name, pattern: '^(?P<k8s_deployment_name>[a-z0-9-]+)-[0-9a-f]+-[0-9a-z]+$', action: extract}
  - {key: service.instance, converted_type: int, action: convert}
";

fn input_attrs() -> Vec<KeyValue> {
    vec![
        s("service.name", "reviews"),
        s("host.name", "node-1"),
        s("k8s.pod.uid", "abc"),
        s("k8s.pod.name", "reviews-v2-5b667bcbf8-xv7kz"),
        s("service.instance", "7"),
    ]
}

fn expected() -> Vec<KeyValue> {
    vec![
        s("service.name", "reviews"),
        s(
            "k8s.pod.uid",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        s("k8s.pod.name", "reviews-v2-5b667bcbf8-xv7kz"),
        i("service.instance", 7),
        s("k8s.cluster.name", "tap-sandbox"),
        s("deployment.environment", "prod"),
        s("k8s_deployment_name", "reviews-v2"),
    ]
}

#[tokio::test]
async fn actions_on_trace_resources() {
    let (p, rec) = processor(ACTIONS, Signal::Traces);
    p.consume(batch(vec![
        group(
            input_attrs(),
            "envoy",
            vec![span(1, "a", vec![s("host.name", "span-level")])],
        ),
        group(vec![], "envoy", vec![span(2, "b", vec![])]),
    ]))
    .await
    .unwrap();
    let req = decode(&rec.0.lock().unwrap()[0]);
    assert_eq!(
        req.resource_spans[0].resource.clone().unwrap().attributes,
        expected()
    );
    assert_eq!(
        req.resource_spans[1].resource.clone().unwrap().attributes,
        vec![
            s("k8s.cluster.name", "tap-sandbox"),
            s("deployment.environment", "prod"),
            s("service.name", "ignored")
        ]
    );
    // Span attributes are not resource attributes.
    assert_eq!(
        req.resource_spans[0].scope_spans[0].spans[0].attributes,
        vec![s("host.name", "span-level")]
    );
}

#[tokio::test]
async fn actions_on_metric_resources() {
    let (p, rec) = processor(ACTIONS, Signal::Metrics);
    let mut input = metrics_batch("reviews");
    // Same resource as the traces case.
    let mut req = ExportMetricsServiceRequest::decode(input.bytes().as_ref()).unwrap();
    req.resource_metrics[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes = input_attrs();
    input = crate::otlp::Batch::new_validated(
        Signal::Metrics,
        req.encode_to_vec().into(),
        &crate::otlp::Limits::default(),
    )
    .unwrap();
    p.consume(input).await.unwrap();
    let out = rec.0.lock().unwrap()[0].clone();
    assert_eq!(out.items(), 1);
    let got = ExportMetricsServiceRequest::decode(out.bytes().as_ref()).unwrap();
    assert_eq!(
        got.resource_metrics[0].resource.clone().unwrap().attributes,
        expected()
    );
    assert_eq!(
        got.resource_metrics[0].scope_metrics,
        req.resource_metrics[0].scope_metrics
    );
}

#[tokio::test]
async fn untouched_requests_keep_their_bytes() {
    let (p, rec) = processor(
        "attributes: [{key: absent, value: x, action: update}]",
        Signal::Traces,
    );
    let input = batch(vec![group(
        input_attrs(),
        "envoy",
        vec![span(1, "a", vec![])],
    )]);
    p.consume(input.clone()).await.unwrap();
    assert_eq!(
        rec.0.lock().unwrap()[0].bytes().as_ptr(),
        input.bytes().as_ptr()
    );
}

#[test]
fn attributes_are_required() {
    for (yaml, want) in [
        (
            "{}",
            "field `attributes`: missing required field \"attributes\"",
        ),
        (
            "attributes: [{key: a, action: upsert}]",
            "field `attributes.0`: either field",
        ),
    ] {
        let cfg: ResourceConfig = config(yaml);
        let e: Vec<String> = cfg.validate().iter().map(ToString::to_string).collect();
        assert!(e.iter().any(|m| m.contains(want)), "{yaml}: {e:?}");
    }
}
