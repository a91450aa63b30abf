// The reconciliation rule of docs/CONFIG.md ("Config file and API changes"):
// the overlay of API changes on top of the file, and what a reload drops.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "state.hpp"

using namespace sluice::control;
using sluice::config::parse;

namespace {

const std::string kFile = R"(seed = "00112233445566778899aabbccddeeff"
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
[service.health]
type = "none"
[[service.backend]]
address = "10.0.0.1"
mac = "02:00:00:00:00:01"
[[service.backend]]
address = "10.0.0.2"
mac = "02:00:00:00:00:02"
)";

Address addr(const char *s) {
    return *sluice::config::parse_address(s);
}

const Backend *backend(const std::vector<Service> &v, const std::string &svc, const char *a) {
    for (const Service &s : v) {
        if (s.name == svc) {
            for (const Backend &b : s.backends) {
                if (b.address == addr(a)) {
                    return &b;
                }
            }
        }
    }
    return nullptr;
}

} // namespace

TEST_CASE("overrides are kept per field and dropped when the file agrees", "[state]") {
    const auto file = parse(kFile, "f").services;
    Overlay o;
    BackendChange drain;
    drain.state = "drained";
    o.backends[{"web", addr("10.0.0.1")}] = drain;
    BackendChange w;
    w.weight = 5;
    o.backends[{"web", addr("10.0.0.2")}] = w;
    auto run = apply_overlay(file, o);
    CHECK(backend(run, "web", "10.0.0.1")->state == "drained");
    CHECK(backend(run, "web", "10.0.0.2")->weight == 5);

    // The file now says weight 5 for .2 and weight 300 for .1.
    std::string next = kFile;
    next.replace(next.find("mac = \"02:00:00:00:00:02\""), 25,
                 "mac = \"02:00:00:00:00:02\"\nweight = 5");
    next.replace(next.find("mac = \"02:00:00:00:00:01\""), 25,
                 "mac = \"02:00:00:00:00:01\"\nweight = 300");
    const auto file2 = parse(next, "f").services;
    prune_overlay(o, file2);
    CHECK(o.backends.count({"web", addr("10.0.0.2")}) == 0); // the file agrees: dropped
    run = apply_overlay(file2, o);
    CHECK(backend(run, "web", "10.0.0.1")->state == "drained"); // still drained
    CHECK(backend(run, "web", "10.0.0.1")->weight == 300);      // the file's new weight
}

TEST_CASE("API additions give way to the file; deletions end when the file drops it", "[state]") {
    const auto file = parse(kFile, "f").services;
    Overlay o;
    BackendChange add;
    add.kind = BackendChange::Kind::Added;
    add.added.address = addr("10.0.0.3");
    add.added.mac = sluice::config::parse_mac("02:00:00:00:00:03");
    add.added.weight = 9;
    o.backends[{"web", addr("10.0.0.3")}] = add;
    BackendChange del;
    del.kind = BackendChange::Kind::Deleted;
    o.backends[{"web", addr("10.0.0.2")}] = del;
    Service api = file[0];
    api.name = "api";
    api.vip = addr("192.0.2.2");
    o.services_added["api"] = api;
    auto run = apply_overlay(file, o);
    REQUIRE(run.size() == 2);
    CHECK(backend(run, "web", "10.0.0.2") == nullptr);
    CHECK(backend(run, "web", "10.0.0.3")->weight == 9);

    // The file now has 10.0.0.3 (weight 100), no 10.0.0.2, and a service "api".
    std::string next = kFile;
    next.replace(next.find("10.0.0.2"), 8, "10.0.0.3");
    next += "[[service]]\nname = \"api\"\nvip = \"192.0.2.3\"\nport = 81\n";
    const auto file2 = parse(next, "f").services;
    const auto log = prune_overlay(o, file2);
    CHECK(log.size() == 3);
    CHECK(o.backends.empty());
    CHECK(o.services_added.empty());
    run = apply_overlay(file2, o);
    CHECK(backend(run, "web", "10.0.0.3")->weight == 100);
    CHECK(run[1].vip == addr("192.0.2.3")); // the file's "api"
}

TEST_CASE("a deleted file service stays deleted; re-adding through the API replaces it",
          "[state]") {
    const auto file = parse(kFile, "f").services;
    Overlay o;
    o.services_deleted.insert("web");
    CHECK(apply_overlay(file, o).empty());
    prune_overlay(o, file);
    CHECK(o.services_deleted.count("web") == 1);
    Service again = file[0];
    again.port = 8080;
    o.services_added["web"] = again;
    prune_overlay(o, file);
    const auto run = apply_overlay(file, o);
    REQUIRE(run.size() == 1);
    CHECK(run[0].port == 8080);
    // The state file round-trips.
    PersistedState st{o, {}};
    assign_ids(st.ids, run);
    const PersistedState back = state_from_json(state_to_json(st));
    CHECK(state_to_json(back) == state_to_json(st));
    CHECK(back.overlay.services_added.at("web").port == 8080);
    CHECK(back.ids.backends == st.ids.backends);
}

TEST_CASE("ids: stable, lowest free for new, hints honoured when free", "[state]") {
    auto services = parse(kFile, "f").services;
    Ids ids;
    assign_ids(ids, services);
    CHECK(ids.backends.at({"web", addr("10.0.0.1")}) == 0);
    CHECK(ids.backends.at({"web", addr("10.0.0.2")}) == 1);
    services[0].backends.erase(services[0].backends.begin());
    Backend b;
    b.address = addr("10.0.0.9");
    services[0].backends.push_back(b);
    assign_ids(ids, services, {}, {{{"web", addr("10.0.0.9")}, 7}});
    CHECK(ids.backends.at({"web", addr("10.0.0.2")}) == 1);
    CHECK(ids.backends.at({"web", addr("10.0.0.9")}) == 7);
    CHECK(ids.backends.count({"web", addr("10.0.0.1")}) == 0);
}

TEST_CASE("a state file with an id out of range or given twice is refused", "[state]") {
    sluice::test::TempDir dir;
    const std::string path = dir.file("state.json");
    const auto services = parse(kFile, "f").services;
    PersistedState st;
    assign_ids(st.ids, services);
    const nlohmann::json good = state_to_json(st);
    sluice::test::write_file(path, good.dump());
    REQUIRE(load_state(path)->ids.backends == st.ids.backends);

    auto refused = [&](const nlohmann::json &bad, const std::string &what) {
        sluice::test::write_file(path, bad.dump());
        CHECK_THROWS_WITH(load_state(path), Catch::Contains("state file " + path + " is corrupt") &&
                                                Catch::Contains(what));
    };
    nlohmann::json bad = good;
    bad["ids"]["services"]["web"] = SL_MAX_SERVICES;
    refused(bad, "ids.services.web: id 1024 is out of range (service ids are 0 to 1023)");
    bad = good;
    bad["ids"]["backends"][1]["id"] = SL_MAX_BACKENDS;
    refused(bad, "ids.backends[1] (service web, address \"10.0.0.2\"): id 4096 is out of "
                 "range (backend ids are 0 to 4095)");
    bad["ids"]["backends"][1]["id"] = 65536; // not cut to 0
    refused(bad, "id 65536 is out of range");
    bad["ids"]["backends"][1]["id"] = -1;
    refused(bad, "id -1 is out of range");
    bad["ids"]["backends"][1]["id"] = bad["ids"]["backends"][0]["id"];
    refused(bad, "ids.backends[1] (service web, address \"10.0.0.2\"): id 0 is also the id of "
                 "ids.backends[0] (service web, address \"10.0.0.1\")");
}
