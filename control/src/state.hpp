// SPDX-License-Identifier: Apache-2.0
//
// state.hpp: the desired state of sluice-control = the config file + the
// changes made through the control API (the overlay), the stable ids of
// services and backends, and the state file that persists both.
// The reconciliation rule is documented in docs/CONFIG.md ("Config file and
// API changes").
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/config.hpp"

namespace sluice::control {

using config::Address;
using config::Backend;
using config::Service;

using BackendKey = std::pair<std::string, Address>; // (service name, backend address)

// A change made through the API to a backend of a service that the config
// file defines.
struct BackendChange {
    enum class Kind { Added, Deleted, Override };
    Kind kind = Kind::Override;
    Backend added;                  // Kind::Added: the whole backend
    std::optional<uint32_t> weight; // Kind::Override: fields that differ from the file
    std::optional<std::string> state;
    std::optional<config::Mac> mac;
};

struct Overlay {
    std::map<std::string, Service> services_added; // services the API added (whole)
    std::set<std::string> services_deleted;        // file services the API deleted
    std::map<BackendKey, BackendChange> backends;  // changes to backends of file services
};

struct Ids {
    std::map<std::string, uint16_t> services;
    std::map<BackendKey, uint16_t> backends;
};

struct PersistedState {
    Overlay overlay;
    Ids ids;
};

// The services to run: the file's, with the overlay applied.
std::vector<Service> apply_overlay(const std::vector<Service> &file, const Overlay &overlay);

// Drops from the overlay what the (re)loaded file made redundant; returns
// one line per dropped entry, for the log.
std::vector<std::string> prune_overlay(Overlay &overlay, const std::vector<Service> &file);

// Gives every service and backend of `services` an id (keeping those in
// `ids`, taking `hint` for new ones when free, else the lowest free one) and
// forgets the ids of what is gone.
void assign_ids(Ids &ids, const std::vector<Service> &services,
                const std::map<std::string, uint16_t> &service_hint = {},
                const std::map<BackendKey, uint16_t> &backend_hint = {});

// JSON forms, shared by the state file and the control API.
nlohmann::json service_to_json(const Service &s);
// What service_to_json and the API's service summary share: name, VIP,
// port, protocol, hash, forwarding, table size and fail mode.
nlohmann::json service_settings_json(const Service &s);
nlohmann::json backend_to_json(const Backend &b);
// Parses with the same rules as the config file; throws config::ConfigError
// whose message is "field: reason".
Service service_from_json(const nlohmann::json &j, const std::string &field);
Backend backend_from_json(const nlohmann::json &j, const std::string &field);

nlohmann::json state_to_json(const PersistedState &s);
PersistedState state_from_json(const nlohmann::json &j);

// Writes `content` to `path` atomically and durably: temp file, fsync,
// rename, fsync of the directory. Throws SysError.
void write_file_atomic(const std::string &path, const std::string &content);

// Reads the state file; nullopt when it does not exist. Throws on a corrupt
// file (the daemon refuses to start rather than forget changes).
std::optional<PersistedState> load_state(const std::string &path);

} // namespace sluice::control
