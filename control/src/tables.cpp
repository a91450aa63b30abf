// SPDX-License-Identifier: Apache-2.0
#include "tables.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <ctime>
#include <set>
#include <stdexcept>

namespace sluice::control {

namespace {

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void index_insert(sl_tables *t, const config::Address &vip, uint16_t port_be, uint8_t proto,
                  uint8_t match, uint16_t sid) {
    if (sl_index_insert(t, vip.family, vip.bytes.data(), port_be, proto, match, sid) == 0) {
        return;
    }
    throw std::runtime_error("service index full"); // validation keeps it at most half full
}

} // namespace

TablePublisher::TablePublisher(Region &region, sl_hash_seed seed, uint16_t gue_port)
    : region_(region), publisher_(region), seed_(seed), gue_port_(gue_port) {}

const std::vector<uint16_t> *TablePublisher::table_of(uint16_t service_id) const {
    auto it = cache_.find(service_id);
    return it == cache_.end() ? nullptr : &it->second.table;
}

uint32_t TablePublisher::allocate(uint16_t sid, uint32_t size) {
    std::vector<std::pair<uint32_t, uint32_t>> used; // (offset, size)
    for (const auto &[id, c] : cache_) {
        if (id != sid && c.size != 0) {
            used.emplace_back(c.offset, static_cast<uint32_t>(c.arena.words.size()));
        }
    }
    std::sort(used.begin(), used.end());
    uint64_t at = 0;
    for (const auto &[off, len] : used) {
        if (off >= at + size) {
            break;
        }
        at = std::max<uint64_t>(at, static_cast<uint64_t>(off) + len);
    }
    if (at + size > SL_TABLE_ARENA_ENTRIES) {
        throw std::runtime_error("the table arena has no room for " + std::to_string(size) +
                                 " entries (fragmented)");
    }
    return static_cast<uint32_t>(at);
}

PublishResult TablePublisher::publish(const std::vector<TableService> &services,
                                      std::chrono::milliseconds deadline) {
    // 1. Tables: rebuild those whose inputs changed; forget removed services.
    std::set<uint16_t> live;
    for (const TableService &ts : services) {
        live.insert(ts.id);
    }
    std::erase_if(cache_, [&](const auto &kv) { return !live.count(kv.first); });
    for (const TableService &ts : services) {
        std::vector<std::tuple<uint16_t, config::Address, uint32_t>> key;
        std::vector<maglev::Backend> in;
        for (const TableBackend &b : ts.backends) {
            if (b.weight == 0) {
                continue;
            }
            key.emplace_back(b.id, b.address, b.weight);
            maglev::Backend mb;
            std::memcpy(mb.addr.data(), b.address.bytes.data(), 16);
            mb.family = b.address.family;
            mb.id = b.id;
            mb.weight = b.weight;
            in.push_back(mb);
        }
        std::sort(key.begin(), key.end());
        const uint32_t size = in.empty() ? 0 : ts.service->table_size;
        auto found = cache_.find(ts.id);
        const Cached *was = found != cache_.end() ? &found->second : nullptr;
        if (was != nullptr && was->version != 0 && was->key == key && was->size == size) {
            continue;
        }
        std::vector<uint16_t> table(size);
        if (size != 0) {
            auto r = builder_.build(in, std::span<uint16_t>(table));
            if (!r) {
                throw std::runtime_error("service " + ts.service->name + ": " + r.error().message);
            }
        }
        maglev::ArenaTable arena = maglev::pack_table(table);
        const uint32_t words = static_cast<uint32_t>(arena.words.size());
        const bool moved = was == nullptr || was->version == 0 || was->arena.words.size() != words;
        uint32_t offset = was != nullptr ? was->offset : 0;
        if (moved && size != 0) {
            offset = allocate(ts.id, words);
        }
        // Only now, all together: an entry with a new size or version but its old offset would
        // be skipped on the next publish and written over another service's range.
        Cached &c = cache_[ts.id];
        c.table = std::move(table);
        c.arena = std::move(arena);
        c.key = std::move(key);
        c.size = size;
        c.version = next_version_++;
        c.offset = offset;
    }

    // 2. The standby copy, once no live worker reads it.
    const uint64_t t0 = now_ns();
    sl_tables *t = publisher_.begin(deadline);
    const unsigned copy = t == region_.tables(1) ? 1 : 0;
    auto &held = held_[copy];
    const std::map<uint16_t, Held> was_held = std::move(held);
    held.clear(); // until this copy is complete, trust nothing in it

    t->seed = seed_;
    std::memset(t->index, 0, sizeof(t->index));
    std::memset(t->services, 0, sizeof(t->services));
    std::memset(t->backends, 0, sizeof(t->backends));
    uint32_t n_services = 0;
    uint32_t n_backends = 0;
    unsigned written = 0;
    // Fragment owner per (family, vip, proto): the all-ports service, else the lowest port.
    std::map<std::tuple<config::Address, uint8_t>, std::pair<uint16_t, uint16_t>> frag;
    std::map<uint16_t, Held> now_held;
    for (const TableService &ts : services) {
        const config::Service &s = *ts.service;
        const Cached &c = cache_.at(ts.id);
        sl_service &out = t->services[ts.id];
        std::memcpy(out.vip, s.vip.bytes.data(), 16);
        out.port = htons(s.port);
        out.proto = s.proto;
        out.family = s.vip.family;
        out.hash_mode = static_cast<uint8_t>(s.hash_mode);
        out.fwd_mode = static_cast<uint8_t>(s.fwd_mode);
        out.flags = SL_SVC_ACTIVE;
        out.gue_port = htons(gue_port_);
        if (c.size != 0) {
            maglev::place_table(out, c.arena, c.size, c.offset);
        }
        uint16_t owners = 0;
        for (const TableBackend &b : ts.backends) {
            sl_backend &ob = t->backends[b.id];
            std::memcpy(ob.addr, b.address.bytes.data(), 16);
            ob.family = b.address.family;
            ob.flags = b.weight != 0 ? SL_BACKEND_ACTIVE : 0;
            std::memcpy(ob.mac, b.mac.data(), 6);
            ob.service_id = ts.id;
            owners += b.weight != 0 ? 1 : 0;
            n_backends = std::max<uint32_t>(n_backends, b.id + 1u);
        }
        out.n_backends = owners;
        n_services = std::max<uint32_t>(n_services, ts.id + 1u);
        index_insert(t, s.vip, out.port, s.proto, s.port == 0 ? SL_MATCH_ANY_PORT : SL_MATCH_PORT,
                     ts.id);
        auto [it, fresh] = frag.try_emplace({s.vip, s.proto}, s.port, ts.id);
        if (!fresh && s.port < it->second.first) {
            it->second = {s.port, ts.id};
        }
        if (c.size != 0) {
            auto h = was_held.find(ts.id);
            if (h == was_held.end() || h->second.version != c.version ||
                h->second.offset != c.offset) {
                std::memcpy(&t->arena[c.offset], c.arena.words.data(),
                            c.arena.words.size() * sizeof(uint16_t));
                written++;
            }
            now_held[ts.id] = Held{c.version, c.offset};
        }
    }
    for (const auto &[k, v] : frag) {
        index_insert(t, std::get<0>(k), 0, std::get<1>(k), SL_MATCH_FRAGMENT, v.second);
    }
    t->n_services = n_services;
    t->n_backends = n_backends;
    held = std::move(now_held);
    const uint64_t g = publisher_.commit();
    return PublishResult{g, now_ns() - t0, written};
}

} // namespace sluice::control
