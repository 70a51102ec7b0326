#!/usr/bin/env bash
# The manifests users apply (istio-manifests/): every kustomization builds, every object
# validates against the Kubernetes and Istio CRD schemas (with their CEL rules), the pieces
# agree with each other and with the collector and filter code, and the filter packages as
# an OCI image Istio can pull. Tests: istio-manifests/tests (pytest).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_venv
ensure_skopeo
command -v kubectl >/dev/null 2>&1 || die "kubectl (with kustomize) is needed: the tests run kubectl kustomize"
[ -d "$ROOT/../shared/schemas/istio" ] || die "missing $ROOT/../shared/schemas (Istio CRDs, Kubernetes schemas)"

# The real artifacts the consistency tests run, when they build: the filter's .wasm (for
# the OCI packaging test) and the collector binary (for `meshtrace-collector validate`, which
# every shipped collector config must pass).
if wasm="$(build_filter 2>/dev/null)" && [ -f "$wasm" ]; then
    export MESHTRACE_WASM="$wasm"
else
    log "filter .wasm did not build: the OCI test packages a small stand-in module"
fi
cargo build --quiet -p meshtrace-collector >&2
export MESHTRACE_COLLECTOR_BIN="$ROOT/target/debug/meshtrace-collector"

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
set +e
"$VENV/bin/python" -m pytest istio-manifests/tests -q -rs -p no:cacheprovider --junitxml="$report"
rc=$?
set -e
read -r p f < <("$VENV/bin/python" - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 1); raise SystemExit
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skip = sum(int(s.get("skipped", 0)) for s in suites)
print(t - bad - skip, bad)
PY
)
counts="${STATUS_DIR:+$STATUS_DIR/counts}"
counts="${counts:-/dev/null}"
# Exit code 5 means pytest collected nothing: the stage would prove nothing, so it fails.
if [ "$rc" -eq 5 ]; then
    echo "0 1" >> "$counts"
    die "pytest found no tests in istio-manifests/tests"
fi
echo "$p $f" >> "$counts"
[ "$rc" -eq 0 ]
