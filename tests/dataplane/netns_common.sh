# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the dataplane tests on a veth pair in a network namespace of
# their own (run_multiqueue_test.sh, run_txstall_test.sh, run_ifgone_test.sh,
# run_afxdp_test.sh): the binaries CTest names, a skip without root, the EAL
# memory arguments this machine allows, a namespace, region instance, EAL
# file prefix and work directory (the current directory from here on) named
# after TEST, nsx (runs a command in the namespace), veth_pair, stop_dp, and a
# cleanup that kills the dataplane in dp_pid and removes all of them. Needs
# `set -euo pipefail` and TEST.

here=${SLUICE_TEST_DIR:-$(dirname "$0")}
dp=${SLUICE_DATAPLANE:?}
region=${SLUICE_DP_REGION:?}
py=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (a network namespace and a veth pair)"
    exit 77
fi

free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free_huge:-0}" -ge 128 ]; then
    mem_args=(--in-memory)
else
    mem_args=(--no-huge -m 256 --no-shconf)
fi

ns=sl-$TEST-$$
inst=dptest-$TEST-$$
prefix=sluice-dptest-$TEST-$$
work=$(mktemp -d "/tmp/sluice-dp-$TEST.XXXXXX")
dp_pid=
cleanup() {
    if [ -n "$dp_pid" ]; then kill -9 "$dp_pid" 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
    "$region" unlink --instance "$inst" 2>/dev/null || true
    rm -rf "$work" "/var/run/dpdk/$prefix" 2>/dev/null || true
}
trap cleanup EXIT
cd "$work"

if ! ip netns add "$ns" 2>err.txt; then
    echo "SKIP: cannot create a network namespace: $(cat err.txt)"
    exit 77
fi
nsx() { ip netns exec "$ns" "$@"; }
# Nothing but the test's packets on the wire: no IPv6 (router solicitations,
# MLD), no ARP; no offloads (the packet sockets must see real frames), as in
# scripts/lab.
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link set lo up

# veth_pair A B [QUEUES]: the pair A-B in the namespace (QUEUES RX and TX
# queues on each end, default 1), MTU 1500, up.
veth_pair() {
    local q=${3:-1} i
    if ! ip -n "$ns" link add "$1" numtxqueues "$q" numrxqueues "$q" type veth peer name "$2" \
        numtxqueues "$q" numrxqueues "$q" 2>err.txt; then
        echo "SKIP: cannot create a veth pair (kernel without veth?): $(cat err.txt)"
        exit 77
    fi
    for i in "$1" "$2"; do
        ip -n "$ns" link set "$i" arp off mtu 1500
        nsx ethtool -K "$i" tx off tso off gso off gro off >/dev/null 2>&1 || true
        ip -n "$ns" link set "$i" up
    done
}

# stop_dp LOG: SIGTERM to the dataplane in dp_pid, which must exit with 0
# within 10 s (else the test fails, showing LOG).
stop_dp() {
    local rc=0 _
    kill -TERM "$dp_pid"
    for _ in $(seq 100); do
        kill -0 "$dp_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$dp_pid" 2>/dev/null; then
        echo "FAIL: sluice-dataplane still runs 10 s after SIGTERM"
        cat "$1"
        exit 1
    fi
    wait "$dp_pid" || rc=$?
    dp_pid=
    rm -rf "/var/run/dpdk/$prefix"
    if [ "$rc" != 0 ]; then
        echo "FAIL: sluice-dataplane exited with $rc after SIGTERM"
        cat "$1"
        exit 1
    fi
}
