// SPDX-License-Identifier: Apache-2.0
//
// sluice-burst-ab: two versions of the burst path (sluice/burst.h) in one
// process, timed in alternating blocks over the same stream of frames, so
// that a change of the machine's speed (this VM has several states,
// switching within seconds) hits both alike. tools/bench/burst_ab.sh builds
// it with the two headers to compare; built by CMake with the tree's header
// as both, which must then come out even (B/A near 1).
//
// sluice-burst-ab --spec S.json [--vips N] [--vips-b M] [--flows F] [--proto udp|tcp]
//                 [--blocks K] [--share-table 0|1] [--share-backends 0|1] [--floor 0|1]
//                 [--raw-a 0|1]
//
// Blocks of 512 bursts of 32 frames (64-byte frames of F flows, flow i to
// VIP 10.0.0.1 + i % N, written 2048 frames ahead as in
// sluice-dp-pipeline-bench) go to A and B in the order ABBA ABBA ...; each
// block's TSC cycles are kept and the medians compared. Before timing, both
// versions decide and rewrite the same 64 bursts (copies of each frame) and
// must agree on every outcome and every byte: a ratio between two versions
// that forward differently would mean nothing.
// --vips-b M: B is A's code too (one copy of it: two copies at different
// addresses differ by up to 3% by themselves), on frames to M VIPs instead
// of N: how much more a packet costs with traffic over M VIPs than over N,
// against the same tables, without the machine's noise.
// --share-table: every service reads service 0's Maglev table (the tables'
// footprint of one VIP); --share-backends: every table entry names one of
// backends 0-3 (the backend records' footprint of one VIP). Not sluice's
// tables any more: what-if knobs, with --vips-b, for what the cost of many
// VIPs is made of.
// --floor 1 (with --vips-b): two more sides, in the same rotation (blocks
// A B F FB FB F B A ...), run in place of the burst path the
// least a design with a Maglev table per VIP can do per packet: the same
// parse and hash, then a VIP lookup that costs nothing (the VIP's number is
// its address minus the first VIP's, its table's offset one 4-byte load),
// the table entry (prefetched a stage ahead, as sluice does, in the table's
// form: raw or packed, region.h) and the
// backend's MAC written into the frame. No service record, no lookup cache,
// no checks. What it costs more per packet at M VIPs than at N is what the
// tables' and backend records' memory costs by itself: the least that many
// VIPs can cost any such design, against what they cost sluice.
// --raw-a 1 (without --vips-b and --share-*): A reads the same tables
// written raw, every entry a 16-bit backend id, and B as sluice-control
// writes them, packed where that is smaller: what the form costs or saves
// per packet (with A's and B's code the same header).
// Prints one JSON line.
#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <x86intrin.h>

#include "sluice/decide.h"
#include "sluice/parse.h"
#include "sluice/rewrite.h"
#include "bench_input.hpp"

#ifndef SLUICE_AB_A
#define SLUICE_AB_A "sluice/burst.h"
#endif
#ifndef SLUICE_AB_B
#define SLUICE_AB_B "sluice/burst.h"
#endif

// Each version in a namespace of its own; its includes are already in
// (include guards), and its functions must not be extern "C" there, or the
// two would be one.
#undef SL_EXTERN_C_BEGIN
#undef SL_EXTERN_C_END
#define SL_EXTERN_C_BEGIN
#define SL_EXTERN_C_END
namespace va {
#include SLUICE_AB_A
} // namespace va
#undef SLUICE_BURST_H
#undef SL_BURST_MAX
#undef SL_ROTL_V
#undef SL_SIPROUND_V
#undef SL_BURST_CACHE_BITS
#undef SL_BURST_CACHE_SIZE
#undef SL_BURST_CACHE6_BITS
#undef SL_BURST_CACHE6_SIZE
namespace vb {
#include SLUICE_AB_B
} // namespace vb

namespace {

constexpr uint32_t kFrame = sluice::test::kBenchFrame;
constexpr uint32_t kHeadroom = sluice::test::kBenchHeadroom;
constexpr uint32_t kBuf = sluice::test::kBenchBuf;
constexpr unsigned kBurst = 32;
constexpr unsigned kBurstsPerBlock = 512;
constexpr unsigned kBufs = 4096;
constexpr unsigned kAhead = 2048;

template <typename Pkt> void fill(Pkt *p, uint8_t *frame) {
    p->frame = frame;
    p->len = kFrame;
    p->headroom = kHeadroom;
}

template <typename Pkt> uint64_t outcome(const Pkt &p) {
    uint64_t v;
    std::memcpy(&v, &p.verdict, sizeof(v));
    return v;
}

// The floor's per-VIP state: services (their tables) by VIP number, the
// size every table must share (for one fastmod), the first VIP (host order).
struct Floor {
    std::vector<const sl_service *> svc;
    uint32_t size = 0;
    uint64_t fastmod = 0;
    uint32_t vip0 = 0;
};

// The floor's burst (see --floor); returns how many it forwarded.
unsigned floor_burst(const sl_tables *t, const Floor &f, const sl_encap_ctx &ctx, uint8_t **frames,
                     unsigned n) {
    uint64_t w0[kBurst];
    uint64_t w1[kBurst];
    uint64_t h[kBurst];
    uint16_t l3_len[kBurst];
    const uint16_t *slot[kBurst];
    uint32_t slot_of[kBurst];
    const sl_service *svc_of[kBurst];
    for (unsigned i = 0; i < n; i++) {
        if (!va::sl_burst_parse4(frames[i], kFrame, va::sl_burst_box_mac48(&ctx), &w0[i], &w1[i],
                                 &l3_len[i])) {
            w0[i] = 0;
            w1[i] = 0;
        }
    }
    va::sl_flow_hash4_burst(w0, w1, h, n, &t->seed);
    for (unsigned i = 0; i < n; i++) {
        const uint32_t k = (ntohl(static_cast<uint32_t>(w0[i] >> 32)) - f.vip0) &
                           static_cast<uint32_t>(f.svc.size() - 1);
        svc_of[i] = f.svc[k];
        slot_of[i] = sl_fastmod(static_cast<uint32_t>(h[i]), f.fastmod, f.size);
        slot[i] = sl_table_word(t, svc_of[i], slot_of[i]);
        __builtin_prefetch(slot[i]);
    }
    unsigned fwd = 0;
    for (unsigned i = 0; i < n; i++) {
        const uint16_t bid =
            sl_table_entry(t, svc_of[i], slot_of[i], *slot[i]) & (SL_MAX_BACKENDS - 1);
        const sl_backend *be = &t->backends[bid];
        sl_rewrite_dsr_l2(frames[i], ctx.box_mac, be->mac);
        fwd += be->flags & SL_BACKEND_ACTIVE; // no branch: bid is random
    }
    return fwd;
}

double median_per_packet(std::vector<uint64_t> &cycles) {
    std::sort(cycles.begin(), cycles.end());
    return static_cast<double>(cycles[cycles.size() / 2]) / (kBurstsPerBlock * kBurst);
}

} // namespace

int main(int argc, char **argv) {
    sluice::test::BenchOptions o;
    uint32_t vips_b = 0; // 0: B is the other version, on the same frames
    uint32_t blocks = 200;
    bool share_table = false;
    bool share_backends = false;
    bool with_floor = false;
    bool raw_a = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (o.take(k, v)) {
            continue;
        }
        if (k == "--vips-b") {
            vips_b = static_cast<uint32_t>(std::stoul(v));
        } else if (k == "--blocks") {
            blocks = static_cast<uint32_t>(std::stoul(v));
        } else if ((k == "--share-table" || k == "--share-backends" || k == "--floor" ||
                    k == "--raw-a") &&
                   (v == "0" || v == "1")) {
            (k == "--share-table" ? share_table
             : k == "--floor"     ? with_floor
             : k == "--raw-a"     ? raw_a
                                  : share_backends) = v == "1";
        } else {
            std::fprintf(stderr, "sluice-burst-ab: unknown option or bad value: %s %s\n", k.c_str(),
                         v.c_str());
            return 2;
        }
    }
    const std::string &spec_path = o.spec;
    const uint32_t flows = o.flows;
    const uint32_t vips = o.vips;
    const uint8_t proto = o.proto;
    if (spec_path.empty() || flows == 0 || vips == 0 || blocks == 0 ||
        (with_floor && vips_b == 0) || (raw_a && (vips_b != 0 || share_table || share_backends))) {
        std::fprintf(stderr, "usage: sluice-burst-ab --spec S.json [--vips N] [--vips-b M] "
                             "[--flows F] [--proto udp|tcp] [--blocks K] [--share-table 0|1] "
                             "[--share-backends 0|1] [--floor 0|1 (with --vips-b)] [--raw-a 0|1 "
                             "(without --vips-b and --share-*)]\n");
        return 2;
    }
    const sluice::test::BenchTables tables(spec_path, "sluice-burst-ab");
    if (!tables) {
        return 1;
    }
    // --raw-a: A reads the same tables written raw (region.h), B packed
    std::optional<sluice::test::BenchTables> raw;
    if (raw_a) {
        raw.emplace(spec_path, "sluice-burst-ab", false);
        if (!*raw) {
            return 1;
        }
    }
    sl_tables *rw = tables.rw();
    for (uint32_t k = 1; share_table && k < rw->n_services; k++) {
        rw->services[k].entry_bits = rw->services[0].entry_bits;
        rw->services[k].list_offset = rw->services[0].list_offset;
        rw->services[k].table_offset = rw->services[0].table_offset;
        rw->services[k].table_size = rw->services[0].table_size;
        rw->services[k].table_fastmod = rw->services[0].table_fastmod;
    }
    // Backend ids are in the lists of packed tables and in raw tables.
    for (uint32_t k = 0; share_backends && k < rw->n_services; k++) {
        const sl_service &s = rw->services[k];
        if (s.table_size == 0) {
            continue;
        }
        const bool packed = s.entry_bits != 0;
        const uint32_t from = packed ? s.list_offset : s.table_offset;
        const uint32_t n = packed ? 1u << s.entry_bits : s.table_size;
        for (uint32_t i = from; i < from + n; i++) {
            if (rw->arena[i] < SL_MAX_BACKENDS) {
                rw->arena[i] = static_cast<uint16_t>(rw->arena[i] % 4);
            }
        }
    }
    const sl_tables *t = tables.get();
    const sl_tables *ta = raw ? raw->get() : t; // side A's tables
    Floor fl;
    if (with_floor) {
        uint32_t n = 1;
        while (n < t->n_services) {
            n <<= 1;
        }
        fl.svc.assign(n, &t->services[0]);
        fl.size = t->services[0].table_size;
        fl.fastmod = t->services[0].table_fastmod;
        for (uint32_t k = 0; k < t->n_services; k++) {
            if (t->services[k].table_size != fl.size) {
                std::fprintf(stderr, "sluice-burst-ab: --floor needs one table size for every "
                                     "service\n");
                return 2;
            }
            fl.svc[k] = &t->services[k];
        }
        inet_pton(AF_INET, "10.0.0.1", &fl.vip0);
        fl.vip0 = ntohl(fl.vip0);
    }

    uint32_t vip = 0;
    inet_pton(AF_INET, "10.0.0.1", &vip);
    sluice::test::FrameStream st(proto, vip, 80, flows, vips);
    sluice::test::FrameStream st_b(proto, vip, 80, flows, vips_b != 0 ? vips_b : vips);
    const sl_encap_ctx ctx = sluice::test::bench_encap_ctx();

    // The lookup caches and frames on huge pages, as the worker's are.
    const sluice::test::OnHugePages<va::sl_burst_cache> ca;
    const sluice::test::OnHugePages<vb::sl_burst_cache> cb;
    const sluice::test::OnHugePages<va::sl_burst_cache> ca_b; // with --vips-b: B's, A's code
    va::sl_burst_cache_init(ca.get());
    vb::sl_burst_cache_init(cb.get());
    va::sl_burst_cache_init(ca_b.get());

    // Both versions on copies of the same frames: outcomes and bytes equal.
    {
        std::vector<uint8_t> ba(kBurst * kBuf);
        std::vector<uint8_t> bb(kBurst * kBuf);
        for (unsigned burst = 0; burst < 64; burst++) {
            va::sl_burst_pkt pa[kBurst];
            vb::sl_burst_pkt pb[kBurst];
            for (unsigned i = 0; i < kBurst; i++) {
                st.write(ba.data() + i * kBuf + kHeadroom);
                std::memcpy(bb.data() + i * kBuf, ba.data() + i * kBuf, kBuf);
                fill(&pa[i], ba.data() + i * kBuf + kHeadroom);
                fill(&pb[i], bb.data() + i * kBuf + kHeadroom);
            }
            va::sl_burst_forward_cached(ta, &ctx, ca.get(), pa, kBurst);
            vb::sl_burst_forward_cached(t, &ctx, cb.get(), pb, kBurst);
            for (unsigned i = 0; i < kBurst; i++) {
                if (outcome(pa[i]) != outcome(pb[i]) || pa[i].len != pb[i].len ||
                    pa[i].frame - ba.data() != pb[i].frame - bb.data() ||
                    std::memcmp(ba.data() + i * kBuf, bb.data() + i * kBuf, kBuf) != 0) {
                    std::fprintf(stderr,
                                 "sluice-burst-ab: A and B differ on frame %u of burst %u: "
                                 "they do not forward alike, a ratio would mean nothing\n",
                                 i, burst);
                    return 1;
                }
            }
        }
        st.rewind();
    }

    // Which side a packet goes to: blocks A B B A A B B A ...; with --floor,
    // sides 0-3 (A, B, the floor at A's VIPs, at B's) as 0 1 2 3 3 2 1 0 ...
    const unsigned n_sides = with_floor ? 4 : 2;
    auto side_of = [n_sides](uint64_t n) -> unsigned {
        const uint64_t blk = n / (kBurstsPerBlock * kBurst);
        if (n_sides == 2) {
            return static_cast<unsigned>(((blk >> 1) ^ blk) & 1u);
        }
        const unsigned k = static_cast<unsigned>(blk % 8);
        return k < 4 ? k : 7 - k;
    };
    const sluice::test::HugeMemory bufs(kBufs * kBuf);
    auto frame_of = [&](uint64_t n) { return bufs.data() + (n % kBufs) * kBuf + kHeadroom; };
    // Frame n, written kAhead frames before it is processed: from B's stream
    // if B has one of its own and takes it (and so the floor's side 3).
    auto write = [&](uint64_t n) {
        (vips_b != 0 && (side_of(n) & 1u) != 0 ? st_b : st).write(frame_of(n));
    };
    for (uint64_t n = 0; n < kAhead; n++) {
        write(n);
    }
    std::vector<uint64_t> cycles[4];
    uint64_t forwarded[4] = {0, 0, 0, 0};
    uint64_t n = 0;
    for (uint32_t blk = 0; blk < n_sides * blocks; blk++) {
        const unsigned v = side_of(n);
        const uint64_t t0 = __rdtsc();
        for (unsigned b = 0; b < kBurstsPerBlock; b++, n += kBurst) {
            va::sl_burst_pkt pa[kBurst];
            vb::sl_burst_pkt pb[kBurst];
            if (v >= 2) {
                uint8_t *frames[kBurst];
                for (unsigned i = 0; i < kBurst; i++) {
                    write(n + i + kAhead);
                    frames[i] = frame_of(n + i);
                }
                forwarded[v] += floor_burst(t, fl, ctx, frames, kBurst);
                continue;
            }
            for (unsigned i = 0; i < kBurst; i++) {
                write(n + i + kAhead);
                if (v == 0 || vips_b != 0) {
                    fill(&pa[i], frame_of(n + i));
                } else {
                    fill(&pb[i], frame_of(n + i));
                }
            }
            if (v == 0 || vips_b != 0) {
                va::sl_burst_forward_cached(v == 0 ? ta : t, &ctx, v == 0 ? ca.get() : ca_b.get(),
                                            pa, kBurst);
                for (unsigned i = 0; i < kBurst; i++) {
                    forwarded[v] += pa[i].verdict == va::SL_BURST_FORWARD;
                }
            } else {
                vb::sl_burst_forward_cached(t, &ctx, cb.get(), pb, kBurst);
                for (unsigned i = 0; i < kBurst; i++) {
                    forwarded[1] += pb[i].verdict == vb::SL_BURST_FORWARD;
                }
            }
        }
        cycles[v].push_back(__rdtsc() - t0);
    }
    const double a = median_per_packet(cycles[0]);
    const double b = median_per_packet(cycles[1]);
    std::printf("{\"vips\": %u, \"vips_b\": %u, \"flows\": %u, \"blocks\": %u, "
                "\"share_table\": %s, \"share_backends\": %s, \"floor\": %s, \"raw_a\": %s, "
                "\"packets_each\": %lu, \"forwarded_a\": %lu, \"forwarded_b\": %lu, "
                "\"a_tsc_per_packet\": %.2f, \"b_tsc_per_packet\": %.2f, \"b_over_a\": %.4f",
                vips, vips_b != 0 ? vips_b : vips, flows, blocks, share_table ? "true" : "false",
                share_backends ? "true" : "false", with_floor ? "true" : "false",
                raw_a ? "true" : "false",
                static_cast<unsigned long>(blocks) * kBurstsPerBlock * kBurst,
                static_cast<unsigned long>(forwarded[0]), static_cast<unsigned long>(forwarded[1]),
                a, b, b / a);
    if (with_floor) {
        // floor_extra_over_a: what B's VIPs cost the floor more than A's, as
        // a share of what a packet costs sluice at A's: sluice's b_over_a - 1
        // if many VIPs cost it no more than the memory they need.
        const double fa = median_per_packet(cycles[2]);
        const double fb = median_per_packet(cycles[3]);
        std::printf(", \"floor_forwarded_a\": %lu, \"floor_forwarded_b\": %lu, "
                    "\"floor_a_tsc_per_packet\": %.2f, \"floor_b_tsc_per_packet\": %.2f, "
                    "\"floor_b_over_a\": %.4f, \"floor_extra_over_a\": %.4f",
                    static_cast<unsigned long>(forwarded[2]),
                    static_cast<unsigned long>(forwarded[3]), fa, fb, fb / fa, (fb - fa) / a);
    }
    // Where the memory was: the tables on 2 MB pages or not, the frames'
    // and caches' pages (hugetlb, thp or 4k).
    std::printf(", \"tables_huge_pages\": %s, \"frames_pages\": \"%s\"}\n",
                tables.huge() ? "true" : "false", bufs.how());
    return 0;
}
