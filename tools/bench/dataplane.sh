#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The dataplane benchmark (called by `scripts/bench dataplane`; not a test).
#
#  1. I/O path: sluice-gen on CPU 0 (memif server) sends 64-byte UDP frames
#     of FLOWS flows to one VIP with 100 backends; on CPU 1 either
#     sluice-dataplane (memif client; dsr-l2 or ipip) or, in its place,
#     dpdk-testpmd --forward-mode=macswap. Received Mpps at the generator,
#     alternating sluice / testpmd, RUNS runs each; medians and the ratio.
#  2. The in-memory pipeline (parse + decide + rewrite, no I/O) on one core.
#
# usage: tools/bench/dataplane.sh [BUILD_DIR]
# env:   RUNS (5), DURATION_MS (3000), FLOWS (1000000), MODES ("dsr-l2 ipip"),
#        PROTO (udp), PIPELINE_PACKETS (50000000)
# Needs root and hugepages (or it falls back to --no-huge).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
runs=${RUNS:-5}
duration=${DURATION_MS:-3000}
flows=${FLOWS:-1000000}
modes=${MODES:-"dsr-l2 ipip"}
proto=${PROTO:-udp}
pipeline_packets=${PIPELINE_PACKETS:-50000000}

dp=$build/dataplane/src/sluice-dataplane
gen=$build/tools/gen/sluice-gen
region=$build/tests/dataplane/sluice-dp-region
pipeline=$build/tests/dataplane/sluice-dp-pipeline-bench
testpmd=$(command -v dpdk-testpmd || true)
for b in "$dp" "$gen" "$region" "$pipeline"; do
    [ -x "$b" ] || { echo "missing $b: build first (ninja -C $build)"; exit 1; }
done

free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "$(id -u)" = 0 ] && [ "${free_huge:-0}" -ge 256 ]; then
    mem=(--in-memory)
else
    mem=(--no-huge -m 512 --no-shconf)
fi

work=$(mktemp -d /tmp/sluice-bench-dp.XXXXXX)
inst=bench-dp-$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    "$region" unlink --instance "$inst" 2>/dev/null || true
    rm -rf "$work" "/var/run/dpdk/bench-gen-$$" "/var/run/dpdk/bench-dp-$$" "/var/run/dpdk/bench-tp-$$"
}
trap cleanup EXIT

spec() { # mode [backends] -> spec file: 1 VIP, 100 backends, table 65537
    local nb=${2:-100}
    /usr/bin/python3 - "$1" "$proto" "$nb" >"$work/spec-$1-$nb.json" <<'EOF'
import json, sys
mode, proto, nb = sys.argv[1], sys.argv[2], int(sys.argv[3])
backends = [{"addr": "10.1.%d.%d" % (i // 250, i % 250 + 1),
             "mac": "02:00:00:00:%02x:%02x" % (i // 256, i % 256)} for i in range(nb)]
print(json.dumps({"seed": "5a1c3e0011223344556677889900aabb", "services": [
    {"vip": "10.0.0.1", "port": 80, "proto": proto, "fwd": mode, "table_size": 65537,
     "backends": backends}]}))
EOF
    echo "$work/spec-$1-$nb.json"
}

# One run: $1 = sluice|testpmd. Prints the generator's received Mpps.
run_once() {
    local sock=$work/memif-$RANDOM.sock peer
    "$gen" -l 0 --no-pci "${mem[@]}" --file-prefix "bench-gen-$$" --log-level='*:error' -- \
        --port "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" --flows "$flows" --proto "$proto" \
        --duration-ms "$duration" --drain-ms 200 >"$work/gen.json" 2>"$work/gen.log" &
    local g=$!
    pids+=($g)
    for _ in $(seq 1000); do [ -S "$sock" ] && break; sleep 0.01; done
    if [ "$1" = sluice ]; then
        "$dp" -l 1 --no-pci "${mem[@]}" --file-prefix "bench-dp-$$" --log-level='*:error' -- \
            --port "net_memif0,role=client,socket=$sock,socket-abstract=no,id=0" --instance "$inst" \
            --mac 02:00:00:00:00:aa --ipv4 192.0.2.1 --gateway-mac 02:00:00:00:00:fe \
            >"$work/peer.log" 2>&1 &
    else
        # testpmd needs a main lcore besides its forwarding lcore: main on
        # CPU 0 (it sleeps), forwarding on CPU 1.
        "$testpmd" -l 0,1 --main-lcore 0 --no-pci "${mem[@]}" --file-prefix "bench-tp-$$" \
            --log-level='*:error' --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no,id=0" -- \
            --forward-mode=macswap --auto-start --stats-period 10 --nb-cores=1 \
            >"$work/peer.log" 2>&1 &
    fi
    peer=$!
    pids+=($peer)
    wait "$g" || true
    kill -INT "$peer" 2>/dev/null || true
    wait "$peer" 2>/dev/null || true
    /usr/bin/python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["rx_mpps"])' \
        "$work/gen.json" 2>/dev/null || echo 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "# sluice dataplane benchmark: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $flows flows, 1 VIP, 100 backends, 64-byte $proto frames, ${duration} ms per run, $runs runs"
echo
echo "| mode | sluice Mpps (runs) | testpmd macswap Mpps (runs) | sluice median | testpmd median | ratio |"
echo "| --- | --- | --- | --- | --- | --- |"
for mode in $modes; do
    "$region" publish --instance "$inst" --spec "$(spec "$mode")" >/dev/null
    s=()
    t=()
    for _ in $(seq "$runs"); do
        s+=("$(run_once sluice)")
        if [ -n "$testpmd" ]; then
            t+=("$(run_once testpmd)")
        fi
    done
    sm=$(median "${s[@]}")
    if [ -n "$testpmd" ]; then
        tm=$(median "${t[@]}")
        ratio=$(awk -v a="$sm" -v b="$tm" 'BEGIN {printf "%.2f", (b > 0) ? (a / b) : 0}')
    else
        tm=n/a
        ratio=n/a
    fi
    echo "| $mode | ${s[*]} | ${t[*]:-} | $sm | $tm | $ratio |"
done

echo
echo "In-memory pipeline (parse + decide + rewrite, no I/O, CPU 1, $flows flows):"
echo
echo "| mode | Mpps (wall) | Mpps (per CPU second) | ns/packet (CPU) |"
echo "| --- | --- | --- | --- |"
for mode in $modes; do
    w=()
    c=()
    ns=()
    for _ in 1 2 3; do
        out=$(taskset -c 1 "$pipeline" --spec "$(spec "$mode")" --flows "$flows" --proto "$proto" \
            --packets "$pipeline_packets")
        w+=("$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["mpps"])')")
        c+=("$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_mpps"])')")
        ns+=("$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ns_per_packet"])')")
    done
    echo "| $mode | $(median "${w[@]}") | $(median "${c[@]}") | $(median "${ns[@]}") |"
done

# How the pipeline rate changes with the number of backends and of flows
# (dsr-l2; CPU-time Mpps, median of 3).
pipe_mpps() { # spec flows
    local c=()
    for _ in 1 2 3; do
        c+=("$(taskset -c 1 "$pipeline" --spec "$1" --flows "$2" --proto "$proto" \
            --packets "$pipeline_packets" |
            /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_mpps"])')")
    done
    median "${c[@]}"
}
echo
echo "Pipeline (dsr-l2) by backends (1M flows) and by flows (100 backends), Mpps per CPU second:"
echo
echo "| backends | 1 | 10 | 100 | 1000 |"
echo "| --- | --- | --- | --- | --- |"
row="| Mpps |"
for nb in 1 10 100 1000; do
    row="$row $(pipe_mpps "$(spec dsr-l2 "$nb")" "$flows") |"
done
echo "$row"
echo
echo "| flows | 1k | 100k | 1M | 10M |"
echo "| --- | --- | --- | --- | --- |"
row="| Mpps |"
for nf in 1000 100000 1000000 10000000; do
    row="$row $(pipe_mpps "$(spec dsr-l2 100)" "$nf") |"
done
echo "$row"
