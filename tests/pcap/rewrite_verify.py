#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks sluice's packet rewriters with decoders that share no code with them.

1. Builds input frames with scapy (IPv4/IPv6, TCP/UDP, VLAN and QinQ, IPv4
   options, IPv6 extension headers, Ethernet padding, packets at and past the
   MTU, forwarded ICMP errors, ARP, neighbour solicitations, echo requests).
2. Runs sluice-rewrite-pcap over them: it applies sluice/rewrite.h (built as
   C11) and writes the outputs plus a manifest of what each output is.
3. Decodes every output with scapy and checks every field the rewrite is
   responsible for: addresses, MACs, VLAN tags, lengths, TTL/hop limit, DF,
   TOS, IPv4 id, IPv6 flow label, protocol numbers, the GUE header, the
   inner packet byte for byte, ICMP quotes, ARP/NA/echo fields, and every
   IPv4/TCP/UDP/ICMP/ICMPv6 checksum (scapy recomputes each one after the
   field is cleared, and must arrive at the same value).
4. Runs tshark with checksum validation over input and output and requires
   that it reports no bad checksum and no malformed packet.

Exit status 0 only if every check passed.

usage: rewrite_verify.py --tool PATH/sluice-rewrite-pcap --workdir DIR
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, IPerror, IPOption_NOP,
                       IPOption_RR, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, Padding,
                       Raw, RawPcapReader, TCPerror, conf, in6_getnsma, inet_pton, socket,
                       wrpcap)
from scapy.utils6 import in6_getnsmac

conf.verb = 0

CLIENT_MAC = "02:00:00:00:00:01"
ROUTER_MAC = "02:00:00:00:00:fe"
IN_DST_MAC = "02:00:00:00:00:b0"  # where the inputs are sent (the tool's MAC is in its manifest)
C4, VIP4, ROUTER4 = "198.51.100.7", "203.0.113.5", "192.0.2.254"
C6, VIP6, ROUTER6 = "2001:db8:1::7", "2001:db8:2::5", "2001:db8:ff::fe"

OVERHEAD = {"dsr": 0, "ipip4": 20, "ipip6": 40, "gue4": 32, "gue6": 52}
OUTER_FAMILY = {"ipip4": 4, "ipip6": 6, "gue4": 4, "gue6": 6}
FORWARD_OPS = ["dsr", "ipip4", "ipip6", "gue4", "gue6"]


def payload(n, seed=1):
    return bytes((seed + 7 * i) & 0xFF for i in range(n))


def eth(vlans=(), dst=IN_DST_MAC, src=CLIENT_MAC):
    if len(vlans) == 2:
        return Ether(dst=dst, src=src, type=0x88A8) / Dot1AD(vlan=vlans[0]) / Dot1Q(vlan=vlans[1])
    if len(vlans) == 1:
        return Ether(dst=dst, src=src) / Dot1Q(vlan=vlans[0])
    return Ether(dst=dst, src=src)


def build_inputs():
    """(name, expected class, frame bytes) for every input."""
    rr = [IPOption_RR(routers=["192.0.2.1"]), IPOption_NOP()]
    solicited = socket.inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, VIP6)))
    ins = [
        ("tcp4", "flow",
         eth() / IP(src=C4, dst=VIP4, flags="DF", tos=0x28, id=4321, ttl=60)
         / TCP(sport=40001, dport=80, flags="S")),
        ("tcp4-vlan-options", "flow",
         eth([100]) / IP(src=C4, dst=VIP4, flags="DF", options=rr)
         / TCP(sport=40002, dport=80, flags="PA") / Raw(payload(200))),
        ("udp4-qinq-nodf", "flow",
         eth([10, 20]) / IP(src=C4, dst=VIP4, flags=0, id=777, tos=0xB9)
         / UDP(sport=40003, dport=40) / Raw(payload(100))),
        ("tcp4-padded", "flow",
         eth() / IP(src=C4, dst=VIP4, flags="DF") / TCP(sport=40004, dport=80, flags="A")
         / Padding(b"\x00" * 6)),
        ("tcp4-1480-df", "flow",
         eth() / IP(src=C4, dst=VIP4, flags="DF") / TCP(sport=40005, dport=80)
         / Raw(payload(1440))),
        ("udp4-1480-nodf", "flow",
         eth([30]) / IP(src=C4, dst=VIP4, flags=0, id=999) / UDP(sport=40006, dport=40)
         / Raw(payload(1452))),
        ("tcp4-1468-df-options", "flow",  # GUE over IPv4 fills exactly 1500
         eth() / IP(src=C4, dst=VIP4, flags="DF", options=rr) / TCP(sport=40007, dport=80)
         / Raw(payload(1468 - 28 - 20))),
        ("tcp4-1469-df-qinq", "flow",  # one byte too many for GUE over IPv4
         eth([11, 12]) / IP(src=C4, dst=VIP4, flags="DF") / TCP(sport=40008, dport=80)
         / Raw(payload(1469 - 40))),
        ("udp6", "flow",
         eth() / IPv6(src=C6, dst=VIP6, tc=0x28, fl=0x12345, hlim=60)
         / UDP(sport=40009, dport=40) / Raw(payload(50))),
        ("tcp6-vlan-hbh", "flow",
         eth([200]) / IPv6(src=C6, dst=VIP6) / IPv6ExtHdrHopByHop()
         / TCP(sport=40010, dport=443) / Raw(payload(300))),
        ("tcp6-1460", "flow",  # IPIP over IPv6 fills exactly 1500
         eth() / IPv6(src=C6, dst=VIP6, tc=0xB8) / TCP(sport=40011, dport=443)
         / Raw(payload(1460 - 60))),
        ("udp6-1500-vlan", "flow",  # too big for every encapsulation; quote is cut at 1232
         eth([300]) / IPv6(src=C6, dst=VIP6) / UDP(sport=40012, dport=40)
         / Raw(payload(1500 - 48))),
        ("icmp4-frag-needed-from-router", "flow",
         eth(src=ROUTER_MAC) / IP(src=ROUTER4, dst=VIP4) / ICMP(type=3, code=4, nexthopmtu=1400)
         / IPerror(src=VIP4, dst=C4, flags="DF") / TCPerror(sport=80, dport=40001)
         / Raw(payload(8))),
        ("icmp6-ptb-from-router", "flow",
         eth(src=ROUTER_MAC) / IPv6(src=ROUTER6, dst=VIP6) / ICMPv6PacketTooBig(mtu=1280)
         / IPv6(src=VIP6, dst=C6) / TCP(sport=443, dport=40011) / Raw(payload(64))),
        ("arp-request-vlan", "arp",
         eth([100], dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CLIENT_MAC, psrc=C4, pdst=VIP4)
         / Padding(b"\x00" * 18)),
        ("arp-probe", "arp",
         eth(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CLIENT_MAC, psrc="0.0.0.0", pdst=VIP4)
         / Padding(b"\x00" * 18)),
        ("ns", "nd",
         eth(dst=in6_getnsmac(inet_pton(socket.AF_INET6, VIP6)))
         / IPv6(src=C6, dst=solicited, hlim=255) / ICMPv6ND_NS(tgt=VIP6)
         / ICMPv6NDOptSrcLLAddr(lladdr=CLIENT_MAC)),
        ("ns-dad-vlan", "nd",
         eth([5], dst=in6_getnsmac(inet_pton(socket.AF_INET6, VIP6)))
         / IPv6(src="::", dst=solicited, hlim=255) / ICMPv6ND_NS(tgt=VIP6)),
        ("echo4-vlan-options", "echo",
         eth([7]) / IP(src=C4, dst=VIP4, options=rr, tos=0x10) / ICMP(type=8, id=0x1234, seq=7)
         / Raw(payload(56))),
        ("echo4-padded", "echo",
         eth() / IP(src=C4, dst=VIP4) / ICMP(type=8, id=1, seq=1) / Raw(b"hi")
         / Padding(b"\x00" * 16)),
        ("echo6", "echo",
         eth() / IPv6(src=C6, dst=VIP6) / ICMPv6EchoRequest(id=0x4321, seq=9, data=payload(40))),
        ("echo6-dstopts", "echo",
         eth([9]) / IPv6(src=C6, dst=VIP6) / IPv6ExtHdrDestOpt()
         / ICMPv6EchoRequest(id=5, seq=6, data=payload(33))),
    ]
    return [(name, cls, bytes(pkt)) for name, cls, pkt in ins]


class Checker:
    def __init__(self):
        self.failures = []
        self.checks = 0
        self.where = ""

    def eq(self, what, got, want):
        self.checks += 1
        if got != want:
            self.failures.append(f"{self.where}: {what}: got {got!r}, want {want!r}")

    def true(self, what, cond):
        self.checks += 1
        if not cond:
            self.failures.append(f"{self.where}: {what}")


# ---- decoding helpers ----
def l2_info(frame):
    """(vlan tags as [(tpid, vid)], L3 offset, L3 ethertype) as scapy decodes them."""
    e = Ether(frame)
    tags = []
    tpid = e.type
    layer = e.payload
    while isinstance(layer, (Dot1Q, Dot1AD)):
        tags.append((tpid, layer.vlan))
        tpid = layer.type
        layer = layer.payload
    return tags, 14 + 4 * len(tags), tpid


def ip_bytes(frame):
    """The IP packet of a frame without Ethernet padding, per its own length."""
    _, off, et = l2_info(frame)
    if et == 0x0800:
        return frame[off:off + IP(frame[off:]).len]
    return frame[off:off + 40 + IPv6(frame[off:]).plen]


QUOTED = ("IPerror", "TCPerror", "UDPerror", "ICMPerror", "IPerror6", "ICMPv6Error")


def layers(pkt):
    out = []
    layer = pkt
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        out.append(layer)
        layer = layer.payload
    return out


def check_checksums(c, data, cls):
    """Every checksum of data decoded as cls, outside ICMP quotes, must be the
    one scapy computes itself when the field is cleared. UDP over IPv4 may
    carry 0 (no checksum)."""
    pkt = cls(data)
    fresh = cls(data)
    for layer in layers(fresh):
        name = layer.__class__.__name__
        if name in QUOTED:
            break
        for f in ("chksum", "cksum"):
            if f in layer.fields:
                if name == "UDP" and layer.fields[f] == 0 and isinstance(layer.underlayer, IP):
                    continue
                # setattr (not .fields) so that scapy drops its cached raw bytes
                setattr(layer, f, None)
    rebuilt = cls(bytes(fresh))
    for a, b in zip(layers(pkt), layers(rebuilt)):
        name = a.__class__.__name__
        if name in QUOTED:
            break
        for f in ("chksum", "cksum"):
            if f in a.fields:
                c.eq(f"{name}.{f}", hex(a.fields[f]), hex(b.fields[f]))
    c.eq("bytes unchanged by a scapy rebuild", bytes(rebuilt) == data, True)


def flow_h32(h):
    return (h & 0xFFFFFFFF) ^ (h >> 32)


def expected_forward_verdict(op, inner, mtu):
    if op == "dsr" or len(inner) + OVERHEAD[op] <= mtu:
        return "ok"
    if inner[0] >> 4 == 6 or IP(inner).flags.DF:
        return "mtu_exceeded"
    return "mtu_exceeded_no_df"


# ---- per operation ----
def check_dsr(c, cfg, inp, out, entry):
    c.eq("length", len(out), len(inp))
    c.eq("dst MAC", Ether(out).dst, entry["backend_mac"])
    c.eq("src MAC", Ether(out).src, cfg["box_mac"])
    c.eq("bytes after the MACs", out[12:] == inp[12:], True)


def check_encap(c, cfg, inp, out, entry, op):
    tags_in, l2, _ = l2_info(inp)
    tags_out, l2o, et = l2_info(out)
    inner = ip_bytes(inp)
    gue = op.startswith("gue")
    fam = OUTER_FAMILY[op]
    ovh = OVERHEAD[op]
    h = entry["flow_hash"]
    c.eq("VLAN tags", tags_out, tags_in)
    c.eq("L2 length", l2o, l2)
    c.eq("dst MAC", Ether(out).dst, cfg["gw_mac"])
    c.eq("src MAC", Ether(out).src, cfg["box_mac"])
    c.eq("frame length", len(out), l2 + ovh + len(inner))
    c.eq("bytes prepended", entry["prepended"], ovh)
    inner_is4 = inner[0] >> 4 == 4
    inner_tos = IP(inner).tos if inner_is4 else IPv6(inner).tc
    inner_df = bool(IP(inner).flags.DF) if inner_is4 else True
    inner_proto = 4 if inner_is4 else 41
    outer = out[l2:]
    if fam == 4:
        c.eq("ethertype", et, 0x0800)
        o = IP(outer)
        c.eq("outer version/ihl", (o.version, o.ihl), (4, 5))
        c.eq("outer total length", o.len, ovh + len(inner))
        c.eq("outer TTL", o.ttl, cfg["ttl"])
        c.eq("outer TOS", o.tos, inner_tos)
        c.eq("outer DF", bool(o.flags.DF), inner_df)
        c.eq("outer MF/offset", (bool(o.flags.MF), o.frag), (False, 0))
        c.eq("outer protocol", o.proto, 17 if gue else inner_proto)
        c.eq("outer src", o.src, cfg["box_ip4"])
        c.eq("outer dst", o.dst, entry["backend"])
        want_id = 0 if inner_df else IP(inner).id ^ (flow_h32(h) & 0xFFFF)
        c.eq("outer id", o.id, want_id)
        hdr = 20
    else:
        c.eq("ethertype", et, 0x86DD)
        o = IPv6(outer)
        c.eq("outer payload length", o.plen, ovh - 40 + len(inner))
        c.eq("outer hop limit", o.hlim, cfg["ttl"])
        c.eq("outer traffic class", o.tc, inner_tos)
        h32 = flow_h32(h)
        label = (h32 ^ (h32 >> 20)) & 0xFFFFF
        c.eq("outer flow label", o.fl, label or 1)
        c.eq("outer next header", o.nh, 17 if gue else inner_proto)
        c.eq("outer src", o.src, cfg["box_ip6"])
        c.eq("outer dst", o.dst, entry["backend"])
        hdr = 40
    if gue:
        u = UDP(outer[hdr:hdr + 8])
        lo, hi = cfg["gue_sport_min"], cfg["gue_sport_max"]
        c.true(f"GUE source port {u.sport} in [{lo}, {hi}]", lo <= u.sport <= hi)
        c.eq("GUE source port from the flow hash", u.sport,
             lo + ((flow_h32(h) * (hi - lo + 1)) >> 32))
        c.eq("GUE destination port", u.dport, entry["gue_dport"])
        c.eq("UDP length", u.len, 8 + 4 + len(inner))
        if fam == 4:
            c.eq("UDP checksum over IPv4", u.chksum, 0)
        else:
            c.true("UDP checksum over IPv6 is not 0", u.chksum != 0)
        gh = outer[hdr + 8:hdr + 12]
        c.eq("GUE version/C/hlen byte", gh[0], 0)
        c.eq("GUE proto_ctype", gh[1], inner_proto)
        c.eq("GUE flags", gh[2:4], b"\x00\x00")
        got_inner = outer[hdr + 12:]
    else:
        got_inner = outer[hdr:]
    c.eq("inner packet byte for byte", got_inner == inner, True)
    # every checksum: outer IP (+UDP over IPv6) through the Ethernet decoder,
    # the inner packet through scapy's IP/IPv6 decoder
    check_checksums(c, out, Ether)
    check_checksums(c, got_inner, IP if inner_is4 else IPv6)


def check_too_big(c, cfg, inp, out, entry):
    tags_in, l2, _ = l2_info(inp)
    tags_out, l2o, et = l2_info(out)
    orig = ip_bytes(inp)
    c.eq("VLAN tags", tags_out, tags_in)
    c.eq("dst MAC (back to the sender)", Ether(out).dst, Ether(inp).src)
    c.eq("src MAC", Ether(out).src, cfg["box_mac"])
    reply = out[l2o:]
    if orig[0] >> 4 == 4:
        oi = IP(orig)
        q = min(len(orig), 576 - 28)
        c.eq("ethertype", et, 0x0800)
        r = IP(reply)
        c.eq("frame length", len(out), l2 + 28 + q)
        c.eq("IP total length", r.len, 28 + q)
        c.true("reply within 576 bytes", r.len <= 576)
        c.eq("IP src = VIP", r.src, oi.dst)
        c.eq("IP dst = client", r.dst, oi.src)
        c.eq("TTL", r.ttl, 64)
        c.eq("protocol", r.proto, 1)
        c.eq("ihl", r.ihl, 5)
        ic = r[ICMP]
        c.eq("ICMP type/code", (ic.type, ic.code), (3, 4))
        c.eq("next-hop MTU", ic.nexthopmtu, entry["mtu"])
        c.eq("next-hop MTU = MTU - overhead", entry["mtu"],
             cfg["mtu"] - OVERHEAD[entry["op"][len("too_big_"):]])
        c.eq("ICMP unused bytes", reply[24:26], b"\x00\x00")
        c.eq("quoted original", reply[28:] == orig[:q], True)
        c.eq("quote decodes as the original header", (r[IPerror].src, r[IPerror].dst, r[IPerror].id),
             (oi.src, oi.dst, oi.id))
    else:
        oi = IPv6(orig)
        q = min(len(orig), 1280 - 48)
        c.eq("ethertype", et, 0x86DD)
        r = IPv6(reply)
        c.eq("frame length", len(out), l2 + 48 + q)
        c.eq("payload length", r.plen, 8 + q)
        c.true("reply within 1280 bytes", 40 + r.plen <= 1280)
        c.eq("IPv6 src = VIP", r.src, oi.dst)
        c.eq("IPv6 dst = client", r.dst, oi.src)
        c.eq("hop limit", r.hlim, 64)
        c.eq("next header", r.nh, 58)
        ptb = r[ICMPv6PacketTooBig]
        c.eq("ICMPv6 type/code", (ptb.type, ptb.code), (2, 0))
        c.eq("MTU", ptb.mtu, entry["mtu"])
        c.eq("MTU = MTU - overhead", entry["mtu"],
             cfg["mtu"] - OVERHEAD[entry["op"][len("too_big_"):]])
        c.eq("quoted original", reply[48:] == orig[:q], True)
    check_checksums(c, out, Ether)


def check_arp(c, cfg, inp, out, entry):
    tags_in, _, _ = l2_info(inp)
    tags_out, _, _ = l2_info(out)
    a_in, a = Ether(inp)[ARP], Ether(out)[ARP]
    c.eq("VLAN tags", tags_out, tags_in)
    c.eq("length", len(out), len(inp))
    c.eq("dst MAC", Ether(out).dst, a_in.hwsrc)
    c.eq("src MAC", Ether(out).src, cfg["box_mac"])
    c.eq("hw/proto type and lengths", (a.hwtype, a.ptype, a.hwlen, a.plen), (1, 0x0800, 6, 4))
    c.eq("op", a.op, 2)
    c.eq("sender MAC", a.hwsrc, cfg["box_mac"])
    c.eq("sender IP = asked address", a.psrc, a_in.pdst)
    c.eq("target MAC", a.hwdst, a_in.hwsrc)
    c.eq("target IP", a.pdst, a_in.psrc)


def check_nd(c, cfg, inp, out, entry):
    tags_in, l2, _ = l2_info(inp)
    tags_out, _, _ = l2_info(out)
    ns_ip = Ether(inp)[IPv6]
    ns = Ether(inp)[ICMPv6ND_NS]
    dad = ns_ip.src == "::"
    e = Ether(out)
    c.eq("VLAN tags", tags_out, tags_in)
    c.eq("frame length", len(out), l2 + 40 + 32)
    c.eq("dst MAC", e.dst, "33:33:00:00:00:01" if dad else Ether(inp).src)
    c.eq("src MAC", e.src, cfg["box_mac"])
    ip = e[IPv6]
    c.eq("IPv6 src = target", ip.src, ns.tgt)
    c.eq("IPv6 dst", ip.dst, "ff02::1" if dad else ns_ip.src)
    c.eq("hop limit", ip.hlim, 255)
    c.eq("next header", ip.nh, 58)
    c.eq("payload length", ip.plen, 32)
    na = e[ICMPv6ND_NA]
    c.eq("type/code", (na.type, na.code), (136, 0))
    c.eq("flags R/S/O", (na.R, na.S, na.O), (0, 0 if dad else 1, 1))
    c.eq("target", na.tgt, ns.tgt)
    c.true("target link-layer option present", e.haslayer(ICMPv6NDOptDstLLAddr))
    if e.haslayer(ICMPv6NDOptDstLLAddr):
        c.eq("target link-layer address", e[ICMPv6NDOptDstLLAddr].lladdr, cfg["box_mac"])
        c.eq("option length", e[ICMPv6NDOptDstLLAddr].len, 1)
    check_checksums(c, out, Ether)


def check_echo(c, cfg, inp, out, entry):
    tags_in, l2, _ = l2_info(inp)
    tags_out, _, _ = l2_info(out)
    e_in, e = Ether(inp), Ether(out)
    c.eq("VLAN tags", tags_out, tags_in)
    c.eq("dst MAC", e.dst, e_in.src)
    c.eq("src MAC", e.src, cfg["box_mac"])
    if e_in.haslayer(IP):
        i, o = e_in[IP], e[IP]
        c.eq("frame length (padding trimmed)", len(out), l2 + i.len)
        c.eq("src/dst swapped", (o.src, o.dst), (i.dst, i.src))
        c.eq("TTL", o.ttl, 64)
        c.eq("tos/id/flags/options kept", (o.tos, o.id, o.flags, bytes(o)[20:o.ihl * 4]),
             (i.tos, i.id, i.flags, bytes(i)[20:i.ihl * 4]))
        c.eq("ICMP type/code", (o[ICMP].type, o[ICMP].code), (0, 0))
        c.eq("id/seq", (o[ICMP].id, o[ICMP].seq), (i[ICMP].id, i[ICMP].seq))
        c.eq("data", bytes(o[ICMP].payload), bytes(i[ICMP].payload)[:i.len - i.ihl * 4 - 8])
    else:
        i, o = e_in[IPv6], e[IPv6]
        req = e_in[ICMPv6EchoRequest]
        icmp_len = len(bytes(req))
        c.eq("frame length", len(out), l2 + 40 + icmp_len)
        c.eq("src/dst swapped", (o.src, o.dst), (i.dst, i.src))
        c.eq("hop limit", o.hlim, 64)
        c.eq("next header (no extension headers)", o.nh, 58)
        c.eq("payload length", o.plen, icmp_len)
        c.true("echo reply decoded", e.haslayer(ICMPv6EchoReply))
        if e.haslayer(ICMPv6EchoReply):
            rep = e[ICMPv6EchoReply]
            c.eq("id/seq/data", (rep.id, rep.seq, bytes(rep.data)), (req.id, req.seq, bytes(req.data)))
    check_checksums(c, out, Ether)


def tshark_bad(path):
    """Frames tshark flags with a bad checksum or as malformed (None: no tshark)."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    # TCP/UDP checksums inside an ICMP error quote cover a truncated segment
    # and cannot verify; the quote is compared with the original instead.
    flt = ("ip.checksum.status == \"Bad\" || icmp.checksum.status == \"Bad\" || "
           "icmpv6.checksum.status == \"Bad\" || _ws.malformed || "
           "((tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\") "
           "&& !icmp && !icmpv6)")
    args = [tshark, "-n", "-r", path, "-o", "ip.check_checksum:TRUE", "-o",
            "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    res = subprocess.run(args + ["-Y", flt], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return [f"tshark failed: {res.stderr.strip()}"]
    bad = [line for line in res.stdout.splitlines() if line.strip()]
    total = subprocess.run(args, capture_output=True, text=True, check=False)
    return bad, len([line for line in total.stdout.splitlines() if line.strip()])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    in_pcap = os.path.join(args.workdir, "rewrite-in.pcap")
    out_pcap = os.path.join(args.workdir, "rewrite-out.pcap")
    manifest = os.path.join(args.workdir, "rewrite-manifest.json")

    inputs = build_inputs()
    wrpcap(in_pcap, [Ether(f) for _, _, f in inputs])
    subprocess.run([args.tool, in_pcap, out_pcap, manifest], check=True)
    with open(manifest, encoding="utf-8") as fh:
        man = json.load(fh)
    outputs = [bytes(rec[0]) for rec in RawPcapReader(out_pcap)]
    cfg = man["config"]

    c = Checker()
    c.where = "manifest"
    c.eq("inputs seen by the tool", man["inputs"], len(inputs))
    used = [e["out"] for e in man["ops"] if e["out"] >= 0]
    c.eq("every output frame described exactly once", sorted(used), list(range(len(outputs))))

    by_input = {}
    for e in man["ops"]:
        by_input.setdefault(e["in"], []).append(e)
    counts = {}
    for idx, (name, cls, frame) in enumerate(inputs):
        c.where = f"input {idx} ({name})"
        check_checksums(c, frame, Ether)  # the inputs themselves are sound
        entries = {e["op"]: e for e in by_input.get(idx, [])}
        if cls == "flow":
            inner = ip_bytes(frame)
            want = {}
            for op in FORWARD_OPS:
                want[op] = expected_forward_verdict(op, inner, cfg["mtu"])
                if want[op] == "mtu_exceeded":
                    want["too_big_" + op] = "ok"
        else:
            want = {{"arp": "arp_reply", "nd": "nd_reply", "echo": "echo_reply"}[cls]: "ok"}
        c.eq("operations and verdicts", {k: v["verdict"] for k, v in entries.items()}, want)
        for op, e in entries.items():
            if e["out"] < 0 or e["verdict"] != "ok":
                continue
            out = outputs[e["out"]]
            c.where = f"input {idx} ({name}) {op} -> output {e['out']}"
            counts[op] = counts.get(op, 0) + 1
            if op == "dsr":
                check_dsr(c, cfg, frame, out, e)
            elif op in OUTER_FAMILY:
                check_encap(c, cfg, frame, out, e, op)
            elif op.startswith("too_big_"):
                check_too_big(c, cfg, frame, out, e)
            elif op == "arp_reply":
                check_arp(c, cfg, frame, out, e)
            elif op == "nd_reply":
                check_nd(c, cfg, frame, out, e)
            elif op == "echo_reply":
                check_echo(c, cfg, frame, out, e)
            else:
                c.true(f"unknown operation {op}", False)

    c.where = "tshark"
    for path in (in_pcap, out_pcap):
        res = tshark_bad(path)
        if res is None:
            print("tshark not found: cross-check skipped")
            break
        if isinstance(res, list):
            c.true(res[0], False)
            continue
        bad, total = res
        c.eq(f"{os.path.basename(path)}: frames decoded", total,
             len(inputs) if path == in_pcap else len(outputs))
        c.eq(f"{os.path.basename(path)}: frames with bad checksums or malformed", bad, [])

    print(f"{len(inputs)} inputs, {len(outputs)} outputs, {c.checks} checks; "
          + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
    if c.failures:
        for f in c.failures:
            print("FAIL", f)
        print(f"{len(c.failures)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
