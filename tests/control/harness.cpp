#include "harness.hpp"

#include "sluice/maglev.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sluice::test {

bool wait_until(const std::function<bool()> &pred, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

TempDir::TempDir() {
    char tmpl[] = "/tmp/sluice-ctl-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string &path, const std::string &text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string instance_name(const char *what) {
    return std::string("ctltest-") + what + "-" + std::to_string(getpid());
}

std::string config_head(const TempDir &dir, const std::string &instance) {
    return "seed = \"00112233445566778899aabbccddeeff\"\n"
           "[dataplane]\n"
           "instance = \"" +
           instance +
           "\"\n"
           "ipv4 = \"192.0.2.10\"\n"
           "gateway_mac = \"02:00:00:00:00:fe\"\n"
           "[control]\n"
           "socket = \"" +
           dir.file("ctl.sock") +
           "\"\n"
           "state_dir = \"" +
           dir.file("state") +
           "\"\n"
           "metrics_listen = \"127.0.0.1:0\"\n";
}

TestInstance::TestInstance(const char *what, const std::string &services)
    : instance(instance_name(what)), unlink_region{instance}, config(dir.file("sluice.toml")) {
    write_file(config, config_head(dir, instance) + services);
}

DaemonProcess::DaemonProcess(std::string config, std::string socket, std::string log)
    : config_(std::move(config)), socket_(std::move(socket)), log_(std::move(log)) {}

DaemonProcess::~DaemonProcess() {
    if (pid_ > 0) {
        kill9();
    }
}

void DaemonProcess::start() {
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
        }
        execl(SLUICE_CONTROL_BIN, SLUICE_CONTROL_BIN, "--config", config_.c_str(), nullptr);
        _exit(127);
    }
    const bool up = wait_until([&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return true; // exited: reported below
        }
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, socket_.c_str(), sizeof(a.sun_path) - 1);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
        ::close(fd);
        return ok;
    });
    INFO("daemon log:\n" << read_file(log_));
    REQUIRE(up);
    REQUIRE(pid_ > 0);
}

void DaemonProcess::kill9() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

int DaemonProcess::terminate() {
    int status = -1;
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        const bool gone = wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; });
        if (!gone) {
            kill9();
            return -1;
        }
        pid_ = -1;
    }
    return status;
}

void DaemonProcess::hup() {
    ::kill(pid_, SIGHUP);
}

int connect_unix(const std::string &path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0);
    return fd;
}

Client::Client(const std::string &socket) : fd_(connect_unix(socket)) {}

Client::~Client() {
    ::close(fd_);
}

json Client::raw(const std::string &line) {
    const std::string out = line + "\n";
    REQUIRE(::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (buf_.find('\n') == std::string::npos) {
        REQUIRE(std::chrono::steady_clock::now() < until);
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char chunk[65536];
        const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
        REQUIRE(n > 0);
        buf_.append(chunk, static_cast<std::size_t>(n));
    }
    const auto nl = buf_.find('\n');
    const std::string reply = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    return json::parse(reply);
}

json Client::call(const std::string &cmd, const json &args) {
    return raw(json{{"v", 1}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump());
}

json Client::ok(const std::string &cmd, const json &args) {
    const json r = call(cmd, args);
    INFO(cmd << " " << args.dump() << " -> " << r.dump());
    REQUIRE(r.value("ok", false));
    return r["result"];
}

namespace {

int listen_tcp(const std::string &address, uint16_t &port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, address.c_str(), &a.sin_addr) == 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

} // namespace

TcpServer::TcpServer(std::string address) : address_(std::move(address)) {
    start();
}

TcpServer::~TcpServer() {
    stop();
}

void TcpServer::start() {
    fd_ = listen_tcp(address_, port_);
    stop_ = false;
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) {
                    ::close(c);
                }
            }
        }
    });
}

void TcpServer::stop() {
    if (thread_.joinable()) {
        stop_ = true;
        thread_.join();
        ::close(fd_);
        fd_ = -1;
    }
}

HttpServer::HttpServer(std::string address, uint16_t port) : port_(port) {
    fd_ = listen_tcp(address, port_);
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) {
                    serve_one(c);
                }
            }
        }
    });
}

HttpServer::~HttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
}

void HttpServer::script(std::vector<unsigned> statuses, unsigned fallback) {
    std::lock_guard lock(mu_);
    script_ = std::move(statuses);
    fallback_ = fallback;
}

std::size_t HttpServer::script_left() {
    std::lock_guard lock(mu_);
    return script_.size();
}

void HttpServer::serve_one(int fd) {
    std::string req;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (req.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        char buf[1024];
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            break;
        }
        req.append(buf, static_cast<std::size_t>(n));
    }
    unsigned status = 0;
    {
        std::lock_guard lock(mu_);
        if (!script_.empty()) {
            status = script_.front();
            script_.erase(script_.begin());
        } else {
            status = fallback_;
        }
    }
    const std::string body = "status " + std::to_string(status) + "\n";
    const std::string resp = "HTTP/1.0 " + std::to_string(status) +
                             " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                             body;
    [[maybe_unused]] ssize_t n = ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
    ::close(fd);
    requests_++;
}

sl_worker_state &register_worker(Region &dp) {
    sl_worker_state &ws = dp.dp_rw()->workers[0];
    ws.pid = getpid();
    ws.lcore = 1;
    __atomic_store_n(&ws.observed_generation, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_RUNNING), __ATOMIC_RELEASE);
    return ws;
}

std::set<uint16_t> table_owners(const Region &region, uint16_t service_id) {
    // Not a registered worker: the daemon does not wait for this reader, so
    // retry when a publish happened meanwhile (the copy read may be reused
    // from the next generation on).
    for (;;) {
        std::set<uint16_t> out;
        const uint64_t g = region.generation();
        if (g == 0) {
            return out;
        }
        const sl_tables *t = region.tables(static_cast<unsigned>(g & 1));
        const sl_service &s = t->services[service_id];
        for (const uint16_t bid : sluice::maglev::read_table(*t, s)) {
            out.insert(bid);
        }
        if (region.generation() == g) {
            return out;
        }
    }
}

} // namespace sluice::test
