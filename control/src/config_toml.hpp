// SPDX-License-Identifier: Apache-2.0
//
// config_toml.hpp: the TOML-level parsers of config.cpp, shared with the
// control API, which turns the JSON of `service.add` / `backend.add` into a
// TOML table and parses it with exactly the same rules as the file.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "sluice/config.hpp"

namespace sluice::config::detail {

// `field` names the table in messages ("service[1]", "service"); `path`
// prefixes messages of nodes that come from a file (nodes built in memory
// have no line and get no prefix). Syntax, types, enumerations and unknown
// keys only: validate_services() checks the values.
Service parse_service(const toml::table &table, const std::string &field, const std::string &path);
Backend parse_backend(const toml::table &table, const std::string &field, const std::string &path);

} // namespace sluice::config::detail
