"""Every kustomization builds with `kubectl kustomize`, and every backend component composes
with both collector topologies (gateway and agent), as a user's own overlay would."""

import pytest

import manifestlib as ml

DIRS = ml.kustomize_dirs()
COLLECTOR = ml.MANIFESTS / "collector"
BACKENDS = sorted(p.name for p in (COLLECTOR / "components").iterdir())


def test_found_the_layout():
    names = {str(d.relative_to(ml.MANIFESTS)) for d in DIRS}
    for want in [
        "collector/base",
        "collector/overlays/gateway",
        "collector/overlays/agent",
        "collector/overlays/tempo",
        "collector/overlays/newrelic",
        "collector/overlays/otlp-http",
        "collector/overlays/two-tier",
        "istio/modes/tracer",
        "istio/modes/enricher",
        "istio/modes/native",
    ]:
        assert want in names
    assert BACKENDS == ["newrelic", "otlp-http", "tempo"]


@pytest.mark.parametrize("d", DIRS, ids=lambda d: str(d.relative_to(ml.MANIFESTS)))
def test_kustomize_builds(d):
    objs = ml.kustomize(d)
    assert objs, f"{d} builds to nothing"
    ids = [ml.obj_id(o) for o in objs]
    assert len(ids) == len(set(ids)), f"duplicate objects in {d}: {ids}"


@pytest.mark.parametrize("topology", ["gateway", "agent"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_composes_with_topology(tmp_path, topology, backend):
    objs = ml.compose(tmp_path, [COLLECTOR / "overlays" / topology], [COLLECTOR / "components" / backend])
    kinds = {o["kind"] for o in objs}
    assert ("Deployment" if topology == "gateway" else "DaemonSet") in kinds
    cm = [o for o in objs if o["kind"] == "ConfigMap"]
    assert len(cm) == 1
    # The component's config replaced the base's debug exporter.
    assert "debug:" not in cm[0]["data"]["config.yaml"].split("\nexporters:", 1)[1].split("\nservice:")[0]
    for o in objs:
        ml.validate_object(o)
