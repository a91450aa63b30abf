// Health checks against real HTTP and TCP servers on 127.0.0.x started by the
// test: rise/fall hysteresis under flapping, the published tables follow
// (read from the region), fail open keeps the last healthy set, fail closed
// empties the table.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <optional>

#include "harness.hpp"

using namespace sluice::test;
using sluice::Region;

namespace {

json health_of(Client &c, const std::string &service, const std::string &address) {
    const json all = c.ok("health", {{"service", service}});
    for (const json &s : all["services"]) {
        for (const json &b : s["backends"]) {
            if (b["address"] == address) {
                return b;
            }
        }
    }
    FAIL("no health entry for " << address);
    return {};
}

uint16_t backend_id(Client &c, const std::string &service, const std::string &address) {
    const json list = c.ok("backend.list", {{"service", service}});
    for (const json &b : list["backends"]) {
        if (b["address"] == address) {
            return b["id"];
        }
    }
    FAIL("no backend " << address << " in " << c.ok("backend.list", {{"service", service}}).dump());
    return 0;
}

// Waits until the server has answered `n` more requests than `from`: every
// probe before the last of them has been processed by the daemon (one probe
// per backend at a time, each result handled before the next probe starts).
void wait_requests(HttpServer &s, unsigned from, unsigned n) {
    REQUIRE(wait_until([&] { return s.requests() >= from + n; }));
}

// Service "db" on `port` with one backend, 127.0.0.1, TCP-checked every
// 100 ms, out and in at the first failure and success; fail closed.
std::string tcp_checked_db(uint16_t port) {
    return R"([[service]]
name = "db"
vip = "192.0.2.5"
port = )" + std::to_string(port) +
           R"(
table_size = 53
fail = "closed"
[service.health]
type = "tcp"
interval = "100ms"
timeout = "50ms"
rise = 1
fall = 1
[[service.backend]]
address = "127.0.0.1"
mac = "02:00:00:00:00:01"
)";
}

// A daemon with tcp_checked_db on a TCP server of the test's, started; a
// client, an observer of its region, the backend's id.
struct TcpDb {
    explicit TcpDb(const char *what) : instance(instance_name(what)), unlink_region{instance} {
        write_file(config, config_head(dir, instance) + tcp_checked_db(server.port()));
        daemon.start();
        c.emplace(dir.file("ctl.sock"));
        obs.emplace(Region::open(instance, Region::Role::Observer));
        id = backend_id(*c, "db", "127.0.0.1");
    }
    TempDir dir;
    std::string instance;
    RegionGuard unlink_region;
    TcpServer server{"127.0.0.1"};
    std::string config = dir.file("sluice.toml");
    DaemonProcess daemon{config, dir.file("ctl.sock"), dir.file("daemon.log")};
    std::optional<Client> c;
    std::optional<Region> obs;
    uint16_t id = 0;
};

} // namespace

TEST_CASE("http checks: flapping within rise/fall changes nothing; fall, rise and fail open",
          "[health]") {
    TempDir dir;
    const std::string instance = instance_name("health");
    RegionGuard unlink_region{instance};
    HttpServer a("127.0.0.1");
    HttpServer b("127.0.0.2", a.port());
    const std::string config = dir.file("sluice.toml");
    write_file(config, config_head(dir, instance) + R"([[service]]
name = "web"
vip = "192.0.2.1"
port = 80
table_size = 101
[service.health]
type = "http"
path = "/healthz"
port = )" + std::to_string(a.port()) +
                           R"(
interval = "100ms"
timeout = "80ms"
rise = 2
fall = 2
[[service.backend]]
address = "127.0.0.1"
mac = "02:00:00:00:00:01"
[[service.backend]]
address = "127.0.0.2"
mac = "02:00:00:00:00:02"
)");
    DaemonProcess daemon(config, dir.file("ctl.sock"), dir.file("daemon.log"));
    daemon.start();
    Client c(dir.file("ctl.sock"));
    Region obs = Region::open(instance, Region::Role::Observer);
    const uint16_t ida = backend_id(c, "web", "127.0.0.1");
    const uint16_t idb = backend_id(c, "web", "127.0.0.2");
    const std::set<uint16_t> both{ida, idb};
    wait_requests(a, 0, 2);
    CHECK(table_owners(obs, 0) == both);

    SECTION("alternating failures never reach fall = 2") {
        const unsigned from = a.requests();
        a.script({500, 200, 500, 200, 500, 200}, 200);
        wait_requests(a, from, 7);
        const json h = health_of(c, "web", "127.0.0.1");
        CHECK(h["healthy"] == true);
        CHECK(h["last_error"] == "HTTP status 500, expected 200");
        CHECK(table_owners(obs, 0) == both);
        CHECK(read_file(dir.file("daemon.log")).find("DOWN") == std::string::npos);
    }

    SECTION("two failures: out of the table; one success is not enough to come back") {
        a.script({}, 500);
        REQUIRE(wait_until([&] { return table_owners(obs, 0) == std::set<uint16_t>{idb}; }));
        CHECK(health_of(c, "web", "127.0.0.1")["healthy"] == false);
        CHECK_THAT(read_file(dir.file("daemon.log")),
                   Catch::Contains("service web backend 127.0.0.1: DOWN after 2 failed http "
                                   "checks (HTTP status 500, expected 200)"));
        const unsigned from = a.requests();
        a.script({200}, 500);
        wait_requests(a, from, 3);
        CHECK(health_of(c, "web", "127.0.0.1")["healthy"] == false);
        CHECK(table_owners(obs, 0) == std::set<uint16_t>{idb});
        a.script({}, 200);
        REQUIRE(wait_until([&] { return table_owners(obs, 0) == both; }));
        CHECK_THAT(read_file(dir.file("daemon.log")),
                   Catch::Contains("service web backend 127.0.0.1: UP after 2 good http checks"));
    }

    SECTION("every backend down: fail open keeps the last healthy set") {
        a.script({}, 500);
        REQUIRE(wait_until([&] { return table_owners(obs, 0) == std::set<uint16_t>{idb}; }));
        b.script({}, 503);
        REQUIRE(wait_until([&] { return health_of(c, "web", "127.0.0.2")["healthy"] == false; }));
        REQUIRE(wait_until(
            [&] { return c.ok("service.list")["services"][0]["failing_open"] == true; }));
        CHECK(table_owners(obs, 0) == std::set<uint16_t>{idb});
        CHECK_THAT(read_file(dir.file("daemon.log")),
                   Catch::Contains("service web: every backend is down; failing open"));
        // One comes back: it alone owns the table.
        a.script({}, 200);
        REQUIRE(wait_until([&] { return table_owners(obs, 0) == std::set<uint16_t>{ida}; }));
        CHECK(c.ok("service.list")["services"][0]["failing_open"] == false);
    }
    daemon.kill9();
}

TEST_CASE("tcp checks: a closed port takes the backend out; fail closed empties the table",
          "[health]") {
    TcpDb t("tcp");
    TcpServer &server = t.server;
    DaemonProcess &daemon = t.daemon;
    Client &c = *t.c;
    Region &obs = *t.obs;
    const uint16_t id = t.id;
    CHECK(table_owners(obs, 0) == std::set<uint16_t>{id});
    server.stop();
    REQUIRE(wait_until([&] { return table_owners(obs, 0).empty(); }));
    CHECK(obs.published()->services[0].table_size == 0);
    const json h = health_of(c, "db", "127.0.0.1");
    CHECK(h["healthy"] == false);
    CHECK(h["last_error"] == "connect: Connection refused");
    CHECK(c.ok("lookup", {{"service", "db"}, {"src", "10.9.9.9"}, {"sport", 1}})["drop"] ==
          "no_backend");
    server.start();
    REQUIRE(wait_until([&] { return table_owners(obs, 0) == std::set<uint16_t>{id}; }));
    // The API stays responsive while probes run.
    for (int i = 0; i < 20; i++) {
        c.ok("status");
    }
    daemon.kill9();
}

TEST_CASE("a health change that cannot be published: retried, and the API still answers",
          "[health]") {
    TcpDb t("stuck");
    TempDir &dir = t.dir;
    const std::string &instance = t.instance;
    TcpServer &server = t.server;
    DaemonProcess &daemon = t.daemon;
    Client &c = *t.c;
    Region &obs = *t.obs;
    const uint16_t id = t.id;
    REQUIRE(table_owners(obs, 0) == std::set<uint16_t>{id});
    const uint64_t g = c.ok("status")["generation"];

    // A live worker stuck before generation 1: every publish waits its 2 s
    // deadline for it, holding the daemon's lock, and fails.
    Region dp = Region::open(instance, Region::Role::Dataplane);
    sl_worker_state &ws = register_worker(dp);
    server.stop();
    REQUIRE(wait_until([&] {
        return read_file(dir.file("daemon.log"))
                   .find("publishing a health change failed (retrying)") != std::string::npos;
    }));
    // Between attempts the API gets the lock: each request, spread over
    // several attempts, is answered within its 5 s deadline.
    for (int i = 0; i < 5; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        const json r = c.call("status");
        INFO(r.dump());
        CHECK(r.value("ok", false));
    }
    CHECK(obs.generation() == g);
    CHECK(table_owners(obs, 0) == std::set<uint16_t>{id});

    // The worker stops: the next retry publishes.
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
    REQUIRE(wait_until([&] { return table_owners(obs, 0).empty(); }));
    CHECK_THAT(read_file(dir.file("daemon.log")),
               Catch::Contains("publishing health changes works again"));
    daemon.kill9();
}
