"""The validators themselves: they must reject broken manifests (for the right reason) and
agree with Istio's own valid/invalid CRD fixtures. A validator that accepts everything would
make every other test in this folder pass."""

import copy

import pytest
import yaml

import manifestlib as ml

COLLECTOR_GATEWAY = ml.MANIFESTS / "collector" / "overlays" / "gateway"
TRACER = ml.MANIFESTS / "istio" / "modes" / "tracer"


def one(objs, kind):
    [o] = [o for o in objs if o["kind"] == kind]
    return copy.deepcopy(o)


@pytest.fixture(scope="module")
def gateway():
    return ml.kustomize(COLLECTOR_GATEWAY)


@pytest.fixture
def wasmplugin():
    return one(ml.kustomize(TRACER), "WasmPlugin")


def rejects(obj, reason):
    with pytest.raises(ml.ManifestError) as e:
        ml.validate_object(obj)
    assert reason in str(e.value), str(e.value)


# ------------------------------------------------------------------ Kubernetes


def test_k8s_accepts_the_unbroken_deployment(gateway):
    ml.validate_object(one(gateway, "Deployment"))


def test_k8s_rejects_unknown_field(gateway):
    d = one(gateway, "Deployment")
    d["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = d["spec"]["template"]["spec"]["containers"][0].pop("livenessProbe")
    rejects(d, "livenessprobe")


def test_k8s_rejects_wrong_type(gateway):
    h = one(gateway, "HorizontalPodAutoscaler")
    h["spec"]["minReplicas"] = "2"
    rejects(h, "minReplicas")


def test_k8s_rejects_bad_port(gateway):
    s = [o for o in gateway if o["kind"] == "Service"][0]
    s = copy.deepcopy(s)
    s["spec"]["ports"][0]["port"] = "4317"
    rejects(s, "port")


def test_k8s_rejects_unknown_kind():
    rejects({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "no Kubernetes")


# ------------------------------------------------------------------ Istio CRDs


def test_istio_accepts_the_unbroken_wasmplugin(wasmplugin):
    ml.validate_object(wasmplugin)


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda w: w["spec"].__setitem__("failStrategy", "FAIL_SOMETIMES"), "FAIL_SOMETIMES"),
        (lambda w: w["spec"].__setitem__("pluginconfig", {}), "pluginconfig"),
        (lambda w: w["spec"].__setitem__("sha256", "abc"), "does not match"),
        (lambda w: w["spec"].__setitem__("url", "ftp://example.com/x.wasm"), "url must have schema"),
        (lambda w: w["spec"].__setitem__("targetRefs", [{"kind": "Gateway", "name": "gw"}]) or w["spec"].__setitem__("selector", {"matchLabels": {"a": "b"}}), "only one of"),
        (lambda w: w["spec"]["vmConfig"]["env"].append(dict(w["spec"]["vmConfig"]["env"][0])), "duplicate entry"),
        (lambda w: w["spec"]["vmConfig"]["env"].__setitem__(0, {"name": "X", "valueFrom": "HOST", "value": "y"}), "value may only be set"),
        (lambda w: w["spec"].__setitem__("selector", {"matchLabels": {"app*": "x"}}), "wildcard not allowed"),
        (lambda w: w["metadata"].__setitem__("name", "Mesh_Trace"), "does not match"),
    ],
    ids=["enum", "unknown-field", "sha256-pattern", "cel-url-scheme", "cel-selector-xor", "list-map-unique", "cel-env-host", "cel-wildcard", "metadata-name"],
)
def test_istio_rejects_broken_wasmplugin(wasmplugin, mutate, reason):
    mutate(wasmplugin)
    rejects(wasmplugin, reason)


def test_istio_rejects_broken_telemetry():
    t = one(ml.kustomize(ml.MANIFESTS / "istio" / "modes" / "native"), "Telemetry")
    bad = copy.deepcopy(t)
    bad["spec"]["tracing"][0]["randomSamplingPercentage"] = 150
    rejects(bad, "maximum")
    bad = copy.deepcopy(t)
    bad["spec"]["tracing"][0]["customTags"]["k8s.pod.name"]["literal"] = {"value": "x"}
    rejects(bad, "is valid under each of")


def test_istio_rejects_trafficextension_with_wasm_and_lua():
    t = one(ml.kustomize(ml.MANIFESTS / "istio" / "modes" / "tracer-trafficextension"), "TrafficExtension")
    t["spec"]["lua"] = {"inlineCode": "function envoy_on_request(h) end"}
    rejects(t, "is valid under each of")


def test_istio_rejects_broken_serviceentry_and_destinationrule():
    objs = ml.kustomize(ml.MANIFESTS / "istio" / "external-newrelic")
    se, dr = one(objs, "ServiceEntry"), one(objs, "DestinationRule")
    se["spec"]["ports"][0]["number"] = 70000
    rejects(se, "port must be between 1-65535")
    dr["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]["mode"] = "TLS"
    rejects(dr, "'TLS' is not one of")


def test_istio_rejects_unknown_version():
    rejects({"apiVersion": "extensions.istio.io/v9", "kind": "WasmPlugin", "metadata": {"name": "x"}, "spec": {"url": "oci://x"}}, "no served Istio CRD")


# ------------------------------------------------------------------ mesh config


def mesh():
    return copy.deepcopy(ml.load_yaml_docs(ml.MANIFESTS / "istio" / "mesh" / "istio-operator.yaml")[0]["spec"]["meshConfig"])


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda m: m["extensionProviders"][0]["opentelemetry"].__setitem__("resource_detectors", {"environment": {}}), "resource_detectors"),
        (lambda m: m["extensionProviders"][1]["opentelemetry"]["http"].__setitem__("timeout", "5 seconds"), "does not match"),
        (lambda m: m["extensionProviders"][1]["opentelemetry"]["http"].__setitem__("timeout", "100ms"), "does not match"),
        (lambda m: m["extensionProviders"][0].__setitem__("zipkin", {}), "is valid under each of"),
        (lambda m: m["extensionProviders"][1]["opentelemetry"]["http"].pop("path"), "'path' is a required property"),
        (lambda m: m["extensionProviders"][0]["opentelemetry"].__setitem__("http", {"path": "/v1/traces"}), "should not be valid"),
        (lambda m: m["extensionProviders"][0]["opentelemetry"].__setitem__("port", 0), "minimum"),
        (lambda m: m["defaultConfig"].__setitem__("tracingServiceName", "APP_LABEL"), "is not one of"),
        (lambda m: m["extensionProviders"][1]["opentelemetry"]["http"]["headers"][0].__setitem__("envName", "X"), "is valid under each of"),
    ],
    ids=["snake-case-key", "duration-text", "duration-ms", "two-providers", "http-no-path", "http-and-grpc", "port-zero", "enum", "header-value-and-env"],
)
def test_mesh_config_rejects(mutate, reason):
    m = mesh()
    assert ml.mesh_config_errors(m) == []
    mutate(m)
    errors = ml.mesh_config_errors(m)
    assert any(reason in e for e in errors), errors


# ------------------------------------------------------------------ Istio's own fixtures


def fixtures(kind_file):
    out = []
    for d in yaml.safe_load_all((ml.ISTIO_SCHEMAS / "testdata" / kind_file).read_text()):
        if d:
            out.append(d)
    return out


VALID = ["destinationrule", "envoyfilter", "proxyconfig", "serviceentry", "telemetry", "wasm"]


@pytest.mark.parametrize("kind", VALID)
def test_istio_valid_fixtures_accepted(kind):
    for d in fixtures(f"{kind}-valid.yaml"):
        if d["metadata"]["name"] == "full" and kind == "serviceentry":
            # `[1.2.3.4, 001:db8::]`: PyYAML reads `001:db8::` as a mapping (YAML 1.1).
            continue
        assert ml.istio_errors(d) == [], d["metadata"]["name"]


def test_istio_invalid_fixtures_rejected():
    """Istio's invalid CRD fixtures (each carries the apiserver's message in `_err`).
    Structure alone rejects 16 of the 39; with the CEL rules and list-type checks every one
    is rejected. Names are lowercased first: several fixtures have names the apiserver would
    refuse before looking at the field the fixture is about."""
    results = {}
    for kind in VALID:
        for d in fixtures(f"{kind}-invalid.yaml"):
            d = dict(d)
            expected = d.pop("_err")
            d["metadata"] = {"name": d["metadata"]["name"].lower()}
            results[f"{kind}/{d['metadata']['name']}#{len(results)}"] = (expected, ml.istio_errors(d))
    assert len(results) == 39
    accepted = [k for k, (_, errors) in results.items() if not errors]
    assert accepted == [], accepted
    # The reason matches the apiserver's where the fixture names a CEL message.
    cel_messages = [
        "only support waypointMatch when context is WAYPOINT",
        "port must be between 1-65535",
        "key must not be empty",
        "wildcard is not supported in selector",
        "only one of WorkloadSelector or Endpoints can be set",
        "hostname cannot be wildcard",
        "CIDR addresses are allowed only for NONE/STATIC resolution types",
        "port number cannot be duplicated",
        "NONE mode cannot set endpoints",
        "DNS_ROUND_ROBIN mode cannot have multiple endpoints",
        "value must be set when operation is UPSERT",
        "value must not be set when operation is REMOVE",
        "url must have schema one of",
        "value may only be set when valueFrom is INLINE",
        "wildcard not allowed in label value match",
        "wildcard not allowed in label key match",
    ]
    for key, (expected, errors) in results.items():
        for msg in cel_messages:
            if msg in expected:
                assert any(msg in e for e in errors), (key, expected, errors)
