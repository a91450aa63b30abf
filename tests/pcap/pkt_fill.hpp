// SPDX-License-Identifier: Apache-2.0
//
// pkt_fill.hpp: fills a struct sl_pkt for the rewrite tests from a frame the
// tests built themselves. Only what the rewriters read is filled (offsets,
// lengths, ethertype, L4 protocol, fragment state, ICMP type/code, the
// 5-tuple). This is a test fixture, not the parser: it trusts its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sluice/parse.h"

namespace sluice_test {

inline uint16_t be16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// Returns false when the frame is not Ethernet [+ up to 2 tags] + IPv4 /
// IPv6 / ARP with all headers present.
inline bool fill_pkt(const uint8_t *f, size_t len, sl_pkt *pkt) {
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

} // namespace sluice_test
