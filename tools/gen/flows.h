/* SPDX-License-Identifier: Apache-2.0
 *
 * flows.h: the flows sluice-gen sends, defined once for the generator and
 * for whoever predicts where they go (the dataplane tests' expectation
 * files). Flow i of n: source 198.18.0.0 + i / 50000 (198.18.0.0/15 is the
 * benchmarking range, RFC 2544), source port 10000 + i % 50000, to one VIP
 * and port. Every packet carries, at the start of its UDP/TCP payload, the
 * flow index (4 bytes) and a sequence number (8 bytes), little-endian.
 */
#ifndef SLUICE_GEN_FLOWS_H
#define SLUICE_GEN_FLOWS_H

#include <stdint.h>

#define SL_GEN_SRC_BASE 0xC6120000u /* 198.18.0.0, host order */
#define SL_GEN_PORTS_PER_IP 50000u
#define SL_GEN_SPORT_BASE 10000u
#define SL_GEN_MAGIC 0x736c6765u /* "egls": marks sluice-gen payloads */

struct sl_gen_payload {
    uint32_t magic;
    uint32_t flow;
    uint64_t seq;
} __attribute__((packed));

static inline uint32_t sl_gen_src_ip(uint32_t i) { /* host order */
    return SL_GEN_SRC_BASE + i / SL_GEN_PORTS_PER_IP;
}

static inline uint16_t sl_gen_sport(uint32_t i) { /* host order */
    return (uint16_t)(SL_GEN_SPORT_BASE + i % SL_GEN_PORTS_PER_IP);
}

#endif /* SLUICE_GEN_FLOWS_H */
