# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the dataplane tests in a network namespace of their own
# (run_multiqueue_test.sh, run_rss_test.sh, run_txstall_test.sh,
# run_txkick_test.sh, run_ifgone_test.sh, run_afxdp_test.sh,
# run_regiongone_test.sh, run_missed_test.sh): the binaries CTest names, a
# skip without root, the EAL memory arguments this machine allows, a
# namespace, region instance, EAL file prefix and work directory (the
# current directory from here on) named after TEST, nsx (runs a command in
# the namespace), veth_pair, tbf_egress, start_dp, stop_dp, expect_dp_exit,
# send_syns, have_af_xdp, use_control / start_ctl / stop_ctl
# (sluice-control), and a cleanup that kills the dataplane in dp_pid (and
# sluice-control in ctl_pid) and removes all of them. Needs `set -euo
# pipefail` and TEST.

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
ctl_pid=
cleanup() {
    if [ -n "$dp_pid" ]; then kill -9 "$dp_pid" 2>/dev/null || true; fi
    if [ -n "$ctl_pid" ]; then kill -9 "$ctl_pid" 2>/dev/null || true; fi
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

# start_dp LOG PORT [OPTION ...]: the dataplane, one worker (-l 0; the
# lcores in dp_lcores if set: `-l LIST`, or `--lcores MAP` when it maps
# lcores to CPUs with @; under `nice -n $dp_nice` if set), on PORT in
# the namespace (the box: MAC 02:00:00:00:00:aa, 192.0.2.1, gateway
# 02:00:00:00:00:fe; sluice options after), stderr to LOG; waits for its
# worker: a heartbeat newer than now, not a previous incarnation's.
start_dp() {
    local log=$1 port=$2 after lcores=${dp_lcores:-0} lflag=-l
    shift 2
    if [[ $lcores == *@* ]]; then
        lflag=--lcores
    fi
    after=$($py -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
    # Not through nsx: $! must be the dataplane's pid (ip netns exec execs).
    ip netns exec "$ns" nice -n "${dp_nice:-0}" "$dp" "$lflag" "$lcores" --no-pci \
        "${mem_args[@]}" --file-prefix "$prefix" \
        --log-level='*:warning' -- --port "$port" --instance "$inst" \
        --mac 02:00:00:00:00:aa --ipv4 192.0.2.1 --gateway-mac 02:00:00:00:00:fe "$@" \
        >"$log" 2>&1 &
    dp_pid=$!
    if ! "$region" wait-worker --instance "$inst" --timeout-ms 20000 --after-ns "$after"; then
        echo "FAIL: no worker running on $port"
        cat "$log"
        exit 1
    fi
}

# tbf_egress DEV RATE: a tbf qdisc of RATE on DEV's egress (in the
# namespace) that queues up to 100 MB, so drops nothing; a skip where the
# kernel has no tbf.
tbf_egress() {
    if ! nsx tc qdisc add dev "$1" root tbf rate "$2" burst 1600 limit 100000000 2>err.txt; then
        echo "SKIP: cannot add a tbf qdisc (kernel without sch_tbf?): $(cat err.txt)"
        exit 77
    fi
}

# send_syns IFACE FIRST N: TCP SYNs number FIRST .. FIRST + N - 1 to the
# dsr-l2 service 10.0.0.1:80 of services.json, sent into IFACE (in the
# namespace) towards the box's MAC, SYN i from 198.18.(i / 256).(i % 256)
# port 10000 + i: one flow each.
send_syns() {
    nsx $py - "$@" <<'PY'
import socket, struct, sys
iface, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
eth = bytes.fromhex("0200000000aa" "0200000000bb" "0800")
for i in range(first, first + n):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xffff, 0x4000, 64, 6, 0,
                     bytes([198, 18, (i >> 8) & 255, i & 255]), bytes([10, 0, 0, 1]))
    c = sum(struct.unpack("!10H", ip))
    c = (c & 0xffff) + (c >> 16)
    c = (c & 0xffff) + (c >> 16)
    ip = ip[:10] + struct.pack("!H", ~c & 0xffff) + ip[12:]
    tcp = struct.pack("!HHIIBBHHH", 10000 + i % 50000, 80, 1, 0, 0x50, 0x02, 1024, 0, 0)
    s.send(eth + ip + tcp)
PY
}

# have_af_xdp: true if this kernel has AF_XDP sockets; else false, with the
# reason in af_xdp_why.
have_af_xdp() {
    local err
    if ! err=$($py -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' 2>&1); then
        af_xdp_why=${err##*$'\n'}
        return 1
    fi
}

# expect_dp_exit LOG STATUS SECONDS WHAT: the dataplane in dp_pid exits with
# STATUS within SECONDS (else the test fails, saying it still runs WHAT and
# showing LOG).
expect_dp_exit() {
    local rc=0 _
    for _ in $(seq $((10 * $3))); do
        kill -0 "$dp_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$dp_pid" 2>/dev/null; then
        echo "FAIL: sluice-dataplane still runs $3 s $4"
        cat "$1"
        exit 1
    fi
    wait "$dp_pid" || rc=$?
    dp_pid=
    rm -rf "/var/run/dpdk/$prefix"
    if [ "$rc" != "$2" ]; then
        echo "FAIL: sluice-dataplane exited with $rc $4, not $2"
        cat "$1"
        exit 1
    fi
}

# stop_dp LOG: SIGTERM to the dataplane in dp_pid, which must exit with 0
# within 10 s (else the test fails, showing LOG).
stop_dp() {
    kill -TERM "$dp_pid"
    expect_dp_exit "$1" 0 10 "after SIGTERM"
}

# use_control: the test runs the real sluice-control (SLUICE_CONTROL; a skip
# when it is not part of this build) on sluice.toml, written here: the
# dsr-l2 service of send_syns (services.json's first) with health "none",
# the region instance, the API socket ./control.sock, state in ./state,
# metrics on a free port of 127.0.0.1. Then start_ctl (log appended to
# ctl.log; waits until it says it published) and stop_ctl (SIGKILL) run it,
# and ctl_metric reads it through sluicectl (SLUICE_CTL, in ctlcli).
use_control() {
    ctl=${SLUICE_CONTROL:?}
    ctlcli=${SLUICE_CTL:?}
    if [ ! -x "$ctl" ]; then
        echo "SKIP: sluice-control is not part of this build ($ctl)"
        exit 77
    fi
    mkdir -p state
    {
        echo 'seed = "5a1c3e0011223344556677889900aabb"'
        echo '[dataplane]'
        echo "instance = \"$inst\""
        echo '[control]'
        echo "socket = \"$PWD/control.sock\""
        echo "state_dir = \"$PWD/state\""
        echo 'metrics_listen = "127.0.0.1:0"'
        echo '[[service]]'
        echo 'name = "web"'
        echo 'vip = "10.0.0.1"'
        echo 'port = 80'
        echo 'table_size = 251'
        echo '[service.health]'
        echo 'type = "none"'
        for i in 1 2 3 4; do
            echo '[[service.backend]]'
            echo "address = \"10.1.0.$i\""
            echo "mac = \"02:00:00:00:01:0$i\""
        done
    } >sluice.toml
}

start_ctl() {
    local n _
    n=$(grep -c "published generation" ctl.log 2>/dev/null || true)
    "$ctl" --config sluice.toml >>ctl.log 2>&1 &
    ctl_pid=$!
    for _ in $(seq 100); do
        [ "$(grep -c "published generation" ctl.log)" -gt "${n:-0}" ] && return 0
        sleep 0.1
    done
    echo "FAIL: sluice-control did not publish within 10 s"
    cat ctl.log
    exit 1
}

stop_ctl() {
    if [ -n "$ctl_pid" ]; then kill -9 "$ctl_pid" 2>/dev/null || true; fi
    wait "$ctl_pid" 2>/dev/null || true
    ctl_pid=
}

# ctl_metric NAME: the value of the unlabelled metric NAME on sluice-control's
# /metrics (its address from `sluicectl status`), or "missing".
ctl_metric() {
    local addr
    addr=$("$ctlcli" --socket control.sock status --json |
        $py -c 'import json,sys; print(json.load(sys.stdin)["metrics"])')
    $py - "$addr" "$1" <<'PY'
import sys, urllib.request
addr, name = sys.argv[1], sys.argv[2]
text = urllib.request.urlopen("http://%s/metrics" % addr, timeout=5).read().decode()
values = [l.split()[1] for l in text.splitlines() if l.startswith(name + " ")]
print(values[0] if values else "missing")
PY
}
