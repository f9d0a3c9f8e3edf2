/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Intrusive chained hash table with power-of-two buckets that grows. The
 * caller hashes (lib/hash.h) and compares keys: a node only holds its hash.
 */
#ifndef KAFKATAP_HTABLE_H
#define KAFKATAP_HTABLE_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htable {
	struct hnode **buckets;
	size_t nbuckets;	/* power of two */
	size_t count;
};

int ht_init(struct htable *t, size_t nbuckets);
void ht_free(struct htable *t);
/* Insert without checking for duplicates. */
void ht_insert(struct htable *t, struct hnode *n, uint64_t hash);
void ht_remove(struct htable *t, struct hnode *n);
/* Iterate the chain for `hash`: for (n = ht_first(..); n; n = ht_next(n, hash)) */
struct hnode *ht_first(const struct htable *t, uint64_t hash);
struct hnode *ht_next(struct hnode *n, uint64_t hash);

#endif
