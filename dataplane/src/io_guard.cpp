// SPDX-License-Identifier: Apache-2.0
#include "io_guard.hpp"

#include <cerrno>
#include <cstddef>
#include <ctime>
#include <linux/membarrier.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sluice::io_guard {

State g_state;

namespace {

std::atomic<bool> g_armed{false};
bool g_membarrier = false;
thread_local bool t_worker = false; // also read by poll() below

long membarrier(int cmd) {
    return syscall(__NR_membarrier, cmd, 0, 0);
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

} // namespace

void arm() {
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    g_membarrier = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                   membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    g_state.worker_fence = !g_membarrier;
    g_armed.store(true, std::memory_order_seq_cst);
}

void disarm() {
    g_armed.store(false, std::memory_order_seq_cst);
}

void bind_worker() {
    t_worker = true;
}

void unbind_worker() {
    t_worker = false;
}

void quiesce() {
    g_state.blocked.fetch_add(1, std::memory_order_seq_cst);
    // Every worker now either has its in_io store visible here, or sees
    // `blocked` at its next enter().
    if (g_membarrier) {
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    }
    for (Slot &s : g_state.slots) {
        while (s.in_io.load(std::memory_order_acquire) != 0) {
            cpu_relax();
        }
    }
}

void resume() {
    g_state.blocked.fetch_sub(1, std::memory_order_release);
}

} // namespace sluice::io_guard

// The process's munmap (it takes the place of libc's, also for the DPDK
// drivers linked into this binary): from a thread that is no worker while
// the guard is armed, only once no worker is inside a burst.
extern "C" int munmap(void *addr, size_t len) noexcept {
    namespace g = sluice::io_guard;
    if (!g::g_armed.load(std::memory_order_acquire) || g::t_worker) {
        return static_cast<int>(syscall(SYS_munmap, addr, len));
    }
    g::quiesce();
    const int r = static_cast<int>(syscall(SYS_munmap, addr, len));
    g::resume();
    return r;
}

// The process's poll (it takes the place of libc's, as munmap above): a
// worker never waits in it.
// - DPDK 22.11's af_packet PMD calls poll(fd, POLLOUT, -1) inside
//   rte_eth_tx_burst when the next frame of its TX ring is still the
//   kernel's, and then writes that frame without looking at it again. The
//   worker sleeps until the socket is writable, which paces its RX and every
//   other port it serves to one congested link, or stops it for good when
//   the link takes nothing (measured: dataplane-tx-stall). And the kernel
//   says the socket is writable as soon as its send buffer has room, not
//   only when that frame is free, so the PMD can write over a frame the
//   kernel still holds. A worker's poll without a time limit therefore
//   fails at once with EAGAIN: the PMD stops filling its ring, kicks the
//   kernel and returns what it took; the worker frees the rest and counts
//   them as tx_full.
// - The af_xdp PMD polls an empty RX ring for up to 1 s: a worker's poll
//   with a time limit runs with none (the fd's poll method still runs, and
//   with it af_xdp's wakeup of the kernel).
extern "C" int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    if (sluice::io_guard::t_worker) {
        if (timeout < 0) {
            errno = EAGAIN;
            return -1;
        }
        const timespec zero{};
        return ppoll(fds, nfds, &zero, nullptr);
    }
    if (timeout < 0) {
        return ppoll(fds, nfds, nullptr, nullptr);
    }
    const timespec ts{timeout / 1000, static_cast<long>(timeout % 1000) * 1000000L};
    return ppoll(fds, nfds, &ts, nullptr);
}
