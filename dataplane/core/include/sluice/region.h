/* SPDX-License-Identifier: Apache-2.0
 *
 * region.h: the shared-memory region between sluice-control (the only writer
 * of tables) and the dataplanes (readers), defined once for both sides.
 *
 * One POSIX shared-memory object per instance: /dev/shm/sluice-<instance>.
 * Either side may create it (O_CREAT, ftruncate to SL_REGION_SIZE: same size
 * from both, so a race is harmless) and either may restart.
 *
 *   [0, SL_REGION_TABLES_OFF)        struct sl_region_header  control writes
 *   [SL_REGION_TABLES_OFF, +2 copies) struct sl_tables x 2     control writes
 *   [SL_REGION_DP_OFF, end)           struct sl_dp_area        dataplane writes
 *
 * The dataplane maps the first two parts PROT_READ and only its own part
 * writable; control maps the dataplane part PROT_READ.
 *
 * Publishing (double buffer + quiescent-state based reclamation):
 *  - generation 0 means nothing published; copy g & 1 holds generation g.
 *  - control writes copy (g + 1) & 1 only once every live worker has
 *    observed_generation == g (no worker can still read that copy), then
 *    stores generation = g + 1 with release semantics.
 *  - a worker loads generation once per burst (acquire); when it changed it
 *    switches to the new copy and stores observed_generation (release) after
 *    it has finished the previous burst.
 */
#ifndef SLUICE_REGION_H
#define SLUICE_REGION_H

#include "sluice/compat.h"
#include "sluice/counters.h"
#include "sluice/flow_key.h"
#include "sluice/hash.h"

SL_EXTERN_C_BEGIN

#define SL_REGION_MAGIC 0x31454349554c5353ULL /* "SSLUICE1" */
#define SL_DP_MAGIC 0x3150444543554c53ULL     /* "SLUCEDP1" */
#define SL_REGION_ABI_VERSION 3u              /* 2: sl_dp_area.port_stats; 3: packed tables */

#define SL_MAX_SERVICES 1024
#define SL_MAX_BACKENDS 4096 /* backend ids fit a uint16_t table entry */
#define SL_MAX_WORKERS 32
#define SL_MAX_PORTS 8
#define SL_SERVICE_INDEX_SIZE 4096 /* power of two, > 2 x (services + fragment owners) */
#define SL_TABLE_ARENA_ENTRIES (32u * 1024u * 1024u)
#define SL_MAX_TABLE_SIZE 4194301u /* largest table size accepted (a prime) */
#define SL_DEFAULT_TABLE_SIZE 65537u
#define SL_PAGE 4096u
#define SL_ROUND_PAGE(x) ((((x) + SL_PAGE - 1) / SL_PAGE) * SL_PAGE)

enum sl_fwd_mode {
    SL_FWD_DSR_L2 = 0, /* destination MAC := backend MAC */
    SL_FWD_IPIP = 1,   /* IPv4-in-IPv4, IPv6-in-IPv6, IPv4-in-IPv6: by backend family */
    SL_FWD_GUE = 2,    /* GUE over UDP, decapsulated by Linux fou/gue */
    SL_FWD_MODE_COUNT
};

/* How an index entry matches. */
enum sl_match {
    SL_MATCH_PORT = 0,     /* (vip, port, proto) */
    SL_MATCH_ANY_PORT = 1, /* (vip, *, proto): a service on all ports */
    SL_MATCH_FRAGMENT = 2, /* the service that receives the VIP's fragments of proto */
};

#define SL_SVC_ACTIVE 0x01
#define SL_BACKEND_ACTIVE 0x01

struct sl_service {
    uint8_t vip[16];        /* IPv4 in the first 4 bytes */
    uint16_t port;          /* network byte order; 0 with SL_MATCH_ANY_PORT */
    uint8_t proto;          /* SL_IPPROTO_TCP / _UDP */
    uint8_t family;         /* SL_AF_INET / SL_AF_INET6 */
    uint8_t hash_mode;      /* enum sl_hash_mode */
    uint8_t fwd_mode;       /* enum sl_fwd_mode */
    uint8_t flags;          /* SL_SVC_* */
    uint8_t entry_bits;     /* the table's form: 0 raw, 1/2/4/8 packed (below) */
    uint32_t table_offset;  /* the table's first arena word */
    uint32_t table_size;    /* M, prime; 0 = no table (no backend) */
    uint64_t table_fastmod; /* sl_fastmod_magic(table_size) */
    uint16_t gue_port;      /* network byte order: destination port of GUE */
    uint16_t n_backends;    /* backends that own slots */
    uint32_t list_offset;   /* packed: the backend list's first arena word */
    uint64_t pad2[2];
};
SL_STATIC_ASSERT(sizeof(struct sl_service) == 64, "service record is one cache line");
SL_STATIC_ASSERT(offsetof(struct sl_service, table_offset) == 24, "service: table_offset");
SL_STATIC_ASSERT(offsetof(struct sl_service, table_fastmod) == 32, "service: fastmod");

/* A service's Maglev table of M = table_size slots lives in the arena in one
 * of two forms, by entry_bits:
 *  - 0, raw: arena[table_offset + s] is slot s's backend id.
 *  - 1, 2, 4 or 8, packed, for a table of at most 2^entry_bits distinct
 *    backends: slot s holds an entry_bits-wide index into the service's
 *    backend list, the bits from s * entry_bits on of the words from
 *    arena[table_offset] on (bit 0: a word's least significant bit; an entry
 *    never spans two words); the list is arena[list_offset + i], i <
 *    2^entry_bits, a backend id or SL_NO_BACKEND.
 * Packed, the 1021 slots of a service of 4 backends take 128 words (and a
 * list of 4) instead of 1021: 1024 such services read 264 KB of tables
 * instead of 2 MB, which a core's L2 holds. */
#define SL_NO_BACKEND 0xFFFFu

/* Whether this reader knows the table form entry_bits. */
SL_INLINE int sl_entry_bits_valid(uint8_t entry_bits) {
    return entry_bits == 0 || entry_bits == 1 || entry_bits == 2 || entry_bits == 4 ||
           entry_bits == 8;
}

/* log2 of an entry's width in bits for a valid entry_bits: 4 (16 bits) for
 * a raw table, 0-3 for a packed one. */
SL_INLINE uint32_t sl_entry_lg(uint8_t entry_bits) {
    return (uint32_t)__builtin_ctz((unsigned)entry_bits | 16u);
}

/* The arena words a table of m slots takes in the form of entry_bits
 * (without its list). */
SL_INLINE uint64_t sl_table_words(uint32_t m, uint8_t entry_bits) {
    const uint32_t lg = sl_entry_lg(entry_bits);
    return ((uint64_t)m << lg >> 4) + ((((uint64_t)m << lg) & 15u) != 0);
}

/* Whether svc's table (and list, when packed) lies within the arena, in a
 * form this reader knows. */
SL_INLINE int sl_table_in_arena(const struct sl_service *svc) {
    if (!sl_entry_bits_valid(svc->entry_bits) || svc->table_offset >= SL_TABLE_ARENA_ENTRIES ||
        sl_table_words(svc->table_size, svc->entry_bits) >
            SL_TABLE_ARENA_ENTRIES - svc->table_offset) {
        return 0;
    }
    return svc->entry_bits == 0 ||
           (svc->list_offset < SL_TABLE_ARENA_ENTRIES &&
            (1u << svc->entry_bits) <= SL_TABLE_ARENA_ENTRIES - svc->list_offset);
}

struct sl_backend {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    uint8_t family;
    uint8_t flags; /* SL_BACKEND_* */
    uint8_t mac[6];
    uint16_t service_id;
    uint16_t pad0;
    uint32_t pad1;
};
SL_STATIC_ASSERT(sizeof(struct sl_backend) == 32, "backend record is 32 bytes");

struct sl_index_entry {
    uint8_t vip[16];
    uint16_t port; /* network byte order */
    uint8_t proto;
    uint8_t family;
    uint8_t match; /* enum sl_match */
    uint8_t used;  /* 0 = empty slot: probing stops here */
    uint16_t service_id;
};
SL_STATIC_ASSERT(sizeof(struct sl_index_entry) == 24, "index entry is 24 bytes");

/* One table copy: everything a dataplane needs to forward. */
struct sl_tables {
    uint64_t generation;
    struct sl_hash_seed seed;
    uint32_t n_services; /* highest used service id + 1 */
    uint32_t n_backends; /* highest used backend id + 1 */
    uint8_t pad[32];
    struct sl_index_entry index[SL_SERVICE_INDEX_SIZE];
    struct sl_service services[SL_MAX_SERVICES]; /* by stable service id */
    struct sl_backend backends[SL_MAX_BACKENDS]; /* by stable backend id */
    uint16_t arena[SL_TABLE_ARENA_ENTRIES];      /* Maglev tables and backend lists */
};
SL_STATIC_ASSERT(offsetof(struct sl_tables, index) == 64, "tables: index at 64");
SL_STATIC_ASSERT(offsetof(struct sl_tables, services) % 64 == 0, "tables: services aligned");

struct sl_region_header {
    uint64_t magic; /* SL_REGION_MAGIC, written last at initialisation */
    uint32_t abi_version;
    uint32_t header_size;
    uint64_t region_size;
    uint64_t tables_offset;
    uint64_t tables_size; /* of one copy */
    uint64_t dp_offset;
    int32_t control_pid;
    uint32_t pad0;
    uint64_t pad1;
    uint64_t generation SL_ALIGNED(SL_CACHE_LINE); /* published generation */
    uint64_t publish_ns;                           /* CLOCK_MONOTONIC of the last publish */
};
SL_STATIC_ASSERT(offsetof(struct sl_region_header, generation) == 64, "header: generation");

enum sl_worker_run {
    SL_WORKER_FREE = 0,
    SL_WORKER_RUNNING = 1,
    SL_WORKER_STOPPED = 2,
};

/* Written by one worker, one cache line each. */
struct sl_worker_state {
    uint64_t observed_generation;
    uint64_t heartbeat_ns; /* CLOCK_MONOTONIC, refreshed every few ms */
    int32_t pid;
    uint32_t lcore;
    uint32_t run; /* enum sl_worker_run */
    uint32_t pad0;
    /* The worker's loop in TSC cycles since it started, stored with the
     * heartbeat: all of it, and the part spent on polls that brought
     * packets (busy). A poll-mode core always shows 100% CPU; busy / loop
     * over an interval is how much of it the traffic used. */
    uint64_t loop_tsc;
    uint64_t busy_tsc;
    uint64_t tsc_hz;
    uint64_t pad1;
} SL_ALIGNED(SL_CACHE_LINE);
SL_STATIC_ASSERT(sizeof(struct sl_worker_state) == 64, "worker state is one cache line");

struct sl_pkt_bytes {
    uint64_t packets;
    uint64_t bytes;
};

struct sl_port_counters {
    struct sl_pkt_bytes rx;
    struct sl_pkt_bytes tx;
};

/* Written by one worker with plain stores; read relaxed by control/CLI. */
struct sl_worker_counters {
    uint64_t drops[SL_DROP_COUNT];
    uint64_t arp_replies;
    uint64_t nd_replies;
    uint64_t echo_replies;
    uint64_t icmp_too_big_sent;
    struct sl_port_counters ports[SL_MAX_PORTS];
    struct sl_pkt_bytes services[SL_MAX_SERVICES];
    struct sl_pkt_bytes backends[SL_MAX_BACKENDS];
} SL_ALIGNED(SL_CACHE_LINE);

/* A port's own counters: what its driver (rte_eth_stats) and the kernel
 * (the ring drops that the af_packet and af_xdp PMDs do not report) lost
 * before sluice saw a frame or after sluice handed one on; sluice's own
 * counters cannot see these. Running totals since the dataplane started,
 * stored (plain, relaxed) by its link supervisor thread about every 200 ms;
 * 0 where the driver does not count. */
struct sl_port_stats {
    char name[24];       /* the DPDK port's name, NUL-terminated (cut to 23) */
    uint64_t rx_missed;  /* dropped before sluice: imissed + the kernel's RX ring drops */
    uint64_t rx_errors;  /* ierrors */
    uint64_t rx_nombuf;  /* frames that found no mbuf */
    uint64_t tx_errors;  /* oerrors */
    uint64_t updated_ns; /* CLOCK_MONOTONIC of the last store; 0: none yet */
};
SL_STATIC_ASSERT(sizeof(struct sl_port_stats) == 64, "port stats are one cache line");

struct sl_dp_area {
    uint64_t magic; /* SL_DP_MAGIC once a dataplane has initialised it */
    uint32_t abi_version;
    int32_t pid;
    uint32_t n_workers;
    uint32_t n_ports;
    uint64_t start_ns;
    uint8_t kind; /* 'd' DPDK, 'x' XDP */
    uint8_t pad[31];
    struct sl_worker_state workers[SL_MAX_WORKERS];
    struct sl_worker_counters counters[SL_MAX_WORKERS];
    struct sl_port_stats port_stats[SL_MAX_PORTS]; /* [n_ports) */
};
SL_STATIC_ASSERT(offsetof(struct sl_dp_area, workers) == 64, "dp area: workers at 64");

#define SL_REGION_TABLES_OFF ((uint64_t)SL_ROUND_PAGE(sizeof(struct sl_region_header)))
#define SL_REGION_TABLES_SIZE ((uint64_t)SL_ROUND_PAGE(sizeof(struct sl_tables)))
#define SL_REGION_DP_OFF (SL_REGION_TABLES_OFF + 2 * SL_REGION_TABLES_SIZE)
#define SL_REGION_SIZE (SL_REGION_DP_OFF + (uint64_t)SL_ROUND_PAGE(sizeof(struct sl_dp_area)))

/* The index slot where probing for (family, vip, port, proto, match) starts,
 * the VIP given as its two little-endian 64-bit words (a: bytes 0-7, b: 8-15;
 * an IPv4 VIP is a = its 4 bytes, b = 0). */
SL_INLINE uint32_t sl_index_hash_words(uint8_t family, uint64_t a, uint64_t b, uint16_t port,
                                       uint8_t proto, uint8_t match) {
    uint64_t h = (a ^ sl_rotl64(b, 29)) +
                 ((uint64_t)port << 24 | (uint64_t)proto << 8 | (uint64_t)match << 4 | family);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (uint32_t)h & (SL_SERVICE_INDEX_SIZE - 1);
}

SL_INLINE uint32_t sl_index_hash(uint8_t family, const uint8_t *vip, uint16_t port, uint8_t proto,
                                 uint8_t match) {
    return sl_index_hash_words(family, sl_load_le64(vip), sl_load_le64(vip + 8), port, proto,
                               match);
}

/* The service id for (family, VIP words a/b as in sl_index_hash_words, port,
 * proto, match), or -1. Linear probing; control keeps the index at most half
 * full, so an empty slot ends a miss. Callers that have the VIP in registers
 * (the burst path) pass the words and need not store it first. */
SL_INLINE int sl_index_find_words(const struct sl_tables *t, uint8_t family, uint64_t a, uint64_t b,
                                  uint16_t port, uint8_t proto, uint8_t match) {
    uint32_t i = sl_index_hash_words(family, a, b, port, proto, match);
    for (uint32_t n = 0; n < SL_SERVICE_INDEX_SIZE; n++) {
        const struct sl_index_entry *e = &t->index[i];
        if (!e->used) {
            return -1;
        }
        if (e->port == port && e->proto == proto && e->family == family && e->match == match &&
            sl_load_le64(e->vip) == a && sl_load_le64(e->vip + 8) == b) {
            return e->service_id;
        }
        i = (i + 1) & (SL_SERVICE_INDEX_SIZE - 1);
    }
    return -1;
}

/* The same with the VIP as 16 bytes in memory. */
SL_INLINE int sl_index_find(const struct sl_tables *t, uint8_t family, const uint8_t *vip,
                            uint16_t port, uint8_t proto, uint8_t match) {
    return sl_index_find_words(t, family, sl_load_le64(vip), sl_load_le64(vip + 8), port, proto,
                               match);
}

#if !defined(__bpf__)
/* The writer's side of the index (control, the test publisher, the tests):
 * puts (family, vip, port, proto, match) -> sid into the first free slot
 * from its hash on, where sl_index_find probes for it. Returns -1 when the
 * index is full (control keeps it at most half full). */
SL_INLINE int sl_index_insert(struct sl_tables *t, uint8_t family, const uint8_t *vip,
                              uint16_t port, uint8_t proto, uint8_t match, uint16_t sid) {
    uint32_t i = sl_index_hash(family, vip, port, proto, match);
    for (uint32_t n = 0; n < SL_SERVICE_INDEX_SIZE; n++) {
        struct sl_index_entry *e = &t->index[i];
        if (!e->used) {
            __builtin_memcpy(e->vip, vip, 16);
            e->port = port;
            e->proto = proto;
            e->family = family;
            e->match = match;
            e->service_id = sid;
            e->used = 1;
            return 0;
        }
        i = (i + 1) & (SL_SERVICE_INDEX_SIZE - 1);
    }
    return -1;
}

/* ---- the reader side, shared by every dataplane worker and the tests ----
 * Call once per burst. Returns the tables to use for this burst (NULL while
 * nothing is published) and records the quiescent state: by calling this the
 * worker declares it no longer uses the copy of any earlier generation. */
SL_INLINE const struct sl_tables *sl_reader_begin_burst(const struct sl_region_header *hdr,
                                                        const uint8_t *region_base,
                                                        struct sl_worker_state *ws,
                                                        uint64_t *seen_generation) {
    const uint64_t g = __atomic_load_n(&hdr->generation, __ATOMIC_ACQUIRE);
    if (g != *seen_generation) {
        *seen_generation = g;
        __atomic_store_n(&ws->observed_generation, g, __ATOMIC_RELEASE);
    }
    if (g == 0) {
        return NULL;
    }
    return (const struct sl_tables *)(const void *)(region_base + SL_REGION_TABLES_OFF +
                                                    (g & 1) * SL_REGION_TABLES_SIZE);
}
#endif

SL_EXTERN_C_END

#endif /* SLUICE_REGION_H */
