// SPDX-License-Identifier: Apache-2.0
//
// sluice-control: the control daemon. See docs/CONFIG.md and docs/API.md.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "daemon.hpp"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

extern "C" void on_signal(int sig) {
    if (sig == SIGHUP) {
        g_reload.store(true);
    } else {
        g_stop.store(true);
    }
}

void usage(std::FILE *to) {
    std::fprintf(to, "usage: sluice-control [--config FILE]   run the daemon "
                     "(default /etc/sluice/sluice.toml)\n"
                     "       sluice-control --check FILE      validate a config file, exit 0 "
                     "when valid, 1 (with FILE:LINE: field: reason) when not\n"
                     "       sluice-control --version\n");
}

} // namespace

int main(int argc, char **argv) {
    std::string config = "/etc/sluice/sluice.toml";
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if ((a == "--check" || a == "--config" || a == "-c") && i + 1 < argc) {
            const std::string file = argv[++i];
            if (a == "--check") {
                try {
                    sluice::config::load(file);
                } catch (const std::exception &e) {
                    std::fprintf(stderr, "%s\n", e.what());
                    return 1;
                }
                std::printf("%s: ok\n", file.c_str());
                return 0;
            }
            config = file;
        } else if (a == "--version") {
            std::printf("sluice-control %s\n", sluice::control::kVersion);
            return 0;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    try {
        sluice::control::Daemon daemon(config);
        daemon.start();
        daemon.run(g_stop, g_reload);
        sluice::control::log_line("stopping (the dataplane keeps forwarding with generation " +
                                  std::to_string(daemon.generation()) + ")");
        daemon.shutdown();
    } catch (const std::exception &e) {
        sluice::control::log_line(std::string("fatal: ") + e.what());
        return 1;
    }
    return 0;
}
