// SPDX-License-Identifier: Apache-2.0
//
// region_map.hpp: mapping the shared region (region.h) from C++, for the
// control daemon (the only writer of tables), the DPDK dataplane (reader of
// tables, writer of its own worker states and counters) and observers (CLI,
// tests). Move-only RAII: the mapping and the descriptor live exactly as long
// as the Region object.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/region.h"

namespace sluice {

// An error from a system call, with errno and what was being done.
class SysError : public std::runtime_error {
  public:
    SysError(int err, const std::string &what);
    int code() const noexcept { return err_; }

  private:
    int err_;
};

class Region {
  public:
    enum class Role {
        Control,   // creates if missing; header + tables writable; dataplane area read-only
        Dataplane, // creates if missing; header + tables read-only; dataplane area writable
        Observer,  // must exist; everything read-only
    };

    // The POSIX shared-memory name of an instance: "/sluice-<instance>".
    // Instance names are [A-Za-z0-9_-]{1,64}; anything else throws.
    static std::string shm_name(std::string_view instance);

    // Opens (or, for Control and Dataplane, creates) the region of an
    // instance. Throws SysError with a message that says what to do.
    static Region open(std::string_view instance, Role role, unsigned mode = 0660);

    Region(Region &&other) noexcept;
    Region &operator=(Region &&other) noexcept;
    Region(const Region &) = delete;
    Region &operator=(const Region &) = delete;
    ~Region();

    const sl_region_header *header() const {
        return reinterpret_cast<const sl_region_header *>(base_);
    }
    const uint8_t *base() const { return base_; }
    const sl_tables *tables(unsigned copy) const;
    const sl_dp_area *dp() const {
        return reinterpret_cast<const sl_dp_area *>(base_ + SL_REGION_DP_OFF);
    }

    // Role::Control only.
    sl_region_header *header_rw();
    sl_tables *tables_rw(unsigned copy);
    // Role::Dataplane only.
    sl_dp_area *dp_rw();

    // The tables of the published generation, or nullptr.
    const sl_tables *published() const;
    uint64_t generation() const;

    Role role() const { return role_; }
    const std::string &name() const { return name_; }

    // Removes the shared-memory object (the mapping stays valid until the
    // Region is destroyed). For tests and `--remove` style cleanup.
    static void unlink(std::string_view instance);

    // True while the region's name still refers to this object. False once
    // the name was removed (shm_unlink, rm /dev/shm/sluice-*, or
    // systemd-logind's RemoveIPC=yes when the owning user logs out): the
    // mapping still works, but a process that opens the name from then on
    // gets another object, and the two sides no longer meet.
    bool named() const;

    // The generation published in the region of an instance as it is under
    // its name now, read without mapping it; nullopt when there is no such
    // object or no valid header in it (yet).
    static std::optional<uint64_t> published_generation(std::string_view instance);

    // One writer per role and region: sluice-control and sluice-dataplane
    // each take their role's lock (an open-file-description lock on a byte
    // of the object of their own) before they write anything, and hold it
    // until the Region is released or the process ends, however it ends.
    // False when another process (or another Region of this one) holds it.
    // Control and Dataplane only.
    bool try_lock_writer();

    // The pid that the holder of `role`'s writer lock on the region of an
    // instance wrote there (the header's control_pid, the dataplane area's
    // pid; 0 when not written yet), or nullopt when no one holds the lock
    // or there is no such object. Creates nothing, takes no lock.
    static std::optional<pid_t> writer(std::string_view instance, Role role);

  private:
    Region() = default;
    void release() noexcept;

    uint8_t *base_ = nullptr;
    int fd_ = -1;
    Role role_ = Role::Observer;
    std::string name_;
};

// Whether this kernel can put shared memory on huge pages as Publisher
// asks it to: Linux 6.1 or later (MADV_COLLAPSE), transparent huge pages
// built in and not denied for shmem (/sys/kernel/mm/transparent_hugepage/
// shmem_enabled).
bool shmem_huge_pages_possible();

// True when the dataplane worker `w` is registered and its process lives.
bool worker_alive(const sl_worker_state &w);

// A port's name as the dataplane stored it in its port stats (at most 23
// characters, NUL-terminated unless cut).
inline std::string port_name(const sl_port_stats &ps) {
    return std::string(ps.name, strnlen(ps.name, sizeof(ps.name)));
}

// Control's side of the publishing protocol (region.h).
class Publisher {
  public:
    explicit Publisher(Region &region);

    // Initialises the header on first use (magic, ABI, sizes) or checks it.
    // Returns the standby copy, to be filled completely, once no live
    // worker can read it any more; waits at most `deadline`, then throws
    // SysError(ETIMEDOUT) naming the workers that did not move on.
    sl_tables *begin(std::chrono::milliseconds deadline);

    // Publishes the standby copy as generation + 1 (release store) and
    // returns the new generation. Before that, puts the copy's used part
    // (records and the tables in use) on 2 MB pages of the shared-memory
    // file (MADV_COLLAPSE): a dataplane that reads tables of many VIPs then
    // misses the TLB far less. The file keeps them as long as it exists,
    // whatever later writes; where the kernel cannot (before Linux 6.1,
    // shmem_enabled=deny, no free 2 MB page), the tables stay on 4 KB pages
    // and work the same; huge_pages_errno() says why.
    uint64_t commit();

    // 0 when the last commit's copy is on huge pages, else the errno of
    // MADV_COLLAPSE; -1 before the first commit.
    int huge_pages_errno() const { return huge_pages_errno_; }

    // Waits until every live worker has observed `generation`; false on
    // timeout. For benchmarks and status, not needed for correctness.
    bool wait_observed(uint64_t generation, std::chrono::milliseconds deadline) const;

  private:
    int collapse(sl_tables *t) const;

    Region &region_;
    sl_tables *standby_ = nullptr;
    int huge_pages_errno_ = -1;
};

} // namespace sluice
