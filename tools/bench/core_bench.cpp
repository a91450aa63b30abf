// SPDX-License-Identifier: Apache-2.0
//
// sluice-bench-core: the per-packet cost of the packet core, no I/O.
//
// For each hash candidate (SipHash-1-3, the one sluice uses; jhash as Katran
// uses) and each forwarding mode (dsr-l2, ipip) it runs
//     parse -> service lookup -> key -> hash -> Maglev slot -> backend -> rewrite
// over 64-byte IPv4/TCP frames of 1M distinct flows (one VIP, 100 backends,
// M = 65537), and reports ns/packet (median of the runs) and Mpps.
//
// Two packet sources, both reported:
//   hot   a ring of 1024 buffers, like a NIC's RX ring: before each packet
//         the flow's source address and port are stamped into the buffer
//         (that store is part of the measured time);
//   cold  1M pre-built frames, one per flow, visited in order: every
//         packet's bytes come from DRAM (a worst case a NIC with DDIO does
//         not have).
// An encapsulating rewrite moves the frame start: each iteration restores
// the 14-byte Ethernet header, and every iteration must take the forwarding
// path (counted and checked, or the run is void).
#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <sys/mman.h>
#include <vector>

#include <fmt/core.h>

#include "sluice/burst.h"
#include "sluice/decide.h"
#include "sluice/hash.h"
#include "sluice/maglev.hpp"
#include "sluice/parse.h"
#include "sluice/region.h"
#include "sluice/rewrite.h"

namespace {

constexpr uint32_t kFlows = 1u << 20;
constexpr uint32_t kBackends = 100;
constexpr uint32_t kTableSize = 65537;
constexpr uint32_t kHeadroom = 64;
constexpr uint32_t kFrameLen = 60; // a 64-byte frame on the wire, less the FCS the NIC strips
constexpr uint32_t kSlot = 128;    // headroom + frame, one buffer
constexpr uint32_t kHotRing = 256; // 32 KB of buffers: they stay in L1
constexpr int kRuns = 7;

struct TablesDeleter {
    void operator()(sl_tables *t) const { munmap(t, sizeof(sl_tables)); }
};
using TablesPtr = std::unique_ptr<sl_tables, TablesDeleter>;

TablesPtr make_tables(uint8_t fwd_mode) {
    void *p = mmap(nullptr, sizeof(sl_tables), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        std::perror("mmap");
        std::exit(1);
    }
    TablesPtr t(static_cast<sl_tables *>(p));
    t->seed = sl_hash_seed{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    t->n_services = 1;
    sl_service &s = t->services[0];
    inet_pton(AF_INET, "192.0.2.10", s.vip);
    s.port = htons(80);
    s.proto = SL_IPPROTO_TCP;
    s.family = SL_AF_INET;
    s.hash_mode = SL_HASH_5TUPLE;
    s.fwd_mode = fwd_mode;
    s.flags = SL_SVC_ACTIVE;
    s.table_offset = 0;
    s.table_size = kTableSize;
    s.table_fastmod = sl_fastmod_magic(kTableSize);
    s.n_backends = kBackends;

    std::vector<sluice::maglev::Backend> backends;
    for (uint32_t i = 0; i < kBackends; i++) {
        sl_backend &b = t->backends[i];
        const uint32_t addr = htonl(0x0a010000u + i + 1); // 10.1.0.x
        std::memcpy(b.addr, &addr, 4);
        b.family = SL_AF_INET;
        b.flags = SL_BACKEND_ACTIVE;
        const uint8_t mac[6] = {
            0x02, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
        std::memcpy(b.mac, mac, 6);
        sluice::maglev::Backend mb;
        std::memcpy(mb.addr.data(), &addr, 4);
        mb.family = SL_AF_INET;
        mb.id = static_cast<uint16_t>(i);
        mb.weight = 1;
        backends.push_back(mb);
    }
    t->n_backends = kBackends;
    auto built = sluice::maglev::build_table(backends, std::span<uint16_t>(t->arena, kTableSize));
    if (!built) {
        fmt::print(stderr, "maglev: {}\n", built.error().message);
        std::exit(1);
    }
    sl_index_insert(t.get(), SL_AF_INET, s.vip, s.port, s.proto, SL_MATCH_PORT, 0); // empty index
    return t;
}

// The frames' Ethernet header: router to box.
void put_eth(uint8_t *f, uint16_t ethertype) {
    sl_eth_hdr eth{};
    const uint8_t box[6] = {0x02, 0xaa, 0, 0, 0, 1};
    const uint8_t rtr[6] = {0x02, 0xbb, 0, 0, 0, 1};
    std::memcpy(eth.dst, box, 6);
    std::memcpy(eth.src, rtr, 6);
    eth.ethertype = htons(ethertype);
    std::memcpy(f, &eth, sizeof(eth));
}

// A SYN of flow i to port 80 (its source port from the flow's low 4 bits).
void put_tcp(uint8_t *l4, uint32_t flow) {
    sl_tcp_hdr tcp{};
    tcp.source = htons(static_cast<uint16_t>(1024 + (flow & 0xf) * 4000));
    tcp.dest = htons(80);
    tcp.doff_res = 5 << 4;
    tcp.flags = 0x02;
    tcp.window = htons(65535);
    std::memcpy(l4, &tcp, sizeof(tcp));
}

// A 64-byte Ethernet/IPv4/TCP frame from flow i to the VIP.
void write_frame(uint8_t *f, uint32_t flow) {
    std::memset(f, 0, kFrameLen);
    put_eth(f, SL_ETH_P_IPV4);
    sl_ipv4_hdr ip{};
    ip.ver_ihl = 0x45;
    ip.tot_len = htons(40); // + 6 bytes of Ethernet padding to 60
    ip.frag_off = htons(SL_IPV4_DF);
    ip.ttl = 64;
    ip.protocol = SL_IPPROTO_TCP;
    ip.saddr = htonl(0x64000000u | (flow >> 4)); // 100.x.y.z
    inet_pton(AF_INET, "192.0.2.10", &ip.daddr);
    ip.check = sl_ipv4_hdr_csum(&ip, sizeof(ip));
    std::memcpy(f + 14, &ip, sizeof(ip));
    put_tcp(f + 34, flow);
}

// The dataplane's per-packet work, with the hash as a parameter.
struct SipHash {
    static constexpr const char *name = "siphash13";
};
struct JHash {
    static constexpr const char *name = "jhash";
};

template <typename H> inline sl_decision decide(const sl_tables *t, const sl_pkt *pkt) {
    if constexpr (std::is_same_v<H, SipHash>) {
        return sl_decide(t, pkt); // exactly what sluice-dataplane runs
    } else {
        // sl_decide with jhash in place of sl_flow_hash.
        sl_decision d{};
        const int sid = sl_decide_service(t, pkt);
        if (sid < 0) {
            d.drop = SL_DROP_NOT_VIP;
            return d;
        }
        const sl_service *svc = &t->services[sid];
        sl_flow_key key = pkt->key;
        sl_key_apply_mode(&key, static_cast<sl_hash_mode>(svc->hash_mode));
        d.hash = sl_flow_jhash(&key, static_cast<uint32_t>(t->seed.k0));
        d.slot = sl_fastmod(static_cast<uint32_t>(d.hash), svc->table_fastmod, svc->table_size);
        d.service_id = static_cast<uint16_t>(sid);
        d.backend_id = t->arena[svc->table_offset + d.slot];
        d.drop = SL_DROP_NONE;
        return d;
    }
}

struct Sink {
    uint64_t forwarded = 0;
    uint64_t bytes = 0;
    uint64_t per_backend[kBackends] = {};

    // What a burst forwarded.
    void count(const sl_burst_pkt *b, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
            if (b[i].verdict == SL_BURST_FORWARD) {
                forwarded++;
                bytes += b[i].len;
                per_backend[b[i].backend_id]++;
            }
        }
    }
};

template <typename H>
inline void process(const sl_tables *t, const sl_encap_ctx *ctx, uint8_t *frame, Sink &sink,
                    uint32_t len = kFrameLen) {
    sl_pkt pkt;
    if (sl_parse(frame, len, &pkt) != SL_VERDICT_FLOW) {
        return;
    }
    const sl_decision d = decide<H>(t, &pkt);
    if (d.drop != SL_DROP_NONE) {
        return;
    }
    const sl_service *svc = &t->services[d.service_id];
    const sl_backend *be = &t->backends[d.backend_id];
    const sl_rw_result r = sl_rewrite_forward(frame, len, kHeadroom, &pkt, ctx, svc, be, d.hash);
    if (r.verdict == SL_RW_OK) {
        sink.forwarded++;
        sink.bytes += r.len;
        sink.per_backend[d.backend_id]++;
    }
}

double now_ns() {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

struct Figure {
    double ns_per_packet;
    uint64_t forwarded;
    uint64_t packets;
};

// "Receive" packet n into its ring buffer: the Ethernet header as the NIC
// wrote it, the flow's source address and port. (The IPv4 checksum is not
// verified by sluice: the NIC does, and the rewrite keeps it.) Buffers are
// stamped kAhead packets before they are processed, as a NIC writes frames
// before the CPU reads them: the parser's loads then do not wait on the
// stamping stores (store-to-load forwarding), which no real RX path has.
constexpr uint32_t kAhead = kHotRing / 2;
using Ring = uint8_t[kHotRing][kSlot];

inline uint8_t *ring_frame(Ring &ring, uint64_t n) {
    return ring[n & (kHotRing - 1)] + kHeadroom;
}

inline void stamp(Ring &ring, uint64_t n, const uint8_t *eth) {
    const uint32_t flow = static_cast<uint32_t>(n) & (kFlows - 1);
    uint8_t *f = ring_frame(ring, n);
    std::memcpy(f, eth, 14);
    const uint32_t saddr = htonl(0x64000000u | (flow >> 4));
    std::memcpy(f + 14 + 12, &saddr, 4);
    const uint16_t sport = htons(static_cast<uint16_t>(1024 + (flow & 0xf) * 4000));
    std::memcpy(f + 34, &sport, 2);
}

Ring &hot_ring(uint8_t *eth) {
    alignas(64) static Ring ring;
    for (uint32_t i = 0; i < kHotRing; i++) {
        write_frame(ring[i] + kHeadroom, i);
    }
    std::memcpy(eth, ring[0] + kHeadroom, 14);
    for (uint64_t n = 0; n < kAhead; n++) {
        stamp(ring, n, eth);
    }
    return ring;
}

template <typename H>
Figure run_hot(const sl_tables *t, const sl_encap_ctx *ctx, uint64_t packets) {
    uint8_t eth[14];
    Ring &ring = hot_ring(eth);
    Sink sink;
    const double t0 = now_ns();
    for (uint64_t n = 0; n < packets; n++) {
        stamp(ring, n + kAhead, eth);
        process<H>(t, ctx, ring_frame(ring, n), sink);
    }
    const double t1 = now_ns();
    return Figure{(t1 - t0) / static_cast<double>(packets), sink.forwarded, packets};
}

// The burst path (sluice/burst.h), as sluice-dataplane runs it: 32 frames
// "received" (stamped as in run_hot), then decided and rewritten together.
// With core = false the packet core is left out: every frame is "forwarded"
// to the backend its first address byte names. That is the loop's own cost
// (receiving, i.e. stamping, and counting), which the burst rows subtract.
Figure run_hot_burst(const sl_tables *t, const sl_encap_ctx *ctx, uint64_t packets,
                     bool core = true) {
    uint8_t eth[14];
    Ring &ring = hot_ring(eth);
    Sink sink;
    sl_burst_pkt b[SL_BURST_MAX];
    packets = (packets + SL_BURST_MAX - 1) / SL_BURST_MAX * SL_BURST_MAX;
    const double t0 = now_ns();
    for (uint64_t n = 0; n < packets; n += SL_BURST_MAX) {
        for (uint32_t i = 0; i < SL_BURST_MAX; i++) {
            stamp(ring, n + i + kAhead, eth);
            b[i].frame = ring_frame(ring, n + i);
            b[i].len = kFrameLen;
            b[i].headroom = kHeadroom;
        }
        if (core) {
            sl_burst_forward(t, ctx, b, SL_BURST_MAX);
        } else {
            for (uint32_t i = 0; i < SL_BURST_MAX; i++) {
                b[i].verdict = SL_BURST_FORWARD;
                b[i].backend_id = static_cast<uint16_t>(b[i].frame[26] % kBackends);
            }
            asm volatile("" : : "r"(b) : "memory");
        }
        sink.count(b, SL_BURST_MAX);
    }
    const double t1 = now_ns();
    return Figure{(t1 - t0) / static_cast<double>(packets), sink.forwarded, packets};
}

template <typename H>
Figure run_cold(const sl_tables *t, const sl_encap_ctx *ctx, std::vector<uint8_t> &pool,
                uint64_t packets) {
    uint8_t pristine[kSlot];
    write_frame(pristine, 0);
    uint8_t eth[14];
    std::memcpy(eth, pristine, 14); // the pool's own first frame was rewritten by earlier runs
    Sink sink;
    const double t0 = now_ns();
    uint32_t flow = 0;
    for (uint64_t n = 0; n < packets; n++) {
        uint8_t *f = pool.data() + static_cast<size_t>(flow) * kSlot + kHeadroom;
        std::memcpy(f, eth, 14); // undo the previous pass's encapsulation
        process<H>(t, ctx, f, sink);
        flow = (flow + 1) & (kFlows - 1);
    }
    const double t1 = now_ns();
    return Figure{(t1 - t0) / static_cast<double>(packets), sink.forwarded, packets};
}

// Points b at the next SL_BURST_MAX frames (of len bytes) of a pool of
// slot-byte buffers, flow by flow from *flow on, wrapping after flows. eth,
// if not nullptr: 14 bytes copied over each frame's start first, undoing the
// previous pass's encapsulation (the outer headers end where the inner
// packet starts, over the Ethernet header).
void pool_burst(sl_burst_pkt *b, std::vector<uint8_t> &pool, size_t slot, uint32_t len,
                uint32_t *flow, uint32_t flows, const uint8_t *eth = nullptr) {
    for (uint32_t i = 0; i < SL_BURST_MAX; i++) {
        b[i].frame = pool.data() + static_cast<size_t>(*flow) * slot + kHeadroom;
        b[i].len = len;
        b[i].headroom = kHeadroom;
        *flow = (*flow + 1) & (flows - 1);
        if (eth != nullptr) {
            std::memcpy(b[i].frame, eth, 14);
        }
    }
}

// The burst path over the 1M pre-built frames: every frame from DRAM.
Figure run_cold_burst(const sl_tables *t, const sl_encap_ctx *ctx, std::vector<uint8_t> &pool,
                      uint64_t packets) {
    uint8_t pristine[kSlot];
    write_frame(pristine, 0);
    Sink sink;
    sl_burst_pkt b[SL_BURST_MAX];
    packets = (packets + SL_BURST_MAX - 1) / SL_BURST_MAX * SL_BURST_MAX;
    const double t0 = now_ns();
    uint32_t flow = 0;
    for (uint64_t n = 0; n < packets; n += SL_BURST_MAX) {
        pool_burst(b, pool, kSlot, kFrameLen, &flow, kFlows, pristine);
        sl_burst_forward(t, ctx, b, SL_BURST_MAX);
        sink.count(b, SL_BURST_MAX);
    }
    const double t1 = now_ns();
    return Figure{(t1 - t0) / static_cast<double>(packets), sink.forwarded, packets};
}

// ---- IPv4 against IPv6 on one harness: dsr-l2 and ipip, 4096 flows whose
// frames stay in L2, one VIP of each family sharing the Maglev table of IPv4
// backends. Per-packet path and burst path, ns per packet. ipip overwrites
// the frame's Ethernet header (the outer headers end where the inner packet
// starts): both paths copy it back before each frame, as run_cold_burst does.
constexpr uint32_t kWarmFlows = 4096;
constexpr uint32_t kWarmSlot = 256;

// A 78-byte Ethernet/IPv6/TCP frame (74 without the FCS) of flow i to
// 2001:db8::10 port 80.
uint32_t write_frame6(uint8_t *f, uint32_t flow) {
    std::memset(f, 0, 74);
    put_eth(f, SL_ETH_P_IPV6);
    f[14] = 0x60;
    const uint16_t pl = htons(20);
    std::memcpy(f + 18, &pl, 2);
    f[20] = SL_IPPROTO_TCP;
    f[21] = 64;
    inet_pton(AF_INET6, "2001:db8:100::", f + 22);
    const uint32_t low = htonl(flow >> 4);
    std::memcpy(f + 22 + 12, &low, 4);
    inet_pton(AF_INET6, "2001:db8::10", f + 38);
    put_tcp(f + 54, flow);
    return 74;
}

// Adds 2001:db8::10 port 80 TCP (service 1) on service 0's table.
void add_v6_service(sl_tables *t) {
    sl_service &s = t->services[1];
    s = t->services[0];
    inet_pton(AF_INET6, "2001:db8::10", s.vip);
    s.family = SL_AF_INET6;
    t->n_services = 2;
    sl_index_insert(t, SL_AF_INET6, s.vip, s.port, s.proto, SL_MATCH_PORT, 1);
}

// eth: the 14 bytes to copy back over each frame's start first, or nullptr;
// cache: the burst path's lookup cache across bursts, or nullptr.
// The frames of the kWarmFlows flows, one pool per family, their length
// and their Ethernet header as written (to copy back after ipip).
struct WarmPools {
    std::vector<uint8_t> pool4 = std::vector<uint8_t>(static_cast<size_t>(kWarmFlows) * kWarmSlot);
    std::vector<uint8_t> pool6 = std::vector<uint8_t>(pool4.size());
    uint32_t len6 = 0;
    uint8_t eth4[14] = {};
    uint8_t eth6[14] = {};
    WarmPools() {
        for (uint32_t i = 0; i < kWarmFlows; i++) {
            write_frame(pool4.data() + static_cast<size_t>(i) * kWarmSlot + kHeadroom, i);
            len6 = write_frame6(pool6.data() + static_cast<size_t>(i) * kWarmSlot + kHeadroom, i);
        }
        std::memcpy(eth4, pool4.data() + kHeadroom, 14);
        std::memcpy(eth6, pool6.data() + kHeadroom, 14);
    }
    std::vector<uint8_t> &pool(bool v6) { return v6 ? pool6 : pool4; }
    uint32_t len(bool v6) const { return v6 ? len6 : kFrameLen; }
    const uint8_t *eth(bool v6) const { return v6 ? eth6 : eth4; }
};

// Adds n VIPs of each family on service 0's table (services 2..): flow i of
// the pools goes to VIP i % n of its family (10.200.0.0 + k, 2001:db8:1::k).
constexpr uint32_t kManyVips = 256;

void add_many_vips(sl_tables *t, std::vector<uint8_t> &pool4, std::vector<uint8_t> &pool6) {
    for (uint32_t k = 0; k < 2 * kManyVips; k++) {
        const bool v6 = k >= kManyVips;
        const uint32_t v = k % kManyVips;
        const uint32_t sid = 2 + k;
        sl_service &s = t->services[sid];
        s = t->services[0];
        std::memset(s.vip, 0, sizeof(s.vip));
        if (v6) {
            inet_pton(AF_INET6, "2001:db8:1::", s.vip);
            s.vip[14] = static_cast<uint8_t>(v >> 8);
            s.vip[15] = static_cast<uint8_t>(v);
        } else {
            const uint32_t a = htonl(0x0ac80000u + v);
            std::memcpy(s.vip, &a, 4);
        }
        s.family = v6 ? SL_AF_INET6 : SL_AF_INET;
        sl_index_insert(t, s.family, s.vip, s.port, s.proto, SL_MATCH_PORT,
                        static_cast<uint16_t>(sid));
    }
    t->n_services = 2 + 2 * kManyVips;
    for (uint32_t i = 0; i < kWarmFlows; i++) {
        uint8_t *f4 = pool4.data() + static_cast<size_t>(i) * kWarmSlot + kHeadroom;
        const uint32_t a = htonl(0x0ac80000u + i % kManyVips);
        std::memcpy(f4 + 14 + 16, &a, 4); // IPv4 daddr (its checksum is not checked)
        uint8_t *f6 = pool6.data() + static_cast<size_t>(i) * kWarmSlot + kHeadroom;
        inet_pton(AF_INET6, "2001:db8:1::", f6 + 38);
        f6[38 + 14] = static_cast<uint8_t>((i % kManyVips) >> 8);
        f6[38 + 15] = static_cast<uint8_t>(i % kManyVips);
    }
}

Figure run_warm(const sl_tables *t, const sl_encap_ctx *ctx, std::vector<uint8_t> &pool,
                uint32_t len, const uint8_t *eth, uint64_t packets, bool burst,
                sl_burst_cache *cache = nullptr) {
    Sink sink;
    sl_burst_pkt b[SL_BURST_MAX];
    packets = (packets + SL_BURST_MAX - 1) / SL_BURST_MAX * SL_BURST_MAX;
    const double t0 = now_ns();
    uint32_t flow = 0;
    for (uint64_t n = 0; n < packets; n += SL_BURST_MAX) {
        pool_burst(b, pool, kWarmSlot, len, &flow, kWarmFlows, eth);
        if (burst) {
            sl_burst_forward_cached(t, ctx, cache, b, SL_BURST_MAX);
            sink.count(b, SL_BURST_MAX);
            continue;
        }
        for (uint32_t i = 0; i < SL_BURST_MAX; i++) {
            process<SipHash>(t, ctx, b[i].frame, sink, len);
        }
    }
    const double t1 = now_ns();
    return Figure{(t1 - t0) / static_cast<double>(packets), sink.forwarded, packets};
}

template <typename F> double median_of(F &&f, uint64_t packets, bool &all_forwarded) {
    std::vector<double> v;
    for (int i = 0; i < kRuns; i++) {
        const Figure fig = f();
        all_forwarded = all_forwarded && fig.forwarded == packets;
        v.push_back(fig.ns_per_packet);
    }
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <typename H> double hash_only_ns(bool v6) {
    std::vector<sl_flow_key> keys(4096);
    std::mt19937_64 rng(1);
    for (auto &k : keys) {
        k = sl_flow_key{};
        for (int i = 0; i < (v6 ? 16 : 4); i++) {
            k.src[i] = static_cast<uint8_t>(rng());
            k.dst[i] = static_cast<uint8_t>(rng());
        }
        k.sport = static_cast<uint16_t>(rng());
        k.dport = 80;
        k.proto = SL_IPPROTO_TCP;
        k.family = v6 ? SL_AF_INET6 : SL_AF_INET;
    }
    const sl_hash_seed seed{1, 2};
    std::vector<double> v;
    for (int r = 0; r < kRuns; r++) {
        uint64_t acc = 0;
        constexpr uint64_t n = 20'000'000;
        const double t0 = now_ns();
        for (uint64_t i = 0; i < n; i++) {
            const sl_flow_key &k = keys[i & 4095];
            if constexpr (std::is_same_v<H, SipHash>) {
                acc += sl_flow_hash(&k, &seed);
            } else {
                acc += sl_flow_jhash(&k, 1);
            }
        }
        const double t1 = now_ns();
        asm volatile("" : : "r"(acc));
        v.push_back((t1 - t0) / static_cast<double>(n));
    }
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The IPv4 key hashed 8 lanes at a time, as the burst path does it.
double hash_burst_ns() {
    std::vector<uint64_t> w0(4096);
    std::vector<uint64_t> w1(4096);
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < w0.size(); i++) {
        w0[i] = rng();
        w1[i] = (rng() & 0xffffffffu) | uint64_t{SL_IPPROTO_TCP} << 32 | uint64_t{SL_AF_INET} << 40;
    }
    const sl_hash_seed seed{1, 2};
    std::vector<double> v;
    for (int r = 0; r < kRuns; r++) {
        uint64_t acc = 0;
        constexpr uint64_t n = 20'000'000;
        uint64_t h[SL_BURST_MAX];
        const double t0 = now_ns();
        for (uint64_t i = 0; i < n; i += SL_BURST_MAX) {
            const size_t at = i & 4095;
            sl_flow_hash4_burst(&w0[at], &w1[at], h, SL_BURST_MAX, &seed);
            acc += h[0] ^ h[31];
        }
        const double t1 = now_ns();
        asm volatile("" : : "r"(acc));
        v.push_back((t1 - t0) / static_cast<double>(n));
    }
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
    uint64_t packets = 20'000'000;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--packets" && i + 1 < argc) {
            packets = std::strtoull(argv[++i], nullptr, 10);
        } else {
            fmt::print(stderr, "usage: sluice-bench-core [--packets N]\n");
            return 2;
        }
    }
    sl_encap_ctx ctx;
    sl_encap_ctx_defaults(&ctx);
    const uint8_t box_mac[6] = {0x02, 0xaa, 0, 0, 0, 1};
    const uint8_t gw_mac[6] = {0x02, 0xcc, 0, 0, 0, 1};
    std::memcpy(ctx.box_mac, box_mac, 6);
    std::memcpy(ctx.gw_mac, gw_mac, 6);
    inet_pton(AF_INET, "10.0.0.2", &ctx.box_ip4);
    ctx.gue_dport = htons(6080);

    std::vector<uint8_t> pool(static_cast<size_t>(kFlows) * kSlot);
    for (uint32_t i = 0; i < kFlows; i++) {
        write_frame(pool.data() + static_cast<size_t>(i) * kSlot + kHeadroom, i);
    }

    fmt::print("sluice-bench-core: {} packets per run, median of {} runs; 1 VIP, {} backends, "
               "M={}, {} flows, 64-byte IPv4/TCP\n\n",
               packets, kRuns, kBackends, kTableSize, kFlows);
    fmt::print("{:<10} {:<7} {:>12} {:>10} {:>13} {:>10}\n", "hash", "mode", "hot ns/pkt",
               "hot Mpps", "cold ns/pkt", "cold Mpps");
    bool ok = true;
    auto row = [&](auto hash_tag, uint8_t mode, const char *mode_name) {
        using H = decltype(hash_tag);
        TablesPtr t = make_tables(mode);
        bool all = true;
        const double hot =
            median_of([&] { return run_hot<H>(t.get(), &ctx, packets); }, packets, all);
        const double cold =
            median_of([&] { return run_cold<H>(t.get(), &ctx, pool, packets); }, packets, all);
        fmt::print("{:<10} {:<7} {:>12.2f} {:>10.1f} {:>13.2f} {:>10.1f}{}\n", H::name, mode_name,
                   hot, 1000.0 / hot, cold, 1000.0 / cold,
                   all ? "" : "   VOID: not every packet was forwarded");
        ok = ok && all;
    };
    // The burst path, as sluice-dataplane runs it; "core" = hot minus the
    // loop alone (the same loop without the packet core).
    double loop = 0;
    {
        TablesPtr t = make_tables(SL_FWD_DSR_L2);
        bool all = true;
        loop =
            median_of([&] { return run_hot_burst(t.get(), &ctx, packets, false); }, packets, all);
    }
    for (auto [mode, name] : {std::pair<uint8_t, const char *>{SL_FWD_DSR_L2, "dsr-l2"},
                              {SL_FWD_IPIP, "ipip"},
                              {SL_FWD_GUE, "gue"}}) {
        TablesPtr t = make_tables(mode);
        bool all = true;
        const double hot =
            median_of([&] { return run_hot_burst(t.get(), &ctx, packets); }, packets, all);
        const double cold =
            median_of([&] { return run_cold_burst(t.get(), &ctx, pool, packets); }, packets, all);
        fmt::print(
            "{:<10} {:<7} {:>12.2f} {:>10.1f} {:>13.2f} {:>10.1f}  burst, core {:.2f} ns{}\n",
            "siphash13", name, hot, 1000.0 / hot, cold, 1000.0 / cold, hot - loop,
            all ? "" : "   VOID: not every packet was forwarded");
        ok = ok && all;
    }
    fmt::print("{:<10} {:<7} {:>12.2f} {:>10.1f} {:>13} {:>10}  the burst loop alone\n", "-", "-",
               loop, 1000.0 / loop, "-", "-");
    row(SipHash{}, SL_FWD_DSR_L2, "dsr-l2");
    row(SipHash{}, SL_FWD_IPIP, "ipip");
    row(SipHash{}, SL_FWD_GUE, "gue");
    row(JHash{}, SL_FWD_DSR_L2, "dsr-l2");
    row(JHash{}, SL_FWD_IPIP, "ipip");

    fmt::print("\n{} flows (frames in L2), IPv4/TCP 64 bytes, IPv6/TCP 78 bytes, IPv4 "
               "backends, ns/pkt:\n",
               kWarmFlows);
    fmt::print("{:<8} {:<8} {:>10} {:>10} {:>12}\n", "mode", "family", "per packet", "burst",
               "burst faster");
    for (auto [mode, mode_name] :
         {std::pair<uint8_t, const char *>{SL_FWD_DSR_L2, "dsr-l2"}, {SL_FWD_IPIP, "ipip"}}) {
        TablesPtr t = make_tables(mode);
        add_v6_service(t.get());
        WarmPools w;
        for (auto [v6, name] : {std::pair<bool, const char *>{false, "IPv4"}, {true, "IPv6"}}) {
            std::vector<uint8_t> &pool = w.pool(v6);
            const uint32_t len = w.len(v6);
            const uint8_t *eth = mode != SL_FWD_DSR_L2 ? w.eth(v6) : nullptr;
            bool all = true;
            const double per =
                median_of([&] { return run_warm(t.get(), &ctx, pool, len, eth, packets, false); },
                          packets, all);
            const double bur =
                median_of([&] { return run_warm(t.get(), &ctx, pool, len, eth, packets, true); },
                          packets, all);
            fmt::print("{:<8} {:<8} {:>10.2f} {:>10.2f} {:>11.2f}x{}\n", mode_name, name, per, bur,
                       per / bur, all ? "" : "   VOID: not every packet was forwarded");
            ok = ok && all;
        }
    }

    {
        TablesPtr t = make_tables(SL_FWD_DSR_L2);
        add_v6_service(t.get());
        WarmPools w;
        add_many_vips(t.get(), w.pool4, w.pool6);
        auto cache = std::make_unique<sl_burst_cache>();
        sl_burst_cache_init(cache.get());
        fmt::print("\ndsr-l2, the same flows over {} VIPs of each family (VIP i % {}), ns/pkt:\n",
                   kManyVips, kManyVips);
        fmt::print("{:<8} {:>10} {:>14} {:>14}\n", "family", "per packet", "burst no cache",
                   "burst, cache");
        for (auto [v6, name] : {std::pair<bool, const char *>{false, "IPv4"}, {true, "IPv6"}}) {
            std::vector<uint8_t> &pool = w.pool(v6);
            const uint32_t len = w.len(v6);
            bool all = true;
            const double per = median_of(
                [&] { return run_warm(t.get(), &ctx, pool, len, nullptr, packets, false); },
                packets, all);
            const double bur = median_of(
                [&] { return run_warm(t.get(), &ctx, pool, len, nullptr, packets, true); }, packets,
                all);
            const double cached = median_of(
                [&] {
                    return run_warm(t.get(), &ctx, pool, len, nullptr, packets, true, cache.get());
                },
                packets, all);
            fmt::print("{:<8} {:>10.2f} {:>14.2f} {:>14.2f}{}\n", name, per, bur, cached,
                       all ? "" : "   VOID: not every packet was forwarded");
            ok = ok && all;
        }
    }

    fmt::print("\nhash alone (4096 keys in cache), ns/hash:\n");
    fmt::print("{:<10} {:>8} {:>8}\n", "hash", "IPv4", "IPv6");
    fmt::print("{:<10} {:>8.2f} {:>8.2f}\n", "siphash13", hash_only_ns<SipHash>(false),
               hash_only_ns<SipHash>(true));
    fmt::print("{:<10} {:>8.2f} {:>8}  (8 lanes at a time, bursts of 32)\n", "siphash13",
               hash_burst_ns(), "-");
    fmt::print("{:<10} {:>8.2f} {:>8.2f}\n", "jhash", hash_only_ns<JHash>(false),
               hash_only_ns<JHash>(true));
    return ok ? 0 : 1;
}
