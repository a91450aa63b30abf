// SPDX-License-Identifier: Apache-2.0
//
// sluicectl: the operators' command line for sluice-control.
// Exit codes: 0 ok, 1 the daemon refused or could not be reached, 2 usage.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "service_file.hpp"
#include "util.hpp"

using nlohmann::json;
using namespace sluicectl;

namespace {

constexpr const char *kDefaultSocket = "/run/sluice/control.sock";
constexpr const char *kVersion = "0.1.0";

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
    g_stop.store(true);
}

// ---------------------------------------------------------------- options

struct Global {
    std::string socket = kDefaultSocket;
    double timeout_s = 5.0;
};

CLI::Validator validator(std::string (*check)(const std::string &), const char *name) {
    return CLI::Validator([check](std::string &s) { return check(s); }, "", name);
}

CLI::Validator one_of(const std::string &what, std::vector<std::string> allowed) {
    return CLI::Validator(
        [what, allowed](std::string &s) -> std::string {
            for (const auto &a : allowed) {
                if (s == a) {
                    return {};
                }
            }
            std::string list;
            for (size_t i = 0; i < allowed.size(); ++i) {
                list += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", ")) + allowed[i];
            }
            return fmt::format("unknown {} '{}' (expected {})", what, s, list);
        },
        "", what);
}

CLI::Validator uint_max(const std::string &what, uint64_t max) {
    return CLI::Validator(
        [what, max](std::string &s) -> std::string {
            if (parse_uint(s, max)) {
                return {};
            }
            return fmt::format("{} '{}' is not an integer in 0..{}", what, s, max);
        },
        "", what);
}

const CLI::Validator kAddress = validator(check_address, "ADDRESS");
const CLI::Validator kMac = validator(check_mac, "MAC");
const CLI::Validator kPort = validator(check_port, "PORT");
const CLI::Validator kWeight = validator(check_weight, "WEIGHT");

// Milliseconds, or a number followed by "ms" or "s", as the config file takes.
std::string check_duration(const std::string &s) {
    std::string digits = s;
    if (digits.size() > 2 && digits.ends_with("ms")) {
        digits.resize(digits.size() - 2);
    } else if (digits.size() > 1 && digits.ends_with("s")) {
        digits.resize(digits.size() - 1);
    }
    if (parse_uint(digits, UINT32_MAX)) {
        return {};
    }
    return fmt::format("'{}' is not a duration (milliseconds, or like 500ms or 2s)", s);
}
const CLI::Validator kDuration = validator(check_duration, "DURATION");

std::string canon_addr(const std::string &s) {
    return canonical_address(s).value_or(s);
}

// ---------------------------------------------------------------- output

void print_json(const json &j) {
    std::cout << j.dump(2) << "\n";
}

std::string upper(std::string s) {
    for (auto &c : s) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

// A table from a list of objects: `preferred` columns first (those present),
// then every other scalar key in the order the objects carry them.
Table objects_table(const json &list, const std::vector<std::string> &preferred,
                    const std::vector<std::string> &skip = {},
                    const std::vector<std::string> &prefix_head = {},
                    const std::vector<std::string> &prefix_cells = {}) {
    std::vector<std::string> cols;
    auto present = [&](const std::string &k) {
        for (const auto &o : list) {
            if (o.is_object() && o.contains(k)) {
                return true;
            }
        }
        return false;
    };
    for (const auto &k : preferred) {
        if (present(k)) {
            cols.push_back(k);
        }
    }
    std::set<std::string> seen(cols.begin(), cols.end());
    seen.insert(skip.begin(), skip.end());
    for (const auto &o : list) {
        if (!o.is_object()) {
            continue;
        }
        for (auto it = o.begin(); it != o.end(); ++it) {
            if (!seen.count(it.key()) && !it.value().is_structured()) {
                cols.push_back(it.key());
                seen.insert(it.key());
            }
        }
    }
    std::vector<std::string> head = prefix_head;
    std::vector<size_t> right;
    for (const auto &c : cols) {
        head.push_back(upper(c));
    }
    for (size_t i = 0; i < cols.size(); ++i) {
        bool numeric = false;
        for (const auto &o : list) {
            if (o.is_object() && o.contains(cols[i]) && o[cols[i]].is_number()) {
                numeric = true;
            }
        }
        if (numeric) {
            right.push_back(prefix_head.size() + i);
        }
    }
    Table t(head);
    t.right(right);
    for (const auto &o : list) {
        std::vector<std::string> row = prefix_cells;
        for (const auto &c : cols) {
            row.push_back(cell(o, c.c_str()));
        }
        t.add(std::move(row));
    }
    return t;
}

// "key: value" lines for the scalar members of an object; nested objects on
// one line as k=v pairs. Lists are left to the caller.
std::string key_values(const json &obj, const std::vector<std::string> &order) {
    std::vector<std::string> keys;
    for (const auto &k : order) {
        if (obj.contains(k)) {
            keys.push_back(k);
        }
    }
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (std::find(keys.begin(), keys.end(), it.key()) == keys.end() && !it.value().is_array()) {
            keys.push_back(it.key());
        }
    }
    size_t w = 0;
    for (const auto &k : keys) {
        w = std::max(w, k.size());
    }
    std::string out;
    for (const auto &k : keys) {
        const auto &v = obj[k];
        std::string text;
        if (v.is_object()) {
            for (auto it = v.begin(); it != v.end(); ++it) {
                text += (text.empty() ? "" : " ") + it.key() + "=" +
                        (it.value().is_structured() ? it.value().dump() : cell(it.value()));
            }
        } else if (v.is_array()) {
            text = v.dump();
        } else {
            text = cell(v);
        }
        out += fmt::format("{:<{}}  {}\n", k + ":", w + 1, text);
    }
    return out;
}

const json &list_member(const json &obj, const char *key) {
    static const json empty = json::array();
    if (obj.is_object() && obj.contains(key) && obj[key].is_array()) {
        return obj[key];
    }
    return empty;
}

// ---------------------------------------------------------------- commands

struct Ctl {
    Global global;
    std::unique_ptr<Client> client_;

    Client &client() {
        if (!client_) {
            auto ms = static_cast<long>(std::llround(global.timeout_s * 1000.0));
            client_ = std::make_unique<Client>(global.socket, std::chrono::milliseconds(ms));
        }
        return *client_;
    }
    json call(const std::string &cmd, const json &args = json::object()) {
        return client().call(cmd, args);
    }
};

int changed(const json &result, const std::string &what) {
    if (result.is_object() && result.contains("generation")) {
        std::cout << fmt::format("{} (generation {})\n", what, cell(result["generation"]));
    } else {
        std::cout << what << "\n";
    }
    return 0;
}

// --- service

int service_list(Ctl &ctl, bool as_json) {
    json r = ctl.call("service.list");
    if (as_json) {
        print_json(r);
        return 0;
    }
    const json &list = list_member(r, "services");
    if (list.empty()) {
        std::cout << "no services\n";
        return 0;
    }
    json rows = list;
    for (auto &s : rows) {
        if (s.is_object() && s.contains("port") && s["port"] == 0) {
            s["port"] = "all";
        }
    }
    std::cout << objects_table(rows,
                               {"name", "vip", "port", "protocol", "hash", "forwarding",
                                "table_size", "fail", "backends", "healthy", "active"},
                               {"id", "generation"})
                     .render();
    return 0;
}

int service_show(Ctl &ctl, const std::string &name, bool as_json) {
    json r = ctl.call("service.show", {{"name", name}});
    if (as_json) {
        print_json(r);
        return 0;
    }
    json svc =
        (r.is_object() && r.contains("service") && r["service"].is_object()) ? r["service"] : r;
    json head = svc;
    if (head.contains("port") && head["port"] == 0) {
        head["port"] = "all";
    }
    std::cout << key_values(head, {"name", "vip", "port", "protocol", "hash", "forwarding",
                                   "table_size", "fail", "health"});
    const json &backends = list_member(svc, "backends");
    std::cout << "backends:\n";
    if (backends.empty()) {
        std::cout << "  (none)\n";
        return 0;
    }
    std::istringstream lines(
        objects_table(backends, {"address", "mac", "weight", "state", "health", "slots"}, {"id"})
            .render());
    for (std::string l; std::getline(lines, l);) {
        std::cout << "  " << l << "\n";
    }
    return 0;
}

struct ServiceAddOpts {
    std::string file;
    std::string name, vip, port, proto, hash, forwarding, fail;
    std::string table_size;
    std::string health_type, health_path, health_expect, health_port;
    std::string health_interval, health_timeout, health_rise, health_fall;
    std::vector<std::string> backends;
};

// "ADDRESS[,MAC[,WEIGHT]]" as given to --backend.
std::string check_backend_spec(const std::string &spec) {
    std::vector<std::string> parts;
    std::stringstream ss(spec);
    for (std::string p; std::getline(ss, p, ',');) {
        parts.push_back(p);
    }
    if (parts.empty() || parts.size() > 3) {
        return fmt::format("'{}' is not ADDRESS[,MAC[,WEIGHT]]", spec);
    }
    if (auto e = check_address(parts[0]); !e.empty()) {
        return e;
    }
    if (parts.size() > 1 && !parts[1].empty()) {
        if (auto e = check_mac(parts[1]); !e.empty()) {
            return e;
        }
    }
    if (parts.size() > 2) {
        if (auto e = check_weight(parts[2]); !e.empty()) {
            return e;
        }
    }
    return {};
}

json backend_from_spec(const std::string &spec) {
    std::vector<std::string> parts;
    std::stringstream ss(spec);
    for (std::string p; std::getline(ss, p, ',');) {
        parts.push_back(p);
    }
    json b = {{"address", canon_addr(parts.at(0))}};
    if (parts.size() > 1 && !parts[1].empty()) {
        b["mac"] = canonical_mac(parts[1]).value_or(parts[1]);
    }
    if (parts.size() > 2) {
        b["weight"] = *parse_uint(parts[2], 65535);
    }
    return b;
}

std::string read_text(const std::string &path) {
    if (path == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin), {});
    }
    std::ifstream in(path);
    if (!in) {
        throw UsageError(fmt::format("cannot read {}", path));
    }
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int service_add(Ctl &ctl, const ServiceAddOpts &o) {
    json svc;
    if (!o.file.empty()) {
        svc = service_from_text(read_text(o.file), o.file == "-" ? "<stdin>" : o.file);
    } else {
        if (o.name.empty() || o.vip.empty() || o.port.empty()) {
            throw UsageError("service add needs --name, --vip and --port (or --file)");
        }
        svc["name"] = o.name;
        svc["vip"] = o.vip;
        if (!o.port.empty()) {
            svc["port"] = o.port == "all" ? 0 : *parse_uint(o.port, 65535);
        }
        auto put = [&](json &j, const char *key, const std::string &v) {
            if (!v.empty()) {
                j[key] = v;
            }
        };
        auto put_uint = [&](json &j, const char *key, const std::string &v) {
            if (!v.empty()) {
                j[key] = *parse_uint(v, UINT32_MAX);
            }
        };
        auto put_duration = [&](json &j, const char *key, const std::string &v) {
            if (auto ms = parse_uint(v, UINT32_MAX)) {
                j[key] = *ms;
            } else if (!v.empty()) {
                j[key] = v;
            }
        };
        put(svc, "protocol", o.proto);
        put(svc, "hash", o.hash);
        put(svc, "forwarding", o.forwarding);
        put_uint(svc, "table_size", o.table_size);
        put(svc, "fail", o.fail);
        json health = json::object();
        put(health, "type", o.health_type);
        put(health, "path", o.health_path);
        put_uint(health, "expect", o.health_expect);
        put_uint(health, "port", o.health_port);
        put_duration(health, "interval", o.health_interval);
        put_duration(health, "timeout", o.health_timeout);
        put_uint(health, "rise", o.health_rise);
        put_uint(health, "fall", o.health_fall);
        if (!health.empty()) {
            svc["health"] = health;
        }
        if (!o.backends.empty()) {
            svc["backends"] = json::array();
            for (const auto &spec : o.backends) {
                svc["backends"].push_back(backend_from_spec(spec));
            }
        }
    }
    check_service(svc);
    json r = ctl.call("service.add", svc);
    return changed(r, fmt::format("service {} added", svc["name"].get<std::string>()));
}

// --- backend

int backend_list(Ctl &ctl, const std::string &service, bool as_json) {
    json r = ctl.call("backend.list", {{"service", service}});
    if (as_json) {
        print_json(r);
        return 0;
    }
    const json &list = list_member(r, "backends");
    if (list.empty()) {
        std::cout << fmt::format("service {} has no backends\n", service);
        return 0;
    }
    std::cout << objects_table(list, {"address", "mac", "weight", "state", "health", "slots"},
                               {"id"})
                     .render();
    return 0;
}

// --- health

std::string duration_text(const json &seconds);

int health(Ctl &ctl, const std::string &service, bool as_json) {
    json args = json::object();
    if (!service.empty()) {
        args["service"] = service;
    }
    json r = ctl.call("health", args);
    if (as_json) {
        print_json(r);
        return 0;
    }
    json rows = json::array();
    for (const auto &s : list_member(r, "services")) {
        for (const auto &b : list_member(s, "backends")) {
            json row = {{"service", cell(s, "name")}};
            if (b.is_object()) {
                row.update(b);
            }
            if (row.contains("since") && row["since"].is_number() &&
                row["since"].get<double>() > 0) {
                // unix seconds -> how long the backend has been in this state
                double ago = static_cast<double>(std::time(nullptr)) - row["since"].get<double>();
                row["since"] = duration_text(std::max(0.0, ago)) + " ago";
            }
            if (row.contains("healthy") && row["healthy"].is_boolean()) {
                row["healthy"] = row["healthy"].get<bool>() ? "up" : "DOWN";
            }
            rows.push_back(row);
        }
    }
    if (rows.empty()) {
        std::cout << "no backends\n";
        return 0;
    }
    std::cout
        << objects_table(rows, {"service", "address", "healthy", "since", "last_error"}).render();
    return 0;
}

// --- stats

double counter(const json &obj, const char *key) {
    if (obj.is_object() && obj.contains(key) && obj[key].is_number()) {
        return obj[key].get<double>();
    }
    return std::nan("");
}

// Rate of a counter between two samples; "-" when unknown or reset.
std::string rate(double before, double after, double dt, double scale = 1.0) {
    if (std::isnan(before) || std::isnan(after) || after < before || dt <= 0) {
        return "-";
    }
    return si((after - before) * scale / dt);
}

const json *find_named(const json &list, const char *key, const std::string &value) {
    for (const auto &o : list) {
        if (o.is_object() && o.contains(key) && cell(o[key]) == value) {
            return &o;
        }
    }
    return nullptr;
}

std::string render_stats(const json &prev, const json &cur, double dt) {
    std::string out =
        fmt::format("generation {}   interval {:.2f} s\n\n", cell(cur, "generation"), dt);
    Table t({"SERVICE", "BACKEND", "PKT/S", "BIT/S", "PACKETS", "BYTES"});
    t.right({2, 3, 4, 5});
    const json &services_before = list_member(prev, "services");
    for (const auto &s : list_member(cur, "services")) {
        std::string name = cell(s, "name");
        const json *sb = find_named(services_before, "name", name);
        json none = json::object();
        const json &b0 = sb ? *sb : none;
        t.add({name, "*", rate(counter(b0, "packets"), counter(s, "packets"), dt),
               rate(counter(b0, "bytes"), counter(s, "bytes"), dt, 8.0), cell(s, "packets"),
               cell(s, "bytes")});
        for (const auto &b : list_member(s, "backends")) {
            std::string addr = cell(b, "address");
            const json *bb = find_named(list_member(b0, "backends"), "address", addr);
            const json &bp = bb ? *bb : none;
            t.add({"", addr, rate(counter(bp, "packets"), counter(b, "packets"), dt),
                   rate(counter(bp, "bytes"), counter(b, "bytes"), dt, 8.0), cell(b, "packets"),
                   cell(b, "bytes")});
        }
    }
    out += t.empty() ? "no services\n" : t.render();
    if (cur.is_object() && cur.contains("drops") && cur["drops"].is_object()) {
        // Only the reasons that counted something; --json has them all.
        Table d({"DROP REASON", "PER SEC", "TOTAL"});
        d.right({1, 2});
        json none = json::object();
        const json &dp = (prev.is_object() && prev.contains("drops")) ? prev["drops"] : none;
        size_t quiet = 0;
        for (auto it = cur["drops"].begin(); it != cur["drops"].end(); ++it) {
            if (it.value().is_number() && it.value().get<double>() == 0) {
                ++quiet;
                continue;
            }
            const char *reason = it.key().c_str();
            d.add({it.key(), rate(counter(dp, reason), counter(cur["drops"], reason), dt),
                   cell(it.value())});
        }
        out += "\n" + (d.empty() ? std::string("no drops\n") : d.render());
        if (!d.empty() && quiet > 0) {
            out += fmt::format("({} other drop reasons at 0)\n", quiet);
        }
    }
    // What the ports lost where sluice's own counters cannot see it (the
    // NIC, the kernel): only ports that lost something.
    Table pt({"PORT", "RX MISSED/S", "RX MISSED", "RX ERRORS", "RX NOMBUF", "TX ERRORS"});
    pt.right({1, 2, 3, 4, 5});
    for (const auto &p : list_member(cur, "ports")) {
        const double lost = counter(p, "rx_missed") + counter(p, "rx_errors") +
                            counter(p, "rx_nombuf") + counter(p, "tx_errors");
        if (!(lost > 0)) {
            continue;
        }
        const json *pb = find_named(list_member(prev, "ports"), "port", cell(p, "port"));
        json none = json::object();
        pt.add({cell(p, "name"),
                rate(counter(pb ? *pb : none, "rx_missed"), counter(p, "rx_missed"), dt),
                cell(p, "rx_missed"), cell(p, "rx_errors"), cell(p, "rx_nombuf"),
                cell(p, "tx_errors")});
    }
    if (!pt.empty()) {
        out += "\n" + pt.render();
    }
    return out;
}

// Sleeps until `until`, waking early when a stop signal arrives.
void sleep_until(std::chrono::steady_clock::time_point until) {
    while (!g_stop.load()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;
        }
        ::poll(nullptr, 0, static_cast<int>(std::min<long>(left.count(), 100)));
    }
}

struct StatsOpts {
    bool json = false;
    bool watch = false;
    unsigned count = 0;
    double interval_s = 1.0;
};

void watch(Ctl &ctl, const StatsOpts &o, std::chrono::milliseconds interval, bool tty);

int stats(Ctl &ctl, const StatsOpts &o) {
    using Clock = std::chrono::steady_clock;
    auto interval = std::chrono::milliseconds(std::llround(o.interval_s * 1000.0));
    if (!o.watch) {
        json first = ctl.call("stats");
        if (o.json) {
            print_json(first);
            return 0;
        }
        auto t0 = Clock::now();
        sleep_until(t0 + interval);
        json second = ctl.call("stats");
        double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        std::cout << render_stats(first, second, dt);
        return 0;
    }

    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    bool tty = ::isatty(STDOUT_FILENO) == 1;
    ctl.client().interrupt_on(&g_stop);
    try {
        watch(ctl, o, interval, tty);
    } catch (const Interrupted &) {
    }
    return 0; // Ctrl-C ends --watch: a normal end
}

void watch(Ctl &ctl, const StatsOpts &o, std::chrono::milliseconds interval, bool tty) {
    using Clock = std::chrono::steady_clock;

    json prev = ctl.call("stats");
    auto t_prev = Clock::now();
    for (unsigned n = 0; !g_stop.load() && (o.count == 0 || n < o.count); ++n) {
        sleep_until(t_prev + interval);
        if (g_stop.load()) {
            break;
        }
        json cur = ctl.call("stats");
        auto t = Clock::now();
        if (o.json) {
            std::cout << cur.dump() << std::endl;
        } else {
            std::time_t now = std::time(nullptr);
            char when[32];
            std::strftime(when, sizeof(when), "%H:%M:%S", std::localtime(&now));
            std::string screen =
                fmt::format("sluicectl stats   {}   {}\n", when, ctl.global.socket) +
                render_stats(prev, cur, std::chrono::duration<double>(t - t_prev).count());
            std::cout << (tty ? "\033[H\033[2J" : (n > 0 ? "\n" : "")) << screen << std::flush;
        }
        prev = std::move(cur);
        t_prev = t;
    }
}

// --- lookup, table, status, reload, check

struct LookupOpts {
    std::string service, src, sport, dst, dport, proto;
    bool json = false;
};

int lookup(Ctl &ctl, const LookupOpts &o) {
    json args = {{"service", o.service}, {"src", canon_addr(o.src)}};
    if (!o.sport.empty()) {
        args["sport"] = *parse_uint(o.sport, 65535);
    }
    if (!o.dst.empty()) {
        args["dst"] = canon_addr(o.dst);
    }
    if (!o.dport.empty()) {
        args["dport"] = *parse_uint(o.dport, 65535);
    }
    if (!o.proto.empty()) {
        args["proto"] = o.proto;
    }
    json r = ctl.call("lookup", args);
    if (o.json) {
        print_json(r);
        return 0;
    }
    std::cout << key_values(r, {"service", "backend", "slot", "hash"});
    return 0;
}

int table(Ctl &ctl, const std::string &service, bool as_json) {
    json r = ctl.call("table", {{"service", service}});
    if (as_json) {
        print_json(r);
        return 0;
    }
    double size = counter(r, "size");
    std::cout << fmt::format("service {}   table size {}\n\n", cell(r, "service"), cell(r, "size"));
    Table t({"BACKEND", "SLOTS", "SHARE"});
    t.right({1, 2});
    for (const auto &b : list_member(r, "backends")) {
        double slots = counter(b, "slots");
        std::string share;
        if (!std::isnan(slots) && !std::isnan(size) && size > 0) {
            share = fmt::format("{:.2f}%", 100.0 * slots / size);
        } else {
            share = cell(b, "share");
        }
        t.add({cell(b, "address"), cell(b, "slots"), share});
    }
    std::cout << (t.empty() ? std::string("no backend owns a slot\n") : t.render());
    return 0;
}

std::string duration_text(const json &seconds) {
    if (!seconds.is_number()) {
        return cell(seconds);
    }
    auto s = static_cast<long long>(seconds.get<double>());
    if (s < 60) {
        return fmt::format("{}s", s);
    }
    if (s < 3600) {
        return fmt::format("{}m{:02}s", s / 60, s % 60);
    }
    if (s < 86400) {
        return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
    }
    return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

// `status --interval`: milliseconds between the two reads of the workers'
// cycle counters; 0 is one read and the share since each worker started.
constexpr uint64_t kStatusIntervalDefaultMs = 250;
constexpr uint64_t kStatusIntervalMaxMs = 60000;

std::string check_status_interval(const std::string &s) {
    if (parse_uint(s, kStatusIntervalMaxMs)) {
        return {};
    }
    return fmt::format("'{}' is not a number of milliseconds in 0..{}", s, kStatusIntervalMaxMs);
}

struct StatusOpts {
    bool json = false;
    std::string interval_ms = std::to_string(kStatusIntervalDefaultMs);
};

bool worker_is_alive(const json &w) {
    return w.is_object() && w.contains("alive") && w["alive"].is_boolean() &&
           w["alive"].get<bool>();
}

std::optional<uint64_t> u64_member(const json &obj, const char *key) {
    if (obj.is_object() && obj.contains(key) && obj[key].is_number_unsigned()) {
        return obj[key].get<uint64_t>();
    }
    return std::nullopt;
}

// The share (0..1) of a worker's poll loop spent in turns whose polls
// brought packets, between two status reads of the same worker (`before`,
// `after`), or since it started when `before` is null. Nothing when it
// cannot be told: a worker not alive, counters missing, no loop cycles
// counted in between, or a new worker process or counters gone backwards
// (the dataplane restarted between the reads).
std::optional<double> busy_share(const json *before, const json &after) {
    const auto loop1 = u64_member(after, "loop_tsc");
    const auto busy1 = u64_member(after, "busy_tsc");
    if (!worker_is_alive(after) || !loop1 || !busy1) {
        return std::nullopt;
    }
    uint64_t loop0 = 0;
    uint64_t busy0 = 0;
    if (before != nullptr) {
        const auto l0 = u64_member(*before, "loop_tsc");
        const auto b0 = u64_member(*before, "busy_tsc");
        if (!worker_is_alive(*before) || !l0 || !b0 || *loop1 < *l0 || *busy1 < *b0 ||
            before->value("pid", json()) != after.value("pid", json())) {
            return std::nullopt;
        }
        loop0 = *l0;
        busy0 = *b0;
    }
    const uint64_t loop = *loop1 - loop0;
    if (loop == 0) {
        return std::nullopt;
    }
    // The worker stores both counters every millisecond and the daemon loads
    // them one after the other: busy may run ahead of loop by that much.
    return std::min(1.0, static_cast<double>(*busy1 - busy0) / static_cast<double>(loop));
}

int status(Ctl &ctl, const StatusOpts &o) {
    using Clock = std::chrono::steady_clock;
    const uint64_t interval_ms = parse_uint(o.interval_ms, kStatusIntervalMaxMs).value();
    json r = ctl.call("status");
    json first;
    bool compare = false;
    if (interval_ms > 0) {
        // No live worker now: no share to compute, so no reason to wait.
        const json dp0 = r.is_object() ? r.value("dataplane", json::object()) : json::object();
        const json &ws0 = list_member(dp0, "workers");
        if (std::any_of(ws0.begin(), ws0.end(), worker_is_alive)) {
            first = std::move(r);
            sleep_until(Clock::now() + std::chrono::milliseconds(interval_ms));
            r = ctl.call("status");
            compare = true;
        }
    }
    // busy_share of each worker, in the JSON output as in the table.
    if (r.is_object() && r.contains("dataplane") && r["dataplane"].is_object() &&
        r["dataplane"].contains("workers") && r["dataplane"]["workers"].is_array()) {
        const json before = compare ? list_member(first["dataplane"], "workers") : json::array();
        for (auto &w : r["dataplane"]["workers"]) {
            if (!w.is_object()) {
                continue;
            }
            std::optional<double> share;
            if (interval_ms == 0) {
                share = busy_share(nullptr, w);
            } else if (compare) {
                if (const json *w0 = find_named(before, "id", cell(w, "id"))) {
                    share = busy_share(w0, w);
                }
            }
            w["busy_share"] = share ? json(*share) : json(nullptr);
        }
    }
    if (o.json) {
        print_json(r);
        return 0;
    }
    std::string pub;
    if (r.contains("publish_ns") && r["publish_ns"].is_number()) {
        pub = fmt::format(" (last publish took {:.1f} us)", r["publish_ns"].get<double>() / 1000.0);
    }
    std::cout << fmt::format("sluice-control  version {}, pid {}, up {}\n", cell(r, "version"),
                             cell(r, "pid"), duration_text(r.value("uptime_s", json())));
    std::cout << fmt::format("config          {}\n", cell(r, "config"));
    for (const char *k : {"instance", "state_file", "metrics", "services"}) {
        if (r.contains(k)) {
            std::cout << fmt::format("{:<16}{}\n",
                                     std::string(k) == "state_file" ? "state file" : k, cell(r[k]));
        }
    }
    std::cout << fmt::format("generation      {}{}\n", cell(r, "generation"), pub);
    if (r.contains("tables_huge_pages") && r["tables_huge_pages"].is_boolean()) {
        std::cout << (r["tables_huge_pages"].get<bool>()
                          ? "tables          on 2 MB pages\n"
                          : "tables          on 4 KB pages (the control log says why)\n");
    }
    json dp = r.value("dataplane", json::object());
    if (!dp.is_object() || dp.empty()) {
        std::cout << "dataplane       unknown\n";
        return 0;
    }
    bool alive = dp.value("alive", false);
    if (alive) {
        std::cout << fmt::format("dataplane       {}, pid {}, alive\n", cell(dp, "kind"),
                                 cell(dp, "pid"));
    } else {
        std::cout << fmt::format("dataplane       {}, NOT RUNNING\n", cell(dp, "kind"));
    }
    const json &workers = list_member(dp, "workers");
    if (workers.empty()) {
        return 0;
    }
    Table t({"WORKER", "LCORE", "ALIVE", "SEEN GENERATION", "BEHIND", "BUSY"});
    t.right({0, 1, 3, 4, 5});
    double gen = counter(r, "generation");
    for (const auto &w : workers) {
        double seen = counter(w, "observed_generation");
        std::string behind = "-";
        if (!std::isnan(gen) && !std::isnan(seen)) {
            behind = fmt::format("{:.0f}", gen - seen);
        }
        std::string busy = "-";
        if (w.contains("busy_share") && w["busy_share"].is_number()) {
            busy = fmt::format("{:.1f}%", 100.0 * w["busy_share"].get<double>());
        }
        t.add({cell(w, "id"), cell(w, "lcore"), cell(w, "alive"), cell(w, "observed_generation"),
               behind, busy});
    }
    std::cout << "\n" << t.render();
    return 0;
}

// sluice-control next to this executable, else in PATH; empty if neither.
std::string find_daemon_binary() {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        std::string dir(self);
        dir = dir.substr(0, dir.rfind('/'));
        std::string cand = dir + "/sluice-control";
        if (::access(cand.c_str(), X_OK) == 0) {
            return cand;
        }
    }
    const char *path = std::getenv("PATH");
    std::stringstream ss(path ? path : "");
    for (std::string d; std::getline(ss, d, ':');) {
        std::string cand = (d.empty() ? "." : d) + "/sluice-control";
        if (::access(cand.c_str(), X_OK) == 0) {
            return cand;
        }
    }
    return {};
}

int check_offline(const std::string &file, const Unreachable &why) {
    std::string bin = find_daemon_binary();
    if (bin.empty()) {
        throw Failure(fmt::format("{}; and no sluice-control binary next to sluicectl or in PATH "
                                  "to check the file offline",
                                  why.what()));
    }
    std::cerr << fmt::format("sluicectl: daemon not reachable; checking with {} --check\n", bin);
    std::cerr.flush();
    std::cout.flush();
    pid_t pid = ::fork();
    if (pid < 0) {
        throw Failure(fmt::format("fork: {}", std::strerror(errno)));
    }
    if (pid == 0) {
        const char *argv[] = {bin.c_str(), "--check", file.c_str(), nullptr};
        ::execv(bin.c_str(), const_cast<char *const *>(argv));
        std::_Exit(127);
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            throw Failure(fmt::format("waitpid: {}", std::strerror(errno)));
        }
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        return 0;
    }
    return 1; // sluice-control printed why
}

int check(Ctl &ctl, const std::string &file, bool as_json) {
    char *real = ::realpath(file.c_str(), nullptr);
    std::string path = real ? real : file;
    std::free(real);
    json r;
    try {
        r = ctl.call("check", {{"path", path}});
    } catch (const Unreachable &e) {
        return check_offline(path, e);
    }
    if (as_json) {
        print_json(r);
        return 0;
    }
    std::cout << fmt::format("{}: ok\n", file);
    return 0;
}

// ---------------------------------------------------------------- CLI

void add_json_flag(CLI::App *sub, bool &flag) {
    sub->add_flag("--json", flag, "Print the daemon's result as JSON instead of a table");
}

// Walks argv along the subcommand tree: the deepest command named, and the
// first word that names no command where one was expected (if any).
struct Walk {
    std::string path = "sluicectl";
    std::string unknown;
    std::vector<std::string> expected;
};

Walk walk(CLI::App &app, int argc, char **argv) {
    Walk w;
    CLI::App *at = &app;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--socket" || a == "--timeout") {
            ++i;
            continue;
        }
        if (!a.empty() && a[0] == '-') {
            continue;
        }
        auto subs = at->get_subcommands([](CLI::App *) { return true; });
        if (subs.empty()) {
            break; // a leaf: the rest are its arguments
        }
        CLI::App *next = nullptr;
        for (auto *s : subs) {
            if (s->get_name() == a) {
                next = s;
            }
        }
        if (next == nullptr) {
            w.unknown = a;
            for (auto *s : subs) {
                w.expected.push_back(s->get_name());
            }
            break;
        }
        w.path += " " + a;
        at = next;
    }
    return w;
}

std::string one_line(std::string s) {
    for (auto &c : s) {
        if (c == '\n') {
            c = ' ';
        }
    }
    while (!s.empty() && s.back() == ' ') {
        s.pop_back();
    }
    return s;
}

} // namespace

int main(int argc, char **argv) {
    Ctl ctl;
    if (const char *env = std::getenv("SLUICE_SOCKET"); env && *env) {
        ctl.global.socket = env;
    }
    std::function<int()> action;

    CLI::App app{"sluicectl - operate a sluice load balancer through sluice-control", "sluicectl"};
    app.set_version_flag("--version", kVersion);
    app.require_subcommand(1);
    app.fallthrough();
    app.footer(R"(Exit status: 0 ok; 1 the daemon refused the request or could not be reached
(the reason is printed on stderr); 2 usage error (nothing was sent).

Examples:
  sluicectl status
  sluicectl service list
  sluicectl backend add web 10.0.1.4 --mac 02:00:00:00:01:04 --weight 100
  sluicectl backend drain web 10.0.1.4
  sluicectl stats --watch
  sluicectl lookup web 198.51.100.7 40000
Run 'sluicectl COMMAND --help' for the options of a command.)");
    app.add_option("--socket", ctl.global.socket,
                   "Unix socket of sluice-control (env SLUICE_SOCKET; default " +
                       std::string(kDefaultSocket) + ")")
        ->type_name("PATH")
        ->capture_default_str();
    app.add_option("--timeout", ctl.global.timeout_s,
                   "Deadline of each request in seconds; sluicectl never waits longer")
        ->type_name("SECONDS")
        ->check(CLI::Validator(
            [](std::string &v) -> std::string {
                try {
                    size_t used = 0;
                    double d = std::stod(v, &used);
                    if (used == v.size() && d > 0 && d <= 3600) {
                        return {};
                    }
                } catch (const std::exception &) {
                }
                return fmt::format("'{}' is not a number of seconds in (0, 3600]", v);
            },
            "", "SECONDS"))
        ->capture_default_str();

    // service
    auto *service = app.add_subcommand("service", "List, show, add and delete services");
    service->require_subcommand(1);
    bool sl_json = false;
    auto *sl = service->add_subcommand("list", "List the services");
    add_json_flag(sl, sl_json);
    sl->footer("Example:\n  sluicectl service list\n  sluicectl service list --json");
    sl->callback([&] { action = [&] { return service_list(ctl, sl_json); }; });

    std::string ss_name;
    bool ss_json = false;
    auto *ss = service->add_subcommand("show", "Show one service with its backends and health");
    ss->add_option("NAME", ss_name, "Service name")->required();
    add_json_flag(ss, ss_json);
    ss->footer("Example:\n  sluicectl service show web");
    ss->callback([&] { action = [&] { return service_show(ctl, ss_name, ss_json); }; });

    ServiceAddOpts sa;
    auto *sadd = service->add_subcommand(
        "add", "Add a service (flags mirror the config keys of a [[service]] table)");
    auto *file_opt = sadd->add_option("--file", sa.file,
                                      "The service as TOML (as in the config file, with "
                                      "[[service.backend]] tables) or JSON; - for stdin")
                         ->type_name("FILE");
    std::vector<CLI::Option *> flag_opts;
    flag_opts.push_back(sadd->add_option("--name", sa.name, "Service name")->type_name("NAME"));
    flag_opts.push_back(
        sadd->add_option("--vip", sa.vip, "Virtual IP (IPv4 or IPv6)")->check(kAddress));
    flag_opts.push_back(sadd->add_option("--port", sa.port, "VIP port, or 0 or 'all' for all ports")
                            ->type_name("PORT|all")
                            ->check(CLI::Validator(
                                [](std::string &v) -> std::string {
                                    if (v == "all" || parse_uint(v, 65535)) {
                                        return {};
                                    }
                                    return fmt::format(
                                        "'{}' is not a port number (0..65535) or 'all'", v);
                                },
                                "", "PORT")));
    flag_opts.push_back(sadd->add_option("--proto", sa.proto, "Protocol: tcp (default) or udp")
                            ->type_name("tcp|udp")
                            ->check(one_of("protocol", {"tcp", "udp"})));
    flag_opts.push_back(
        sadd->add_option("--hash", sa.hash, "Flow key: 5tuple (default), src-ip-port, src-ip")
            ->type_name("MODE")
            ->check(one_of("hash mode", {"5tuple", "src-ip-port", "src-ip"})));
    flag_opts.push_back(
        sadd->add_option("--forwarding", sa.forwarding, "dsr-l2 (default), ipip or gue")
            ->type_name("MODE")
            ->check(one_of("forwarding mode", {"dsr-l2", "ipip", "gue"})));
    flag_opts.push_back(
        sadd->add_option("--table-size", sa.table_size, "Maglev table size, a prime (65537)")
            ->type_name("M")
            ->check(uint_max("table size", UINT32_MAX)));
    flag_opts.push_back(sadd->add_option("--fail", sa.fail,
                                         "When every backend is down: open (default, keep the "
                                         "last healthy set) or closed")
                            ->type_name("open|closed")
                            ->check(one_of("fail mode", {"open", "closed"})));
    flag_opts.push_back(sadd->add_option("--health-type", sa.health_type,
                                         "Health check: tcp (default), http or none")
                            ->type_name("TYPE")
                            ->check(one_of("health check type", {"tcp", "http", "none"})));
    flag_opts.push_back(sadd->add_option("--health-path", sa.health_path, "HTTP check path (/)")
                            ->type_name("PATH"));
    flag_opts.push_back(
        sadd->add_option("--health-expect", sa.health_expect, "HTTP status expected (200)")
            ->type_name("STATUS")
            ->check(uint_max("HTTP status", 999)));
    flag_opts.push_back(
        sadd->add_option("--health-port", sa.health_port, "Port probed (default: the service port)")
            ->check(kPort));
    flag_opts.push_back(sadd->add_option("--health-interval", sa.health_interval,
                                         "Probe interval: milliseconds, or like 500ms, 2s (1000)")
                            ->type_name("DURATION")
                            ->check(kDuration));
    flag_opts.push_back(sadd->add_option("--health-timeout", sa.health_timeout,
                                         "Probe timeout, at most the interval (500)")
                            ->type_name("DURATION")
                            ->check(kDuration));
    flag_opts.push_back(
        sadd->add_option("--health-rise", sa.health_rise, "Successes to mark up (2)")
            ->type_name("N")
            ->check(uint_max("rise", 1000000)));
    flag_opts.push_back(
        sadd->add_option("--health-fall", sa.health_fall, "Failures to mark down (3)")
            ->type_name("N")
            ->check(uint_max("fall", 1000000)));
    flag_opts.push_back(
        sadd->add_option("--backend", sa.backends, "A backend, repeatable: ADDRESS[,MAC[,WEIGHT]]")
            ->type_name("SPEC")
            ->check(validator(check_backend_spec, "SPEC")));
    for (auto *o : flag_opts) {
        file_opt->excludes(o);
    }
    sadd->footer(R"(Give either --name, --vip and --port (and any other flags), or --file.
Values the daemon checks (table size prime, rise/fall 1..100, dsr-l2 backends
need a MAC...) are refused by it with the config file's rule.

Examples:
  sluicectl service add --name web --vip 192.0.2.10 --port 80 --proto tcp \
      --forwarding dsr-l2 --health-type http --health-path /healthz \
      --backend 10.0.1.4,02:00:00:00:01:04,100 --backend 10.0.1.5,02:00:00:00:01:05
  sluicectl service add --file web.toml
  where web.toml holds, as in the config file:
      name = "web"
      vip = "192.0.2.10"
      port = 80
      [health]
      type = "http"
      path = "/healthz"
      [[backend]]
      address = "10.0.1.4"
      mac = "02:00:00:00:01:04")");
    sadd->callback([&] { action = [&] { return service_add(ctl, sa); }; });

    std::string sd_name;
    auto *sdel = service->add_subcommand("del", "Delete a service and its backends");
    sdel->add_option("NAME", sd_name, "Service name")->required();
    sdel->footer("Example:\n  sluicectl service del web");
    sdel->callback([&] {
        action = [&] {
            return changed(ctl.call("service.del", {{"name", sd_name}}),
                           fmt::format("service {} deleted", sd_name));
        };
    });

    // backend
    auto *backend = app.add_subcommand("backend", "List, add, delete, drain and weigh backends");
    backend->require_subcommand(1);
    std::string b_service, b_address, b_mac, b_weight;
    bool bl_json = false;
    auto *bl = backend->add_subcommand("list", "List the backends of a service");
    bl->add_option("SERVICE", b_service, "Service name")->required();
    add_json_flag(bl, bl_json);
    bl->footer("Example:\n  sluicectl backend list web");
    bl->callback([&] { action = [&] { return backend_list(ctl, b_service, bl_json); }; });

    auto add_target = [&](CLI::App *sub) {
        sub->add_option("SERVICE", b_service, "Service name")->required();
        sub->add_option("ADDRESS", b_address, "Backend address (IPv4 or IPv6)")
            ->required()
            ->check(kAddress);
    };
    auto *ba = backend->add_subcommand("add", "Add a backend to a service");
    add_target(ba);
    ba->add_option("--mac", b_mac, "Backend MAC (needed for dsr-l2 forwarding)")
        ->type_name("MAC")
        ->check(kMac);
    ba->add_option("--weight", b_weight, "Weight 0..65535 (default 100; 0 owns no slots)")
        ->type_name("N")
        ->check(kWeight);
    ba->footer("Examples:\n  sluicectl backend add web 10.0.1.4 --mac 02:00:00:00:01:04\n"
               "  sluicectl backend add web 2001:db8::4 --weight 50");
    ba->callback([&] {
        action = [&] {
            json args = {{"service", b_service}, {"address", canon_addr(b_address)}};
            if (!b_mac.empty()) {
                args["mac"] = *canonical_mac(b_mac);
            }
            if (!b_weight.empty()) {
                args["weight"] = *parse_uint(b_weight, 65535);
            }
            return changed(ctl.call("backend.add", args),
                           fmt::format("backend {} added to {}", canon_addr(b_address), b_service));
        };
    });

    struct Simple {
        const char *name, *cmd, *help, *done;
    };
    for (const Simple &s :
         {Simple{"del", "backend.del", "Remove a backend from a service", "removed from"},
          Simple{"drain", "backend.drain", "Drain a backend: it keeps its place but owns no slots",
                 "drained in"},
          Simple{"undrain", "backend.undrain", "Return a drained backend to service",
                 "undrained in"}}) {
        auto *sub = backend->add_subcommand(s.name, s.help);
        add_target(sub);
        sub->footer(fmt::format("Example:\n  sluicectl backend {} web 10.0.1.4", s.name));
        sub->callback([&, s] {
            action = [&, s] {
                return changed(
                    ctl.call(s.cmd, {{"service", b_service}, {"address", canon_addr(b_address)}}),
                    fmt::format("backend {} {} {}", canon_addr(b_address), s.done, b_service));
            };
        });
    }
    auto *bw = backend->add_subcommand("weight", "Set a backend's weight (0..65535)");
    add_target(bw);
    bw->add_option("WEIGHT", b_weight, "New weight 0..65535; 0 owns no slots")
        ->required()
        ->check(kWeight);
    bw->footer("Example:\n  sluicectl backend weight web 10.0.1.4 200");
    bw->callback([&] {
        action = [&] {
            return changed(ctl.call("backend.weight", {{"service", b_service},
                                                       {"address", canon_addr(b_address)},
                                                       {"weight", *parse_uint(b_weight, 65535)}}),
                           fmt::format("backend {} in {} now has weight {}", canon_addr(b_address),
                                       b_service, b_weight));
        };
    });

    // health
    std::string h_service;
    bool h_json = false;
    auto *h = app.add_subcommand("health", "Health of the backends (of one service or all)");
    h->add_option("SERVICE", h_service, "Only this service");
    add_json_flag(h, h_json);
    h->footer("Examples:\n  sluicectl health\n  sluicectl health web --json");
    h->callback([&] { action = [&] { return health(ctl, h_service, h_json); }; });

    // stats
    StatsOpts st;
    auto *sst = app.add_subcommand(
        "stats", "Packet and bit rates per service and backend, drops by reason, and the "
                 "ports that lost frames");
    add_json_flag(sst, st.json);
    auto *watch = sst->add_flag("--watch,-w", st.watch,
                                "Redraw every interval like top, until Ctrl-C or --count");
    sst->add_option("--count,-n", st.count, "With --watch: stop after N refreshes")
        ->type_name("N")
        ->check(CLI::Range(1u, 1000000000u))
        ->needs(watch);
    sst->add_option("--interval", st.interval_s, "Seconds between the two counter samples")
        ->type_name("SECONDS")
        ->check(CLI::Range(0.05, 3600.0))
        ->capture_default_str();
    sst->footer(R"(Rates are computed from two successive counter totals taken --interval apart.
With --json, prints the daemon's counter totals (one sample; with --watch one
JSON line per refresh). When stdout is not a terminal, --watch appends each
refresh instead of clearing the screen.

Examples:
  sluicectl stats
  sluicectl stats --watch
  sluicectl stats --watch --count 5 --json)");
    sst->callback([&] { action = [&] { return stats(ctl, st); }; });

    // lookup
    LookupOpts lk;
    auto *lu = app.add_subcommand(
        "lookup", "Which backend and table slot a flow gets (the dataplane's own decision)");
    lu->add_option("SERVICE", lk.service, "Service name")->required();
    lu->add_option("SRC", lk.src, "Client (source) address")->required()->check(kAddress);
    lu->add_option("SRCPORT", lk.sport, "Client (source) port")->check(kPort);
    lu->add_option("--dst", lk.dst, "Destination address (default: the VIP)")->check(kAddress);
    lu->add_option("--dport", lk.dport, "Destination port (default: the service port)")
        ->check(kPort);
    lu->add_option("--proto", lk.proto, "tcp or udp (default: the service's)")
        ->type_name("tcp|udp")
        ->check(one_of("protocol", {"tcp", "udp"}));
    add_json_flag(lu, lk.json);
    lu->footer("Examples:\n  sluicectl lookup web 198.51.100.7 40000\n"
               "  sluicectl lookup dns 2001:db8::77 5353 --proto udp --json");
    lu->callback([&] { action = [&] { return lookup(ctl, lk); }; });

    // table
    std::string t_service;
    bool t_json = false;
    auto *tb = app.add_subcommand("table", "Maglev table slots owned by each backend of a service");
    tb->add_option("SERVICE", t_service, "Service name")->required();
    add_json_flag(tb, t_json);
    tb->footer("Example:\n  sluicectl table web");
    tb->callback([&] { action = [&] { return table(ctl, t_service, t_json); }; });

    // status
    StatusOpts so;
    auto *sts = app.add_subcommand(
        "status",
        "The daemon, the dataplane workers, the generation each has seen and how busy each is");
    add_json_flag(sts, so.json);
    sts->add_option("--interval", so.interval_ms,
                    "Milliseconds between the two reads BUSY is computed from; 0: one read, "
                    "the share since each worker started")
        ->type_name("MS")
        ->check(validator(check_status_interval, "MS"))
        ->capture_default_str();
    sts->footer(R"(BUSY is the share of a worker's poll loop spent in turns whose polls brought
packets: a poll-mode core always shows 100% CPU in top, BUSY shows how much of
it the traffic used. sluicectl reads the daemon's status twice, --interval
apart (0..60000 ms, default 250), and shows "-" where the share cannot be told
(the worker is not alive, or the dataplane restarted between the reads).
With --json, each worker carries "busy_share" (0..1, or null) as well.

Examples:
  sluicectl status
  sluicectl status --interval 1000
  sluicectl status --interval 0 --json)");
    sts->callback([&] { action = [&] { return status(ctl, so); }; });

    // reload
    auto *rl = app.add_subcommand(
        "reload", "Reload the config file (validated first; on error the old state keeps serving)");
    rl->footer("Example:\n  sluicectl reload");
    rl->callback([&] { action = [&] { return changed(ctl.call("reload"), "config reloaded"); }; });

    // check
    std::string c_file;
    bool c_json = false;
    auto *ck = app.add_subcommand("check", "Validate a config file without applying it");
    ck->add_option("FILE", c_file, "Config file (TOML)")->required()->check(CLI::ExistingFile);
    add_json_flag(ck, c_json);
    ck->footer(R"(Asks the running daemon (API 'check'). If it cannot be reached, runs
'sluice-control --check FILE' found next to sluicectl or in PATH instead.

Example:
  sluicectl check /etc/sluice/sluice.toml)");
    ck->callback([&] { action = [&] { return check(ctl, c_file, c_json); }; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e); // --help, --version
        }
        Walk w = walk(app, argc, argv);
        std::string msg = one_line(e.what());
        if (!w.unknown.empty()) {
            std::string list;
            for (const auto &x : w.expected) {
                list += (list.empty() ? "" : ", ") + x;
            }
            msg = fmt::format("unknown command '{}' for '{}' (expected one of: {})", w.unknown,
                              w.path, list);
        } else if (dynamic_cast<const CLI::RequiredError *>(&e) != nullptr &&
                   msg.find("subcommand") != std::string::npos) {
            msg = fmt::format("'{}' needs a command", w.path);
        }
        std::cerr << fmt::format("sluicectl: {} (see '{} --help')\n", msg, w.path);
        return 2;
    }
    try {
        return action ? action() : 2;
    } catch (const UsageError &e) {
        std::cerr << "sluicectl: " << one_line(e.what()) << "\n";
        return 2;
    } catch (const Failure &e) {
        std::cerr << "sluicectl: " << one_line(e.what()) << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "sluicectl: " << one_line(e.what()) << "\n";
        return 1;
    }
}
