// SPDX-License-Identifier: Apache-2.0
//
// client.hpp: one connection to sluice-control's Unix socket, speaking the
// JSON-lines protocol of docs/API.md. Every request has a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace sluicectl {

// The daemon could not be asked or did not answer: exit code 1.
class Failure : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// connect() itself failed (no socket, nobody listening, no permission).
class Unreachable : public Failure {
  public:
    using Failure::Failure;
};

// The wait was cut short by the flag given to Client::interrupt_on.
class Interrupted : public Failure {
  public:
    Interrupted() : Failure("interrupted") {}
};

// The daemon answered {"ok": false, "error": {code, message}}: exit code 1.
class Refused : public Failure {
  public:
    Refused(std::string code, const std::string &message)
        : Failure(message), code_(std::move(code)) {}
    const std::string &code() const { return code_; }

  private:
    std::string code_;
};

class Client {
  public:
    Client(std::string socket_path, std::chrono::milliseconds timeout);
    ~Client();
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    // Sends {"v":1,"id":N,"cmd":cmd,"args":args} and returns the reply's
    // "result". Throws Unreachable, Refused or Failure (timeout, bad reply).
    nlohmann::json call(const std::string &cmd,
                        const nlohmann::json &args = nlohmann::json::object());

    const std::string &socket_path() const { return path_; }

    // A signal that sets `flag` ends a wait with Interrupted instead of
    // waiting on until the deadline (stats --watch and Ctrl-C).
    void interrupt_on(const std::atomic<bool> *flag) { interrupt_ = flag; }

  private:
    void connect_by(std::chrono::steady_clock::time_point deadline);
    void close_fd();
    std::string timeout_text() const;

    std::string path_;
    std::chrono::milliseconds timeout_;
    int fd_ = -1;
    long next_id_ = 1;
    std::string buffer_; // bytes received after the last reply line
    const std::atomic<bool> *interrupt_ = nullptr;
};

} // namespace sluicectl
