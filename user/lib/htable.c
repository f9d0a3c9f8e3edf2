// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "lib/htable.h"

int ht_init(struct htable *t, size_t nbuckets)
{
	size_t n = 16;

	while (n < nbuckets)
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = n;
	t->count = 0;
	return 0;
}

void ht_free(struct htable *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

static void ht_grow(struct htable *t)
{
	size_t n = t->nbuckets * 2, i;
	struct hnode **b = calloc(n, sizeof(*b));

	if (!b)
		return;		/* keep the longer chains: still correct */
	for (i = 0; i < t->nbuckets; i++) {
		struct hnode *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

void ht_insert(struct htable *t, struct hnode *n, uint64_t hash)
{
	struct hnode **b;

	if (t->count >= t->nbuckets)
		ht_grow(t);
	b = &t->buckets[hash & (t->nbuckets - 1)];
	n->hash = hash;
	n->next = *b;
	*b = n;
	t->count++;
}

void ht_remove(struct htable *t, struct hnode *n)
{
	struct hnode **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			t->count--;
			return;
		}
	}
}

struct hnode *ht_first(const struct htable *t, uint64_t hash)
{
	struct hnode *n = t->buckets[hash & (t->nbuckets - 1)];

	while (n && n->hash != hash)
		n = n->next;
	return n;
}

struct hnode *ht_next(struct hnode *n, uint64_t hash)
{
	for (n = n->next; n && n->hash != hash; n = n->next)
		;
	return n;
}
