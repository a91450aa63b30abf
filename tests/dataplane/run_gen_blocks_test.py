#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""gen-blocks: sluice-gen's two kinds of traffic in one run (--vips-b,
--vip-b, --flows-b).

The benchmark's sweeps over memif (tools/bench/dataplane.sh) compare two
kinds of traffic in one run: sluice-gen --vips 1 --vips-b N (N VIPs against
1), --vip-b (another service: N backends against 1) and --flows-b (N flows
against 1000) send blocks of each in turn (A B B A ...) and report B's rate
over A's. This checks, without a dataplane:

- what it sends: on a net_pcap port, every packet of an A block goes to
  VIP A + flow % V, every packet of a B block to VIP A2 + flow % M, each
  block's number in its payload (seq >> 40), both kinds present, each
  kind's flows in order within its own count (--flows, --flows-b);
- what it counts: on a net_ring port (what it sends comes back), nothing
  lost, the pairs of blocks it reports (all whole pairs but the first), each
  side's rate near the whole run's and B over A near 1;
- bad input: --vips-b 0 or past 4096, --block-ms 0, past 60000 or not a
  number, fewer than 6 blocks in --duration-ms, --flows-b 0, --vip-b not an
  address or whose VIPs run past 255.255.255.255, --expect with blocks, and
  other options' values that are not numbers in their range: exit 2 and
  one line naming the option.

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


def check_sent(tmp, name, args, a, b):
    """A and B blocks' destinations and flows over a net_pcap port; a and b:
    (first VIP, VIPs, flows) of each kind."""
    empty = os.path.join(tmp, "empty.pcap")
    with open(empty, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    out = os.path.join(tmp, "out-%d.pcap" % len(os.listdir(tmp)))  # devargs: no spaces, commas
    # Nothing comes back: a window of 64 reopened every 200 ms keeps the
    # file small, blocks of 250 ms each get some.
    r = gen("net_pcap0,rx_pcap=%s,tx_pcap=%s" % (empty, out), *args, "--duration-ms", "3000",
            "--block-ms", "250", "--window", "64", "--drain-ms", "100")
    if r.returncode != 0:
        errors.append("%s: pcap run: exit %d: %s" % (name, r.returncode, r.stderr.strip()))
        return
    pkts = pcap_packets(out)
    seen = {False: 0, True: 0}
    last_flow = {False: None, True: None}
    bad = 0
    for p in pkts:
        if len(p) < 42 + 16 or p[12:14] != b"\x08\x00" or p[23] != 17:
            bad += 1
            continue
        dst = int.from_bytes(p[30:34], "big")
        flow, seq = struct.unpack_from("<IQ", p, 42 + 4)
        side = side_b(seq >> 40)
        first, vips, flows = b if side else a
        if dst != int(ipaddress.IPv4Address(first)) + flow % vips or flow >= flows:
            bad += 1
        last = last_flow[side]
        if last is not None and flow != (last + 1) % flows:
            bad += 1
        last_flow[side] = flow
        seen[side] += 1
    if not pkts or bad:
        errors.append("%s: pcap run: %d packets, %d with a wrong destination, flow or header"
                      % (name, len(pkts), bad))
    if seen[False] == 0 or seen[True] == 0:
        errors.append("%s: pcap run: packets of A blocks %d, of B blocks %d: both expected"
                      % (name, seen[False], seen[True]))
    print("sent (%s): %d packets, %d in A blocks, %d in B blocks"
          % (name, len(pkts), seen[False], seen[True]))


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
        (["--flows-b", "4", "--duration-ms", "500"], "6 to 65536 blocks"),
        (["--flows-b", "0"], "--flows-b"),
        (["--flows-b", "ten"], "--flows-b"),
        (["--flows", "-1"], "--flows"),
        (["--vip-b", "10.0.0"], "--vip-b"),
        (["--vip-b", "255.255.255.255", "--vips-b", "2"], "255.255.255.255"),
        (["--vips-b", "2", "--expect", "/dev/null"], "--expect"),
        (["--proto", "sctp"], "--proto"),
        (["--size", "20"], "--size"),
        (["--dport", "65536"], "--dport"),
        (["--duration-ms", "1s"], "--duration-ms"),
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
        check_sent(tmp, "16 VIPs", ["--flows", "1000", "--vips", "1", "--vips-b", "16"],
                   ("10.0.0.1", 1, 1000), ("10.0.0.1", 16, 1000))
        check_sent(tmp, "another VIP, fewer flows",
                   ["--flows", "1000", "--vips", "2", "--vip-b", "10.0.1.1", "--vips-b", "4",
                    "--flows-b", "50"], ("10.0.0.1", 2, 1000), ("10.0.1.1", 4, 50))
        check_sent(tmp, "more flows", ["--flows", "100", "--flows-b", "100000"],
                   ("10.0.0.1", 1, 100), ("10.0.0.1", 1, 100000))
        check_counted()
    for e in errors:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
