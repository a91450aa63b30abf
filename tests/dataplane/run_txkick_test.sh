#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Frames the kernel could not take at once still leave when the traffic
# stops. DPDK 22.11's af_packet PMD asks the kernel to send its TX ring's
# frames (sendto) only inside rte_eth_tx_burst; when the socket's send
# buffer is full at that moment, the rest of the frames wait in the ring
# for the next burst, for ever if none comes (measured before the fix: 278
# of 400 frames left, 122 waited until the next packet, seconds later). The
# worker asks again once the port's TX has paused (worker.cpp,
# kick_idle_tx). The real sluice-dataplane, one worker, on net_af_packet
# (qdisc_bypass=0) on a veth whose egress has a tbf qdisc of 100 kbit/s, so
# that the send buffer (net.core.wmem_default) fills with queued packets:
#  - 400 TCP SYNs (fewer than the RX ring's 512 frames) are all received
#    and transmitted (tx 400, no drop);
#  - just after, fewer than 400 have reached the qdisc (sent + backlog):
#    the rest wait in the PMD's TX ring, the case under test;
#  - within 10 s all 400 arrive at the other end of the veth;
#  - SIGTERM stops it with exit code 0 within 10 s (netns_common.sh).
# Then the same with two workers on qpairs=2 (the veth with two queues,
# the dataplane under `nice -n 19`) and 800 SYNs: each worker asks on its
# own queue's socket, and each must have sent some.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=txk
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
"$region" publish --instance "$inst" --spec "$here/services.json"

# arrived: the frames the sender's end has received (the dataplane's output).
arrived() { nsx cat /sys/class/net/snd/statistics/rx_packets; }
# qdisc_seen: the frames the tbf has sent or holds.
qdisc_seen() {
    nsx tc -s qdisc show dev dpe | $py -c '
import re, sys
t = sys.stdin.read()
print(int(re.search(r"Sent \d+ bytes (\d+) pkt", t).group(1)) +
      int(re.search(r"backlog \d+b (\d+)p", t).group(1)))'
}

# run_case QUEUES FRAMES: the veth pair with QUEUES queues, the dataplane
# with as many workers, FRAMES SYNs.
run_case() {
    local queues=$1 frames=$2 seen got _
    echo "== $queues worker(s), $frames SYNs"
    veth_pair snd dpe "$queues"
    tbf_egress dpe 100kbit
    start_dp "dp$queues.log" "net_af_packet0,iface=dpe,qdisc_bypass=0,qpairs=$queues"
    send_syns snd 0 "$frames"
    "$region" wait-rx --instance "$inst" --packets "$frames" --timeout-ms 10000
    "$region" counters --instance "$inst" >counters.json
    seen=$(qdisc_seen)
    echo "received $frames; the qdisc has seen $seen, the other end $(arrived)"
    $py - counters.json "$frames" "$queues" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
want, queues = int(sys.argv[2]), int(sys.argv[3])
p = c["ports"][0]
drops = {k: v for k, v in c["drops"].items() if v}
per_worker = [w["tx_packets"] for w in c["workers"]]
print(f"port: rx {p['rx_packets']}, tx {p['tx_packets']}; drops {drops}; tx by worker {per_worker}")
if p["rx_packets"] != want or p["tx_packets"] != want or drops:
    print(f"FAIL: want rx = tx = {want} and no drop")
    sys.exit(1)
if len(per_worker) != queues or min(per_worker) == 0:
    print(f"FAIL: want {queues} worker(s), each with some TX")
    sys.exit(1)
PY
    if [ "$seen" -ge "$frames" ]; then
        echo "FAIL: the qdisc took all $frames frames at once (send buffer:" \
            "net.core.wmem_default $(cat /proc/sys/net/core/wmem_default)): no frame waited in" \
            "the TX ring, the test did not test what it should"
        exit 1
    fi
    got=0
    for _ in $(seq 100); do
        got=$(arrived)
        [ "$got" -ge "$frames" ] && break
        sleep 0.1
    done
    echo "the other end has $got of $frames"
    if [ "$got" != "$frames" ]; then
        echo "FAIL: $((frames - got)) frames stayed in the PMD's TX rings after the traffic stopped"
        nsx tc -s qdisc show dev dpe
        cat "dp$queues.log"
        exit 1
    fi
    stop_dp "dp$queues.log"
    echo "exit 0 after SIGTERM"
    ip -n "$ns" link del snd
}

run_case 1 400
dp_lcores=0,1
dp_nice=19
run_case 2 800
echo "PASS"
