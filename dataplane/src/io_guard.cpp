// SPDX-License-Identifier: Apache-2.0
#include "io_guard.hpp"

#include <cstddef>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sluice::io_guard {

State g_state;

namespace {

std::atomic<bool> g_armed{false};
bool g_membarrier = false;
thread_local bool t_worker = false;

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
