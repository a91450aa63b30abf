// SPDX-License-Identifier: Apache-2.0
#include "api.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <system_error>
#include <thread>
#include <unistd.h>

#include "sluice/region_map.hpp"

namespace sluice::control {

using nlohmann::json;

namespace {

sockaddr_un make_addr(const std::string &path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path)) {
        throw SysError(ENAMETOOLONG, "control socket path " + path);
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

json error_reply(const json &id, const std::string &code, const std::string &message) {
    return {{"v", 1}, {"id", id}, {"ok", false}, {"error", {{"code", code}, {"message", message}}}};
}

// One error line to a connection that will not be served, and closed.
void refuse(int fd, const std::string &code, const std::string &message) {
    const std::string line = error_reply(nullptr, code, message).dump() + "\n";
    (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
}

} // namespace

ApiServer::ApiServer(std::string path, unsigned mode, Handler handler)
    : path_(std::move(path)), mode_(mode), handler_(std::move(handler)) {}

ApiServer::~ApiServer() {
    stop();
}

void ApiServer::start() {
    const sockaddr_un addr = make_addr(path_);
    // A socket file left by a daemon that died: remove it, unless a daemon
    // still answers there.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            throw SysError(EEXIST, "control socket path " + path_ + " exists and is no socket");
        }
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool live =
            ::connect(probe, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0;
        ::close(probe);
        if (live) {
            throw SysError(EADDRINUSE, "another sluice-control answers on " + path_);
        }
        ::unlink(path_.c_str());
    }
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) {
        throw SysError(errno, "socket");
    }
    // Bind under a umask that leaves no window with a wider mode.
    const mode_t old = ::umask(0777 & ~static_cast<mode_t>(mode_));
    const int rc = ::bind(listen_fd_, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr));
    const int e = errno;
    ::umask(old);
    if (rc != 0) {
        throw SysError(e, "bind control socket " + path_);
    }
    if (::chmod(path_.c_str(), static_cast<mode_t>(mode_)) != 0) {
        throw SysError(errno, "chmod control socket " + path_);
    }
    if (::listen(listen_fd_, 64) != 0) {
        throw SysError(errno, "listen on " + path_);
    }
    stop_ = false;
    acceptor_ = std::thread([this] { accept_loop(); });
}

void ApiServer::stop() {
    if (!acceptor_.joinable()) {
        return;
    }
    stop_ = true;
    acceptor_.join();
    std::list<Conn> conns;
    {
        std::lock_guard lock(conns_mu_);
        conns.swap(conns_);
    }
    for (Conn &c : conns) {
        c.thread.join();
    }
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(path_.c_str());
}

void ApiServer::accept_loop() {
    while (!stop_.load()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            continue;
        }
        std::unique_lock lock(conns_mu_);
        auto reap = [this] {
            for (auto it = conns_.begin(); it != conns_.end();) {
                if (it->done->load()) {
                    it->thread.join();
                    it = conns_.erase(it);
                } else {
                    ++it;
                }
            }
        };
        reap();
        // A connection its client has just closed counts until its thread
        // sees the end (at once, unless the machine is busy): a moment's
        // grace (200 ms at most) before a refusal, so that a client that
        // closes one and opens another is not told busy.
        for (int i = 0; i < 20 && conns_.size() >= kMaxConnections && !stop_.load(); i++) {
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            lock.lock();
            reap();
        }
        if (conns_.size() >= kMaxConnections) {
            refuse(fd, "busy",
                   std::to_string(kMaxConnections) +
                       " connections are open already: close one, or try again");
            continue;
        }
        auto done = std::make_shared<std::atomic<bool>>(false);
        try {
            conns_.push_back(Conn{std::thread([this, fd, done] { serve(fd, *done); }), done});
        } catch (const std::system_error &e) {
            refuse(fd, "busy", std::string("cannot serve this connection: ") + e.what());
        }
    }
}

std::string ApiServer::handle_line(const std::string &line) {
    json req;
    try {
        req = json::parse(line);
    } catch (const json::exception &e) {
        return error_reply(nullptr, "bad_request", std::string("malformed JSON: ") + e.what())
            .dump();
    }
    if (!req.is_object()) {
        return error_reply(nullptr, "bad_request", "a request is a JSON object").dump();
    }
    const json id = req.contains("id") ? req["id"] : json(nullptr);
    if (!req.contains("v")) {
        return error_reply(id, "bad_version", "missing \"v\": this daemon speaks API version 1")
            .dump();
    }
    if (req["v"] != 1) {
        return error_reply(id, "bad_version",
                           "API version " + req["v"].dump() + " is not supported (1 is)")
            .dump();
    }
    if (!req.contains("cmd") || !req["cmd"].is_string()) {
        return error_reply(id, "bad_request", "missing or non-string \"cmd\"").dump();
    }
    json args = json::object();
    if (req.contains("args") && !req["args"].is_null()) {
        if (!req["args"].is_object()) {
            return error_reply(id, "bad_request", "\"args\" must be an object").dump();
        }
        args = req["args"];
    }
    for (auto it = req.begin(); it != req.end(); ++it) {
        if (it.key() != "v" && it.key() != "id" && it.key() != "cmd" && it.key() != "args") {
            return error_reply(id, "bad_request", "unknown request field \"" + it.key() + "\"")
                .dump();
        }
    }
    try {
        json result = handler_(req["cmd"].get<std::string>(), args,
                               std::chrono::steady_clock::now() + kRequestDeadline);
        return json{{"v", 1}, {"id", id}, {"ok", true}, {"result", result}}.dump();
    } catch (const ApiError &e) {
        return error_reply(id, e.code, e.what()).dump();
    } catch (const json::exception &e) {
        return error_reply(id, "bad_request", e.what()).dump();
    } catch (const std::exception &e) {
        return error_reply(id, "internal", e.what()).dump();
    }
}

void ApiServer::serve(int fd, std::atomic<bool> &done) {
    active_++;
    std::string buf;
    auto deadline = std::chrono::steady_clock::now() + kRequestReceiveDeadline;
    auto send_all = [&](const std::string &s) {
        std::size_t off = 0;
        while (off < s.size() && !stop_.load()) {
            const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    pollfd p{fd, POLLOUT, 0};
                    ::poll(&p, 1, 100);
                    if (std::chrono::steady_clock::now() > deadline) {
                        return false;
                    }
                    continue;
                }
                return false;
            }
            off += static_cast<std::size_t>(n);
        }
        return true;
    };
    bool open = true;
    while (open && !stop_.load()) {
        // Serve the complete lines we have.
        std::size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (line.find_first_not_of(" \t") == std::string::npos) {
                continue;
            }
            if (!send_all(handle_line(line) + "\n")) {
                open = false;
                break;
            }
            deadline = std::chrono::steady_clock::now() + kRequestReceiveDeadline;
        }
        if (!open) {
            break;
        }
        if (buf.size() > kMaxRequestBytes) {
            send_all(error_reply(nullptr, "bad_request", "request line longer than 1 MiB").dump() +
                     "\n");
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            if (!buf.empty()) {
                send_all(
                    error_reply(nullptr, "timeout", "request not received completely within 5 s")
                        .dump() +
                    "\n");
            }
            break; // idle or slow: close
        }
        pollfd p{fd, POLLIN, 0};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100))) <= 0) {
            continue;
        }
        char chunk[4096];
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n == 0) {
            // EOF: a last request without newline is still served.
            if (buf.find_first_not_of(" \t\r") != std::string::npos) {
                send_all(handle_line(buf) + "\n");
            }
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            break;
        }
        buf.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    active_--;
    done = true;
}

} // namespace sluice::control
