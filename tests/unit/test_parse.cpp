// Unit tests for the packet parser (sluice/parse.h): every verdict, every drop
// reason, every valid packet cut at every length, and random inputs. Each
// packet is parsed from a heap buffer of exactly its length, so that
// AddressSanitizer reports any read past the end.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pktbuild.hpp"
#include "sluice/parse.h"

using namespace pktbuild;

namespace {

const char *const CLIENT4 = "198.51.100.7";
const char *const VIP4 = "192.0.2.10";
const char *const ROUTER4 = "203.0.113.1";
const char *const CLIENT6 = "2001:db8:c::7";
const char *const VIP6 = "2001:db8:f::10";
const char *const ROUTER6 = "2001:db8:ee::1";
const char *const SOLICITED6 = "ff02::1:ff00:10";
const uint16_t CPORT = 40000;
const uint16_t VPORT = 443;

struct Result {
    sl_verdict v;
    sl_pkt pkt;
};

// Parse a copy of b held in a heap buffer of exactly b.size() bytes.
// (new[0] returns a unique pointer that owns no byte.)
Result parse(const Bytes &b) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[b.size()]);
    if (!b.empty()) {
        std::memcpy(buf.get(), b.data(), b.size());
    }
    Result r;
    std::memset(&r.pkt, 0xa5, sizeof(r.pkt)); // sl_parse must zero what it does not set
    r.v = sl_parse(buf.get(), static_cast<uint32_t>(b.size()), &r.pkt);
    return r;
}

std::string outcome(sl_verdict v, const sl_pkt &p) {
    switch (v) {
        case SL_VERDICT_FLOW:
            return "flow";
        case SL_VERDICT_ICMP_ERROR:
            return "icmp_error";
        case SL_VERDICT_ICMP_ECHO:
            return "icmp_echo";
        case SL_VERDICT_ARP:
            return "arp";
        case SL_VERDICT_ND:
            return "nd";
        case SL_VERDICT_DROP:
            return std::string("drop:") + sl_drop_name(p.drop);
    }
    return "verdict?" + std::to_string(static_cast<int>(v));
}

std::string outcome(const Result &r) {
    return outcome(r.v, r.pkt);
}

std::string outcome(const Bytes &b) {
    return outcome(parse(b));
}

std::string drop(sl_drop_reason why) {
    return std::string("drop:") + sl_drop_name(why);
}

sl_flow_key make_key(int family, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                     uint8_t proto) {
    sl_flow_key k;
    std::memset(&k, 0, sizeof(k));
    Bytes s = family == SL_AF_INET ? ip4(src) : ip6(src);
    Bytes d = family == SL_AF_INET ? ip4(dst) : ip6(dst);
    std::memcpy(k.src, s.data(), s.size());
    std::memcpy(k.dst, d.data(), d.size());
    k.sport = htons(sport);
    k.dport = htons(dport);
    k.proto = proto;
    k.family = static_cast<uint8_t>(family);
    return k;
}

// A readable image of every byte of the key, for comparisons with diagnostics.
std::string key_str(const sl_flow_key &k) {
    char s[INET6_ADDRSTRLEN];
    char d[INET6_ADDRSTRLEN];
    int af = k.family == SL_AF_INET ? AF_INET : AF_INET6;
    inet_ntop(af, k.src, s, sizeof(s));
    inet_ntop(af, k.dst, d, sizeof(d));
    std::string out = "fam=" + std::to_string(k.family) + " proto=" + std::to_string(k.proto) +
                      " " + s + ":" + std::to_string(ntohs(k.sport)) + " -> " + d + ":" +
                      std::to_string(ntohs(k.dport)) + " raw=";
    const auto *raw = reinterpret_cast<const uint8_t *>(&k);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(k); i++) {
        out += hex[raw[i] >> 4];
        out += hex[raw[i] & 15];
    }
    return out;
}

sl_flow_key with_ports(sl_flow_key k, uint16_t sport, uint16_t dport) {
    k.sport = htons(sport);
    k.dport = htons(dport);
    return k;
}

// ---------------------------------------------------------------- packets

Bytes v4_tcp(const char *src = CLIENT4, uint16_t sport = CPORT, const char *dst = VIP4,
             uint16_t dport = VPORT) {
    return Builder().eth().ipv4(src, dst).tcp(sport, dport).payload(20).build();
}

Bytes v4_udp(const char *src = CLIENT4, uint16_t sport = CPORT, const char *dst = VIP4,
             uint16_t dport = VPORT) {
    return Builder().eth().ipv4(src, dst).udp(sport, dport).payload(20).build();
}

Bytes v6_tcp(const char *src = CLIENT6, uint16_t sport = CPORT, const char *dst = VIP6,
             uint16_t dport = VPORT) {
    return Builder().eth().ipv6(src, dst).tcp(sport, dport).payload(20).build();
}

Bytes v6_udp(const char *src = CLIENT6, uint16_t sport = CPORT, const char *dst = VIP6,
             uint16_t dport = VPORT) {
    return Builder().eth().ipv6(src, dst).udp(sport, dport).payload(20).build();
}

// What a DSR backend sends back for the client->VIP flow: src = VIP.
Bytes backend_reply4(uint8_t proto, Ipv4Opts o = {}) {
    Builder b;
    b.ipv4(VIP4, CLIENT4, o);
    if (proto == SL_IPPROTO_TCP) {
        b.tcp(VPORT, CPORT, {.flags = 0x12});
    } else {
        b.udp(VPORT, CPORT);
    }
    return b.payload(1200).build();
}

Bytes backend_reply6(uint8_t proto) {
    Builder b;
    b.ipv6(VIP6, CLIENT6);
    if (proto == SL_IPPROTO_TCP) {
        b.tcp(VPORT, CPORT, {.flags = 0x12});
    } else {
        b.udp(VPORT, CPORT);
    }
    return b.payload(1400).build();
}

// ICMP error from a router on the path back to the client, addressed to the
// VIP (the source of the packet it quotes).
Bytes icmp4_error(uint8_t type, uint8_t code, const Bytes &quote, uint32_t rest = 0) {
    return Builder().eth().ipv4(ROUTER4, VIP4).icmp(type, code, rest).payload(quote).build();
}

Bytes icmp6_error(uint8_t type, uint8_t code, const Bytes &quote, uint32_t rest = 0) {
    return Builder().eth().ipv6(ROUTER6, VIP6).icmp6(type, code, rest).payload(quote).build();
}

Bytes ns6(Ipv6Opts o = {.hop_limit = 255}, uint8_t code = 0, size_t body = 16 + 8) {
    return Builder().eth().ipv6(CLIENT6, SOLICITED6, o).icmp6(135, code).payload(body, 0).build();
}

Bytes arp_req(ArpOpts o = {}) {
    return Builder()
        .eth(kMacA, Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
        .arp(CLIENT4, VIP4, o)
        .build();
}

struct Case {
    std::string name;
    Bytes bytes;
    std::string expect;
};

// Valid packets of every verdict and layer combination.
std::vector<Case> valid_corpus() {
    std::vector<Case> c;
    c.push_back({"v4 tcp", v4_tcp(), "flow"});
    c.push_back({"v4 udp", v4_udp(), "flow"});
    c.push_back({"v6 tcp", v6_tcp(), "flow"});
    c.push_back({"v6 udp", v6_udp(), "flow"});
    c.push_back({"v4 tcp ip+tcp options",
                 Builder()
                     .eth()
                     .ipv4(CLIENT4, VIP4, {.options = {0x94, 0x04, 0, 0, 1, 1, 1, 0}})
                     .tcp(CPORT, VPORT, {.options = {2, 4, 0x05, 0xb4, 1, 1, 4, 2}})
                     .build(),
                 "flow"});
    c.push_back({"v4 tcp max ip options",
                 Builder().eth().ipv4(CLIENT4, VIP4, {.options = Bytes(40, 1)}).tcp(1, 2).build(),
                 "flow"});
    c.push_back({"vlan v4 udp",
                 Builder().eth().vlan(100).ipv4(CLIENT4, VIP4).udp(CPORT, VPORT).build(), "flow"});
    c.push_back({"qinq v6 tcp",
                 Builder()
                     .eth()
                     .vlan(10, SL_ETH_P_8021AD)
                     .vlan(20)
                     .ipv6(CLIENT6, VIP6)
                     .tcp(CPORT, VPORT)
                     .build(),
                 "flow"});
    c.push_back({"v6 hbh+routing+dst tcp",
                 Builder()
                     .eth()
                     .ipv6(CLIENT6, VIP6)
                     .ipv6_ext(SL_IPPROTO_HOPOPTS)
                     .ipv6_ext(SL_IPPROTO_ROUTING, {.body = 22})
                     .ipv6_ext(SL_IPPROTO_DSTOPTS, {.body = 14})
                     .tcp(CPORT, VPORT)
                     .payload(10)
                     .build(),
                 "flow"});
    c.push_back({"v4 udp first fragment",
                 Builder()
                     .eth()
                     .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000})
                     .udp(CPORT, VPORT, {.len = 3000})
                     .payload(64)
                     .build(),
                 "flow"});
    c.push_back({"v4 udp later fragment",
                 Builder()
                     .eth()
                     .ipv4(CLIENT4, VIP4, {.frag_off = 9, .protocol = SL_IPPROTO_UDP})
                     .payload(72)
                     .build(),
                 "flow"});
    c.push_back({"v6 tcp first fragment",
                 Builder()
                     .eth()
                     .ipv6(CLIENT6, VIP6)
                     .ipv6_frag(0, true)
                     .tcp(CPORT, VPORT)
                     .payload(40)
                     .build(),
                 "flow"});
    c.push_back({"v6 tcp later fragment",
                 Builder()
                     .eth()
                     .ipv6(CLIENT6, VIP6)
                     .ipv6_ext(SL_IPPROTO_HOPOPTS)
                     .ipv6_frag(8, false, 0x1234, SL_IPPROTO_TCP)
                     .payload(40)
                     .build(),
                 "flow"});
    c.push_back({"v4 echo",
                 Builder().eth().ipv4(CLIENT4, VIP4).icmp(8, 0, 0x00010001).payload(32).build(),
                 "icmp_echo"});
    c.push_back({"v6 echo",
                 Builder().eth().ipv6(CLIENT6, VIP6).icmp6(128, 0, 0x00010001).payload(32).build(),
                 "icmp_echo"});
    c.push_back({"v6 ns", ns6(), "nd"});
    c.push_back({"arp request", arp_req(), "arp"});
    c.push_back({"arp reply padded",
                 Builder().eth().arp(VIP4, CLIENT4, {.op = 2}).pad_to(60).build(), "arp"});
    c.push_back({"v4 tcp padded",
                 Builder().eth().ipv4(CLIENT4, VIP4).tcp(CPORT, VPORT).pad_to(60).build(), "flow"});
    c.push_back({"v4 frag needed tcp",
                 icmp4_error(3, 4, prefix(backend_reply4(SL_IPPROTO_TCP), 28), 1400),
                 "icmp_error"});
    c.push_back(
        {"v4 time exceeded udp, quote with options",
         icmp4_error(11, 0, prefix(backend_reply4(SL_IPPROTO_UDP, {.options = Bytes(8, 1)}), 64)),
         "icmp_error"});
    c.push_back({"v6 packet too big tcp",
                 icmp6_error(2, 0, prefix(backend_reply6(SL_IPPROTO_TCP), 1232), 1280),
                 "icmp_error"});
    c.push_back({"v6 unreachable udp, quote with ext header",
                 icmp6_error(1, 4,
                             Builder()
                                 .ipv6(VIP6, CLIENT6)
                                 .ipv6_ext(SL_IPPROTO_DSTOPTS)
                                 .udp(VPORT, CPORT)
                                 .payload(100)
                                 .build()),
                 "icmp_error"});
    return c;
}

// The drop reason of `full` cut to n bytes, derived from the header lengths of
// the full packet: inside L2 or a fixed/declared header -> truncated; inside
// the IP packet -> the IP length error; within the Ethernet padding -> as whole.
std::string expected_when_cut(const Bytes &full, const Result &whole, size_t n) {
    const sl_pkt &p = whole.pkt;
    if (n < p.l3_off) {
        return drop(SL_DROP_TRUNCATED);
    }
    switch (p.ethertype) {
        case SL_ETH_P_ARP:
            return n < p.l3_off + 28u ? drop(SL_DROP_TRUNCATED) : outcome(whole);
        case SL_ETH_P_IPV4: {
            size_t ihl = (full[p.l3_off] & 0x0fu) * 4u;
            if (n < p.l3_off + ihl) {
                return drop(SL_DROP_TRUNCATED);
            }
            return n < size_t{p.l3_off} + p.l3_len ? drop(SL_DROP_IPV4_BAD_LENGTH) : outcome(whole);
        }
        case SL_ETH_P_IPV6:
            if (n < p.l3_off + 40u) {
                return drop(SL_DROP_TRUNCATED);
            }
            return n < size_t{p.l3_off} + p.l3_len ? drop(SL_DROP_IPV6_BAD_HEADER) : outcome(whole);
        default:
            return "unexpected ethertype";
    }
}

// Properties every result holds; "" when they do.
std::string invariant_violation(const uint8_t *data, size_t len, sl_verdict v, const sl_pkt &p) {
    if (v > SL_VERDICT_DROP) {
        return "verdict out of range";
    }
    if (v == SL_VERDICT_DROP) {
        if (p.drop == SL_DROP_NONE || p.drop > SL_DROP_ICMP_BAD_INNER) {
            return "drop reason not a parser reason";
        }
        return "";
    }
    if (p.drop != SL_DROP_NONE) {
        return "drop reason set without a drop";
    }
    if (p.key.pad != 0) {
        return "key pad not zero";
    }
    if (p.n_vlans > SL_MAX_VLAN_TAGS) {
        return "too many vlans";
    }
    if (size_t{p.l3_off} + p.l3_len > len) {
        return "l3 past the frame";
    }
    const size_t l3_end = size_t{p.l3_off} + p.l3_len;
    if (v == SL_VERDICT_ARP) {
        return p.l3_len == 28 && p.ethertype == SL_ETH_P_ARP && p.key.family == 0
                   ? ""
                   : "bad arp result";
    }
    const int fam = p.key.family;
    if (fam != SL_AF_INET && fam != SL_AF_INET6) {
        return "family not set";
    }
    if ((fam == SL_AF_INET) != (p.ethertype == SL_ETH_P_IPV4)) {
        return "family does not match ethertype";
    }
    if (fam == SL_AF_INET) {
        for (int i = 4; i < 16; i++) {
            if (p.key.src[i] != 0 || p.key.dst[i] != 0) {
                return "IPv4 key not zero past the address";
            }
        }
    }
    switch (v) {
        case SL_VERDICT_FLOW:
            if (p.l4_proto != SL_IPPROTO_TCP && p.l4_proto != SL_IPPROTO_UDP) {
                return "flow that is not TCP/UDP";
            }
            if (p.key.proto != p.l4_proto) {
                return "key proto differs from l4_proto";
            }
            if (p.frag == SL_FRAG_NONE) {
                size_t min = p.l4_proto == SL_IPPROTO_TCP ? 20 : 8;
                if (p.l4_off <= p.l3_off || p.l4_off + min > l3_end) {
                    return "L4 header outside the IP packet";
                }
                uint16_t sport;
                uint16_t dport;
                std::memcpy(&sport, data + p.l4_off, 2);
                std::memcpy(&dport, data + p.l4_off + 2, 2);
                if (sport != p.key.sport || dport != p.key.dport) {
                    return "key ports differ from the L4 header";
                }
            } else {
                if (p.key.sport != 0 || p.key.dport != 0) {
                    return "fragment with ports";
                }
                if (p.frag == SL_FRAG_LATER && p.l4_off != 0) {
                    return "later fragment with l4_off";
                }
                if (p.frag == SL_FRAG_FIRST && (p.l4_off <= p.l3_off || p.l4_off > l3_end)) {
                    return "first fragment l4_off outside the packet";
                }
            }
            return "";
        case SL_VERDICT_ICMP_ECHO:
        case SL_VERDICT_ND:
            if (p.l4_off + (v == SL_VERDICT_ND ? 24u : 8u) > l3_end) {
                return "ICMP message outside the packet";
            }
            return p.frag == SL_FRAG_NONE ? "" : "ICMP fragment accepted";
        case SL_VERDICT_ICMP_ERROR:
            if (p.key.proto != SL_IPPROTO_TCP && p.key.proto != SL_IPPROTO_UDP) {
                return "ICMP error keyed on a non TCP/UDP packet";
            }
            if (p.inner_l3_off != p.l4_off + 8 || p.inner_l3_off >= l3_end) {
                return "inner_l3_off wrong";
            }
            if (fam == SL_AF_INET) {
                const uint8_t *in = data + p.inner_l3_off;
                size_t ihl = (in[0] & 0x0fu) * 4u;
                if (p.inner_l3_off + ihl + 4 > l3_end) {
                    return "inner ports outside the packet";
                }
                if (std::memcmp(p.key.src, in + 16, 4) != 0 ||
                    std::memcmp(p.key.dst, in + 12, 4) != 0) {
                    return "inner addresses not reversed";
                }
                uint16_t sport;
                uint16_t dport;
                std::memcpy(&sport, in + ihl, 2);
                std::memcpy(&dport, in + ihl + 2, 2);
                if (p.key.sport != dport || p.key.dport != sport) {
                    return "inner ports not reversed";
                }
            }
            return "";
        default:
            return "unexpected verdict";
    }
}

} // namespace

TEST_CASE("parse: IPv4 TCP fills offsets and the 5-tuple", "[parse]") {
    Bytes b = v4_tcp();
    Result r = parse(b);
    REQUIRE(outcome(r) == "flow");
    CHECK(r.pkt.drop == SL_DROP_NONE);
    CHECK(r.pkt.ethertype == SL_ETH_P_IPV4);
    CHECK(r.pkt.n_vlans == 0);
    CHECK(r.pkt.vlan_tci[0] == 0);
    CHECK(r.pkt.l3_off == 14);
    CHECK(r.pkt.l4_off == 34);
    CHECK(r.pkt.l3_len == 20 + 20 + 20);
    CHECK(r.pkt.l4_proto == SL_IPPROTO_TCP);
    CHECK(r.pkt.frag == SL_FRAG_NONE);
    CHECK(r.pkt.icmp_type == 0);
    CHECK(r.pkt.inner_l3_off == 0);
    CHECK(key_str(r.pkt.key) ==
          key_str(make_key(SL_AF_INET, CLIENT4, CPORT, VIP4, VPORT, SL_IPPROTO_TCP)));
    // ports in network order, as on the wire
    CHECK(std::memcmp(&r.pkt.key.sport, b.data() + 34, 4) == 0);
}

TEST_CASE("parse: IPv4 UDP and IPv6 TCP/UDP", "[parse]") {
    Result u4 = parse(v4_udp());
    REQUIRE(outcome(u4) == "flow");
    CHECK(u4.pkt.l4_off == 34);
    CHECK(key_str(u4.pkt.key) ==
          key_str(make_key(SL_AF_INET, CLIENT4, CPORT, VIP4, VPORT, SL_IPPROTO_UDP)));

    Result t6 = parse(v6_tcp());
    REQUIRE(outcome(t6) == "flow");
    CHECK(t6.pkt.ethertype == SL_ETH_P_IPV6);
    CHECK(t6.pkt.l3_off == 14);
    CHECK(t6.pkt.l4_off == 54);
    CHECK(t6.pkt.l3_len == 40 + 20 + 20);
    CHECK(key_str(t6.pkt.key) ==
          key_str(make_key(SL_AF_INET6, CLIENT6, CPORT, VIP6, VPORT, SL_IPPROTO_TCP)));

    Result u6 = parse(v6_udp());
    REQUIRE(outcome(u6) == "flow");
    CHECK(u6.pkt.l4_proto == SL_IPPROTO_UDP);
    CHECK(key_str(u6.pkt.key) ==
          key_str(make_key(SL_AF_INET6, CLIENT6, CPORT, VIP6, VPORT, SL_IPPROTO_UDP)));
}

TEST_CASE("parse: empty/NULL and sub-Ethernet frames", "[parse]") {
    sl_pkt pkt;
    std::memset(&pkt, 0xa5, sizeof(pkt));
    CHECK(outcome(sl_parse(nullptr, 0, &pkt), pkt) == drop(SL_DROP_TRUNCATED));
    for (size_t n = 0; n < 14; n++) {
        CHECK(outcome(Bytes(n, 0x08)) == drop(SL_DROP_TRUNCATED));
    }
    // the whole result is zeroed, not only the key
    Result r = parse(Bytes(3, 0));
    sl_pkt zero;
    std::memset(&zero, 0, sizeof(zero));
    zero.drop = SL_DROP_TRUNCATED;
    CHECK(std::memcmp(&r.pkt, &zero, sizeof(zero)) == 0);
    // sl_parse_frame on the same bytes agrees
    Bytes b = v6_tcp();
    sl_pkt a;
    CHECK(sl_parse_frame(b.data(), b.data() + b.size(), &a) == SL_VERDICT_FLOW);
    Result same = parse(b);
    CHECK(std::memcmp(&a, &same.pkt, sizeof(a)) == 0);
}

TEST_CASE("parse: 802.1Q and QinQ", "[parse]") {
    SECTION("one 802.1Q tag") {
        Result r = parse(Builder().eth().vlan(0x2064).ipv4(CLIENT4, VIP4).tcp(1, 2).build());
        REQUIRE(outcome(r) == "flow");
        CHECK(r.pkt.n_vlans == 1);
        CHECK(r.pkt.vlan_tci[0] == 0x2064); // host order, PCP bits kept
        CHECK(r.pkt.l3_off == 18);
        CHECK(r.pkt.l4_off == 38);
    }
    SECTION("QinQ 0x88A8 + 0x8100") {
        Result r = parse(Builder()
                             .eth()
                             .vlan(0x0123, SL_ETH_P_8021AD)
                             .vlan(0x0456)
                             .ipv6(CLIENT6, VIP6)
                             .udp(1, 2)
                             .build());
        REQUIRE(outcome(r) == "flow");
        CHECK(r.pkt.n_vlans == 2);
        CHECK(r.pkt.vlan_tci[0] == 0x0123);
        CHECK(r.pkt.vlan_tci[1] == 0x0456);
        CHECK(r.pkt.l3_off == 22);
        CHECK(r.pkt.ethertype == SL_ETH_P_IPV6);
    }
    SECTION("double 0x8100 and a lone 0x88A8 tag") {
        CHECK(outcome(Builder().eth().vlan(1).vlan(2).ipv4(CLIENT4, VIP4).udp(1, 2).build()) ==
              "flow");
        CHECK(outcome(
                  Builder().eth().vlan(7, SL_ETH_P_8021AD).ipv4(CLIENT4, VIP4).udp(1, 2).build()) ==
              "flow");
    }
    SECTION("ARP in a VLAN") {
        Result r = parse(Builder().eth().vlan(5).arp(CLIENT4, VIP4).build());
        REQUIRE(outcome(r) == "arp");
        CHECK(r.pkt.l3_off == 18);
    }
    SECTION("three tags, or 0x88A8 inside") {
        CHECK(outcome(Builder().eth().vlan(1).vlan(2).vlan(3).ipv4(CLIENT4, VIP4).build()) ==
              drop(SL_DROP_L2_UNSUPPORTED));
        CHECK(outcome(Builder()
                          .eth()
                          .vlan(1, SL_ETH_P_8021AD)
                          .vlan(2, SL_ETH_P_8021AD)
                          .ipv4(CLIENT4, VIP4)
                          .build()) == drop(SL_DROP_L2_UNSUPPORTED));
        CHECK(
            outcome(Builder().eth().vlan(1).vlan(2, SL_ETH_P_8021AD).ipv4(CLIENT4, VIP4).build()) ==
            drop(SL_DROP_L2_UNSUPPORTED));
    }
    SECTION("tag cut short") {
        Bytes b = Builder().eth().vlan(1).vlan(2).ipv4(CLIENT4, VIP4).build();
        CHECK(outcome(prefix(b, 16)) == drop(SL_DROP_TRUNCATED));
        CHECK(outcome(prefix(b, 20)) == drop(SL_DROP_TRUNCATED));
    }
}

TEST_CASE("parse: ARP", "[parse]") {
    Result r = parse(arp_req());
    REQUIRE(outcome(r) == "arp");
    CHECK(r.pkt.ethertype == SL_ETH_P_ARP);
    CHECK(r.pkt.l3_off == 14);
    CHECK(r.pkt.l3_len == 28);
    CHECK(r.pkt.key.family == 0);
    CHECK(outcome(arp_req({.op = 2})) == "arp");
    CHECK(outcome(Builder().eth().arp(CLIENT4, VIP4).pad_to(60).build()) == "arp");

    CHECK(outcome(arp_req({.hrd = 6})) == drop(SL_DROP_ARP_MALFORMED));
    CHECK(outcome(arp_req({.pro = 0x86dd})) == drop(SL_DROP_ARP_MALFORMED));
    CHECK(outcome(arp_req({.hln = 8})) == drop(SL_DROP_ARP_MALFORMED));
    CHECK(outcome(arp_req({.pln = 16})) == drop(SL_DROP_ARP_MALFORMED));
    CHECK(outcome(arp_req({.op = 3})) == drop(SL_DROP_ARP_MALFORMED)); // RARP op
    CHECK(outcome(arp_req({.op = 0})) == drop(SL_DROP_ARP_MALFORMED));
    CHECK(outcome(prefix(arp_req(), 14 + 27)) == drop(SL_DROP_TRUNCATED));
}

TEST_CASE("parse: unsupported ethertypes", "[parse]") {
    for (uint16_t et : {0x88cc, 0x8035, 0x0842, 0x8847, 0x0000, 0x05dc, 0xffff}) {
        INFO("ethertype " << et);
        Result r = parse(Builder().eth(kMacA, kMacB, et).payload(46).build());
        CHECK(outcome(r) == drop(SL_DROP_L2_UNSUPPORTED));
        CHECK(r.pkt.ethertype == et);
    }
    // IPv4 behind a VLAN tag whose inner ethertype is unknown
    CHECK(outcome(Builder().eth().vlan(1, 0x8100, 0x88b5).payload(46).build()) ==
          drop(SL_DROP_L2_UNSUPPORTED));
}

TEST_CASE("parse: IPv4 header checks and options", "[parse]") {
    SECTION("options of every length") {
        for (size_t words = 0; words <= 10; words++) {
            INFO("option words " << words);
            Bytes b = Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.options = Bytes(words * 4, 1)})
                          .udp(CPORT, VPORT)
                          .build();
            Result r = parse(b);
            REQUIRE(outcome(r) == "flow");
            CHECK(r.pkt.l4_off == 14 + 20 + words * 4);
            CHECK(key_str(r.pkt.key) ==
                  key_str(make_key(SL_AF_INET, CLIENT4, CPORT, VIP4, VPORT, SL_IPPROTO_UDP)));
        }
    }
    SECTION("version other than 4") {
        for (uint8_t ver : {0, 1, 5, 6, 15}) {
            INFO("version " << int(ver));
            CHECK(
                outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.version = ver}).tcp(1, 2).build()) ==
                drop(SL_DROP_IPV4_BAD_HEADER));
        }
        // an IPv6 header behind the IPv4 ethertype
        CHECK(
            outcome(
                Builder().eth(kMacA, kMacB, SL_ETH_P_IPV4).ipv6(CLIENT6, VIP6).tcp(1, 2).build()) ==
            drop(SL_DROP_IPV4_BAD_HEADER));
    }
    SECTION("IHL below 5") {
        for (uint8_t ihl = 0; ihl < 5; ihl++) {
            INFO("ihl " << int(ihl));
            CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.ihl = ihl}).tcp(1, 2).build()) ==
                  drop(SL_DROP_IPV4_BAD_HEADER));
        }
    }
    SECTION("IHL past the frame") {
        // IHL 15 with 20 header bytes and a 4-byte payload: the header itself is cut
        Bytes b = Builder().eth().ipv4(CLIENT4, VIP4, {.ihl = 15}).payload(4).build();
        CHECK(outcome(b) == drop(SL_DROP_TRUNCATED));
    }
    SECTION("total length") {
        CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.tot_len = 19}).tcp(1, 2).build()) ==
              drop(SL_DROP_IPV4_BAD_LENGTH));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.options = Bytes(4, 1), .tot_len = 20})
                          .tcp(1, 2)
                          .build()) == drop(SL_DROP_IPV4_BAD_LENGTH));
        CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.tot_len = 0}).tcp(1, 2).build()) ==
              drop(SL_DROP_IPV4_BAD_LENGTH));
        CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.tot_len = 41}).tcp(1, 2).build()) ==
              drop(SL_DROP_IPV4_BAD_LENGTH));
        CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.tot_len = 0xffff}).tcp(1, 2).build()) ==
              drop(SL_DROP_IPV4_BAD_LENGTH));
    }
    SECTION("header checksum and TTL are not the parser's business") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.ttl = 0, .check = 0x1234})
                          .tcp(1, 2)
                          .build()) == "flow");
    }
}

TEST_CASE("parse: Ethernet padding after the IP packet", "[parse]") {
    Bytes b =
        Builder().eth().ipv4(CLIENT4, VIP4).udp(CPORT, VPORT).trailer(Bytes(18, 0xee)).build();
    REQUIRE(b.size() == 14 + 28 + 18);
    Result r = parse(b);
    REQUIRE(outcome(r) == "flow");
    CHECK(r.pkt.l3_len == 28);
    // the UDP length is checked against the IP packet, not the frame
    Bytes bad = Builder()
                    .eth()
                    .ipv4(CLIENT4, VIP4)
                    .udp(CPORT, VPORT, {.len = 8 + 18})
                    .trailer(Bytes(18, 0))
                    .build();
    CHECK(outcome(bad) == drop(SL_DROP_L4_BAD_HEADER));
    // a TCP header that runs into the padding is cut
    Bytes tcp = Builder()
                    .eth()
                    .ipv4(CLIENT4, VIP4, {.tot_len = 20 + 12})
                    .tcp(CPORT, VPORT)
                    .pad_to(60)
                    .build();
    CHECK(outcome(tcp) == drop(SL_DROP_TRUNCATED));
    // IPv6 likewise
    Result r6 = parse(Builder().eth().ipv6(CLIENT6, VIP6).udp(1, 2).trailer(Bytes(7, 1)).build());
    REQUIRE(outcome(r6) == "flow");
    CHECK(r6.pkt.l3_len == 48);
}

TEST_CASE("parse: IPv6 header checks", "[parse]") {
    for (uint8_t ver : {0, 4, 7, 15}) {
        INFO("version " << int(ver));
        CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.version = ver}).tcp(1, 2).build()) ==
              drop(SL_DROP_IPV6_BAD_HEADER));
    }
    CHECK(outcome(
              Builder().eth(kMacA, kMacB, SL_ETH_P_IPV6).ipv4(CLIENT4, VIP4).payload(40).build()) ==
          drop(SL_DROP_IPV6_BAD_HEADER));
    CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.payload_len = 21}).tcp(1, 2).build()) ==
          drop(SL_DROP_IPV6_BAD_HEADER));
    CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.payload_len = 0xffff}).tcp(1, 2).build()) ==
          drop(SL_DROP_IPV6_BAD_HEADER));
    // payload length 0 (no jumbogram support): the TCP header lies outside the packet
    CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.payload_len = 0}).tcp(1, 2).build()) ==
          drop(SL_DROP_TRUNCATED));
    // an IP length over 65535 (payload 65496 + 40) does not fit l3_len
    Bytes big = Builder().eth().ipv6(CLIENT6, VIP6).udp(1, 2).payload(65535 - 8 - 40 + 1).build();
    REQUIRE(big.size() == 14 + 40 + 65496);
    CHECK(outcome(big) == drop(SL_DROP_IPV6_BAD_HEADER));
    Bytes max = Builder().eth().ipv6(CLIENT6, VIP6).udp(1, 2).payload(65535 - 8 - 40).build();
    Result r = parse(max);
    REQUIRE(outcome(r) == "flow");
    CHECK(r.pkt.l3_len == 65535);
}

TEST_CASE("parse: IPv6 extension headers", "[parse]") {
    const sl_flow_key want = make_key(SL_AF_INET6, CLIENT6, CPORT, VIP6, VPORT, SL_IPPROTO_TCP);
    SECTION("each type alone, of several lengths") {
        for (uint8_t type : {SL_IPPROTO_HOPOPTS, SL_IPPROTO_ROUTING, SL_IPPROTO_DSTOPTS}) {
            for (size_t body : {6, 14, 30, 2038}) {
                INFO("type " << int(type) << " body " << body);
                Result r = parse(Builder()
                                     .eth()
                                     .ipv6(CLIENT6, VIP6)
                                     .ipv6_ext(type, {.body = body})
                                     .tcp(CPORT, VPORT)
                                     .build());
                REQUIRE(outcome(r) == "flow");
                CHECK(r.pkt.l4_off == 14 + 40 + 2 + body);
                CHECK(r.pkt.l4_proto == SL_IPPROTO_TCP);
                CHECK(key_str(r.pkt.key) == key_str(want));
            }
        }
    }
    SECTION("the longest header (hdrlen 255) and a full chain") {
        Result r = parse(Builder()
                             .eth()
                             .ipv6(CLIENT6, VIP6)
                             .ipv6_ext(SL_IPPROTO_HOPOPTS, {.body = 2046})
                             .ipv6_ext(SL_IPPROTO_DSTOPTS)
                             .ipv6_ext(SL_IPPROTO_ROUTING)
                             .ipv6_frag(0, false) // atomic fragment: walked through
                             .ipv6_ext(SL_IPPROTO_DSTOPTS)
                             .udp(CPORT, VPORT)
                             .build());
        REQUIRE(outcome(r) == "flow");
        CHECK(r.pkt.frag == SL_FRAG_NONE);
        CHECK(r.pkt.l4_off == 14 + 40 + 2048 + 8 + 8 + 8 + 8);
        CHECK(r.pkt.key.sport == htons(CPORT));
    }
    SECTION("SL_MAX_IPV6_EXT headers pass, one more does not") {
        for (int n : {SL_MAX_IPV6_EXT - 1, SL_MAX_IPV6_EXT, SL_MAX_IPV6_EXT + 1, 20}) {
            INFO(n << " headers");
            Builder b;
            b.eth().ipv6(CLIENT6, VIP6);
            for (int i = 0; i < n; i++) {
                b.ipv6_ext(i % 2 ? SL_IPPROTO_ROUTING : SL_IPPROTO_DSTOPTS);
            }
            Result r = parse(b.tcp(CPORT, VPORT).build());
            CHECK(outcome(r) == (n <= SL_MAX_IPV6_EXT ? "flow" : drop(SL_DROP_IPV6_BAD_EXT)));
        }
    }
    SECTION("hop-by-hop only first") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_ext(SL_IPPROTO_DSTOPTS)
                          .ipv6_ext(SL_IPPROTO_HOPOPTS)
                          .tcp(1, 2)
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_ext(SL_IPPROTO_HOPOPTS)
                          .ipv6_ext(SL_IPPROTO_HOPOPTS)
                          .tcp(1, 2)
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
    }
    SECTION("header past the payload") {
        // hdrlen says 16 bytes, the payload holds 8
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_ext(SL_IPPROTO_DSTOPTS, {.hdrlen = 1, .nexthdr = 59})
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
        // payload shorter than the minimum 8 bytes; the rest is Ethernet padding
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6, {.payload_len = 4})
                          .ipv6_ext(SL_IPPROTO_ROUTING, {.nexthdr = 59})
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
        CHECK(
            outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.nexthdr = SL_IPPROTO_HOPOPTS}).build()) ==
            drop(SL_DROP_IPV6_BAD_EXT));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6, {.nexthdr = SL_IPPROTO_FRAGMENT})
                          .payload(7)
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
        // hdrlen 255 (2048 bytes) with a short payload
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_ext(SL_IPPROTO_HOPOPTS, {.hdrlen = 255})
                          .tcp(1, 2)
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
    }
    SECTION("two fragment headers") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_frag(0, false)
                          .ipv6_frag(0, true)
                          .tcp(1, 2)
                          .build()) == drop(SL_DROP_IPV6_BAD_EXT));
    }
    SECTION("ESP, AH, no next header, mobility: not TCP/UDP") {
        for (uint8_t nh : {50, 51, 59, 135, 41, 4}) {
            INFO("next header " << int(nh));
            Result r = parse(Builder()
                                 .eth()
                                 .ipv6(CLIENT6, VIP6)
                                 .ipv6_ext(SL_IPPROTO_DSTOPTS, {.nexthdr = nh})
                                 .payload(40)
                                 .build());
            CHECK(outcome(r) == drop(SL_DROP_L4_UNSUPPORTED));
            CHECK(r.pkt.l4_proto == nh);
        }
    }
}

TEST_CASE("parse: TCP header checks", "[parse]") {
    for (uint8_t doff = 0; doff < 5; doff++) {
        INFO("doff " << int(doff));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4)
                          .tcp(1, 2, {.doff = doff})
                          .payload(40)
                          .build()) == drop(SL_DROP_L4_BAD_HEADER));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .tcp(1, 2, {.doff = doff})
                          .payload(40)
                          .build()) == drop(SL_DROP_L4_BAD_HEADER));
    }
    // data offset past the packet
    CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4).tcp(1, 2, {.doff = 6}).build()) ==
          drop(SL_DROP_TRUNCATED));
    CHECK(
        outcome(Builder().eth().ipv6(CLIENT6, VIP6).tcp(1, 2, {.doff = 15}).payload(39).build()) ==
        drop(SL_DROP_TRUNCATED));
    CHECK(
        outcome(Builder().eth().ipv6(CLIENT6, VIP6).tcp(1, 2, {.doff = 15}).payload(40).build()) ==
        "flow");
    // full options
    Result r = parse(
        Builder().eth().ipv4(CLIENT4, VIP4).tcp(CPORT, VPORT, {.options = Bytes(40, 1)}).build());
    REQUIRE(outcome(r) == "flow");
    CHECK(r.pkt.key.dport == htons(VPORT));
    // fewer than 20 bytes of TCP in the IP packet
    CHECK(outcome(Builder()
                      .eth()
                      .ipv4(CLIENT4, VIP4, {.protocol = SL_IPPROTO_TCP})
                      .payload(19)
                      .build()) == drop(SL_DROP_TRUNCATED));
}

TEST_CASE("parse: UDP header checks", "[parse]") {
    for (uint16_t len : {0, 1, 7}) {
        INFO("len " << len);
        CHECK(outcome(
                  Builder().eth().ipv4(CLIENT4, VIP4).udp(1, 2, {.len = len}).payload(8).build()) ==
              drop(SL_DROP_L4_BAD_HEADER));
    }
    CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6).udp(1, 2, {.len = 17}).payload(8).build()) ==
          drop(SL_DROP_L4_BAD_HEADER));
    CHECK(outcome(
              Builder().eth().ipv4(CLIENT4, VIP4).udp(1, 2, {.len = 0xffff}).payload(8).build()) ==
          drop(SL_DROP_L4_BAD_HEADER));
    // a UDP length below the IP payload is accepted
    CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4).udp(1, 2, {.len = 8}).payload(8).build()) ==
          "flow");
    CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6).udp(1, 2, {.len = 16}).payload(8).build()) ==
          "flow");
    CHECK(
        outcome(
            Builder().eth().ipv6(CLIENT6, VIP6, {.nexthdr = SL_IPPROTO_UDP}).payload(7).build()) ==
        drop(SL_DROP_TRUNCATED));
}

TEST_CASE("parse: other L4 protocols", "[parse]") {
    for (uint8_t proto : {0, 2, 4, 41, 47, 50, 58, 89, 132, 255}) {
        INFO("IPv4 protocol " << int(proto));
        Result r =
            parse(Builder().eth().ipv4(CLIENT4, VIP4, {.protocol = proto}).payload(40).build());
        CHECK(outcome(r) == drop(SL_DROP_L4_UNSUPPORTED));
        CHECK(r.pkt.l4_proto == proto);
    }
    for (uint8_t proto : {1, 2, 4, 47, 132}) {
        INFO("IPv6 next header " << int(proto));
        CHECK(
            outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.nexthdr = proto}).payload(40).build()) ==
            drop(SL_DROP_L4_UNSUPPORTED));
    }
}

TEST_CASE("parse: IPv4 fragments are keyed without ports", "[parse]") {
    const sl_flow_key whole = parse(v4_udp()).pkt.key;
    const sl_flow_key noports = with_ports(whole, 0, 0);
    SECTION("first and later fragments of one datagram share a key") {
        Result first = parse(Builder()
                                 .eth()
                                 .ipv4(CLIENT4, VIP4, {.id = 7, .frag_off = 0x2000})
                                 .udp(CPORT, VPORT, {.len = 2008})
                                 .payload(1472)
                                 .build());
        REQUIRE(outcome(first) == "flow");
        CHECK(first.pkt.frag == SL_FRAG_FIRST);
        CHECK(first.pkt.l4_off == 34);
        CHECK(key_str(first.pkt.key) == key_str(noports));

        Result middle =
            parse(Builder()
                      .eth()
                      .ipv4(CLIENT4, VIP4, {.id = 7, .frag_off = 0x2000 | 185, .protocol = 17})
                      .payload(8)
                      .build());
        REQUIRE(outcome(middle) == "flow");
        CHECK(middle.pkt.frag == SL_FRAG_LATER);
        CHECK(middle.pkt.l4_off == 0);
        CHECK(key_str(middle.pkt.key) == key_str(noports));

        Result last = parse(Builder()
                                .eth()
                                .ipv4(CLIENT4, VIP4, {.id = 7, .frag_off = 186, .protocol = 17})
                                .payload(520)
                                .build());
        REQUIRE(outcome(last) == "flow");
        CHECK(last.pkt.frag == SL_FRAG_LATER);
        CHECK(last.pkt.l4_off == 0);
        CHECK(key_str(last.pkt.key) == key_str(noports));
    }
    SECTION("DF alone is no fragment") {
        Result r =
            parse(Builder().eth().ipv4(CLIENT4, VIP4, {.frag_off = 0x4000}).udp(1, 2).build());
        CHECK(r.pkt.frag == SL_FRAG_NONE);
        CHECK(r.pkt.key.sport == htons(1));
    }
    SECTION("TCP first fragment") {
        Result r = parse(Builder()
                             .eth()
                             .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000})
                             .tcp(CPORT, VPORT)
                             .payload(100)
                             .build());
        REQUIRE(outcome(r) == "flow");
        CHECK(r.pkt.frag == SL_FRAG_FIRST);
        CHECK(r.pkt.key.sport == 0);
        CHECK(r.pkt.key.dport == 0);
        CHECK(r.pkt.key.proto == SL_IPPROTO_TCP);
    }
    SECTION("a first fragment too short for its L4 header is still a flow") {
        for (size_t n : {0, 1, 7, 10, 19}) {
            INFO(n << " bytes of TCP");
            Result r = parse(Builder()
                                 .eth()
                                 .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000, .protocol = 6})
                                 .payload(n, 0x00)
                                 .build());
            REQUIRE(outcome(r) == "flow");
            CHECK(r.pkt.l4_off == 34);
        }
        Result u = parse(Builder()
                             .eth()
                             .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000, .protocol = 17})
                             .payload(4, 0x00)
                             .build());
        CHECK(outcome(u) == "flow");
    }
    SECTION("a whole L4 header in a first fragment is checked") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000})
                          .tcp(1, 2, {.doff = 4})
                          .payload(16)
                          .build()) == drop(SL_DROP_L4_BAD_HEADER));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000})
                          .udp(1, 2, {.len = 7})
                          .payload(16)
                          .build()) == drop(SL_DROP_L4_BAD_HEADER));
    }
    SECTION("ICMP fragments are not reassembled") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000})
                          .icmp(8, 0)
                          .payload(64)
                          .build()) == drop(SL_DROP_ICMP_UNSUPPORTED));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.frag_off = 100, .protocol = 1})
                          .payload(64)
                          .build()) == drop(SL_DROP_ICMP_UNSUPPORTED));
    }
    SECTION("fragments of other protocols") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.frag_off = 0x2000, .protocol = 47})
                          .payload(64)
                          .build()) == drop(SL_DROP_L4_UNSUPPORTED));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(CLIENT4, VIP4, {.frag_off = 3, .protocol = 58})
                          .payload(64)
                          .build()) == drop(SL_DROP_L4_UNSUPPORTED));
    }
}

TEST_CASE("parse: IPv6 fragments are keyed without ports", "[parse]") {
    const sl_flow_key noports = with_ports(parse(v6_tcp()).pkt.key, 0, 0);
    SECTION("first, middle and last fragment share a key") {
        Result first = parse(Builder()
                                 .eth()
                                 .ipv6(CLIENT6, VIP6)
                                 .ipv6_frag(0, true, 9)
                                 .tcp(CPORT, VPORT)
                                 .payload(1000)
                                 .build());
        REQUIRE(outcome(first) == "flow");
        CHECK(first.pkt.frag == SL_FRAG_FIRST);
        CHECK(first.pkt.l4_off == 14 + 40 + 8);
        CHECK(key_str(first.pkt.key) == key_str(noports));
        for (bool more : {true, false}) {
            INFO("more " << more);
            Result later = parse(Builder()
                                     .eth()
                                     .ipv6(CLIENT6, VIP6)
                                     .ipv6_ext(SL_IPPROTO_HOPOPTS)
                                     .ipv6_ext(SL_IPPROTO_ROUTING)
                                     .ipv6_frag(127, more, 9, SL_IPPROTO_TCP)
                                     .payload(200)
                                     .build());
            REQUIRE(outcome(later) == "flow");
            CHECK(later.pkt.frag == SL_FRAG_LATER);
            CHECK(later.pkt.l4_off == 0);
            CHECK(key_str(later.pkt.key) == key_str(noports));
        }
    }
    SECTION("UDP first fragment with the datagram's UDP length") {
        Result r = parse(Builder()
                             .eth()
                             .ipv6(CLIENT6, VIP6)
                             .ipv6_frag(0, true)
                             .udp(CPORT, VPORT, {.len = 3000})
                             .payload(100)
                             .build());
        REQUIRE(outcome(r) == "flow");
        CHECK(r.pkt.key.sport == 0);
        CHECK(r.pkt.key.proto == SL_IPPROTO_UDP);
    }
    SECTION("atomic fragment (RFC 6946) is a whole packet") {
        Result r = parse(
            Builder().eth().ipv6(CLIENT6, VIP6).ipv6_frag(0, false).tcp(CPORT, VPORT).build());
        REQUIRE(outcome(r) == "flow");
        CHECK(r.pkt.frag == SL_FRAG_NONE);
        CHECK(key_str(r.pkt.key) == key_str(parse(v6_tcp()).pkt.key));
    }
    SECTION("extension headers after the fragment header are not walked") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_frag(0, true)
                          .ipv6_ext(SL_IPPROTO_DSTOPTS)
                          .tcp(1, 2)
                          .build()) == drop(SL_DROP_L4_UNSUPPORTED));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_frag(5, true, 1, SL_IPPROTO_DSTOPTS)
                          .payload(16)
                          .build()) == drop(SL_DROP_L4_UNSUPPORTED));
    }
    SECTION("ICMPv6 fragments are not reassembled") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_frag(0, true)
                          .icmp6(128, 0)
                          .payload(64)
                          .build()) == drop(SL_DROP_ICMP_UNSUPPORTED));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_frag(9, false, 1, SL_IPPROTO_ICMPV6)
                          .payload(64)
                          .build()) == drop(SL_DROP_ICMP_UNSUPPORTED));
    }
    SECTION("a whole TCP header in a first fragment is checked") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_frag(0, true)
                          .tcp(1, 2, {.doff = 2})
                          .build()) == drop(SL_DROP_L4_BAD_HEADER));
    }
}

TEST_CASE("parse: ICMP echo request", "[parse]") {
    Result r4 =
        parse(Builder().eth().ipv4(CLIENT4, VIP4).icmp(8, 0, 0x12340001).payload(56).build());
    REQUIRE(outcome(r4) == "icmp_echo");
    CHECK(r4.pkt.icmp_type == 8);
    CHECK(r4.pkt.icmp_code == 0);
    CHECK(r4.pkt.l4_off == 34);
    CHECK(r4.pkt.l4_proto == SL_IPPROTO_ICMP);
    CHECK(key_str(r4.pkt.key) ==
          key_str(make_key(SL_AF_INET, CLIENT4, 0, VIP4, 0, SL_IPPROTO_ICMP)));

    Result r6 = parse(Builder()
                          .eth()
                          .vlan(3)
                          .ipv6(CLIENT6, VIP6)
                          .ipv6_ext(SL_IPPROTO_DSTOPTS)
                          .icmp6(128, 0, 0x12340001)
                          .build());
    REQUIRE(outcome(r6) == "icmp_echo");
    CHECK(r6.pkt.icmp_type == 128);
    CHECK(r6.pkt.l4_off == 18 + 40 + 8);
    CHECK(r6.pkt.l4_proto == SL_IPPROTO_ICMPV6);

    // fewer than 8 bytes of ICMP
    CHECK(outcome(Builder().eth().ipv4(CLIENT4, VIP4, {.protocol = 1}).payload(7).build()) ==
          drop(SL_DROP_TRUNCATED));
    CHECK(outcome(Builder().eth().ipv6(CLIENT6, VIP6, {.nexthdr = 58}).payload(4).build()) ==
          drop(SL_DROP_TRUNCATED));
}

TEST_CASE("parse: ICMPv6 neighbour solicitation", "[parse]") {
    Result r = parse(ns6());
    REQUIRE(outcome(r) == "nd");
    CHECK(r.pkt.icmp_type == 135);
    CHECK(r.pkt.l4_off == 54);
    CHECK(outcome(ns6({.hop_limit = 255}, 0, 16)) == "nd"); // no option
    CHECK(outcome(ns6({.hop_limit = 64})) == drop(SL_DROP_ICMP_UNSUPPORTED));
    CHECK(outcome(ns6({.hop_limit = 254})) == drop(SL_DROP_ICMP_UNSUPPORTED));
    CHECK(outcome(ns6({.hop_limit = 255}, 1)) == drop(SL_DROP_ICMP_UNSUPPORTED));
    CHECK(outcome(ns6({.hop_limit = 255}, 0, 15)) == drop(SL_DROP_TRUNCATED));
    CHECK(outcome(ns6({.hop_limit = 255}, 0, 0)) == drop(SL_DROP_TRUNCATED));
    // the hop limit is the IPv6 header's, also behind extension headers
    CHECK(outcome(Builder()
                      .eth()
                      .ipv6(CLIENT6, SOLICITED6, {.hop_limit = 255})
                      .ipv6_ext(SL_IPPROTO_HOPOPTS)
                      .icmp6(135, 0)
                      .payload(16, 0)
                      .build()) == "nd");
}

TEST_CASE("parse: ICMP types sluice neither answers nor forwards", "[parse]") {
    for (uint8_t type : {0, 1, 2, 5, 6, 9, 10, 13, 14, 15, 16, 17, 18, 30, 40, 42, 43, 255}) {
        INFO("ICMP type " << int(type));
        Result r = parse(Builder().eth().ipv4(CLIENT4, VIP4).icmp(type, 0).payload(40).build());
        CHECK(outcome(r) == drop(SL_DROP_ICMP_UNSUPPORTED));
        CHECK(r.pkt.icmp_type == type);
    }
    for (uint8_t type : {0, 5, 100, 127, 129, 130, 133, 134, 136, 137, 143, 255}) {
        INFO("ICMPv6 type " << int(type));
        CHECK(outcome(Builder()
                          .eth()
                          .ipv6(CLIENT6, VIP6, {.hop_limit = 255})
                          .icmp6(type, 0)
                          .payload(40)
                          .build()) == drop(SL_DROP_ICMP_UNSUPPORTED));
    }
}

TEST_CASE("parse: ICMPv4 errors are keyed by the embedded packet reversed", "[parse]") {
    struct Err {
        uint8_t type;
        int ncodes;
    };
    for (uint8_t proto : {SL_IPPROTO_TCP, SL_IPPROTO_UDP}) {
        // the key of the client->VIP flow, as the parser computes it
        Bytes client = Builder().eth().ipv4(CLIENT4, VIP4).tcp(CPORT, VPORT).build();
        if (proto == SL_IPPROTO_UDP) {
            client = Builder().eth().ipv4(CLIENT4, VIP4).udp(CPORT, VPORT).build();
        }
        Result flow = parse(client);
        REQUIRE(outcome(flow) == "flow");
        const Bytes reply = backend_reply4(proto);
        for (Err e : {Err{3, 16}, Err{4, 1}, Err{11, 2}, Err{12, 3}}) {
            for (int code = 0; code < e.ncodes; code++) {
                for (size_t quote : {28, 48, 576 - 28, 1000}) {
                    INFO("proto " << int(proto) << " type " << int(e.type) << " code " << code
                                  << " quote " << quote);
                    Bytes err =
                        icmp4_error(e.type, static_cast<uint8_t>(code), prefix(reply, quote),
                                    e.type == 3 && code == 4 ? 1400 : 0);
                    Result r = parse(err);
                    REQUIRE(outcome(r) == "icmp_error");
                    CHECK(key_str(r.pkt.key) == key_str(flow.pkt.key));
                    CHECK(r.pkt.icmp_type == e.type);
                    CHECK(r.pkt.icmp_code == code);
                    CHECK(r.pkt.l3_off == 14);
                    CHECK(r.pkt.l4_off == 34);
                    CHECK(r.pkt.inner_l3_off == 42);
                    CHECK(r.pkt.l4_proto == SL_IPPROTO_ICMP);
                }
            }
        }
    }
    SECTION("embedded IPv4 options, outer options and VLAN") {
        Result flow = parse(v4_tcp());
        Bytes quote = prefix(backend_reply4(SL_IPPROTO_TCP, {.options = Bytes(40, 1)}), 60 + 8);
        Result r = parse(Builder()
                             .eth()
                             .vlan(9)
                             .ipv4(ROUTER4, VIP4, {.options = Bytes(4, 1)})
                             .icmp(3, 4, 1400)
                             .payload(quote)
                             .build());
        REQUIRE(outcome(r) == "icmp_error");
        CHECK(r.pkt.inner_l3_off == 18 + 24 + 8);
        CHECK(key_str(r.pkt.key) == key_str(flow.pkt.key));
    }
    SECTION("embedded first fragment: its ports are used") {
        Result flow = parse(v4_udp());
        Bytes quote = prefix(backend_reply4(SL_IPPROTO_UDP, {.frag_off = 0x2000}), 28);
        Result r = parse(icmp4_error(11, 1, quote));
        REQUIRE(outcome(r) == "icmp_error");
        CHECK(key_str(r.pkt.key) == key_str(flow.pkt.key));
    }
    SECTION("only the ports of the L4 header need be quoted") {
        Result flow = parse(v4_tcp());
        Result r = parse(icmp4_error(3, 3, prefix(backend_reply4(SL_IPPROTO_TCP), 24)));
        REQUIRE(outcome(r) == "icmp_error");
        CHECK(key_str(r.pkt.key) == key_str(flow.pkt.key));
    }
}

TEST_CASE("parse: ICMPv6 errors are keyed by the embedded packet reversed", "[parse]") {
    for (uint8_t proto : {SL_IPPROTO_TCP, SL_IPPROTO_UDP}) {
        Bytes client = proto == SL_IPPROTO_TCP ? v6_tcp() : v6_udp();
        Result flow = parse(client);
        REQUIRE(outcome(flow) == "flow");
        const Bytes reply = backend_reply6(proto);
        for (uint8_t type : {1, 2, 3, 4}) {
            for (uint8_t code : {0, 1, 4}) {
                for (size_t quote : {48, 64, 1232}) {
                    INFO("proto " << int(proto) << " type " << int(type) << " code " << int(code)
                                  << " quote " << quote);
                    Result r =
                        parse(icmp6_error(type, code, prefix(reply, quote), type == 2 ? 1280 : 0));
                    REQUIRE(outcome(r) == "icmp_error");
                    CHECK(key_str(r.pkt.key) == key_str(flow.pkt.key));
                    CHECK(r.pkt.icmp_type == type);
                    CHECK(r.pkt.icmp_code == code);
                    CHECK(r.pkt.l4_off == 54);
                    CHECK(r.pkt.inner_l3_off == 62);
                    CHECK(r.pkt.l4_proto == SL_IPPROTO_ICMPV6);
                }
            }
        }
    }
    SECTION("embedded extension headers and first fragment") {
        Result flow = parse(v6_tcp());
        Bytes quote = Builder()
                          .ipv6(VIP6, CLIENT6)
                          .ipv6_ext(SL_IPPROTO_HOPOPTS)
                          .ipv6_ext(SL_IPPROTO_ROUTING, {.body = 38})
                          .ipv6_frag(0, true)
                          .tcp(VPORT, CPORT)
                          .payload(1000)
                          .build();
        Result r = parse(Builder()
                             .eth()
                             .vlan(1, SL_ETH_P_8021AD)
                             .vlan(2)
                             .ipv6(ROUTER6, VIP6)
                             .ipv6_ext(SL_IPPROTO_DSTOPTS)
                             .icmp6(2, 0, 1280)
                             .payload(prefix(quote, 40 + 8 + 40 + 8 + 4))
                             .build());
        REQUIRE(outcome(r) == "icmp_error");
        CHECK(r.pkt.inner_l3_off == 22 + 40 + 8 + 8);
        CHECK(key_str(r.pkt.key) == key_str(flow.pkt.key));
    }
}

TEST_CASE("parse: ICMP errors with a bad embedded packet", "[parse]") {
    const Bytes tcp4 = backend_reply4(SL_IPPROTO_TCP);
    const Bytes tcp6 = backend_reply6(SL_IPPROTO_TCP);
    const std::string bad = drop(SL_DROP_ICMP_BAD_INNER);
    SECTION("IPv4") {
        // fewer than 4 bytes of L4, a cut header, nothing at all
        for (size_t n : {0, 1, 19, 20, 21, 23}) {
            INFO("quote " << n);
            CHECK(outcome(icmp4_error(3, 4, prefix(tcp4, n))) == bad);
        }
        // IPv4 options quoted but cut
        Bytes opt = backend_reply4(SL_IPPROTO_UDP, {.options = Bytes(20, 1)});
        CHECK(outcome(icmp4_error(11, 0, prefix(opt, 40 + 3))) == bad);
        CHECK(outcome(icmp4_error(11, 0, prefix(opt, 30))) == bad);
        // another family
        CHECK(outcome(icmp4_error(3, 4, prefix(tcp6, 48))) == bad);
        // bad version / IHL
        CHECK(outcome(icmp4_error(
                  3, 1,
                  prefix(Builder().ipv4(VIP4, CLIENT4, {.version = 5}).tcp(1, 2).build(), 28))) ==
              bad);
        CHECK(outcome(icmp4_error(
                  3, 1, prefix(Builder().ipv4(VIP4, CLIENT4, {.ihl = 4}).tcp(1, 2).build(), 28))) ==
              bad);
        // not TCP/UDP: ICMP, GRE
        CHECK(outcome(icmp4_error(
                  3, 1, prefix(Builder().ipv4(VIP4, CLIENT4).icmp(0, 0).build(), 28))) == bad);
        CHECK(outcome(icmp4_error(
                  3, 1, Builder().ipv4(VIP4, CLIENT4, {.protocol = 47}).payload(8).build())) ==
              bad);
        // a later fragment quotes no ports
        CHECK(outcome(icmp4_error(11, 1,
                                  Builder()
                                      .ipv4(VIP4, CLIENT4, {.frag_off = 10, .protocol = 6})
                                      .payload(8)
                                      .build())) == bad);
    }
    SECTION("IPv6") {
        for (size_t n : {0, 8, 39, 40, 43}) {
            INFO("quote " << n);
            CHECK(outcome(icmp6_error(2, 0, prefix(tcp6, n), 1280)) == bad);
        }
        CHECK(outcome(icmp6_error(1, 0, prefix(tcp4, 48))) == bad);
        CHECK(outcome(icmp6_error(
                  1, 0,
                  prefix(Builder().ipv6(VIP6, CLIENT6, {.version = 4}).tcp(1, 2).build(), 48))) ==
              bad);
        CHECK(outcome(icmp6_error(
                  1, 0, prefix(Builder().ipv6(VIP6, CLIENT6).icmp6(129, 0).build(), 48))) == bad);
        // extension header cut by the end of the ICMPv6 message
        CHECK(outcome(icmp6_error(1, 0,
                                  prefix(Builder()
                                             .ipv6(VIP6, CLIENT6)
                                             .ipv6_ext(SL_IPPROTO_DSTOPTS, {.body = 30})
                                             .tcp(1, 2)
                                             .build(),
                                         40 + 16))) == bad);
        // hop-by-hop not first, too long a chain, later fragment
        CHECK(outcome(icmp6_error(1, 0,
                                  Builder()
                                      .ipv6(VIP6, CLIENT6)
                                      .ipv6_ext(SL_IPPROTO_DSTOPTS)
                                      .ipv6_ext(SL_IPPROTO_HOPOPTS)
                                      .tcp(1, 2)
                                      .build())) == bad);
        Builder chain;
        chain.ipv6(VIP6, CLIENT6);
        for (int i = 0; i <= SL_MAX_IPV6_EXT; i++) {
            chain.ipv6_ext(SL_IPPROTO_DSTOPTS);
        }
        CHECK(outcome(icmp6_error(1, 0, chain.tcp(1, 2).build())) == bad);
        CHECK(outcome(icmp6_error(3, 1,
                                  Builder()
                                      .ipv6(VIP6, CLIENT6)
                                      .ipv6_frag(1, true, 1, SL_IPPROTO_TCP)
                                      .payload(8)
                                      .build())) == bad);
    }
    SECTION("sent to another address than the quoted packet's source") {
        // Not about a flow of the box's: keyed by its quote it would reach the
        // quoted flow's backend, which would route it on to the outer
        // destination (a relay).
        for (uint8_t proto : {SL_IPPROTO_TCP, SL_IPPROTO_UDP}) {
            INFO("proto " << int(proto));
            CHECK(outcome(Builder()
                              .eth()
                              .ipv4(ROUTER4, CLIENT4)
                              .icmp(3, 4, 1400)
                              .payload(prefix(backend_reply4(proto), 28))
                              .build()) == bad);
            CHECK(outcome(Builder()
                              .eth()
                              .ipv6(ROUTER6, CLIENT6)
                              .icmp6(2, 0, 1280)
                              .payload(prefix(backend_reply6(proto), 48))
                              .build()) == bad);
        }
    }
    SECTION("a fragmented ICMP error is not reassembled") {
        CHECK(outcome(Builder()
                          .eth()
                          .ipv4(ROUTER4, VIP4, {.frag_off = 0x2000})
                          .icmp(3, 4)
                          .payload(prefix(tcp4, 28))
                          .build()) == drop(SL_DROP_ICMP_UNSUPPORTED));
    }
}

TEST_CASE("parse: every parser drop reason is produced", "[parse]") {
    const std::vector<std::pair<sl_drop_reason, Bytes>> table = {
        {SL_DROP_TRUNCATED, prefix(v4_tcp(), 20)},
        {SL_DROP_L2_UNSUPPORTED, Builder().eth(kMacA, kMacB, 0x88cc).payload(46).build()},
        {SL_DROP_ARP_MALFORMED, arp_req({.hln = 7})},
        {SL_DROP_IPV4_BAD_HEADER,
         Builder().eth().ipv4(CLIENT4, VIP4, {.ihl = 4}).tcp(1, 2).build()},
        {SL_DROP_IPV4_BAD_LENGTH, prefix(v4_tcp(), 14 + 30)},
        {SL_DROP_IPV6_BAD_HEADER, prefix(v6_tcp(), 14 + 50)},
        {SL_DROP_IPV6_BAD_EXT, Builder()
                                   .eth()
                                   .ipv6(CLIENT6, VIP6)
                                   .ipv6_ext(SL_IPPROTO_ROUTING)
                                   .ipv6_ext(SL_IPPROTO_HOPOPTS)
                                   .tcp(1, 2)
                                   .build()},
        {SL_DROP_L4_UNSUPPORTED, Builder().eth().ipv4(CLIENT4, VIP4, {.protocol = 47}).build()},
        {SL_DROP_L4_BAD_HEADER, Builder().eth().ipv4(CLIENT4, VIP4).udp(1, 2, {.len = 4}).build()},
        {SL_DROP_ICMP_UNSUPPORTED, Builder().eth().ipv4(CLIENT4, VIP4).icmp(0, 0).build()},
        {SL_DROP_ICMP_BAD_INNER, icmp4_error(3, 4, prefix(backend_reply4(6), 22))},
    };
    std::set<int> seen;
    for (const auto &[why, bytes] : table) {
        INFO(sl_drop_name(why));
        CHECK(outcome(bytes) == drop(why));
        seen.insert(why);
    }
    // every reason from TRUNCATED to ICMP_BAD_INNER; the later ones are the dataplane's
    for (int why = SL_DROP_TRUNCATED; why <= SL_DROP_ICMP_BAD_INNER; why++) {
        INFO(sl_drop_name(static_cast<unsigned>(why)));
        CHECK(seen.count(why) == 1);
    }
}

TEST_CASE("parse: every valid packet cut at every length", "[parse]") {
    size_t cuts = 0;
    for (const Case &c : valid_corpus()) {
        INFO(c.name);
        Result whole = parse(c.bytes);
        REQUIRE(outcome(whole) == c.expect);
        REQUIRE(invariant_violation(c.bytes.data(), c.bytes.size(), whole.v, whole.pkt) == "");
        for (size_t n = 0; n < c.bytes.size(); n++) {
            Bytes cut = prefix(c.bytes, n);
            Result r = parse(cut);
            std::string want = expected_when_cut(c.bytes, whole, n);
            if (outcome(r) != want) {
                INFO("cut at " << n << " of " << c.bytes.size());
                REQUIRE(outcome(r) == want);
            }
            cuts++;
        }
        // bytes past len are never looked at: garbage after the frame changes nothing
        Bytes tail = c.bytes;
        tail.resize(c.bytes.size() + 64, 0x5a);
        sl_pkt p;
        sl_verdict v = sl_parse(tail.data(), static_cast<uint32_t>(c.bytes.size()), &p);
        CHECK(std::memcmp(&p, &whole.pkt, sizeof(p)) == 0);
        CHECK(v == whole.v);
    }
    CHECK(cuts > 2000);
}

TEST_CASE("parse: random and mutated frames never crash and keep the invariants", "[parse]") {
    const uint32_t seed = 0x51u;
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    const uint16_t ethertypes[] = {SL_ETH_P_IPV4, SL_ETH_P_IPV6, SL_ETH_P_ARP, SL_ETH_P_8021Q,
                                   SL_ETH_P_8021AD};
    const uint8_t protos[] = {0, 1, 6, 17, 43, 44, 58, 60};
    std::vector<int> verdicts(SL_VERDICT_DROP + 1, 0);

    auto run = [&](const Bytes &b) {
        Result r = parse(b);
        std::string why = invariant_violation(b.data(), b.size(), r.v, r.pkt);
        if (!why.empty()) {
            std::string hex;
            for (uint8_t x : b) {
                hex += std::to_string(x) + ",";
            }
            INFO("frame " << hex << " -> " << outcome(r));
            REQUIRE(why == "");
        }
        // the same input gives the same result
        Result again = parse(b);
        if (again.v != r.v || std::memcmp(&again.pkt, &r.pkt, sizeof(r.pkt)) != 0) {
            REQUIRE(false);
        }
        verdicts[r.v]++;
    };

    for (int i = 0; i < 200000; i++) {
        Bytes b(below(201));
        for (uint8_t &x : b) {
            x = static_cast<uint8_t>(rng());
        }
        // most random frames would stop at the ethertype: steer half of them deeper
        if (i % 2 == 0 && b.size() >= 16) {
            put16(b, 12, ethertypes[below(5)]);
            size_t l3 = 14;
            if ((b[12] == 0x81 || b[12] == 0x88) && b.size() >= 20) {
                put16(b, 16, below(2) ? SL_ETH_P_IPV4 : SL_ETH_P_IPV6);
                l3 = 18;
            }
            uint16_t et = get16(b, l3 - 2);
            if (et == SL_ETH_P_IPV4 && b.size() > l3 + 9) {
                b[l3] = static_cast<uint8_t>(0x45 + below(3));
                b[l3 + 9] = protos[below(8)];
            } else if (et == SL_ETH_P_IPV6 && b.size() > l3 + 6) {
                b[l3] = 0x60;
                b[l3 + 6] = protos[below(8)];
            }
        }
        run(b);
    }

    const std::vector<Case> corpus = valid_corpus();
    for (int i = 0; i < 200000; i++) {
        Bytes b = corpus[below(corpus.size())].bytes;
        int flips = 1 + static_cast<int>(below(4));
        for (int f = 0; f < flips; f++) {
            size_t at = below(std::min<size_t>(b.size(), 128));
            b[at] = below(3) ? static_cast<uint8_t>(rng())
                             : static_cast<uint8_t>(b[at] ^ (1u << below(8)));
        }
        switch (below(4)) {
            case 0:
                b.resize(below(b.size() + 1));
                break;
            case 1:
                b.resize(b.size() + below(16), 0);
                break;
            default:
                break;
        }
        run(b);
    }
    // the mutations reach every verdict
    for (int v = SL_VERDICT_FLOW; v <= SL_VERDICT_DROP; v++) {
        INFO("verdict " << v);
        CHECK(verdicts[v] > 0);
    }
}
