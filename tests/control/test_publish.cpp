// Publishing through the daemon's real path (Daemon::handle -> validate ->
// persist -> TablePublisher) while a dataplane worker reads with the
// dataplane's own reader code (sl_reader_begin_burst + sl_decide): no torn
// table is ever seen. Built again under ThreadSanitizer (tsan-control-publish).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <thread>
#include <unistd.h>

#include "daemon.hpp"
#include "harness.hpp"
#include "sluice/decide.h"
#include "sluice/maglev.hpp"
#include "tables.hpp"

using namespace sluice::test;
using sluice::Region;
using sluice::control::TableBackend;
using sluice::control::TablePublisher;
using sluice::control::TableService;

namespace {

struct ReaderStats {
    std::atomic<uint64_t> bursts{0};
    std::atomic<uint64_t> torn{0};
    std::atomic<uint64_t> decided{0};
    std::atomic<uint64_t> last_seen{0};
};

// Checks one burst's view: the service is found, every slot names an active
// backend of that service, the owner count matches, the generation is stable.
uint64_t check_view(const sl_tables *t, uint64_t seen, uint32_t salt, ReaderStats &st) {
    uint64_t bad = 0;
    const uint64_t gen = t->generation;
    uint8_t vip[16] = {192, 0, 2, 1};
    const int sid = sl_index_find(t, SL_AF_INET, vip, htons(80), SL_IPPROTO_TCP, SL_MATCH_PORT);
    if (sid < 0) {
        return 1;
    }
    const sl_service &s = t->services[sid];
    bool seen_id[SL_MAX_BACKENDS] = {};
    uint32_t distinct = 0;
    for (const uint16_t bid : sluice::maglev::read_table(*t, s)) {
        if (bid >= SL_MAX_BACKENDS || !(t->backends[bid].flags & SL_BACKEND_ACTIVE) ||
            t->backends[bid].service_id != sid) {
            bad++;
            continue;
        }
        if (!seen_id[bid]) {
            seen_id[bid] = true;
            distinct++;
        }
    }
    if (s.table_size != 0 && distinct != s.n_backends) {
        bad++;
    }
    // The packet decision the dataplane makes, on this view.
    sl_pkt pkt{};
    pkt.key.family = SL_AF_INET;
    pkt.key.proto = SL_IPPROTO_TCP;
    std::memcpy(pkt.key.dst, vip, 4);
    pkt.key.dport = htons(80);
    pkt.key.src[0] = 10;
    std::memcpy(pkt.key.src + 1, &salt, 3);
    pkt.key.sport = static_cast<uint16_t>(salt);
    const sl_decision d = sl_decide(t, &pkt);
    if (s.table_size != 0) {
        bad += d.drop != SL_DROP_NONE;
        st.decided.fetch_add(1, std::memory_order_relaxed);
    }
    if (t->generation != gen || gen != seen) {
        bad++;
    }
    return bad;
}

} // namespace

TEST_CASE("publishing through the daemon while a worker reads: no torn table", "[publish]") {
    TempDir dir;
    const std::string instance = instance_name("publish");
    RegionGuard unlink_region{instance};
    std::string services = R"([[service]]
name = "web"
vip = "192.0.2.1"
port = 80
table_size = 4099
[service.health]
type = "none"
)";
    for (int i = 1; i <= 8; i++) {
        services += "[[service.backend]]\naddress = \"10.0.0." + std::to_string(i) +
                    "\"\nmac = \"02:00:00:00:00:0" + std::to_string(i) + "\"\n";
    }
    const std::string config = dir.file("sluice.toml");
    write_file(config, config_head(dir, instance) + services);

    // The worker registers in the region before the daemon publishes.
    Region dp = Region::open(instance, Region::Role::Dataplane);
    sl_worker_state &ws = register_worker(dp);

    std::atomic<bool> stop{false};
    ReaderStats st;
    std::thread reader([&] {
        uint64_t seen = 0;
        uint32_t salt = 1;
        while (!stop.load(std::memory_order_relaxed)) {
            const sl_tables *t = sl_reader_begin_burst(dp.header(), dp.base(), &ws, &seen);
            if (t == nullptr) {
                continue;
            }
            st.torn.fetch_add(check_view(t, seen, salt++, st), std::memory_order_relaxed);
            st.bursts.fetch_add(1, std::memory_order_relaxed);
            st.last_seen.store(seen, std::memory_order_relaxed);
        }
        __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
    });

    uint64_t last = 0;
    {
        sluice::control::Daemon daemon(config);
        const auto deadline = [] {
            return std::chrono::steady_clock::now() + std::chrono::seconds(5);
        };
        using nlohmann::json;
        constexpr int kRounds = 60;
        for (int r = 0; r < kRounds; r++) {
            const std::string a = "10.0.0." + std::to_string(1 + r % 8);
            const std::string n = "10.0.1." + std::to_string(r % 50);
            daemon.handle("backend.drain", {{"service", "web"}, {"address", a}}, deadline());
            daemon.handle("backend.weight",
                          {{"service", "web"},
                           {"address", "10.0.0." + std::to_string(1 + (r + 3) % 8)},
                           {"weight", 1 + r % 200}},
                          deadline());
            daemon.handle("backend.add",
                          {{"service", "web"}, {"address", n}, {"mac", "02:00:00:00:01:01"}},
                          deadline());
            daemon.handle("backend.undrain", {{"service", "web"}, {"address", a}}, deadline());
            last = daemon.handle("backend.del", {{"service", "web"}, {"address", n}},
                                 deadline())["generation"];
        }
        REQUIRE(last >= 1 + 5 * kRounds);
    }
    REQUIRE(wait_until([&] { return st.last_seen.load() == last; }));
    stop = true;
    reader.join();
    INFO("bursts " << st.bursts.load() << ", decisions " << st.decided.load());
    CHECK(st.torn.load() == 0);
    CHECK(st.bursts.load() > 0);
    CHECK(st.decided.load() > 0);
}

TEST_CASE("a table that finds no room in the fragmented arena: the retry lands in free space",
          "[tables]") {
    const std::string instance = instance_name("arena");
    RegionGuard unlink_region{instance};
    Region region = Region::open(instance, Region::Role::Control);
    TablePublisher tables(region, sl_hash_seed{1, 2}, 6080);

    // 16 tables of nearly 1/16 of the arena each fill it; a 17th of the
    // largest size is more than any one of them. 17 backends each: packed
    // in 8-bit entries (region.h), a table of m slots takes a list of 256
    // words and m / 2 words.
    constexpr uint16_t kPer = 17;
    uint32_t m = 2 * (SL_TABLE_ARENA_ENTRIES / 16 - 256);
    while (!sluice::maglev::is_prime(m)) {
        m--;
    }
    const uint64_t words = 256 + sl_table_words(m, 8);
    REQUIRE(16 * words <= SL_TABLE_ARENA_ENTRIES);
    REQUIRE(256 + sl_table_words(SL_MAX_TABLE_SIZE, 8) > words);
    constexpr uint16_t kBig = 16;
    std::vector<sluice::config::Service> svc(kBig + 1);
    for (uint16_t i = 0; i <= kBig; i++) {
        svc[i].name = "s" + std::to_string(i);
        svc[i].vip = *sluice::config::parse_address("192.0.2.1");
        svc[i].port = static_cast<uint16_t>(1000 + i);
        svc[i].table_size = i == kBig ? SL_MAX_TABLE_SIZE : m;
    }
    auto input = [&](const std::set<uint16_t> &ids) {
        std::vector<TableService> out;
        for (uint16_t id : ids) {
            TableService ts{id, &svc[id], {}};
            for (uint16_t k = 0; k < kPer; k++) {
                const std::string a = "10.0." + std::to_string(id) + "." + std::to_string(k + 1);
                ts.backends.push_back(TableBackend{static_cast<uint16_t>(kPer * id + k),
                                                   *sluice::config::parse_address(a),
                                                   {},
                                                   1});
            }
            out.push_back(std::move(ts));
        }
        return out;
    };
    const auto deadline = std::chrono::milliseconds(2000);
    std::set<uint16_t> ids;
    for (uint16_t i = 0; i < kBig; i++) {
        ids.insert(i);
    }
    tables.publish(input(ids), deadline);

    // Three holes of one table each, none next to another: room for three,
    // but not in one piece.
    ids.erase(1);
    ids.erase(3);
    ids.erase(5);
    ids.insert(kBig);
    CHECK_THROWS_WITH(tables.publish(input(ids), deadline), Catch::Contains("fragmented"));
    // Retried unchanged, it fails the same way and publishes nothing.
    const uint64_t before = region.generation();
    CHECK_THROWS_WITH(tables.publish(input(ids), deadline), Catch::Contains("fragmented"));
    CHECK(region.generation() == before);
    CHECK(tables.table_of(kBig) == nullptr);

    // The operator frees room: 1..3 become one hole of three tables.
    ids.erase(2);
    const uint64_t g = tables.publish(input(ids), deadline).generation;
    const sl_tables *t = region.published();
    REQUIRE(t != nullptr);
    REQUIRE(t->generation == g);
    std::vector<std::pair<uint32_t, uint16_t>> ranges; // (offset, service id)
    for (uint16_t id : ids) {
        const sl_service &s = t->services[id];
        const std::vector<uint16_t> *want = tables.table_of(id);
        REQUIRE(want != nullptr);
        REQUIRE(s.table_size == svc[id].table_size);
        REQUIRE(s.entry_bits == 8);
        REQUIRE(sl_table_in_arena(&s));
        REQUIRE(s.table_offset == s.list_offset + 256);
        INFO("service " << id << " at " << s.list_offset);
        CHECK(sluice::maglev::read_table(*t, s) == *want);
        ranges.emplace_back(s.list_offset, id);
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); i++) {
        const auto [off, id] = ranges[i - 1];
        INFO("service " << id << " at " << off << ", service " << ranges[i].second << " at "
                        << ranges[i].first);
        const sl_service &s = t->services[id];
        CHECK(s.table_offset + sl_table_words(s.table_size, s.entry_bits) <= ranges[i].first);
    }
    CHECK(t->services[kBig].list_offset == words); // first fit: where service 1 was
}

TEST_CASE("a change and a reload that cannot be published in time: timeout, nothing changed",
          "[publish]") {
    TestInstance t("stuck");
    auto &[dir, instance, unlink_region, config] = t;
    sluice::control::Daemon daemon(config);
    const uint64_t g = daemon.generation();
    REQUIRE(g >= 1);
    const std::string state = read_file(dir.file("state/state.json"));

    // A live worker that never gets past generation 0: the next publish
    // waits for it until the request's deadline.
    Region dp = Region::open(instance, Region::Role::Dataplane);
    sl_worker_state &ws = register_worker(dp);
    auto expect_timeout = [&](const std::string &cmd, const nlohmann::json &args,
                              const std::string &not_done) {
        INFO(cmd);
        try {
            daemon.handle(cmd, args,
                          std::chrono::steady_clock::now() + std::chrono::milliseconds(300));
            FAIL("no error");
        } catch (const sluice::control::ApiError &e) {
            CHECK(e.code == "timeout");
            CHECK_THAT(e.what(), Catch::StartsWith(not_done));
        }
        CHECK(daemon.generation() == g);
        CHECK(read_file(dir.file("state/state.json")) == state);
    };
    expect_timeout("backend.drain", {{"service", "web"}, {"address", "10.0.0.1"}},
                   "the change was not made: ");
    write_file(config, read_file(config) + "[[service.backend]]\naddress = \"10.0.0.3\"\n"
                                           "mac = \"02:00:00:00:00:03\"\n");
    expect_timeout("reload", nlohmann::json::object(), "reload not done: ");
    const auto list = daemon.handle("backend.list", {{"service", "web"}},
                                    std::chrono::steady_clock::now() + std::chrono::seconds(5));
    REQUIRE(list["backends"].size() == 2);
    for (const auto &b : list["backends"]) {
        CHECK(b["state"] == "active"); // the drain was not made
    }

    // The worker stops: the reload goes through.
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
    const auto later = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(5); };
    CHECK(daemon.handle("reload", nlohmann::json::object(), later())["generation"] > g);
    CHECK(daemon.handle("backend.list", {{"service", "web"}}, later())["backends"].size() == 3);
}
