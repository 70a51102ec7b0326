"""pytest setup for the manifest tests: makes manifestlib importable and shares builds."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manifestlib as ml  # noqa: E402


@pytest.fixture(scope="session")
def built():
    """{kustomization dir (relative to istio-manifests): [objects]} for every kustomization."""
    return {str(d.relative_to(ml.MANIFESTS)): ml.kustomize(d) for d in ml.kustomize_dirs()}


def pytest_report_header(config):
    return [f"manifests: {ml.MANIFESTS}", f"istio schemas: {ml.ISTIO_SCHEMAS}", f"k8s versions: {', '.join(ml.K8S_VERSIONS)}"]


BROKEN = "receivers:\n  bogus: {}\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [bogus]\n      exporters: [debug]\n"


@pytest.fixture(scope="session")
def validating_collector(tmp_path_factory):
    """The collector binary, once it is shown to refuse a broken config (a `validate` that
    accepts everything would make the tests that use it meaningless)."""
    binary = ml.collector_bin()
    bad = tmp_path_factory.mktemp("bad") / "broken.yaml"
    bad.write_text(BROKEN)
    res = ml.run_validate(binary, bad)
    assert res.returncode != 0, "meshtrace-collector validate accepted a config with an unknown receiver"
    assert 'receivers::bogus: unknown receiver type "bogus"' in res.stdout + res.stderr, res.stdout + res.stderr
    return binary
