#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# A zero-copy memif client connects only once per process (link.hpp), so it
# gives a new server's socket 250 ms to settle before it connects (a server
# still starting refuses the handshake, which costs a restart): at start
# too. The dataplane (memif client zero-copy, and a net_pcap port that holds
# its EAL start on a FIFO) is started; the test's server binds and listens
# on the client's socket, then lets the dataplane go on (writes the pcap
# header) and notes when the client connects: at least 250 ms after the
# listen (before, the start connected at once: 6 ms). Then the same
# with a socket made 1 s before: connected at once (under 250 ms after the
# dataplane went on), as a restarted dataplane whose server runs on must.
set -euo pipefail
trap 'echo "FAIL: $0 line $LINENO: $BASH_COMMAND"' ERR

TEST=zcsettle
# shellcheck source=memif_common.sh
source "$(dirname "$0")/memif_common.sh"
if [ -z "$zero_copy" ]; then
    echo "SKIP: run with SLUICE_MEMIF_ZERO_COPY=1"
    exit 77
fi

"$region" publish --instance "$inst" --spec "$here/swap_a.json" >/dev/null

# phase LOG EARLY_MS: the server's socket bound EARLY_MS before the dataplane
# goes on; prints the ms from the listen to the client's connect, and from
# the dataplane going on to it.
phase() {
    rm -f "$sock" in.fifo
    mkfifo in.fifo
    "$dp" -l 1 --no-pci "${mem_args[@]}" --log-level='*:warning' -- --two-armed \
        --port "$dp_port" --port "net_pcap0,rx_pcap=in.fifo,tx_pcap=out.pcap" \
        --instance "$inst" --mac 02:00:00:00:00:aa >"$1" 2>&1 &
    dp_pid=$!
    pids+=($dp_pid)
    /usr/bin/python3 - "$sock" in.fifo "$2" >times.txt <<'PY' || { cat "$1"; exit 1; }
import os, socket, sys, time
sock, fifo, early = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000
# Once the dataplane's net_pcap opened it for reading (ENXIO before).
for _ in range(400):
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("the dataplane never opened the FIFO")
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sock)
s.listen(1)
t_listen = time.monotonic()
time.sleep(early)
t_go = time.monotonic()
os.write(fd, bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
os.close(fd)
s.settimeout(10)
c, _ = s.accept()
t = time.monotonic()
print("%.0f %.0f" % ((t - t_listen) * 1000, (t - t_go) * 1000))
c.close()
PY
    kill -9 "$dp_pid" 2>/dev/null || true
    wait "$dp_pid" 2>/dev/null || true
    read -r listen_ms go_ms <times.txt
}

echo "== the server's socket appears just before the client's start"
phase dp1.log 0
echo "connected ${listen_ms} ms after the server listened, ${go_ms} ms after the start went on"
cat dp1.log
if [ "$listen_ms" -lt 250 ]; then
    echo "FAIL: the zero-copy client connected ${listen_ms} ms after its server's socket appeared (want at least 250)"
    exit 1
fi

echo "== the server's socket made 1 s before"
phase dp2.log 1000
echo "connected ${listen_ms} ms after the server listened, ${go_ms} ms after the start went on"
cat dp2.log
if [ "$go_ms" -ge 250 ]; then
    echo "FAIL: the zero-copy client waited ${go_ms} ms for a server that had listened 1 s"
    exit 1
fi
echo PASS
