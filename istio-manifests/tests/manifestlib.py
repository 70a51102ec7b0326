"""Offline validation of the manifests users apply: kustomize builds, Kubernetes schemas,
Istio CRD schemas (structure plus the CEL rules of `x-kubernetes-validations`), and the
mesh config, whose schema Istio only defines in protobuf (config.proto).

Everything here runs without a cluster. What an apiserver or istiod would check beyond this
(Istio's Go validation webhook, admission, cross-resource semantics) is listed in
docs/istio.md, "What the tests cannot check".
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import celpy
import jsonschema
import kubernetes_validate
import yaml
from celpy import celtypes

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "istio-manifests"
SHARED = Path(os.environ.get("MESHTRACE_SHARED", ROOT.parent / "shared"))
ISTIO_SCHEMAS = SHARED / "schemas" / "istio"
MESH_CONFIG_SCHEMA = Path(__file__).resolve().parent / "schemas" / "meshconfig.schema.json"

# Kubernetes versions every object must validate against: the one the shared schemas were
# cut from, and the newest kubernetes-validate bundles.
K8S_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())

ISTIO_GROUPS = (
    "extensions.istio.io",
    "networking.istio.io",
    "telemetry.istio.io",
    "security.istio.io",
    "install.istio.io",
)


class ManifestError(AssertionError):
    """A manifest that a cluster would refuse (or that would silently misbehave)."""


# --------------------------------------------------------------------------- kustomize


def kustomize_dirs() -> list[Path]:
    """Every directory holding a kustomization (bases, overlays, components excluded)."""
    out = []
    for k in sorted(MANIFESTS.rglob("kustomization.yaml")):
        doc = yaml.safe_load(k.read_text())
        if doc.get("kind") == "Component":
            continue
        out.append(k.parent)
    return out


def component_dirs() -> list[Path]:
    out = []
    for k in sorted(MANIFESTS.rglob("kustomization.yaml")):
        if yaml.safe_load(k.read_text()).get("kind") == "Component":
            out.append(k.parent)
    return out


@functools.lru_cache(maxsize=None)
def _kustomize(path: str, unrestricted: bool) -> str:
    cmd = ["kubectl", "kustomize", path]
    if unrestricted:
        cmd += ["--load-restrictor", "LoadRestrictionsNone"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise ManifestError(f"kubectl kustomize {path} failed:\n{res.stderr}")
    return res.stdout


def kustomize(path: Path, unrestricted: bool = False) -> list[dict]:
    """`kubectl kustomize PATH` as a list of objects."""
    return [d for d in yaml.safe_load_all(_kustomize(str(path), unrestricted)) if d]


def compose(tmp: Path, resources: list[Path], components: list[Path]) -> list[dict]:
    """Builds a kustomization made on the fly from existing overlays and components, as a
    user's own overlay would (resources and components referenced by relative path)."""
    rel = lambda p: os.path.relpath(p, tmp)  # noqa: E731
    (tmp / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [rel(p) for p in resources],
                "components": [rel(p) for p in components],
            }
        )
    )
    return kustomize(tmp, unrestricted=True)


def load_yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def obj_id(obj: dict) -> str:
    md = obj.get("metadata") or {}
    ns = md.get("namespace", "")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{md.get('name')}"


def is_istio(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] in ISTIO_GROUPS


# --------------------------------------------------------------------------- Kubernetes


def validate_k8s(obj: dict, version: str) -> None:
    """Strict schema validation (unknown fields are errors). A kind without a schema is an
    error too: kubernetes-validate's CLI would only warn."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError as e:
        raise ManifestError(f"{obj_id(obj)}: no Kubernetes {version} schema for this kind ({e})")
    except kubernetes_validate.ValidationError as e:
        path = "/".join(str(p) for p in e.path)
        raise ManifestError(f"{obj_id(obj)}: {path}: {e.message}") from None


# --------------------------------------------------------------------------- Istio CRDs


@functools.lru_cache(maxsize=1)
def _crds() -> dict[tuple[str, str], dict]:
    out = {}
    bundle = ISTIO_SCHEMAS / "crd-all.gen.yaml"
    for crd in yaml.safe_load_all(bundle.read_text()):
        if not crd:
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if v.get("served", True):
                out[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return out


def _strict(schema: Any) -> Any:
    """OpenAPI structural schema -> JSON Schema as kubectl's strict field validation sees it:
    int-or-string, nullable, and no unknown fields where the schema lists properties and does
    not preserve unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    s = {k: _strict(v) for k, v in schema.items()}
    if s.pop("x-kubernetes-int-or-string", False):
        s.pop("anyOf", None)
        s["type"] = ["integer", "string"]
    if s.pop("nullable", False) and isinstance(s.get("type"), str):
        s["type"] = [s["type"], "null"]
    if (
        "properties" in s
        and "additionalProperties" not in s
        and not s.get("x-kubernetes-preserve-unknown-fields")
    ):
        s["additionalProperties"] = False
    return s


@functools.lru_cache(maxsize=None)
def istio_schema(api_version: str, kind: str) -> dict:
    try:
        raw = _crds()[(api_version, kind)]
    except KeyError:
        raise ManifestError(f"no served Istio CRD version for {api_version} {kind}") from None
    s = _strict(copy.deepcopy(raw))
    s["properties"]["apiVersion"] = {"const": api_version}
    s["properties"]["kind"] = {"const": kind}
    s["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
            "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    s["required"] = sorted(set(s.get("required", [])) | {"apiVersion", "kind", "metadata"})
    return s


def _raw_istio_schema(api_version: str, kind: str) -> dict:
    return _crds()[(api_version, kind)]


# CEL, as the apiserver evaluates `x-kubernetes-validations`: standard CEL (cel-python) plus
# the Kubernetes URL library functions the Istio CRDs use. isURL follows Go's
# url.ParseRequestURI: an absolute URI (scheme:...) or an absolute path, with no control
# characters or spaces and only well-formed %-escapes.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _is_url(s: Any) -> celtypes.BoolType:
    s = str(s)
    ok = (
        bool(s)
        and not any(c in s for c in " \t\r\n\x7f")
        and not _BAD_ESCAPE.search(s)
        and (bool(_SCHEME.match(s)) or s.startswith("/"))
    )
    return celtypes.BoolType(ok)


class _URL(celtypes.StringType):
    pass


def _url(s: Any) -> _URL:
    if not _is_url(s):
        raise ValueError(f"url: invalid URL {s!r}")
    return _URL(str(s))


def _get_scheme(u: Any) -> celtypes.StringType:
    m = _SCHEME.match(str(u))
    return celtypes.StringType(m.group(1).lower() if m else "")


_CEL_FUNCTIONS = {"isURL": _is_url, "url": _url, "getScheme": _get_scheme}
_CEL_ENV = celpy.Environment()


@functools.lru_cache(maxsize=None)
def _cel_program(rule: str):
    return _CEL_ENV.program(_CEL_ENV.compile(rule), functions=_CEL_FUNCTIONS)


def cel_check(rule: str, value: Any) -> bool:
    """True when the rule holds. A rule that errors at run time (a missing key, say) fails,
    as it does in the apiserver."""
    try:
        result = _cel_program(rule).evaluate({"self": celpy.json_to_cel(value)})
    except celpy.CELEvalError:
        return False
    return not isinstance(result, celpy.CELEvalError) and bool(result)


def _walk_rules(schema: dict, value: Any, path: str) -> Iterator[str]:
    """Errors from CEL rules and list-type constraints, walking value and schema together."""
    if value is None or not isinstance(schema, dict):
        return
    for v in schema.get("x-kubernetes-validations") or []:
        if not cel_check(v["rule"], value):
            yield f"{path or '/'}: {v.get('message') or v['rule']}"
    list_type = schema.get("x-kubernetes-list-type")
    if isinstance(value, list):
        if list_type == "set" and len({json.dumps(x, sort_keys=True) for x in value}) != len(value):
            yield f"{path}: duplicate entries in a set"
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = set()
            for item in value:
                k = tuple(json.dumps(item.get(key), sort_keys=True) for key in keys)
                if k in seen:
                    yield f"{path}: duplicate entry for keys {keys} = {[item.get(x) for x in keys]}"
                seen.add(k)
        for i, item in enumerate(value):
            yield from _walk_rules(schema.get("items") or {}, item, f"{path}/{i}")
    elif isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, item in value.items():
            if k in props:
                yield from _walk_rules(props[k], item, f"{path}/{k}")
            elif isinstance(extra, dict):
                yield from _walk_rules(extra, item, f"{path}/{k}")


def istio_errors(obj: dict) -> list[str]:
    """Every reason the Istio CRD schema (structure and CEL) refuses `obj`; [] if valid."""
    api, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    validator = jsonschema.Draft202012Validator(istio_schema(api, kind))
    errors = [
        f"{'/' + '/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not errors:  # CEL rules assume a structurally valid object, as the apiserver does
        errors += list(_walk_rules(_raw_istio_schema(api, kind), obj, ""))
    return errors


def validate_istio(obj: dict) -> None:
    errors = istio_errors(obj)
    if errors:
        raise ManifestError(f"{obj_id(obj)}:\n  " + "\n  ".join(errors))


# --------------------------------------------------------------------------- mesh config


@functools.lru_cache(maxsize=1)
def _mesh_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(MESH_CONFIG_SCHEMA.read_text()))


def mesh_config_errors(mesh: dict) -> list[str]:
    return [
        f"meshConfig/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in _mesh_validator().iter_errors(mesh)
    ]


# --------------------------------------------------------------------------- any object


def validate_object(obj: dict) -> None:
    """One object as a cluster would take it: Istio kinds against the Istio CRDs, the
    IstioOperator's meshConfig against config.proto's schema, the rest against Kubernetes."""
    if obj.get("kind") == "IstioOperator":
        errors = mesh_config_errors(obj.get("spec", {}).get("meshConfig", {}))
        if errors:
            raise ManifestError(f"{obj_id(obj)}:\n  " + "\n  ".join(errors))
    elif is_istio(obj):
        validate_istio(obj)
    else:
        for v in K8S_VERSIONS:
            validate_k8s(obj, v)


@dataclass(frozen=True)
class Duration:
    """A protobuf Duration string as Istio takes it (`5s`, `1.5s`, `100ms`)."""

    seconds: float

    @classmethod
    def parse(cls, s: str) -> "Duration":
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", s)
        if not m:
            raise ValueError(f"bad duration {s!r}")
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return cls(float(m.group(1)) * scale)


# --------------------------------------------------------------------------- the real collector

# Secrets the shipped configs read, with values of the right shape.
DUMMY_ENV = {
    "NEW_RELIC_LICENSE_KEY": "0123456789abcdef0123456789abcdef01234567",
    "OTLP_ENDPOINT": "https://otlp.example.com",
    "OTLP_AUTHORIZATION": "Bearer test-token",
}


def collector_bin() -> str:
    """The collector binary (`MESHTRACE_COLLECTOR_BIN`, else the workspace's debug build)."""
    path = os.environ.get("MESHTRACE_COLLECTOR_BIN") or str(ROOT / "target" / "debug" / "meshtrace-collector")
    if not Path(path).is_file():
        raise ManifestError(f"no collector binary at {path}: build it with `cargo build -p meshtrace-collector`")
    return path


def run_validate(binary: str, cfg_path: Path) -> subprocess.CompletedProcess:
    """`meshtrace-collector validate --config=CFG_PATH`, with the dummy secrets set."""
    return subprocess.run(
        [binary, "validate", f"--config={cfg_path}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **DUMMY_ENV},
        check=False,
    )
