// SPDX-License-Identifier: Apache-2.0
//
// sluice-dp-region (test helper, not product): the control side of the
// shared region for the dataplane tests, until and besides sluice-control.
//
//   publish  --instance I --spec A.json [--spec B.json --count N --interval-us U]
//            [--hold] [--raw | --raw-b]
//       publishes A; with B, publishes A and B alternately until N publishes
//       are done; with --hold, stays alive afterwards (until SIGTERM); with
//       --raw, every table raw (region.h), not packed as sluice-control
//       writes them; with --raw-b, B's tables raw and A's packed (every
//       swap changes the tables' form).
//   counters --instance I      prints the dataplane area as JSON (totals, and per
//                              worker its state and rx/tx packets)
//   wait-rx  --instance I --packets N [--timeout-ms T]
//       waits until the workers together received N packets (exit 0), or
//       times out (exit 1)
//   wait-worker --instance I [--timeout-ms T] [--after-ns NS]
//       waits until a worker is running with a heartbeat newer than NS
//   unlink   --instance I
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fmt/core.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "sluice/region_map.hpp"
#include "spec.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) {
    g_stop = 1;
}

uint64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

struct Args {
    std::string cmd;
    std::string instance = "default";
    std::vector<std::string> specs;
    uint64_t count = 1;
    uint64_t interval_us = 0;
    uint64_t packets = 0;
    uint64_t timeout_ms = 10000;
    uint64_t after_ns = 0;
    bool hold = false;
    bool raw = false;
    bool raw_b = false;
};

Args parse(int argc, char **argv) {
    Args a;
    if (argc < 2) {
        throw std::runtime_error("usage: sluice-dp-region publish|counters|wait-rx|"
                                 "wait-worker|unlink --instance I ...");
    }
    a.cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const std::string k = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw std::runtime_error(k + " needs a value");
            }
            return argv[++i];
        };
        if (k == "--instance") {
            a.instance = next();
        } else if (k == "--spec") {
            a.specs.push_back(next());
        } else if (k == "--count") {
            a.count = std::stoull(next());
        } else if (k == "--interval-us") {
            a.interval_us = std::stoull(next());
        } else if (k == "--packets") {
            a.packets = std::stoull(next());
        } else if (k == "--timeout-ms") {
            a.timeout_ms = std::stoull(next());
        } else if (k == "--after-ns") {
            a.after_ns = std::stoull(next());
        } else if (k == "--hold") {
            a.hold = true;
        } else if (k == "--raw") {
            a.raw = true; // every table raw (region.h), not packed as control writes them
        } else if (k == "--raw-b") {
            a.raw_b = true; // the second spec's tables raw, the first's packed
        } else {
            throw std::runtime_error("unknown option " + k);
        }
    }
    return a;
}

uint64_t rd(const uint64_t &v) {
    return __atomic_load_n(&v, __ATOMIC_RELAXED);
}

int publish(const Args &a) {
    if (a.specs.empty()) {
        throw std::runtime_error("publish: --spec needed");
    }
    std::vector<sluice::test::Spec> specs;
    for (const std::string &p : a.specs) {
        specs.push_back(sluice::test::load_spec(p));
    }
    sluice::Region region = sluice::Region::open(a.instance, sluice::Region::Role::Control);
    sluice::Publisher pub(region);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    const uint64_t n = specs.size() == 1 ? 1 : a.count;
    uint64_t g = region.generation();
    for (uint64_t i = 0; i < n && !g_stop; i++) {
        sl_tables *t = pub.begin(std::chrono::milliseconds(5000));
        const bool raw = a.raw || (a.raw_b && i % specs.size() == 1);
        sluice::test::fill_tables(specs[i % specs.size()], t, g + 1, !raw);
        g = pub.commit();
        if (a.interval_us != 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(a.interval_us));
        }
    }
    fmt::print("published generation {}\n", g);
    if (a.raw || a.raw_b) {
        // what the dataplane reads: service 0's form in each copy (region.h)
        fmt::print("service 0's entry_bits: copy 0 {}, copy 1 {}\n",
                   region.tables(0)->services[0].entry_bits,
                   region.tables(1)->services[0].entry_bits);
    }
    const int huge = pub.huge_pages_errno();
    fmt::print("tables on huge pages: {}\n",
               huge == 0 ? std::string("yes") : "no (" + std::string(std::strerror(huge)) + ")");
    fmt::print("this kernel can put them there: {}\n",
               sluice::shmem_huge_pages_possible() ? "yes" : "no");
    std::fflush(stdout);
    while (a.hold && !g_stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
}

int counters(const Args &a) {
    sluice::Region region = sluice::Region::open(a.instance, sluice::Region::Role::Observer);
    const sl_dp_area *dp = region.dp();
    const unsigned nw = std::min<unsigned>(dp->n_workers, SL_MAX_WORKERS);
    const unsigned np = std::min<unsigned>(dp->n_ports, SL_MAX_PORTS);
    std::string out = fmt::format("{{\"generation\": {}, \"n_workers\": {}, \"n_ports\": {}, "
                                  "\"pid\": {}, \"drops\": {{",
                                  region.generation(), nw, np, dp->pid);
    for (unsigned r = 0; r < SL_DROP_COUNT; r++) {
        uint64_t v = 0;
        for (unsigned w = 0; w < nw; w++) {
            v += rd(dp->counters[w].drops[r]);
        }
        out += fmt::format("{}\"{}\": {}", r ? ", " : "", sl_drop_name(r), v);
    }
    uint64_t arp = 0;
    uint64_t nd = 0;
    uint64_t echo = 0;
    uint64_t tb = 0;
    for (unsigned w = 0; w < nw; w++) {
        arp += rd(dp->counters[w].arp_replies);
        nd += rd(dp->counters[w].nd_replies);
        echo += rd(dp->counters[w].echo_replies);
        tb += rd(dp->counters[w].icmp_too_big_sent);
    }
    out += fmt::format("}}, \"arp_replies\": {}, \"nd_replies\": {}, \"echo_replies\": {}, "
                       "\"icmp_too_big_sent\": {}, \"ports\": [",
                       arp, nd, echo, tb);
    for (unsigned p = 0; p < np; p++) {
        uint64_t v[4] = {};
        for (unsigned w = 0; w < nw; w++) {
            const sl_port_counters &pc = dp->counters[w].ports[p];
            v[0] += rd(pc.rx.packets);
            v[1] += rd(pc.rx.bytes);
            v[2] += rd(pc.tx.packets);
            v[3] += rd(pc.tx.bytes);
        }
        const sl_port_stats &ps = dp->port_stats[p];
        out += fmt::format("{}{{\"rx_packets\": {}, \"rx_bytes\": {}, \"tx_packets\": {}, "
                           "\"tx_bytes\": {}, \"name\": \"{}\", \"rx_missed\": {}, "
                           "\"rx_errors\": {}, \"rx_nombuf\": {}, \"tx_errors\": {}, "
                           "\"stats_updated_ns\": {}}}",
                           p ? ", " : "", v[0], v[1], v[2], v[3], sluice::port_name(ps),
                           rd(ps.rx_missed), rd(ps.rx_errors), rd(ps.rx_nombuf), rd(ps.tx_errors),
                           rd(ps.updated_ns));
    }
    out += "], \"services\": {";
    bool first = true;
    for (unsigned s = 0; s < SL_MAX_SERVICES; s++) {
        uint64_t v = 0;
        for (unsigned w = 0; w < nw; w++) {
            v += rd(dp->counters[w].services[s].packets);
        }
        if (v != 0) {
            out += fmt::format("{}\"{}\": {}", first ? "" : ", ", s, v);
            first = false;
        }
    }
    out += "}, \"backends\": {";
    first = true;
    for (unsigned b = 0; b < SL_MAX_BACKENDS; b++) {
        uint64_t v = 0;
        for (unsigned w = 0; w < nw; w++) {
            v += rd(dp->counters[w].backends[b].packets);
        }
        if (v != 0) {
            out += fmt::format("{}\"{}\": {}", first ? "" : ", ", b, v);
            first = false;
        }
    }
    out += "}, \"workers\": [";
    for (unsigned w = 0; w < nw; w++) {
        const sl_worker_state &ws = dp->workers[w];
        // The worker's own queue on every port: what its RX queue received.
        uint64_t rx = 0;
        uint64_t tx = 0;
        for (unsigned p = 0; p < np; p++) {
            rx += rd(dp->counters[w].ports[p].rx.packets);
            tx += rd(dp->counters[w].ports[p].tx.packets);
        }
        out += fmt::format("{}{{\"pid\": {}, \"lcore\": {}, \"run\": {}, "
                           "\"observed_generation\": {}, \"heartbeat_ns\": {}, \"loop_tsc\": {}, "
                           "\"busy_tsc\": {}, \"tsc_hz\": {}, \"rx_packets\": {}, "
                           "\"tx_packets\": {}}}",
                           w ? ", " : "", ws.pid, ws.lcore, ws.run, rd(ws.observed_generation),
                           rd(ws.heartbeat_ns), rd(ws.loop_tsc), rd(ws.busy_tsc), rd(ws.tsc_hz), rx,
                           tx);
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

int wait_rx(const Args &a) {
    const uint64_t deadline = mono_ns() + a.timeout_ms * 1000000ULL;
    uint64_t rx = 0;
    while (mono_ns() < deadline) {
        try {
            sluice::Region region =
                sluice::Region::open(a.instance, sluice::Region::Role::Observer);
            const sl_dp_area *dp = region.dp();
            if (__atomic_load_n(&dp->magic, __ATOMIC_ACQUIRE) == SL_DP_MAGIC) {
                const unsigned nw = std::min<unsigned>(dp->n_workers, SL_MAX_WORKERS);
                rx = 0;
                for (unsigned w = 0; w < nw; w++) {
                    for (unsigned p = 0; p < SL_MAX_PORTS; p++) {
                        rx += rd(dp->counters[w].ports[p].rx.packets);
                    }
                }
                if (rx >= a.packets) {
                    return 0;
                }
            }
        } catch (const sluice::SysError &) {
            // not created yet
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    fmt::print(stderr, "wait-rx: {} of {} packets received before the timeout\n", rx, a.packets);
    return 1;
}

int wait_worker(const Args &a) {
    const uint64_t deadline = mono_ns() + a.timeout_ms * 1000000ULL;
    while (mono_ns() < deadline) {
        try {
            sluice::Region region =
                sluice::Region::open(a.instance, sluice::Region::Role::Observer);
            const sl_dp_area *dp = region.dp();
            const unsigned nw = std::min<unsigned>(dp->n_workers, SL_MAX_WORKERS);
            for (unsigned w = 0; w < nw; w++) {
                const sl_worker_state &ws = dp->workers[w];
                if (__atomic_load_n(&ws.run, __ATOMIC_ACQUIRE) == SL_WORKER_RUNNING &&
                    sluice::worker_alive(ws) && rd(ws.heartbeat_ns) > a.after_ns) {
                    return 0;
                }
            }
        } catch (const sluice::SysError &) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    fmt::print(stderr, "wait-worker: no running worker before the timeout\n");
    return 1;
}

} // namespace

int main(int argc, char **argv) {
    try {
        const Args a = parse(argc, argv);
        if (a.cmd == "publish") {
            return publish(a);
        }
        if (a.cmd == "counters") {
            return counters(a);
        }
        if (a.cmd == "wait-rx") {
            return wait_rx(a);
        }
        if (a.cmd == "wait-worker") {
            return wait_worker(a);
        }
        if (a.cmd == "now") {
            fmt::print("{}\n", mono_ns());
            return 0;
        }
        if (a.cmd == "unlink") {
            sluice::Region::unlink(a.instance);
            return 0;
        }
        throw std::runtime_error("unknown command " + a.cmd);
    } catch (const std::exception &e) {
        fmt::print(stderr, "sluice-dp-region: {}\n", e.what());
        return 1;
    }
}
