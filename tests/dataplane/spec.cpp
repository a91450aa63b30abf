// SPDX-License-Identifier: Apache-2.0
#include "spec.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#ifdef SLUICE_TEST_HAVE_MAGLEV
#include "sluice/maglev.hpp"
#endif

namespace sluice::test {

namespace {

using nlohmann::json;

void parse_addr(const std::string &s, uint8_t &family, std::array<uint8_t, 16> &out) {
    out.fill(0);
    if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) {
        family = SL_AF_INET;
        return;
    }
    if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
        family = SL_AF_INET6;
        return;
    }
    throw std::runtime_error("spec: bad address '" + s + "'");
}

std::array<uint8_t, 6> parse_mac(const std::string &s) {
    std::array<uint8_t, 6> m{};
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) !=
        6) {
        throw std::runtime_error("spec: bad MAC '" + s + "'");
    }
    for (int i = 0; i < 6; i++) {
        m[i] = static_cast<uint8_t>(v[i]);
    }
    return m;
}

void index_insert(sl_tables *t, const SpecService &s, uint16_t port_be, uint8_t match,
                  uint16_t sid) {
    if (sl_index_insert(t, s.family, s.vip.data(), port_be, s.proto, match, sid) == 0) {
        return;
    }
    throw std::runtime_error("spec: service index full");
}

} // namespace

Spec load_spec(const std::string &path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("spec: cannot read " + path);
    }
    const json j = json::parse(in);
    Spec spec;
    if (j.contains("seed")) {
        const std::string hex = j.at("seed").get<std::string>();
        if (hex.size() != 32) {
            throw std::runtime_error("spec: seed is 32 hex digits");
        }
        uint8_t b[16];
        for (int i = 0; i < 16; i++) {
            b[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
        }
        std::memcpy(&spec.seed.k0, b, 8);
        std::memcpy(&spec.seed.k1, b + 8, 8);
    }
    spec.first_backend_id = j.value("first_backend_id", 0);
    for (const json &js : j.at("services")) {
        SpecService s;
        parse_addr(js.at("vip").get<std::string>(), s.family, s.vip);
        s.port = js.value("port", 0);
        const std::string proto = js.value("proto", "tcp");
        s.proto = proto == "udp" ? SL_IPPROTO_UDP : SL_IPPROTO_TCP;
        const std::string hash = js.value("hash", "5tuple");
        s.hash_mode = hash == "src-ip"        ? SL_HASH_SRC_IP
                      : hash == "src-ip-port" ? SL_HASH_SRC_IP_PORT
                                              : SL_HASH_5TUPLE;
        const std::string fwd = js.value("fwd", "dsr-l2");
        s.fwd_mode = fwd == "ipip" ? SL_FWD_IPIP : fwd == "gue" ? SL_FWD_GUE : SL_FWD_DSR_L2;
        s.table_size = js.value("table_size", 251u);
        s.gue_port = js.value("gue_port", 0);
        s.fragments = js.value("fragments", false);
        for (const json &jb : js.at("backends")) {
            SpecBackend b;
            parse_addr(jb.at("addr").get<std::string>(), b.family, b.addr);
            b.mac = parse_mac(jb.value("mac", "02:00:00:00:00:00"));
            b.weight = jb.value("weight", 1u);
            s.backends.push_back(b);
        }
        spec.services.push_back(std::move(s));
    }
    return spec;
}

void fill_tables(const Spec &spec, sl_tables *t, uint64_t generation, bool packed) {
    t->generation = generation;
    t->seed = spec.seed;
    std::memset(t->index, 0, sizeof(t->index));
    std::memset(t->services, 0, sizeof(t->services));
    std::memset(t->backends, 0, sizeof(t->backends));
    uint32_t arena_next = 0;
    uint16_t bid = spec.first_backend_id;
    uint32_t max_bid = 0;
    for (size_t si = 0; si < spec.services.size(); si++) {
        const SpecService &s = spec.services[si];
        const auto sid = static_cast<uint16_t>(si);
        sl_service &out = t->services[sid];
        std::memcpy(out.vip, s.vip.data(), 16);
        out.port = sl_htons(s.port);
        out.proto = s.proto;
        out.family = s.family;
        out.hash_mode = s.hash_mode;
        out.fwd_mode = s.fwd_mode;
        out.flags = SL_SVC_ACTIVE;
        out.gue_port = sl_htons(s.gue_port);
        std::vector<uint16_t> ids;
        for (const SpecBackend &b : s.backends) {
            sl_backend &ob = t->backends[bid];
            std::memcpy(ob.addr, b.addr.data(), 16);
            ob.family = b.family;
            ob.flags = SL_BACKEND_ACTIVE;
            std::memcpy(ob.mac, b.mac.data(), 6);
            ob.service_id = sid;
            ids.push_back(bid);
            max_bid = bid;
            bid++;
        }
        if (!s.backends.empty()) {
            std::vector<uint16_t> table(s.table_size);
#ifdef SLUICE_TEST_HAVE_MAGLEV
            std::vector<maglev::Backend> mb;
            for (size_t k = 0; k < s.backends.size(); k++) {
                maglev::Backend b;
                b.addr = s.backends[k].addr;
                b.family = s.backends[k].family;
                b.id = ids[k];
                b.weight = s.backends[k].weight;
                mb.push_back(b);
            }
            auto r = maglev::build_table(mb, std::span<uint16_t>(table));
            if (!r) {
                throw std::runtime_error("spec: maglev: " + r.error().message);
            }
            out.n_backends = static_cast<uint16_t>(*r);
            // as sluice-control writes it: packed where that is smaller
            maglev::ArenaTable at;
            if (packed) {
                at = maglev::pack_table(table);
            } else {
                at.words = table;
            }
            maglev::place_table(out, at, s.table_size, arena_next);
            std::copy(at.words.begin(), at.words.end(), &t->arena[arena_next]);
            arena_next += static_cast<uint32_t>(at.words.size());
#else
            for (uint32_t k = 0; k < s.table_size; k++) {
                table[k] = ids[k % ids.size()];
            }
            out.n_backends = static_cast<uint16_t>(ids.size());
            out.table_offset = arena_next;
            out.table_size = s.table_size;
            out.table_fastmod = sl_fastmod_magic(s.table_size);
            std::copy(table.begin(), table.end(), &t->arena[arena_next]);
            arena_next += s.table_size;
#endif
        }
        const uint8_t match = s.port == 0 ? SL_MATCH_ANY_PORT : SL_MATCH_PORT;
        index_insert(t, s, out.port, match, sid);
        if (s.fragments) {
            index_insert(t, s, 0, SL_MATCH_FRAGMENT, sid);
        }
    }
    t->n_services = static_cast<uint32_t>(spec.services.size());
    t->n_backends = max_bid + 1;
}

} // namespace sluice::test
