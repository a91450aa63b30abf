// sluice-control-bench: how long a change takes to reach the tables a
// dataplane worker uses. Not a test: it prints figures (median, p90, max).
//
//   1. `backend.add` / `backend.del` over the control socket (persisted with
//      fsync, published) -> every worker has observed the new generation.
//      The worker is a thread running the dataplane's sl_reader_begin_burst.
//   2. A backend's TCP port closes -> its slots are gone from the tables the
//      worker uses (health interval 100 ms, timeout 50 ms, fall 1).
//   3. Maglev rebuild + publish of one service with 1000 backends (M = 65537)
//      after a weight change, through TablePublisher.
//
// Usage: sluice-control-bench [ROUNDS]   (state and socket in a temp dir
// under $TMPDIR or /tmp: the fsync cost depends on that file system)
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "daemon.hpp"
#include "sluice/region_map.hpp"
#include "tables.hpp"

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using sluice::Region;

namespace {

double us(Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

void report(const char *what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    if (v.empty()) {
        std::printf("%-58s no samples\n", what);
        return;
    }
    auto at = [&](double q) {
        return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
    };
    std::printf("%-58s n=%-4zu median %9.1f us  p90 %9.1f us  max %9.1f us\n", what, v.size(),
                at(0.5), at(0.9), v.back());
}

// A dataplane worker: reads the tables once per "burst", as the DPDK loop does.
struct Worker {
    Region dp;
    sl_worker_state *ws;
    std::atomic<bool> stop{false};
    std::thread thread;

    explicit Worker(const std::string &instance)
        : dp(Region::open(instance, Region::Role::Dataplane)), ws(&dp.dp_rw()->workers[0]) {
        ws->pid = getpid();
        ws->lcore = 1;
        __atomic_store_n(&ws->run, static_cast<uint32_t>(SL_WORKER_RUNNING), __ATOMIC_RELEASE);
        thread = std::thread([this] {
            uint64_t seen = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                const sl_tables *t = sl_reader_begin_burst(dp.header(), dp.base(), ws, &seen);
                if (t != nullptr) {
                    // touch the table as a burst of lookups would
                    volatile uint16_t x = t->arena[seen % 64];
                    (void)x;
                }
            }
            __atomic_store_n(&ws->run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
        });
    }
    ~Worker() {
        stop = true;
        thread.join();
    }
    uint64_t observed() const {
        return __atomic_load_n(&ws->observed_generation, __ATOMIC_ACQUIRE);
    }
};

class Client {
  public:
    explicit Client(const std::string &path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
        if (::connect(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
            throw std::runtime_error("connect " + path);
        }
    }
    ~Client() { ::close(fd_); }
    json call(const std::string &cmd, const json &args) {
        const std::string line =
            json{{"v", 1}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump() + "\n";
        if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(line.size())) {
            throw std::runtime_error("send");
        }
        while (buf_.find('\n') == std::string::npos) {
            char chunk[65536];
            const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
            if (n <= 0) {
                throw std::runtime_error("recv");
            }
            buf_.append(chunk, static_cast<size_t>(n));
        }
        const auto nl = buf_.find('\n');
        json r = json::parse(buf_.substr(0, nl));
        buf_.erase(0, nl + 1);
        if (!r.value("ok", false)) {
            throw std::runtime_error(r.dump());
        }
        return r["result"];
    }

  private:
    int fd_ = -1;
    std::string buf_;
};

int listen_on(uint16_t &port, const char *address = "127.0.0.1") {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, address, &a.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 || ::listen(fd, 64) != 0) {
        throw std::runtime_error("listen");
    }
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    port = ntohs(a.sin_port);
    return fd; // connections stay in the backlog: enough for a connect check
}

bool wait_for(const std::function<bool()> &pred, std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
        if (pred()) {
            return true;
        }
    }
    return pred();
}

} // namespace

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/sluice-control-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::string dir = tmpl;
    const std::string instance = "ctlbench-" + std::to_string(getpid());
    uint16_t hport = 0;
    int hfd = listen_on(hport);
    const int hfd2 = listen_on(hport, "127.0.0.2"); // the second backend stays up

    std::string cfg = "seed = \"00112233445566778899aabbccddeeff\"\n[dataplane]\ninstance = \"" +
                      instance + "\"\n[control]\nsocket = \"" + dir +
                      "/ctl.sock\"\nstate_dir = \"" + dir + "/state\"\nmetrics_listen = \"\"\n";
    cfg += "[[service]]\nname = \"web\"\nvip = \"192.0.2.1\"\nport = 80\n[service.health]\n"
           "type = \"none\"\n";
    for (int i = 1; i <= 16; i++) {
        cfg += "[[service.backend]]\naddress = \"10.0.0." + std::to_string(i) +
               "\"\nmac = \"02:00:00:00:00:01\"\n";
    }
    cfg += "[[service]]\nname = \"hc\"\nvip = \"192.0.2.2\"\nport = " + std::to_string(hport) +
           "\n[service.health]\ntype = \"tcp\"\ninterval = \"100ms\"\ntimeout = \"50ms\"\n"
           "rise = 1\nfall = 1\n[[service.backend]]\naddress = \"127.0.0.1\"\nmac = "
           "\"02:00:00:00:00:01\"\n[[service.backend]]\naddress = \"127.0.0.2\"\nmac = "
           "\"02:00:00:00:00:02\"\n";
    std::ofstream(dir + "/sluice.toml") << cfg;

    std::printf("sluice-control-bench: state in %s, %d rounds, one simulated worker\n", dir.c_str(),
                rounds);
    {
        Region::open(instance, Region::Role::Control); // create, so the worker can register first
        Worker worker(instance);
        sluice::control::Daemon daemon(dir + "/sluice.toml");
        daemon.start();
        std::atomic<bool> stop{false};
        std::atomic<bool> reload{false};
        std::thread loop([&] { daemon.run(stop, reload); });

        // 1. API change -> acknowledged -> observed by every worker.
        {
            Client c(dir + "/ctl.sock");
            std::vector<double> ack, seen, publish;
            for (int i = 0; i < rounds; i++) {
                const std::string addr = "10.0.1." + std::to_string(1 + i % 200);
                const auto t0 = Clock::now();
                const json r = i % 2 == 0 ? c.call("backend.add", {{"service", "web"},
                                                                   {"address", "10.0.1.1"},
                                                                   {"mac", "02:00:00:00:00:03"}})
                                          : c.call("backend.del",
                                                   {{"service", "web"}, {"address", "10.0.1.1"}});
                const auto t1 = Clock::now();
                const uint64_t g = r["generation"];
                wait_for([&] { return worker.observed() >= g; }, std::chrono::seconds(5));
                const auto t2 = Clock::now();
                ack.push_back(us(t1 - t0));
                seen.push_back(us(t2 - t0));
                publish.push_back(c.call("status", json::object())["publish_ns"].get<double>() /
                                  1e3);
                (void)addr;
            }
            report("backend.add/del -> acknowledged (persisted + published)", ack);
            report("backend.add/del -> generation observed by the worker", seen);
            report("  of which writing the standby copy + commit (daemon)", publish);
        }

        // 2. Health failure -> the backend's slots are gone from the worker's tables.
        {
            Client c(dir + "/ctl.sock");
            Region obs = Region::open(instance, Region::Role::Observer);
            const json list = c.call("backend.list", {{"service", "hc"}});
            const uint16_t id = list["backends"][0]["id"];
            const uint16_t sid = c.call("service.show", {{"name", "hc"}})["service"]["id"];
            auto owns = [&] {
                const uint64_t g = worker.observed();
                const sl_tables *t = obs.tables(static_cast<unsigned>(g & 1));
                const std::vector<uint16_t> table =
                    sluice::maglev::read_table(*t, t->services[sid]);
                return std::find(table.begin(), table.end(), id) != table.end();
            };
            std::vector<double> down;
            for (int i = 0; i < std::max(5, rounds / 20); i++) {
                if (!wait_for(owns, std::chrono::seconds(3))) {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(37 * (i % 3)));
                const auto t0 = Clock::now();
                ::close(hfd);
                wait_for([&] { return !owns(); }, std::chrono::seconds(3));
                down.push_back(us(Clock::now() - t0));
                hfd = listen_on(hport);
            }
            report("TCP port closed -> slots gone (interval 100ms, fall 1)", down);
        }
        stop = true;
        loop.join();
        daemon.shutdown();

        // 3. Maglev rebuild + publish, 1000 backends, M = 65537.
        {
            Region control = Region::open(instance, Region::Role::Control);
            sluice::control::TablePublisher pub(control, sl_hash_seed{1, 2}, 6080);
            sluice::config::Service svc;
            svc.name = "big";
            svc.vip = *sluice::config::parse_address("192.0.2.100");
            svc.port = 443;
            svc.table_size = 65537;
            sluice::control::TableService ts{0, &svc, {}};
            for (uint16_t i = 0; i < 1000; i++) {
                sluice::config::Address a{};
                a.family = SL_AF_INET;
                a.bytes[0] = 10;
                a.bytes[1] = 1;
                a.bytes[2] = static_cast<uint8_t>(i >> 8);
                a.bytes[3] = static_cast<uint8_t>(i);
                ts.backends.push_back({i, a, {}, 100});
            }
            std::vector<double> build, observed, unchanged;
            for (int i = 0; i < std::max(10, rounds / 4); i++) {
                ts.backends[static_cast<size_t>(i) % 1000].weight =
                    50 + static_cast<uint32_t>(i % 2) * 100;
                const auto t0 = Clock::now();
                const auto r = pub.publish({ts}, std::chrono::milliseconds(5000));
                const auto t1 = Clock::now();
                wait_for([&] { return worker.observed() >= r.generation; },
                         std::chrono::seconds(5));
                build.push_back(us(t1 - t0));
                observed.push_back(us(Clock::now() - t0));
                const auto t2 = Clock::now();
                pub.publish({ts}, std::chrono::milliseconds(5000)); // nothing changed
                unchanged.push_back(us(Clock::now() - t2));
            }
            report("1000 backends: Maglev rebuild + publish", build);
            report("1000 backends: rebuild + publish -> observed by the worker", observed);
            report("1000 backends: publish with no table change", unchanged);
        }
    }
    ::close(hfd);
    ::close(hfd2);
    Region::unlink(instance);
    std::filesystem::remove_all(dir);
    return 0;
}
