// SPDX-License-Identifier: Apache-2.0
//
// maglev.hpp: the Maglev lookup-table builder (Eisenbud et al., "Maglev: A
// Fast and Reliable Software Network Load Balancer", NSDI 2016, section 3.4,
// Pseudocode 1), with weights. A small library with one concern and no
// dependency beyond the shared C headers; sluice-control fills the
// shared-memory arena with it, sluicectl reads tables back with it.
//
// The table
//  - M (the table size) is a prime, 2 <= M <= SL_MAX_TABLE_SIZE, and at least
//    the number of backends with a positive weight (validate_table_size()).
//  - Entry s is the stable id of the backend that owns slot s; the dataplane
//    sends a flow to table[hash(flow) mod M].
//
// A backend's permutation (its order of preference over the slots)
//    offset = h1(identity) mod M
//    skip   = h2(identity) mod (M - 1) + 1
//    the j-th preference is (offset + j * skip) mod M
// The identity is (address, family): 16 address bytes (IPv4 in the first 4,
// the other 12 zero) and the family. h1 and h2 are SipHash-1-3 (hash.h) of
// the 24-byte message  addr[0..15] | family | 7 zero bytes  under two fixed
// keys, the ASCII bytes of "sluice/maglev/h1" and "sluice/maglev/h2" read as
// two little-endian 64-bit words. The keys are fixed, not the deployment
// seed: every sluice box (and every version) must build the same table from
// the same backends, and the flow hash is already keyed, so knowing where a
// backend's slots are tells nobody which flows reach it. Changing a key or
// the message reshuffles every table of the fleet: it is part of the format.
//
// The fill (weighted turns)
//  - Backends are ordered by identity (family, then address bytes), so the
//    same set gives the same table whatever order it is passed in.
//  - Turns are taken in rounds; in each round the backends take their turn in
//    identity order. A turn claims the backend's next preferred free slot.
//  - Backend i with weight w_i takes a turn in round r when its credit,
//    which starts at W - w_i (W the largest weight) and grows by w_i per
//    round, reaches W; a turn costs W. So the heaviest backends take a turn
//    every round, every backend with a positive weight takes one in round 1,
//    and backend i takes floor((r - 1) * w_i / W) + 1 turns in r rounds:
//    shares are proportional to weight. Weight 0 takes no turn.
//  - The table is full after at most M rounds (a heaviest backend claims one
//    slot per round), so the fill always ends.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/region.h"
#include "sluice/wire.h"

namespace sluice::maglev {

inline constexpr uint32_t kMaxTableSize = SL_MAX_TABLE_SIZE;
inline constexpr uint32_t kDefaultTableSize = SL_DEFAULT_TABLE_SIZE;
inline constexpr uint32_t kMaxBackends = SL_MAX_BACKENDS;

struct Backend {
    std::array<uint8_t, 16> addr{}; // network byte order; IPv4 in addr[0..3], addr[4..15] zero
    uint8_t family = SL_AF_INET;    // SL_AF_INET or SL_AF_INET6
    uint16_t id = 0;                // written into the table; < SL_MAX_BACKENDS
    uint32_t weight = 1;            // 0: owns no slot (drained, unhealthy, weight 0)
};

enum class Errc : uint8_t {
    table_size_not_prime,
    table_size_too_small, // fewer slots than backends with a positive weight
    table_size_too_large, // above SL_MAX_TABLE_SIZE
    no_backend,           // no backend with a positive weight: the service has no table
    too_many_backends,    // more than SL_MAX_BACKENDS entries
    bad_backend,          // unknown family, id out of range, IPv4 with bytes past addr[3]
    duplicate_backend,    // the same identity twice, or the same id twice
};

struct Error {
    Errc code;
    std::string message; // complete sentence for an operator, names the value at fault
};

// A value or an Error: the subset of C++23 std::expected that sluice needs.
template <typename T> class Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    // Precondition: has_value() (else std::bad_variant_access).
    T &value() & { return std::get<0>(v_); }
    const T &value() const & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    // Precondition: !has_value() (else std::bad_variant_access).
    const Error &error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

// Deterministic primality test for every 32-bit n (Miller-Rabin, bases 2, 7
// and 61); well under a microsecond.
bool is_prime(uint32_t n) noexcept;

// Why M cannot be the size of a table shared by n_backends backends with a
// positive weight, or std::nullopt when it can. Checks: M <= SL_MAX_TABLE_SIZE,
// M prime, M >= n_backends. (Balance wants M much larger, M >= 100 * n gives
// shares within 1 %, but that is advice, not a rule.)
std::optional<Error> validate_table_size(uint32_t table_size, std::size_t n_backends = 0);

struct Permutation {
    uint32_t offset; // first preferred slot, < M
    uint32_t skip;   // step between preferences, 1 <= skip < M
};

// The permutation of a backend in a table of size M (M >= 2; the builder
// validates M, this function does not).
Permutation permutation(const Backend &backend, uint32_t table_size) noexcept;

// The order in which backends take turns: family, then address bytes.
bool identity_less(const Backend &a, const Backend &b) noexcept;

// Builds tables, keeping its scratch buffers from one build to the next so
// that control can rebuild many services without allocating. Not thread-safe:
// one Builder per thread. Cost (sluice-bench-maglev, 2-core AMD EPYC VM):
// about 0.8-1.1 ms for M = 65537 and N from 10 to 1000 equal backends, about
// 11 ms of CPU for M = 655373; skewed weights (1 x 1000, 999 x 1) about
// 1.6 ms for M = 65537.
class Builder {
  public:
    // Fills `table` (its size is M) for `backends`, in any order. Returns the
    // number of backends that own slots (those with a positive weight: each
    // owns at least one). On error `table` is left untouched.
    Result<uint32_t> build(std::span<const Backend> backends, std::span<uint16_t> table);

    // The same, into a new vector of size table_size.
    Result<std::vector<uint16_t>> build(std::span<const Backend> backends, uint32_t table_size);

  private:
    struct Turn {
        uint32_t next;    // the next preference to try
        uint32_t skip;    // permutation step
        uint64_t credit;  // rounds: see the top of this file; heap: turns taken
        uint32_t inverse; // skip^-1 mod M once needed, else 0
        uint32_t weight;
        uint16_t id;
    };
    struct Key {
        uint64_t hi; // address bytes 0..7, big-endian: compares as memcmp
        uint64_t lo; // address bytes 8..15
        uint32_t family;
        uint32_t index; // into the caller's span
    };

    // Validates, and leaves keys_ in identity order for fill().
    std::optional<Error> check(std::span<const Backend> backends, std::size_t table_size);
    uint32_t fill(std::span<const Backend> backends, std::span<uint16_t> table);
    class Filler;
    void fill_rounds(Filler &filler, uint64_t max_weight);
    void fill_events(Filler &filler, uint32_t table_size, uint64_t max_weight);

    std::vector<Key> keys_;
    std::vector<Turn> turns_;
    std::vector<uint64_t> taken_; // bitmap of claimed slots
    std::vector<uint64_t> heap_;  // (round << 12 | turn index), min-heap
    std::vector<uint32_t> free_;  // the last free slots
};

// One-shot forms of Builder::build.
Result<uint32_t> build_table(std::span<const Backend> backends, std::span<uint16_t> table);
Result<std::vector<uint16_t>> build_table(std::span<const Backend> backends,
                                          uint32_t table_size = kDefaultTableSize);

struct Share {
    uint16_t id;     // backend id
    uint32_t slots;  // slots it owns
    double fraction; // slots / M
};

// The backends that own slots in `table`, ascending by id, with their shares.
std::vector<Share> slot_shares(std::span<const uint16_t> table);

// A table as the arena holds it (region.h): its form (sl_service's
// entry_bits) and its words, the backend list first (2^entry_bits words,
// packed only), then the table. Packed in the narrowest entries that hold
// the table's distinct backends (list index i: the i-th smallest id); raw
// when it has more than 256, or where packed would not be smaller (a small
// table of many backends): never more words than M.
struct ArenaTable {
    uint8_t entry_bits = 0;
    uint32_t list_len = 0;       // words of the list before the table (0 when raw)
    std::vector<uint16_t> words; // list_len + sl_table_words(M, entry_bits)
};
ArenaTable pack_table(std::span<const uint16_t> table);

// Points svc at `a`, the form of a table of m slots (m > 0), written at
// arena word `offset`: its entry_bits, list and table offsets, table_size
// and fastmod magic.
void place_table(sl_service &svc, const ArenaTable &a, uint32_t m, uint32_t offset);

// Every slot's backend id of svc's table in t, whatever its form, as the
// dataplane reads it; empty when svc has no table within the arena.
std::vector<uint16_t> read_table(const sl_tables &t, const sl_service &svc);

// How many slots have a different backend in `after` than in `before`. Tables
// of different sizes send flows to slots differently, so then every slot of
// the larger one counts as changed.
std::size_t changed_slots(std::span<const uint16_t> before, std::span<const uint16_t> after);

} // namespace sluice::maglev
