#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the input pcap of the dataplane pcap test and, next to it, the
expected outcome of every packet (JSON list): "forward", "too_big",
"arp_reply", "nd_reply", "echo_reply" or "drop:<reason>".

The services are those of services.json; the box is BOX_* below (the test
script passes the same values to sluice-dataplane)."""
import json
import logging
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoRequest,
                       ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, IPv6,
                       IPv6ExtHdrFragment, Raw, fragment, wrpcap)

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

BOX_MAC = "02:00:00:00:00:aa"
BOX_IP4 = "192.0.2.1"
BOX_IP6 = "2001:db8::1"
ROUTER = "02:00:00:00:00:01"
MTU = 1500

pkts = []


def add(outcome, p):
    pkts.append((outcome, p))


def eth():
    return Ether(src=ROUTER, dst=BOX_MAC)


# --- forwarded traffic, every mode and family ---------------------------------
for i in range(24):
    add("forward", eth() / IP(src="198.51.100.%d" % (10 + i), dst="10.0.0.1") /
        TCP(sport=10000 + 7 * i, dport=80, flags="S") / Raw(b"x" * (i % 5)))
for i in range(4):
    add("forward", eth() / Dot1Q(vlan=100 + i) / IP(src="198.51.100.%d" % (50 + i), dst="10.0.0.1") /
        TCP(sport=20000 + i, dport=80, flags="A"))
add("forward", Ether(src=ROUTER, dst=BOX_MAC) / Dot1Q(vlan=10, type=0x8100) / Dot1Q(vlan=20) /
    IP(src="198.51.100.60", dst="10.0.0.1") / TCP(sport=30000, dport=80))
for i in range(16):
    add("forward", eth() / IP(src="203.0.113.%d" % (1 + i), dst="10.0.0.2", flags="DF") /
        UDP(sport=40000 + i, dport=53) / Raw(b"q" * (20 + i)))
for i in range(4):
    add("forward", eth() / Dot1Q(vlan=7) / IP(src="203.0.113.%d" % (100 + i), dst="10.0.0.2") /
        UDP(sport=41000 + i, dport=53) / Raw(b"v" * 8))
for i in range(16):
    add("forward", eth() / IP(src="192.0.2.%d" % (100 + i), dst="10.0.0.3") /
        TCP(sport=5000 + i, dport=1000 + 97 * i) / Raw(b"g" * 10))
for i in range(12):
    add("forward", eth() / IPv6(src="2001:db8:ff::%x" % (1 + i), dst="2001:db8::100") /
        TCP(sport=33000 + i, dport=443, flags="S"))
for i in range(12):
    add("forward", eth() / IPv6(src="2001:db8:fe::%x" % (1 + i), dst="2001:db8::101") /
        UDP(sport=34000 + i, dport=80) / Raw(b"6" * 30))

# --- fragments: via the VIP's fragment service ---------------------------------
for frag in fragment(IP(src="198.51.100.200", dst="10.0.0.1", id=4242) /
                     TCP(sport=1234, dport=80) / Raw(b"F" * 300), fragsize=128):
    add("forward", eth() / frag)
for frag in fragment(IP(src="203.0.113.200", dst="10.0.0.2", id=77) /
                     UDP(sport=999, dport=53) / Raw(b"U" * 200), fragsize=96):
    add("forward", eth() / frag)
add("forward", eth() / IPv6(src="2001:db8:fe::99", dst="2001:db8::101") /
    IPv6ExtHdrFragment(id=5, m=1, offset=0, nh=17) / UDP(sport=7, dport=80) / Raw(b"f" * 64))
add("forward", eth() / IPv6(src="2001:db8:fe::99", dst="2001:db8::101") /
    IPv6ExtHdrFragment(id=5, m=0, offset=9, nh=17) / Raw(b"f" * 32))
# A fragment to a VIP with no fragment service for that protocol: not a VIP.
add("drop:not_vip", eth() / IP(src="198.51.100.201", dst="10.0.0.3", flags="MF", frag=0) /
    TCP(sport=1, dport=80) / Raw(b"n" * 40))

# --- MTU: encapsulation would exceed 1500 ---------------------------------------
big4 = MTU - 20 - 8  # an IPv4 UDP packet of exactly MTU bytes
add("too_big", eth() / IP(src="203.0.113.50", dst="10.0.0.2", flags="DF") /
    UDP(sport=45000, dport=53) / Raw(b"B" * big4))
add("drop:mtu_exceeded", eth() / IP(src="203.0.113.51", dst="10.0.0.2") /
    UDP(sport=45001, dport=53) / Raw(b"B" * big4))
add("forward", eth() / IP(src="203.0.113.52", dst="10.0.0.2", flags="DF") /
    UDP(sport=45002, dport=53) / Raw(b"B" * (big4 - 40)))
add("too_big", eth() / IPv6(src="2001:db8:fe::50", dst="2001:db8::101") /
    UDP(sport=45003, dport=80) / Raw(b"B" * (MTU - 40 - 8)))
add("too_big", eth() / IP(src="192.0.2.200", dst="10.0.0.3", flags="DF") /
    TCP(sport=45004, dport=443) / Raw(b"G" * (MTU - 40)))
# The same sent to the link-layer broadcast address: not for the box at L2
# (only ARP and ND are), dropped before anything could answer it (an ICMP
# error must not, RFC 1122 3.2.2).
add("drop:not_for_us", Ether(src=ROUTER, dst="ff:ff:ff:ff:ff:ff") /
    IP(src="192.0.2.201", dst="10.0.0.3", flags="DF") / TCP(sport=45005, dport=443) /
    Raw(b"G" * (MTU - 40)))

# --- ICMP errors to VIPs: routed by the inner header ------------------------------
for i in range(4):
    inner = IP(src="10.0.0.1", dst="198.51.100.%d" % (10 + i)) / TCP(sport=80, dport=10000 + 7 * i)
    add("forward", eth() / IP(src="192.0.2.254", dst="10.0.0.1") / ICMP(type=3, code=4, nexthopmtu=1400) /
        bytes(inner)[:28])
# An error sent elsewhere than to the source of the packet it quotes is not
# about a flow of ours: passed on to the quoted flow's backend, it would be
# routed on to its destination (a relay).
add("drop:icmp_bad_inner", eth() / IP(src="192.0.2.254", dst="203.0.113.9") /
    ICMP(type=3, code=4, nexthopmtu=1400) /
    bytes(IP(src="10.0.0.1", dst="198.51.100.10") / TCP(sport=80, dport=10000))[:28])
inner6 = IPv6(src="2001:db8::100", dst="2001:db8:ff::1") / TCP(sport=443, dport=33000)
add("forward", eth() / IPv6(src="2001:db8:fd::1", dst="2001:db8::100") / ICMPv6PacketTooBig(mtu=1280) /
    bytes(inner6))

# --- ARP / ND / echo ------------------------------------------------------------
add("arp_reply", Ether(src=ROUTER, dst="ff:ff:ff:ff:ff:ff") /
    ARP(op=1, hwsrc=ROUTER, psrc="192.0.2.254", pdst=BOX_IP4))
add("arp_reply", Ether(src=ROUTER, dst="ff:ff:ff:ff:ff:ff") /
    ARP(op=1, hwsrc=ROUTER, psrc="192.0.2.254", pdst="10.0.0.2"))
add("drop:not_for_us", Ether(src=ROUTER, dst="ff:ff:ff:ff:ff:ff") /
    ARP(op=1, hwsrc=ROUTER, psrc="192.0.2.254", pdst="192.0.2.77"))
add("drop:not_for_us", Ether(src=ROUTER, dst=BOX_MAC) /
    ARP(op=2, hwsrc=ROUTER, psrc="192.0.2.254", pdst=BOX_IP4, hwdst=BOX_MAC))
for tgt in (BOX_IP6, "2001:db8::100"):
    ns = ICMPv6ND_NS(tgt=tgt) / ICMPv6NDOptSrcLLAddr(lladdr=ROUTER)
    add("nd_reply", Ether(src=ROUTER, dst="33:33:ff:00:00:01") /
        IPv6(src="2001:db8::fe", dst="ff02::1:ff00:1", hlim=255) / ns)
add("drop:not_for_us", Ether(src=ROUTER, dst="33:33:ff:00:00:77") /
    IPv6(src="2001:db8::fe", dst="ff02::1:ff00:77", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::77"))
add("echo_reply", eth() / IP(src="198.51.100.9", dst="10.0.0.1") / ICMP(id=7, seq=1) / Raw(b"ping"))
add("echo_reply", eth() / IP(src="198.51.100.9", dst=BOX_IP4) / ICMP(id=7, seq=2) / Raw(b"ping"))
add("echo_reply", eth() / IPv6(src="2001:db8::fe", dst="2001:db8::100") / ICMPv6EchoRequest(id=9, seq=3))
add("drop:not_for_us", eth() / IP(src="198.51.100.9", dst="10.9.9.9") / ICMP(id=7, seq=3))

# --- VIP traffic not addressed to the box at L2: flooded towards a backend
# (forwarded again, it would reach the backend twice, and loop between two
# boxes on one link), or sent to a group address ---------------------------------
add("drop:not_for_us", Ether(src=BOX_MAC, dst="02:00:00:00:01:01") /
    IP(src="198.51.100.10", dst="10.0.0.1") / TCP(sport=10000, dport=80, flags="S"))
add("drop:not_for_us", Ether(src=ROUTER, dst="ff:ff:ff:ff:ff:ff") /
    IP(src="203.0.113.60", dst="10.0.0.2") / UDP(sport=45060, dport=53) / Raw(b"b"))
add("drop:not_for_us", Ether(src=ROUTER, dst="33:33:00:00:00:01") /
    IPv6(src="2001:db8:ff::60", dst="2001:db8::100") / TCP(sport=45061, dport=443))
add("drop:not_for_us", Ether(src=ROUTER, dst="ff:ff:ff:ff:ff:ff") /
    IP(src="198.51.100.9", dst="10.0.0.1") / ICMP(id=7, seq=4))
add("drop:not_for_us", Ether(src=ROUTER, dst="02:00:00:00:00:99") /
    ARP(op=1, hwsrc=ROUTER, psrc="192.0.2.254", pdst=BOX_IP4))

# --- not for a VIP, or nothing to forward to ---------------------------------
add("drop:not_vip", eth() / IP(src="198.51.100.9", dst="10.9.9.9") / TCP(sport=1, dport=80))
add("drop:not_vip", eth() / IP(src="198.51.100.9", dst="10.0.0.1") / TCP(sport=1, dport=81))
add("drop:not_vip", eth() / IP(src="198.51.100.9", dst="10.0.0.1") / UDP(sport=1, dport=80))
add("drop:not_vip", eth() / IPv6(src="2001:db8::fe", dst="2001:db8::100") / TCP(sport=1, dport=80))
add("drop:no_backend", eth() / IP(src="198.51.100.9", dst="10.0.0.9") / TCP(sport=1, dport=80))

# --- malformed and unsupported ----------------------------------------------------
good = bytes(eth() / IP(src="198.51.100.9", dst="10.0.0.1") / TCP(sport=2, dport=80))
add("drop:truncated", Raw(good[:10]))
add("drop:truncated", Raw(good[:14 + 12]))
# IPv4 total length says 40 but the frame ends 10 bytes into TCP.
add("drop:ipv4_bad_length", Raw(good[:14 + 20 + 10]))
bad_ver = bytearray(good)
bad_ver[14] = 0x55
add("drop:ipv4_bad_header", Raw(bytes(bad_ver)))
bad_ihl = bytearray(good)
bad_ihl[14] = 0x44
add("drop:ipv4_bad_header", Raw(bytes(bad_ihl)))
add("drop:ipv4_bad_length", Raw(bytes(eth() / IP(src="198.51.100.9", dst="10.0.0.1", len=400) /
                                      TCP(sport=2, dport=80))))
add("drop:ipv6_bad_header", Raw(bytes(eth() / IPv6(src="2001:db8::fe", dst="2001:db8::100", plen=500) /
                                      TCP(sport=2, dport=443))))
add("drop:l2_unsupported", Ether(src=ROUTER, dst=BOX_MAC, type=0x88cc) / Raw(b"\x00" * 46))
add("drop:l4_unsupported", eth() / IP(src="198.51.100.9", dst="10.0.0.1", proto=47) / Raw(b"\x00" * 24))
add("drop:icmp_unsupported", eth() / IP(src="198.51.100.9", dst="10.0.0.1") / ICMP(type=13))
bad_tcp = bytearray(good)
bad_tcp[14 + 20 + 12] = 0x30  # data offset 3 (< 5)
add("drop:l4_bad_header", Raw(bytes(bad_tcp)))

if __name__ == "__main__":
    out = sys.argv[1]
    wrpcap(out, [p for _, p in pkts], linktype=1)
    with open(sys.argv[2], "w") as f:
        json.dump([o for o, _ in pkts], f)
    print("%d packets" % len(pkts))
