"""Every object of every kustomization, and every standalone manifest, validates against the
schemas a cluster would use: Kubernetes 1.32 and the newest bundled (strict: unknown fields
are errors, unknown kinds are errors), the Istio 1.30.3 CRDs (structure, plus CEL rules and
list-type constraints), and the mesh config schema derived from config.proto."""

import pytest

import manifestlib as ml

STANDALONE = [ml.MANIFESTS / "istio" / "mesh" / "istio-operator.yaml"]


def all_objects():
    for d in ml.kustomize_dirs():
        for o in ml.kustomize(d):
            yield pytest.param(o, id=f"{d.relative_to(ml.MANIFESTS)}:{ml.obj_id(o)}")
    for f in STANDALONE:
        for o in ml.load_yaml_docs(f):
            yield pytest.param(o, id=f"{f.relative_to(ml.MANIFESTS)}:{ml.obj_id(o)}")


@pytest.mark.parametrize("obj", list(all_objects()))
def test_object_validates(obj):
    ml.validate_object(obj)


def test_helm_values_mesh_config_validates():
    values = ml.load_yaml_docs(ml.MANIFESTS / "istio" / "mesh" / "istiod-values.yaml")[0]
    assert ml.mesh_config_errors(values["meshConfig"]) == []


def test_istio_kinds_are_covered():
    """Every Istio kind the manifests use has a CRD schema here: nothing slips through
    unvalidated."""
    kinds = set()
    for d in ml.kustomize_dirs():
        kinds |= {(o["apiVersion"], o["kind"]) for o in ml.kustomize(d) if ml.is_istio(o)}
    assert kinds, "no Istio resources found"
    for api, kind in kinds:
        assert ml.istio_schema(api, kind)
    assert {k for _, k in kinds} >= {"Telemetry", "WasmPlugin", "TrafficExtension", "EnvoyFilter", "ServiceEntry", "DestinationRule", "ProxyConfig"}
