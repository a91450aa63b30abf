// SPDX-License-Identifier: Apache-2.0
//
// dpdk.hpp: RAII around the DPDK resources of sluice-dataplane: the EAL, the
// mbuf pool and the ports. Every failure throws DpdkError with what was
// being done and what to try; nothing here calls rte_exit.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "options.hpp"

struct rte_mempool;

namespace sluice::dp {

class DpdkError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// rte_eal_init / rte_eal_cleanup. Ports given as vdev specs or PCI addresses
// are added to the EAL arguments (--vdev / -a).
class Eal {
  public:
    // args: the EAL part of the command line (argv[0] first). Returns how
    // many arguments the EAL consumed.
    Eal(std::vector<std::string> args, const Options &opts);
    ~Eal();
    Eal(const Eal &) = delete;
    Eal &operator=(const Eal &) = delete;

  private:
    std::vector<std::string> args_;
    std::vector<char *> argv_;
};

class Mempool {
  public:
    Mempool(const std::string &name, unsigned n, int socket);
    ~Mempool();
    Mempool(const Mempool &) = delete;
    Mempool &operator=(const Mempool &) = delete;
    rte_mempool *get() const { return mp_; }

  private:
    rte_mempool *mp_ = nullptr;
};

struct PortInfo {
    uint16_t id = 0;
    std::string name;
    Mac mac{};
    uint16_t n_rxq = 0;
    uint16_t n_txq = 0;
    bool rss = false;
};

// Looks the ports up by name, configures n queues on each (clamped to what
// the device supports), starts them; stops and closes them when destroyed.
class Ports {
  public:
    Ports(const Options &opts, unsigned want_queues);
    ~Ports();
    Ports(const Ports &) = delete;
    Ports &operator=(const Ports &) = delete;

    // Queues per port actually usable by every port (<= want_queues).
    uint16_t queues() const { return queues_; }
    void start(rte_mempool *mp, const Options &opts);
    void stop() noexcept;
    const std::vector<PortInfo> &info() const { return ports_; }

  private:
    std::vector<PortInfo> ports_;
    uint16_t queues_ = 0;
    bool started_ = false;
};

} // namespace sluice::dp
