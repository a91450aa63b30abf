#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The client side of the sluice end-to-end tests, run inside the lab's client
namespace (`scripts/lab exec client tests/e2e/client.py ...`). Python 3
standard library only. Every mode prints one JSON object on stdout.

  burst   --vip V [--port 80] --n N [--conc C]
          N HTTP requests, each on a new TCP connection (Connection: close).
  loop    --vip V --conc C
          new-connection requests without pause until a line "stop" arrives
          on stdin; every request is reported with its times and source port.
  hold    --vip V --n N
          opens N keep-alive connections and does one request on each; then
          reads commands from stdin: "probe" does one more request on every
          connection that still works and prints the results; "quit" ends.
  upload  --vip V --mb M --name NAME
          one PUT of M MiB to /upload/NAME; 201 when all of it arrived.
  probe   --dst A --port P [--udp]
          one connection attempt / datagram to A:P (not a VIP): must get nowhere.
  sniff   --iface IF --mac M
          (in the switch namespace, on the box's bridge port) counts what the
          box sends, by kind and destination, until "stop" on stdin.

The backends answer GET / with their own name, which is how a request is
attributed to a backend.
"""
import argparse
import concurrent.futures
import errno
import json
import socket
import sys
import threading
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def classify(exc):
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, BrokenPipeError):
        return "broken_pipe"
    if isinstance(exc, OSError) and exc.errno is not None:
        return "oserror_" + (errno.errorcode.get(exc.errno, str(exc.errno)))
    return type(exc).__name__


class PortPool:
    """Source ports for new connections: a uniformly random permutation of
    10000-32767 (below Linux's ephemeral range, so nothing else competes for
    them), each used once before any is used again. The flows of a run are
    then a random sample of distinct 5-tuples. The kernel's own choice
    (bind to port 0) is not: it reuses recently freed ports unevenly, and the
    shares per backend of 10,000 such connections were seen 6-7 standard
    deviations away from the table's shares (the table and the dataplane
    agreeing on every single one of them); see also Conn.get."""

    LOW, HIGH = 10000, 32768

    def __init__(self):
        self.lock = threading.Lock()
        self.ports = []

    def take(self):
        import random
        with self.lock:
            if not self.ports:
                self.ports = list(range(self.LOW, self.HIGH))
                random.SystemRandom().shuffle(self.ports)
            return self.ports.pop()


POOL = PortPool()


class Conn:
    """A TCP connection speaking just enough HTTP/1.1."""

    def __init__(self, vip, port, timeout):
        fam = family_of(vip)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        # Bind first so that the source port is known even if connect fails.
        any_addr = "::" if fam == socket.AF_INET6 else "0.0.0.0"
        for _ in range(100):
            try:
                self.sock.bind((any_addr, POOL.take()))
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
        else:
            self.sock.bind((any_addr, 0))
        self.sport = self.sock.getsockname()[1]
        self.buf = b""
        self.vip = vip
        self.port = port

    def connect(self):
        self.sock.connect((self.vip, self.port))

    def _read_response(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionAbortedError("closed before the response headers")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionAbortedError("closed in the response body")
            rest += chunk
        self.buf = rest[length:]
        return status, rest[:length]

    def get(self, close):
        hdr = "GET / HTTP/1.1\r\nHost: vip\r\n%s\r\n" % ("Connection: close\r\n" if close else "")
        self.sock.sendall(hdr.encode())
        status, body = self._read_response()
        if status != 200:
            raise ValueError("HTTP status %d" % status)
        if close:
            # Wait for the server's FIN before closing: the server closes first,
            # so the TIME_WAIT state stays on the backend. A client that closed
            # first would hold its port in TIME_WAIT, and since a port decides
            # the backend, the ports left for the next requests would no
            # longer be a fair sample (seen: 30/33/36 % instead of 33 each).
            while self.sock.recv(65536):
                pass
        return body.decode(errors="replace").strip()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def one_request(vip, port, timeout):
    """One request on a new connection: (status, backend, sport, t0, t1)."""
    t0 = time.time()
    c = Conn(vip, port, timeout)
    try:
        c.connect()
        name = c.get(close=True)
        return ("ok", name, c.sport, t0, time.time())
    except Exception as e:  # noqa: BLE001 - every failure is counted by kind
        return (classify(e), None, c.sport, t0, time.time())
    finally:
        c.close()


def cmd_burst(a):
    results = {"ok": 0, "errors": {}, "backends": {}}
    lock = threading.Lock()
    counter = iter(range(a.n))
    failures = []
    records = []

    def worker():
        while True:
            with lock:
                try:
                    next(counter)
                except StopIteration:
                    return
            st, name, sport, t0, t1 = one_request(a.vip, a.port, a.timeout)
            with lock:
                if a.record:
                    records.append([sport, name])
                if st == "ok":
                    results["ok"] += 1
                    results["backends"][name] = results["backends"].get(name, 0) + 1
                else:
                    results["errors"][st] = results["errors"].get(st, 0) + 1
                    failures.append([sport, st])

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(a.conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results["elapsed_s"] = round(time.time() - t0, 3)
    results["requests"] = a.n
    results["failures"] = failures[:200]
    if a.record:
        results["records"] = records
    print(json.dumps(results))


def cmd_loop(a):
    stop = threading.Event()
    log = []
    lock = threading.Lock()

    def worker():
        while not stop.is_set():
            r = one_request(a.vip, a.port, a.timeout)
            with lock:
                log.append([r[0], r[1], r[2], round(r[3], 4), round(r[4], 4)])
            if a.pause:
                time.sleep(a.pause)

    threads = [threading.Thread(target=worker) for _ in range(a.conc)]
    for t in threads:
        t.start()
    print(json.dumps({"started": time.time()}), flush=True)
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({"requests": log}), flush=True)


def cmd_hold(a):
    conns = []
    opened = {"ok": 0, "errors": {}}
    for _ in range(a.n):
        c = Conn(a.vip, a.port, a.timeout)
        try:
            c.connect()
            c.backend = c.get(close=False)
            c.alive = True
            conns.append(c)
            opened["ok"] += 1
        except Exception as e:  # noqa: BLE001
            k = classify(e)
            opened["errors"][k] = opened["errors"].get(k, 0) + 1
            c.close()
    opened["conns"] = [[c.sport, c.backend] for c in conns]
    print(json.dumps(opened), flush=True)

    def probe(c):
        if not c.alive:
            return [c.sport, "dead", None]
        try:
            name = c.get(close=False)
            return [c.sport, "ok", name]
        except Exception as e:  # noqa: BLE001
            c.alive = False
            return [c.sport, classify(e), None]

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "probe":
                res = list(pool.map(probe, conns))
                print(json.dumps({"probe": res}), flush=True)
            elif cmd == "quit":
                break
    for c in conns:
        c.close()


def cmd_upload(a):
    size = a.mb * 1024 * 1024
    c = Conn(a.vip, a.port, a.timeout)
    t0 = time.time()
    try:
        c.connect()
        head = ("PUT /upload/%s HTTP/1.1\r\nHost: vip\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (a.name, size))
        c.sock.sendall(head.encode())
        chunk = bytes(range(256)) * 256  # 64 KiB
        sent = 0
        while sent < size:
            n = min(len(chunk), size - sent)
            c.sock.sendall(chunk[:n])
            sent += n
        status, _ = c._read_response()
        res = {"status": status, "bytes": size, "elapsed_s": round(time.time() - t0, 3)}
    except Exception as e:  # noqa: BLE001
        res = {"status": None, "error": classify(e), "detail": str(e),
               "elapsed_s": round(time.time() - t0, 3)}
    finally:
        c.close()
    if res.get("elapsed_s"):
        res["mbit_s"] = round(size * 8 / 1e6 / res["elapsed_s"], 1)
    print(json.dumps(res))


def cmd_probe(a):
    fam = family_of(a.dst)
    if a.udp:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        s.sendto(b"sluice-e2e-probe", (a.dst, a.port))
        try:
            data = s.recv(2048)
            res = {"result": "answered", "bytes": len(data)}
        except Exception as e:  # noqa: BLE001
            res = {"result": classify(e)}
    else:
        c = Conn(a.dst, a.port, a.timeout)
        try:
            c.connect()
            res = {"result": "connected"}
        except Exception as e:  # noqa: BLE001
            res = {"result": classify(e)}
        c.close()
    print(json.dumps(res))


def cmd_sniff(a):
    import struct
    mac = bytes(int(x, 16) for x in a.mac.split(":"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((a.iface, 0))
    s.settimeout(0.2)
    stop = threading.Event()

    def wait_stop():
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=wait_stop, daemon=True).start()
    counts = {}
    print(json.dumps({"sniffing": a.iface}), flush=True)
    while not stop.is_set():
        try:
            f = s.recv(65535)
        except (socket.timeout, TimeoutError):
            continue
        if len(f) < 14 or f[6:12] != mac:
            continue
        et = struct.unpack("!H", f[12:14])[0]
        p = f[14:]
        if et == 0x0806:
            k = "arp"
        elif et == 0x0800 and len(p) >= 20:
            proto = p[9]
            dst = socket.inet_ntop(socket.AF_INET, p[16:20])
            k = "ipv4 proto %d to %s" % (proto, dst)
        elif et == 0x86DD and len(p) >= 40:
            nh = p[6]
            dst = socket.inet_ntop(socket.AF_INET6, p[24:40])
            if nh == 58 and len(p) > 40 and p[40] in (133, 134, 135, 136, 137):
                k = "nd"
            else:
                k = "ipv6 next %d to %s" % (nh, dst)
        else:
            k = "ethertype 0x%04x" % et
        counts[k] = counts.get(k, 0) + 1
    print(json.dumps({"frames": counts}), flush=True)


def main():
    # Ctrl-C / SIGTERM end this process at once (worker threads included), so
    # that the script driving it sees it die and can clean up.
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("burst", "loop", "hold", "upload"):
        s = sub.add_parser(name)
        s.add_argument("--vip", required=True)
        s.add_argument("--port", type=int, default=80)
        s.add_argument("--timeout", type=float, default=5.0)
        if name in ("burst", "hold"):
            s.add_argument("--n", type=int, required=True)
        if name in ("burst", "loop"):
            s.add_argument("--conc", type=int, default=16)
        if name == "burst":
            s.add_argument("--record", action="store_true", help="report every request's source port and backend")
        if name == "loop":
            s.add_argument("--pause", type=float, default=0.0)
        if name == "upload":
            s.add_argument("--mb", type=int, default=32)
            s.add_argument("--name", default="upload.bin")
    s = sub.add_parser("probe")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, default=80)
    s.add_argument("--udp", action="store_true")
    s.add_argument("--timeout", type=float, default=1.0)
    s = sub.add_parser("sniff")
    s.add_argument("--iface", required=True)
    s.add_argument("--mac", required=True)
    a = p.parse_args()
    {"sniff": cmd_sniff, "burst": cmd_burst, "loop": cmd_loop, "hold": cmd_hold, "upload": cmd_upload,
     "probe": cmd_probe}[a.cmd](a)


if __name__ == "__main__":
    main()
