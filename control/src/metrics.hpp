// SPDX-License-Identifier: Apache-2.0
//
// metrics.hpp: the Prometheus endpoint (GET /metrics, cpp-httplib) at the
// configured local address. The text comes from a callback (Daemon::metrics).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace sluice::control {

class MetricsServer {
  public:
    MetricsServer(std::string listen, std::function<std::string()> render);
    ~MetricsServer();
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;
    // Binds ADDRESS:PORT (throws SysError) and serves in its own thread.
    void start();
    void stop();
    int port() const; // the bound port (useful with port 0 in tests)

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace sluice::control
