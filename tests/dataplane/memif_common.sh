# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the memif tests (run_swap_test.sh, run_restart_test.sh): the
# binaries CTest names, the EAL memory arguments this machine allows, a work
# directory and a region instance named after TEST, the dataplane's memif
# client port (dp_port), and a cleanup that kills every pid in `pids` and
# removes both. Needs `set -euo pipefail` and TEST.

here=${SLUICE_TEST_DIR:-$(dirname "$0")}
dp=${SLUICE_DATAPLANE:?}
region=${SLUICE_DP_REGION:?}
expect=${SLUICE_DP_EXPECT:?}
gen=${SLUICE_GEN_BIN:?}

free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "$(id -u)" = 0 ] && [ "${free_huge:-0}" -ge 256 ]; then
    mem_args=(--in-memory)
else
    mem_args=(--no-huge -m 256 --no-shconf)
fi
# SLUICE_MEMIF_ZERO_COPY=1: the dataplane's memif client runs zero-copy (the
# server reads and writes the dataplane's own mbufs), which DPDK's memif
# allows only with the EAL's memory in one file per segment list.
zero_copy=
if [ "${SLUICE_MEMIF_ZERO_COPY:-0}" = 1 ]; then
    zero_copy=,zero-copy=yes
    mem_args+=(--single-file-segments)
fi
if [ "$(nproc)" -lt 2 ]; then
    echo "SKIP: needs 2 CPUs (one generator core, one dataplane core)"
    exit 77
fi

work=$(mktemp -d "/tmp/sluice-dp-$TEST.XXXXXX")
inst=dptest-$TEST-$$
sock=$work/memif.sock
dp_port="net_memif0,role=client,socket=$sock,socket-abstract=no,id=0$zero_copy"
pids=()
cleanup() {
    # A pid may be a subshell that runs the dataplane (run_peer_test.sh's
    # restart loop): it first, so that it starts nothing more, then its
    # children.
    local p kids
    for p in "${pids[@]}"; do
        kids=$(pgrep -P "$p" || true)
        kill -9 "$p" $kids 2>/dev/null || true
    done
    "$region" unlink --instance "$inst" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
