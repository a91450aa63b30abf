// SPDX-License-Identifier: Apache-2.0
//
// actions.hpp: the packet core's rewriters (sluice/rewrite.h) applied to an
// mbuf: forwarding per the service's mode, the ICMP "too big" answer, and
// the answers the box gives itself (ARP, ND, echo). Only adjusts the mbuf's
// start and length around the in-place C functions; no rewriting logic here.
#pragma once

#include <rte_mbuf.h>

#include "sluice/counters.h"
#include "sluice/parse.h"
#include "sluice/region.h"
#include "sluice/rewrite.h"
#include "worker.hpp"

namespace sluice::dp {

struct Action {
    enum Kind : uint8_t {
        Forward, // transmit on the forwarding port
        Reply,   // an ICMP too-big answer: transmit back on the receiving port
        Drop,    // count `drop` and free
    } kind;
    uint8_t drop;
};

// Makes the mbuf describe r.frame / r.len (single-segment mbufs: the worker
// refuses chained ones before parsing).
inline void apply(rte_mbuf *m, const sl_rw_result &r) {
    uint8_t *start = rte_pktmbuf_mtod(m, uint8_t *);
    const uint16_t grow = static_cast<uint16_t>(start - r.frame);
    m->data_off = static_cast<uint16_t>(m->data_off - grow);
    m->data_len = static_cast<uint16_t>(r.len);
    m->pkt_len = r.len;
}

inline uint32_t room(const rte_mbuf *m) {
    return rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m);
}

inline Action forward(rte_mbuf *m, const sl_pkt *pkt, const sl_service *svc, const sl_backend *be,
                      uint64_t hash, const Box &box) {
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    const uint32_t len = rte_pktmbuf_data_len(m);
    const uint32_t headroom = rte_pktmbuf_headroom(m);
    const sl_rw_result r = sl_rewrite_forward(frame, len, headroom, pkt, &box.enc, svc, be, hash);
    switch (r.verdict) {
        case SL_RW_OK:
            apply(m, r);
            return {Action::Forward, SL_DROP_NONE};
        case SL_RW_MTU_EXCEEDED: {
            const uint32_t mtu =
                sl_encap_inner_mtu(&box.enc, static_cast<sl_fwd_mode>(svc->fwd_mode), be->family);
            const sl_rw_result t =
                sl_build_icmp_too_big(frame, len, headroom, pkt, box.enc.box_mac, mtu);
            if (t.verdict != SL_RW_OK) {
                return {Action::Drop, SL_DROP_MTU_EXCEEDED};
            }
            apply(m, t);
            return {Action::Reply, SL_DROP_MTU_EXCEEDED};
        }
        case SL_RW_MTU_EXCEEDED_NO_DF:
            return {Action::Drop, SL_DROP_MTU_EXCEEDED};
        case SL_RW_NO_SPACE:
        case SL_RW_NO_REPLY:
        case SL_RW_INVALID:
        default:
            return {Action::Drop, SL_DROP_ENCAP_FAILED};
    }
}

inline bool answer_arp(rte_mbuf *m, const sl_pkt *pkt, const Box &box) {
    const sl_rw_result r =
        sl_reply_arp(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), pkt, box.enc.box_mac);
    if (r.verdict != SL_RW_OK) {
        return false;
    }
    apply(m, r);
    return true;
}

inline bool answer_nd(rte_mbuf *m, const sl_pkt *pkt, const Box &box) {
    const sl_rw_result r = sl_reply_nd(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
                                       room(m), pkt, box.enc.box_mac);
    if (r.verdict != SL_RW_OK) {
        return false;
    }
    apply(m, r);
    return true;
}

inline bool answer_echo(rte_mbuf *m, const sl_pkt *pkt, const Box &box) {
    const sl_rw_result r = sl_reply_echo(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
                                         pkt, box.enc.box_mac);
    if (r.verdict != SL_RW_OK) {
        return false;
    }
    apply(m, r);
    return true;
}

} // namespace sluice::dp
