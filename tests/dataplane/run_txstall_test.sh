#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# A TX link that takes (almost) nothing must not stop the worker. The real
# sluice-dataplane, one worker, on net_af_packet (qdisc_bypass=0) on one end
# of a veth pair whose egress has a tbf qdisc of 100 bit/s: the kernel sends
# a few frames, then the socket's send buffer is full of queued packets and
# the PMD's TX ring of frames the kernel cannot take, as on a NIC whose link
# went down under load. DPDK 22.11's af_packet PMD would then wait in
# poll(-1) inside rte_eth_tx_burst, and the worker with it, until a signal
# (io_guard.cpp: a worker's poll never waits). Checked:
#  - the worker receives every frame sent (batches of 200, each waited for
#    before the next, so that no RX ring overflows): it did not stop at the
#    TX ring's ~512 frames;
#  - every frame is accounted for: rx = tx + tx_full, with tx_full > 0 and
#    the tbf's backlog at 100 packets or more (the TX path really was full),
#    and the packets per service and per backend plus the replies to 100
#    ARP requests sent while TX is full sum to tx (what TX did not take is
#    counted neither as forwarded nor as a reply);
#  - afterwards its heartbeat is fresh and it takes up newly published
#    tables within 2 s (it reports its quiescent state);
#  - SIGTERM stops it with exit code 0 within 10 s (netns_common.sh).
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=txs
frames=${SLUICE_TXSTALL_FRAMES:-4000}
batch=200
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
veth_pair snd dpe
tbf_egress dpe 100bit

"$region" publish --instance "$inst" --spec "$here/services.json"
start_dp dp.log "net_af_packet0,iface=dpe,qdisc_bypass=0"

# TCP SYNs to the dsr-l2 service, one flow each.
sent=0
while [ "$sent" -lt "$frames" ]; do
    send_syns snd "$sent" "$batch"
    sent=$((sent + batch))
    if ! "$region" wait-rx --instance "$inst" --packets "$sent" --timeout-ms 10000; then
        "$region" counters --instance "$inst" >counters.json || true
        echo "FAIL: the worker stopped receiving with its TX path full ($sent frames sent)"
        cat counters.json dp.log
        exit 1
    fi
done
echo "sent $sent frames, all received"

# ARP requests for the box's address while the TX path is still full: their
# replies, freed as tx_full, must not stay counted as sent.
arps=100
nsx $py - "$arps" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("snd", 0))
for i in range(int(sys.argv[1])):
    eth = bytes.fromhex("ffffffffffff" "0200000000bb" "0806")
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes.fromhex("0200000000bb"),
                      bytes([198, 18, 200, i]), bytes(6), bytes([192, 0, 2, 1]))
    s.send(eth + arp)
PY
sent=$((sent + arps))
if ! "$region" wait-rx --instance "$inst" --packets "$sent" --timeout-ms 10000; then
    echo "FAIL: the worker did not receive the $arps ARP requests"
    exit 1
fi

# The worker goes on: a fresh heartbeat, newly published tables taken up.
sleep 1
after=$($py -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
if ! "$region" wait-worker --instance "$inst" --timeout-ms 2000 --after-ns "$after"; then
    echo "FAIL: no heartbeat from the worker after the traffic"
    exit 1
fi
"$region" publish --instance "$inst" --spec "$here/swap_a.json"
if ! $py - "$region" "$inst" <<'PY'
import json, subprocess, sys, time
deadline = time.monotonic() + 2.0
while True:
    c = json.loads(subprocess.check_output([sys.argv[1], "counters", "--instance", sys.argv[2]]))
    if c["workers"][0]["observed_generation"] >= 2:
        print("the worker took up generation 2")
        sys.exit(0)
    if time.monotonic() > deadline:
        print("FAIL: the worker did not take up generation 2 within 2 s:", c["workers"][0])
        sys.exit(1)
    time.sleep(0.02)
PY
then
    exit 1
fi

nsx tc -s qdisc show dev dpe >tc.txt
backlog=$(grep -o 'backlog [0-9]*b [0-9]*p' tc.txt | grep -o '[0-9]*p' | tr -d p)
"$region" counters --instance "$inst" >counters.json
stop_dp dp.log
echo "exit 0 after SIGTERM"

$py - counters.json "$sent" "${backlog:-0}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
sent, backlog = int(sys.argv[2]), int(sys.argv[3])
w = c["workers"][0]
rx, tx, tx_full = w["rx_packets"], w["tx_packets"], c["drops"]["tx_full"]
other = {k: v for k, v in c["drops"].items() if v and k != "tx_full"}
print(f"rx {rx}, tx {tx}, tx_full {tx_full}, other drops {other}, tbf backlog {backlog} packets")
ok = True
if rx != sent:
    print(f"FAIL: rx {rx}, want {sent}")
    ok = False
if other or rx != tx + tx_full:
    print("FAIL: want rx = tx + tx_full and no other drop")
    ok = False
# every frame is forwarded traffic or an ARP request for the box: what TX
# did not take is counted neither as forwarded to its service and backend
# nor as a reply
svc, be = sum(c["services"].values()), sum(c["backends"].values())
replies = c["arp_replies"] + c["nd_replies"] + c["echo_replies"] + c["icmp_too_big_sent"]
print(f"per service {svc}, per backend {be}, replies {replies}")
if svc + replies != tx or be + replies != tx:
    print(f"FAIL: want the per-service and per-backend packets ({svc}, {be}) + the replies "
          f"({replies}) = tx {tx}")
    ok = False
if tx_full == 0 or backlog < 100:
    print("FAIL: the TX path was never full (tx_full 0 or tbf backlog under 100): "
          "the test did not test what it should")
    ok = False
sys.exit(0 if ok else 1)
PY
echo "PASS"
