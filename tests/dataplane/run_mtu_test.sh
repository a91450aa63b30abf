#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The MTU of the host's interface under an af_packet or af_xdp port is the
# host's: the dataplane leaves it alone (the PMDs' mtu_set is SIOCSIFMTU on
# the kernel interface, and nothing restored it) and says at start when it
# is below --mtu. For net_af_packet, then net_af_xdp (skipped without AF_XDP
# sockets), one worker on a veth in a network namespace:
#  1. the veth at a larger MTU (af_packet 9000; af_xdp 3000, the most XDP
#     on a veth takes), the default --mtu 1500: the same MTU while the
#     dataplane runs and after its clean stop, no MTU warning (before, the
#     veth was at 1500 from the start on, for good);
#  2. the veth at 1400, --mtu 1500: still 1400, and one line saying that
#     larger packets do not pass the interface.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=mtu
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
snd=m-snd
dpe=m-dp
veth_pair "$snd" "$dpe"
mtu_of() { ip -n "$ns" -o link show "$1" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
set_mtu() { for i in "$snd" "$dpe"; do ip -n "$ns" link set "$i" mtu "$1"; done; }
expect_mtu() { # WANT WHEN LOG
    local m
    m=$(mtu_of "$dpe")
    if [ "$m" != "$1" ]; then
        echo "FAIL: $dpe has MTU $m $2, want $1 (the host's, left alone)"
        cat "$3"
        exit 1
    fi
    echo "$dpe: MTU $m $2"
}
warning="interface $dpe has an MTU of 1400, below --mtu 1500"

kinds=(net_af_packet)
if have_af_xdp; then kinds+=(net_af_xdp); else echo "skip net_af_xdp: $af_xdp_why"; fi
for kind in "${kinds[@]}"; do
    big=9000
    [ "$kind" = net_af_xdp ] && big=3000
    echo "== $kind: $dpe at MTU $big, default --mtu"
    set_mtu "$big"
    start_dp "big-$kind.log" "${kind}0,iface=$dpe"
    sleep 0.3
    expect_mtu "$big" "while the dataplane runs" "big-$kind.log"
    stop_dp "big-$kind.log"
    expect_mtu "$big" "after the dataplane stopped" "big-$kind.log"
    if grep -q "below --mtu" "big-$kind.log"; then
        echo "FAIL: an MTU warning for an interface above --mtu:"
        cat "big-$kind.log"
        exit 1
    fi

    echo "== $kind: $dpe at MTU 1400, --mtu 1500"
    set_mtu 1400
    start_dp "small-$kind.log" "${kind}0,iface=$dpe" --mtu 1500
    sleep 0.3
    expect_mtu 1400 "while the dataplane runs" "small-$kind.log"
    stop_dp "small-$kind.log"
    expect_mtu 1400 "after the dataplane stopped" "small-$kind.log"
    if [ "$(grep -cF "$warning" "small-$kind.log")" != 1 ]; then
        echo "FAIL: not one line saying '$warning':"
        cat "small-$kind.log"
        exit 1
    fi
    grep -F "$warning" "small-$kind.log"
    set_mtu 1500
done
echo PASS
