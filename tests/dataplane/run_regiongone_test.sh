#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The shared region's name is removed while sluice-control and
# sluice-dataplane run (rm /dev/shm/sluice-<instance>, as systemd-logind's
# RemoveIPC=yes does at its user's logout). Both sides keep the unlinked
# object mapped; a side started after that would make a new one and never
# meet the other (a restarted dataplane: no tables, every VIP packet dropped).
# The real sluice-control and sluice-dataplane (af_packet, one worker, on a
# veth in a network namespace of its own):
#  0. the dataplane started first (it creates the region): after 5 s it
#     says that nothing is published; sluice-control started then: the
#     dataplane says it forwards within 2 s;
#  1. 100 TCP SYNs to the dsr-l2 VIP: all forwarded;
#  2. the region removed: sluice-control creates it again and publishes
#     there within 2 s (sluice_region_recreated_total goes from 0 to 1); the dataplane says its region was removed and exits
#     with 75 within 5 s; started again, it forwards 100 more (counted in the
#     new region, where sluice-control publishes);
#  3. sluice-control killed, then the region removed: the dataplane says so
#     and forwards on with its last tables (still running after 3 s, 100
#     SYNs forwarded, counted on the wire);
#  4. sluice-control started again: it creates the region, and the dataplane
#     exits with 75 within 5 s; started again, it forwards 100 more.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_CONTROL, SLUICE_CTL, SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=rgone
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
use_control
snd=r-snd # the sender's end
dpe=r-dp  # the dataplane's end
shm=/dev/shm/sluice-$inst

# forwarded: the packets the region under the name counts as forwarded.
forwarded() {
    "$region" counters --instance "$inst" |
        $py -c 'import json,sys; print(sum(json.load(sys.stdin)["services"].values()))'
}

# expect_forwarded N: the region's forwarded count reaches N within 5 s.
expect_forwarded() {
    local _
    for _ in $(seq 50); do
        [ "$(forwarded)" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "FAIL: $(forwarded) packets forwarded, $1 expected"
    "$region" counters --instance "$inst"
    exit 1
}

# Frames forwarded back out of the dataplane's port (one-armed dsr-l2: to a
# backend's MAC) arrive at the sender's end: counted there while `send_syns`
# runs, for when the region that counts them has no name.
count_on_wire() {
    nsx $py - "$snd" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
want, n, end = int(sys.argv[2]), 0, time.time() + 5
while n < want and time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    n += f[:5] == bytes.fromhex("0200000001") and f[12:14] == b"\x08\x00"
print(n)
PY
}

# wait_log LOG TEXT SECONDS: TEXT appears in LOG within SECONDS.
wait_log() {
    local _
    for _ in $(seq $((10 * $3))); do
        grep -qF "$2" "$1" && return 0
        sleep 0.1
    done
    echo "FAIL: \"$2\" not in $1 within $3 s:"
    cat "$1"
    exit 1
}

veth_pair "$snd" "$dpe"
echo "== 0. the dataplane first"
start_dp dp1.log "net_af_packet0,iface=$dpe"
wait_log dp1.log "nothing published in region $shm after 5 s" 8
start_ctl
wait_log dp1.log "tables of generation 1 published: forwarding" 2
grep -h "published" dp1.log
echo "== 1. forwarding"
send_syns "$snd" 0 100
expect_forwarded 100

[ "$(ctl_metric sluice_region_recreated_total)" = 0 ]
echo "sluice_region_recreated_total 0"

echo "== 2. the region removed under both"
rm "$shm"
wait_log ctl.log "created again: published generation" 2
[ -e "$shm" ]
if [ "$(ctl_metric sluice_region_recreated_total)" != 1 ]; then
    echo "FAIL: sluice_region_recreated_total is not 1 after the region was created again"
    exit 1
fi
echo "sluice-control created it again: sluice_region_recreated_total 1"
expect_dp_exit dp1.log 75 5 "after its region was replaced"
grep -q "was removed: forwarding on" dp1.log
grep -q "was created again" dp1.log
start_dp dp2.log "net_af_packet0,iface=$dpe"
send_syns "$snd" 100 100
expect_forwarded 100 # in the new region, which counts from 0

echo "== 3. sluice-control gone, then the region removed"
stop_ctl
rm "$shm"
wait_log dp2.log "was removed: forwarding on" 2
count_on_wire 100 >wire.txt &
wire_pid=$!
sleep 0.5 # the capture's socket bound
send_syns "$snd" 200 100
wait "$wire_pid"
sleep 2
if ! kill -0 "$dp_pid" 2>/dev/null; then
    echo "FAIL: the dataplane exited with its region removed and no control daemon:"
    cat dp2.log
    exit 1
fi
if [ "$(cat wire.txt)" != 100 ]; then
    echo "FAIL: $(cat wire.txt) of 100 SYNs forwarded on the last tables"
    cat dp2.log
    exit 1
fi
echo "100 of 100 forwarded on the last tables, nothing under $shm"

echo "== 4. sluice-control started again"
start_ctl
expect_dp_exit dp2.log 75 5 "after its region was created again"
start_dp dp3.log "net_af_packet0,iface=$dpe"
send_syns "$snd" 300 100
expect_forwarded 100
stop_dp dp3.log
stop_ctl
grep -h "region" ctl.log dp1.log dp2.log
echo "PASS"
