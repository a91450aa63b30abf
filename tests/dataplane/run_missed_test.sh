#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Frames lost before sluice sees them are counted: the port's rx_missed in
# the region (sl_port_stats, stored by the link supervisor). On a
# net_af_packet port, whose DPDK 22.11 PMD reports imissed 0, those are the
# kernel's drops in the PMD's RX ring (PACKET_STATISTICS of its sockets).
# On net_af_xdp (skipped where the kernel has no AF_XDP sockets), the PMD's
# imissed is its sockets' rx_dropped only, without the drops for a full RX
# ring (XDP_STATISTICS rx_ring_full). For net_af_packet, then net_af_xdp,
# one worker on a veth in a network namespace of its own, with
# sluice-control:
#  1. 100 TCP SYNs: all received, rx_missed 0, the port named;
#  2. the dataplane stopped (SIGSTOP), 3000 SYNs sent, the dataplane
#     continued: every SYN is either received or counted as missed
#     (rx + rx_missed = 3100 within 5 s), and more than 1000 were missed
#     (af_packet's ring holds 512 frames by default, af_xdp's 1024 here);
#  3. the same through the product's own readers: sluice-control's `stats`
#     and `sluicectl stats`, which lists the port with its missed total;
#  4. SIGTERM: exit 0.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_CONTROL, SLUICE_CTL, SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=miss
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
use_control
snd=m-snd # the sender's end
dpe=m-dp  # the dataplane's end
start_ctl

# port FIELD: the port's FIELD in the region's counters.
port() {
    "$region" counters --instance "$inst" |
        $py -c 'import json,sys; print(json.load(sys.stdin)["ports"][0][sys.argv[1]])' "$1"
}

for kind in af_packet af_xdp; do
    if [ "$kind" = af_xdp ] && ! have_af_xdp; then
        echo "== $kind: SKIP: no AF_XDP sockets in this kernel: $af_xdp_why"
        continue
    fi
    name=net_${kind}0
    veth_pair "$snd" "$dpe"
    start_dp "dp-$kind.log" "$name,iface=$dpe"
    echo "== $kind: 1. 100 SYNs"
    send_syns "$snd" 0 100
    "$region" wait-rx --instance "$inst" --packets 100 --timeout-ms 10000
    sleep 0.5 # a store of the port stats after the last frame
    if [ "$(port name)" != "$name" ] || [ "$(port rx_missed)" != 0 ]; then
        echo "FAIL: want port $name with rx_missed 0:"
        "$region" counters --instance "$inst"
        exit 1
    fi

    echo "== $kind: 2. 3000 SYNs to a stopped dataplane"
    kill -STOP "$dp_pid"
    send_syns "$snd" 100 3000
    kill -CONT "$dp_pid"
    total=0
    for _ in $(seq 50); do
        rx=$(port rx_packets)
        missed=$(port rx_missed)
        total=$((rx + missed))
        [ "$total" -ge 3100 ] && break
        sleep 0.1
    done
    echo "received $rx, missed $missed"
    if [ "$total" != 3100 ] || [ "$missed" -le 1000 ]; then
        echo "FAIL: want rx + rx_missed = 3100 with more than 1000 missed:"
        "$region" counters --instance "$inst"
        cat "dp-$kind.log"
        exit 1
    fi

    echo "== $kind: 3. sluice-control and sluicectl"
    api=$("$ctlcli" --socket control.sock stats --json)
    if ! $py -c 'import json,sys; p=json.loads(sys.argv[1])["ports"][0]; sys.exit(0 if (p["name"], p["rx_missed"]) == (sys.argv[2], int(sys.argv[3])) else 1)' "$api" "$name" "$missed"; then
        echo "FAIL: sluice-control's stats lack $name with rx_missed $missed: $api"
        exit 1
    fi
    "$ctlcli" --socket control.sock stats --interval 0.2 >cli.txt
    if ! grep -E "^$name +0 +$missed +0 +0 +0 *$" cli.txt; then
        echo "FAIL: sluicectl stats lacks the port row ($name, 0/s, $missed missed):"
        cat cli.txt
        exit 1
    fi
    stop_dp "dp-$kind.log"
    ip -n "$ns" link del "$snd"
done
stop_ctl
echo "PASS"
