#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The real sluice-dataplane on net_af_xdp: AF_XDP sockets, with the XDP
# program the PMD loads on the interface handing them the packets.
#  1. One worker on one end of a veth pair (one RX queue) in a network
#     namespace of its own. multiqueue.py sends ~4400 packets of ~1000
#     TCP/UDP flows (dsr-l2 over IPv4 and IPv6, ipip, gue: the services of
#     services.json) into the other end, at most 64 in flight, and captures
#     what comes back: every packet comes back once, to the backend
#     `sluice-dp-lookup` predicts, with the right rewrite; every packet is
#     accounted for (sent = dataplane rx = tx = captured, up to the kernel's
#     drop counters); the dataplane gives no queue warning and exits 0 on
#     SIGTERM.
#  2. The veth again with 2 RX queues, the port with the PMD's default
#     queue_count=1: the dataplane must warn that it reads queue 0 of 2 (the
#     XDP program passes the other queue's packets to the kernel), and the
#     warning must be right: of 64 flows sent, some reach the dataplane and
#     some do not.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_DP_LOOKUP, SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=xdp
lookup=${SLUICE_DP_LOOKUP:?}
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
    echo "SKIP: python3-scapy is not installed"
    exit 77
fi
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
if ! have_af_xdp; then
    echo "SKIP: no AF_XDP sockets in this kernel: $af_xdp_why"
    exit 77
fi
snd=x-snd # the sender's and capture's end
dpe=x-dp  # the dataplane's end
warning="(net_af_xdp) reads RX queue(s) 0-0 of $dpe, which has 2"
box6=(--ipv6 2001:db8::1 --mtu 1500)

echo "== one RX queue: every packet forwarded as predicted"
veth_pair "$snd" "$dpe"
$py "$here/multiqueue.py" gen in.pcap
"$region" publish --instance "$inst" --spec "$here/services.json"
"$lookup" --instance "$inst" --pcap in.pcap --box-mac 02:00:00:00:00:aa \
    --gateway-mac 02:00:00:00:00:fe --box-ipv4 192.0.2.1 --box-ipv6 2001:db8::1 --mtu 1500 >pred.jsonl
start_dp dp1.log "net_af_xdp0,iface=$dpe" "${box6[@]}"
nsx $py "$here/multiqueue.py" send --iface "$snd" --veth "$snd" "$dpe" --pred pred.jsonl \
    --region "$region" --instance "$inst" in.pcap out.pcap stats.json
stop_dp dp1.log
"$region" counters --instance "$inst" >counters.json
$py "$here/multiqueue.py" verify --workers 1 --veth "$snd" "$dpe" in.pcap pred.jsonl out.pcap \
    stats.json counters.json
if grep -q "reads RX queue" dp1.log; then
    echo "FAIL: a queue warning on an interface with one RX queue:"
    cat dp1.log
    exit 1
fi

echo "== two RX queues, the port reads one: warned, and rightly"
ip -n "$ns" link del "$snd"
veth_pair "$snd" "$dpe" 2
start_dp dp2.log "net_af_xdp0,iface=$dpe" "${box6[@]}"
if ! grep -qF "$warning" dp2.log; then
    echo "FAIL: no warning that the port reads 1 of the interface's 2 RX queues:"
    cat dp2.log
    exit 1
fi
grep -F "$warning" dp2.log
send_syns "$snd" 0 64
sleep 1
rx=$("$region" counters --instance "$inst" | $py -c 'import json,sys; print(json.load(sys.stdin)["workers"][0]["rx_packets"])')
stop_dp dp2.log
echo "of 64 flows, $rx reached the dataplane"
if [ "$rx" -le 0 ] || [ "$rx" -ge 64 ]; then
    echo "FAIL: want some but not all of the 64 flows on queue 0 (the warning's claim)"
    exit 1
fi
echo "PASS"
