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
#     runs on, and 100 more are received;
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

# start_dp KIND LOG: the dataplane on net_KIND0 on $dpe; waits for its
# worker (a heartbeat newer than now: not the last incarnation's).
start_dp() {
    local after
    after=$($py -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
    # Not through nsx: $! must be the dataplane's pid (ip netns exec execs).
    ip netns exec "$ns" "$dp" -l 0 --no-pci "${mem_args[@]}" --file-prefix "$prefix" \
        --log-level='*:warning' -- --port "net_${1}0,iface=$dpe" --instance "$inst" \
        --mac 02:00:00:00:00:aa --ipv4 192.0.2.1 --gateway-mac 02:00:00:00:00:fe >"$2" 2>&1 &
    dp_pid=$!
    if ! "$region" wait-worker --instance "$inst" --timeout-ms 20000 --after-ns "$after"; then
        echo "FAIL: no worker running on net_${1}"
        cat "$2"
        exit 1
    fi
}

# send_syns N: N TCP SYNs to the dsr-l2 service 10.0.0.1:80 into $snd;
# then waits until the dataplane counted N received in this incarnation.
send_syns() {
    nsx $py - "$snd" "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[2])):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                     bytes([198, 18, 1, i]), bytes([10, 0, 0, 1]))
    tcp = struct.pack("!HHIIBBHHH", 10000 + i, 80, 1, 0, 0x50, 0x02, 1024, 0, 0)
    s.send(bytes.fromhex("0200000000aa" "0200000000bb" "0800") + ip + tcp)
PY
}

for kind in af_packet af_xdp; do
    if [ "$kind" = af_xdp ] &&
        ! err=$($py -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' 2>&1); then
        echo "== $kind: SKIP: no AF_XDP sockets in this kernel: ${err##*$'\n'}"
        continue
    fi
    echo "== $kind"
    veth_pair "$snd" "$dpe"
    start_dp "$kind" "dp-$kind.log"
    send_syns 100
    "$region" wait-rx --instance "$inst" --packets 100 --timeout-ms 10000

    ip -n "$ns" link set "$dpe" down
    ip -n "$ns" link set "$dpe" up
    sleep 0.5
    if ! kill -0 "$dp_pid" 2>/dev/null; then
        echo "FAIL: the dataplane exited when its interface went down and up:"
        cat "dp-$kind.log"
        exit 1
    fi
    send_syns 100
    "$region" wait-rx --instance "$inst" --packets 200 --timeout-ms 10000
    echo "interface down and up: the dataplane runs on, 200 received"

    old=$(ip netns exec "$ns" cat "/sys/class/net/$dpe/ifindex")
    ip -n "$ns" link del "$snd"
    veth_pair "$snd" "$dpe"
    rc=
    for _ in $(seq 50); do
        if ! kill -0 "$dp_pid" 2>/dev/null; then
            rc=0
            wait "$dp_pid" || rc=$?
            break
        fi
        sleep 0.1
    done
    if [ -z "$rc" ]; then
        echo "FAIL: the dataplane still runs 5 s after its interface was deleted"
        exit 1
    fi
    dp_pid=
    rm -rf "/var/run/dpdk/$prefix"
    want="port 'net_${kind}0': interface $dpe (ifindex $old) is gone"
    if [ "$rc" != 75 ] || ! grep -qF "$want" "dp-$kind.log"; then
        echo "FAIL: want exit 75 and \"$want\", got $rc:"
        cat "dp-$kind.log"
        exit 1
    fi
    grep -F "$want" "dp-$kind.log"

    start_dp "$kind" "dp-$kind-2.log"
    send_syns 100
    "$region" wait-rx --instance "$inst" --packets 100 --timeout-ms 10000
    stop_dp "dp-$kind-2.log"
    echo "started again on the new $dpe: 100 received"
    ip -n "$ns" link del "$snd"
done
echo "PASS"
