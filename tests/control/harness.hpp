// Test harness for sluice-control: temp dirs, the daemon as a child process,
// a control API client, and small TCP and HTTP servers on 127.0.0.1.
// Everything is bounded in time and cleans up after itself.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include "sluice/region_map.hpp"

namespace sluice::test {

using nlohmann::json;

// One dsr-l2 service "web" (192.0.2.1:80, M = 251, no health check) with two
// backends, 10.0.0.1 and 10.0.0.2: the config most control tests start from.
inline constexpr const char *kWebService = R"([[service]]
name = "web"
vip = "192.0.2.1"
port = 80
table_size = 251
[service.health]
type = "none"
[[service.backend]]
address = "10.0.0.1"
mac = "02:00:00:00:00:01"
[[service.backend]]
address = "10.0.0.2"
mac = "02:00:00:00:00:02"
)";

// Polls `pred` every 10 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()> &pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

void write_file(const std::string &path, const std::string &text);
std::string read_file(const std::string &path);

// A region instance name unique to this process and test.
std::string instance_name(const char *what);

// Removes the region of an instance when the test ends, however it ends.
struct RegionGuard {
    std::string instance;
    ~RegionGuard() { Region::unlink(instance); }
};

// The config head for a test: seed, [dataplane] instance, [control] in `dir`.
std::string config_head(const TempDir &dir, const std::string &instance);

// A test's own instance: a temporary directory, an instance name (`what`
// made unique) whose region is removed when the test ends, and
// dir/sluice.toml holding config_head and `services`. Tests take its parts
// by name: `auto &[dir, instance, unlink_region, config] = t;`.
struct TestInstance {
    explicit TestInstance(const char *what, const std::string &services = kWebService);
    TempDir dir;
    std::string instance;
    RegionGuard unlink_region;
    std::string config;
};

// The daemon binary as a child process; stderr goes to dir/daemon.log.
class DaemonProcess {
  public:
    DaemonProcess(std::string config, std::string socket, std::string log);
    ~DaemonProcess(); // SIGKILL if still running
    void start();     // and wait until the socket answers (10 s at most)
    void kill9();
    int terminate(); // SIGTERM, wait; the exit status
    void hup();
    pid_t pid() const { return pid_; }

  private:
    std::string config_, socket_, log_;
    pid_t pid_ = -1;
};

// A stream socket connected to the Unix socket at `path` (fails the test if
// it cannot connect).
int connect_unix(const std::string &path);

class Client {
  public:
    explicit Client(const std::string &socket);
    ~Client();
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    // Sends one line, returns the parsed reply line (10 s deadline).
    json raw(const std::string &line);
    json call(const std::string &cmd, const json &args = json::object());
    // The result of a successful call; fails the test otherwise.
    json ok(const std::string &cmd, const json &args = json::object());
    int fd() const { return fd_; }

  private:
    int fd_ = -1;
    std::string buf_;
};

// Accepts TCP connections on 127.0.0.1 and closes them; stop() closes the
// listener (connects are refused), start() listens again on the same port.
class TcpServer {
  public:
    explicit TcpServer(std::string address = "127.0.0.1");
    ~TcpServer();
    void start();
    void stop();
    uint16_t port() const { return port_; }

  private:
    std::string address_;
    uint16_t port_ = 0;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Answers HTTP requests on 127.0.0.1 with a status taken from a script (one
// per request), then `fallback`. Counts requests.
class HttpServer {
  public:
    explicit HttpServer(std::string address = "127.0.0.1", uint16_t port = 0);
    ~HttpServer();
    uint16_t port() const { return port_; }
    void script(std::vector<unsigned> statuses, unsigned fallback);
    unsigned requests() const { return requests_.load(); }
    std::size_t script_left();

  private:
    void serve_one(int fd);
    uint16_t port_ = 0;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<unsigned> requests_{0};
    std::mutex mu_;
    std::vector<unsigned> script_;
    unsigned fallback_ = 200;
    std::thread thread_;
};

// The backend ids that own slots in the published table of a service id.
std::set<uint16_t> table_owners(const Region &region, uint16_t service_id);

// Worker 0 of the dataplane area, registered as a live worker of this
// process (lcore 1) that has observed no generation yet, as a dataplane's
// worker does before it reads anything.
sl_worker_state &register_worker(Region &dp);

} // namespace sluice::test
