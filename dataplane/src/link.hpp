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
//
// Except a zero-copy client (zero-copy=yes), which DPDK 22.11 cannot
// connect twice in one process: on its first connect the PMD closes the
// EAL's own file descriptors of the memory it shares (rte_memseg_get_fd's,
// which the next connect sends to the server, stale, and which the EAL
// itself still uses to grow and shrink its memory), and a disconnect leaks
// the mbufs of its rings (up to two rings' worth, of 8191 in the default
// pool). When such a port's server goes away, or its handshake does not
// complete, the supervisor asks the dataplane to exit with kExitRestart,
// for its service manager to start it again: a new process connects afresh
// and resumes from the shared region.
//
// It also watches the kernel interfaces of af_packet and af_xdp ports. Their
// sockets are bound to an interface by index: once that interface is gone
// (deleted; or a driver reload made a new one of the same name) they receive
// nothing, and DPDK 22.11 cannot rebind them. The supervisor then asks for a
// restart with kExitRestart as well: a new process binds to the interface as
// it is then (or, while there is none, fails to start until there is).
//
// And it watches the shared region's name. Once /dev/shm/sluice-<instance>
// no longer names the object this process mapped (removed by hand, or by
// systemd-logind's RemoveIPC=yes when its user logs out), the dataplane
// forwards on with the last tables, says so once, and looks every second
// for a region under the name with published tables: the control daemon
// creates one as soon as it sees its own region gone. Then it asks for a
// restart with kExitRestart, so that control and dataplane meet again in
// one region. Without that, a dataplane restarted later would create an
// empty region of its own and drop every VIP packet as "no table".
//
// And at each new generation it says what the tables ask of this box that
// it lacks (an address of a backend's family, a gateway MAC, a large enough
// MTU for an IPv6 VIP: sluice/table_needs.hpp), once per service and need.
//
// And about every 200 ms it stores each port's own counters in the region
// (sl_port_stats: rx_missed, rx_errors, rx_nombuf, tx_errors), what was
// lost where sluice's counters cannot see it: the driver's rte_eth_stats,
// and the kernel's drops that DPDK 22.11's PMDs do not report: for
// net_af_packet ports those in the PMD's RX rings (PACKET_STATISTICS of its
// sockets; the PMD reports imissed 0), for net_af_xdp ports those for a
// full RX ring (XDP_STATISTICS of its sockets, PortInfo::xdp_fds; the
// PMD's imissed is their rx_dropped only).
#pragma once

#include <atomic>
#include <cstdint>
#include <pthread.h>
#include <string>
#include <vector>

#include "sluice/region_map.hpp"
#include "sluice/rewrite.h"

namespace sluice::dp {

class Ports;

// The exit status that asks the service manager for a restart (sysexits.h's
// EX_TEMPFAIL: "try again later").
constexpr int kExitRestart = 75;

class LinkSupervisor {
  public:
    // Watches `region` (the instance's) and the ports; stops when `stop` is
    // set, or when destroyed. Sets `stop` itself when the dataplane must
    // restart (exit_status() is then kExitRestart).
    // `dp`: the region's dataplane area, where it stores the port stats.
    // `enc`: the box (addresses, gateway MAC, MTU), to say what published
    // tables ask of it that it lacks (sluice/table_needs.hpp).
    LinkSupervisor(Ports &ports, const Region &region, std::string instance, sl_dp_area *dp,
                   const sl_encap_ctx &enc, std::atomic<bool> &stop);
    ~LinkSupervisor();
    LinkSupervisor(const LinkSupervisor &) = delete;
    LinkSupervisor &operator=(const LinkSupervisor &) = delete;

    // 0, or kExitRestart once the supervisor asked the dataplane to exit.
    int exit_status() const { return exit_status_.load(); }

  private:
    static void *main(void *arg);
    void run();

    // One tick's look at the region's name; true when the dataplane must
    // restart.
    bool region_gone(uint64_t now_ms);
    // Reads every port's counters and stores their running totals.
    void update_port_stats();
    // Says once when nothing is published kNoTablesMs after the start (VIP
    // traffic is dropped as no_table: is sluice-control running on this
    // instance?), and once when tables then appear.
    void check_tables(uint64_t now_ms);
    // At each new generation: says once what its services need that this
    // box lacks (table_needs), each need until a generation no longer has it.
    void check_needs();

    Ports &ports_;
    const Region &region_;
    std::string instance_;
    sl_dp_area *dp_;
    sl_encap_ctx enc_;
    std::atomic<bool> &stop_;
    // Per port: the driver's last values (rx_missed, rx_errors, rx_nombuf,
    // tx_errors) and the totals made of them (a driver that resets its
    // counters, as a memif port restarted may, does not make them fall);
    // the kernel's drops the driver does not count (read from the sockets
    // in PortInfo::packet_fds / xdp_fds); af_xdp: the last sum of its
    // sockets' rx_ring_full.
    struct PortTotals {
        uint64_t last[4] = {};
        uint64_t total[4] = {};
        uint64_t kernel_drops = 0;
        uint64_t xdp_full_last = 0;
    };
    std::vector<PortTotals> totals_;
    uint64_t started_ms_ = 0;
    bool tables_seen_ = false;
    bool tables_missed_ = false;          // said that nothing was published
    bool region_lost_ = false;            // the name no longer refers to our region
    uint64_t needs_generation_ = 0;       // the generation check_needs read last
    std::vector<std::string> needs_said_; // its lines, said
    uint64_t region_looked_ms_ = 0;
    std::atomic<int> exit_status_{0};
    std::atomic<bool> quit_{false};
    pthread_t thread_{};
    bool running_ = false;
};

} // namespace sluice::dp
