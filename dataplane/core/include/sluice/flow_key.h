/* SPDX-License-Identifier: Apache-2.0
 *
 * flow_key.h: the flow key sluice hashes, and the per-service hash modes.
 *
 * The key is one fixed 40-byte layout for IPv4 and IPv6 alike. IPv4
 * addresses sit in the first four bytes of src/dst, the rest is zero. Ports
 * are in network byte order, as on the wire. The hash (hash.h) reads the key
 * as little-endian 64-bit words; see sl_flow_hash for which words.
 */
#ifndef SLUICE_FLOW_KEY_H
#define SLUICE_FLOW_KEY_H

#include "sluice/compat.h"
#include "sluice/wire.h"

SL_EXTERN_C_BEGIN

enum sl_hash_mode {
    SL_HASH_5TUPLE = 0,      /* src ip, src port, dst ip, dst port, protocol (default) */
    SL_HASH_SRC_IP_PORT = 1, /* the source IP and port alone */
    SL_HASH_SRC_IP = 2,      /* the source IP alone: client affinity */
    SL_HASH_MODE_COUNT
};

struct sl_flow_key {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport; /* network byte order */
    uint16_t dport; /* network byte order */
    uint8_t proto;
    uint8_t family; /* SL_AF_INET or SL_AF_INET6 */
    uint16_t pad;   /* always zero */
};
SL_STATIC_ASSERT(sizeof(struct sl_flow_key) == 40, "flow key is 40 bytes");
SL_STATIC_ASSERT(offsetof(struct sl_flow_key, dst) == 16, "flow key: dst at 16");
SL_STATIC_ASSERT(offsetof(struct sl_flow_key, sport) == 32, "flow key: ports at 32");
SL_STATIC_ASSERT(offsetof(struct sl_flow_key, proto) == 36, "flow key: proto at 36");
SL_STATIC_ASSERT(offsetof(struct sl_flow_key, family) == 37, "flow key: family at 37");

/* The key a service of the given hash mode hashes: the fields the mode does
 * not use are zeroed, so that two packets that differ only there map alike. */
SL_INLINE void sl_key_apply_mode(struct sl_flow_key *key, enum sl_hash_mode mode) {
    if (mode == SL_HASH_SRC_IP_PORT || mode == SL_HASH_SRC_IP) {
        __builtin_memset(key->dst, 0, sizeof(key->dst));
        key->dport = 0;
        key->proto = 0;
        if (mode == SL_HASH_SRC_IP) {
            key->sport = 0;
        }
    }
    key->pad = 0;
}

SL_EXTERN_C_END

#endif /* SLUICE_FLOW_KEY_H */
