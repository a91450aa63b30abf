// SPDX-License-Identifier: Apache-2.0
#include "link.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <fmt/core.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <optional>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "dpdk.hpp"
#include "sluice/table_needs.hpp"
#include "worker.hpp"

namespace sluice::dp {

namespace {

constexpr unsigned kTickMs = 50;
constexpr unsigned kRetryMs = 200; // between two start attempts
// Between two attempts on a socket file that no server of this network
// namespace is seen listening on (UnixListen::maybe): a server in another
// namespace, or a stale file a dead server left, which costs one failed
// start (and one line of the PMD's) a second instead of five.
constexpr unsigned kMaybeRetryMs = 1000;
// From a start to the link up. The handshake takes milliseconds; a server
// still starting can refuse it ("device disabled"), and the client then
// waits for nothing: start again.
constexpr unsigned kHandshakeMs = 300;
// How often a dataplane whose region lost its name looks for a new one.
constexpr unsigned kRegionLookMs = 1000;
// Port stats every this many ticks (200 ms).
constexpr unsigned kStatsTicks = 4;
// After this long without published tables the dataplane says so.
constexpr unsigned kNoTablesMs = 5000;

// The frames the kernel dropped for a full RX ring, summed over XDP
// sockets (cumulative in the kernel: XDP_STATISTICS is not reset on read).
uint64_t xdp_rx_ring_full(const std::vector<int> &fds) {
    uint64_t full = 0;
    for (const int fd : fds) {
        xdp_statistics st{};
        socklen_t len = sizeof(st);
        if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0 &&
            len >= offsetof(xdp_statistics, rx_ring_full) + sizeof(st.rx_ring_full)) {
            full += st.rx_ring_full;
        }
    }
    return full;
}

} // namespace

LinkSupervisor::LinkSupervisor(Ports &ports, const Region &region, std::string instance,
                               sl_dp_area *dp, const sl_encap_ctx &enc, std::atomic<bool> &stop)
    : ports_(ports), region_(region), instance_(std::move(instance)), dp_(dp), enc_(enc),
      stop_(stop) {
    totals_.resize(ports_.info().size());
    for (const PortInfo &p : ports_.info()) {
        if (p.af_xdp && p.xdp_fds.empty()) {
            say("sluice-dataplane: port '{}': its XDP sockets not found: its rx_missed "
                "counts what the PMD reports, not the kernel's drops for a full RX ring\n",
                p.name);
        }
    }
    update_port_stats();
    const int rc =
        rte_ctrl_thread_create(&thread_, "sluice-link", nullptr, &LinkSupervisor::main, this);
    if (rc != 0) {
        throw DpdkError(fmt::format("cannot start the link supervisor thread: {}",
                                    rte_strerror(rc < 0 ? -rc : rc)));
    }
    running_ = true;
}

LinkSupervisor::~LinkSupervisor() {
    if (running_) {
        quit_.store(true);
        pthread_join(thread_, nullptr);
    }
}

void *LinkSupervisor::main(void *arg) {
    static_cast<LinkSupervisor *>(arg)->run();
    return nullptr;
}

void LinkSupervisor::run() {
    struct State {
        uint64_t started_ms = 0; // of the last successful start
        uint64_t tried_ms = 0;   // of the last start attempt
        bool up = false;         // link seen up since the last start
        unsigned down_reads = 0; // consecutive down reads after having been up
        uint64_t listen_ms = 0;  // since when its server listens (0: not seen listening)
    };
    const std::vector<PortInfo> &info = ports_.info();
    std::vector<State> st(info.size());
    const uint64_t hz = rte_get_tsc_hz();
    auto now_ms = [hz] { return rte_get_tsc_cycles() * 1000 / hz; };
    for (unsigned i = 0; i < info.size(); i++) {
        st[i].started_ms = now_ms();
    }
    started_ms_ = now_ms();
    unsigned tick = 0;
    while (!quit_.load() && !stop_.load(std::memory_order_relaxed)) {
        usleep(kTickMs * 1000);
        if (++tick % kStatsTicks == 0) {
            update_port_stats();
        }
        check_tables(now_ms());
        check_needs();
        if (region_gone(now_ms())) {
            exit_status_.store(kExitRestart);
            stop_.store(true, std::memory_order_relaxed);
            return;
        }
        for (unsigned i = 0; i < info.size(); i++) {
            char name[IF_NAMESIZE];
            // Gone: ENXIO (ENODEV from older C libraries). if_indextoname
            // opens a socket each time: EMFILE, ENOBUFS... say nothing of
            // the interface, and the next tick asks again.
            if (info[i].ifindex != 0 && if_indextoname(info[i].ifindex, name) == nullptr &&
                (errno == ENXIO || errno == ENODEV)) {
                const unsigned now = if_nametoindex(info[i].iface.c_str());
                say("sluice-dataplane: port '{}': interface {} (ifindex {}) is gone{}: the "
                    "port's sockets stay bound to it and receive nothing; exiting with "
                    "status {} for the service manager to restart sluice-dataplane on the "
                    "interface as it is now\n",
                    info[i].name, info[i].iface, info[i].ifindex,
                    now != 0 ? fmt::format(" (a new {} has ifindex {})", info[i].iface, now)
                             : std::string(),
                    kExitRestart);
                exit_status_.store(kExitRestart);
                stop_.store(true, std::memory_order_relaxed);
                return;
            }
            if (!info[i].memif_client) {
                continue;
            }
            State &s = st[i];
            const uint64_t now = now_ms();
            if (!ports_.live()[i].load(std::memory_order_acquire)) {
                // Only once its server listens, or may (a socket file no server of
                // this namespace is seen on): the PMD logs every refused connect.
                if (now - s.tried_ms < kRetryMs) {
                    continue;
                }
                const UnixListen listen = unix_listening(info[i].memif_socket);
                if (listen == UnixListen::no) {
                    s.listen_ms = 0;
                    continue;
                }
                if (listen == UnixListen::maybe && now - s.tried_ms < kMaybeRetryMs) {
                    continue;
                }
                if (s.listen_ms == 0) {
                    s.listen_ms = now;
                }
                if (info[i].memif_zero_copy && now - s.listen_ms < kZeroCopySettleMs) {
                    continue;
                }
                s.tried_ms = now;
                if (ports_.start_port(i) == 0) {
                    s.started_ms = now;
                    s.up = false;
                    s.down_reads = 0;
                }
                continue;
            }
            rte_eth_link link{};
            rte_eth_link_get_nowait(info[i].id, &link);
            if (link.link_status == RTE_ETH_LINK_UP) {
                if (!s.up) {
                    say("sluice-dataplane: port '{}': memif connected\n", info[i].name);
                }
                s.up = true;
                s.down_reads = 0;
                continue;
            }
            // Down. After having been up: the server went away (read twice,
            // so that the PMD's own disconnect has finished). Never up: the
            // handshake did not complete in time.
            const bool lost = s.up && ++s.down_reads >= 2;
            const bool stuck = !s.up && now - s.started_ms >= kHandshakeMs;
            if ((lost || stuck) && info[i].memif_zero_copy) {
                say("sluice-dataplane: port '{}': memif {}; a zero-copy memif client cannot "
                    "connect again in this process (DPDK 22.11): exiting with status {} "
                    "for the service manager to restart sluice-dataplane\n",
                    info[i].name, lost ? "server gone" : "handshake did not complete",
                    kExitRestart);
                exit_status_.store(kExitRestart);
                stop_.store(true, std::memory_order_relaxed);
                return;
            }
            if (lost || stuck) {
                if (lost) {
                    say("sluice-dataplane: port '{}': memif server gone; reconnecting\n",
                        info[i].name);
                }
                ports_.stop_port(i);
                s.up = false;
                s.down_reads = 0;
                s.tried_ms = 0; // start again at the next tick
            }
        }
    }
    update_port_stats(); // the last counts, as the dataplane stops
}

bool LinkSupervisor::region_gone(uint64_t now_ms) {
    if (!region_lost_) {
        if (region_.named()) {
            return false;
        }
        region_lost_ = true;
        region_looked_ms_ = now_ms;
        say("sluice-dataplane: region /dev/shm{} was removed: forwarding on with the "
            "tables of generation {}; waiting for the control daemon to create it again "
            "(a dataplane started now would not find these tables)\n",
            region_.name(), region_.generation());
        return false;
    }
    if (now_ms - region_looked_ms_ < kRegionLookMs) {
        return false;
    }
    region_looked_ms_ = now_ms;
    std::optional<uint64_t> g;
    try {
        g = Region::published_generation(instance_);
    } catch (const std::exception &) {
        return false; // the name was checked at start
    }
    if (!g || *g == 0) {
        return false;
    }
    say("sluice-dataplane: region /dev/shm{} was created again, with generation {}: "
        "exiting with status {} for the service manager to restart sluice-dataplane on "
        "it\n",
        region_.name(), *g, kExitRestart);
    return true;
}

void LinkSupervisor::check_tables(uint64_t now_ms) {
    if (tables_seen_) {
        return;
    }
    const uint64_t g = region_.generation();
    if (g != 0) {
        tables_seen_ = true;
        if (tables_missed_) {
            say("sluice-dataplane: tables of generation {} published: forwarding\n", g);
        }
        return;
    }
    if (!tables_missed_ && now_ms - started_ms_ >= kNoTablesMs) {
        tables_missed_ = true;
        say("sluice-dataplane: nothing published in region /dev/shm{} after {} s: VIP "
            "traffic is dropped (no_table) until sluice-control publishes; is it running, "
            "with [dataplane] instance = \"{}\"?\n",
            region_.name(), kNoTablesMs / 1000, instance_);
    }
}

void LinkSupervisor::check_needs() {
    const uint64_t g = region_.generation();
    if (g == 0 || g == needs_generation_) {
        return;
    }
    const std::vector<std::string> lines = table_needs(*region_.tables(g & 1), enc_);
    // The copy of g is written again only for g + 2, once the workers
    // have left it: read while the generation stayed g, it was whole.
    if (region_.generation() != g) {
        return; // read again on the next tick
    }
    needs_generation_ = g;
    for (const std::string &l : lines) {
        if (std::find(needs_said_.begin(), needs_said_.end(), l) == needs_said_.end()) {
            say("sluice-dataplane: generation {}: {}\n", g, l);
        }
    }
    needs_said_ = lines;
}

void LinkSupervisor::update_port_stats() {
    const std::vector<PortInfo> &info = ports_.info();
    const uint64_t now = mono_ns();
    for (unsigned i = 0; i < info.size() && i < SL_MAX_PORTS; i++) {
        PortTotals &t = totals_[i];
        if (!info[i].xdp_fds.empty()) {
            // The PMD's imissed is the sockets' rx_dropped: add the rest.
            const uint64_t full = xdp_rx_ring_full(info[i].xdp_fds);
            t.kernel_drops += full >= t.xdp_full_last ? full - t.xdp_full_last : full;
            t.xdp_full_last = full;
        }
        rte_eth_stats st{};
        if (rte_eth_stats_get(info[i].id, &st) == 0) {
            const uint64_t v[4] = {st.imissed, st.ierrors, st.rx_nombuf, st.oerrors};
            for (unsigned k = 0; k < 4; k++) {
                t.total[k] += v[k] >= t.last[k] ? v[k] - t.last[k] : v[k];
                t.last[k] = v[k];
            }
        }
        for (const int fd : info[i].packet_fds) {
            // Read and reset by the kernel: the PMD never reads them.
            tpacket_stats_v3 ks{};
            socklen_t len = sizeof(ks);
            if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0) {
                t.kernel_drops += ks.tp_drops;
            }
        }
        sl_port_stats &ps = dp_->port_stats[i];
        __atomic_store_n(&ps.rx_missed, t.total[0] + t.kernel_drops, __ATOMIC_RELAXED);
        __atomic_store_n(&ps.rx_errors, t.total[1], __ATOMIC_RELAXED);
        __atomic_store_n(&ps.rx_nombuf, t.total[2], __ATOMIC_RELAXED);
        __atomic_store_n(&ps.tx_errors, t.total[3], __ATOMIC_RELAXED);
        __atomic_store_n(&ps.updated_ns, now, __ATOMIC_RELEASE);
    }
}

} // namespace sluice::dp
