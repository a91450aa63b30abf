// SPDX-License-Identifier: Apache-2.0
//
// What the in-memory benchmarks (sluice-dp-pipeline-bench, sluice-burst-ab)
// feed the packet core: the tables of a spec file; 60-byte IPv4 TCP or UDP
// frames (64 on the wire) of `flows` flows, flow i to VIP vip + i % vips, as
// sluice-gen --vips sends them; and the box the encapsulating modes write
// from.
#pragma once

#include <arpa/inet.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "sluice/rewrite.h"
#include "sluice/wire.h"
#include "spec.hpp"

namespace sluice::test {

constexpr uint32_t kBenchFrame = 60;     // bytes, without the FCS
constexpr uint32_t kBenchHeadroom = 128; // before each frame, as in an mbuf
constexpr uint32_t kBenchBuf = 256;      // bytes per buffer, headroom included

class FrameStream {
  public:
    // vip in network byte order; dport in host byte order.
    FrameStream(uint8_t proto, uint32_t vip, uint16_t dport, uint32_t flows, uint32_t vips)
        : vip_(vip), flows_(flows), vips_(vips) {
        sl_eth_hdr eth{};
        std::memset(eth.dst, 0xaa, 6);
        std::memset(eth.src, 0x01, 6);
        eth.ethertype = htons(SL_ETH_P_IPV4);
        std::memcpy(tpl_, &eth, sizeof(eth));
        sl_ipv4_hdr ip{};
        ip.ver_ihl = 0x45;
        ip.tot_len = htons(kBenchFrame - 14);
        ip.ttl = 64;
        ip.frag_off = htons(SL_IPV4_DF);
        ip.protocol = proto;
        ip.daddr = vip;
        std::memcpy(tpl_ + 14, &ip, sizeof(ip));
        if (proto == SL_IPPROTO_TCP) {
            sl_tcp_hdr tcp{};
            tcp.dest = htons(dport);
            tcp.doff_res = 5 << 4;
            std::memcpy(tpl_ + 34, &tcp, sizeof(tcp));
        } else {
            sl_udp_hdr udp{};
            udp.dest = htons(dport);
            udp.len = htons(kBenchFrame - 34);
            std::memcpy(tpl_ + 34, &udp, sizeof(udp));
        }
    }

    // The next packet's frame into `frame` (kBenchFrame bytes). One template
    // per flow would be 1M x 64 B: the flow is written into the template on
    // the fly (source address and port, what varies on the wire), and so is
    // the destination, for every --vips alike (the IPv4 header checksum is
    // left as is: sluice does not verify it, the NIC does).
    void write(uint8_t *frame) {
        std::memcpy(frame, tpl_, kBenchFrame);
        const uint32_t src = htonl(0xc6120000u + flow_ / 50000);
        const uint16_t sport = htons(static_cast<uint16_t>(10000 + flow_ % 50000));
        std::memcpy(frame + 14 + 12, &src, 4);
        std::memcpy(frame + 34, &sport, 2);
        const uint32_t dst = htonl(ntohl(vip_) + vip_i_);
        std::memcpy(frame + 14 + 16, &dst, 4);
        vip_i_ = vip_i_ + 1 == vips_ ? 0 : vip_i_ + 1;
        flow_ = flow_ + 1 == flows_ ? 0 : flow_ + 1;
        if (flow_ == 0) {
            vip_i_ = 0; // flow i -> VIP i % vips, also when flows % vips != 0
        }
    }

    // From the first flow again.
    void rewind() {
        flow_ = 0;
        vip_i_ = 0;
    }

  private:
    uint8_t tpl_[kBenchFrame] = {};
    uint32_t vip_;
    uint32_t flows_;
    uint32_t vips_;
    uint32_t flow_ = 0;
    uint32_t vip_i_ = 0; // flow_ % vips_
};

using BenchTables = std::unique_ptr<sl_tables, decltype(&std::free)>;

// One table copy (generation 1) filled from a spec file; empty after saying
// why on stderr, as `prog`.
inline BenchTables bench_tables(const std::string &spec_path, const char *prog) {
    BenchTables t(static_cast<sl_tables *>(std::calloc(1, sizeof(sl_tables))), &std::free);
    try {
        if (!t) {
            throw std::bad_alloc();
        }
        fill_tables(load_spec(spec_path), t.get(), 1);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", prog, e.what());
        t.reset();
    }
    return t;
}

// The options the benchmarks share: --spec, --flows (default 1M), --vips
// (1), --proto udp|tcp (udp).
struct BenchOptions {
    std::string spec;
    uint32_t flows = 1000000;
    uint32_t vips = 1;
    uint8_t proto = SL_IPPROTO_UDP;

    // Takes option k with value v if it is one of these.
    bool take(const std::string &k, const std::string &v) {
        if (k == "--spec") {
            spec = v;
        } else if (k == "--flows") {
            flows = static_cast<uint32_t>(std::stoul(v));
        } else if (k == "--vips") {
            vips = static_cast<uint32_t>(std::stoul(v));
        } else if (k == "--proto") {
            proto = v == "tcp" ? SL_IPPROTO_TCP : SL_IPPROTO_UDP;
        } else {
            return false;
        }
        return true;
    }
};

// The box of the benchmarks: MAC aa:..., gateway fe:..., 192.0.2.1, GUE 6080.
inline sl_encap_ctx bench_encap_ctx() {
    sl_encap_ctx ctx;
    sl_encap_ctx_defaults(&ctx);
    std::memset(ctx.box_mac, 0xaa, 6);
    std::memset(ctx.gw_mac, 0xfe, 6);
    ctx.box_ip4 = htonl(0xc0000201);
    ctx.gue_dport = htons(6080);
    return ctx;
}

} // namespace sluice::test
