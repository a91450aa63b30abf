/* SPDX-License-Identifier: Apache-2.0
 *
 * burst.h: the fast path, a burst at a time. Not for BPF.
 *
 * sl_burst_forward() decides and rewrites a burst of frames stage by stage
 * (parse all, find all services, hash all, read all table slots, rewrite
 * all) instead of packet by packet, so that the CPU overlaps the work of
 * different packets: the SipHash-1-3 of 8 flows runs in one set of 64-bit
 * vector lanes, the table reads of a burst are in flight together, and no
 * per-packet struct sl_pkt is zeroed.
 *
 * It takes the common case only and is exactly the generic path for it:
 *   untagged Ethernet, IPv4 without options, not a fragment, TCP or UDP;
 *   untagged Ethernet, IPv6 without extension headers, TCP or UDP (after
 *   the burst's IPv4 frames, sl_burst_forward6);
 *   to a service in `dsr-l2`, or in `ipip` / `gue` within the MTU and the
 *   headroom (IPv4 to an IPv4 backend with headers built in registers, the
 *   other three pairs of families by the generic rewrite).
 * For such a frame the result (verdict, drop reason, service, backend, the
 * bytes written, the new frame start and length) equals that of
 *   sl_parse -> sl_decide -> sl_rewrite_forward;
 * tests/unit/test_burst.cpp checks this on crafted, random and mutated
 * frames. Every other frame (VLAN tags, IPv4 options, IPv6 extension
 * headers, fragments, ICMP, ARP, an MTU overflow, too little headroom, ...)
 * comes back as SL_BURST_SLOW, untouched, and
 * the caller runs the generic path on it.
 */
#ifndef SLUICE_BURST_H
#define SLUICE_BURST_H

#if defined(__bpf__)
#error "sluice/burst.h is for the DPDK dataplane and the tools, not BPF"
#endif
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sluice/burst.h assumes a little-endian host"
#endif

#include "sluice/compat.h"
#include "sluice/counters.h"
#include "sluice/decide.h"
#include "sluice/hash.h"
#include "sluice/region.h"
#include "sluice/rewrite.h"
#include "sluice/wire.h"

SL_EXTERN_C_BEGIN

/* The most frames one call takes (a DPDK burst). */
#define SL_BURST_MAX 32

enum sl_burst_verdict {
    SL_BURST_FORWARD = 0, /* rewritten: transmit frame/len on the forwarding port */
    SL_BURST_DROP,        /* drop, count `drop` (NOT_VIP or NO_BACKEND) */
    SL_BURST_SLOW,        /* not the common case: untouched, run the generic path */
};

struct sl_burst_pkt {
    /* in */
    uint8_t *frame;    /* the frame's first byte */
    uint32_t len;      /* its length */
    uint32_t headroom; /* writable bytes before frame */
    /* out */
    uint8_t verdict;     /* enum sl_burst_verdict */
    uint8_t drop;        /* enum sl_drop_reason, for SL_BURST_DROP */
    uint16_t service_id; /* for SL_BURST_FORWARD (and DROP once a service matched) */
    uint16_t backend_id; /* for SL_BURST_FORWARD */
    uint16_t in_len;     /* the frame's length as received (for counters) */
    /* with SL_BURST_FORWARD, frame/len are the rewritten frame */
};
SL_STATIC_ASSERT(offsetof(struct sl_burst_pkt, in_len) ==
                     offsetof(struct sl_burst_pkt, verdict) + 6,
                 "burst packet: the outcome is one 8-byte word");

/* ---- SipHash-1-3 of flow keys, 8 keys in vector lanes ----
 * Lane for lane the same function as sl_flow_hash(): for an IPv4 key the
 * message is the two little-endian words w0 = src | dst << 32 and
 * w1 = sport dport proto family pad; for an IPv6 key five (below). GCC and
 * clang lower the vector type to whatever the target has (one AVX-512
 * register, two AVX2 ones, ...). Vectors go in and out of functions by
 * pointer: by value, GCC targeting a CPU without AVX-512 warns that their
 * ABI differs from AVX-512's (-Wpsabi, an error under -Werror). */
typedef uint64_t sl_u64x8 __attribute__((vector_size(64)));

#define SL_ROTL_V(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SL_SIPROUND_V(v0, v1, v2, v3)                                                              \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = SL_ROTL_V(v1, 13);                                                                    \
        v1 ^= v0;                                                                                  \
        v0 = SL_ROTL_V(v0, 32);                                                                    \
        v2 += v3;                                                                                  \
        v3 = SL_ROTL_V(v3, 16);                                                                    \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = SL_ROTL_V(v3, 21);                                                                    \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = SL_ROTL_V(v1, 17);                                                                    \
        v1 ^= v2;                                                                                  \
        v2 = SL_ROTL_V(v2, 32);                                                                    \
    } while (0)

/* SipHash-1-3 of 8 messages of `words` 64-bit words each, lane k of m[w]
 * being word w of message k: lane for lane sl_sip13_word on each word, then
 * sl_sip13_finish(8 * words). With words constant (2 for an IPv4 key, 5 for
 * an IPv6 one) the loop unrolls. */
SL_INLINE void sl_flow_hash_x8(const sl_u64x8 *m, unsigned words, const struct sl_hash_seed *seed,
                               sl_u64x8 *out) {
    const sl_u64x8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
    sl_u64x8 v0 = zero + (seed->k0 ^ 0x736f6d6570736575ULL);
    sl_u64x8 v1 = zero + (seed->k1 ^ 0x646f72616e646f6dULL);
    sl_u64x8 v2 = zero + (seed->k0 ^ 0x6c7967656e657261ULL);
    sl_u64x8 v3 = zero + (seed->k1 ^ 0x7465646279746573ULL);
    const uint64_t b = (uint64_t)(8 * words) << 56;
    for (unsigned w = 0; w < words; w++) {
        v3 ^= m[w];
        SL_SIPROUND_V(v0, v1, v2, v3);
        v0 ^= m[w];
    }
    v3 ^= b;
    SL_SIPROUND_V(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    SL_SIPROUND_V(v0, v1, v2, v3);
    SL_SIPROUND_V(v0, v1, v2, v3);
    SL_SIPROUND_V(v0, v1, v2, v3);
    *out = v0 ^ v1 ^ v2 ^ v3;
}

/* Hashes n (<= SL_BURST_MAX) IPv4 keys given as their two message words. */
SL_INLINE void sl_flow_hash4_burst(const uint64_t *w0, const uint64_t *w1, uint64_t *out,
                                   unsigned n, const struct sl_hash_seed *seed) {
    for (unsigned i = 0; i < n; i += 8) {
        sl_u64x8 m[2];
        __builtin_memcpy(&m[0], w0 + i, sizeof(m[0])); /* callers size arrays to SL_BURST_MAX */
        __builtin_memcpy(&m[1], w1 + i, sizeof(m[1]));
        sl_u64x8 h;
        sl_flow_hash_x8(m, 2, seed, &h);
        __builtin_memcpy(out + i, &h, sizeof(h));
    }
}

/* Which bits of w0 / w1 a hash mode keeps (sl_key_apply_mode on the words):
 * w0 = src[0..3] dst[0..3]; w1 = sport dport proto family pad pad. */
SL_INLINE uint64_t sl_burst_mask_w0(uint8_t mode) {
    return mode == SL_HASH_5TUPLE ? ~(uint64_t)0 : (uint64_t)0xffffffffu;
}
SL_INLINE uint64_t sl_burst_mask_w1(uint8_t mode) {
    if (mode == SL_HASH_SRC_IP_PORT) {
        return (uint64_t)0xff << 40 | 0xffffu; /* family, sport */
    }
    if (mode == SL_HASH_SRC_IP) {
        return (uint64_t)0xff << 40; /* family */
    }
    return (uint64_t)0xffffffffffULL | (uint64_t)0xff << 40; /* all but pad */
}

/* ---- stage 1: the common-case parse ----
 * The box's MAC as the low 48 bits of a little-endian load of a frame's
 * first 8 bytes: what the parse compares the destination with. */
SL_INLINE uint64_t sl_burst_box_mac48(const struct sl_encap_ctx *ctx) {
    SL_STATIC_ASSERT(offsetof(struct sl_encap_ctx, box_mac) == 0, "encap context: box_mac at 0");
    uint64_t m;
    __builtin_memcpy(&m, ctx, 8); /* box_mac, gw_mac[0..1] */
    return m & 0xffffffffffffULL;
}

/* Returns 1 and the key words for an untagged IPv4 (no options, no fragment)
 * TCP/UDP frame to the box's MAC (box48, sl_burst_box_mac48) that sl_parse
 * would classify SL_VERDICT_FLOW, 0 otherwise (including frames sl_parse
 * would drop and frames to other MACs: the generic path names the reason,
 * sl_l2_for_us). */
SL_INLINE int sl_burst_parse4(const uint8_t *f, uint32_t len, uint64_t box48, uint64_t *w0,
                              uint64_t *w1, uint16_t *l3_len) {
    /* Every field below lies within the first 48 bytes: read them all, then
     * test them together (one well-predicted branch for the common case).
     * Shorter frames (a UDP datagram of under 6 payload bytes on a link that
     * does not pad) take the generic path. */
    if (len < 48) {
        return 0;
    }
    uint64_t dst;
    uint16_t ethertype;
    uint16_t tot_be;
    uint16_t frag_be;
    uint16_t ulen_be;
    uint64_t addrs;
    uint32_t ports;
    __builtin_memcpy(&dst, f, 8);
    __builtin_memcpy(&ethertype, f + 12, 2);
    __builtin_memcpy(&tot_be, f + 16, 2);
    __builtin_memcpy(&frag_be, f + 20, 2);
    __builtin_memcpy(&addrs, f + 26, 8); /* saddr, daddr: the key's src[0..3], dst[0..3] */
    __builtin_memcpy(&ports, f + 34, 4); /* sport, dport as on the wire */
    __builtin_memcpy(&ulen_be, f + 38, 2);
    const uint8_t ver_ihl = f[14];
    const uint8_t proto = f[23];
    const uint32_t tot = sl_ntohs(tot_be);
    const uint32_t room =
        tot - 20u; /* bytes of the IP packet from the L4 header on (wraps if tot < 20) */
    const uint32_t doff = (uint32_t)(f[46] >> 4) * 4u;
    const uint32_t ulen = sl_ntohs(ulen_be);
    const int tcp_ok = proto == SL_IPPROTO_TCP && room >= 20 && doff >= 20 && doff <= room;
    const int udp_ok = proto == SL_IPPROTO_UDP && room >= 8 && ulen >= 8 && ulen <= room;
    const int ok = ((dst & 0xffffffffffffULL) == box48) & (ethertype == sl_htons(SL_ETH_P_IPV4)) &
                   (ver_ihl == 0x45) & (tot >= 20) & (14 + tot <= len) &
                   ((frag_be & sl_htons(SL_IPV4_MF | SL_IPV4_OFFMASK)) == 0) & (tcp_ok | udp_ok);
    if (!ok) {
        return 0;
    }
    *w0 = addrs;
    *w1 = (uint64_t)ports | (uint64_t)proto << 32 | (uint64_t)SL_AF_INET << 40;
    *l3_len = (uint16_t)tot;
    return 1;
}

/* ---- IPv6: untagged, no extension header, TCP or UDP ----
 * The same stages for the IPv6 frames of a burst, after its IPv4 ones. The
 * key is five message words: src[0..7] src[8..15] dst[0..7] dst[8..15] and
 * the tail (sport dport proto family pad, as sl_flow_hash loads them). */

/* Returns 1 and the five key words for an untagged IPv6 TCP/UDP frame
 * without extension headers to the box's MAC (box48) that sl_parse would
 * classify SL_VERDICT_FLOW, 0 otherwise. All fields lie within the first 62
 * bytes but TCP's data offset, read only from frames long enough for a TCP
 * header (74 bytes). */
SL_INLINE int sl_burst_parse6(const uint8_t *f, uint32_t len, uint64_t box48, uint64_t m[5]) {
    if (len < 62) {
        return 0;
    }
    uint64_t dst;
    __builtin_memcpy(&dst, f, 8);
    uint16_t ethertype;
    uint16_t pl_be;
    uint16_t ulen_be;
    uint32_t ports;
    __builtin_memcpy(&ethertype, f + 12, 2);
    __builtin_memcpy(&pl_be, f + 18, 2);
    __builtin_memcpy(&ports, f + 54, 4);
    __builtin_memcpy(&ulen_be, f + 58, 2);
    const uint8_t next = f[20];
    const uint32_t pl = sl_ntohs(pl_be); /* the bytes after the fixed header: L4 and on */
    const uint32_t doff = len >= 74 ? (uint32_t)(f[66] >> 4) * 4u : 0;
    const uint32_t ulen = sl_ntohs(ulen_be);
    const int tcp_ok = next == SL_IPPROTO_TCP && pl >= 20 && doff >= 20 && doff <= pl;
    const int udp_ok = next == SL_IPPROTO_UDP && pl >= 8 && ulen >= 8 && ulen <= pl;
    const int ok = ((dst & 0xffffffffffffULL) == box48) & (ethertype == sl_htons(SL_ETH_P_IPV6)) &
                   ((f[14] >> 4) == 6) & (40 + pl <= 0xffffu) & (54 + pl <= len) &
                   (tcp_ok | udp_ok);
    if (!ok) {
        return 0;
    }
    for (int w = 0; w < 4; w++) {
        __builtin_memcpy(&m[w], f + 22 + 8 * w, 8);
    }
    m[4] = (uint64_t)ports | (uint64_t)next << 32 | (uint64_t)SL_AF_INET6 << 40;
    return 1;
}

/* ---- stage 6: the rewrites, header words built in registers ---- */

/* The ones'-complement sum of an IPv4 header given as words loaded in
 * memory order (w0 = bytes 0-7, w1 = 8-15 with check 0, w2 = 16-19). */
SL_INLINE uint16_t sl_burst_ip4_csum(uint64_t w0, uint64_t w1, uint32_t w2) {
    uint64_t acc = (w0 & 0xffffffffu) + (w0 >> 32) + (w1 & 0xffffffffu) + (w1 >> 32) + w2;
    return sl_csum_fold(sl_csum_reduce(acc));
}

/* The outer Ethernet header of encapsulated frames as two overlapping words
 * (bytes 0-7 and 6-13), built once per burst: stored word by word, without
 * composing it in memory first (a wide load of narrower stores stalls). */
SL_INLINE void sl_burst_encap_eth(const struct sl_encap_ctx *ctx, uint64_t eth[2]) {
    SL_STATIC_ASSERT(offsetof(struct sl_encap_ctx, gw_mac) == 6, "encap context: gw_mac at 6");
    const uint8_t *c = (const uint8_t *)ctx;
    uint64_t box; /* box MAC, gw MAC[0..1] */
    uint64_t gw;  /* gw MAC, box_ip6[0..1] */
    __builtin_memcpy(&box, c + offsetof(struct sl_encap_ctx, box_mac), 8);
    __builtin_memcpy(&gw, c + offsetof(struct sl_encap_ctx, gw_mac), 8);
    /* without an IPv4 address of the box's, the gateway's place stays
     * zero: sl_burst_encap4 then leaves every frame to the generic path,
     * which refuses it (SL_RW_NO_SOURCE) */
    const uint64_t mac = 0xffffffffffffULL;
    eth[0] = (gw & (sl_encap_has_source(ctx, SL_AF_INET) ? mac : 0)) | (box & 0xffffu) << 48;
    eth[1] = (box & mac) | (uint64_t)sl_htons(SL_ETH_P_IPV4) << 48;
}

/* IPIP or GUE of an untagged IPv4 frame (checked by sl_burst_parse4), or
 * with inner6 of an untagged IPv6 frame (sl_burst_parse6), towards an IPv4
 * backend: sl_encap_common's output for that case. Returns 0 when the
 * generic path must take it (MTU, headroom, GUE port 0, no gateway MAC, no
 * IPv4 address of the box's). eth: sl_burst_encap_eth's. */
SL_INLINE int sl_burst_encap4(struct sl_burst_pkt *p, uint16_t l3_len,
                              const struct sl_encap_ctx *ctx, const uint64_t eth[2],
                              const struct sl_backend *be, int gue, uint16_t gue_dport,
                              uint64_t flow_hash, int inner6) {
    const uint32_t added = 20u + (gue ? (uint32_t)SL_ENCAP_GUE_LEN : 0u);
    const uint32_t outer_len = (uint32_t)l3_len + added;
    /* eth[0]'s low 48 bits: the gateway MAC, all zero when there is none
     * (SL_RW_NO_GATEWAY on the generic path) or no box_ip4 (SL_RW_NO_SOURCE):
     * see sl_burst_encap_eth */
    if (outer_len > ctx->mtu || outer_len > 0xffffu || p->headroom < added ||
        (gue && gue_dport == 0) || (eth[0] & 0xffffffffffffULL) == 0) {
        return 0;
    }
    /* IPv4: ver_ihl tos tot_len id frag_off of the inner header, as stored;
     * IPv6: ver_tc_flow payload_len next hop_limit */
    uint64_t iw0;
    __builtin_memcpy(&iw0, p->frame + 14, 8);
    uint64_t tos;
    uint64_t df; /* the outer frag_off */
    uint64_t id;
    if (inner6) {
        /* the traffic class: the low nibble of byte 0, the high one of byte 1 */
        tos = ((iw0 & 0x0fu) << 12 | (iw0 & 0xf000u) >> 4) & 0xff00u;
        df = sl_htons(SL_IPV4_DF);
        id = 0;
    } else {
        tos = iw0 & 0xff00u;
        df = (iw0 >> 48) & sl_htons(SL_IPV4_DF);
        /* id: 0 with DF, else inner id ^ the hash's low 16 bits (xor
         * commutes with the byte swap) */
        id = df ? 0 : ((iw0 >> 32) & 0xffffu) ^ sl_htons((uint16_t)sl_encap_hash32(flow_hash));
    }
    const uint8_t inner_proto = inner6 ? (uint8_t)SL_IPPROTO_IPV6 : (uint8_t)SL_IPPROTO_IPIP;
    const uint8_t next = gue ? (uint8_t)SL_IPPROTO_UDP : inner_proto;
    uint32_t daddr;
    __builtin_memcpy(&daddr, be->addr, 4);
    const uint64_t w0 =
        0x45u | tos | (uint64_t)sl_htons((uint16_t)outer_len) << 16 | id << 32 | df << 48;
    uint64_t w1 = (uint64_t)ctx->ttl | (uint64_t)next << 8 | (uint64_t)ctx->box_ip4 << 32;
    w1 |= (uint64_t)sl_burst_ip4_csum(w0, w1, daddr) << 16;

    uint8_t *out = p->frame - added;
    __builtin_memcpy(out, &eth[0], 8);     /* gateway MAC, box MAC[0..1] */
    __builtin_memcpy(out + 6, &eth[1], 8); /* box MAC, ethertype IPv4 */
    __builtin_memcpy(out + 14, &w0, 8);
    __builtin_memcpy(out + 22, &w1, 8);
    __builtin_memcpy(out + 30, &daddr, 4);
    if (gue) {
        const uint16_t sport = sl_htons(sl_gue_sport(ctx, flow_hash));
        const uint16_t ulen = sl_htons((uint16_t)(l3_len + SL_ENCAP_GUE_LEN));
        const uint64_t u = (uint64_t)sport | (uint64_t)gue_dport << 16 | (uint64_t)ulen << 32;
        const uint32_t g = (uint32_t)inner_proto << 8; /* ver 0 C 0 hlen 0, proto, flags 0 */
        __builtin_memcpy(out + 34, &u, 8);
        __builtin_memcpy(out + 42, &g, 4);
    }
    p->frame = out;
    p->len = 14 + outer_len;
    return 1;
}

/* Encapsulation the register-built sl_burst_encap4 does not cover (IPv6
 * packets, IPv6 backends): the generic sl_rewrite_forward on a frame that
 * the burst's parse checked (untagged, the IP packet l3_len bytes at 14),
 * given the only sl_pkt fields it reads, so that nothing is zeroed per
 * packet. Out of line: the rarer pairs of families should not grow the
 * burst's loops. Returns 0, having written nothing, when the generic path
 * must take the frame (MTU, headroom, GUE port 0). */
SL_OUTLINE int sl_burst_encap_generic(struct sl_burst_pkt *p, uint16_t ethertype, uint16_t l3_len,
                                      const struct sl_encap_ctx *ctx, const struct sl_service *svc,
                                      const struct sl_backend *be, uint64_t flow_hash) {
    struct sl_pkt pkt;
    pkt.l3_off = 14;
    pkt.l3_len = l3_len;
    pkt.ethertype = ethertype;
    const struct sl_rw_result r =
        sl_rewrite_forward(p->frame, p->len, p->headroom, &pkt, ctx, svc, be, flow_hash);
    if (r.verdict != SL_RW_OK) {
        return 0;
    }
    p->frame = r.frame;
    p->len = r.len;
    return 1;
}

/* ---- the burst ---- */

/* The outcome fields of a packet, written as one 8-byte store. */
SL_INLINE void sl_burst_set(struct sl_burst_pkt *p, uint8_t verdict, uint8_t drop, uint16_t sid,
                            uint16_t bid, uint16_t in_len) {
    const uint64_t v = (uint64_t)verdict | (uint64_t)drop << 8 | (uint64_t)sid << 16 |
                       (uint64_t)bid << 32 | (uint64_t)in_len << 48;
    __builtin_memcpy(&p->verdict, &v, sizeof(v));
}

/* What a service lookup gave, kept for the next packets of the same
 * (VIP, port, protocol): in the burst, and as an entry of the lookup cache.
 * The key words' masks are kept, not worked out per packet: with traffic
 * spread over many VIPs the VIP changes at nearly every packet. */
struct sl_burst_svc {
    uint64_t vip_port_proto; /* daddr | dport << 32 | proto << 48; ~0 = none yet */
    uint64_t mask0;
    uint64_t mask1;
    uint16_t sid;      /* SL_DECIDE_NONE when no service matched */
    uint8_t drop;      /* SL_DROP_NONE when the service can take packets */
    uint8_t hash_mode; /* the masks' mode */
    uint32_t pad;
};
SL_STATIC_ASSERT(sizeof(struct sl_burst_svc) == 32, "service lookup is 32 bytes");

SL_INLINE void sl_burst_lookup(const struct sl_tables *t, uint64_t vip_port_proto,
                               struct sl_burst_svc *r) {
    const uint32_t d = (uint32_t)vip_port_proto;
    const uint16_t dport = (uint16_t)(vip_port_proto >> 32);
    const uint8_t proto = (uint8_t)(vip_port_proto >> 48);
    /* the IPv4 VIP's words: d, 0 (sl_index_hash_words) */
    int sid = sl_index_find_words(t, SL_AF_INET, d, 0, dport, proto, SL_MATCH_PORT);
    if (sid < 0) {
        sid = sl_index_find_words(t, SL_AF_INET, d, 0, 0, proto, SL_MATCH_ANY_PORT);
    }
    r->vip_port_proto = vip_port_proto;
    r->sid = SL_DECIDE_NONE;
    r->drop = SL_DROP_NOT_VIP;
    r->hash_mode = 0;
    r->mask0 = 0;
    r->mask1 = 0;
    r->pad = 0;
    if (sid < 0 || sid >= SL_MAX_SERVICES) {
        return;
    }
    const struct sl_service *svc = &t->services[sid];
    r->sid = (uint16_t)sid;
    r->drop = (uint8_t)sl_service_drop(svc);
    if (r->drop != SL_DROP_NONE) {
        return;
    }
    r->hash_mode = svc->hash_mode;
    r->mask0 = sl_burst_mask_w0(svc->hash_mode);
    r->mask1 = sl_burst_mask_w1(svc->hash_mode);
}

/* Service lookups kept across bursts (one per worker): with traffic spread
 * over many VIPs consecutive packets rarely share one, and the index lookup
 * would otherwise be paid per packet. Direct-mapped by (VIP, port, protocol);
 * emptied whenever the tables (copy or generation) are not those it was
 * filled from. 4 entries per service sluice can hold (SL_MAX_SERVICES): with
 * 1024 entries, 1024 consecutive VIPs shared 685 slots and most lookups
 * missed (the pipeline at 1024 VIPs: 28 Mpps, against 31.5 with 4096).
 * An entry is what the burst uses (struct sl_burst_svc, masks included), so
 * that a hit is read where it lies and not copied: with the 16-byte entries
 * of before, copied and their masks worked out per packet, 16 VIPs cost
 * 3-5% more per packet (tools/bench/burst_ab.sh). */
#define SL_BURST_CACHE_BITS 12
#define SL_BURST_CACHE_SIZE (1u << SL_BURST_CACHE_BITS) /* 128 KB */

/* The same for IPv6 VIPs, keyed by the VIP's two words as loaded and
 * dport | proto << 16: 4096 entries (128 KB). An IPv6 index probe costs
 * about what a cache probe does, so only a cache that rarely misses pays
 * (a miss is both and a fill): with 1024 entries, 256 VIPs shared 221 slots
 * and the burst path at 256 IPv6 VIPs was 20% slower than without a cache;
 * with 4096, 6-13% faster (`sluice-bench-core`). */
#define SL_BURST_CACHE6_BITS 12
#define SL_BURST_CACHE6_SIZE (1u << SL_BURST_CACHE6_BITS)

struct sl_burst_cache6_entry {
    uint64_t vip_a;      /* the VIP's bytes 0-7 */
    uint64_t vip_b;      /* and 8-15 */
    uint32_t port_proto; /* dport | proto << 16; ~0: empty */
    uint16_t sid;        /* SL_DECIDE_NONE when no service matched */
    uint8_t drop;
    uint8_t hash_mode;
    uint64_t pad;
};
SL_STATIC_ASSERT(sizeof(struct sl_burst_cache6_entry) == 32, "IPv6 cache entry is 32 bytes");

struct sl_burst_cache {
    const struct sl_tables *tables;             /* the copy the entries come from; NULL: empty */
    uint64_t generation;                        /* and its generation */
    struct sl_burst_svc e[SL_BURST_CACHE_SIZE]; /* vip_port_proto ~0: empty */
    struct sl_burst_cache6_entry e6[SL_BURST_CACHE6_SIZE];
};

SL_INLINE void sl_burst_cache_init(struct sl_burst_cache *c) {
    c->tables = NULL;
    c->generation = 0;
}

SL_INLINE void sl_burst_cache_check(struct sl_burst_cache *c, const struct sl_tables *t) {
    if (c->tables != t || c->generation != t->generation) {
        for (unsigned i = 0; i < SL_BURST_CACHE_SIZE; i++) {
            c->e[i].vip_port_proto = ~(uint64_t)0; /* matches no packet */
        }
        for (unsigned i = 0; i < SL_BURST_CACHE6_SIZE; i++) {
            /* the whole key: a probe compares all of it */
            c->e6[i].vip_a = 0;
            c->e6[i].vip_b = 0;
            c->e6[i].port_proto = ~(uint32_t)0; /* matches no packet: 24 bits */
        }
        c->tables = t;
        c->generation = t->generation;
    }
}

/* The cache entry of (VIP, port, protocol). */
SL_INLINE uint32_t sl_burst_cache_slot(uint64_t vip_port_proto) {
    return (uint32_t)((vip_port_proto * 0x9e3779b97f4a7c15ULL) >> (64 - SL_BURST_CACHE_BITS));
}

/* The lookup through the cache: its entry, filled if it was not that of
 * (VIP, port, protocol). Without a cache (c NULL), straight to the index,
 * into *own. What it returns holds until the next lookup. */
SL_INLINE const struct sl_burst_svc *sl_burst_cached_lookup(const struct sl_tables *t,
                                                            struct sl_burst_cache *c,
                                                            uint64_t vip_port_proto,
                                                            struct sl_burst_svc *own) {
    struct sl_burst_svc *e = c != NULL ? &c->e[sl_burst_cache_slot(vip_port_proto)] : own;
    if (c == NULL || e->vip_port_proto != vip_port_proto) {
        sl_burst_lookup(t, vip_port_proto, e);
    }
    return e;
}

/* What an IPv6 service lookup gave: the service (SL_DECIDE_NONE: none),
 * the drop reason (SL_DROP_NONE: it takes packets) and its hash mode. */
struct sl_burst_svc6 {
    uint16_t sid;
    uint8_t drop;
    uint8_t hash_mode;
};

SL_INLINE struct sl_burst_svc6 sl_burst_lookup6(const struct sl_tables *t, uint64_t a, uint64_t b,
                                                uint32_t pp) {
    const uint16_t dport = (uint16_t)pp;
    const uint8_t proto = (uint8_t)(pp >> 16);
    struct sl_burst_svc6 r = {SL_DECIDE_NONE, SL_DROP_NOT_VIP, 0};
    int sid = sl_index_find_words(t, SL_AF_INET6, a, b, dport, proto, SL_MATCH_PORT);
    if (sid < 0) {
        sid = sl_index_find_words(t, SL_AF_INET6, a, b, 0, proto, SL_MATCH_ANY_PORT);
    }
    if (sid >= 0 && sid < SL_MAX_SERVICES) {
        r.sid = (uint16_t)sid;
        r.drop = (uint8_t)sl_service_drop(&t->services[sid]);
        r.hash_mode = t->services[sid].hash_mode;
    }
    return r;
}

/* The entry of (VIP words a and b, dport | proto << 16). */
SL_INLINE uint32_t sl_burst_cache6_slot(uint64_t a, uint64_t b, uint32_t pp) {
    uint64_t x = a + b * 0xff51afd7ed558ccdULL + pp;
    x ^= x >> 29;
    return (uint32_t)((x * 0x9e3779b97f4a7c15ULL) >> (64 - SL_BURST_CACHE6_BITS));
}

/* The IPv6 lookup through the cache (or straight to the index if c is NULL). */
SL_INLINE struct sl_burst_svc6 sl_burst_cached_lookup6(const struct sl_tables *t,
                                                       struct sl_burst_cache *c, uint64_t a,
                                                       uint64_t b, uint32_t pp) {
    if (c == NULL) {
        return sl_burst_lookup6(t, a, b, pp);
    }
    struct sl_burst_cache6_entry *e = &c->e6[sl_burst_cache6_slot(a, b, pp)];
    if (e->vip_a == a && e->vip_b == b && e->port_proto == pp) {
        const struct sl_burst_svc6 r = {e->sid, e->drop, e->hash_mode};
        return r;
    }
    const struct sl_burst_svc6 r = sl_burst_lookup6(t, a, b, pp);
    e->vip_a = a;
    e->vip_b = b;
    e->port_proto = pp;
    e->sid = r.sid;
    e->drop = r.drop;
    e->hash_mode = r.hash_mode;
    return r;
}

/* The IPv6 frames of a burst: p[idx[0..n)]. Each gets its outcome, or
 * stays SL_BURST_SLOW (set by the caller) when it is not the common case:
 * extension headers, an MTU overflow, ... */
SL_INLINE void sl_burst_forward6(const struct sl_tables *t, const struct sl_encap_ctx *ctx,
                                 struct sl_burst_cache *c, struct sl_burst_pkt *p,
                                 const uint8_t *idx, unsigned n) {
    uint64_t m[5][SL_BURST_MAX];
    uint64_t h[SL_BURST_MAX];
    uint16_t sid_of[SL_BURST_MAX];
    uint8_t go[SL_BURST_MAX];
    const uint16_t *slot[SL_BURST_MAX]; /* the arena word that holds the packet's slot */
    uint32_t slot_of[SL_BURST_MAX];
    /* 1. parse; 2. service (consecutive packets of one VIP, port and
     * protocol reuse the lookup; else the cache, else the index), the hash
     * mode applied */
    const uint64_t box48 = sl_burst_box_mac48(ctx);
    uint64_t last_a = 0;
    uint64_t last_b = 0;
    uint32_t last_pp = ~(uint32_t)0; /* dport | proto << 16; ~0: none yet */
    struct sl_burst_svc6 last = {SL_DECIDE_NONE, SL_DROP_NOT_VIP, 0};
    for (unsigned j = 0; j < n; j++) {
        struct sl_burst_pkt *q = &p[idx[j]];
        uint64_t w[5];
        go[j] = (uint8_t)sl_burst_parse6(q->frame, q->len, box48, w);
        if (!go[j]) {
            for (int k = 0; k < 5; k++) {
                m[k][j] = 0;
            }
            continue;
        }
        const uint32_t pp = (uint32_t)(w[4] >> 16) & 0xffffffu; /* dport, proto */
        if (w[2] != last_a || w[3] != last_b || pp != last_pp) {
            last_a = w[2];
            last_b = w[3];
            last_pp = pp;
            last = sl_burst_cached_lookup6(t, c, w[2], w[3], pp);
        }
        if (last.drop != SL_DROP_NONE) {
            sl_burst_set(q, SL_BURST_DROP, last.drop, last.sid, SL_DECIDE_NONE, (uint16_t)q->len);
            go[j] = 0;
            for (int k = 0; k < 5; k++) {
                m[k][j] = 0;
            }
            continue;
        }
        const int five = last.hash_mode == SL_HASH_5TUPLE;
        m[0][j] = w[0];
        m[1][j] = w[1];
        m[2][j] = five ? w[2] : 0;
        m[3][j] = five ? w[3] : 0;
        m[4][j] = w[4] & sl_burst_mask_w1(last.hash_mode);
        sid_of[j] = last.sid;
    }
    /* 3. hash, 8 lanes at a time (lanes past n hash zeros, unused) */
    for (unsigned j = n; j < ((n + 7u) & ~7u); j++) {
        for (int k = 0; k < 5; k++) {
            m[k][j] = 0;
        }
    }
    for (unsigned j = 0; j < n; j += 8) {
        sl_u64x8 mv[5];
        for (int k = 0; k < 5; k++) {
            __builtin_memcpy(&mv[k], &m[k][j], sizeof(mv[k]));
        }
        sl_u64x8 hv;
        sl_flow_hash_x8(mv, 5, &t->seed, &hv);
        __builtin_memcpy(&h[j], &hv, sizeof(hv));
    }
    /* 4. slot, prefetched */
    for (unsigned j = 0; j < n; j++) {
        if (go[j]) {
            const struct sl_service *svc = &t->services[sid_of[j]];
            const uint32_t s = sl_fastmod((uint32_t)h[j], svc->table_fastmod, svc->table_size);
            slot_of[j] = s;
            slot[j] = sl_table_word(t, svc, s);
            __builtin_prefetch(slot[j]);
            if (svc->fwd_mode != SL_FWD_DSR_L2) {
                __builtin_prefetch(p[idx[j]].frame - 1, 1); /* the headroom */
            }
        }
    }
    /* 5. backend; 6. rewrite; encapsulation to IPv6 backends after the
     * loop, out of line (as for IPv4) */
    uint64_t eth[2];
    sl_burst_encap_eth(ctx, eth);
    uint8_t to6[SL_BURST_MAX];
    unsigned n_to6 = 0;
    for (unsigned j = 0; j < n; j++) {
        if (!go[j]) {
            continue;
        }
        struct sl_burst_pkt *q = &p[idx[j]];
        const uint16_t bid = sl_table_entry(t, &t->services[sid_of[j]], slot_of[j], *slot[j]);
        if (bid >= SL_MAX_BACKENDS || !(t->backends[bid].flags & SL_BACKEND_ACTIVE)) {
            sl_burst_set(q, SL_BURST_DROP, SL_DROP_NO_BACKEND, sid_of[j], SL_DECIDE_NONE,
                         (uint16_t)q->len);
            continue;
        }
        const struct sl_service *svc = &t->services[sid_of[j]];
        const uint16_t in_len = (uint16_t)q->len;
        if (svc->fwd_mode == SL_FWD_DSR_L2) {
            sl_rewrite_dsr_l2(q->frame, ctx->box_mac, t->backends[bid].mac);
        } else {
            /* checked by sl_burst_parse6: 40 + the payload length fits the frame */
            const uint16_t l3_len = (uint16_t)(40u + sl_ntohs(sl_rw_ld16(q->frame + 18)));
            const struct sl_backend *be = &t->backends[bid];
            if (be->family != SL_AF_INET) {
                to6[n_to6++] = (uint8_t)j;
                continue;
            }
            if (!sl_burst_encap4(q, l3_len, ctx, eth, be, svc->fwd_mode == SL_FWD_GUE,
                                 svc->gue_port != 0 ? svc->gue_port : ctx->gue_dport, h[j], 1)) {
                continue; /* stays SL_BURST_SLOW, untouched */
            }
        }
        sl_burst_set(q, SL_BURST_FORWARD, SL_DROP_NONE, sid_of[j], bid, in_len);
    }
    for (unsigned k = 0; k < n_to6; k++) {
        const unsigned j = to6[k];
        struct sl_burst_pkt *q = &p[idx[j]];
        const uint16_t in_len = (uint16_t)q->len;
        const uint16_t bid = sl_table_entry(t, &t->services[sid_of[j]], slot_of[j], *slot[j]);
        const uint16_t l3_len = (uint16_t)(40u + sl_ntohs(sl_rw_ld16(q->frame + 18)));
        if (sl_burst_encap_generic(q, SL_ETH_P_IPV6, l3_len, ctx, &t->services[sid_of[j]],
                                   &t->backends[bid], h[j])) {
            sl_burst_set(q, SL_BURST_FORWARD, SL_DROP_NONE, sid_of[j], bid, in_len);
        }
    }
}

/* Decides and rewrites p[0..n) (n <= SL_BURST_MAX) against tables t (not
 * NULL), with a worker's lookup cache c (or NULL). See the top of this file. */
SL_INLINE void sl_burst_forward_cached(const struct sl_tables *t, const struct sl_encap_ctx *ctx,
                                       struct sl_burst_cache *c, struct sl_burst_pkt *p,
                                       unsigned n) {
    uint64_t w0[SL_BURST_MAX];
    uint64_t w1[SL_BURST_MAX];
    uint64_t h[SL_BURST_MAX];
    uint16_t l3_len[SL_BURST_MAX];
    uint16_t sid_of[SL_BURST_MAX];
    uint8_t go[SL_BURST_MAX];           /* still on the fast path after the decision so far */
    const uint16_t *slot[SL_BURST_MAX]; /* the arena word that holds the packet's slot */
    uint32_t slot_of[SL_BURST_MAX];
    if (n > SL_BURST_MAX) {
        n = SL_BURST_MAX;
    }
    if (c != NULL) {
        sl_burst_cache_check(c, t);
    }

    /* 1. parse; the (VIP, port, protocol) lookup's first line prefetched:
     * the cache entry, or without a cache the index entry */
    uint64_t vpp[SL_BURST_MAX]; /* daddr | dport << 32 | proto << 48 */
    uint64_t prev = ~(uint64_t)0;
    const uint64_t box48 = sl_burst_box_mac48(ctx);
    uint8_t v6[SL_BURST_MAX]; /* the IPv6 frames, for sl_burst_forward6 */
    unsigned n6 = 0;
    for (unsigned i = 0; i < n; i++) {
        go[i] = (uint8_t)sl_burst_parse4(p[i].frame, p[i].len, box48, &w0[i], &w1[i], &l3_len[i]);
        if (!go[i]) {
            w0[i] = 0;
            w1[i] = 0;
            sl_burst_set(&p[i], SL_BURST_SLOW, SL_DROP_NONE, SL_DECIDE_NONE, SL_DECIDE_NONE,
                         (uint16_t)p[i].len);
            if (p[i].len >= 14 && p[i].frame[12] == 0x86 && p[i].frame[13] == 0xdd) {
                v6[n6++] = (uint8_t)i;
            }
            continue;
        }
        vpp[i] = (w0[i] >> 32) | (w1[i] & 0xffff0000u) << 16 | (w1[i] & 0xff00000000ULL) << 16;
        if (vpp[i] != prev) {
            prev = vpp[i];
            if (c != NULL) {
                __builtin_prefetch(&c->e[sl_burst_cache_slot(vpp[i])]);
            } else {
                __builtin_prefetch(&t->index[sl_index_hash_words(
                    SL_AF_INET, (uint32_t)vpp[i], 0, (uint16_t)(vpp[i] >> 32),
                    (uint8_t)(vpp[i] >> 48), SL_MATCH_PORT)]);
            }
        }
    }

    /* 2. service (consecutive packets of one VIP/port/protocol reuse the
     * lookup); the hash mode applied to the key words. ~0 matches no
     * packet: bits 56-63 of a real value are 0. */
    uint64_t last_vpp = ~(uint64_t)0;
    struct sl_burst_svc own = {~(uint64_t)0, 0, 0, SL_DECIDE_NONE, SL_DROP_NOT_VIP, 0, 0};
    const struct sl_burst_svc *last = &own;
    for (unsigned i = 0; i < n; i++) {
        if (!go[i]) {
            continue;
        }
        if (vpp[i] != last_vpp) {
            last_vpp = vpp[i];
            last = sl_burst_cached_lookup(t, c, vpp[i], &own);
        }
        if (last->drop != SL_DROP_NONE) {
            sl_burst_set(&p[i], SL_BURST_DROP, last->drop, last->sid, SL_DECIDE_NONE,
                         (uint16_t)p[i].len);
            w0[i] = 0;
            w1[i] = 0;
            go[i] = 0;
            continue;
        }
        w0[i] &= last->mask0;
        w1[i] &= last->mask1;
        sid_of[i] = last->sid;
    }

    /* 3. hash, 8 lanes at a time (lanes past n hash zeros, unused) */
    for (unsigned i = n; i < ((n + 7u) & ~7u); i++) {
        w0[i] = 0;
        w1[i] = 0;
    }
    sl_flow_hash4_burst(w0, w1, h, n, &t->seed);

    /* 4. slot, prefetched */
    for (unsigned i = 0; i < n; i++) {
        if (go[i]) {
            const struct sl_service *svc = &t->services[sid_of[i]];
            const uint32_t s = sl_fastmod((uint32_t)h[i], svc->table_fastmod, svc->table_size);
            slot_of[i] = s;
            slot[i] = sl_table_word(t, svc, s);
            __builtin_prefetch(slot[i]);
            if (svc->fwd_mode != SL_FWD_DSR_L2) {
                /* encapsulation writes into the headroom: the cache line
                 * before the frame, which nothing has touched yet */
                __builtin_prefetch(p[i].frame - 1, 1);
            }
        }
    }

    /* 5. backend */
    uint16_t bid_of[SL_BURST_MAX];
    for (unsigned i = 0; i < n; i++) {
        if (go[i]) {
            const uint16_t bid = sl_table_entry(t, &t->services[sid_of[i]], slot_of[i], *slot[i]);
            bid_of[i] = bid;
            if (bid >= SL_MAX_BACKENDS || !(t->backends[bid].flags & SL_BACKEND_ACTIVE)) {
                go[i] = 0;
                sl_burst_set(&p[i], SL_BURST_DROP, SL_DROP_NO_BACKEND, sid_of[i], SL_DECIDE_NONE,
                             (uint16_t)p[i].len);
            }
        }
    }

    /* 6. rewrite; encapsulation to IPv6 backends after the loop, out of
     * line (with the call inside, the loop cost IPv4 dsr-l2 and ipip 1.5-3%
     * more in tools/bench/burst_ab.sh) */
    uint64_t eth[2];
    sl_burst_encap_eth(ctx, eth);
    uint8_t to6[SL_BURST_MAX];
    unsigned n_to6 = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!go[i]) {
            continue;
        }
        const uint16_t in_len = (uint16_t)p[i].len;
        const uint16_t sid = sid_of[i];
        const uint16_t bid = bid_of[i];
        const struct sl_service *svc = &t->services[sid];
        const struct sl_backend *be = &t->backends[bid];
        int ok;
        switch (svc->fwd_mode) {
            case SL_FWD_DSR_L2:
                sl_rewrite_dsr_l2(p[i].frame, ctx->box_mac, be->mac);
                ok = 1;
                break;
            case SL_FWD_IPIP:
                if (be->family == SL_AF_INET) {
                    ok = sl_burst_encap4(&p[i], l3_len[i], ctx, eth, be, 0, 0, h[i], 0);
                } else {
                    to6[n_to6++] = (uint8_t)i;
                    ok = 0;
                }
                break;
            case SL_FWD_GUE:
                if (be->family == SL_AF_INET) {
                    ok = sl_burst_encap4(&p[i], l3_len[i], ctx, eth, be, 1,
                                         svc->gue_port != 0 ? svc->gue_port : ctx->gue_dport, h[i],
                                         0);
                } else {
                    to6[n_to6++] = (uint8_t)i;
                    ok = 0;
                }
                break;
            default:
                ok = 0;
                break;
        }
        if (ok) {
            sl_burst_set(&p[i], SL_BURST_FORWARD, SL_DROP_NONE, sid, bid, in_len);
        } else {
            /* nothing was written */
            sl_burst_set(&p[i], SL_BURST_SLOW, SL_DROP_NONE, SL_DECIDE_NONE, SL_DECIDE_NONE,
                         in_len);
        }
    }
    for (unsigned k = 0; k < n_to6; k++) {
        const unsigned i = to6[k];
        const uint16_t in_len = (uint16_t)p[i].len;
        if (sl_burst_encap_generic(&p[i], SL_ETH_P_IPV4, l3_len[i], ctx, &t->services[sid_of[i]],
                                   &t->backends[bid_of[i]], h[i])) {
            sl_burst_set(&p[i], SL_BURST_FORWARD, SL_DROP_NONE, sid_of[i], bid_of[i], in_len);
        }
    }
    if (n6 != 0) {
        sl_burst_forward6(t, ctx, c, p, v6, n6);
    }
}

/* The same without a cache across bursts. */
SL_INLINE void sl_burst_forward(const struct sl_tables *t, const struct sl_encap_ctx *ctx,
                                struct sl_burst_pkt *p, unsigned n) {
    sl_burst_forward_cached(t, ctx, NULL, p, n);
}

SL_EXTERN_C_END

#endif /* SLUICE_BURST_H */
