// SPDX-License-Identifier: Apache-2.0
//
// sluice-dp-lookup (test helper): the packet core run offline on a pcap
// against the tables published in a region, one JSON line per packet:
//   {"i": 0, "verdict": "flow", "outcome": "forward", "drop": "none",
//    "service": 0, "backend": 3, "fwd": "ipip", "backend_addr": "10.1.0.3",
//    "backend_mac": "02:..", "backend_family": 4, "hash": 123, "slot": 17}
// outcome: forward | too_big | arp_reply | nd_reply | echo_reply | drop.
// The same parse.h / decide.h / rewrite.h verdicts as the dataplane, with no
// DPDK: what the real binary must do with each packet.
//
// sluice-dp-lookup --instance I --pcap FILE [--box-mac M] [--gateway-mac M]
//                    [--box-ipv4 A] [--box-ipv6 A] [--mtu N] [--gue-port P]
// (MACs as aa:bb:cc:dd:ee:ff; without --gateway-mac encapsulation has no
// gateway and is dropped, as in the dataplane)
#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <fmt/core.h>
#include <pcap/pcap.h>
#include <string>
#include <vector>

#include "sluice/config.hpp"
#include "sluice/decide.h"
#include "sluice/parse.h"
#include "sluice/region_map.hpp"
#include "sluice/rewrite.h"

namespace {

bool parse_mac(const std::string &s, uint8_t out[6]) {
    const auto m = sluice::config::parse_mac(s, ":"); // as sluice-dataplane's --mac
    if (!m) {
        return false;
    }
    std::copy(m->begin(), m->end(), out);
    return true;
}

std::string addr_str(uint8_t family, const uint8_t *a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == SL_AF_INET6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
    return buf;
}

const char *verdict_name(sl_verdict v) {
    switch (v) {
        case SL_VERDICT_FLOW:
            return "flow";
        case SL_VERDICT_ICMP_ERROR:
            return "icmp_error";
        case SL_VERDICT_ICMP_ECHO:
            return "echo";
        case SL_VERDICT_ARP:
            return "arp";
        case SL_VERDICT_ND:
            return "nd";
        case SL_VERDICT_DROP:
            return "drop";
    }
    return "?";
}

bool is_vip(const sl_tables *t, uint8_t family, const uint8_t *addr) {
    if (t == nullptr) {
        return false;
    }
    const size_t alen = family == SL_AF_INET ? 4 : 16;
    for (uint32_t i = 0; i < t->n_services && i < SL_MAX_SERVICES; i++) {
        const sl_service &s = t->services[i];
        if ((s.flags & SL_SVC_ACTIVE) && s.family == family &&
            std::memcmp(s.vip, addr, alen) == 0) {
            return true;
        }
    }
    return false;
}

} // namespace

int main(int argc, char **argv) {
    std::string instance = "default";
    std::string pcap_path;
    sl_encap_ctx ctx;
    sl_encap_ctx_defaults(&ctx);
    ctx.gue_dport = sl_htons(6080);
    bool has4 = false;
    bool has6 = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (k == "--instance") {
            instance = v;
        } else if (k == "--pcap") {
            pcap_path = v;
        } else if (k == "--box-ipv4") {
            has4 = inet_pton(AF_INET, v.c_str(), &ctx.box_ip4) == 1;
        } else if (k == "--box-ipv6") {
            has6 = inet_pton(AF_INET6, v.c_str(), ctx.box_ip6) == 1;
        } else if (k == "--box-mac") {
            if (!parse_mac(v, ctx.box_mac)) {
                fmt::print(stderr, "sluice-dp-lookup: bad --box-mac {}\n", v);
                return 2;
            }
        } else if (k == "--gateway-mac") {
            if (!parse_mac(v, ctx.gw_mac)) {
                fmt::print(stderr, "sluice-dp-lookup: bad --gateway-mac {}\n", v);
                return 2;
            }
        } else if (k == "--mtu") {
            ctx.mtu = static_cast<uint32_t>(std::stoul(v));
        } else if (k == "--gue-port") {
            ctx.gue_dport = sl_htons(static_cast<uint16_t>(std::stoul(v)));
        } else {
            fmt::print(stderr, "sluice-dp-lookup: unknown option {}\n", k);
            return 2;
        }
    }
    try {
        sluice::Region region = sluice::Region::open(instance, sluice::Region::Role::Observer);
        const sl_tables *t = region.published();
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_t *pc = pcap_open_offline(pcap_path.c_str(), err);
        if (pc == nullptr) {
            fmt::print(stderr, "sluice-dp-lookup: {}\n", err);
            return 1;
        }
        pcap_pkthdr *h = nullptr;
        const u_char *bytes = nullptr;
        std::vector<uint8_t> buf(4096);
        const uint32_t headroom = 128;
        for (unsigned idx = 0; pcap_next_ex(pc, &h, &bytes) == 1; idx++) {
            const uint32_t len = h->caplen;
            std::memset(buf.data(), 0, buf.size());
            std::memcpy(buf.data() + headroom, bytes, std::min<size_t>(len, buf.size() - headroom));
            uint8_t *frame = buf.data() + headroom;
            sl_pkt pkt;
            const sl_verdict v = sl_parse(frame, len, &pkt);
            std::string line =
                fmt::format("{{\"i\": {}, \"verdict\": \"{}\"", idx, verdict_name(v));
            std::string outcome = "drop";
            unsigned drop = SL_DROP_NONE;
            // the dataplane's order: the parse, then the L2 destination
            const sl_verdict vv =
                v != SL_VERDICT_DROP && !sl_l2_for_us(frame, ctx.box_mac, v) ? SL_VERDICT_DROP : v;
            if (vv != v) {
                pkt.drop = SL_DROP_NOT_FOR_US;
            }
            switch (vv) {
                case SL_VERDICT_FLOW:
                case SL_VERDICT_ICMP_ERROR: {
                    if (t == nullptr) {
                        drop = SL_DROP_NO_TABLE;
                        break;
                    }
                    const sl_decision d = sl_decide(t, &pkt);
                    line += fmt::format(", \"hash\": {}, \"slot\": {}", d.hash, d.slot);
                    if (d.service_id != SL_DECIDE_NONE) {
                        line += fmt::format(", \"service\": {}", d.service_id);
                    }
                    if (d.drop != SL_DROP_NONE) {
                        drop = d.drop;
                        break;
                    }
                    const sl_service &svc = t->services[d.service_id];
                    const sl_backend &be = t->backends[d.backend_id];
                    line += fmt::format(
                        ", \"backend\": {}, \"fwd\": \"{}\", \"backend_addr\": \"{}\", "
                        "\"backend_family\": {}, \"backend_mac\": "
                        "\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\", \"gue_port\": {}",
                        d.backend_id,
                        svc.fwd_mode == SL_FWD_IPIP  ? "ipip"
                        : svc.fwd_mode == SL_FWD_GUE ? "gue"
                                                     : "dsr-l2",
                        addr_str(be.family, be.addr), be.family, be.mac[0], be.mac[1], be.mac[2],
                        be.mac[3], be.mac[4], be.mac[5],
                        sl_ntohs(svc.gue_port != 0 ? svc.gue_port : ctx.gue_dport));
                    const sl_rw_result r =
                        sl_rewrite_forward(frame, len, headroom, &pkt, &ctx, &svc, &be, d.hash);
                    if (r.verdict == SL_RW_OK) {
                        outcome = "forward";
                    } else if (r.verdict == SL_RW_MTU_EXCEEDED) {
                        const uint32_t mtu = sl_encap_inner_mtu(
                            &ctx, static_cast<sl_fwd_mode>(svc.fwd_mode), be.family);
                        line += fmt::format(", \"mtu\": {}", mtu);
                        drop = SL_DROP_MTU_EXCEEDED;
                        const sl_rw_result tb =
                            sl_build_icmp_too_big(frame, len, headroom, &pkt, ctx.box_mac, mtu);
                        outcome = tb.verdict == SL_RW_OK ? "too_big" : "drop";
                    } else if (r.verdict == SL_RW_MTU_EXCEEDED_NO_DF) {
                        drop = SL_DROP_MTU_EXCEEDED;
                    } else {
                        drop = SL_DROP_ENCAP_FAILED;
                    }
                    break;
                }
                case SL_VERDICT_ARP: {
                    const uint8_t *tpa = frame + pkt.l3_off + offsetof(sl_arp_hdr, tpa);
                    const bool ours = (has4 && std::memcmp(&ctx.box_ip4, tpa, 4) == 0) ||
                                      is_vip(t, SL_AF_INET, tpa);
                    if (ours && sl_reply_arp(frame, len, &pkt, ctx.box_mac).verdict == SL_RW_OK) {
                        outcome = "arp_reply";
                    } else {
                        drop = SL_DROP_NOT_FOR_US;
                    }
                    break;
                }
                case SL_VERDICT_ND: {
                    const uint8_t *target = frame + pkt.l4_off + offsetof(sl_nd_msg, target);
                    const bool ours = pkt.l4_off + sizeof(sl_nd_msg) <= len &&
                                      ((has6 && std::memcmp(ctx.box_ip6, target, 16) == 0) ||
                                       is_vip(t, SL_AF_INET6, target));
                    if (ours &&
                        sl_reply_nd(frame, len, 2048, &pkt, ctx.box_mac).verdict == SL_RW_OK) {
                        outcome = "nd_reply";
                    } else {
                        drop = SL_DROP_NOT_FOR_US;
                    }
                    break;
                }
                case SL_VERDICT_ICMP_ECHO: {
                    const uint8_t fam = pkt.key.family;
                    const bool box = fam == SL_AF_INET
                                         ? has4 && std::memcmp(&ctx.box_ip4, pkt.key.dst, 4) == 0
                                         : has6 && std::memcmp(ctx.box_ip6, pkt.key.dst, 16) == 0;
                    if (!box && !is_vip(t, fam, pkt.key.dst)) {
                        drop = t == nullptr ? SL_DROP_NO_TABLE : SL_DROP_NOT_FOR_US;
                    } else if (sl_reply_echo(frame, len, &pkt, ctx.box_mac).verdict == SL_RW_OK) {
                        outcome = "echo_reply";
                    } else {
                        drop = SL_DROP_NOT_FOR_US;
                    }
                    break;
                }
                case SL_VERDICT_DROP:
                default:
                    drop = pkt.drop;
                    break;
            }
            line += fmt::format(", \"outcome\": \"{}\", \"drop\": \"{}\"}}\n", outcome,
                                sl_drop_name(drop));
            std::fputs(line.c_str(), stdout);
        }
        pcap_close(pc);
    } catch (const std::exception &e) {
        fmt::print(stderr, "sluice-dp-lookup: {}\n", e.what());
        return 1;
    }
    return 0;
}
