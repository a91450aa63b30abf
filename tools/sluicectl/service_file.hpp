// SPDX-License-Identifier: Apache-2.0
//
// service_file.hpp: `sluicectl service add --file`: a service written as in
// the config file (TOML) or as the API's JSON object, turned into the JSON
// object that the `service.add` request carries.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace sluicectl {

// Bad input the operator typed: exit code 2, nothing sent.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Parses `text` (from `origin`, for messages): JSON if it starts with '{',
// TOML otherwise. Accepted shapes: the service's own keys at the top level,
// or one [[service]] / [service] table ({"service": {...}} in JSON). The
// TOML key "backend" ([[service.backend]], as in the config) becomes the
// API's "backends". Throws UsageError.
nlohmann::json service_from_text(const std::string &text, const std::string &origin);

// Client-side checks of a service object: VIP, port, backend addresses,
// MACs and weights. Canonicalizes addresses and MACs. Throws UsageError.
void check_service(nlohmann::json &svc);

} // namespace sluicectl
