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
# shellcheck source=benches/flood_common.sh
. "$(dirname "$0")/flood_common.sh"
for bin in "$T/echod" "$T/loadgen"; do
  [ -x "$bin" ] || { echo "build first: cargo build --release -p echod -p loadgen" >&2; exit 2; }
done

measure() {
  taskset -c 1 "$T/loadgen" run --flood --target "$addr" --connections "$CONNS" \
    --duration "${SECS}s" --server-pid "$server" --quiet --json "$dir/run.json"
  python3 - "$1" "$2" "$dir/run.json" >>"$dir/results" <<'PY'
import json, sys
spec, rnd, path = sys.argv[1:]
f = json.load(open(path))["flood"]
s = f["server"]
print(f"{spec}\t{rnd}\t{s['mb_per_cpu_second']:.0f}\t{f['mb_per_sec']:.0f}\t"
      f"{s['cpu_utilisation'] * 100:.0f}\t{f['limit']}")
PY
}
run_rounds measure "$@"
