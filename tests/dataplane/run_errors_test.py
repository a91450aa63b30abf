#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""dataplane-errors: bad startup input gets a clear error and changes nothing.

Runs the real sluice-dataplane with one bad input at a time: its own options
(unknown, missing value, MAC, addresses, MTU, instance, port count), the
[dataplane] section of a config file, and what only DPDK can find out (a port
no driver takes, a vdev spec its driver refuses, a PCI address that is not
there, no hugepages, too many lcores, an af_packet port with more qpairs than
workers). For each run:

- the exit code: 2 for a usage error (sluice's options or the config file,
  refused before the EAL starts), 1 for a setup error (anything found once
  the EAL runs, its own arguments included);
- stderr: exactly one line of sluice's own, naming the problem and the fix
  (key substrings; the EAL's message above it where the docs point to it);
  `(see sluice-dataplane -- --help)` after a usage error only;
- no hang: every run is killed after 30 s and counted as a failure;
- nothing left behind: no /dev/shm/sluice-<instance> for the instance it was
  given, no DPDK runtime directory (/var/run/dpdk/<file-prefix>, or under
  $XDG_RUNTIME_DIR or /tmp when not root) for its --file-prefix, and a
  region or runtime directory that existed before is left as it was.

The positive control: `--no-huge -m 256 --no-shconf` on net_null0 starts,
exits 0 on SIGTERM and removes the runtime directory it created (the region
stays: a restarted dataplane needs it).

Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_TEST_DIR.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DP = os.environ.get("SLUICE_DATAPLANE")
HERE = os.environ.get("SLUICE_TEST_DIR") or os.path.dirname(os.path.abspath(__file__))
RUN_TIMEOUT = 30
TAG = f"dperr-{os.getpid()}"
CPU = str(min(os.sched_getaffinity(0)))
ROOT = os.geteuid() == 0
NOHUGE = ["--no-huge", "-m", "256", "--no-shconf"]
HELP_LINE = "(see sluice-dataplane -- --help)"

failures = []
counter = 0


def runtime_base():
    """DPDK 22.11's runtime directory base (eal_create_runtime_dir)."""
    if ROOT:
        return "/var/run/dpdk"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or "/tmp", "dpdk")


def max_workers():
    text = open(os.path.join(HERE, "../../dataplane/core/include/sluice/region.h")).read()
    return int(re.search(r"#define SL_MAX_WORKERS (\d+)", text).group(1))


def tagged_leftovers():
    """Entries of this test's runs in /dev/shm and the runtime base."""
    found = []
    for d in ("/dev/shm", runtime_base()):
        if os.path.isdir(d):
            found += [os.path.join(d, n) for n in os.listdir(d) if TAG in n]
    return found


def remove_leftovers():
    for p in tagged_leftovers():
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass


def fail(name, why, stderr=""):
    failures.append(name)
    print(f"FAIL {name}: {why}")
    if stderr:
        print("  stderr:\n    " + "\n    ".join(stderr.rstrip().splitlines()[-12:]))


def new_run_ids():
    global counter
    counter += 1
    return f"{TAG}-{counter}", f"sluice-{TAG}-{counter}"  # instance, file prefix


def check_run(name, argv, rc_want, msg, eal_msg, instance, prefix, keep_region=False,
              keep_dir=False, notices=(), absent=()):
    """Runs argv; checks exit code, sluice's error line, the EAL's lines, and
    that neither the region nor the runtime directory was created."""
    shm = f"/dev/shm/sluice-{instance}"
    rundir = os.path.join(runtime_base(), prefix)
    # keep_region: True, the region must come out byte for byte as it was;
    # "live", a running dataplane's, which must still be there (its own
    # heartbeats change it).
    region_before = digest(shm) if keep_region is True else None
    if not keep_region and os.path.exists(shm):
        fail(name, f"{shm} exists before the run")
        return
    if not keep_dir and os.path.exists(rundir):
        fail(name, f"{rundir} exists before the run")
        return
    base_existed = os.path.exists(runtime_base())
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        fail(name, f"no exit within {RUN_TIMEOUT} s (killed)", err)
        return
    ms = (time.monotonic() - t0) * 1000
    err = p.stderr
    ours = [l for l in err.splitlines() if l.startswith("sluice-dataplane: ")]
    ok = True
    if p.returncode != rc_want:
        fail(name, f"exit code {p.returncode}, expected {rc_want}", err)
        ok = False
    if len(ours) != 1 + len(notices):
        fail(name, f"{len(ours)} lines of sluice-dataplane's own on stderr, expected "
             f"{1 + len(notices)}", err)
        ok = False
    else:
        for want, got in zip(notices, ours):
            missing = [m for m in want if m not in got]
            if missing:
                fail(name, f"notice lacks {missing}: {got!r}")
                ok = False
        line = ours[-1]
        missing = [m for m in msg if m not in line]
        if missing:
            fail(name, f"error line lacks {missing}: {line!r}")
            ok = False
        there = [m for m in absent if m in line]
        if there:
            fail(name, f"error line has {there}: {line!r}")
            ok = False
        if len(line) > 600:
            fail(name, f"error line of {len(line)} characters: {line!r}")
            ok = False
    missing = [m for m in eal_msg if m not in err]
    if missing:
        fail(name, f"stderr lacks {missing}", err)
        ok = False
    if (HELP_LINE in err) != (rc_want == 2):
        fail(name, f"'{HELP_LINE}' {'missing after' if rc_want == 2 else 'after'} the error", err)
        ok = False
    # Nothing left behind.
    if keep_region == "live":
        if not os.path.exists(shm):
            fail(name, f"the running dataplane's region {shm} was removed")
            ok = False
    elif keep_region:
        if digest(shm) != region_before:
            fail(name, f"the existing region {shm} was changed or removed")
            ok = False
    elif os.path.exists(shm):
        fail(name, f"left {shm} behind")
        ok = False
    if keep_dir:
        if not os.path.isdir(rundir):
            fail(name, f"removed the runtime directory {rundir} that existed before it")
            ok = False
    elif os.path.exists(rundir):
        fail(name, f"left {rundir} behind: {sorted(os.listdir(rundir))}")
        ok = False
    if not base_existed and os.path.exists(runtime_base()):
        fail(name, f"left {runtime_base()} behind")
        ok = False
    if ok:
        print(f"ok   {name}: exit {p.returncode} in {ms:.0f} ms: {ours[-1][len('sluice-dataplane: '):]}")


def digest(path):
    if not os.path.exists(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def case(name, app, rc, msg, eal_msg=(), eal=None, sep=True, instance=None, prefix=None,
         keep_region=False, keep_dir=False, notices=(), absent=()):
    """One bad start. `eal`: EAL arguments (default: one lcore, no PCI, no
    hugepages); --file-prefix and --instance are added, unique per run.
    `notices`: per line of sluice's own expected before the error line, its
    key substrings; `absent`: substrings the error line must not have."""
    inst, pfx = new_run_ids()
    inst = instance or inst
    pfx = prefix or pfx
    if eal is None:
        eal = ["-l", CPU, "--no-pci"] + NOHUGE
    eal = eal + ["--file-prefix", pfx, "--log-level=*:warning"]
    app = ["--instance", inst] + app
    argv = [DP] + eal + (["--"] if sep else []) + app
    check_run(name, argv, rc, msg, eal_msg, inst, pfx, keep_region, keep_dir, notices, absent)


def config_case(name, text, rc, msg, eal_msg=(), path=None, app=()):
    """A config file's [dataplane] section; its eal_args (when it has them)
    carry the EAL arguments, the command line has none. `app`: sluice
    options given on the command line too."""
    inst, pfx = new_run_ids()
    eal = ["-l", CPU, "--no-pci"] + NOHUGE + ["--file-prefix", pfx, "--log-level=*:warning"]
    if path is None:
        path = os.path.join(WORK, f"{name}.toml")
        with open(path, "w") as f:
            f.write(text.replace("@EAL@", ", ".join(f'"{a}"' for a in eal)))
    argv = [DP, "--", "--config", path, "--instance", inst, *app]
    check_run(name, argv, rc, msg, eal_msg, inst, pfx)


def started_argv(inst, pfx, port=("--port", "net_null0")):
    """A dataplane that starts: one lcore, no PCI, no hugepages, `port`."""
    return [DP, "-l", CPU, "--no-pci"] + NOHUGE + ["--file-prefix", pfx, "--log-level=*:warning",
                                                  "--", *port, "--instance", inst]


def kill_and_unlink(p, inst):
    """A test's dataplane killed if it still runs, and its region removed."""
    if p.poll() is None:
        p.kill()
        p.wait()
    if os.path.exists(f"/dev/shm/sluice-{inst}"):
        os.unlink(f"/dev/shm/sluice-{inst}")


def positive_control(name="start-and-stop", port=("--port", "net_null0")):
    """Starts on net_null0 (or `port`: sluice options) without hugepages,
    stops on SIGTERM with exit 0. Returns the instance, whose region stays
    (for the cases that check an existing region is left alone)."""
    inst, pfx = new_run_ids()
    rundir = os.path.join(runtime_base(), pfx)
    log = os.path.join(WORK, "control.log")
    argv = started_argv(inst, pfx, port)
    with open(log, "w") as lf:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    t0 = time.monotonic()
    up = False
    while time.monotonic() - t0 < RUN_TIMEOUT and p.poll() is None:
        if "sluice-dataplane: instance '" in open(log).read():
            up = True
            break
        time.sleep(0.05)
    if not up:
        if p.poll() is None:
            p.kill()
        p.wait()
        fail(name, f"did not start within {RUN_TIMEOUT} s (exit {p.returncode})", open(log).read())
        return None
    t_up = (time.monotonic() - t0) * 1000
    time.sleep(0.3)  # the worker polls
    if p.poll() is not None:
        fail(name, f"exited with {p.returncode} after starting", open(log).read())
        return None
    ok = True
    if not os.path.exists(f"/dev/shm/sluice-{inst}"):
        fail(name, f"running, but no /dev/shm/sluice-{inst}")
        ok = False
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        fail(name, f"no exit within {RUN_TIMEOUT} s of SIGTERM", open(log).read())
        return inst
    text = open(log).read()
    if rc != 0:
        fail(name, f"exit code {rc} after SIGTERM, expected 0", text)
        ok = False
    if "sluice-dataplane: stopped" not in text:
        fail(name, "no 'stopped' line", text)
        ok = False
    # Without a gateway MAC, one line at start says what becomes of ipip/gue.
    no_gw = text.count("sluice-dataplane: no gateway MAC (--gateway-mac, or gateway_mac in the "
                       "config file): ipip and gue traffic will be dropped as encap_failed")
    if no_gw != (0 if "--gateway-mac" in port else 1):
        fail(name, f"{no_gw} 'no gateway MAC' lines, expected "
             f"{0 if '--gateway-mac' in port else 1}", text)
        ok = False
    if os.path.exists(rundir):
        fail(name, f"left {rundir} behind: {sorted(os.listdir(rundir))}")
        ok = False
    if ok:
        print(f"ok   {name}: up in {t_up:.0f} ms, exit 0 on SIGTERM, runtime directory removed")
    return inst


def region_counters(inst):
    out = subprocess.run([os.environ["SLUICE_DP_REGION"], "counters", "--instance", inst],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out)


def second_dataplane():
    """A second dataplane on a running one's instance: refused before its
    EAL and ports (exit 1, one line naming the first one's pid), the first
    one's area of the region as it was (its pid, its workers' pids and
    states), and the first stops with exit 0 after."""
    name = "second-dataplane"
    inst, pfx = new_run_ids()
    log = os.path.join(WORK, "first.log")
    argv = started_argv(inst, pfx)
    with open(log, "w") as lf:
        first = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < RUN_TIMEOUT and first.poll() is None:
            if "sluice-dataplane: instance '" in open(log).read():
                break
            time.sleep(0.05)
        else:
            fail(name, "the first dataplane did not start", open(log).read())
            return
        before = region_counters(inst)
        t0 = time.monotonic()
        while (not before["workers"] or before["workers"][0]["run"] != 1) and \
                time.monotonic() - t0 < RUN_TIMEOUT:
            time.sleep(0.05)  # its worker registers once the ports run
            before = region_counters(inst)
        case(name, ["--port", "net_null0"], 1,
             [f"another sluice-dataplane (pid {first.pid}) runs on instance '{inst}'",
              "another --instance"], instance=inst, keep_region="live")
        after = region_counters(inst)
        def who(c):
            return (c["pid"], c["n_workers"], [(w["pid"], w["run"]) for w in c["workers"]])
        if who(after) != who(before) or after["pid"] != first.pid:
            fail(name, f"the first dataplane's area changed: {who(before)} -> {who(after)}")
        first.send_signal(signal.SIGTERM)
        rc = first.wait(timeout=RUN_TIMEOUT)
        if rc != 0:
            fail(name, f"the first dataplane exited with {rc} after SIGTERM", open(log).read())
    finally:
        kill_and_unlink(first, inst)


def stderr_full():
    """stderr on /dev/full, where every write fails: the dataplane starts, its
    worker runs, and it stops on SIGTERM with exit 0 (its lines are lost, not
    its run: a short write of fmt::print threw, and the process ended with
    SIGABRT)."""
    name = "stderr-full"
    inst, pfx = new_run_ids()
    argv = started_argv(inst, pfx)
    with open("/dev/full", "w") as full:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=full)
    try:
        t0 = time.monotonic()
        running = False
        while time.monotonic() - t0 < RUN_TIMEOUT and p.poll() is None:
            if os.path.exists(f"/dev/shm/sluice-{inst}"):
                w = region_counters(inst)["workers"]
                if w and w[0]["run"] == 1:
                    running = True
                    break
            time.sleep(0.05)
        if not running:
            fail(name, f"its worker did not run (exit {p.poll()})")
            return
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=RUN_TIMEOUT)
        if rc != 0:
            fail(name, f"exit {rc} after SIGTERM, expected 0")
            return
        print(f"ok   {name}: ran with every write to stderr failing, exit 0 on SIGTERM")
    finally:
        kill_and_unlink(p, inst)


def sigterm_at_start():
    """SIGTERM while the EAL starts: the dataplane finishes starting, stops
    the clean way and exits 0, runtime directory removed (the signal killed
    it there, and the directory stayed). The EAL is held in its start by a
    net_pcap port reading a FIFO, which blocks until the test writes the
    pcap header."""
    name = "sigterm-at-start"
    inst, pfx = new_run_ids()
    rundir = os.path.join(runtime_base(), pfx)
    fifo = os.path.join(WORK, "start.fifo")
    os.mkfifo(fifo)
    argv = started_argv(inst, pfx, (
        "--port", f"net_pcap0,rx_pcap={fifo},tx_pcap={os.path.join(WORK, 'start-out.pcap')}"))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)

    def catches_sigterm():
        try:
            with open(f"/proc/{p.pid}/status") as f:
                cgt = [l for l in f if l.startswith("SigCgt:")]
        except OSError:
            return False
        return bool(cgt) and (int(cgt[0].split()[1], 16) >> (signal.SIGTERM - 1)) & 1 == 1

    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < RUN_TIMEOUT and p.poll() is None and \
                not os.path.isdir(rundir):
            time.sleep(0.01)
        time.sleep(0.3)  # into the port's probe: it waits for the FIFO's writer
        if p.poll() is not None or not os.path.isdir(rundir):
            fail(name, f"the EAL did not start (exit {p.poll()})", p.communicate()[1])
            return
        if not catches_sigterm():
            fail(name, "no SIGTERM handler while the EAL starts: a stop now kills it")
        p.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # fails with ENXIO if it died
            # an empty pcap file: the global header only (Ethernet, 65535)
            os.write(fd, bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
            os.close(fd)
        except OSError:
            pass
        _, err = p.communicate(timeout=RUN_TIMEOUT)
        if p.returncode != 0:
            fail(name, f"exit {p.returncode}, expected 0", err)
            return
        if os.path.exists(rundir):
            fail(name, f"left {rundir} behind")
            return
        if "sluice-dataplane: stopped" not in err:
            fail(name, "no 'stopped' line", err)
            return
        print(f"ok   {name}: exit 0, runtime directory removed")
    finally:
        kill_and_unlink(p, inst)
        if os.path.exists(rundir):
            shutil.rmtree(rundir, ignore_errors=True)


def main():
    if not DP or not os.access(DP, os.X_OK):
        print(f"FAIL: SLUICE_DATAPLANE ({DP!r}) is not an executable")
        return 1
    print(f"sluice-dataplane {DP}; lcore {CPU}; runtime directories under {runtime_base()}"
          f"{'' if ROOT else ' (not root)'}")
    null = ["--port", "net_null0"]

    # --- Usage errors: sluice's own options, refused before the EAL runs. ---
    case("unknown-option", null + ["--bogus"], 2, ["--bogus", "not expected"])
    case("missing-value", null + ["--mac"], 2, ["--mac", "missing"])
    case("missing-port-value", ["--port"], 2, ["--port", "missing"])
    case("no-port", [], 2, ["no port given", "--port"])
    case("no-separator", null, 2, ["'--'", "[EAL options] -- --port"], sep=False)
    case("bad-mac-short", null + ["--mac", "02:00:00:00:00"], 2,
         ["bad MAC address '02:00:00:00:00'", "02:00:00:00:00:01"])
    case("bad-mac-hex", null + ["--mac", "02:00:00:00:00:0g"], 2,
         ["bad MAC address '02:00:00:00:00:0g'", "02:00:00:00:00:01"])
    case("bad-gateway-mac", null + ["--gateway-mac", "02-00-00-00-00-fe"], 2,
         ["bad MAC address '02-00-00-00-00-fe'", "02:00:00:00:00:01"])
    # What sscanf's %2x took for a byte: a sign, "0x", a leading space.
    case("bad-mac-minus", null + ["--mac=-1:-1:-1:-1:-1:-1"], 2,
         ["--mac: bad MAC address '-1:-1:-1:-1:-1:-1'"])
    case("bad-mac-0x", null + ["--mac", "0x:0x:0x:0x:0x:0x"], 2,
         ["--mac: bad MAC address '0x:0x:0x:0x:0x:0x'"])
    case("bad-gateway-mac-plus", null + ["--gateway-mac", "+1:+2:+3:+4:+5:+6"], 2,
         ["--gateway-mac: bad MAC address '+1:+2:+3:+4:+5:+6'"])
    case("bad-mac-space", null + ["--mac", " 1: 2: 3: 4: 5: 6"], 2,
         ["--mac: bad MAC address ' 1: 2: 3: 4: 5: 6'"])
    case("mac-multicast", null + ["--mac", "01:00:5e:00:00:01"], 2,
         ["--mac: 01:00:5e:00:00:01 is not a unicast MAC address", "02:00:00:00:00:01"])
    case("mac-zero", null + ["--mac", "00:00:00:00:00:00"], 2,
         ["--mac: 00:00:00:00:00:00 is not a unicast MAC address"])
    case("gateway-mac-broadcast", null + ["--gateway-mac", "ff:ff:ff:ff:ff:ff"], 2,
         ["--gateway-mac: ff:ff:ff:ff:ff:ff is not a unicast MAC address"])
    case("gateway-mac-zero", null + ["--gateway-mac", "00:00:00:00:00:00"], 2,
         ["--gateway-mac: 00:00:00:00:00:00 is not a unicast MAC address"])
    case("bad-ipv4", null + ["--ipv4", "192.0.2.300"], 2,
         ["bad IPv4 address '192.0.2.300'", "192.0.2.1"])
    case("ipv6-as-ipv4", null + ["--ipv4", "2001:db8::1"], 2, ["bad IPv4 address '2001:db8::1'"])
    case("bad-ipv6", null + ["--ipv6", "2001:db8:::1"], 2,
         ["bad IPv6 address '2001:db8:::1'", "2001:db8::1"])
    case("ipv4-as-ipv6", null + ["--ipv6", "192.0.2.1"], 2, ["bad IPv6 address '192.0.2.1'"])
    # The box's own addresses: the outer source of every encapsulated packet.
    for opt, bad in (("--ipv4", "0.0.0.0"), ("--ipv4", "255.255.255.255"),
                     ("--ipv4", "224.0.0.5"), ("--ipv4", "127.0.0.1"), ("--ipv6", "::"),
                     ("--ipv6", "::1"), ("--ipv6", "ff02::1")):
        case(f"own-address-{bad}", null + [opt, bad], 2,
             [f"{opt} {bad} is unspecified, broadcast, multicast or loopback",
              "the box's own address"])
    case("mtu-zero", null + ["--mtu", "0"], 2, ["--mtu", "0", "576 to 9216"])
    case("mtu-too-big", null + ["--mtu", "99999"], 2, ["--mtu", "99999", "576 to 9216"])
    case("mtu-not-a-number", null + ["--mtu", "abc"], 2, ["--mtu", "abc", "576 to 9216"])
    case("mtu-below-ipv6-minimum", null + ["--ipv6", "2001:db8::1", "--mtu", "1000"], 2,
         ["MTU 1000", "IPv6", "1280"])
    case("gue-port-zero", null + ["--gue-port", "0"], 2, ["--gue-port", "0", "1 to 65535"])
    case("gue-port-too-big", null + ["--gue-port", "70000"], 2,
         ["--gue-port", "70000", "1 to 65535"])
    case("rx-desc-too-small", null + ["--rx-desc", "10"], 2, ["--rx-desc", "64 to 8192"])
    # Fewer mbufs than the rings of one worker hold (DPDK took 384 and more,
    # and refused fewer with advice to give fewer).
    case("mbufs-too-few", null + ["--mbufs", "100"], 2,
         ["--mbufs 100 is too few", "1 port(s) with --rx-desc 1024 and --tx-desc 1024 need at "
          "least", "or leave it out"])
    case("mbufs-too-few-small-rings", null + ["--rx-desc", "64", "--tx-desc", "64",
                                              "--mbufs", "400"], 2,
         ["--mbufs 400 is too few", "--rx-desc 64 and --tx-desc 64 need at least"])
    case("bad-instance", null, 2, ["bad instance name 'no/slash'", "[A-Za-z0-9_-]"],
         instance="no/slash")
    case("two-armed-one-port", null + ["--two-armed"], 2,
         ["--two-armed needs exactly two --port (1 given)"])
    case("two-armed-false-two-ports", null + ["--port", "net_null1", "--two-armed=false"], 2,
         ["two ports given", "--two-armed"])
    case("two-ports-one-armed", null + ["--port", "net_null1"], 2, ["two ports", "--two-armed"])
    case("two-armed-same-port", null + ["--port", "net_null0,size=64", "--two-armed"], 2,
         ["two different ports", "'net_null0' is given twice"])
    case("two-armed-same-pci-port", ["--port", "0000:AF:00.0", "--port", "af:00.0",
                                     "--two-armed"], 2,
         ["two different ports", "'0000:af:00.0' is given twice"])

    # --- The config file's [dataplane] section (usage errors too). ---
    missing = os.path.join(WORK, "missing.toml")
    config_case("config-missing", "", 2, [missing, "cannot read", "No such file"], path=missing)
    config_case("config-malformed", '[dataplane\nports = ["net_null0"]\n', 2,
                ["config-malformed.toml:1", "syntax"])
    config_case("config-bad-mtu", '[dataplane]\nports = ["net_null0"]\nmtu = 100\n', 2,
                ["dataplane.mtu", "100", "576..9216"])
    config_case("config-bad-mac", '[dataplane]\nports = ["net_null0"]\nmac = "zz:00:00:00:00:01"\n',
                2, ["dataplane.mac", "zz:00:00:00:00:01", "02:00:00:00:00:01"])
    config_case("config-mac-multicast",
                '[dataplane]\nports = ["net_null0"]\nmac = "01:00:5e:00:00:01"\n', 2,
                ["dataplane.mac", "01:00:5e:00:00:01 is not a unicast MAC address"])
    config_case("config-gateway-mac-zero",
                '[dataplane]\nports = ["net_null0"]\ngateway_mac = "00:00:00:00:00:00"\n', 2,
                ["dataplane.gateway_mac", "00:00:00:00:00:00 is not a unicast MAC address"])
    config_case("config-ipv6-as-ipv4", '[dataplane]\nports = ["net_null0"]\nipv4 = "2001:db8::1"\n',
                2, ["dataplane.ipv4", "must be an IPv4 address"])
    config_case("config-ipv4-loopback", '[dataplane]\nports = ["net_null0"]\nipv4 = "127.0.0.1"\n',
                2, ["dataplane.ipv4", "127.0.0.1 is unspecified, broadcast, multicast or loopback"])
    config_case("config-ipv6-multicast", '[dataplane]\nports = ["net_null0"]\nipv6 = "ff02::1"\n',
                2, ["dataplane.ipv6", "ff02::1 is unspecified, broadcast, multicast or loopback"])
    config_case("config-unknown-key", '[dataplane]\nports = ["net_null0"]\nbogus_key = 1\n', 2,
                ["dataplane.bogus_key", "unknown key"])
    config_case("config-kind-xdp", '[dataplane]\nkind = "xdp"\nports = ["eth0"]\n', 2,
                ['kind is "xdp"', 'kind = "dpdk"'])

    # --- Setup errors: found once the EAL runs. ---
    case("eal-unknown-option", null, 1, ["EAL initialisation failed", "invalid EAL argument"],
         ["unrecognized option '--bogus-eal'"],
         eal=["-l", CPU, "--no-pci", "--bogus-eal"] + NOHUGE)
    case("vdev-no-driver", ["--port", "net_nonexistent0"], 1,
         ["no DPDK driver", "net_nonexistent0", "net_null0"],
         ["Unable to parse device 'net_nonexistent0'"])
    case("vdev-unknown-key", ["--port", "net_null0,bogus=1"], 1,
         ["port 'net_null0' was not created", "refused 'net_null0,bogus=1'",
          "ports DPDK found: none"])
    case("vdev-unparsable", ["--port", "net_null0,=x"], 1,
         ["port 'net_null0' was not created", "refused 'net_null0,=x'"])
    zc_sock = os.path.join(WORK, "zc.sock")
    case("vdev-memif-zero-copy-segments",
         ["--port", f"net_memif0,role=client,socket={zc_sock},socket-abstract=no,zero-copy=yes"],
         1, ["port 'net_memif0' was not created", "zero-copy=yes needs the EAL option "
             "--single-file-segments"], ["Zero-copy doesn't support multi-file segments"])
    pcap_in = os.path.join(WORK, "missing.pcap")
    pcap_out = os.path.join(WORK, "out.pcap")
    case("vdev-pcap-missing-file", ["--port", f"net_pcap0,rx_pcap={pcap_in},tx_pcap={pcap_out}"],
         1, ["port 'net_pcap0' was not created", "refused"], [pcap_in])
    if os.path.exists(pcap_out):
        fail("vdev-pcap-missing-file", f"{pcap_out} was created")
    case("two-armed-second-no-driver", null + ["--port", "net_bogus1", "--two-armed"], 1,
         ["no DPDK driver", "net_bogus1"], ["Unable to parse device 'net_bogus1'"])
    case("two-armed-second-refused", null + ["--port", "net_null1,bogus=1", "--two-armed"], 1,
         ["port 'net_null1' was not created", "refused 'net_null1,bogus=1'",
          "ports DPDK found: net_null0"])
    # two_armed = true in the file: the error says so (it named --two-armed),
    # and --two-armed=false overrides it (it was ignored): one-armed on the
    # port given, which its driver refuses once the EAL runs.
    config_case("config-two-armed-one-port",
                '[dataplane]\nports = ["net_null0"]\ntwo_armed = true\neal_args = [@EAL@]\n', 2,
                ["two_armed (from ", "config-two-armed-one-port.toml) needs exactly two ports",
                 "(1 given in ", "--two-armed=false"])
    config_case("config-two-armed-overridden",
                '[dataplane]\nports = ["net_null0", "net_null1"]\ntwo_armed = true\n'
                'eal_args = [@EAL@]\n', 1,
                ["port 'net_null0' was not created", "refused 'net_null0,bogus=1'"],
                app=["--two-armed=false", "--port", "net_null0,bogus=1"])
    config_case("config-two-armed-second-no-driver",
                '[dataplane]\nports = ["net_null0", "net_bogus1"]\ntwo_armed = true\n'
                'eal_args = [@EAL@]\n', 1, ["no DPDK driver", "net_bogus1"],
                ["Unable to parse device 'net_bogus1'"])
    pci = "0000:99:00.0"
    if os.path.exists(f"/sys/bus/pci/devices/{pci}"):
        print(f"skip pci-*: {pci} exists on this machine")
    else:
        case("pci-absent-no-pci", ["--port", pci], 1,
             [f"port '{pci}' does not exist", "ports DPDK found: none", "--no-pci",
              "drop it", "vfio-pci"])
        # the short form names the same port, as DPDK names it
        case("pci-absent-short", ["--port", "99:00.0"], 1,
             [f"port '{pci}' does not exist", "ports DPDK found: none"])
        case("pci-absent", ["--port", pci], 1,
             [f"port '{pci}' does not exist", "ports DPDK found: none", "vfio-pci", "--no-pci"],
             eal=["-l", CPU] + NOHUGE)
    # Enough for one worker, too few for the two that two lcores give.
    case("mbufs-too-few-for-workers", null + ["--rx-desc", "64", "--tx-desc", "64",
                                              "--mbufs", "700"], 1,
         ["--mbufs 700 is too few for 1 port(s) and 2 worker(s)", "or leave it out"],
         eal=["--lcores", f"(0-1)@{CPU}", "--no-pci"] + NOHUGE)
    case("mbufs-no-memory", null + ["--mbufs", "400000"], 1,
         ["cannot create mbuf pool of 400000 mbufs", "not enough hugepage memory",
          "give fewer --mbufs"])
    n = max_workers() + 1
    case("too-many-lcores", null, 1, [f"{n} lcores given", f"at most {n - 1}"],
         eal=["--lcores", f"(0-{n - 1})@{CPU}", "--no-pci"] + NOHUGE)
    # No hugepages, deterministic on any machine: without --in-memory the
    # EAL uses only a hugetlbfs mounted at --huge-dir, and a directory made
    # for the test is none. No --no-shconf: the EAL also writes its config
    # and socket into the runtime directory, which must go too.
    hugedir = os.path.join(WORK, "no-hugetlbfs")
    os.mkdir(hugedir)
    case("no-hugepages", null, 1,
         ["EAL initialisation failed", "hugepages", "--in-memory", "--no-huge -m 256 --no-shconf"],
         ["Cannot get hugepage information"],
         eal=["-l", CPU, "--no-pci", "--huge-dir", hugedir])
    if not ROOT:
        print("skip af-packet-qpairs: an af_packet socket needs root (CAP_NET_RAW)")
    else:
        flags = open("/sys/class/net/lo/flags").read()
        case("af-packet-qpairs", ["--port", "net_af_packet0,iface=lo,qpairs=2"], 1,
             ["qpairs=2", "1 worker(s)", "give qpairs=1 or 2 lcores"])
        if open("/sys/class/net/lo/flags").read() != flags:
            fail("af-packet-qpairs", "the flags of lo changed")
        # Two workers, but the other arm (net_pcap: one queue) limits them to
        # one: the refusal names that port, not "2 lcores" (which were given).
        empty = os.path.join(WORK, "empty.pcap")
        with open(empty, "wb") as f:
            f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        case("af-packet-qpairs-other-port",
             ["--two-armed", "--port", "net_af_packet0,iface=lo,qpairs=2", "--port",
              f"net_pcap0,rx_pcap={empty},tx_pcap={os.path.join(WORK, 'empty-out.pcap')}"], 1,
             ["qpairs=2", "1 worker(s)", "give qpairs=1", "'net_pcap0' (net_pcap) has 1 queue",
              "more lcores do not help"],
             eal=["--lcores", f"(0-1)@{CPU}", "--no-pci"] + NOHUGE, absent=["or 2 lcores"],
             notices=[["port 'net_pcap0' (net_pcap) supports 1 queue(s); using 1 worker(s)"]])
        # af_packet frames (framesz) too small for the MTU: the kernel would
        # cut larger packets short. The PMD reports 1518-byte frames whatever
        # framesz is, so sluice checks framesz itself.
        case("af-packet-mtu", ["--port", "net_af_packet0,iface=lo", "--mtu", "9000"], 1,
             ["framesz", "2048", "too small for an MTU of 9000", "framesz=10240,blocksz=20480"])
        # blocksz not a multiple of framesz: the PMD reads frames framesz
        # apart, the kernel puts them in blocks (it does not check this).
        case("af-packet-blocksz",
             ["--port", "net_af_packet0,iface=lo,framesz=9088,blocksz=16384", "--mtu", "9000"], 1,
             ["blocksz=16384 is not a multiple of framesz=9088", "framesz=10240,blocksz=20480"])
        # lo's MTU is the host's: the dataplane leaves it alone (it set it to
        # --mtu, for good).
        lo_mtu = open("/sys/class/net/lo/mtu").read().strip()
        jumbo = positive_control("af-packet-jumbo-start",
                                 ("--port", "net_af_packet0,iface=lo,framesz=10240,blocksz=20480",
                                  "--mtu", "9000"))
        if open("/sys/class/net/lo/mtu").read().strip() != lo_mtu:
            fail("af-packet-jumbo-start", f"the MTU of lo changed from {lo_mtu} to "
                 f"{open('/sys/class/net/lo/mtu').read().strip()}")
        if jumbo is not None:
            os.unlink(f"/dev/shm/sluice-{jumbo}")

    # --- The positive control, then bad starts on state that exists. ---
    mbufs = positive_control("mbufs-start", ("--port", "net_null0", "--rx-desc", "64",
                                             "--tx-desc", "64", "--mbufs", "1024",
                                             "--gateway-mac", "02:00:00:00:00:fe"))
    if mbufs is not None:
        os.unlink(f"/dev/shm/sluice-{mbufs}")
    inst = positive_control()
    if inst is not None:
        _, keep_prefix = new_run_ids()
        keep_dir = os.path.join(runtime_base(), keep_prefix)
        base_existed = os.path.exists(runtime_base())
        os.makedirs(keep_dir)
        case("existing-region-usage-error", null + ["--mac", "bad"], 2, ["bad MAC"],
             instance=inst, keep_region=True)
        case("existing-state-setup-error", ["--port", "net_null0,bogus=1"], 1,
             ["was not created"], instance=inst, prefix=keep_prefix, keep_region=True,
             keep_dir=True)
        os.rmdir(keep_dir)
        if not base_existed:
            os.rmdir(runtime_base())
        os.unlink(f"/dev/shm/sluice-{inst}")

    second_dataplane()
    stderr_full()
    sigterm_at_start()

    left = tagged_leftovers()
    if left:
        fail("leftovers", f"{left}")
    failed = list(dict.fromkeys(failures))
    print(f"{counter} runs, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    WORK = tempfile.mkdtemp(prefix="sluice-dp-errors.")
    try:
        rc = main()
    finally:
        remove_leftovers()
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(rc)
