// SPDX-License-Identifier: Apache-2.0
//
// dpdk.hpp: RAII around the DPDK resources of sluice-dataplane: the EAL, the
// mbuf pool and the ports. Every failure throws DpdkError with what was
// being done and what to try; nothing here calls rte_exit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fmt/format.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"

struct rte_mempool;

namespace sluice::dp {

// A line for the operator on stderr that never throws. fmt::print throws
// when the write falls short (stderr on a full disk, a closed pipe): in the
// link supervisor's thread that ended the process with SIGABRT, and on the
// way out it turned a clean stop into one.
template <typename... Args> void say(fmt::format_string<Args...> f, Args &&...args) noexcept {
    try {
        const std::string s = fmt::format(f, std::forward<Args>(args)...);
        (void)std::fwrite(s.data(), 1, s.size(), stderr);
    } catch (...) {
    }
}

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
    // DPDK 22.11 leaves its runtime directory (/var/run/dpdk/<file-prefix>)
    // behind, after a failed rte_eal_init too. One that this process
    // created is removed, with the EAL's files in it, when the EAL goes.
    void remove_runtime_dir() noexcept;

    std::vector<std::string> args_;
    std::vector<char *> argv_;
    std::string created_dir_;    // the runtime directory, when this process created it
    std::string created_parent_; // <base>/dpdk, when this process created it
};

// Does a server listen on the Unix socket `name` (a path, or "@name" for an
// abstract one)? /proc/net/unix lists the listening sockets of this
// process's network namespace only, each under the path its server bound,
// byte for byte: a server in another namespace (a VPP in a container) is
// not listed, nor one that bound /run/x.sock when asked for
// /var/run/x.sock, though connect() reaches both. So: yes when listed
// under the name or its resolved path; for a path not listed, maybe when
// it is a socket file (a server elsewhere, or a stale file a dead server
// left); no otherwise, and for an abstract name not listed.
enum class UnixListen { no, maybe, yes };
UnixListen unix_listening(const std::string &name);

// How long ago the socket file `path` was made (its ctime: bind() creates
// it), in ms; nothing for an abstract name ("@...") or no such file.
std::optional<uint64_t> socket_file_age_ms(const std::string &path);

// A zero-copy memif client connects only once per process (link.hpp): it
// gives a new server's socket this long to settle before it tries (a server
// still starting refuses the handshake, which costs a restart).
constexpr unsigned kZeroCopySettleMs = 250;

// This process's sockets of `domain` (AF_PACKET, AF_XDP), in ascending
// order: the PMDs' own, which they do not hand out (/proc/self/fd).
std::vector<int> process_sockets(int domain);

// The packet sockets bound to interface `ifindex`, in ascending order: a
// net_af_packet port's, one per queue pair, opened by the PMD in queue
// order at probe (so the lowest is queue 0's).
std::vector<int> packet_sockets(unsigned ifindex);

class Mempool {
  public:
    // n mbufs of data_room bytes (headroom included) each.
    Mempool(const std::string &name, unsigned n, int socket, uint16_t data_room);
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
    bool memif_client = false; // connects to a memif server: may start before it, and outlive it
    std::string memif_socket;  // its server's socket as /proc/net/unix shows it ("@name": abstract)
    bool memif_zero_copy = false; // a memif client with zero-copy=yes: connects once (link.hpp)
    uint32_t min_data_room = 0;   // the bytes an mbuf must hold for its PMD (af_packet: framesz)
    bool pci = false;             // a PCI device (a NIC), not a vdev
    bool af_packet = false;       // net_af_packet: the kernel's fanout spreads flows, not RSS
    uint16_t max_queues = 0;      // the queue pairs the device offers (af_packet: qpairs)
    bool af_xdp = false;          // net_af_xdp
    unsigned xdp_start_queue = 0; // af_xdp: the first RX queue it reads (start_queue=)
    // af_packet and af_xdp: the kernel interface their sockets are bound to
    // (iface=), and its ifindex when the port was created.
    std::string iface;
    unsigned ifindex = 0;
    // af_packet: the PMD's packet sockets, queue q's at [q] (packet_sockets)
    std::vector<int> packet_fds;
    // af_xdp: the PMD's XDP sockets, those that appeared while the port was
    // set up and started (XDP sockets name no interface: no getsockname)
    std::vector<int> xdp_fds;
};

// Looks the ports up by name, configures n queues on each (clamped to what
// the device supports), starts them; stops and closes them when destroyed.
// A port is live while it is started: workers touch live ports only. Every
// port but a memif client is live from start() on; a memif client becomes
// live when it reaches its server, and the link supervisor (link.hpp) takes
// it down and up again as its server comes and goes.
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
    // The mbuf data room (headroom not included) for frames of an IP MTU:
    // a whole frame in one mbuf (the workers drop chained ones), behind
    // Ethernet and two VLAN tags, and what every port's PMD asks for.
    uint32_t frame_room(uint32_t mtu) const;
    const std::atomic<bool> *live() const { return live_.data(); }

    // For the link supervisor: start port i (0: started, live), or stop it
    // (not live first; workers are quiesced around the stop).
    int start_port(unsigned i);
    void stop_port(unsigned i) noexcept;

  private:
    std::vector<PortInfo> ports_;
    std::array<std::atomic<bool>, kMaxDpPorts> live_{};
    uint16_t queues_ = 0;
    bool started_ = false;
};

} // namespace sluice::dp
