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
# shellcheck source=benches/start_server.sh
. benches/start_server.sh
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
    tail -1 "$dir/results" | awk -F'\t' '{printf "%-32s round %s: %6s MB/cpu-s  %6s MB/s  server CPU %3s%%  limit %s\n", $1, $2, $3, $4, $5, $6}'
  done
done

python3 - "$dir/results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order = list(dict.fromkeys(r[0] for r in rows))
print()
print(f"{'server':32} {'median MB/cpu-s':>16} {'range':>13} {'max/min':>8} {'server CPU':>11}")
for spec in order:
    v = [float(r[2]) for r in rows if r[0] == spec]
    cpu = [int(r[4]) for r in rows if r[0] == spec]
    print(f"{spec:32} {statistics.median(v):16.0f} {min(v):6.0f}-{max(v):<6.0f} "
          f"{max(v) / min(v):8.2f} {min(cpu):4d}-{max(cpu)}%")
PY
