/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A fast 64-bit hash of bytes, for hash tables and caches (not for security). */
#ifndef KAFKATAP_HASH_H
#define KAFKATAP_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed);

#endif
