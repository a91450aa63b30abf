#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent check of a sluice-dataplane pcap run.

verify_pcap.py [--no-expect] IN.pcap EXPECT.json PRED.jsonl OUT.pcap COUNTERS.json

 - EXPECT.json: what gen_pcap.py meant each input packet to cause;
 - PRED.jsonl: what the packet core run offline (sluice-dp-lookup) says,
   including the backend decide.h picks;
 - OUT.pcap: what the real dataplane sent; COUNTERS.json: its counters.

One worker, one queue: output packets come out in input order, so the
input packets that cause an output consume the output packets one by one.
Every output packet is decoded here with scapy, not with sluice code."""
import json
import logging
import sys
from collections import Counter

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (ARP, ICMP, IP, UDP, Dot1Q, Ether, ICMPv6EchoReply,  # noqa: E402
                       ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, ICMPv6PacketTooBig, IPv6,
                       IPerror, IPv6ExtHdrFragment, rdpcap, in6_chksum)

BOX_MAC = "02:00:00:00:00:aa"
GW_MAC = "02:00:00:00:00:fe"
BOX_IP4 = "192.0.2.1"
BOX_IP6 = "2001:db8::1"

errors = []


def fail(i, msg):
    errors.append("packet %d: %s" % (i, msg))


def l3_of(frame):
    """(l2 bytes, ethertype, l3 bytes) of a raw Ethernet frame."""
    off = 12
    et = int.from_bytes(frame[off:off + 2], "big")
    while et in (0x8100, 0x88A8):
        off += 4
        et = int.from_bytes(frame[off:off + 2], "big")
    return frame[:off + 2], et, frame[off + 2:]


def ip_packet_bytes(frame):
    """The IP packet of a frame, without Ethernet padding."""
    _, et, l3 = l3_of(frame)
    if et == 0x0800:
        return l3[:int.from_bytes(l3[2:4], "big")]
    if et == 0x86DD:
        return l3[:40 + int.from_bytes(l3[4:6], "big")]
    return l3


def ipv4_csum_ok(ip_bytes):
    ihl = (ip_bytes[0] & 0xF) * 4
    s = 0
    for k in range(0, ihl, 2):
        s += int.from_bytes(ip_bytes[k:k + 2], "big")
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def check_forward(i, inb, outb, pred):
    l2_in, _, _ = l3_of(inb)
    l2_out, et_out, l3_out = l3_of(outb)
    mode = pred["fwd"]
    if mode == "dsr-l2":
        want = bytes.fromhex(pred["backend_mac"].replace(":", "")) + bytes.fromhex(BOX_MAC.replace(":", ""))
        if outb[:12] != want:
            fail(i, "dsr: MACs %s, want backend %s / box" % (outb[:12].hex(), pred["backend_mac"]))
        if outb[12:] != inb[12:]:
            fail(i, "dsr: frame changed beyond the MACs")
        return
    # Encapsulated: gateway MAC, box MAC, the input's VLAN tags, outer IP.
    if outb[:6] != bytes.fromhex(GW_MAC.replace(":", "")) or outb[6:12] != bytes.fromhex(BOX_MAC.replace(":", "")):
        fail(i, "encap: MACs %s" % outb[:12].hex())
    if l2_out[12:-2] != l2_in[12:-2]:
        fail(i, "encap: VLAN tags changed")
    inner = ip_packet_bytes(inb)
    inner_v6 = (inner[0] >> 4) == 6
    fam = pred["backend_family"]
    outer = Ether(outb)
    o = outer[IP] if fam == 4 else outer[IPv6]
    if fam == 4:
        if et_out != 0x0800:
            fail(i, "encap: outer ethertype %x" % et_out)
        if o.src != BOX_IP4 or o.dst != pred["backend_addr"]:
            fail(i, "encap: outer %s -> %s, want %s -> %s" % (o.src, o.dst, BOX_IP4, pred["backend_addr"]))
        if o.ttl != 64:
            fail(i, "encap: outer TTL %d" % o.ttl)
        if not ipv4_csum_ok(bytes(o)[:20]):
            fail(i, "encap: outer IPv4 checksum wrong")
        if o.len != len(l3_out[:o.len]) or o.len != 20 + (8 + 4 if mode == "gue" else 0) + len(inner):
            fail(i, "encap: outer length %d for inner %d" % (o.len, len(inner)))
        if not inner_v6:
            df_in = bool(int.from_bytes(inner[6:8], "big") & 0x4000)
            if bool(o.flags.DF) != df_in:
                fail(i, "encap: DF not copied")
        nxt = o.proto
    else:
        if et_out != 0x86DD:
            fail(i, "encap: outer ethertype %x" % et_out)
        if o.src != BOX_IP6 or o.dst != pred["backend_addr"]:
            fail(i, "encap: outer %s -> %s" % (o.src, o.dst))
        if o.hlim != 64 or o.fl == 0:
            fail(i, "encap: outer hop limit %d / flow label %d" % (o.hlim, o.fl))
        if o.plen != (8 + 4 if mode == "gue" else 0) + len(inner):
            fail(i, "encap: outer payload length %d" % o.plen)
        nxt = o.nh
    inner_proto = 41 if inner_v6 else 4
    payload = bytes(o.payload)
    if mode == "ipip":
        if nxt != inner_proto:
            fail(i, "ipip: outer protocol %d, want %d" % (nxt, inner_proto))
    else:
        if nxt != 17:
            fail(i, "gue: outer protocol %d" % nxt)
        u = o[UDP]
        if u.dport != pred["gue_port"] or not (49152 <= u.sport <= 65535):
            fail(i, "gue: UDP ports %d -> %d" % (u.sport, u.dport))
        if u.len != 8 + 4 + len(inner):
            fail(i, "gue: UDP length %d" % u.len)
        if fam == 4 and u.chksum != 0:
            fail(i, "gue: UDP checksum over IPv4 should be 0")
        if fam == 6:
            if in6_chksum(17, o, bytes(u)) not in (0, 0xFFFF) and u.chksum != 0xFFFF:
                fail(i, "gue: UDP checksum over IPv6 wrong")
        gue = bytes(u)[8:12]
        if gue != bytes([0, inner_proto, 0, 0]):
            fail(i, "gue: header %s" % gue.hex())
        payload = bytes(u)[12:]
    if payload != inner:
        fail(i, "encap: inner packet differs from the input's IP packet")


def check_too_big(i, inb, outb, pred):
    inner = ip_packet_bytes(inb)
    outer = Ether(outb)
    if outer.dst != Ether(inb).src or outer.src != BOX_MAC:
        fail(i, "too_big: MACs %s %s" % (outer.dst, outer.src))
    if IP in outer and ICMP in outer:
        o = outer[IP]
        ic = outer[ICMP]
        if o.src != Ether(inb)[IP].dst or o.dst != Ether(inb)[IP].src:
            fail(i, "frag-needed: addresses %s -> %s" % (o.src, o.dst))
        if ic.type != 3 or ic.code != 4 or ic.nexthopmtu != pred["mtu"]:
            fail(i, "frag-needed: type %d code %d mtu %d, want mtu %d" % (ic.type, ic.code, ic.nexthopmtu, pred["mtu"]))
        if not ipv4_csum_ok(bytes(o)[:20]):
            fail(i, "frag-needed: IP checksum")
        raw = bytes(ic)
        c = ICMP(raw)
        del c.chksum
        if bytes(ICMP(bytes(c)))[2:4] != raw[2:4]:
            fail(i, "frag-needed: ICMP checksum")
        quote = raw[8:]
        if not quote or inner[:len(quote)] != quote or len(quote) < 28:
            fail(i, "frag-needed: quoted packet is not the original's start")
        if len(bytes(o)) > 576:
            fail(i, "frag-needed: longer than 576 bytes")
    elif IPv6 in outer and ICMPv6PacketTooBig in outer:
        o = outer[IPv6]
        ic = outer[ICMPv6PacketTooBig]
        if o.src != Ether(inb)[IPv6].dst or o.dst != Ether(inb)[IPv6].src:
            fail(i, "packet-too-big: addresses")
        if ic.mtu != pred["mtu"]:
            fail(i, "packet-too-big: mtu %d, want %d" % (ic.mtu, pred["mtu"]))
        if in6_chksum(58, o, bytes(ic)) != 0:
            fail(i, "packet-too-big: checksum")
        quote = bytes(ic)[8:]
        if not quote or inner[:len(quote)] != quote:
            fail(i, "packet-too-big: quote")
        if len(bytes(o)) > 1280:
            fail(i, "packet-too-big: longer than 1280 bytes")
    else:
        fail(i, "too_big: output is neither ICMP frag-needed nor ICMPv6 packet-too-big")


def check_arp(i, inb, outb):
    q = Ether(inb)
    r = Ether(outb)
    if ARP not in r:
        fail(i, "arp: output is no ARP")
        return
    a = r[ARP]
    if (a.op != 2 or a.hwsrc != BOX_MAC or a.psrc != q[ARP].pdst or a.pdst != q[ARP].psrc
            or a.hwdst != q[ARP].hwsrc or r.dst != q.src or r.src != BOX_MAC):
        fail(i, "arp: reply wrong: %s" % a.summary())


def check_nd(i, inb, outb):
    q = Ether(inb)
    r = Ether(outb)
    if ICMPv6ND_NA not in r:
        fail(i, "nd: output is no neighbour advertisement")
        return
    na = r[ICMPv6ND_NA]
    ip6 = r[IPv6]
    if na.tgt != q[IPv6].payload.tgt or ip6.src != na.tgt or ip6.dst != q[IPv6].src or ip6.hlim != 255:
        fail(i, "nd: addresses %s -> %s target %s" % (ip6.src, ip6.dst, na.tgt))
    if not (na.S and na.O) or na.R:
        fail(i, "nd: flags R%d S%d O%d" % (na.R, na.S, na.O))
    if ICMPv6NDOptDstLLAddr not in r or r[ICMPv6NDOptDstLLAddr].lladdr != BOX_MAC:
        fail(i, "nd: target link-layer option missing or wrong")
    if in6_chksum(58, ip6, bytes(ip6.payload)) != 0:
        fail(i, "nd: checksum")
    if r.dst != q.src or r.src != BOX_MAC:
        fail(i, "nd: MACs")


def check_echo(i, inb, outb):
    q = Ether(inb)
    r = Ether(outb)
    if r.dst != q.src or r.src != BOX_MAC:
        fail(i, "echo: MACs")
    if IP in q:
        if ICMP not in r or r[ICMP].type != 0:
            fail(i, "echo: no echo reply")
            return
        if r[IP].src != q[IP].dst or r[IP].dst != q[IP].src:
            fail(i, "echo: addresses")
        if not ipv4_csum_ok(bytes(r[IP])[:20]):
            fail(i, "echo: IP checksum")
        c = r[ICMP].copy()
        del c.chksum
        if ICMP(bytes(c)).chksum != r[ICMP].chksum:
            fail(i, "echo: ICMP checksum")
        if bytes(r[ICMP])[4:] != bytes(q[ICMP])[4:]:
            fail(i, "echo: id/seq/data changed")
    else:
        if ICMPv6EchoReply not in r:
            fail(i, "echo6: no echo reply")
            return
        ip6 = r[IPv6]
        if ip6.src != q[IPv6].dst or ip6.dst != q[IPv6].src:
            fail(i, "echo6: addresses")
        if in6_chksum(58, ip6, bytes(ip6.payload)) != 0:
            fail(i, "echo6: checksum")


def main():
    args = sys.argv[1:]
    check_expect = True
    if args and args[0] == "--no-expect":  # nothing published: the test's labels do not apply
        check_expect = False
        args = args[1:]
    inp = [bytes(p) for p in rdpcap(args[0])]
    expect = json.load(open(args[1]))
    pred = [json.loads(line) for line in open(args[2])]
    out = [bytes(p) for p in rdpcap(args[3])] if open(args[3], "rb").read(4) else []
    counters = json.load(open(args[4]))
    if not (len(inp) == len(expect) == len(pred)):
        print("input %d, expectations %d, predictions %d: mismatch" % (len(inp), len(expect), len(pred)))
        return 1
    oi = 0
    want_drops = Counter()
    outcomes = Counter()
    for i, (inb, exp, pr) in enumerate(zip(inp, expect, pred)):
        got = pr["outcome"] if pr["outcome"] != "drop" else "drop:" + pr["drop"]
        outcomes[got.split(":")[0]] += 1
        if check_expect and got != exp:
            fail(i, "the packet core predicts %s, the test meant %s" % (got, exp))
        if pr["drop"] != "none":
            want_drops[pr["drop"]] += 1
        if pr["outcome"] == "drop":
            continue
        if oi >= len(out):
            fail(i, "expected an output packet (%s), the dataplane sent none" % pr["outcome"])
            continue
        outb = out[oi]
        oi += 1
        {"forward": lambda: check_forward(i, inb, outb, pr),
         "too_big": lambda: check_too_big(i, inb, outb, pr),
         "arp_reply": lambda: check_arp(i, inb, outb),
         "nd_reply": lambda: check_nd(i, inb, outb),
         "echo_reply": lambda: check_echo(i, inb, outb)}[pr["outcome"]]()
    if oi != len(out):
        errors.append("the dataplane sent %d packets, %d expected" % (len(out), oi))
    # Counters: every input received, every drop under its reason.
    rx = sum(p["rx_packets"] for p in counters["ports"])
    tx = sum(p["tx_packets"] for p in counters["ports"])
    if rx != len(inp):
        errors.append("rx counter %d, input %d packets" % (rx, len(inp)))
    if tx != len(out):
        errors.append("tx counter %d, output %d packets" % (tx, len(out)))
    for reason, n in counters["drops"].items():
        if n != want_drops.get(reason, 0):
            errors.append("drop counter %s = %d, expected %d" % (reason, n, want_drops.get(reason, 0)))
    replies = {"arp_replies": outcomes["arp_reply"], "nd_replies": outcomes["nd_reply"],
               "echo_replies": outcomes["echo_reply"], "icmp_too_big_sent": outcomes["too_big"]}
    for k, v in replies.items():
        if counters[k] != v:
            errors.append("counter %s = %d, expected %d" % (k, counters[k], v))
    fwd_by_backend = Counter(str(p["backend"]) for p in pred if p["outcome"] == "forward")
    if dict(fwd_by_backend) != {k: v for k, v in counters["backends"].items()}:
        errors.append("per-backend counters %s, expected %s" % (counters["backends"], dict(fwd_by_backend)))
    print("%d input packets: %s; %d output packets checked" %
          (len(inp), ", ".join("%s %d" % kv for kv in sorted(outcomes.items())), oi))
    for e in errors[:50]:
        print("FAIL", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
