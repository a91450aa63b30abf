// SPDX-License-Identifier: Apache-2.0
//
// The Maglev table builder: see maglev.hpp for the table it builds.
#include "sluice/maglev.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <tuple>

#include "sluice/decide.h"
#include "sluice/hash.h"

namespace sluice::maglev {

namespace {

// The ASCII bytes of a 16-character key read as two little-endian words, as
// sl_load_le64 would read them.
constexpr sl_hash_seed key_from_ascii(const char (&s)[17]) {
    uint64_t k0 = 0;
    uint64_t k1 = 0;
    for (int i = 7; i >= 0; i--) {
        k0 = (k0 << 8) | static_cast<uint8_t>(s[i]);
        k1 = (k1 << 8) | static_cast<uint8_t>(s[i + 8]);
    }
    return sl_hash_seed{k0, k1};
}

constexpr sl_hash_seed kH1Key = key_from_ascii("sluice/maglev/h1");
constexpr sl_hash_seed kH2Key = key_from_ascii("sluice/maglev/h2");
static_assert(kH1Key.k0 == 0x6d2f656369756c73ULL && kH1Key.k1 == 0x31682f76656c6761ULL);
static_assert(kH2Key.k0 == 0x6d2f656369756c73ULL && kH2Key.k1 == 0x32682f76656c6761ULL);

// SipHash-1-3 of  addr[0..15] | family | 7 zero bytes  (24 bytes).
uint64_t identity_hash(const Backend &b, const sl_hash_seed &key) noexcept {
    sl_sip_state s = sl_sip_init(&key);
    sl_sip13_word(&s, sl_load_le64(&b.addr[0]));
    sl_sip13_word(&s, sl_load_le64(&b.addr[8]));
    sl_sip13_word(&s, b.family);
    return sl_sip13_finish(&s, 24);
}

uint64_t load_be64(const uint8_t *p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    if constexpr (std::endian::native == std::endian::little) {
        v = __builtin_bswap64(v);
    }
    return v;
}

uint32_t mulmod(uint32_t a, uint32_t b, uint32_t m) noexcept {
    return static_cast<uint32_t>(static_cast<uint64_t>(a) * b % m);
}

uint32_t powmod(uint32_t a, uint32_t e, uint32_t m) noexcept {
    uint32_t r = 1;
    a %= m;
    while (e != 0) {
        if (e & 1) {
            r = mulmod(r, a, m);
        }
        a = mulmod(a, a, m);
        e >>= 1;
    }
    return r;
}

std::string addr_string(const Backend &b) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (b.family == SL_AF_INET) {
        inet_ntop(AF_INET, b.addr.data(), buf, sizeof(buf));
    } else if (b.family == SL_AF_INET6) {
        inet_ntop(AF_INET6, b.addr.data(), buf, sizeof(buf));
    }
    return buf;
}

Error error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

// x^-1 mod m, for m prime and 0 < x < m.
uint32_t inverse_mod(uint32_t x, uint32_t m) noexcept {
    int64_t r0 = m;
    int64_t r1 = x;
    int64_t t0 = 0;
    int64_t t1 = 1;
    while (r1 != 0) {
        const int64_t q = r0 / r1;
        std::tie(r0, r1) = std::make_pair(r1, r0 - q * r1);
        std::tie(t0, t1) = std::make_pair(t1, t0 - q * t1);
    }
    return static_cast<uint32_t>(t0 < 0 ? t0 + m : t0);
}

} // namespace

bool is_prime(uint32_t n) noexcept {
    if (n < 2) {
        return false;
    }
    for (uint32_t p : {2u, 3u, 5u, 7u, 11u, 13u, 17u, 19u, 23u, 29u, 31u, 37u}) {
        if (n % p == 0) {
            return n == p;
        }
    }
    if (n < 41 * 41) {
        return true;
    }
    // n - 1 = d * 2^s with d odd. Bases 2, 7, 61 decide every n < 4,759,123,141
    // (Jaeschke, 1993).
    const uint32_t s = static_cast<uint32_t>(std::countr_zero(n - 1));
    const uint32_t d = (n - 1) >> s;
    for (uint32_t a : {2u, 7u, 61u}) {
        uint32_t x = powmod(a, d, n);
        if (x == 1 || x == n - 1) {
            continue;
        }
        bool composite = true;
        for (uint32_t r = 1; r < s; r++) {
            x = mulmod(x, x, n);
            if (x == n - 1) {
                composite = false;
                break;
            }
        }
        if (composite) {
            return false;
        }
    }
    return true;
}

std::optional<Error> validate_table_size(uint32_t table_size, std::size_t n_backends) {
    const std::string m = std::to_string(table_size);
    if (table_size > kMaxTableSize) {
        return error(Errc::table_size_too_large,
                     "table size " + m + " is larger than the maximum " +
                         std::to_string(kMaxTableSize) + " (SL_MAX_TABLE_SIZE)");
    }
    if (!is_prime(table_size)) {
        return error(Errc::table_size_not_prime,
                     "table size " + m +
                         " is not a prime: Maglev needs a prime M (e.g. 65537, 655373) so "
                         "that every backend's permutation visits every slot");
    }
    if (table_size < n_backends) {
        return error(Errc::table_size_too_small,
                     "table size " + m + " is smaller than the number of backends (" +
                         std::to_string(n_backends) +
                         "): every backend needs a slot, and M >= 100 x backends keeps shares "
                         "within 1 %");
    }
    return std::nullopt;
}

Permutation permutation(const Backend &backend, uint32_t table_size) noexcept {
    return Permutation{
        static_cast<uint32_t>(identity_hash(backend, kH1Key) % table_size),
        static_cast<uint32_t>(identity_hash(backend, kH2Key) % (table_size - 1) + 1),
    };
}

bool identity_less(const Backend &a, const Backend &b) noexcept {
    if (a.family != b.family) {
        return a.family < b.family;
    }
    return std::memcmp(a.addr.data(), b.addr.data(), a.addr.size()) < 0;
}

std::optional<Error> Builder::check(std::span<const Backend> backends, std::size_t table_size) {
    if (table_size > kMaxTableSize) {
        return error(Errc::table_size_too_large,
                     "table size " + std::to_string(table_size) + " is larger than the maximum " +
                         std::to_string(kMaxTableSize) + " (SL_MAX_TABLE_SIZE)");
    }
    if (auto err = validate_table_size(static_cast<uint32_t>(table_size))) {
        return err;
    }
    if (backends.size() > kMaxBackends) {
        return error(Errc::too_many_backends, std::to_string(backends.size()) +
                                                  " backends: a service has at most " +
                                                  std::to_string(kMaxBackends));
    }

    keys_.clear();
    std::array<uint64_t, kMaxBackends / 64> ids{};
    std::size_t weighted = 0;
    for (std::size_t i = 0; i < backends.size(); i++) {
        const Backend &b = backends[i];
        if (b.family != SL_AF_INET && b.family != SL_AF_INET6) {
            return error(Errc::bad_backend, "backend id " + std::to_string(b.id) + ": family " +
                                                std::to_string(b.family) +
                                                " is neither SL_AF_INET (4) nor SL_AF_INET6 (6)");
        }
        if (b.family == SL_AF_INET &&
            std::any_of(b.addr.begin() + 4, b.addr.end(), [](uint8_t x) { return x != 0; })) {
            return error(Errc::bad_backend,
                         "backend id " + std::to_string(b.id) +
                             ": an IPv4 address takes addr[0..3], addr[4..15] must be zero");
        }
        if (b.id >= kMaxBackends) {
            return error(Errc::bad_backend, "backend " + addr_string(b) + ": id " +
                                                std::to_string(b.id) + " is not below " +
                                                std::to_string(kMaxBackends) +
                                                " (SL_MAX_BACKENDS)");
        }
        uint64_t &word = ids[b.id / 64];
        const uint64_t bit = uint64_t{1} << (b.id % 64);
        if (word & bit) {
            return error(Errc::duplicate_backend, "backend id " + std::to_string(b.id) +
                                                      " is given twice (second: " + addr_string(b) +
                                                      ")");
        }
        word |= bit;
        weighted += b.weight != 0;
        keys_.push_back(
            Key{load_be64(&b.addr[0]), load_be64(&b.addr[8]), b.family, static_cast<uint32_t>(i)});
    }

    std::sort(keys_.begin(), keys_.end(), [](const Key &a, const Key &b) {
        if (a.family != b.family) {
            return a.family < b.family;
        }
        if (a.hi != b.hi) {
            return a.hi < b.hi;
        }
        return a.lo < b.lo;
    });
    for (std::size_t i = 1; i < keys_.size(); i++) {
        const Key &a = keys_[i - 1];
        const Key &b = keys_[i];
        if (a.family == b.family && a.hi == b.hi && a.lo == b.lo) {
            return error(Errc::duplicate_backend,
                         "backend " + addr_string(backends[b.index]) + " is given twice (ids " +
                             std::to_string(backends[a.index].id) + " and " +
                             std::to_string(backends[b.index].id) + ")");
        }
    }

    if (weighted == 0) {
        return error(Errc::no_backend, backends.empty()
                                           ? "no backend: the service has no table"
                                           : "no backend with a positive weight (all " +
                                                 std::to_string(backends.size()) +
                                                 " are drained, unhealthy or of weight 0): the "
                                                 "service has no table");
    }
    return validate_table_size(static_cast<uint32_t>(table_size), weighted);
}

// Claims slots for backends, one turn at a time.
//
// Probing (Pseudocode 1): a turn walks the backend's permutation from where
// it stopped to the first free slot. With a fraction f of the table taken a
// turn costs 1 / (1 - f) probes, so the last sqrt(M) free slots cost about
// as many probes as all the others together. For those, the tail: the free
// slots are listed, and a turn takes the free slot that comes first in the
// backend's permutation. That is the slot probing would reach: every slot
// the backend has passed was taken, and taken slots stay taken. Its place
// in the permutation is (slot - next) * skip^-1 mod M: a multiply and a
// Barrett reduction per free slot, independent of each other, with no
// unpredictable branch. Measured, the tail saves ~7 % of a build at
// M = 65537 and ~25 % at M = 655373; the tests check it against plain
// probing.
class Builder::Filler {
  public:
    Filler(std::span<uint16_t> table, std::vector<uint64_t> &taken, std::vector<uint32_t> &free)
        : m_(static_cast<uint32_t>(table.size())), left_(m_), out_(table.data()), free_(free),
          barrett_(~uint64_t{0} / m_) {
        const uint32_t words = (m_ + 63) / 64;
        taken.assign(words, 0);
        if (m_ % 64 != 0) {
            taken[words - 1] = ~uint64_t{0} << (m_ % 64); // past the end: never free
        }
        taken_ = taken.data();
        tail_ = std::min(m_, static_cast<uint32_t>(kTailFactor * std::sqrt(double(m_))));
        free_.clear();
        if (left_ <= tail_) {
            collect();
        }
    }

    // Gives backend t its turn; true once the table is full.
    bool claim(Turn &t) noexcept {
        if (left_ > tail_) {
            probe(t);
            if (--left_ == tail_) {
                collect();
            }
        } else {
            scan(t);
            --left_;
        }
        return left_ == 0;
    }

  private:
    // Tail length: K = sqrt(M) balances the probes it saves (about M ln K)
    // against the scans it costs (K^2 / 2 free-slot steps of similar price).
    static constexpr double kTailFactor = 1.0;

    bool is_taken(uint32_t p) const noexcept { return (taken_[p >> 6] >> (p & 63)) & 1; }

    void probe(Turn &t) noexcept {
        // p + skip mod M as a choice between two values that depend on p
        // alone: the probe chain is two instructions deep, not three.
        const uint32_t skip = t.skip;
        const uint32_t back = m_ - skip;
        uint32_t p = t.next;
        if (is_taken(p)) {
            // Two probes per step: the chain advances by 2 skip, the second
            // probe hangs off it.
            const uint32_t skip2 = skip >= m_ - skip ? skip - (m_ - skip) : skip + skip;
            const uint32_t back2 = m_ - skip2;
            uint32_t a = p >= back ? p - back : p + skip;
            for (;;) {
                const uint32_t b = a >= back ? a - back : a + skip;
                if (!is_taken(a)) {
                    p = a;
                    break;
                }
                if (!is_taken(b)) {
                    p = b;
                    break;
                }
                a = a >= back2 ? a - back2 : a + skip2;
            }
        }
        taken_[p >> 6] |= uint64_t{1} << (p & 63);
        out_[p] = t.id;
        t.next = p >= back ? p - back : p + skip;
    }

    void collect() {
        for (uint32_t w = 0; w < (m_ + 63) / 64; w++) {
            for (uint64_t bits = ~taken_[w]; bits != 0; bits &= bits - 1) {
                free_.push_back(w * 64 + static_cast<uint32_t>(std::countr_zero(bits)));
            }
        }
    }

    void scan(Turn &t) noexcept {
        if (t.inverse == 0) {
            t.inverse = inverse_mod(t.skip, m_);
        }
        const uint64_t inv = t.inverse;
        const uint32_t base = t.next;
        uint64_t best = ~uint64_t{0};
        std::size_t best_k = 0;
        const uint32_t *free = free_.data();
        const std::size_t n = free_.size();
        for (std::size_t k = 0; k < n; k++) {
            const uint32_t e = free[k];
            // x < M^2 < 2^44: one Barrett step leaves r < 2M.
            const uint64_t x = static_cast<uint64_t>(e >= base ? e - base : e + m_ - base) * inv;
            const uint64_t q =
                static_cast<uint64_t>((static_cast<unsigned __int128>(x) * barrett_) >> 64);
            uint64_t r = x - q * m_;
            r -= r >= m_ ? m_ : 0;
            if (r < best) {
                best = r;
                best_k = k;
            }
        }
        const uint32_t p = free[best_k];
        free_[best_k] = free_.back();
        free_.pop_back();
        out_[p] = t.id;
        t.next = p + t.skip >= m_ ? p + t.skip - m_ : p + t.skip;
    }

    uint32_t m_;
    uint32_t left_; // free slots
    uint32_t tail_; // free slots left when probing gives way to the tail
    uint16_t *out_;
    uint64_t *taken_;
    std::vector<uint32_t> &free_;
    uint64_t barrett_; // floor((2^64 - 1) / M)
};

// Rounds: every backend looks at its credit in every round. Costs one step
// per backend and round, about M * W / mean weight steps in all: best when
// the weights are close (equal weights: one step per slot).
void Builder::fill_rounds(Filler &f, uint64_t max_weight) {
    Turn *turns = turns_.data();
    const std::size_t n = turns_.size();
    for (;;) {
        for (std::size_t i = 0; i < n; i++) {
            Turn &t = turns[i];
            t.credit += t.weight;
            if (t.credit < max_weight) {
                continue;
            }
            t.credit -= max_weight;
            if (f.claim(t)) {
                return;
            }
        }
    }
}

// Events: the same turns in the same order (by round, then identity order),
// taken from a min-heap of each backend's next turn. Costs O(log n) per slot
// whatever the weights: best when a few heavy backends would make the
// rounds above mostly idle.
void Builder::fill_events(Filler &f, uint32_t m, uint64_t max_weight) {
    Turn *turns = turns_.data();
    constexpr unsigned kIndexBits = 12;
    static_assert(kMaxBackends <= (1u << kIndexBits), "turn index fits the event key");
    constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

    // Every backend with a positive weight takes its first turn in round 1.
    // In ascending order, the keys already form a min-heap.
    heap_.clear();
    for (std::size_t i = 0; i < turns_.size(); i++) {
        heap_.push_back((uint64_t{1} << kIndexBits) | i);
        turns[i].credit = 0; // here: the turns taken so far
    }
    std::size_t size = heap_.size();
    uint64_t *heap = heap_.data();
    for (;;) {
        assert(size > 0); // a heaviest backend has a turn in every round up to M
        const uint32_t i = static_cast<uint32_t>(heap[0] & kIndexMask);
        Turn &t = turns[i];
        if (f.claim(t)) {
            return;
        }
        // Turn k + 1 is in round ceil(k * W / w) + 1 (see maglev.hpp).
        const uint64_t k = ++t.credit;
        const uint64_t round = (k * max_weight + t.weight - 1) / t.weight + 1;
        uint64_t moved;
        if (round <= m) {
            moved = (round << kIndexBits) | i;
        } else {
            // The table is full by the end of round M: this backend is done.
            moved = heap[--size];
        }
        // Sift `moved` down from the root.
        // The smaller child is picked without a branch (which of two
        // children is smaller is a coin toss for the predictor); `moved` is a
        // later round than most, so it sinks far and the loop exit predicts.
        std::size_t hole = 0;
        for (;;) {
            std::size_t child = 2 * hole + 1;
            if (child >= size) {
                break;
            }
            const uint64_t left = heap[child];
            const uint64_t right = child + 1 < size ? heap[child + 1] : ~uint64_t{0};
            const bool take_right = right < left;
            child += take_right;
            const uint64_t smaller = take_right ? right : left;
            if (smaller >= moved) {
                break;
            }
            heap[hole] = smaller;
            hole = child;
        }
        if (size > 0) {
            heap[hole] = moved;
        }
    }
}

uint32_t Builder::fill(std::span<const Backend> backends, std::span<uint16_t> table) {
    const uint32_t m = static_cast<uint32_t>(table.size());

    // keys_ is in identity order (check()); keep the backends that take turns.
    turns_.clear();
    uint64_t max_weight = 0;
    uint64_t sum_weight = 0;
    for (const Key &k : keys_) {
        const Backend &b = backends[k.index];
        if (b.weight == 0) {
            continue;
        }
        const Permutation p = permutation(b, m);
        max_weight = std::max<uint64_t>(max_weight, b.weight);
        sum_weight += b.weight;
        turns_.push_back(Turn{p.offset, p.skip, 0, 0, b.weight, b.id});
    }
    const std::size_t n = turns_.size();
    for (Turn &t : turns_) {
        t.credit = max_weight - t.weight;
    }
    Filler filler(table, taken_, free_);

    // Rounds needed ~ M * W / sum of weights; each costs n steps. Measured
    // (N 1000, M 65537), the heap costs about as much as 32 idle steps per
    // slot: 2.1 ms against 1.3 ms for rounds at 10 steps per slot, 2.1 ms for
    // both at 30, 2.1 ms against 5 ms at 90.
    const uint64_t rounds = static_cast<uint64_t>(m) * max_weight / sum_weight + 1;
    if (rounds * n <= 32 * static_cast<uint64_t>(m)) {
        fill_rounds(filler, max_weight);
    } else {
        fill_events(filler, m, max_weight);
    }
    return static_cast<uint32_t>(n);
}

Result<uint32_t> Builder::build(std::span<const Backend> backends, std::span<uint16_t> table) {
    if (auto err = check(backends, table.size())) {
        return *std::move(err);
    }
    return fill(backends, table);
}

Result<std::vector<uint16_t>> Builder::build(std::span<const Backend> backends,
                                             uint32_t table_size) {
    if (auto err = check(backends, table_size)) {
        return *std::move(err);
    }
    std::vector<uint16_t> table(table_size);
    fill(backends, table);
    return table;
}

Result<uint32_t> build_table(std::span<const Backend> backends, std::span<uint16_t> table) {
    Builder b;
    return b.build(backends, table);
}

Result<std::vector<uint16_t>> build_table(std::span<const Backend> backends, uint32_t table_size) {
    Builder b;
    return b.build(backends, table_size);
}

std::vector<Share> slot_shares(std::span<const uint16_t> table) {
    std::vector<uint32_t> count;
    for (uint16_t id : table) {
        if (id >= count.size()) {
            count.resize(std::size_t{id} + 1, 0);
        }
        count[id]++;
    }
    std::vector<Share> out;
    for (std::size_t id = 0; id < count.size(); id++) {
        if (count[id] != 0) {
            out.push_back(
                Share{static_cast<uint16_t>(id), count[id],
                      static_cast<double>(count[id]) / static_cast<double>(table.size())});
        }
    }
    return out;
}

ArenaTable pack_table(std::span<const uint16_t> table) {
    // Per id: 0 not seen, else its list index + 1. Kept zero between calls
    // (only the entries of this table's ids are set, and cleared again), so
    // that a call costs O(M), not the 64K ids, when control packs the
    // tables of 1024 services.
    thread_local std::vector<uint16_t> place(std::size_t{1} << 16, 0);
    std::vector<uint16_t> ids;
    // Cleared on every way out, an exception included: a map left dirty
    // would give the next table wrong list indexes.
    struct Clear {
        std::vector<uint16_t> &place;
        const std::vector<uint16_t> &ids;
        ~Clear() {
            for (uint16_t id : ids) {
                place[id] = 0;
            }
        }
    } clear{place, ids};
    for (uint16_t id : table) {
        if (place[id] == 0) {
            place[id] = 1;
            ids.push_back(id);
            if (ids.size() > 256) {
                break; // raw
            }
        }
    }
    std::sort(ids.begin(), ids.end());
    ArenaTable a;
    const auto m = static_cast<uint32_t>(table.size());
    for (uint8_t bits : {1, 2, 4, 8}) {
        if (ids.size() <= (std::size_t{1} << bits)) {
            a.entry_bits = bits;
            break;
        }
    }
    // Packed only where it is smaller than raw (not for a small table of
    // many backends): the arena never holds more than the sum of the sizes.
    if (a.entry_bits != 0 && (1u << a.entry_bits) + sl_table_words(m, a.entry_bits) >= m) {
        a.entry_bits = 0;
    }
    if (a.entry_bits == 0) {
        a.words.assign(table.begin(), table.end());
        return a;
    }
    a.list_len = 1u << a.entry_bits;
    a.words.assign(a.list_len + sl_table_words(m, a.entry_bits), 0);
    std::copy(ids.begin(), ids.end(), a.words.begin());
    std::fill(a.words.begin() + static_cast<std::ptrdiff_t>(ids.size()),
              a.words.begin() + a.list_len, static_cast<uint16_t>(SL_NO_BACKEND));
    for (std::size_t i = 0; i < ids.size(); i++) {
        place[ids[i]] = static_cast<uint16_t>(i + 1);
    }
    uint16_t *packed = a.words.data() + a.list_len;
    for (uint32_t s = 0; s < m; s++) {
        const uint32_t i = place[table[s]] - 1u;
        const uint32_t bit = s * a.entry_bits;
        packed[bit / 16] = static_cast<uint16_t>(packed[bit / 16] | i << (bit % 16));
    }
    return a;
}

void place_table(sl_service &svc, const ArenaTable &a, uint32_t m, uint32_t offset) {
    svc.entry_bits = a.entry_bits;
    svc.list_offset = a.list_len != 0 ? offset : 0;
    svc.table_offset = offset + a.list_len;
    svc.table_size = m;
    svc.table_fastmod = sl_fastmod_magic(m);
}

std::vector<uint16_t> read_table(const sl_tables &t, const sl_service &svc) {
    std::vector<uint16_t> out;
    if (svc.table_size == 0 || !sl_table_in_arena(&svc)) {
        return out;
    }
    out.resize(svc.table_size);
    for (uint32_t s = 0; s < svc.table_size; s++) {
        out[s] = sl_table_backend(&t, &svc, s);
    }
    return out;
}

std::size_t changed_slots(std::span<const uint16_t> before, std::span<const uint16_t> after) {
    if (before.size() != after.size()) {
        return std::max(before.size(), after.size());
    }
    std::size_t changed = 0;
    for (std::size_t i = 0; i < before.size(); i++) {
        changed += before[i] != after[i];
    }
    return changed;
}

} // namespace sluice::maglev
