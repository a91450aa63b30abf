#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Traffic for the dataplane multi-queue and af_xdp tests (run_multiqueue_test.sh,
run_afxdp_test.sh).

  multiqueue.py gen IN.pcap
      many flows to the VIPs of services.json (dsr-l2 TCP over IPv4 and
      IPv6, ipip UDP, gue TCP), every packet tagged "SLMQ" + its index in
      its payload; then a few flows of 16 packets each (the affinity part).
  multiqueue.py send --iface IF --pred PRED.jsonl --region TOOL --instance I
                     IN.pcap OUT.pcap STATS.json
      sends IN.pcap into IF (a raw packet socket, in batches of at most
      WINDOW packets: the next batch leaves once every output of the last
      one came back, so that no ring or backlog on the way can overflow),
      captures what comes back out of IF, writes it to OUT.pcap; the
      affinity flows one at a time, reading the workers' rx counters from
      the region around each. STATS.json: what was sent and captured, the
      kernel's drop counters on the way, the affinity observations.
  multiqueue.py verify IN.pcap PRED.jsonl OUT.pcap STATS.json COUNTERS.json
      every output packet matched to its input by the tag and checked with
      verify_pcap.check_forward against the offline prediction (backend,
      rewrite); every packet accounted for; each worker's share of rx
      (--workers N: the number of workers it must have, default 2).
Run inside the test's network namespace (send) or anywhere (gen, verify)."""
import argparse
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import time
from collections import Counter

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_pcap as vp  # noqa: E402  (the pcap test's scapy checker)

BOX_MAC = vp.BOX_MAC
ROUTER = "02:00:00:00:00:01"
TAG = b"SLMQ"
MAIN_FLOWS = 1024      # distinct flows of the main part
MAIN_ROUNDS = 4        # packets per flow, interleaved: round r of every flow, then r + 1
AFFINITY_FLOWS = 16
AFFINITY_PACKETS = 16
WINDOW = 64            # packets in flight at most (the af_packet rings hold 512 frames each)
MIN_SHARE = 0.20       # each worker must receive at least this share of the packets
STALL_S = 5.0          # no output for this long: the batch's missing packets are lost

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4


def read_pcap(path):
    """The frames of a classic little-endian pcap file, as bytes (scapy's
    rdpcap takes seconds for a few thousand packets)."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return []
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        raise ValueError("%s: not a little-endian microsecond pcap" % path)
    out, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def flow_packet(f, seq, rnd, ip_size=0):
    """Packet `rnd` of flow f (0-based), tagged with its index `seq` in the
    pcap; with ip_size, padded to an IP packet of that many bytes."""
    if ip_size:
        p = flow_packet(f, seq, rnd)
        pad = ip_size - (len(bytes(p)) - 14)
        return p if pad <= 0 else p / Raw(b"j" * pad)
    payload = TAG + struct.pack(">I", seq) + b"p" * ((f + rnd) % 24)
    eth = Ether(src=ROUTER, dst=BOX_MAC)
    src4 = "198.18.%d.%d" % ((f >> 8) & 0xFF, f & 0xFF)
    sport = 1024 + (f * 7919) % 60000
    kind = f % 8
    if kind < 3:    # dsr-l2, IPv4, TCP 10.0.0.1:80
        return eth / IP(src=src4, dst="10.0.0.1") / TCP(sport=sport, dport=80, flags="PA") / Raw(payload)
    if kind < 6:    # ipip, UDP 10.0.0.2:53
        return eth / IP(src=src4, dst="10.0.0.2", flags="DF") / UDP(sport=sport, dport=53) / Raw(payload)
    if kind == 6:   # dsr-l2, IPv6, TCP [2001:db8::100]:443
        return (eth / IPv6(src="2001:db8:ff::%x" % (f + 1), dst="2001:db8::100") /
                TCP(sport=sport, dport=443, flags="PA") / Raw(payload))
    # gue, TCP to 10.0.0.3 (any port), hashed on the source address only
    return eth / IP(src=src4, dst="10.0.0.3") / TCP(sport=sport, dport=8000 + f % 100, flags="A") / Raw(payload)


def cmd_gen(a):
    pkts = []
    for rnd in range(MAIN_ROUNDS):
        for f in range(MAIN_FLOWS):
            pkts.append(bytes(flow_packet(f, len(pkts), rnd, a.ip_size)))
    # Affinity flows: other flows (indices past the main ones), dsr-l2 and ipip.
    for k in range(AFFINITY_FLOWS):
        f = MAIN_FLOWS + 8 * k + (k % 2) * 3
        for rnd in range(AFFINITY_PACKETS):
            pkts.append(bytes(flow_packet(f, len(pkts), rnd, a.ip_size)))
    write_pcap(a.pcap, pkts)
    print("%d packets: %d flows x %d, then %d flows x %d one flow at a time"
          % (len(pkts), MAIN_FLOWS, MAIN_ROUNDS, AFFINITY_FLOWS, AFFINITY_PACKETS))
    return 0


def tag_of(frame):
    k = frame.find(TAG)
    if k < 0 or k + 8 > len(frame):
        return None
    return struct.unpack(">I", frame[k + 4:k + 8])[0]


def sysfs_stats(iface):
    d = "/sys/class/net/%s/statistics" % iface
    out = {}
    for k in ("rx_packets", "tx_packets", "rx_dropped", "tx_dropped"):
        try:
            out[k] = int(open(os.path.join(d, k)).read())
        except OSError:
            out[k] = None
    return out


def worker_rx(a):
    out = subprocess.run([a.region, "counters", "--instance", a.instance], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [w["rx_packets"] for w in json.loads(out)["workers"]]


def cmd_send(a):
    frames = read_pcap(a.pcap)
    pred = [json.loads(line) for line in open(a.pred)]
    if len(pred) != len(frames):
        print("FAIL: %d predictions for %d packets" % (len(pred), len(frames)))
        return 1
    expect_out = [p["outcome"] != "drop" for p in pred]
    n_main = MAIN_FLOWS * MAIN_ROUNDS

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.iface, ETH_P_ALL))
    s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)  # reading resets them
    s.settimeout(0.2)
    before = {i: sysfs_stats(i) for i in a.veth}

    n_sent = 0
    got = {}           # input index -> output frame (the first)
    dup = Counter()    # input index -> further copies
    other = []         # incoming frames without a tag
    stalls = []

    def collect(pending):
        """Receives until every index in `pending` came back or STALL_S passes
        without any output."""
        last = time.monotonic()
        while pending:
            try:
                data, addr = s.recvfrom(65535)
            except socket.timeout:
                if time.monotonic() - last > STALL_S:
                    stalls.append(sorted(pending))
                    return
                continue
            if addr[2] == PACKET_OUTGOING:
                continue  # our own frames leaving
            last = time.monotonic()
            i = tag_of(data)
            if i is None or i >= len(frames):
                other.append(data)
                continue
            if i in got:
                dup[i] += 1
                continue
            got[i] = data
            pending.discard(i)

    def send(indices):
        nonlocal n_sent
        for i in indices:
            s.send(frames[i])
            n_sent += 1
        collect({i for i in indices if expect_out[i]})

    t0 = time.monotonic()
    for b in range(0, n_main, WINDOW):
        send(range(b, min(b + WINDOW, n_main)))
        if len(stalls) > 3:
            break
    t_main = time.monotonic() - t0

    # Affinity: one flow at a time; the rx counters of the workers before and
    # after (the region's, once the dataplane counted everything sent).
    affinity = []
    if len(stalls) <= 3:
        subprocess.run([a.region, "wait-rx", "--instance", a.instance, "--packets", str(n_main),
                        "--timeout-ms", "5000"], check=False)
        rx0 = worker_rx(a)
        for k in range(AFFINITY_FLOWS):
            first = n_main + k * AFFINITY_PACKETS
            send(range(first, first + AFFINITY_PACKETS))
            subprocess.run([a.region, "wait-rx", "--instance", a.instance, "--packets",
                            str(first + AFFINITY_PACKETS), "--timeout-ms", "5000"], check=False)
            rx1 = worker_rx(a)
            affinity.append([y - x for x, y in zip(rx0, rx1)])
            rx0 = rx1
    # Late outputs of stalled batches, if any.
    if stalls:
        collect({i for i in range(len(frames)) if expect_out[i] and i not in got})

    st = s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    _, tp_drops = struct.unpack("II", st)
    after = {i: sysfs_stats(i) for i in a.veth}
    s.close()

    order = sorted(got)
    write_pcap(a.out, [got[i] for i in order])
    stats = {
        "sent": n_sent,
        "sent_main": n_main,
        "captured": len(got),
        "duplicates": sum(dup.values()),
        "other_frames": len(other),
        "other_from_box": sum(1 for f in other if f[6:12] == bytes.fromhex(BOX_MAC.replace(":", ""))),
        "stalls": [len(x) for x in stalls],
        "capture_socket_drops": tp_drops,
        "iface_before": before,
        "iface_after": after,
        "affinity": affinity,
        "main_seconds": round(t_main, 3),
    }
    json.dump(stats, open(a.stats, "w"))
    print("sent %d of %d packets (the first %d in batches of at most %d, %.2f s; then %d flows of %d "
          "packets one at a time)%s; captured %d; capture socket drops %d"
          % (n_sent, len(frames), n_main, WINDOW, t_main, len(affinity), AFFINITY_PACKETS,
             "; gave up after %d stalls" % len(stalls) if len(stalls) > 3 else "", len(got), tp_drops))
    return 0


def cmd_verify(a):
    inp = read_pcap(a.pcap)
    pred = [json.loads(line) for line in open(a.pred)]
    out = read_pcap(a.out)
    stats = json.load(open(a.stats))
    counters = json.load(open(a.counters))
    errors = vp.errors  # check_forward appends here
    sent = stats["sent"]

    # 1. The packet core predicts a forward for every packet sent.
    not_fwd = Counter(p["outcome"] + ":" + p["drop"] for p in pred[:sent] if p["outcome"] != "forward")
    if not_fwd:
        errors.append("the packet core predicts other outcomes than forward: %s" % dict(not_fwd))

    # 2. Every output is the forward of one input, to the backend and with the
    # rewrite `lookup` predicts (verify_pcap's check).
    seen = set()
    by_backend = Counter()
    for ob in out:
        i = tag_of(ob)
        if i is None or i >= sent:
            errors.append("an output packet without a valid tag: %s" % ob[:64].hex())
            continue
        if i in seen:
            errors.append("input %d came out twice" % i)
            continue
        seen.add(i)
        vp.check_forward(i, inp[i], ob, pred[i])
        by_backend[str(pred[i]["backend"])] += 1
    missing = [i for i in range(sent) if i not in seen]
    if stats["duplicates"]:
        errors.append("%d packets came out more than once" % stats["duplicates"])
    if stats["other_from_box"]:
        errors.append("the dataplane sent %d frames that are no forward of a test packet"
                      % stats["other_from_box"])

    # 3. Accounting. Kernel drop counters on the way in: the sender's veth
    # end (tx_dropped) and the dataplane's (rx_dropped); on the way out: the
    # dataplane's end (tx_dropped), the sender's (rx_dropped) and the capture
    # socket (tp_drops). Between veth and the dataplane's rx counter are the
    # af_packet rings, which count nothing we can read: a loss there is a
    # failure (the window keeps them far from full).
    rx = sum(p["rx_packets"] for p in counters["ports"])
    tx = sum(p["tx_packets"] for p in counters["ports"])
    drops = {k: v for k, v in counters["drops"].items() if v}
    snd, dpe = a.veth_names

    def delta(ifc, k):
        return (stats["iface_after"][ifc][k] or 0) - (stats["iface_before"][ifc][k] or 0)
    k_in = delta(snd, "tx_dropped") + delta(dpe, "rx_dropped")
    k_out = delta(dpe, "tx_dropped") + delta(snd, "rx_dropped") + stats["capture_socket_drops"]
    acct = ("sent %d, dataplane rx %d (kernel drops on the way in: %d), tx %d, dataplane drops %s, "
            "captured %d (kernel drops on the way out: %d)"
            % (sent, rx, k_in, tx, drops or "none", len(out), k_out))
    print("accounting: " + acct)
    if sent - rx > k_in:
        errors.append("%d packets lost before the dataplane counted them, beyond the kernel's drop "
                      "counters (%d): %s" % (sent - rx, k_in, acct))
    if rx != tx or drops:
        errors.append("the dataplane did not forward everything it received: " + acct)
    if tx - len(out) > k_out:
        errors.append("%d forwarded packets not captured, beyond the kernel's drop counters (%d): %s"
                      % (tx - len(out), k_out, acct))
    if missing and not errors:
        print("lost, and counted by the kernel: %d (first %s)" % (len(missing), missing[:10]))
    if len(seen) < 0.9 * sent:
        errors.append("only %d of %d packets came back: too few to judge" % (len(seen), sent))
    if dict(by_backend) != {k: v for k, v in counters["backends"].items()} and not missing:
        errors.append("per-backend counters %s, captured %s" % (counters["backends"], dict(by_backend)))

    # 4. Every worker took a substantial part of the traffic.
    ws = counters["workers"]
    shares = [w["rx_packets"] / rx if rx else 0 for w in ws]
    print("workers: %d; rx per worker %s = %s of %d"
          % (len(ws), [w["rx_packets"] for w in ws], ["%.1f%%" % (100 * x) for x in shares], rx))
    print("tx per worker: %s (each worker sends on its own queue what it received)"
          % [w["tx_packets"] for w in ws])
    if len(ws) != a.workers:
        errors.append("the dataplane ran %d worker(s); the test needs %d" % (len(ws), a.workers))
    for w, x in enumerate(shares):
        if x < MIN_SHARE:
            errors.append("worker %d received %.1f%% of the packets (< %d%%)" % (w, 100 * x, 100 * MIN_SHARE))

    # 5. Flow affinity, observed (not a condition): one flow at a time, how
    # its packets split over the workers.
    aff = stats["affinity"]
    if aff:
        single = sum(1 for d in aff if sum(1 for x in d if x) == 1)
        where = Counter(next((w for w, x in enumerate(d) if x), -1) for d in aff if sum(1 for x in d if x) == 1)
        print("flow affinity (observed): %d of %d flows of %d packets each landed on a single worker "
              "(per worker: %s); split: %s"
              % (single, len(aff), AFFINITY_PACKETS, dict(sorted(where.items())),
                 [d for d in aff if sum(1 for x in d if x) != 1] or "none"))

    print("%d packets sent, %d forwards checked (backend and rewrite as `lookup` predicts), "
          "by backend %s" % (sent, len(seen), dict(sorted(by_backend.items(), key=lambda kv: int(kv[0])))))
    for err in errors[:50]:
        print("FAIL", err)
    return 1 if errors else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--ip-size", type=int, default=0,
                   help="pad every packet to an IP packet of this many bytes")
    g.add_argument("pcap")
    s = sub.add_parser("send")
    s.add_argument("--iface", required=True, help="the veth end to send into and capture on")
    s.add_argument("--veth", nargs=2, required=True, metavar=("SENDER", "DATAPLANE"),
                   help="both veth ends, for their drop counters")
    s.add_argument("--pred", required=True)
    s.add_argument("--region", required=True)
    s.add_argument("--instance", required=True)
    s.add_argument("pcap")
    s.add_argument("out")
    s.add_argument("stats")
    v = sub.add_parser("verify")
    v.add_argument("--veth", nargs=2, required=True, metavar=("SENDER", "DATAPLANE"), dest="veth_names")
    v.add_argument("--workers", type=int, default=2, help="the workers the dataplane must run")
    for k in ("pcap", "pred", "out", "stats", "counters"):
        v.add_argument(k)
    a = p.parse_args()
    return {"gen": cmd_gen, "send": cmd_send, "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
