#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# pcap in, pcap out: the real sluice-dataplane on a net_pcap vdev (one-armed),
# fed with a scapy-made pcap; every output packet and every counter checked
# by verify_pcap.py against what the packet core predicts offline
# (sluice-dp-lookup) and what the test meant (gen_pcap.py).
#
# Phase 1: with the services of services.json published.
# Phase 2: the same input with nothing published (no_table, ARP/ND/echo for
#          the box's own addresses still answered).
# Phase 3: the same input without a gateway MAC (ipip/gue: encap_failed).
# Phase 4: jumbo frames.
#
# Environment (set by CTest): SLUICE_DATAPLANE, SLUICE_DP_REGION,
# SLUICE_DP_LOOKUP, SLUICE_TEST_DIR.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

here=${SLUICE_TEST_DIR:-$(dirname "$0")}
dp=${SLUICE_DATAPLANE:?}
region=${SLUICE_DP_REGION:?}
lookup=${SLUICE_DP_LOOKUP:?}
py=/usr/bin/python3

if ! $py -c 'import scapy' 2>/dev/null; then
    echo "SKIP: python3-scapy is not installed"
    exit 77
fi

# Hugepages if there are enough free, else DPDK's no-hugepage mode.
free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "$(id -u)" = 0 ] && [ "${free_huge:-0}" -ge 128 ]; then
    mem_args=(--in-memory)
else
    mem_args=(--no-huge -m 256 --no-shconf)
fi

work=$(mktemp -d /tmp/sluice-dp-pcap.XXXXXX)
inst_a=dptest-pcap-$$
inst_b=dptest-pcap-empty-$$
inst_c=dptest-pcap-jumbo-$$
inst_d=dptest-pcap-nogw-$$
inst_e=dptest-pcap-no6-$$
dp_pid=
prefix=sluice-dptest-pcap-$$
cleanup() {
    if [ -n "$dp_pid" ]; then kill -9 "$dp_pid" 2>/dev/null || true; fi
    "$region" unlink --instance "$inst_a" 2>/dev/null || true
    "$region" unlink --instance "$inst_b" 2>/dev/null || true
    "$region" unlink --instance "$inst_c" 2>/dev/null || true
    "$region" unlink --instance "$inst_d" 2>/dev/null || true
    "$region" unlink --instance "$inst_e" 2>/dev/null || true
    rm -rf "$work" "/var/run/dpdk/$prefix" 2>/dev/null || true
}
trap cleanup EXIT
cd "$work"

mtu=1500
# The box the dataplane runs as (box) and sluice-dp-lookup predicts for
# (lookup_box): MAC, IPv4, IPv6 and gateway MAC, but for the parts named
# (no-ipv6, no-gateway).
set_box() {
    box=(--mac 02:00:00:00:00:aa --ipv4 192.0.2.1)
    lookup_box=(--box-mac 02:00:00:00:00:aa --box-ipv4 192.0.2.1)
    if [[ " $* " != *" no-ipv6 "* ]]; then
        box+=(--ipv6 2001:db8::1)
        lookup_box+=(--box-ipv6 2001:db8::1)
    fi
    if [[ " $* " != *" no-gateway "* ]]; then
        box+=(--gateway-mac 02:00:00:00:00:fe)
        lookup_box+=(--gateway-mac 02:00:00:00:00:fe)
    fi
}
set_box
n=$($py "$here/gen_pcap.py" in.pcap expect.json | awk '{print $1}')
echo "input: $n packets"

run_dataplane() { # instance
    rm -f out.pcap
    "$dp" -l 1 --no-pci "${mem_args[@]}" --file-prefix "$prefix" --log-level='*:warning' -- \
        --port "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap" --instance "$1" "${box[@]}" --mtu "$mtu" \
        >dp.log 2>&1 &
    dp_pid=$!
    if ! "$region" wait-rx --instance "$1" --packets "$n" --timeout-ms 20000; then
        cat dp.log
        return 1
    fi
    if [ "$1" = "$inst_a" ] && grep -q "tables on huge pages: yes" publish.log; then
        # The tables control put on 2 MB pages are mapped as such by the
        # dataplane (one TLB entry each): the region's read-only mapping.
        local kb
        kb=$(awk -v f="/dev/shm/sluice-$1" '
            /^[0-9a-f]+-[0-9a-f]+ / { m = ($2 == "r--s" && $6 == f) }
            m && /^ShmemPmdMapped:/ { s += $2 } END { print s + 0 }' "/proc/$dp_pid/smaps")
        if [ "$kb" -lt 2048 ]; then
            echo "FAIL: the dataplane maps its tables on 4 KB pages (ShmemPmdMapped $kb kB)"
            grep -A25 "sluice-$1" "/proc/$dp_pid/smaps"
            return 1
        fi
        echo "tables: $kb kB on 2 MB pages in the dataplane's mapping"
    elif [ "$1" = "$inst_a" ] && grep -q "this kernel can put them there: yes" publish.log; then
        echo "FAIL: this kernel puts shared memory on huge pages, sluice-dp-region did not:"
        cat publish.log
        return 1
    elif [ "$1" = "$inst_a" ]; then
        echo "tables not on huge pages (kernel before 6.1 or shmem THP denied): $(grep "huge pages" publish.log)"
    fi
    if [ "$1" = "$inst_a" ] && command -v dpdk-telemetry.py >/dev/null; then
        # DPDK telemetry (needs --file-prefix; works with --in-memory too).
        echo /sluice/stats | dpdk-telemetry.py -f "$prefix" >telemetry.json 2>&1 || true
        if ! grep -q "\"port0_rx_packets\": $n," telemetry.json; then
            echo "FAIL: /sluice/stats telemetry does not show $n received packets:"
            cat telemetry.json
            return 1
        fi
        echo "telemetry: $(tail -1 telemetry.json)"
        # The worker's loop and busy cycles: counted, busy within loop.
        echo /sluice/workers | dpdk-telemetry.py -f "$prefix" >workers.json 2>&1 || true
        if ! /usr/bin/python3 - workers.json <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r'\{"/sluice/workers".*\}', text, re.S)
w = json.loads(m.group(0))["/sluice/workers"]["worker0"]
ok = 0 < w["busy_tsc"] <= w["loop_tsc"] and w["tsc_hz"] > 0 and 0 <= w["busy_permille"] <= 1000
print("worker0: loop %d, busy %d TSC cycles (%d per mille)" % (w["loop_tsc"], w["busy_tsc"], w["busy_permille"]))
sys.exit(0 if ok else 1)
PY
        then
            echo "FAIL: /sluice/workers does not count the worker's busy cycles:"
            cat workers.json
            return 1
        fi
    fi
    kill -TERM "$dp_pid"
    local rc=0
    wait "$dp_pid" || rc=$?
    dp_pid=
    if [ "$rc" != 0 ]; then
        echo "FAIL: sluice-dataplane exited with $rc after SIGTERM"
        cat dp.log
        return 1
    fi
    "$region" counters --instance "$1" >counters.json
    "$lookup" --instance "$1" --pcap in.pcap "${lookup_box[@]}" --mtu "$mtu" >pred.jsonl
}

# A phase that drops some packets as encap_failed: INSTANCE published, the
# dataplane run on it, and such drops counted.
run_encap_failed() {
    "$region" publish --instance "$1" --spec "$here/services.json"
    run_dataplane "$1"
    grep -q '"encap_failed": [1-9]' counters.json || { echo "FAIL: no encap_failed drops"; exit 1; }
}

echo "== phase 1: services published"
"$region" publish --instance "$inst_a" --spec "$here/services.json" | tee publish.log
run_dataplane "$inst_a"
$py "$here/verify_pcap.py" in.pcap expect.json pred.jsonl out.pcap counters.json

echo "== phase 2: nothing published"
"$region" unlink --instance "$inst_b" 2>/dev/null || true
run_dataplane "$inst_b"
grep -q '"no_table": [1-9]' counters.json || { echo "FAIL: no no_table drops"; exit 1; }
$py "$here/verify_pcap.py" --no-expect in.pcap expect.json pred.jsonl out.pcap counters.json

echo "== phase 3: no gateway MAC"
# Without --gateway-mac, encapsulated frames would go to 00:00:00:00:00:00:
# every ipip/gue packet is dropped as encap_failed (not answered with
# fragmentation-needed either), dsr-l2 and the rest as in phase 1.
set_box no-gateway
run_encap_failed "$inst_d"
if grep -q '"fwd": "\(ipip\|gue\)".*"outcome": "forward"' pred.jsonl ||
    ! grep -q '"fwd": "ipip".*"drop": "encap_failed"' pred.jsonl; then
    echo "FAIL: sluice-dp-lookup does not predict encap_failed for ipip without a gateway MAC"
    exit 1
fi
$py "$here/verify_pcap.py" --no-expect in.pcap expect.json pred.jsonl out.pcap counters.json
set_box

echo "== phase 5: no IPv6 address"
# Without --ipv6 the outer source towards IPv6 backends would be "::": every
# packet encapsulated to one is dropped as encap_failed, the rest as in
# phase 1 (ND for the box's IPv6 address is no longer answered), and the
# dataplane names the services that need the address.
set_box no-ipv6
run_encap_failed "$inst_e"
if ! grep -q '"backend_family": 6.*"drop": "encap_failed"' pred.jsonl ||
    grep -q '"fwd": "\(ipip\|gue\)".*"backend_family": 6.*"outcome": "forward"' pred.jsonl; then
    echo "FAIL: sluice-dp-lookup does not predict encap_failed towards IPv6 backends without --ipv6"
    exit 1
fi
if ! grep -q 'generation 1: service [0-9]* (.*): no IPv6 address (--ipv6)' dp.log; then
    echo "FAIL: the dataplane does not name the services that need an IPv6 address:"
    cat dp.log
    exit 1
fi
grep 'no IPv6 address' dp.log
$py "$here/verify_pcap.py" --no-expect in.pcap expect.json pred.jsonl out.pcap counters.json
set_box

echo "== phase 4: jumbo frames, --mtu 9000"
# Frames of up to 9000-byte IP packets fit one mbuf (the dataplane drops
# chained ones): forwarded as dsr-l2 and IPIP up to the MTU, answered with
# fragmentation-needed above it.
$py - in.pcap expect.json <<'PY'
import json, logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap
eth = Ether(src="02:00:00:00:01:01", dst="02:00:00:00:00:aa")
def tcp(size, sport):
    p = IP(src="198.18.0.1", dst="10.0.0.1", flags="DF") / TCP(sport=sport, dport=80, flags="A")
    return eth / p / Raw(b"j" * (size - len(p)))
def udp(size, sport, dst="10.0.0.2", dport=53):
    p = IP(src="198.18.0.2", dst=dst, flags="DF") / UDP(sport=sport, dport=dport)
    return eth / p / Raw(b"u" * (size - len(p)))
pkts = [(tcp(1400, 1000), "forward"), (tcp(9000, 1001), "forward"), (tcp(8000, 1002), "forward"),
        (udp(8980, 2000), "forward"), (udp(8981, 2001), "too_big")]
wrpcap(sys.argv[1], [p for p, _ in pkts])
json.dump([e for _, e in pkts], open(sys.argv[2], "w"))
PY
n=5
mtu=9000
"$region" publish --instance "$inst_c" --spec "$here/services.json"
run_dataplane "$inst_c"
$py "$here/verify_pcap.py" in.pcap expect.json pred.jsonl out.pcap counters.json
echo "PASS"
