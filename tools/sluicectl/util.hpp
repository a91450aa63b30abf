// SPDX-License-Identifier: Apache-2.0
//
// util.hpp: client-side validation of what an operator types, and the
// aligned text tables sluicectl prints.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluicectl {

// Canonical text of an IPv4 or IPv6 address ("10.0.0.1", "2001:db8::1"),
// or nothing if `text` is neither.
std::optional<std::string> canonical_address(const std::string &text);
// "02:00:00:00:01:04" (lower case, colons) from "02:00:00:00:01:04" or
// "02-00-00-00-01-04", or nothing.
std::optional<std::string> canonical_mac(const std::string &text);
// A decimal integer in [0, max] without sign, spaces or leading "+".
std::optional<uint64_t> parse_uint(const std::string &text, uint64_t max);

// Error text for a validator, empty when the value is acceptable.
std::string check_address(const std::string &text);
std::string check_mac(const std::string &text);
std::string check_port(const std::string &text);
std::string check_weight(const std::string &text);

// A JSON scalar as table text: strings as-is, null as "-", bools yes/no.
std::string cell(const nlohmann::json &v);
// cell(obj[key]), or "-" when obj has no such key.
std::string cell(const nlohmann::json &obj, const char *key);
// 1234567 -> "1.23M"; below 1000 printed with up to one decimal.
std::string si(double v);

// An aligned text table: columns separated by two spaces, numbers right-aligned.
class Table {
  public:
    explicit Table(std::vector<std::string> head) : head_(std::move(head)) {}
    // Columns whose cells are right-aligned (counts, rates).
    Table &right(std::vector<size_t> cols);
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const { return rows_.empty(); }
    std::string render() const;

  private:
    std::vector<std::string> head_;
    std::vector<bool> right_;
    std::vector<std::vector<std::string>> rows_;
};

} // namespace sluicectl
