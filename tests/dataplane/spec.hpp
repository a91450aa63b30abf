// SPDX-License-Identifier: Apache-2.0
//
// spec.hpp (test helper, not product): a small JSON description of services
// and backends, turned into a complete struct sl_tables the way control
// publishes one. Used by the test publisher, the offline predictor and the
// swap test's expectation files. Example:
//
// { "seed": "000102030405060708090a0b0c0d0e0f",
//   "services": [
//     { "vip": "10.0.0.1", "port": 80, "proto": "tcp", "hash": "5tuple",
//       "fwd": "dsr-l2", "table_size": 251, "gue_port": 6080,
//       "fragments": true,
//       "backends": [ { "addr": "10.1.0.1", "mac": "02:00:00:00:01:01",
//                       "weight": 1 } ] } ] }
//
// Service ids are the positions in "services"; backend ids are numbered in
// order over all services, from "first_backend_id" (default 0).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/region.h"

namespace sluice::test {

struct SpecBackend {
    uint8_t family = SL_AF_INET;
    std::array<uint8_t, 16> addr{};
    std::array<uint8_t, 6> mac{};
    uint32_t weight = 1;
};

struct SpecService {
    uint8_t family = SL_AF_INET;
    std::array<uint8_t, 16> vip{};
    uint16_t port = 0; // host order; 0 = all ports
    uint8_t proto = SL_IPPROTO_TCP;
    uint8_t hash_mode = SL_HASH_5TUPLE;
    uint8_t fwd_mode = SL_FWD_DSR_L2;
    uint32_t table_size = 251;
    uint16_t gue_port = 0;  // host order; 0 = the dataplane's default
    bool fragments = false; // this service receives the VIP's fragments of proto
    std::vector<SpecBackend> backends;
};

struct Spec {
    sl_hash_seed seed{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    uint16_t first_backend_id = 0;
    std::vector<SpecService> services;
};

Spec load_spec(const std::string &path); // throws std::runtime_error
// Fills every field a dataplane reads (t must be zeroed or a reused copy:
// everything that matters is overwritten). generation is set too.
// packed = false: every table raw (region.h), for benchmarks that compare
// the two forms; sluice-control packs where that is smaller, as does true.
void fill_tables(const Spec &spec, sl_tables *t, uint64_t generation, bool packed = true);

} // namespace sluice::test
