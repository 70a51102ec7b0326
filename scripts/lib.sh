# Shared helpers for meshtrace's scripts. Source it; do not run it.
# Everything here is idempotent and quick when the thing is already in place.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export ROOT VENV
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Records a stage's "passed failed" counts for test.sh's closing line (no-op when a stage
# runs on its own).
record_counts() {
    if [ -n "${STATUS_DIR:-}" ]; then echo "$1 $2" >> "$STATUS_DIR/counts"; fi
}

ensure_wasm_target() {
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
        log "rustup target add wasm32-wasip1"
        rustup target add wasm32-wasip1
    fi
}

# The project-local Python environment: the pinned Envoy, rotel, and the tools tests drive.
# Reinstalled only when scripts/requirements.txt changes.
ensure_venv() {
    local req="$ROOT/scripts/requirements.txt" stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$req" | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    log "creating $VENV from scripts/requirements.txt"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
}

ensure_nightly_fuzz() {
    if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        log "rustup toolchain install nightly"
        rustup toolchain install nightly --profile minimal
    fi
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        log "cargo install cargo-fuzz"
        cargo install --locked cargo-fuzz
    fi
}

# Node.js runs the filter's core tests compiled to wasm32-wasip1 (node:wasi, preview1).
ensure_node() { ensure_debian_package node nodejs; }

# ensure_debian_package COMMAND PACKAGE: installs PACKAGE from Debian's packages when COMMAND
# is missing.
ensure_debian_package() {
    if ! command -v "$1" >/dev/null 2>&1; then
        log "apt-get install $2"
        apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    fi
}

# skopeo is the OCI implementation the manifests tests check the filter's image layout with
# (and what `scripts/package-oci.sh --push` uses).
ensure_skopeo() { ensure_debian_package skopeo skopeo; }

envoy_bin() { echo "$VENV/bin/envoy"; }

# Builds the filter for wasm32-wasip1 with the size-tuned profile, removes the SDK callbacks it
# does not implement (Envoy then skips them: meshtrace_filter::module); prints the .wasm path.
build_filter() {
    ensure_wasm_target
    cargo build --quiet -p meshtrace-filter --target wasm32-wasip1 --profile wasm-release >&2
    local wasm="$ROOT/target/wasm32-wasip1/wasm-release/meshtrace_filter.wasm"
    cargo run --quiet -p meshtrace-e2e --bin meshtrace-wasm-strip -- "$wasm" >&2
    echo "$wasm"
}

# Builds the floor module (filter-wasm/floor: the host calls a span needs and nothing else) and
# its header-only twin, without the exports Envoy calls at the end of a stream; prints the full
# module's path (the twin is beside it, *-headers.wasm). The floor-* variants run them.
build_floor() {
    ensure_wasm_target
    cargo build --quiet -p meshtrace-wasm-floor --target wasm32-wasip1 --profile wasm-release >&2
    local wasm="$ROOT/target/wasm32-wasip1/wasm-release/meshtrace_wasm_floor.wasm"
    cargo run --quiet -p meshtrace-e2e --bin meshtrace-wasm-strip -- --floor-twin "$wasm" >&2
    echo "$wasm"
}

# free_port: a TCP port free on 127.0.0.1 right now (another process may take it before use).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- Envoy variants of the benchmarks ---------------------------------------------------------

# A variant is NAME[@PERCENT][:FILE]: NAME one of scripts/bench's (none, native, enricher,
# filter-idle, filter-propagation, filter-export) or a floor module's (floor-empty,
# floor-propagation, floor-bare, floor-span: filter-wasm/floor, its mode the plugin
# configuration; $FLOOR_WASM from build_floor); @PERCENT the share of requests sampled by
# the native tracer or the filter (default 100: every request); :FILE another .wasm for a
# variant that loads the filter (an A/B run of builds).
variant_name() { local v=${1%%:*}; echo "${v%%@*}"; }
variant_sampling() { local v=${1%%:*}; if [[ "$v" == *@* ]]; then echo "${v#*@}"; else echo 100; fi; }
variant_wasm() {
    if [[ "$1" == *:* ]]; then
        realpath "${1#*:}"
    else
        case "$(variant_name "$1")" in
            floor-empty | floor-propagation) echo "${FLOOR_WASM%.wasm}-headers.wasm" ;;
            floor-*) echo "$FLOOR_WASM" ;;
            *) echo "$WASM" ;;
        esac
    fi
}
# needs_floor VARIANT...: whether any variant runs the floor module.
needs_floor() { local v; for v in "$@"; do [[ "$(variant_name "$v")" == floor-* ]] && return 0; done; return 1; }

# envoy_config VARIANT LISTEN APP SINK_GRPC SINK_HTTP: renders scripts/bench/envoy-*.yaml for one
# variant on stdout (scripts/bench.sh, scripts/envoy-instructions.sh). $WASM: the default .wasm.
# The filter-* variants share envoy-filter.yaml; a variant's plugin configuration, if it loads
# the filter, is scripts/bench/NAME.json.
envoy_config() {
    local variant template plugin="" wasm sampling
    variant="$(variant_name "$1")"
    template=$variant
    [[ "$variant" == filter-* || "$variant" == floor-* ]] && template=filter
    [ -f "scripts/bench/envoy-$template.yaml" ] || die "variant $1: no scripts/bench/envoy-$template.yaml"
    sampling="$(variant_sampling "$1")"
    [[ "$sampling" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "variant $1: the sampling percentage must be a number"
    wasm="$(variant_wasm "$1")"
    if [[ "$variant" == floor-* ]]; then
        plugin="${variant#floor-}"
    elif grep -q '@PLUGIN_CONFIG@' "scripts/bench/envoy-$template.yaml"; then
        [ -f "scripts/bench/$variant.json" ] || die "variant $1: no scripts/bench/$variant.json"
        # YAML single-quoted string: double any single quote.
        plugin="$(tr -d '\n' < "scripts/bench/$variant.json" | sed "s/'/''/g; s/[&#\\]/\\&/g")"
    fi
    # The sampling goes where the variant decides it: the filter's configuration, or the
    # native tracer's block in the template.
    if [ "$sampling" != 100 ]; then
        if [[ "$plugin" == *'"percentage": 100'* ]]; then
            plugin="${plugin//\"percentage\": 100/\"percentage\": $sampling}"
        elif ! grep -q '@SAMPLING@' "scripts/bench/envoy-$template.yaml"; then
            die "variant $1: $variant does not sample"
        fi
    fi
    sed -e "s#@LISTEN_PORT@#$2#g" -e "s#@APP_PORT@#$3#g" \
        -e "s#@OTLP_GRPC_PORT@#${4##*:}#g" -e "s#@OTLP_HTTP_PORT@#${5##*:}#g" \
        -e "s#@WASM@#$wasm#g" -e "s#@PLUGIN_CONFIG@#$plugin#g" -e "s#@SAMPLING@#$sampling#g" \
        "scripts/bench/envoy-$template.yaml"
}
