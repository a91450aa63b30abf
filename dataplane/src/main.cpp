// SPDX-License-Identifier: Apache-2.0
//
// sluice-dataplane [EAL options] -- [sluice options]
//
// Sets up the EAL and the ports, maps the shared region of its instance,
// starts one worker per lcore (the main lcore included), runs until
// SIGINT/SIGTERM, then stops RX, flushes TX, stops and closes the ports and
// exits 0. Exit 2: a usage error (options, config file), 1: a setup error,
// 75: a restart is needed (a zero-copy memif client lost its server:
// link.hpp).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fmt/core.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>
#include <optional>
#include <vector>

#include "dpdk.hpp"
#include "io_guard.hpp"
#include "link.hpp"
#include "options.hpp"
#include "sluice/region_map.hpp"
#include "telemetry.hpp"
#include "worker.hpp"

namespace {

std::atomic<bool> g_stop{false};

// The mbufs that can be out of the pool at once: every RX ring full and every
// TX ring full, an RX burst and a TX buffer in flight per port and worker,
// and per worker the pool's per-lcore cache (256, dpdk.cpp) and a burst being
// answered. A smaller pool runs dry: RX rings left unfilled, packets dropped
// as rx_nombuf with no packet in sight (DPDK itself takes no pool of fewer
// than 384, 1.5 times the cache).
unsigned mbufs_needed(const sluice::dp::Options &o, unsigned n_ports, unsigned n_workers) {
    using sluice::dp::kBurst;
    return n_ports * n_workers * (o.rx_desc + o.tx_desc + 2 * kBurst) + n_workers * (256 + kBurst);
}

extern "C" void on_signal(int) {
    g_stop.store(true, std::memory_order_relaxed);
}

int run(int argc, char **argv) {
    using namespace sluice::dp;
    // EAL arguments before "--", ours after it.
    std::vector<std::string> eal_args{argv[0]};
    std::vector<char *> app_argv{argv[0]};
    int i = 1;
    for (; i < argc && std::strcmp(argv[i], "--") != 0; i++) {
        eal_args.emplace_back(argv[i]);
    }
    const bool separated = i < argc;
    for (i++; i < argc; i++) {
        app_argv.push_back(argv[i]);
    }
    if (app_argv.size() == 1 && eal_args.size() > 1 &&
        (eal_args[1] == "--help" || eal_args[1] == "-h")) {
        app_argv.push_back(argv[1]);
        eal_args.resize(1);
    } else if (!separated) {
        // Without "--" every argument would go to the EAL, which refuses
        // --port and the like with its whole usage text.
        throw OptionError("no '--' on the command line: sluice's options (--port ...) come after "
                          "it, the EAL's before it: sluice-dataplane [EAL options] -- --port SPEC");
    }
    const std::optional<Options> parsed =
        parse_options(static_cast<int>(app_argv.size()), app_argv.data());
    if (!parsed) {
        return 0;
    }
    const Options &opts = *parsed;
    // A usage error as far as it shows before the EAL runs: one worker
    // needs this many, more workers more (checked once they are known).
    const auto n_given_ports = static_cast<unsigned>(opts.ports.size());
    if (opts.mbufs != 0 && opts.mbufs < mbufs_needed(opts, n_given_ports, 1)) {
        throw OptionError(fmt::format(
            "--mbufs {} is too few: {} port(s) with --rx-desc {} and --tx-desc {} need at least {} "
            "with one worker (full RX and TX rings, bursts in flight, the pool's per-lcore "
            "cache), more with more workers; give --mbufs {} or more, or leave it out (sized "
            "from ports, queues and descriptors)",
            opts.mbufs, n_given_ports, opts.rx_desc, opts.tx_desc,
            mbufs_needed(opts, n_given_ports, 1), mbufs_needed(opts, n_given_ports, 1)));
    }
    const uint64_t t_start = mono_ns();
    auto step = [&](const char *what) {
        if (opts.verbose) {
            const uint64_t now = mono_ns();
            say("sluice-dataplane: {} (+{} ms, monotonic {} ms)\n", what, (now - t_start) / 1000000,
                now / 1000000);
        }
    };

    // The region is mapped once the ports run: a setup error (no such port,
    // no hugepages, too many lcores) creates no /dev/shm/sluice-<instance>.
    // Declared before the EAL, so that it outlives rte_eal_cleanup; the
    // telemetry thread outlives both, and stops reading it before it is
    // unmapped (telemetry_unregister, at the end of `telemetry`'s scope).
    std::optional<sluice::Region> region;
    const TelemetryRegistration telemetry;
    // One dataplane per instance: a second one would share the first's
    // worker slots, counters and quiescent states in the region. Checked
    // before the EAL and the ports (it must not take the first one's memif
    // connection either), and for good when the region is mapped.
    auto another = [&](std::optional<pid_t> pid) {
        return DpdkError(fmt::format(
            "another sluice-dataplane{} runs on instance '{}': stop it first, or give this one "
            "another --instance",
            pid && *pid > 0 ? fmt::format(" (pid {})", *pid) : "", opts.instance));
    };
    if (const auto pid = sluice::Region::writer(opts.instance, sluice::Region::Role::Dataplane)) {
        throw another(pid);
    }

    // From here on SIGINT and SIGTERM stop the dataplane the clean way, also
    // while it starts (a large hugepage set-up takes seconds): killed there,
    // it left its runtime directory and hugepage files behind.
    // SA_RESTART: the EAL's and the drivers' set-up calls are not cut short
    // by it (sleeps and polls still are, which is what waits for it).
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    Eal eal(eal_args, opts);
    step("EAL initialised");

    std::vector<unsigned> lcores;
    unsigned lc = 0;
    RTE_LCORE_FOREACH(lc) {
        lcores.push_back(lc);
    }
    if (lcores.empty()) {
        throw DpdkError("no lcore: give the EAL at least one (-l 1)");
    }
    if (lcores.size() > SL_MAX_WORKERS) {
        throw DpdkError(fmt::format("{} lcores given; sluice runs at most {} workers: give at "
                                    "most {} lcores (-l / --lcores)",
                                    lcores.size(), SL_MAX_WORKERS, SL_MAX_WORKERS));
    }
    // The pool outlives the ports (destroyed in reverse order): closing a
    // port returns the mbufs of its queues to the pool.
    std::optional<Mempool> pool;
    Ports ports(opts, static_cast<unsigned>(lcores.size()));
    const unsigned n_workers = ports.queues();
    if (n_workers < lcores.size()) {
        say("sluice-dataplane: {} lcore(s) left idle (ports have {} queue(s))\n",
            lcores.size() - n_workers, n_workers);
        lcores.resize(n_workers);
    }
    const unsigned n_ports = static_cast<unsigned>(ports.info().size());
    const unsigned needed = mbufs_needed(opts, n_ports, n_workers);
    unsigned mbufs = opts.mbufs;
    if (mbufs == 0) {
        mbufs = std::max(needed + 4096, 8191u);
    } else if (mbufs < needed) {
        throw DpdkError(fmt::format(
            "--mbufs {} is too few for {} port(s) and {} worker(s) with --rx-desc {} and "
            "--tx-desc {}: full RX and TX rings, bursts in flight and the pool's per-lcore "
            "caches take up to {}; give --mbufs {} or more, or leave it out (then {})",
            mbufs, n_ports, n_workers, opts.rx_desc, opts.tx_desc, needed, needed,
            std::max(needed + 4096, 8191u)));
    }
    // Each mbuf holds a whole frame of the MTU, after the headroom that
    // encapsulation writes into.
    const uint32_t frame_room = ports.frame_room(opts.mtu);
    if (RTE_PKTMBUF_HEADROOM + frame_room > UINT16_MAX) {
        throw DpdkError(fmt::format("mbufs of {} bytes are more than DPDK takes (65535): give "
                                    "the ports smaller frames (af_packet: framesz)",
                                    RTE_PKTMBUF_HEADROOM + frame_room));
    }
    pool.emplace("sluice_mbufs", mbufs, static_cast<int>(rte_socket_id()),
                 static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + frame_room));
    step("mbuf pool created");
    ports.start(pool->get(), opts);
    step("ports started");

    region.emplace(sluice::Region::open(opts.instance, sluice::Region::Role::Dataplane));
    if (!region->try_lock_writer()) {
        throw another(sluice::Region::writer(opts.instance, sluice::Region::Role::Dataplane));
    }
    sl_dp_area *dp = region->dp_rw();
    step("region mapped");

    Box box;
    sl_encap_ctx_defaults(&box.enc);
    const Mac mac = opts.mac ? *opts.mac : ports.info()[0].mac;
    std::memcpy(box.enc.box_mac, mac.data(), 6);
    if (opts.gateway_mac) {
        std::memcpy(box.enc.gw_mac, opts.gateway_mac->data(), 6);
    }
    if (opts.ipv4) {
        std::memcpy(&box.enc.box_ip4, opts.ipv4->data(), 4);
        box.has_ipv4 = true;
    }
    if (opts.ipv6) {
        std::memcpy(box.enc.box_ip6, opts.ipv6->data(), 16);
        box.has_ipv6 = true;
    }
    box.enc.mtu = opts.mtu;
    box.enc.gue_dport = sl_htons(opts.gue_port);

    // The dataplane area: counters start from zero in every incarnation.
    dp->magic = 0;
    dp->abi_version = SL_REGION_ABI_VERSION;
    dp->pid = getpid();
    dp->n_ports = n_ports;
    std::memset(dp->port_stats, 0, sizeof(dp->port_stats));
    for (unsigned p = 0; p < n_ports; p++) {
        const std::string &name = ports.info()[p].name;
        std::memcpy(dp->port_stats[p].name, name.data(),
                    std::min(name.size(), sizeof(dp->port_stats[p].name) - 1));
    }
    dp->start_ns = mono_ns();
    dp->kind = 'd';
    for (unsigned w = 0; w < SL_MAX_WORKERS; w++) {
        if (w >= n_workers) {
            __atomic_store_n(&dp->workers[w].run, static_cast<uint32_t>(SL_WORKER_FREE),
                             __ATOMIC_RELEASE);
        }
        std::memset(&dp->counters[w], 0, sizeof(dp->counters[w]));
    }
    __atomic_store_n(&dp->n_workers, n_workers, __ATOMIC_RELEASE);
    __atomic_store_n(&dp->magic, SL_DP_MAGIC, __ATOMIC_RELEASE);

    if (!telemetry_register(region->header(), region->dp(), n_ports)) {
        say("sluice-dataplane: telemetry commands not registered\n");
    }

    // af_packet: one packet socket per queue, queue q's the q-th lowest
    // (worker.hpp, kick_fd). Any other count and the worker cannot tell
    // its own: it then asks nothing of the kernel between bursts.
    for (const PortInfo &p : ports.info()) {
        if (p.af_packet && p.packet_fds.size() != n_workers) {
            say("sluice-dataplane: port '{}': {} packet socket(s) bound to {} for {} "
                "queue(s): frames its TX rings hold when the traffic stops wait for the "
                "next burst\n",
                p.name, p.packet_fds.size(), p.iface, n_workers);
        }
    }
    std::vector<WorkerCtx> ctx(n_workers);
    const uint64_t drain_tsc = (rte_get_tsc_hz() + 999999) / 1000000 * opts.drain_us;
    for (unsigned w = 0; w < n_workers; w++) {
        WorkerCtx &c = ctx[w];
        c.index = w;
        c.lcore = lcores[w];
        c.queue = static_cast<uint16_t>(w);
        c.n_ports = n_ports;
        for (unsigned p = 0; p < n_ports; p++) {
            c.port_id[p] = ports.info()[p].id;
            c.out_of[p] = static_cast<uint8_t>(opts.two_armed ? 1 - p : p);
            const std::vector<int> &fds = ports.info()[p].packet_fds;
            c.kick_fd[p] = fds.size() == n_workers ? fds[w] : -1;
        }
        c.drain_tsc = drain_tsc;
        c.hdr = region->header();
        c.base = region->base();
        c.ws = &dp->workers[w];
        c.c = &dp->counters[w];
        c.box = &box;
        c.live = ports.live();
        c.stop = &g_stop;
        worker_prepare(c);
    }

    if (!opts.gateway_mac) {
        // The next hop of encapsulated packets: without it the packet core
        // drops them rather than send them to 00:00:00:00:00:00. sluice-control
        // refuses ipip/gue services without gateway_mac in its file, but this
        // dataplane may run with options of its own: said once, at start.
        say("sluice-dataplane: no gateway MAC (--gateway-mac, or gateway_mac in the config "
            "file): ipip and gue traffic will be dropped as encap_failed\n");
    }
    say("sluice-dataplane: instance '{}', {} port(s) ({}), {} worker(s), MAC {}, "
        "generation {}\n",
        opts.instance, n_ports, opts.two_armed ? "two-armed" : "one-armed", n_workers,
        format_mac(mac), region->generation());

    sluice::io_guard::arm();
    std::optional<LinkSupervisor> links;
    links.emplace(ports, *region, opts.instance, dp, box.enc, g_stop);
    step("workers starting");
    const unsigned main_lcore = rte_get_main_lcore();
    int status = 0;
    for (unsigned w = 0; w < n_workers; w++) {
        if (ctx[w].lcore != main_lcore) {
            if (rte_eal_remote_launch(worker_main, &ctx[w], ctx[w].lcore) != 0) {
                say("sluice-dataplane: cannot launch worker on lcore {}\n", ctx[w].lcore);
                g_stop = true;
                status = 1;
            }
        }
    }
    for (unsigned w = 0; w < n_workers && status == 0; w++) {
        if (ctx[w].lcore == main_lcore) {
            worker_main(&ctx[w]);
        }
    }
    // Main lcore not among the workers: wait here for the signal.
    while (!g_stop.load(std::memory_order_relaxed)) {
        usleep(10000);
    }
    rte_eal_mp_wait_lcore();
    if (status == 0) {
        status = links->exit_status();
    }
    links.reset();
    ports.stop();
    sluice::io_guard::disarm();
    for (WorkerCtx &c : ctx) {
        worker_release(c);
    }
    say("sluice-dataplane: stopped\n");
    return status;
}

} // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const sluice::dp::OptionError &e) {
        sluice::dp::say("sluice-dataplane: {}\n(see sluice-dataplane -- --help)\n", e.what());
        return 2;
    } catch (const std::exception &e) {
        sluice::dp::say("sluice-dataplane: {}\n", e.what());
        return 1;
    }
}
