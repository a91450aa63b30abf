// SPDX-License-Identifier: Apache-2.0
#include "options.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <fmt/core.h>
#include <optional>

#include "sluice/config.hpp"
#include "sluice/region_map.hpp"

namespace sluice::dp {

Mac parse_mac(std::string_view option, std::string_view s) {
    // The config file's parser (strict: six pairs of hex digits, nothing
    // else; sscanf's %2x took "-1", "0x", "+1" and " 1" for bytes), with ':'
    // only, as this command line always took.
    const auto m = config::parse_mac(s, ":");
    if (!m) {
        throw OptionError(fmt::format("{}: bad MAC address '{}': expected six hex bytes "
                                      "separated by ':' (02:00:00:00:00:01)",
                                      option, s));
    }
    // The box's own MAC and its gateway's: frames from or to a group or
    // all-zero address are dropped or flooded.
    if (!config::is_unicast_mac(*m)) {
        throw OptionError(fmt::format("{}: {} is not a unicast MAC address (a group address, "
                                      "the low bit of its first byte set, or all zeros): give "
                                      "one like 02:00:00:00:00:01",
                                      option, format_mac(*m)));
    }
    return *m;
}

namespace {

// The box's own addresses answer ARP/ND and are the source of its ICMP
// errors and the outer source of everything it encapsulates: an address no
// host can send to or reply to (0.0.0.0, 255.255.255.255, multicast,
// loopback; ::, ::1, ff00::/8) is refused, as in the config file.
void check_own_address(std::string_view option, std::string_view text,
                       const config::Address &address) {
    if (!config::is_own_address_usable(address)) {
        throw OptionError(fmt::format("{} {} is unspecified, broadcast, multicast or loopback: it "
                                      "cannot be the box's own address (the source of its ARP/ND "
                                      "answers and ICMP errors, the outer source of encapsulated "
                                      "packets)",
                                      option, text));
    }
}

} // namespace

std::array<uint8_t, 4> parse_ipv4(std::string_view s) {
    config::Address a{SL_AF_INET, {}};
    const std::string str(s);
    if (inet_pton(AF_INET, str.c_str(), a.bytes.data()) != 1) {
        throw OptionError(
            fmt::format("--ipv4: bad IPv4 address '{}': expected a dotted quad (192.0.2.1)", str));
    }
    check_own_address("--ipv4", s, a);
    std::array<uint8_t, 4> v4{};
    std::copy_n(a.bytes.begin(), 4, v4.begin());
    return v4;
}

std::array<uint8_t, 16> parse_ipv6(std::string_view s) {
    config::Address a{SL_AF_INET6, {}};
    const std::string str(s);
    if (inet_pton(AF_INET6, str.c_str(), a.bytes.data()) != 1) {
        throw OptionError(fmt::format(
            "--ipv6: bad IPv6 address '{}': expected an IPv6 address (2001:db8::1)", str));
    }
    check_own_address("--ipv6", s, a);
    return a.bytes;
}

std::string format_mac(const Mac &m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                       m[5]);
}

namespace {

// A PCI address, [domain:]bus:devid.function (0000:03:00.0 or 03:00.0), as
// DPDK writes it (0000:03:00.0, lower case); nullopt for anything else.
std::optional<std::string> canonical_pci(const std::string &name) {
    unsigned d = 0;
    unsigned b = 0;
    unsigned dev = 0;
    unsigned f = 0;
    char tail = 0;
    if (std::sscanf(name.c_str(), "%x:%x:%x.%x%c", &d, &b, &dev, &f, &tail) == 4 ||
        (d = 0, std::sscanf(name.c_str(), "%x:%x.%x%c", &b, &dev, &f, &tail) == 3)) {
        return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", d, b, dev, f);
    }
    return std::nullopt;
}

} // namespace

bool is_pci_address(const std::string &spec) {
    return canonical_pci(spec.substr(0, spec.find(','))).has_value();
}

std::string port_name(const std::string &spec) {
    // A PCI port's ethdev is named as DPDK writes the address: 03:00.0 or
    // 0000:AF:00.0 name the same port as 0000:03:00.0 / 0000:af:00.0.
    const std::string name = spec.substr(0, spec.find(','));
    return canonical_pci(name).value_or(name);
}

namespace {

void apply_config(Options &o, const std::string &path) {
    const config::Config c = config::load(path);
    const config::DataplaneConfig &d = c.dataplane;
    if (d.kind != "dpdk") {
        throw OptionError(path + ": [dataplane] kind is \"" + d.kind +
                          "\": sluice-dataplane is the DPDK dataplane (kind = \"dpdk\")");
    }
    o.instance = d.instance;
    o.ports = d.ports;
    o.two_armed = d.two_armed;
    if (d.mac) {
        o.mac = *d.mac;
    }
    if (d.ipv4) {
        std::array<uint8_t, 4> a{};
        std::copy_n(d.ipv4->bytes.begin(), 4, a.begin());
        o.ipv4 = a;
    }
    if (d.ipv6) {
        o.ipv6 = d.ipv6->bytes;
    }
    if (d.gateway_mac) {
        o.gateway_mac = *d.gateway_mac;
    }
    o.mtu = d.mtu;
    o.gue_port = d.gue_port;
    o.eal_args = d.eal_args;
}

} // namespace

std::optional<Options> parse_options(int argc, char **argv) {
    Options o;
    CLI::App app{"sluice-dataplane: the DPDK dataplane of sluice.\n"
                 "Usage: sluice-dataplane [EAL options] -- [options]",
                 "sluice-dataplane"};
    app.footer("Exit status: 0 after SIGINT/SIGTERM; 1 a setup error (anything found once the "
               "EAL runs); 2 a usage error (these options, the config file); 75 a restart is "
               "needed (a memif client in zero-copy mode lost its server: DPDK 22.11 connects "
               "it once per process).");
    std::vector<std::string> ports;
    std::string mac;
    std::string ipv4;
    std::string ipv6;
    std::string gw;
    std::optional<std::string> instance;
    std::optional<uint32_t> mtu;
    std::optional<uint32_t> gue_port;
    bool two_armed = false;
    app.add_option("--config", o.config_path,
                   "config file: its [dataplane] section (options "
                   "given here override it)");
    app.add_option("-i,--instance", instance, "shared-memory instance name (default 'default')");
    app.add_option("-p,--port", ports,
                   "a port: PCI address (0000:03:00.0) or vdev spec "
                   "(net_memif0,role=server,socket=/tmp/m.sock); repeat for two-armed");
    const CLI::Option *two_armed_opt =
        app.add_flag("--two-armed", two_armed,
                     "traffic from port 0 leaves on port 1 and back (default: one-armed); "
                     "--two-armed=false overrides the config file's two_armed = true");
    app.add_option("--mac", mac, "the box's MAC (default: the first port's MAC)");
    app.add_option("--ipv4", ipv4, "the box's IPv4 address (ARP, ICMP source, encap source)");
    app.add_option("--ipv6", ipv6, "the box's IPv6 address (ND, ICMPv6 source, encap source)");
    app.add_option("--gateway-mac", gw, "next-hop MAC of encapsulated traffic");
    app.add_option("--mtu", mtu, "egress IP MTU (default 1500)")->check(CLI::Range(576, 9216));
    app.add_option("--gue-port", gue_port, "UDP destination port of GUE (default 6080)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--rx-desc", o.rx_desc, "RX descriptors per queue")->check(CLI::Range(64, 8192));
    app.add_option("--tx-desc", o.tx_desc, "TX descriptors per queue")->check(CLI::Range(64, 8192));
    app.add_option("--mbufs", o.mbufs, "mbufs in the pool (default: sized from the ports)");
    app.add_option("--drain-us", o.drain_us, "TX drain timer in microseconds (default 100)")
        ->check(CLI::Range(1, 100000));
    app.add_flag("-v,--verbose", o.verbose, "say what is being set up");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &) {
        std::fputs(app.help().c_str(), stdout);
        return std::nullopt;
    } catch (const CLI::ParseError &e) {
        throw OptionError(e.what());
    }
    if (!o.config_path.empty()) {
        try {
            apply_config(o, o.config_path);
        } catch (const std::exception &e) {
            throw OptionError(e.what());
        }
    }
    if (instance) {
        o.instance = *instance;
    }
    if (!ports.empty()) {
        o.ports = ports;
    }
    // Given on the command line, --two-armed=false included, it overrides
    // the file (which only `true` from the command line did). The messages
    // below say where two-armed mode and the ports came from.
    std::string armed_from = "--two-armed";
    if (two_armed_opt->count() > 0) {
        o.two_armed = two_armed;
    } else if (o.two_armed) {
        armed_from = fmt::format("two_armed (from {})", o.config_path);
    }
    const std::string ports_in =
        ports.empty() && !o.config_path.empty() ? fmt::format(" in {}", o.config_path) : "";
    if (!mac.empty()) {
        o.mac = parse_mac("--mac", mac);
    }
    if (!ipv4.empty()) {
        o.ipv4 = parse_ipv4(ipv4);
    }
    if (!ipv6.empty()) {
        o.ipv6 = parse_ipv6(ipv6);
    }
    if (!gw.empty()) {
        o.gateway_mac = parse_mac("--gateway-mac", gw);
    }
    if (mtu) {
        o.mtu = *mtu;
    }
    if (gue_port) {
        o.gue_port = static_cast<uint16_t>(*gue_port);
    }
    try {
        (void)sluice::Region::shm_name(o.instance);
    } catch (const std::exception &) {
        throw OptionError(fmt::format("bad instance name '{}': 1-64 characters of "
                                      "[A-Za-z0-9_-] (the region is /dev/shm/sluice-NAME)",
                                      o.instance));
    }
    if (o.ipv6 && o.mtu < 1280) {
        throw OptionError(fmt::format("MTU {} with an IPv6 address: IPv6 needs an MTU of at least "
                                      "1280 (--mtu 1280 or more)",
                                      o.mtu));
    }
    if (o.ports.empty()) {
        throw OptionError("no port given: use --port PCI-ADDRESS or --port VDEV-SPEC "
                          "(e.g. --port net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap)");
    }
    if (o.two_armed && o.ports.size() != 2) {
        throw OptionError(
            two_armed_opt->count() > 0
                ? fmt::format("--two-armed needs exactly two --port ({} given{})", o.ports.size(),
                              ports_in)
                : fmt::format("{} needs exactly two ports ({} given{}): give two --port, or "
                              "--two-armed=false",
                              armed_from, o.ports.size(), ports_in));
    }
    if (o.ports.size() > 2) {
        throw OptionError(fmt::format("one-armed mode takes one --port, two with --two-armed "
                                      "({} given{})",
                                      o.ports.size(), ports_in));
    }
    if (!o.two_armed && o.ports.size() != 1) {
        throw OptionError(
            fmt::format("two ports given{}: add --two-armed, or give one port", ports_in));
    }
    if (o.two_armed && port_name(o.ports[0]) == port_name(o.ports[1])) {
        throw OptionError(fmt::format("{} needs two different ports; '{}' is given twice{}",
                                      armed_from, port_name(o.ports[0]), ports_in));
    }
    return o;
}

} // namespace sluice::dp
