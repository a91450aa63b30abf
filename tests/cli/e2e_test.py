#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sluicectl end to end against a real sluice-control.

Starts sluice-control with a temporary config, socket, state directory and
instance name, runs every sluicectl command, checks the text and --json
output, and checks that every refusal by the daemon exits 1 with the
daemon's message on one line and changes nothing.

The BUSY column of `status` (and busy_share of `status --json`) is checked
against a real sluice-dataplane on a net_null port: every poll brings
packets (busy near 100%), or none do (no-rx=1, 0%), restarted between the
two reads of `status` (`-`), and stopped (`-`). That part is skipped, and
says so, when sluice-dataplane is not given or not built.

Usage: e2e_test.py PATH/TO/sluicectl PATH/TO/sluice-control [PATH/TO/sluice-dataplane]
Exit 77 (CTest: skipped) when sluice-control is not built.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SLUICECTL, DAEMON = sys.argv[1], sys.argv[2]
DATAPLANE = sys.argv[3] if len(sys.argv) > 3 else ""
if not os.access(DAEMON, os.X_OK):
    print(f"SKIP: sluice-control not built ({DAEMON} does not exist)")
    sys.exit(77)

TMP = tempfile.mkdtemp(prefix="sluicectl-e2e-")
SOCK = os.path.join(TMP, "control.sock")
STATE = os.path.join(TMP, "state")
os.mkdir(STATE)
INSTANCE = f"cli-e2e-{os.getpid()}"
failures = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CONFIG = f"""
seed = "00112233445566778899aabbccddeeff"

[dataplane]
kind = "dpdk"
instance = "{INSTANCE}"
ipv4 = "192.0.2.1"
ipv6 = "2001:db8::1"
gateway_mac = "02:00:00:00:00:fe"

[control]
socket = "{SOCK}"
state_dir = "{STATE}"
metrics_listen = "127.0.0.1:{free_port()}"

[[service]]
name = "web"
vip = "192.0.2.10"
port = 80
protocol = "tcp"
forwarding = "dsr-l2"
table_size = 65537
[service.health]
type = "none"
[[service.backend]]
address = "10.0.1.4"
mac = "02:00:00:00:01:04"
weight = 100
[[service.backend]]
address = "10.0.1.5"
mac = "02:00:00:00:01:05"
weight = 100
"""
CFG = os.path.join(TMP, "sluice.toml")
with open(CFG, "w") as f:
    f.write(CONFIG)
BAD_CFG = os.path.join(TMP, "bad.toml")
with open(BAD_CFG, "w") as f:
    f.write(CONFIG.replace('table_size = 65537', 'table_size = 65536'))


def sluicectl(*args, env_extra=None):
    env = dict(os.environ)
    env["SLUICE_SOCKET"] = SOCK
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([SLUICECTL, "--timeout", "10"] + list(args), capture_output=True,
                       text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


def fail(what):
    print(f"FAIL {what}")
    failures.append(what)


def ok(args, contains=(), **kw):
    """Runs sluicectl, expects exit 0; returns stdout."""
    rc, out, err = sluicectl(*args, **kw)
    if rc != 0:
        fail(f"sluicectl {' '.join(args)}: exit {rc}, stderr {err.strip()!r}")
        return out
    for c in contains:
        if c not in out:
            fail(f"sluicectl {' '.join(args)}: output lacks {c!r}:\n{out}")
            return out
    print(f"ok   sluicectl {' '.join(args)}")
    return out


def js(args):
    """Runs a read command with --json; returns the parsed result."""
    out = ok(list(args) + ["--json"])
    try:
        return json.loads(out)
    except ValueError as e:
        fail(f"sluicectl {' '.join(args)} --json: not JSON ({e}): {out!r}")
        return {}


def snapshot():
    """What a refused change must leave as it was."""
    services = js(["service", "list"]).get("services", [])
    names = sorted(s.get("name") for s in services)
    backends = {}
    for n in names:
        backends[n] = sorted(
            (b.get("address"), b.get("weight"), b.get("state"), b.get("mac"))
            for b in js(["backend", "list", n]).get("backends", []))
    return names, backends


def refused(args, message_has, code=1):
    """A refusal: exit 1, one line on stderr with the daemon's reason, no change."""
    before = snapshot()
    rc, out, err = sluicectl(*args)
    lines = err.splitlines()
    label = f"refusal: sluicectl {' '.join(args)}"
    if rc != code:
        fail(f"{label}: exit {rc}, expected {code}; stderr {err.strip()!r}")
    elif len(lines) != 1 or not lines[0].startswith("sluicectl: "):
        fail(f"{label}: stderr is not one 'sluicectl: ' line: {err!r}")
    elif message_has.lower() not in err.lower():
        fail(f"{label}: stderr {err.strip()!r} lacks {message_has!r}")
    elif out:
        fail(f"{label}: unexpected stdout {out!r}")
    elif snapshot() != before:
        fail(f"{label}: the state changed")
    else:
        print(f"ok   {label} -> {err.strip()!r}")


def worker_table(out):
    """The worker table of `sluicectl status`: (header cells, [{column: cell}])."""
    lines = out.splitlines()
    at = [i for i, ln in enumerate(lines) if ln.split()[:1] == ["WORKER"]]
    if not at:
        return [], []
    # Cells are separated by two spaces or more ("SEEN GENERATION" has one).
    head = re.split(r"\s{2,}", lines[at[0]].strip())
    rows = [dict(zip(head, re.split(r"\s{2,}", ln.strip())))
            for ln in lines[at[0] + 1:] if ln.strip()]
    return head, rows


def busy_percent(cell):
    """The BUSY cell as a number in [0, 100], '-' as None; raises if neither."""
    if cell == "-":
        return None
    m = re.fullmatch(r"(\d{1,3}\.\d)%", cell or "")
    if not m or not 0 <= float(m.group(1)) <= 100:
        raise ValueError(f"BUSY {cell!r} is not a percentage in [0, 100] with one decimal")
    return float(m.group(1))


DP_PREFIX = f"sluicectl-e2e-{os.getpid()}"
dp_procs = []


def start_dataplane(port):
    """sluice-dataplane on the daemon's instance (config file) and `port`;
    returns it once the daemon's status shows its workers alive."""
    cpu = max(os.sched_getaffinity(0))
    eal = ["-l", str(cpu), "--no-pci", "--no-huge", "-m", "256", "--no-shconf",
           "--file-prefix", DP_PREFIX, "--log-level=*:warning"]
    dplog = open(os.path.join(TMP, "dataplane.log"), "a")
    p = subprocess.Popen([DATAPLANE] + eal + ["--", "--config", CFG, "--port", port],
                         stdout=dplog, stderr=subprocess.STDOUT)
    dplog.close()
    dp_procs.append(p)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None:
        rc, out, _ = sluicectl("status", "--json", "--interval", "0")
        dp = json.loads(out).get("dataplane", {}) if rc == 0 else {}
        ws = dp.get("workers") or []
        if dp.get("pid") == p.pid and ws and all(
                w.get("alive") and w.get("pid") == p.pid for w in ws):
            return p
        time.sleep(0.1)
    fail(f"sluice-dataplane --port {port} did not come up (exit {p.poll()}):\n"
         + open(os.path.join(TMP, "dataplane.log")).read()[-2000:])
    return None


def stop_dataplane(p, sig=signal.SIGTERM):
    if p is not None and p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def status_busy(args, label):
    """Runs `sluicectl status ARGS`; returns (seconds taken, rows of the worker
    table) after checking that BUSY is there and each cell is a percentage in
    [0, 100], or '-' only for a worker that is not alive."""
    t0 = time.monotonic()
    rc, out, err = sluicectl("status", *args)
    took = time.monotonic() - t0
    if rc != 0:
        fail(f"{label}: sluicectl status {' '.join(args)}: exit {rc}, {err.strip()!r}")
        return took, []
    head, rows = worker_table(out)
    if "BUSY" not in head or not rows:
        fail(f"{label}: no BUSY column in the worker table:\n{out}")
        return took, []
    for r in rows:
        try:
            pct = busy_percent(r.get("BUSY"))
        except ValueError as e:
            fail(f"{label}: {e}:\n{out}")
            continue
        if pct is None and r.get("ALIVE") != "no":
            fail(f"{label}: BUSY is '-' for a live worker:\n{out}")
    print(f"ok   {label}: sluicectl status {' '.join(args)} -> BUSY "
          f"{[r.get('BUSY') for r in rows]} in {took:.2f} s")
    return took, rows


def check_busy_share():
    # 1. Every poll brings packets (net_null makes them up): busy near 100%.
    p = start_dataplane("net_null0")
    if p is None:
        return
    took, rows = status_busy([], "busy dataplane, default interval")
    if took < 0.25:
        fail(f"status took {took:.3f} s: it did not wait the default 250 ms between its reads")
    for r in rows:
        if r.get("ALIVE") != "yes" or (busy_percent(r.get("BUSY")) or 0) < 50:
            fail(f"worker {r.get('WORKER')} on net_null polls packets every turn, "
                 f"yet ALIVE {r.get('ALIVE')}, BUSY {r.get('BUSY')}")
    took, rows = status_busy(["--interval", "1000"], "busy dataplane, 1 s")
    if took < 1.0:
        fail(f"status --interval 1000 took {took:.3f} s")
    if any((busy_percent(r.get("BUSY")) or 0) < 50 for r in rows):
        fail(f"status --interval 1000 on a busy worker: {rows}")
    status_busy(["--interval", "0"], "busy dataplane, since start")
    st = js(["status", "--interval", "100"])
    for w in (st.get("dataplane") or {}).get("workers", []):
        b = w.get("busy_share")
        if not isinstance(b, (int, float)) or isinstance(b, bool) or not 0.5 <= b <= 1:
            fail(f"status --json: busy_share {b!r} of a busy worker, expected in [0.5, 1]: {w}")
    # --interval 0: the share since start, from the very counters printed.
    st = js(["status", "--interval", "0"])
    workers = (st.get("dataplane") or {}).get("workers", [])
    if not workers:
        fail(f"status --json shows no worker: {st}")
    for w in workers:
        want = min(1.0, w["busy_tsc"] / w["loop_tsc"]) if w.get("loop_tsc") else None
        got = w.get("busy_share")
        if want is None or got is None or abs(got - want) > 1e-9:
            fail(f"status --interval 0 --json: busy_share {got!r}, busy_tsc / loop_tsc {want!r}")

    # 2. The dataplane restarted between the two reads: '-', worker alive.
    env = dict(os.environ, SLUICE_SOCKET=SOCK)
    interval_ms = 6000
    t0 = time.monotonic()
    reader = subprocess.Popen([SLUICECTL, "--timeout", "10", "status", "--interval",
                               str(interval_ms)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(0.5)  # its first read is done
    stop_dataplane(p, signal.SIGKILL)
    p = start_dataplane("net_null0")
    up_after = time.monotonic() - t0
    out, err = reader.communicate(timeout=60)
    head, rows = worker_table(out)
    if reader.returncode != 0 or "BUSY" not in head or not rows:
        fail(f"status across a dataplane restart: exit {reader.returncode} {err!r}:\n{out}")
    elif up_after > interval_ms / 1000 - 1:
        print(f"SKIP restart between the reads: the new dataplane took {up_after:.1f} s "
              "to come up, too close to the second read")
    elif any(r.get("ALIVE") != "yes" or r.get("BUSY") != "-" for r in rows):
        fail(f"dataplane restarted between the reads of status: BUSY should be '-' for "
             f"the new, live worker:\n{out}")
    else:
        print("ok   dataplane restarted between the two reads: BUSY '-'")

    # 3. Stopped: the workers stay listed, not alive, BUSY '-', busy_share null;
    # with no live worker status does not wait for a second read.
    stop_dataplane(p)
    took, rows = status_busy(["--interval", "5000"], "stopped dataplane")
    if any(r.get("ALIVE") != "no" or r.get("BUSY") != "-" for r in rows):
        fail(f"stopped dataplane: expected ALIVE no and BUSY '-': {rows}")
    if took > 4:
        fail(f"status waited {took:.1f} s with no live worker")
    # Its last counters are still in the region: no share from them either.
    took, rows = status_busy(["--interval", "0"], "stopped dataplane, since start")
    if any(r.get("ALIVE") != "no" or r.get("BUSY") != "-" for r in rows):
        fail(f"stopped dataplane, --interval 0: expected ALIVE no and BUSY '-': {rows}")
    for args in (["status"], ["status", "--interval", "0"]):
        for w in (js(args).get("dataplane") or {}).get("workers", []):
            if w.get("busy_share", "absent") is not None or not w.get("loop_tsc"):
                fail(f"stopped worker ({' '.join(args)}): busy_share "
                     f"{w.get('busy_share', 'absent')!r}, expected null: {w}")

    # 4. No poll brings a packet: 0%.
    p = start_dataplane("net_null0,no-rx=1")
    if p is None:
        return
    took, rows = status_busy(["--interval", "500"], "idle dataplane")
    for r in rows:
        if r.get("ALIVE") != "yes" or busy_percent(r.get("BUSY")) is None or \
                busy_percent(r.get("BUSY")) >= 50:
            fail(f"worker {r.get('WORKER')} on net_null no-rx never receives, yet "
                 f"ALIVE {r.get('ALIVE')}, BUSY {r.get('BUSY')}")
    stop_dataplane(p)


def wait_socket(proc, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if os.path.exists(SOCK):
            rc, _, _ = sluicectl("status")
            if rc == 0:
                return True
        time.sleep(0.1)
    return False


help_text = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, timeout=10)
daemon_args = ["--config", CFG] if "--config" in (help_text.stdout + help_text.stderr) else [CFG]
log = open(os.path.join(TMP, "daemon.log"), "w")
daemon = subprocess.Popen([DAEMON] + daemon_args, stdout=log, stderr=subprocess.STDOUT)
try:
    if not wait_socket(daemon):
        log.flush()
        print(open(os.path.join(TMP, "daemon.log")).read())
        fail(f"sluice-control did not answer on {SOCK} (exit {daemon.poll()})")
        raise SystemExit

    # --- status
    ok(["status"], ["sluice-control", "generation", "tables          on ", "dataplane"])
    st = js(["status"])
    for k in ("version", "pid", "generation", "dataplane"):
        if k not in st:
            fail(f"status --json lacks {k!r}: {st}")
    if st.get("pid") != daemon.pid:
        fail(f"status pid {st.get('pid')} is not the daemon's {daemon.pid}")
    gen0 = st.get("generation", 0)

    # --- services and backends as configured
    ok(["service", "list"], ["NAME", "web", "192.0.2.10"])
    names = [s.get("name") for s in js(["service", "list"]).get("services", [])]
    if names != ["web"]:
        fail(f"service list --json names {names}, expected ['web']")
    ok(["service", "show", "web"], ["vip:", "192.0.2.10", "10.0.1.4", "10.0.1.5"])
    shown = js(["service", "show", "web"])
    svc = shown.get("service", shown)
    if svc.get("name") != "web" or len(svc.get("backends", [])) != 2:
        fail(f"service show --json: {shown}")
    ok(["backend", "list", "web"], ["ADDRESS", "10.0.1.4", "02:00:00:00:01:05"])
    bl = js(["backend", "list", "web"]).get("backends", [])
    if sorted(b.get("address") for b in bl) != ["10.0.1.4", "10.0.1.5"]:
        fail(f"backend list --json: {bl}")
    for b in bl:
        for k in ("address", "mac", "weight", "state", "health", "slots"):
            if k not in b:
                fail(f"backend list --json: backend lacks {k!r}: {b}")

    # --- changes
    out = ok(["backend", "add", "web", "10.0.1.6", "--mac", "02:00:00:00:01:06", "--weight",
              "50"], ["added", "generation"])
    bl = {b["address"]: b for b in js(["backend", "list", "web"]).get("backends", [])}
    if bl.get("10.0.1.6", {}).get("weight") != 50:
        fail(f"backend add: 10.0.1.6 not listed with weight 50: {bl}")
    if js(["status"]).get("generation", 0) <= gen0:
        fail("backend add did not advance the generation")
    ok(["backend", "weight", "web", "10.0.1.6", "200"], ["weight 200"])
    bl = {b["address"]: b for b in js(["backend", "list", "web"]).get("backends", [])}
    if bl.get("10.0.1.6", {}).get("weight") != 200:
        fail(f"backend weight: {bl.get('10.0.1.6')}")
    ok(["backend", "drain", "web", "10.0.1.6"], ["drained"])
    bl = {b["address"]: b for b in js(["backend", "list", "web"]).get("backends", [])}
    if bl.get("10.0.1.6", {}).get("state") != "drained":
        fail(f"backend drain: {bl.get('10.0.1.6')}")
    tb = {b["address"]: b for b in js(["table", "web"]).get("backends", [])}
    if tb.get("10.0.1.6", {}).get("slots", 0) != 0:
        fail(f"a drained backend owns slots: {tb.get('10.0.1.6')}")
    ok(["backend", "undrain", "web", "10.0.1.6"], ["undrained"])
    bl = {b["address"]: b for b in js(["backend", "list", "web"]).get("backends", [])}
    if bl.get("10.0.1.6", {}).get("state") != "active":
        fail(f"backend undrain: {bl.get('10.0.1.6')}")

    # --- table
    ok(["table", "web"], ["BACKEND", "SLOTS", "SHARE", "10.0.1.4", "%"])
    t = js(["table", "web"])
    if t.get("size") != 65537:
        fail(f"table --json size {t.get('size')}, expected 65537")
    total = sum(b.get("slots", 0) for b in t.get("backends", []))
    if total != t.get("size"):
        fail(f"table slots add up to {total}, not {t.get('size')}")
    slots = {b["address"]: b.get("slots", 0) for b in t.get("backends", [])}
    # weights 100:100:200 -> the heavier backend owns about half the table
    if not (0.4 < slots.get("10.0.1.6", 0) / 65537 < 0.6):
        fail(f"weight 200 of 400 owns {slots.get('10.0.1.6', 0)} of 65537 slots")

    # --- lookup: the same flow gets the same answer; the backend is one of web's
    lk = js(["lookup", "web", "198.51.100.7", "40000"])
    if lk.get("backend") not in ("10.0.1.4", "10.0.1.5", "10.0.1.6"):
        fail(f"lookup --json backend: {lk}")
    if not (0 <= lk.get("slot", -1) < 65537):
        fail(f"lookup --json slot: {lk}")
    if js(["lookup", "web", "198.51.100.7", "40000"]) != lk:
        fail("lookup is not deterministic")
    ok(["lookup", "web", "198.51.100.7", "40000", "--dst", "192.0.2.10", "--dport", "80",
        "--proto", "tcp"], ["backend:", "slot:"])

    # --- health, stats
    ok(["health"], ["10.0.1.4"])
    h = js(["health"])
    if "web" not in [s.get("name") for s in h.get("services", [])]:
        fail(f"health --json: {h}")
    ok(["health", "web"], ["10.0.1.5"])
    s = js(["stats"])
    for k in ("generation", "services", "drops"):
        if k not in s:
            fail(f"stats --json lacks {k!r}: {s}")
    ok(["stats", "--interval", "0.2"], ["SERVICE", "PKT/S", "web"])
    # Longer than the daemon keeps an idle connection (5 s): the second read
    # goes over a new one instead of failing with a broken pipe.
    ok(["stats", "--interval", "6"], ["SERVICE", "PKT/S", "web"])
    out = ok(["stats", "--watch", "--count", "2", "--interval", "0.2"], ["web"])
    if out.count("sluicectl stats") != 2:
        fail(f"stats --watch --count 2 drew {out.count('sluicectl stats')} screens")
    out = ok(["stats", "--watch", "--count", "2", "--interval", "0.2", "--json"])
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if len(lines) != 2 or not all("services" in json.loads(ln) for ln in lines):
        fail(f"stats --watch --json: {out!r}")
    # Ctrl-C ends --watch cleanly with exit 0
    env = dict(os.environ, SLUICE_SOCKET=SOCK)
    w = subprocess.Popen([SLUICECTL, "stats", "--watch", "--interval", "0.2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(1.0)
    w.send_signal(signal.SIGINT)
    try:
        rc = w.wait(timeout=5)
        if rc != 0:
            fail(f"stats --watch after SIGINT: exit {rc}")
        else:
            print("ok   stats --watch ends with exit 0 on SIGINT")
    except subprocess.TimeoutExpired:
        w.kill()
        fail("stats --watch did not end on SIGINT")
    w.communicate()

    # --- service add (flags and file), show, del
    ok(["service", "add", "--name", "dns", "--vip", "192.0.2.53", "--port", "53", "--proto",
        "udp", "--hash", "src-ip", "--forwarding", "ipip", "--table-size", "251",
        "--health-type", "none", "--backend", "10.0.2.1", "--backend", "10.0.2.2,,50"],
       ["service dns added", "generation"])
    d = js(["service", "show", "dns"])
    d = d.get("service", d)
    if d.get("protocol") != "udp" or d.get("hash") != "src-ip" or len(d.get("backends", [])) != 2:
        fail(f"service add by flags: {d}")
    svc_toml = os.path.join(TMP, "api.toml")
    with open(svc_toml, "w") as f:
        f.write('name = "api"\nvip = "2001:db8::80"\nport = 443\nforwarding = "ipip"\n'
                'table_size = 251\n[health]\ntype = "none"\n'
                '[[backend]]\naddress = "2001:db8:1::4"\n')
    ok(["service", "add", "--file", svc_toml], ["service api added"])
    ok(["backend", "list", "api"], ["2001:db8:1::4"])
    ok(["lookup", "api", "2001:db8::7", "5555"], ["backend:", "2001:db8:1::4"])
    lk6 = js(["lookup", "api", "2001:db8::7"])
    if lk6.get("backend") != "2001:db8:1::4":
        fail(f"lookup on an IPv6 service: {lk6}")
    # the API's JSON object, from stdin
    env = dict(os.environ, SLUICE_SOCKET=SOCK)
    p = subprocess.run([SLUICECTL, "service", "add", "--file", "-"], input=json.dumps(
        {"name": "mail", "vip": "192.0.2.25", "port": 25, "forwarding": "gue", "table_size": 251,
         "health": {"type": "none"}, "backends": [{"address": "10.0.3.1", "weight": 7}]}),
        capture_output=True, text=True, env=env, timeout=30)
    if p.returncode != 0 or "service mail added" not in p.stdout:
        fail(f"service add --file - (JSON): exit {p.returncode}, {p.stderr!r}")
    else:
        print("ok   sluicectl service add --file - (JSON on stdin)")
    mb = js(["backend", "list", "mail"]).get("backends", [])
    if [(b.get("address"), b.get("weight")) for b in mb] != [("10.0.3.1", 7)]:
        fail(f"service added from JSON: backends {mb}")
    ok(["service", "del", "mail"], ["service mail deleted"])
    names = sorted(s.get("name") for s in js(["service", "list"]).get("services", []))
    if names != ["api", "dns", "web"]:
        fail(f"service list after adds: {names}")

    # --- every refusal: exit 1, the daemon's reason, nothing changed
    refused(["backend", "add", "web", "10.0.1.4", "--mac", "02:00:00:00:01:04"], "10.0.1.4")
    refused(["backend", "add", "nosuch", "10.0.9.9"], "nosuch")
    refused(["backend", "del", "web", "10.0.9.9"], "10.0.9.9")
    refused(["backend", "del", "nosuch", "10.0.1.4"], "nosuch")
    refused(["backend", "drain", "web", "10.0.9.9"], "10.0.9.9")
    refused(["backend", "undrain", "web", "10.0.9.9"], "10.0.9.9")
    refused(["backend", "weight", "web", "10.0.9.9", "10"], "10.0.9.9")
    refused(["backend", "add", "web", "10.0.1.9"], "mac")  # dsr-l2 needs a MAC
    refused(["backend", "list", "nosuch"], "nosuch")
    refused(["service", "show", "nosuch"], "nosuch")
    refused(["service", "del", "nosuch"], "nosuch")
    refused(["service", "add", "--name", "web", "--vip", "192.0.2.99", "--port", "80",
             "--health-type", "none"], "web")
    refused(["service", "add", "--name", "web2", "--vip", "192.0.2.10", "--port", "80",
             "--forwarding", "ipip", "--health-type", "none"], "192.0.2.10")
    refused(["service", "add", "--name", "odd", "--vip", "192.0.2.77", "--port", "80",
             "--table-size", "1000", "--forwarding", "ipip"], "prime")
    refused(["service", "add", "--name", "r0", "--vip", "192.0.2.78", "--port", "80",
             "--forwarding", "ipip", "--health-rise", "0"], "rise")
    refused(["table", "nosuch"], "nosuch")
    refused(["lookup", "web", "2001:db8::7"], "address family")
    refused(["lookup", "nosuch", "198.51.100.7"], "nosuch")
    refused(["health", "nosuch"], "nosuch")
    refused(["check", BAD_CFG], "bad.toml:")
    refused(["check", BAD_CFG], "table_size")

    # --- removals
    ok(["backend", "del", "web", "10.0.1.6"], ["removed"])
    if "10.0.1.6" in [b["address"] for b in js(["backend", "list", "web"]).get("backends", [])]:
        fail("backend del: still listed")
    ok(["service", "del", "dns"], ["service dns deleted"])
    ok(["service", "del", "api"], ["service api deleted"])
    names = sorted(s.get("name") for s in js(["service", "list"]).get("services", []))
    if names != ["web"]:
        fail(f"service list after deletes: {names}")

    # --- reload and check
    ok(["reload"], ["reloaded"])
    # a broken file: reload refused with FILE:LINE, the old state keeps serving
    shutil.copy(CFG, CFG + ".good")
    shutil.copy(BAD_CFG, CFG)
    gen_before = js(["status"]).get("generation")
    refused(["reload"], "table_size")
    if js(["status"]).get("generation") != gen_before:
        fail("a refused reload published a new generation")
    shutil.copy(CFG + ".good", CFG)
    ok(["reload"], ["reloaded"])
    ok(["check", CFG], ["ok"])
    c = js(["check", CFG])
    if c.get("ok") is not True:
        fail(f"check --json: {c}")

    # --- check without a daemon: falls back to sluice-control --check from PATH
    absent = os.path.join(TMP, "absent.sock")
    path_env = {"SLUICE_SOCKET": absent,
                "PATH": os.path.dirname(os.path.abspath(DAEMON)) + ":" + os.environ["PATH"]}
    rc, out, err = sluicectl("check", CFG, env_extra=path_env)
    if rc != 0:
        fail(f"check offline (good file): exit {rc}, {err!r}")
    else:
        print("ok   check FILE without a daemon, via sluice-control --check")
    rc, out, err = sluicectl("check", BAD_CFG, env_extra=path_env)
    if rc != 1:
        fail(f"check offline (bad file): exit {rc}, expected 1; {err!r}")
    else:
        print("ok   check BAD_FILE without a daemon exits 1")

    # --- status: the workers' busy share, against a real dataplane
    if DATAPLANE and os.access(DATAPLANE, os.X_OK):
        check_busy_share()
    else:
        print(f"SKIP status BUSY: sluice-dataplane not built ({DATAPLANE or 'not given'})")
finally:
    for p in dp_procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(f"/var/run/dpdk/{DP_PREFIX}", ignore_errors=True)
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    log.close()
    if failures:
        print(open(os.path.join(TMP, "daemon.log")).read()[-4000:])
    shutil.rmtree(TMP, ignore_errors=True)
    shm = f"/dev/shm/sluice-{INSTANCE}"
    if os.path.exists(shm):
        os.unlink(shm)

if failures:
    print(f"\n{len(failures)} failure(s)")
    sys.exit(1)
print("\nall end-to-end tests passed")
