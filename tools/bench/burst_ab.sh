#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Is a change to the burst path (dataplane/core/include/sluice/burst.h)
# faster or slower? Separate runs of the pipeline benchmark cannot tell 5%
# on this VM: its speed changes by 2-3x within seconds. This builds
# sluice-burst-ab (tests/dataplane/burst_ab.cpp) with two versions of the
# header, A and B, which then run in one process on CPU 1, in alternating
# blocks over the same frames; B/A is the ratio of their median cycles per
# packet (below 1: B is faster). The tool first checks that A and B forward
# alike, frame for frame.
#
#   tools/bench/burst_ab.sh [--a REV|FILE] [--b REV|FILE] [--rounds N] [--blocks K] BUILD_DIR
#
# A and B: a git revision (its burst.h) or a file; defaults: A = HEAD,
# B = the working tree's. BUILD_DIR: a build of the tree (for the spec
# library). Cases, each run --rounds times (default 3): dsr-l2 1 VIP with
# 100 backends; dsr-l2 16 and 1024 VIPs with 4 backends each (flow i to VIP
# i % N; at 16 everything fits in L1); ipip 1 VIP with 100 backends; 1M
# flows, 64-byte UDP frames.
# A ratio is not a rate: for Mpps use tools/bench/dataplane.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
a=HEAD
b=
rounds=3
blocks=200
usage() { sed -n '13,19p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --a) a=${2:?}; shift 2 ;;
        --b) b=${2:?}; shift 2 ;;
        --rounds) rounds=${2:?}; shift 2 ;;
        --blocks) blocks=${2:?}; shift 2 ;;
        -h | --help) usage ;;
        -*) echo "burst_ab.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || usage
build=$(cd "$1" && pwd)
case "$rounds$blocks" in
    *[!0-9]*) echo "burst_ab.sh: --rounds and --blocks take numbers" >&2; exit 2 ;;
esac
for lib in tests/dataplane/libsluice_test_spec.a dataplane/core/libsluice_maglev.a; do
    if [ ! -f "$build/$lib" ]; then
        echo "burst_ab.sh: $build/$lib missing: build the tree first (ninja -C $build)" >&2
        exit 1
    fi
done

work=$(mktemp -d /tmp/sluice-burst-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
header=dataplane/core/include/sluice/burst.h
# $1: a file, or a git revision; $2: where its burst.h goes
fetch() {
    mkdir -p "$(dirname "$2")"
    if [ -f "$1" ]; then
        cp "$1" "$2"
    elif ! git -C "$root" show "$1:$header" >"$2" 2>/dev/null; then
        echo "burst_ab.sh: '$1' is neither a file nor a revision with $header" >&2
        exit 2
    fi
}
fetch "$a" "$work/a/burst.h"
fetch "${b:-$root/$header}" "$work/b/burst.h"
echo "# A: $a, B: ${b:-working tree}"
if cmp -s "$work/a/burst.h" "$work/b/burst.h"; then
    echo "# (A and B are the same header: B/A shows the method's own noise)"
fi

bin=$work/sluice-burst-ab
${CXX:-c++} -std=c++20 -O3 -march=native -DNDEBUG -Wall -Wextra -Werror -Wno-psabi \
    -I"$root/dataplane/core/include" -I"$root/tests/dataplane" \
    -DSLUICE_AB_A="\"$work/a/burst.h\"" -DSLUICE_AB_B="\"$work/b/burst.h\"" \
    "$root/tests/dataplane/burst_ab.cpp" -o "$bin" \
    "$build/tests/dataplane/libsluice_test_spec.a" "$build/dataplane/core/libsluice_maglev.a" \
    "$build/dataplane/core/libsluice_region.a"

# $1 mode, $2 backends per VIP, $3 VIPs, $4 table size
spec() {
    local f=$work/spec-$1-$2-$3-$4.json
    /usr/bin/python3 "$root/tools/bench/bench_spec.py" "$1" udp "$2" "$3" "$4" >"$f"
    echo "$f"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "# $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $blocks blocks of 16384 packets each for A and B per run, CPU 1"
echo
echo "| case | A TSC/packet (runs) | B TSC/packet (runs) | B/A (runs) | B/A median |"
echo "| --- | --- | --- | --- | --- |"
for c in "dsr-l2, 1 VIP:dsr-l2 100 1 65537" "dsr-l2, 16 VIPs:dsr-l2 4 16 1021" \
    "dsr-l2, 1024 VIPs:dsr-l2 4 1024 1021" "ipip, 1 VIP:ipip 100 1 65537"; do
    name=${c%%:*}
    read -r mode nb nv ts <<<"${c#*:}"
    s=$(spec "$mode" "$nb" "$nv" "$ts")
    ra=() rb=() rr=()
    for _ in $(seq "$rounds"); do
        out=$(taskset -c 1 "$bin" --spec "$s" --vips "$nv" --blocks "$blocks")
        read -r ta tb r < <(/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["a_tsc_per_packet"], d["b_tsc_per_packet"], d["b_over_a"])' "$out")
        ra+=("$ta") rb+=("$tb") rr+=("$r")
    done
    echo "| $name | ${ra[*]} | ${rb[*]} | ${rr[*]} | $(median "${rr[@]}") |"
done
