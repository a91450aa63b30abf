// SPDX-License-Identifier: Apache-2.0
//
// config.cpp: the TOML config file, parsed with toml++ and validated as a
// whole. Every refusal is one ConfigError "FILE:LINE: field: reason"; the
// rules are listed in docs/CONFIG.md and each one has a test in
// tests/unit/test_config.cpp.
#include "sluice/config.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/un.h>

#include "config_toml.hpp"
#include "sluice/rewrite.h"

namespace sluice::config {

namespace {

std::string prefix(const std::string &path, unsigned line) {
    if (line == 0) {
        return {};
    }
    return path + ":" + std::to_string(line) + ": ";
}

[[noreturn]] void fail(const std::string &path, unsigned line, const std::string &field,
                       const std::string &reason) {
    throw ConfigError(prefix(path, line) + field + ": " + reason);
}

unsigned line_of(const toml::node &n) {
    return n.source().begin.line;
}

// Walks one TOML table: typed getters that remember which keys were read,
// then `finish()` refuses every key nobody asked for (typos must not pass).
class TableReader {
  public:
    TableReader(const toml::table &t, std::string field, const std::string &path)
        : t_(t), field_(std::move(field)), path_(path) {}

    const toml::node *get(std::string_view key) {
        seen_.insert(std::string(key));
        return t_.get(key);
    }
    std::string field(std::string_view key) const { return field_ + "." + std::string(key); }
    // Refuses unknown keys before anything else, so that a typo of a
    // required key is reported as the typo.
    void allow(std::initializer_list<std::string_view> keys) const {
        for (auto &&[k, v] : t_) {
            if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) {
                const unsigned l = k.source().begin.line != 0 ? k.source().begin.line : line(&v);
                fail(path_, l, field(k.str()), "unknown key");
            }
        }
    }
    unsigned line() const { return line_of(t_); }
    unsigned line(const toml::node *n) const {
        const unsigned l = n != nullptr ? line_of(*n) : 0;
        return l != 0 ? l : line();
    }
    [[noreturn]] void fail_at(const toml::node *n, std::string_view key,
                              const std::string &reason) const {
        fail(path_, line(n), field(key), reason);
    }

    std::optional<std::string> str(std::string_view key) {
        const toml::node *n = get(key);
        if (n == nullptr) {
            return std::nullopt;
        }
        if (!n->is_string()) {
            fail_at(n, key, "must be a string");
        }
        return n->value<std::string>();
    }
    std::string required_str(std::string_view key) {
        auto v = str(key);
        if (!v) {
            fail(path_, line(), field(key), "required");
        }
        return *v;
    }
    std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi) {
        const toml::node *n = get(key);
        if (n == nullptr) {
            return std::nullopt;
        }
        if (!n->is_integer()) {
            fail_at(n, key, "must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
        }
        const int64_t v = *n->value<int64_t>();
        if (v < lo || v > hi) {
            fail_at(n, key,
                    std::to_string(v) + " is out of range " + std::to_string(lo) + ".." +
                        std::to_string(hi));
        }
        return v;
    }
    std::optional<bool> boolean(std::string_view key) {
        const toml::node *n = get(key);
        if (n == nullptr) {
            return std::nullopt;
        }
        if (!n->is_boolean()) {
            fail_at(n, key, "must be true or false");
        }
        return n->value<bool>();
    }
    // One of `choices` (a string).
    std::optional<std::string> choice(std::string_view key,
                                      std::initializer_list<std::string_view> choices) {
        const toml::node *n = get(key);
        if (n == nullptr) {
            return std::nullopt;
        }
        std::string list;
        for (auto c : choices) {
            list += (list.empty() ? "\"" : ", \"") + std::string(c) + "\"";
        }
        if (!n->is_string()) {
            fail_at(n, key, "must be one of " + list);
        }
        const std::string v = *n->value<std::string>();
        if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
            fail_at(n, key, "\"" + v + "\" is not one of " + list);
        }
        return v;
    }
    std::optional<Address> address(std::string_view key) {
        auto s = str(key);
        if (!s) {
            return std::nullopt;
        }
        auto a = parse_address(*s);
        if (!a) {
            fail_at(get(key), key, "\"" + *s + "\" is not an IPv4 or IPv6 address");
        }
        return a;
    }
    std::optional<Mac> mac(std::string_view key) {
        auto s = str(key);
        if (!s) {
            return std::nullopt;
        }
        auto m = parse_mac(*s);
        if (!m) {
            fail_at(get(key), key, "\"" + *s + "\" is not a MAC address (like 02:00:00:00:00:01)");
        }
        return m;
    }
    // Milliseconds: an integer, or a string "250ms" / "2s".
    std::optional<uint32_t> duration_ms(std::string_view key) {
        const toml::node *n = get(key);
        if (n == nullptr) {
            return std::nullopt;
        }
        const std::string why = "must be a duration: milliseconds, or a string like \"500ms\" "
                                "or \"2s\" (1ms..1h)";
        int64_t ms = -1;
        if (n->is_integer()) {
            ms = *n->value<int64_t>();
        } else if (n->is_string()) {
            const std::string s = *n->value<std::string>();
            std::size_t used = 0;
            long long v = -1;
            try {
                v = std::stoll(s, &used);
            } catch (const std::exception &) {
                fail_at(n, key, why);
            }
            const std::string unit = s.substr(used);
            if (unit == "ms") {
                ms = v;
            } else if (unit == "s") {
                ms = v * 1000;
            } else {
                fail_at(n, key, why);
            }
        } else {
            fail_at(n, key, why);
        }
        if (ms < 1 || ms > 3600 * 1000) {
            fail_at(n, key, why);
        }
        return static_cast<uint32_t>(ms);
    }
    const toml::table *table(std::string_view key) {
        const toml::node *n = get(key);
        if (n == nullptr) {
            return nullptr;
        }
        if (!n->is_table()) {
            fail_at(n, key, "must be a table");
        }
        return n->as_table();
    }
    std::vector<std::string> strings(std::string_view key) {
        std::vector<std::string> out;
        const toml::node *n = get(key);
        if (n == nullptr) {
            return out;
        }
        const toml::array *a = n->as_array();
        if (a == nullptr) {
            fail_at(n, key, "must be an array of strings");
        }
        for (const toml::node &e : *a) {
            if (!e.is_string()) {
                fail_at(&e, key, "must be an array of strings");
            }
            out.push_back(*e.value<std::string>());
        }
        return out;
    }
    void finish() const {
        for (auto &&[k, v] : t_) {
            if (!seen_.count(std::string(k.str()))) {
                const unsigned l = k.source().begin.line != 0 ? k.source().begin.line : line(&v);
                fail(path_, l, field(k.str()), "unknown key");
            }
        }
    }

  private:
    const toml::table &t_;
    std::string field_;
    const std::string &path_;
    std::set<std::string> seen_;
};

bool is_prime(uint32_t n) {
    if (n < 2) {
        return false;
    }
    for (uint32_t d = 2; d * d <= n; d++) {
        if (n % d == 0) {
            return false;
        }
    }
    return true;
}

uint32_t next_prime(uint32_t n) {
    while (!is_prime(n)) {
        n++;
    }
    return n;
}

bool valid_name(const std::string &s) {
    if (s.empty() || s.size() > 63) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

bool is_unusable(const Address &a) {
    static const std::array<uint8_t, 16> zero{};
    if (a.family == SL_AF_INET) {
        const uint8_t b0 = a.bytes[0];
        const bool all_zero =
            a.bytes[0] == 0 && a.bytes[1] == 0 && a.bytes[2] == 0 && a.bytes[3] == 0;
        const bool broadcast =
            a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 && a.bytes[3] == 255;
        return all_zero || broadcast || (b0 >= 224 && b0 <= 239);
    }
    return a.bytes == zero || a.bytes[0] == 0xff;
}

bool is_loopback(const Address &a) {
    static const std::array<uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 1};
    return a.family == SL_AF_INET ? a.bytes[0] == 127 : a.bytes == v6_loopback;
}

const char *const kNotOwn =
    " is unspecified, broadcast, multicast or loopback: it cannot be the box's own address (the "
    "source of its ARP/ND answers and ICMP errors, the outer source of encapsulated packets)";

DataplaneConfig parse_dataplane(const toml::table &t, const std::string &path) {
    DataplaneConfig d;
    TableReader r(t, "dataplane", path);
    r.allow({"kind", "instance", "ports", "two_armed", "mac", "ipv4", "ipv6", "gateway_mac", "mtu",
             "gue_port", "eal_args"});
    if (auto v = r.choice("kind", {"dpdk", "xdp"})) {
        d.kind = *v;
    }
    if (auto v = r.str("instance")) {
        const bool ok =
            !v->empty() && v->size() <= 64 && std::all_of(v->begin(), v->end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
            });
        if (!ok) {
            r.fail_at(r.get("instance"), "instance",
                      "\"" + *v + "\" is not 1-64 characters of [A-Za-z0-9_-]");
        }
        d.instance = *v;
    }
    d.ports = r.strings("ports");
    if (auto v = r.boolean("two_armed")) {
        d.two_armed = *v;
    }
    // The source of everything the box sends, and the next hop of what it
    // encapsulates: a group or all-zero MAC in either is a mistake, and the
    // frames sent with it are dropped or flooded.
    auto unicast_mac = [&r](const char *key) {
        auto m = r.mac(key);
        if (m && !is_unicast_mac(*m)) {
            r.fail_at(r.get(key), key, format_mac(*m) + " is not a unicast MAC address");
        }
        return m;
    };
    d.mac = unicast_mac("mac");
    d.ipv4 = r.address("ipv4");
    if (d.ipv4 && d.ipv4->family != SL_AF_INET) {
        r.fail_at(r.get("ipv4"), "ipv4", "must be an IPv4 address");
    }
    if (d.ipv4 && !is_own_address_usable(*d.ipv4)) {
        r.fail_at(r.get("ipv4"), "ipv4", format_address(*d.ipv4) + kNotOwn);
    }
    d.ipv6 = r.address("ipv6");
    if (d.ipv6 && d.ipv6->family != SL_AF_INET6) {
        r.fail_at(r.get("ipv6"), "ipv6", "must be an IPv6 address");
    }
    if (d.ipv6 && !is_own_address_usable(*d.ipv6)) {
        r.fail_at(r.get("ipv6"), "ipv6", format_address(*d.ipv6) + kNotOwn);
    }
    d.gateway_mac = unicast_mac("gateway_mac");
    if (auto v = r.integer("mtu", 576, 9216)) {
        d.mtu = static_cast<uint32_t>(*v);
    }
    if (d.ipv6 && d.mtu < 1280) {
        r.fail_at(r.get("mtu"), "mtu", "IPv6 needs an MTU of at least 1280");
    }
    if (auto v = r.integer("gue_port", 1, 65535)) {
        d.gue_port = static_cast<uint16_t>(*v);
    }
    d.eal_args = r.strings("eal_args");
    r.finish();
    return d;
}

ControlConfig parse_control(const toml::table &t, const std::string &path) {
    ControlConfig c;
    TableReader r(t, "control", path);
    r.allow({"socket", "socket_mode", "state_dir", "metrics_listen"});
    if (auto v = r.str("socket")) {
        if (v->empty() || v->size() >= sizeof(sockaddr_un::sun_path)) {
            r.fail_at(r.get("socket"), "socket",
                      "must be a path of 1.." + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                          " characters");
        }
        c.socket = *v;
    }
    if (const toml::node *n = r.get("socket_mode")) {
        const std::string why = "must be a file mode like \"0660\" or 0o660";
        int64_t mode = -1;
        if (n->is_integer()) {
            mode = *n->value<int64_t>();
        } else if (n->is_string()) {
            const std::string s = *n->value<std::string>();
            if (s.empty() || s.size() > 4 ||
                !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '7'; })) {
                r.fail_at(n, "socket_mode", why);
            }
            mode = std::stol(s, nullptr, 8);
        } else {
            r.fail_at(n, "socket_mode", why);
        }
        if (mode < 0 || mode > 0777) {
            r.fail_at(n, "socket_mode", why);
        }
        c.socket_mode = static_cast<unsigned>(mode);
    }
    if (auto v = r.str("state_dir")) {
        if (v->empty() || (*v)[0] != '/') {
            r.fail_at(r.get("state_dir"), "state_dir", "must be an absolute path");
        }
        c.state_dir = *v;
    }
    if (auto v = r.str("metrics_listen")) {
        // "" disables the endpoint; else HOST:PORT or [V6]:PORT.
        if (!v->empty()) {
            const auto colon = v->rfind(':');
            std::string host = colon == std::string::npos ? "" : v->substr(0, colon);
            const std::string port = colon == std::string::npos ? "" : v->substr(colon + 1);
            if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
                host = host.substr(1, host.size() - 2);
            }
            auto a = parse_address(host);
            int p = 0;
            try {
                p = port.empty() ? -1 : std::stoi(port);
            } catch (const std::exception &) {
                p = 0;
            }
            if (!a || port.empty() || p < 0 || p > 65535 ||
                port.find_first_not_of("0123456789") != std::string::npos) {
                r.fail_at(r.get("metrics_listen"), "metrics_listen",
                          "\"" + *v + "\" is not ADDRESS:PORT (like 127.0.0.1:9300 or [::1]:9300)");
            }
        }
        c.metrics_listen = *v;
    }
    r.finish();
    return c;
}

} // namespace

namespace detail {

Backend parse_backend(const toml::table &t, const std::string &field, const std::string &path) {
    Backend b;
    TableReader r(t, field, path);
    r.allow({"address", "mac", "weight", "state"});
    b.line = r.line();
    auto a = r.address("address");
    if (!a) {
        fail(path, r.line(), r.field("address"), "required");
    }
    b.address = *a;
    b.mac = r.mac("mac");
    if (auto v = r.integer("weight", 0, 65535)) {
        b.weight = static_cast<uint32_t>(*v);
    }
    if (auto v = r.choice("state", {"active", "drained"})) {
        b.state = *v;
    }
    r.finish();
    return b;
}

Service parse_service(const toml::table &t, const std::string &field, const std::string &path) {
    Service s;
    TableReader r(t, field, path);
    r.allow({"name", "vip", "port", "protocol", "hash", "forwarding", "table_size", "fail",
             "health", "backend", "backends"});
    s.line = r.line();
    s.name = r.required_str("name");
    if (!valid_name(s.name)) {
        r.fail_at(r.get("name"), "name",
                  "\"" + s.name + "\" is not 1-63 characters of [A-Za-z0-9._-]");
    }
    auto vip = r.address("vip");
    if (!vip) {
        fail(path, r.line(), r.field("vip"), "required");
    }
    s.vip = *vip;
    if (const toml::node *n = r.get("port")) {
        if (n->is_string() && *n->value<std::string>() == "all") {
            s.port = 0;
        } else if (n->is_integer() && *n->value<int64_t>() >= 0 && *n->value<int64_t>() <= 65535) {
            s.port = static_cast<uint16_t>(*n->value<int64_t>());
        } else {
            r.fail_at(n, "port", "must be 1..65535, or 0 or \"all\" for all ports");
        }
    } else {
        fail(path, r.line(), r.field("port"), "required (0 or \"all\" for all ports)");
    }
    if (auto v = r.choice("protocol", {"tcp", "udp"})) {
        s.proto = *v == "tcp" ? SL_IPPROTO_TCP : SL_IPPROTO_UDP;
    }
    if (auto v = r.choice("hash", {"5tuple", "src-ip-port", "src-ip"})) {
        s.hash_mode = *v == "5tuple"        ? SL_HASH_5TUPLE
                      : *v == "src-ip-port" ? SL_HASH_SRC_IP_PORT
                                            : SL_HASH_SRC_IP;
    }
    if (auto v = r.choice("forwarding", {"dsr-l2", "ipip", "gue"})) {
        s.fwd_mode = *v == "dsr-l2" ? SL_FWD_DSR_L2 : *v == "ipip" ? SL_FWD_IPIP : SL_FWD_GUE;
    }
    if (auto v = r.integer("table_size", 2, 0xffffffffLL)) {
        s.table_size = static_cast<uint32_t>(*v);
    }
    if (auto v = r.choice("fail", {"open", "closed"})) {
        s.fail_closed = *v == "closed";
    }
    if (const toml::table *h = r.table("health")) {
        TableReader hr(*h, r.field("health"), path);
        hr.allow({"type", "path", "expect", "port", "interval", "timeout", "rise", "fall"});
        if (auto v = hr.choice("type", {"tcp", "http", "none"})) {
            s.health.type = *v;
        }
        if (auto v = hr.str("path")) {
            if (v->empty() || (*v)[0] != '/' || v->find_first_of(" \r\n\t") != std::string::npos) {
                hr.fail_at(hr.get("path"), "path",
                           "\"" + *v + "\" must start with / and contain no white space");
            }
            s.health.path = *v;
        }
        if (auto v = hr.integer("expect", 100, 599)) {
            s.health.expect_status = static_cast<unsigned>(*v);
        }
        if (auto v = hr.integer("port", 1, 65535)) {
            s.health.port = static_cast<uint16_t>(*v);
        }
        if (auto v = hr.duration_ms("interval")) {
            s.health.interval_ms = *v;
        }
        if (auto v = hr.duration_ms("timeout")) {
            s.health.timeout_ms = *v;
        }
        if (auto v = hr.integer("rise", 1, 100)) {
            s.health.rise = static_cast<unsigned>(*v);
        }
        if (auto v = hr.integer("fall", 1, 100)) {
            s.health.fall = static_cast<unsigned>(*v);
        }
        if (s.health.timeout_ms > s.health.interval_ms) {
            hr.fail_at(hr.get("timeout"), "timeout",
                       std::to_string(s.health.timeout_ms) + "ms is longer than interval (" +
                           std::to_string(s.health.interval_ms) + "ms)");
        }
        hr.finish();
    }
    // "backend" in the file ([[service.backend]]); "backends" from the API.
    for (const char *key : {"backend", "backends"}) {
        const toml::node *n = r.get(key);
        if (n == nullptr) {
            continue;
        }
        const toml::array *a = n->as_array();
        if (a == nullptr) {
            r.fail_at(n, key, "must be an array of tables ([[service.backend]])");
        }
        std::size_t i = 0;
        for (const toml::node &e : *a) {
            const std::string f =
                r.field("backend") + "[" + std::to_string(s.backends.size()) + "]";
            if (!e.is_table()) {
                fail(path, line_of(e) ? line_of(e) : r.line(), f, "must be a table");
            }
            s.backends.push_back(parse_backend(*e.as_table(), f, path));
            i++;
        }
    }
    r.finish();
    return s;
}

} // namespace detail

void validate_services(const std::vector<Service> &services, const DataplaneConfig &dataplane,
                       const std::string &path, Naming naming) {
    auto svc_field = [&](std::size_t i) {
        return naming == Naming::ByIndex ? "service[" + std::to_string(i) + "]"
                                         : "service[" + services[i].name + "]";
    };
    auto be_field = [&](std::size_t i, std::size_t j) {
        return svc_field(i) +
               (naming == Naming::ByIndex
                    ? ".backend[" + std::to_string(j) + "]"
                    : ".backend[" + format_address(services[i].backends[j].address) + "]");
    };
    auto where = [&](unsigned line) {
        return line != 0 ? " (line " + std::to_string(line) + ")" : std::string();
    };
    if (services.size() > SL_MAX_SERVICES) {
        fail(path, services[SL_MAX_SERVICES].line, svc_field(SL_MAX_SERVICES),
             "more than " + std::to_string(SL_MAX_SERVICES) + " services");
    }
    std::map<std::string, std::size_t> names;
    std::map<std::tuple<Address, uint16_t, uint8_t>, std::size_t> listeners;
    std::size_t total_backends = 0;
    uint64_t arena = 0;
    for (std::size_t i = 0; i < services.size(); i++) {
        const Service &s = services[i];
        const std::string f = svc_field(i);
        if (auto [it, fresh] = names.emplace(s.name, i); !fresh) {
            fail(path, s.line, f + ".name",
                 "\"" + s.name + "\" is already the name of " + svc_field(it->second) +
                     where(services[it->second].line));
        }
        if (is_unusable(s.vip)) {
            fail(path, s.line, f + ".vip",
                 format_address(s.vip) + " is unspecified, broadcast or multicast");
        }
        if (auto [it, fresh] = listeners.emplace(std::tuple(s.vip, s.port, s.proto), i); !fresh) {
            fail(path, s.line, f + ".vip",
                 format_address(s.vip) + " " +
                     (s.port ? "port " + std::to_string(s.port) : "all ports") + " " +
                     proto_name(s.proto) + " is already served by " + svc_field(it->second) +
                     " \"" + services[it->second].name + "\"" + where(services[it->second].line));
        }
        if (s.table_size > SL_MAX_TABLE_SIZE) {
            fail(path, s.line, f + ".table_size",
                 std::to_string(s.table_size) + " is larger than the largest table size " +
                     std::to_string(SL_MAX_TABLE_SIZE));
        }
        if (!is_prime(s.table_size)) {
            fail(path, s.line, f + ".table_size",
                 std::to_string(s.table_size) + " is not a prime (the next prime is " +
                     std::to_string(next_prime(s.table_size)) + ")");
        }
        if (s.backends.size() > s.table_size) {
            fail(path, s.line, f + ".table_size",
                 std::to_string(s.table_size) + " is smaller than the number of backends (" +
                     std::to_string(s.backends.size()) + ")");
        }
        arena += s.table_size;
        if (s.health.timeout_ms > s.health.interval_ms) {
            fail(path, s.line, f + ".health.timeout",
                 std::to_string(s.health.timeout_ms) + "ms is longer than interval (" +
                     std::to_string(s.health.interval_ms) + "ms)");
        }
        std::map<Address, std::size_t> seen;
        for (std::size_t j = 0; j < s.backends.size(); j++) {
            const Backend &b = s.backends[j];
            const std::string bf = be_field(i, j);
            if (auto [it, fresh] = seen.emplace(b.address, j); !fresh) {
                fail(path, b.line, bf + ".address",
                     format_address(b.address) + " is already " + be_field(i, it->second) +
                         where(s.backends[it->second].line));
            }
            if (is_unusable(b.address)) {
                fail(path, b.line, bf + ".address",
                     format_address(b.address) + " is unspecified, broadcast or multicast");
            }
            if (b.weight > 65535) {
                fail(path, b.line, bf + ".weight",
                     std::to_string(b.weight) + " is out of range 0..65535");
            }
            if (b.state != "active" && b.state != "drained") {
                fail(path, b.line, bf + ".state",
                     "\"" + b.state + "\" is not one of \"active\", \"drained\"");
            }
            if (s.fwd_mode == SL_FWD_DSR_L2) {
                if (!b.mac) {
                    fail(path, b.line, bf + ".mac", "required for forwarding = \"dsr-l2\"");
                }
                if (!is_unicast_mac(*b.mac)) {
                    fail(path, b.line, bf + ".mac",
                         format_mac(*b.mac) + " is not a unicast MAC address");
                }
            } else {
                if (s.fwd_mode == SL_FWD_IPIP && s.vip.family == SL_AF_INET6 &&
                    b.address.family == SL_AF_INET) {
                    fail(path, b.line, bf + ".address",
                         "an IPv6 VIP cannot be sent to an IPv4 backend with forwarding = "
                         "\"ipip\" (IPv4-in-IPv4, IPv6-in-IPv6 and IPv4-in-IPv6 only)");
                }
                const bool v4 = b.address.family == SL_AF_INET;
                if ((v4 && !dataplane.ipv4) || (!v4 && !dataplane.ipv6)) {
                    fail(path, b.line, bf + ".address",
                         std::string("forwarding = \"") + fwd_name(s.fwd_mode) + "\" to an IPv" +
                             (v4 ? "4" : "6") + " backend needs dataplane.ipv" + (v4 ? "4" : "6") +
                             " (the outer source address)");
                }
            }
        }
        // The next hop of everything the service encapsulates: without it
        // the dataplane has no destination MAC for a single packet (it
        // addressed them to 00:00:00:00:00:00).
        if (s.fwd_mode != SL_FWD_DSR_L2 && !dataplane.gateway_mac) {
            fail(path, s.line, f + ".forwarding",
                 std::string("forwarding = \"") + fwd_name(s.fwd_mode) +
                     "\" needs dataplane.gateway_mac (the next hop of encapsulated packets)");
        }
        // An IPv6 packet of 1280 bytes, the least MTU IPv6 allows, must fit
        // once encapsulated: a larger one is answered with packet-too-big
        // announcing the MTU less the outer headers, and hosts ignore any
        // below 1280 (RFC 8201 4), so 1280-byte packets to the VIP would be
        // lost for good.
        if (s.fwd_mode != SL_FWD_DSR_L2 && s.vip.family == SL_AF_INET6) {
            uint32_t overhead = 0;
            std::size_t worst = 0;
            for (std::size_t j = 0; j < s.backends.size(); j++) {
                const uint32_t o = sl_encap_overhead(s.fwd_mode, s.backends[j].address.family);
                if (o > overhead) {
                    overhead = o;
                    worst = j;
                }
            }
            if (overhead != 0 && dataplane.mtu < 1280 + overhead) {
                const bool v4 = s.backends[worst].address.family == SL_AF_INET;
                fail(path, s.line, f + ".vip",
                     "an IPv6 VIP with forwarding = \"" + std::string(fwd_name(s.fwd_mode)) +
                         "\" needs dataplane.mtu " + std::to_string(1280 + overhead) +
                         " or more (1280, the least IPv6 MTU, + " + std::to_string(overhead) +
                         " bytes of " + (v4 ? "IPv4" : "IPv6") +
                         (s.fwd_mode == SL_FWD_GUE ? " + UDP + GUE headers" : " header") + " to " +
                         be_field(i, worst) + "); with mtu " + std::to_string(dataplane.mtu) +
                         " its packet-too-big would announce less than 1280, which hosts ignore");
            }
        }
        total_backends += s.backends.size();
        if (total_backends > SL_MAX_BACKENDS) {
            fail(path, s.line, f + ".backend",
                 "more than " + std::to_string(SL_MAX_BACKENDS) + " backends in all services");
        }
        if (arena > SL_TABLE_ARENA_ENTRIES) {
            fail(path, s.line, f + ".table_size",
                 "the tables of all services need " + std::to_string(arena) +
                     " entries, more than the region holds (" +
                     std::to_string(SL_TABLE_ARENA_ENTRIES) + ")");
        }
    }
}

Config parse(const std::string &text, const std::string &path) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error &e) {
        throw ConfigError(path + ":" + std::to_string(e.source().begin.line) +
                          ": syntax: " + std::string(e.description()));
    }
    Config c;
    c.path = path;
    auto field = [](std::string_view k) { return std::string(k); };
    for (auto &&[k, v] : root) {
        const std::string key(k.str());
        if (key != "seed" && key != "dataplane" && key != "control" && key != "service") {
            fail(path, k.source().begin.line, field(key), "unknown key");
        }
    }
    if (const toml::node *n = root.get("seed")) {
        if (!n->is_string() || !parse_seed(*n->value<std::string>())) {
            fail(path, line_of(*n), "seed", "must be a string of 32 hex digits");
        }
        c.seed = *n->value<std::string>();
    }
    if (const toml::node *n = root.get("dataplane")) {
        if (!n->is_table()) {
            fail(path, line_of(*n), "dataplane", "must be a table");
        }
        c.dataplane = parse_dataplane(*n->as_table(), path);
    }
    if (const toml::node *n = root.get("control")) {
        if (!n->is_table()) {
            fail(path, line_of(*n), "control", "must be a table");
        }
        c.control = parse_control(*n->as_table(), path);
    }
    if (const toml::node *n = root.get("service")) {
        const toml::array *a = n->as_array();
        if (a == nullptr) {
            fail(path, line_of(*n), "service", "must be an array of tables ([[service]])");
        }
        for (const toml::node &e : *a) {
            const std::string f = "service[" + std::to_string(c.services.size()) + "]";
            if (!e.is_table()) {
                fail(path, line_of(e), f, "must be a table");
            }
            c.services.push_back(detail::parse_service(*e.as_table(), f, path));
        }
    }
    validate_services(c.services, c.dataplane, path, Naming::ByIndex);
    return c;
}

Config load(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ConfigError(path + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
}

std::optional<Address> parse_address(std::string_view text) {
    Address a;
    const std::string s(text);
    if (s.find(':') != std::string::npos) {
        if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) {
            return std::nullopt;
        }
        a.family = SL_AF_INET6;
        return a;
    }
    in_addr v4{};
    // inet_pton takes only dotted quads (no "10.1", no octal).
    if (inet_pton(AF_INET, s.c_str(), &v4) != 1) {
        return std::nullopt;
    }
    std::memcpy(a.bytes.data(), &v4, 4);
    a.family = SL_AF_INET;
    return a;
}

std::string format_address(const Address &a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.family == SL_AF_INET) {
        inet_ntop(AF_INET, a.bytes.data(), buf, sizeof(buf));
    } else if (a.family == SL_AF_INET6) {
        inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof(buf));
    } else {
        return "?";
    }
    return buf;
}

namespace {

// Two hex digits (either case) as a byte.
std::optional<uint8_t> hex_byte(std::string_view two) {
    unsigned v = 0;
    for (const char c : two) {
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= static_cast<unsigned>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= static_cast<unsigned>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
    }
    return static_cast<uint8_t>(v);
}

} // namespace

std::optional<Mac> parse_mac(std::string_view text, std::string_view separators) {
    if (text.size() != 17 || separators.find(text[2]) == std::string_view::npos) {
        return std::nullopt;
    }
    Mac m{};
    for (std::size_t i = 0; i < 6; i++) {
        if (i > 0 && text[i * 3 - 1] != text[2]) {
            return std::nullopt;
        }
        const auto v = hex_byte(text.substr(i * 3, 2));
        if (!v) {
            return std::nullopt;
        }
        m[i] = *v;
    }
    return m;
}

std::string format_mac(const Mac &m) {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return buf;
}

bool is_own_address_usable(const Address &a) {
    return !is_unusable(a) && !is_loopback(a);
}

bool is_unicast_mac(const Mac &m) {
    return (m[0] & 1) == 0 && m != Mac{};
}

std::optional<sl_hash_seed> parse_seed(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.remove_suffix(1);
    }
    if (text.size() != 32) {
        return std::nullopt;
    }
    uint8_t bytes[16];
    for (std::size_t i = 0; i < 16; i++) {
        const auto v = hex_byte(text.substr(i * 2, 2));
        if (!v) {
            return std::nullopt;
        }
        bytes[i] = *v;
    }
    // The 32 digits are the 16 seed bytes in order; k0 and k1 are read from
    // them little-endian, as the hash reads its message.
    sl_hash_seed seed{};
    seed.k0 = sl_load_le64(bytes);
    seed.k1 = sl_load_le64(bytes + 8);
    return seed;
}

const char *hash_name(sl_hash_mode mode) {
    switch (mode) {
        case SL_HASH_SRC_IP_PORT:
            return "src-ip-port";
        case SL_HASH_SRC_IP:
            return "src-ip";
        default:
            return "5tuple";
    }
}

const char *fwd_name(sl_fwd_mode mode) {
    switch (mode) {
        case SL_FWD_IPIP:
            return "ipip";
        case SL_FWD_GUE:
            return "gue";
        default:
            return "dsr-l2";
    }
}

const char *proto_name(uint8_t proto) {
    return proto == SL_IPPROTO_UDP ? "udp" : "tcp";
}

} // namespace sluice::config
