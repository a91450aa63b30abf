#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Two workers, two queues: the real sluice-dataplane with `-l 0,1` on
# net_af_packet with qpairs=2 (one-armed) on one end of a veth pair in a
# network namespace of its own. The PMD opens one packet socket per queue,
# all in one PACKET_FANOUT group in hash mode: the kernel spreads flows over
# the queues by flow hash, as RSS does on a NIC.
#
# multiqueue.py sends ~4400 packets of ~1000 TCP/UDP flows (dsr-l2 over
# IPv4 and IPv6, ipip, gue; the services of services.json) into the other
# end, at most 64 in flight, and captures what comes back. Checked:
#  - every packet came back once, to the backend `sluice-dp-lookup` (the
#    packet core run offline) predicts, with the right rewrite
#    (verify_pcap.py's check_forward);
#  - every packet is accounted for: sent, the dataplane's rx/tx counters,
#    captured, and the kernel's drop counters on the way;
#  - each worker received at least 20% of the packets (region counters after
#    the stop, and /sluice/workers through dpdk-telemetry.py before it);
#  - SIGTERM stops the dataplane with exit code 0;
#  - first, one worker on qpairs=2 is refused at start (exit 1, a clear
#    error): the kernel would feed the socket no worker reads.
# Observed, not checked: whether each of 16 flows, sent one at a time, landed
# on one worker only.
#
# The two workers busy-poll both CPUs of a small machine: the dataplane runs
# under `nice -n 19` so that the sender and the capture get their share, and
# the sender waits for each batch's output before the next (no timing in
# any pass/fail decision).
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_DP_LOOKUP, SLUICE_TEST_DIR. To see the test fail:
# SLUICE_MQ_QPAIRS=1 (one queue, so one worker); SLUICE_MQ_LCORES=1 (one
# worker) is refused at start.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=mq
lookup=${SLUICE_DP_LOOKUP:?}
lcores=${SLUICE_MQ_LCORES:-0,1}
qpairs=${SLUICE_MQ_QPAIRS:-2}
if [ "$(nproc)" -lt 2 ]; then
    echo "SKIP: needs 2 CPUs (two worker lcores, -l 0,1)"
    exit 77
fi
if ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
    echo "SKIP: python3-scapy is not installed"
    exit 77
fi
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
snd=mq-snd # the sender's and capture's end
dpe=mq-dp  # the dataplane's end
veth_pair "$snd" "$dpe"

box=(--mac 02:00:00:00:00:aa --ipv4 192.0.2.1 --ipv6 2001:db8::1
     --gateway-mac 02:00:00:00:00:fe)
$py "$here/multiqueue.py" gen in.pcap
"$region" publish --instance "$inst" --spec "$here/services.json"
"$lookup" --instance "$inst" --pcap in.pcap --box-mac 02:00:00:00:00:aa \
    --gateway-mac 02:00:00:00:00:fe --box-ipv4 192.0.2.1 --box-ipv6 2001:db8::1 --mtu 1500 >pred.jsonl

# More queues than workers: refused at start with a clear error (the
# kernel would feed the sockets no worker reads, and lose their packets).
rc=0
timeout 60 ip netns exec "$ns" nice -n 19 "$dp" -l 0 --no-pci "${mem_args[@]}" \
    --file-prefix "$prefix-1" --log-level='*:warning' -- \
    --port "net_af_packet0,iface=$dpe,qpairs=2" --instance "$inst" "${box[@]}" --mtu 1500 \
    >dp1.log 2>&1 || rc=$?
rm -rf "/var/run/dpdk/$prefix-1"
if [ "$rc" != 1 ] || ! grep -q "qpairs=2 but sluice runs 1 worker" dp1.log; then
    echo "FAIL: one worker on qpairs=2: want exit 1 and a clear error, got $rc:"
    cat dp1.log
    exit 1
fi
echo "one worker on qpairs=2: refused: $(grep -o 'port .*lcores' dp1.log)"

# One run of the dataplane (two workers, -l $lcores, qpairs=$qpairs): started,
# the frames of $pcap sent and captured, stopped, checked.
run_phase() { # mtu port-spec-extra pcap pred
    local mtu=$1 port_extra=$2 pcap=$3 pred=$4
    t0=$(date +%s%N)
    # Not through nsx: $! must be the dataplane's pid (ip netns exec and nice exec).
    ip netns exec "$ns" nice -n 19 "$dp" -l "$lcores" --no-pci "${mem_args[@]}" --file-prefix "$prefix" \
        --log-level='*:warning' -- --port "net_af_packet0,iface=$dpe,qpairs=$qpairs$port_extra" \
        --instance "$inst" "${box[@]}" --mtu "$mtu" >dp.log 2>&1 &
    dp_pid=$!
    if ! "$region" wait-worker --instance "$inst" --timeout-ms 20000; then
        echo "FAIL: no worker running"
        cat dp.log
        exit 1
    fi
    cat dp.log
    # With several queues the PMD has no RSS: sluice must say that the kernel
    # spreads the flows, not that the queues will not share the load.
    workers=$("$region" counters --instance "$inst" | $py -c 'import json,sys; print(json.load(sys.stdin)["n_workers"])')
    if [ "$workers" -gt 1 ] && ! grep -q "PACKET_FANOUT hash spreads flows" dp.log; then
        echo "FAIL: the dataplane does not say that the kernel's fanout spreads flows over the queues"
        exit 1
    fi
    if grep -q "will not share the load" dp.log; then
        echo "FAIL: the dataplane says the af_packet queues will not share the load"
        exit 1
    fi

    nsx $py "$here/multiqueue.py" send --iface "$snd" --veth "$snd" "$dpe" --pred "$pred" \
        --region "$region" --instance "$inst" "$pcap" out.pcap stats.json

    # Per-worker rx through DPDK telemetry too, while the dataplane runs.
    tel=
    if command -v dpdk-telemetry.py >/dev/null; then
        echo /sluice/workers | dpdk-telemetry.py -f "$prefix" >workers.json 2>&1 || true
        if ! tel=$($py - workers.json <<'PY'
import json, re, sys
m = re.search(r'\{"/sluice/workers".*\}', open(sys.argv[1]).read(), re.S)
if not m:
    sys.exit(1)
ws = json.loads(m.group(0))["/sluice/workers"]
print(" ".join(str(ws[k]["rx_packets"]) for k in sorted(ws, key=lambda k: int(k[len("worker"):]))))
PY
        ); then
            echo "FAIL: no /sluice/workers answer through dpdk-telemetry.py:"
            cat workers.json
            exit 1
        fi
        echo "telemetry /sluice/workers rx_packets: $tel"
    fi

    stop_dp dp.log
    t1=$(date +%s%N)
    echo "dataplane ran $(( (t1 - t0) / 1000000 )) ms; exit 0 after SIGTERM"

    "$region" counters --instance "$inst" >counters.json
    region_rx=$($py -c 'import json,sys; print(" ".join(str(w["rx_packets"]) for w in json.load(open(sys.argv[1]))["workers"]))' counters.json)
    if [ -n "$tel" ] && [ "$tel" != "$region_rx" ]; then
        echo "FAIL: telemetry per-worker rx ($tel) differs from the region's after the stop ($region_rx)"
        exit 1
    fi
    $py "$here/multiqueue.py" verify --veth "$snd" "$dpe" "$pcap" "$pred" out.pcap stats.json \
        counters.json
}

echo "== 1500-byte MTU"
run_phase 1500 "" in.pcap pred.jsonl

echo "== jumbo frames: MTU 9000, af_packet frames of 10240 bytes"
# IP packets of 8940 bytes (encapsulation adds up to 52: GUE to an IPv6
# backend; within 9000), in af_packet frames of 10240 bytes (at least the
# MTU + 88: the kernel puts a frame 66 bytes in; blocks a multiple of it).
for i in "$snd" "$dpe"; do ip -n "$ns" link set "$i" mtu 9000; done
$py "$here/multiqueue.py" gen --ip-size 8940 jumbo.pcap
"$lookup" --instance "$inst" --pcap jumbo.pcap --box-mac 02:00:00:00:00:aa \
    --gateway-mac 02:00:00:00:00:fe --box-ipv4 192.0.2.1 --box-ipv6 2001:db8::1 --mtu 9000 \
    >pred-jumbo.jsonl
run_phase 9000 ",framesz=10240,blocksz=20480" jumbo.pcap pred-jumbo.jsonl
echo "PASS"
