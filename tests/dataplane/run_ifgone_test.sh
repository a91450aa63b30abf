#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel interface of an af_packet or af_xdp port goes away under the
# dataplane (deleted, or re-created by a driver reload): its sockets stay
# bound to the old interface and would receive nothing, however healthy the
# process looks. The link supervisor (link.cpp) must see it and exit with
# status 75, for the service manager to start the dataplane again on the
# interface as it is then. For net_af_packet, then net_af_xdp (skipped
# where the kernel has no AF_XDP sockets), one worker on a veth in a
# network namespace of its own:
#  1. 100 TCP SYNs to a dsr-l2 VIP: all received;
#  2. the interface down and up (it is still the same one): the dataplane
#     runs on, and 100 more are received; then no new file descriptor for
#     0.5 s (RLIMIT_NOFILE lowered): it runs on, its interface not taken
#     for gone;
#  3. the veth pair deleted and created again: the dataplane says which
#     interface is gone and exits with 75 within 5 s;
#  4. started again, as a service manager would: 100 more received.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=ifg
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
snd=g-snd # the sender's end
dpe=g-dp  # the dataplane's end
"$region" publish --instance "$inst" --spec "$here/services.json"

for kind in af_packet af_xdp; do
    if [ "$kind" = af_xdp ] && ! have_af_xdp; then
        echo "== $kind: SKIP: no AF_XDP sockets in this kernel: $af_xdp_why"
        continue
    fi
    echo "== $kind"
    veth_pair "$snd" "$dpe"
    start_dp "dp-$kind.log" "net_${kind}0,iface=$dpe"
    send_syns "$snd" 0 100
    "$region" wait-rx --instance "$inst" --packets 100 --timeout-ms 10000

    ip -n "$ns" link set "$dpe" down
    ip -n "$ns" link set "$dpe" up
    sleep 0.5
    if ! kill -0 "$dp_pid" 2>/dev/null; then
        echo "FAIL: the dataplane exited when its interface went down and up:"
        cat "dp-$kind.log"
        exit 1
    fi
    send_syns "$snd" 100 100
    "$region" wait-rx --instance "$inst" --packets 200 --timeout-ms 10000
    echo "interface down and up: the dataplane runs on, 200 received"

    # No new file descriptor for half a second (RLIMIT_NOFILE 3: EMFILE):
    # asking the interface's name then fails too (glibc opens a socket for
    # it), which is no sign of the interface being gone.
    soft=$(prlimit --pid "$dp_pid" --nofile --noheadings --output SOFT)
    prlimit --pid "$dp_pid" --nofile=3:
    sleep 0.5
    prlimit --pid "$dp_pid" --nofile="$soft": 2>/dev/null || true # gone if it exited
    if ! kill -0 "$dp_pid" 2>/dev/null || grep -q "is gone" "dp-$kind.log"; then
        echo "FAIL: out of file descriptors, the dataplane took its interface for gone:"
        cat "dp-$kind.log"
        exit 1
    fi
    echo "out of file descriptors for 0.5 s: the dataplane runs on"

    old=$(ip netns exec "$ns" cat "/sys/class/net/$dpe/ifindex")
    ip -n "$ns" link del "$snd"
    veth_pair "$snd" "$dpe"
    expect_dp_exit "dp-$kind.log" 75 5 "after its interface was deleted"
    want="port 'net_${kind}0': interface $dpe (ifindex $old) is gone"
    if ! grep -qF "$want" "dp-$kind.log"; then
        echo "FAIL: want \"$want\":"
        cat "dp-$kind.log"
        exit 1
    fi
    grep -F "$want" "dp-$kind.log"

    start_dp "dp-$kind-2.log" "net_${kind}0,iface=$dpe"
    send_syns "$snd" 0 100
    "$region" wait-rx --instance "$inst" --packets 100 --timeout-ms 10000
    stop_dp "dp-$kind-2.log"
    echo "started again on the new $dpe: 100 received"
    ip -n "$ns" link del "$snd"
done
echo "PASS"
