// The shared region: roles, ABI checks, and the publishing protocol with a
// reader that uses the dataplane's own reader code (sl_reader_begin_burst).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "sluice/region_map.hpp"

using sluice::Region;

namespace {

std::string test_instance(const char *what) {
    return std::string("test-") + what + "-" + std::to_string(getpid());
}

struct Unlink {
    std::string instance;
    ~Unlink() { Region::unlink(instance); }
};

// Fill a copy so that every byte a reader checks is derived from `gen`.
void fill(sl_tables *t, uint64_t gen, uint32_t table_size) {
    t->n_services = 1;
    sl_service &s = t->services[0];
    s.table_offset = 0;
    s.table_size = table_size;
    s.n_backends = static_cast<uint16_t>(gen % 4096);
    for (uint32_t i = 0; i < table_size; i++) {
        t->arena[i] = static_cast<uint16_t>(gen % 4096);
    }
}

} // namespace

TEST_CASE("one writer per role: the writer lock", "[region]") {
    const std::string inst = test_instance("writer");
    Unlink cleanup{inst};
    CHECK_FALSE(Region::writer(inst, Region::Role::Control)); // no region
    {
        Region control = Region::open(inst, Region::Role::Control);
        Region dp = Region::open(inst, Region::Role::Dataplane);
        CHECK_FALSE(Region::writer(inst, Region::Role::Control));
        REQUIRE(control.try_lock_writer());
        REQUIRE(dp.try_lock_writer());  // the roles' locks are apart
        sluice::Publisher pub(control); // writes control_pid
        dp.dp_rw()->pid = 4242;
        CHECK(Region::writer(inst, Region::Role::Control) == getpid());
        CHECK(Region::writer(inst, Region::Role::Dataplane) == 4242);
        // A second writer of either role, in this process or another, is refused.
        Region control2 = Region::open(inst, Region::Role::Control);
        Region dp2 = Region::open(inst, Region::Role::Dataplane);
        CHECK_FALSE(control2.try_lock_writer());
        CHECK_FALSE(dp2.try_lock_writer());
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            Region c = Region::open(inst, Region::Role::Control);
            _exit(c.try_lock_writer() ? 1 : 0);
        }
        int status = 0;
        REQUIRE(waitpid(child, &status, 0) == child);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
        Region observer = Region::open(inst, Region::Role::Observer);
        CHECK_THROWS_AS(observer.try_lock_writer(), sluice::SysError);
    }
    // Released with the Region (and, by the kernel, with a process that dies).
    CHECK_FALSE(Region::writer(inst, Region::Role::Control));
    CHECK_FALSE(Region::writer(inst, Region::Role::Dataplane));
    Region again = Region::open(inst, Region::Role::Control);
    CHECK(again.try_lock_writer());
}

TEST_CASE("region roles map what they may write", "[region]") {
    const std::string inst = test_instance("roles");
    Unlink cleanup{inst};
    Region control = Region::open(inst, Region::Role::Control);
    Region dp = Region::open(inst, Region::Role::Dataplane);
    Region observer = Region::open(inst, Region::Role::Observer);
    sluice::Publisher pub(control);
    CHECK(control.header()->magic == SL_REGION_MAGIC);
    CHECK(dp.header()->magic == SL_REGION_MAGIC);
    CHECK(observer.generation() == 0);
    CHECK(observer.published() == nullptr);
    CHECK_THROWS_AS(dp.tables_rw(0), sluice::SysError);
    CHECK_THROWS_AS(control.dp_rw(), sluice::SysError);
    CHECK_THROWS_AS(observer.header_rw(), sluice::SysError);
    // The dataplane's mapping of the tables is read-only at the MMU too: a
    // write from a child process through it dies with SIGSEGV.
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL); // not the test framework's handler
        auto *t = const_cast<sl_tables *>(dp.tables(0));
        t->generation = 42;
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGSEGV);
}

TEST_CASE("region names and sizes are checked", "[region]") {
    CHECK_THROWS_WITH(Region::shm_name("bad/name"), Catch::Contains("is not 1-64 characters"));
    CHECK_THROWS_WITH(Region::open(test_instance("absent"), Region::Role::Observer),
                      Catch::Contains("does not exist"));
}

TEST_CASE("a region whose name was removed: named() and published_generation()", "[region]") {
    const std::string inst = test_instance("named");
    Unlink cleanup{inst};
    CHECK_FALSE(Region::published_generation(inst).has_value()); // no such object
    Region control = Region::open(inst, Region::Role::Control);
    CHECK(control.named());
    CHECK_FALSE(Region::published_generation(inst).has_value()); // no header yet
    sluice::Publisher pub(control);
    CHECK(Region::published_generation(inst) == 0u);
    fill(pub.begin(std::chrono::milliseconds(100)), 1, 7);
    REQUIRE(pub.commit() == 1u);
    CHECK(Region::published_generation(inst) == 1u);

    Region::unlink(inst); // as rm /dev/shm/sluice-... or logind's RemoveIPC
    CHECK_FALSE(control.named());
    CHECK(control.generation() == 1u); // the mapping still works
    CHECK_FALSE(Region::published_generation(inst).has_value());

    // A new object under the name: the old one stays unnamed.
    Region fresh = Region::open(inst, Region::Role::Dataplane);
    CHECK(fresh.named());
    CHECK_FALSE(control.named());
    CHECK_FALSE(Region::published_generation(inst).has_value()); // not initialised by control
    Region again = Region::open(inst, Region::Role::Control);
    sluice::Publisher pub2(again);
    CHECK(Region::published_generation(inst) == 0u);
    CHECK(again.named());
}

TEST_CASE("publishing while a reader reads: no torn table", "[region]") {
    const std::string inst = test_instance("swap");
    Unlink cleanup{inst};
    Region control = Region::open(inst, Region::Role::Control);
    Region dp = Region::open(inst, Region::Role::Dataplane);
    sluice::Publisher pub(control);
    sl_dp_area *area = dp.dp_rw();
    sl_worker_state &ws = area->workers[0];
    ws.pid = getpid();
    ws.observed_generation = 0;
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_RUNNING), __ATOMIC_RELEASE);

    constexpr uint32_t kTable = 4099;
    constexpr uint64_t kPublishes = 1000;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> torn{0};
    std::atomic<uint64_t> bursts{0};
    std::atomic<uint64_t> last_seen{0};
    std::thread reader([&] {
        uint64_t seen = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const sl_tables *t = sl_reader_begin_burst(dp.header(), dp.base(), &ws, &seen);
            if (t == nullptr) {
                continue;
            }
            const uint64_t gen = t->generation;
            const uint16_t want = static_cast<uint16_t>(gen % 4096);
            uint64_t bad = t->services[0].n_backends != want;
            for (uint32_t i = 0; i < t->services[0].table_size && i < kTable; i += 7) {
                bad += t->arena[i] != want;
            }
            if (t->generation != gen || gen != seen) {
                bad++;
            }
            torn.fetch_add(bad, std::memory_order_relaxed);
            bursts.fetch_add(1, std::memory_order_relaxed);
            last_seen.store(seen, std::memory_order_relaxed);
        }
        __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
    });

    for (uint64_t i = 1; i <= kPublishes; i++) {
        sl_tables *t = pub.begin(std::chrono::milliseconds(5000));
        fill(t, i, kTable);
        REQUIRE(pub.commit() == i);
    }
    REQUIRE(pub.wait_observed(kPublishes, std::chrono::milliseconds(5000)));
    stop = true;
    reader.join();
    INFO("bursts read: " << bursts.load());
    CHECK(torn.load() == 0);
    CHECK(bursts.load() > 0);
    CHECK(last_seen.load() == kPublishes);
}

TEST_CASE("a stuck reader blocks reuse of its copy, with a deadline", "[region]") {
    const std::string inst = test_instance("stuck");
    Unlink cleanup{inst};
    Region control = Region::open(inst, Region::Role::Control);
    Region dp = Region::open(inst, Region::Role::Dataplane);
    sluice::Publisher pub(control);
    sl_worker_state &ws = dp.dp_rw()->workers[3];
    ws.pid = getpid();
    ws.lcore = 7;
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_RUNNING), __ATOMIC_RELEASE);
    fill(pub.begin(std::chrono::milliseconds(100)), 1, 101);
    pub.commit(); // generation 1; the worker never observes it
    CHECK_THROWS_WITH(pub.begin(std::chrono::milliseconds(50)),
                      Catch::Contains("worker 3 (lcore 7"));
    // A worker that stopped is not waited for.
    __atomic_store_n(&ws.run, static_cast<uint32_t>(SL_WORKER_STOPPED), __ATOMIC_RELEASE);
    CHECK_NOTHROW(pub.begin(std::chrono::milliseconds(50)));
}

namespace {

// ShmemPmdMapped of the mapping of /proc/self/smaps that holds `p`, in kB;
// -1 when no mapping holds it.
long pmd_mapped_kb(const void *p) {
    std::FILE *f = std::fopen("/proc/self/smaps", "r");
    REQUIRE(f != nullptr);
    const auto a = reinterpret_cast<uintptr_t>(p);
    char line[512];
    bool in = false;
    long kb = -1;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned long lo = 0;
        unsigned long hi = 0;
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { // a mapping's first line
            in = a >= lo && a < hi;
        } else if (in && std::sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1) {
            break;
        }
    }
    std::fclose(f);
    return kb;
}

} // namespace

TEST_CASE("commit puts the copy's used part on huge pages, mapped as such by a reader",
          "[region]") {
    const std::string inst = test_instance("huge");
    Unlink cleanup{inst};
    Region control = Region::open(inst, Region::Role::Control);
    sluice::Publisher pub(control);
    CHECK(pub.huge_pages_errno() == -1);
    // 6 MB of tables from 1 MB into the arena: the copy's first 8 MB and more.
    sl_tables *t = pub.begin(std::chrono::milliseconds(100));
    t->n_services = 2;
    t->services[1].table_offset = 1u << 19;
    t->services[1].table_size = 3u << 20;
    for (uint32_t i = 0; i < t->services[1].table_size; i++) {
        t->arena[t->services[1].table_offset + i] = static_cast<uint16_t>(i % 7);
    }
    pub.commit();
    if (!sluice::shmem_huge_pages_possible()) {
        WARN("SKIPPED: this kernel cannot put shared memory on huge pages (MADV_COLLAPSE: "
             "before Linux 6.1, or /sys/kernel/mm/transparent_hugepage/shmem_enabled is deny "
             "or missing)");
        return;
    }
    INFO("MADV_COLLAPSE: " << std::strerror(pub.huge_pages_errno()));
    REQUIRE(pub.huge_pages_errno() == 0);

    // A dataplane mapping of its own: the tables' 2 MB pages are mapped whole.
    Region dp = Region::open(inst, Region::Role::Dataplane);
    const sl_tables *r = dp.published();
    REQUIRE(r != nullptr);
    REQUIRE(reinterpret_cast<uintptr_t>(dp.base()) % (2u << 20) == 0);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < r->services[1].table_size; i += 2048) {
        sum += r->arena[r->services[1].table_offset + i];
    }
    CHECK(sum > 0);
    // The used part spans [4 KB, 4 KB + offsetof(arena) + 2 * 3.5 M entries):
    // 2 MB pages 0-3 whole (the last partly beyond the used part).
    const long kb = pmd_mapped_kb(r);
    INFO("ShmemPmdMapped of the dataplane's tables mapping: " << kb << " kB");
    CHECK(kb >= 4 * 2048);
    CHECK(kb <= 5 * 2048);
    CHECK(r->arena[r->services[1].table_offset + 12345] == 12345 % 7);

    // Written again two generations later (the same copy): still on huge
    // pages, and the reader sees the new bytes through them.
    pub.begin(std::chrono::milliseconds(100));
    pub.commit();
    sl_tables *again = pub.begin(std::chrono::milliseconds(100));
    REQUIRE(again == t);
    for (uint32_t i = 0; i < t->services[1].table_size; i++) {
        t->arena[t->services[1].table_offset + i] = static_cast<uint16_t>(i % 5);
    }
    pub.commit();
    CHECK(pub.huge_pages_errno() == 0);
    REQUIRE(dp.published() == r);
    CHECK(r->arena[r->services[1].table_offset + 12345] == 12345 % 5);
    CHECK(pmd_mapped_kb(r) >= 4 * 2048);
}
