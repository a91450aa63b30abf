#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sluicectl usage tests that need no daemon.

Every usage error exits 2 with exactly one line on stderr and nothing on
stdout; an unreachable socket exits 1 with one clear line; --help of every
command exits 0. Usage: usage_test.py PATH/TO/sluicectl
"""
import os
import shutil
import subprocess
import sys
import tempfile

SLUICECTL = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="sluicectl-usage-")
NOSOCK = os.path.join(TMP, "absent.sock")
failures = []


def run(args, env_extra=None):
    env = dict(os.environ)
    env.pop("SLUICE_SOCKET", None)
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([SLUICECTL] + args, capture_output=True, text=True, env=env, timeout=30)
    return p.returncode, p.stdout, p.stderr


def check(name, args, code, stderr_has=None, env_extra=None):
    rc, out, err = run(args, env_extra)
    lines = err.splitlines()
    problems = []
    if rc != code:
        problems.append(f"exit {rc}, expected {code}")
    if code != 0:
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr, expected 1")
        if lines and not lines[0].startswith("sluicectl: "):
            problems.append("stderr does not start with 'sluicectl: '")
        if out:
            problems.append(f"unexpected stdout {out!r}")
    if stderr_has and stderr_has not in err:
        problems.append(f"stderr lacks {stderr_has!r}")
    status = "ok  " if not problems else "FAIL"
    print(f"{status} {name}: sluicectl {' '.join(args)} -> {rc} {err.strip()!r}")
    if problems:
        failures.append(f"{name}: {'; '.join(problems)}")


S = ["--socket", NOSOCK]  # validation must fail before any connection

# --- usage errors: exit 2, one line
check("no command", [], 2, "needs a command")
check("unknown command", ["frobnicate"], 2, "unknown command 'frobnicate'")
check("unknown subcommand", ["backend", "frob", "web"], 2, "unknown command 'frob'")
check("group without command", ["service"], 2, "needs a command")
check("unknown option", S + ["status", "--bogus"], 2, "--bogus")
check("missing service", S + ["backend", "list"], 2, "SERVICE is required")
check("missing address", S + ["backend", "add", "web"], 2, "ADDRESS is required")
check("missing weight", S + ["backend", "weight", "web", "10.0.0.1"], 2, "WEIGHT is required")
check("missing lookup src", S + ["lookup", "web"], 2, "SRC is required")
check("missing table service", S + ["table"], 2, "SERVICE is required")
check("missing check file", S + ["check"], 2, "FILE is required")
check("check file absent", S + ["check", os.path.join(TMP, "none.toml")], 2, "does not exist")
check("bad address v4", S + ["backend", "add", "web", "10.0.0.300"], 2,
      "'10.0.0.300' is not an IPv4 or IPv6 address")
check("bad address word", S + ["backend", "del", "web", "backend1"], 2,
      "is not an IPv4 or IPv6 address")
check("bad address v6", S + ["backend", "drain", "web", "2001:db8:::1"], 2,
      "is not an IPv4 or IPv6 address")
check("bad lookup src", S + ["lookup", "web", "1.2.3"], 2, "is not an IPv4 or IPv6 address")
check("bad lookup dst", S + ["lookup", "web", "1.2.3.4", "--dst", "x"], 2,
      "is not an IPv4 or IPv6 address")
check("bad vip", S + ["service", "add", "--name", "w", "--vip", "300.1.1.1", "--port", "80"], 2,
      "is not an IPv4 or IPv6 address")
check("weight too big", S + ["backend", "add", "web", "10.0.0.1", "--weight", "65536"], 2,
      "out of range")
check("weight negative", S + ["backend", "weight", "web", "10.0.0.1", "-5"], 2)
check("weight not a number", S + ["backend", "weight", "web", "10.0.0.1", "heavy"], 2,
      "out of range")
check("weight in spec", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1", "--port",
                             "80", "--backend", "10.0.0.1,,70000"], 2, "out of range")
check("bad mac short", S + ["backend", "add", "web", "10.0.0.1", "--mac", "02:00:00:00:01"], 2,
      "is not a MAC address")
check("bad mac hex", S + ["backend", "add", "web", "10.0.0.1", "--mac", "02:00:00:00:01:zz"], 2,
      "is not a MAC address")
check("bad mac in spec", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1", "--port",
                              "80", "--backend", "10.0.0.1,nomac"], 2, "is not a MAC address")
check("bad proto lookup", S + ["lookup", "web", "1.2.3.4", "--proto", "sctp"], 2,
      "unknown protocol 'sctp'")
check("bad proto service", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1",
                                "--port", "80", "--proto", "icmp"], 2, "unknown protocol 'icmp'")
check("bad port", S + ["lookup", "web", "1.2.3.4", "70000"], 2, "is not a port number")
check("bad dport", S + ["lookup", "web", "1.2.3.4", "--dport", "-1"], 2, "is not a port number")
check("bad service port", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1",
                               "--port", "http"], 2, "is not a port number")
check("bad hash mode", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1", "--port",
                            "80", "--hash", "4tuple"], 2, "unknown hash mode '4tuple'")
check("bad forwarding mode", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1",
                                  "--port", "80", "--forwarding", "nat"], 2,
      "unknown forwarding mode 'nat'")
check("bad fail mode", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1", "--port",
                            "80", "--fail", "maybe"], 2, "unknown fail mode")
check("bad health type", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1", "--port",
                              "80", "--health-type", "icmp"], 2, "unknown health check type")
check("bad duration", S + ["service", "add", "--name", "w", "--vip", "192.0.2.1", "--port",
                           "80", "--health-interval", "soon"], 2, "is not a duration")
check("service add incomplete", S + ["service", "add", "--name", "w"], 2,
      "needs --name, --vip and --port")
check("file and flags", S + ["service", "add", "--file", "/dev/null", "--name", "w"], 2,
      "excludes")
svc_file = os.path.join(TMP, "svc.toml")
with open(svc_file, "w") as f:
    f.write('name = "w"\nvip = "192.0.2.1"\nport = 80\n[[backend]]\naddress = "10.0.0.999"\n')
check("bad address in file", S + ["service", "add", "--file", svc_file], 2,
      "is not an IPv4 or IPv6 address")
bad_toml = os.path.join(TMP, "bad.toml")
with open(bad_toml, "w") as f:
    f.write('name = "w"\nvip = \n')
check("unparsable file", S + ["service", "add", "--file", bad_toml], 2, "bad.toml:2")
check("count without watch", S + ["stats", "--count", "3"], 2, "--count requires --watch")
check("bad timeout", ["--timeout", "0"] + S + ["status"], 2, "is not a number of seconds")
for bad in ("-5", "abc", "1.5", "250ms", "", "60001", "99999999999999999999"):
    check(f"bad status interval {bad!r}", S + ["status", "--interval", bad], 2,
          f"--interval: '{bad}' is not a number of milliseconds in 0..60000")
check("bad status interval (=)", S + ["status", "--interval=-1"], 2,
      "'-1' is not a number of milliseconds")
check("status interval without value", S + ["status", "--interval"], 2, "--interval")

# --- unreachable daemon: exit 1, one line naming the socket
check("unreachable socket", S + ["status"], 1, f"cannot connect to sluice-control at {NOSOCK}")
check("unreachable (read --json)", S + ["service", "list", "--json"], 1, "cannot connect")
check("unreachable (change)", S + ["backend", "add", "web", "10.0.0.1"], 1, "cannot connect")
# Good --interval values pass validation and reach the (absent) socket.
for good in ("0", "250", "60000"):
    check(f"status interval {good}", S + ["status", "--interval", good], 1, "cannot connect")
check("SLUICE_SOCKET honoured", ["status"], 1, f"at {NOSOCK}",
      env_extra={"SLUICE_SOCKET": NOSOCK})
check("--socket beats SLUICE_SOCKET", ["--socket", NOSOCK, "status"], 1, f"at {NOSOCK}",
      env_extra={"SLUICE_SOCKET": "/nonexistent/other.sock"})
# A socket that accepts but never answers: the deadline ends the wait.
import socket  # noqa: E402
import time  # noqa: E402
silent = os.path.join(TMP, "silent.sock")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(silent)
srv.listen(8)
t0 = time.monotonic()
check("deadline", ["--socket", silent, "--timeout", "0.5", "status"], 1, "no reply")
elapsed = time.monotonic() - t0
if elapsed > 5:
    failures.append(f"deadline: took {elapsed:.1f} s with --timeout 0.5")
srv.close()
# check FILE without a daemon and without sluice-control anywhere: exit 1.
cfg = os.path.join(TMP, "sluice.toml")
with open(cfg, "w") as f:
    f.write("# empty\n")
empty_bin = os.path.join(TMP, "bin")
os.mkdir(empty_bin)
if os.path.exists(os.path.join(os.path.dirname(os.path.realpath(SLUICECTL)), "sluice-control")):
    print("skip check-offline-missing: sluice-control sits next to sluicectl")
else:
    check("check offline, no sluice-control", ["--socket", NOSOCK, "check", cfg], 1,
          "no sluice-control binary", env_extra={"PATH": empty_bin})

# --- help: exit 0 for every command, usage on stdout
commands = [[], ["service"], ["service", "list"], ["service", "show"], ["service", "add"],
            ["service", "del"], ["backend"], ["backend", "list"], ["backend", "add"],
            ["backend", "del"], ["backend", "drain"], ["backend", "undrain"],
            ["backend", "weight"], ["health"], ["stats"], ["lookup"], ["table"], ["status"],
            ["reload"], ["check"]]
for c in commands:
    rc, out, err = run(c + ["--help"])
    ok = rc == 0 and "Usage: sluicectl" in out and not err
    if c and c[-1] not in ("service", "backend") and "Example" not in out:
        ok = False
    print(f"{'ok  ' if ok else 'FAIL'} help: sluicectl {' '.join(c)} --help -> {rc}")
    if not ok:
        failures.append(f"help of {' '.join(c) or 'sluicectl'}: exit {rc}, stderr {err!r}")
rc, out, err = run(["--version"])
if rc != 0 or not out.strip():
    failures.append("--version")

shutil.rmtree(TMP, ignore_errors=True)
if failures:
    print(f"\n{len(failures)} failure(s):")
    for f in failures:
        print("  " + f)
    sys.exit(1)
print("\nall usage tests passed")
