// SPDX-License-Identifier: Apache-2.0
//
// The hot path. Per burst: one acquire load of the published generation
// (sl_reader_begin_burst, which also reports the quiescent state), then per
// packet parse -> decide -> rewrite or answer -> TX buffer. Counters are
// plain stores into this worker's own cache lines; nothing here allocates,
// locks or logs.
#include "worker.hpp"

#include <ctime>
#include <fmt/core.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actions.hpp"
#include "dpdk.hpp"
#include "io_guard.hpp"
#include "sluice/burst.h"
#include "sluice/decide.h"
#include "sluice/parse.h"

namespace sluice::dp {

static_assert(io_guard::kSlots >= SL_MAX_WORKERS, "an io_guard slot per worker");

namespace {

// The reply counter of kind r.
inline uint64_t &reply_counter(sl_worker_counters &c, uint16_t r) {
    switch (r) {
        case TxTag::kArp:
            return c.arp_replies;
        case TxTag::kNd:
            return c.nd_replies;
        case TxTag::kEcho:
            return c.echo_replies;
        default: // kTooBig
            return c.icmp_too_big_sent;
    }
}

// Counts what a TX buffer entry counted besides its port, `step` times (1
// as it goes in, -1 as it is taken back): a forwarded packet per service and
// backend, with its bytes as received, or a reply per kind. Unsigned
// arithmetic: adding -1 subtracts.
inline void count_tag(sl_worker_counters &c, const TxTag &t, uint64_t step) {
    if (t.service_id != TxTag::kNone) {
        sl_pkt_bytes &sc = c.services[t.service_id];
        sc.packets += step;
        sc.bytes += step * t.in_bytes;
        sl_pkt_bytes &bc = c.backends[t.backend_id];
        bc.packets += step;
        bc.bytes += step * t.in_bytes;
    } else if (t.reply != TxTag::kNoReply) {
        reply_counter(c, t.reply) += step;
    }
}

// What TX did not take: counted as tx_full and freed (rte_eth_tx_buffer's
// error callback, called from a flush inside this worker, and at the stop
// for what no flush sent), and taken back from the counters that counted it
// as sent: its port's, and its service's and backend's or its reply kind's
// (WorkerCtx::tags).
struct TxUserdata {
    sl_worker_counters *c;
    sl_port_counters *pc;
    const rte_eth_dev_tx_buffer *txb;
    const TxTag *tags; // WorkerCtx::tags of this port
};

void on_tx_unsent(rte_mbuf **pkts, uint16_t unsent, void *userdata) {
    auto *u = static_cast<TxUserdata *>(userdata);
    // pkts is &txb->pkts[sent]: the tags of these entries follow from there
    const TxTag *tag = u->tags + (pkts - u->txb->pkts);
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < unsent; i++) {
        bytes += rte_pktmbuf_pkt_len(pkts[i]);
        rte_pktmbuf_free(pkts[i]);
        count_tag(*u->c, tag[i], ~uint64_t{0});
    }
    u->pc->tx.packets -= unsent;
    u->pc->tx.bytes -= bytes;
    u->c->drops[SL_DROP_TX_FULL] += unsent;
}

inline void drop(WorkerCtx &w, rte_mbuf *m, unsigned reason) {
    w.c->drops[reason]++;
    rte_pktmbuf_free(m);
}

// Into the TX buffer of port_idx, counted as sent: per port, and per
// service and backend for a forwarded packet (with its bytes as received)
// or per kind for a reply.
inline void tx(WorkerCtx &w, unsigned port_idx, rte_mbuf *m, TxTag tag) {
    if (unlikely(!w.live[port_idx].load(std::memory_order_relaxed))) {
        drop(w, m, SL_DROP_TX_FULL); // two-armed, the other arm down (a memif without its server)
        return;
    }
    sl_port_counters &pc = w.c->ports[port_idx];
    pc.tx.packets++;
    pc.tx.bytes += rte_pktmbuf_pkt_len(m);
    count_tag(*w.c, tag, 1);
    rte_eth_dev_tx_buffer *txb = w.txb[port_idx];
    w.tags[port_idx][txb->length] = tag; // length < size: a full buffer was flushed
    rte_eth_tx_buffer(w.port_id[port_idx], w.queue, txb, m);
}

// Is `addr` (family) one of the VIPs of the published tables? Only asked for
// ARP, ND and echo, never for forwarded traffic: a linear scan is enough.
bool is_vip(const sl_tables *t, uint8_t family, const uint8_t *addr) {
    if (t == nullptr) {
        return false;
    }
    const uint32_t n = t->n_services < SL_MAX_SERVICES ? t->n_services : SL_MAX_SERVICES;
    const size_t alen = family == SL_AF_INET ? 4 : 16;
    for (uint32_t i = 0; i < n; i++) {
        const sl_service &s = t->services[i];
        if ((s.flags & SL_SVC_ACTIVE) && s.family == family &&
            __builtin_memcmp(s.vip, addr, alen) == 0) {
            return true;
        }
    }
    return false;
}

bool is_box(const Box &b, uint8_t family, const uint8_t *addr) {
    if (family == SL_AF_INET) {
        return b.has_ipv4 && __builtin_memcmp(&b.enc.box_ip4, addr, 4) == 0;
    }
    return b.has_ipv6 && __builtin_memcmp(b.enc.box_ip6, addr, 16) == 0;
}

inline void process(WorkerCtx &w, rte_mbuf *m, unsigned rx_idx, const sl_tables *t) {
    if (m->nb_segs != 1) {
        drop(w, m, SL_DROP_TRUNCATED); // chained mbufs: not produced at our MTU
        return;
    }
    uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
    const uint32_t len = rte_pktmbuf_data_len(m);
    sl_pkt pkt;
    const enum sl_verdict v = sl_parse(data, len, &pkt);
    const Box &box = *w.box;
    if (v != SL_VERDICT_DROP && !sl_l2_for_us(data, box.enc.box_mac, v)) {
        drop(w, m, SL_DROP_NOT_FOR_US); // flooded, or another host's: never forwarded again
        return;
    }
    switch (v) {
        case SL_VERDICT_FLOW:
        case SL_VERDICT_ICMP_ERROR: {
            if (t == nullptr) {
                drop(w, m, SL_DROP_NO_TABLE);
                return;
            }
            const sl_decision d = sl_decide(t, &pkt);
            if (d.drop != SL_DROP_NONE) {
                drop(w, m, d.drop);
                return;
            }
            const sl_service &svc = t->services[d.service_id];
            const sl_backend &be = t->backends[d.backend_id];
            const uint32_t in_bytes = rte_pktmbuf_pkt_len(m);
            const Action a = forward(m, &pkt, &svc, &be, d.hash, box);
            if (a.kind == Action::Drop) {
                drop(w, m, a.drop);
                return;
            }
            if (a.kind == Action::Reply) {
                // MTU exceeded: an ICMP error went back to the sender instead.
                w.c->drops[SL_DROP_MTU_EXCEEDED]++;
                tx(w, rx_idx, m, TxTag::of_reply(TxTag::kTooBig));
                return;
            }
            tx(w, w.out_of[rx_idx], m, TxTag::forwarded(d.service_id, d.backend_id, in_bytes));
            return;
        }
        case SL_VERDICT_ARP: {
            const uint8_t *tpa = data + pkt.l3_off + offsetof(sl_arp_hdr, tpa);
            if (!is_box(box, SL_AF_INET, tpa) && !is_vip(t, SL_AF_INET, tpa)) {
                drop(w, m, SL_DROP_NOT_FOR_US);
                return;
            }
            if (!answer_arp(m, &pkt, box)) {
                drop(w, m, SL_DROP_NOT_FOR_US); // a reply, or a request we do not answer
                return;
            }
            tx(w, rx_idx, m, TxTag::of_reply(TxTag::kArp));
            return;
        }
        case SL_VERDICT_ND: {
            const uint8_t *target = data + pkt.l4_off + offsetof(sl_nd_msg, target);
            if (pkt.l4_off + sizeof(sl_nd_msg) > len ||
                (!is_box(box, SL_AF_INET6, target) && !is_vip(t, SL_AF_INET6, target))) {
                drop(w, m, SL_DROP_NOT_FOR_US);
                return;
            }
            if (!answer_nd(m, &pkt, box)) {
                drop(w, m, SL_DROP_NOT_FOR_US);
                return;
            }
            tx(w, rx_idx, m, TxTag::of_reply(TxTag::kNd));
            return;
        }
        case SL_VERDICT_ICMP_ECHO: {
            const uint8_t fam = pkt.key.family;
            if (!is_box(box, fam, pkt.key.dst) && !is_vip(t, fam, pkt.key.dst)) {
                drop(w, m, t == nullptr ? SL_DROP_NO_TABLE : SL_DROP_NOT_FOR_US);
                return;
            }
            if (!answer_echo(m, &pkt, box)) {
                drop(w, m, SL_DROP_NOT_FOR_US);
                return;
            }
            tx(w, rx_idx, m, TxTag::of_reply(TxTag::kEcho));
            return;
        }
        case SL_VERDICT_DROP:
        default:
            drop(w, m, pkt.drop < SL_DROP_COUNT ? pkt.drop : unsigned{SL_DROP_TRUNCATED});
            return;
    }
}

// A burst with tables: the common case through the packet core's burst
// path (sluice/burst.h), everything else through process().
inline void process_burst(WorkerCtx &w, rte_mbuf **pkts, uint16_t n, unsigned rx_idx,
                          const sl_tables *t, sl_port_counters &pc) {
    sl_burst_pkt b[kBurst];
    uint64_t rx_bytes = 0;
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        rte_prefetch0(rte_pktmbuf_mtod(m, void *));
        rx_bytes += rte_pktmbuf_pkt_len(m);
        b[i].frame = rte_pktmbuf_mtod(m, uint8_t *);
        // A chained mbuf gets length 0: the burst path hands it back and
        // process() drops it.
        b[i].len = m->nb_segs == 1 ? rte_pktmbuf_data_len(m) : 0;
        b[i].headroom = rte_pktmbuf_headroom(m);
    }
    pc.rx.bytes += rx_bytes;
    sl_burst_forward_cached(t, &w.box->enc, w.cache, b, n);
    const unsigned out = w.out_of[rx_idx];
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        switch (b[i].verdict) {
            case SL_BURST_FORWARD:
                apply(m, sl_rw_make(b[i].frame, b[i].len, SL_RW_OK));
                tx(w, out, m, TxTag::forwarded(b[i].service_id, b[i].backend_id, b[i].in_len));
                break;
            case SL_BURST_DROP:
                drop(w, m, b[i].drop);
                break;
            default:
                process(w, m, rx_idx, t);
                break;
        }
    }
}

// The TX buffers of the live ports, sent.
void flush_live(WorkerCtx &w) {
    for (unsigned p = 0; p < w.n_ports; p++) {
        if (w.live[p].load(std::memory_order_relaxed)) {
            rte_eth_tx_buffer_flush(w.port_id[p], w.queue, w.txb[p]);
        }
    }
}

// After a failed kick (the send buffer still full, the link down), the
// drains to let pass before the next: ~1 ms at the default drain timer.
constexpr uint8_t kKickRetryDrains = 10;

// After a drain: on the af_packet ports whose TX has paused since the last
// drain, the kernel is asked to send what the PMD's TX ring still holds
// (WorkerCtx::kick_fd); while TX goes on, each burst's own request does
// that. A request that sends nothing (0) finds the ring empty: done until
// the next TX. With all = true (at stop), every live af_packet port once.
void kick_idle_tx(WorkerCtx &w, bool all) {
    for (unsigned p = 0; p < w.n_ports; p++) {
        const int fd = w.kick_fd[p];
        if (fd < 0 || !w.live[p].load(std::memory_order_relaxed)) {
            continue;
        }
        const uint64_t sent = w.c->ports[p].tx.packets;
        if (!all) {
            if (sent != w.kick_seen[p]) {
                w.kick_seen[p] = sent;
                w.kick_due[p] = 1;
                continue;
            }
            if (w.kick_due[p] == 0) {
                continue;
            }
            if (w.kick_wait[p] != 0) {
                w.kick_wait[p]--;
                continue;
            }
        }
        const ssize_t r = sendto(fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
        if (r == 0) {
            w.kick_due[p] = 0;
        } else if (r < 0) {
            w.kick_wait[p] = kKickRetryDrains;
        }
        // r > 0: the kernel took some; more may wait: again at the next drain
    }
}

} // namespace

void worker_prepare(WorkerCtx &w) {
    const int socket = static_cast<int>(rte_lcore_to_socket_id(w.lcore));
    w.cache = static_cast<sl_burst_cache *>(
        rte_zmalloc_socket("sluice_cache", sizeof(sl_burst_cache), 64, socket));
    if (w.cache == nullptr) {
        throw DpdkError("cannot allocate the lookup cache (hugepage memory exhausted?)");
    }
    sl_burst_cache_init(w.cache);
    for (unsigned p = 0; p < w.n_ports; p++) {
        w.txb[p] = static_cast<rte_eth_dev_tx_buffer *>(
            rte_zmalloc_socket("sluice_txb", RTE_ETH_TX_BUFFER_SIZE(kBurst), 0, socket));
        if (w.txb[p] == nullptr) {
            throw DpdkError("cannot allocate a TX buffer (hugepage memory exhausted?)");
        }
        rte_eth_tx_buffer_init(w.txb[p], kBurst);
        auto *u = static_cast<TxUserdata *>(
            rte_zmalloc_socket("sluice_txu", sizeof(TxUserdata), 0, socket));
        if (u == nullptr) {
            throw DpdkError("cannot allocate TX buffer state");
        }
        u->c = w.c;
        u->pc = &w.c->ports[p];
        u->txb = w.txb[p];
        u->tags = w.tags[p].data();
        rte_eth_tx_buffer_set_err_callback(w.txb[p], on_tx_unsent, u);
    }
}

void worker_release(WorkerCtx &w) noexcept {
    rte_free(w.cache);
    w.cache = nullptr;
    for (unsigned p = 0; p < w.n_ports; p++) {
        if (w.txb[p] != nullptr) {
            // what no flush sent (the port not live, or the worker kept out
            // of its port I/O when it stopped: io_guard) is not sent
            on_tx_unsent(w.txb[p]->pkts, w.txb[p]->length, w.txb[p]->error_userdata);
            rte_free(w.txb[p]->error_userdata);
            rte_free(w.txb[p]);
            w.txb[p] = nullptr;
        }
    }
}

int worker_main(void *arg) {
    WorkerCtx &w = *static_cast<WorkerCtx *>(arg);
    sl_worker_state *ws = w.ws;
    // Registered with observed_generation 0 before the first read: control
    // then cannot reuse any copy until this worker has read the generation.
    ws->observed_generation = 0;
    ws->pid = getpid();
    ws->lcore = w.lcore;
    ws->heartbeat_ns = mono_ns();
    __atomic_store_n(&ws->run, static_cast<uint32_t>(SL_WORKER_RUNNING), __ATOMIC_RELEASE);

    const uint64_t hb_tsc = rte_get_tsc_hz() / 1000; // ~1 ms
    uint64_t seen = 0;
    uint64_t last_drain = rte_rdtsc();
    uint64_t last_hb = last_drain;
    rte_mbuf *pkts[kBurst];
    // Busy accounting: each turn of the loop, from one TSC read to the
    // next, counts as busy if its polls brought packets.
    uint64_t prev = last_drain;
    uint64_t loop_tsc = 0;
    uint64_t busy_tsc = 0;
    bool busy = false;
    ws->tsc_hz = rte_get_tsc_hz();
    ws->loop_tsc = 0;
    ws->busy_tsc = 0;

    io_guard::bind_worker();
    while (!w.stop->load(std::memory_order_relaxed)) {
        const sl_tables *t = sl_reader_begin_burst(w.hdr, w.base, ws, &seen);
        const uint64_t now = rte_rdtsc();
        loop_tsc += now - prev;
        busy_tsc += busy ? now - prev : 0;
        prev = now;
        busy = false;
        // Ports are touched only inside the guard (io_guard.hpp), and only
        // live ones.
        if (likely(io_guard::enter(w.index))) {
            for (unsigned p = 0; p < w.n_ports; p++) {
                if (unlikely(!w.live[p].load(std::memory_order_relaxed))) {
                    continue;
                }
                const uint16_t n = rte_eth_rx_burst(w.port_id[p], w.queue, pkts, kBurst);
                if (n == 0) {
                    continue;
                }
                busy = true;
                sl_port_counters &pc = w.c->ports[p];
                pc.rx.packets += n;
                if (t == nullptr) {
                    for (uint16_t i = 0; i < n; i++) {
                        pc.rx.bytes += rte_pktmbuf_pkt_len(pkts[i]);
                        process(w, pkts[i], p, t);
                    }
                    continue;
                }
                process_burst(w, pkts, n, p, t, pc);
            }
            if (now - last_drain > w.drain_tsc) {
                flush_live(w);
                kick_idle_tx(w, false);
                last_drain = now;
            }
            io_guard::leave(w.index);
        }
        if (now - last_hb > hb_tsc) {
            ws->heartbeat_ns = mono_ns();
            ws->loop_tsc = loop_tsc;
            ws->busy_tsc = busy_tsc;
            last_hb = now;
        }
    }
    if (io_guard::enter(w.index)) {
        flush_live(w);
        kick_idle_tx(w, true);
        io_guard::leave(w.index);
    }
    io_guard::unbind_worker();
    ws->loop_tsc = loop_tsc;
    ws->busy_tsc = busy_tsc;
    ws->heartbeat_ns = mono_ns();
    __atomic_store_n(&ws->run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
    return 0;
}

} // namespace sluice::dp
