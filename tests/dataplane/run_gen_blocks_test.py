#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""gen-blocks: sluice-gen's two kinds of traffic in one run (--vips-b).

The benchmark's VIP sweep (tools/bench/dataplane.sh) compares traffic over
N VIPs with traffic over 1 in one run: sluice-gen --vips 1 --vips-b N sends
blocks of each in turn (A B B A ...) and reports B's rate over A's. This
checks, without a dataplane:

- what it sends: on a net_pcap port, every packet of an A block goes to the
  one VIP and every packet of a B block to VIP 10.0.0.1 + flow % N, each
  block's number in its payload (seq >> 40), both kinds present, flows in
  order;
- what it counts: on a net_ring port (what it sends comes back), nothing
  lost, the pairs of blocks it reports (all whole pairs but the first), each
  side's rate near the whole run's and B over A near 1;
- bad input: --vips-b 0 or past 4096, --block-ms 0, past 60000 or not a
  number, fewer than 6 blocks in --duration-ms: exit 2 and one line naming
  the option.

Environment (set by CTest): SLUICE_GEN_BIN.
"""
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile

GEN = os.environ.get("SLUICE_GEN_BIN", "")
EAL = ["-l", "0", "--no-pci", "--no-huge", "-m", "256", "--no-shconf", "--log-level=*:error"]
errors = []


def gen(port, *args, prefix="gen-blocks"):
    cmd = [GEN] + EAL + ["--file-prefix", "%s-%d" % (prefix, os.getpid()), "--", "--port", port]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)


def pcap_packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack_from("<I", data, 0)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, off + 8)[0]
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def side_b(block):
    return ((block >> 1) ^ block) & 1 == 1


def check_sent(tmp):
    """A and B blocks' destinations over a net_pcap port."""
    empty = os.path.join(tmp, "empty.pcap")
    with open(empty, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    out = os.path.join(tmp, "out.pcap")
    # Nothing comes back: a window of 64 reopened every 200 ms keeps the
    # file small, blocks of 250 ms each get some.
    r = gen("net_pcap0,rx_pcap=%s,tx_pcap=%s" % (empty, out), "--flows", "1000", "--vips", "1",
            "--vips-b", "16", "--duration-ms", "3000", "--block-ms", "250", "--window", "64",
            "--drain-ms", "100")
    if r.returncode != 0:
        errors.append("pcap run: exit %d: %s" % (r.returncode, r.stderr.strip()))
        return
    pkts = pcap_packets(out)
    base = int(ipaddress.IPv4Address("10.0.0.1"))
    seen = {False: 0, True: 0}
    last_flow = None
    bad = 0
    for p in pkts:
        if len(p) < 42 + 16 or p[12:14] != b"\x08\x00" or p[23] != 17:
            bad += 1
            continue
        dst = int.from_bytes(p[30:34], "big")
        flow, seq = struct.unpack_from("<IQ", p, 42 + 4)
        block = seq >> 40
        b = side_b(block)
        want = base + (flow % 16 if b else 0)
        if dst != want:
            bad += 1
        if last_flow is not None and flow != (last_flow + 1) % 1000:
            bad += 1
        last_flow = flow
        seen[b] += 1
    if not pkts or bad:
        errors.append("pcap run: %d packets, %d with a wrong destination, flow or header"
                      % (len(pkts), bad))
    if seen[False] == 0 or seen[True] == 0:
        errors.append("pcap run: packets of A blocks %d, of B blocks %d: both expected"
                      % (seen[False], seen[True]))
    print("sent: %d packets, %d in A blocks (1 VIP), %d in B blocks (16 VIPs)"
          % (len(pkts), seen[False], seen[True]))


def check_counted():
    """The rates and pairs over a net_ring port, which returns every packet."""
    r = gen("net_ring0", "--flows", "1000", "--vips", "1", "--vips-b", "16", "--duration-ms",
            "1200", "--block-ms", "100", "--drain-ms", "100")
    if r.returncode != 0:
        errors.append("ring run: exit %d: %s" % (r.returncode, r.stderr.strip()))
        return
    g = json.loads(r.stdout)
    # 12 whole blocks (the 13th is cut): 6 pairs, the first left out
    if g["lost"] != 0 or g["received"] == 0:
        errors.append("ring run: sent %d, received %d" % (g["sent"], g["received"]))
    if not 4 <= g["pairs"] <= 5:
        errors.append("ring run: %d pairs of blocks (4 or 5 expected)" % g["pairs"])
    for k in ("a_mpps", "b_mpps"):
        if not 0.5 * g["rx_mpps"] <= g[k] <= 2 * g["rx_mpps"]:
            errors.append("ring run: %s %.3f against %.3f for the whole run"
                          % (k, g[k], g["rx_mpps"]))
    if not 0.5 <= g["b_over_a"] <= 2:
        errors.append("ring run: B over A %.4f" % g["b_over_a"])
    print("counted: %d pairs, A %.3f Mpps, B %.3f Mpps, B/A %.4f"
          % (g["pairs"], g["a_mpps"], g["b_mpps"], g["b_over_a"]))


def check_refused():
    cases = [
        (["--vips-b", "0"], "--vips-b"),
        (["--vips-b", "4097"], "--vips-b"),
        (["--vips-b", "4", "--block-ms", "0"], "--block-ms"),
        (["--vips-b", "4", "--block-ms", "60001"], "--block-ms"),
        (["--vips-b", "4", "--block-ms", "x"], "--block-ms"),
        (["--vips-b", "4", "--duration-ms", "500"], "6 to 65536 blocks"),
    ]
    for args, want in cases:
        r = gen("net_null0", *args)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        if r.returncode != 2 or len(lines) != 1 or want not in lines[0]:
            errors.append("%s: exit %d, stderr %r (exit 2 and one line naming %r expected)"
                          % (" ".join(args), r.returncode, r.stderr, want))
    print("refused: %d bad inputs" % len(cases))


def main():
    if not GEN or not os.access(GEN, os.X_OK):
        print("SLUICE_GEN_BIN is not an executable")
        return 1
    with tempfile.TemporaryDirectory(prefix="sluice-gen-blocks.") as tmp:
        check_refused()
        check_sent(tmp)
        check_counted()
    for e in errors:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
