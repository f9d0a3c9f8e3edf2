/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test helpers: build Kafka frames and Ethernet/IPv4/IPv6/TCP segments,
 * and collect the ring buffer records a program run produces.
 */
#ifndef KAFKATAP_TESTS_PKT_H
#define KAFKATAP_TESTS_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "kafkatap.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static inline void buf_put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void buf_u8(struct buf *b, uint8_t v) { buf_put(b, &v, 1); }
static inline void buf_be16(struct buf *b, uint16_t v) { v = htons(v); buf_put(b, &v, 2); }
static inline void buf_be32(struct buf *b, uint32_t v) { v = htonl(v); buf_put(b, &v, 4); }

static inline void buf_str16(struct buf *b, const char *s)
{
	if (!s) {
		buf_be16(b, 0xffff);
		return;
	}
	buf_be16(b, strlen(s));
	buf_put(b, s, strlen(s));
}

/* A request frame: size, api_key, version, correlation_id, client_id, body. */
static inline void kafka_request(struct buf *b, int16_t key, int16_t ver, int32_t corr,
				 const char *client_id, const void *body, size_t blen)
{
	size_t cid = client_id ? strlen(client_id) : 0;

	buf_be32(b, 2 + 2 + 4 + 2 + cid + blen);
	buf_be16(b, key);
	buf_be16(b, ver);
	buf_be32(b, corr);
	buf_str16(b, client_id);
	if (blen)
		buf_put(b, body, blen);
}

static inline void kafka_response(struct buf *b, int32_t corr, const void *body, size_t blen)
{
	buf_be32(b, 4 + blen);
	buf_be32(b, corr);
	if (blen)
		buf_put(b, body, blen);
}

struct tuple {
	bool v6;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

static inline struct tuple tuple4(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct tuple t = { .sport = sport, .dport = dport };

	inet_pton(AF_INET, src, t.src);
	inet_pton(AF_INET, dst, t.dst);
	return t;
}

static inline struct tuple tuple6(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct tuple t = { .v6 = true, .sport = sport, .dport = dport };

	inet_pton(AF_INET6, src, t.src);
	inet_pton(AF_INET6, dst, t.dst);
	return t;
}

static inline struct tuple tuple_rev(struct tuple t)
{
	struct tuple r = t;

	memcpy(r.src, t.dst, 16);
	memcpy(r.dst, t.src, 16);
	r.sport = t.dport;
	r.dport = t.sport;
	return r;
}

/* An Ethernet frame carrying one TCP segment. Caller frees. */
static inline size_t tcp_segment(uint8_t **out, const struct tuple *t, uint32_t seq,
				 uint8_t flags, const void *payload, size_t plen)
{
	size_t l3 = t->v6 ? 40 : 20, len = 14 + l3 + 20 + plen;
	uint8_t *f = calloc(1, len), *ip = f + 14, *tcp = ip + l3;
	uint32_t s = htonl(seq), a = htonl(1);
	uint16_t v;

	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (t->v6) {
		f[12] = 0x86;
		f[13] = 0xdd;
		ip[0] = 0x60;
		v = htons(20 + plen);
		memcpy(ip + 4, &v, 2);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, t->src, 16);
		memcpy(ip + 24, t->dst, 16);
	} else {
		f[12] = 0x08;
		ip[0] = 0x45;
		v = htons(20 + 20 + plen);
		memcpy(ip + 2, &v, 2);
		ip[6] = 0x40;
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, t->src, 4);
		memcpy(ip + 16, t->dst, 4);
	}
	v = htons(t->sport);
	memcpy(tcp, &v, 2);
	v = htons(t->dport);
	memcpy(tcp + 2, &v, 2);
	memcpy(tcp + 4, &s, 4);
	memcpy(tcp + 8, &a, 4);
	tcp[12] = 5 << 4;
	tcp[13] = flags | (flags & TCP_SYN ? 0 : TCP_ACK);
	tcp[14] = 0xff;
	if (plen)
		memcpy(tcp + 20, payload, plen);
	*out = f;
	return len;
}

/*
 * Records collected from the ring buffer: each kernel record expanded into
 * its views (user/pair/records.h) by the agent's own expander, and copied:
 * a frame view carries its connection and client_id, each run of captured
 * bytes is a data view.
 */
#include "pair/records.h"

struct rec {
	uint8_t type;
	size_t len;		/* the wire record's length */
	union {
		struct kt_ev_hdr h;
		struct kt_ev_frame fr;
		struct kt_ev_data d;
		struct kt_ev_stream s;
	} u;
	uint8_t data[KT_CHUNK_MAX];	/* a data view's bytes (u.d.data points here) */
};

struct recs {
	struct rec *v;
	size_t n, cap;
	struct kt_expander *x;
	size_t wire_len;	/* of the record being expanded */
};

static inline void recs_view(void *ctx, const union kt_ev *ev, uint64_t ts)
{
	struct recs *r = ctx;
	struct rec *x;

	if (r->n == r->cap) {
		size_t i;

		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		for (i = 0; i < r->n; i++)	/* the bytes moved with their views */
			if (r->v[i].type == KT_EV_DATA)
				r->v[i].u.d.data = r->v[i].data;
	}
	x = &r->v[r->n++];
	memset(x, 0, offsetof(struct rec, data));
	x->len = r->wire_len;
	memcpy(&x->u, ev, sizeof(x->u));
	x->type = ev->h.type;
	if (ev->h.type == KT_EV_DATA) {
		size_t n = ev->d.len < KT_CHUNK_MAX ? ev->d.len : KT_CHUNK_MAX;

		memcpy(x->data, ev->d.data, n);
		x->u.d.data = x->data;
	}
}

/* One ring buffer record. Returns what kt_expand() returned. */
static inline int recs_add(struct recs *r, const void *data, size_t len)
{
	if (!r->x)
		r->x = kt_expander_new(1 << 20);
	r->wire_len = len;
	return kt_expand(r->x, data, len, 0, recs_view, r);
}

static inline void recs_clear(struct recs *r)
{
	r->n = 0;
}

/* The TC program loaded for test runs on ports 9092 and 9093, and a feeder on it. */
#include "kernel/feed.h"
#include "kernel/loader.h"
static inline int pkt_start(struct kt_bpf *bpf, struct kt_feeder *feeder,
			    kt_record_fn on_record)
{
	struct kt_load_opts o;

	kt_load_opts_init(&o);
	o.ports[0] = 9092;
	o.ports[1] = 9093;
	o.n_ports = 2;
	o.ringbuf_bytes = 64 << 20;
	if (kt_bpf_start(bpf, &o))
		return -1;
	return kt_feeder_init(feeder, bpf, on_record, NULL);
}

#endif
