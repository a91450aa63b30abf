/* SPDX-License-Identifier: Apache-2.0
 *
 * compat.h: what every shared sluice header needs, for the three compilers
 * that include them: C11 (the packet core), C++20 (dataplane, control,
 * tools, tests) and clang -target bpf (the XDP dataplane).
 */
#ifndef SLUICE_COMPAT_H
#define SLUICE_COMPAT_H

#if defined(__bpf__)
#include <linux/types.h>
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
typedef __s32 int32_t;
typedef __s64 int64_t;
#ifndef NULL
#define NULL ((void *)0)
#endif
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#else
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#endif

#ifdef __cplusplus
#define SL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define SL_EXTERN_C_BEGIN extern "C" {
#define SL_EXTERN_C_END }
#else
#define SL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define SL_EXTERN_C_BEGIN
#define SL_EXTERN_C_END
#endif

/* Every helper in the shared headers is static inline: BPF has no linker for
 * them, and the dataplane wants them inlined into its burst loop. */
#define SL_INLINE static inline __attribute__((always_inline))
/* A helper kept out of line: off the common case, where inlining it would
 * only grow the loops around it. */
#define SL_OUTLINE static __attribute__((noinline, unused))

#define SL_PACKED __attribute__((packed))
#define SL_CACHE_LINE 64
#define SL_ALIGNED(n) __attribute__((aligned(n)))

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define sl_htons(x) ((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define sl_htonl(x) ((uint32_t)__builtin_bswap32((uint32_t)(x)))
#else
#define sl_htons(x) ((uint16_t)(x))
#define sl_htonl(x) ((uint32_t)(x))
#endif
#define sl_ntohs(x) sl_htons(x)
#define sl_ntohl(x) sl_htonl(x)

#endif /* SLUICE_COMPAT_H */
