// SPDX-License-Identifier: Apache-2.0
//
// The burst fast path (sluice/burst.h) against the generic path
// (sl_parse -> sl_decide -> sl_rewrite_forward), frame by frame: what the
// fast path forwards, the generic path forwards to the same backend with the
// same bytes; what it drops, the generic path drops for the same reason; what
// it hands back (SL_BURST_SLOW) it has not touched. Crafted frames of every
// kind, random ones and mutated ones, in bursts that mix services.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "pktbuild.hpp"
#include "sluice/burst.h"
#include "sluice/decide.h"
#include "sluice/maglev.hpp"
#include "sluice/parse.h"
#include "sluice/rewrite.h"

using pktbuild::Builder;
using pktbuild::Bytes;

namespace {

struct TablesFree {
    void operator()(sl_tables *t) const { std::free(t); }
};
using Tables = std::unique_ptr<sl_tables, TablesFree>;

struct SvcSpec {
    const char *vip;
    uint16_t port; // 0: any port
    uint8_t proto;
    uint8_t hash_mode;
    uint8_t fwd_mode;
    bool active;
    uint32_t table_size; // 0: no table
    uint8_t backend_family;
    uint16_t gue_port; // host order; 0: the context's
    int holes;         // every holes-th slot: 0xFFFF (1) or an inactive backend (2); 0 none
};

constexpr uint16_t kBackendsPerService = 8;

// The services every test uses (ids 0..).
const std::vector<SvcSpec> kServices = {
    {"192.0.2.10", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, true, 251, SL_AF_INET, 0, 0},
    {"192.0.2.11", 53, SL_IPPROTO_UDP, SL_HASH_SRC_IP_PORT, SL_FWD_IPIP, true, 251, SL_AF_INET, 0,
     0},
    {"192.0.2.12", 443, SL_IPPROTO_TCP, SL_HASH_SRC_IP, SL_FWD_GUE, true, 251, SL_AF_INET, 0, 0},
    {"192.0.2.12", 443, SL_IPPROTO_UDP, SL_HASH_5TUPLE, SL_FWD_GUE, true, 257, SL_AF_INET, 7777, 0},
    {"192.0.2.13", 0, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_IPIP, true, 251, SL_AF_INET, 0, 0},
    {"192.0.2.14", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_IPIP, true, 251, SL_AF_INET6, 0, 0},
    {"192.0.2.15", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, false, 251, SL_AF_INET, 0, 0},
    {"192.0.2.16", 80, SL_IPPROTO_UDP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, true, 0, SL_AF_INET, 0, 0},
    {"192.0.2.17", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, true, 251, SL_AF_INET, 0, 1},
    {"192.0.2.18", 80, SL_IPPROTO_UDP, SL_HASH_SRC_IP, SL_FWD_IPIP, true, 251, SL_AF_INET, 0, 2},
    // IPv6 VIPs (ids 10..)
    {"2001:db8::10", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, true, 251, SL_AF_INET, 0,
     0},
    {"2001:db8::11", 53, SL_IPPROTO_UDP, SL_HASH_SRC_IP_PORT, SL_FWD_DSR_L2, true, 257, SL_AF_INET,
     0, 0},
    {"2001:db8::12", 0, SL_IPPROTO_TCP, SL_HASH_SRC_IP, SL_FWD_DSR_L2, true, 251, SL_AF_INET, 0, 2},
    {"2001:db8::13", 443, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_IPIP, true, 251, SL_AF_INET6, 0,
     0},
    {"2001:db8::14", 80, SL_IPPROTO_UDP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, true, 0, SL_AF_INET, 0, 0},
    {"2001:db8::15", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, false, 251, SL_AF_INET, 0,
     0},
    {"2001:db8::16", 80, SL_IPPROTO_UDP, SL_HASH_5TUPLE, SL_FWD_GUE, true, 251, SL_AF_INET, 0, 1},
    {"2001:db8::17", 80, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_DSR_L2, true, 251, SL_AF_INET, 0,
     1},
    {"2001:db8::18", 0, SL_IPPROTO_UDP, SL_HASH_SRC_IP_PORT, SL_FWD_IPIP, true, 257, SL_AF_INET, 0,
     0},
    {"2001:db8::19", 443, SL_IPPROTO_TCP, SL_HASH_5TUPLE, SL_FWD_GUE, true, 251, SL_AF_INET6, 5555,
     0},
};

bool is_v6(const SvcSpec &sp) {
    return std::strchr(sp.vip, ':') != nullptr;
}

Tables make_tables() {
    Tables t(static_cast<sl_tables *>(std::calloc(1, sizeof(sl_tables))));
    REQUIRE(t);
    t->seed = sl_hash_seed{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    uint32_t offset = 0;
    for (size_t sid = 0; sid < kServices.size(); sid++) {
        const SvcSpec &sp = kServices[sid];
        sl_service &s = t->services[sid];
        REQUIRE(inet_pton(is_v6(sp) ? AF_INET6 : AF_INET, sp.vip, s.vip) == 1);
        s.port = htons(sp.port);
        s.proto = sp.proto;
        s.family = is_v6(sp) ? SL_AF_INET6 : SL_AF_INET;
        s.hash_mode = sp.hash_mode;
        s.fwd_mode = sp.fwd_mode;
        s.flags = sp.active ? SL_SVC_ACTIVE : 0;
        s.gue_port = htons(sp.gue_port);
        s.n_backends = kBackendsPerService;
        const uint16_t base = static_cast<uint16_t>(sid * kBackendsPerService);
        for (uint16_t b = 0; b < kBackendsPerService; b++) {
            sl_backend &be = t->backends[base + b];
            be.family = sp.backend_family;
            be.flags = SL_BACKEND_ACTIVE;
            be.service_id = static_cast<uint16_t>(sid);
            if (sp.backend_family == SL_AF_INET) {
                const uint32_t a = htonl(0x0a000000u + (static_cast<uint32_t>(sid) << 8) + b + 1);
                std::memcpy(be.addr, &a, 4);
            } else {
                REQUIRE(inet_pton(AF_INET6, "2001:db8:1::1", be.addr) == 1);
                be.addr[15] = static_cast<uint8_t>(b + 1);
            }
            const uint8_t mac[6] = {
                0x02, 0xbe, 0, static_cast<uint8_t>(sid), 0, static_cast<uint8_t>(b)};
            std::memcpy(be.mac, mac, 6);
        }
        if (sp.holes == 2) {
            t->backends[base + kBackendsPerService - 1].flags = 0; // owns slots, inactive
        }
        // Odd services' tables packed, as sluice-control writes them
        // (region.h), in every entry width: their slots go to 8, 4, 2 or 1
        // of their backends (all 8 with holes).
        const bool packed = sid % 2 == 1;
        static constexpr uint16_t kUsed[4] = {8, 4, 2, 1};
        const uint16_t used = packed && sp.holes == 0 ? kUsed[(sid / 2) % 4] : kBackendsPerService;
        std::vector<uint16_t> table(sp.table_size);
        for (uint32_t i = 0; i < sp.table_size; i++) {
            table[i] = static_cast<uint16_t>(base + (i * 7 + sid) % used);
            if (sp.holes == 1 && i % 3 == 0) {
                table[i] = 0xFFFF;
            }
        }
        if (packed && sp.table_size != 0) {
            const sluice::maglev::ArenaTable at = sluice::maglev::pack_table(table);
            REQUIRE(at.entry_bits != 0);
            sluice::maglev::place_table(s, at, sp.table_size, offset);
            std::copy(at.words.begin(), at.words.end(), &t->arena[offset]);
            offset += static_cast<uint32_t>(at.words.size());
            REQUIRE(sluice::maglev::read_table(*t, s) == table);
        } else {
            s.table_offset = offset;
            s.table_size = sp.table_size;
            s.table_fastmod = sp.table_size ? sl_fastmod_magic(sp.table_size) : 0;
            std::copy(table.begin(), table.end(), &t->arena[offset]);
            offset += sp.table_size;
        }
        REQUIRE(sl_index_insert(t.get(), s.family, s.vip, s.port, s.proto,
                                sp.port == 0 ? SL_MATCH_ANY_PORT : SL_MATCH_PORT,
                                static_cast<uint16_t>(sid)) == 0);
    }
    t->n_services = static_cast<uint32_t>(kServices.size());
    t->n_backends = static_cast<uint32_t>(kServices.size() * kBackendsPerService);
    return t;
}

sl_encap_ctx make_ctx() {
    sl_encap_ctx ctx;
    sl_encap_ctx_defaults(&ctx);
    const uint8_t gw[6] = {0x02, 0x99, 0x88, 0x77, 0x66, 0x02};
    std::memcpy(ctx.box_mac, pktbuild::kMacB.b, 6); // Builder::eth()'s destination
    std::memcpy(ctx.gw_mac, gw, 6);
    inet_pton(AF_INET, "198.51.100.1", &ctx.box_ip4);
    inet_pton(AF_INET6, "2001:db8:ff::1", ctx.box_ip6);
    ctx.gue_dport = htons(6080);
    ctx.ttl = 61;
    return ctx;
}

// The generic path's outcome for one frame.
struct Generic {
    enum Kind { Forward, Drop, Other } kind;
    uint8_t drop = 0;
    uint16_t sid = SL_DECIDE_NONE;
    uint16_t bid = SL_DECIDE_NONE;
    uint32_t out_off = 0; // offset of the output frame in the buffer
    uint32_t out_len = 0;
};

constexpr uint32_t kRoom = 2048 + 128;

struct Buf {
    std::vector<uint8_t> bytes;
    uint32_t headroom;
    uint32_t len;
    uint8_t *frame() { return bytes.data() + headroom; }
};

Buf make_buf(const Bytes &f, uint32_t headroom) {
    Buf b{std::vector<uint8_t>(headroom + f.size() + 64, 0x5c), headroom,
          static_cast<uint32_t>(f.size())};
    std::copy(f.begin(), f.end(), b.bytes.begin() + headroom);
    return b;
}

Generic run_generic(const sl_tables *t, const sl_encap_ctx *ctx, Buf &b) {
    sl_pkt pkt;
    const sl_verdict v = sl_parse(b.frame(), b.len, &pkt);
    if (v != SL_VERDICT_FLOW && v != SL_VERDICT_ICMP_ERROR) {
        return {Generic::Other};
    }
    if (!sl_l2_for_us(b.frame(), ctx->box_mac, v)) {
        return {Generic::Other}; // the dataplane's not_for_us, after the parse
    }
    const sl_decision d = sl_decide(t, &pkt);
    if (d.drop != SL_DROP_NONE) {
        return {Generic::Drop, d.drop, d.service_id};
    }
    const sl_rw_result r =
        sl_rewrite_forward(b.frame(), b.len, b.headroom, &pkt, ctx, &t->services[d.service_id],
                           &t->backends[d.backend_id], d.hash);
    if (r.verdict != SL_RW_OK) {
        return {Generic::Other};
    }
    return {Generic::Forward,
            0,
            d.service_id,
            d.backend_id,
            static_cast<uint32_t>(r.frame - b.bytes.data()),
            r.len};
}

struct Tally {
    size_t forward = 0;
    size_t drop = 0;
    size_t slow = 0;
    size_t drop_reason[SL_DROP_COUNT] = {};
    size_t forward_mode[3] = {};
    size_t forward6 = 0;       // forwarded IPv6 frames
    size_t forward6_encap = 0; // of those, encapsulated
    size_t forward_to6 = 0;    // forwarded to an IPv6 backend, encapsulated
};

// Runs a burst of frames through both paths and checks every frame.
void check_burst(const sl_tables *t, const sl_encap_ctx *ctx, const std::vector<Bytes> &frames,
                 const std::vector<uint32_t> &headrooms, Tally &tally,
                 sl_burst_cache *cache = nullptr) {
    REQUIRE(frames.size() <= SL_BURST_MAX);
    std::vector<Buf> fast;
    std::vector<Buf> slow;
    sl_burst_pkt p[SL_BURST_MAX];
    for (size_t i = 0; i < frames.size(); i++) {
        fast.push_back(make_buf(frames[i], headrooms[i]));
        slow.push_back(make_buf(frames[i], headrooms[i]));
        p[i].frame = fast[i].frame();
        p[i].len = fast[i].len;
        p[i].headroom = fast[i].headroom;
    }
    sl_burst_forward_cached(t, ctx, cache, p, static_cast<unsigned>(frames.size()));
    for (size_t i = 0; i < frames.size(); i++) {
        INFO("frame " << i << " of " << frames.size() << ", " << frames[i].size()
                      << " bytes, headroom " << headrooms[i]);
        const Generic g = run_generic(t, ctx, slow[i]);
        CHECK(p[i].in_len == frames[i].size());
        switch (p[i].verdict) {
            case SL_BURST_FORWARD:
                tally.forward++;
                REQUIRE(g.kind == Generic::Forward);
                CHECK(p[i].service_id == g.sid);
                CHECK(p[i].backend_id == g.bid);
                CHECK(static_cast<uint32_t>(p[i].frame - fast[i].bytes.data()) == g.out_off);
                CHECK(p[i].len == g.out_len);
                CHECK(fast[i].bytes == slow[i].bytes);
                tally.forward_mode[t->services[p[i].service_id].fwd_mode]++;
                {
                    const bool v6 = frames[i][12] == 0x86 && frames[i][13] == 0xdd;
                    const bool encap = t->services[p[i].service_id].fwd_mode != SL_FWD_DSR_L2;
                    tally.forward6 += v6;
                    tally.forward6_encap += v6 && encap;
                    tally.forward_to6 +=
                        encap && t->backends[p[i].backend_id].family == SL_AF_INET6;
                }
                break;
            case SL_BURST_DROP:
                tally.drop++;
                REQUIRE(g.kind == Generic::Drop);
                CHECK(p[i].drop == g.drop);
                CHECK(p[i].service_id == g.sid);
                tally.drop_reason[p[i].drop]++;
                CHECK(fast[i].bytes == make_buf(frames[i], headrooms[i]).bytes);
                break;
            case SL_BURST_SLOW:
                tally.slow++;
                CHECK(p[i].frame == fast[i].frame());
                CHECK(p[i].len == frames[i].size());
                CHECK(fast[i].bytes == make_buf(frames[i], headrooms[i]).bytes);
                break;
            default:
                FAIL("unknown verdict " << int(p[i].verdict));
        }
    }
}

std::string ip4_text(uint32_t host) {
    const uint32_t n = htonl(host);
    char s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &n, s, sizeof(s));
    return s;
}

// A destination that is not the box's (kMacB): another host's, say a
// backend's (flooded to the box), broadcast, multicast, or the box's MAC
// but for one bit.
pktbuild::Mac other_mac(std::mt19937 &rng) {
    pktbuild::Mac m = pktbuild::kMacB;
    switch (rng() % 4) {
        case 0:
            m = pktbuild::Mac{{0x02, 0x00, 0x00, 0x00, 0x01, 0x01}};
            break;
        case 1:
            m = pktbuild::Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
            break;
        case 2:
            m = pktbuild::Mac{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
            break;
        default:
            m.b[rng() % 6] ^= static_cast<uint8_t>(1u << (1 + rng() % 7));
            break;
    }
    return m;
}

// The L4 header (TCP with options now and then), a payload of one of the
// test's sizes and, now and then, Ethernet padding to min_pad bytes or more.
Bytes random_l4(Builder &b, std::mt19937 &rng, uint8_t proto, uint16_t sport, uint16_t dport,
                size_t min_pad) {
    static const size_t sizes[] = {0,    1,    5,    6,    7,    18,   100,
                                   1400, 1432, 1440, 1452, 1460, 1472, 1480};
    if (proto == SL_IPPROTO_TCP) {
        pktbuild::TcpOpts to;
        if (rng() % 4 == 0) {
            to.options = Bytes(12, 1);
        }
        b.tcp(sport, dport, to);
    } else {
        b.udp(sport, dport);
    }
    b.payload(sizes[rng() % (sizeof(sizes) / sizeof(sizes[0]))]);
    if (rng() % 3 == 0) {
        b.pad_to(min_pad + rng() % 20); // Ethernet padding after the IP packet
    }
    return b.build();
}

// A well-formed frame to one of the services (or to no VIP), varied by rng.
Bytes random_frame(std::mt19937 &rng, bool plain_only = false) {
    const size_t which = rng() % (kServices.size() + 2);
    const bool v6 = which < kServices.size() ? is_v6(kServices[which]) : which > kServices.size();
    std::string dst =
        which < kServices.size() ? kServices[which].vip : (v6 ? "2001:db8::99" : "192.0.2.99");
    uint8_t proto = which < kServices.size() ? kServices[which].proto : SL_IPPROTO_TCP;
    if (rng() % 8 == 0) {
        proto = proto == SL_IPPROTO_TCP ? SL_IPPROTO_UDP : SL_IPPROTO_TCP; // a wrong protocol
    }
    uint16_t dport = which < kServices.size() && kServices[which].port != 0
                         ? kServices[which].port
                         : static_cast<uint16_t>(rng());
    if (rng() % 8 == 0) {
        dport = static_cast<uint16_t>(rng()); // a wrong port
    }
    const std::string src = ip4_text(0x64000000u + (rng() & 0xffffff));
    const uint16_t sport = static_cast<uint16_t>(rng());
    if (v6) {
        char src6[64];
        std::snprintf(src6, sizeof(src6), "2001:db8:100:%x::%x",
                      static_cast<unsigned>(rng() & 0xffff), static_cast<unsigned>(rng() & 0xffff));
        pktbuild::Ipv6Opts o6;
        o6.hop_limit = static_cast<uint8_t>(rng());
        o6.flow = rng() & 0xfffff;
        o6.tclass = static_cast<uint8_t>(rng());
        const int odd = plain_only ? 0 : static_cast<int>(rng() % 10);
        Builder b;
        if (odd == 4) {
            b.eth(pktbuild::kMacA, other_mac(rng));
        } else {
            b.eth();
        }
        if (odd == 3) {
            b.vlan(static_cast<uint16_t>(rng() & 0xfff));
        }
        b.ipv6(src6, dst.c_str(), o6);
        if (odd == 1) {
            b.ipv6_ext(0); // hop-by-hop
        } else if (odd == 2) {
            b.ipv6_frag(static_cast<uint16_t>(rng() % 2), rng() % 2 == 0);
        }
        return random_l4(b, rng, proto, sport, dport, 78);
    }
    pktbuild::Ipv4Opts o;
    o.tos = static_cast<uint8_t>(rng());
    o.id = static_cast<uint16_t>(rng());
    o.ttl = static_cast<uint8_t>(rng());
    o.frag_off = rng() % 2 ? 0x4000 : 0; // DF or not
    const int odd = plain_only ? 0 : static_cast<int>(rng() % 10);
    if (odd == 1) {
        o.options = {1, 1, 1, 0}; // NOPs
    } else if (odd == 2) {
        o.frag_off = static_cast<uint16_t>(0x2000 | (rng() % 4)); // MF, maybe an offset
    }
    Builder b;
    if (odd == 4) {
        b.eth(pktbuild::kMacA, other_mac(rng));
    } else {
        b.eth();
    }
    if (odd == 3) {
        b.vlan(static_cast<uint16_t>(rng() & 0xfff));
    }
    b.ipv4(src.c_str(), dst.c_str(), o);
    return random_l4(b, rng, proto, sport, dport, 60);
}

} // namespace

TEST_CASE("the 8-lane SipHash equals sl_flow_hash on IPv4 keys", "[burst]") {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 2000; round++) {
        const sl_hash_seed seed{rng(), rng()};
        uint64_t w0[SL_BURST_MAX];
        uint64_t w1[SL_BURST_MAX];
        uint64_t h[SL_BURST_MAX];
        sl_flow_key keys[SL_BURST_MAX];
        for (unsigned i = 0; i < SL_BURST_MAX; i++) {
            sl_flow_key &k = keys[i];
            k = sl_flow_key{};
            const uint32_t s = static_cast<uint32_t>(rng());
            const uint32_t d = static_cast<uint32_t>(rng());
            std::memcpy(k.src, &s, 4);
            std::memcpy(k.dst, &d, 4);
            k.sport = static_cast<uint16_t>(rng());
            k.dport = static_cast<uint16_t>(rng());
            k.proto = static_cast<uint8_t>(rng());
            k.family = SL_AF_INET;
            const auto mode = static_cast<uint8_t>(rng() % SL_HASH_MODE_COUNT);
            sl_flow_key applied = k;
            sl_key_apply_mode(&applied, static_cast<sl_hash_mode>(mode));
            uint64_t a;
            uint64_t b;
            std::memcpy(&a, &k.src, 4);
            std::memcpy(reinterpret_cast<uint8_t *>(&a) + 4, &k.dst, 4);
            std::memcpy(&b, &k.sport, 8);
            w0[i] = a & sl_burst_mask_w0(mode);
            w1[i] = b & sl_burst_mask_w1(mode);
            keys[i] = applied;
        }
        const unsigned n = 1 + static_cast<unsigned>(rng() % SL_BURST_MAX);
        sl_flow_hash4_burst(w0, w1, h, n, &seed);
        for (unsigned i = 0; i < n; i++) {
            REQUIRE(h[i] == sl_flow_hash(&keys[i], &seed));
        }
    }
}

TEST_CASE("the 8-lane SipHash equals sl_flow_hash on IPv6 keys", "[burst]") {
    std::mt19937_64 rng(11);
    for (int round = 0; round < 2000; round++) {
        const sl_hash_seed seed{rng(), rng()};
        sl_flow_key keys[8];
        sl_u64x8 m[5];
        for (unsigned i = 0; i < 8; i++) {
            sl_flow_key &k = keys[i];
            k = sl_flow_key{};
            for (auto &byte : k.src) {
                byte = static_cast<uint8_t>(rng());
            }
            for (auto &byte : k.dst) {
                byte = static_cast<uint8_t>(rng());
            }
            k.sport = static_cast<uint16_t>(rng());
            k.dport = static_cast<uint16_t>(rng());
            k.proto = static_cast<uint8_t>(rng());
            k.family = SL_AF_INET6;
            for (int w = 0; w < 5; w++) {
                uint64_t v;
                std::memcpy(&v, reinterpret_cast<const uint8_t *>(&k) + 8 * w, 8);
                m[w][i] = v;
            }
        }
        sl_u64x8 h;
        sl_flow_hash_x8(m, 5, &seed, &h);
        for (unsigned i = 0; i < 8; i++) {
            REQUIRE(h[i] == sl_flow_hash(&keys[i], &seed));
        }
    }
}

// The common case: three frames to every service of make_tables.
std::vector<Bytes> common_frames() {
    std::vector<Bytes> frames;
    for (size_t s = 0; s < kServices.size(); s++) {
        const SvcSpec &sp = kServices[s];
        const uint16_t dport = sp.port ? sp.port : 8080;
        for (int k = 0; k < 3; k++) {
            Builder b;
            if (is_v6(sp)) {
                const std::string src = "2001:db8:100::" + std::to_string(k + 1);
                b.eth().ipv6(src.c_str(), sp.vip);
            } else {
                b.eth().ipv4(ip4_text(0x64000001u + static_cast<uint32_t>(k)).c_str(), sp.vip);
            }
            if (sp.proto == SL_IPPROTO_TCP) {
                b.tcp(static_cast<uint16_t>(40000 + k), dport);
            } else {
                b.udp(static_cast<uint16_t>(40000 + k), dport);
            }
            frames.push_back(b.payload(static_cast<size_t>(k) * 10).pad_to(60).build());
        }
    }
    return frames;
}

TEST_CASE("burst path: crafted frames equal the generic path", "[burst]") {
    const Tables t = make_tables();
    const sl_encap_ctx ctx = make_ctx();
    Tally tally;
    // The common case, every service, both protocols.
    std::vector<Bytes> frames = common_frames();
    // What the fast path must hand back: IPv6 extension headers and
    // fragments, VLAN, options, fragments, ICMP errors and echo, ARP, a frame
    // that would exceed the MTU.
    frames.push_back(
        Builder().eth().ipv6("2001:db8::1", "2001:db8::10").ipv6_ext(0).tcp(1, 80).build());
    frames.push_back(
        Builder().eth().ipv6("2001:db8::1", "2001:db8::11").ipv6_frag(0, true).udp(1, 53).build());
    frames.push_back(
        Builder().eth().vlan(7).ipv6("2001:db8::1", "2001:db8::10").tcp(1, 80).build());
    frames.push_back(
        Builder().eth().vlan(7).ipv4("100.0.0.1", "192.0.2.10").tcp(1, 80).pad_to(64).build());
    {
        pktbuild::Ipv4Opts o;
        o.options = {1, 1, 1, 1};
        frames.push_back(Builder().eth().ipv4("100.0.0.1", "192.0.2.10", o).tcp(1, 80).build());
        pktbuild::Ipv4Opts f;
        f.frag_off = 0x2000;
        frames.push_back(
            Builder().eth().ipv4("100.0.0.1", "192.0.2.11", f).udp(1, 53).payload(16).build());
    }
    frames.push_back(Builder()
                         .eth()
                         .ipv4("100.0.0.9", "192.0.2.10")
                         .icmp(3, 4, 1400)
                         .payload(Builder().ipv4("192.0.2.10", "100.0.0.1").tcp(80, 1).build())
                         .build());
    frames.push_back(Builder().eth().ipv4("100.0.0.9", "192.0.2.10").icmp(8, 0).build());
    frames.push_back(Builder().eth().arp("100.0.0.9", "192.0.2.10").build());
    frames.push_back(
        Builder().eth().ipv4("100.0.0.1", "192.0.2.11").udp(1, 53).payload(1472).build());
    for (size_t at = 0; at < frames.size(); at += SL_BURST_MAX) {
        const size_t n = std::min<size_t>(SL_BURST_MAX, frames.size() - at);
        std::vector<Bytes> burst(frames.begin() + static_cast<std::ptrdiff_t>(at),
                                 frames.begin() + static_cast<std::ptrdiff_t>(at + n));
        check_burst(t.get(), &ctx, burst, std::vector<uint32_t>(n, 128), tally);
    }
    CHECK(tally.forward_mode[SL_FWD_DSR_L2] > 0);
    CHECK(tally.forward_mode[SL_FWD_IPIP] > 0);
    CHECK(tally.forward_mode[SL_FWD_GUE] > 0);
    CHECK(tally.drop_reason[SL_DROP_NOT_VIP] > 0);
    CHECK(tally.drop_reason[SL_DROP_NO_BACKEND] > 0);
    CHECK(tally.slow == 10); // the frames after the common case, and only they
    // services 10, 11, 13, 18 and 19: every frame (the others have holes)
    CHECK(tally.forward6 >= 15);
    CHECK(tally.forward6_encap >= 9); // 13: IPv6 in IPv6; 18: in IPv4; 19: GUE over IPv6
    CHECK(tally.forward_to6 >= 9);    // 5 (IPv4 in IPv6), 13 and 19
}

TEST_CASE("burst path: no address of a backend's family, no encapsulation to it", "[burst]") {
    const Tables t = make_tables();
    for (int family : {SL_AF_INET, SL_AF_INET6}) {
        INFO("the box without an IPv" << (family == SL_AF_INET ? 4 : 6) << " address");
        sl_encap_ctx ctx = make_ctx();
        if (family == SL_AF_INET) {
            ctx.box_ip4 = 0;
        } else {
            std::memset(ctx.box_ip6, 0, sizeof(ctx.box_ip6));
        }
        Tally tally;
        const std::vector<Bytes> frames = common_frames();
        size_t to_family = 0; // frames the generic path refuses: encapsulated to `family`
        for (size_t at = 0; at < frames.size(); at += SL_BURST_MAX) {
            const size_t n = std::min<size_t>(SL_BURST_MAX, frames.size() - at);
            std::vector<Bytes> burst(frames.begin() + static_cast<std::ptrdiff_t>(at),
                                     frames.begin() + static_cast<std::ptrdiff_t>(at + n));
            check_burst(t.get(), &ctx, burst, std::vector<uint32_t>(n, 128), tally);
            for (const Bytes &f : burst) {
                Buf g = make_buf(f, 128);
                sl_pkt pkt;
                if (sl_parse(g.frame(), g.len, &pkt) != SL_VERDICT_FLOW) {
                    continue;
                }
                const sl_decision d = sl_decide(t.get(), &pkt);
                if (d.drop != SL_DROP_NONE) {
                    continue;
                }
                const sl_service &svc = t->services[d.service_id];
                const sl_backend &be = t->backends[d.backend_id];
                const sl_rw_result r =
                    sl_rewrite_forward(g.frame(), g.len, g.headroom, &pkt, &ctx, &svc, &be, d.hash);
                const bool refused = svc.fwd_mode != SL_FWD_DSR_L2 && be.family == family;
                CHECK(r.verdict == (refused ? SL_RW_NO_SOURCE : SL_RW_OK));
                to_family += refused;
            }
        }
        // Handed back (the worker's generic path then drops them as
        // encap_failed), never forwarded; the rest forwarded as ever.
        CHECK(to_family > 0);
        CHECK(tally.slow == to_family);
        CHECK(tally.forward_mode[SL_FWD_DSR_L2] > 0);
        CHECK(tally.forward_mode[SL_FWD_IPIP] + tally.forward_mode[SL_FWD_GUE] > 0);
    }
}

// A neighbour solicitation for 2001:db8::10 (a VIP of make_tables) to dst.
Bytes ns_frame(pktbuild::Mac dst) {
    pktbuild::Ipv6Opts o;
    o.hop_limit = 255;
    Bytes target(16, 0);
    inet_pton(AF_INET6, "2001:db8::10", target.data());
    return Builder()
        .eth(pktbuild::kMacA, dst)
        .ipv6("2001:db8::1", "ff02::1:ff00:10", o)
        .icmp6(135, 0)
        .payload(target)
        .build();
}

TEST_CASE("frames to another MAC are never forwarded: only ARP and ND take group addresses",
          "[burst]") {
    const Tables t = make_tables();
    const sl_encap_ctx ctx = make_ctx();
    const pktbuild::Mac backend{{0x02, 0x00, 0x00, 0x00, 0x01, 0x01}};
    const pktbuild::Mac bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    const pktbuild::Mac mcast{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
    const pktbuild::Mac sol6{{0x33, 0x33, 0xff, 0x00, 0x00, 0x10}};
    struct Case {
        Bytes frame;
        bool for_us;
    };
    auto tcp_to = [](const pktbuild::Mac &dst) { // to the dsr-l2 VIP 192.0.2.10:80
        return Builder()
            .eth(pktbuild::kMacA, dst)
            .ipv4("100.0.0.1", "192.0.2.10")
            .tcp(1, 80)
            .pad_to(60)
            .build();
    };
    const std::vector<Case> cases = {
        // VIP traffic seen again on its way to a backend (flooded), or sent
        // to a group address: a dsr-l2 TCP and an ipip UDP service
        {tcp_to(backend), false},
        {tcp_to(bcast), false},
        {Builder()
             .eth(pktbuild::kMacA, mcast)
             .ipv4("100.0.0.1", "192.0.2.11")
             .udp(1, 53)
             .pad_to(60)
             .build(),
         false},
        {Builder()
             .eth(pktbuild::kMacA, backend)
             .ipv6("2001:db8::1", "2001:db8::10")
             .tcp(1, 80)
             .build(),
         false},
        {Builder().eth(pktbuild::kMacA, bcast).ipv4("100.0.0.9", "192.0.2.10").icmp(8, 0).build(),
         false},
        {Builder().eth(pktbuild::kMacA, backend).arp("100.0.0.9", "192.0.2.10").build(), false},
        // what every host on the link is asked
        {Builder().eth(pktbuild::kMacA, bcast).arp("100.0.0.9", "192.0.2.10").build(), true},
        {ns_frame(sol6), true},
        // to the box
        {tcp_to(pktbuild::kMacB), true},
    };
    std::vector<Bytes> frames;
    for (const Case &c : cases) {
        sl_pkt pkt;
        const sl_verdict v = sl_parse(c.frame.data(), static_cast<uint32_t>(c.frame.size()), &pkt);
        INFO("case " << frames.size() << ", verdict " << v);
        REQUIRE(v != SL_VERDICT_DROP);
        CHECK(sl_l2_for_us(c.frame.data(), ctx.box_mac, v) == static_cast<int>(c.for_us));
        frames.push_back(c.frame);
    }
    Tally tally;
    check_burst(t.get(), &ctx, frames, std::vector<uint32_t>(frames.size(), 128), tally);
    CHECK(tally.forward == 1); // the last one
    CHECK(tally.slow == frames.size() - 1);
}

TEST_CASE("burst path: the common case never takes the generic path", "[burst]") {
    const Tables t = make_tables();
    const sl_encap_ctx ctx = make_ctx();
    Tally tally;
    // Plain IPv4 and IPv6 TCP/UDP to every service without holes, with room
    // to spare: dsr-l2, and ipip / gue to IPv4 and IPv6 backends.
    const std::vector<size_t> common = {0, 1, 2, 3, 4, 5, 10, 11, 13, 18, 19};
    for (size_t s : common) {
        const SvcSpec &sp = kServices[s];
        std::vector<Bytes> burst;
        for (unsigned k = 0; k < SL_BURST_MAX; k++) {
            Builder b;
            if (is_v6(sp)) {
                char src[48];
                std::snprintf(src, sizeof(src), "2001:db8:100::%x", k * 977 + 1);
                pktbuild::Ipv6Opts o6;
                o6.tclass = static_cast<uint8_t>(k * 37); // the outer IPv4 TOS
                o6.flow = k * 7919;
                b.eth().ipv6(src, sp.vip, o6);
            } else {
                b.eth().ipv4(ip4_text(0x64000000u + k * 977).c_str(), sp.vip);
            }
            const uint16_t dport = sp.port ? sp.port : static_cast<uint16_t>(1000 + k);
            if (sp.proto == SL_IPPROTO_TCP) {
                b.tcp(static_cast<uint16_t>(1024 + k), dport);
            } else {
                b.udp(static_cast<uint16_t>(1024 + k), dport);
            }
            burst.push_back(b.payload(k * 40).pad_to(60).build());
        }
        check_burst(t.get(), &ctx, burst, std::vector<uint32_t>(SL_BURST_MAX, 128), tally);
    }
    CHECK(tally.slow == 0);
    CHECK(tally.drop == 0);
    CHECK(tally.forward == common.size() * SL_BURST_MAX);
    CHECK(tally.forward6_encap == 3 * SL_BURST_MAX);
    CHECK(tally.forward_to6 == 3 * SL_BURST_MAX);
}

TEST_CASE("burst path: random, mutated and truncated frames equal the generic path", "[burst]") {
    const Tables t = make_tables();
    const sl_encap_ctx ctx = make_ctx();
    sl_encap_ctx small_mtu = ctx;
    small_mtu.mtu = 1400;
    std::mt19937 rng(12345);
    Tally tally;
    static const uint32_t headrooms[] = {0, 8, 19, 20, 31, 32, 64, 128};
    sl_burst_cache cache;
    sl_burst_cache_init(&cache);
    for (int round = 0; round < 3000; round++) {
        const unsigned n = 1 + rng() % SL_BURST_MAX;
        std::vector<Bytes> burst;
        std::vector<uint32_t> room;
        for (unsigned i = 0; i < n; i++) {
            Bytes f = random_frame(rng);
            const unsigned how = rng() % 8;
            if (how == 0) {
                // flip bytes in the headers
                for (int k = 0; k < 3; k++) {
                    f[rng() % std::min<size_t>(f.size(), 64)] ^=
                        static_cast<uint8_t>(1u << (rng() % 8));
                }
            } else if (how == 1) {
                f.resize(rng() % (f.size() + 1)); // truncated anywhere
            } else if (how == 2) {
                f[16 + rng() % 4] = static_cast<uint8_t>(rng()); // total length
            } else if (how == 3 && f.size() > 46) {
                f[46] = static_cast<uint8_t>(rng());             // TCP data offset / payload
                f[38 + rng() % 2] = static_cast<uint8_t>(rng()); // UDP length
            } else if (how == 4 && f.size() > 66) {
                f[66] = static_cast<uint8_t>(rng());             // IPv6: TCP data offset
                f[58 + rng() % 2] = static_cast<uint8_t>(rng()); // IPv6: UDP length
                f[18 + rng() % 2] = static_cast<uint8_t>(rng()); // IPv6: payload length
            }
            burst.push_back(std::move(f));
            room.push_back(headrooms[rng() % (sizeof(headrooms) / sizeof(headrooms[0]))]);
        }
        // every other burst with the lookup cache a worker keeps across bursts
        check_burst(t.get(), round % 4 == 0 ? &small_mtu : &ctx, burst, room, tally,
                    round % 2 ? &cache : nullptr);
    }
    INFO("forward " << tally.forward << " (IPv6 " << tally.forward6 << ", of those encapsulated "
                    << tally.forward6_encap << "; to IPv6 backends " << tally.forward_to6
                    << "), drop " << tally.drop << ", slow " << tally.slow);
    CHECK(tally.forward > 3000);
    CHECK(tally.forward6 > 1000);
    CHECK(tally.forward6_encap > 300);
    CHECK(tally.forward_to6 > 150);
    CHECK(tally.drop_reason[SL_DROP_NOT_VIP] > 1000);
    CHECK(tally.drop_reason[SL_DROP_NO_BACKEND] > 100);
    CHECK(tally.slow > 1000);
}

TEST_CASE("burst path: byte strings of every length and content", "[burst]") {
    const Tables t = make_tables();
    const sl_encap_ctx ctx = make_ctx();
    std::mt19937 rng(99);
    Tally tally;
    for (int round = 0; round < 2000; round++) {
        std::vector<Bytes> burst;
        for (unsigned i = 0; i < SL_BURST_MAX; i++) {
            Bytes f(rng() % 80);
            for (auto &c : f) {
                c = static_cast<uint8_t>(rng());
            }
            if (f.size() >= 24 && rng() % 2) {
                f[12] = 0x08; // IPv4, version/IHL right: deeper checks get exercised
                f[13] = 0x00;
                f[14] = 0x45;
                f[20] &= 0x40;
                f[21] = 0;
                f[23] = rng() % 2 ? SL_IPPROTO_TCP : SL_IPPROTO_UDP;
            }
            burst.push_back(std::move(f));
        }
        check_burst(t.get(), &ctx, burst, std::vector<uint32_t>(SL_BURST_MAX, 64), tally);
    }
    CHECK(tally.slow > 0);
}

TEST_CASE("burst path: the lookup cache follows the tables it was filled from", "[burst]") {
    Tables t = make_tables();
    t->generation = 1;
    Tables other = make_tables();
    other->generation = 1;
    other->services[0].flags = 0;  // service 0 inactive in the other copy
    other->services[10].flags = 0; // and IPv6 service 10
    const sl_encap_ctx ctx = make_ctx();
    sl_burst_cache cache;
    sl_burst_cache_init(&cache);
    std::mt19937 rng(5);
    Tally tally;
    auto bursts = [&](const sl_tables *tables) {
        for (int round = 0; round < 50; round++) {
            std::vector<Bytes> burst;
            for (unsigned i = 0; i < SL_BURST_MAX; i++) {
                burst.push_back(random_frame(rng, true));
            }
            check_burst(tables, &ctx, burst, std::vector<uint32_t>(SL_BURST_MAX, 128), tally,
                        &cache);
        }
    };
    bursts(t.get());
    bursts(other.get()); // another copy, same generation number
    CHECK(cache.tables == other.get());
    bursts(t.get());
    // the same copy, republished: a new generation
    t->services[1].flags = 0;
    t->services[11].flags = 0;
    t->generation = 2;
    bursts(t.get());
    CHECK(cache.generation == 2);
    t->services[1].flags = SL_SVC_ACTIVE;
    t->services[11].flags = SL_SVC_ACTIVE;
    t->generation = 3;
    bursts(t.get());
    CHECK(tally.drop_reason[SL_DROP_NOT_VIP] > 0);
    CHECK(tally.forward > 0);
    CHECK(tally.forward6 > 0);
}
