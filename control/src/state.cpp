// SPDX-License-Identifier: Apache-2.0
#include "state.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "config_toml.hpp"
#include "sluice/region_map.hpp"

namespace sluice::control {

using nlohmann::json;

namespace {

const Backend *find_backend(const Service &s, const Address &a) {
    for (const Backend &b : s.backends) {
        if (b.address == a) {
            return &b;
        }
    }
    return nullptr;
}

const Service *find_service(const std::vector<Service> &v, const std::string &name) {
    for (const Service &s : v) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

// JSON -> TOML, so that API input goes through the parser of the file.
toml::table to_table(const json &j, const std::string &field);
toml::array to_array(const json &j, const std::string &field);

// Calls add(value) with the TOML value of a JSON scalar, table or array.
template <typename Add> void convert(const json &j, const std::string &field, Add add) {
    switch (j.type()) {
        case json::value_t::object:
            add(to_table(j, field));
            return;
        case json::value_t::array:
            add(to_array(j, field));
            return;
        case json::value_t::string:
            add(j.get<std::string>());
            return;
        case json::value_t::boolean:
            add(j.get<bool>());
            return;
        case json::value_t::number_integer:
            add(j.get<int64_t>());
            return;
        case json::value_t::number_unsigned: {
            const uint64_t u = j.get<uint64_t>();
            add(u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u));
            return;
        }
        case json::value_t::number_float:
            add(j.get<double>());
            return;
        default:
            throw config::ConfigError(field + ": must not be null");
    }
}

struct TableAdd {
    toml::table &t;
    const std::string &key;
    template <typename V> void operator()(V &&v) const { t.insert(key, std::forward<V>(v)); }
};

struct ArrayAdd {
    toml::array &a;
    template <typename V> void operator()(V &&v) const { a.push_back(std::forward<V>(v)); }
};

toml::table to_table(const json &j, const std::string &field) {
    toml::table t;
    for (auto it = j.begin(); it != j.end(); ++it) {
        convert(it.value(), field + "." + it.key(), TableAdd{t, it.key()});
    }
    return t;
}

toml::array to_array(const json &j, const std::string &field) {
    toml::array a;
    std::size_t i = 0;
    for (const json &e : j) {
        convert(e, field + "[" + std::to_string(i++) + "]", ArrayAdd{a});
    }
    return a;
}

// Ids index the region's arrays of `limit` entries: one out of range, or
// given twice, in a hand-edited or damaged file must stop the load here.
uint16_t read_id(const json &v, uint32_t limit, const char *kind, const std::string &entry,
                 std::map<uint16_t, std::string> &seen) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= limit) {
        throw std::runtime_error(entry + ": id " + v.dump() + " is out of range (" + kind +
                                 " ids are 0 to " + std::to_string(limit - 1) + ")");
    }
    const auto id = static_cast<uint16_t>(v.get<int64_t>());
    auto [it, fresh] = seen.try_emplace(id, entry);
    if (!fresh) {
        throw std::runtime_error(entry + ": id " + std::to_string(id) + " is also the id of " +
                                 it->second);
    }
    return id;
}

toml::table to_toml_table(const json &j, const std::string &field) {
    if (!j.is_object()) {
        throw config::ConfigError(field + ": must be an object");
    }
    return to_table(j, field);
}

} // namespace

std::vector<Service> apply_overlay(const std::vector<Service> &file, const Overlay &o) {
    std::vector<Service> out;
    for (const Service &fs : file) {
        if (o.services_deleted.count(fs.name)) {
            continue;
        }
        Service s = fs;
        s.backends.clear();
        for (const Backend &fb : fs.backends) {
            auto it = o.backends.find({fs.name, fb.address});
            if (it == o.backends.end()) {
                s.backends.push_back(fb);
                continue;
            }
            const BackendChange &c = it->second;
            if (c.kind == BackendChange::Kind::Deleted) {
                continue;
            }
            Backend b = c.kind == BackendChange::Kind::Added ? c.added : fb;
            if (c.kind == BackendChange::Kind::Override) {
                if (c.weight) {
                    b.weight = *c.weight;
                }
                if (c.state) {
                    b.state = *c.state;
                }
                if (c.mac) {
                    b.mac = c.mac;
                }
            }
            s.backends.push_back(b);
        }
        // Backends the API added to this file service (addresses the file lacks).
        for (auto it = o.backends.lower_bound({fs.name, Address{}});
             it != o.backends.end() && it->first.first == fs.name; ++it) {
            if (it->second.kind == BackendChange::Kind::Added &&
                find_backend(fs, it->first.second) == nullptr) {
                Backend b = it->second.added;
                b.line = 0;
                s.backends.push_back(b);
            }
        }
        out.push_back(std::move(s));
    }
    for (const auto &[name, s] : o.services_added) {
        if (find_service(file, name) != nullptr && !o.services_deleted.count(name)) {
            continue; // the file adopted it (prune_overlay drops it)
        }
        Service copy = s;
        copy.line = 0;
        for (Backend &b : copy.backends) {
            b.line = 0;
        }
        out.push_back(std::move(copy));
    }
    return out;
}

std::vector<std::string> prune_overlay(Overlay &o, const std::vector<Service> &file) {
    std::vector<std::string> log;
    for (auto it = o.services_added.begin(); it != o.services_added.end();) {
        if (find_service(file, it->first) != nullptr && !o.services_deleted.count(it->first)) {
            log.push_back("service " + it->first +
                          ": now defined in the config file, which replaces the API's version");
            it = o.services_added.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = o.services_deleted.begin(); it != o.services_deleted.end();) {
        if (find_service(file, *it) == nullptr) {
            if (o.services_added.count(*it) == 0) {
                log.push_back("service " + *it +
                              ": deleted through the API and now gone from the config file");
            }
            it = o.services_deleted.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = o.backends.begin(); it != o.backends.end();) {
        const auto &[svc, addr] = it->first;
        const std::string what = "backend " + config::format_address(addr) + " of " + svc;
        const Service *fs = find_service(file, svc);
        const Backend *fb = fs != nullptr ? find_backend(*fs, addr) : nullptr;
        BackendChange &c = it->second;
        bool drop = false;
        if (fs == nullptr || o.services_deleted.count(svc)) {
            drop = true;
            log.push_back(what +
                          ": its service is no longer in the config file; API change dropped");
        } else if (c.kind == BackendChange::Kind::Added && fb != nullptr) {
            drop = true;
            log.push_back(what + ": now in the config file, which replaces the API's version");
        } else if (c.kind != BackendChange::Kind::Added && fb == nullptr) {
            drop = true;
            log.push_back(what + ": gone from the config file; API change dropped");
        } else if (c.kind == BackendChange::Kind::Override) {
            if (c.weight && *c.weight == fb->weight) {
                c.weight.reset();
            }
            if (c.state && *c.state == fb->state) {
                c.state.reset();
            }
            if (c.mac && c.mac == fb->mac) {
                c.mac.reset();
            }
            drop = !c.weight && !c.state && !c.mac;
        }
        it = drop ? o.backends.erase(it) : std::next(it);
    }
    return log;
}

void assign_ids(Ids &ids, const std::vector<Service> &services,
                const std::map<std::string, uint16_t> &service_hint,
                const std::map<BackendKey, uint16_t> &backend_hint) {
    // Forget what is gone.
    std::set<std::string> names;
    std::set<BackendKey> keys;
    for (const Service &s : services) {
        names.insert(s.name);
        for (const Backend &b : s.backends) {
            keys.insert({s.name, b.address});
        }
    }
    std::erase_if(ids.services, [&](const auto &kv) { return !names.count(kv.first); });
    std::erase_if(ids.backends, [&](const auto &kv) { return !keys.count(kv.first); });
    std::vector<bool> svc_used(SL_MAX_SERVICES), be_used(SL_MAX_BACKENDS);
    for (const auto &[k, id] : ids.services) {
        svc_used[id] = true;
    }
    for (const auto &[k, id] : ids.backends) {
        be_used[id] = true;
    }
    auto take = [](std::vector<bool> &used, std::optional<uint16_t> hint) -> uint16_t {
        if (hint && *hint < used.size() && !used[*hint]) {
            used[*hint] = true;
            return *hint;
        }
        for (std::size_t i = 0; i < used.size(); i++) {
            if (!used[i]) {
                used[i] = true;
                return static_cast<uint16_t>(i);
            }
        }
        throw std::runtime_error("no free id"); // validation bounds the counts
    };
    for (const Service &s : services) {
        if (!ids.services.count(s.name)) {
            auto h = service_hint.find(s.name);
            ids.services[s.name] =
                take(svc_used, h != service_hint.end() ? std::optional(h->second) : std::nullopt);
        }
        for (const Backend &b : s.backends) {
            const BackendKey k{s.name, b.address};
            if (!ids.backends.count(k)) {
                auto h = backend_hint.find(k);
                ids.backends[k] = take(be_used, h != backend_hint.end() ? std::optional(h->second)
                                                                        : std::nullopt);
            }
        }
    }
}

json backend_to_json(const Backend &b) {
    json j = {
        {"address", config::format_address(b.address)}, {"weight", b.weight}, {"state", b.state}};
    if (b.mac) {
        j["mac"] = config::format_mac(*b.mac);
    }
    return j;
}

json service_to_json(const Service &s) {
    json health = {{"type", s.health.type},
                   {"path", s.health.path},
                   {"expect", s.health.expect_status},
                   {"interval", s.health.interval_ms},
                   {"timeout", s.health.timeout_ms},
                   {"rise", s.health.rise},
                   {"fall", s.health.fall}};
    if (s.health.port) {
        health["port"] = *s.health.port;
    }
    json backends = json::array();
    for (const Backend &b : s.backends) {
        backends.push_back(backend_to_json(b));
    }
    json j = service_settings_json(s);
    j["health"] = health;
    j["backends"] = backends;
    return j;
}

json service_settings_json(const Service &s) {
    return {{"name", s.name},
            {"vip", config::format_address(s.vip)},
            {"port", s.port},
            {"protocol", config::proto_name(s.proto)},
            {"hash", config::hash_name(s.hash_mode)},
            {"forwarding", config::fwd_name(s.fwd_mode)},
            {"table_size", s.table_size},
            {"fail", s.fail_closed ? "closed" : "open"}};
}

Service service_from_json(const json &j, const std::string &field) {
    return config::detail::parse_service(to_toml_table(j, field), field, "");
}

Backend backend_from_json(const json &j, const std::string &field) {
    return config::detail::parse_backend(to_toml_table(j, field), field, "");
}

json state_to_json(const PersistedState &s) {
    json added = json::array();
    for (const auto &[name, svc] : s.overlay.services_added) {
        added.push_back(service_to_json(svc));
    }
    json changes = json::array();
    for (const auto &[k, c] : s.overlay.backends) {
        json e = {{"service", k.first}, {"address", config::format_address(k.second)}};
        switch (c.kind) {
            case BackendChange::Kind::Added:
                e["added"] = backend_to_json(c.added);
                break;
            case BackendChange::Kind::Deleted:
                e["deleted"] = true;
                break;
            case BackendChange::Kind::Override:
                if (c.weight) {
                    e["weight"] = *c.weight;
                }
                if (c.state) {
                    e["state"] = *c.state;
                }
                if (c.mac) {
                    e["mac"] = config::format_mac(*c.mac);
                }
                break;
        }
        changes.push_back(e);
    }
    json sids = json::object();
    for (const auto &[name, id] : s.ids.services) {
        sids[name] = id;
    }
    json bids = json::array();
    for (const auto &[k, id] : s.ids.backends) {
        bids.push_back(
            {{"service", k.first}, {"address", config::format_address(k.second)}, {"id", id}});
    }
    return {{"format", "sluice-control-state"}, {"version", 1},
            {"services_added", added},          {"services_deleted", s.overlay.services_deleted},
            {"backend_changes", changes},       {"ids", {{"services", sids}, {"backends", bids}}}};
}

PersistedState state_from_json(const json &j) {
    if (j.value("format", "") != "sluice-control-state" || j.value("version", 0) != 1) {
        throw std::runtime_error("not a sluice-control state file of version 1");
    }
    PersistedState s;
    for (const json &e : j.at("services_added")) {
        Service svc = service_from_json(e, "services_added");
        s.overlay.services_added[svc.name] = svc;
    }
    for (const json &e : j.at("services_deleted")) {
        s.overlay.services_deleted.insert(e.get<std::string>());
    }
    auto addr = [](const json &e) {
        auto a = config::parse_address(e.at("address").get<std::string>());
        if (!a) {
            throw std::runtime_error("bad address in state file");
        }
        return *a;
    };
    for (const json &e : j.at("backend_changes")) {
        BackendChange c;
        if (e.contains("added")) {
            c.kind = BackendChange::Kind::Added;
            c.added = backend_from_json(e.at("added"), "backend_changes");
        } else if (e.value("deleted", false)) {
            c.kind = BackendChange::Kind::Deleted;
        } else {
            if (e.contains("weight")) {
                c.weight = e.at("weight").get<uint32_t>();
            }
            if (e.contains("state")) {
                c.state = e.at("state").get<std::string>();
            }
            if (e.contains("mac")) {
                c.mac = config::parse_mac(e.at("mac").get<std::string>());
            }
        }
        s.overlay.backends[{e.at("service").get<std::string>(), addr(e)}] = c;
    }
    std::map<uint16_t, std::string> seen;
    for (const auto &[name, id] : j.at("ids").at("services").items()) {
        s.ids.services[name] =
            read_id(id, SL_MAX_SERVICES, "service", "ids.services." + name, seen);
    }
    seen.clear();
    std::size_t i = 0;
    for (const json &e : j.at("ids").at("backends")) {
        const std::string service = e.at("service").get<std::string>();
        const std::string entry = "ids.backends[" + std::to_string(i++) + "] (service " + service +
                                  ", address " + e.at("address").dump() + ")";
        s.ids.backends[{service, addr(e)}] =
            read_id(e.at("id"), SL_MAX_BACKENDS, "backend", entry, seen);
    }
    return s;
}

void write_file_atomic(const std::string &path, const std::string &content) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw SysError(errno, "create " + tmp);
    }
    std::size_t off = 0;
    while (off < content.size()) {
        const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int e = errno;
            ::close(fd);
            throw SysError(e, "write " + tmp);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int e = errno;
        ::close(fd);
        throw SysError(e, "fsync " + tmp);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        throw SysError(errno, "rename " + tmp + " to " + path);
    }
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        throw SysError(errno, "open directory " + dir);
    }
    const int rc = ::fsync(dfd);
    const int e = errno;
    ::close(dfd);
    if (rc != 0) {
        throw SysError(e, "fsync directory " + dir);
    }
}

std::optional<PersistedState> load_state(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw SysError(errno, "read state file " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
        return state_from_json(json::parse(ss.str()));
    } catch (const std::exception &e) {
        throw std::runtime_error("state file " + path + " is corrupt (" + e.what() +
                                 "): move it away to start from the config file alone");
    }
}

} // namespace sluice::control
