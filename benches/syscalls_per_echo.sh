#!/usr/bin/env bash
# Syscalls and server CPU per echo, for one echod model under loadgen.
#
#   bash benches/syscalls_per_echo.sh [MODEL] [CONNS] [DEPTH] [SECS] [ECHOD_ARGS...]
#
# MODEL is any echod --model: reactor (default), uring (io_uring, Linux
# only; where io_uring is blocked echod says why and this stops), tokio,
# threads, iterative.
# Starts `loadgen serve -- --model MODEL` pinned to CPU 0, drives it from
# CPU 1 with `loadgen run` (closed loop, 512 B), counts the server's
# syscalls with `perf stat -e raw_syscalls:sys_enter` (a tracepoint: works
# where hardware counters do not) and its CPU time from /proc, and prints
# one line: requests, syscalls/echo, server CPU µs/echo, req/s.
# KIND=udp measures `--listen udp:` instead (each echo one datagram).
# Needs a release build (`cargo build --release -p loadgen`) and perf.
# Linux only: perf tracepoints, taskset and /proc.
set -euo pipefail
[ "$(uname -s)" = Linux ] || { echo "syscalls_per_echo.sh: Linux only (perf, taskset, /proc)" >&2; exit 2; }
cd "$(dirname "$0")/.."
MODEL=${1:-reactor}
CONNS=${2:-50}
DEPTH=${3:-1}
SECS=${4:-3}
shift $(( $# < 4 ? $# : 4 ))
LOADGEN=${LOADGEN:-${CARGO_TARGET_DIR:-target}/release/loadgen}
KIND=${KIND:-tcp}
case "$KIND" in
  tcp) prefix="" ;;
  udp) prefix="udp:" ;;
  *) echo "KIND=$KIND: tcp or udp" >&2; exit 2 ;;
esac
[ -x "$LOADGEN" ] || { echo "build first: cargo build --release -p loadgen" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf not found (Debian: linux-perf)" >&2; exit 2; }

out=$(mktemp)
taskset -c 0 "$LOADGEN" serve -- --model "$MODEL" --listen "${prefix}127.0.0.1:0" "$@" >"$out" 2>"$out.err" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out" "$out.err" "$out.perf" "$out.json"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.05; done
addr=$(sed -n "s#listening on $KIND://##p" "$out" | head -1)
# echod says in one line why a model cannot run here (uring without io_uring).
[ -n "$addr" ] || { echo "server did not start: $(head -1 "$out.err")" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
# Warm-up and connection set-up are outside the counted window: perf is
# attached for exactly the measurement window (SECS), after 1 s of load.
taskset -c 1 "$LOADGEN" run --target "$prefix$addr" --connections "$CONNS" --depth "$DEPTH" \
  --warmup 1s --duration "${SECS}s" --quiet --json "$out.json" &
gen=$!
sleep 1
t0=$(ticks)
perf stat -e raw_syscalls:sys_enter -p "$server" -x, -o "$out.perf" -- sleep "$SECS"
t1=$(ticks)
wait $gen
requests=$(python3 -c "import json;print(json.load(open('$out.json'))['requests'])")
rps=$(python3 -c "import json;print(round(json.load(open('$out.json'))['throughput']['requests_per_sec']))")
calls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$out.perf")
hz=$(getconf CLK_TCK)
python3 - "$MODEL" "$CONNS" "$DEPTH" "$requests" "$calls" "$t0" "$t1" "$hz" "$rps" "$KIND" <<'PY'
import sys
model, conns, depth, req, calls, t0, t1, hz, rps, kind = sys.argv[1:]
req, calls = int(req), int(calls)
cpu_us = (int(t1) - int(t0)) / int(hz) * 1e6
print(f"{model:9} {kind} conns {conns:>5} depth {depth:>2}: {req} echoes, "
      f"{calls / req:.2f} syscalls/echo, {cpu_us / req:.2f} µs server CPU/echo, {rps} req/s")
PY
