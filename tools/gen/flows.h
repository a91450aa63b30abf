/* SPDX-License-Identifier: Apache-2.0
 *
 * flows.h: the flows sluice-gen sends, defined once for the generator and
 * for whoever predicts where they go (the dataplane tests' expectation
 * files). Flow i of n: source 198.18.0.0 + i / 50000 (198.18.0.0/15 is the
 * benchmarking range, RFC 2544), source port 10000 + i % 50000, to one
 * destination port and to VIP sl_gen_vip(base, i, v): with v VIPs (sluice-gen
 * --vips, default 1), flow i goes to VIP index i % v, that is to the address
 * base + i % v, added in host order (base: --vip, default 10.0.0.1; so with
 * --vips 4, flows 0, 1, 2, 3, 4... go to 10.0.0.1, .2, .3, .4, .1...). Every
 * packet carries, at the start of its UDP/TCP payload, the flow index
 * (4 bytes) and a sequence number (8 bytes), little-endian.
 */
#ifndef SLUICE_GEN_FLOWS_H
#define SLUICE_GEN_FLOWS_H

#include <stdint.h>

#define SL_GEN_SRC_BASE 0xC6120000u /* 198.18.0.0, host order */
#define SL_GEN_PORTS_PER_IP 50000u
#define SL_GEN_SPORT_BASE 10000u
#define SL_GEN_MAGIC 0x736c6765u /* "egls": marks sluice-gen payloads */
#define SL_GEN_MAX_VIPS 4096u

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

/* The VIP of flow i when the flows are spread over n VIPs from base (both
 * addresses in host order; n >= 1). */
static inline uint32_t sl_gen_vip(uint32_t base, uint32_t i, uint32_t n) {
    return base + i % n;
}

#endif /* SLUICE_GEN_FLOWS_H */
