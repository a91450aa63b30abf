// SPDX-License-Identifier: Apache-2.0
//
// io_guard.hpp: keeps a port's shared memory mapped while a worker is inside
// one of its bursts.
//
// DPDK 22.11's memif PMD unmaps the shared regions of a connection from the
// EAL interrupt thread the moment its peer goes away (and on
// rte_eth_dev_stop), while a worker may be inside rte_eth_rx_burst or
// rte_eth_tx_burst on them, past the PMD's "connected" check: SIGSEGV. The
// guard closes that window. Each worker marks the stretch of its loop that
// touches ports (enter() .. leave()); this file also interposes munmap for
// the whole process, and an unmap from any other thread first stops workers
// from entering that stretch and waits for the ones inside to leave it.
//
// The worker's side is two plain stores and one load per loop: the fence a
// Dekker handshake needs on both sides is paid by the rare side only, with
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full barrier on
// every CPU that runs a thread of this process. Where the kernel lacks it,
// workers fall back to a fence of their own.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::io_guard {

inline constexpr unsigned kSlots = 32; // SL_MAX_WORKERS

struct alignas(64) Slot {
    std::atomic<uint32_t> in_io{0};
};

struct State {
    std::atomic<uint32_t> blocked{0}; // > 0: quiesce() under way
    bool worker_fence = false;        // no membarrier: workers fence themselves
    Slot slots[kSlots];
};
extern State g_state;

// Before any worker runs: registers for membarrier and turns the munmap
// guard on. disarm() when the workers have stopped.
void arm();
void disarm();

// The calling thread is a worker until unbind_worker(): its own unmaps pass
// unguarded (a worker never waits for itself).
void bind_worker();
void unbind_worker();

// A worker, before it touches ports: false while another thread quiesces
// (then it must not touch them, and not call leave()).
inline bool enter(unsigned slot) {
    Slot &s = g_state.slots[slot];
    s.in_io.store(1, std::memory_order_relaxed);
    if (g_state.worker_fence) {
        std::atomic_thread_fence(std::memory_order_seq_cst);
    } else {
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    if (g_state.blocked.load(std::memory_order_acquire) != 0) {
        s.in_io.store(0, std::memory_order_release);
        return false;
    }
    return true;
}

// A worker, when it no longer touches ports' memory.
inline void leave(unsigned slot) {
    g_state.slots[slot].in_io.store(0, std::memory_order_release);
}

// Any thread but a worker: from quiesce() until resume() no worker is
// between enter() and leave(). Nests.
void quiesce();
void resume();

} // namespace sluice::io_guard
