// SPDX-License-Identifier: Apache-2.0
#include "dpdk.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <linux/if_packet.h>
#include <net/if.h>
#include <optional>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/core.h>
#include <rte_eal.h>
#include <rte_eal_memconfig.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "io_guard.hpp"

namespace sluice::dp {

namespace {

// What a frame carries besides its IP packet, at most: Ethernet and two
// VLAN tags.
constexpr uint32_t kL2Overhead = 14 + 2 * 4;

std::string rte_err(int e) {
    return std::string(rte_strerror(e < 0 ? -e : e));
}

// The RX queues the kernel runs on network interface `iface`
// (/sys/class/net/IFACE/queues/rx-N: XDP's rx_queue_index ranges over
// them); 0 if it cannot tell.
unsigned iface_rx_queues(const std::string &iface) {
    DIR *d = opendir(("/sys/class/net/" + iface + "/queues").c_str());
    if (d == nullptr) {
        return 0;
    }
    unsigned n = 0;
    while (const dirent *e = readdir(d)) {
        n += std::strncmp(e->d_name, "rx-", 3) == 0 ? 1u : 0u;
    }
    closedir(d);
    return n;
}

// The MTU of network interface `iface` (SIOCGIFMTU: in this process's
// network namespace, which /sys need not show); 0 if it cannot tell.
unsigned iface_mtu(const std::string &iface) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
    const int rc = ioctl(fd, SIOCGIFMTU, &ifr);
    close(fd);
    return rc == 0 && ifr.ifr_mtu > 0 ? static_cast<unsigned>(ifr.ifr_mtu) : 0;
}

// The value of `key` in a port spec ("name,key=value,..."), the last one
// if it is given twice; nothing if it is not given.
std::optional<std::string> devarg(const std::string &spec, const std::string &key) {
    std::optional<std::string> v;
    size_t pos = spec.find(',');
    while (pos != std::string::npos) {
        const size_t next = spec.find(',', pos + 1);
        const std::string kv =
            spec.substr(pos + 1, next == std::string::npos ? next : next - pos - 1);
        if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 &&
            kv[key.size()] == '=') {
            v = kv.substr(key.size() + 1);
        }
        pos = next;
    }
    return v;
}

// What a memif port spec says of its role and its server's socket, the
// socket as /proc/net/unix shows it. DPDK 22.11's defaults: role client,
// /run/memif.sock, an abstract address ("@...").
struct MemifSpec {
    bool client = true;
    bool zero_copy = false; // the PMD ignores zero-copy=yes on a server
    std::string socket;
};
MemifSpec memif_spec_of(const std::string &spec) {
    MemifSpec m;
    const std::string path = devarg(spec, "socket").value_or("/run/memif.sock");
    m.client = devarg(spec, "role").value_or("client") != "server";
    m.zero_copy = m.client && devarg(spec, "zero-copy").value_or("no") == "yes";
    m.socket = devarg(spec, "socket-abstract").value_or("yes") != "no" ? "@" + path : path;
    return m;
}

// Where DPDK 22.11 puts its runtime directory (eal_create_runtime_dir):
// <base>/dpdk/<file-prefix>, base /var/run for root, else $XDG_RUNTIME_DIR
// or /tmp. Checked against rte_eal_get_runtime_dir() before anything is
// removed.
std::string runtime_base() {
    if (getuid() == 0) {
        return "/var/run/dpdk";
    }
    const char *xdg = std::getenv("XDG_RUNTIME_DIR");
    return std::string(xdg != nullptr ? xdg : "/tmp") + "/dpdk";
}

std::string file_prefix(const std::vector<std::string> &args) {
    std::string prefix = "rte";
    for (size_t i = 1; i < args.size(); i++) {
        if (args[i] == "--file-prefix" && i + 1 < args.size()) {
            prefix = args[++i];
        } else if (args[i].rfind("--file-prefix=", 0) == 0) {
            prefix = args[i].substr(14);
        }
    }
    return prefix;
}

bool path_exists(const std::string &path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

} // namespace

std::vector<int> process_sockets(int domain) {
    std::vector<int> fds;
    DIR *d = opendir("/proc/self/fd");
    if (d == nullptr) {
        return fds;
    }
    while (const dirent *e = readdir(d)) {
        char *end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == dirfd(d)) {
            continue;
        }
        int dom = 0;
        socklen_t len = sizeof(dom);
        if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 &&
            dom == domain) {
            fds.push_back(static_cast<int>(fd));
        }
    }
    closedir(d);
    std::sort(fds.begin(), fds.end());
    return fds;
}

std::vector<int> packet_sockets(unsigned ifindex) {
    std::vector<int> fds;
    for (const int fd : process_sockets(AF_PACKET)) {
        sockaddr_ll sll{};
        socklen_t slen = sizeof(sll);
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&sll), &slen) == 0 &&
            static_cast<unsigned>(sll.sll_ifindex) == ifindex) {
            fds.push_back(fd);
        }
    }
    return fds;
}

UnixListen unix_listening(const std::string &name) {
    const bool abstract = name.empty() || name[0] == '@';
    std::string real;
    if (!abstract) {
        char buf[PATH_MAX];
        if (realpath(name.c_str(), buf) != nullptr) {
            real = buf;
        }
    }
    std::ifstream in("/proc/net/unix");
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
        // Num RefCount Protocol Flags Type St Inode Path
        std::istringstream ls(line);
        std::string num, ref, proto, flags, type, st, inode, path;
        if (ls >> num >> ref >> proto >> flags >> type >> st >> inode >> path &&
            (path == name || (!real.empty() && path == real)) &&
            flags == "00010000") { // __SO_ACCEPTCON: listening
            return UnixListen::yes;
        }
    }
    struct stat sb {};
    if (!abstract && stat(name.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode)) {
        return UnixListen::maybe;
    }
    return UnixListen::no;
}

std::optional<uint64_t> socket_file_age_ms(const std::string &path) {
    struct stat sb {};
    timespec now{};
    if (path.empty() || path[0] == '@' || stat(path.c_str(), &sb) != 0 ||
        clock_gettime(CLOCK_REALTIME, &now) != 0) {
        return std::nullopt;
    }
    const int64_t ms = (static_cast<int64_t>(now.tv_sec) - sb.st_ctim.tv_sec) * 1000 +
                       (static_cast<int64_t>(now.tv_nsec) - sb.st_ctim.tv_nsec) / 1000000;
    return ms < 0 ? 0 : static_cast<uint64_t>(ms); // a clock set back: as new
}

Eal::Eal(std::vector<std::string> args, const Options &opts) : args_(std::move(args)) {
    // The config file's eal_args apply only when the command line gives no
    // EAL argument: command-line options override the file, and EAL refuses
    // an option given twice.
    if (args_.size() == 1) {
        for (const std::string &a : opts.eal_args) {
            args_.push_back(a);
        }
    }
    for (const std::string &spec : opts.ports) {
        if (is_pci_address(spec)) {
            args_.push_back("-a");
        } else {
            args_.push_back("--vdev");
        }
        args_.push_back(spec);
    }
    for (std::string &a : args_) {
        argv_.push_back(a.data());
    }
    argv_.push_back(nullptr);
    const std::string base = runtime_base();
    const std::string dir = base + "/" + file_prefix(args_);
    const bool base_existed = path_exists(base);
    const bool dir_existed = path_exists(dir);
    const int n = rte_eal_init(static_cast<int>(argv_.size() - 1), argv_.data());
    const int e = rte_errno;
    if (!dir_existed && dir == rte_eal_get_runtime_dir()) {
        created_dir_ = dir;
        if (!base_existed) {
            created_parent_ = base;
        }
    }
    if (n < 0) {
        std::string hint;
        switch (e) {
            case ENOMEM:
                hint = " (not enough hugepages: reserve more (`echo 512 > "
                       "/proc/sys/vm/nr_hugepages` as root) or ask for less (-m), or run without "
                       "hugepages: --no-huge -m 256 --no-shconf)";
                break;
            case EACCES:
                hint = " (no usable hugepages: none reserved (`echo 512 > "
                       "/proc/sys/vm/nr_hugepages` as root) or no hugetlbfs mounted (at "
                       "--huge-dir); run with --in-memory, which needs no mount, or without "
                       "hugepages: --no-huge -m 256 --no-shconf)";
                break;
            case EALREADY:
                hint = " (EAL already initialised)";
                break;
            case EINVAL:
                hint = " (invalid EAL argument; see the EAL message above)";
                break;
            case ENODEV: {
                std::string names;
                for (const std::string &spec : opts.ports) {
                    names += (names.empty() ? "" : ", ") + port_name(spec);
                }
                hint = fmt::format(
                    " (no DPDK driver takes a port or --vdev given, see 'Unable to parse "
                    "device' above; ports given: {}. A vdev port is a driver name and a number: "
                    "net_null0, net_pcap0, net_memif0, net_af_packet0, net_af_xdp0, net_tap0, "
                    "net_ring0; a PCI port is its address: 0000:03:00.0)",
                    names);
                break;
            }
            case ENOTSUP:
                hint = " (a --port/vdev could not be probed; check its spec)";
                break;
            default:
                break;
        }
        remove_runtime_dir();
        throw DpdkError(fmt::format("EAL initialisation failed: {}{}", rte_err(e), hint));
    }
}

Eal::~Eal() {
    rte_eal_cleanup();
    remove_runtime_dir();
}

void Eal::remove_runtime_dir() noexcept {
    if (created_dir_.empty()) {
        return;
    }
    // The EAL's files (config, mp_socket, fbarrays, telemetry socket); a
    // subdirectory, which the EAL does not make, would keep it.
    if (DIR *d = opendir(created_dir_.c_str())) {
        while (const dirent *ent = readdir(d)) {
            const std::string name = ent->d_name;
            if (name != "." && name != ".." && ent->d_type != DT_DIR) {
                unlink((created_dir_ + "/" + name).c_str());
            }
        }
        closedir(d);
    }
    rmdir(created_dir_.c_str());
    if (!created_parent_.empty()) {
        rmdir(created_parent_.c_str()); // only if empty: another prefix's directory keeps it
    }
    created_dir_.clear();
    created_parent_.clear();
}

Mempool::Mempool(const std::string &name, unsigned n, int socket, uint16_t data_room) {
    constexpr unsigned cache = 256; // per lcore
    mp_ = rte_pktmbuf_pool_create(name.c_str(), n, cache, 0, data_room, socket);
    if (mp_ == nullptr) {
        // Short of memory (ENOMEM, ENOSPC): more of it, or a smaller pool.
        // A pool too small (EINVAL: DPDK takes none of fewer mbufs than 1.5
        // times the cache) needs a larger one instead: saying "smaller"
        // then sent the operator the wrong way.
        const int err = rte_errno;
        std::string hint;
        if (err == ENOMEM || err == ENOSPC) {
            hint = " (not enough hugepage memory? add hugepages, or run with --no-huge -m MB "
                   "--no-shconf and enough MB; or give fewer --mbufs, down to what the rings "
                   "need, or a smaller --mtu for smaller mbufs)";
        } else if (n < cache * 3 / 2) {
            hint = fmt::format(" (DPDK makes no pool of fewer than {} mbufs, 1.5 times its "
                               "per-lcore cache of {}: give --mbufs {} or more)",
                               cache * 3 / 2, cache, cache * 3 / 2);
        }
        throw DpdkError(fmt::format("cannot create mbuf pool of {} mbufs of {} bytes: {}{}", n,
                                    data_room, rte_err(err), hint));
    }
}

Mempool::~Mempool() {
    rte_mempool_free(mp_);
}

Ports::Ports(const Options &opts, unsigned want_queues) {
    queues_ = static_cast<uint16_t>(want_queues);
    // The port whose queues limit the workers, if one does: more lcores do
    // not help then, and a refusal below must not advise them.
    std::string limiter;
    for (const std::string &spec : opts.ports) {
        PortInfo p;
        p.name = port_name(spec);
        if (rte_eth_dev_get_port_by_name(p.name.c_str(), &p.id) != 0) {
            std::string avail;
            uint16_t pid = 0;
            RTE_ETH_FOREACH_DEV(pid) {
                char nm[RTE_ETH_NAME_MAX_LEN];
                if (rte_eth_dev_get_name_by_port(pid, nm) == 0) {
                    avail += avail.empty() ? nm : std::string(", ") + nm;
                }
            }
            if (!is_pci_address(spec)) {
                // EAL knew the driver (else rte_eal_init fails with ENODEV),
                // which refused the spec: its message is above. memif's
                // zero-copy client maps the EAL's memory one fd per memory
                // segment list, which only --single-file-segments gives.
                const bool zc = spec.rfind("net_memif", 0) == 0 &&
                                devarg(spec, "zero-copy").value_or("no") == "yes" &&
                                rte_mcfg_get_single_file_segments() == 0;
                throw DpdkError(fmt::format(
                    "port '{}' was not created: its driver refused '{}' (see its message above: "
                    "{}) (ports DPDK found: {})",
                    p.name, spec,
                    zc ? "memif zero-copy=yes needs the EAL option --single-file-segments"
                       : "a key or value it does not take, a file or interface that is not there",
                    avail.empty() ? "none" : avail));
            }
            const char *hint =
                rte_eal_has_pci() == 0
                    ? "; the EAL runs with --no-pci: drop it for a PCI port, which must also be "
                      "bound to vfio-pci or uio_pci_generic (dpdk-devbind.py)"
                    : "; a PCI port must be bound to vfio-pci or uio_pci_generic "
                      "(dpdk-devbind.py) and the EAL must not run with --no-pci";
            throw DpdkError(fmt::format("port '{}' does not exist (ports DPDK found: {}){}", p.name,
                                        avail.empty() ? "none" : avail, hint));
        }
        rte_eth_dev_info di{};
        const int rc = rte_eth_dev_info_get(p.id, &di);
        if (rc != 0) {
            throw DpdkError(
                fmt::format("port '{}': cannot get device info: {}", p.name, rte_err(rc)));
        }
        if (std::strcmp(di.driver_name, "net_memif") == 0) {
            const MemifSpec m = memif_spec_of(spec);
            p.memif_client = m.client;
            p.memif_socket = m.client ? m.socket : "";
            p.memif_zero_copy = m.zero_copy;
        }
        p.pci = is_pci_address(spec);
        p.af_packet = std::strcmp(di.driver_name, "net_af_packet") == 0;
        if (p.af_packet) {
            // Its RX queues take mbufs of (framesz - 32) bytes at least
            // (DPDK 22.11's default framesz: 2048; the PMD refused a bad value
            // already), and the kernel cuts short what does not fit a frame
            // after its header: the packet starts 66 bytes in (TPACKET_V2's
            // 52-byte header and sockaddr_ll, aligned to 16 past the MAC
            // header; measured: framesz 9072 carries frames of 9006 bytes).
            // The PMD reports 1518-byte frames whatever framesz is: sluice
            // checks this itself, for an MTU-sized packet behind Ethernet and
            // two VLAN tags.
            const uint32_t framesz = static_cast<uint32_t>(
                std::strtoul(devarg(spec, "framesz").value_or("2048").c_str(), nullptr, 10));
            // The PMD reads frame i at i * framesz in the ring, the kernel
            // puts it at block * blocksz + k * framesz: the same only when
            // framesz divides blocksz (the PMD does not check this; with
            // framesz=9088,blocksz=16384 every frame but the first was lost).
            const uint32_t blocksz = static_cast<uint32_t>(std::strtoul(
                devarg(spec, "blocksz").value_or(std::to_string(getpagesize())).c_str(), nullptr,
                10));
            if (framesz == 0 || blocksz % framesz != 0) {
                throw DpdkError(fmt::format(
                    "port '{}' (net_af_packet): blocksz={} is not a multiple of framesz={}: the "
                    "PMD would read its frames where the kernel does not put them; give a blocksz "
                    "that is a multiple of both framesz and 4096 (e.g. framesz=10240,"
                    "blocksz=20480)",
                    p.name, blocksz, framesz));
            }
            p.min_data_room = framesz;
            if (framesz < opts.mtu + kL2Overhead + 66) {
                throw DpdkError(fmt::format(
                    "port '{}' (net_af_packet) has frames of {} bytes (framesz; 2048 unless "
                    "given), too small for an MTU of {}: the kernel would cut larger packets "
                    "short; give it framesz=N,blocksz=M with N at least the MTU + 128 and M a "
                    "multiple of both N and 4096 (e.g. framesz=10240,blocksz=20480 for an MTU "
                    "of 9000), or a smaller --mtu",
                    p.name, framesz, opts.mtu));
            }
        }
        p.af_xdp = std::strcmp(di.driver_name, "net_af_xdp") == 0;
        if (p.af_xdp) {
            p.xdp_start_queue = static_cast<unsigned>(
                std::strtoul(devarg(spec, "start_queue").value_or("0").c_str(), nullptr, 10));
        }
        if (p.af_packet || p.af_xdp) {
            p.iface = devarg(spec, "iface").value_or("");
            p.ifindex = if_nametoindex(p.iface.c_str());
        }
        if (p.af_packet && p.ifindex != 0) {
            p.packet_fds = packet_sockets(p.ifindex);
        }
        const uint16_t maxq = std::min(di.max_rx_queues, di.max_tx_queues);
        p.max_queues = maxq;
        if (maxq < queues_) {
            say("sluice-dataplane: port '{}' ({}) supports {} queue(s); using {} worker(s) "
                "instead of {}\n",
                p.name, di.driver_name, maxq, maxq, queues_);
            queues_ = maxq;
            limiter = fmt::format("'{}' ({})", p.name, di.driver_name);
        }
        rte_ether_addr a{};
        if (rte_eth_macaddr_get(p.id, &a) == 0) {
            std::memcpy(p.mac.data(), a.addr_bytes, 6);
        }
        ports_.push_back(p);
    }
    if (queues_ == 0) {
        throw DpdkError("no usable queue on the ports");
    }
    // net_af_packet opens one packet socket per queue (qpairs=N), all in one
    // PACKET_FANOUT group in hash mode (DPDK 22.11): the kernel, not the
    // PMD, spreads flows over them, also to the sockets of queues no worker
    // would read. Their packets would be lost until those rings filled.
    for (const PortInfo &p : ports_) {
        if (p.af_packet && p.max_queues > queues_) {
            const std::string fix =
                limiter.empty()
                    ? fmt::format("give qpairs={} or {} lcores", queues_, p.max_queues)
                    : fmt::format("give qpairs={} (port {} has {} queue(s) and limits the "
                                  "workers to {}: more lcores do not help)",
                                  queues_, limiter, queues_, queues_);
            throw DpdkError(fmt::format(
                "port '{}' has qpairs={} but sluice runs {} worker(s): the kernel's "
                "PACKET_FANOUT hash would give flows to the {} queue(s) no worker reads, and "
                "their packets would be lost; {}",
                p.name, p.max_queues, queues_, p.max_queues - queues_, fix));
        }
    }
    // net_af_xdp reads queues start_queue .. start_queue + n - 1 of its
    // interface, one AF_XDP socket each. The XDP program it loads passes
    // what the NIC puts on any other queue to the kernel (measured: a veth
    // with 2 RX queues, queue_count=1: 151 of 300 flows reached sluice).
    // Not an error: flow steering (ethtool -N) may keep the VIPs' traffic on
    // sluice's queues and leave the rest to the host.
    for (const PortInfo &p : ports_) {
        const unsigned nq = p.af_xdp ? iface_rx_queues(p.iface) : 0;
        if (nq > queues_) {
            // With start_queue=S > 0, fewer channels (ethtool -L) would remove
            // the very queues sluice reads: the NIC's RSS must then put
            // traffic on S.. only (ethtool -X ... start S equal N).
            const unsigned first = p.xdp_start_queue;
            const std::string fix =
                first == 0 ? fmt::format("give {} {} RX queue(s) (ethtool -L {} combined {})",
                                         p.iface, queues_, p.iface, queues_)
                           : fmt::format("spread {}'s RSS over those queues only (ethtool -X {} "
                                         "start {} equal {})",
                                         p.iface, p.iface, first, queues_);
            say("sluice-dataplane: port '{}' (net_af_xdp) reads RX queue(s) {}-{} of {}, "
                "which has {}: what the NIC puts on the other {} goes to the kernel, not "
                "to sluice (unless flow steering keeps the VIPs' traffic on sluice's "
                "queues); {}, or the port start_queue=0,queue_count={} and {} lcores\n",
                p.name, first, first + queues_ - 1, p.iface, nq, nq - queues_, fix, nq, nq);
        }
    }
}

uint32_t Ports::frame_room(uint32_t mtu) const {
    uint32_t room = std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, mtu + kL2Overhead);
    for (const PortInfo &p : ports_) {
        room = std::max(room, p.min_data_room);
    }
    return (room + 63) / 64 * 64;
}

void Ports::start(rte_mempool *mp, const Options &opts) {
    // Before the first port: when a later one fails, stop() must still stop
    // those started (rte_eth_dev_close refuses a started port, and the pool
    // would go while its RX ring holds mbufs). It stops live ports only.
    started_ = true;
    for (PortInfo &p : ports_) {
        // The af_xdp PMD opens its sockets as the port is set up (RX queue
        // setup in DPDK 22.11): the port's are those new after it.
        const std::vector<int> xdp_before = p.af_xdp ? process_sockets(AF_XDP) : std::vector<int>{};
        rte_eth_dev_info di{};
        rte_eth_dev_info_get(p.id, &di);
        rte_eth_conf conf{};
        const uint64_t rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
        if (queues_ > 1 && rss_hf != 0) {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            p.rss = true;
        } else if (queues_ > 1 && p.af_packet) {
            say("sluice-dataplane: port '{}': no RSS in the PMD; the kernel's "
                "PACKET_FANOUT hash spreads flows over its {} queues\n",
                p.name, queues_);
        } else if (queues_ > 1 && p.af_xdp) {
            // The PMD has none, but each queue is one of the NIC's RX queues,
            // over which the NIC's own RSS spreads flows.
            say("sluice-dataplane: port '{}': no RSS in the PMD; the NIC's RSS spreads "
                "flows over the RX queues {}-{} of {} that its {} XDP sockets read (its "
                "indirection table: ethtool -x {})\n",
                p.name, p.xdp_start_queue, p.xdp_start_queue + queues_ - 1, p.iface, queues_,
                p.iface);
        } else if (queues_ > 1) {
            say("sluice-dataplane: port '{}' has no RSS; {} queues will not share the load "
                "by flow\n",
                p.name, queues_);
        }
        if (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) {
            conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
        }
        int rc = rte_eth_dev_configure(p.id, queues_, queues_, &conf);
        if (rc != 0) {
            throw DpdkError(
                fmt::format("port '{}': configure {} queues: {}", p.name, queues_, rte_err(rc)));
        }
        uint16_t nrx = static_cast<uint16_t>(opts.rx_desc);
        uint16_t ntx = static_cast<uint16_t>(opts.tx_desc);
        rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &nrx, &ntx);
        const int socket = rte_eth_dev_socket_id(p.id);
        const unsigned sock = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
        for (uint16_t q = 0; q < queues_; q++) {
            rte_eth_rxconf rxc = di.default_rxconf;
            rc = rte_eth_rx_queue_setup(p.id, q, nrx, sock, &rxc, mp);
            if (rc != 0) {
                throw DpdkError(fmt::format("port '{}': RX queue {}: {}", p.name, q, rte_err(rc)));
            }
            rte_eth_txconf txc = di.default_txconf;
            txc.offloads = conf.txmode.offloads;
            rc = rte_eth_tx_queue_setup(p.id, q, ntx, sock, &txc);
            if (rc != 0) {
                throw DpdkError(fmt::format("port '{}': TX queue {}: {}", p.name, q, rte_err(rc)));
            }
        }
        p.n_rxq = queues_;
        p.n_txq = queues_;
        // MTU-sized frames. A PMD without an MTU to set (pcap, null, memif)
        // says ENOTSUP and carries what it is given. Above the frame size a
        // PMD reports, ethdev says EINVAL: a NIC would drop larger frames (an
        // error); vdevs report conservative sizes (tap 1522), so for them it
        // is a warning.
        // Not af_packet and af_xdp: their mtu_set is SIOCSIFMTU on the host's
        // interface, which the host's other users share, and nothing set it
        // back (a veth at 9000 stayed at 1500 after a run with the default
        // --mtu). Their interface's MTU is the host's to choose: sluice reads
        // it and says when larger packets cannot pass it.
        if (p.af_packet || p.af_xdp) {
            const unsigned ifmtu = iface_mtu(p.iface);
            if (ifmtu != 0 && ifmtu < opts.mtu) {
                say("sluice-dataplane: port '{}' ({}): interface {} has an MTU of {}, below "
                    "--mtu {}: larger packets are neither received nor sent there; sluice "
                    "leaves the host's MTU as it is (raise it: ip link set {} mtu {})\n",
                    p.name, di.driver_name, p.iface, ifmtu, opts.mtu, p.iface, opts.mtu);
            }
            // af_packet's frames are checked above (framesz); af_xdp's are the
            // PMD's own size: the warning below, as ethdev's EINVAL gives it.
            rc = p.af_xdp && di.max_mtu < opts.mtu ? -EINVAL : 0;
        } else {
            rc = rte_eth_dev_set_mtu(p.id, static_cast<uint16_t>(opts.mtu));
        }
        if (rc == -EINVAL && p.pci) {
            throw DpdkError(fmt::format(
                "port '{}' ({}) cannot carry an MTU of {} (frames of {} bytes at most): give a "
                "smaller --mtu",
                p.name, di.driver_name, opts.mtu, di.max_rx_pktlen));
        }
        if (rc == -EINVAL) {
            say("sluice-dataplane: port '{}' ({}) reports frames of {} bytes at most, "
                "less than the MTU of {} needs: larger ones may not arrive whole\n",
                p.name, di.driver_name, di.max_rx_pktlen, opts.mtu);
        }
        const unsigned i = static_cast<unsigned>(&p - ports_.data());
        const UnixListen listen = p.memif_client ? unix_listening(p.memif_socket) : UnixListen::yes;
        if (listen == UnixListen::no) {
            // Its server is not there (yet): the link supervisor connects.
            say("sluice-dataplane: port '{}': no memif server listens on {} yet; waiting "
                "for it\n",
                p.name, p.memif_socket);
            continue;
        }
        // A zero-copy client connects once per process: to a server whose
        // socket appeared just before (both started together) it would
        // connect at once, and a server still starting refuses the
        // handshake, which costs a restart. The link supervisor connects it
        // once the socket has settled; at once here only when its file is
        // older than that (a restarted dataplane: its server runs on). An
        // abstract socket tells no age.
        if (p.memif_zero_copy) {
            const std::optional<uint64_t> age = socket_file_age_ms(p.memif_socket);
            if (!age || *age < kZeroCopySettleMs) {
                say("sluice-dataplane: port '{}': memif server on {} {}; a zero-copy client "
                    "connects once it has listened {} ms\n",
                    p.name, p.memif_socket,
                    age ? fmt::format("listens since {} ms", *age)
                        : std::string("listens since a time it does not tell (abstract)"),
                    kZeroCopySettleMs);
                continue;
            }
        }
        rc = start_port(i);
        if (p.af_xdp) {
            const std::vector<int> after = process_sockets(AF_XDP);
            std::set_difference(after.begin(), after.end(), xdp_before.begin(), xdp_before.end(),
                                std::back_inserter(p.xdp_fds));
        }
        if (rc != 0 && p.memif_client) {
            say("sluice-dataplane: port '{}': cannot connect to the memif server on {} "
                "({}); trying again{}\n",
                p.name, p.memif_socket, rte_err(rc),
                listen == UnixListen::maybe
                    ? " every second (a socket file no server of this network namespace "
                      "listens on: one elsewhere, or a stale file)"
                    : "");
        } else if (rc != 0) {
            throw DpdkError(fmt::format("port '{}': start: {}", p.name, rte_err(rc)));
        }
    }
}

int Ports::start_port(unsigned i) {
    const PortInfo &p = ports_[i];
    const int rc = rte_eth_dev_start(p.id);
    if (rc == 0) {
        // Frames to VIPs and backends' MACs are not addressed to us at L2;
        // nor, on a second arm or with --mac, is the box's own MAC.
        const int prc = rte_eth_promiscuous_enable(p.id);
        if (prc != 0) {
            say("sluice-dataplane: port '{}': promiscuous mode refused ({}): it receives only "
                "frames to its own MAC{}\n",
                p.name, rte_err(prc),
                p.pci ? " (an SR-IOV VF needs trust on: ip link set PF vf N trust on)" : "");
        }
        live_[i].store(true, std::memory_order_release);
    }
    return rc;
}

void Ports::stop_port(unsigned i) noexcept {
    live_[i].store(false, std::memory_order_release);
    // No worker inside a burst from here on; those that start later see the
    // port not live.
    io_guard::quiesce();
    rte_eth_dev_stop(ports_[i].id);
    io_guard::resume();
}

void Ports::stop() noexcept {
    if (!started_) {
        return;
    }
    for (unsigned i = 0; i < ports_.size(); i++) {
        if (live_[i].load(std::memory_order_acquire)) {
            stop_port(i);
        }
    }
    started_ = false;
}

Ports::~Ports() {
    stop();
    for (const PortInfo &p : ports_) {
        rte_eth_dev_close(p.id);
    }
}

} // namespace sluice::dp
