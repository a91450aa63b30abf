// Field-level tests of the rewriters, the encapsulation, the ICMP "too big"
// builders and the ARP / ND / echo responders (sluice/rewrite.h). Every
// checksum is recomputed here with a plain RFC 1071 loop over big-endian
// words, independent of the header's helpers.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "sluice/parse.h"
#include "sluice/rewrite.h"

namespace {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;
using Ip6 = std::array<uint8_t, 16>;

const Mac kClientMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}; // the router in front
const Mac kBoxMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0xb0};
const Mac kGwMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
const Mac kBackendMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0xbe};
const uint32_t kClient4 = 0xc6336401; // 198.51.100.1
const uint32_t kVip4 = 0xcb007105;    // 203.0.113.5
const uint32_t kBox4 = 0x0a000001;    // 10.0.0.1
const uint32_t kBackend4 = 0x0a000102;
const Ip6 kClient6 = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const Ip6 kVip6 = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
const Ip6 kBox6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0xa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const Ip6 kBackend6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0xb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
const uint16_t kGuePort = 6080;
const uint64_t kHash = 0x0123456789abcdefULL;

// ---- an independent checksum: big-endian 16-bit words, folded ----
uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if (n % 2) {
        s += static_cast<uint32_t>(p[n - 1] << 8);
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return s;
}
uint32_t ref_sum(const Bytes &b, uint32_t s = 0) {
    return ref_sum(b.data(), b.size(), s);
}
uint16_t ref_csum(const uint8_t *p, size_t n, uint32_t s = 0) {
    return static_cast<uint16_t>(~ref_sum(p, n, s) & 0xffff);
}
uint32_t pseudo4(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
    uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto;
    return s + static_cast<uint32_t>(len);
}
uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t nh, size_t len) {
    uint32_t s = ref_sum(src, 16) + ref_sum(dst, 16);
    return s + static_cast<uint32_t>(len >> 16) + static_cast<uint32_t>(len & 0xffff) + nh;
}

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t rd32(const uint8_t *p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void put16(Bytes &b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes &b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
void set16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void append(Bytes &a, const Bytes &b) {
    a.insert(a.end(), b.begin(), b.end());
}
Bytes payload(size_t n, uint8_t seed = 1) {
    Bytes p(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = static_cast<uint8_t>(seed + i * 7);
    }
    return p;
}

// ---- packet builders ----
Bytes eth(const Mac &dst, const Mac &src, const std::vector<uint16_t> &vlans, uint16_t type) {
    Bytes b(dst.begin(), dst.end());
    b.insert(b.end(), src.begin(), src.end());
    for (size_t i = 0; i < vlans.size(); i++) {
        put16(b, i == 0 && vlans.size() == 2 ? SL_ETH_P_8021AD : SL_ETH_P_8021Q);
        put16(b, vlans[i]);
    }
    put16(b, type);
    return b;
}

struct V4 {
    uint32_t src = kClient4;
    uint32_t dst = kVip4;
    uint8_t proto = SL_IPPROTO_TCP;
    bool df = true;
    uint16_t frag = 0; // offset | MF
    uint8_t tos = 0x2a;
    uint16_t id = 0x1234;
    uint8_t ttl = 57;
    Bytes options;
};
Bytes ipv4(const V4 &v, const Bytes &l4) {
    Bytes h;
    const size_t hl = 20 + v.options.size();
    h.push_back(static_cast<uint8_t>(0x40 | hl / 4));
    h.push_back(v.tos);
    put16(h, static_cast<uint16_t>(hl + l4.size()));
    put16(h, v.id);
    put16(h, static_cast<uint16_t>((v.df ? SL_IPV4_DF : 0) | v.frag));
    h.push_back(v.ttl);
    h.push_back(v.proto);
    put16(h, 0);
    put32(h, v.src);
    put32(h, v.dst);
    append(h, v.options);
    set16(h.data() + 10, ref_csum(h.data(), h.size()));
    append(h, l4);
    return h;
}

struct V6 {
    Ip6 src = kClient6;
    Ip6 dst = kVip6;
    uint8_t nh = SL_IPPROTO_TCP; // of the first header after IPv6
    uint8_t tc = 0x2a;
    uint32_t flow = 0x12345;
    uint8_t hop = 57;
};
Bytes ipv6(const V6 &v, const Bytes &rest) {
    Bytes h;
    put32(h, 6u << 28 | static_cast<uint32_t>(v.tc) << 20 | v.flow);
    put16(h, static_cast<uint16_t>(rest.size()));
    h.push_back(v.nh);
    h.push_back(v.hop);
    h.insert(h.end(), v.src.begin(), v.src.end());
    h.insert(h.end(), v.dst.begin(), v.dst.end());
    append(h, rest);
    return h;
}

// L4 segments with their checksum filled in for the given pseudo-header sum.
Bytes tcp(uint16_t sp, uint16_t dp, const Bytes &data) {
    Bytes t;
    put16(t, sp);
    put16(t, dp);
    put32(t, 1000);
    put32(t, 2000);
    t.push_back(0x50);
    t.push_back(0x18);
    put16(t, 512);
    put16(t, 0);
    put16(t, 0);
    append(t, data);
    return t;
}
Bytes udp(uint16_t sp, uint16_t dp, const Bytes &data) {
    Bytes u;
    put16(u, sp);
    put16(u, dp);
    put16(u, static_cast<uint16_t>(8 + data.size()));
    put16(u, 0);
    append(u, data);
    return u;
}
Bytes icmp(uint8_t type, uint8_t code, uint32_t rest, const Bytes &data) {
    Bytes c{type, code, 0, 0};
    put32(c, rest);
    append(c, data);
    return c;
}
size_t csum_off(uint8_t proto) {
    return proto == SL_IPPROTO_TCP ? 16 : proto == SL_IPPROTO_UDP ? 6 : 2;
}
Bytes seal4(const V4 &v, Bytes l4) {
    const uint32_t ps = v.proto == SL_IPPROTO_ICMP ? 0 : pseudo4(v.src, v.dst, v.proto, l4.size());
    set16(l4.data() + csum_off(v.proto), ref_csum(l4.data(), l4.size(), ps));
    return ipv4(v, l4);
}
Bytes seal6(const V6 &v, uint8_t proto, Bytes l4, const Bytes &ext = {}) {
    set16(l4.data() + csum_off(proto),
          ref_csum(l4.data(), l4.size(), pseudo6(v.src.data(), v.dst.data(), proto, l4.size())));
    Bytes rest = ext;
    append(rest, l4);
    return ipv6(v, rest);
}

Bytes frame_of(const std::vector<uint16_t> &vlans, uint16_t type, const Bytes &l3,
               size_t pad_to = 0) {
    Bytes f = eth(kBoxMac, kClientMac, vlans, type);
    append(f, l3);
    if (f.size() < pad_to) {
        f.resize(pad_to, 0);
    }
    return f;
}

uint16_t be16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// A struct sl_pkt for frames sl_parse() rightly refuses, so that the
// rewriters' own checks can be tested on them: offsets, lengths, ethertype,
// L4 protocol, fragment state, ICMP type/code and the 5-tuple, trusting the
// frame. Returns false when it is not Ethernet [+ up to 2 tags] + IPv4 /
// IPv6 / ARP with all headers present.
bool fill_pkt(const uint8_t *f, size_t len, sl_pkt *pkt) {
    std::memset(pkt, 0, sizeof(*pkt));
    size_t off = 12;
    if (len < 14) {
        return false;
    }
    uint16_t et = be16(f + off);
    while ((et == SL_ETH_P_8021Q || et == SL_ETH_P_8021AD) && pkt->n_vlans < SL_MAX_VLAN_TAGS) {
        if (len < off + 6) {
            return false;
        }
        pkt->vlan_tci[pkt->n_vlans++] = be16(f + off + 2);
        off += 4;
        et = be16(f + off);
    }
    off += 2;
    pkt->l3_off = static_cast<uint16_t>(off);
    pkt->ethertype = et;
    if (et == SL_ETH_P_ARP) {
        return len >= off + sizeof(sl_arp_hdr);
    }
    uint8_t proto = 0;
    size_t l4 = 0;
    if (et == SL_ETH_P_IPV4) {
        if (len < off + 20) {
            return false;
        }
        const size_t ihl = static_cast<size_t>(f[off] & 0x0f) * 4;
        pkt->l3_len = be16(f + off + 2);
        proto = f[off + 9];
        const uint16_t frag = be16(f + off + 6);
        if (frag & SL_IPV4_OFFMASK) {
            pkt->frag = SL_FRAG_LATER;
        } else if (frag & SL_IPV4_MF) {
            pkt->frag = SL_FRAG_FIRST;
        }
        pkt->key.family = SL_AF_INET;
        std::memcpy(pkt->key.src, f + off + 12, 4);
        std::memcpy(pkt->key.dst, f + off + 16, 4);
        l4 = pkt->frag == SL_FRAG_LATER ? 0 : off + ihl;
    } else if (et == SL_ETH_P_IPV6) {
        if (len < off + 40) {
            return false;
        }
        pkt->l3_len = static_cast<uint16_t>(40 + be16(f + off + 4));
        proto = f[off + 6];
        pkt->key.family = SL_AF_INET6;
        std::memcpy(pkt->key.src, f + off + 8, 16);
        std::memcpy(pkt->key.dst, f + off + 24, 16);
        size_t p = off + 40;
        for (int i = 0; i < SL_MAX_IPV6_EXT; i++) {
            if (proto == SL_IPPROTO_HOPOPTS || proto == SL_IPPROTO_ROUTING ||
                proto == SL_IPPROTO_DSTOPTS) {
                proto = f[p];
                p += (static_cast<size_t>(f[p + 1]) + 1) * 8;
            } else if (proto == SL_IPPROTO_FRAGMENT) {
                const uint16_t fo = be16(f + p + 2);
                pkt->frag = (fo & SL_IPV6_FRAG_OFFMASK) ? SL_FRAG_LATER : SL_FRAG_FIRST;
                proto = f[p];
                p += 8;
            } else {
                break;
            }
        }
        l4 = pkt->frag == SL_FRAG_LATER ? 0 : p;
    } else {
        return false;
    }
    if (len < off + pkt->l3_len) {
        return false;
    }
    pkt->l4_proto = proto;
    pkt->key.proto = proto;
    pkt->l4_off = static_cast<uint16_t>(l4);
    if (l4 != 0 && (proto == SL_IPPROTO_TCP || proto == SL_IPPROTO_UDP)) {
        std::memcpy(&pkt->key.sport, f + l4, 2);
        std::memcpy(&pkt->key.dport, f + l4 + 2, 2);
    }
    if (l4 != 0 && (proto == SL_IPPROTO_ICMP || proto == SL_IPPROTO_ICMPV6)) {
        pkt->icmp_type = f[l4];
        pkt->icmp_code = f[l4 + 1];
    }
    return true;
}

// How a test frame gets its struct sl_pkt.
enum class Parse {
    Parser,  // sl_parse(), which must accept the frame
    Refused, // sl_parse() must refuse it; the rewriter's own checks are tested
             // on fill_pkt()'s description
};

// A frame in a buffer with headroom and tailroom, as an mbuf holds it.
struct Buf {
    static constexpr size_t kHead = 128;
    static constexpr size_t kTail = 128;
    Bytes mem;
    size_t len;
    sl_pkt pkt{};
    explicit Buf(const Bytes &frame, Parse how = Parse::Parser)
        : mem(kHead + frame.size() + kTail, 0xee), len(frame.size()) {
        std::memcpy(mem.data() + kHead, frame.data(), frame.size());
        const sl_verdict v = sl_parse(data(), static_cast<uint32_t>(len), &pkt);
        INFO("parser drop reason " << sl_drop_name(pkt.drop));
        if (how == Parse::Parser) {
            REQUIRE(v != SL_VERDICT_DROP);
        } else {
            REQUIRE(v == SL_VERDICT_DROP);
            REQUIRE(fill_pkt(data(), len, &pkt));
        }
    }
    uint8_t *data() { return mem.data() + kHead; }
    uint32_t len32() const { return static_cast<uint32_t>(len); }
};

sl_encap_ctx make_ctx() {
    sl_encap_ctx ctx;
    sl_encap_ctx_defaults(&ctx);
    std::memcpy(ctx.box_mac, kBoxMac.data(), 6);
    std::memcpy(ctx.gw_mac, kGwMac.data(), 6);
    ctx.box_ip4 = sl_htonl(kBox4);
    std::memcpy(ctx.box_ip6, kBox6.data(), 16);
    ctx.gue_dport = sl_htons(kGuePort);
    return ctx;
}

sl_backend backend(uint8_t family) {
    sl_backend be{};
    be.family = family;
    if (family == SL_AF_INET) {
        const uint32_t a = sl_htonl(kBackend4);
        std::memcpy(be.addr, &a, 4);
    } else {
        std::memcpy(be.addr, kBackend6.data(), 16);
    }
    std::memcpy(be.mac, kBackendMac.data(), 6);
    return be;
}

Bytes tcp4_frame(const V4 &v, size_t data_len, const std::vector<uint16_t> &vlans = {},
                 size_t pad_to = 0) {
    V4 t = v;
    t.proto = SL_IPPROTO_TCP;
    return frame_of(vlans, SL_ETH_P_IPV4, seal4(t, tcp(40000, 443, payload(data_len))), pad_to);
}
Bytes udp6_frame(const V6 &v, size_t data_len, const std::vector<uint16_t> &vlans = {}) {
    V6 t = v;
    t.nh = SL_IPPROTO_UDP;
    return frame_of(vlans, SL_ETH_P_IPV6,
                    seal6(t, SL_IPPROTO_UDP, udp(40000, 53, payload(data_len))));
}

Mac mac_at(const uint8_t *p) {
    Mac m;
    std::memcpy(m.data(), p, 6);
    return m;
}

// Checks the outer Ethernet + IPv4/IPv6 header of an encapsulated frame and
// returns the offset of what follows the outer IP header.
size_t check_outer(const uint8_t *f, size_t l2, uint8_t family, uint8_t next, size_t outer_len,
                   uint8_t tos, bool df) {
    CHECK(mac_at(f) == kGwMac);
    CHECK(mac_at(f + 6) == kBoxMac);
    const uint8_t *ip = f + l2;
    if (family == SL_AF_INET) {
        CHECK(rd16(f + l2 - 2) == SL_ETH_P_IPV4);
        CHECK(ip[0] == 0x45);
        CHECK(ip[1] == tos);
        CHECK(rd16(ip + 2) == outer_len);
        CHECK(((rd16(ip + 6) & SL_IPV4_DF) != 0) == df);
        CHECK((rd16(ip + 6) & (SL_IPV4_MF | SL_IPV4_OFFMASK)) == 0);
        CHECK(ip[8] == 64);
        CHECK(ip[9] == next);
        CHECK(ref_sum(ip, 20) == 0xffff);
        CHECK(rd32(ip + 12) == kBox4);
        CHECK(rd32(ip + 16) == kBackend4);
        return l2 + 20;
    }
    CHECK(rd16(f + l2 - 2) == SL_ETH_P_IPV6);
    CHECK(rd32(ip) >> 28 == 6);
    CHECK(((rd32(ip) >> 20) & 0xff) == tos);
    CHECK((rd32(ip) & 0xfffff) == sl_encap_flow_label(kHash));
    CHECK((rd32(ip) & 0xfffff) != 0);
    CHECK(rd16(ip + 4) == outer_len - 40);
    CHECK(ip[6] == next);
    CHECK(ip[7] == 64);
    CHECK(std::memcmp(ip + 8, kBox6.data(), 16) == 0);
    CHECK(std::memcmp(ip + 24, kBackend6.data(), 16) == 0);
    return l2 + 40;
}

} // namespace

TEST_CASE("checksum helpers agree with a plain RFC 1071 sum", "[rewrite][csum]") {
    // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    const uint8_t ex[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    uint16_t c = sl_csum_fold(sl_csum_partial(ex, sizeof(ex), 0));
    uint8_t cb[2];
    std::memcpy(cb, &c, 2);
    CHECK(rd16(cb) == static_cast<uint16_t>(~0xddf2));

    std::mt19937 rng(7);
    Bytes mem(300);
    for (auto &x : mem) {
        x = static_cast<uint8_t>(rng());
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n < 200; n += 1 + n / 17) {
            uint16_t got =
                sl_csum_fold(sl_csum_partial(mem.data() + off, static_cast<uint32_t>(n), 0));
            std::memcpy(cb, &got, 2);
            INFO("off " << off << " len " << n);
            CHECK(rd16(cb) == ref_csum(mem.data() + off, n));
        }
    }
    // Chained partial sums (even-length pieces, then an odd tail).
    uint32_t s = sl_csum_partial(mem.data(), 64, 0);
    s = sl_csum_partial(mem.data() + 64, 30, s);
    s = sl_csum_partial(mem.data() + 94, 7, s);
    uint16_t got = sl_csum_fold(s);
    std::memcpy(cb, &got, 2);
    CHECK(rd16(cb) == ref_csum(mem.data(), 101));

    // All ones: sum of 0xffff words stays 0xffff; checksum 0.
    const uint8_t ones[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(sl_csum_fold(sl_csum_partial(ones, 6, 0)) == 0);

    // A tail of 1-7 bytes whose words carry out of the 64-bit sum: 8 bytes
    // of 0xff sum to 2^64 - 1 (the tail of a 548-byte frag-needed quote).
    for (size_t tail = 1; tail < 8; tail++) {
        Bytes m(8, 0xff);
        m.resize(8 + tail, 0x01);
        const uint16_t t =
            sl_csum_fold(sl_csum_partial(m.data(), static_cast<uint32_t>(m.size()), 0));
        std::memcpy(cb, &t, 2);
        INFO("tail " << tail);
        CHECK(rd16(cb) == ref_csum(m.data(), m.size()));
    }
}

TEST_CASE("incremental checksum update equals recomputation (RFC 1624)", "[rewrite][csum]") {
    std::mt19937 rng(11);
    for (int i = 0; i < 2000; i++) {
        Bytes b(20);
        for (auto &x : b) {
            x = static_cast<uint8_t>(rng());
        }
        b[10] = b[11] = 0;
        uint16_t check = sl_csum_fold(sl_csum_partial(b.data(), 20, 0));
        // change one 16-bit word and one 32-bit word
        uint16_t old16;
        std::memcpy(&old16, b.data() + 8, 2);
        uint16_t new16 = static_cast<uint16_t>(rng());
        if (i == 0) {
            new16 = 0xffff; // the edge that needs eqn. 3
        }
        std::memcpy(b.data() + 8, &new16, 2);
        check = sl_csum_update16(check, old16, new16);
        uint32_t old32;
        std::memcpy(&old32, b.data() + 12, 4);
        uint32_t new32 = static_cast<uint32_t>(rng());
        std::memcpy(b.data() + 12, &new32, 4);
        check = sl_csum_update32(check, old32, new32);
        b[10] = b[11] = 0;
        const uint16_t full = sl_csum_fold(sl_csum_partial(b.data(), 20, 0));
        // 0x0000 and 0xffff are the same ones' complement number; both verify.
        if (full != check) {
            CHECK(static_cast<uint16_t>(full ^ check) == 0xffff);
        }
        std::memcpy(b.data() + 10, &check, 2);
        CHECK(ref_sum(b) == 0xffff);
    }
}

TEST_CASE("pseudo-header sums", "[rewrite][csum]") {
    const uint32_t s4 = sl_ipv4_pseudo_sum(sl_htonl(kClient4), sl_htonl(kVip4), 1234, 6);
    uint16_t f = sl_csum_fold(s4);
    uint8_t b[2];
    std::memcpy(b, &f, 2);
    CHECK(rd16(b) ==
          static_cast<uint16_t>(~ref_sum(nullptr, 0, pseudo4(kClient4, kVip4, 6, 1234))));
    const uint32_t s6 = sl_ipv6_pseudo_sum(kClient6.data(), kVip6.data(), 70000, 17);
    f = sl_csum_fold(s6);
    std::memcpy(b, &f, 2);
    CHECK(rd16(b) == static_cast<uint16_t>(
                         ~ref_sum(nullptr, 0, pseudo6(kClient6.data(), kVip6.data(), 17, 70000))));
}

TEST_CASE("DSR rewrites the two MAC addresses and nothing else", "[rewrite][dsr]") {
    const Bytes in = tcp4_frame(V4{}, 100, {100}, 0);
    Buf b(in);
    sl_rewrite_dsr_l2(b.data(), kBoxMac.data(), kBackendMac.data());
    CHECK(mac_at(b.data()) == kBackendMac);
    CHECK(mac_at(b.data() + 6) == kBoxMac);
    CHECK(std::memcmp(b.data() + 12, in.data() + 12, in.size() - 12) == 0);

    const sl_encap_ctx ctx = make_ctx();
    const sl_backend be = backend(SL_AF_INET);
    sl_service svc{};
    svc.fwd_mode = SL_FWD_DSR_L2;
    Buf b2(in);
    const sl_rw_result r =
        sl_rewrite_forward(b2.data(), b2.len32(), Buf::kHead, &b2.pkt, &ctx, &svc, &be, kHash);
    REQUIRE(r.verdict == SL_RW_OK);
    CHECK(r.frame == b2.data());
    CHECK(r.len == in.size());
    CHECK(std::memcmp(b2.data(), b.data(), in.size()) == 0);
}

TEST_CASE("IPIP: all four family combinations", "[rewrite][encap]") {
    const sl_encap_ctx ctx = make_ctx();
    struct Case {
        const char *name;
        uint8_t inner;
        uint8_t outer;
    };
    const Case cases[] = {{"4in4", SL_AF_INET, SL_AF_INET},
                          {"6in6", SL_AF_INET6, SL_AF_INET6},
                          {"4in6", SL_AF_INET, SL_AF_INET6},
                          {"6in4", SL_AF_INET6, SL_AF_INET}};
    for (const Case &c : cases) {
        for (const std::vector<uint16_t> &vlans :
             {std::vector<uint16_t>{}, std::vector<uint16_t>{7}, std::vector<uint16_t>{5, 6}}) {
            INFO(c.name << " with " << vlans.size() << " VLAN tags");
            V4 v4;
            v4.options = {0x01, 0x01, 0x01, 0x00}; // NOP NOP NOP EOL
            const Bytes in =
                c.inner == SL_AF_INET ? tcp4_frame(v4, 300, vlans) : udp6_frame(V6{}, 300, vlans);
            Buf b(in);
            const size_t l2 = b.pkt.l3_off;
            const size_t l3_len = b.pkt.l3_len;
            const sl_backend be = backend(c.outer);
            const sl_rw_result r =
                sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &be, kHash);
            REQUIRE(r.verdict == SL_RW_OK);
            const size_t added = c.outer == SL_AF_INET ? 20 : 40;
            CHECK(r.frame == b.data() - added);
            CHECK(r.len == l2 + added + l3_len);
            // VLAN tags unchanged
            CHECK(std::memcmp(r.frame + 12, in.data() + 12, l2 - 14) == 0);
            const uint8_t proto = c.inner == SL_AF_INET ? 4 : 41;
            const size_t inner_off =
                check_outer(r.frame, l2, c.outer, proto, l3_len + added, 0x2a, true);
            CHECK(inner_off == l2 + added);
            // inner packet byte for byte as received, TTL untouched
            CHECK(std::memcmp(r.frame + inner_off, in.data() + l2, l3_len) == 0);
            if (c.outer == SL_AF_INET) {
                CHECK(rd16(r.frame + l2 + 4) == 0); // id 0 with DF
            }
        }
    }
}

TEST_CASE("IPIP: DF, id and TOS follow the inner packet; padding is trimmed", "[rewrite][encap]") {
    const sl_encap_ctx ctx = make_ctx();
    const sl_backend be = backend(SL_AF_INET);
    V4 v;
    v.df = false;
    v.tos = 0xb9; // DSCP 46, ECN 01
    v.id = 0xbeef;
    // A tiny TCP packet padded to the 60-byte Ethernet minimum.
    const Bytes in = tcp4_frame(v, 2, {}, 60);
    REQUIRE(in.size() == 60);
    Buf b(in);
    REQUIRE(b.pkt.l3_len == 42);
    const sl_rw_result r = sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &be, kHash);
    REQUIRE(r.verdict == SL_RW_OK);
    CHECK(r.len == 14 + 20 + 42);
    check_outer(r.frame, 14, SL_AF_INET, 4, 62, 0xb9, false);
    const uint16_t fold = static_cast<uint16_t>(sl_encap_hash32(kHash));
    CHECK(rd16(r.frame + 14 + 4) == (0xbeef ^ fold));

    // IPv6 inner: DF set on the outer IPv4 header, TOS = traffic class.
    V6 v6;
    v6.tc = 0x71;
    Buf b6(udp6_frame(v6, 10));
    const sl_rw_result r6 =
        sl_encap_ipip(b6.data(), b6.len32(), Buf::kHead, &b6.pkt, &ctx, &be, kHash);
    REQUIRE(r6.verdict == SL_RW_OK);
    check_outer(r6.frame, 14, SL_AF_INET, 41, b6.pkt.l3_len + 20u, 0x71, true);
}

TEST_CASE("GUE over IPv4 and IPv6", "[rewrite][encap][gue]") {
    sl_encap_ctx ctx = make_ctx();
    for (uint8_t outer : {SL_AF_INET, SL_AF_INET6}) {
        for (uint8_t inner : {SL_AF_INET, SL_AF_INET6}) {
            INFO("outer " << int(outer) << " inner " << int(inner));
            const Bytes in =
                inner == SL_AF_INET ? tcp4_frame(V4{}, 333, {42}) : udp6_frame(V6{}, 333);
            Buf b(in);
            const size_t l2 = b.pkt.l3_off;
            const size_t l3_len = b.pkt.l3_len;
            const sl_backend be = backend(outer);
            const sl_rw_result r = sl_encap_gue(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &be,
                                                sl_htons(7777), kHash);
            REQUIRE(r.verdict == SL_RW_OK);
            const size_t ip = outer == SL_AF_INET ? 20 : 40;
            CHECK(r.frame == b.data() - (ip + 12));
            CHECK(r.len == l2 + ip + 12 + l3_len);
            const size_t u =
                check_outer(r.frame, l2, outer, SL_IPPROTO_UDP, ip + 12 + l3_len, 0x2a, true);
            const uint8_t *udp = r.frame + u;
            const uint16_t sport = rd16(udp);
            CHECK(sport >= 49152);
            CHECK(sport == sl_gue_sport(&ctx, kHash));
            CHECK(rd16(udp + 2) == 7777);
            CHECK(rd16(udp + 4) == 8 + 4 + l3_len);
            const uint8_t gue[4] = {0, static_cast<uint8_t>(inner == SL_AF_INET ? 4 : 41), 0, 0};
            CHECK(std::memcmp(udp + 8, gue, 4) == 0);
            CHECK(std::memcmp(udp + 12, in.data() + l2, l3_len) == 0);
            if (outer == SL_AF_INET) {
                CHECK(rd16(udp + 6) == 0);
            } else {
                CHECK(rd16(udp + 6) != 0);
                const size_t ul = 12 + l3_len;
                CHECK(ref_sum(udp, ul, pseudo6(kBox6.data(), kBackend6.data(), 17, ul)) == 0xffff);
            }
        }
    }
    // The source port spreads flows over the configured range.
    ctx.gue_sport_min = 50000;
    ctx.gue_sport_max = 50003;
    bool seen[4] = {};
    for (uint64_t h = 0; h < 64; h++) {
        const uint16_t p = sl_gue_sport(&ctx, h * 0x9e3779b97f4a7c15ULL);
        REQUIRE(p >= 50000);
        REQUIRE(p <= 50003);
        seen[p - 50000] = true;
    }
    CHECK((seen[0] && seen[1] && seen[2] && seen[3]));
    ctx.gue_sport_min = ctx.gue_sport_max = 40000;
    CHECK(sl_gue_sport(&ctx, kHash) == 40000);
}

TEST_CASE("service GUE port overrides the box default", "[rewrite][encap][gue]") {
    const sl_encap_ctx ctx = make_ctx();
    const sl_backend be = backend(SL_AF_INET);
    sl_service svc{};
    svc.fwd_mode = SL_FWD_GUE;
    for (uint16_t port : {0, 5555}) {
        svc.gue_port = sl_htons(port);
        Buf b(tcp4_frame(V4{}, 10));
        const sl_rw_result r =
            sl_rewrite_forward(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &svc, &be, kHash);
        REQUIRE(r.verdict == SL_RW_OK);
        CHECK(rd16(r.frame + 14 + 20 + 2) == (port ? port : kGuePort));
    }
    svc.fwd_mode = SL_FWD_IPIP;
    Buf b(tcp4_frame(V4{}, 10));
    const sl_rw_result r =
        sl_rewrite_forward(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &svc, &be, kHash);
    REQUIRE(r.verdict == SL_RW_OK);
    CHECK(r.frame[14 + 9] == 4);
}

TEST_CASE("MTU verdict at the exact boundary leaves the packet untouched",
          "[rewrite][encap][mtu]") {
    sl_encap_ctx ctx = make_ctx();
    ctx.mtu = 1500;
    struct Mode {
        bool gue;
        uint8_t outer;
        size_t overhead;
    };
    for (const Mode m : {Mode{false, SL_AF_INET, 20}, Mode{false, SL_AF_INET6, 40},
                         Mode{true, SL_AF_INET, 32}, Mode{true, SL_AF_INET6, 52}}) {
        const sl_backend be = backend(m.outer);
        CHECK(sl_encap_overhead(m.gue ? SL_FWD_GUE : SL_FWD_IPIP, m.outer) == m.overhead);
        CHECK(sl_encap_inner_mtu(&ctx, m.gue ? SL_FWD_GUE : SL_FWD_IPIP, m.outer) ==
              1500 - m.overhead);
        for (int delta : {-1, 0, 1}) {
            for (bool df : {true, false}) {
                INFO("gue " << m.gue << " outer " << int(m.outer) << " delta " << delta << " df "
                            << df);
                const size_t inner_len =
                    static_cast<size_t>(static_cast<long>(1500 - m.overhead) + delta);
                V4 v;
                v.df = df;
                const Bytes in = tcp4_frame(v, inner_len - 40);
                Buf b(in);
                REQUIRE(b.pkt.l3_len == inner_len);
                const Bytes before = b.mem;
                const sl_rw_result r = m.gue ? sl_encap_gue(b.data(), b.len32(), Buf::kHead, &b.pkt,
                                                            &ctx, &be, sl_htons(kGuePort), kHash)
                                             : sl_encap_ipip(b.data(), b.len32(), Buf::kHead,
                                                             &b.pkt, &ctx, &be, kHash);
                if (delta <= 0) {
                    REQUIRE(r.verdict == SL_RW_OK);
                    CHECK(r.len == 14 + inner_len + m.overhead);
                    CHECK(inner_len + m.overhead == static_cast<size_t>(1500 + delta));
                } else {
                    CHECK(r.verdict == (df ? SL_RW_MTU_EXCEEDED : SL_RW_MTU_EXCEEDED_NO_DF));
                    CHECK(r.frame == b.data());
                    CHECK(r.len == in.size());
                    CHECK(b.mem == before);
                }
            }
        }
        // IPv6 inner is always "DF".
        const size_t inner6 = 1500 - m.overhead + 1;
        Buf b6(udp6_frame(V6{}, inner6 - 48));
        const Bytes before = b6.mem;
        const sl_rw_result r6 =
            m.gue ? sl_encap_gue(b6.data(), b6.len32(), Buf::kHead, &b6.pkt, &ctx, &be,
                                 sl_htons(kGuePort), kHash)
                  : sl_encap_ipip(b6.data(), b6.len32(), Buf::kHead, &b6.pkt, &ctx, &be, kHash);
        CHECK(r6.verdict == SL_RW_MTU_EXCEEDED);
        CHECK(b6.mem == before);
    }
}

TEST_CASE("headroom too small and invalid input leave the packet untouched", "[rewrite][encap]") {
    const sl_encap_ctx ctx = make_ctx();
    for (uint8_t outer : {SL_AF_INET, SL_AF_INET6}) {
        const sl_backend be = backend(outer);
        for (bool gue : {false, true}) {
            const uint32_t need = (outer == SL_AF_INET ? 20u : 40u) + (gue ? 12u : 0u);
            for (uint32_t headroom : {need - 1, need}) {
                Buf b(tcp4_frame(V4{}, 50, {3}));
                const Bytes before = b.mem;
                const sl_rw_result r =
                    gue ? sl_encap_gue(b.data(), b.len32(), headroom, &b.pkt, &ctx, &be,
                                       sl_htons(kGuePort), kHash)
                        : sl_encap_ipip(b.data(), b.len32(), headroom, &b.pkt, &ctx, &be, kHash);
                if (headroom < need) {
                    CHECK(r.verdict == SL_RW_NO_SPACE);
                    CHECK(b.mem == before);
                } else {
                    CHECK(r.verdict == SL_RW_OK);
                    CHECK(r.frame == b.data() - need);
                }
            }
        }
    }
    Buf b(tcp4_frame(V4{}, 50));
    const Bytes before = b.mem;
    sl_backend bad = backend(SL_AF_INET);
    bad.family = 0;
    CHECK(sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &bad, kHash).verdict ==
          SL_RW_INVALID);
    const sl_backend be = backend(SL_AF_INET);
    CHECK(sl_encap_gue(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &be, 0, kHash).verdict ==
          SL_RW_INVALID);
    sl_pkt p = b.pkt;
    p.l3_len = static_cast<uint16_t>(b.len - 13); // past the frame
    CHECK(sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &p, &ctx, &be, kHash).verdict ==
          SL_RW_INVALID);
    p = b.pkt;
    p.ethertype = SL_ETH_P_IPV6; // version nibble says 4
    CHECK(sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &p, &ctx, &be, kHash).verdict ==
          SL_RW_INVALID);
    CHECK(b.mem == before);
}

// Both encapsulations towards a backend of family `outer`, within and past
// the MTU: refused with `verdict`, the frame untouched.
void check_encap_refused(const sl_encap_ctx &ctx, uint8_t outer, sl_rw_verdict verdict) {
    const sl_backend be = backend(outer);
    for (bool gue : {false, true}) {
        for (size_t data : {size_t{50}, size_t{1480}}) {
            INFO("outer " << int(outer) << " gue " << gue << " data " << data);
            Buf b(tcp4_frame(V4{}, data, {3}));
            const Bytes before = b.mem;
            const sl_rw_result r =
                gue ? sl_encap_gue(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &be,
                                   sl_htons(kGuePort), kHash)
                    : sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &be, kHash);
            CHECK(r.verdict == verdict);
            CHECK(b.mem == before);
        }
    }
}

// A dsr-l2 rewrite under ctx succeeds.
bool dsr_l2_ok(const sl_encap_ctx &ctx) {
    const sl_backend be = backend(SL_AF_INET);
    Buf b(tcp4_frame(V4{}, 50));
    sl_service svc{};
    svc.fwd_mode = SL_FWD_DSR_L2;
    return sl_rewrite_forward(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &svc, &be, kHash)
               .verdict == SL_RW_OK;
}

TEST_CASE("no gateway MAC: encapsulation refused, even past the MTU", "[rewrite][encap]") {
    sl_encap_ctx ctx = make_ctx();
    std::memset(ctx.gw_mac, 0, sizeof(ctx.gw_mac));
    for (uint8_t outer : {SL_AF_INET, SL_AF_INET6}) {
        check_encap_refused(ctx, outer, SL_RW_NO_GATEWAY);
    }
    CHECK(dsr_l2_ok(ctx)); // dsr-l2 needs none
}

TEST_CASE("no address of the backend's family: encapsulation refused, even past the MTU",
          "[rewrite][encap]") {
    for (uint8_t outer : {SL_AF_INET, SL_AF_INET6}) {
        // The box has an address of the other family only.
        sl_encap_ctx ctx = make_ctx();
        if (outer == SL_AF_INET) {
            ctx.box_ip4 = 0;
        } else {
            std::memset(ctx.box_ip6, 0, sizeof(ctx.box_ip6));
        }
        check_encap_refused(ctx, outer, SL_RW_NO_SOURCE);
        // The other family's backends are served.
        const sl_backend other = backend(outer == SL_AF_INET ? SL_AF_INET6 : SL_AF_INET);
        Buf b(tcp4_frame(V4{}, 50));
        CHECK(sl_encap_ipip(b.data(), b.len32(), Buf::kHead, &b.pkt, &ctx, &other, kHash).verdict ==
              SL_RW_OK);
    }
    sl_encap_ctx ctx = make_ctx();
    ctx.box_ip4 = 0;
    std::memset(ctx.box_ip6, 0, sizeof(ctx.box_ip6));
    CHECK(dsr_l2_ok(ctx)); // dsr-l2 needs neither
}

TEST_CASE("ICMPv4 fragmentation needed, in place", "[rewrite][icmp]") {
    for (size_t data : {size_t{100}, size_t{1400}}) {
        for (const std::vector<uint16_t> &vlans :
             {std::vector<uint16_t>{}, std::vector<uint16_t>{9}}) {
            INFO("data " << data << " vlans " << vlans.size());
            V4 v;
            v.options = {0x94, 0x04, 0x00, 0x00}; // router alert
            const Bytes in = tcp4_frame(v, data, vlans);
            Buf b(in);
            const size_t l2 = b.pkt.l3_off;
            const size_t l3_len = b.pkt.l3_len;
            const sl_rw_result r = sl_build_icmp4_frag_needed(b.data(), b.len32(), Buf::kHead,
                                                              &b.pkt, kBoxMac.data(), 1480);
            REQUIRE(r.verdict == SL_RW_OK);
            const size_t quote = std::min<size_t>(l3_len, 548);
            CHECK(r.frame == b.data() - 28);
            CHECK(r.len == l2 + 28 + quote);
            CHECK(mac_at(r.frame) == kClientMac);
            CHECK(mac_at(r.frame + 6) == kBoxMac);
            CHECK(std::memcmp(r.frame + 12, in.data() + 12, l2 - 12) == 0); // tags + ethertype
            const uint8_t *ip = r.frame + l2;
            CHECK(ip[0] == 0x45);
            CHECK(ip[1] == 0xc0);
            CHECK(rd16(ip + 2) == 28 + quote);
            CHECK(rd16(ip + 2) <= 576);
            CHECK(ip[8] == 64);
            CHECK(ip[9] == SL_IPPROTO_ICMP);
            CHECK(ref_sum(ip, 20) == 0xffff);
            CHECK(rd32(ip + 12) == kVip4);
            CHECK(rd32(ip + 16) == kClient4);
            const uint8_t *ic = ip + 20;
            CHECK(ic[0] == 3);
            CHECK(ic[1] == 4);
            CHECK(rd16(ic + 4) == 0);
            CHECK(rd16(ic + 6) == 1480);
            CHECK(ref_sum(ic, 8 + quote) == 0xffff);
            CHECK(std::memcmp(ic + 8, in.data() + l2, quote) == 0);
        }
    }
}

TEST_CASE("ICMPv4 errors are not sent where RFC 1122 forbids them", "[rewrite][icmp]") {
    auto verdict = [](const Bytes &in, uint32_t headroom = Buf::kHead) {
        Buf b(in);
        const Bytes before = b.mem;
        const sl_rw_result r =
            sl_build_icmp4_frag_needed(b.data(), b.len32(), headroom, &b.pkt, kBoxMac.data(), 1480);
        if (r.verdict != SL_RW_OK) {
            CHECK(b.mem == before);
        }
        return r.verdict;
    };
    V4 v;
    v.proto = SL_IPPROTO_ICMP;
    V4 quoted;
    quoted.src = kVip4;
    quoted.dst = kClient4;
    const Bytes inner = seal4(quoted, tcp(443, 40000, payload(0)));
    const Bytes err = frame_of({}, SL_ETH_P_IPV4,
                               seal4(v, icmp(3, 1, 0, Bytes(inner.begin(), inner.begin() + 28))));
    CHECK(verdict(err) == SL_RW_NO_REPLY);
    const Bytes echo = frame_of({}, SL_ETH_P_IPV4, seal4(v, icmp(8, 0, 0x10001, payload(28))));
    CHECK(verdict(echo) == SL_RW_OK);
    V4 later;
    later.frag = 100;
    CHECK(verdict(tcp4_frame(later, 100)) == SL_RW_NO_REPLY);
    V4 mc;
    mc.src = 0xe0000001;
    CHECK(verdict(tcp4_frame(mc, 100)) == SL_RW_NO_REPLY);
    V4 bc;
    bc.dst = 0xffffffff;
    CHECK(verdict(tcp4_frame(bc, 100)) == SL_RW_NO_REPLY);
    // sent to a link-layer broadcast or multicast address
    for (const Mac &group :
         {Mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Mac{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}) {
        Bytes f = tcp4_frame(V4{}, 100);
        std::copy(group.begin(), group.end(), f.begin());
        CHECK(verdict(f) == SL_RW_NO_REPLY);
    }
    CHECK(verdict(tcp4_frame(V4{}, 100), 27) == SL_RW_NO_SPACE);
    CHECK(verdict(tcp4_frame(V4{}, 100), 28) == SL_RW_OK);
    CHECK(verdict(udp6_frame(V6{}, 10)) == SL_RW_INVALID);
}

TEST_CASE("ICMPv6 packet too big, in place", "[rewrite][icmp]") {
    for (size_t data : {size_t{100}, size_t{1400}}) {
        INFO("data " << data);
        const Bytes in = udp6_frame(V6{}, data, {11, 12});
        Buf b(in);
        const size_t l2 = b.pkt.l3_off;
        REQUIRE(l2 == 22);
        const size_t l3_len = b.pkt.l3_len;
        const sl_rw_result r =
            sl_build_icmp_too_big(b.data(), b.len32(), Buf::kHead, &b.pkt, kBoxMac.data(), 1448);
        REQUIRE(r.verdict == SL_RW_OK);
        const size_t quote = std::min<size_t>(l3_len, 1232);
        CHECK(r.frame == b.data() - 48);
        CHECK(r.len == l2 + 48 + quote);
        CHECK(mac_at(r.frame) == kClientMac);
        CHECK(mac_at(r.frame + 6) == kBoxMac);
        CHECK(std::memcmp(r.frame + 12, in.data() + 12, l2 - 12) == 0);
        const uint8_t *ip = r.frame + l2;
        CHECK(rd32(ip) == 0x60000000);
        CHECK(rd16(ip + 4) == 8 + quote);
        CHECK(40 + 8 + quote <= 1280);
        CHECK(ip[6] == SL_IPPROTO_ICMPV6);
        CHECK(ip[7] == 64);
        CHECK(std::memcmp(ip + 8, kVip6.data(), 16) == 0);
        CHECK(std::memcmp(ip + 24, kClient6.data(), 16) == 0);
        const uint8_t *ic = ip + 40;
        CHECK(ic[0] == 2);
        CHECK(ic[1] == 0);
        CHECK(rd32(ic + 4) == 1448);
        CHECK(ref_sum(ic, 8 + quote, pseudo6(kVip6.data(), kClient6.data(), 58, 8 + quote)) ==
              0xffff);
        CHECK(std::memcmp(ic + 8, in.data() + l2, quote) == 0);
    }
    // No packet too big about an ICMPv6 error, or from a multicast source;
    // echo requests may get one.
    V6 v;
    v.nh = SL_IPPROTO_ICMPV6;
    V6 quoted;
    quoted.src = kVip6;
    quoted.dst = kClient6;
    quoted.nh = SL_IPPROTO_UDP;
    const Bytes inner = seal6(quoted, SL_IPPROTO_UDP, udp(53, 40000, payload(8)));
    Buf e(frame_of({}, SL_ETH_P_IPV6, seal6(v, 58, icmp(1, 4, 0, inner))));
    CHECK(sl_build_icmp_too_big(e.data(), e.len32(), Buf::kHead, &e.pkt, kBoxMac.data(), 1280)
              .verdict == SL_RW_NO_REPLY);
    Buf q(frame_of({}, SL_ETH_P_IPV6, seal6(v, 58, icmp(128, 0, 0x10001, payload(48)))));
    CHECK(sl_build_icmp_too_big(q.data(), q.len32(), Buf::kHead, &q.pkt, kBoxMac.data(), 1280)
              .verdict == SL_RW_OK);
    V6 mc;
    mc.src[0] = 0xff;
    Buf m(udp6_frame(mc, 10));
    CHECK(sl_build_icmp_too_big(m.data(), m.len32(), Buf::kHead, &m.pkt, kBoxMac.data(), 1280)
              .verdict == SL_RW_NO_REPLY);
    Buf h(udp6_frame(V6{}, 10));
    const Bytes before = h.mem;
    CHECK(sl_build_icmp_too_big(h.data(), h.len32(), 47, &h.pkt, kBoxMac.data(), 1280).verdict ==
          SL_RW_NO_SPACE);
    CHECK(h.mem == before);
}

TEST_CASE("ARP request becomes a reply", "[rewrite][arp]") {
    auto arp = [](uint16_t op, uint32_t spa, uint32_t tpa) {
        Bytes a;
        put16(a, 1);
        put16(a, 0x0800);
        a.push_back(6);
        a.push_back(4);
        put16(a, op);
        a.insert(a.end(), kClientMac.begin(), kClientMac.end());
        put32(a, spa);
        a.insert(a.end(), 6, 0);
        put32(a, tpa);
        Bytes f = eth({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, kClientMac, {77}, SL_ETH_P_ARP);
        append(f, a);
        f.resize(64, 0);
        return f;
    };
    const Bytes in = arp(1, kClient4, kVip4);
    Buf b(in);
    CHECK(sl_arp_target_ip(b.data(), b.len32(), &b.pkt) == sl_htonl(kVip4));
    const sl_rw_result r = sl_reply_arp(b.data(), b.len32(), &b.pkt, kBoxMac.data());
    REQUIRE(r.verdict == SL_RW_OK);
    CHECK(r.frame == b.data());
    CHECK(r.len == in.size());
    const uint8_t *f = r.frame;
    CHECK(mac_at(f) == kClientMac);
    CHECK(mac_at(f + 6) == kBoxMac);
    CHECK(rd16(f + 12) == SL_ETH_P_8021Q);
    CHECK(rd16(f + 14) == 77);
    CHECK(rd16(f + 16) == SL_ETH_P_ARP);
    const uint8_t *a = f + 18;
    CHECK(rd16(a + 6) == 2);
    CHECK(mac_at(a + 8) == kBoxMac);
    CHECK(rd32(a + 14) == kVip4);
    CHECK(mac_at(a + 18) == kClientMac);
    CHECK(rd32(a + 24) == kClient4);

    Buf g(arp(1, kVip4, kVip4)); // gratuitous
    CHECK(sl_reply_arp(g.data(), g.len32(), &g.pkt, kBoxMac.data()).verdict == SL_RW_NO_REPLY);
    Buf rep(arp(2, kClient4, kVip4));
    CHECK(sl_reply_arp(rep.data(), rep.len32(), &rep.pkt, kBoxMac.data()).verdict ==
          SL_RW_NO_REPLY);
    Bytes bad = arp(1, kClient4, kVip4);
    bad[18 + 4] = 8; // hardware length
    Buf bb(bad, Parse::Refused);
    CHECK(sl_reply_arp(bb.data(), bb.len32(), &bb.pkt, kBoxMac.data()).verdict == SL_RW_INVALID);
    // probe (sender 0.0.0.0) is answered to 0.0.0.0
    Buf p(arp(1, 0, kVip4));
    REQUIRE(sl_reply_arp(p.data(), p.len32(), &p.pkt, kBoxMac.data()).verdict == SL_RW_OK);
    CHECK(rd32(p.data() + 18 + 24) == 0);
}

TEST_CASE("neighbour solicitation becomes an advertisement", "[rewrite][nd]") {
    auto ns = [](const Ip6 &src, bool slla, uint8_t hop) {
        V6 v;
        v.src = src;
        v.dst = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 5};
        v.nh = SL_IPPROTO_ICMPV6;
        v.hop = hop;
        v.tc = 0;
        v.flow = 0;
        Bytes m{135, 0, 0, 0, 0, 0, 0, 0};
        m.insert(m.end(), kVip6.begin(), kVip6.end());
        if (slla) {
            m.push_back(1);
            m.push_back(1);
            m.insert(m.end(), kClientMac.begin(), kClientMac.end());
        }
        return frame_of({}, SL_ETH_P_IPV6, seal6(v, 58, m));
    };
    for (bool dad : {false, true}) {
        INFO("dad " << dad);
        const Ip6 unspecified{};
        Buf b(ns(dad ? unspecified : kClient6, !dad, 255));
        const uint8_t *t = sl_nd_target(b.data(), b.len32(), &b.pkt);
        REQUIRE(t != nullptr);
        CHECK(std::memcmp(t, kVip6.data(), 16) == 0);
        const sl_rw_result r =
            sl_reply_nd(b.data(), b.len32(), b.len32() + Buf::kTail, &b.pkt, kBoxMac.data());
        REQUIRE(r.verdict == SL_RW_OK);
        CHECK(r.frame == b.data());
        CHECK(r.len == 14 + 40 + 32);
        const Mac all_nodes_mac = {0x33, 0x33, 0, 0, 0, 1};
        CHECK(mac_at(r.frame) == (dad ? all_nodes_mac : kClientMac));
        CHECK(mac_at(r.frame + 6) == kBoxMac);
        const uint8_t *ip = r.frame + 14;
        CHECK(rd32(ip) == 0x60000000);
        CHECK(rd16(ip + 4) == 32);
        CHECK(ip[6] == 58);
        CHECK(ip[7] == 255);
        CHECK(std::memcmp(ip + 8, kVip6.data(), 16) == 0);
        const Ip6 all_nodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        CHECK(std::memcmp(ip + 24, dad ? all_nodes.data() : kClient6.data(), 16) == 0);
        const uint8_t *na = ip + 40;
        CHECK(na[0] == 136);
        CHECK(na[1] == 0);
        CHECK(rd32(na + 4) == (dad ? 0x20000000u : 0x60000000u));
        CHECK(std::memcmp(na + 8, kVip6.data(), 16) == 0);
        CHECK(na[24] == 2);
        CHECK(na[25] == 1);
        CHECK(mac_at(na + 26) == kBoxMac);
        CHECK(ref_sum(na, 32, pseudo6(ip + 8, ip + 24, 58, 32)) == 0xffff);
    }
    // Without room for the option (a DAD solicitation is 8 bytes shorter).
    const Ip6 unspecified{};
    Buf s(ns(unspecified, false, 255));
    const Bytes before = s.mem;
    CHECK(sl_reply_nd(s.data(), s.len32(), 14 + 40 + 31, &s.pkt, kBoxMac.data()).verdict ==
          SL_RW_NO_SPACE);
    CHECK(s.mem == before);
    Buf h(ns(kClient6, true, 64), Parse::Refused); // not from the link
    CHECK(sl_nd_target(h.data(), h.len32(), &h.pkt) == nullptr);
    CHECK(sl_reply_nd(h.data(), h.len32(), h.len32(), &h.pkt, kBoxMac.data()).verdict ==
          SL_RW_INVALID);
}

TEST_CASE("ICMP echo request becomes a reply", "[rewrite][echo]") {
    V4 v;
    v.proto = SL_IPPROTO_ICMP;
    v.options = {0x07, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}; // record route, 1 slot
    const Bytes in = frame_of({4}, SL_ETH_P_IPV4, seal4(v, icmp(8, 0, 0xabcd0001, payload(5))), 80);
    Buf b(in);
    const size_t l3_len = b.pkt.l3_len;
    const sl_rw_result r = sl_reply_echo(b.data(), b.len32(), &b.pkt, kBoxMac.data());
    REQUIRE(r.verdict == SL_RW_OK);
    CHECK(r.len == 18 + l3_len); // padding trimmed
    CHECK(mac_at(r.frame) == kClientMac);
    CHECK(mac_at(r.frame + 6) == kBoxMac);
    const uint8_t *ip = r.frame + 18;
    CHECK(ip[8] == 64);
    CHECK(rd32(ip + 12) == kVip4);
    CHECK(rd32(ip + 16) == kClient4);
    CHECK(ref_sum(ip, 28) == 0xffff);
    CHECK(std::memcmp(ip + 20, in.data() + 18 + 20, 8) == 0); // options kept
    const uint8_t *ic = ip + 28;
    CHECK(ic[0] == 0);
    CHECK(rd32(ic + 4) == 0xabcd0001);
    CHECK(ref_sum(ic, l3_len - 28) == 0xffff);
    CHECK(std::memcmp(ic + 8, in.data() + 18 + 36, 5) == 0);

    // Identifier, sequence and data all zero: the reply's checksum must be
    // 0xffff (RFC 1624's update alone gives 0x0000, which does not verify).
    for (size_t n : {0, 6}) {
        Buf z(frame_of({}, SL_ETH_P_IPV4,
                       seal4(V4{.proto = SL_IPPROTO_ICMP}, icmp(8, 0, 0, Bytes(n, 0)))));
        REQUIRE(sl_reply_echo(z.data(), z.len32(), &z.pkt, kBoxMac.data()).verdict == SL_RW_OK);
        INFO("data " << n);
        CHECK(rd16(z.data() + 14 + 20 + 2) == 0xffff);
        CHECK(ref_sum(z.data() + 14 + 20, 8 + n) == 0xffff);
    }

    // A request with a bad checksum yields a reply with a bad checksum.
    Bytes bad = in;
    bad[18 + 28 + 2] ^= 0x10;
    Buf bb(bad);
    REQUIRE(sl_reply_echo(bb.data(), bb.len32(), &bb.pkt, kBoxMac.data()).verdict == SL_RW_OK);
    CHECK(ref_sum(bb.data() + 18 + 28, l3_len - 28) != 0xffff);

    // Not an echo request, broadcast, fragment
    Buf rep(frame_of({}, SL_ETH_P_IPV4, seal4(v, icmp(0, 0, 1, payload(5)))), Parse::Refused);
    CHECK(sl_reply_echo(rep.data(), rep.len32(), &rep.pkt, kBoxMac.data()).verdict ==
          SL_RW_INVALID);
    V4 bc = v;
    bc.dst = 0xffffffff;
    Buf bcb(frame_of({}, SL_ETH_P_IPV4, seal4(bc, icmp(8, 0, 1, payload(5)))));
    CHECK(sl_reply_echo(bcb.data(), bcb.len32(), &bcb.pkt, kBoxMac.data()).verdict ==
          SL_RW_NO_REPLY);
    V4 fr = v;
    fr.frag = SL_IPV4_MF;
    Buf frb(frame_of({}, SL_ETH_P_IPV4, seal4(fr, icmp(8, 0, 1, payload(5)))), Parse::Refused);
    CHECK(sl_reply_echo(frb.data(), frb.len32(), &frb.pkt, kBoxMac.data()).verdict ==
          SL_RW_NO_REPLY);
}

TEST_CASE("ICMPv6 echo request becomes a reply", "[rewrite][echo]") {
    for (bool ext : {false, true}) {
        INFO("extension header " << ext);
        V6 v;
        v.nh = ext ? SL_IPPROTO_DSTOPTS : SL_IPPROTO_ICMPV6;
        // destination options: next 58, length 0 (8 bytes), PadN of 4
        const Bytes opts = ext ? Bytes{58, 0, 1, 4, 0, 0, 0, 0} : Bytes{};
        const Bytes in =
            frame_of({}, SL_ETH_P_IPV6, seal6(v, 58, icmp(128, 0, 0x77770003, payload(21)), opts));
        Buf b(in);
        const size_t icmp_len = 8 + 21;
        const sl_rw_result r = sl_reply_echo(b.data(), b.len32(), &b.pkt, kBoxMac.data());
        REQUIRE(r.verdict == SL_RW_OK);
        CHECK(r.len == 14 + 40 + icmp_len);
        CHECK(mac_at(r.frame) == kClientMac);
        CHECK(mac_at(r.frame + 6) == kBoxMac);
        const uint8_t *ip = r.frame + 14;
        CHECK(rd16(ip + 4) == icmp_len);
        CHECK(ip[6] == 58);
        CHECK(ip[7] == 64);
        CHECK(std::memcmp(ip + 8, kVip6.data(), 16) == 0);
        CHECK(std::memcmp(ip + 24, kClient6.data(), 16) == 0);
        const uint8_t *ic = ip + 40;
        CHECK(ic[0] == 129);
        CHECK(rd32(ic + 4) == 0x77770003);
        CHECK(ref_sum(ic, icmp_len, pseudo6(ip + 8, ip + 24, 58, icmp_len)) == 0xffff);
        CHECK(std::memcmp(ic + 8, in.data() + in.size() - 21, 21) == 0);
    }
    V6 mc;
    mc.nh = SL_IPPROTO_ICMPV6;
    mc.dst = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    Buf m(frame_of({}, SL_ETH_P_IPV6, seal6(mc, 58, icmp(128, 0, 1, payload(4)))));
    CHECK(sl_reply_echo(m.data(), m.len32(), &m.pkt, kBoxMac.data()).verdict == SL_RW_NO_REPLY);
}
