#!/usr/bin/env bash
# Idle-socket flood against a server at `ulimit -n 1024`: opens 1,100 idle connections (kept
# open and replaced when the server closes them), then probes /healthz 7 times on a new
# connection with a 2 s timeout, and counts the server's "Too many open files" log lines.
# With HEALTH=1 the server gets `--health-bind` (the next port) and the probes go there.
#
#   benches/idle_flood.sh            (CUSTSEG_BIN=path runs another build)
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench_setup
port="$(free_port)"
hport="$(free_port)"
(ulimit -n 1024; exec "$bin" serve --models-dir "$models" --bind "127.0.0.1:$port" --workers 2 \
    --watch-interval-ms 0 ${HEALTH:+--health-bind "127.0.0.1:$hport"} >"$work/serve.log" 2>&1) &
server_pid=$!
wait_until_up "http://127.0.0.1:$port/readyz"
python3 - "$port" "${HEALTH:+$hport}" <<'PY'
import socket, sys, time
port=int(sys.argv[1]); hport=int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else port; idle=[]
for i in range(1100):
    try: idle.append(socket.create_connection(("127.0.0.1",port), timeout=2))
    except OSError: pass
ok=0; lat=[]
for i in range(7):
    t=time.time()
    try:
        s=socket.create_connection(("127.0.0.1",hport), timeout=2); s.settimeout(2)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if s.recv(64).startswith(b"HTTP/1.1 200"): ok+=1
        s.close()
    except OSError: pass
    lat.append(round(time.time()-t,2))
    # keep the idle pressure: replace closed idle sockets
    for j,c in enumerate(idle):
        try:
            c.setblocking(False)
            if c.recv(1)==b"": raise OSError
        except BlockingIOError: pass
        except OSError:
            try: idle[j]=socket.create_connection(("127.0.0.1",port), timeout=2)
            except OSError: pass
    time.sleep(0.5)
print("idle sockets opened %d; healthz ok %d of 7; seconds per probe %s" % (len(idle), ok, lat))
PY
echo "server log lines with EMFILE: $(grep -c 'Too many open files' "$work/serve.log" || true)"
