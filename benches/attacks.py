"""Bounded-rate attacks on a running `custseg serve`, for benches/attack_soak.sh.

    python3 benches/attacks.py PORT MODELS_DIR SERVER_PID DURATION_S [probe]

Runs, side by side for DURATION_S seconds: made-up HTTP methods (20/s), slow bodies at
1 byte/s (Content-Length and chunked, 200 connections), stalled large uploads (120
connections that send 900 KB of a 1 MB body and stop), idle sockets (300), and store chaos
every 2 s (garbage CURRENT in another model, a FIFO metrics.json, a 2 GB sparse model.json,
SIGHUP). Each attacking connection that is answered is replaced after a pause, so the
rates stay bounded. Prints one line: ATTACKS methods_sent=N slow_answered=N …

With `probe` it only probes /healthz on a new connection every 100 ms (in a process of its
own, so the attackers' threads do not delay it) and prints
HEALTH probes=N p50_ms=… p99_ms=… max_ms=… failures=N
"""

import os
import random
import signal
import socket
import sys
import threading
import time

PORT, MODELS, PID, DURATION = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
END = time.time() + DURATION
HOST = "127.0.0.1"
stats = {"methods_sent": 0, "slow_answered": 0, "big_answered": 0, "idle_closed": 0,
         "chaos_rounds": 0}
lock = threading.Lock()
health = []  # (seconds, ok)


def bump(key, n=1):
    with lock:
        stats[key] += n


def connect(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def methods():
    i = 0
    while time.time() < END:
        try:
            s = connect()
            name = "M%d%s" % (i, "X" * 2000)
            s.sendall(("%s /v1/score HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % name).encode())
            s.recv(1024)
            s.close()
            bump("methods_sent")
        except OSError:
            pass
        i += 1
        time.sleep(0.05)


HEAD = "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n\r\n"


def slow_body(chunked):
    """One connection at a time that trickles a body at 1 byte/s, reopened when answered."""
    while time.time() < END:
        try:
            s = connect()
            framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 1000000"
            s.sendall((HEAD % framing).encode())
            s.setblocking(False)
            while time.time() < END:
                try:
                    s.sendall(b"1\r\n \r\n" if chunked else b" ")
                except BlockingIOError:
                    pass
                try:
                    if s.recv(4096) is not None:
                        bump("slow_answered")
                        time.sleep(1.0)
                        break
                except BlockingIOError:
                    pass
                time.sleep(1.0)
            s.close()
        except OSError:
            time.sleep(0.2)


def big_stalled():
    while time.time() < END:
        try:
            s = connect()
            s.sendall((HEAD % "Content-Length: 1000000").encode())
            s.sendall(b" " * 900_000)
            s.settimeout(max(0.1, END - time.time()))
            if s.recv(4096):
                bump("big_answered")
            s.close()
            time.sleep(1.0)
        except OSError:
            time.sleep(0.2)


def idle():
    while time.time() < END:
        try:
            s = connect()
            s.settimeout(max(0.1, END - time.time()))
            s.recv(4096)  # the server's 408 or close after its header deadline
            bump("idle_closed")
            s.close()
            time.sleep(0.5)
        except OSError:
            time.sleep(0.2)


def chaos():
    other = os.path.join(MODELS, "other")
    os.makedirs(other, exist_ok=True)
    while time.time() < END:
        n = stats["chaos_rounds"]
        with open(os.path.join(other, "CURRENT"), "w") as f:
            f.write("garbage %d\n" % n)
        v = os.path.join(other, "v%d" % (100 + n))
        os.makedirs(v, exist_ok=True)
        fifo = os.path.join(v, "metrics.json")
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        with open(os.path.join(v, "model.json"), "wb") as f:
            f.truncate(2 << 30)
        try:
            os.kill(PID, signal.SIGHUP)
        except OSError:
            pass
        bump("chaos_rounds")
        time.sleep(2.0)
        with open(os.path.join(other, "CURRENT"), "w") as f:
            f.write("v%d\n" % (100 + n))
        os.remove(os.path.join(v, "model.json"))


def probe():
    while time.time() < END:
        t = time.time()
        ok = False
        try:
            s = connect(timeout=10.0)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = s.recv(64).startswith(b"HTTP/1.1 200")
            s.close()
        except OSError:
            pass
        with lock:
            health.append((time.time() - t, ok))
        time.sleep(0.1)


def report_health():
    lat = sorted(x for x, _ in health)

    def pct(p):
        return 1000 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

    print("HEALTH probes=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f failures=%d"
          % (len(lat), pct(50), pct(99), 1000 * max(lat or [0]),
             sum(1 for _, ok in health if not ok)))


if len(sys.argv) > 5 and sys.argv[5] == "probe":
    probe()
    report_health()
    sys.exit(0)

threads = [threading.Thread(target=methods), threading.Thread(target=chaos)]
threads += [threading.Thread(target=slow_body, args=(i % 2 == 0,)) for i in range(200)]
threads += [threading.Thread(target=big_stalled) for _ in range(120)]
threads += [threading.Thread(target=idle) for _ in range(300)]
random.shuffle(threads)
for t in threads:
    t.daemon = True
    t.start()
    time.sleep(0.002)
time.sleep(max(0.0, END - time.time()) + 1.0)
print("ATTACKS " + " ".join("%s=%d" % kv for kv in sorted(stats.items())))
