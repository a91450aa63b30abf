// What published tables ask of the box that it lacks (sluice/table_needs.hpp).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "sluice/table_needs.hpp"

namespace {

struct FreeTables {
    void operator()(sl_tables *t) const { std::free(t); }
};
using Tables = std::unique_ptr<sl_tables, FreeTables>;

void add_service(sl_tables *t, unsigned id, const char *vip, uint16_t port, sl_fwd_mode mode) {
    sl_service &s = t->services[id];
    const bool v6 = std::strchr(vip, ':') != nullptr;
    REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, vip, s.vip) == 1);
    s.family = v6 ? SL_AF_INET6 : SL_AF_INET;
    s.port = htons(port);
    s.proto = SL_IPPROTO_TCP;
    s.fwd_mode = static_cast<uint8_t>(mode);
    s.flags = SL_SVC_ACTIVE;
    t->n_services = std::max<uint32_t>(t->n_services, id + 1);
}

void add_backend(sl_tables *t, unsigned id, unsigned service, const char *addr,
                 bool active = true) {
    sl_backend &b = t->backends[id];
    const bool v6 = std::strchr(addr, ':') != nullptr;
    REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, addr, b.addr) == 1);
    b.family = v6 ? SL_AF_INET6 : SL_AF_INET;
    b.flags = active ? SL_BACKEND_ACTIVE : 0;
    b.service_id = static_cast<uint16_t>(service);
    t->n_backends = std::max<uint32_t>(t->n_backends, id + 1);
}

// Service 0: dsr-l2; 1: ipip, IPv4 VIP, IPv4 and IPv6 backends; 2: gue,
// IPv6 VIP, IPv6 backend; 3: ipip to an IPv6 backend that is not active;
// 4: ipip, not active.
Tables make_tables() {
    Tables t(static_cast<sl_tables *>(std::calloc(1, sizeof(sl_tables))));
    REQUIRE(t);
    add_service(t.get(), 0, "192.0.2.10", 80, SL_FWD_DSR_L2);
    add_backend(t.get(), 0, 0, "10.0.0.1");
    add_service(t.get(), 1, "192.0.2.11", 443, SL_FWD_IPIP);
    add_backend(t.get(), 1, 1, "10.0.0.2");
    add_backend(t.get(), 2, 1, "2001:db8:1::2");
    add_service(t.get(), 2, "2001:db8::12", 0, SL_FWD_GUE);
    add_backend(t.get(), 3, 2, "2001:db8:1::3");
    add_service(t.get(), 3, "192.0.2.13", 80, SL_FWD_IPIP);
    add_backend(t.get(), 4, 3, "2001:db8:1::4", false);
    add_service(t.get(), 4, "192.0.2.14", 80, SL_FWD_IPIP);
    add_backend(t.get(), 5, 4, "10.0.0.5");
    t->services[4].flags = 0;
    return t;
}

sl_encap_ctx full_box() {
    sl_encap_ctx c;
    sl_encap_ctx_defaults(&c);
    std::memset(c.box_mac, 0x02, 6);
    std::memset(c.gw_mac, 0x04, 6);
    REQUIRE(inet_pton(AF_INET, "192.0.2.1", &c.box_ip4) == 1);
    REQUIRE(inet_pton(AF_INET6, "2001:db8::1", c.box_ip6) == 1);
    return c;
}

} // namespace

TEST_CASE("table needs: nothing when the box has all", "[needs]") {
    const Tables t = make_tables();
    CHECK(sluice::table_needs(*t, full_box()).empty());
}

TEST_CASE("table needs: an address family the box lacks, per service", "[needs]") {
    const Tables t = make_tables();
    sl_encap_ctx box = full_box();
    std::memset(box.box_ip6, 0, 16);
    auto lines = sluice::table_needs(*t, box);
    REQUIRE(lines.size() == 2);
    CHECK_THAT(lines[0], Catch::StartsWith("service 1 (192.0.2.11:443/tcp, ipip): no IPv6 address "
                                           "(--ipv6)"));
    CHECK_THAT(lines[0], Catch::Contains("dropped as encap_failed"));
    CHECK_THAT(lines[1], Catch::StartsWith("service 2 ([2001:db8::12]:*/tcp, gue): no IPv6"));

    box = full_box();
    box.box_ip4 = 0;
    lines = sluice::table_needs(*t, box);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::StartsWith("service 1 (192.0.2.11:443/tcp, ipip): no IPv4 address "
                                           "(--ipv4)"));
}

TEST_CASE("table needs: no gateway MAC, for every encapsulating service", "[needs]") {
    const Tables t = make_tables();
    sl_encap_ctx box = full_box();
    std::memset(box.gw_mac, 0, 6);
    const auto lines = sluice::table_needs(*t, box);
    REQUIRE(lines.size() == 2);
    CHECK_THAT(lines[0], Catch::StartsWith("service 1 ") && Catch::Contains("no gateway MAC"));
    CHECK_THAT(lines[1], Catch::StartsWith("service 2 ") && Catch::Contains("no gateway MAC"));
}

TEST_CASE("table needs: an MTU too small for an encapsulated IPv6 VIP", "[needs]") {
    const Tables t = make_tables();
    sl_encap_ctx box = full_box();
    // GUE over IPv6: 40 + 8 + 4 bytes.
    box.mtu = 1280 + 52 - 1;
    auto lines = sluice::table_needs(*t, box);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::StartsWith("service 2 ([2001:db8::12]:*/tcp, gue): an IPv6 VIP "
                                           "needs --mtu 1332 or more") &&
                             Catch::Contains("this dataplane has 1331"));
    box.mtu = 1280 + 52;
    CHECK(sluice::table_needs(*t, box).empty());
}
