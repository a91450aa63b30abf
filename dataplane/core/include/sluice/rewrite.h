/* SPDX-License-Identifier: Apache-2.0
 *
 * rewrite.h: what sluice writes into packets: the L2 DSR rewrite, IPIP / GUE
 * encapsulation, ICMP "too big" replies, and the in-place ARP / ND / echo
 * responders; plus the Internet checksum helpers they use. One definition
 * for C11, C++20 and (for the header writers) BPF C; every function is
 * static inline so that the dataplane inlines it into its burst loop.
 *
 * Buffer conventions
 * ------------------
 *  frame     first byte of the Ethernet header.
 *  len       bytes of the frame (may include trailing Ethernet padding).
 *  headroom  bytes writable *before* frame (DPDK: rte_pktmbuf_headroom()).
 *  room      bytes writable *from* frame (len + tailroom).
 *  pkt       the parser's description of the frame (parse.h); only l3_off,
 *            l4_off, l3_len, ethertype, l4_proto and frag are read.
 *
 * Every function returns a struct sl_rw_result {frame, len, verdict}. With
 * SL_RW_OK, frame/len describe the frame to transmit: it starts at or before
 * the input frame (frame_in - result.frame bytes were prepended; DPDK:
 * rte_pktmbuf_prepend()) and ends where result.len says (trailing Ethernet
 * padding is trimmed where lengths change). With any other verdict the
 * frame is untouched, result.frame/len are the input ones, and the verdict
 * says what the caller does:
 *
 *   SL_RW_OK                  transmit result.frame / result.len
 *   SL_RW_MTU_EXCEEDED        encapsulated packet > MTU and DF set (or IPv6):
 *                             answer with sl_build_icmp_too_big(), count
 *                             drop "mtu_exceeded" and icmp_too_big_sent
 *   SL_RW_MTU_EXCEEDED_NO_DF  encapsulated packet > MTU, inner IPv4 without
 *                             DF: sluice does not fragment, and no ICMP
 *                             message asks a sender to shrink a packet it
 *                             allowed to be fragmented: drop, count
 *                             "mtu_exceeded"
 *   SL_RW_NO_SPACE            not enough headroom (or room): drop, count
 *                             "encap_failed"
 *   SL_RW_NO_REPLY            the RFCs forbid answering this packet (ICMP
 *                             error about an ICMP error, a non-first
 *                             fragment, a multicast source, gratuitous ARP..)
 *   SL_RW_NO_GATEWAY          encapsulation, but the context has no gateway
 *                             MAC (all zero): the packet cannot be delivered;
 *                             drop, count "encap_failed"
 *   SL_RW_NO_SOURCE           encapsulation towards a backend of a family the
 *                             box has no address of (box_ip4 0, box_ip6 all
 *                             zero): the outer source would be 0.0.0.0 or ::;
 *                             drop, count "encap_failed"
 *   SL_RW_INVALID             pkt/arguments are not what the function handles
 *                             (wrong protocol, lengths past the frame, ...)
 *
 * Every write is done through memcpy of a local header (no unaligned or
 * type-punned stores), so frames may sit at any alignment.
 */
#ifndef SLUICE_REWRITE_H
#define SLUICE_REWRITE_H

#include "sluice/compat.h"
#include "sluice/parse.h"
#include "sluice/region.h"
#include "sluice/wire.h"

SL_EXTERN_C_BEGIN

/* ======================================================================
 * Checksums (RFC 1071 sum, RFC 1624 incremental update)
 *
 * A partial sum is a 32-bit ones' complement accumulator of the bytes in
 * memory order, read as native 16-bit words: store the folded result with
 * memcpy and it is right in network order on any host. Only the last
 * buffer added to a partial sum may have an odd length.
 * ====================================================================== */

SL_INLINE uint32_t sl_csum_reduce(uint64_t acc) {
    acc = (acc & 0xffffffffULL) + (acc >> 32);
    acc = (acc & 0xffffffffULL) + (acc >> 32);
    return (uint32_t)acc;
}

/* Adds len bytes at data to the partial sum `sum`. */
SL_INLINE uint32_t sl_csum_partial(const void *data, uint32_t len, uint32_t sum) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t acc = sum;
    while (len >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        acc += w;
        acc += (acc < w) ? 1 : 0; /* end-around carry */
        p += 8;
        len -= 8;
    }
    /* The tail's words, with the end-around carry too: after the loop acc
     * can be anything up to 2^64 - 1 (a sum of 548 bytes, the quote of a
     * fragmentation-needed error, lost its carry here with 12 bytes of
     * 0xff, 0x00 0x01 at its end). */
    if (len >= 4) {
        uint32_t w;
        __builtin_memcpy(&w, p, 4);
        acc += w;
        acc += (acc < w) ? 1 : 0;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        __builtin_memcpy(&w, p, 2);
        acc += w;
        acc += (acc < w) ? 1 : 0;
        p += 2;
        len -= 2;
    }
    if (len == 1) {
        uint16_t w = 0; /* the odd byte is the high-order byte of a zero-padded word */
        __builtin_memcpy(&w, p, 1);
        acc += w;
        acc += (acc < w) ? 1 : 0;
    }
    return sl_csum_reduce(acc);
}

/* The checksum to store: the complement of the folded sum. */
SL_INLINE uint16_t sl_csum_fold(uint32_t sum) {
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), all three as stored in the packet. */
SL_INLINE uint16_t sl_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word) {
    uint32_t s = (uint32_t)(uint16_t)~check + (uint32_t)(uint16_t)~old_word + new_word;
    return sl_csum_fold(s);
}

SL_INLINE uint16_t sl_csum_update32(uint16_t check, uint32_t old_word, uint32_t new_word) {
    uint32_t s = (uint32_t)(uint16_t)~check;
    s += (uint32_t)(uint16_t) ~(old_word & 0xffffu) + (uint32_t)(uint16_t) ~(old_word >> 16);
    s += (new_word & 0xffffu) + (new_word >> 16);
    return sl_csum_fold(s);
}

/* IPv4 pseudo-header (RFC 768/793): addresses as stored (network order),
 * len and proto as host values. */
SL_INLINE uint32_t sl_ipv4_pseudo_sum(uint32_t saddr, uint32_t daddr, uint32_t len, uint8_t proto) {
    uint64_t acc = (uint64_t)saddr + daddr + sl_htons((uint16_t)len) + sl_htons(proto);
    return sl_csum_reduce(acc);
}

/* IPv6 pseudo-header (RFC 8200 section 8.1): upper-layer length and next
 * header as host values. */
SL_INLINE uint32_t sl_ipv6_pseudo_sum(const uint8_t saddr[16], const uint8_t daddr[16],
                                      uint32_t len, uint8_t nexthdr) {
    uint32_t s = sl_csum_partial(saddr, 16, 0);
    s = sl_csum_partial(daddr, 16, s);
    return sl_csum_reduce((uint64_t)s + sl_htonl(len) + sl_htonl((uint32_t)nexthdr));
}

/* Checksum of an IPv4 header of hlen bytes whose check field is zero. */
SL_INLINE uint16_t sl_ipv4_hdr_csum(const void *hdr, uint32_t hlen) {
    return sl_csum_fold(sl_csum_partial(hdr, hlen, 0));
}

/* ======================================================================
 * Results
 * ====================================================================== */

enum sl_rw_verdict {
    SL_RW_OK = 0,
    SL_RW_MTU_EXCEEDED,
    SL_RW_MTU_EXCEEDED_NO_DF,
    SL_RW_NO_SPACE,
    SL_RW_NO_REPLY,
    SL_RW_INVALID,
    SL_RW_NO_GATEWAY, /* encapsulation without a gateway MAC (all zero): drop */
    SL_RW_NO_SOURCE,  /* encapsulation without an address of the backend's family: drop */
};

struct sl_rw_result {
    uint8_t *frame;
    uint32_t len;
    enum sl_rw_verdict verdict;
};

SL_INLINE struct sl_rw_result sl_rw_make(uint8_t *frame, uint32_t len, enum sl_rw_verdict v) {
    struct sl_rw_result r;
    r.frame = frame;
    r.len = len;
    r.verdict = v;
    return r;
}

#if !defined(__bpf__)
SL_INLINE const char *sl_rw_verdict_name(enum sl_rw_verdict v) {
    switch (v) {
        case SL_RW_OK:
            return "ok";
        case SL_RW_MTU_EXCEEDED:
            return "mtu_exceeded";
        case SL_RW_MTU_EXCEEDED_NO_DF:
            return "mtu_exceeded_no_df";
        case SL_RW_NO_SPACE:
            return "no_space";
        case SL_RW_NO_REPLY:
            return "no_reply";
        case SL_RW_INVALID:
            return "invalid";
        case SL_RW_NO_GATEWAY:
            return "no_gateway";
        case SL_RW_NO_SOURCE:
            return "no_source";
    }
    return "unknown";
}
#endif

/* ======================================================================
 * Small helpers
 * ====================================================================== */

SL_INLINE uint16_t sl_rw_ld16(const uint8_t *p) {
    uint16_t v;
    __builtin_memcpy(&v, p, 2);
    return v;
}

SL_INLINE uint32_t sl_rw_ld32(const uint8_t *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

SL_INLINE void sl_rw_st16(uint8_t *p, uint16_t v) {
    __builtin_memcpy(p, &v, 2);
}

SL_INLINE int sl_rw_ipv6_unspecified(const uint8_t a[16]) {
    uint64_t w0;
    uint64_t w1;
    __builtin_memcpy(&w0, a, 8);
    __builtin_memcpy(&w1, a + 8, 8);
    return (w0 | w1) == 0;
}

/* 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/3 (multicast, reserved, broadcast):
 * sources and destinations that sluice never answers (RFC 1122 3.2.2). */
SL_INLINE int sl_rw_ipv4_not_unicast(uint32_t addr_net) {
    const uint8_t first = (uint8_t)(sl_ntohl(addr_net) >> 24);
    return first == 0 || first == 127 || first >= 224;
}

/* Unspecified, loopback (::1) or multicast (ff00::/8). */
SL_INLINE int sl_rw_ipv6_not_unicast(const uint8_t a[16]) {
    static const uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return a[0] == 0xff || sl_rw_ipv6_unspecified(a) || __builtin_memcmp(a, loopback, 16) == 0;
}

/* The frame holds the whole IP packet pkt describes: l3_len bytes at l3_off,
 * after at least an Ethernet header, with the version nibble pkt's
 * ethertype promises. Returns SL_AF_INET / SL_AF_INET6, or 0. */
SL_INLINE uint8_t sl_rw_ip_family(const uint8_t *frame, uint32_t len, const struct sl_pkt *pkt) {
    if (pkt->l3_off < sizeof(struct sl_eth_hdr) || (uint32_t)pkt->l3_off + pkt->l3_len > len) {
        return 0;
    }
    const uint8_t ver = (uint8_t)(frame[pkt->l3_off] >> 4);
    if (pkt->ethertype == SL_ETH_P_IPV4 && ver == 4 && pkt->l3_len >= sizeof(struct sl_ipv4_hdr) &&
        (uint32_t)(frame[pkt->l3_off] & 0x0f) * 4 >= sizeof(struct sl_ipv4_hdr) &&
        (uint32_t)(frame[pkt->l3_off] & 0x0f) * 4 <= pkt->l3_len) {
        return SL_AF_INET;
    }
    if (pkt->ethertype == SL_ETH_P_IPV6 && ver == 6 && pkt->l3_len >= sizeof(struct sl_ipv6_hdr)) {
        return SL_AF_INET6;
    }
    return 0;
}

/* Moves the l2_len-byte Ethernet header (with its VLAN tags) from frame to
 * frame - grow and writes dst/src MACs; returns the new frame start. */
SL_INLINE uint8_t *sl_rw_push_l2(uint8_t *frame, uint32_t l2_len, uint32_t grow,
                                 const uint8_t dst[SL_ETH_ALEN], const uint8_t src[SL_ETH_ALEN]) {
    uint8_t d[SL_ETH_ALEN];
    uint8_t s[SL_ETH_ALEN];
    __builtin_memcpy(d, dst, SL_ETH_ALEN); /* dst/src may point into the frame */
    __builtin_memcpy(s, src, SL_ETH_ALEN);
    uint8_t *out = frame - grow;
    __builtin_memmove(out, frame, l2_len);
    __builtin_memcpy(out, d, SL_ETH_ALEN);
    __builtin_memcpy(out + SL_ETH_ALEN, s, SL_ETH_ALEN);
    return out;
}

/* ======================================================================
 * L2 direct server return
 * ====================================================================== */

/* dst MAC := backend MAC, src MAC := box MAC. Nothing else changes: no TTL
 * decrement (sluice forwards at L2), VLAN tags and padding stay. */
SL_INLINE void sl_rewrite_dsr_l2(uint8_t *frame, const uint8_t box_mac[SL_ETH_ALEN],
                                 const uint8_t backend_mac[SL_ETH_ALEN]) {
    __builtin_memcpy(frame, backend_mac, SL_ETH_ALEN);
    __builtin_memcpy(frame + SL_ETH_ALEN, box_mac, SL_ETH_ALEN);
}

/* ======================================================================
 * Encapsulation
 *
 * Outer family = the backend's family, inner = the packet's; all four
 * combinations are written (4in4 and 6in4 with IPv4 protocol 4 / 41, 4in6
 * and 6in6 with next header 4 / 41), optionally with UDP + GUE in between.
 *
 * The frame that leaves: Ethernet dst = gateway MAC, src = box MAC, the
 * incoming frame's VLAN tags unchanged (one-armed: it leaves the port and
 * VLAN it came in on), outer IP [, UDP, GUE], the inner IP packet exactly
 * as received (its TTL is not decremented; Ethernet padding after it is
 * dropped).
 *
 * Outer IPv4: TTL ctx->ttl, TOS copied from the inner TOS / traffic class
 * (DSCP and ECN: RFC 6040 normal mode), DF copied from inner IPv4 and set
 * for inner IPv6. The identification field is 0 when DF is set (an atomic
 * datagram, RFC 6864); with DF clear it is the inner packet's id xor the
 * low 16 bits of sl_encap_hash32(flow hash), so it changes packet by packet as the sender's
 * ids do and the outer packet can still be fragmented and reassembled.
 * Outer IPv6: hop limit ctx->ttl, traffic class copied as above, flow label
 * = 20 bits of the flow hash (never 0; RFC 6438: ECMP entropy per flow).
 *
 * GUE (draft-ietf-intarea-gue version 0, as Linux fou_core.c gue_udp_recv()
 * takes it after `ip fou add port <dport> gue`): UDP to the GUE port, then
 * 4 bytes {ver 0, C 0, hlen 0, proto_ctype = 4 or 41, flags 0}, then the
 * inner packet. UDP source port = sport_min + ((h32 * range) >> 32) with
 * h32 = the flow hash's halves xored and range = sport_max - sport_min + 1
 * (default 49152..65535, the dynamic range): per-flow ECMP entropy, as
 * Linux's udp_flow_src_port() does for its tunnels. UDP checksum: 0 over
 * IPv4 (RFC 768; Linux accepts it), computed over IPv6 (RFC 8200 8.1:
 * Linux drops zero-checksum UDP over IPv6); a computed 0 is sent as 0xffff.
 *
 * MTU: the outer IP packet (inner l3_len + overhead) must fit ctx->mtu.
 * Otherwise the verdict is SL_RW_MTU_EXCEEDED (DF set or IPv6 inner) or
 * SL_RW_MTU_EXCEEDED_NO_DF (inner IPv4 without DF) and nothing is written.
 * The verdicts are checked in this order: invalid, MTU, headroom.
 * ====================================================================== */

#define SL_ENCAP_DEFAULT_TTL 64
#define SL_ENCAP_DEFAULT_MTU 1500
#define SL_GUE_SPORT_MIN 49152
#define SL_GUE_SPORT_MAX 65535
#define SL_ENCAP_GUE_LEN (sizeof(struct sl_udp_hdr) + sizeof(struct sl_gue_hdr))
/* The most any function here prepends (IPv6 + UDP + GUE). */
#define SL_REWRITE_HEADROOM 64

struct sl_encap_ctx {
    uint8_t box_mac[SL_ETH_ALEN]; /* source MAC of everything sluice sends */
    uint8_t gw_mac[SL_ETH_ALEN];  /* next hop of encapsulated packets */
    uint8_t box_ip6[16];          /* outer source towards IPv6 backends */
    uint32_t box_ip4;             /* outer source towards IPv4 backends (network order) */
    uint32_t mtu;                 /* egress IP MTU, e.g. 1500 */
    uint16_t gue_dport;           /* network order: GUE port when the service names none */
    uint16_t gue_sport_min;       /* host order, inclusive */
    uint16_t gue_sport_max;       /* host order, inclusive */
    uint8_t ttl;                  /* outer TTL / hop limit */
    uint8_t pad;
};
SL_STATIC_ASSERT(sizeof(struct sl_encap_ctx) == 44, "encap context is 44 bytes");

/* Whether ctx names a gateway MAC, the next hop of encapsulated frames (all
 * zero: none configured). */
SL_INLINE int sl_encap_has_gateway(const struct sl_encap_ctx *ctx) {
    static const uint8_t no_mac[SL_ETH_ALEN] = {0, 0, 0, 0, 0, 0};
    return __builtin_memcmp(ctx->gw_mac, no_mac, SL_ETH_ALEN) != 0;
}

/* Whether ctx has an address of `family`, the outer source towards
 * backends of that family (0.0.0.0 and :: count as none). */
SL_INLINE int sl_encap_has_source(const struct sl_encap_ctx *ctx, uint8_t family) {
    static const uint8_t no_ip6[16] = {0};
    return family == SL_AF_INET ? ctx->box_ip4 != 0
                                : __builtin_memcmp(ctx->box_ip6, no_ip6, 16) != 0;
}

/* Zeroed addresses, MTU 1500, TTL 64, GUE source ports 49152..65535; the
 * dataplane fills in the addresses and gue_dport from its config. */
SL_INLINE void sl_encap_ctx_defaults(struct sl_encap_ctx *ctx) {
    __builtin_memset(ctx, 0, sizeof(*ctx));
    ctx->mtu = SL_ENCAP_DEFAULT_MTU;
    ctx->ttl = SL_ENCAP_DEFAULT_TTL;
    ctx->gue_sport_min = SL_GUE_SPORT_MIN;
    ctx->gue_sport_max = SL_GUE_SPORT_MAX;
}

/* Bytes encapsulation adds between the L2 header and the inner packet. */
SL_INLINE uint32_t sl_encap_overhead(enum sl_fwd_mode mode, uint8_t outer_family) {
    if (mode == SL_FWD_DSR_L2) {
        return 0;
    }
    const uint32_t ip = outer_family == SL_AF_INET6 ? (uint32_t)sizeof(struct sl_ipv6_hdr)
                                                    : (uint32_t)sizeof(struct sl_ipv4_hdr);
    return mode == SL_FWD_GUE ? ip + (uint32_t)SL_ENCAP_GUE_LEN : ip;
}

/* The largest inner IP packet that fits: the MTU to announce in ICMP
 * fragmentation-needed / packet-too-big. */
SL_INLINE uint32_t sl_encap_inner_mtu(const struct sl_encap_ctx *ctx, enum sl_fwd_mode mode,
                                      uint8_t outer_family) {
    const uint32_t o = sl_encap_overhead(mode, outer_family);
    return ctx->mtu > o ? ctx->mtu - o : 0;
}

SL_INLINE uint32_t sl_encap_hash32(uint64_t flow_hash) {
    return (uint32_t)flow_hash ^ (uint32_t)(flow_hash >> 32);
}

/* GUE UDP source port (host order) for a flow: see the policy above. */
SL_INLINE uint16_t sl_gue_sport(const struct sl_encap_ctx *ctx, uint64_t flow_hash) {
    if (ctx->gue_sport_max <= ctx->gue_sport_min) {
        return ctx->gue_sport_min;
    }
    const uint64_t range = (uint64_t)ctx->gue_sport_max - ctx->gue_sport_min + 1;
    return (uint16_t)(ctx->gue_sport_min + (((uint64_t)sl_encap_hash32(flow_hash) * range) >> 32));
}

/* Outer IPv6 flow label (host order, 20 bits, never 0). */
SL_INLINE uint32_t sl_encap_flow_label(uint64_t flow_hash) {
    const uint32_t h = sl_encap_hash32(flow_hash);
    const uint32_t label = (h ^ (h >> 20)) & 0xfffffu;
    return label != 0 ? label : 1;
}

/* Writes a 20-byte outer IPv4 header at p. tos/df/id as described above;
 * id in network order. */
SL_INLINE void sl_write_ipv4_hdr(uint8_t *p, uint32_t saddr, uint32_t daddr, uint8_t proto,
                                 uint16_t tot_len, uint8_t tos, uint8_t ttl, int df, uint16_t id) {
    struct sl_ipv4_hdr h;
    h.ver_ihl = 0x45;
    h.tos = tos;
    h.tot_len = sl_htons(tot_len);
    h.id = id;
    h.frag_off = df ? sl_htons(SL_IPV4_DF) : 0;
    h.ttl = ttl;
    h.protocol = proto;
    h.check = 0;
    h.saddr = saddr;
    h.daddr = daddr;
    h.check = sl_ipv4_hdr_csum(&h, sizeof(h));
    __builtin_memcpy(p, &h, sizeof(h));
}

/* Writes a 40-byte IPv6 header at p; flow_label in host order. */
SL_INLINE void sl_write_ipv6_hdr(uint8_t *p, const uint8_t saddr[16], const uint8_t daddr[16],
                                 uint8_t nexthdr, uint16_t payload_len, uint8_t tclass,
                                 uint32_t flow_label, uint8_t hop_limit) {
    struct sl_ipv6_hdr h;
    h.ver_tc_flow = sl_htonl((6u << 28) | ((uint32_t)tclass << 20) | (flow_label & 0xfffffu));
    h.payload_len = sl_htons(payload_len);
    h.nexthdr = nexthdr;
    h.hop_limit = hop_limit;
    __builtin_memcpy(h.saddr, saddr, 16);
    __builtin_memcpy(h.daddr, daddr, 16);
    __builtin_memcpy(p, &h, sizeof(h));
}

/* Writes UDP (check 0) + GUE version 0 for an inner packet of inner_len
 * bytes of protocol inner_proto (4 or 41); ports in network order. */
SL_INLINE void sl_write_udp_gue(uint8_t *p, uint16_t sport, uint16_t dport, uint16_t inner_len,
                                uint8_t inner_proto) {
    struct sl_udp_hdr u;
    u.source = sport;
    u.dest = dport;
    u.len = sl_htons((uint16_t)(inner_len + SL_ENCAP_GUE_LEN));
    u.check = 0;
    struct sl_gue_hdr g;
    g.hlen_c_ver = 0; /* version 0, not a control message, no options */
    g.proto_ctype = inner_proto;
    g.flags = 0;
    __builtin_memcpy(p, &u, sizeof(u));
    __builtin_memcpy(p + sizeof(u), &g, sizeof(g));
}

/* The encapsulation both modes share; gue_dport 0 = plain IPIP. */
SL_INLINE struct sl_rw_result sl_encap_common(uint8_t *frame, uint32_t len, uint32_t headroom,
                                              const struct sl_pkt *pkt,
                                              const struct sl_encap_ctx *ctx,
                                              const struct sl_backend *be, int gue,
                                              uint16_t gue_dport, uint64_t flow_hash) {
    const uint8_t inner_family = sl_rw_ip_family(frame, len, pkt);
    if (inner_family == 0 || (be->family != SL_AF_INET && be->family != SL_AF_INET6) ||
        (gue && gue_dport == 0)) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    /* No gateway MAC (none configured): the frame would go to
     * 00:00:00:00:00:00, which no host takes. Before the MTU test: a
     * fragmentation-needed for a packet that cannot go anywhere misleads. */
    if (!sl_encap_has_gateway(ctx)) {
        return sl_rw_make(frame, len, SL_RW_NO_GATEWAY);
    }
    /* No address of the backend's family (the dataplane runs without
     * --ipv4 or --ipv6): the outer header would come from 0.0.0.0 or ::,
     * which a backend drops or, worse, answers. */
    if (!sl_encap_has_source(ctx, be->family)) {
        return sl_rw_make(frame, len, SL_RW_NO_SOURCE);
    }
    const uint8_t *inner = frame + pkt->l3_off;
    const uint32_t inner_len = pkt->l3_len;
    uint8_t inner_proto;
    uint8_t tos;
    int df;
    uint16_t id = 0;
    if (inner_family == SL_AF_INET) {
        struct sl_ipv4_hdr ih;
        __builtin_memcpy(&ih, inner, sizeof(ih));
        inner_proto = SL_IPPROTO_IPIP;
        tos = ih.tos;
        df = (sl_ntohs(ih.frag_off) & SL_IPV4_DF) != 0;
        if (!df) {
            id = sl_htons((uint16_t)(sl_ntohs(ih.id) ^ (uint16_t)sl_encap_hash32(flow_hash)));
        }
    } else {
        inner_proto = SL_IPPROTO_IPV6;
        tos = (uint8_t)(sl_ntohl(sl_rw_ld32(inner)) >> 20);
        df = 1;
    }
    const uint32_t ip_len = be->family == SL_AF_INET6 ? (uint32_t)sizeof(struct sl_ipv6_hdr)
                                                      : (uint32_t)sizeof(struct sl_ipv4_hdr);
    const uint32_t added = ip_len + (gue ? (uint32_t)SL_ENCAP_GUE_LEN : 0u);
    const uint32_t outer_len = inner_len + added;
    if (outer_len > ctx->mtu || outer_len > 0xffffu) {
        return sl_rw_make(frame, len, df ? SL_RW_MTU_EXCEEDED : SL_RW_MTU_EXCEEDED_NO_DF);
    }
    if (headroom < added) {
        return sl_rw_make(frame, len, SL_RW_NO_SPACE);
    }

    uint8_t *out = sl_rw_push_l2(frame, pkt->l3_off, added, ctx->gw_mac, ctx->box_mac);
    uint8_t *o = out + pkt->l3_off;
    const uint8_t next = gue ? (uint8_t)SL_IPPROTO_UDP : inner_proto;
    if (be->family == SL_AF_INET) {
        uint32_t daddr;
        __builtin_memcpy(&daddr, be->addr, 4);
        sl_rw_st16(o - 2, sl_htons(SL_ETH_P_IPV4));
        sl_write_ipv4_hdr(o, ctx->box_ip4, daddr, next, (uint16_t)outer_len, tos, ctx->ttl, df, id);
    } else {
        sl_rw_st16(o - 2, sl_htons(SL_ETH_P_IPV6));
        sl_write_ipv6_hdr(o, ctx->box_ip6, be->addr, next, (uint16_t)(outer_len - ip_len), tos,
                          sl_encap_flow_label(flow_hash), ctx->ttl);
    }
    if (gue) {
        uint8_t *udp = o + ip_len;
        sl_write_udp_gue(udp, sl_htons(sl_gue_sport(ctx, flow_hash)), gue_dport,
                         (uint16_t)inner_len, inner_proto);
        if (be->family == SL_AF_INET6) {
            const uint32_t udp_len = inner_len + (uint32_t)SL_ENCAP_GUE_LEN;
            uint32_t s = sl_ipv6_pseudo_sum(ctx->box_ip6, be->addr, udp_len, SL_IPPROTO_UDP);
            s = sl_csum_partial(udp, udp_len, s);
            uint16_t c = sl_csum_fold(s);
            if (c == 0) {
                c = 0xffff;
            }
            __builtin_memcpy(udp + offsetof(struct sl_udp_hdr, check), &c, 2);
        }
    }
    return sl_rw_make(out, pkt->l3_off + outer_len, SL_RW_OK);
}

/* IPIP (4in4, 6in4, 4in6, 6in6, by the families of packet and backend).
 * Prepends 20 (IPv4 backend) or 40 (IPv6 backend) bytes. */
SL_INLINE struct sl_rw_result sl_encap_ipip(uint8_t *frame, uint32_t len, uint32_t headroom,
                                            const struct sl_pkt *pkt,
                                            const struct sl_encap_ctx *ctx,
                                            const struct sl_backend *be, uint64_t flow_hash) {
    return sl_encap_common(frame, len, headroom, pkt, ctx, be, 0, 0, flow_hash);
}

/* GUE to gue_dport (network order, not 0). Prepends 32 or 52 bytes. */
SL_INLINE struct sl_rw_result sl_encap_gue(uint8_t *frame, uint32_t len, uint32_t headroom,
                                           const struct sl_pkt *pkt, const struct sl_encap_ctx *ctx,
                                           const struct sl_backend *be, uint16_t gue_dport,
                                           uint64_t flow_hash) {
    return sl_encap_common(frame, len, headroom, pkt, ctx, be, 1, gue_dport, flow_hash);
}

/* Forwards by the service's mode: DSR (frame unchanged but for the MACs),
 * IPIP, or GUE to svc->gue_port (ctx->gue_dport when the service has 0). */
SL_INLINE struct sl_rw_result sl_rewrite_forward(uint8_t *frame, uint32_t len, uint32_t headroom,
                                                 const struct sl_pkt *pkt,
                                                 const struct sl_encap_ctx *ctx,
                                                 const struct sl_service *svc,
                                                 const struct sl_backend *be, uint64_t flow_hash) {
    switch (svc->fwd_mode) {
        case SL_FWD_DSR_L2:
            sl_rewrite_dsr_l2(frame, ctx->box_mac, be->mac);
            return sl_rw_make(frame, len, SL_RW_OK);
        case SL_FWD_IPIP:
            return sl_encap_ipip(frame, len, headroom, pkt, ctx, be, flow_hash);
        case SL_FWD_GUE:
            return sl_encap_gue(frame, len, headroom, pkt, ctx, be,
                                svc->gue_port != 0 ? svc->gue_port : ctx->gue_dport, flow_hash);
        default:
            return sl_rw_make(frame, len, SL_RW_INVALID);
    }
}

/* ======================================================================
 * ICMP "too big" replies, built in place over the packet that did not fit
 *
 * The reply reuses the buffer: the original IP packet stays where it is and
 * becomes the quoted part; the reply's IP + ICMP headers (28 bytes for
 * IPv4, 48 for IPv6) are prepended before it and the L2 header moves up
 * with its VLAN tags. Headroom needed: SL_ICMP4_REPLY_HDRS / _ICMP6_.
 *
 * Ethernet dst := the original source MAC (the router that sent it),
 * src := box_mac. IP src := the original destination (the VIP, so the
 * client's stack matches it to its connection), dst := the client.
 * TTL / hop limit 64.
 *
 * IPv4: type 3 code 4, next-hop MTU = mtu; the quote is as much of the
 * original datagram (options included) as keeps the reply within 576 bytes
 * (RFC 1812 4.3.2.3). TOS 0xc0 (internetwork control, as Linux sends ICMP
 * errors), DF set and id 0: 576 bytes is the size every IPv4 host must
 * accept and no link sluice serves is smaller.
 * IPv6: type 2 code 0, MTU field = mtu, as much of the original packet as
 * keeps the reply within the IPv6 minimum MTU of 1280 (RFC 4443 2.4(c)).
 * An mtu under 1280 is sent as given; IPv6 services need an egress MTU of
 * at least 1280 + the encapsulation overhead.
 *
 * SL_RW_NO_REPLY (RFC 1122 3.2.2, RFC 4443 2.4(e)) when the original is an
 * ICMP error (or an ICMPv4 fragment whose type cannot be seen), an IPv4
 * fragment other than the first, or its source or destination is not a
 * unicast address; for IPv4 also when it came to a link-layer broadcast or
 * multicast address (IPv6 sends packet too big there: RFC 4443 2.4(e.3)).
 * ====================================================================== */

#define SL_ICMP4_REPLY_HDRS (sizeof(struct sl_ipv4_hdr) + sizeof(struct sl_icmp_hdr))
#define SL_ICMP6_REPLY_HDRS (sizeof(struct sl_ipv6_hdr) + sizeof(struct sl_icmp_hdr))
#define SL_ICMP4_REPLY_MAX 576u
#define SL_ICMP6_REPLY_MAX 1280u
#define SL_ICMP_ERROR_TOS 0xc0
#define SL_REPLY_TTL 64

SL_INLINE int sl_icmp4_is_error(uint8_t type) {
    return type == SL_ICMP_DEST_UNREACH || type == SL_ICMP_SOURCE_QUENCH || type == 5 /* redirect */
           || type == SL_ICMP_TIME_EXCEEDED || type == SL_ICMP_PARAMETERPROB;
}

SL_INLINE struct sl_rw_result sl_build_icmp4_frag_needed(uint8_t *frame, uint32_t len,
                                                         uint32_t headroom,
                                                         const struct sl_pkt *pkt,
                                                         const uint8_t box_mac[SL_ETH_ALEN],
                                                         uint16_t mtu) {
    if (sl_rw_ip_family(frame, len, pkt) != SL_AF_INET) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    struct sl_ipv4_hdr oh;
    __builtin_memcpy(&oh, frame + pkt->l3_off, sizeof(oh));
    if ((sl_ntohs(oh.frag_off) & SL_IPV4_OFFMASK) != 0 || pkt->frag == SL_FRAG_LATER) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    /* Nor for a frame sent to a link-layer broadcast or multicast address
     * (RFC 1122 3.2.2, RFC 1812 4.3.2.7): the group bit of the destination. */
    if (frame[0] & 0x01) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    if (oh.protocol == SL_IPPROTO_ICMP) {
        const uint32_t end = (uint32_t)pkt->l3_off + pkt->l3_len;
        if (pkt->l4_off == 0 || pkt->l4_off >= end || sl_icmp4_is_error(frame[pkt->l4_off])) {
            return sl_rw_make(frame, len, SL_RW_NO_REPLY);
        }
    }
    if (sl_rw_ipv4_not_unicast(oh.saddr) || sl_rw_ipv4_not_unicast(oh.daddr)) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    const uint32_t grow = (uint32_t)SL_ICMP4_REPLY_HDRS;
    if (headroom < grow) {
        return sl_rw_make(frame, len, SL_RW_NO_SPACE);
    }
    uint32_t quote = pkt->l3_len;
    if (quote > SL_ICMP4_REPLY_MAX - grow) {
        quote = SL_ICMP4_REPLY_MAX - grow;
    }
    uint8_t *out = sl_rw_push_l2(frame, pkt->l3_off, grow, frame + SL_ETH_ALEN, box_mac);
    uint8_t *ip = out + pkt->l3_off;
    uint8_t *icmp = ip + sizeof(struct sl_ipv4_hdr);
    sl_write_ipv4_hdr(ip, oh.daddr, oh.saddr, SL_IPPROTO_ICMP, (uint16_t)(grow + quote),
                      SL_ICMP_ERROR_TOS, SL_REPLY_TTL, 1, 0);
    struct sl_icmp_hdr ic;
    ic.type = SL_ICMP_DEST_UNREACH;
    ic.code = SL_ICMP_FRAG_NEEDED;
    ic.check = 0;
    ic.un.frag.unused = 0;
    ic.un.frag.mtu = sl_htons(mtu);
    uint32_t s = sl_csum_partial(&ic, sizeof(ic), 0);
    s = sl_csum_partial(icmp + sizeof(ic), quote, s);
    ic.check = sl_csum_fold(s);
    __builtin_memcpy(icmp, &ic, sizeof(ic));
    return sl_rw_make(out, pkt->l3_off + grow + quote, SL_RW_OK);
}

SL_INLINE struct sl_rw_result sl_build_icmp6_pkt_too_big(uint8_t *frame, uint32_t len,
                                                         uint32_t headroom,
                                                         const struct sl_pkt *pkt,
                                                         const uint8_t box_mac[SL_ETH_ALEN],
                                                         uint32_t mtu) {
    if (sl_rw_ip_family(frame, len, pkt) != SL_AF_INET6) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    struct sl_ipv6_hdr oh;
    __builtin_memcpy(&oh, frame + pkt->l3_off, sizeof(oh));
    if (pkt->l4_proto == SL_IPPROTO_ICMPV6 && pkt->l4_off != 0 &&
        pkt->l4_off < (uint32_t)pkt->l3_off + pkt->l3_len && frame[pkt->l4_off] < 128) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    if (sl_rw_ipv6_not_unicast(oh.saddr) || sl_rw_ipv6_not_unicast(oh.daddr)) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    const uint32_t grow = (uint32_t)SL_ICMP6_REPLY_HDRS;
    if (headroom < grow) {
        return sl_rw_make(frame, len, SL_RW_NO_SPACE);
    }
    uint32_t quote = pkt->l3_len;
    if (quote > SL_ICMP6_REPLY_MAX - grow) {
        quote = SL_ICMP6_REPLY_MAX - grow;
    }
    uint8_t *out = sl_rw_push_l2(frame, pkt->l3_off, grow, frame + SL_ETH_ALEN, box_mac);
    uint8_t *ip = out + pkt->l3_off;
    uint8_t *icmp = ip + sizeof(struct sl_ipv6_hdr);
    const uint32_t icmp_len = (uint32_t)sizeof(struct sl_icmp_hdr) + quote;
    sl_write_ipv6_hdr(ip, oh.daddr, oh.saddr, SL_IPPROTO_ICMPV6, (uint16_t)icmp_len, 0, 0,
                      SL_REPLY_TTL);
    struct sl_icmp_hdr ic;
    ic.type = SL_ICMPV6_PKT_TOOBIG;
    ic.code = 0;
    ic.check = 0;
    ic.un.mtu6 = sl_htonl(mtu);
    uint32_t s = sl_ipv6_pseudo_sum(oh.daddr, oh.saddr, icmp_len, SL_IPPROTO_ICMPV6);
    s = sl_csum_partial(&ic, sizeof(ic), s);
    s = sl_csum_partial(icmp + sizeof(ic), quote, s);
    ic.check = sl_csum_fold(s);
    __builtin_memcpy(icmp, &ic, sizeof(ic));
    return sl_rw_make(out, pkt->l3_off + grow + quote, SL_RW_OK);
}

/* Either of the two, by the packet's family; mtu = what fits after
 * encapsulation (sl_encap_inner_mtu()). */
SL_INLINE struct sl_rw_result sl_build_icmp_too_big(uint8_t *frame, uint32_t len, uint32_t headroom,
                                                    const struct sl_pkt *pkt,
                                                    const uint8_t box_mac[SL_ETH_ALEN],
                                                    uint32_t mtu) {
    if (pkt->ethertype == SL_ETH_P_IPV6) {
        return sl_build_icmp6_pkt_too_big(frame, len, headroom, pkt, box_mac, mtu);
    }
    return sl_build_icmp4_frag_needed(frame, len, headroom, pkt, box_mac,
                                      (uint16_t)(mtu > 0xffffu ? 0xffffu : mtu));
}

/* ======================================================================
 * In-place responders: ARP, neighbour discovery, echo
 *
 * The caller has checked that the request is for one of the box's own
 * addresses or VIPs (sl_arp_target_ip(), sl_nd_target(), pkt->key.dst);
 * these functions turn the request into the reply in its own buffer,
 * VLAN tags kept, Ethernet src = our_mac.
 * ====================================================================== */

/* The target protocol address (network order) of an Ethernet/IPv4 ARP
 * packet, or 0 when it is not one. */
SL_INLINE uint32_t sl_arp_target_ip(const uint8_t *frame, uint32_t len, const struct sl_pkt *pkt) {
    if (pkt->ethertype != SL_ETH_P_ARP || (uint32_t)pkt->l3_off + sizeof(struct sl_arp_hdr) > len) {
        return 0;
    }
    return sl_rw_ld32(frame + pkt->l3_off + offsetof(struct sl_arp_hdr, tpa));
}

/* ARP request -> reply (RFC 826): op 2, sender := (our_mac, the asked
 * address), target := the requester; Ethernet dst := the requester's
 * hardware address. Length unchanged (padding kept). Replies, gratuitous
 * ARP (sender IP == target IP) and non-Ethernet/IPv4 ARP are not answered;
 * probes (sender IP 0, RFC 5227) are, to 0.0.0.0, as Linux does. */
SL_INLINE struct sl_rw_result sl_reply_arp(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                                           const uint8_t our_mac[SL_ETH_ALEN]) {
    if (pkt->ethertype != SL_ETH_P_ARP || pkt->l3_off < sizeof(struct sl_eth_hdr) ||
        (uint32_t)pkt->l3_off + sizeof(struct sl_arp_hdr) > len) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    struct sl_arp_hdr a;
    __builtin_memcpy(&a, frame + pkt->l3_off, sizeof(a));
    if (a.hrd != sl_htons(SL_ARP_HRD_ETHER) || a.pro != sl_htons(SL_ETH_P_IPV4) ||
        a.hln != SL_ETH_ALEN || a.pln != 4) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    if (a.op != sl_htons(SL_ARP_OP_REQUEST) || a.spa == a.tpa) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    struct sl_arp_hdr r = a;
    r.op = sl_htons(SL_ARP_OP_REPLY);
    __builtin_memcpy(r.sha, our_mac, SL_ETH_ALEN);
    r.spa = a.tpa;
    __builtin_memcpy(r.tha, a.sha, SL_ETH_ALEN);
    r.tpa = a.spa;
    __builtin_memcpy(frame + pkt->l3_off, &r, sizeof(r));
    __builtin_memcpy(frame, a.sha, SL_ETH_ALEN);
    __builtin_memcpy(frame + SL_ETH_ALEN, our_mac, SL_ETH_ALEN);
    return sl_rw_make(frame, len, SL_RW_OK);
}

#define SL_ND_HOP_LIMIT 255
#define SL_ND_NA_LEN (sizeof(struct sl_nd_msg) + 8) /* NA + target link-layer option */

/* The target address of a valid neighbour solicitation (RFC 4861 7.1.1:
 * hop limit 255, code 0, at least 24 bytes, target not multicast), or NULL. */
SL_INLINE const uint8_t *sl_nd_target(const uint8_t *frame, uint32_t len,
                                      const struct sl_pkt *pkt) {
    if (sl_rw_ip_family(frame, len, pkt) != SL_AF_INET6 || pkt->l4_proto != SL_IPPROTO_ICMPV6 ||
        pkt->l4_off < (uint32_t)pkt->l3_off + sizeof(struct sl_ipv6_hdr) ||
        (uint32_t)pkt->l4_off + sizeof(struct sl_nd_msg) > (uint32_t)pkt->l3_off + pkt->l3_len) {
        return NULL;
    }
    const uint8_t *ns = frame + pkt->l4_off;
    if (ns[0] != SL_ICMPV6_NDISC_NS || ns[1] != 0 ||
        frame[pkt->l3_off + offsetof(struct sl_ipv6_hdr, hop_limit)] != SL_ND_HOP_LIMIT ||
        ns[offsetof(struct sl_nd_msg, target)] == 0xff) {
        return NULL;
    }
    return ns + offsetof(struct sl_nd_msg, target);
}

/* Neighbour solicitation -> advertisement (RFC 4861 7.2.4), rebuilt at
 * l3_off: IPv6 src := the target, dst := the solicitation's source, hop
 * limit 255, flags Solicited + Override, target link-layer address option
 * = our_mac; Ethernet dst := the solicitation's source MAC. From the
 * unspecified source (duplicate address detection) the reply goes to
 * ff02::1 / 33:33:00:00:00:01 with Solicited clear. The frame becomes
 * l3_off + 72 bytes (room must allow it); extension headers of the
 * solicitation are not repeated. */
SL_INLINE struct sl_rw_result sl_reply_nd(uint8_t *frame, uint32_t len, uint32_t room,
                                          const struct sl_pkt *pkt,
                                          const uint8_t our_mac[SL_ETH_ALEN]) {
    const uint8_t *tp = sl_nd_target(frame, len, pkt);
    if (tp == NULL) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    const uint32_t out_len = (uint32_t)pkt->l3_off + sizeof(struct sl_ipv6_hdr) + SL_ND_NA_LEN;
    if (room < out_len) {
        return sl_rw_make(frame, len, SL_RW_NO_SPACE);
    }
    static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t all_nodes_mac[SL_ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 1};
    uint8_t target[16];
    uint8_t src[16];
    uint8_t peer_mac[SL_ETH_ALEN];
    __builtin_memcpy(target, tp, 16);
    __builtin_memcpy(src, frame + pkt->l3_off + offsetof(struct sl_ipv6_hdr, saddr), 16);
    __builtin_memcpy(peer_mac, frame + SL_ETH_ALEN, SL_ETH_ALEN);
    const int dad = sl_rw_ipv6_unspecified(src);
    const uint8_t *dst = dad ? all_nodes : src;

    uint8_t na[SL_ND_NA_LEN];
    struct sl_nd_msg m;
    m.type = SL_ICMPV6_NDISC_NA;
    m.code = 0;
    m.check = 0;
    m.flags =
        sl_htonl(dad ? SL_ND_NA_FLAG_OVERRIDE : (SL_ND_NA_FLAG_SOLICITED | SL_ND_NA_FLAG_OVERRIDE));
    __builtin_memcpy(m.target, target, 16);
    __builtin_memcpy(na, &m, sizeof(m));
    na[sizeof(m)] = SL_ND_OPT_TARGET_LL;
    na[sizeof(m) + 1] = 1; /* length in units of 8 bytes */
    __builtin_memcpy(na + sizeof(m) + 2, our_mac, SL_ETH_ALEN);
    uint32_t s = sl_ipv6_pseudo_sum(target, dst, (uint32_t)sizeof(na), SL_IPPROTO_ICMPV6);
    const uint16_t c = sl_csum_fold(sl_csum_partial(na, (uint32_t)sizeof(na), s));
    __builtin_memcpy(na + offsetof(struct sl_nd_msg, check), &c, 2);

    uint8_t *ip = frame + pkt->l3_off;
    sl_write_ipv6_hdr(ip, target, dst, SL_IPPROTO_ICMPV6, (uint16_t)sizeof(na), 0, 0,
                      SL_ND_HOP_LIMIT);
    __builtin_memcpy(ip + sizeof(struct sl_ipv6_hdr), na, sizeof(na));
    __builtin_memcpy(frame, dad ? all_nodes_mac : peer_mac, SL_ETH_ALEN);
    __builtin_memcpy(frame + SL_ETH_ALEN, our_mac, SL_ETH_ALEN);
    return sl_rw_make(frame, out_len, SL_RW_OK);
}

/* ICMP echo request -> reply: addresses swapped, TTL 64, type 0; the IP
 * header (options kept) and ICMP checksums are updated incrementally, so a
 * request with a bad checksum gives a reply with a bad checksum. Fragments
 * and requests to non-unicast addresses are not answered. Padding is
 * trimmed. */
SL_INLINE struct sl_rw_result sl_reply_echo4(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                                             const uint8_t our_mac[SL_ETH_ALEN]) {
    if (sl_rw_ip_family(frame, len, pkt) != SL_AF_INET || pkt->l4_proto != SL_IPPROTO_ICMP ||
        pkt->l4_off < (uint32_t)pkt->l3_off + sizeof(struct sl_ipv4_hdr) ||
        (uint32_t)pkt->l4_off + sizeof(struct sl_icmp_hdr) > (uint32_t)pkt->l3_off + pkt->l3_len ||
        frame[pkt->l4_off] != SL_ICMP_ECHO) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    uint8_t *ip = frame + pkt->l3_off;
    struct sl_ipv4_hdr h;
    __builtin_memcpy(&h, ip, sizeof(h));
    if (pkt->frag != SL_FRAG_NONE || (sl_ntohs(h.frag_off) & (SL_IPV4_MF | SL_IPV4_OFFMASK)) ||
        sl_rw_ipv4_not_unicast(h.saddr) || sl_rw_ipv4_not_unicast(h.daddr)) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    /* Swapping the addresses leaves the sum as it is; the TTL shares its
     * 16-bit word with the protocol. */
    uint8_t *ttl = ip + offsetof(struct sl_ipv4_hdr, ttl);
    uint8_t *check4 = ip + offsetof(struct sl_ipv4_hdr, check);
    const uint16_t old_ttl_word = sl_rw_ld16(ttl);
    ttl[0] = SL_REPLY_TTL;
    sl_rw_st16(check4, sl_csum_update16(sl_rw_ld16(check4), old_ttl_word, sl_rw_ld16(ttl)));
    __builtin_memcpy(ip + offsetof(struct sl_ipv4_hdr, saddr), &h.daddr, 4);
    __builtin_memcpy(ip + offsetof(struct sl_ipv4_hdr, daddr), &h.saddr, 4);

    uint8_t *icmp = frame + pkt->l4_off;
    const uint16_t old_tc = sl_rw_ld16(icmp);
    icmp[0] = SL_ICMP_ECHOREPLY;
    /* RFC 1624's update gives 0x0000 where only 0xffff is right: a reply
     * whose other words sum to zero (identifier, sequence and data all
     * zero). Where 0x0000 is right (the other words sum to 0xffff), 0xffff
     * verifies as well, so 0 is never stored. */
    uint16_t check = sl_csum_update16(sl_rw_ld16(icmp + 2), old_tc, sl_rw_ld16(icmp));
    if (check == 0) {
        check = 0xffff;
    }
    sl_rw_st16(icmp + 2, check);

    __builtin_memcpy(frame, frame + SL_ETH_ALEN, SL_ETH_ALEN);
    __builtin_memcpy(frame + SL_ETH_ALEN, our_mac, SL_ETH_ALEN);
    return sl_rw_make(frame, (uint32_t)pkt->l3_off + pkt->l3_len, SL_RW_OK);
}

/* ICMPv6 echo request -> reply: addresses swapped, hop limit 64, type 129,
 * checksum updated incrementally (the pseudo-header sum does not change).
 * Extension headers of the request are dropped (the ICMPv6 message moves
 * up behind the IPv6 header). Fragments and requests to multicast are not
 * answered. Padding is trimmed. */
SL_INLINE struct sl_rw_result sl_reply_echo6(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                                             const uint8_t our_mac[SL_ETH_ALEN]) {
    const uint32_t l3_end = (uint32_t)pkt->l3_off + pkt->l3_len;
    const uint32_t ip_end = (uint32_t)pkt->l3_off + sizeof(struct sl_ipv6_hdr);
    if (sl_rw_ip_family(frame, len, pkt) != SL_AF_INET6 || pkt->l4_proto != SL_IPPROTO_ICMPV6 ||
        pkt->l4_off < ip_end || (uint32_t)pkt->l4_off + sizeof(struct sl_icmp_hdr) > l3_end ||
        frame[pkt->l4_off] != SL_ICMPV6_ECHO_REQUEST) {
        return sl_rw_make(frame, len, SL_RW_INVALID);
    }
    uint8_t *ip = frame + pkt->l3_off;
    struct sl_ipv6_hdr h;
    __builtin_memcpy(&h, ip, sizeof(h));
    if (pkt->frag != SL_FRAG_NONE || sl_rw_ipv6_not_unicast(h.saddr) ||
        sl_rw_ipv6_not_unicast(h.daddr)) {
        return sl_rw_make(frame, len, SL_RW_NO_REPLY);
    }
    const uint32_t icmp_len = l3_end - pkt->l4_off;
    uint8_t *icmp = ip + sizeof(struct sl_ipv6_hdr);
    if (pkt->l4_off != ip_end) {
        __builtin_memmove(icmp, frame + pkt->l4_off, icmp_len);
    }
    uint8_t a[16];
    __builtin_memcpy(a, h.saddr, 16);
    __builtin_memcpy(h.saddr, h.daddr, 16);
    __builtin_memcpy(h.daddr, a, 16);
    h.nexthdr = SL_IPPROTO_ICMPV6;
    h.payload_len = sl_htons((uint16_t)icmp_len);
    h.hop_limit = SL_REPLY_TTL;
    __builtin_memcpy(ip, &h, sizeof(h));

    const uint16_t old_tc = sl_rw_ld16(icmp);
    icmp[0] = SL_ICMPV6_ECHO_REPLY;
    const uint16_t check = sl_rw_ld16(icmp + 2);
    sl_rw_st16(icmp + 2, sl_csum_update16(check, old_tc, sl_rw_ld16(icmp)));

    __builtin_memcpy(frame, frame + SL_ETH_ALEN, SL_ETH_ALEN);
    __builtin_memcpy(frame + SL_ETH_ALEN, our_mac, SL_ETH_ALEN);
    return sl_rw_make(frame, (uint32_t)(ip_end + icmp_len), SL_RW_OK);
}

/* Either echo reply, by the packet's family. */
SL_INLINE struct sl_rw_result sl_reply_echo(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                                            const uint8_t our_mac[SL_ETH_ALEN]) {
    if (pkt->ethertype == SL_ETH_P_IPV6) {
        return sl_reply_echo6(frame, len, pkt, our_mac);
    }
    return sl_reply_echo4(frame, len, pkt, our_mac);
}

SL_EXTERN_C_END

#endif /* SLUICE_REWRITE_H */
