#!/usr/bin/env bash
# Regenerates the flamegraphs in this folder: one SVG per echod model under
# the same load, so their shapes can be compared.
#
#   bash flamegraphs/regen.sh [MODELS] [CONNS] [SECS]
#   (defaults: "reactor tokio threads", 50 connections, 5 s; MODELS may
#   also name uring, the io_uring model: Linux only, and skipped with
#   echod's reason where io_uring is blocked)
#
# For each model: `loadgen serve -- --model M` pinned to CPU 0, driven by
# `loadgen run` (closed loop, 512 B, depth 1) pinned to CPU 1, sampled with
# `perf record -e cpu-clock -g` (a software event: hardware counters do not
# work on these VMs) for SECS seconds after 1 s of warm-up, then folded and
# drawn with inferno (installed from crates.io if missing). Also writes
# MODEL.txt: the share of samples in the kernel, in syscall entry/exit, and
# in echod's own code with its runtime (echod, mio, tokio, slab, and the
# io_uring crate's frames), which docs/performance.md quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${1:-"reactor tokio threads"}
CONNS=${2:-50}
SECS=${3:-5}
command -v perf >/dev/null || { echo "perf not found (Debian: linux-perf)" >&2; exit 2; }
if ! command -v inferno-flamegraph >/dev/null; then
  cargo install inferno --locked --quiet
fi
cargo build --release -p loadgen --quiet
LOADGEN=${CARGO_TARGET_DIR:-target}/release/loadgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for model in $MODELS; do
  taskset -c 0 "$LOADGEN" serve -- --model "$model" --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
  server=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/out" && break; sleep 0.05; done
  addr=$(sed -n 's#listening on tcp://##p' "$work/out" | head -1)
  if [ -z "$addr" ]; then
    # A model this machine cannot run (uring without io_uring): echod's line.
    echo "$model: skipped, did not start: $(head -1 "$work/err")" >&2
    kill $server 2>/dev/null || true; wait $server 2>/dev/null || true
    continue
  fi
  taskset -c 1 "$LOADGEN" run --target "$addr" --connections "$CONNS" --warmup 1s \
    --duration "$((SECS + 1))s" --quiet &
  gen=$!
  sleep 1
  perf record -q -e cpu-clock -F 999 -g -p "$server" -o "$work/perf.data" -- sleep "$SECS" 2>/dev/null
  wait $gen
  kill $server; wait $server 2>/dev/null || true
  perf script -i "$work/perf.data" 2>/dev/null >"$work/stacks"
  inferno-collapse-perf --all <"$work/stacks" >"$work/folded"
  inferno-flamegraph --title "echod --model $model: $CONNS connections, 512 B ping-pong (perf cpu-clock)" \
    <"$work/folded" >"flamegraphs/$model.svg"
  # Shares of the samples: the leaf frame tells where the CPU was.
  python3 - "$work/folded" "$model" >"flamegraphs/$model.txt" <<'PY'
import sys
total = user = ours = in_syscall = 0
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip().rpartition(" ")
    n = int(n)
    frames = stack.split(";")
    total += n
    if not frames[-1].endswith("_[k]"):
        user += n
        if any(k in frames[-1] for k in ("echod::", "mio::", "tokio::", "slab::", "io_uring::")):
            ours += n
    elif any(f.startswith("entry_SYSCALL") for f in frames):
        in_syscall += n
kernel = total - user
pct = lambda x: 100.0 * x / max(total, 1)
print(f"{sys.argv[2]}: kernel {pct(kernel):.1f}% ({pct(in_syscall):.1f}% inside syscalls, "
      f"{pct(kernel - in_syscall):.1f}% elsewhere: interrupts, softirq, scheduler), "
      f"user space {pct(user):.1f}% (echod, mio, tokio, slab, io_uring: {pct(ours):.1f}%; "
      f"libc, std and the rest: {pct(user - ours):.1f}%)")
PY
  cat "flamegraphs/$model.txt"
done
