#!/usr/bin/env bash
# Several generator hosts against one server, on one machine: network
# namespaces stand in for the hosts, so the whole `loadgen run --hdr-log`
# + `loadgen merge` procedure runs for real, cables and all.
#
#   sudo bash benches/multihost.sh [GENERATORS] [CONNS_PER_GEN] [DURATION] [ECHOD_ARGS...]
#
# GENERATORS generator hosts (default 3, at most 20), each opening
# CONNS_PER_GEN connections (default 100) for DURATION (default 5s, any
# loadgen duration) after WARMUP; ECHOD_ARGS go to echod (e.g. --model
# uring). Environment: WARMUP (default 1s), LOADGEN_ARGS (more `loadgen run`
# flags for every generator, e.g. "--rate 20000" or "--threads 2"), OUT (the
# output directory; default a new temporary one, printed at the end), ECHOD
# and LOADGEN (the commands; default this tree's release builds, built if
# missing; ECHOD may carry words, e.g. ECHOD="target/release/loadgen serve --").
#
# The network: namespaces mhPID-sw (a bridge, the switch), mhPID-srv
# (10.77.0.1/24) and mhPID-gen1..N (10.77.0.11.. /24), each host joined to
# the bridge by a veth pair created directly inside the namespaces, so the
# machine's own namespace gets no interface at all. The PID in the names
# keeps parallel runs and leftovers of killed ones apart. Everything
# (processes, namespaces and with them veths and bridge) is removed on
# exit, Ctrl-C or SIGTERM.
#
# The run: echod in mhPID-srv listens on 10.77.0.1, port 0 (the announced
# port is read back); every generator checks it can reach it, then all run
# `loadgen run --hdr-log` at once (same warmup and duration); then
# `loadgen merge` adds their interval logs. Prints one line per host and the
# merged line, then checks the merge (exit 1 when a check fails).
# Output files in OUT: echod.log, gen-I.{json,hlog,log} and merge.log;
# merged.json (`merge --json`) and merged.hlog (`merge --out`).
#
# Pinning (2 CPUs or more): echod on CPU 0, every generator on CPU 1. All
# the "hosts" share one machine's CPUs and kernel, so this shows the
# procedure, not a scaling result: N generators here split one CPU.
#
# Needs root, iproute2 (`ip`), taskset and python3. Linux only.
set -euo pipefail
me=${0##*/}
[ "$(uname -s)" = Linux ] || { echo "$me: Linux only (network namespaces)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$me: needs root (it creates network namespaces): sudo bash $0${*:+ $*}" >&2; exit 2; }
command -v ip >/dev/null || { echo "$me: ip not found (iproute2)" >&2; exit 2; }
cd "$(dirname "$0")/.."

GENS=${1:-3}
CONNS=${2:-100}
DURATION=${3:-5s}
shift $(( $# < 3 ? $# : 3 ))
WARMUP=${WARMUP:-1s}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
case "$GENS" in ''|*[!0-9]*) echo "$me: GENERATORS $GENS: a whole number from 1 to 20" >&2; exit 2 ;; esac
[ "$GENS" -ge 1 ] && [ "$GENS" -le 20 ] || { echo "$me: GENERATORS $GENS: a whole number from 1 to 20" >&2; exit 2; }
case "$CONNS" in ''|*[!0-9]*|0) echo "$me: CONNS_PER_GEN $CONNS: a whole number from 1" >&2; exit 2 ;; esac

T=${CARGO_TARGET_DIR:-target}/release
if [ -z "${ECHOD:-}${LOADGEN:-}" ] && { [ ! -x "$T/echod" ] || [ ! -x "$T/loadgen" ]; }; then
  command -v cargo >/dev/null || { echo "$me: build first: cargo build --release -p echod -p loadgen" >&2; exit 2; }
  cargo build --release -p echod -p loadgen
fi
ECHOD=${ECHOD:-$T/echod}
LOADGEN=${LOADGEN:-$T/loadgen}
[ -x "$LOADGEN" ] || { echo "$me: LOADGEN $LOADGEN: not an executable" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
# Every generator's connections and echod's all of them: root may raise it.
ulimit -n "$(ulimit -Hn)"

pin_srv=() pin_gen=()
if [ "$(nproc)" -ge 2 ]; then
  pin_srv=(taskset -c 0) pin_gen=(taskset -c 1)
  echo "pinning: echod on CPU 0, all $GENS generators on CPU 1"
else
  echo "one CPU: nothing pinned"
fi
echo "one machine, shared CPUs: this shows the procedure, not a scaling result"

P=mh$$
namespaces=()
cleaned=
# shellcheck disable=SC2329 # run by the traps below
cleanup() {
  [ -n "$cleaned" ] && return
  cleaned=1
  local ns pids i
  # Processes first: a namespace outlives its name while one runs in it.
  for ns in "${namespaces[@]}"; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086 # a list of pids
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
  done
  for i in $(seq 40); do
    pids=
    for ns in "${namespaces[@]}"; do pids+=$(ip netns pids "$ns" 2>/dev/null || true); done
    [ -z "$pids" ] && break
    [ "$i" = 40 ] && for ns in "${namespaces[@]}"; do
      # shellcheck disable=SC2046 # a list of pids
      kill -KILL $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null || true
    done
    sleep 0.05
  done
  # Deleting a namespace destroys its interfaces, and a veth goes with
  # its peer: the bridge's ports vanish with the hosts.
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'echo "$me: interrupted; output so far in $OUT" >&2; exit 130' INT
trap 'echo "$me: terminated; output so far in $OUT" >&2; exit 143' TERM

# host NAME ADDR: a namespace mhPID-NAME with eth0 = ADDR/24, cabled to the
# bridge's port NAME.
host() {
  local ns=$P-$1
  # Listed first: a signal between the two lines must not leak it.
  namespaces+=("$ns")
  ip netns add "$ns"
  ip -n "$P-sw" link add "$1" type veth peer name eth0 netns "$ns"
  ip -n "$P-sw" link set "$1" master br0 up
  ip -n "$ns" addr add "$2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}
namespaces+=("$P-sw")
ip netns add "$P-sw"
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set br0 up
host srv 10.77.0.1
for i in $(seq "$GENS"); do host "gen$i" "10.77.0.$((10 + i))"; done

# word splitting of $ECHOD is wanted: it may be a command with arguments
# shellcheck disable=SC2086
ip netns exec "$P-srv" "${pin_srv[@]}" $ECHOD --listen 10.77.0.1:0 "$@" >"$OUT/echod.log" 2>&1 &
addr=
for _ in $(seq 100); do
  addr=$(sed -n 's#^listening on tcp://##p' "$OUT/echod.log" | head -1)
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { echo "$me: echod did not start in 5 s: $(head -1 "$OUT/echod.log")" >&2; exit 1; }
echo "server: echod${*:+ $*} on $addr (namespace $P-srv); generators: $GENS x $CONNS connections, ${WARMUP} warm-up, $DURATION"

# Each generator connects once before the run: its ARP entry and the
# bridge's forwarding table are then in place, so no first SYN is lost to
# a link still coming up (a 1 s retransmit would skew that generator's window).
for i in $(seq "$GENS"); do
  ip netns exec "$P-gen$i" timeout 5 bash -c "exec 3<>/dev/tcp/${addr%:*}/${addr##*:}" 2>/dev/null ||
    { echo "$me: gen$i cannot reach $addr within 5 s" >&2; exit 1; }
done

# A start line: the generators are launched one after another (a fork
# and a few execs each), so each waits at a fifo we hold open and all are
# released by one write of a newline each (a shell `read` from a pipe
# takes one byte at a time, so each takes exactly one; one not yet
# reading finds its newline waiting: no race). What skew remains is their
# own start-up and connection set-up, sharing CPU 1; the check below
# measures it.
go=$OUT/.start
rm -f "$go"
mkfifo "$go"
exec 3<>"$go"
gens=()
for i in $(seq "$GENS"); do
  # LOADGEN_ARGS is a flag list: word splitting wanted; the inner
  # script's $0 and $@ are its own
  # shellcheck disable=SC2086,SC2016
  ip netns exec "$P-gen$i" "${pin_gen[@]}" bash -c 'read -r _ <"$0" && exec "$@"' "$go" \
    "$LOADGEN" run --target "$addr" --connections "$CONNS" \
    --warmup "$WARMUP" --duration "$DURATION" $LOADGEN_ARGS --quiet \
    --hdr-log "$OUT/gen-$i.hlog" --json "$OUT/gen-$i.json" >"$OUT/gen-$i.log" 2>&1 &
  gens+=($!)
done
printf '%*s' "$GENS" '' | tr ' ' '\n' >&3
failed=
for i in $(seq "$GENS"); do
  wait "${gens[$((i - 1))]}" || { failed=1; echo "$me: gen$i failed: $(tail -1 "$OUT/gen-$i.log")" >&2; }
done
# Held open until now: the newlines live only while someone has the fifo open.
exec 3>&-
rm -f "$go"
[ -z "$failed" ] || exit 1

logs=()
for i in $(seq "$GENS"); do logs+=("$OUT/gen-$i.hlog"); done
"$LOADGEN" merge "${logs[@]}" --json "$OUT/merged.json" --out "$OUT/merged.hlog" >"$OUT/merge.log" 2>&1 ||
  { echo "$me: loadgen merge failed: $(tail -1 "$OUT/merge.log")" >&2; exit 1; }
grep WARNING "$OUT/merge.log" >&2 || true

status=0
python3 - "$OUT" "$GENS" <<'PY' || status=$?
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
load = lambda name: json.load(open(f"{out}/{name}"))
runs = [load(f"gen-{i}.json") for i in range(1, n + 1)]
merged = load("merged.json")
# Every request in the merged histograms over ONE window for all hosts: the
# union of their windows, first start to last end.
union_rps = merged["requests"] / merged["span_s"] if merged["span_s"] else 0.0

def row(name, addr, conns, rps, lat):
    print(f"{name:8} {addr:12} {conns:>6} {rps:>11.0f} {lat['p50']:>9.1f} {lat['p99']:>9.1f} {lat['p999']:>9.1f}")

print()
print(f"{'host':8} {'address':12} {'conns':>6} {'req/s':>11} {'p50 µs':>9} {'p99 µs':>9} {'p99.9 µs':>9}")
for i, r in enumerate(runs, 1):
    row(f"gen{i}", f"10.77.0.{10 + i}", r["config"]["connections"],
        r["throughput"]["requests_per_sec"], r["latency_us"])
total = sum(r["throughput"]["requests_per_sec"] for r in runs)
conns = sum(r["config"]["connections"] for r in runs)
row("merged", "", conns, union_rps, merged["latency_us"])
print(f"windows: each host {runs[0]['config']['duration']:.3f} s; "
      f"common to all {merged['common_s']:.3f} s, union {merged['span_s']:.3f} s")
print()

# Throughput. `merge` prints the sum over the logs of requests / span
# (each log over its own window): the hosts' sum by construction, so
# comparing it with the sum would check nothing. The check compares two
# numbers of different origin: the sum of the rates each `loadgen run`
# counted over its own window, against every request in the merged
# histograms over ONE window for all, the union of the windows. They agree
# only when the hosts measured at the same time and the logs hold every
# request: the union is longer than one window by the hosts' start skew,
# and the merged rate lower by as much (1% per 50 ms of skew in 5 s).
bad = []
counted = sum(r["requests"] for r in runs)
if merged["requests"] != counted:
    bad.append(f"the logs hold {merged['requests']} requests, the runs counted {counted}")
gap = abs(union_rps - total) / total if total else 1.0
print(f"req/s: sum of the hosts (each over its own window) {total:.0f}, merged "
      f"(all {merged['requests']} requests over the union window) {union_rps:.0f}: "
      f"{gap * 100:.2f}% apart ({'within' if gap <= 0.03 else 'NOT within'} 3%)")
if gap > 0.03:
    bad.append("merged req/s not within 3% of the hosts' sum: the generators did not run together")

# Latency: merge adds the hosts' histograms and reads the percentiles off
# the sum, so the merged p99 is the p99 of all requests (not an average of
# p99s) and must lie between the hosts' smallest and largest p99.
p99s = [r["latency_us"]["p99"] for r in runs]
p99 = merged["latency_us"]["p99"]
inside = min(p99s) <= p99 <= max(p99s)
print(f"latency: the merged percentiles are those of the merged histograms (all requests together); "
      f"merged p99 {p99:.1f} µs {'lies' if inside else 'does NOT lie'} between the hosts' "
      f"{min(p99s):.1f} and {max(p99s):.1f} µs")
if not inside:
    bad.append("merged p99 outside the hosts' range")
for b in bad:
    print(f"FAILED: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "output: $OUT"
exit "$status"
