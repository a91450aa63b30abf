/* SPDX-License-Identifier: Apache-2.0
 *
 * decide.h: the forwarding decision, written once for the DPDK worker, the
 * offline tools (`sluicectl lookup`, the test predictor) and the XDP program.
 *
 * Given the published tables and a parsed packet of verdict SL_VERDICT_FLOW
 * or SL_VERDICT_ICMP_ERROR (whose key is the embedded header reversed, i.e.
 * the client's flow towards the VIP):
 *
 *   1. service: sl_index_find (vip, port, proto, SL_MATCH_PORT), then
 *      (vip, 0, proto, SL_MATCH_ANY_PORT). A fragment (pkt->frag !=
 *      SL_FRAG_NONE) is matched by the (vip, 0, proto, SL_MATCH_FRAGMENT)
 *      entry only and keyed with ports 0 (parse.h: every piece of a datagram
 *      hashes alike). No entry, or an inactive service: SL_DROP_NOT_VIP.
 *   2. key: pkt->key with the service's hash mode applied (sl_key_apply_mode).
 *   3. hash = sl_flow_hash(key, tables->seed); slot = hash mod table_size
 *      (Lemire fastmod with the service's precomputed magic outside BPF,
 *      `%` in BPF: both equal sl_slot_of).
 *   4. backend = the table's entry of slot (region.h: raw, or packed with a
 *      backend list). No table (table_size 0), a slot
 *      that names no backend (>= SL_MAX_BACKENDS, e.g. 0xFFFF) or an inactive
 *      backend: SL_DROP_NO_BACKEND.
 */
#ifndef SLUICE_DECIDE_H
#define SLUICE_DECIDE_H

#include "sluice/compat.h"
#include "sluice/counters.h"
#include "sluice/flow_key.h"
#include "sluice/hash.h"
#include "sluice/parse.h"
#include "sluice/region.h"

SL_EXTERN_C_BEGIN

#define SL_DECIDE_NONE 0xFFFFu /* service_id / backend_id when there is none */

struct sl_decision {
    uint8_t drop; /* enum sl_drop_reason: SL_DROP_NONE when the packet is forwarded */
    uint8_t pad0;
    uint16_t service_id; /* SL_DECIDE_NONE when no service matched */
    uint16_t backend_id; /* SL_DECIDE_NONE when no backend was chosen */
    uint16_t pad1;
    uint32_t slot;
    uint32_t pad2;
    uint64_t hash;
};
SL_STATIC_ASSERT(sizeof(struct sl_decision) == 24, "decision is 24 bytes");

/* The service id for a parsed packet's (vip, port, proto), or -1. */
SL_INLINE int sl_decide_service(const struct sl_tables *t, const struct sl_pkt *pkt) {
    const struct sl_flow_key *k = &pkt->key;
    if (pkt->frag != SL_FRAG_NONE) {
        return sl_index_find(t, k->family, k->dst, 0, k->proto, SL_MATCH_FRAGMENT);
    }
    int sid = sl_index_find(t, k->family, k->dst, k->dport, k->proto, SL_MATCH_PORT);
    if (sid < 0) {
        sid = sl_index_find(t, k->family, k->dst, 0, k->proto, SL_MATCH_ANY_PORT);
    }
    return sid;
}

/* Whether a matched service takes packets: SL_DROP_NOT_VIP when it is not
 * active, SL_DROP_NO_BACKEND when it has no table inside the arena,
 * SL_DROP_NONE otherwise. */
SL_INLINE enum sl_drop_reason sl_service_drop(const struct sl_service *svc) {
    if (!(svc->flags & SL_SVC_ACTIVE)) {
        return SL_DROP_NOT_VIP;
    }
    if (svc->table_size == 0 || !sl_table_in_arena(svc)) {
        return SL_DROP_NO_BACKEND;
    }
    return SL_DROP_NONE;
}

/* The arena word that holds slot s of svc's table (region.h: raw or
 * packed), for a service that takes packets (sl_service_drop): a burst can
 * prefetch it for every packet first and read it with sl_table_entry()
 * afterwards. */
SL_INLINE const uint16_t *sl_table_word(const struct sl_tables *t, const struct sl_service *svc,
                                        uint32_t s) {
    return &t->arena[svc->table_offset + ((s << sl_entry_lg(svc->entry_bits)) >> 4)];
}

/* Slot s's backend id (maybe >= SL_MAX_BACKENDS: none), given the word
 * that holds it. */
SL_INLINE uint16_t sl_table_entry(const struct sl_tables *t, const struct sl_service *svc,
                                  uint32_t s, uint16_t word) {
    if (svc->entry_bits == 0) {
        return word;
    }
    const uint32_t lg = sl_entry_lg(svc->entry_bits);
    const uint32_t i = ((uint32_t)word >> ((s << lg) & 15u)) & ((1u << svc->entry_bits) - 1u);
    return t->arena[svc->list_offset + i];
}

/* Slot s's backend id. */
SL_INLINE uint16_t sl_table_backend(const struct sl_tables *t, const struct sl_service *svc,
                                    uint32_t s) {
    return sl_table_entry(t, svc, s, *sl_table_word(t, svc, s));
}

/* Steps 1-3: service, key, hash and slot; backend_id stays SL_DECIDE_NONE.
 * With d.drop == SL_DROP_NONE, sl_decide_slot_addr() is the table entry that
 * sl_decide_backend() reads: a burst loop can prefetch it for every packet
 * first and read it afterwards, hiding the cache miss of a large table. */
SL_INLINE struct sl_decision sl_decide_slot(const struct sl_tables *t, const struct sl_pkt *pkt) {
    struct sl_decision d;
    __builtin_memset(&d, 0, sizeof(d));
    d.service_id = SL_DECIDE_NONE;
    d.backend_id = SL_DECIDE_NONE;

    const int sid = sl_decide_service(t, pkt);
    if (sid < 0 || sid >= SL_MAX_SERVICES) {
        d.drop = SL_DROP_NOT_VIP;
        return d;
    }
    const struct sl_service *svc = &t->services[sid];
    d.service_id = (uint16_t)sid;
    d.drop = (uint8_t)sl_service_drop(svc);
    if (d.drop != SL_DROP_NONE) {
        return d;
    }
    const uint32_t m = svc->table_size;

    struct sl_flow_key key = pkt->key;
    if (pkt->frag != SL_FRAG_NONE) {
        key.sport = 0;
        key.dport = 0;
    }
    sl_key_apply_mode(&key, (enum sl_hash_mode)svc->hash_mode);
    d.hash = sl_flow_hash(&key, &t->seed);
#if defined(__bpf__)
    d.slot = sl_slot_of(d.hash, m);
#else
    d.slot = sl_fastmod((uint32_t)d.hash, svc->table_fastmod, m);
#endif
    d.drop = SL_DROP_NONE;
    return d;
}

/* The arena word of a decision from sl_decide_slot (d->drop == NONE). */
SL_INLINE const uint16_t *sl_decide_slot_addr(const struct sl_tables *t,
                                              const struct sl_decision *d) {
    return sl_table_word(t, &t->services[d->service_id], d->slot);
}

/* Step 4: the backend of a decision from sl_decide_slot. */
SL_INLINE void sl_decide_backend(const struct sl_tables *t, struct sl_decision *d) {
    if (d->drop != SL_DROP_NONE) {
        return;
    }
    const uint16_t bid = sl_table_backend(t, &t->services[d->service_id], d->slot);
    if (bid >= SL_MAX_BACKENDS || !(t->backends[bid].flags & SL_BACKEND_ACTIVE)) {
        d->drop = SL_DROP_NO_BACKEND;
        return;
    }
    d->backend_id = bid;
}

SL_INLINE struct sl_decision sl_decide(const struct sl_tables *t, const struct sl_pkt *pkt) {
    struct sl_decision d = sl_decide_slot(t, pkt);
    sl_decide_backend(t, &d);
    return d;
}

SL_EXTERN_C_END

#endif /* SLUICE_DECIDE_H */
