"""scripts/package-oci.sh writes an OCI image layout that follows the OCI image spec (layout,
index, manifest and config media types, sha256 digests and sizes of every blob) and that
istio-agent's image fetcher can unpack (its compat and oci variants, replayed here step by
step as pkg/wasm/imagefetcher.go does at Istio 1.30.3). Uses the real filter .wasm when the
stage built it (MESHTRACE_WASM), else a minimal valid module."""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

import manifestlib as ml

SCRIPT = ml.ROOT / "scripts" / "package-oci.sh"
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# The smallest valid module: magic and version, no sections.
MINIMAL_WASM = b"\0asm\x01\0\0\0"
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"


@pytest.fixture(scope="module")
def wasm(tmp_path_factory):
    real = os.environ.get("MESHTRACE_WASM")
    if real and Path(real).is_file():
        return Path(real)
    p = tmp_path_factory.mktemp("wasm") / "stand-in.wasm"
    p.write_bytes(MINIMAL_WASM)
    return p


def package(wasm, out, *args):
    res = subprocess.run(
        ["bash", str(SCRIPT), "--wasm", str(wasm), "--out", str(out), *args],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def blob(layout, digest):
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def check_layout(layout: Path) -> dict:
    """Checks `layout` against the OCI image spec (image-layout, index, manifest,
    descriptors); returns the one image manifest. Raises AssertionError on any violation."""
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    # mediaType on the index is a SHOULD in the spec (skopeo's copies leave it out).
    assert index["schemaVersion"] == 2 and index.get("mediaType", INDEX) == INDEX
    assert len(index["manifests"]) == 1
    referenced = set()

    def descriptor(d, media_type=None):
        assert DIGEST.match(d["digest"]), d
        data = blob(layout, d["digest"])
        assert hashlib.sha256(data).hexdigest() == d["digest"].split(":", 1)[1], f"digest mismatch {d}"
        assert len(data) == d["size"], f"size mismatch {d}"
        if media_type:
            assert d["mediaType"] == media_type, d
        referenced.add(d["digest"].split(":", 1)[1])
        return data

    mdesc = index["manifests"][0]
    assert mdesc["annotations"]["org.opencontainers.image.ref.name"]
    manifest = json.loads(descriptor(mdesc, MANIFEST))
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == MANIFEST
    descriptor(manifest["config"])
    assert manifest["layers"], "an image has at least one layer"
    for layer in manifest["layers"]:
        descriptor(layer)
    on_disk = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    assert on_disk == referenced, f"unreferenced blobs: {on_disk - referenced}"
    return manifest


def istio_extract(layout: Path, manifest: dict) -> bytes:
    """What istio-agent does with the pulled image (pkg/wasm/imagefetcher.go): a compat
    image's last layer must be an OCI tar+gzip layer with a file named plugin.wasm; else the
    oci variant needs exactly two layers, one of them the raw Wasm layer."""
    layers = manifest["layers"]
    last = layers[-1]
    if last["mediaType"] == TAR_GZIP:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob(layout, last["digest"])))) as tar:
            for member in tar:
                if os.path.basename(member.name) == "plugin.wasm":
                    return tar.extractfile(member).read()
        raise AssertionError("plugin.wasm not found in the layer")
    assert len(layers) == 2, "the oci variant has exactly two layers"
    [wasm_layer] = [l for l in layers if l["mediaType"] == WASM_LAYER]
    return blob(layout, wasm_layer["digest"])


def test_compat_layout_follows_the_spec_and_istio_unpacks_it(tmp_path, wasm):
    out = tmp_path / "img"
    stdout = package(wasm, out)
    manifest = check_layout(out)
    assert manifest["config"]["mediaType"] == IMAGE_CONFIG
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == TAR_GZIP
    # The layer holds exactly plugin.wasm, and the config's diff_id is the uncompressed tar.
    raw_tar = gzip.decompress(blob(out, layer["digest"]))
    with tarfile.open(fileobj=io.BytesIO(raw_tar)) as tar:
        assert tar.getnames() == ["plugin.wasm"]
    config = json.loads(blob(out, manifest["config"]["digest"]))
    assert config["architecture"] and config["os"]
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw_tar).hexdigest()]}
    module = istio_extract(out, manifest)
    assert module == wasm.read_bytes() and module[:4] == b"\0asm"
    # The digests printed for WasmPlugin.sha256: manifest digest (oci://), file digest (https://).
    index = json.loads((out / "index.json").read_text())
    assert index["mediaType"] == INDEX
    mdigest = index["manifests"][0]["digest"].split(":", 1)[1]
    assert f"oci://ghcr.io/meshtrace/meshtrace-filter:" in stdout and f"sha256: {mdigest}" in stdout
    assert f"sha256: {hashlib.sha256(wasm.read_bytes()).hexdigest()}" in stdout


def test_oci_artifact_variant(tmp_path, wasm):
    out = tmp_path / "img"
    package(wasm, out, "--variant", "oci")
    manifest = check_layout(out)
    assert manifest["config"]["mediaType"] == WASM_CONFIG
    assert [l["mediaType"] for l in manifest["layers"]] == [WASM_CONFIG, WASM_LAYER]
    runtime = json.loads(blob(out, manifest["layers"][0]["digest"]))
    assert runtime["type"] == "envoy_proxy"
    assert istio_extract(out, manifest) == wasm.read_bytes()


def test_reproducible(tmp_path, wasm):
    a, b = tmp_path / "a", tmp_path / "b"
    package(wasm, a)
    package(wasm, b)
    assert (a / "index.json").read_bytes() == (b / "index.json").read_bytes()


def test_refuses_what_is_not_wasm(tmp_path):
    bad = tmp_path / "x.wasm"
    bad.write_bytes(b"#!/bin/sh\n")
    res = subprocess.run(["bash", str(SCRIPT), "--wasm", str(bad), "--out", str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert res.returncode != 0 and "not a WebAssembly module" in res.stderr


@pytest.mark.parametrize("tamper", ["flip-byte", "wrong-size", "extra-blob", "bad-media-type"])
def test_checker_catches_a_broken_layout(tmp_path, wasm, tamper):
    """The spec check above is able to fail."""
    out = tmp_path / "img"
    package(wasm, out)
    index = json.loads((out / "index.json").read_text())
    mpath = out / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads(mpath.read_text())
    layer = out / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":", 1)[1]
    if tamper == "flip-byte":
        data = bytearray(layer.read_bytes())
        data[-1] ^= 0xFF
        layer.write_bytes(bytes(data))
    elif tamper == "wrong-size":
        index["manifests"][0]["size"] += 1
        (out / "index.json").write_text(json.dumps(index))
    elif tamper == "extra-blob":
        (out / "blobs" / "sha256" / ("0" * 64)).write_bytes(b"")
    else:
        index["manifests"][0]["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json"
        (out / "index.json").write_text(json.dumps(index))
    with pytest.raises(AssertionError):
        check_layout(out)


def test_pin_component_pins_the_wasmplugin(tmp_path, wasm):
    out = tmp_path / "img"
    package(wasm, out, "--ref", "registry.example.com/mesh/meshtrace-filter:1.2.3")
    index = json.loads((out / "index.json").read_text())
    mdigest = index["manifests"][0]["digest"].split(":", 1)[1]
    pin = Path(str(out) + ".pin")
    for mode in ("modes/tracer", "modes/tracer-trafficextension"):
        d = tmp_path / mode.replace("/", "-")
        d.mkdir()
        objs = ml.compose(d, [ml.MANIFESTS / "istio" / mode], [pin])
        [f] = [o for o in objs if o["kind"] in ("WasmPlugin", "TrafficExtension")]
        spec = f["spec"] if f["kind"] == "WasmPlugin" else f["spec"]["wasm"]
        assert spec["url"] == "oci://registry.example.com/mesh/meshtrace-filter:1.2.3"
        assert spec["sha256"] == mdigest
        ml.validate_object(f)


def test_skopeo_reads_and_copies_the_layout(tmp_path, wasm):
    """A real OCI implementation agrees (skopeo is what --push uses)."""
    skopeo = shutil.which("skopeo")
    if not skopeo:
        pytest.skip("skopeo is not installed (Debian: apt-get install skopeo): the in-test spec check still ran")
    out = tmp_path / "img"
    package(wasm, out)
    index = json.loads((out / "index.json").read_text())
    tag = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
    raw = subprocess.run([skopeo, "inspect", "--raw", f"oci:{out}:{tag}"], capture_output=True, check=True).stdout
    assert hashlib.sha256(raw).hexdigest() == index["manifests"][0]["digest"].split(":", 1)[1]
    copy = tmp_path / "copy"
    subprocess.run([skopeo, "copy", "--preserve-digests", f"oci:{out}:{tag}", f"oci:{copy}:{tag}"], capture_output=True, check=True)
    check_layout(copy)
    assert json.loads((copy / "index.json").read_text())["manifests"][0]["digest"] == index["manifests"][0]["digest"]
