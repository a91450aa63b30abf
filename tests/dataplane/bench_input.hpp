// SPDX-License-Identifier: Apache-2.0
//
// What the in-memory benchmarks (sluice-dp-pipeline-bench, sluice-burst-ab)
// feed the packet core: the tables of a spec file; 60-byte IPv4 TCP or UDP
// frames (64 on the wire) of `flows` flows, flow i to VIP vip + i % vips, as
// sluice-gen --vips sends them; and the box the encapsulating modes write
// from.
#pragma once

#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#include "sluice/region_map.hpp"
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

// Memory on huge pages, as the dataplane's mbufs and lookup cache are (DPDK
// hugepages): hugetlbfs pages where some are free, else transparent ones
// (madvise). Zeroed; `how` says which.
class HugeMemory {
  public:
    explicit HugeMemory(size_t bytes) : size_((bytes + kHuge - 1) / kHuge * kHuge) {
        void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
        if (p != MAP_FAILED) {
            base_ = static_cast<uint8_t *>(p);
            how_ = "hugetlb";
            return;
        }
        // 2 MB-aligned inside a larger reservation, so that THP can back it.
        p = mmap(nullptr, size_ + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
        if (p == MAP_FAILED) {
            throw std::bad_alloc();
        }
        map_ = static_cast<uint8_t *>(p);
        base_ = map_ + (kHuge - reinterpret_cast<uintptr_t>(map_) % kHuge) % kHuge;
        how_ = madvise(base_, size_, MADV_HUGEPAGE) == 0 ? "thp" : "4k";
        std::memset(base_, 0, size_);
    }
    HugeMemory(const HugeMemory &) = delete;
    HugeMemory &operator=(const HugeMemory &) = delete;
    ~HugeMemory() {
        if (map_ != nullptr) {
            munmap(map_, size_ + kHuge);
        } else {
            munmap(base_, size_);
        }
    }
    uint8_t *data() const { return base_; }
    const char *how() const { return how_; }

  private:
    static constexpr size_t kHuge = 2u << 20;
    size_t size_;
    uint8_t *base_ = nullptr;
    uint8_t *map_ = nullptr; // the reservation, when THP
    const char *how_ = "";
};

// A T (default-constructed) in memory of its own on huge pages.
template <class T> class OnHugePages {
  public:
    OnHugePages() : mem_(sizeof(T)) { new (mem_.data()) T(); }
    T *get() const { return reinterpret_cast<T *>(mem_.data()); }
    const char *how() const { return mem_.how(); }

  private:
    HugeMemory mem_;
};

// The tables of a spec file as sluice-dataplane reads them: published by
// control's Publisher into a shared region of its own (so on the huge pages
// control puts them on, where the kernel allows) and read through a mapping
// of the dataplane's role. The region's name is removed at once; the
// mappings live as long as this.
class BenchTables {
  public:
    // Empty after saying why on stderr, as `prog`. packed = false: every
    // table raw (fill_tables).
    BenchTables(const std::string &spec_path, const char *prog, bool packed = true) {
        const std::string inst = "bench-" + std::to_string(getpid());
        try {
            control_.emplace(Region::open(inst, Region::Role::Control, 0600));
            reader_.emplace(Region::open(inst, Region::Role::Observer));
            Region::unlink(inst);
            Publisher pub(*control_);
            fill_tables(load_spec(spec_path), pub.begin(std::chrono::milliseconds(0)), 1, packed);
            pub.commit();
            huge_ = pub.huge_pages_errno() == 0;
            rw_ = control_->tables_rw(1);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "%s: %s\n", prog, e.what());
            try {
                Region::unlink(inst);
            } catch (const std::exception &) {
            }
            reader_.reset();
            control_.reset();
            rw_ = nullptr;
        }
    }
    explicit operator bool() const { return rw_ != nullptr; }
    // The dataplane's view: what the benchmarks read.
    const sl_tables *get() const { return reader_->published(); }
    // The same copy, writable (for what-if knobs).
    sl_tables *rw() const { return rw_; }
    // The copy is on 2 MB pages.
    bool huge() const { return huge_; }

  private:
    std::optional<Region> control_;
    std::optional<Region> reader_;
    sl_tables *rw_ = nullptr;
    bool huge_ = false;
};

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
