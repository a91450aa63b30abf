// SPDX-License-Identifier: Apache-2.0
//
// worker.hpp: one run-to-completion worker per lcore (l3fwd style). It owns
// queue `queue` of every port, its own TX buffers, its own worker state and
// counters in the shared region's dataplane area.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <ctime>

#include "options.hpp"
#include "sluice/region.h"
#include "sluice/rewrite.h"

struct rte_eth_dev_tx_buffer;
struct sl_burst_cache;

namespace sluice::dp {

inline constexpr unsigned kBurst = 32;

// CLOCK_MONOTONIC in ns: the clock of the region's start_ns, heartbeat_ns
// and port stats' updated_ns.
inline uint64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// The box's own identity, the same for every worker.
struct Box {
    sl_encap_ctx enc{}; // MACs, addresses, MTU, GUE port, TTL (rewrite.h)
    bool has_ipv4 = false;
    bool has_ipv6 = false;
};

// What an entry of a TX buffer counted as sent besides its port: the
// service and backend of a forwarded packet and its bytes as received, or
// the kind of a reply. What TX then does not take is taken back (worker.cpp).
struct TxTag {
    static constexpr uint16_t kNone = 0xffff;
    enum Reply : uint16_t { kNoReply, kArp, kNd, kEcho, kTooBig };
    uint16_t service_id = kNone; // kNone: not forwarded
    uint16_t backend_id = 0;
    uint16_t in_bytes = 0; // mbufs hold at most 65535 bytes (main.cpp)
    uint16_t reply = kNoReply;

    static TxTag forwarded(uint16_t sid, uint16_t bid, uint32_t bytes) {
        return TxTag{sid, bid, static_cast<uint16_t>(bytes), kNoReply};
    }
    static TxTag of_reply(Reply r) { return TxTag{kNone, 0, 0, r}; }
};
static_assert(sizeof(TxTag) == 8, "a TxTag is one store");
static_assert(SL_MAX_SERVICES < TxTag::kNone, "TxTag::kNone is no service id");

struct alignas(64) WorkerCtx {
    unsigned index = 0; // worker slot in the dataplane area
    unsigned lcore = 0;
    uint16_t queue = 0;
    unsigned n_ports = 0;
    uint16_t port_id[kMaxDpPorts] = {};
    uint8_t out_of[kMaxDpPorts] = {}; // forwarded traffic from port i leaves on port out_of[i]
    rte_eth_dev_tx_buffer *txb[kMaxDpPorts] = {};
    std::array<std::array<TxTag, kBurst>, kMaxDpPorts> tags{}; // of txb[p]->pkts[i]
    uint64_t drain_tsc = 0;
    // net_af_packet ports: the packet socket of this worker's queue, else
    // -1. The PMD asks the kernel to send its TX ring's frames only inside
    // rte_eth_tx_burst; what the kernel could not take then (the socket's
    // send buffer full, a driver's queue busy) would wait for the next
    // burst, for ever if the traffic stopped. The worker asks again once
    // the port's TX has paused (kick_idle_tx in worker.cpp).
    static_assert(kMaxDpPorts == 2, "kick_fd: one -1 per port");
    std::array<int, kMaxDpPorts> kick_fd = {-1, -1};
    std::array<uint64_t, kMaxDpPorts> kick_seen = {}; // the port's tx count at the last drain
    std::array<uint8_t, kMaxDpPorts> kick_due = {};   // frames may wait in the ring
    std::array<uint8_t, kMaxDpPorts> kick_wait = {};  // drains to skip after a failed kick
    const sl_region_header *hdr = nullptr;
    const uint8_t *base = nullptr;
    sl_worker_state *ws = nullptr;
    sl_worker_counters *c = nullptr;
    const Box *box = nullptr;
    sl_burst_cache *cache = nullptr;         // service lookups across bursts (sluice/burst.h)
    const std::atomic<bool> *live = nullptr; // per port: started (Ports::live)
    const std::atomic<bool> *stop = nullptr;
};

// Allocates the TX buffers of a worker on its socket. Throws DpdkError.
void worker_prepare(WorkerCtx &w);
void worker_release(WorkerCtx &w) noexcept;

// The lcore entry point (rte_eal_remote_launch): `arg` is a WorkerCtx.
int worker_main(void *arg);

} // namespace sluice::dp
