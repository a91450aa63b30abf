/* SPDX-License-Identifier: Apache-2.0
 *
 * parse_impl.h: the steps of sl_parse(), one per layer. parse.h includes this
 * file; include "sluice/parse.h", never this one. docs/PARSING.md states the
 * rules these steps implement.
 *
 * Entry points:
 *   sl_parse(data, len, pkt)             a frame of len bytes (DPDK, tests)
 *   sl_parse_frame(data, data_end, pkt)  a frame [data, data_end) (XDP: pass
 *                                        ctx->data and ctx->data_end as is)
 *
 * Each header step reads the header at the cursor, checks it, records what it
 * found in struct sl_pkt and advances the cursor. It returns SL_DROP_NONE to go
 * on (the next protocol is then in pkt->ethertype or pkt->l4_proto) or the
 * reason to drop. The last step, sl_parse_l4(), returns the verdict.
 *
 * Bounds: every read is preceded by a check of the form
 * `if (p + sizeof(*hdr) > c->end)` against the frame's end, the form the BPF
 * verifier understands. Past the IP header, reads are also checked against
 * c->limit, the end of the IP packet (Ethernet padding excluded), which is
 * never past c->end. Loops are bounded by SL_MAX_VLAN_TAGS and
 * SL_MAX_IPV6_EXT; there is no recursion and no libc call.
 */
#ifndef SLUICE_PARSE_IMPL_H
#define SLUICE_PARSE_IMPL_H

#ifndef SLUICE_PARSE_H
#error "include sluice/parse.h, not sluice/parse_impl.h"
#endif

SL_EXTERN_C_BEGIN

/* The smallest IPv6 extension header: hop-by-hop, routing and destination
 * options are (hdrlen + 1) * 8 bytes, the fragment header is 8. */
#define SL_IPV6_EXT_MIN_LEN 8u
/* The IP packet length must fit struct sl_pkt's l3_len. */
#define SL_IP_MAX_LEN 0xFFFFu

/* The source and destination ports TCP and UDP share: all an ICMP error must
 * quote of the embedded L4 header. */
struct sl_l4_ports {
    uint16_t sport;
    uint16_t dport;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_l4_ports) == 4, "TCP/UDP ports are 4 bytes");

struct sl_cursor {
    const uint8_t *start; /* the frame's first byte: struct sl_pkt offsets count from here */
    const uint8_t *pos;   /* the next header */
    const uint8_t *end;   /* one past the frame's last byte */
    const uint8_t *limit; /* one past the IP packet (Ethernet padding excluded); <= end */
    uint8_t ttl;          /* IPv4 TTL or IPv6 hop limit of the outer IP header */
};

SL_INLINE uint16_t sl_cursor_off(const struct sl_cursor *c) {
    return (uint16_t)(c->pos - c->start);
}

SL_INLINE enum sl_verdict sl_parse_drop(struct sl_pkt *pkt, enum sl_drop_reason why) {
    pkt->drop = (uint8_t)why;
    return SL_VERDICT_DROP;
}

SL_INLINE int sl_ipv6_is_ext(uint8_t nexthdr) {
    return nexthdr == SL_IPPROTO_HOPOPTS || nexthdr == SL_IPPROTO_ROUTING ||
           nexthdr == SL_IPPROTO_FRAGMENT || nexthdr == SL_IPPROTO_DSTOPTS;
}

/* The ICMP protocol of the packet's IP family. */
SL_INLINE uint8_t sl_pkt_icmp_proto(const struct sl_pkt *pkt) {
    return pkt->key.family == SL_AF_INET6 ? SL_IPPROTO_ICMPV6 : SL_IPPROTO_ICMP;
}

/* Ethernet. Next protocol in pkt->ethertype. */
SL_INLINE enum sl_drop_reason sl_parse_eth(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_eth_hdr *eth = (const struct sl_eth_hdr *)c->pos;
    if (c->pos + sizeof(*eth) > c->end) {
        return SL_DROP_TRUNCATED;
    }
    pkt->ethertype = sl_ntohs(eth->ethertype);
    c->pos += sizeof(*eth);
    return SL_DROP_NONE;
}

/* 802.1Q / QinQ: up to SL_MAX_VLAN_TAGS tags. The outer tag may be 0x8100 or
 * 0x88A8, an inner tag only 0x8100; a further tag is L2_UNSUPPORTED. TCIs are
 * recorded in host order, outer first. Next protocol in pkt->ethertype. */
SL_INLINE enum sl_drop_reason sl_parse_vlans(struct sl_cursor *c, struct sl_pkt *pkt) {
    for (int i = 0; i < SL_MAX_VLAN_TAGS; i++) {
        const struct sl_vlan_hdr *vlan = (const struct sl_vlan_hdr *)c->pos;
        uint16_t tpid = pkt->ethertype;
        if (tpid != SL_ETH_P_8021Q && !(tpid == SL_ETH_P_8021AD && i == 0)) {
            break;
        }
        if (c->pos + sizeof(*vlan) > c->end) {
            return SL_DROP_TRUNCATED;
        }
        pkt->vlan_tci[i] = sl_ntohs(vlan->tci);
        pkt->n_vlans = (uint8_t)(i + 1);
        pkt->ethertype = sl_ntohs(vlan->ethertype);
        c->pos += sizeof(*vlan);
    }
    if (pkt->ethertype == SL_ETH_P_8021Q || pkt->ethertype == SL_ETH_P_8021AD) {
        return SL_DROP_L2_UNSUPPORTED;
    }
    return SL_DROP_NONE;
}

/* ARP for IPv4 over Ethernet, request or reply. */
SL_INLINE enum sl_drop_reason sl_parse_arp(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_arp_hdr *arp = (const struct sl_arp_hdr *)c->pos;
    if (c->pos + sizeof(*arp) > c->end) {
        return SL_DROP_TRUNCATED;
    }
    uint16_t op = sl_ntohs(arp->op);
    if (sl_ntohs(arp->hrd) != SL_ARP_HRD_ETHER || sl_ntohs(arp->pro) != SL_ETH_P_IPV4 ||
        arp->hln != SL_ETH_ALEN || arp->pln != 4 ||
        (op != SL_ARP_OP_REQUEST && op != SL_ARP_OP_REPLY)) {
        return SL_DROP_ARP_MALFORMED;
    }
    pkt->l3_off = sl_cursor_off(c);
    pkt->l3_len = (uint16_t)sizeof(*arp);
    c->pos += sizeof(*arp);
    c->limit = c->pos;
    return SL_DROP_NONE;
}

/* IPv4 with options. Fills l3_off, l3_len, frag, the key's addresses, proto
 * and family; next protocol in pkt->l4_proto; c->limit = end of the packet. */
SL_INLINE enum sl_drop_reason sl_parse_ipv4(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_ipv4_hdr *ip = (const struct sl_ipv4_hdr *)c->pos;
    if (c->pos + sizeof(*ip) > c->end) {
        return SL_DROP_TRUNCATED;
    }
    if ((ip->ver_ihl >> 4) != 4) {
        return SL_DROP_IPV4_BAD_HEADER;
    }
    uint32_t hlen = (uint32_t)(ip->ver_ihl & 0x0F) * 4u;
    if (hlen < sizeof(*ip)) {
        return SL_DROP_IPV4_BAD_HEADER;
    }
    if (c->pos + hlen > c->end) {
        return SL_DROP_TRUNCATED;
    }
    uint32_t tot_len = sl_ntohs(ip->tot_len);
    if (tot_len < hlen || c->pos + tot_len > c->end) {
        return SL_DROP_IPV4_BAD_LENGTH;
    }
    uint16_t frag_off = sl_ntohs(ip->frag_off);
    if ((frag_off & SL_IPV4_OFFMASK) != 0) {
        pkt->frag = SL_FRAG_LATER;
    } else if ((frag_off & SL_IPV4_MF) != 0) {
        pkt->frag = SL_FRAG_FIRST;
    }
    uint32_t saddr = ip->saddr;
    uint32_t daddr = ip->daddr;
    __builtin_memcpy(pkt->key.src, &saddr, sizeof(saddr));
    __builtin_memcpy(pkt->key.dst, &daddr, sizeof(daddr));
    pkt->key.proto = ip->protocol;
    pkt->key.family = SL_AF_INET;
    pkt->l4_proto = ip->protocol;
    pkt->l3_off = sl_cursor_off(c);
    pkt->l3_len = (uint16_t)tot_len;
    c->ttl = ip->ttl;
    c->limit = c->pos + tot_len;
    c->pos += hlen;
    return SL_DROP_NONE;
}

/* The fixed IPv6 header. Fills l3_off, l3_len, the key's addresses and family;
 * the first next header in pkt->l4_proto (sl_parse_ipv6_ext walks on);
 * c->limit = end of the packet. */
SL_INLINE enum sl_drop_reason sl_parse_ipv6(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_ipv6_hdr *ip6 = (const struct sl_ipv6_hdr *)c->pos;
    if (c->pos + sizeof(*ip6) > c->end) {
        return SL_DROP_TRUNCATED;
    }
    if ((sl_ntohl(ip6->ver_tc_flow) >> 28) != 6) {
        return SL_DROP_IPV6_BAD_HEADER;
    }
    uint32_t l3_len = (uint32_t)sizeof(*ip6) + sl_ntohs(ip6->payload_len);
    if (l3_len > SL_IP_MAX_LEN || c->pos + l3_len > c->end) {
        return SL_DROP_IPV6_BAD_HEADER;
    }
    __builtin_memcpy(pkt->key.src, ip6->saddr, sizeof(pkt->key.src));
    __builtin_memcpy(pkt->key.dst, ip6->daddr, sizeof(pkt->key.dst));
    pkt->key.family = SL_AF_INET6;
    pkt->l4_proto = ip6->nexthdr;
    pkt->l3_off = sl_cursor_off(c);
    pkt->l3_len = (uint16_t)l3_len;
    c->ttl = ip6->hop_limit;
    c->limit = c->pos + l3_len;
    c->pos += sizeof(*ip6);
    return SL_DROP_NONE;
}

/* The IPv6 extension header chain, from the cursor to c->limit. *proto holds
 * the next header on entry and the upper-layer protocol on return; *frag is
 * set for a fragment. At most SL_MAX_IPV6_EXT headers; hop-by-hop only first;
 * one fragment header. After a fragment header the walk stops: its next header
 * is the fragment's protocol (an atomic fragment, offset 0 and M clear, RFC
 * 6946, is no fragment and the walk goes on). Used for the outer packet and for
 * the packet embedded in an ICMPv6 error, so it touches no struct sl_pkt. */
SL_INLINE enum sl_drop_reason sl_parse_ipv6_ext(struct sl_cursor *c, uint8_t *proto,
                                                uint8_t *frag) {
    uint8_t nh = *proto;
    int seen_frag = 0;
    for (int i = 0; i < SL_MAX_IPV6_EXT; i++) {
        if (nh == SL_IPPROTO_HOPOPTS || nh == SL_IPPROTO_ROUTING || nh == SL_IPPROTO_DSTOPTS) {
            const struct sl_ipv6_opt_hdr *opt = (const struct sl_ipv6_opt_hdr *)c->pos;
            if (nh == SL_IPPROTO_HOPOPTS && i != 0) {
                return SL_DROP_IPV6_BAD_EXT; /* RFC 8200 4.1: only right after the header */
            }
            if (c->pos + SL_IPV6_EXT_MIN_LEN > c->limit || c->pos + SL_IPV6_EXT_MIN_LEN > c->end) {
                return SL_DROP_IPV6_BAD_EXT;
            }
            uint32_t hlen = ((uint32_t)opt->hdrlen + 1u) * 8u;
            if (c->pos + hlen > c->limit || c->pos + hlen > c->end) {
                return SL_DROP_IPV6_BAD_EXT;
            }
            nh = opt->nexthdr;
            c->pos += hlen;
        } else if (nh == SL_IPPROTO_FRAGMENT) {
            const struct sl_ipv6_frag_hdr *fh = (const struct sl_ipv6_frag_hdr *)c->pos;
            if (seen_frag) {
                return SL_DROP_IPV6_BAD_EXT;
            }
            if (c->pos + sizeof(*fh) > c->limit || c->pos + sizeof(*fh) > c->end) {
                return SL_DROP_IPV6_BAD_EXT;
            }
            uint16_t frag_off = sl_ntohs(fh->frag_off);
            seen_frag = 1;
            nh = fh->nexthdr;
            c->pos += sizeof(*fh);
            if ((frag_off & SL_IPV6_FRAG_OFFMASK) != 0) {
                *frag = SL_FRAG_LATER;
                *proto = nh;
                return SL_DROP_NONE;
            }
            if ((frag_off & SL_IPV6_FRAG_MF) != 0) {
                *frag = SL_FRAG_FIRST;
                *proto = nh;
                return SL_DROP_NONE;
            }
        } else {
            *proto = nh;
            return SL_DROP_NONE;
        }
    }
    if (sl_ipv6_is_ext(nh)) {
        return SL_DROP_IPV6_BAD_EXT; /* more than SL_MAX_IPV6_EXT headers */
    }
    *proto = nh;
    return SL_DROP_NONE;
}

/* TCP: data offset >= 5 and the whole header (options too) in the packet. */
SL_INLINE enum sl_drop_reason sl_parse_tcp(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_tcp_hdr *tcp = (const struct sl_tcp_hdr *)c->pos;
    if (c->pos + sizeof(*tcp) > c->limit || c->pos + sizeof(*tcp) > c->end) {
        return SL_DROP_TRUNCATED;
    }
    uint32_t hlen = (uint32_t)(tcp->doff_res >> 4) * 4u;
    if (hlen < sizeof(*tcp)) {
        return SL_DROP_L4_BAD_HEADER;
    }
    if (c->pos + hlen > c->limit || c->pos + hlen > c->end) {
        return SL_DROP_TRUNCATED;
    }
    pkt->l4_off = sl_cursor_off(c);
    pkt->key.sport = tcp->source;
    pkt->key.dport = tcp->dest;
    c->pos += hlen;
    return SL_DROP_NONE;
}

/* UDP: 8 <= length <= what the IP packet holds from here. */
SL_INLINE enum sl_drop_reason sl_parse_udp(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_udp_hdr *udp = (const struct sl_udp_hdr *)c->pos;
    if (c->pos + sizeof(*udp) > c->limit || c->pos + sizeof(*udp) > c->end) {
        return SL_DROP_TRUNCATED;
    }
    uint32_t ulen = sl_ntohs(udp->len);
    if (ulen < sizeof(*udp) || c->pos + ulen > c->limit) {
        return SL_DROP_L4_BAD_HEADER;
    }
    pkt->l4_off = sl_cursor_off(c);
    pkt->key.sport = udp->source;
    pkt->key.dport = udp->dest;
    c->pos += sizeof(*udp);
    return SL_DROP_NONE;
}

/* A fragment (pkt->frag != SL_FRAG_NONE): key ports stay 0. TCP and UDP are
 * flows; l4_off marks a first fragment's L4 header, whose fixed part is checked
 * only when the fragment holds it whole (it may not: never read past it). */
SL_INLINE enum sl_verdict sl_parse_fragment(struct sl_cursor *c, struct sl_pkt *pkt) {
    uint8_t proto = pkt->l4_proto;
    if (proto == sl_pkt_icmp_proto(pkt)) {
        return sl_parse_drop(pkt, SL_DROP_ICMP_UNSUPPORTED); /* sluice does not reassemble */
    }
    if (proto != SL_IPPROTO_TCP && proto != SL_IPPROTO_UDP) {
        return sl_parse_drop(pkt, SL_DROP_L4_UNSUPPORTED);
    }
    if (pkt->frag == SL_FRAG_LATER) {
        return SL_VERDICT_FLOW;
    }
    pkt->l4_off = sl_cursor_off(c);
    if (proto == SL_IPPROTO_TCP) {
        const struct sl_tcp_hdr *tcp = (const struct sl_tcp_hdr *)c->pos;
        if (c->pos + sizeof(*tcp) <= c->limit && c->pos + sizeof(*tcp) <= c->end &&
            (tcp->doff_res >> 4) < 5) {
            return sl_parse_drop(pkt, SL_DROP_L4_BAD_HEADER);
        }
    } else {
        const struct sl_udp_hdr *udp = (const struct sl_udp_hdr *)c->pos;
        /* The UDP length covers the whole datagram, not this fragment. */
        if (c->pos + sizeof(*udp) <= c->limit && c->pos + sizeof(*udp) <= c->end &&
            sl_ntohs(udp->len) < sizeof(*udp)) {
            return sl_parse_drop(pkt, SL_DROP_L4_BAD_HEADER);
        }
    }
    return SL_VERDICT_FLOW;
}

/* The IPv4 header embedded in an ICMP error: addresses and protocol into *k,
 * cursor to its L4 header. The quote is truncated by design, so the embedded
 * total length is not checked; the header itself must be whole. */
SL_INLINE enum sl_drop_reason sl_parse_inner_ipv4(struct sl_cursor *c, struct sl_flow_key *k) {
    const struct sl_ipv4_hdr *ip = (const struct sl_ipv4_hdr *)c->pos;
    if (c->pos + sizeof(*ip) > c->limit || c->pos + sizeof(*ip) > c->end) {
        return SL_DROP_ICMP_BAD_INNER;
    }
    if ((ip->ver_ihl >> 4) != 4) {
        return SL_DROP_ICMP_BAD_INNER;
    }
    uint32_t hlen = (uint32_t)(ip->ver_ihl & 0x0F) * 4u;
    if (hlen < sizeof(*ip) || c->pos + hlen > c->limit || c->pos + hlen > c->end) {
        return SL_DROP_ICMP_BAD_INNER;
    }
    if ((sl_ntohs(ip->frag_off) & SL_IPV4_OFFMASK) != 0) {
        return SL_DROP_ICMP_BAD_INNER; /* a later fragment quotes no ports */
    }
    uint32_t saddr = ip->saddr;
    uint32_t daddr = ip->daddr;
    __builtin_memcpy(k->src, &saddr, sizeof(saddr));
    __builtin_memcpy(k->dst, &daddr, sizeof(daddr));
    k->proto = ip->protocol;
    k->family = SL_AF_INET;
    c->pos += hlen;
    return SL_DROP_NONE;
}

/* The IPv6 header embedded in an ICMPv6 error, extension headers included
 * (same walk and limits as the outer packet). */
SL_INLINE enum sl_drop_reason sl_parse_inner_ipv6(struct sl_cursor *c, struct sl_flow_key *k) {
    const struct sl_ipv6_hdr *ip6 = (const struct sl_ipv6_hdr *)c->pos;
    if (c->pos + sizeof(*ip6) > c->limit || c->pos + sizeof(*ip6) > c->end) {
        return SL_DROP_ICMP_BAD_INNER;
    }
    if ((sl_ntohl(ip6->ver_tc_flow) >> 28) != 6) {
        return SL_DROP_ICMP_BAD_INNER;
    }
    uint8_t proto = ip6->nexthdr;
    uint8_t frag = SL_FRAG_NONE;
    __builtin_memcpy(k->src, ip6->saddr, sizeof(k->src));
    __builtin_memcpy(k->dst, ip6->daddr, sizeof(k->dst));
    k->family = SL_AF_INET6;
    c->pos += sizeof(*ip6);
    if (sl_parse_ipv6_ext(c, &proto, &frag) != SL_DROP_NONE) {
        return SL_DROP_ICMP_BAD_INNER;
    }
    if (frag == SL_FRAG_LATER) {
        return SL_DROP_ICMP_BAD_INNER; /* a later fragment quotes no ports */
    }
    k->proto = proto;
    return SL_DROP_NONE;
}

/* Two keys' addresses (16 bytes; IPv4 in the first 4, the rest zero). */
SL_INLINE int sl_parse_addr_eq(const uint8_t a[16], const uint8_t b[16]) {
    uint64_t a0, a1, b0, b1;
    __builtin_memcpy(&a0, a, 8);
    __builtin_memcpy(&a1, a + 8, 8);
    __builtin_memcpy(&b0, b, 8);
    __builtin_memcpy(&b1, b + 8, 8);
    return a0 == b0 && a1 == b1;
}

/* An ICMP(v6) error, cursor after its 8-byte header: the key becomes the
 * embedded packet's, reversed, i.e. the key of the client->VIP flow whose
 * reply (VIP->client, sent by the backend) the error is about. The embedded
 * packet must be of the outer family, TCP or UDP, with its ports present. */
SL_INLINE enum sl_verdict sl_parse_icmp_error(struct sl_cursor *c, struct sl_pkt *pkt) {
    struct sl_flow_key inner;
    enum sl_drop_reason why;
    __builtin_memset(&inner, 0, sizeof(inner));
    pkt->inner_l3_off = sl_cursor_off(c);
    if (pkt->key.family == SL_AF_INET6) {
        why = sl_parse_inner_ipv6(c, &inner);
    } else {
        why = sl_parse_inner_ipv4(c, &inner);
    }
    if (why != SL_DROP_NONE) {
        return sl_parse_drop(pkt, SL_DROP_ICMP_BAD_INNER);
    }
    if (inner.proto != SL_IPPROTO_TCP && inner.proto != SL_IPPROTO_UDP) {
        return sl_parse_drop(pkt, SL_DROP_ICMP_BAD_INNER);
    }
    const struct sl_l4_ports *ports = (const struct sl_l4_ports *)c->pos;
    if (c->pos + sizeof(*ports) > c->limit || c->pos + sizeof(*ports) > c->end) {
        return sl_parse_drop(pkt, SL_DROP_ICMP_BAD_INNER);
    }
    /* An error goes to the source of the packet it quotes (a VIP: backends
     * answer from it). One sent elsewhere is not about a flow of ours:
     * keyed by its quote it would be passed on to a backend, which would
     * route it on to its outer destination (a relay). */
    if (!sl_parse_addr_eq(pkt->key.dst, inner.src)) {
        return sl_parse_drop(pkt, SL_DROP_ICMP_BAD_INNER);
    }
    __builtin_memcpy(pkt->key.src, inner.dst, sizeof(pkt->key.src));
    __builtin_memcpy(pkt->key.dst, inner.src, sizeof(pkt->key.dst));
    pkt->key.sport = ports->dport;
    pkt->key.dport = ports->sport;
    pkt->key.proto = inner.proto;
    pkt->key.family = inner.family;
    return SL_VERDICT_ICMP_ERROR;
}

/* The 8-byte ICMP/ICMPv6 header both steps start with: records offset, type
 * and code and moves the cursor past it; NULL when it does not fit. */
SL_INLINE const struct sl_icmp_hdr *sl_parse_icmp_hdr(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_icmp_hdr *icmp = (const struct sl_icmp_hdr *)c->pos;
    if (c->pos + sizeof(*icmp) > c->limit || c->pos + sizeof(*icmp) > c->end) {
        return NULL;
    }
    pkt->l4_off = sl_cursor_off(c);
    pkt->icmp_type = icmp->type;
    pkt->icmp_code = icmp->code;
    c->pos += sizeof(*icmp);
    return icmp;
}

/* ICMP (IPv4): echo request, or an error routed by its embedded header. */
SL_INLINE enum sl_verdict sl_parse_icmp(struct sl_cursor *c, struct sl_pkt *pkt) {
    const struct sl_icmp_hdr *icmp = sl_parse_icmp_hdr(c, pkt);
    if (icmp == NULL) {
        return sl_parse_drop(pkt, SL_DROP_TRUNCATED);
    }
    switch (icmp->type) {
        case SL_ICMP_ECHO:
            return SL_VERDICT_ICMP_ECHO;
        case SL_ICMP_DEST_UNREACH:
        case SL_ICMP_SOURCE_QUENCH:
        case SL_ICMP_TIME_EXCEEDED:
        case SL_ICMP_PARAMETERPROB:
            return sl_parse_icmp_error(c, pkt);
        default:
            return sl_parse_drop(pkt, SL_DROP_ICMP_UNSUPPORTED);
    }
}

/* ICMPv6: echo request, neighbour solicitation (code 0, hop limit 255, at
 * least the 24-byte message), or an error routed by its embedded header. */
SL_INLINE enum sl_verdict sl_parse_icmpv6(struct sl_cursor *c, struct sl_pkt *pkt) {
    const uint8_t *l4 = c->pos;
    const struct sl_icmp_hdr *icmp = sl_parse_icmp_hdr(c, pkt);
    if (icmp == NULL) {
        return sl_parse_drop(pkt, SL_DROP_TRUNCATED);
    }
    switch (icmp->type) {
        case SL_ICMPV6_ECHO_REQUEST:
            return SL_VERDICT_ICMP_ECHO;
        case SL_ICMPV6_NDISC_NS:
            if (icmp->code != 0 || c->ttl != 255) {
                return sl_parse_drop(pkt, SL_DROP_ICMP_UNSUPPORTED); /* RFC 4861 7.1.1 */
            }
            if (l4 + sizeof(struct sl_nd_msg) > c->limit ||
                l4 + sizeof(struct sl_nd_msg) > c->end) {
                return sl_parse_drop(pkt, SL_DROP_TRUNCATED);
            }
            return SL_VERDICT_ND;
        case SL_ICMPV6_DEST_UNREACH:
        case SL_ICMPV6_PKT_TOOBIG:
        case SL_ICMPV6_TIME_EXCEED:
        case SL_ICMPV6_PARAMPROB:
            return sl_parse_icmp_error(c, pkt);
        default:
            return sl_parse_drop(pkt, SL_DROP_ICMP_UNSUPPORTED);
    }
}

/* The upper layer, cursor after the IP header (and IPv6 extension headers). */
SL_INLINE enum sl_verdict sl_parse_l4(struct sl_cursor *c, struct sl_pkt *pkt) {
    uint8_t proto = pkt->l4_proto;
    enum sl_drop_reason why;
    pkt->key.proto = proto;
    if (pkt->frag != SL_FRAG_NONE) {
        return sl_parse_fragment(c, pkt);
    }
    if (proto == SL_IPPROTO_TCP) {
        why = sl_parse_tcp(c, pkt);
    } else if (proto == SL_IPPROTO_UDP) {
        why = sl_parse_udp(c, pkt);
    } else if (proto == sl_pkt_icmp_proto(pkt)) {
        if (proto == SL_IPPROTO_ICMPV6) {
            return sl_parse_icmpv6(c, pkt);
        }
        return sl_parse_icmp(c, pkt);
    } else {
        why = SL_DROP_L4_UNSUPPORTED;
    }
    if (why != SL_DROP_NONE) {
        return sl_parse_drop(pkt, why);
    }
    return SL_VERDICT_FLOW;
}

/* Classify the frame [data, data_end). Zeroes *pkt first. */
SL_INLINE enum sl_verdict sl_parse_frame(const uint8_t *data, const uint8_t *data_end,
                                         struct sl_pkt *pkt) {
    struct sl_cursor c;
    enum sl_drop_reason why;
    __builtin_memset(pkt, 0, sizeof(*pkt));
    c.start = data;
    c.pos = data;
    c.end = data_end;
    c.limit = data_end;
    c.ttl = 0;
    why = sl_parse_eth(&c, pkt);
    if (why == SL_DROP_NONE) {
        why = sl_parse_vlans(&c, pkt);
    }
    if (why != SL_DROP_NONE) {
        return sl_parse_drop(pkt, why);
    }
    switch (pkt->ethertype) {
        case SL_ETH_P_ARP:
            why = sl_parse_arp(&c, pkt);
            if (why != SL_DROP_NONE) {
                return sl_parse_drop(pkt, why);
            }
            return SL_VERDICT_ARP;
        case SL_ETH_P_IPV4:
            why = sl_parse_ipv4(&c, pkt);
            break;
        case SL_ETH_P_IPV6:
            why = sl_parse_ipv6(&c, pkt);
            if (why == SL_DROP_NONE) {
                why = sl_parse_ipv6_ext(&c, &pkt->l4_proto, &pkt->frag);
            }
            break;
        default:
            why = SL_DROP_L2_UNSUPPORTED;
            break;
    }
    if (why != SL_DROP_NONE) {
        return sl_parse_drop(pkt, why);
    }
    return sl_parse_l4(&c, pkt);
}

/* Classify the frame of len bytes at data (data may be NULL when len is 0). */
SL_INLINE enum sl_verdict sl_parse(const uint8_t *data, uint32_t len, struct sl_pkt *pkt) {
    if (len < sizeof(struct sl_eth_hdr)) {
        __builtin_memset(pkt, 0, sizeof(*pkt));
        return sl_parse_drop(pkt, SL_DROP_TRUNCATED);
    }
    return sl_parse_frame(data, data + len, pkt);
}

SL_EXTERN_C_END

#endif /* SLUICE_PARSE_IMPL_H */
