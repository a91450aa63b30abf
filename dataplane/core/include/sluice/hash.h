/* SPDX-License-Identifier: Apache-2.0
 *
 * hash.h: the keyed flow hash, one definition for C, C++ and BPF C.
 *
 * sluice hashes flow keys with SipHash-1-3 keyed by a 128-bit per-deployment
 * seed. Why SipHash and not jhash (Katran) or a multiply-xorshift hash:
 *  - it is a keyed pseudo-random function: without the seed, nobody outside
 *    the deployment can compute which backend a crafted flow reaches, so
 *    nobody can aim a flood of flows at one backend. jhash with a 32-bit
 *    initval is neither a PRF nor hard to brute-force from observed choices.
 *  - it is cheap on short fixed inputs: the IPv4 key is two 64-bit words
 *    (3 compression rounds + 3 finalisation rounds). `scripts/bench core`
 *    measures it against jhash in the same run: see docs/BENCHMARKS.md.
 *  - it needs only 64-bit adds, rotates and xors, so the BPF program computes
 *    exactly the same value.
 *
 * The message hashed (little-endian 64-bit words, so that the result equals
 * reference SipHash-1-3 over these bytes):
 *   IPv4: src[0..3] dst[0..3] | sport dport proto family pad      (16 bytes)
 *   IPv6: src[0..15] dst[0..15] | sport dport proto family pad    (40 bytes)
 */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include "sluice/compat.h"
#include "sluice/flow_key.h"

SL_EXTERN_C_BEGIN

struct sl_hash_seed {
    uint64_t k0;
    uint64_t k1;
};
SL_STATIC_ASSERT(sizeof(struct sl_hash_seed) == 16, "hash seed is 128 bits");

SL_INLINE uint64_t sl_rotl64(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

SL_INLINE uint64_t sl_load_le64(const void *p) {
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

struct sl_sip_state {
    uint64_t v0, v1, v2, v3;
};

SL_INLINE void sl_sipround(struct sl_sip_state *s) {
    s->v0 += s->v1;
    s->v1 = sl_rotl64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = sl_rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = sl_rotl64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = sl_rotl64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = sl_rotl64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = sl_rotl64(s->v2, 32);
}

SL_INLINE struct sl_sip_state sl_sip_init(const struct sl_hash_seed *seed) {
    struct sl_sip_state s;
    s.v0 = seed->k0 ^ 0x736f6d6570736575ULL;
    s.v1 = seed->k1 ^ 0x646f72616e646f6dULL;
    s.v2 = seed->k0 ^ 0x6c7967656e657261ULL;
    s.v3 = seed->k1 ^ 0x7465646279746573ULL;
    return s;
}

/* One message word with c = 1 compression round. */
SL_INLINE void sl_sip13_word(struct sl_sip_state *s, uint64_t m) {
    s->v3 ^= m;
    sl_sipround(s);
    s->v0 ^= m;
}

/* The final block for a message of len bytes (len a multiple of 8) and the
 * d = 3 finalisation rounds. */
SL_INLINE uint64_t sl_sip13_finish(struct sl_sip_state *s, uint64_t len) {
    sl_sip13_word(s, len << 56);
    s->v2 ^= 0xff;
    sl_sipround(s);
    sl_sipround(s);
    sl_sipround(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* SipHash-1-3 of the flow key (layout in the comment at the top). */
SL_INLINE uint64_t sl_flow_hash(const struct sl_flow_key *key, const struct sl_hash_seed *seed) {
    struct sl_sip_state s = sl_sip_init(seed);
    const uint64_t tail = sl_load_le64(&key->sport);
    if (key->family == SL_AF_INET6) {
        sl_sip13_word(&s, sl_load_le64(&key->src[0]));
        sl_sip13_word(&s, sl_load_le64(&key->src[8]));
        sl_sip13_word(&s, sl_load_le64(&key->dst[0]));
        sl_sip13_word(&s, sl_load_le64(&key->dst[8]));
        sl_sip13_word(&s, tail);
        return sl_sip13_finish(&s, 40);
    }
    uint32_t src4;
    uint32_t dst4;
    __builtin_memcpy(&src4, key->src, 4);
    __builtin_memcpy(&dst4, key->dst, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    src4 = __builtin_bswap32(src4);
    dst4 = __builtin_bswap32(dst4);
#endif
    sl_sip13_word(&s, (uint64_t)src4 | ((uint64_t)dst4 << 32));
    sl_sip13_word(&s, tail);
    return sl_sip13_finish(&s, 16);
}

/* ---- jhash, the benchmark's comparison candidate (Linux's jhash2). ----
 * Not used to pick backends: kept so that `scripts/bench core` can compare
 * it with SipHash-1-3 in the same run on the same keys. */
#define SL_JHASH_INITVAL 0xdeadbeefu

SL_INLINE uint32_t sl_rol32(uint32_t w, unsigned s) {
    return (w << s) | (w >> ((32 - s) & 31));
}

#define SL_JHASH_MIX(a, b, c)                                                                      \
    do {                                                                                           \
        a -= c;                                                                                    \
        a ^= sl_rol32(c, 4);                                                                       \
        c += b;                                                                                    \
        b -= a;                                                                                    \
        b ^= sl_rol32(a, 6);                                                                       \
        a += c;                                                                                    \
        c -= b;                                                                                    \
        c ^= sl_rol32(b, 8);                                                                       \
        b += a;                                                                                    \
        a -= c;                                                                                    \
        a ^= sl_rol32(c, 16);                                                                      \
        c += b;                                                                                    \
        b -= a;                                                                                    \
        b ^= sl_rol32(a, 19);                                                                      \
        a += c;                                                                                    \
        c -= b;                                                                                    \
        c ^= sl_rol32(b, 4);                                                                       \
        b += a;                                                                                    \
    } while (0)

#define SL_JHASH_FINAL(a, b, c)                                                                    \
    do {                                                                                           \
        c ^= b;                                                                                    \
        c -= sl_rol32(b, 14);                                                                      \
        a ^= c;                                                                                    \
        a -= sl_rol32(c, 11);                                                                      \
        b ^= a;                                                                                    \
        b -= sl_rol32(a, 25);                                                                      \
        c ^= b;                                                                                    \
        c -= sl_rol32(b, 16);                                                                      \
        a ^= c;                                                                                    \
        a -= sl_rol32(c, 4);                                                                       \
        b ^= a;                                                                                    \
        b -= sl_rol32(a, 14);                                                                      \
        c ^= b;                                                                                    \
        c -= sl_rol32(b, 24);                                                                      \
    } while (0)

/* Linux jhash2(): hash an array of 32-bit words. */
SL_INLINE uint32_t sl_jhash2(const uint32_t *k, uint32_t length, uint32_t initval) {
    uint32_t a, b, c;
    a = b = c = SL_JHASH_INITVAL + (length << 2) + initval;
    while (length > 3) {
        a += k[0];
        b += k[1];
        c += k[2];
        SL_JHASH_MIX(a, b, c);
        length -= 3;
        k += 3;
    }
    switch (length) {
        case 3:
            c += k[2];
            /* fallthrough */
        case 2:
            b += k[1];
            /* fallthrough */
        case 1:
            a += k[0];
            SL_JHASH_FINAL(a, b, c);
            break;
        default:
            break;
    }
    return c;
}

/* jhash of the flow key: IPv4 over (src, dst, ports, proto/family) = 4 words,
 * IPv6 over all 10 words, as Katran hashes its flow struct. */
SL_INLINE uint32_t sl_flow_jhash(const struct sl_flow_key *key, uint32_t initval) {
    uint32_t w[10];
    __builtin_memcpy(w, key, sizeof(w));
    if (key->family == SL_AF_INET6) {
        return sl_jhash2(w, 10, initval);
    }
    const uint32_t v4[4] = {w[0], w[4], w[8], w[9]};
    return sl_jhash2(v4, 4, initval);
}

/* ---- slot = hash mod M ----
 * The slot is the low 32 bits of the hash modulo the table size M. The
 * dataplane computes it with Lemire's fastmod (one 64x64 and one 64x128
 * multiply instead of a division); the BPF program and the tools use `%`.
 * Both give the same value for every 32-bit hash and every M < 2^32. */
SL_INLINE uint32_t sl_slot_of(uint64_t hash, uint32_t table_size) {
    return (uint32_t)hash % table_size;
}

#if !defined(__bpf__)
SL_INLINE uint64_t sl_fastmod_magic(uint32_t d) {
    return UINT64_C(0xFFFFFFFFFFFFFFFF) / d + 1;
}

SL_INLINE uint32_t sl_fastmod(uint32_t a, uint64_t magic, uint32_t d) {
    const uint64_t lowbits = magic * a;
    return (uint32_t)(((unsigned __int128)lowbits * d) >> 64);
}
#endif

SL_EXTERN_C_END

#endif /* SLUICE_HASH_H */
