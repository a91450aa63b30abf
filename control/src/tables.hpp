// SPDX-License-Identifier: Apache-2.0
//
// tables.hpp: turns the services to run (with their stable ids and the
// backends that own slots) into the complete content of a table copy of the
// shared region, and publishes it. Maglev tables are built with
// sluice::maglev (dataplane/core) and cached per service; a table is written
// into a copy only when that copy does not already hold its current version,
// so a change to one service rewrites one table per copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sluice/config.hpp"
#include "sluice/maglev.hpp"
#include "sluice/region_map.hpp"

namespace sluice::control {

struct TableBackend {
    uint16_t id;
    config::Address address;
    config::Mac mac{};
    uint32_t weight; // 0: in the backend array but owns no slot
};

struct TableService {
    uint16_t id;
    const config::Service *service;
    std::vector<TableBackend> backends;
};

struct PublishResult {
    uint64_t generation;
    uint64_t duration_ns;    // begin() to commit(), including waiting for workers
    unsigned tables_written; // tables (re)written into the copy
};

class TablePublisher {
  public:
    TablePublisher(Region &region, sl_hash_seed seed, uint16_t gue_port);

    // Writes the whole desired content into the standby copy and commits it.
    // Throws SysError (ETIMEDOUT when a live worker did not move on within
    // `deadline`) or std::runtime_error (a table that cannot be built).
    PublishResult publish(const std::vector<TableService> &services,
                          std::chrono::milliseconds deadline);

    // 0 when the last published copy is on huge pages, else why not
    // (Publisher::huge_pages_errno).
    int huge_pages_errno() const { return publisher_.huge_pages_errno(); }

    // Slots per backend id of a service's current table (for `table`).
    const std::vector<uint16_t> *table_of(uint16_t service_id) const;

  private:
    struct Cached {
        std::vector<uint16_t> table; // backend id per slot
        maglev::ArenaTable arena;    // the table as the arena holds it
        std::vector<std::tuple<uint16_t, config::Address, uint32_t>> key; // what it was built from
        uint32_t size = 0;
        uint64_t version = 0;
        uint32_t offset = 0;
    };
    struct Held {
        uint64_t version;
        uint32_t offset;
    };

    uint32_t allocate(uint16_t sid, uint32_t size);

    Region &region_;
    Publisher publisher_;
    sl_hash_seed seed_;
    uint16_t gue_port_;
    maglev::Builder builder_;
    std::map<uint16_t, Cached> cache_;
    std::map<uint16_t, Held> held_[2]; // per copy: which table version it holds
    uint64_t next_version_ = 1;
};

} // namespace sluice::control
