/* SPDX-License-Identifier: Apache-2.0
 *
 * counters.h: the named drop reasons, one list for the parser, the DPDK
 * dataplane, the XDP dataplane, the control daemon and the CLI. Each reason
 * is one counter; nothing is logged per packet.
 */
#ifndef SLUICE_COUNTERS_H
#define SLUICE_COUNTERS_H

#include "sluice/compat.h"

SL_EXTERN_C_BEGIN

/* X(ENUM_SUFFIX, "metric_name", "what it means") */
#define SL_DROP_REASONS(X)                                                                         \
    X(NONE, "none", "not dropped")                                                                 \
    X(TRUNCATED, "truncated", "frame ends inside a header or before a length it declares")         \
    X(L2_UNSUPPORTED, "l2_unsupported", "ethertype is not IPv4, IPv6 or ARP, or over 2 VLAN tags") \
    X(ARP_MALFORMED, "arp_malformed", "ARP that is not Ethernet/IPv4 or has bad lengths")          \
    X(IPV4_BAD_HEADER, "ipv4_bad_header", "IPv4 version or header length wrong")                   \
    X(IPV4_BAD_LENGTH, "ipv4_bad_length", "IPv4 total length below the header or past the frame")  \
    X(IPV6_BAD_HEADER, "ipv6_bad_header", "IPv6 version wrong or payload length past the frame")   \
    X(IPV6_BAD_EXT, "ipv6_bad_ext", "IPv6 extension header chain malformed or too long")           \
    X(L4_UNSUPPORTED, "l4_unsupported", "IP protocol other than TCP, UDP, ICMP, ICMPv6")           \
    X(L4_BAD_HEADER, "l4_bad_header", "TCP data offset or UDP length wrong")                       \
    X(ICMP_UNSUPPORTED, "icmp_unsupported", "ICMP type that sluice neither answers nor forwards")  \
    X(ICMP_BAD_INNER, "icmp_bad_inner", "ICMP error whose embedded header cannot be parsed")       \
    X(NOT_VIP, "not_vip", "destination is no VIP service: sluice is no open relay")                \
    X(NO_TABLE, "no_table", "no table published yet")                                              \
    X(NO_BACKEND, "no_backend", "the service has no backend in its table")                         \
    X(MTU_EXCEEDED, "mtu_exceeded", "encapsulated packet would exceed the MTU: ICMP sent back")    \
    X(ENCAP_FAILED, "encap_failed",                                                                \
      "cannot encapsulate: no headroom, gateway MAC, source address")                              \
    X(NOT_FOR_US, "not_for_us", "ARP/ND/echo for another address; a frame to another MAC")         \
    X(TX_FULL, "tx_full", "transmit ring full")

enum sl_drop_reason {
#define SL_X_ENUM(name, str, doc) SL_DROP_##name,
    SL_DROP_REASONS(SL_X_ENUM)
#undef SL_X_ENUM
        SL_DROP_COUNT
};

#if !defined(__bpf__)
/* The metric name of a drop reason ("truncated", ...), or "unknown". */
SL_INLINE const char *sl_drop_name(unsigned reason) {
    static const char *const names[] = {
#define SL_X_NAME(name, str, doc) str,
        SL_DROP_REASONS(SL_X_NAME)
#undef SL_X_NAME
    };
    return reason < SL_DROP_COUNT ? names[reason] : "unknown";
}
#endif

SL_EXTERN_C_END

#endif /* SLUICE_COUNTERS_H */
