#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Table swap while packets flow: sluice-gen (lcore 0) sends UDP flows over
# memif to sluice-dataplane (lcore 1, dsr-l2) and checks every returned
# packet against the backends of table A and table B (sluice-dp-expect,
# decide.h on the same specs); meanwhile the test publisher publishes A and B
# alternately 1000 times. Pass: nothing lost, nothing misrouted, both tables
# seen, every swap done while traffic flowed.
# SLUICE_SWAP_FWD=ipip|gue: the same services in that forwarding mode; every
# returned packet must then be encapsulated towards its backend's address.
# SLUICE_SWAP_FORMS=1: B's tables raw, A's packed (region.h), so that every
# swap changes the tables' form too.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_DP_EXPECT, SLUICE_GEN_BIN, SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=swap
swaps=${SLUICE_SWAPS:-1000}
# shellcheck source=memif_common.sh
source "$(dirname "$0")/memif_common.sh"

flows=4096
A=$here/swap_a.json
B=$here/swap_b.json
fwd=${SLUICE_SWAP_FWD:-dsr-l2}
if [ "$fwd" != dsr-l2 ]; then
    for t in a b; do
        sed "s/\"fwd\": \"dsr-l2\"/\"fwd\": \"$fwd\"/" "$here/swap_$t.json" >"swap_$t.json"
        grep -q "\"fwd\": \"$fwd\"" "swap_$t.json" || { echo "FAIL: no $fwd service in swap_$t.json"; exit 1; }
    done
    A=$work/swap_a.json
    B=$work/swap_b.json
fi
echo "forwarding: $fwd"
"$expect" --flows $flows --vip 10.0.0.1 --dport 80 --proto udp --spec "$A" --spec "$B" >expect.txt
"$region" publish --instance "$inst" --spec "$A"

# The generator is the memif server: it outlives dataplane restarts.
"$gen" -l 0 --no-pci "${mem_args[@]}" --log-level='*:warning' -- \
    --port "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" --flows $flows --window 256 \
    --duration-ms 40000 --drain-ms 1000 --expect expect.txt >gen.json 2>gen.log &
gen_pid=$!
pids+=($gen_pid)
# The generator's memif server socket must exist before the client starts.
for _ in $(seq 1000); do [ -S "$sock" ] && break; sleep 0.01; done
[ -S "$sock" ] || { echo "FAIL: sluice-gen did not create $sock"; cat gen.log; exit 1; }
"$dp" -l 1 --no-pci "${mem_args[@]}" --log-level='*:warning' -- \
    --port "$dp_port" --instance "$inst" \
    --mac 02:00:00:00:00:aa --ipv4 192.0.2.1 --gateway-mac 02:00:00:00:00:fe >dp.log 2>&1 &
dp_pid=$!
pids+=($dp_pid)
"$region" wait-worker --instance "$inst" --timeout-ms 10000 || { cat dp.log gen.log; exit 1; }
sleep 0.5 # traffic flows

t0=$(date +%s%N)
forms=()
[ "${SLUICE_SWAP_FORMS:-0}" = 1 ] && forms=(--raw-b) && echo "B's tables raw, A's packed"
"$region" publish --instance "$inst" --spec "$A" --spec "$B" --count "$swaps" --interval-us 500 \
    "${forms[@]}" | tee publish.txt
if [ ${#forms[@]} -ne 0 ] && ! grep -Eq "entry_bits: copy 0 (0, copy 1 [1248]|[1248], copy 1 0)$" publish.txt; then
    echo "FAIL: the last two publishes are not one raw and one packed table"
    exit 1
fi
t1=$(date +%s%N)
echo "swaps: $swaps in $(( (t1 - t0) / 1000000 )) ms"
if ! kill -0 $gen_pid 2>/dev/null; then
    echo "FAIL: the generator stopped before the swaps were done: $(cat gen.json)"
    exit 1
fi
sleep 0.3 # traffic on the last table, then stop sending
kill -INT $gen_pid
wait $gen_pid || { echo "FAIL: sluice-gen failed"; cat gen.log; exit 1; }
kill -TERM $dp_pid
wait $dp_pid || { echo "FAIL: sluice-dataplane exit status $?"; cat dp.log; exit 1; }
"$region" counters --instance "$inst" >counters.json
echo "generator: $(cat gen.json)"
/usr/bin/python3 - gen.json counters.json "$swaps" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[2]))
swaps = int(sys.argv[3])
errs = []
if g["sent"] < 100000:
    errs.append("too little traffic: %d packets" % g["sent"])
if g["lost"] != 0:
    errs.append("%d packets lost" % g["lost"])
if g["misrouted"] != 0:
    errs.append("%d packets misrouted" % g["misrouted"])
if g["old_table"] == 0 or g["new_table"] == 0:
    errs.append("only one table seen: A %d, B %d" % (g["old_table"], g["new_table"]))
if c["generation"] != swaps + 1:
    errs.append("generation %d, want %d" % (c["generation"], swaps + 1))
if any(w["observed_generation"] != swaps + 1 for w in c["workers"]):
    errs.append("a worker did not observe the last generation")
dropped = sum(v for k, v in c["drops"].items())
if dropped:
    errs.append("dataplane drops: %s" % {k: v for k, v in c["drops"].items() if v})
for e in errs:
    print("FAIL:", e)
sys.exit(1 if errs else 0)
EOF
echo PASS
