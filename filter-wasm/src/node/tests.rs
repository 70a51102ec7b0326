//! Istio's `tracingServiceName` table (istiod's own test cases and its fallbacks), the
//! resource precedence, and `OTEL_RESOURCE_ATTRIBUTES` parsing.

use super::*;
use std::collections::HashMap;

#[derive(Default)]
struct Map {
    metadata: HashMap<&'static str, &'static str>,
    labels: HashMap<&'static str, &'static str>,
    env: HashMap<&'static str, &'static str>,
}

impl NodeSource for Map {
    fn metadata(&mut self, key: &str) -> Option<String> {
        self.metadata.get(key).map(|v| v.to_string())
    }
    fn label(&mut self, key: &str) -> Option<String> {
        self.labels.get(key).map(|v| v.to_string())
    }
    fn env(&mut self, name: &str) -> Option<String> {
        self.env.get(name).map(|v| v.to_string())
    }
}

fn node(metadata: &[(&str, &str)], labels: &[(&str, &str)]) -> NodeInfo {
    NodeInfo::read(&mut Map {
        metadata: metadata.iter().map(|(k, v)| (leak(k), leak(v))).collect(),
        labels: labels.iter().map(|(k, v)| (leak(k), leak(v))).collect(),
        env: HashMap::new(),
    })
}

#[test]
fn tracing_service_name_table() {
    use TracingServiceName::*;
    let ns = ("NAMESPACE", "bar");
    let wl = ("WORKLOAD_NAME", "foo-v1");
    type Pairs<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(TracingServiceName, Pairs, Pairs, &str)] = &[
        // istiod's test cases (pkg/bootstrap): labels app=foo / canonical-name=foo, ns bar.
        (AppLabelAndNamespace, &[ns], &[("app", "foo")], "foo.bar"),
        (CanonicalNameOnly, &[ns], &[(CANONICAL_NAME, "foo")], "foo"),
        (
            CanonicalNameAndNamespace,
            &[ns],
            &[(CANONICAL_NAME, "foo")],
            "foo.bar",
        ),
        // Fallbacks of serviceClusterOrDefault.
        (AppLabelAndNamespace, &[ns, wl], &[], "foo-v1.bar"),
        (AppLabelAndNamespace, &[ns], &[], "istio-proxy.bar"),
        (AppLabelAndNamespace, &[], &[], "istio-proxy"),
        // APP_LABEL ignores the canonical name label.
        (
            AppLabelAndNamespace,
            &[ns],
            &[(CANONICAL_NAME, "canon"), ("app", "foo")],
            "foo.bar",
        ),
        // Canonical name: canonical-name, then app.kubernetes.io/name, then app, then workload.
        (
            CanonicalNameOnly,
            &[ns],
            &[("app.kubernetes.io/name", "k"), ("app", "a")],
            "k",
        ),
        (CanonicalNameOnly, &[ns], &[("app", "a")], "a"),
        (CanonicalNameOnly, &[ns, wl], &[], "foo-v1"),
        (CanonicalNameOnly, &[ns], &[], "istio-proxy.bar"),
        (CanonicalNameAndNamespace, &[ns, wl], &[], "foo-v1.bar"),
        (CanonicalNameAndNamespace, &[wl], &[], "foo-v1"),
        (CanonicalNameAndNamespace, &[], &[], "istio-proxy"),
    ];
    for (rule, metadata, labels, want) in cases {
        let n = node(metadata, labels);
        assert_eq!(
            n.service_name(*rule),
            *want,
            "{rule:?} {metadata:?} {labels:?}"
        );
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn istio_node() -> NodeInfo {
    node(
        &[
            ("NAME", "productpage-v1-6b7f6db7b6-x2x9q"),
            ("NAMESPACE", "bookinfo"),
            ("WORKLOAD_NAME", "productpage-v1"),
            (
                "OWNER",
                "kubernetes://apis/apps/v1/namespaces/bookinfo/deployments/productpage-v1",
            ),
            ("CLUSTER_ID", "Kubernetes"),
            ("MESH_ID", "cluster.local"),
            ("NODE_NAME", "node-1"),
        ],
        &[("app", "productpage"), ("version", "v1")],
    )
}

#[test]
fn resource_from_istio_node_metadata() {
    let r = Resource::build(&istio_node(), &ResourceConfig::default());
    let want: &[(&str, &str)] = &[
        ("service.name", "productpage.bookinfo"),
        ("service.namespace", "bookinfo"),
        ("service.version", "v1"),
        ("k8s.pod.name", "productpage-v1-6b7f6db7b6-x2x9q"),
        ("k8s.namespace.name", "bookinfo"),
        ("k8s.node.name", "node-1"),
        ("k8s.deployment.name", "productpage-v1"),
        ("istio.canonical_service", "productpage"),
        ("istio.canonical_revision", "v1"),
        ("istio.workload_name", "productpage-v1"),
        ("istio.mesh_id", "cluster.local"),
        ("istio.cluster_id", "Kubernetes"),
        ("telemetry.sdk.name", "meshtrace"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ];
    let got: Vec<(&str, &str)> = r
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, want);
    assert!(r.warnings.is_empty());
}

#[test]
fn owner_kinds() {
    for (owner, attr) in [
        (
            "kubernetes://apis/apps/v1/namespaces/n/statefulsets/db",
            Some("k8s.statefulset.name"),
        ),
        (
            "kubernetes://apis/apps/v1/namespaces/n/daemonsets/db",
            Some("k8s.daemonset.name"),
        ),
        (
            "kubernetes://apis/batch/v1/namespaces/n/cronjobs/db",
            Some("k8s.cronjob.name"),
        ),
        ("kubernetes://apis/v1/namespaces/n/pods/db", None),
        ("nonsense", None),
    ] {
        let n = node(&[("OWNER", owner), ("WORKLOAD_NAME", "db")], &[]);
        assert_eq!(n.workload_attribute(), attr, "{owner}");
    }
}

#[test]
fn precedence_metadata_env_service_name_config() {
    let mut src = Map::default();
    src.metadata.insert("NAMESPACE", "ns");
    src.labels.insert("app", "a");
    src.metadata.insert(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment.name=meta,team=meta",
    );
    src.env.insert(
        "OTEL_RESOURCE_ATTRIBUTES",
        "team=env, service.name = from-env ,region=eu%2Dwest",
    );
    let n = NodeInfo::read(&mut src);
    let r = Resource::build(&n, &ResourceConfig::default());
    assert_eq!(r.get("deployment.environment.name"), Some("meta"));
    assert_eq!(r.get("team"), Some("env"));
    assert_eq!(r.get("region"), Some("eu-west"));
    assert_eq!(r.get("service.name"), Some("from-env"));

    src.env.insert("OTEL_SERVICE_NAME", "svc");
    let n = NodeInfo::read(&mut src);
    assert_eq!(
        Resource::build(&n, &ResourceConfig::default()).get("service.name"),
        Some("svc")
    );

    let config = ResourceConfig {
        attributes: [("service.name".to_owned(), "cfg".to_owned())].into(),
        ..ResourceConfig::default()
    };
    let r = Resource::build(&n, &config);
    assert_eq!(r.get("service.name"), Some("cfg"));
    // Replaced in place: the key keeps its first position.
    assert_eq!(r.attributes[0].0, "service.name");
}

#[test]
fn a_broken_otel_resource_attributes_is_ignored_whole_with_a_warning() {
    let mut src = Map::default();
    src.env.insert("OTEL_RESOURCE_ATTRIBUTES", "good=1,bad");
    let r = Resource::build(&NodeInfo::read(&mut src), &ResourceConfig::default());
    assert_eq!(r.get("good"), None);
    assert_eq!(
        r.warnings,
        vec!["environment OTEL_RESOURCE_ATTRIBUTES ignored: member 2 has no '='".to_owned()]
    );
    // Without node metadata: service.name still set, no istio.* attributes.
    assert_eq!(r.get("service.name"), Some("istio-proxy"));
    assert_eq!(r.get("istio.canonical_service"), None);
}

#[test]
fn otel_resource_attributes_table() {
    use ResourceAttributesError::*;
    let ok: &[(&str, &[(&str, &str)])] = &[
        ("", &[]),
        ("a=b", &[("a", "b")]),
        ("a=b,c=d", &[("a", "b"), ("c", "d")]),
        (" a = b , c=d ,", &[("a", "b"), ("c", "d")]),
        ("a=", &[("a", "")]),
        ("a=b=c", &[("a", "b=c")]),
        ("k=%20x%2C%3D", &[("k", " x,=")]),
        ("%6B=v", &[("k", "v")]),
        ("k=caf%C3%A9", &[("k", "caf\u{e9}")]),
        ("a=1,a=2", &[("a", "1"), ("a", "2")]),
    ];
    for (input, want) in ok {
        let got = parse_resource_attributes(input).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, *want, "{input:?}");
    }
    let bad: &[(&str, ResourceAttributesError)] = &[
        ("a", MissingEquals(0)),
        ("a=1,=2", EmptyKey(1)),
        ("a=%2", BadPercentEncoding(0)),
        ("a=%zz", BadPercentEncoding(0)),
        ("a=%C3", NotUtf8(0)),
    ];
    for (input, want) in bad {
        assert_eq!(
            parse_resource_attributes(input),
            Err(want.clone()),
            "{input:?}"
        );
    }
}
