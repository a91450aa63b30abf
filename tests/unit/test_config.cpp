// The config file: every validation rule with its exact message
// ("FILE:LINE: field: reason"), defaults, and what a valid file yields.
#include <catch2/catch.hpp>

#include <string>

#include "sluice/config.hpp"

using sluice::config::ConfigError;
using sluice::config::parse;

namespace {

// A valid file; tests append to it or replace a line. Line numbers matter.
const std::string kHead = R"(seed = "000102030405060708090a0b0c0d0e0f"
[dataplane]
instance = "t1"
ipv4 = "192.0.2.10"
[control]
socket = "/tmp/x.sock"
state_dir = "/tmp/state"
)";
// kHead is 7 lines; the first [[service]] below is line 8.
// kHead with the gateway MAC that ipip and gue services need: 8 lines.
const std::string kHeadGw = kHead.substr(0, kHead.find("[control]")) +
                            "gateway_mac = \"02:00:00:00:00:fe\"\n" +
                            kHead.substr(kHead.find("[control]"));
const std::string kWeb = R"([[service]]
name = "web"
vip = "192.0.2.1"
port = 80
[[service.backend]]
address = "10.0.0.1"
mac = "02:00:00:00:00:01"
)";

std::string message_of(const std::string &text) {
    try {
        parse(text, "sluice.toml");
    } catch (const ConfigError &e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST_CASE("a valid file: values and defaults", "[config]") {
    const auto c = parse(kHeadGw + kWeb + R"([[service]]
name = "dns"
vip = "2001:db8::53"
port = "all"
protocol = "udp"
hash = "src-ip"
forwarding = "gue"
table_size = 251
fail = "closed"
[service.health]
type = "http"
path = "/healthz"
expect = 204
port = 8080
interval = "2s"
timeout = 300
rise = 3
fall = 4
[[service.backend]]
address = "192.0.2.77"
weight = 7
state = "drained"
)",
                         "sluice.toml");
    REQUIRE(c.services.size() == 2);
    const auto &web = c.services[0];
    CHECK(web.name == "web");
    CHECK(web.line == 9);
    CHECK(web.port == 80);
    CHECK(web.proto == SL_IPPROTO_TCP);
    CHECK(web.hash_mode == SL_HASH_5TUPLE);
    CHECK(web.fwd_mode == SL_FWD_DSR_L2);
    CHECK(web.table_size == SL_DEFAULT_TABLE_SIZE);
    CHECK_FALSE(web.fail_closed);
    CHECK(web.health.type == "tcp");
    CHECK(web.backends.at(0).weight == 100);
    CHECK(web.backends.at(0).state == "active");
    CHECK(web.backends.at(0).line == 13);
    const auto &dns = c.services[1];
    CHECK(dns.port == 0);
    CHECK(dns.proto == SL_IPPROTO_UDP);
    CHECK(dns.hash_mode == SL_HASH_SRC_IP);
    CHECK(dns.fwd_mode == SL_FWD_GUE);
    CHECK(dns.vip.family == SL_AF_INET6);
    CHECK(dns.table_size == 251);
    CHECK(dns.fail_closed);
    CHECK(dns.health.type == "http");
    CHECK(dns.health.path == "/healthz");
    CHECK(dns.health.expect_status == 204);
    CHECK(dns.health.port == 8080);
    CHECK(dns.health.interval_ms == 2000);
    CHECK(dns.health.timeout_ms == 300);
    CHECK(dns.health.rise == 3);
    CHECK(dns.health.fall == 4);
    CHECK(dns.backends.at(0).weight == 7);
    CHECK(dns.backends.at(0).state == "drained");
    CHECK(c.control.socket == "/tmp/x.sock");
    CHECK(c.control.socket_mode == 0660);
    CHECK(c.dataplane.instance == "t1");
    CHECK(c.dataplane.gateway_mac == sluice::config::Mac{0x02, 0, 0, 0, 0, 0xfe});
    REQUIRE(c.seed);
    auto seed = sluice::config::parse_seed(*c.seed);
    REQUIRE(seed);
    CHECK(seed->k0 == 0x0706050403020100ULL);
    CHECK(seed->k1 == 0x0f0e0d0c0b0a0908ULL);
}

TEST_CASE("every validation rule, with its exact message", "[config]") {
    struct Case {
        const char *rule;
        std::string text;
        std::string message;
    };
    const std::string bk =
        "[[service.backend]]\naddress = \"10.0.0.2\"\nmac = \"02:00:00:00:00:02\"\n";
    // An encapsulating service on an IPv6 VIP (line 6), with dataplane.mtu
    // `mtu`; backends appended.
    auto encap6 = [](const std::string &fwd, int mtu) {
        return "[dataplane]\nipv4 = \"192.0.2.10\"\nipv6 = \"2001:db8::10\"\n"
               "gateway_mac = \"02:00:00:00:00:fe\"\nmtu = " +
               std::to_string(mtu) +
               "\n[[service]]\nname = \"x\"\nvip = \"2001:db8::1\"\nport = 1\nforwarding = \"" +
               fwd + "\"\n";
    };
    const std::string b4 = "[[service.backend]]\naddress = \"10.0.0.1\"\n";
    const std::string b6 = "[[service.backend]]\naddress = \"2001:db8::2\"\n";
    const std::string not_own =
        " is unspecified, broadcast, multicast or loopback: it cannot be the box's own address "
        "(the source of its ARP/ND answers and ICMP errors, the outer source of encapsulated "
        "packets)";
    const std::vector<Case> cases = {
        {"TOML syntax", kHead + "[[service]\n", "sluice.toml:8: syntax: "},
        {"unknown top-level key", "sed = 1\n" + kHead, "sluice.toml:1: sed: unknown key"},
        {"unknown service key (typo)", kHead + "[[service]]\nname = \"web\"\nhelth = 1\n",
         "sluice.toml:10: service[0].helth: unknown key"},
        {"unknown backend key", kHead + kWeb + "wieght = 3\n",
         "sluice.toml:15: service[0].backend[0].wieght: unknown key"},
        {"unknown health key", kHead + kWeb + "[service.health]\nintervall = 3\n",
         "sluice.toml:16: service[0].health.intervall: unknown key"},
        {"unknown control key", kHead + "sockett = \"/x\"\n",
         "sluice.toml:8: control.sockett: unknown key"},
        {"service name required", kHead + "[[service]]\nvip = \"192.0.2.1\"\nport = 80\n",
         "sluice.toml:8: service[0].name: required"},
        {"bad service name", kHead + "[[service]]\nname = \"a b\"\n",
         "sluice.toml:9: service[0].name: \"a b\" is not 1-63 characters of [A-Za-z0-9._-]"},
        {"vip required", kHead + "[[service]]\nname = \"x\"\nport = 80\n",
         "sluice.toml:8: service[0].vip: required"},
        {"bad vip", kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2\"\n",
         "sluice.toml:10: service[0].vip: \"192.0.2\" is not an IPv4 or IPv6 address"},
        {"multicast vip", kHead + "[[service]]\nname = \"x\"\nvip = \"224.0.0.1\"\nport = 1\n",
         "sluice.toml:8: service[0].vip: 224.0.0.1 is unspecified, broadcast or multicast"},
        {"port required", kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\n",
         "sluice.toml:8: service[0].port: required (0 or \"all\" for all ports)"},
        {"bad port", kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 70000\n",
         "sluice.toml:11: service[0].port: must be 1..65535, or 0 or \"all\" for all ports"},
        {"bad protocol", kHead + kWeb + "protocol = \"sctp\"\n",
         "sluice.toml:15: service[0].backend[0].protocol: unknown key"},
        {"bad protocol in service",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\nprotocol = \"sctp\"\n",
         "sluice.toml:12: service[0].protocol: \"sctp\" is not one of \"tcp\", \"udp\""},
        {"bad hash",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\nhash = \"dst-ip\"\n",
         "sluice.toml:12: service[0].hash: \"dst-ip\" is not one of \"5tuple\", \"src-ip-port\", "
         "\"src-ip\""},
        {"bad forwarding",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\nforwarding = \"nat\"\n",
         "sluice.toml:12: service[0].forwarding: \"nat\" is not one of \"dsr-l2\", \"ipip\", "
         "\"gue\""},
        {"bad fail",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\nfail = \"maybe\"\n",
         "sluice.toml:12: service[0].fail: \"maybe\" is not one of \"open\", \"closed\""},
        {"wrong type", kHead + "[[service]]\nname = 5\n",
         "sluice.toml:9: service[0].name: must be a string"},
        {"table size not prime",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\ntable_size = 65536\n",
         "sluice.toml:8: service[0].table_size: 65536 is not a prime (the next prime is 65537)"},
        {"table size too large",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\ntable_size = 4194304\n",
         "sluice.toml:8: service[0].table_size: 4194304 is larger than the largest table size "
         "4194301"},
        {"table smaller than backends",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\ntable_size = 2\n" +
             "[[service.backend]]\naddress = \"10.0.0.1\"\nmac = \"02:00:00:00:00:01\"\n" + bk +
             "[[service.backend]]\naddress = \"10.0.0.3\"\nmac = \"02:00:00:00:00:03\"\n",
         "sluice.toml:8: service[0].table_size: 2 is smaller than the number of backends (3)"},
        {"dsr-l2 backend without MAC",
         kHead + kWeb + "[[service]]\nname = \"api\"\nvip = \"192.0.2.2\"\nport = 80\n" +
             "[[service.backend]]\naddress = \"10.0.0.9\"\n",
         "sluice.toml:19: service[1].backend[0].mac: required for forwarding = \"dsr-l2\""},
        {"multicast MAC",
         kHead + kWeb +
             "[[service.backend]]\naddress = \"10.0.0.2\"\nmac = \"01:00:5e:00:00:01\"\n",
         "sluice.toml:15: service[0].backend[1].mac: 01:00:5e:00:00:01 is not a unicast MAC "
         "address"},
        {"bad MAC", kHead + kWeb + "[[service.backend]]\naddress = \"10.0.0.2\"\nmac = \"02:00\"\n",
         "sluice.toml:17: service[0].backend[1].mac: \"02:00\" is not a MAC address (like "
         "02:00:00:00:00:01)"},
        {"backend address required", kHead + kWeb + "[[service.backend]]\nweight = 1\n",
         "sluice.toml:15: service[0].backend[1].address: required"},
        {"bad backend address", kHead + kWeb + "[[service.backend]]\naddress = \"10.0.0.256\"\n",
         "sluice.toml:16: service[0].backend[1].address: \"10.0.0.256\" is not an IPv4 or IPv6 "
         "address"},
        {"duplicate backend",
         kHead + kWeb +
             "[[service.backend]]\naddress = \"10.0.0.1\"\nmac = \"02:00:00:00:00:02\"\n",
         "sluice.toml:15: service[0].backend[1].address: 10.0.0.1 is already service[0].backend[0] "
         "(line 12)"},
        {"weight out of range", kHead + kWeb + "weight = 70000\n",
         "sluice.toml:15: service[0].backend[0].weight: 70000 is out of range 0..65535"},
        {"bad backend state", kHead + kWeb + "state = \"down\"\n",
         "sluice.toml:15: service[0].backend[0].state: \"down\" is not one of \"active\", "
         "\"drained\""},
        {"duplicate service name",
         kHead + kWeb + "[[service]]\nname = \"web\"\nvip = \"192.0.2.2\"\nport = 80\n",
         "sluice.toml:15: service[1].name: \"web\" is already the name of service[0] (line 8)"},
        {"same VIP, port and protocol twice",
         kHead + kWeb + "[[service]]\nname = \"web2\"\nvip = \"192.0.2.1\"\nport = 80\n",
         "sluice.toml:15: service[1].vip: 192.0.2.1 port 80 tcp is already served by service[0] "
         "\"web\" (line 8)"},
        {"ipip: IPv6 VIP to an IPv4 backend",
         kHead + "[[service]]\nname = \"x\"\nvip = \"2001:db8::1\"\nport = 1\nforwarding = " +
             "\"ipip\"\n[[service.backend]]\naddress = \"10.0.0.1\"\n",
         "sluice.toml:13: service[0].backend[0].address: an IPv6 VIP cannot be sent to an IPv4 "
         "backend with forwarding = \"ipip\" (IPv4-in-IPv4, IPv6-in-IPv6 and IPv4-in-IPv6 only)"},
        {"encapsulation needs the box's own address of the backend's family",
         kHead + "[[service]]\nname = \"x\"\nvip = \"2001:db8::1\"\nport = 1\nforwarding = " +
             "\"gue\"\n[[service.backend]]\naddress = \"2001:db8::2\"\n",
         "sluice.toml:13: service[0].backend[0].address: forwarding = \"gue\" to an IPv6 backend "
         "needs dataplane.ipv6 (the outer source address)"},
        {"encapsulation needs the gateway MAC",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\nforwarding = " +
             "\"ipip\"\n[[service.backend]]\naddress = \"10.0.0.1\"\n",
         "sluice.toml:8: service[0].forwarding: forwarding = \"ipip\" needs dataplane.gateway_mac "
         "(the next hop of encapsulated packets)"},
        {"encapsulation needs the gateway MAC, also without backends",
         kHead + "[[service]]\nname = \"x\"\nvip = \"192.0.2.1\"\nport = 1\nforwarding = " +
             "\"gue\"\n",
         "sluice.toml:8: service[0].forwarding: forwarding = \"gue\" needs dataplane.gateway_mac "
         "(the next hop of encapsulated packets)"},
        {"IPv6 VIP, gue: the MTU must carry 1280 bytes and the largest outer headers",
         encap6("gue", 1331) + b4 + b6,
         "sluice.toml:6: service[0].vip: an IPv6 VIP with forwarding = \"gue\" needs "
         "dataplane.mtu 1332 or more (1280, the least IPv6 MTU, + 52 bytes of IPv6 + UDP + GUE "
         "headers to service[0].backend[1]); with mtu 1331 its packet-too-big would announce "
         "less than 1280, which hosts ignore"},
        {"IPv6 VIP, gue to an IPv4 backend", encap6("gue", 1311) + b4,
         "sluice.toml:6: service[0].vip: an IPv6 VIP with forwarding = \"gue\" needs "
         "dataplane.mtu 1312 or more (1280, the least IPv6 MTU, + 32 bytes of IPv4 + UDP + GUE "
         "headers to service[0].backend[0]); with mtu 1311 its packet-too-big would announce "
         "less than 1280, which hosts ignore"},
        {"IPv6 VIP, ipip", encap6("ipip", 1319) + b6,
         "sluice.toml:6: service[0].vip: an IPv6 VIP with forwarding = \"ipip\" needs "
         "dataplane.mtu 1320 or more (1280, the least IPv6 MTU, + 40 bytes of IPv6 header to "
         "service[0].backend[0]); with mtu 1319 its packet-too-big would announce less than "
         "1280, which hosts ignore"},
        {"health type", kHead + kWeb + "[service.health]\ntype = \"icmp\"\n",
         "sluice.toml:16: service[0].health.type: \"icmp\" is not one of \"tcp\", \"http\", "
         "\"none\""},
        {"health path", kHead + kWeb + "[service.health]\npath = \"healthz\"\n",
         "sluice.toml:16: service[0].health.path: \"healthz\" must start with / and contain no "
         "white space"},
        {"health expect", kHead + kWeb + "[service.health]\nexpect = 99\n",
         "sluice.toml:16: service[0].health.expect: 99 is out of range 100..599"},
        {"health duration", kHead + kWeb + "[service.health]\ninterval = \"1m\"\n",
         "sluice.toml:16: service[0].health.interval: must be a duration: milliseconds, or a "
         "string like \"500ms\" or \"2s\" (1ms..1h)"},
        {"health timeout longer than interval",
         kHead + kWeb + "[service.health]\ninterval = 100\ntimeout = 200\n",
         "sluice.toml:17: service[0].health.timeout: 200ms is longer than interval (100ms)"},
        {"health rise", kHead + kWeb + "[service.health]\nrise = 0\n",
         "sluice.toml:16: service[0].health.rise: 0 is out of range 1..100"},
        {"seed", "seed = \"abc\"\n", "sluice.toml:1: seed: must be a string of 32 hex digits"},
        {"instance name", "[dataplane]\ninstance = \"a/b\"\n",
         "sluice.toml:2: dataplane.instance: \"a/b\" is not 1-64 characters of [A-Za-z0-9_-]"},
        {"dataplane kind", "[dataplane]\nkind = \"vpp\"\n",
         "sluice.toml:2: dataplane.kind: \"vpp\" is not one of \"dpdk\", \"xdp\""},
        {"dataplane ipv4 family", "[dataplane]\nipv4 = \"::1\"\n",
         "sluice.toml:2: dataplane.ipv4: must be an IPv4 address"},
        {"dataplane mac not unicast", "[dataplane]\nmac = \"01:00:5e:00:00:01\"\n",
         "sluice.toml:2: dataplane.mac: 01:00:5e:00:00:01 is not a unicast MAC address"},
        {"dataplane mac all zeros", "[dataplane]\nmac = \"00:00:00:00:00:00\"\n",
         "sluice.toml:2: dataplane.mac: 00:00:00:00:00:00 is not a unicast MAC address"},
        {"gateway_mac broadcast", "[dataplane]\ngateway_mac = \"ff:ff:ff:ff:ff:ff\"\n",
         "sluice.toml:2: dataplane.gateway_mac: ff:ff:ff:ff:ff:ff is not a unicast MAC address"},
        {"gateway_mac mixed separators", "[dataplane]\ngateway_mac = \"02:00-00:00:00:fe\"\n",
         "sluice.toml:2: dataplane.gateway_mac: \"02:00-00:00:00:fe\" is not a MAC address (like "
         "02:00:00:00:00:01)"},
        {"dataplane ipv4 unspecified", "[dataplane]\nipv4 = \"0.0.0.0\"\n",
         "sluice.toml:2: dataplane.ipv4: 0.0.0.0" + not_own},
        {"dataplane ipv4 broadcast", "[dataplane]\nipv4 = \"255.255.255.255\"\n",
         "sluice.toml:2: dataplane.ipv4: 255.255.255.255" + not_own},
        {"dataplane ipv4 multicast", "[dataplane]\nipv4 = \"239.1.2.3\"\n",
         "sluice.toml:2: dataplane.ipv4: 239.1.2.3" + not_own},
        {"dataplane ipv4 loopback", "[dataplane]\nipv4 = \"127.0.0.2\"\n",
         "sluice.toml:2: dataplane.ipv4: 127.0.0.2" + not_own},
        {"dataplane ipv6 unspecified", "[dataplane]\nipv6 = \"::\"\n",
         "sluice.toml:2: dataplane.ipv6: ::" + not_own},
        {"dataplane ipv6 loopback", "[dataplane]\nipv6 = \"::1\"\n",
         "sluice.toml:2: dataplane.ipv6: ::1" + not_own},
        {"dataplane ipv6 multicast", "[dataplane]\nipv6 = \"ff02::1\"\n",
         "sluice.toml:2: dataplane.ipv6: ff02::1" + not_own},
        {"mtu", "[dataplane]\nmtu = 100\n",
         "sluice.toml:2: dataplane.mtu: 100 is out of range 576..9216"},
        {"socket mode", "[control]\nsocket_mode = \"0999\"\n",
         "sluice.toml:2: control.socket_mode: must be a file mode like \"0660\" or 0o660"},
        {"state dir", "[control]\nstate_dir = \"rel\"\n",
         "sluice.toml:2: control.state_dir: must be an absolute path"},
        {"metrics address", "[control]\nmetrics_listen = \"localhost\"\n",
         "sluice.toml:2: control.metrics_listen: \"localhost\" is not ADDRESS:PORT (like "
         "127.0.0.1:9300 or [::1]:9300)"},
    };
    for (const Case &c : cases) {
        INFO("rule: " << c.rule);
        const std::string got = message_of(c.text);
        if (std::string(c.rule) == "TOML syntax") {
            CHECK(got.rfind(c.message, 0) == 0);
        } else {
            CHECK(got == c.message);
        }
    }
}

TEST_CASE("parse_mac: six pairs of hex digits and one separator, nothing else", "[config]") {
    using sluice::config::Mac;
    using sluice::config::parse_mac;
    CHECK(parse_mac("02:00:5E:0a:Ff:01") == Mac{0x02, 0x00, 0x5e, 0x0a, 0xff, 0x01});
    CHECK(parse_mac("02-00-00-00-00-01") == Mac{0x02, 0, 0, 0, 0, 0x01});
    // What sscanf's %2x took (sluice-dataplane's --mac and --gateway-mac did).
    for (const char *junk :
         {"-1:-1:-1:-1:-1:-1", "0x:0x:0x:0x:0x:0x", "+1:+2:+3:+4:+5:+6", " 1: 2: 3: 4: 5: 6",
          "02:00:00:00:00:1 ", "02:00:00:00:00:0g", "02:00:00:00:00",
          "02:00:00:00:00:01:", "02.00.00.00.00.01", "02:00-00:00:00:01", "0200:00:00:00:01:"}) {
        INFO(junk);
        CHECK_FALSE(parse_mac(junk));
    }
    // The dataplane's command line takes ':' only.
    CHECK(parse_mac("02:00:00:00:00:01", ":"));
    CHECK_FALSE(parse_mac("02-00-00-00-00-01", ":"));
    CHECK(sluice::config::is_unicast_mac(Mac{0x02, 0, 0, 0, 0, 1}));
    CHECK_FALSE(sluice::config::is_unicast_mac(Mac{0x01, 0, 0x5e, 0, 0, 1}));
    CHECK_FALSE(sluice::config::is_unicast_mac(Mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    CHECK_FALSE(sluice::config::is_unicast_mac(Mac{}));
}

TEST_CASE("the box's own addresses: usable ones pass", "[config]") {
    using sluice::config::is_own_address_usable;
    using sluice::config::parse_address;
    for (const char *ok : {"192.0.2.10", "10.0.0.1", "223.255.255.254", "240.0.0.1", "128.0.0.1",
                           "2001:db8::1", "fe80::1", "::ffff:192.0.2.1"}) {
        INFO(ok);
        CHECK(is_own_address_usable(*parse_address(ok)));
    }
    for (const char *bad : {"0.0.0.0", "255.255.255.255", "224.0.0.1", "239.255.255.255",
                            "127.0.0.1", "127.255.255.254", "::", "::1", "ff00::", "ff02::1"}) {
        INFO(bad);
        CHECK_FALSE(is_own_address_usable(*parse_address(bad)));
    }
}

TEST_CASE("IPv6 VIPs on encapsulating services: an MTU that carries 1280 bytes passes",
          "[config]") {
    // backend "": none.
    auto file = [](const char *fwd, int mtu, const char *vip, const std::string &backend) {
        return std::string("[dataplane]\nipv4 = \"192.0.2.10\"\n") +
               (mtu >= 1280 ? "ipv6 = \"2001:db8::10\"\n" : "") +
               "gateway_mac = \"02:00:00:00:00:fe\"\nmtu = " + std::to_string(mtu) +
               "\n[[service]]\nname = \"x\"\nvip = \"" + vip + "\"\nport = 1\nforwarding = \"" +
               fwd + "\"\n" +
               (backend.empty() ? "" : "[[service.backend]]\naddress = \"" + backend + "\"\n");
    };
    CHECK_NOTHROW(parse(file("gue", 1332, "2001:db8::1", "2001:db8::2"), "f"));
    CHECK_NOTHROW(parse(file("gue", 1312, "2001:db8::1", "10.0.0.1"), "f"));
    CHECK_NOTHROW(parse(file("ipip", 1320, "2001:db8::1", "2001:db8::2"), "f"));
    // No floor for an IPv4 VIP, nor (until one is added) without backends.
    CHECK_NOTHROW(parse(file("gue", 576, "192.0.2.1", "10.0.0.1"), "f"));
    CHECK_NOTHROW(parse(file("gue", 1280, "2001:db8::1", ""), "f"));
}

TEST_CASE("socket_mode as an octal integer, metrics on [::1]", "[config]") {
    const auto c = parse("[control]\nsocket_mode = 0o600\nmetrics_listen = \"[::1]:9300\"\n", "f");
    CHECK(c.control.socket_mode == 0600);
    CHECK(c.control.metrics_listen == "[::1]:9300");
}

TEST_CASE("load names a missing file", "[config]") {
    CHECK_THROWS_WITH(sluice::config::load("/nonexistent/sluice.toml"),
                      "/nonexistent/sluice.toml: cannot read: No such file or directory");
}
