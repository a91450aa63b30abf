// Persistence: a change acknowledged by the daemon survives kill -9 right
// after the reply; ids are stable across restarts; a lost state file is
// reconciled with what the region holds (ids adopted from the published
// tables); a change whose state file cannot be made durable is refused and
// leaves the file as it was.
#include <catch2/catch.hpp>

#include <cstdio>

#include "harness.hpp"

using namespace sluice::test;
using sluice::Region;

namespace {

std::map<std::string, uint16_t> ids_of(Client &c, const std::string &service) {
    std::map<std::string, uint16_t> out;
    const json list = c.ok("backend.list", {{"service", service}});
    for (const json &b : list["backends"]) {
        out[b["address"]] = b["id"];
    }
    return out;
}

} // namespace

TEST_CASE("kill -9 right after an acknowledged change: the change is there after restart",
          "[persist]") {
    TestInstance t("persist");
    auto &[dir, instance, unlink_region, config] = t;
    DaemonProcess daemon(config, dir.file("ctl.sock"), dir.file("daemon.log"));
    daemon.start();
    uint64_t acked = 0;
    {
        Client c(dir.file("ctl.sock"));
        c.ok("backend.drain", {{"service", "web"}, {"address", "10.0.0.1"}});
        c.ok("service.add", {{"name", "dns"},
                             {"vip", "192.0.2.53"},
                             {"port", 53},
                             {"protocol", "udp"},
                             {"forwarding", "ipip"},
                             {"table_size", 13},
                             {"backends", json::array({{{"address", "10.0.9.1"}}})}});
        acked = c.ok("backend.add", {{"service", "web"},
                                     {"address", "10.0.0.3"},
                                     {"mac", "02:00:00:00:00:03"},
                                     {"weight", 7}})["generation"];
        daemon.kill9(); // right after the reply
    }
    REQUIRE(acked > 0);
    daemon.start();
    Client c(dir.file("ctl.sock"));
    const json bl = c.ok("backend.list", {{"service", "web"}});
    REQUIRE(bl["backends"].size() == 3);
    CHECK(bl["backends"][0]["state"] == "drained");
    CHECK(bl["backends"][2]["address"] == "10.0.0.3");
    CHECK(bl["backends"][2]["weight"] == 7);
    CHECK(c.ok("service.show", {{"name", "dns"}})["service"]["forwarding"] == "ipip");
    // Republished on start: a new generation after the acknowledged one.
    CHECK(c.ok("status")["generation"].get<uint64_t>() > acked);
    Region obs = Region::open(instance, Region::Role::Observer);
    const auto owners = table_owners(obs, 0);
    const auto now = ids_of(c, "web");
    CHECK(owners == std::set<uint16_t>{now.at("10.0.0.2"), now.at("10.0.0.3")});

    // Ids are stable across a restart.
    const auto before = ids_of(c, "web");
    daemon.kill9();
    daemon.start();
    Client c2(dir.file("ctl.sock"));
    CHECK(ids_of(c2, "web") == before);
    daemon.kill9();
}

TEST_CASE("many changes, each followed by kill -9: none is lost", "[persist]") {
    TestInstance t("persist-loop");
    auto &[dir, instance, unlink_region, config] = t;
    DaemonProcess daemon(config, dir.file("ctl.sock"), dir.file("daemon.log"));
    for (int i = 0; i < 5; i++) {
        daemon.start();
        Client c(dir.file("ctl.sock"));
        CHECK(c.ok("backend.list", {{"service", "web"}})["backends"].size() == 2u + i);
        c.ok("backend.add", {{"service", "web"},
                             {"address", "10.0.5." + std::to_string(i + 1)},
                             {"mac", "02:00:00:00:05:01"}});
        daemon.kill9();
    }
    daemon.start();
    Client c(dir.file("ctl.sock"));
    CHECK(c.ok("backend.list", {{"service", "web"}})["backends"].size() == 7u);
    daemon.kill9();
}

TEST_CASE("a lost state file: ids are taken from what the region holds", "[persist]") {
    TestInstance t("reconcile");
    auto &[dir, instance, unlink_region, config] = t;
    DaemonProcess daemon(config, dir.file("ctl.sock"), dir.file("daemon.log"));
    daemon.start();
    std::map<std::string, uint16_t> before;
    {
        Client c(dir.file("ctl.sock"));
        // 10.0.0.1 (id 0) leaves, 10.0.0.3 takes the lowest free id (0).
        c.ok("backend.del", {{"service", "web"}, {"address", "10.0.0.1"}});
        c.ok("backend.add",
             {{"service", "web"}, {"address", "10.0.0.3"}, {"mac", "02:00:00:00:00:03"}});
        before = ids_of(c, "web");
    }
    CHECK(before.at("10.0.0.3") == 0);
    CHECK(before.at("10.0.0.2") == 1);
    daemon.kill9();
    // The operator writes the current set into the file and the state file is lost.
    std::string text = config_head(dir, instance) + kWebService;
    text.replace(text.find("10.0.0.1"), 8, "10.0.0.3");
    write_file(config, text);
    REQUIRE(std::remove(dir.file("state/state.json").c_str()) == 0);
    daemon.start();
    Client c(dir.file("ctl.sock"));
    CHECK(ids_of(c, "web") == before); // not renumbered to file order
    CHECK_THAT(read_file(dir.file("daemon.log")), Catch::Contains("republishing"));
    daemon.kill9();
}

TEST_CASE("the state file's directory cannot be synced: the change is refused and the file keeps "
          "the state in effect",
          "[persist]") {
    TestInstance t("persist-dirsync");
    auto &[dir, instance, unlink_region, config] = t;
    const std::string trigger = dir.file("fail-dir-fsync");
    // The daemon starts with the shim preloaded (fail_fsync.c); fsync of a
    // directory fails while `trigger` exists, after the rename of the new
    // state file.
    REQUIRE(setenv("LD_PRELOAD", SLUICE_FAIL_FSYNC_LIB, 1) == 0);
    REQUIRE(setenv("SLUICE_TEST_FAIL_DIR_FSYNC", trigger.c_str(), 1) == 0);
    DaemonProcess daemon(config, dir.file("ctl.sock"), dir.file("daemon.log"));
    daemon.start();
    unsetenv("LD_PRELOAD");
    unsetenv("SLUICE_TEST_FAIL_DIR_FSYNC");
    const std::string state = dir.file("state/state.json");
    {
        Client c(dir.file("ctl.sock"));
        c.ok("backend.drain", {{"service", "web"}, {"address", "10.0.0.1"}});
        const std::string before = read_file(state);
        write_file(trigger, "");
        const json reply =
            c.call("backend.add",
                   {{"service", "web"}, {"address", "10.0.0.3"}, {"mac", "02:00:00:00:00:03"}});
        CHECK(reply["error"]["code"] == "persist_failed");
        CHECK_THAT(reply["error"]["message"].get<std::string>(),
                   Catch::Contains("fsync directory"));
        // Not the renamed file with 10.0.0.3, which the daemon went on
        // without: a restart would have brought it in.
        CHECK(read_file(state) == before);
        CHECK(c.ok("backend.list", {{"service", "web"}})["backends"].size() == 2);
        REQUIRE(std::remove(trigger.c_str()) == 0);
        c.ok("backend.add",
             {{"service", "web"}, {"address", "10.0.0.4"}, {"mac", "02:00:00:00:00:04"}});
    }
    daemon.kill9();
    daemon.start();
    Client c(dir.file("ctl.sock"));
    const json bl = c.ok("backend.list", {{"service", "web"}});
    REQUIRE(bl["backends"].size() == 3);
    CHECK(bl["backends"][0]["state"] == "drained");
    CHECK(bl["backends"][2]["address"] == "10.0.0.4");
    daemon.kill9();
}
