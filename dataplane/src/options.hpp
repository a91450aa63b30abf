// SPDX-License-Identifier: Apache-2.0
//
// options.hpp: what sluice-dataplane is told to do, from its command line
// (after the EAL arguments and `--`) and, with --config, from the
// [dataplane] section of the box's config file. Command-line options
// override the file.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::dp {

using Mac = std::array<uint8_t, 6>;

inline constexpr unsigned kMaxDpPorts = 2; // one-armed: 1, two-armed: 2

struct Options {
    std::string instance = "default";
    std::vector<std::string> ports; // PCI address or vdev spec ("net_memif0,role=server,...")
    bool two_armed = false;
    std::optional<Mac> mac; // default: the first port's MAC
    std::optional<std::array<uint8_t, 4>> ipv4;
    std::optional<std::array<uint8_t, 16>> ipv6;
    std::optional<Mac> gateway_mac; // next hop of encapsulated traffic
    uint32_t mtu = 1500;
    uint16_t gue_port = 6080;
    unsigned rx_desc = 1024;
    unsigned tx_desc = 1024;
    unsigned mbufs = 0;      // 0: sized from ports, queues and descriptors
    uint64_t drain_us = 100; // TX drain timer
    std::string config_path;
    std::vector<std::string> eal_args; // from the config file's eal_args
    bool verbose = false;
};

class OptionError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// "02:00:00:00:00:01", unicast; messages name `option`. Throws OptionError.
Mac parse_mac(std::string_view option, std::string_view s);
// The box's own addresses (--ipv4, --ipv6): usable ones only (not
// unspecified, broadcast, multicast or loopback). Throw OptionError.
std::array<uint8_t, 4> parse_ipv4(std::string_view s);
std::array<uint8_t, 16> parse_ipv6(std::string_view s);
std::string format_mac(const Mac &m);

// Parses the application arguments (argv[0] is the program name). Returns
// nullopt when --help was printed. Throws OptionError.
std::optional<Options> parse_options(int argc, char **argv);

// The device name of a port spec: "net_pcap0" for "net_pcap0,rx_pcap=..",
// the PCI address for a PCI address.
std::string port_name(const std::string &spec);
bool is_pci_address(const std::string &spec);

} // namespace sluice::dp
