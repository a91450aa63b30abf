/* SPDX-License-Identifier: Apache-2.0
 *
 * parse.h: the packet parser, one bounds-checked step per layer, for C, C++
 * and BPF C. API here; the steps are static inline below.
 *
 * sl_parse() classifies any byte string of any length and never reads
 * outside [data, data + len). On SL_VERDICT_DROP, pkt->drop names why.
 * The entry points (parse_impl.h):
 *   enum sl_verdict sl_parse(const uint8_t *data, uint32_t len, struct sl_pkt *pkt);
 *   enum sl_verdict sl_parse_frame(const uint8_t *data, const uint8_t *data_end,
 *                                  struct sl_pkt *pkt);   (XDP: ctx->data, ctx->data_end)
 * The rules, verdicts and drop reasons: docs/PARSING.md.
 */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#include "sluice/compat.h"
#include "sluice/counters.h"
#include "sluice/flow_key.h"
#include "sluice/wire.h"

SL_EXTERN_C_BEGIN

enum sl_verdict {
    SL_VERDICT_FLOW = 0,   /* IPv4/IPv6 TCP or UDP (or a fragment of one): key filled */
    SL_VERDICT_ICMP_ERROR, /* ICMP(v6) error: key = embedded header, reversed */
    SL_VERDICT_ICMP_ECHO,  /* ICMP echo request / ICMPv6 echo request */
    SL_VERDICT_ARP,        /* ARP request or reply */
    SL_VERDICT_ND,         /* ICMPv6 neighbour solicitation */
    SL_VERDICT_DROP,       /* pkt->drop says why */
};

enum sl_frag {
    SL_FRAG_NONE = 0,
    SL_FRAG_FIRST, /* offset 0, more follow: l4_off set (header may be cut), ports unused */
    SL_FRAG_LATER, /* offset > 0: no L4 header */
};

/* How fragments are keyed (a deliberate rule, tested):
 * every fragment of a datagram, the first included, is keyed with ports 0,
 * so that all pieces of one datagram hash alike and reach one backend, which
 * reassembles. In `src-ip` mode fragments and whole packets of a client map
 * alike; in `5tuple` and `src-ip-port` modes a fragmented datagram may reach
 * another backend than the flow's unfragmented packets.
 * A fragment is IPv4 with MF or an offset, or IPv6 with a fragment header
 * (an atomic fragment, offset 0 and M clear, is none: RFC 6946). Its protocol
 * is the one the IPv4 header or the fragment header names: TCP and UDP give
 * SL_VERDICT_FLOW, ICMP/ICMPv6 SL_DROP_ICMP_UNSUPPORTED (no reassembly),
 * anything else SL_DROP_L4_UNSUPPORTED. */

#define SL_MAX_VLAN_TAGS 2
#define SL_MAX_IPV6_EXT 8

struct sl_pkt {
    uint16_t l3_off;    /* offset of the IPv4/IPv6/ARP header */
    uint16_t l4_off;    /* offset of the L4 header; 0 when there is none */
    uint16_t l3_len;    /* length of the IP packet (IPv4 total length, IPv6 40 + payload) */
    uint16_t ethertype; /* host byte order: SL_ETH_P_IPV4 / _IPV6 / _ARP */
    uint16_t vlan_tci[SL_MAX_VLAN_TAGS]; /* host byte order, outer first */
    uint8_t n_vlans;
    uint8_t l4_proto;  /* after IPv6 extension headers */
    uint8_t frag;      /* enum sl_frag */
    uint8_t icmp_type; /* for ICMP verdicts */
    uint8_t icmp_code;
    uint8_t drop;           /* enum sl_drop_reason, for SL_VERDICT_DROP */
    uint16_t inner_l3_off;  /* ICMP errors: offset of the embedded IP header */
    struct sl_flow_key key; /* full 5-tuple; family always set for IP */
};

/* Is a frame of verdict v addressed to the box at L2? Its destination is
 * the box's MAC, or, for ARP and neighbour solicitation (asked of every
 * host on the link), a group address (broadcast, multicast). Ports run
 * promiscuous (the box's MAC need not be the port's); anything else was
 * flooded or meant for another host, say a backend's MAC: forwarded again,
 * it would reach its backend twice, and with several boxes on the link loop
 * between them. Such frames are dropped as SL_DROP_NOT_FOR_US. Asked after
 * sl_parse, for any verdict but SL_VERDICT_DROP (a frame the parser drops
 * keeps the parser's reason): those frames hold 14 bytes or more. */
SL_INLINE int sl_l2_for_us(const uint8_t *frame, const uint8_t box_mac[SL_ETH_ALEN],
                           enum sl_verdict v) {
    if (frame[0] & 1) {
        return v == SL_VERDICT_ARP || v == SL_VERDICT_ND;
    }
    return __builtin_memcmp(frame, box_mac, SL_ETH_ALEN) == 0;
}

SL_EXTERN_C_END

#include "sluice/parse_impl.h"

#endif /* SLUICE_PARSE_H */
