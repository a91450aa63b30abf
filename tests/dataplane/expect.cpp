// SPDX-License-Identifier: Apache-2.0
//
// sluice-dp-expect (test helper): for sluice-gen's flows (tools/gen/flows.h),
// the backend each table of the given specs sends a flow to, one line per
// flow: "FLOW BACKEND_A [BACKEND_B]", a backend being its MAC for a dsr-l2
// service and its IPv4 address for ipip and gue (what sluice-gen --expect
// compares). Uses decide.h on tables filled exactly as the test publisher
// fills them.
//
// sluice-dp-expect --flows N --vip A --dport P --proto udp|tcp --spec A.json [--spec B.json]
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include "flows.h"
#include "sluice/decide.h"
#include "spec.hpp"

int main(int argc, char **argv) {
    uint32_t flows = 0;
    uint32_t vip = 0;
    uint16_t dport = 0;
    uint8_t proto = SL_IPPROTO_UDP;
    std::vector<std::string> specs;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (k == "--flows") {
            flows = static_cast<uint32_t>(std::stoul(v));
        } else if (k == "--vip") {
            inet_pton(AF_INET, v.c_str(), &vip);
        } else if (k == "--dport") {
            dport = static_cast<uint16_t>(std::stoul(v));
        } else if (k == "--proto") {
            proto = v == "tcp" ? SL_IPPROTO_TCP : SL_IPPROTO_UDP;
        } else if (k == "--spec") {
            specs.push_back(v);
        }
    }
    try {
        std::vector<std::unique_ptr<sl_tables, decltype(&std::free)>> tables;
        for (const std::string &s : specs) {
            auto *t = static_cast<sl_tables *>(std::calloc(1, sizeof(sl_tables)));
            if (t == nullptr) {
                throw std::runtime_error("out of memory");
            }
            tables.emplace_back(t, &std::free);
            sluice::test::fill_tables(sluice::test::load_spec(s), t, 1);
        }
        for (uint32_t f = 0; f < flows; f++) {
            sl_pkt pkt{};
            pkt.key.family = SL_AF_INET;
            const uint32_t src = htonl(sl_gen_src_ip(f));
            std::memcpy(pkt.key.src, &src, 4);
            std::memcpy(pkt.key.dst, &vip, 4);
            pkt.key.sport = htons(sl_gen_sport(f));
            pkt.key.dport = htons(dport);
            pkt.key.proto = proto;
            std::printf("%u", f);
            for (const auto &t : tables) {
                const sl_decision d = sl_decide(t.get(), &pkt);
                if (d.drop != SL_DROP_NONE) {
                    std::printf(" none");
                    continue;
                }
                const sl_backend &be = t->backends[d.backend_id];
                if (t->services[d.service_id].fwd_mode != SL_FWD_DSR_L2) {
                    if (be.family != SL_AF_INET) {
                        throw std::runtime_error("flow " + std::to_string(f) +
                                                 ": an IPv6 backend of an encapsulating service "
                                                 "(sluice-gen checks IPv4 outer headers only)");
                    }
                    std::printf(" %u.%u.%u.%u", be.addr[0], be.addr[1], be.addr[2], be.addr[3]);
                    continue;
                }
                const uint8_t *m = be.mac;
                std::printf(" %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
            }
            std::printf("\n");
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "sluice-dp-expect: %s\n", e.what());
        return 1;
    }
    return 0;
}
