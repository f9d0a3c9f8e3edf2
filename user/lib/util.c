// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/util.h"

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

void fmt_addr(char *buf, size_t len, const uint8_t *addr, int family, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (family == 4) {
		inet_ntop(AF_INET, addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	}
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_double(const char *s, double min, double max, double *out)
{
	double v;
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

int parse_ports(const char *s, uint16_t *ports, int max, int have)
{
	char buf[1024], *tok, *save = NULL;
	uint64_t v;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_u64(tok, 1, 65535, &v) || have >= max)
			return -1;
		ports[have++] = (uint16_t)v;
	}
	return have;
}

uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void json_str(FILE *f, const char *s, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
