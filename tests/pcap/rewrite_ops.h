/* SPDX-License-Identifier: Apache-2.0
 *
 * rewrite_ops.h: sluice/rewrite.h compiled as C11 (rewrite_ops.c) and called
 * from the C++ pcap driver, so that the output the independent decoder
 * checks comes from the C build of the header.
 */
#ifndef SLUICE_TEST_REWRITE_OPS_H
#define SLUICE_TEST_REWRITE_OPS_H

#include "sluice/rewrite.h"

SL_EXTERN_C_BEGIN

struct sl_rw_result rw_c_forward(uint8_t *frame, uint32_t len, uint32_t headroom,
                                 const struct sl_pkt *pkt, const struct sl_encap_ctx *ctx,
                                 const struct sl_service *svc, const struct sl_backend *be,
                                 uint64_t flow_hash);
struct sl_rw_result rw_c_too_big(uint8_t *frame, uint32_t len, uint32_t headroom,
                                 const struct sl_pkt *pkt, const uint8_t *box_mac, uint32_t mtu);
struct sl_rw_result rw_c_arp(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                             const uint8_t *our_mac);
struct sl_rw_result rw_c_nd(uint8_t *frame, uint32_t len, uint32_t room, const struct sl_pkt *pkt,
                            const uint8_t *our_mac);
struct sl_rw_result rw_c_echo(uint8_t *frame, uint32_t len, const struct sl_pkt *pkt,
                              const uint8_t *our_mac);

SL_EXTERN_C_END

#endif
