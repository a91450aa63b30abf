// The control API end to end: the real sluice-control binary, a real Unix
// socket, every command and every error path of docs/API.md. A refused
// request must change nothing (same generation, same state).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.hpp"
#include "sluice/decide.h"

using namespace sluice::test;
using sluice::Region;

namespace {

struct Fixture {
    TempDir dir;
    std::string instance = instance_name("api");
    std::string config = dir.file("sluice.toml");
    DaemonProcess daemon{config, dir.file("ctl.sock"), dir.file("daemon.log")};

    explicit Fixture(const std::string &extra_control = "") {
        write_file(config, config_head(dir, instance) + extra_control + kWebService);
        daemon.start();
    }
    ~Fixture() {
        daemon.kill9();
        Region::unlink(instance);
    }
};

// What the peer sends on fd until it closes it, `limit` at most.
std::string read_until_closed(int fd, std::chrono::seconds limit) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char buf[65536];
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string http_get(const std::string &hostport, const std::string &path) {
    const auto colon = hostport.rfind(':');
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1))));
    inet_pton(AF_INET, hostport.substr(0, colon).c_str(), &a.sin_addr);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0);
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) > 0);
    std::string out = read_until_closed(fd, std::chrono::seconds(10));
    ::close(fd);
    return out;
}

void expect_error(Client &c, const json &reply, const std::string &code, const std::string &text,
                  uint64_t generation) {
    INFO(reply.dump());
    CHECK(reply["v"] == 1);
    CHECK(reply["ok"] == false);
    CHECK(reply["error"]["code"] == code);
    CHECK_THAT(reply["error"]["message"].get<std::string>(), Catch::Contains(text));
    CHECK(c.ok("status")["generation"] == generation);
}

} // namespace

TEST_CASE("status, lists, show, table and lookup", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    const json st = c.ok("status");
    CHECK(st["version"] == "0.1.0");
    CHECK(st["pid"] == f.daemon.pid());
    CHECK(st["config"] == f.config);
    CHECK(st["generation"].get<uint64_t>() >= 1);
    CHECK(st["tables_huge_pages"] == sluice::shmem_huge_pages_possible());
    CHECK(st["dataplane"]["alive"] == false);
    CHECK(st["dataplane"]["workers"].empty());

    const json list = c.ok("service.list")["services"];
    REQUIRE(list.size() == 1);
    CHECK(list[0]["name"] == "web");
    CHECK(list[0]["vip"] == "192.0.2.1");
    CHECK(list[0]["port"] == 80);
    CHECK(list[0]["backends"] == 2);
    CHECK(list[0]["active"] == 2);

    const json show = c.ok("service.show", {{"name", "web"}})["service"];
    CHECK(show["forwarding"] == "dsr-l2");
    CHECK(show["table_size"] == 251);
    REQUIRE(show["backends"].size() == 2);
    CHECK(show["backends"][0]["mac"] == "02:00:00:00:00:01");
    CHECK(show["backends"][0]["slots"].get<unsigned>() +
              show["backends"][1]["slots"].get<unsigned>() ==
          251);

    const json table = c.ok("table", {{"service", "web"}});
    CHECK(table["size"] == 251);
    REQUIRE(table["backends"].size() == 2);

    // lookup runs the dataplane's decision on the published tables; the
    // region read directly agrees.
    const json lk = c.ok("lookup", {{"service", "web"}, {"src", "198.51.100.7"}, {"sport", 40000}});
    CHECK(lk["service"] == "web");
    const std::string be = lk["backend"];
    CHECK((be == "10.0.0.1" || be == "10.0.0.2"));
    Region obs = Region::open(f.instance, Region::Role::Observer);
    const sl_tables *t = obs.published();
    REQUIRE(t != nullptr);
    const uint16_t sid = show["id"];
    const uint32_t slot = lk["slot"];
    const uint16_t bid = sl_table_backend(t, &t->services[sid], slot);
    CHECK(bid == lk["backend_id"]);

    const json lk_none =
        c.ok("lookup", {{"service", "web"}, {"src", "198.51.100.7"}, {"dport", 81}});
    CHECK(lk_none["drop"] == "not_vip");
    CHECK(lk_none["backend"].is_null());

    const json health = c.ok("health");
    CHECK(health["services"][0]["backends"][0]["healthy"] == true);
    const json stats = c.ok("stats");
    CHECK(stats["services"][0]["packets"] == 0);
    CHECK(stats["drops"].contains("not_vip"));

    // Metrics endpoint.
    const std::string m = http_get(st["metrics"], "/metrics");
    CHECK_THAT(m, Catch::Contains("200 OK"));
    CHECK_THAT(m, Catch::Contains("sluice_service_packets_total{service=\"web\"} 0"));
    CHECK_THAT(m,
               Catch::Contains("sluice_backend_healthy{service=\"web\",backend=\"10.0.0.1\"} 1"));
    CHECK_THAT(m, Catch::Contains("sluice_drops_total{reason=\"no_backend\"} 0"));
    CHECK_THAT(m, Catch::Contains("sluice_table_generation "));
    CHECK_THAT(m, Catch::Contains("sluice_publish_duration_seconds "));
    CHECK_THAT(m, Catch::Contains(std::string("sluice_tables_huge_pages ") +
                                  (sluice::shmem_huge_pages_possible() ? "1" : "0")));
}

TEST_CASE("the ports' own counters (rx_missed, ...) in stats and metrics", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    {
        // As a dataplane's link supervisor stores them.
        Region dp = Region::open(f.instance, Region::Role::Dataplane);
        sl_dp_area *a = dp.dp_rw();
        std::strcpy(a->port_stats[0].name, "net_af_packet0");
        a->port_stats[0].rx_missed = 1234;
        a->port_stats[0].rx_errors = 5;
        a->port_stats[0].rx_nombuf = 6;
        a->port_stats[0].tx_errors = 7;
        __atomic_store_n(&a->n_ports, 1u, __ATOMIC_RELEASE);
    }
    const json ports = c.ok("stats")["ports"];
    REQUIRE(ports.size() == 1);
    CHECK(ports[0]["name"] == "net_af_packet0");
    CHECK(ports[0]["rx_missed"] == 1234);
    CHECK(ports[0]["rx_errors"] == 5);
    CHECK(ports[0]["rx_nombuf"] == 6);
    CHECK(ports[0]["tx_errors"] == 7);
    const std::string m = http_get(c.ok("status")["metrics"], "/metrics");
    CHECK_THAT(m, Catch::Contains("sluice_port_rx_missed_total{port=\"net_af_packet0\"} 1234"));
    CHECK_THAT(m, Catch::Contains("sluice_port_rx_errors_total{port=\"net_af_packet0\"} 5"));
    CHECK_THAT(m, Catch::Contains("sluice_port_rx_nombuf_total{port=\"net_af_packet0\"} 6"));
    CHECK_THAT(m, Catch::Contains("sluice_port_tx_errors_total{port=\"net_af_packet0\"} 7"));
}

TEST_CASE("changes: add, drain, weight, delete; each acknowledged with its generation", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    Region obs = Region::open(f.instance, Region::Role::Observer);
    uint64_t g = c.ok("status")["generation"];

    const json add = c.ok("backend.add", {{"service", "web"},
                                          {"address", "10.0.0.3"},
                                          {"mac", "02:00:00:00:00:03"},
                                          {"weight", 50}});
    CHECK(add["generation"] == g + 1);
    g = add["generation"];
    CHECK(obs.generation() == g);
    json bl = c.ok("backend.list", {{"service", "web"}})["backends"];
    REQUIRE(bl.size() == 3);
    CHECK(bl[2]["address"] == "10.0.0.3");
    CHECK(bl[2]["weight"] == 50);
    const uint16_t b3 = bl[2]["id"];
    CHECK(table_owners(obs, 0).count(b3) == 1);

    CHECK(c.ok("backend.drain", {{"service", "web"}, {"address", "10.0.0.3"}})["generation"] ==
          g + 1);
    CHECK(table_owners(obs, 0).count(b3) == 0);
    CHECK(c.ok("backend.list", {{"service", "web"}})["backends"][2]["state"] == "drained");
    CHECK(c.ok("backend.undrain", {{"service", "web"}, {"address", "10.0.0.3"}})["generation"] ==
          g + 2);
    CHECK(table_owners(obs, 0).count(b3) == 1);
    c.ok("backend.weight", {{"service", "web"}, {"address", "10.0.0.3"}, {"weight", 0}});
    CHECK(table_owners(obs, 0).count(b3) == 0);
    c.ok("backend.del", {{"service", "web"}, {"address", "10.0.0.1"}});
    CHECK(c.ok("backend.list", {{"service", "web"}})["backends"].size() == 2);

    // A whole service, with IPv6 VIP, all ports, GUE to an IPv4 backend.
    json svc = {{"name", "dns"},
                {"vip", "2001:db8::53"},
                {"port", "all"},
                {"protocol", "udp"},
                {"hash", "src-ip"},
                {"forwarding", "gue"},
                {"table_size", 101},
                {"health", {{"type", "none"}}},
                {"backends", json::array({{{"address", "10.0.1.1"}}})}};
    c.ok("service.add", svc);
    const json show = c.ok("service.show", {{"name", "dns"}})["service"];
    CHECK(show["port"] == 0);
    CHECK(show["hash"] == "src-ip");
    CHECK(show["source"] == "api");
    const json lk = c.ok("lookup", {{"service", "dns"}, {"src", "2001:db8::99"}, {"dport", 5353}});
    CHECK(lk["backend"] == "10.0.1.1");
    c.ok("backend.add", {{"service", "dns"}, {"address", "10.0.1.2"}});
    CHECK(c.ok("backend.list", {{"service", "dns"}})["backends"].size() == 2);
    c.ok("service.del", {{"name", "dns"}});
    CHECK(c.call("service.show", {{"name", "dns"}})["error"]["code"] == "not_found");
    c.ok("service.del", {{"name", "web"}});
    CHECK(c.ok("service.list")["services"].empty());
}

TEST_CASE("a change to a file's backend is kept as the fields that differ from the file", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    const std::string state = f.dir.file("state/state.json");
    // The state file's change for web's 10.0.0.2 (null: none), with no
    // other change in it.
    auto change = [&]() {
        const json changes = json::parse(read_file(state))["backend_changes"];
        REQUIRE(changes.size() <= 1);
        return changes.empty() ? json(nullptr) : changes[0];
    };
    const uint32_t file_weight =
        c.ok("backend.list", {{"service", "web"}})["backends"][1]["weight"];
    const json key = {{"service", "web"}, {"address", "10.0.0.2"}};

    c.ok("backend.drain", key);
    json e = change();
    CHECK(e == json{{"service", "web"}, {"address", "10.0.0.2"}, {"state", "drained"}});
    json w = key;
    w["weight"] = file_weight + 7;
    c.ok("backend.weight", w);
    e = change();
    CHECK(e["state"] == "drained");
    CHECK(e["weight"] == file_weight + 7);
    CHECK_FALSE(e.contains("mac"));
    c.ok("backend.undrain", key);
    e = change();
    CHECK_FALSE(e.contains("state"));
    CHECK(e["weight"] == file_weight + 7);
    // back to the file's weight: nothing left to keep
    w["weight"] = file_weight;
    c.ok("backend.weight", w);
    CHECK(change() == nullptr);
    const json b = c.ok("backend.list", {{"service", "web"}})["backends"][1];
    CHECK(b["state"] == "active");
    CHECK(b["weight"] == file_weight);
}

TEST_CASE("every error path answers with its code and changes nothing", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    const uint64_t g = c.ok("status")["generation"];
    const std::string state_before = read_file(f.dir.file("state/state.json"));

    expect_error(c, c.raw("{not json"), "bad_request", "malformed JSON", g);
    expect_error(c, c.raw("[1,2]"), "bad_request", "a request is a JSON object", g);
    expect_error(c, c.raw(R"({"id": 5, "cmd": "status"})"), "bad_version", "missing \"v\"", g);
    json r = c.raw(R"({"v": 2, "id": "x", "cmd": "status"})");
    CHECK(r["id"] == "x");
    expect_error(c, r, "bad_version", "API version 2 is not supported", g);
    expect_error(c, c.raw(R"({"v": 1, "id": 1})"), "bad_request", "missing or non-string \"cmd\"",
                 g);
    expect_error(c, c.raw(R"({"v": 1, "cmd": "status", "args": [1]})"), "bad_request",
                 "\"args\" must be an object", g);
    expect_error(c, c.raw(R"({"v": 1, "cmd": "status", "extra": 1})"), "bad_request",
                 "unknown request field \"extra\"", g);
    expect_error(c, c.call("service.explode"), "unknown_command",
                 "unknown command \"service.explode\"", g);
    expect_error(c, c.call("status", {{"verbose", true}}), "bad_request",
                 "unknown argument \"verbose\"", g);
    expect_error(c, c.call("service.show", {{"name", "nope"}}), "not_found",
                 "service 'nope' does not exist", g);
    expect_error(c, c.call("service.show", {{"name", 3}}), "bad_request",
                 "argument \"name\" must be a string", g);
    expect_error(c, c.call("service.show"), "bad_request", "missing argument \"name\"", g);
    expect_error(c, c.call("backend.add", {{"service", "nope"}, {"address", "10.0.0.9"}}),
                 "not_found", "service 'nope' does not exist", g);
    expect_error(
        c,
        c.call("backend.add",
               {{"service", "web"}, {"address", "10.0.0.1"}, {"mac", "02:00:00:00:00:09"}}),
        "exists", "backend 10.0.0.1 of service 'web' exists", g);
    expect_error(c, c.call("backend.add", {{"service", "web"}, {"address", "10.0.0.999"}}),
                 "bad_request", "backend.address: \"10.0.0.999\" is not an IPv4 or IPv6 address",
                 g);
    expect_error(c, c.call("backend.add", {{"service", "web"}}), "bad_request",
                 "missing argument \"address\"", g);
    expect_error(c,
                 c.call("backend.add", {{"service", "web"},
                                        {"address", "10.0.0.9"},
                                        {"mac", "02:00:00:00:00:09"},
                                        {"weight", 70000}}),
                 "bad_request", "backend.weight: 70000 is out of range 0..65535", g);
    expect_error(c, c.call("backend.add", {{"service", "web"}, {"address", "10.0.0.9"}}), "invalid",
                 "service[web].backend[10.0.0.9].mac: required for forwarding = \"dsr-l2\"", g);
    expect_error(c, c.call("backend.del", {{"service", "web"}, {"address", "10.0.0.9"}}),
                 "not_found", "service 'web' has no backend 10.0.0.9", g);
    expect_error(c, c.call("backend.drain", {{"service", "web"}, {"address", "bad"}}),
                 "bad_request", "address: \"bad\" is not an IPv4 or IPv6 address", g);
    expect_error(
        c, c.call("backend.weight", {{"service", "web"}, {"address", "10.0.0.1"}, {"weight", -1}}),
        "bad_request", "weight must be an integer 0..65535", g);
    expect_error(
        c, c.call("backend.weight", {{"service", "web"}, {"address", "10.0.0.1"}, {"weight", "9"}}),
        "bad_request", "weight must be an integer 0..65535", g);
    json dup = {{"name", "web"}, {"vip", "192.0.2.9"}, {"port", 80}};
    expect_error(c, c.call("service.add", dup), "exists", "service 'web' exists", g);
    json clash = {{"name", "web2"}, {"vip", "192.0.2.1"}, {"port", 80}};
    expect_error(c, c.call("service.add", clash), "invalid",
                 "service[web2].vip: 192.0.2.1 port 80 tcp is already served by service[web] "
                 "\"web\" (line 10)",
                 g);
    json typo = {{"name", "x"}, {"vip", "192.0.2.9"}, {"port", 80}, {"protocl", "tcp"}};
    expect_error(c, c.call("service.add", typo), "bad_request", "service.protocl: unknown key", g);
    json notprime = {{"name", "x"}, {"vip", "192.0.2.9"}, {"port", 80}, {"table_size", 100}};
    expect_error(c, c.call("service.add", notprime), "invalid",
                 "service[x].table_size: 100 is not a prime (the next prime is 101)", g);
    expect_error(c, c.call("lookup", {{"service", "web"}, {"src", "2001:db8::1"}}), "bad_request",
                 "src and dst must be of the same address family", g);
    expect_error(c, c.call("lookup", {{"service", "web"}, {"src", "10.1.1.1"}, {"sport", 70000}}),
                 "bad_request", "sport must be an integer 0..65535", g);
    expect_error(c, c.call("check", {{"path", f.dir.file("absent.toml")}}), "invalid",
                 "absent.toml: cannot read", g);
    CHECK(read_file(f.dir.file("state/state.json")) == state_before);
    CHECK(c.ok("backend.list", {{"service", "web"}})["backends"].size() == 2);
}

TEST_CASE("a request not received completely within 5 s gets timeout", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    const std::string partial = R"({"v": 1, "cmd": "sta)";
    REQUIRE(::send(c.fd(), partial.data(), partial.size(), MSG_NOSIGNAL) > 0);
    std::string got;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {
            char buf[1024];
            const ssize_t n = ::recv(c.fd(), buf, sizeof(buf), 0);
            if (n <= 0) {
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
    }
    const json r = json::parse(got.substr(0, got.find('\n')));
    CHECK(r["error"]["code"] == "timeout");
}

TEST_CASE("the socket is created with the configured mode", "[api]") {
    Fixture f("socket_mode = \"0640\"\n");
    struct stat st {};
    REQUIRE(::stat(f.dir.file("ctl.sock").c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("reload: a good file is applied, a bad one leaves the old state serving", "[api]") {
    Fixture f;
    Client c(f.dir.file("ctl.sock"));
    Region obs = Region::open(f.instance, Region::Role::Observer);
    const uint64_t g = c.ok("status")["generation"];
    // An API change survives reloads (docs/CONFIG.md).
    c.ok("backend.drain", {{"service", "web"}, {"address", "10.0.0.2"}});

    // A bad file: refused with FILE:LINE: field: reason; tables untouched.
    const std::string good = read_file(f.config);
    write_file(f.config, good + "[[service.backend]]\naddress = \"10.0.0.7\"\n");
    const auto before = table_owners(obs, 0);
    const json bad = c.call("reload");
    CHECK(bad["error"]["code"] == "invalid");
    CHECK(bad["error"]["message"] ==
          f.config + ":23: service[0].backend[2].mac: required for forwarding = \"dsr-l2\"");
    CHECK(c.ok("status")["generation"] == g + 1);
    CHECK(table_owners(obs, 0) == before);
    CHECK(c.ok("backend.list", {{"service", "web"}})["backends"].size() == 2);
    // The check command says the same without touching anything.
    CHECK(c.call("check", {{"path", f.config}})["error"]["message"] == bad["error"]["message"]);

    // A good file: a third backend appears; the API's drain still holds.
    write_file(f.config,
               good + "[[service.backend]]\naddress = \"10.0.0.7\"\nmac = \"02:00:00:00:00:07\"\n");
    CHECK(c.ok("check", {{"path", f.config}})["ok"] == true);
    const json ok = c.ok("reload");
    CHECK(ok["generation"] == g + 2);
    const json bl = c.ok("backend.list", {{"service", "web"}})["backends"];
    REQUIRE(bl.size() == 3);
    CHECK(bl[1]["state"] == "drained");

    // SIGHUP does the same as the reload command.
    write_file(f.config, good);
    f.daemon.hup();
    CHECK(wait_until([&] {
        return c.ok("backend.list", {{"service", "web"}})["backends"].size() == 2;
    }));
    CHECK(c.ok("status")["generation"] == g + 3);
    // A bad file on SIGHUP: logged, old state serving.
    write_file(f.config, "[[service]\n");
    f.daemon.hup();
    CHECK(wait_until([&] {
        return read_file(f.dir.file("daemon.log")).find("reload refused") != std::string::npos;
    }));
    CHECK(c.ok("status")["generation"] == g + 3);
}

TEST_CASE("sluice-control --check exits 0 or 1 with FILE:LINE: field: reason", "[api]") {
    TempDir dir;
    const std::string good = dir.file("good.toml");
    const std::string bad = dir.file("bad.toml");
    write_file(good, config_head(dir, instance_name("check")) + kWebService);
    std::string text = config_head(dir, instance_name("check")) + kWebService;
    text.replace(text.find("table_size = 251"), 16, "table_size = 100");
    write_file(bad, text);
    auto run = [&](const std::string &file) {
        const std::string cmd = std::string(SLUICE_CONTROL_BIN) + " --check " + file + " 2>" +
                                dir.file("err") + " >" + dir.file("out");
        const int st = std::system(cmd.c_str());
        return WEXITSTATUS(st);
    };
    CHECK(run(good) == 0);
    CHECK(read_file(dir.file("out")) == good + ": ok\n");
    CHECK(run(bad) == 1);
    CHECK(read_file(dir.file("err")) ==
          bad + ":10: service[0].table_size: 100 is not a prime (the next prime is 101)\n");
}

TEST_CASE("a second sluice-control on the instance stops before it writes anything", "[api]") {
    Fixture f;
    Region obs = Region::open(f.instance, Region::Role::Observer);
    Client c(f.dir.file("ctl.sock"));
    c.ok("backend.drain", {{"service", "web"}, {"address", "10.0.0.1"}});
    const uint64_t g = obs.generation();
    const uint64_t published_at = obs.header()->publish_ns;
    // Another config for the same instance, with a socket and a state
    // directory of its own: only the region tells the two apart.
    TempDir other;
    const std::string config = other.file("sluice.toml");
    write_file(config, config_head(other, f.instance) + kWebService);
    const std::string cmd = "timeout 20 " + std::string(SLUICE_CONTROL_BIN) + " --config " +
                            config + " 2>" + other.file("err");
    const int st = std::system(cmd.c_str());
    CHECK(WEXITSTATUS(st) == 1);
    CHECK_THAT(read_file(other.file("err")),
               Catch::Contains("another sluice-control (pid " + std::to_string(f.daemon.pid()) +
                               ") writes the region /dev/shm/sluice-" + f.instance));
    CHECK(obs.generation() == g);
    CHECK(obs.header()->publish_ns == published_at);
    CHECK(::access(other.file("state").c_str(), F_OK) != 0);
    // The first one's tables as it published them: the drained backend is
    // still out.
    CHECK(c.ok("backend.list", {{"service", "web"}})["backends"][0]["state"] == "drained");
    CHECK(c.ok("status")["generation"] == g);
    // Once the first one is gone (killed: the kernel drops its lock), the
    // second starts.
    f.daemon.kill9();
    DaemonProcess second(config, other.file("ctl.sock"), other.file("daemon.log"));
    second.start();
    Client c2(other.file("ctl.sock"));
    CHECK(c2.ok("status")["generation"].get<uint64_t>() > g);
    second.kill9();
}

TEST_CASE("a connection beyond the 64 served at once is answered busy and closed", "[api]") {
    Fixture f;
    auto connect_raw = [&] { return connect_unix(f.dir.file("ctl.sock")); };
    // What the daemon sends on fd within 2 s, up to its closing it.
    auto read_all = [](int fd) { return read_until_closed(fd, std::chrono::seconds(2)); };
    std::vector<std::unique_ptr<Client>> open;
    for (int i = 0; i < 63; i++) {
        open.push_back(std::make_unique<Client>(f.dir.file("ctl.sock")));
    }
    // A connection closed just before the 64th is opened does not count,
    // though its thread may not have seen the end yet.
    ::close(connect_raw());
    open.push_back(std::make_unique<Client>(f.dir.file("ctl.sock")));
    open.back()->ok("status"); // served: the 64th
    const int extra = connect_raw();
    const json busy = json::parse(read_all(extra));
    ::close(extra);
    CHECK(busy["ok"] == false);
    CHECK(busy["error"]["code"] == "busy");
    CHECK_THAT(busy["error"]["message"].get<std::string>(),
               Catch::Contains("64 connections are open already"));
    open.front()->ok("status"); // the open ones still served
    open.clear();
    // Once they are closed, new ones are served again.
    REQUIRE(wait_until([&] {
        const int fd = connect_raw();
        const std::string req = R"({"v": 1, "id": 1, "cmd": "status"})"
                                "\n";
        (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        const std::string reply = read_all(fd);
        ::close(fd);
        return reply.find("\"ok\":true") != std::string::npos;
    }));
}
