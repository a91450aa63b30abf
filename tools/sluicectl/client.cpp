// SPDX-License-Identifier: Apache-2.0
#include "client.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

namespace sluicectl {

using Clock = std::chrono::steady_clock;

namespace {

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
        return 0;
    }
    return static_cast<int>(left.count());
}

// Waits for `events` on fd until the deadline. False on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline,
              const std::atomic<bool> *interrupt) {
    for (;;) {
        int ms = remaining_ms(deadline);
        if (ms == 0) {
            return false;
        }
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, ms);
        if (n > 0) {
            return true;
        }
        if (n < 0 && errno != EINTR) {
            throw Failure(fmt::format("poll: {}", std::strerror(errno)));
        }
        if (interrupt != nullptr && interrupt->load()) {
            throw Interrupted();
        }
    }
}

// Has the peer closed this connection? (The daemon closes one that has been
// idle for 5 s; a request sent into it would fail with EPIPE.)
bool peer_closed(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) {
        return false;
    }
    if (p.revents & (POLLHUP | POLLERR)) {
        return true;
    }
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

} // namespace

Client::Client(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

Client::~Client() {
    close_fd();
}

void Client::close_fd() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    buffer_.clear();
}

std::string Client::timeout_text() const {
    return fmt::format("{:g} s", static_cast<double>(timeout_.count()) / 1000.0);
}

void Client::connect_by(Clock::time_point deadline) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.empty() || path_.size() >= sizeof(addr.sun_path)) {
        throw Unreachable(fmt::format("socket path '{}' is empty or longer than {} bytes", path_,
                                      sizeof(addr.sun_path) - 1));
    }
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        throw Failure(fmt::format("socket: {}", std::strerror(errno)));
    }
    fd_ = fd;
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0) {
        return;
    }
    int err = errno;
    if (err == EINPROGRESS || err == EAGAIN) {
        if (!wait_for(fd, POLLOUT, deadline, interrupt_)) {
            close_fd();
            throw Failure(
                fmt::format("sluice-control at {} did not accept the connection within {}", path_,
                            timeout_text()));
        }
        socklen_t len = sizeof(err);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
            return;
        }
    }
    close_fd();
    throw Unreachable(fmt::format("cannot connect to sluice-control at {}: {} (is it running? see "
                                  "--socket or SLUICE_SOCKET)",
                                  path_, std::strerror(err)));
}

nlohmann::json Client::call(const std::string &cmd, const nlohmann::json &args) {
    auto deadline = Clock::now() + timeout_;
    if (fd_ >= 0 && buffer_.empty() && peer_closed(fd_)) {
        close_fd(); // idle too long (stats --interval, --watch): connect again
    }
    if (fd_ < 0) {
        connect_by(deadline);
    }
    long id = next_id_++;
    nlohmann::json request = {{"v", 1}, {"id", id}, {"cmd", cmd}};
    if (!args.empty()) {
        request["args"] = args;
    }
    std::string line = request.dump() + "\n";

    size_t sent = 0;
    while (sent < line.size()) {
        ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n >= 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_for(fd_, POLLOUT, deadline, interrupt_)) {
                close_fd();
                throw Failure(fmt::format("sluice-control at {} did not take the request within {}",
                                          path_, timeout_text()));
            }
            continue;
        }
        int err = errno;
        close_fd();
        throw Failure(
            fmt::format("sending to sluice-control at {}: {}", path_, std::strerror(err)));
    }

    size_t eol;
    while ((eol = buffer_.find('\n')) == std::string::npos) {
        if (!wait_for(fd_, POLLIN, deadline, interrupt_)) {
            close_fd();
            throw Failure(fmt::format("no reply from sluice-control at {} within {} (--timeout)",
                                      path_, timeout_text()));
        }
        char chunk[65536];
        ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
        if (n > 0) {
            buffer_.append(chunk, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            continue;
        }
        int err = n == 0 ? 0 : errno;
        close_fd();
        throw Failure(fmt::format("sluice-control at {} closed the connection without a reply{}",
                                  path_, err ? std::string(": ") + std::strerror(err) : ""));
    }
    std::string reply_text = buffer_.substr(0, eol);
    buffer_.erase(0, eol + 1);

    nlohmann::json reply;
    try {
        reply = nlohmann::json::parse(reply_text);
    } catch (const nlohmann::json::exception &e) {
        close_fd();
        throw Failure(fmt::format("malformed reply from sluice-control: {}", e.what()));
    }
    if (!reply.is_object()) {
        close_fd();
        throw Failure("malformed reply from sluice-control: not a JSON object");
    }
    if (reply.contains("id") && reply["id"] != id) {
        close_fd();
        throw Failure(fmt::format("reply from sluice-control carries id {}, expected {}",
                                  reply["id"].dump(), id));
    }
    if (reply.value("ok", false)) {
        return reply.contains("result") ? reply["result"] : nlohmann::json::object();
    }
    std::string code = "error";
    std::string message;
    if (reply.contains("error") && reply["error"].is_object()) {
        const auto &e = reply["error"];
        if (e.contains("code") && e["code"].is_string()) {
            code = e["code"].get<std::string>();
        }
        if (e.contains("message") && e["message"].is_string()) {
            message = e["message"].get<std::string>();
        }
    }
    if (message.empty()) {
        message = fmt::format("sluice-control refused '{}' ({})", cmd, code);
    }
    throw Refused(code, message);
}

} // namespace sluicectl
