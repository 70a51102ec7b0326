#!/usr/bin/env bash
# Packages the meshtrace filter's .wasm as an OCI image that Istio's WasmPlugin /
# TrafficExtension pull with `url: oci://...`, without docker: an OCI image layout directory
# (oci-layout, index.json, blobs/sha256/...) that any OCI tool can push to any registry.
#
#   scripts/package-oci.sh                      build the filter, write dist/oci/meshtrace-filter
#   scripts/package-oci.sh --wasm FILE          package FILE instead of building
#   scripts/package-oci.sh --variant oci        Istio's "oci" artifact variant (see below)
#   scripts/package-oci.sh --ref REG/REPO:TAG   image reference (default ghcr.io/meshtrace/meshtrace-filter:<version>)
#   scripts/package-oci.sh --out DIR            output directory (replaced)
#   scripts/package-oci.sh --push               also push to --ref with skopeo (Debian: apt-get install skopeo)
#
# Variants (Istio's Wasm image specification, as istio-agent's image fetcher reads it):
#   compat (default): an ordinary OCI image, one application/vnd.oci.image.layer.v1.tar+gzip
#     layer holding `plugin.wasm`, manifest annotation module.wasm.image/variant=compat.
#     Every registry and every OCI tool takes it.
#   oci: an OCI artifact with two layers, application/vnd.module.wasm.config.v1+json (runtime
#     config) and application/vnd.module.wasm.content.layer.v1+wasm (the raw module). Needs a
#     registry that accepts custom media types.
# The output is reproducible: the same .wasm gives the same digests (fixed tar metadata, gzip
# without timestamp, canonical JSON; SOURCE_DATE_EPOCH sets the file time if you need one).
#
# It prints the two digests WasmPlugin's `sha256` can hold: for oci:// urls Istio compares it
# with the image *manifest* digest; for https:// urls with the digest of the .wasm file. It
# also writes DIR.pin/, a kustomize component that pins the WasmPlugin/TrafficExtension to
# this image (url + sha256): `components: [<path to DIR.pin>]`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

wasm="" out="$ROOT/dist/oci/meshtrace-filter" ref="" variant="compat" push=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wasm) wasm="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --ref) ref="$2"; shift 2 ;;
        --variant) variant="$2"; shift 2 ;;
        --push) push=1; shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
case "$variant" in compat|oci) ;; *) die "--variant must be compat or oci" ;; esac
if [ -z "$wasm" ]; then
    log "building the filter (wasm32-wasip1, wasm-release)"
    wasm="$(build_filter)"
fi
[ -f "$wasm" ] || die "no such file: $wasm"
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")"
[ -n "$ref" ] || ref="ghcr.io/meshtrace/meshtrace-filter:${version:-0.0.0}"
case "$ref" in *:*) ;; *) die "--ref needs a tag: REGISTRY/REPO:TAG" ;; esac

python3 - "$wasm" "$out" "$ref" "$variant" "${version:-0.0.0}" <<'PY'
import gzip, hashlib, io, json, os, shutil, sys, tarfile
from pathlib import Path

wasm_path, out, ref, variant, version = sys.argv[1:]
module = Path(wasm_path).read_bytes()
if module[:4] != b"\0asm":
    sys.exit(f"error: {wasm_path} is not a WebAssembly module (no \\0asm magic)")
out = Path(out)
if out.exists():
    shutil.rmtree(out)
blobs = out / "blobs" / "sha256"
blobs.mkdir(parents=True)
mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))

def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()

def put(data, media_type, annotations=None):
    """Writes a blob; returns its OCI descriptor."""
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    d = {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d

tag = ref.rsplit(":", 1)[1]
repo = ref.rsplit(":", 1)[0]
image_annotations = {
    "org.opencontainers.image.title": "meshtrace-filter",
    "org.opencontainers.image.description": "meshtrace proxy-wasm HTTP filter for Envoy / Istio",
    "org.opencontainers.image.version": version,
    "org.opencontainers.image.source": "https://github.com/meshtrace/meshtrace",
    "org.opencontainers.image.licenses": "Apache-2.0",
}

if variant == "compat":
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size, info.mode, info.mtime = len(module), 0o644, mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(module))
    layer_tar = tar_buf.getvalue()
    gz_buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_buf, mtime=0, compresslevel=9) as gz:
        gz.write(layer_tar)
    layer = put(gz_buf.getvalue(), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = {
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
    }
    config_desc = put(canonical(config), "application/vnd.oci.image.config.v1+json")
    layers = [layer]
    annotations = {"module.wasm.image/variant": "compat", **image_annotations}
else:
    runtime = {"type": "envoy_proxy", "abiVersions": ["proxy_abi_version_0_2_1"], "config": {"rootIds": []}}
    runtime_blob = canonical(runtime)
    config_desc = put(runtime_blob, "application/vnd.module.wasm.config.v1+json")
    layers = [
        put(runtime_blob, "application/vnd.module.wasm.config.v1+json",
            {"org.opencontainers.image.title": "runtime-config.json"}),
        put(module, "application/vnd.module.wasm.content.layer.v1+wasm",
            {"org.opencontainers.image.title": "plugin.wasm"}),
    ]
    annotations = image_annotations

manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": config_desc,
    "layers": layers,
    "annotations": annotations,
}
manifest_desc = put(canonical(manifest), "application/vnd.oci.image.manifest.v1+json",
                    {"org.opencontainers.image.ref.name": tag})
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [manifest_desc],
}
(out / "index.json").write_bytes(canonical(index))
(out / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))

manifest_hex = manifest_desc["digest"].split(":", 1)[1]
wasm_hex = hashlib.sha256(module).hexdigest()
pin = Path(str(out) + ".pin")
if pin.exists():
    shutil.rmtree(pin)
pin.mkdir(parents=True)
url = f"oci://{ref}"
patch = lambda prefix: "\n".join([  # noqa: E731
    f"      - op: replace\n        path: {prefix}/url\n        value: {url}",
    f"      - op: add\n        path: {prefix}/sha256\n        value: \"{manifest_hex}\"",
])
(pin / "kustomization.yaml").write_text(
    "# Written by scripts/package-oci.sh: pins the meshtrace filter to the image it packaged.\n"
    f"# {ref} manifest digest sha256:{manifest_hex} (.wasm sha256 {wasm_hex}).\n"
    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n"
    "  - target:\n      group: extensions.istio.io\n      kind: WasmPlugin\n    patch: |-\n"
    f"{patch('/spec')}\n"
    "  - target:\n      group: extensions.istio.io\n      kind: TrafficExtension\n    patch: |-\n"
    f"{patch('/spec/wasm')}\n"
)
print(f"OCI image layout ({variant}): {out}")
print(f"  reference:        {ref}")
print(f"  manifest digest:  sha256:{manifest_hex}")
print(f"  .wasm sha256:     {wasm_hex} ({len(module)} bytes)")
print(f"WasmPlugin with url oci://{repo}:{tag} -> sha256: {manifest_hex}")
print(f"WasmPlugin with an https:// url to the .wasm -> sha256: {wasm_hex}")
print(f"kustomize component pinning both: {pin}")
PY

if [ -n "$push" ]; then
    command -v skopeo >/dev/null 2>&1 || die "--push needs skopeo (Debian/Ubuntu: apt-get install skopeo). Or push $out with any OCI tool: oras cp --from-oci-layout $out:${ref##*:} $ref; crane push $out $ref"
    log "pushing to $ref (credentials: skopeo login / \${XDG_RUNTIME_DIR}/containers/auth.json or ~/.docker/config.json)"
    skopeo copy --preserve-digests "oci:$out:${ref##*:}" "docker://$ref"
fi
