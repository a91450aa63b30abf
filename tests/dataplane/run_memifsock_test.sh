#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The dataplane's memif client finds its server by the socket's path as
# connect() does, not only as /proc/net/unix lists it (that lists the
# sockets of the reader's network namespace only, under the path the server
# bound, byte for byte):
#  1. the server binds DIR/real/m.sock, the client is given DIR/link/m.sock
#     (link -> real, as /var/run -> /run): connected, traffic back;
#  2. the server binds through the link, the client is given the real path:
#     the same;
#  3. (root) the server in a network namespace of its own (ip netns exec, as
#     a VPP in a container), the dataplane in this one, on the same path;
#     the dataplane started first: connected once the server is there;
#  4. a stale socket file (no server): the dataplane tries it once a second,
#     not on every 50 ms tick, and connects once a server binds there.
# Before, 1-3 never connected ("no memif server listens ... yet" for ever).
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=memifsock
link_limit_ms=${SLUICE_PEER_LINK_LIMIT_MS:-2000}
# shellcheck source=memif_common.sh
source "$(dirname "$0")/memif_common.sh"

flows=256
A=$here/swap_a.json
"$expect" --flows $flows --vip 10.0.0.1 --dport 80 --proto udp --spec "$A" >expect.txt
"$region" publish --instance "$inst" --spec "$A" >/dev/null
mkdir real
ln -s real link

dp_pid=
start_dp() { # LOG SOCKET: the dataplane's memif client on SOCKET
    "$dp" -l 1 --no-pci "${mem_args[@]}" --log-level='*:warning' -- \
        --port "net_memif0,role=client,socket=$2,socket-abstract=no,id=0" \
        --instance "$inst" --mac 02:00:00:00:00:aa >"$1" 2>&1 &
    dp_pid=$!
    pids+=($dp_pid)
    "$region" wait-worker --instance "$inst" --timeout-ms 20000 --after-ns "$t_before" || {
        echo "FAIL: no worker"
        cat "$1"
        exit 1
    }
}
stop_dp() {
    kill -TERM "$dp_pid"
    wait "$dp_pid" || { echo "FAIL: sluice-dataplane exit status $? after SIGTERM"; cat "$1"; exit 1; }
}
# gen [PREFIX...] -- SOCKET: a memif server on SOCKET (run under PREFIX),
# 1 s of traffic; its report in gen.json.
start_gen() {
    local pre=()
    while [ "$1" != -- ]; do pre+=("$1"); shift; done
    rm -f "$2" gen.json
    "${pre[@]}" "$gen" -l 0 --no-pci "${mem_args[@]}" --log-level='*:warning' -- \
        --port "net_memif0,role=server,socket=$2,socket-abstract=no,id=0" --flows $flows \
        --window 64 --duration-ms 1000 --drain-ms 300 --expect expect.txt >gen.json 2>gen.log &
    gen_pid=$!
    pids+=($gen_pid)
}
check_gen() { # WHAT DPLOG
    wait "$gen_pid" || { echo "FAIL: sluice-gen failed ($1)"; cat gen.log "$2"; exit 1; }
    /usr/bin/python3 - gen.json "$1" "$link_limit_ms" <<'PY' || { cat "$2"; exit 1; }
import json, sys
g = json.load(open(sys.argv[1]))
what, limit = sys.argv[2], float(sys.argv[3])
errs = []
if g["link_ms"] < 0 or g["link_ms"] > limit:
    errs.append("link up %.0f ms after the server started (limit %.0f; -1: never)" % (g["link_ms"], limit))
elif g["received"] == 0 or g["lost"] != 0 or g["misrouted"]:
    errs.append("%d of %d packets back, %d lost, %d misrouted" % (g["received"], g["sent"], g["lost"], g["misrouted"]))
print("%s: link up after %.0f ms, %d of %d packets back" % (what, g["link_ms"], g["received"], g["sent"]))
for e in errs:
    print("FAIL: %s: %s" % (what, e))
sys.exit(1 if errs else 0)
PY
}

echo "== 1. server on real/m.sock, client given link/m.sock; server first"
start_gen -- "$PWD/real/m.sock"
sleep 0.5
t_before=$("$region" now)
start_dp dp1.log "$PWD/link/m.sock"
check_gen "client through a symlink" dp1.log
stop_dp dp1.log

echo "== 2. server bound link/m.sock, client given real/m.sock; dataplane first"
rm -f real/m.sock
t_before=$("$region" now)
start_dp dp2.log "$PWD/real/m.sock"
start_gen -- "$PWD/link/m.sock"
check_gen "server through a symlink" dp2.log
stop_dp dp2.log

echo "== 3. server in another network namespace, same path; dataplane first"
if [ "$(id -u)" != 0 ]; then
    echo "skip: a network namespace needs root"
else
    ns=sl-memifsock-$$
    if ! ip netns add "$ns" 2>err.txt; then
        echo "skip: cannot create a network namespace: $(cat err.txt)"
    else
        trap 'ip netns del "$ns" 2>/dev/null || true; cleanup' EXIT
        rm -f real/m.sock
        t_before=$("$region" now)
        start_dp dp3.log "$PWD/real/m.sock"
        start_gen ip netns exec "$ns" -- "$PWD/real/m.sock"
        check_gen "server in network namespace $ns" dp3.log
        stop_dp dp3.log
        ip netns del "$ns"
    fi
fi

echo "== 4. a stale socket file: tried once a second, then a server"
rm -f real/m.sock
/usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' \
    "$PWD/real/m.sock"
t_before=$("$region" now)
start_dp dp4.log "$PWD/real/m.sock"
sleep 3
n=$(grep -c "m.sock" dp4.log || true)
echo "$n lines name the stale socket in about 3.3 s:"
cat dp4.log
if [ "$n" -gt 6 ]; then
    echo "FAIL: $n lines about a stale socket file in 3 s (one attempt a second expected)"
    exit 1
fi
if [ "$n" -lt 2 ]; then
    echo "FAIL: the dataplane did not try the socket file ($n lines)"
    exit 1
fi
start_gen -- "$PWD/real/m.sock"
check_gen "a server where the stale file was" dp4.log
stop_dp dp4.log
echo PASS
