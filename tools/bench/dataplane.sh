#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The dataplane benchmark (called by `scripts/bench dataplane`; not a test).
#
#  1. I/O path: sluice-gen on CPU 0 (memif server) sends 64-byte UDP frames
#     of FLOWS flows to one VIP with 100 backends; on CPU 1 either
#     sluice-dataplane (memif client; dsr-l2 or ipip) or, in its place,
#     dpdk-testpmd --forward-mode=macswap. Received Mpps at the generator,
#     alternating sluice / testpmd, RUNS runs each; medians and the ratio,
#     and the median of the ratios of consecutive pairs. Encapsulating modes
#     also against testpmd with frames of the encapsulated size. Also the
#     share of its loop the sluice worker spent on polls that brought
#     packets, in the middle of each run (busy_tsc / loop_tsc, region.h).
#     Once per memif mode in ZERO_COPY: "no", the client copies frames
#     between its mbufs and the shared buffers; "yes", the client (sluice or
#     testpmd alike: zero-copy=yes, EAL --single-file-segments) lends its
#     mbufs to the server, which then copies for both.
#  2. The in-memory pipeline (parse + decide + rewrite, no I/O) on one core.
#  3. The rate by number of backends (1-1000) and of flows (1k-10M),
#     dsr-l2: the pipeline's (Mpps per CPU second, median of 3), and over
#     memif in one run, sluice-gen's blocks (below, 4) of N backends'
#     traffic against 1 backend's (two services in one spec, 10.0.0.1 with
#     1 backend and 10.0.0.2 with N: --vip-b 10.0.0.2) and of N flows'
#     against 1000 flows' (--flows 1000 --flows-b N); median of RUNS runs.
#  4. By number of VIPs (VIPS_LIST): N services at 10.0.0.1 + k, port 80,
#     VIP_BACKENDS backends each, the same VIP_TABLE_SIZE for every N (1024
#     services must fit the region: SL_MAX_SERVICES 1024, SL_MAX_BACKENDS
#     4096 in all, SL_TABLE_ARENA_ENTRIES 32M slots in all); flow i goes to
#     VIP 10.0.0.1 + i % N (sluice-gen --vips, tools/gen/flows.h). dsr-l2:
#     sluice over memif as in 1 (no testpmd), and the in-memory pipeline
#     (sluice-dp-pipeline-bench --vips N; n/a if that binary lacks --vips),
#     in rounds of one run per N; and the pipeline's cost per packet with
#     traffic over N VIPs against over 1, in one process (sluice-burst-ab
#     --vips 1 --vips-b N, the largest N's tables), which the machine's
#     changes of speed do not skew; in the same runs, what N VIPs cost more
#     than 1 the least a design with a Maglev table per VIP can do per packet
#     (sluice-burst-ab --floor 1: no lookup, no service record, no checks),
#     as a share of sluice's cost per packet at 1 VIP: how near to flat the
#     memory lets any such design come. The spread is max/min - 1 over the
#     row. The memif rounds run the N in turn, every other round in the
#     reverse order; besides medians, each N's run over 1 VIP's in the same
#     round (median over rounds), which divides out the machine's changes
#     of speed from round to round. And over memif in one run: sluice-gen
#     --vips 1 --vips-b N alternates 100 ms blocks of traffic to 1 VIP and
#     to N VIPs (N's tables), and the median over pairs of blocks of N's
#     rate over 1's (median of RUNS runs) is what N VIPs cost the rate
#     without the machine's changes of speed between runs (N = 1: the
#     method's own error).
#
# usage: tools/bench/dataplane.sh [BUILD_DIR]
# env:   RUNS (5), DURATION_MS (3000), FLOWS (1000000), MODES ("dsr-l2 ipip"),
#        PROTO (udp), PIPELINE_PACKETS (50000000),
#        SWEEPS ("io pipeline backends flows vips": which parts above to run,
#        always in that order; e.g. SWEEPS=vips),
#        VIPS_LIST ("1 16 256 1024"), VIP_BACKENDS (4), VIP_TABLE_SIZE (1021),
#        ZERO_COPY ("no yes": the memif modes of part 1; the other parts: no)
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
sweeps=${SWEEPS:-"io pipeline backends flows vips"}
zero_copy_modes=${ZERO_COPY:-"no yes"}
for z in $zero_copy_modes; do
    case $z in
        no | yes) ;;
        *) echo "ZERO_COPY: '$z': no or yes" >&2; exit 2 ;;
    esac
done
# The memif client's zero-copy mode in run_once: "" or ",zero-copy=yes".
zc=""
vips_list=${VIPS_LIST:-"1 16 256 1024"}
vip_backends=${VIP_BACKENDS:-4}
vip_table=${VIP_TABLE_SIZE:-1021}

for w in $sweeps; do
    case $w in
        io | pipeline | backends | flows | vips) ;;
        *) echo "SWEEPS: unknown part '$w' (io pipeline backends flows vips)" >&2; exit 2 ;;
    esac
done
want() { [[ " $sweeps " == *" $1 "* ]]; }
if want vips; then
    # The region's limits (dataplane/core/include/sluice/region.h).
    for nv in $vips_list; do
        if ! [[ $nv =~ ^[0-9]+$ ]] || [ "$nv" -lt 1 ] || [ "$nv" -gt 1024 ]; then
            echo "VIPS_LIST: '$nv': 1 to 1024 VIPs (SL_MAX_SERVICES)" >&2
            exit 2
        fi
        if [ $((nv * vip_backends)) -gt 4096 ]; then
            echo "VIP_BACKENDS=$vip_backends x $nv VIPs > 4096 backends (SL_MAX_BACKENDS)" >&2
            exit 2
        fi
        if [ $((nv * vip_table)) -gt $((32 * 1024 * 1024)) ]; then
            echo "VIP_TABLE_SIZE=$vip_table x $nv VIPs > 32M slots (SL_TABLE_ARENA_ENTRIES)" >&2
            exit 2
        fi
    done
fi

here=$(cd "$(dirname "$0")" && pwd)
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

# mode [backends per VIP (100)] [VIPs (1)] [table size (65537)] [first VIP
# (10.0.0.1)] -> spec file: VIP k = first + k, port 80, backends numbered over
# all VIPs (10.1.x.y, MAC 02:00:00:00:xx:yy).
spec() {
    local nb=${2:-100} nv=${3:-1} ts=${4:-65537} base=${5:-10.0.0.1}
    local f=$work/spec-$1-$nb-$nv-$ts-$base.json
    if [ ! -s "$f" ]; then
        /usr/bin/python3 "$here/bench_spec.py" "$1" "$proto" "$nb" "$nv" "$ts" "$base" >"$f.tmp"
        mv "$f.tmp" "$f"
    fi
    echo "$f"
}

# One run: $1 = sluice|testpmd, $2 = VIPs (1), $3 = frame size without FCS
# (60). Prints the generator's received Mpps; with gen_extra (more sluice-gen
# options) and gen_field set, that field of its JSON instead.
run_once() {
    local sock=$work/memif-$RANDOM.sock peer sampler=""
    rm -f "$work/busy"
    "$gen" -l 0 --no-pci "${mem[@]}" --file-prefix "bench-gen-$$" --log-level='*:error' -- \
        --port "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" --flows "$flows" --proto "$proto" \
        --vips "${2:-1}" --size "${3:-60}" --duration-ms "$duration" --drain-ms 200 \
        ${gen_extra:+$gen_extra} >"$work/gen.json" 2>"$work/gen.log" &
    local g=$!
    pids+=("$g")
    for _ in $(seq 1000); do [ -S "$sock" ] && break; sleep 0.01; done
    local cmem=("${mem[@]}")
    [ -n "$zc" ] && cmem+=(--single-file-segments)
    if [ "$1" = sluice ]; then
        "$dp" -l 1 --no-pci "${cmem[@]}" --file-prefix "bench-dp-$$" --log-level='*:error' -- \
            --port "net_memif0,role=client,socket=$sock,socket-abstract=no,id=0$zc" --instance "$inst" \
            --mac 02:00:00:00:00:aa --ipv4 192.0.2.1 --gateway-mac 02:00:00:00:00:fe \
            >"$work/peer.log" 2>&1 &
        peer=$!
        if [ "${busy_sample:-0}" = 1 ]; then
            # The worker's busy share in the middle of the traffic (region
            # counters: busy / loop TSC cycles between two reads).
            (
                sleep "$(awk -v d="$duration" 'BEGIN {print 0.3 + d / 3000 * 0.6}')"
                a=$("$region" counters --instance "$inst")
                sleep "$(awk -v d="$duration" 'BEGIN {print d / 3000 * 1.5}')"
                b=$("$region" counters --instance "$inst")
                /usr/bin/python3 -c '
import json, sys
a, b = json.loads(sys.argv[1])["workers"][0], json.loads(sys.argv[2])["workers"][0]
dl, db = b["loop_tsc"] - a["loop_tsc"], b["busy_tsc"] - a["busy_tsc"]
print("%.0f" % (100.0 * db / dl) if dl > 0 and a["pid"] == b["pid"] else "?")' "$a" "$b" 2>/dev/null || echo "?"
            ) >"$work/busy" &
            sampler=$!
        fi
    else
        # testpmd needs a main lcore besides its forwarding lcore: main on
        # CPU 0 (it sleeps), forwarding on CPU 1.
        "$testpmd" -l 0,1 --main-lcore 0 --no-pci "${cmem[@]}" --file-prefix "bench-tp-$$" \
            --log-level='*:error' --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no,id=0$zc" -- \
            --forward-mode=macswap --auto-start --stats-period 10 --nb-cores=1 \
            >"$work/peer.log" 2>&1 &
        peer=$!
    fi
    pids+=("$peer")
    wait "$g" || true
    [ -n "$sampler" ] && { wait "$sampler" 2>/dev/null || true; }
    kill -INT "$peer" 2>/dev/null || true
    wait "$peer" 2>/dev/null || true
    /usr/bin/python3 -c '
import json, sys
f = sys.argv[2]
print(("%.3f" if f == "rx_mpps" else "%.4f") % json.load(open(sys.argv[1]))[f])' \
        "$work/gen.json" "${gen_field:-rx_mpps}" 2>/dev/null || echo 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# max/min - 1 in percent over the arguments; n/a if one is n/a or not above 0.
spread() {
    printf '%s\n' "$@" | awk '
        $1 !~ /^[0-9.]+$/ || $1 + 0 <= 0 {bad = 1}
        NR == 1 || $1 + 0 > max {max = $1 + 0}
        NR == 1 || $1 + 0 < min {min = $1 + 0}
        END {if (bad || NR == 0) print "n/a"; else printf "%.1f%%\n", (max / min - 1) * 100}'
}

echo "# sluice dataplane benchmark: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $flows flows, 64-byte $proto frames, ${duration} ms per run, $runs runs; parts: $sweeps; memif zero-copy (I/O): $zero_copy_modes"
# The median of a[i] / b[i] over the pairs of runs made one after the other
# (a's runs first, then b's): steadier than the ratio of the medians when the
# machine changes speed during the benchmark.
pair_median() { # "a runs" "b runs"
    local a=($1) b=($2) r=() i
    for i in "${!a[@]}"; do
        r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]:-0}" 'BEGIN {printf "%.3f", (y > 0) ? x / y : 0}')")
    done
    printf '%.2f' "$(median "${r[@]}")"
}
# Bytes an encapsulating mode adds to a frame (ipip: outer IPv4; gue: outer
# IPv4, UDP and the GUE header).
encap_bytes() {
    case $1 in ipip) echo 20 ;; gue) echo 32 ;; *) echo 0 ;; esac
}

if want io; then
    for zmode in $zero_copy_modes; do
        if [ "$zmode" = yes ]; then zc=",zero-copy=yes"; else zc=""; fi
        [ "$zmode" = yes ] && echo
        echo "# I/O path: 1 VIP, 100 backends, memif zero-copy=$zmode"
        echo
        echo "| mode | sluice Mpps (runs) | testpmd macswap Mpps (runs) | sluice median | testpmd median | ratio | ratio, median of run pairs | sluice worker busy % (runs) |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
        longer=()
        for mode in $modes; do
            "$region" publish --instance "$inst" --spec "$(spec "$mode")" >/dev/null
            extra=$(encap_bytes "$mode")
            s=()
            t=()
            tl=()
            bz=()
            for _ in $(seq "$runs"); do
                s+=("$(busy_sample=1 run_once sluice)")
                bz+=("$(cat "$work/busy" 2>/dev/null || echo "?")")
                if [ -n "$testpmd" ]; then
                    t+=("$(run_once testpmd)")
                    if [ "$extra" -gt 0 ]; then
                        tl+=("$(run_once testpmd 1 $((60 + extra)))")
                    fi
                fi
            done
            sm=$(median "${s[@]}")
            if [ -n "$testpmd" ]; then
                tm=$(median "${t[@]}")
                ratio=$(awk -v a="$sm" -v b="$tm" 'BEGIN {printf "%.2f", (b > 0) ? (a / b) : 0}')
                pr=$(pair_median "${s[*]}" "${t[*]}")
            else
                tm=n/a
                ratio=n/a
                pr=n/a
            fi
            echo "| $mode | ${s[*]} | ${t[*]:-} | $sm | $tm | $ratio | $pr | ${bz[*]} |"
            if [ "${#tl[@]}" -gt 0 ]; then
                tlm=$(median "${tl[@]}")
                longer+=("| $mode | $((64 + extra)) | ${tl[*]} | $tlm | $(awk -v a="$sm" -v b="$tlm" \
                    'BEGIN {printf "%.2f", (b > 0) ? (a / b) : 0}') | $(pair_median "${s[*]}" "${tl[*]}") |")
            fi
        done
        if [ "${#longer[@]}" -gt 0 ]; then
            echo
            echo "Encapsulation returns longer frames than it receives; over memif each extra cache line"
            echo "is one more transfer between the two cores. testpmd macswap with the generator sending"
            echo "frames of the encapsulated size (in the same runs, alternating):"
            echo
            echo "| mode | frame on the wire (bytes) | testpmd macswap at that size Mpps (runs) | median | sluice / it | median of run pairs |"
            echo "| --- | --- | --- | --- | --- | --- |"
            printf '%s\n' "${longer[@]}"
        fi
    done
    zc=""
fi

if want pipeline; then
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
fi

# How the pipeline rate changes with the number of backends and of flows
# (dsr-l2; CPU-time Mpps, median of 3).
pipe_once() { # spec flows [more pipeline bench options]
    taskset -c 1 "$pipeline" --spec "$1" --flows "$2" --proto "$proto" \
        --packets "$pipeline_packets" "${@:3}" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_mpps"])'
}
pipe_mpps() { # spec flows [more pipeline bench options]
    local c=()
    for _ in 1 2 3; do
        c+=("$(pipe_once "$@")")
    done
    median "${c[@]}"
}
# One run of sluice-gen blocks over memif (B's options as arguments; the
# spec already published): B's rate over A's (the median over pairs of
# 100 ms blocks) and the sluice worker's busy share in the run's middle, in
# percent (near 100: the dataplane core, not the generator, sets the rate).
block_once() {
    local r
    r=$(busy_sample=1 gen_extra="$*" gen_field=b_over_a run_once sluice 1)
    echo "$r $(cat "$work/busy" 2>/dev/null || echo "?")"
}
# RUNS such runs after publishing spec $1 (B's options: the rest). Sets
# blk_med (the median), blk_runs and blk_busy (the runs' figures).
blocks_median() {
    local r=() b=() x
    "$region" publish --instance "$inst" --spec "$1" >/dev/null
    for _ in $(seq "$runs"); do
        read -r -a x <<<"$(block_once "${@:2}")"
        r+=("${x[0]}")
        b+=("${x[1]}")
    done
    blk_med=$(median "${r[@]}")
    blk_runs="${r[*]}"
    blk_busy="${b[*]}"
}
# A sweep's table: $1 its name, $2 its columns, $3 the pipeline's Mpps, $4
# the memif medians (space-separated lists), $5 the memif runs and $6 the
# worker's busy shares (the columns' lists joined with ";").
sweep_rows() {
    local -a cols pc mc
    read -r -a cols <<<"$2"
    read -r -a pc <<<"$3"
    read -r -a mc <<<"$4"
    echo "| $1 | $(printf '%s | ' "${cols[@]}")spread |"
    echo "| --- | $(printf -- '--- | %.0s' "${cols[@]}")--- |"
    echo "| pipeline Mpps (per CPU second, median of 3) | $(printf '%s | ' "${pc[@]}")$(spread "${pc[@]}") |"
    echo "| memif rate vs ${cols[0]} in one run (100 ms blocks, median of $runs runs) | $(printf '%s | ' "${mc[@]}")$(spread "${mc[@]}") |"
    echo "| memif runs | ${5//;/ | } | |"
    echo "| sluice worker busy % (memif runs) | ${6//;/ | } | |"
}
if want backends || want flows; then
    echo
    echo "By backends (1 VIP, $flows flows) and by flows (1 VIP, 100 backends), dsr-l2. Pipeline:"
    echo "CPU 1, Mpps per CPU second. memif: sluice as in the I/O path, traffic of N against traffic"
    echo "of the first column in one run (sluice-gen blocks of 100 ms in turn, the median over"
    echo "pairs of blocks of their rates' ratio; the first column: the method's own error);"
    echo "by backends the two kinds go to two services of one spec (10.0.0.1 with 1 backend,"
    echo "10.0.0.2 with N: --vip-b), by flows to one (1000 flows against N: --flows-b):"
fi
if want backends; then
    echo
    p=()
    m=()
    mr=""
    mb=""
    for nb in 1 10 100 1000; do
        p+=("$(pipe_mpps "$(spec dsr-l2 "$nb")" "$flows")")
        blocks_median "$(spec dsr-l2 "1,$nb" 2)" --vip-b 10.0.0.2
        m+=("$blk_med")
        mr="$mr${mr:+;}$blk_runs"
        mb="$mb${mb:+;}$blk_busy"
    done
    sweep_rows backends "1 10 100 1000" "${p[*]}" "${m[*]}" "$mr" "$mb"
fi
if want flows; then
    echo
    p=()
    m=()
    mr=""
    mb=""
    for nf in 1000 100000 1000000 10000000; do
        p+=("$(pipe_mpps "$(spec dsr-l2 100)" "$nf")")
        flows=1000 blocks_median "$(spec dsr-l2 100)" --flows-b "$nf"
        m+=("$blk_med")
        mr="$mr${mr:+;}$blk_runs"
        mb="$mb${mb:+;}$blk_busy"
    done
    sweep_rows flows "1k 100k 1M 10M" "${p[*]}" "${m[*]}" "$mr" "$mb"
fi

# Does the pipeline bench spread flows over VIPs? One without --vips skips
# the option and sends every flow to 10.0.0.1: asked for 2 VIPs with
# 10.0.0.2 the only service, only one that has it forwards anything.
pipeline_has_vips() {
    local out
    out=$("$pipeline" --spec "$(spec dsr-l2 1 1 251 10.0.0.2)" --flows 64 --proto "$proto" \
        --packets 64 --vips 2 2>/dev/null) || true
    echo "$out" | /usr/bin/python3 -c \
        'import json,sys; sys.exit(0 if json.load(sys.stdin)["forwarded"] > 0 else 1)' 2>/dev/null
}
# How many VIPs (services) forwarded packets in the dataplane's last run.
services_hit() {
    "$region" counters --instance "$inst" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["services"]))' \
            2>/dev/null || echo "?"
}

if want vips; then
    echo
    echo "By VIPs (dsr-l2, $proto, $flows flows, flow i -> VIP 10.0.0.1 + i % N; for every N:" \
        "$vip_backends backends per VIP, table_size $vip_table). memif: sluice as in the I/O" \
        "path, $runs rounds of one run per N (a change of the machine's speed hits every N" \
        "alike), median and best run; pipeline: CPU 1, Mpps per CPU second, median of 3 rounds:"
    echo
    head="| VIPs |"
    sep="| --- |"
    for nv in $vips_list; do
        head="$head $nv |"
        sep="$sep --- |"
    done
    io_runs="| memif Mpps (runs) |"
    io_med=()
    hit="| VIPs that forwarded (last run) |"
    # Rounds: every N once per round, so that a change of the machine's
    # speed hits every N alike; every other round in the reverse order, so
    # that a drift within rounds does not favour the first N.
    declare -A vruns=() vhit=() vround=()
    order=$vips_list
    reverse=$(printf '%s\n' $vips_list | tac | tr '\n' ' ')
    for r in $(seq "$runs"); do
        for nv in $order; do
            "$region" publish --instance "$inst" \
                --spec "$(spec dsr-l2 "$vip_backends" "$nv" "$vip_table")" >/dev/null
            vround[$nv,$r]=$(run_once sluice "$nv")
            vruns[$nv]="${vruns[$nv]:-} ${vround[$nv,$r]}"
            vhit[$nv]=$(services_hit)
        done
        [ "$order" = "$vips_list" ] && order=$reverse || order=$vips_list
    done
    io_best=()
    io_pair=()
    first=$(printf '%s\n' $vips_list | head -1)
    for nv in $vips_list; do
        read -r -a s <<<"${vruns[$nv]}"
        io_runs="$io_runs ${s[*]} |"
        io_med+=("$(median "${s[@]}")")
        io_best+=("$(printf '%s\n' "${s[@]}" | sort -g | tail -1)")
        hit="$hit ${vhit[$nv]} |"
        # N's run over the first N's in the same round: the machine's
        # speed, which changes from round to round, divides out
        q=()
        for r in $(seq "$runs"); do
            q+=("$(awk -v a="${vround[$nv,$r]}" -v b="${vround[$first,$r]}" \
                'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.4f\n", a / b; else print "n/a"}')")
        done
        io_pair+=("$(printf '%s\n' "${q[@]}" | { grep -v n/a || true; } | sort -g |
            awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else printf "%.4f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')")
    done
    # Traffic over N VIPs against over 1 in the same run: sluice-gen
    # --vips 1 --vips-b N alternates 100 ms blocks of each (A B B A ...)
    # over N's tables (1 VIP's traffic to the first of them) and gives the
    # median over pairs of blocks of N's rate over 1's: a change of the
    # machine's speed hits both alike. N = 1: the method's own error.
    declare -A bruns=() bbusy=()
    blk=()
    for r in $(seq "$runs"); do
        for nv in $vips_list; do
            "$region" publish --instance "$inst" \
                --spec "$(spec dsr-l2 "$vip_backends" "$nv" "$vip_table")" >/dev/null
            read -r -a x <<<"$(block_once --vips-b "$nv")"
            bruns[$nv]="${bruns[$nv]:-} ${x[0]}"
            bbusy[$nv]="${bbusy[$nv]:-} ${x[1]}"
        done
    done
    vblk_row="| memif, N VIPs' blocks over 1 VIP's in one run (runs) |"
    vbusy_row="| sluice worker busy % (those runs) |"
    for nv in $vips_list; do
        read -r -a s <<<"${bruns[$nv]}"
        blk+=("$(median "${s[@]}")")
        vblk_row="$vblk_row ${s[*]} |"
        vbusy_row="$vbusy_row${bbusy[$nv]} |"
    done
    pp=()
    if pipeline_has_vips; then
        declare -A pruns=()
        for _ in 1 2 3; do
            for nv in $vips_list; do
                pruns[$nv]="${pruns[$nv]:-} $(pipe_once "$(spec dsr-l2 "$vip_backends" "$nv" "$vip_table")" \
                    "$flows" --vips "$nv")"
            done
        done
        for nv in $vips_list; do
            read -r -a c <<<"${pruns[$nv]}"
            pp+=("$(median "${c[@]}")")
        done
    else
        for _ in $vips_list; do pp+=(n/a); done
    fi
    # The same in one process (sluice-burst-ab; x86 only): the tables of the
    # largest N; blocks of frames to 1 VIP and to N VIPs alternate through
    # one copy of the burst path, so that the machine's changes of speed hit
    # both alike. Cost per packet over N VIPs / over 1, median of 3 runs.
    ab=$build/tests/dataplane/sluice-burst-ab
    ap=()
    fp=()
    maxn=$(printf '%s\n' $vips_list | sort -n | tail -1)
    for nv in $vips_list; do
        if [ ! -x "$ab" ]; then
            ap+=(n/a)
            fp+=(n/a)
            continue
        fi
        c=()
        f=()
        for _ in 1 2 3; do
            read -r x y < <(taskset -c 1 "$ab" --spec "$(spec dsr-l2 "$vip_backends" "$maxn" "$vip_table")" \
                --flows "$flows" --proto "$proto" --vips 1 --vips-b "$nv" --blocks 100 --floor 1 |
                /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)
print(d["b_over_a"], "%.4f" % (1 + d["floor_extra_over_a"]))')
            c+=("$x")
            f+=("$y")
        done
        ap+=("$(median "${c[@]}")")
        fp+=("$(median "${f[@]}")")
    done
    echo "$head spread |"
    echo "$sep --- |"
    echo "| memif Mpps (median) | $(printf '%s | ' "${io_med[@]}")$(spread "${io_med[@]}") |"
    echo "| memif Mpps (best run) | $(printf '%s | ' "${io_best[@]}")$(spread "${io_best[@]}") |"
    echo "| memif rate vs $first VIP in the same round (median of rounds) | $(printf '%s | ' "${io_pair[@]}")$(spread "${io_pair[@]}") |"
    echo "| memif rate, N VIPs' traffic vs 1 VIP's in one run (100 ms blocks, median of runs) | $(printf '%s | ' "${blk[@]}")$(spread "${blk[@]}") |"
    echo "| pipeline Mpps | $(printf '%s | ' "${pp[@]}")$(spread "${pp[@]}") |"
    echo "| pipeline in one process, cost per packet vs 1 VIP ($maxn VIPs' tables) | $(printf '%s | ' "${ap[@]}")$(spread "${ap[@]}") |"
    echo "| the floor's extra cost at N VIPs, over sluice's at 1 VIP, plus 1 | $(printf '%s | ' "${fp[@]}")$(spread "${fp[@]}") |"
    echo "$io_runs |"
    echo "$vblk_row"
    echo "$vbusy_row"
    echo "$hit |"
fi
