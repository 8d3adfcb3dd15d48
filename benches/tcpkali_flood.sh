#!/usr/bin/env bash
# The flood of benches/flood.sh, driven by a client we did not write:
# tcpkali (github.com/satori-com/tcpkali) writing 512 B messages on every
# connection as fast as the sockets take them. It does not verify the
# echo; it checks that loadgen's figures are not loadgen's alone.
#
#   TCPKALI=/path/to/tcpkali bash benches/tcpkali_flood.sh ROUNDS CONNS SECS SERVER...
#
# SERVER is as in benches/flood.sh (echod arguments, `echod=PATH ARGS`, or
# "plain"). Each server is pinned to CPU 0 and tcpkali to CPU 1, alternated
# round by round. MB per server CPU-second is the bytes tcpkali received
# over the server's CPU time (/proc/PID/stat, user + system) during the
# whole tcpkali run, connection set-up included.
# shellcheck source=benches/flood_common.sh
. "$(dirname "$0")/flood_common.sh"
TCPKALI=${TCPKALI:-tcpkali}
command -v "$TCPKALI" >/dev/null || { echo "tcpkali not found: set TCPKALI=/path/to/tcpkali" >&2; exit 2; }
[ -x "$T/echod" ] || { echo "build first: cargo build --release -p echod" >&2; exit 2; }
message=$(head -c 512 /dev/zero | tr '\0' x)
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

measure() {
  local t0 t1 s0 s1 received
  t0=$(ticks) s0=$(date +%s.%N)
  taskset -c 1 "$TCPKALI" "$addr" -c "$CONNS" -m "$message" -T "${SECS}s" -w 1 >"$dir/out" 2>&1
  t1=$(ticks) s1=$(date +%s.%N)
  received=$(sed -n 's/^Total data received:.*(\([0-9]*\) bytes).*/\1/p' "$dir/out")
  [ -n "$received" ] || { echo "$1: no tcpkali total: $(tail -3 "$dir/out")" >&2; exit 1; }
  python3 - "$1" "$2" "$received" "$t0" "$t1" "$hz" "$s0" "$s1" >>"$dir/results" <<'PY'
import sys
spec, rnd, rx, t0, t1, hz, s0, s1 = sys.argv[1:]
cpu = (int(t1) - int(t0)) / int(hz)
wall = float(s1) - float(s0)
print(f"{spec}\t{rnd}\t{int(rx) / 1e6 / cpu:.0f}\t{int(rx) / 1e6 / wall:.0f}\t{cpu / wall * 100:.0f}")
PY
}
run_rounds measure "$@"
