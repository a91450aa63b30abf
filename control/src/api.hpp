// SPDX-License-Identifier: Apache-2.0
//
// api.hpp: the control API server (docs/API.md): JSON lines over a Unix
// stream socket, one thread per connection, a deadline on every request.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace sluice::control {

// An error reply: code as listed in docs/API.md.
struct ApiError : std::runtime_error {
    ApiError(std::string code, const std::string &message)
        : std::runtime_error(message), code(std::move(code)) {}
    std::string code;
};

// How long a client has to send a complete request line, and how long a
// request may take to be answered.
inline constexpr std::chrono::milliseconds kRequestReceiveDeadline{5000};
inline constexpr std::chrono::milliseconds kRequestDeadline{5000};
inline constexpr std::size_t kMaxRequestBytes = 1 << 20;
// Connections served at once (a thread each); one more is answered `busy`
// and closed: a local client opening thousands must not exhaust threads.
inline constexpr std::size_t kMaxConnections = 64;

class ApiServer {
  public:
    // Gets (cmd, args, deadline); returns the result or throws ApiError.
    using Handler = std::function<nlohmann::json(const std::string &cmd, const nlohmann::json &args,
                                                 std::chrono::steady_clock::time_point deadline)>;

    ApiServer(std::string path, unsigned mode, Handler handler);
    ~ApiServer();
    ApiServer(const ApiServer &) = delete;
    ApiServer &operator=(const ApiServer &) = delete;

    // Binds (refusing when another daemon answers on the path), sets the
    // mode and starts accepting. Throws SysError.
    void start();
    void stop();

    // One request line to one reply line (no trailing newline); public for tests.
    std::string handle_line(const std::string &line);

  private:
    void accept_loop();
    void serve(int fd, std::atomic<bool> &done);

    std::string path_;
    unsigned mode_;
    Handler handler_;
    int listen_fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    std::mutex conns_mu_;
    struct Conn {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::list<Conn> conns_;
    std::atomic<unsigned> active_{0};
};

} // namespace sluice::control
