// SPDX-License-Identifier: Apache-2.0
//
// DPDK telemetry commands of sluice-dataplane, read with dpdk-telemetry.py:
//   /sluice/stats     totals: rx/tx per port, the ports' own counters
//                     (rx_missed, rx_errors, rx_nombuf, tx_errors), replies,
//                     generation
//   /sluice/drops     one counter per drop reason (counters.h names)
//   /sluice/workers   per worker: lcore, pid, run state, observed generation,
//                     loop and busy TSC cycles
//   /sluice/services  per service id with traffic: packets, bytes
// The callbacks run on DPDK's telemetry thread and only read the region.
// That thread lives until the process exits (DPDK 22.11 has no way to stop
// it or to unregister a command), so the callbacks read the region only
// under g_mu and while g_dp is set: telemetry_unregister clears it before
// the region is unmapped, and a command then answers an error.
#include "telemetry.hpp"

#include <ctime>
#include <mutex>
#include <string>
#include <rte_telemetry.h>

#include "sluice/counters.h"

namespace sluice::dp {

namespace {

std::mutex g_mu;
const sl_region_header *g_hdr = nullptr; // under g_mu
const sl_dp_area *g_dp = nullptr;        // under g_mu; nullptr: not registered, or stopping
unsigned g_ports = 0;

// A command's callback run under g_mu while the region is mapped; -1 (an
// error answer) after telemetry_unregister.
template <int (*F)(rte_tel_data *)> int guarded(const char *, const char *, rte_tel_data *d) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_dp == nullptr) {
        return -1;
    }
    return F(d);
}

uint64_t rd(const uint64_t &v) {
    return __atomic_load_n(&v, __ATOMIC_RELAXED);
}

unsigned n_workers() {
    const unsigned n = __atomic_load_n(&g_dp->n_workers, __ATOMIC_RELAXED);
    return n < SL_MAX_WORKERS ? n : SL_MAX_WORKERS;
}

int cmd_stats(rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    const unsigned nw = n_workers();
    for (unsigned p = 0; p < g_ports; p++) {
        uint64_t v[4] = {};
        for (unsigned w = 0; w < nw; w++) {
            const sl_port_counters &pc = g_dp->counters[w].ports[p];
            v[0] += rd(pc.rx.packets);
            v[1] += rd(pc.rx.bytes);
            v[2] += rd(pc.tx.packets);
            v[3] += rd(pc.tx.bytes);
        }
        const std::string pre = "port" + std::to_string(p) + "_";
        rte_tel_data_add_dict_u64(d, (pre + "rx_packets").c_str(), v[0]);
        rte_tel_data_add_dict_u64(d, (pre + "rx_bytes").c_str(), v[1]);
        rte_tel_data_add_dict_u64(d, (pre + "tx_packets").c_str(), v[2]);
        rte_tel_data_add_dict_u64(d, (pre + "tx_bytes").c_str(), v[3]);
        const sl_port_stats &ps = g_dp->port_stats[p];
        rte_tel_data_add_dict_u64(d, (pre + "rx_missed").c_str(), rd(ps.rx_missed));
        rte_tel_data_add_dict_u64(d, (pre + "rx_errors").c_str(), rd(ps.rx_errors));
        rte_tel_data_add_dict_u64(d, (pre + "rx_nombuf").c_str(), rd(ps.rx_nombuf));
        rte_tel_data_add_dict_u64(d, (pre + "tx_errors").c_str(), rd(ps.tx_errors));
    }
    uint64_t arp = 0;
    uint64_t nd = 0;
    uint64_t echo = 0;
    uint64_t tb = 0;
    uint64_t dropped = 0;
    for (unsigned w = 0; w < nw; w++) {
        const sl_worker_counters &c = g_dp->counters[w];
        arp += rd(c.arp_replies);
        nd += rd(c.nd_replies);
        echo += rd(c.echo_replies);
        tb += rd(c.icmp_too_big_sent);
        for (unsigned r = 1; r < SL_DROP_COUNT; r++) {
            dropped += rd(c.drops[r]);
        }
    }
    rte_tel_data_add_dict_u64(d, "arp_replies", arp);
    rte_tel_data_add_dict_u64(d, "nd_replies", nd);
    rte_tel_data_add_dict_u64(d, "echo_replies", echo);
    rte_tel_data_add_dict_u64(d, "icmp_too_big_sent", tb);
    rte_tel_data_add_dict_u64(d, "dropped", dropped);
    rte_tel_data_add_dict_u64(d, "generation",
                              __atomic_load_n(&g_hdr->generation, __ATOMIC_ACQUIRE));
    rte_tel_data_add_dict_u64(d, "workers", nw);
    return 0;
}

int cmd_drops(rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    const unsigned nw = n_workers();
    for (unsigned r = 1; r < SL_DROP_COUNT; r++) {
        uint64_t v = 0;
        for (unsigned w = 0; w < nw; w++) {
            v += rd(g_dp->counters[w].drops[r]);
        }
        rte_tel_data_add_dict_u64(d, sl_drop_name(r), v);
    }
    return 0;
}

int cmd_workers(rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const uint64_t now =
        static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
    const unsigned nw = n_workers();
    for (unsigned w = 0; w < nw; w++) {
        const sl_worker_state &ws = g_dp->workers[w];
        rte_tel_data *c = rte_tel_data_alloc();
        if (c == nullptr) {
            return -1;
        }
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_u64(c, "lcore", ws.lcore);
        rte_tel_data_add_dict_u64(c, "pid", static_cast<uint64_t>(ws.pid));
        rte_tel_data_add_dict_string(c, "run",
                                     ws.run == SL_WORKER_RUNNING
                                         ? "running"
                                         : (ws.run == SL_WORKER_STOPPED ? "stopped" : "free"));
        rte_tel_data_add_dict_u64(c, "observed_generation", rd(ws.observed_generation));
        const uint64_t hb = rd(ws.heartbeat_ns);
        rte_tel_data_add_dict_u64(c, "heartbeat_age_us", now > hb ? (now - hb) / 1000 : 0);
        uint64_t rx = 0;
        for (unsigned p = 0; p < g_ports; p++) {
            rx += rd(g_dp->counters[w].ports[p].rx.packets);
        }
        rte_tel_data_add_dict_u64(c, "rx_packets", rx);
        const uint64_t loop = rd(ws.loop_tsc);
        const uint64_t busy = rd(ws.busy_tsc);
        rte_tel_data_add_dict_u64(c, "loop_tsc", loop);
        rte_tel_data_add_dict_u64(c, "busy_tsc", busy);
        rte_tel_data_add_dict_u64(c, "tsc_hz", rd(ws.tsc_hz));
        // Since the worker started; rates over an interval come from two reads.
        // busy * 1000 would overflow after ~1.8e16 TSC cycles (71 days at 3 GHz)
        rte_tel_data_add_dict_u64(
            c, "busy_permille",
            loop != 0 ? static_cast<uint64_t>(static_cast<unsigned __int128>(busy) * 1000 / loop)
                      : 0);
        const std::string key = "worker" + std::to_string(w);
        rte_tel_data_add_dict_container(d, key.c_str(), c, 0);
    }
    return 0;
}

int cmd_services(rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    const unsigned nw = n_workers();
    unsigned shown = 0;
    for (unsigned s = 0; s < SL_MAX_SERVICES && shown < 100; s++) {
        uint64_t pk = 0;
        uint64_t by = 0;
        for (unsigned w = 0; w < nw; w++) {
            pk += rd(g_dp->counters[w].services[s].packets);
            by += rd(g_dp->counters[w].services[s].bytes);
        }
        if (pk == 0) {
            continue;
        }
        rte_tel_data *c = rte_tel_data_alloc();
        if (c == nullptr) {
            return -1;
        }
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_u64(c, "packets", pk);
        rte_tel_data_add_dict_u64(c, "bytes", by);
        const std::string key = "service" + std::to_string(s);
        rte_tel_data_add_dict_container(d, key.c_str(), c, 0);
        shown++;
    }
    return 0;
}

} // namespace

bool telemetry_register(const sl_region_header *hdr, const sl_dp_area *dp, unsigned n_ports) {
    {
        std::lock_guard<std::mutex> lock(g_mu);
        g_hdr = hdr;
        g_dp = dp;
        g_ports = n_ports;
    }
    int rc = 0;
    rc |= rte_telemetry_register_cmd("/sluice/stats", guarded<cmd_stats>,
                                     "sluice totals: rx/tx per port, replies, generation");
    rc |= rte_telemetry_register_cmd("/sluice/drops", guarded<cmd_drops>,
                                     "sluice drops per reason, summed over workers");
    rc |= rte_telemetry_register_cmd("/sluice/workers", guarded<cmd_workers>,
                                     "sluice workers: lcore, pid, run state, generation");
    rc |=
        rte_telemetry_register_cmd("/sluice/services", guarded<cmd_services>,
                                   "sluice per-service packets and bytes (services with traffic)");
    return rc == 0;
}

void telemetry_unregister() noexcept {
    std::lock_guard<std::mutex> lock(g_mu);
    g_hdr = nullptr;
    g_dp = nullptr;
    g_ports = 0;
}

} // namespace sluice::dp
