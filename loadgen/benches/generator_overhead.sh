#!/usr/bin/env bash
# Is loadgen ever the bottleneck?
#
# Runs loadgen (closed loop, depth 1) and the plain single-threaded mio client
# in examples/baseline_client.rs alternately against the same echod server,
# ROUNDS times each, and prints both medians. loadgen verifies every byte and
# records every latency; the baseline does neither. If loadgen's median
# requests/s is at least the baseline's, the extra work costs the server
# nothing it can notice.
#
# The server is pinned to SERVER_CPU and both clients to CLIENT_CPU (taskset
# on Linux, cpuset on FreeBSD), so neither client steals the server's core.
# macOS has no CPU affinity: there nothing is pinned, and the script says so. Each client's own CPU time
# (user + system, from bash's `time`) is also divided by the requests it
# completed: on a shared machine requests/s is noisy, CPU per request much
# less so, and it is the direct measure of how heavy a generator is.
#
#   bash loadgen/benches/generator_overhead.sh            # defaults below
#   ROUNDS=7 CONNS=100 DURATION=5 bash loadgen/benches/generator_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-10}
SIZE=${SIZE:-512}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-5}
MODEL=${MODEL:-reactor}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

cargo build --release -q -p loadgen --bin loadgen --example baseline_client
LOADGEN=target/release/loadgen
BASELINE=target/release/examples/baseline_client

# Deliberately unquoted where used: "taskset -c 0", or nothing at all.
if command -v taskset >/dev/null 2>&1; then on_cpu="taskset -c"
elif command -v cpuset >/dev/null 2>&1; then on_cpu="cpuset -l"
else on_cpu=""; echo "not pinned: no taskset or cpuset on $(uname -s)" >&2
fi
pin_server=${on_cpu:+$on_cpu $SERVER_CPU}
pin_client=${on_cpu:+$on_cpu $CLIENT_CPU}

out=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$out"' EXIT

$pin_server "$LOADGEN" serve -- --model "$MODEL" --listen 127.0.0.1:0 >"$out/server.out" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on tcp://' "$out/server.out" 2>/dev/null && break
  sleep 0.05
done
addr=$(sed -n 's|^listening on tcp://||p' "$out/server.out" | head -1)
[ -n "$addr" ] || { echo "echod did not start" >&2; exit 1; }
echo "echod --model $MODEL at $addr ${on_cpu:+on CPU $SERVER_CPU; clients on CPU $CLIENT_CPU;}" \
     "$CONNS connections, $SIZE B, depth 1, ${WARMUP}s warm-up + ${DURATION}s, $ROUNDS rounds each"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# CPU µs per request: (user + sys seconds) / (req/s x (warm-up + duration)).
# Warm-up requests cost CPU too, so both clients are charged the same way.
per_req() { awk -v c="$1" -v r="$2" -v t="$((WARMUP + DURATION))" 'BEGIN {printf "%.2f", c * 1e6 / (r * t)}'; }

TIMEFORMAT='%U %S'
: >"$out/baseline"; : >"$out/loadgen"; : >"$out/baseline.cpu"; : >"$out/loadgen.cpu"
for round in $(seq "$ROUNDS"); do
  { time $pin_client "$BASELINE" "$addr" "$CONNS" "$SIZE" "$WARMUP" "$DURATION" >"$out/b.out"; } 2>"$out/b.time"
  b=$(awk '{print $2}' "$out/b.out")
  { time $pin_client "$LOADGEN" run --target "$addr" --connections "$CONNS" --size "$SIZE" --depth 1 \
    --warmup "${WARMUP}s" --duration "${DURATION}s" --quiet --json "$out/run.json"; } 2>"$out/l.time"
  l=$(sed -n 's/.*"requests_per_sec": \([0-9.]*\).*/\1/p' "$out/run.json" | head -1)
  bc=$(per_req "$(awk '{print $1 + $2}' "$out/b.time")" "$b")
  lc=$(per_req "$(awk '{print $1 + $2}' "$out/l.time")" "$l")
  printf 'round %d: baseline %.0f req/s (%s µs CPU/req), loadgen %.0f req/s (%s µs CPU/req)\n' \
    "$round" "$b" "$bc" "$l" "$lc"
  echo "$b" >>"$out/baseline"; echo "$l" >>"$out/loadgen"
  echo "$bc" >>"$out/baseline.cpu"; echo "$lc" >>"$out/loadgen.cpu"
done
mb=$(median <"$out/baseline"); ml=$(median <"$out/loadgen")
printf 'median: baseline %.0f req/s, loadgen %.0f req/s (loadgen/baseline = %.3f)\n' "$mb" "$ml" \
  "$(awk -v l="$ml" -v b="$mb" 'BEGIN {print l/b}')"
printf 'median client CPU per request: baseline %s µs, loadgen %s µs\n' \
  "$(median <"$out/baseline.cpu")" "$(median <"$out/loadgen.cpu")"
