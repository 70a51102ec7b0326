use super::*;
use crate::otlp::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
use crate::processor::testspans::*;
use crate::testutil::Recorder;

fn processor(yaml: &str) -> (Arc<dyn Processor>, Arc<Recorder>) {
    let cfg: AttributesConfig = config(yaml);
    assert_eq!(cfg.validate(), vec![], "{yaml}");
    let rec = Arc::new(Recorder::default());
    let p = cfg
        .build(&ctx("attributes"), Signal::Traces, rec.clone())
        .unwrap();
    (p, rec)
}

/// Runs the actions on one span with `attrs`; the span's attributes afterwards.
async fn run(yaml: &str, attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    let (p, rec) = processor(yaml);
    p.consume(batch(vec![group(
        vec![],
        "envoy",
        vec![span(1, "s", attrs)],
    )]))
    .await
    .unwrap();
    let b = rec.0.lock().unwrap()[0].clone();
    decode(&b).resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn base() -> Vec<KeyValue> {
    vec![
        s("http.url", "/api/v2/orders"),
        s("user.email", "jane@example.com"),
        i("retries", 3),
        d("ratio", 0.25),
        b("cached", true),
        s("count", "42"),
        s("price", "9.75"),
        s("word", "abc"),
    ]
}

#[tokio::test]
async fn every_action_with_its_exact_output() {
    let cases: Vec<(&str, Vec<KeyValue>)> = vec![
        // insert: only when absent; new keys go last.
        (
            "actions: [{key: cluster, value: tap-sandbox, action: insert}, {key: word, value: x, action: insert}]",
            [base(), vec![s("cluster", "tap-sandbox")]].concat(),
        ),
        // update: only when present, in place.
        (
            "actions: [{key: word, value: xyz, action: update}, {key: missing, value: x, action: update}]",
            {
                let mut v = base();
                v[7] = s("word", "xyz");
                v
            },
        ),
        // upsert: both; values keep their YAML type.
        (
            "actions: [{key: retries, value: 5, action: upsert}, {key: env, value: prod, action: UPSERT},
                       {key: weight, value: 0.5, action: upsert}, {key: sampled, value: false, action: upsert}]",
            {
                let mut v = base();
                v[2] = i("retries", 5);
                v.extend([s("env", "prod"), d("weight", 0.5), b("sampled", false)]);
                v
            },
        ),
        // delete by key and by pattern.
        (
            "actions: [{key: user.email, action: delete}, {pattern: '^(ratio|cached)$', action: delete}]",
            {
                let mut v = base();
                v.retain(|a| !["user.email", "ratio", "cached"].contains(&a.key.as_str()));
                v
            },
        ),
        // hash: SHA-256 hex of the UTF-8 string / 8 little-endian bytes / one byte.
        (
            "actions: [{key: user.email, action: hash}, {key: retries, action: hash}, {pattern: '^(ratio|cached)$', action: hash}]",
            {
                let mut v = base();
                v[1] = s("user.email", &sha256_hex(b"jane@example.com"));
                v[2] = s("retries", &sha256_hex(&3u64.to_le_bytes()));
                v[3] = s("ratio", &sha256_hex(&0.25f64.to_bits().to_le_bytes()));
                v[4] = s("cached", &sha256_hex(&[1]));
                v
            },
        ),
        // extract: named groups become attributes; the source stays.
        (
            r"actions: [{key: http.url, pattern: '^/api/(?P<version>v\d+)/(?P<resource>\w+)$', action: extract}]",
            [base(), vec![s("version", "v2"), s("resource", "orders")]].concat(),
        ),
        // extract: no match, or not a string: nothing.
        (
            r"actions: [{key: word, pattern: '^(?P<n>\d+)$', action: extract}, {key: retries, pattern: '(?P<r>.*)', action: extract}]",
            base(),
        ),
        // convert.
        (
            "actions: [{key: count, converted_type: int, action: convert}, {key: price, converted_type: double, action: convert},
                       {key: retries, converted_type: string, action: convert}, {key: ratio, converted_type: string, action: convert},
                       {key: cached, converted_type: int, action: convert}, {key: word, converted_type: int, action: convert}]",
            {
                let mut v = base();
                v[5] = i("count", 42);
                v[6] = d("price", 9.75);
                v[2] = s("retries", "3");
                v[3] = s("ratio", "0.25");
                v[4] = i("cached", 1);
                v
            },
        ),
        (
            "actions: [{key: ratio, converted_type: int, action: convert}, {key: retries, converted_type: double, action: convert},
                       {key: cached, converted_type: string, action: convert}, {key: word, converted_type: double, action: convert}]",
            {
                let mut v = base();
                v[3] = i("ratio", 0);
                v[2] = d("retries", 3.0);
                v[4] = s("cached", "true");
                v
            },
        ),
        // from_attribute: the value as it is now (after earlier actions); absent source: nothing.
        (
            "actions: [{key: word, value: changed, action: update}, {key: copy, from_attribute: word, action: insert},
                       {key: nothing, from_attribute: missing, action: upsert}]",
            {
                let mut v = base();
                v[7] = s("word", "changed");
                v.push(s("copy", "changed"));
                v
            },
        ),
        // Lists and maps.
        (
            "actions: [{key: tags, value: [a, 1], action: insert}, {key: owner, value: {team: mesh, oncall: true}, action: insert}]",
            [
                base(),
                vec![
                    kv(
                        "tags",
                        any_value::Value::ArrayValue(ArrayValue {
                            values: vec![
                                AnyValue { value: Some(any_value::Value::StringValue("a".into())) },
                                AnyValue { value: Some(any_value::Value::IntValue(1)) },
                            ],
                        }),
                    ),
                    kv(
                        "owner",
                        any_value::Value::KvlistValue(KeyValueList {
                            values: vec![s("team", "mesh"), b("oncall", true)],
                        }),
                    ),
                ],
            ]
            .concat(),
        ),
        // Actions run in order: convert a value set by the previous action.
        (
            "actions: [{key: n, value: '17', action: insert}, {key: n, converted_type: int, action: convert}, {key: n, action: hash}]",
            [base(), vec![s("n", &sha256_hex(&17u64.to_le_bytes()))]].concat(),
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(run(yaml, base()).await, want, "{yaml}");
    }
}

#[tokio::test]
async fn hash_of_a_known_value() {
    // The SHA-256 test vector: what the Collector writes for "abc".
    let got = run(
        "actions: [{key: word, action: hash}]",
        vec![s("word", "abc")],
    )
    .await;
    assert_eq!(
        got,
        vec![s(
            "word",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )]
    );
}

#[tokio::test]
async fn from_context_reads_the_client() {
    let yaml = "actions:
  - {key: client.ip, from_context: client.address, action: upsert}
  - {key: tenant, from_context: metadata.x-tenant, action: insert}
  - {key: tenant2, from_context: X-Tenant, action: insert}
  - {key: user, from_context: auth.subject, action: insert}
  - {key: missing, from_context: metadata.nope, action: insert}";
    let (p, rec) = processor(yaml);
    let info = Arc::new(crate::client::ClientInfo {
        address: Some("10.4.2.17".parse().unwrap()),
        metadata: vec![
            ("x-tenant".into(), "a".into()),
            ("x-tenant".into(), "b".into()),
        ],
        auth: Default::default(),
    });
    crate::client::scope(
        info,
        p.consume(batch(vec![group(
            vec![],
            "envoy",
            vec![span(1, "s", vec![])],
        )])),
    )
    .await
    .unwrap();
    // Outside a receiver's scope nothing is found.
    p.consume(batch(vec![group(
        vec![],
        "envoy",
        vec![span(2, "t", vec![])],
    )]))
    .await
    .unwrap();
    let got: Vec<Vec<KeyValue>> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            decode(b).resource_spans[0].scope_spans[0].spans[0]
                .attributes
                .clone()
        })
        .collect();
    assert_eq!(
        got,
        vec![
            vec![
                s("client.ip", "10.4.2.17"),
                s("tenant", "a;b"),
                s("tenant2", "a;b")
            ],
            vec![]
        ]
    );
}

#[tokio::test]
async fn include_and_exclude_select_the_spans() {
    let yaml = "actions: [{key: cluster, value: tap-sandbox, action: upsert}]
include:
  match_type: regexp
  span_names: ['^GET ']
exclude:
  match_type: strict
  attributes: [{key: http.route, value: /livez}]";
    let (p, rec) = processor(yaml);
    p.consume(batch(vec![group(
        vec![],
        "envoy",
        vec![
            span(1, "GET /orders", vec![]),
            span(2, "GET /livez", vec![s("http.route", "/livez")]),
            span(3, "POST /orders", vec![]),
        ],
    )]))
    .await
    .unwrap();
    let b = rec.0.lock().unwrap()[0].clone();
    let attrs: Vec<Vec<KeyValue>> = decode(&b).resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| s.attributes.clone())
        .collect();
    assert_eq!(
        attrs,
        vec![
            vec![s("cluster", "tap-sandbox")],
            vec![s("http.route", "/livez")],
            vec![]
        ]
    );
}

#[tokio::test]
async fn untouched_requests_keep_their_bytes() {
    let (p, rec) = processor("actions: [{key: missing, value: x, action: update}]");
    let input = batch(vec![group(vec![], "envoy", vec![span(1, "s", base())])]);
    p.consume(input.clone()).await.unwrap();
    assert_eq!(
        rec.0.lock().unwrap()[0].bytes().as_ptr(),
        input.bytes().as_ptr()
    );
}

#[test]
fn invalid_actions_are_refused_with_the_reason() {
    for (yaml, want) in [
        (
            "actions: []",
            "field `actions`: missing required field \"actions\"",
        ),
        (
            "actions: [{value: x, action: insert}]",
            "field `actions.0.key`: missing required field \"key\"",
        ),
        (
            "actions: [{key: a, action: upsert}]",
            "field `actions.0`: either field \"value\", \"from_attribute\" or \"from_context\" must be specified",
        ),
        (
            "actions: [{key: a, value: x, from_attribute: b, action: upsert}]",
            "only one of",
        ),
        (
            "actions: [{key: a, value: x, pattern: y, action: insert}]",
            "field `actions.0.pattern`: action \"insert\" does not use the \"pattern\" field",
        ),
        (
            "actions: [{key: a, value: x, converted_type: int, action: update}]",
            "does not use the \"converted_type\" field",
        ),
        (
            "actions: [{action: delete}]",
            "at least one of \"key\" and \"pattern\"",
        ),
        (
            "actions: [{key: a, value: x, action: hash}]",
            "does not use \"value\" or \"from_attribute\"",
        ),
        (
            "actions: [{key: a, pattern: '(', action: delete}]",
            "field `actions.0.pattern`: invalid pattern",
        ),
        (
            "actions: [{key: a, action: extract}]",
            "missing required field \"pattern\"",
        ),
        (
            "actions: [{key: a, pattern: '\\d+', action: extract}]",
            "no named matcher groups",
        ),
        (
            "actions: [{key: a, pattern: '(?P<x>\\d+)-(\\d+)', action: extract}]",
            "unnamed matcher group",
        ),
        (
            "actions: [{key: a, value: x, pattern: '(?P<x>.)', action: extract}]",
            "does not use a value source",
        ),
        (
            "actions: [{key: a, action: convert}]",
            "missing required field \"converted_type\"",
        ),
        (
            "actions: [{key: a, converted_type: bool, action: convert}]",
            "field `actions.0.converted_type`: invalid value \"bool\"",
        ),
        (
            "actions: [{key: a, value: x, action: rename}]",
            "field `actions.0.action`: unsupported action \"rename\"",
        ),
        (
            "actions: [{key: a, value: x, action: insert}]\ninclude:\n  match_type: strict\n",
            "field `include`: at least one of",
        ),
    ] {
        let cfg: AttributesConfig = config(yaml);
        let e: Vec<String> = cfg.validate().iter().map(ToString::to_string).collect();
        assert!(e.iter().any(|m| m.contains(want)), "{yaml}: {e:?}");
    }
}
