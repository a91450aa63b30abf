// SPDX-License-Identifier: Apache-2.0
//
// table_needs.hpp: what published tables ask of the box that forwards them
// and that this box lacks. sluice-control checks its services against its
// own file's [dataplane] section, but a dataplane may run with options of
// its own (--ipv4, --ipv6, --gateway-mac, --mtu): then packets of some
// services cannot go out as they should, and the packet core drops them
// (encap_failed) or answers them with a packet-too-big hosts ignore. The
// dataplane says so, per service, when a generation asks for it.
#pragma once

#include <arpa/inet.h>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/region.h"
#include "sluice/rewrite.h"

namespace sluice {

namespace needs_detail {

inline std::string service_text(const sl_service &s, unsigned id) {
    char a[INET6_ADDRSTRLEN] = "?";
    const bool v6 = s.family == SL_AF_INET6;
    inet_ntop(v6 ? AF_INET6 : AF_INET, s.vip, a, sizeof(a));
    // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) about
    // "literal" + std::string chains.
    std::string r = "service ";
    r += std::to_string(id);
    r += v6 ? " ([" : " (";
    r += a;
    r += v6 ? "]:" : ":";
    r += s.port == 0 ? std::string("*") : std::to_string(ntohs(s.port));
    r += s.proto == SL_IPPROTO_TCP ? "/tcp, " : "/udp, ";
    r += s.fwd_mode == SL_FWD_GUE ? "gue)" : "ipip)";
    return r;
}

} // namespace needs_detail

// One line per service and unmet need, in service order; empty when the
// box has all that the tables' active services and backends ask of it.
inline std::vector<std::string> table_needs(const sl_tables &t, const sl_encap_ctx &box) {
    const bool has4 = sl_encap_has_source(&box, SL_AF_INET);
    const bool has6 = sl_encap_has_source(&box, SL_AF_INET6);
    const bool has_gw = sl_encap_has_gateway(&box);
    // Per service: backends of each family, the largest encapsulation.
    struct Need {
        bool v4 = false;
        bool v6 = false;
        uint32_t overhead = 0;
    };
    std::vector<Need> need(SL_MAX_SERVICES);
    const uint32_t nb = t.n_backends < SL_MAX_BACKENDS ? t.n_backends : SL_MAX_BACKENDS;
    for (uint32_t b = 0; b < nb; b++) {
        const sl_backend &be = t.backends[b];
        if (!(be.flags & SL_BACKEND_ACTIVE) || be.service_id >= SL_MAX_SERVICES) {
            continue;
        }
        const sl_service &s = t.services[be.service_id];
        if (!(s.flags & SL_SVC_ACTIVE) || s.fwd_mode == SL_FWD_DSR_L2) {
            continue;
        }
        Need &n = need[be.service_id];
        n.v4 |= be.family == SL_AF_INET;
        n.v6 |= be.family == SL_AF_INET6;
        const uint32_t o = sl_encap_overhead(static_cast<sl_fwd_mode>(s.fwd_mode), be.family);
        n.overhead = o > n.overhead ? o : n.overhead;
    }
    std::vector<std::string> out;
    const uint32_t ns = t.n_services < SL_MAX_SERVICES ? t.n_services : SL_MAX_SERVICES;
    for (uint32_t k = 0; k < ns; k++) {
        const Need &n = need[k];
        if (!n.v4 && !n.v6) {
            continue;
        }
        const std::string svc = needs_detail::service_text(t.services[k], k);
        if (!has_gw) {
            out.push_back(svc + ": no gateway MAC (--gateway-mac): its packets are dropped as "
                                "encap_failed");
        }
        if (n.v4 && !has4) {
            out.push_back(svc + ": no IPv4 address (--ipv4), the outer source towards its IPv4 "
                                "backends: their packets are dropped as encap_failed");
        }
        if (n.v6 && !has6) {
            out.push_back(svc + ": no IPv6 address (--ipv6), the outer source towards its IPv6 "
                                "backends: their packets are dropped as encap_failed");
        }
        if (t.services[k].family == SL_AF_INET6 && box.mtu < 1280 + n.overhead) {
            out.push_back(svc + ": an IPv6 VIP needs --mtu " + std::to_string(1280 + n.overhead) +
                          " or more (1280 + " + std::to_string(n.overhead) +
                          " bytes of encapsulation), this dataplane has " +
                          std::to_string(box.mtu) +
                          ": its packet-too-big would announce less than 1280, which hosts "
                          "ignore");
        }
    }
    return out;
}

} // namespace sluice
