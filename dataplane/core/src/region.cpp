// SPDX-License-Identifier: Apache-2.0
#include "sluice/region_map.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif

namespace sluice {

SysError::SysError(int err, const std::string &what)
    : std::runtime_error(err ? what + ": " + std::strerror(err) : what), err_(err) {}

namespace {

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// The size of the huge pages a table copy's used part is put on (x86-64's
// and arm64's PMD size with 4 KB pages).
constexpr uint64_t kHugePage = 2u << 20;

bool valid_instance(std::string_view s) {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

} // namespace

std::string Region::shm_name(std::string_view instance) {
    if (!valid_instance(instance)) {
        throw SysError(EINVAL, "instance name '" + std::string(instance) +
                                   "' is not 1-64 characters of [A-Za-z0-9_-]");
    }
    return "/sluice-" + std::string(instance);
}

void Region::unlink(std::string_view instance) {
    const std::string name = shm_name(instance);
    if (shm_unlink(name.c_str()) != 0 && errno != ENOENT) {
        throw SysError(errno, "shm_unlink " + name);
    }
}

bool Region::named() const {
    struct stat st {};
    // fstat of an open descriptor fails only on a bad one: keep to "named".
    return fd_ < 0 || fstat(fd_, &st) != 0 || st.st_nlink > 0;
}

std::optional<uint64_t> Region::published_generation(std::string_view instance) {
    const std::string name = shm_name(instance);
    const int fd = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return std::nullopt;
    }
    sl_region_header h{};
    const ssize_t n = pread(fd, &h, sizeof(h), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(sizeof(h)) || h.magic != SL_REGION_MAGIC ||
        h.abi_version != SL_REGION_ABI_VERSION) {
        return std::nullopt;
    }
    return h.generation;
}

namespace {

// A role's writer lock: a write lock on its byte of the object.
struct flock writer_lock(Region::Role role) {
    if (role == Region::Role::Observer) {
        throw SysError(EINVAL, "an observer writes nothing and takes no writer lock");
    }
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = role == Region::Role::Control ? 0 : 1;
    fl.l_len = 1;
    return fl;
}

} // namespace

bool Region::try_lock_writer() {
    struct flock fl = writer_lock(role_);
    if (fcntl(fd_, F_OFD_SETLK, &fl) == 0) {
        return true;
    }
    if (errno == EAGAIN || errno == EACCES) {
        return false;
    }
    throw SysError(errno, "cannot lock shared region /dev/shm" + name_);
}

std::optional<pid_t> Region::writer(std::string_view instance, Role role) {
    struct flock fl = writer_lock(role);
    const std::string name = shm_name(instance);
    const int fd = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return std::nullopt;
    }
    const bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    pid_t pid = 0;
    if (held) {
        const off_t at = role == Role::Control
                             ? static_cast<off_t>(offsetof(sl_region_header, control_pid))
                             : static_cast<off_t>(SL_REGION_DP_OFF + offsetof(sl_dp_area, pid));
        int32_t v = 0;
        if (pread(fd, &v, sizeof(v), at) == static_cast<ssize_t>(sizeof(v))) {
            pid = v;
        }
    }
    ::close(fd);
    return held ? std::optional<pid_t>(pid) : std::nullopt;
}

Region Region::open(std::string_view instance, Role role, unsigned mode) {
    Region r;
    r.role_ = role;
    r.name_ = shm_name(instance);
    const std::string where = "/dev/shm" + r.name_;
    const int flags = role == Role::Observer ? O_RDONLY : (O_RDWR | O_CREAT);
    r.fd_ = shm_open(r.name_.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
    if (r.fd_ < 0) {
        const int e = errno;
        if (e == ENOENT) {
            throw SysError(e, "shared region " + where +
                                  " does not exist: is sluice-control or sluice-dataplane "
                                  "running with this instance name?");
        }
        throw SysError(e, "cannot open shared region " + where);
    }
    struct stat st {};
    if (fstat(r.fd_, &st) != 0) {
        throw SysError(errno, "fstat " + where);
    }
    if (st.st_size == 0 && role != Role::Observer) {
        if (ftruncate(r.fd_, static_cast<off_t>(SL_REGION_SIZE)) != 0) {
            throw SysError(errno, "cannot size shared region " + where);
        }
    } else if (static_cast<uint64_t>(st.st_size) != SL_REGION_SIZE) {
        throw SysError(EPROTO, "shared region " + where + " is " + std::to_string(st.st_size) +
                                   " bytes, this build expects " + std::to_string(SL_REGION_SIZE) +
                                   " (ABI " + std::to_string(SL_REGION_ABI_VERSION) +
                                   "): stop the other side of another version and remove it");
    }
    // Reserve the whole range at a huge page boundary (so that the huge pages
    // Publisher puts the tables on are mapped as such), then map each part
    // with its own protection.
    void *res = mmap(nullptr, SL_REGION_SIZE + kHugePage, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
        throw SysError(errno, "mmap " + where);
    }
    const uintptr_t head = (kHugePage - reinterpret_cast<uintptr_t>(res) % kHugePage) % kHugePage;
    r.base_ = static_cast<uint8_t *>(res) + head;
    if (head != 0) {
        munmap(res, head);
    }
    munmap(r.base_ + SL_REGION_SIZE, kHugePage - head);
    const int tables_prot = role == Role::Control ? PROT_READ | PROT_WRITE : PROT_READ;
    const int dp_prot = role == Role::Dataplane ? PROT_READ | PROT_WRITE : PROT_READ;
    if (mmap(r.base_, SL_REGION_DP_OFF, tables_prot, MAP_SHARED | MAP_FIXED, r.fd_, 0) ==
            MAP_FAILED ||
        mmap(r.base_ + SL_REGION_DP_OFF, SL_REGION_SIZE - SL_REGION_DP_OFF, dp_prot,
             MAP_SHARED | MAP_FIXED, r.fd_, static_cast<off_t>(SL_REGION_DP_OFF)) == MAP_FAILED) {
        throw SysError(errno, "mmap " + where);
    }
    const sl_region_header *h = r.header();
    const uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
    if (magic != 0 && (magic != SL_REGION_MAGIC || h->abi_version != SL_REGION_ABI_VERSION)) {
        throw SysError(EPROTO, "shared region " + where + " has ABI " +
                                   std::to_string(h->abi_version) + ", this build speaks " +
                                   std::to_string(SL_REGION_ABI_VERSION));
    }
    return r;
}

Region::Region(Region &&o) noexcept
    : base_(o.base_), fd_(o.fd_), role_(o.role_), name_(std::move(o.name_)) {
    o.base_ = nullptr;
    o.fd_ = -1;
}

Region &Region::operator=(Region &&o) noexcept {
    if (this != &o) {
        release();
        base_ = o.base_;
        fd_ = o.fd_;
        role_ = o.role_;
        name_ = std::move(o.name_);
        o.base_ = nullptr;
        o.fd_ = -1;
    }
    return *this;
}

Region::~Region() {
    release();
}

void Region::release() noexcept {
    if (base_ != nullptr) {
        munmap(base_, SL_REGION_SIZE);
        base_ = nullptr;
    }
    if (fd_ >= 0) {
        close(fd_);
        fd_ = -1;
    }
}

const sl_tables *Region::tables(unsigned copy) const {
    return reinterpret_cast<const sl_tables *>(base_ + SL_REGION_TABLES_OFF +
                                               (copy & 1) * SL_REGION_TABLES_SIZE);
}

sl_region_header *Region::header_rw() {
    if (role_ != Role::Control) {
        throw SysError(EPERM, "only the control role writes the region header");
    }
    return reinterpret_cast<sl_region_header *>(base_);
}

sl_tables *Region::tables_rw(unsigned copy) {
    if (role_ != Role::Control) {
        throw SysError(EPERM, "only the control role writes tables");
    }
    return reinterpret_cast<sl_tables *>(base_ + SL_REGION_TABLES_OFF +
                                         (copy & 1) * SL_REGION_TABLES_SIZE);
}

sl_dp_area *Region::dp_rw() {
    if (role_ != Role::Dataplane) {
        throw SysError(EPERM, "only the dataplane role writes worker state");
    }
    return reinterpret_cast<sl_dp_area *>(base_ + SL_REGION_DP_OFF);
}

uint64_t Region::generation() const {
    return __atomic_load_n(&header()->generation, __ATOMIC_ACQUIRE);
}

const sl_tables *Region::published() const {
    const uint64_t g = generation();
    return g == 0 ? nullptr : tables(static_cast<unsigned>(g & 1));
}

bool shmem_huge_pages_possible() {
    std::FILE *f = std::fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");
    if (f == nullptr) {
        return false;
    }
    char mode[256] = {};
    const bool read = std::fgets(mode, sizeof mode, f) != nullptr;
    std::fclose(f);
    utsname u{};
    unsigned major = 0;
    unsigned minor = 0;
    return read && std::strstr(mode, "[deny]") == nullptr && uname(&u) == 0 &&
           std::sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
           (major > 6 || (major == 6 && minor >= 1));
}

bool worker_alive(const sl_worker_state &w) {
    if (__atomic_load_n(&w.run, __ATOMIC_ACQUIRE) != SL_WORKER_RUNNING) {
        return false;
    }
    const pid_t pid = __atomic_load_n(&w.pid, __ATOMIC_RELAXED);
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

Publisher::Publisher(Region &region) : region_(region) {
    sl_region_header *h = region_.header_rw();
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == 0) {
        h->abi_version = SL_REGION_ABI_VERSION;
        h->header_size = sizeof(sl_region_header);
        h->region_size = SL_REGION_SIZE;
        h->tables_offset = SL_REGION_TABLES_OFF;
        h->tables_size = SL_REGION_TABLES_SIZE;
        h->dp_offset = SL_REGION_DP_OFF;
        __atomic_store_n(&h->magic, SL_REGION_MAGIC, __ATOMIC_RELEASE);
    }
    h->control_pid = getpid();
}

sl_tables *Publisher::begin(std::chrono::milliseconds deadline) {
    const uint64_t g = region_.generation();
    if (g != 0 && !wait_observed(g, deadline)) {
        std::string who;
        const sl_dp_area *dp = region_.dp();
        for (unsigned i = 0; i < SL_MAX_WORKERS; i++) {
            const sl_worker_state &w = dp->workers[i];
            if (worker_alive(w) && __atomic_load_n(&w.observed_generation, __ATOMIC_ACQUIRE) != g) {
                who += " worker " + std::to_string(i) + " (lcore " + std::to_string(w.lcore) +
                       ", pid " + std::to_string(w.pid) + ")";
            }
        }
        throw SysError(ETIMEDOUT, "cannot publish: still reading generation " +
                                      std::to_string(g - 1) + ":" + who);
    }
    standby_ = region_.tables_rw(static_cast<unsigned>((g + 1) & 1));
    return standby_;
}

uint64_t Publisher::commit() {
    if (standby_ == nullptr) {
        throw SysError(EINVAL, "Publisher::commit without begin");
    }
    sl_region_header *h = region_.header_rw();
    const uint64_t g = __atomic_load_n(&h->generation, __ATOMIC_RELAXED) + 1;
    huge_pages_errno_ = collapse(standby_);
    standby_->generation = g;
    standby_ = nullptr;
    h->publish_ns = now_ns();
    __atomic_store_n(&h->generation, g, __ATOMIC_RELEASE);
    return g;
}

int Publisher::collapse(sl_tables *t) const {
    uint64_t arena_end = 0;
    for (uint32_t k = 0; k < t->n_services && k < SL_MAX_SERVICES; k++) {
        const sl_service &s = t->services[k];
        if (s.table_size != 0 && sl_table_in_arena(&s)) {
            // a packed table's list lies before it (maglev::ArenaTable)
            arena_end = std::max(arena_end, uint64_t{s.table_offset} +
                                                sl_table_words(s.table_size, s.entry_bits));
        }
    }
    arena_end = std::min<uint64_t>(arena_end, SL_TABLE_ARENA_ENTRIES);
    // The 2 MB pages the copy's used part touches, within the tables' part
    // of the mapping (madvise collapses the whole huge pages inside a range).
    uint8_t *const base = const_cast<uint8_t *>(region_.base());
    const uint64_t from = static_cast<uint64_t>(reinterpret_cast<uint8_t *>(t) - base);
    const uint64_t to = from + offsetof(sl_tables, arena) + arena_end * sizeof(uint16_t);
    const uint64_t lo = from / kHugePage * kHugePage;
    const uint64_t hi =
        std::min<uint64_t>((to + kHugePage - 1) / kHugePage * kHugePage, SL_REGION_DP_OFF);
    if (madvise(base + lo, hi - lo, MADV_COLLAPSE) != 0) {
        return errno;
    }
    return 0;
}

bool Publisher::wait_observed(uint64_t generation, std::chrono::milliseconds deadline) const {
    const auto until = std::chrono::steady_clock::now() + deadline;
    const sl_dp_area *dp = region_.dp();
    for (unsigned spins = 0;; spins++) {
        bool all = true;
        for (unsigned i = 0; i < SL_MAX_WORKERS && all; i++) {
            const sl_worker_state &w = dp->workers[i];
            if (__atomic_load_n(&w.observed_generation, __ATOMIC_ACQUIRE) != generation &&
                worker_alive(w)) {
                all = false;
            }
        }
        if (all) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        if (spins > 1000) {
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
    }
}

} // namespace sluice
