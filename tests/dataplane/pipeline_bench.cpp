// SPDX-License-Identifier: Apache-2.0
//
// sluice-dp-pipeline-bench: the dataplane's per-packet work without I/O, on
// one core: parse.h -> decide.h -> rewrite.h over 64-byte frames of many
// flows, as the worker runs it (minus rte_eth_rx/tx). Each frame is first
// copied from its template into a buffer with headroom, as a NIC's DMA would
// write it, so that encapsulation starts from a fresh frame every time; the
// frame is written 2048 packets before it is processed (the copy's cost is
// included: --stage copy shows it).
//
// sluice-dp-pipeline-bench --spec S.json [--flows N] [--packets P] [--proto udp|tcp]
//                          [--vip A] [--vips N] [--dport P] [--path burst|packet] [--cache 0|1]
//                          [--stage copy|parse|decide|all]
// --path burst (the default) runs bursts of 32 through sl_burst_forward, the
// rest through the per-packet path, as sluice-dataplane's worker does;
// --path packet runs every packet through the per-packet path
// (parse -> decide -> rewrite), and --stage stops each packet's work early
// there, to see what each step costs.
// --vips N: flow i goes to VIP A + (i % N) (the spec must define them), as
// sluice-gen --vips N sends it. --cache 0 runs the burst path without the
// worker's lookup cache across bursts.
// Prints one JSON line: Mpps and ns per packet.
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "sluice/burst.h"
#include "sluice/decide.h"
#include "sluice/parse.h"
#include "sluice/rewrite.h"
#include "bench_input.hpp"

namespace {

constexpr uint32_t kFrame = sluice::test::kBenchFrame;
constexpr uint32_t kHeadroom = sluice::test::kBenchHeadroom;
constexpr uint32_t kBuf = sluice::test::kBenchBuf;

// Wall and thread CPU time since construction, and the one JSON line.
// cpu_mpps: per second of CPU time this thread got (the machine may be
// shared); mpps: per second of wall time.
struct Stopwatch {
    std::chrono::steady_clock::time_point wall0 = std::chrono::steady_clock::now();
    timespec cpu0 = now_cpu();

    static timespec now_cpu() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts;
    }

    // slow < 0: no "slow" field (the per-packet path has none).
    void report(const char *path, uint64_t packets, uint64_t forwarded, int64_t slow,
                uint32_t flows, uint32_t vips, uint64_t checksum, bool tables_huge,
                const char *frames_pages) const {
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
        const timespec c1 = now_cpu();
        const double cpu = static_cast<double>(c1.tv_sec - cpu0.tv_sec) +
                           static_cast<double>(c1.tv_nsec - cpu0.tv_nsec) / 1e9;
        std::printf("{\"packets\": %lu, \"forwarded\": %lu, ", packets, forwarded);
        if (slow >= 0) {
            std::printf("\"slow\": %ld, ", slow);
        }
        std::printf("\"flows\": %u, \"vips\": %u, \"path\": \"%s\", \"seconds\": %.3f, "
                    "\"cpu_seconds\": %.3f, \"mpps\": %.2f, \"cpu_mpps\": %.2f, "
                    "\"ns_per_packet\": %.2f, \"check\": %lu, \"tables_huge_pages\": %s, "
                    "\"frames_pages\": \"%s\"}\n",
                    flows, vips, path, secs, cpu, static_cast<double>(packets) / secs / 1e6,
                    static_cast<double>(packets) / cpu / 1e6,
                    cpu * 1e9 / static_cast<double>(packets), checksum,
                    tables_huge ? "true" : "false", frames_pages);
    }
};

} // namespace

int main(int argc, char **argv) {
    sluice::test::BenchOptions o;
    uint64_t packets = 50000000;
    uint32_t vip = 0;
    inet_pton(AF_INET, "10.0.0.1", &vip);
    uint16_t dport = 80;
    std::string stage = "all";  // copy | parse | decide | all: where the loop stops
    std::string path = "burst"; // burst | packet
    bool use_cache = true;      // the worker's lookup cache across bursts
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (o.take(k, v)) {
            continue;
        }
        if (k == "--packets") {
            packets = std::stoull(v);
        } else if (k == "--vip") {
            inet_pton(AF_INET, v.c_str(), &vip);
        } else if (k == "--path") {
            path = v;
        } else if (k == "--cache") {
            use_cache = v != "0";
        } else if (k == "--stage") {
            stage = v;
        } else if (k == "--dport") {
            dport = static_cast<uint16_t>(std::stoul(v));
        }
    }
    const std::string &spec_path = o.spec;
    const uint32_t flows = o.flows;
    const uint32_t vips = o.vips;
    const uint8_t proto = o.proto;
    if (spec_path.empty() || flows == 0 || vips == 0 || (path != "burst" && path != "packet") ||
        (path == "burst" && stage != "all")) {
        std::fprintf(stderr, "usage: sluice-dp-pipeline-bench --spec S.json [--flows N] ...\n");
        return 2;
    }
    const sluice::test::BenchTables tables(spec_path, "sluice-dp-pipeline-bench");
    if (!tables) {
        return 1;
    }
    const sl_tables *t = tables.get();

    sluice::test::FrameStream stream(proto, vip, dport, flows, vips);
    const sl_encap_ctx ctx = sluice::test::bench_encap_ctx();

    // A ring of frames, each (re)written kAhead packets before it is
    // processed, as a NIC writes frames before the CPU reads them: no
    // store-to-load forwarding between writing a frame and parsing it.
    constexpr unsigned kBufs = 4096;
    constexpr unsigned kAhead = 2048;
    const sluice::test::HugeMemory bufs(kBufs * kBuf); // as mbufs, on huge pages
    auto prepare = [&](uint64_t n) { stream.write(bufs.data() + (n % kBufs) * kBuf + kHeadroom); };
    for (uint64_t n = 0; n < kAhead; n++) {
        prepare(n);
    }
    uint64_t forwarded = 0;
    uint64_t checksum = 0;
    // The per-packet path's last step: rewrite, and count what went out.
    auto rewrite = [&](uint8_t *frame, const sl_pkt &pkt, const sl_decision &d) {
        const sl_rw_result r =
            sl_rewrite_forward(frame, kFrame, kHeadroom, &pkt, &ctx, &t->services[d.service_id],
                               &t->backends[d.backend_id], d.hash);
        if (r.verdict == SL_RW_OK) {
            forwarded++;
            checksum += r.frame[0] + r.len + d.backend_id;
        }
    };
    if (path == "burst") {
        // As the worker does it: a burst of 32 through sl_burst_forward; what
        // it hands back through the per-packet path.
        constexpr unsigned kBurst = SL_BURST_MAX;
        sl_burst_pkt b[kBurst];
        const sluice::test::OnHugePages<sl_burst_cache> cache; // as the worker's
        sl_burst_cache_init(cache.get());
        const Stopwatch clock;
        uint64_t slow = 0;
        for (uint64_t n = 0; n < packets; n += kBurst) {
            for (unsigned i = 0; i < kBurst; i++) {
                prepare(n + i + kAhead);
                b[i].frame = bufs.data() + ((n + i) % kBufs) * kBuf + kHeadroom;
                b[i].len = kFrame;
                b[i].headroom = kHeadroom;
            }
            sl_burst_forward_cached(t, &ctx, use_cache ? cache.get() : nullptr, b, kBurst);
            for (unsigned i = 0; i < kBurst; i++) {
                if (b[i].verdict == SL_BURST_FORWARD) {
                    forwarded++;
                    checksum += b[i].frame[0] + b[i].len + b[i].backend_id;
                    continue;
                }
                if (b[i].verdict != SL_BURST_SLOW) {
                    continue;
                }
                slow++;
                sl_pkt pkt;
                if (sl_parse(b[i].frame, kFrame, &pkt) != SL_VERDICT_FLOW) {
                    continue;
                }
                const sl_decision d = sl_decide(t, &pkt);
                if (d.drop != SL_DROP_NONE) {
                    continue;
                }
                rewrite(b[i].frame, pkt, d);
            }
        }
        const uint64_t done = (packets + kBurst - 1) / kBurst * kBurst;
        clock.report("burst", done, forwarded, static_cast<int64_t>(slow), flows, vips, checksum,
                     tables.huge(), bufs.how());
        return forwarded == done ? 0 : 1;
    }
    const int upto = stage == "copy" ? 0 : stage == "parse" ? 1 : stage == "decide" ? 2 : 3;
    const Stopwatch clock;
    for (uint64_t n = 0; n < packets; n++) {
        prepare(n + kAhead);
        uint8_t *frame = bufs.data() + (n % kBufs) * kBuf + kHeadroom;

        if (upto == 0) {
            forwarded++;
            checksum += frame[30];
            continue;
        }
        sl_pkt pkt;
        if (sl_parse(frame, kFrame, &pkt) != SL_VERDICT_FLOW) {
            continue;
        }
        if (upto == 1) {
            forwarded++;
            checksum += pkt.key.sport;
            continue;
        }
        const sl_decision d = sl_decide(t, &pkt);
        if (d.drop != SL_DROP_NONE) {
            continue;
        }
        if (upto == 2) {
            forwarded++;
            checksum += d.backend_id;
            continue;
        }
        rewrite(frame, pkt, d);
    }
    clock.report("packet", packets, forwarded, -1, flows, vips, checksum, tables.huge(),
                 bufs.how());
    return forwarded == packets ? 0 : 1;
}
