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

using namespace sluice::test;
using sluice::Region;

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
    for (uint32_t i = 0; i < s.table_size; i++) {
        const uint16_t bid = t->arena[s.table_offset + i];
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
    sl_worker_state &ws = dp.dp_rw()->workers[0];
    ws.pid = getpid();
    ws.lcore = 1;
    __atomic_store_n(&ws.observed_generation, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_RUNNING), __ATOMIC_RELEASE);

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
