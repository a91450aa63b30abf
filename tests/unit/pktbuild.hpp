// SPDX-License-Identifier: Apache-2.0
//
// pktbuild.hpp: build test packets layer by layer, outermost first.
//
//   Bytes f = pktbuild::Builder()
//                 .eth()
//                 .vlan(100)
//                 .ipv4("10.0.0.1", "192.0.2.10")
//                 .tcp(40000, 80)
//                 .payload({1, 2, 3})
//                 .build();
//
// build() fills what each layer derives from the ones after it: ethertypes,
// IPv4 protocol / total length / header checksum, IPv6 payload length and
// next headers (extension headers included), UDP length, TCP / UDP / ICMP /
// ICMPv6 checksums (with the pseudo-header of the nearest enclosing IP layer).
// Any of these can be forced to a wrong value through the layer's options.
// Start without eth() to build a bare IP packet (e.g. the packet an ICMP error
// quotes). Checksums of fragments are computed over the bytes present.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pktbuild {

using Bytes = std::vector<uint8_t>;

inline Bytes ip4(const char *text) {
    Bytes b(4);
    if (inet_pton(AF_INET, text, b.data()) != 1) {
        throw std::invalid_argument(std::string("bad IPv4 address: ") + text);
    }
    return b;
}

inline Bytes ip6(const char *text) {
    Bytes b(16);
    if (inet_pton(AF_INET6, text, b.data()) != 1) {
        throw std::invalid_argument(std::string("bad IPv6 address: ") + text);
    }
    return b;
}

// The first n bytes of b.
inline Bytes prefix(const Bytes &b, size_t n) {
    return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(std::min(n, b.size())));
}

inline void put16(Bytes &b, size_t off, uint16_t v) {
    b.at(off) = static_cast<uint8_t>(v >> 8);
    b.at(off + 1) = static_cast<uint8_t>(v & 0xff);
}

inline void put32(Bytes &b, size_t off, uint32_t v) {
    put16(b, off, static_cast<uint16_t>(v >> 16));
    put16(b, off + 2, static_cast<uint16_t>(v & 0xffff));
}

inline uint16_t get16(const Bytes &b, size_t off) {
    return static_cast<uint16_t>((b.at(off) << 8) | b.at(off + 1));
}

// One's-complement sum (RFC 1071), not yet folded and inverted.
inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    }
    if (n % 2 != 0) {
        sum += static_cast<uint32_t>(p[n - 1] << 8);
    }
    return sum;
}

inline uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum & 0xffff);
}

struct Mac {
    uint8_t b[6];
};
inline constexpr Mac kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
inline constexpr Mac kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};

struct Ipv4Opts {
    uint8_t ttl = 64;
    uint8_t tos = 0;
    uint16_t id = 1;
    uint16_t frag_off = 0x4000; // host order: flags and offset (in 8-byte units); DF by default
    Bytes options;              // padded with zeros (EOL) to a multiple of 4
    std::optional<uint8_t> version;
    std::optional<uint8_t> ihl;
    std::optional<uint16_t> tot_len;
    std::optional<uint8_t> protocol;
    std::optional<uint16_t> check;
};

struct Ipv6Opts {
    uint8_t hop_limit = 64;
    uint32_t flow = 0;
    uint8_t tclass = 0; // traffic class
    std::optional<uint8_t> version;
    std::optional<uint16_t> payload_len;
    std::optional<uint8_t> nexthdr;
};

struct ExtOpts {
    size_t body = 6; // bytes after nexthdr/hdrlen; padded to make the header a multiple of 8
    std::optional<uint8_t> hdrlen;
    std::optional<uint8_t> nexthdr;
};

struct TcpOpts {
    uint8_t flags = 0x02; // SYN
    uint32_t seq = 1;
    uint32_t ack = 0;
    uint16_t window = 65535;
    Bytes options; // padded with zeros (EOL) to a multiple of 4
    std::optional<uint8_t> doff;
    std::optional<uint16_t> check;
};

struct UdpOpts {
    std::optional<uint16_t> len;
    std::optional<uint16_t> check;
};

struct ArpOpts {
    uint16_t op = 1;
    uint16_t hrd = 1;
    uint16_t pro = 0x0800;
    uint8_t hln = 6;
    uint8_t pln = 4;
};

class Builder {
  public:
    enum class Kind { Eth, Vlan, Arp, Ipv4, Ipv6, Ipv6Ext, Ipv6Frag, Tcp, Udp, Icmp, Icmp6, Raw };

    Builder &eth(Mac src = kMacA, Mac dst = kMacB, std::optional<uint16_t> ethertype = {}) {
        Bytes b(14);
        std::copy(dst.b, dst.b + 6, b.begin());
        std::copy(src.b, src.b + 6, b.begin() + 6);
        return add(Kind::Eth, std::move(b), ethertype);
    }

    // An 802.1Q tag (tpid 0x8100) or S-tag (0x88A8): tpid goes into the
    // previous layer's ethertype.
    Builder &vlan(uint16_t tci, uint16_t tpid = 0x8100, std::optional<uint16_t> ethertype = {}) {
        Bytes b(4);
        put16(b, 0, tci);
        add(Kind::Vlan, std::move(b), ethertype);
        layers_.back().tpid = tpid;
        return *this;
    }

    Builder &arp(const char *spa, const char *tpa, ArpOpts o = {}) {
        Bytes b(28);
        put16(b, 0, o.hrd);
        put16(b, 2, o.pro);
        b[4] = o.hln;
        b[5] = o.pln;
        put16(b, 6, o.op);
        std::copy(kMacA.b, kMacA.b + 6, b.begin() + 8);
        Bytes s = ip4(spa);
        std::copy(s.begin(), s.end(), b.begin() + 14);
        Bytes t = ip4(tpa);
        std::copy(t.begin(), t.end(), b.begin() + 24);
        return add(Kind::Arp, std::move(b), {});
    }

    Builder &ipv4(const char *src, const char *dst, Ipv4Opts o = {}) {
        Bytes opts = o.options;
        while (opts.size() % 4 != 0) {
            opts.push_back(0);
        }
        Bytes b(20 + opts.size());
        uint8_t ihl = o.ihl.value_or(static_cast<uint8_t>(b.size() / 4));
        b[0] = static_cast<uint8_t>((o.version.value_or(4) << 4) | (ihl & 0x0f));
        b[1] = o.tos;
        put16(b, 4, o.id);
        put16(b, 6, o.frag_off);
        b[8] = o.ttl;
        Bytes s = ip4(src);
        Bytes d = ip4(dst);
        std::copy(s.begin(), s.end(), b.begin() + 12);
        std::copy(d.begin(), d.end(), b.begin() + 16);
        std::copy(opts.begin(), opts.end(), b.begin() + 20);
        add(Kind::Ipv4, std::move(b), o.protocol);
        layers_.back().len = o.tot_len;
        layers_.back().check = o.check;
        return *this;
    }

    Builder &ipv6(const char *src, const char *dst, Ipv6Opts o = {}) {
        Bytes b(40);
        put32(b, 0,
              (static_cast<uint32_t>(o.version.value_or(6)) << 28) |
                  static_cast<uint32_t>(o.tclass) << 20 | (o.flow & 0xfffff));
        b[7] = o.hop_limit;
        Bytes s = ip6(src);
        Bytes d = ip6(dst);
        std::copy(s.begin(), s.end(), b.begin() + 8);
        std::copy(d.begin(), d.end(), b.begin() + 24);
        add(Kind::Ipv6, std::move(b), o.nexthdr);
        layers_.back().len = o.payload_len;
        return *this;
    }

    // Hop-by-hop (0), routing (43) or destination options (60). The body is
    // zeros: Pad1 options, or a routing header of type 0 with 0 segments left.
    Builder &ipv6_ext(uint8_t type, ExtOpts o = {}) {
        size_t total = (2 + o.body + 7) / 8 * 8;
        Bytes b(total);
        b[1] = o.hdrlen.value_or(static_cast<uint8_t>(total / 8 - 1));
        add(Kind::Ipv6Ext, std::move(b), o.nexthdr);
        layers_.back().proto = type;
        return *this;
    }

    // Fragment header; offset in 8-byte units.
    Builder &ipv6_frag(uint16_t offset, bool more, uint32_t id = 0x1234,
                       std::optional<uint8_t> nexthdr = {}) {
        Bytes b(8);
        put16(b, 2, static_cast<uint16_t>((offset << 3) | (more ? 1 : 0)));
        put32(b, 4, id);
        return add(Kind::Ipv6Frag, std::move(b), nexthdr);
    }

    Builder &tcp(uint16_t sport, uint16_t dport, TcpOpts o = {}) {
        Bytes opts = o.options;
        while (opts.size() % 4 != 0) {
            opts.push_back(0);
        }
        Bytes b(20 + opts.size());
        put16(b, 0, sport);
        put16(b, 2, dport);
        put32(b, 4, o.seq);
        put32(b, 8, o.ack);
        b[12] = static_cast<uint8_t>(o.doff.value_or(static_cast<uint8_t>(b.size() / 4)) << 4);
        b[13] = o.flags;
        put16(b, 14, o.window);
        std::copy(opts.begin(), opts.end(), b.begin() + 20);
        add(Kind::Tcp, std::move(b), {});
        layers_.back().check = o.check;
        return *this;
    }

    Builder &udp(uint16_t sport, uint16_t dport, UdpOpts o = {}) {
        Bytes b(8);
        put16(b, 0, sport);
        put16(b, 2, dport);
        add(Kind::Udp, std::move(b), {});
        layers_.back().len = o.len;
        layers_.back().check = o.check;
        return *this;
    }

    // ICMP header; rest = the 4 bytes after the checksum (echo id/seq, MTU...).
    Builder &icmp(uint8_t type, uint8_t code, uint32_t rest = 0) {
        return add(Kind::Icmp, icmp_hdr(type, code, rest), {});
    }

    Builder &icmp6(uint8_t type, uint8_t code, uint32_t rest = 0) {
        return add(Kind::Icmp6, icmp_hdr(type, code, rest), {});
    }

    Builder &payload(Bytes b) { return add(Kind::Raw, std::move(b), {}); }

    Builder &payload(size_t n, uint8_t fill = 0xab) { return payload(Bytes(n, fill)); }

    // Bytes after the last layer that no length counts (Ethernet padding).
    Builder &trailer(Bytes b) {
        trailer_ = std::move(b);
        return *this;
    }

    // Pad the frame with zeros to at least n bytes (60: the Ethernet minimum).
    Builder &pad_to(size_t n) {
        pad_to_ = n;
        return *this;
    }

    Bytes build() const {
        Bytes out;
        std::vector<size_t> off;
        for (const Layer &l : layers_) {
            off.push_back(out.size());
            out.insert(out.end(), l.bytes.begin(), l.bytes.end());
        }
        const size_t total = out.size();
        for (size_t i = layers_.size(); i-- > 0;) {
            fix(out, off, i, total);
        }
        out.insert(out.end(), trailer_.begin(), trailer_.end());
        if (out.size() < pad_to_) {
            out.resize(pad_to_, 0);
        }
        return out;
    }

  private:
    struct Layer {
        Kind kind;
        Bytes bytes;
        std::optional<uint16_t> next; // forced ethertype / protocol / next header
        std::optional<uint16_t> len;  // forced IPv4 tot_len / IPv6 payload_len / UDP len
        std::optional<uint16_t> check;
        uint16_t tpid = 0x8100; // Vlan
        uint8_t proto = 0;      // Ipv6Ext: its own type
    };

    static Bytes icmp_hdr(uint8_t type, uint8_t code, uint32_t rest) {
        Bytes b(8);
        b[0] = type;
        b[1] = code;
        put32(b, 4, rest);
        return b;
    }

    Builder &add(Kind k, Bytes b, std::optional<uint16_t> next) {
        Layer l;
        l.kind = k;
        l.bytes = std::move(b);
        l.next = next;
        layers_.push_back(std::move(l));
        return *this;
    }

    // The ethertype announcing layer i (for the layer before it).
    uint16_t ethertype_of(size_t i) const {
        if (i >= layers_.size()) {
            return 0x88b5; // local experimental ethertype: nothing follows
        }
        switch (layers_[i].kind) {
            case Kind::Vlan:
                return layers_[i].tpid;
            case Kind::Arp:
                return 0x0806;
            case Kind::Ipv4:
                return 0x0800;
            case Kind::Ipv6:
                return 0x86dd;
            default:
                return 0x88b5;
        }
    }

    // The IP protocol number announcing layer i.
    uint8_t proto_of(size_t i) const {
        if (i >= layers_.size()) {
            return 59; // IPv6 no next header
        }
        switch (layers_[i].kind) {
            case Kind::Ipv4:
                return 4;
            case Kind::Ipv6:
                return 41;
            case Kind::Ipv6Ext:
                return layers_[i].proto;
            case Kind::Ipv6Frag:
                return 44;
            case Kind::Tcp:
                return 6;
            case Kind::Udp:
                return 17;
            case Kind::Icmp:
                return 1;
            case Kind::Icmp6:
                return 58;
            default:
                return 59;
        }
    }

    // Sum of the pseudo-header of the IP layer enclosing layer i (0 if none).
    uint32_t pseudo_sum(const Bytes &out, const std::vector<size_t> &off, size_t i, uint8_t proto,
                        size_t l4_len) const {
        for (size_t j = i; j-- > 0;) {
            if (layers_[j].kind == Kind::Ipv4) {
                uint32_t sum = csum_add(0, out.data() + off[j] + 12, 8);
                return sum + proto + static_cast<uint32_t>(l4_len);
            }
            if (layers_[j].kind == Kind::Ipv6) {
                uint32_t sum = csum_add(0, out.data() + off[j] + 8, 32);
                return sum + proto + static_cast<uint32_t>(l4_len >> 16) +
                       static_cast<uint32_t>(l4_len & 0xffff);
            }
        }
        return 0;
    }

    void fix(Bytes &out, const std::vector<size_t> &off, size_t i, size_t total) const {
        const Layer &l = layers_[i];
        const size_t o = off[i];
        const size_t rest = total - o;
        switch (l.kind) {
            case Kind::Eth:
                put16(out, o + 12, l.next.value_or(ethertype_of(i + 1)));
                break;
            case Kind::Vlan:
                put16(out, o + 2, l.next.value_or(ethertype_of(i + 1)));
                break;
            case Kind::Ipv4: {
                out[o + 9] = static_cast<uint8_t>(l.next.value_or(proto_of(i + 1)));
                put16(out, o + 2, l.len.value_or(static_cast<uint16_t>(rest)));
                put16(out, o + 10, 0);
                size_t hlen = l.bytes.size();
                put16(out, o + 10, l.check.value_or(csum_fold(csum_add(0, out.data() + o, hlen))));
                break;
            }
            case Kind::Ipv6:
                out[o + 6] = static_cast<uint8_t>(l.next.value_or(proto_of(i + 1)));
                put16(out, o + 4, l.len.value_or(static_cast<uint16_t>(rest - 40)));
                break;
            case Kind::Ipv6Ext:
            case Kind::Ipv6Frag:
                out[o] = static_cast<uint8_t>(l.next.value_or(proto_of(i + 1)));
                break;
            case Kind::Tcp: {
                put16(out, o + 16, 0);
                uint32_t sum = pseudo_sum(out, off, i, 6, rest);
                put16(out, o + 16,
                      l.check.value_or(csum_fold(csum_add(sum, out.data() + o, rest))));
                break;
            }
            case Kind::Udp: {
                put16(out, o + 4, l.len.value_or(static_cast<uint16_t>(rest)));
                put16(out, o + 6, 0);
                uint32_t sum = pseudo_sum(out, off, i, 17, rest);
                uint16_t c = csum_fold(csum_add(sum, out.data() + o, rest));
                put16(out, o + 6, l.check.value_or(c == 0 ? 0xffff : c));
                break;
            }
            case Kind::Icmp:
                put16(out, o + 2, 0);
                put16(out, o + 2, csum_fold(csum_add(0, out.data() + o, rest)));
                break;
            case Kind::Icmp6: {
                put16(out, o + 2, 0);
                uint32_t sum = pseudo_sum(out, off, i, 58, rest);
                put16(out, o + 2, csum_fold(csum_add(sum, out.data() + o, rest)));
                break;
            }
            case Kind::Arp:
            case Kind::Raw:
                break;
        }
    }

    std::vector<Layer> layers_;
    Bytes trailer_;
    size_t pad_to_ = 0;
};

} // namespace pktbuild
