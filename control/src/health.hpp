// SPDX-License-Identifier: Apache-2.0
//
// health.hpp: active health checks of backends (TCP connect, HTTP GET) in one
// thread with non-blocking sockets and poll(2): every probe has a deadline
// (the check's timeout), nothing blocks the control API. The checker reports
// each probe's outcome; the daemon applies rise/fall and decides.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sluice/config.hpp"

namespace sluice::control {

struct ProbeTarget {
    std::string service;
    config::Address address;
    uint16_t port = 0;
    config::HealthCheck check;
    bool operator==(const ProbeTarget &o) const {
        return service == o.service && address == o.address && port == o.port &&
               check.type == o.check.type && check.path == o.check.path &&
               check.expect_status == o.check.expect_status &&
               check.interval_ms == o.check.interval_ms && check.timeout_ms == o.check.timeout_ms;
    }
};

class HealthChecker {
  public:
    // Called from the checker's thread after each probe; `error` is empty on
    // success.
    using Callback = std::function<void(const ProbeTarget &, bool ok, const std::string &error)>;

    explicit HealthChecker(Callback callback);
    ~HealthChecker();
    HealthChecker(const HealthChecker &) = delete;
    HealthChecker &operator=(const HealthChecker &) = delete;

    // Replaces the set of targets; unchanged targets keep their schedule,
    // new ones are probed at once.
    void set_targets(std::vector<ProbeTarget> targets);
    void start();
    void stop();

  private:
    struct Probe;
    void run();
    void wake();

    Callback callback_;
    std::mutex mu_;
    std::vector<ProbeTarget> pending_;
    bool changed_ = false;
    int wake_fd_[2] = {-1, -1};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace sluice::control
