// SPDX-License-Identifier: Apache-2.0
//
// link.hpp: the link supervisor, a control thread (off the worker lcores)
// that keeps memif client ports connected. DPDK 22.11's memif client
// connects only in rte_eth_dev_start and never again: a dataplane started
// before its memif server, or whose server restarts, would wait forever.
// Every 50 ms the supervisor starts a memif client port that is not live
// (which connects), and stops one whose server went away (the link is down
// on two reads in a row, or did not come up within 300 ms of a start),
// to start it again. Other ports are left alone. Transitions are written to
// stderr, one line each.
#pragma once

#include <atomic>
#include <pthread.h>

namespace sluice::dp {

class Ports;

class LinkSupervisor {
  public:
    // Runs only if a port is a memif client; stops when `stop` is set, or
    // when destroyed.
    LinkSupervisor(Ports &ports, const std::atomic<bool> &stop);
    ~LinkSupervisor();
    LinkSupervisor(const LinkSupervisor &) = delete;
    LinkSupervisor &operator=(const LinkSupervisor &) = delete;

  private:
    static void *main(void *arg);
    void run();

    Ports &ports_;
    const std::atomic<bool> &stop_;
    std::atomic<bool> quit_{false};
    pthread_t thread_{};
    bool running_ = false;
};

} // namespace sluice::dp
