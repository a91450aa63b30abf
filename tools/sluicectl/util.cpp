// SPDX-License-Identifier: Apache-2.0
#include "util.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <arpa/inet.h>

#include <fmt/format.h>

namespace sluicectl {

std::optional<std::string> canonical_address(const std::string &text) {
    unsigned char buf[16];
    char out[INET6_ADDRSTRLEN];
    if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
        if (::inet_ntop(AF_INET, buf, out, sizeof(out)) != nullptr) {
            return std::string(out);
        }
    }
    if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        if (::inet_ntop(AF_INET6, buf, out, sizeof(out)) != nullptr) {
            return std::string(out);
        }
    }
    return std::nullopt;
}

std::optional<std::string> canonical_mac(const std::string &text) {
    if (text.size() != 17) {
        return std::nullopt;
    }
    char sep = text[2];
    if (sep != ':' && sep != '-') {
        return std::nullopt;
    }
    std::string out;
    for (size_t i = 0; i < 17; ++i) {
        char c = text[i];
        if (i % 3 == 2) {
            if (c != sep) {
                return std::nullopt;
            }
            out.push_back(':');
        } else {
            if (!std::isxdigit(static_cast<unsigned char>(c))) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        }
    }
    return out;
}

std::optional<uint64_t> parse_uint(const std::string &text, uint64_t max) {
    if (text.empty() || text.size() > 19) {
        return std::nullopt;
    }
    uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > max) {
        return std::nullopt;
    }
    return v;
}

std::string check_address(const std::string &text) {
    if (canonical_address(text)) {
        return {};
    }
    return fmt::format("'{}' is not an IPv4 or IPv6 address", text);
}

std::string check_mac(const std::string &text) {
    if (canonical_mac(text)) {
        return {};
    }
    return fmt::format("'{}' is not a MAC address (expected six hex pairs, e.g. 02:00:00:00:01:04)",
                       text);
}

std::string check_port(const std::string &text) {
    if (parse_uint(text, 65535)) {
        return {};
    }
    return fmt::format("'{}' is not a port number (0..65535)", text);
}

std::string check_weight(const std::string &text) {
    if (parse_uint(text, 65535)) {
        return {};
    }
    return fmt::format("weight '{}' is out of range (an integer 0..65535)", text);
}

std::string cell(const nlohmann::json &v) {
    if (v.is_null()) {
        return "-";
    }
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_boolean()) {
        return v.get<bool>() ? "yes" : "no";
    }
    if (v.is_array()) {
        return std::to_string(v.size());
    }
    return v.dump();
}

std::string cell(const nlohmann::json &obj, const char *key) {
    if (!obj.is_object() || !obj.contains(key)) {
        return "-";
    }
    return cell(obj[key]);
}

std::string si(double v) {
    static const char *units[] = {"", "k", "M", "G", "T", "P"};
    if (!std::isfinite(v)) {
        return "-";
    }
    size_t u = 0;
    double a = std::fabs(v);
    while (a >= 1000.0 && u + 1 < std::size(units)) {
        a /= 1000.0;
        v /= 1000.0;
        ++u;
    }
    if (u == 0) {
        return v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
    }
    return fmt::format("{:.2f}{}", v, units[u]);
}

Table &Table::right(std::vector<size_t> cols) {
    right_.assign(head_.size(), false);
    for (size_t c : cols) {
        if (c < right_.size()) {
            right_[c] = true;
        }
    }
    return *this;
}

std::string Table::render() const {
    std::vector<size_t> width(head_.size(), 0);
    for (size_t c = 0; c < head_.size(); ++c) {
        width[c] = head_[c].size();
    }
    for (const auto &row : rows_) {
        for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
            width[c] = std::max(width[c], row[c].size());
        }
    }
    std::string out;
    auto line = [&](const std::vector<std::string> &row) {
        std::string l;
        for (size_t c = 0; c < width.size(); ++c) {
            const std::string &s = c < row.size() ? row[c] : std::string();
            bool last = c + 1 == width.size();
            if (c > 0) {
                l += "  ";
            }
            if (c < right_.size() && right_[c]) {
                l += std::string(width[c] - s.size(), ' ') + s;
            } else {
                l += s;
                if (!last) {
                    l += std::string(width[c] - s.size(), ' ');
                }
            }
        }
        while (!l.empty() && l.back() == ' ') {
            l.pop_back();
        }
        out += l + "\n";
    };
    line(head_);
    for (const auto &row : rows_) {
        line(row);
    }
    return out;
}

} // namespace sluicectl
