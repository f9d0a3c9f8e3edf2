/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKATAP_UTIL_H
#define KAFKATAP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "kafkatap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Doubly linked list, kernel style. */
struct list_head {
	struct list_head *next, *prev;
};

static inline void list_init(struct list_head *h)
{
	h->next = h->prev = h;
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_del(struct list_head *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define list_first(h, type, member) container_of((h)->next, type, member)

/* Intrusive chained hash table with power-of-two buckets that grows. */
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

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed);

/* "10.0.0.1:9092" or "[::1]:9092". buf needs KT_ADDR_STRLEN. */
#define KT_ADDR_STRLEN 56
void fmt_addr(char *buf, size_t len, const uint8_t *addr, int family, uint16_t port);

/* Parse helpers: return 0 or -1 with a message in err (one line). */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int parse_double(const char *s, double min, double max, double *out);
/* "9092,9093" -> ports[]. Returns count or -1. */
int parse_ports(const char *s, uint16_t *ports, int max, int have);

/* Nanoseconds on CLOCK_MONOTONIC and CLOCK_REALTIME. */
uint64_t now_mono_ns(void);
uint64_t now_real_ns(void);

/* JSON string escaping into f (bytes outside printable ASCII as \u00XX). */
void json_str(FILE *f, const char *s, size_t len);

#endif
