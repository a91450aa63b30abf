// SPDX-License-Identifier: Apache-2.0
#include "service_file.hpp"

#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "util.hpp"

namespace sluicectl {

namespace {

nlohmann::json to_json(const toml::node &node) {
    if (const auto *t = node.as_table()) {
        nlohmann::json obj = nlohmann::json::object();
        for (const auto &[key, value] : *t) {
            obj[std::string(key.str())] = to_json(value);
        }
        return obj;
    }
    if (const auto *a = node.as_array()) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto &value : *a) {
            arr.push_back(to_json(value));
        }
        return arr;
    }
    if (const auto *s = node.as_string()) {
        return s->get();
    }
    if (const auto *i = node.as_integer()) {
        return i->get();
    }
    if (const auto *f = node.as_floating_point()) {
        return f->get();
    }
    if (const auto *b = node.as_boolean()) {
        return b->get();
    }
    std::ostringstream os;
    node.visit([&os](const auto &n) { os << n; });
    return os.str();
}

nlohmann::json parse_any(const std::string &text, const std::string &origin) {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '{') {
        try {
            return nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception &e) {
            throw UsageError(fmt::format("{}: not valid JSON: {}", origin, e.what()));
        }
    }
    try {
        toml::table t = toml::parse(text, std::string_view(origin));
        return to_json(t);
    } catch (const toml::parse_error &e) {
        throw UsageError(fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description()));
    }
}

std::string where(const std::string &field) {
    return fmt::format("service field '{}'", field);
}

} // namespace

nlohmann::json service_from_text(const std::string &text, const std::string &origin) {
    nlohmann::json root = parse_any(text, origin);
    nlohmann::json svc = root;
    if (root.is_object() && root.contains("service")) {
        const auto &s = root["service"];
        if (s.is_array()) {
            if (s.size() != 1) {
                throw UsageError(
                    fmt::format("{}: holds {} services; give exactly one", origin, s.size()));
            }
            svc = s[0];
        } else {
            svc = s;
        }
    }
    if (!svc.is_object()) {
        throw UsageError(fmt::format("{}: expected a service table/object", origin));
    }
    if (svc.contains("backend") && !svc.contains("backends")) {
        svc["backends"] = svc["backend"];
        svc.erase("backend");
    }
    return svc;
}

void check_service(nlohmann::json &svc) {
    auto need_string = [&](const char *key, bool required) -> bool {
        if (!svc.contains(key)) {
            if (required) {
                throw UsageError(fmt::format("{} is missing", where(key)));
            }
            return false;
        }
        if (!svc[key].is_string()) {
            throw UsageError(fmt::format("{} must be a string", where(key)));
        }
        return true;
    };
    need_string("name", true);
    need_string("vip", true);
    auto vip = canonical_address(svc["vip"].get<std::string>());
    if (!vip) {
        throw UsageError(fmt::format("vip: {}", check_address(svc["vip"].get<std::string>())));
    }
    svc["vip"] = *vip;
    if (svc.contains("port")) {
        const auto &p = svc["port"];
        bool ok = (p.is_number_integer() && p.get<int64_t>() >= 0 && p.get<int64_t>() <= 65535) ||
                  (p.is_string() && p.get<std::string>() == "all");
        if (!ok) {
            throw UsageError(
                fmt::format("port: '{}' is not a port number (0..65535) or \"all\"", cell(p)));
        }
        if (p.is_string()) {
            svc["port"] = 0; // all ports, as the config structs say
        }
    }
    if (!svc.contains("backends")) {
        return;
    }
    if (!svc["backends"].is_array()) {
        throw UsageError("service field 'backends' must be a list");
    }
    for (auto &b : svc["backends"]) {
        if (!b.is_object() || !b.contains("address") || !b["address"].is_string()) {
            throw UsageError("every backend needs an 'address' string");
        }
        auto addr = canonical_address(b["address"].get<std::string>());
        if (!addr) {
            throw UsageError(
                fmt::format("backend: {}", check_address(b["address"].get<std::string>())));
        }
        b["address"] = *addr;
        if (b.contains("mac")) {
            auto mac =
                b["mac"].is_string() ? canonical_mac(b["mac"].get<std::string>()) : std::nullopt;
            if (!mac) {
                throw UsageError(fmt::format("backend {}: {}", *addr, check_mac(cell(b["mac"]))));
            }
            b["mac"] = *mac;
        }
        if (b.contains("weight")) {
            const auto &w = b["weight"];
            if (!w.is_number_integer() || w.get<int64_t>() < 0 || w.get<int64_t>() > 65535) {
                throw UsageError(fmt::format("backend {}: {}", *addr, check_weight(cell(w))));
            }
        }
    }
}

} // namespace sluicectl
