#!/usr/bin/env bash
# Saturation: echoed MB per server CPU-second under `loadgen run --flood`,
# for several servers alternated round by round.
#
#   bash benches/flood.sh ROUNDS CONNS SECS SERVER...
#
# Each SERVER is one quoted word list: echod's arguments (e.g. "--model
# reactor", "--model tokio", "--model reactor --splice off"), or "plain"
# for examples/plain_tokio.rs (a tokio current_thread server with 16 KiB
# buffers). A SERVER starting with `echod=PATH ` runs that echod binary
# instead of this tree's (a build of another commit, for before/after).
# Every round starts each server afresh pinned to CPU 0 and
# floods it from CPU 1 (`taskset`), so a slow moment of the machine falls on
# one round of every server rather than on all rounds of one. Prints a line
# per run and, at the end, the median and range of each server.
# Needs release builds: cargo build --release -p echod -p loadgen &&
#   cargo build --release --features tokio --example plain_tokio
# Linux only (taskset, /proc through loadgen --server-pid).
set -euo pipefail
[ "$(uname -s)" = Linux ] || { echo "flood.sh: Linux only (taskset, /proc)" >&2; exit 2; }
[ $# -ge 4 ] || { echo "usage: flood.sh ROUNDS CONNS SECS SERVER..." >&2; exit 2; }
cd "$(dirname "$0")/.."
# shellcheck source=benches/flood_common.sh
. benches/flood_common.sh
ROUNDS=$1 CONNS=$2 SECS=$3
shift 3
T=${CARGO_TARGET_DIR:-target}/release
for bin in "$T/echod" "$T/loadgen"; do
  [ -x "$bin" ] || { echo "build first: cargo build --release -p echod -p loadgen" >&2; exit 2; }
done

dir=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT

for round in $(seq "$ROUNDS"); do
  for i in $(seq $#); do
    spec=${!i}
    start_server "$spec" "$dir/server.log"
    taskset -c 1 "$T/loadgen" run --flood --target "$addr" --connections "$CONNS" \
      --duration "${SECS}s" --server-pid "$server" --quiet --json "$dir/run.json"
    kill "$server"; wait "$server" 2>/dev/null || true; server=
    python3 - "$spec" "$round" "$dir/run.json" >>"$dir/results" <<'PY'
import json, sys
spec, rnd, path = sys.argv[1:]
f = json.load(open(path))["flood"]
s = f["server"]
print(f"{spec}\t{rnd}\t{s['mb_per_cpu_second']:.0f}\t{f['mb_per_sec']:.0f}\t"
      f"{s['cpu_utilisation'] * 100:.0f}\t{f['limit']}")
PY
    report_run "$dir/results"
  done
done

summarise "$dir/results"
