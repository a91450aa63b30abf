// SPDX-License-Identifier: Apache-2.0
//
// sluice-rewrite-pcap: applies every rewriter and reply builder of
// sluice/rewrite.h that fits each frame of an input pcap, writes the results
// to an output pcap and says in a JSON manifest what each output frame is
// meant to be. tests/pcap/rewrite_verify.py builds the input with scapy and
// checks the output with scapy's (and tshark's) own decoders.
//
//   sluice-rewrite-pcap IN.pcap OUT.pcap MANIFEST.json
//
// Per input frame, by the verdict of sl_parse():
//   TCP / UDP / ICMP error  forward by DSR, IPIP to an IPv4 and an IPv6
//                           backend, GUE to an IPv4 and an IPv6 backend; when
//                           a packet does not fit the MTU, the ICMP "too big"
//                           reply built over it
//   ARP request             ARP reply
//   neighbour solicitation  neighbour advertisement
//   ICMP(v6) echo request   echo reply
#include <arpa/inet.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "rewrite_ops.h"
#include "sluice/hash.h"
#include "sluice/parse.h"

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kHeadroom = 128; // RTE_PKTMBUF_HEADROOM
constexpr uint32_t kTailroom = 128;

// ---- pcap files (libpcap format 2.4, Ethernet) ----
uint32_t rd32(const uint8_t *p, bool swap) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

std::vector<Bytes> read_pcap(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
    }
    const Bytes all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.size() < 24) {
        throw std::runtime_error(path + ": no pcap header");
    }
    const uint32_t magic = rd32(all.data(), false);
    bool swap = false;
    if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
        swap = true;
    } else if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        throw std::runtime_error(path + ": not a pcap file");
    }
    if (rd32(all.data() + 20, swap) != 1) {
        throw std::runtime_error(path + ": link type is not Ethernet");
    }
    std::vector<Bytes> frames;
    size_t off = 24;
    while (off + 16 <= all.size()) {
        const uint32_t caplen = rd32(all.data() + off + 8, swap);
        off += 16;
        if (off + caplen > all.size()) {
            throw std::runtime_error(path + ": truncated record");
        }
        frames.emplace_back(all.begin() + static_cast<long>(off),
                            all.begin() + static_cast<long>(off + caplen));
        off += caplen;
    }
    return frames;
}

class PcapWriter {
  public:
    explicit PcapWriter(const std::string &path) : out_(path, std::ios::binary) {
        if (!out_) {
            throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
        }
        const uint32_t hdr[6] = {0xa1b2c3d4, 2u | (4u << 16), 0, 0, 65535, 1};
        out_.write(reinterpret_cast<const char *>(hdr), sizeof(hdr));
    }
    // Returns the record's index.
    size_t write(const uint8_t *data, uint32_t len) {
        const uint32_t rec[4] = {static_cast<uint32_t>(1700000000 + count_), 0, len, len};
        out_.write(reinterpret_cast<const char *>(rec), sizeof(rec));
        out_.write(reinterpret_cast<const char *>(data), len);
        return count_++;
    }
    void close() {
        out_.close();
        if (!out_) {
            throw std::runtime_error("writing the output pcap failed");
        }
    }

  private:
    std::ofstream out_;
    size_t count_ = 0;
};

// A frame in an mbuf-like buffer.
struct Buf {
    Bytes mem;
    uint32_t len;
    explicit Buf(const Bytes &f)
        : mem(kHeadroom + f.size() + kTailroom, 0), len(static_cast<uint32_t>(f.size())) {
        std::memcpy(mem.data() + kHeadroom, f.data(), f.size());
    }
    uint8_t *data() { return mem.data() + kHeadroom; }
};

std::string mac_str(const uint8_t *m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                       m[5]);
}

std::string ip4_str(const uint8_t *a) {
    return fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
}

std::string ip6_str(const uint8_t *a) {
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, a, buf, sizeof(buf)) ? std::string(buf) : std::string("?");
}

struct Op {
    const char *name;
    sl_fwd_mode mode;
    uint8_t family;    // backend
    uint16_t svc_port; // GUE port of the service, host order; 0 = the box default
};

const Op kOps[] = {
    {"dsr", SL_FWD_DSR_L2, SL_AF_INET, 0},   {"ipip4", SL_FWD_IPIP, SL_AF_INET, 0},
    {"ipip6", SL_FWD_IPIP, SL_AF_INET6, 0},  {"gue4", SL_FWD_GUE, SL_AF_INET, 0},
    {"gue6", SL_FWD_GUE, SL_AF_INET6, 7777},
};

int run(const std::string &in_path, const std::string &out_path, const std::string &man_path) {
    sl_encap_ctx ctx;
    sl_encap_ctx_defaults(&ctx);
    const uint8_t box_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xb0};
    const uint8_t gw_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
    const uint8_t box4[4] = {10, 0, 0, 1};
    const uint8_t box6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(ctx.box_mac, box_mac, 6);
    std::memcpy(ctx.gw_mac, gw_mac, 6);
    std::memcpy(&ctx.box_ip4, box4, 4);
    std::memcpy(ctx.box_ip6, box6, 16);
    ctx.gue_dport = sl_htons(6080);

    sl_backend be4{};
    be4.family = SL_AF_INET;
    const uint8_t a4[4] = {10, 0, 1, 2};
    std::memcpy(be4.addr, a4, 4);
    const uint8_t m4[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x02};
    std::memcpy(be4.mac, m4, 6);
    sl_backend be6{};
    be6.family = SL_AF_INET6;
    const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(be6.addr, a6, 16);
    const uint8_t m6[6] = {0x02, 0x00, 0x00, 0x00, 0x06, 0x02};
    std::memcpy(be6.mac, m6, 6);
    const sl_hash_seed seed = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

    const std::vector<Bytes> inputs = read_pcap(in_path);
    PcapWriter out(out_path);
    std::string ops_json;
    auto record = [&](size_t in_idx, const std::string &op, sl_rw_verdict v, long out_idx,
                      const std::string &extra) {
        ops_json += fmt::format("{}    {{\"in\": {}, \"op\": \"{}\", \"verdict\": \"{}\", "
                                "\"out\": {}{}}}",
                                ops_json.empty() ? "" : ",\n", in_idx, op, sl_rw_verdict_name(v),
                                out_idx, extra);
    };

    for (size_t i = 0; i < inputs.size(); i++) {
        const Bytes &f = inputs[i];
        sl_pkt pkt;
        const sl_verdict pv = sl_parse(f.data(), static_cast<uint32_t>(f.size()), &pkt);
        if (pv == SL_VERDICT_DROP) {
            record(i, std::string("parser_drop_") + sl_drop_name(pkt.drop), SL_RW_INVALID, -1, "");
            continue;
        }
        if (pv == SL_VERDICT_ARP) {
            Buf b(f);
            const sl_rw_result r = rw_c_arp(b.data(), b.len, &pkt, ctx.box_mac);
            const long o =
                r.verdict == SL_RW_OK ? static_cast<long>(out.write(r.frame, r.len)) : -1;
            record(i, "arp_reply", r.verdict, o, "");
        } else if (pv == SL_VERDICT_ND) {
            Buf b(f);
            const sl_rw_result r = rw_c_nd(b.data(), b.len, b.len + kTailroom, &pkt, ctx.box_mac);
            const long o =
                r.verdict == SL_RW_OK ? static_cast<long>(out.write(r.frame, r.len)) : -1;
            record(i, "nd_reply", r.verdict, o, "");
        } else if (pv == SL_VERDICT_ICMP_ECHO) {
            Buf b(f);
            const sl_rw_result r = rw_c_echo(b.data(), b.len, &pkt, ctx.box_mac);
            const long o =
                r.verdict == SL_RW_OK ? static_cast<long>(out.write(r.frame, r.len)) : -1;
            record(i, "echo_reply", r.verdict, o, "");
        } else if (pv == SL_VERDICT_FLOW || pv == SL_VERDICT_ICMP_ERROR) {
            // ICMP errors: the key is the embedded flow's, reversed, so the
            // hash is the flow's own.
            const uint64_t hash = sl_flow_hash(&pkt.key, &seed);
            for (const Op &op : kOps) {
                const sl_backend &be = op.family == SL_AF_INET ? be4 : be6;
                sl_service svc{};
                svc.fwd_mode = static_cast<uint8_t>(op.mode);
                svc.gue_port = sl_htons(op.svc_port);
                Buf b(f);
                const sl_rw_result r =
                    rw_c_forward(b.data(), b.len, kHeadroom, &pkt, &ctx, &svc, &be, hash);
                const long o =
                    r.verdict == SL_RW_OK ? static_cast<long>(out.write(r.frame, r.len)) : -1;
                const std::string addr =
                    op.family == SL_AF_INET ? ip4_str(be.addr) : ip6_str(be.addr);
                record(i, op.name, r.verdict, o,
                       fmt::format(", \"flow_hash\": {}, \"backend\": \"{}\", \"backend_mac\": "
                                   "\"{}\", \"gue_dport\": {}, \"prepended\": {}",
                                   hash, addr, mac_str(be.mac),
                                   op.svc_port ? op.svc_port : sl_ntohs(ctx.gue_dport),
                                   b.data() - r.frame));
                if (r.verdict == SL_RW_MTU_EXCEEDED) {
                    const uint32_t mtu = sl_encap_inner_mtu(&ctx, op.mode, op.family);
                    Buf t(f);
                    const sl_rw_result tr =
                        rw_c_too_big(t.data(), t.len, kHeadroom, &pkt, ctx.box_mac, mtu);
                    const long to = tr.verdict == SL_RW_OK
                                        ? static_cast<long>(out.write(tr.frame, tr.len))
                                        : -1;
                    record(i, std::string("too_big_") + op.name, tr.verdict, to,
                           fmt::format(", \"mtu\": {}", mtu));
                }
            }
        } else {
            record(i, "none", SL_RW_INVALID, -1, "");
        }
    }
    out.close();

    std::ofstream man(man_path);
    man << fmt::format(
        "{{\n  \"config\": {{\"box_mac\": \"{}\", \"gw_mac\": \"{}\", \"box_ip4\": \"{}\", "
        "\"box_ip6\": \"{}\", \"mtu\": {}, \"ttl\": {}, \"gue_dport\": {}, "
        "\"gue_sport_min\": {}, \"gue_sport_max\": {}}},\n  \"inputs\": {},\n  \"ops\": [\n{}\n  "
        "]\n}}\n",
        mac_str(ctx.box_mac), mac_str(ctx.gw_mac), ip4_str(box4), ip6_str(box6), ctx.mtu, ctx.ttl,
        sl_ntohs(ctx.gue_dport), ctx.gue_sport_min, ctx.gue_sport_max, inputs.size(), ops_json);
    man.close();
    if (!man) {
        throw std::runtime_error(man_path + ": write failed");
    }
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s IN.pcap OUT.pcap MANIFEST.json\n", argv[0]);
        return 2;
    }
    try {
        return run(argv[1], argv[2], argv[3]);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "sluice-rewrite-pcap: %s\n", e.what());
        return 1;
    }
}
