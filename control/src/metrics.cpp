// SPDX-License-Identifier: Apache-2.0
#include "metrics.hpp"

#include <cerrno>
#include <thread>

#include <httplib.h>

#include "sluice/region_map.hpp"

namespace sluice::control {

struct MetricsServer::Impl {
    std::string host;
    int port = 0;
    std::function<std::string()> render;
    httplib::Server server;
    std::thread thread;
};

MetricsServer::MetricsServer(std::string listen, std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
    const auto colon = listen.rfind(':');
    impl_->host = listen.substr(0, colon);
    if (impl_->host.size() > 2 && impl_->host.front() == '[') {
        impl_->host = impl_->host.substr(1, impl_->host.size() - 2);
    }
    impl_->port = std::stoi(listen.substr(colon + 1));
    impl_->render = std::move(render);
}

MetricsServer::~MetricsServer() {
    stop();
}

void MetricsServer::start() {
    Impl &m = *impl_;
    m.server.set_read_timeout(5, 0);
    m.server.set_write_timeout(5, 0);
    m.server.Get("/metrics", [&m](const httplib::Request &, httplib::Response &res) {
        try {
            res.set_content(m.render(), "text/plain; version=0.0.4; charset=utf-8");
        } catch (const std::exception &e) {
            res.status = 503;
            res.set_content(std::string(e.what()) + "\n", "text/plain");
        }
    });
    if (m.port == 0) {
        m.port = m.server.bind_to_any_port(m.host.c_str());
    } else if (!m.server.bind_to_port(m.host.c_str(), m.port)) {
        m.port = -1;
    }
    if (m.port <= 0) {
        throw SysError(errno,
                       "cannot listen for metrics on " + m.host + ":" + std::to_string(m.port));
    }
    m.thread = std::thread([&m] { m.server.listen_after_bind(); });
}

void MetricsServer::stop() {
    if (impl_ && impl_->thread.joinable()) {
        impl_->server.stop();
        impl_->thread.join();
    }
}

int MetricsServer::port() const {
    return impl_->port;
}

} // namespace sluice::control
