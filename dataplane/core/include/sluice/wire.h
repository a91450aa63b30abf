/* SPDX-License-Identifier: Apache-2.0
 *
 * wire.h: the on-the-wire header layouts sluice parses and writes, defined
 * once for C, C++ and BPF C. All multi-byte fields are in network byte order.
 */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include "sluice/compat.h"

#define SL_ETH_ALEN 6
#define SL_ETH_P_IPV4 0x0800
#define SL_ETH_P_ARP 0x0806
#define SL_ETH_P_8021Q 0x8100
#define SL_ETH_P_8021AD 0x88A8
#define SL_ETH_P_IPV6 0x86DD

#define SL_IPPROTO_HOPOPTS 0
#define SL_IPPROTO_ICMP 1
#define SL_IPPROTO_IPIP 4
#define SL_IPPROTO_TCP 6
#define SL_IPPROTO_UDP 17
#define SL_IPPROTO_IPV6 41
#define SL_IPPROTO_ROUTING 43
#define SL_IPPROTO_FRAGMENT 44
#define SL_IPPROTO_ICMPV6 58
#define SL_IPPROTO_NONE 59
#define SL_IPPROTO_DSTOPTS 60

#define SL_AF_INET 4
#define SL_AF_INET6 6

struct sl_eth_hdr {
    uint8_t dst[SL_ETH_ALEN];
    uint8_t src[SL_ETH_ALEN];
    uint16_t ethertype;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_eth_hdr) == 14, "ethernet header is 14 bytes");

struct sl_vlan_hdr {
    uint16_t tci;
    uint16_t ethertype; /* the encapsulated protocol */
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_vlan_hdr) == 4, "802.1Q tag is 4 bytes");

#define SL_ARP_HRD_ETHER 1
#define SL_ARP_OP_REQUEST 1
#define SL_ARP_OP_REPLY 2
struct sl_arp_hdr {
    uint16_t hrd;
    uint16_t pro;
    uint8_t hln;
    uint8_t pln;
    uint16_t op;
    uint8_t sha[SL_ETH_ALEN];
    uint32_t spa;
    uint8_t tha[SL_ETH_ALEN];
    uint32_t tpa;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_arp_hdr) == 28, "ARP for IPv4 over Ethernet is 28 bytes");

#define SL_IPV4_DF 0x4000
#define SL_IPV4_MF 0x2000
#define SL_IPV4_OFFMASK 0x1FFF
struct sl_ipv4_hdr {
    uint8_t ver_ihl;
    uint8_t tos;
    uint16_t tot_len;
    uint16_t id;
    uint16_t frag_off;
    uint8_t ttl;
    uint8_t protocol;
    uint16_t check;
    uint32_t saddr;
    uint32_t daddr;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_ipv4_hdr) == 20, "IPv4 header without options is 20 bytes");

struct sl_ipv6_hdr {
    uint32_t ver_tc_flow;
    uint16_t payload_len;
    uint8_t nexthdr;
    uint8_t hop_limit;
    uint8_t saddr[16];
    uint8_t daddr[16];
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_ipv6_hdr) == 40, "IPv6 header is 40 bytes");

/* Hop-by-hop, routing and destination options share this prefix; the length
 * is in 8-octet units, not counting the first 8 octets. */
struct sl_ipv6_opt_hdr {
    uint8_t nexthdr;
    uint8_t hdrlen;
} SL_PACKED;

#define SL_IPV6_FRAG_OFFMASK 0xFFF8
#define SL_IPV6_FRAG_MF 0x0001
struct sl_ipv6_frag_hdr {
    uint8_t nexthdr;
    uint8_t reserved;
    uint16_t frag_off; /* offset << 3 | M flag */
    uint32_t id;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_ipv6_frag_hdr) == 8, "IPv6 fragment header is 8 bytes");

struct sl_tcp_hdr {
    uint16_t source;
    uint16_t dest;
    uint32_t seq;
    uint32_t ack_seq;
    uint8_t doff_res; /* data offset in the high nibble */
    uint8_t flags;
    uint16_t window;
    uint16_t check;
    uint16_t urg_ptr;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_tcp_hdr) == 20, "TCP header without options is 20 bytes");

struct sl_udp_hdr {
    uint16_t source;
    uint16_t dest;
    uint16_t len;
    uint16_t check;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_udp_hdr) == 8, "UDP header is 8 bytes");

#define SL_ICMP_ECHOREPLY 0
#define SL_ICMP_DEST_UNREACH 3
#define SL_ICMP_SOURCE_QUENCH 4
#define SL_ICMP_ECHO 8
#define SL_ICMP_TIME_EXCEEDED 11
#define SL_ICMP_PARAMETERPROB 12
#define SL_ICMP_FRAG_NEEDED 4 /* code of SL_ICMP_DEST_UNREACH */

#define SL_ICMPV6_DEST_UNREACH 1
#define SL_ICMPV6_PKT_TOOBIG 2
#define SL_ICMPV6_TIME_EXCEED 3
#define SL_ICMPV6_PARAMPROB 4
#define SL_ICMPV6_ECHO_REQUEST 128
#define SL_ICMPV6_ECHO_REPLY 129
#define SL_ICMPV6_NDISC_NS 135
#define SL_ICMPV6_NDISC_NA 136

/* ICMP and ICMPv6 share this 8-byte header; the last four bytes are the
 * echo id/sequence, the next-hop MTU or unused, depending on the type. */
struct sl_icmp_hdr {
    uint8_t type;
    uint8_t code;
    uint16_t check;
    union {
        struct {
            uint16_t id;
            uint16_t sequence;
        } echo;
        struct {
            uint16_t unused;
            uint16_t mtu;
        } frag;        /* ICMPv4 fragmentation needed */
        uint32_t mtu6; /* ICMPv6 packet too big */
        uint32_t unused;
    } un;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_icmp_hdr) == 8, "ICMP header is 8 bytes");

/* Neighbour solicitation / advertisement body after the ICMPv6 header's
 * first four bytes (type, code, checksum) and 4 bytes of flags/reserved. */
struct sl_nd_msg {
    uint8_t type;
    uint8_t code;
    uint16_t check;
    uint32_t flags; /* NA: R|S|O in the top bits; NS: reserved */
    uint8_t target[16];
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_nd_msg) == 24, "ND message without options is 24 bytes");
#define SL_ND_OPT_SOURCE_LL 1
#define SL_ND_OPT_TARGET_LL 2
#define SL_ND_NA_FLAG_ROUTER 0x80000000u
#define SL_ND_NA_FLAG_SOLICITED 0x40000000u
#define SL_ND_NA_FLAG_OVERRIDE 0x20000000u

/* GUE (Generic UDP Encapsulation, draft-ietf-intarea-gue) as Linux's `fou`
 * with `encap gue` decapsulates it: version 0, no options, the protocol of
 * the inner packet in proto_ctype. Variant 1 (direct IP in UDP) needs no
 * header at all; sluice sends version 0 with this 4-byte header. */
struct sl_gue_hdr {
    uint8_t hlen_c_ver; /* ver(2) | C(1) | hlen(5) */
    uint8_t proto_ctype;
    uint16_t flags;
} SL_PACKED;
SL_STATIC_ASSERT(sizeof(struct sl_gue_hdr) == 4, "GUE base header is 4 bytes");

#endif /* SLUICE_WIRE_H */
