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
# Then two af_xdp ports (two-armed, on two veths; skipped as above): the
# kernel's drops are counted per port, although XDP sockets name no
# interface (the dataplane tells them apart by when they appeared): 3000
# SYNs into the first port of a stopped dataplane, then received +
# rx_missed = 3100 there with more than 1000 missed, rx_missed 0 on the
# second, and no warning that a port's XDP sockets were not found.
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

# port FIELD [INDEX]: port INDEX's (default 0) FIELD in the region's counters.
port() {
    "$region" counters --instance "$inst" |
        $py -c 'import json,sys; print(json.load(sys.stdin)["ports"][int(sys.argv[2])][sys.argv[1]])' \
            "$1" "${2:-0}"
}

# stop_send_cont FIRST N: the dataplane stopped, SYNs FIRST .. FIRST + N - 1
# sent, the dataplane continued; then waits up to 5 s for port 0's received
# + rx_missed to reach FIRST + N, and leaves them in rx and missed.
stop_send_cont() {
    local total=0 _
    kill -STOP "$dp_pid"
    send_syns "$snd" "$1" "$2"
    kill -CONT "$dp_pid"
    for _ in $(seq 50); do
        rx=$(port rx_packets)
        missed=$(port rx_missed)
        total=$((rx + missed))
        [ "$total" -ge $(($1 + $2)) ] && break
        sleep 0.1
    done
    echo "received $rx, missed $missed"
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
    stop_send_cont 100 3000
    if [ "$((rx + missed))" != 3100 ] || [ "$missed" -le 1000 ]; then
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

if have_af_xdp; then
    echo "== two af_xdp ports: 3000 SYNs into the first, the dataplane stopped"
    veth_pair "$snd" "$dpe"
    veth_pair m-snd2 m-dp2
    start_dp dp-two.log "net_af_xdp0,iface=$dpe" --port "net_af_xdp1,iface=m-dp2" --two-armed
    send_syns "$snd" 0 100
    "$region" wait-rx --instance "$inst" --packets 100 --timeout-ms 10000
    stop_send_cont 100 3000
    sleep 0.5 # a store of the port stats after the last frame
    missed2=$(port rx_missed 1)
    echo "second port: missed $missed2"
    if [ "$((rx + missed))" != 3100 ] || [ "$missed" -le 1000 ] || [ "$missed2" != 0 ] ||
        grep -q "XDP sockets not found" dp-two.log; then
        echo "FAIL: want rx + rx_missed = 3100 on the first port with more than 1000 missed," \
            "0 missed on the second, and every port's XDP sockets found:"
        "$region" counters --instance "$inst"
        cat dp-two.log
        exit 1
    fi
    stop_dp dp-two.log
fi
stop_ctl
echo "PASS"
