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
