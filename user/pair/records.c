// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "pair/records.h"
#include "lib/hash.h"
#include "lib/htable.h"
#include "lib/list.h"
#include "lib/util.h"

/* A connection the kernel announced: what its id stands for. */
struct xconn {
	struct hnode hn;
	struct list_head lru;		/* most recently used last */
	uint64_t id;
	struct kt_conn conn;
	struct kt_conn_info info;
	int16_t cid_len;		/* -2: none sent yet */
	uint8_t closed;			/* bit per direction: FIN seen */
	char cid[KT_CLIENT_ID_MAX];
};

struct kt_expander {
	struct htable ids;
	struct list_head lru;
	uint32_t max;
	struct xconn *last;		/* records come in runs of one connection */
	struct kt_expand_stats st;
};

static uint64_t id_hash(uint64_t id)
{
	return hash_bytes(&id, sizeof(id), 7);
}

struct kt_expander *kt_expander_new(uint32_t max_conns)
{
	struct kt_expander *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	if (ht_init(&x->ids, 1024)) {
		free(x);
		return NULL;
	}
	list_init(&x->lru);
	x->max = max_conns ? max_conns : 1;
	return x;
}

static void forget(struct kt_expander *x, struct xconn *c)
{
	ht_remove(&x->ids, &c->hn);
	list_del(&c->lru);
	if (x->last == c)
		x->last = NULL;
	x->st.conns--;
	free(c);
}

void kt_expander_free(struct kt_expander *x)
{
	if (!x)
		return;
	while (!list_empty(&x->lru))
		forget(x, list_first(&x->lru, struct xconn, lru));
	ht_free(&x->ids);
	free(x);
}

const struct kt_expand_stats *kt_expander_stats(const struct kt_expander *x)
{
	return &x->st;
}

static struct xconn *find(struct kt_expander *x, uint64_t id)
{
	uint64_t h;
	struct hnode *n;

	if (x->last && x->last->id == id)
		return x->last;
	h = id_hash(id);
	for (n = ht_first(&x->ids, h); n; n = ht_next(n, h)) {
		struct xconn *c = container_of(n, struct xconn, hn);

		if (c->id == id) {
			list_del(&c->lru);
			list_add_tail(&c->lru, &x->lru);
			x->last = c;
			return c;
		}
	}
	return NULL;
}

static int on_conn(struct kt_expander *x, const struct kt_rec_conn *r)
{
	struct xconn *c = find(x, r->conn_id);

	if (!c) {
		if (x->st.conns >= x->max) {
			x->st.conn_evictions++;
			forget(x, list_first(&x->lru, struct xconn, lru));
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			return -1;
		c->id = r->conn_id;
		c->cid_len = -2;
		ht_insert(&x->ids, &c->hn, id_hash(c->id));
		list_add_tail(&c->lru, &x->lru);
		x->st.conns++;
	}
	c->conn = r->conn;
	c->info.ifindex = r->ifindex;
	c->info.cgroup[0] = r->client_cgroup;
	c->info.cgroup[1] = r->broker_cgroup;
	c->info.wire_set = r->flags & KT_CONN_WIRE_PEER;
	memcpy(c->info.wire_addr, r->wire_addr, 16);
	c->info.wire_port = r->wire_port;
	return 0;
}

static void hdr_of(struct kt_ev_hdr *h, const struct xconn *c, uint8_t type, uint8_t dir,
		   uint64_t ts)
{
	h->type = type;
	h->dir = dir;
	h->ifindex = c->info.ifindex;
	h->ts_ns = ts;
	h->conn_id = c->id;
	h->conn = c->conn;
	h->info = c->info;
}

/* The runs after a frame or data record's header: one data view each. */
static int runs(const uint8_t *p, size_t len, unsigned int n, const struct xconn *c,
		uint8_t dir, uint32_t frame_seq, uint32_t walk_info, uint64_t ts,
		kt_view_fn fn, void *ctx)
{
	union kt_ev v;
	unsigned int i;

	memset(&v, 0, sizeof(v));
	hdr_of(&v.h, c, KT_EV_DATA, dir, ts);
	v.d.frame_seq = frame_seq;
	for (i = 0; i < n; i++) {
		struct kt_run r;

		if (len < sizeof(r))
			return -1;
		memcpy(&r, p, sizeof(r));
		p += sizeof(r);
		len -= sizeof(r);
		if (len < r.len)
			return -1;
		v.d.offset = r.offset;
		v.d.len = r.len;
		v.d.flags = r.flags;
		v.d.walk_info = r.flags & KT_DF_WALK_FAILED ? walk_info : 0;
		v.d.data = p;
		fn(ctx, &v, ts);
		p += r.len;
		len -= r.len;
	}
	return 0;
}

int kt_expand(struct kt_expander *x, const void *rec, size_t len, uint64_t ts_ns,
	      kt_view_fn fn, void *ctx)
{
	const uint8_t *p = rec;
	struct xconn *c;
	union kt_ev v;

	x->st.records++;
	if (len < 8 || p[1] != KT_FORMAT_VERSION)
		goto bad;
	switch (p[0]) {
	case KT_EV_CONN:
		if (len < sizeof(struct kt_rec_conn))
			goto bad;
		return on_conn(x, rec);
	case KT_EV_CLIENT_ID: {
		const struct kt_rec_client_id *r = rec;

		if (len < sizeof(*r) || r->len < -1)
			goto bad;
		c = find(x, r->conn_id);
		if (!c)
			goto unknown;
		c->cid_len = r->len;
		memcpy(c->cid, r->client_id, KT_CLIENT_ID_MAX);
		return 0;
	}
	case KT_EV_REQUEST:
	case KT_EV_RESPONSE: {
		const struct kt_rec_frame *r = rec;
		uint8_t dir = p[0] == KT_EV_REQUEST ? KT_DIR_REQ : KT_DIR_RESP;
		uint64_t ts;

		if (len < sizeof(*r))
			goto bad;
		ts = ts_ns ? ts_ns : r->ts_ns;
		c = find(x, r->conn_id);
		if (!c)
			goto unknown;
		memset(&v, 0, sizeof(v));
		hdr_of(&v.h, c, p[0], dir, ts);
		v.fr.frame_seq = r->frame_seq;
		v.fr.size = r->size;
		v.fr.api_key = r->api_key;
		v.fr.api_version = r->api_version;
		v.fr.correlation_id = r->correlation_id;
		v.fr.acks = r->acks;
		v.fr.flags = r->flags;
		v.fr.capture_len = r->capture_len;
		v.fr.client_id_len = -1;
		if (dir == KT_DIR_REQ && c->cid_len >= -1) {
			v.fr.client_id_len = c->cid_len;
			memcpy(v.fr.client_id, c->cid, KT_CLIENT_ID_MAX);
		}
		fn(ctx, &v, ts);
		if (runs(p + sizeof(*r), len - sizeof(*r), r->nruns, c, dir, r->frame_seq,
			 r->walk_info, ts, fn, ctx))
			goto bad;
		return 0;
	}
	case KT_EV_DATA: {
		const struct kt_rec_data *r = rec;

		if (len < sizeof(*r) || r->dir > KT_DIR_RESP)
			goto bad;
		c = find(x, r->conn_id);
		if (!c)
			goto unknown;
		if (runs(p + sizeof(*r), len - sizeof(*r), r->nruns, c, r->dir, r->frame_seq,
			 r->walk_info, ts_ns, fn, ctx))
			goto bad;
		return 0;
	}
	case KT_EV_CLOSE:
	case KT_EV_GAP: {
		const struct kt_rec_stream *r = rec;
		uint64_t ts;

		if (len < sizeof(*r) || r->dir > KT_DIR_RESP)
			goto bad;
		ts = ts_ns ? ts_ns : r->ts_ns;
		c = find(x, r->conn_id);
		if (!c)
			goto unknown;
		memset(&v, 0, sizeof(v));
		hdr_of(&v.h, c, p[0], r->dir, ts);
		v.s.seq = r->seq;
		v.s.flags = r->flags;
		fn(ctx, &v, ts);
		if (p[0] == KT_EV_CLOSE) {
			/* The kernel announces it again if anything follows. */
			c->closed |= 1 << r->dir;
			if ((r->flags & KT_CF_RST) || c->closed == 3)
				forget(x, c);
		}
		return 0;
	}
	}
bad:
	x->st.bad++;
	return -1;
unknown:
	x->st.unknown_conn++;
	return -1;
}
