// sluice-bench-maglev: how long building a Maglev table takes, for the table
// sizes and backend counts sluice-control builds.
//
//   sluice-bench-maglev [--reps N] [--json]
//
// Each case is timed over N builds (default 21) after one warm-up build:
// "reuse" builds with one Builder (control's steady state: scratch buffers
// kept, the table written in place as into the shared-memory arena),
// "one-shot" calls build_table() and gets a fresh vector each time. Times
// are wall-clock; "cpu" is the thread's CPU time, which a busy machine
// inflates less (no time spent descheduled).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <time.h>

#include "sluice/maglev.hpp"

namespace {

using sluice::maglev::Backend;
using Clock = std::chrono::steady_clock;

struct Case {
    const char *label; // weights
    uint32_t n;
    uint32_t m;
};

struct Timing {
    double median_us;
    double min_us;
    double cpu_median_us;
};

double cpu_us() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double median(std::vector<double> &v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::vector<Backend> backends(const Case &c) {
    std::vector<Backend> v(c.n);
    for (uint32_t i = 0; i < c.n; i++) {
        const uint32_t a = (10u << 24) | (i + 1);
        v[i].addr = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                     static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)};
        v[i].family = SL_AF_INET;
        v[i].id = static_cast<uint16_t>(i);
        if (std::strcmp(c.label, "1..10") == 0) {
            v[i].weight = 1 + i % 10;
        } else if (std::strcmp(c.label, "1x1000,rest 1") == 0) {
            v[i].weight = i == 0 ? 1000 : 1;
        } else {
            v[i].weight = 1;
        }
    }
    // Not in identity order, as a config file may list them.
    std::reverse(v.begin(), v.end());
    return v;
}

template <typename F> Timing time_it(int reps, F &&build) {
    build(); // warm-up: page in buffers, grow scratch
    std::vector<double> wall;
    std::vector<double> cpu;
    for (int r = 0; r < reps; r++) {
        const double c0 = cpu_us();
        const auto t0 = Clock::now();
        build();
        const auto t1 = Clock::now();
        cpu.push_back(cpu_us() - c0);
        wall.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    const double wall_median = median(wall);
    return Timing{wall_median, wall.front(), median(cpu)};
}

[[noreturn]] void usage(const char *argv0) {
    std::fprintf(stderr, "usage: %s [--reps N] [--json]\n", argv0);
    std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
    int reps = 21;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = std::atoi(argv[++i]);
            if (reps < 1) {
                usage(argv[0]);
            }
        } else {
            usage(argv[0]);
        }
    }

    const Case cases[] = {
        {"equal", 10, 65537},   {"equal", 100, 65537},          {"equal", 1000, 65537},
        {"equal", 10, 655373},  {"equal", 100, 655373},         {"equal", 1000, 655373},
        {"1..10", 1000, 65537}, {"1x1000,rest 1", 1000, 65537}, {"equal", 4096, SL_MAX_TABLE_SIZE},
    };

    if (json) {
        std::printf("{\"benchmark\": \"maglev_build\", \"reps\": %d, \"results\": [\n", reps);
    } else {
        std::printf("Maglev table build, %d builds per case after one warm-up (microseconds)\n\n",
                    reps);
        std::printf("%-14s %5s %8s | %12s %10s %11s | %15s\n", "weights", "N", "M", "reuse median",
                    "reuse min", "cpu median", "one-shot median");
    }
    sluice::maglev::Builder builder;
    bool first = true;
    for (const Case &c : cases) {
        const std::vector<Backend> b = backends(c);
        std::vector<uint16_t> table(c.m);
        bool ok = true;
        const Timing reuse = time_it(reps, [&] { ok &= builder.build(b, table).has_value(); });
        const Timing oneshot =
            time_it(reps, [&] { ok &= sluice::maglev::build_table(b, c.m).has_value(); });
        if (!ok) {
            std::fprintf(stderr, "build failed for N=%u M=%u\n", c.n, c.m);
            return 1;
        }
        if (json) {
            std::printf(
                "%s  {\"weights\": \"%s\", \"backends\": %u, \"table_size\": %u, "
                "\"reuse_median_us\": %.1f, \"reuse_min_us\": %.1f, \"reuse_cpu_median_us\": %.1f, "
                "\"oneshot_median_us\": %.1f, \"oneshot_min_us\": %.1f}",
                first ? "" : ",\n", c.label, c.n, c.m, reuse.median_us, reuse.min_us,
                reuse.cpu_median_us, oneshot.median_us, oneshot.min_us);
        } else {
            std::printf("%-14s %5u %8u | %12.1f %10.1f %11.1f | %15.1f\n", c.label, c.n, c.m,
                        reuse.median_us, reuse.min_us, reuse.cpu_median_us, oneshot.median_us);
        }
        first = false;
    }
    if (json) {
        std::printf("\n]}\n");
    }
    return 0;
}
