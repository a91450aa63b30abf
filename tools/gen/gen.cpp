// SPDX-License-Identifier: Apache-2.0
//
// sluice-gen: a DPDK traffic generator and flow verifier for sluice.
// Sends UDP or TCP flows (flows.h) to one or more VIPs over one port (memif,
// ring, a NIC...), receives what comes back on the same port and checks, per
// packet, that it reached a backend allowed for its flow.
//
// sluice-gen [EAL options] -- --port SPEC [--flows N] [--vip A] [--vips V]
//     [--dport P] [--proto udp|tcp] [--size BYTES] [--duration-ms D]
//     [--window W] [--expect FILE] [--dst-mac M] [--drain-ms Q]
//     [--vips-b M] [--vip-b A2] [--flows-b N2] [--block-ms B]
//
//  --vips V     spread the flows over V VIPs (1..4096, default 1): flow i
//               goes to A + i % V (host-order add; flows.h, sl_gen_vip).
//  --vips-b M, --vip-b A2, --flows-b N2
//               two kinds of traffic in one run, in blocks of B ms (default
//               100) in the order A B B A A B B A ...: A is N flows over V
//               VIPs from A, B is N2 flows (default N) over M VIPs (default
//               V) from A2 (default A); any of the three turns blocks on.
//               Each kind goes through its own flows in order, from where
//               its last block left off. Each packet carries its block's
//               number (the payload's sequence number >> 40), and each
//               block's rate is what came back of its packets over its
//               time; the JSON adds the median over the pairs of blocks
//               (blocks 2k and 2k + 1: one of each) of B's rate over A's,
//               leaving out the first pair in which both had traffic (the
//               link coming up) and the last (cut by the end), and each
//               side's rate over those pairs: a change of the machine's
//               speed between blocks of 100 ms hits both alike.
//  --window W   at most W packets in flight (0: as fast as possible). With a
//               window below the rings' sizes nothing may be lost. When none
//               comes back for 200 ms the window is reopened (a peer that
//               restarts); late packets still count as received.
//  SIGINT/SIGTERM ends the sending early; what returns within --drain-ms
//  is still counted. While the port's link is down (memif: no peer, or the
//  peer died) nothing is sent or received; both resume when it is back up.
//  --expect F   lines "FLOW BACKEND [BACKEND]": the backends allowed for a
//               flow (at most two), each a MAC (dsr-l2: the returned frame's
//               destination MAC) or an IPv4 address (ipip, gue: the
//               destination of the returned frame's outer IPv4 header).
//               One kind of traffic only: not with blocks.
// Prints one JSON object: sent, received, lost, misrouted, the rate.
#include <algorithm>
#include <array>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "flows.h"
#include "io_guard.hpp"
#include "sluice/wire.h"

// Peer kill guard: DPDK 22.11's memif PMD unmaps the peer's shared regions
// from the EAL interrupt thread when the peer dies, while this lcore may be
// inside a burst on them. io_guard (dataplane/src/io_guard.hpp, shared with
// sluice-dataplane) makes such an unmap wait for the burst to end, and keeps
// the lcore out of bursts until it is done; after that the PMD's own
// "connected" check and the link poll keep it out until the peer is back.
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
    g_stop = true;
}

struct Opts {
    std::string port;
    uint32_t flows = 1000;
    uint32_t vip = 0x0a000001; // host order
    uint32_t vips = 1;         // flow i goes to sl_gen_vip(vip, i, vips)
    // The B blocks' traffic (--vips-b, --vip-b, --flows-b); 0: as A's.
    uint32_t vips_b = 0;
    uint32_t vip_b = 0;
    uint32_t flows_b = 0;
    bool blocks = false; // any of the three given
    uint64_t block_ms = 100;
    uint16_t dport = 80;
    uint8_t proto = SL_IPPROTO_UDP;
    uint32_t size = 60;
    uint64_t duration_ms = 2000;
    uint64_t window = 0;
    uint64_t drain_ms = 500;
    std::string expect;
    uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0xaa};
    uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
};

bool parse_mac(const std::string &s, uint8_t *m) {
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) !=
        6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        m[i] = static_cast<uint8_t>(v[i]);
    }
    return true;
}

// Option k's value v as a decimal number from lo to hi, or false after one
// line naming the option.
bool parse_num(const std::string &k, const std::string &v, uint64_t lo, uint64_t hi,
               uint64_t *out) {
    char *endp = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v.c_str(), &endp, 10);
    if (v.empty() || v[0] < '0' || v[0] > '9' || *endp != '\0' || errno != 0 || n < lo || n > hi) {
        std::fprintf(stderr, "sluice-gen: bad %s %s (a number from %llu to %llu)\n", k.c_str(),
                     v.c_str(), static_cast<unsigned long long>(lo),
                     static_cast<unsigned long long>(hi));
        return false;
    }
    *out = n;
    return true;
}

uint64_t mac_key(const uint8_t *m) {
    uint64_t k = 0;
    std::memcpy(&k, m, 6);
    return k;
}

// Where a frame's L3 header starts, past VLAN tags, and its ethertype.
uint32_t l3_offset(const uint8_t *p, uint32_t len, uint16_t *et) {
    uint32_t off = 12;
    *et = static_cast<uint16_t>(p[off] << 8 | p[off + 1]);
    while ((*et == SL_ETH_P_8021Q || *et == SL_ETH_P_8021AD) && off + 6 <= len) {
        off += 4;
        *et = static_cast<uint16_t>(p[off] << 8 | p[off + 1]);
    }
    return off + 2;
}

// A backend of --expect as a key: a MAC's 48 bits, or an IPv4 address with
// bit 63 set. False if the text is neither.
constexpr uint64_t kIpKey = uint64_t{1} << 63;
bool parse_backend(const std::string &s, uint64_t *key) {
    uint8_t m[6];
    in_addr a{};
    if (parse_mac(s, m)) {
        *key = mac_key(m);
        return true;
    }
    if (inet_pton(AF_INET, s.c_str(), &a) == 1) {
        *key = kIpKey | a.s_addr;
        return true;
    }
    return false;
}

// The key a returned frame reached, of the kind of `want`: its destination
// MAC, or the destination of its first (outer) IPv4 header; 0 if it has none.
uint64_t reached_key(const uint8_t *p, uint32_t len, uint64_t want) {
    if ((want & kIpKey) == 0) {
        return mac_key(p);
    }
    uint16_t et = 0;
    const uint32_t off = l3_offset(p, len, &et);
    if (et != SL_ETH_P_IPV4 || off + 20 > len) {
        return 0;
    }
    uint32_t daddr;
    std::memcpy(&daddr, p + off + 16, 4);
    return kIpKey | daddr;
}

uint16_t csum16(const void *data, size_t len) {
    const auto *p = static_cast<const uint8_t *>(data);
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return htons(static_cast<uint16_t>(~s));
}

// One kind of traffic: flows 0, 1, ... in turn, flow i to VIP index i % V
// (flows.h), both kept incrementally: no division per packet, the same work
// for every number of VIPs.
struct Traffic {
    std::vector<uint32_t> vip_be; // VIP index k's address, network order
    uint32_t flows;
    uint32_t flow = 0; // the next packet's
    uint32_t k = 0;    // its VIP index

    Traffic(uint32_t first, uint32_t vips, uint32_t nflows) : vip_be(vips), flows(nflows) {
        for (uint32_t j = 0; j < vips; j++) {
            vip_be[j] = htonl(sl_gen_vip(first, j, vips));
        }
    }
    void next() {
        flow = flow + 1 == flows ? 0 : flow + 1;
        k = flow == 0 || k + 1 == vip_be.size() ? 0 : k + 1;
    }
};

struct Template {
    uint8_t bytes[128] = {};
    uint32_t len = 0;
    uint32_t l4_off = 0;
    uint32_t payload_off = 0;
};

Template make_template(const Opts &o) {
    Template t;
    const uint32_t l4len = o.proto == SL_IPPROTO_TCP ? 20 : 8;
    t.l4_off = 14 + 20;
    t.payload_off = t.l4_off + l4len;
    t.len = std::max<uint32_t>(o.size, t.payload_off + sizeof(sl_gen_payload));
    t.len = std::min<uint32_t>(t.len, sizeof(t.bytes));
    sl_eth_hdr eth{};
    std::memcpy(eth.dst, o.dst_mac, 6);
    std::memcpy(eth.src, o.src_mac, 6);
    eth.ethertype = htons(SL_ETH_P_IPV4);
    std::memcpy(t.bytes, &eth, sizeof(eth));
    sl_ipv4_hdr ip{};
    ip.ver_ihl = 0x45;
    ip.tot_len = htons(static_cast<uint16_t>(t.len - 14));
    ip.ttl = 64;
    ip.protocol = o.proto;
    ip.saddr = 0;
    ip.daddr = htonl(o.vip);
    std::memcpy(t.bytes + 14, &ip, sizeof(ip));
    if (o.proto == SL_IPPROTO_TCP) {
        sl_tcp_hdr tcp{};
        tcp.dest = htons(o.dport);
        tcp.doff_res = 5 << 4;
        tcp.flags = 0x10;
        tcp.window = htons(65535);
        std::memcpy(t.bytes + t.l4_off, &tcp, sizeof(tcp));
    } else {
        sl_udp_hdr udp{};
        udp.dest = htons(o.dport);
        udp.len = htons(static_cast<uint16_t>(t.len - t.l4_off));
        std::memcpy(t.bytes + t.l4_off, &udp, sizeof(udp));
    }
    return t;
}

// The generator's payload in a returned frame (plain, IPIP or GUE), or null.
const sl_gen_payload *find_payload(const uint8_t *p, uint32_t len) {
    uint16_t et = 0;
    uint32_t off = l3_offset(p, len, &et);
    for (int depth = 0; depth < 3; depth++) {
        if (et != SL_ETH_P_IPV4 || off + 20 > len) {
            return nullptr;
        }
        const uint32_t ihl = (p[off] & 0xf) * 4u;
        const uint8_t proto = p[off + 9];
        off += ihl;
        if (proto == SL_IPPROTO_IPIP) {
            continue;
        }
        if (proto == SL_IPPROTO_UDP && off + 12 <= len) {
            const uint16_t dport = static_cast<uint16_t>(p[off + 2] << 8 | p[off + 3]);
            if (off + 12 + 20 <= len && p[off + 8] == 0 && p[off + 9] == SL_IPPROTO_IPIP &&
                dport != 0 && (p[off + 12] >> 4) == 4) {
                off += 12; // UDP + GUE to an inner IPv4 packet
                continue;
            }
            off += 8;
        } else if (proto == SL_IPPROTO_TCP && off + 20 <= len) {
            off += (p[off + 12] >> 4) * 4u;
        } else {
            return nullptr;
        }
        if (off + sizeof(sl_gen_payload) > len) {
            return nullptr;
        }
        const auto *pl = reinterpret_cast<const sl_gen_payload *>(p + off);
        return pl->magic == SL_GEN_MAGIC ? pl : nullptr;
    }
    return nullptr;
}

int run(int argc, char **argv) {
    std::vector<char *> eal{argv[0]};
    int i = 1;
    for (; i < argc && std::strcmp(argv[i], "--") != 0; i++) {
        eal.push_back(argv[i]);
    }
    Opts o;
    bool has_vip_b = false;
    for (i++; i < argc; i++) {
        const std::string k = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "sluice-gen: %s needs a value\n", k.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        uint64_t n = 0;
        if (k == "--port") {
            o.port = v;
        } else if (k == "--flows" || k == "--flows-b") {
            if (!parse_num(k, v, 1, UINT32_MAX, &n)) {
                return 2;
            }
            (k == "--flows" ? o.flows : o.flows_b) = static_cast<uint32_t>(n);
            o.blocks |= k == "--flows-b";
        } else if (k == "--vip" || k == "--vip-b") {
            in_addr a{};
            if (inet_pton(AF_INET, v.c_str(), &a) != 1) {
                std::fprintf(stderr, "sluice-gen: bad %s %s (IPv4)\n", k.c_str(), v.c_str());
                return 2;
            }
            (k == "--vip" ? o.vip : o.vip_b) = ntohl(a.s_addr);
            if (k == "--vip-b") {
                o.blocks = true;
                has_vip_b = true;
            }
        } else if (k == "--vips" || k == "--vips-b") {
            if (!parse_num(k, v, 1, SL_GEN_MAX_VIPS, &n)) {
                return 2;
            }
            (k == "--vips" ? o.vips : o.vips_b) = static_cast<uint32_t>(n);
            o.blocks |= k == "--vips-b";
        } else if (k == "--block-ms") {
            if (!parse_num(k, v, 1, 60000, &n)) {
                return 2;
            }
            o.block_ms = n;
        } else if (k == "--dport") {
            if (!parse_num(k, v, 0, 65535, &n)) {
                return 2;
            }
            o.dport = static_cast<uint16_t>(n);
        } else if (k == "--proto") {
            if (v != "udp" && v != "tcp") {
                std::fprintf(stderr, "sluice-gen: bad --proto %s (udp or tcp)\n", v.c_str());
                return 2;
            }
            o.proto = v == "tcp" ? SL_IPPROTO_TCP : SL_IPPROTO_UDP;
        } else if (k == "--size") {
            // the frame without its FCS; the template holds 128 bytes
            if (!parse_num(k, v, 60, sizeof(Template::bytes), &n)) {
                return 2;
            }
            o.size = static_cast<uint32_t>(n);
        } else if (k == "--duration-ms") {
            if (!parse_num(k, v, 1, 24 * 3600 * 1000ULL, &n)) {
                return 2;
            }
            o.duration_ms = n;
        } else if (k == "--window") {
            if (!parse_num(k, v, 0, UINT32_MAX, &n)) {
                return 2;
            }
            o.window = n;
        } else if (k == "--drain-ms") {
            if (!parse_num(k, v, 0, 600000, &n)) {
                return 2;
            }
            o.drain_ms = n;
        } else if (k == "--expect") {
            o.expect = v;
        } else if (k == "--dst-mac") {
            if (!parse_mac(v, o.dst_mac)) {
                std::fprintf(stderr, "sluice-gen: bad --dst-mac %s\n", v.c_str());
                return 2;
            }
        } else {
            std::fprintf(stderr, "sluice-gen: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (o.port.empty() || o.flows == 0) {
        std::fprintf(stderr, "sluice-gen: --port SPEC and --flows N > 0 are needed\n");
        return 2;
    }
    // B's traffic: A's but for what --vips-b, --vip-b and --flows-b change
    o.vips_b = o.vips_b != 0 ? o.vips_b : o.vips;
    o.vip_b = has_vip_b ? o.vip_b : o.vip;
    o.flows_b = o.flows_b != 0 ? o.flows_b : o.flows;
    if (o.vip > UINT32_MAX - (o.vips - 1) || o.vip_b > UINT32_MAX - (o.vips_b - 1)) {
        std::fprintf(stderr,
                     "sluice-gen: a VIP plus --vips or --vips-b runs past 255.255.255.255\n");
        return 2;
    }
    if (o.blocks && (o.duration_ms / o.block_ms < 6 || o.duration_ms / o.block_ms > 65536)) {
        std::fprintf(stderr,
                     "sluice-gen: --vips-b, --vip-b and --flows-b need 6 to 65536 blocks of "
                     "--block-ms %lu in --duration-ms %lu\n",
                     static_cast<unsigned long>(o.block_ms),
                     static_cast<unsigned long>(o.duration_ms));
        return 2;
    }
    if (o.blocks && !o.expect.empty()) {
        std::fprintf(stderr, "sluice-gen: --expect names one kind of traffic's backends: not with "
                             "--vips-b, --vip-b or --flows-b\n");
        return 2;
    }
    Traffic ta(o.vip, o.vips, o.flows);
    Traffic tb(o.vip_b, o.vips_b, o.flows_b);
    // Allowed backends per flow, at most two (parse_backend's keys).
    std::vector<std::array<uint64_t, 2>> allowed;
    if (!o.expect.empty()) {
        allowed.assign(o.flows, std::array<uint64_t, 2>{0, 0});
        std::ifstream in(o.expect);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            uint32_t f = 0;
            std::string a;
            std::string b;
            ls >> f >> a >> b;
            uint64_t ka = 0;
            uint64_t kb = 0;
            if (f < o.flows && parse_backend(a, &ka)) {
                allowed[f][0] = ka;
                allowed[f][1] = b.empty() || !parse_backend(b, &kb) ? ka : kb;
                if ((allowed[f][0] ^ allowed[f][1]) & kIpKey) {
                    std::fprintf(stderr,
                                 "sluice-gen: %s: flow %u: a MAC and an IPv4 address (a flow's "
                                 "backends are all MACs or all addresses)\n",
                                 o.expect.c_str(), f);
                    return 1;
                }
            }
        }
    }
    std::string vdev = "--vdev=" + o.port;
    eal.push_back(vdev.data());
    if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
        std::fprintf(stderr, "sluice-gen: EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    const std::string name = o.port.substr(0, o.port.find(','));
    uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
        std::fprintf(stderr, "sluice-gen: port %s does not exist\n", name.c_str());
        return 1;
    }
    rte_mempool *mp = rte_pktmbuf_pool_create("gen", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
    rte_eth_conf conf{};
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t t_setup = rte_rdtsc();
    if (mp == nullptr || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 1024, SOCKET_ID_ANY, nullptr, mp) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 1024, SOCKET_ID_ANY, nullptr) != 0 ||
        rte_eth_dev_start(port) != 0) {
        std::fprintf(stderr, "sluice-gen: cannot set up port %s: %s\n", name.c_str(),
                     rte_strerror(rte_errno));
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    // Wait for the link (memif: until the peer connects), at most 10 s.
    // link_ms: from the port's start to the link up (-1: never).
    double link_ms = -1;
    for (uint64_t t0 = rte_rdtsc(); rte_rdtsc() - t0 < 10 * hz && !g_stop;) {
        rte_eth_link link{};
        rte_eth_link_get_nowait(port, &link);
        if (link.link_status == RTE_ETH_LINK_UP) {
            link_ms = static_cast<double>(rte_rdtsc() - t_setup) * 1000.0 / static_cast<double>(hz);
            break;
        }
        rte_delay_ms(1);
    }

    const Template tpl = make_template(o);
    uint64_t sent = 0;
    uint64_t received = 0;
    uint64_t misrouted = 0;
    uint64_t foreign = 0;
    uint64_t match_a = 0;
    uint64_t match_b = 0;
    uint64_t received_in_window = 0;
    uint64_t written_off = 0; // in flight when traffic stalled: no longer held against the window
    uint64_t last_rx = 0;
    uint64_t max_gap = 0;
    const uint64_t stall = hz / 5; // 200 ms without a returning packet
    // blocks: their length, and what came back of each block's packets
    const uint64_t block_tsc = std::max<uint64_t>(o.block_ms * hz / 1000, 1);
    std::vector<uint64_t> rx_blk(o.blocks ? o.duration_ms / o.block_ms + 2 : 0, 0);
    constexpr unsigned kBlockShift = 40; // the payload's seq: block << 40 | packet
    rte_mbuf *tx[32];
    rte_mbuf *rx[32];
    sluice::io_guard::arm();
    sluice::io_guard::bind_worker();
    const uint64_t start = rte_rdtsc();
    uint64_t last_progress = start;
    uint64_t send_until = start + o.duration_ms * hz / 1000;
    uint64_t end = send_until + o.drain_ms * hz / 1000;
    uint64_t send_end_tsc = 0;
    uint64_t link_read = 0;
    bool link_up = false;
    for (;;) {
        const uint64_t now = rte_rdtsc();
        if (g_stop.load(std::memory_order_relaxed) && now < send_until) {
            // SIGINT/SIGTERM: stop sending, still collect what comes back.
            send_until = now;
            end = now + o.drain_ms * hz / 1000;
        }
        const bool sending = now < send_until;
        if (!sending) {
            if (send_end_tsc == 0) {
                send_end_tsc = now;
                received_in_window = received;
            }
            if (now >= end || received + foreign >= sent) {
                break;
            }
        }
        uint64_t room = 32;
        if (o.window != 0) {
            uint64_t inflight = sent - received - foreign - written_off;
            if (inflight >= o.window && now - last_progress > stall) {
                written_off += inflight; // the window stalled: these will not come back
                inflight = 0;
                last_progress = now;
            }
            room = inflight >= o.window ? 0 : std::min<uint64_t>(32, o.window - inflight);
        }
        // No burst while the link is down or the PMD unmaps (io_guard). The
        // link is read every 100 us: on a NIC that is a register read.
        if (now - link_read >= hz / 10000) {
            rte_eth_link link{};
            rte_eth_link_get_nowait(port, &link);
            link_up = link.link_status == RTE_ETH_LINK_UP;
            link_read = now;
        }
        if (!link_up || !sluice::io_guard::enter(0)) {
            continue;
        }
        if (sending && room > 0 &&
            rte_pktmbuf_alloc_bulk(mp, tx, static_cast<unsigned>(room)) == 0) {
            const uint64_t blk = o.blocks ? (now - start) / block_tsc : 0;
            Traffic &tr = o.blocks && (((blk >> 1) ^ blk) & 1u) != 0 ? tb : ta;
            for (uint64_t k = 0; k < room; k++) {
                rte_mbuf *m = tx[k];
                uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
                std::memcpy(p, tpl.bytes, tpl.len);
                const uint32_t flow = tr.flow;
                const uint32_t src = htonl(sl_gen_src_ip(flow));
                std::memcpy(p + 14 + 12, &src, 4);
                std::memcpy(p + 14 + 16, &tr.vip_be[tr.k], 4);
                const uint16_t id = htons(static_cast<uint16_t>(sent + k));
                std::memcpy(p + 14 + 4, &id, 2);
                const uint16_t c = csum16(p + 14, 20);
                std::memcpy(p + 14 + 10, &c, 2);
                const uint16_t sport = htons(sl_gen_sport(flow));
                std::memcpy(p + tpl.l4_off, &sport, 2);
                const uint64_t seq =
                    o.blocks
                        ? blk << kBlockShift | ((sent + k) & ((uint64_t{1} << kBlockShift) - 1))
                        : sent + k;
                sl_gen_payload pl{SL_GEN_MAGIC, flow, seq};
                std::memcpy(p + tpl.payload_off, &pl, sizeof(pl));
                m->data_len = static_cast<uint16_t>(tpl.len);
                m->pkt_len = tpl.len;
                tr.next();
            }
            const uint16_t n = rte_eth_tx_burst(port, 0, tx, static_cast<uint16_t>(room));
            if (n < room) {
                // Not sent: the flows they carried are skipped this time
                // round; the next packets take the flows after them.
                rte_pktmbuf_free_bulk(tx + n, static_cast<unsigned>(room - n));
            }
            sent += n;
        }
        const uint16_t nr = rte_eth_rx_burst(port, 0, rx, 32);
        sluice::io_guard::leave(0); // the received mbufs are copies: no longer in the PMD's memory
        if (nr != 0) {
            const uint64_t t = rte_rdtsc();
            if (last_rx != 0 && t - last_rx > max_gap) {
                max_gap = t - last_rx;
            }
            last_rx = t;
            last_progress = t;
        }
        for (uint16_t k = 0; k < nr; k++) {
            const uint8_t *p = rte_pktmbuf_mtod(rx[k], const uint8_t *);
            const sl_gen_payload *pl = find_payload(p, rte_pktmbuf_data_len(rx[k]));
            if (pl == nullptr) {
                foreign++;
            } else {
                received++;
                if (!rx_blk.empty() && (pl->seq >> kBlockShift) < rx_blk.size()) {
                    rx_blk[pl->seq >> kBlockShift]++;
                }
                if (!allowed.empty()) {
                    const auto &al = allowed[pl->flow < o.flows ? pl->flow : 0];
                    const uint64_t mk = reached_key(p, rte_pktmbuf_data_len(rx[k]), al[0]);
                    if (mk != al[0] && mk != al[1]) {
                        misrouted++;
                    } else if (al[0] != al[1]) {
                        match_a += mk == al[0];
                        match_b += mk == al[1];
                    }
                }
            }
        }
        rte_pktmbuf_free_bulk(rx, nr);
    }
    const double secs = static_cast<double>((send_end_tsc ? send_end_tsc : rte_rdtsc()) - start) /
                        static_cast<double>(hz);
    if (send_end_tsc == 0) {
        received_in_window = received;
    }
    std::printf("{\"sent\": %lu, \"received\": %lu, \"lost\": %ld, \"misrouted\": %lu, "
                "\"foreign\": %lu, \"old_table\": %lu, \"new_table\": %lu, \"seconds\": %.3f, "
                "\"tx_mpps\": %.3f, \"rx_mpps\": %.3f, \"max_gap_ms\": %.1f, ",
                sent, received, static_cast<long>(sent - received), misrouted, foreign, match_a,
                match_b, secs, static_cast<double>(sent) / secs / 1e6,
                static_cast<double>(received_in_window) / secs / 1e6,
                static_cast<double>(max_gap) * 1000.0 / static_cast<double>(hz));
    if (o.blocks) {
        // Blocks wholly within the sending time, in pairs (2k, 2k + 1): one
        // A and one B block each, of the same length, so that B's rate over
        // A's is the ratio of their counts.
        const uint64_t sent_tsc = (send_end_tsc ? send_end_tsc : rte_rdtsc()) - start;
        const uint64_t full = std::min<uint64_t>(sent_tsc / block_tsc, rx_blk.size());
        std::vector<double> ratios;
        uint64_t rx_a = 0;
        uint64_t rx_b = 0;
        bool first = true;
        for (uint64_t b = 0; b + 1 < full; b += 2) {
            const bool b_first = (((b >> 1) ^ b) & 1u) != 0;
            const uint64_t na = rx_blk[b_first ? b + 1 : b];
            const uint64_t nb = rx_blk[b_first ? b : b + 1];
            if (na == 0 || nb == 0) {
                continue;
            }
            if (first) {
                first = false; // the link coming up, the peer's first tables
                continue;
            }
            ratios.push_back(static_cast<double>(nb) / static_cast<double>(na));
            rx_a += na;
            rx_b += nb;
        }
        std::sort(ratios.begin(), ratios.end());
        const std::size_t np = ratios.size();
        const double med = np == 0       ? 0.0
                           : np % 2 == 1 ? ratios[np / 2]
                                         : (ratios[np / 2 - 1] + ratios[np / 2]) / 2;
        const double secs_each =
            static_cast<double>(np) * static_cast<double>(block_tsc) / static_cast<double>(hz);
        char vip_b[INET_ADDRSTRLEN] = "";
        const in_addr vb{htonl(o.vip_b)};
        inet_ntop(AF_INET, &vb, vip_b, sizeof(vip_b));
        std::printf("\"vips_b\": %u, \"vip_b\": \"%s\", \"flows_b\": %u, \"block_ms\": %lu, "
                    "\"pairs\": %zu, \"a_mpps\": %.3f, \"b_mpps\": %.3f, \"b_over_a\": %.4f, ",
                    o.vips_b, vip_b, o.flows_b, static_cast<unsigned long>(o.block_ms), np,
                    np ? static_cast<double>(rx_a) / secs_each / 1e6 : 0.0,
                    np ? static_cast<double>(rx_b) / secs_each / 1e6 : 0.0, med);
    }
    std::printf("\"link_ms\": %.1f}\n", link_ms);
    std::fflush(stdout);
    sluice::io_guard::unbind_worker();
    sluice::io_guard::disarm();
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
    rte_eal_cleanup();
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    return run(argc, argv);
}
