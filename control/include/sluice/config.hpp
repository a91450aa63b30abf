// SPDX-License-Identifier: Apache-2.0
//
// config.hpp: the one TOML config file of a sluice box, as C++ values.
// Parsed and fully validated by sluice::config::load (control/src/config.cpp);
// used by sluice-control for everything and by sluice-dataplane for its
// [dataplane] section.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/flow_key.h"
#include "sluice/region.h"

namespace sluice::config {

// An IPv4 or IPv6 address, as the region stores it.
struct Address {
    uint8_t family = 0; // SL_AF_INET or SL_AF_INET6
    std::array<uint8_t, 16> bytes{};
    auto operator<=>(const Address &) const = default;
};

using Mac = std::array<uint8_t, 6>;

struct DataplaneConfig {
    std::string kind = "dpdk";        // "dpdk" or "xdp"
    std::string instance = "default"; // shared-memory instance name
    std::vector<std::string> ports;   // DPDK: PCI addresses or vdev specs; XDP: interface names
    bool two_armed = false;           // false: in and out on the same port
    std::optional<Mac> mac;           // default: the port's own MAC
    std::optional<Address> ipv4;      // the box's own addresses (ARP/ND, ICMP source, encap source)
    std::optional<Address> ipv6;
    std::optional<Mac> gateway_mac;    // next hop for encapsulated traffic
    uint32_t mtu = 1500;               // egress IP MTU
    uint16_t gue_port = 6080;          // UDP destination port of GUE
    std::vector<std::string> eal_args; // extra EAL arguments
};

struct ControlConfig {
    std::string socket = "/run/sluice/control.sock";
    unsigned socket_mode = 0660;
    std::string state_dir = "/var/lib/sluice";
    std::string metrics_listen = "127.0.0.1:9300";
};

struct HealthCheck {
    std::string type = "tcp"; // "tcp" or "http" or "none"
    std::string path = "/";   // http
    unsigned expect_status = 200;
    std::optional<uint16_t> port; // default: the service port (or 80 for all-port services)
    uint32_t interval_ms = 1000;
    uint32_t timeout_ms = 500;
    unsigned rise = 2;
    unsigned fall = 3;
};

struct Backend {
    Address address;
    std::optional<Mac> mac; // required for dsr-l2
    uint32_t weight = 100;
    std::string state = "active"; // "active" or "drained"
    unsigned line = 0;            // where it was declared, for messages
};

struct Service {
    std::string name;
    Address vip;
    uint16_t port = 0; // 0 = all ports
    uint8_t proto = 6; // SL_IPPROTO_TCP or SL_IPPROTO_UDP
    sl_hash_mode hash_mode = SL_HASH_5TUPLE;
    sl_fwd_mode fwd_mode = SL_FWD_DSR_L2;
    uint32_t table_size = SL_DEFAULT_TABLE_SIZE;
    bool fail_closed = false; // fail = "closed"; default "open"
    HealthCheck health;
    std::vector<Backend> backends;
    unsigned line = 0;
};

struct Config {
    std::string path;
    DataplaneConfig dataplane;
    ControlConfig control;
    std::optional<std::string> seed; // 32 hex digits; default: <state_dir>/seed
    std::vector<Service> services;
};

// A validation error: "FILE:LINE: field: reason".
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Reads and fully validates a config file. Throws ConfigError.
Config load(const std::string &path);
// The same for text already in memory (`path` used in messages).
Config parse(const std::string &text, const std::string &path);

// How validate_services() names the services and backends in its messages:
// by position in the file ("service[1].backend[0].mac") or, for state built
// from the file and changes made through the control API, by name and
// address ("service[web].backend[10.0.1.4].mac").
enum class Naming { ByIndex, ByName };

// The checks that look at values rather than syntax: per service (table
// size, MACs, families, health check) and across services (duplicate names,
// VIP+port+protocol used twice, region capacity). `path` prefixes messages of
// entries that have a line. Throws ConfigError.
void validate_services(const std::vector<Service> &services, const DataplaneConfig &dataplane,
                       const std::string &path, Naming naming);

// Addresses and MACs as operators write them.
std::optional<Address> parse_address(std::string_view text);
std::string format_address(const Address &address);
// Not unspecified, broadcast, multicast or loopback: an address the box can
// call its own (dataplane.ipv4 / ipv6: answered in ARP/ND, the source of its
// ICMP errors and the outer source of encapsulated packets).
bool is_own_address_usable(const Address &address);
// A MAC is six pairs of hex digits, each pair separated from the next by the
// same one of `separators` (the config file and the API take ':' and '-';
// sluice-dataplane's command line only ':'); nothing else, not even a space.
std::optional<Mac> parse_mac(std::string_view text, std::string_view separators = ":-");
std::string format_mac(const Mac &mac);
// Neither a group address (multicast, broadcast: the low bit of the first
// byte) nor all zeros: what a frame can be sent to, or from.
bool is_unicast_mac(const Mac &mac);
// A 128-bit hash seed written as 32 hex digits.
std::optional<sl_hash_seed> parse_seed(std::string_view text);

// Names of the enumerations, as the config file and the API spell them.
const char *hash_name(sl_hash_mode mode);
const char *fwd_name(sl_fwd_mode mode);
const char *proto_name(uint8_t proto);

} // namespace sluice::config
