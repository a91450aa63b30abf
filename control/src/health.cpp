// SPDX-License-Identifier: Apache-2.0
#include "health.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sluice/region_map.hpp"

namespace sluice::control {

namespace {

uint64_t now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000ULL + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

} // namespace

struct HealthChecker::Probe {
    enum class Phase { Idle, Connecting, Sending, Reading };
    ProbeTarget target;
    Phase phase = Phase::Idle;
    int fd = -1;
    uint64_t due_ms = 0;
    uint64_t deadline_ms = 0;
    std::string out;
    std::size_t sent = 0;
    std::string in;

    void close_fd() {
        if (fd >= 0) {
            ::close(fd);
            fd = -1;
        }
        phase = Phase::Idle;
    }
};

HealthChecker::HealthChecker(Callback callback) : callback_(std::move(callback)) {
    if (pipe2(wake_fd_, O_NONBLOCK | O_CLOEXEC) != 0) {
        throw SysError(errno, "pipe for the health checker");
    }
}

HealthChecker::~HealthChecker() {
    stop();
    ::close(wake_fd_[0]);
    ::close(wake_fd_[1]);
}

void HealthChecker::wake() {
    const char c = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_[1], &c, 1);
}

void HealthChecker::set_targets(std::vector<ProbeTarget> targets) {
    {
        std::lock_guard lock(mu_);
        pending_ = std::move(targets);
        changed_ = true;
    }
    wake();
}

void HealthChecker::start() {
    stop_ = false;
    thread_ = std::thread([this] { run(); });
}

void HealthChecker::stop() {
    if (thread_.joinable()) {
        stop_ = true;
        wake();
        thread_.join();
    }
}

void HealthChecker::run() {
    std::vector<Probe> probes;
    auto finish = [&](Probe &p, bool ok, const std::string &error) {
        p.close_fd();
        p.in.clear();
        callback_(p.target, ok, error);
    };
    auto begin = [&](Probe &p, uint64_t now) {
        p.due_ms = now + p.target.check.interval_ms;
        p.deadline_ms = now + p.target.check.timeout_ms;
        const bool v4 = p.target.address.family == SL_AF_INET;
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (v4) {
            auto *sa = reinterpret_cast<sockaddr_in *>(&ss);
            sa->sin_family = AF_INET;
            sa->sin_port = htons(p.target.port);
            std::memcpy(&sa->sin_addr, p.target.address.bytes.data(), 4);
            len = sizeof(*sa);
        } else {
            auto *sa = reinterpret_cast<sockaddr_in6 *>(&ss);
            sa->sin6_family = AF_INET6;
            sa->sin6_port = htons(p.target.port);
            std::memcpy(&sa->sin6_addr, p.target.address.bytes.data(), 16);
            len = sizeof(*sa);
        }
        p.fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p.fd < 0) {
            finish(p, false, std::string("socket: ") + std::strerror(errno));
            return;
        }
        p.out.clear();
        p.sent = 0;
        p.in.clear();
        if (p.target.check.type == "http") {
            p.out = "GET " + p.target.check.path + " HTTP/1.0\r\nHost: " + (v4 ? "" : "[") +
                    config::format_address(p.target.address) + (v4 ? "" : "]") + ":" +
                    std::to_string(p.target.port) +
                    "\r\nUser-Agent: sluice-control\r\nConnection: close\r\n\r\n";
        }
        const int rc = ::connect(p.fd, reinterpret_cast<sockaddr *>(&ss), len);
        if (rc == 0 || errno == EINPROGRESS) {
            p.phase = Probe::Phase::Connecting;
        } else {
            finish(p, false, std::string("connect: ") + std::strerror(errno));
        }
    };
    auto on_connected = [&](Probe &p) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            finish(p, false, std::string("connect: ") + std::strerror(err));
        } else if (p.target.check.type == "tcp") {
            finish(p, true, "");
        } else {
            p.phase = Probe::Phase::Sending;
        }
    };
    auto on_writable = [&](Probe &p) {
        const ssize_t n = ::send(p.fd, p.out.data() + p.sent, p.out.size() - p.sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                finish(p, false, std::string("send: ") + std::strerror(errno));
            }
            return;
        }
        p.sent += static_cast<std::size_t>(n);
        if (p.sent == p.out.size()) {
            p.phase = Probe::Phase::Reading;
        }
    };
    auto on_readable = [&](Probe &p) {
        char buf[1024];
        const ssize_t n = ::recv(p.fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                finish(p, false, std::string("recv: ") + std::strerror(errno));
            }
            return;
        }
        if (n > 0 && p.in.size() < 4096) {
            p.in.append(buf, static_cast<std::size_t>(n));
        }
        const auto eol = p.in.find("\r\n");
        if (eol == std::string::npos && n > 0 && p.in.size() < 4096) {
            return; // status line not complete yet
        }
        const std::string line = p.in.substr(0, eol == std::string::npos ? p.in.size() : eol);
        unsigned status = 0;
        if (line.rfind("HTTP/1.", 0) == 0 && line.size() >= 12 && line[8] == ' ') {
            status = static_cast<unsigned>(std::atoi(line.substr(9, 3).c_str()));
        }
        if (status == 0) {
            finish(p, false,
                   n == 0 && p.in.empty() ? "connection closed before a status line"
                                          : "no HTTP status line in the reply");
        } else if (status != p.target.check.expect_status) {
            finish(p, false,
                   "HTTP status " + std::to_string(status) + ", expected " +
                       std::to_string(p.target.check.expect_status));
        } else {
            finish(p, true, "");
        }
    };

    std::vector<pollfd> fds;
    std::vector<std::size_t> which;
    while (!stop_.load()) {
        {
            std::lock_guard lock(mu_);
            if (changed_) {
                std::vector<Probe> next;
                for (ProbeTarget &t : pending_) {
                    bool kept = false;
                    for (Probe &p : probes) {
                        if (p.target == t && p.target.check.rise == t.check.rise) {
                            p.target = t;
                            next.push_back(std::move(p));
                            p.fd = -1;
                            p.target.service.clear(); // moved: do not match again
                            kept = true;
                            break;
                        }
                    }
                    if (!kept) {
                        Probe p;
                        p.target = t;
                        p.due_ms = 0;
                        next.push_back(std::move(p));
                    }
                }
                for (Probe &p : probes) {
                    p.close_fd();
                }
                probes = std::move(next);
                changed_ = false;
            }
        }
        uint64_t now = now_ms();
        uint64_t wake_at = now + 1000;
        fds.clear();
        which.clear();
        fds.push_back({wake_fd_[0], POLLIN, 0});
        which.push_back(SIZE_MAX);
        for (std::size_t i = 0; i < probes.size(); i++) {
            Probe &p = probes[i];
            if (p.phase == Probe::Phase::Idle && p.due_ms <= now) {
                begin(p, now);
            }
            if (p.phase == Probe::Phase::Idle) {
                wake_at = std::min(wake_at, p.due_ms);
                continue;
            }
            if (p.deadline_ms <= now) {
                finish(p, false,
                       "timeout after " + std::to_string(p.target.check.timeout_ms) + "ms");
                wake_at = std::min(wake_at, p.due_ms);
                continue;
            }
            wake_at = std::min(wake_at, p.deadline_ms);
            const short ev = p.phase == Probe::Phase::Reading ? POLLIN : POLLOUT;
            fds.push_back({p.fd, ev, 0});
            which.push_back(i);
        }
        const int timeout = wake_at > now ? static_cast<int>(wake_at - now) : 0;
        const int n = ::poll(fds.data(), fds.size(), timeout);
        if (n <= 0) {
            continue;
        }
        if (fds[0].revents != 0) {
            char buf[64];
            while (::read(wake_fd_[0], buf, sizeof(buf)) > 0) {
            }
        }
        for (std::size_t k = 1; k < fds.size(); k++) {
            if (fds[k].revents == 0) {
                continue;
            }
            Probe &p = probes[which[k]];
            switch (p.phase) {
                case Probe::Phase::Connecting:
                    on_connected(p);
                    if (p.phase == Probe::Phase::Sending) {
                        on_writable(p);
                    }
                    break;
                case Probe::Phase::Sending:
                    on_writable(p);
                    break;
                case Probe::Phase::Reading:
                    on_readable(p);
                    break;
                case Probe::Phase::Idle:
                    break;
            }
        }
    }
    for (Probe &p : probes) {
        p.close_fd();
    }
}

} // namespace sluice::control
