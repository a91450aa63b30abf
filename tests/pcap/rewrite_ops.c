/* SPDX-License-Identifier: Apache-2.0 */
#include "rewrite_ops.h"

struct sl_rw_result rw_c_forward(uint8_t *frame, uint32_t len, uint32_t headroom,
                                 const struct sl_pkt *pkt, const struct sl_encap_ctx *ctx,
                                 const struct sl_service *svc, const struct sl_backend *be,
                                 uint64_t flow_hash) {
    return sl_rewrite_forward(frame, len, headroom, pkt, ctx, svc, be, flow_hash);
}

struct sl_rw_result rw_c_too_big(uint8_t *frame, uint32_t len, uint32_t headroom,
                                 const struct sl_pkt *pkt, const uint8_t *box_mac, uint32_t mtu) {
    return sl_build_icmp_too_big(frame, len, headroom, pkt, box_mac, mtu);
}

struct sl_rw_result rw_c_arp(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                             const uint8_t *our_mac) {
    return sl_reply_arp(frame, len, pkt, our_mac);
}

struct sl_rw_result rw_c_nd(uint8_t *frame, uint32_t len, uint32_t room, const struct sl_pkt *pkt,
                            const uint8_t *our_mac) {
    return sl_reply_nd(frame, len, room, pkt, our_mac);
}

struct sl_rw_result rw_c_echo(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                              const uint8_t *our_mac) {
    return sl_reply_echo(frame, len, pkt, our_mac);
}
