#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Workers on a port whose PMD offers RSS: the real sluice-dataplane (under
# `nice -n 19`) on net_tap, whose DPDK 22.11 PMD reports RSS hash types, so
# that sluice configures the port for RSS (the branch a NIC takes;
# dataplane-multiqueue covers af_packet, which has none). The tap's kernel
# side (tun) picks the queue of each frame by its flow hash, as a NIC's RSS
# would. With 2 workers (`-l 0,1`), then 4 (`--lcores 0@0,1@1,2@0,3@1`:
# two per CPU of a 2-CPU machine):
#  - the dataplane says N worker(s) and not that the port has no RSS;
#  - 2000 TCP SYNs of 2000 flows, written into the tap interface in batches
#    of 200, each waited for: all received and sent (rx = tx = 2000, no
#    drop), each worker at least 40% of its even share;
#  - 8 flows, 20 SYNs each: every flow's SYNs all on one worker;
#  - SIGTERM stops it with exit code 0 within 10 s (netns_common.sh).
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=rss
. "${SLUICE_TEST_DIR:-$(dirname "$0")}/netns_common.sh"
if [ ! -c /dev/net/tun ]; then
    echo "SKIP: no /dev/net/tun (the tap PMD needs it)"
    exit 77
fi

"$region" publish --instance "$inst" --spec "$here/services.json"
dp_nice=19

# worker_rx: the workers' received packets, space-separated.
worker_rx() {
    "$region" counters --instance "$inst" |
        $py -c 'import json,sys; print(*[w["rx_packets"] for w in json.load(sys.stdin)["workers"]])'
}

# run_case WORKERS LCORES: the dataplane with WORKERS workers on LCORES.
run_case() {
    local workers=$1 first total flow before after moved
    echo "== $workers workers ($2)"
    dp_lcores=$2
    start_dp "dp$workers.log" "net_tap0,iface=sltap0"
    nsx ip link set sltap0 arp off up
    if ! grep -q "$workers worker(s)" "dp$workers.log" || grep -q "has no RSS" "dp$workers.log"; then
        echo "FAIL: want $workers workers and RSS on the tap port:"
        cat "dp$workers.log"
        exit 1
    fi
    # In batches of 200, each waited for: the tap's queues hold 1000
    # frames, and the workers run under nice.
    for first in $(seq 0 200 1800); do
        send_syns sltap0 "$first" 200
        "$region" wait-rx --instance "$inst" --packets $((first + 200)) --timeout-ms 10000
    done
    "$region" counters --instance "$inst" >counters.json
    $py - counters.json "$workers" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
p = c["ports"][0]
w = [x["rx_packets"] for x in c["workers"]]
drops = {k: v for k, v in c["drops"].items() if v}
print(f"port: rx {p['rx_packets']}, tx {p['tx_packets']}; by worker {w}; drops {drops}")
if p["rx_packets"] != 2000 or p["tx_packets"] != 2000 or drops:
    print("FAIL: want rx = tx = 2000 and no drop")
    sys.exit(1)
if len(w) != n or min(w) < 0.4 * 2000 / n:
    print(f"FAIL: want {n} workers with at least 40% of an even share each")
    sys.exit(1)
PY
    # One flow at a time: SYN i is flow i (send_syns); its 20 copies on
    # one worker.
    total=2000
    for flow in 3 77 150 401 999 1234 1500 1999; do
        before=$(worker_rx)
        for _ in $(seq 20); do
            send_syns sltap0 "$flow" 1
        done
        total=$((total + 20))
        "$region" wait-rx --instance "$inst" --packets "$total" --timeout-ms 10000
        after=$(worker_rx)
        moved=$($py -c 'import sys; a, b = sys.argv[1].split(), sys.argv[2].split(); print(*[int(y) - int(x) for x, y in zip(a, b)])' "$before" "$after")
        echo "flow $flow: by worker +${moved// / +}"
        if [ "$(tr ' ' '\n' <<<"$moved" | grep -vcx 0)" != 1 ]; then
            echo "FAIL: flow $flow was spread over several workers"
            exit 1
        fi
    done
    stop_dp "dp$workers.log"
    echo "exit 0 after SIGTERM"
}

run_case 2 0,1
# A new incarnation counts from 0 (its start resets the region's counters).
run_case 4 0@0,1@1,2@0,3@1
echo "PASS"
