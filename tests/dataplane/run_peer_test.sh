#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The dataplane's memif peer comes and goes (sluice-dataplane is the memif
# client, sluice-gen the server, as a VPP or a vswitch would be):
#  1. the dataplane starts before any server exists: it runs, waits, and
#     says so;
#  2. ROUNDS servers in turn, every other one killed with SIGKILL in the
#     middle of its traffic (the dataplane's PMD then unmaps the regions
#     while its worker polls them: io_guard), the others ending normally:
#     after each, the dataplane is still alive; each new server has its link
#     up within LINK_LIMIT_MS of its start, and gets its traffic back, every
#     packet to the backend the table says;
#  3. SIGTERM: the dataplane exits 0.
# With SLUICE_MEMIF_ZERO_COPY=1 the dataplane's client is zero-copy, which
# cannot connect twice in one process (link.hpp) and exits with status 75
# for its service manager to start it again: here a loop that does what
# systemd's Restart=on-failure would. In 2, after each server the dataplane
# must exit with status 75 within a second, saying why, and the one started
# again must serve the next server as above.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=peer
rounds=${SLUICE_PEER_ROUNDS:-20}
link_limit_ms=${SLUICE_PEER_LINK_LIMIT_MS:-1000}
# shellcheck source=memif_common.sh
source "$(dirname "$0")/memif_common.sh"

flows=4096
A=$here/swap_a.json
"$expect" --flows $flows --vip 10.0.0.1 --dport 80 --proto udp --spec "$A" >expect.txt
"$region" publish --instance "$inst" --spec "$A" >/dev/null

rx_total() {
    "$region" counters --instance "$inst" |
        /usr/bin/python3 -c 'import json,sys; print(sum(p["rx_packets"] for p in json.load(sys.stdin)["ports"]))'
}
dp_alive() {
    if ! kill -0 "$dp_pid" 2>/dev/null; then
        wait "$dp_pid" 2>/dev/null && st=0 || st=$?
        echo "FAIL: sluice-dataplane died ($1; exit status $st)"
        tail -20 dp.log
        exit 1
    fi
}

dp_argv=("$dp" -l 1 --no-pci "${mem_args[@]}" --log-level='*:warning' --
    --port "$dp_port" --instance "$inst" --mac 02:00:00:00:00:aa)
: >exits.txt
: >dp.log
if [ -z "$zero_copy" ]; then
    "${dp_argv[@]}" >>dp.log 2>&1 &
    dp_pid=$!
    pids+=($dp_pid)
else
    # The service manager: each exit status to exits.txt, a restart after 75.
    (
        while :; do
            "${dp_argv[@]}" >>dp.log 2>&1 && st=0 || st=$?
            echo "$st" >>exits.txt
            [ "$st" = 75 ] || exit "$st"
        done
    ) &
    dp_pid=$!
    pids+=($dp_pid)
fi
zc_gone="memif server gone; a zero-copy memif client cannot connect again"
gone() { grep -c "$zc_gone" dp.log || true; }
exits() { wc -l <exits.txt; }
# After a server: the dataplane goes on; a zero-copy one says why and exits
# 75 within a second ($1, $2: its counts of servers gone and of exits
# before), and its successor runs its worker.
after_server() {
    if [ -n "$zero_copy" ]; then
        for _ in $(seq 100); do
            [ "$(gone)" -gt "$1" ] && [ "$(exits)" -gt "$2" ] && break
            sleep 0.01
        done
        if [ "$(gone)" -le "$1" ] || [ "$(exits)" -le "$2" ]; then
            echo "FAIL: the zero-copy dataplane did not say why and exit within a second $3"
            tail -20 dp.log
            exit 1
        fi
        local t
        t=$("$region" now)
        if grep -qv '^75$' exits.txt; then
            echo "FAIL: the zero-copy dataplane exited with status $(grep -v '^75$' exits.txt | head -1) $3, want 75"
            tail -20 dp.log
            exit 1
        fi
        "$region" wait-worker --instance "$inst" --timeout-ms 10000 --after-ns "$t" || {
            echo "FAIL: no dataplane ran again $3"
            tail -20 dp.log
            exit 1
        }
    fi
    dp_alive "$3"
}

echo "== 1. dataplane first, no memif server yet"
"$region" wait-worker --instance "$inst" --timeout-ms 10000 || { cat dp.log; exit 1; }
sleep 0.5
dp_alive "with no memif server"
grep -q "no memif server listens on $sock yet; waiting for it" dp.log || {
    echo "FAIL: the dataplane did not say that it waits for its memif server"
    cat dp.log
    exit 1
}

echo "== 2. $rounds servers, every other one killed mid-traffic"
kills=0
for r in $(seq "$rounds"); do
    rm -f "$sock" gen.json # a killed server leaves its socket file behind
    rx0=$(rx_total)
    g0=$(gone)
    e0=$(exits)
    "$gen" -l 0 --no-pci "${mem_args[@]}" --log-level='*:warning' -- \
        --port "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" --flows $flows \
        --window 256 --duration-ms 1200 --drain-ms 500 --expect expect.txt >gen.json 2>gen.log &
    gen_pid=$!
    pids+=($gen_pid)
    if [ $((r % 2)) -eq 0 ]; then
        # Killed while its traffic runs: 0.1-0.7 s after the dataplane
        # starts receiving it.
        for _ in $(seq 500); do
            [ "$(rx_total)" -gt "$rx0" ] && break
            sleep 0.01
        done
        [ "$(rx_total)" -gt "$rx0" ] || { echo "FAIL: no traffic in round $r"; cat gen.log dp.log; exit 1; }
        sleep "0.$((RANDOM % 7 + 1))"
        kill -9 "$gen_pid"
        wait "$gen_pid" 2>/dev/null || true
        kills=$((kills + 1))
        sleep 0.2
        after_server "$g0" "$e0" "after its memif server was killed (round $r)"
        echo "round $r: server killed; dataplane ${zero_copy:+restarted, }alive"
    else
        wait "$gen_pid" || { echo "FAIL: sluice-gen failed (round $r)"; cat gen.log; exit 1; }
        after_server "$g0" "$e0" "after its memif server left (round $r)"
        /usr/bin/python3 - gen.json "$r" "$link_limit_ms" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
r, limit = sys.argv[2], float(sys.argv[3])
errs = []
if g["link_ms"] < 0 or g["link_ms"] > limit:
    errs.append("link up %.0f ms after the server started (limit %.0f)" % (g["link_ms"], limit))
if g["received"] < 10000:
    errs.append("too little traffic came back: %d of %d" % (g["received"], g["sent"]))
if g["lost"] != 0:
    errs.append("%d packets lost" % g["lost"])
if g["misrouted"]:
    errs.append("%d packets misrouted" % g["misrouted"])
print("round %s: link up after %.0f ms, %d of %d packets back" % (r, g["link_ms"], g["received"], g["sent"]))
for e in errs:
    print("FAIL: round %s: %s" % (r, e))
sys.exit(1 if errs else 0)
PY
    fi
done

# The worker counted its loop and its busy cycles (region.h); a zero-copy
# dataplane is a new process since the last traffic.
[ -n "$zero_copy" ] || "$region" counters --instance "$inst" | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)["workers"][0]
print("worker: loop %d, busy %d TSC cycles" % (w["loop_tsc"], w["busy_tsc"]))
sys.exit(0 if 0 < w["busy_tsc"] <= w["loop_tsc"] else 1)' || {
    echo "FAIL: the worker did not count its busy cycles"
    exit 1
}

echo "== 3. SIGTERM"
if [ -n "$zero_copy" ]; then
    pkill -TERM -P "$dp_pid" -f sluice-dataplane # the loop's dataplane; the loop then ends
else
    kill -TERM "$dp_pid"
fi
wait "$dp_pid" || { echo "FAIL: sluice-dataplane exit status $?"; tail -20 dp.log; exit 1; }
if [ -n "$zero_copy" ]; then
    lost=$(gone)
else
    lost=$(grep -c "memif server gone; reconnecting" dp.log || true)
fi
echo "dataplane saw its server go $lost times ($kills killed, $((rounds - kills)) ended)"
if [ "$lost" -lt "$rounds" ]; then
    echo "FAIL: $rounds servers went away, the dataplane noticed $lost"
    exit 1
fi
echo PASS
