/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Doubly linked list, kernel style: the node lives in the struct it links. */
#ifndef KAFKATAP_LIST_H
#define KAFKATAP_LIST_H

#include <stdbool.h>
#include "lib/util.h"

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

#endif
