#!/usr/bin/env python3
"""RSS per idle connection: start echod, open N idle connections, diff VmRSS.

Each connection sends one 16-byte ping first (PING=1), so whatever a
model allocates on first use is counted; then all sit idle. The figure is
(VmRSS after - VmRSS before) / N, read once the server holds all N
descriptors. Build first: cargo build --release.

usage: python3 benches/idle_rss.py [MODEL] [N] [MAX_BUFFER] [PING 0|1]
MODEL is any echod --model: reactor (default), uring (io_uring, Linux only;
where io_uring is blocked echod says why and this stops), tokio, threads,
iterative.
(ECHOD env var: the echod binary, default target/release/echod)
Linux only: VmRSS and the descriptor count come from /proc.
"""
import os, resource, socket, subprocess, sys, time

if not sys.platform.startswith("linux"):
    sys.exit("idle_rss.py: Linux only (reads /proc/PID/status and /proc/PID/fd)")

args = sys.argv[1:] + [None] * 4
echod = os.environ.get("ECHOD", "target/release/echod")
model = args[0] or "reactor"
n = int(args[1] or 10000)
maxbuf = args[2] or "16K"
ping = (args[3] or "1") == "1"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))

p = subprocess.Popen([echod, "--model", model, "--listen", "127.0.0.1:0", "--max-buffer", maxbuf,
                      "--backlog", "4096"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline().strip()
if not line:
    # echod refused the model (uring without io_uring) in one line on stderr.
    sys.exit(f"idle_rss.py: echod --model {model} did not start: {p.stderr.readline().strip()}")
host, port = line.rsplit("//", 1)[1].rsplit(":", 1)
addr = (host, int(port))
# One connection served first, so lazily created runtime/reactor state exists.
w = socket.create_connection(addr); w.sendall(b"warm"); w.recv(16); w.close()
time.sleep(0.3)
base_fds = fds(p.pid)
before = rss_kib(p.pid)
socks = []
for i in range(n):
    s = socket.create_connection(addr)
    if ping:
        s.sendall(b"0123456789abcdef"); 
        got = b""
        while len(got) < 16:
            got += s.recv(16 - len(got))
    socks.append(s)
deadline = time.time() + 30
while fds(p.pid) < base_fds + n and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
after = rss_kib(p.pid)
print(f"{model:8} max-buffer {maxbuf:>4} ping={int(ping)} conns {n}: VmRSS {before} KiB -> {after} KiB, "
      f"{(after - before) * 1024 / n:.0f} B per connection (server fds {fds(p.pid) - base_fds})")
for s in socks: s.close()
p.terminate(); p.wait()
