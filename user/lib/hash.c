// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "lib/hash.h"

/*
 * 8 bytes at a time, multiply and fold (the idea of wyhash/murmur's
 * mixers): keys are connection tuples and label values, hashed on every
 * record and every metric update.
 */
static inline uint64_t mix64(uint64_t a, uint64_t b)
{
	__uint128_t m = (__uint128_t)(a ^ 0xa0761d6478bd642fULL) * (b ^ 0xe7037ed1a0b428dbULL);

	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL), w;

	while (len >= 8) {
		memcpy(&w, b, 8);
		h = mix64(h, w);
		b += 8;
		len -= 8;
	}
	w = 0;
	memcpy(&w, b, len);
	return mix64(h, w ^ 0x8ebc6af09c88c6e3ULL);
}
