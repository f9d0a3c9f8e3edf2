// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kafkatap top: interval counters and latency histograms, grouped into rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "out/top_model.h"
#include "lib/addr.h"
#include "lib/hash.h"
#include "lib/htable.h"
#include "lib/list.h"

/* A cell's identity; zero-filled so that it can be hashed and memcmp'd. */
struct tm_key {
	uint8_t family;
	uint8_t _pad;
	int16_t api_key;
	int16_t cid_len;	/* -1 null */
	uint16_t port;
	uint8_t addr[16];	/* broker */
	char cid[KT_CLIENT_ID_MAX + 1];
};

struct tm_cell {
	struct hnode hn;
	struct list_head node;
	struct tm_key k;
	uint64_t seen_ns;	/* interval end when it last had an exchange */
	bool active;		/* an exchange in the current interval */
	bool closed;		/* has seen an interval close: has a row */
	struct tm_counts cur, last;
	struct tm_hist h[2];	/* current, last closed: swapped at roll */
	int hcur;
};

struct tm_model {
	struct htable ht;
	struct list_head cells;
	unsigned int n_cells;
	uint64_t idle_ns;
	uint64_t start_ns;	/* of the current interval */
	double last_s;		/* length of the last closed interval */
	struct tm_counts total;
	struct tm_row *rows;
	size_t rows_cap;
	struct tm_cell **scratch;
	size_t scratch_cap;
	struct tm_hist hist;	/* scratch for merging */
};

void tm_hist_reset(struct tm_hist *h)
{
	memset(h, 0, sizeof(*h));
}

static int hist_idx(uint64_t ns)
{
	double l;
	int i;

	if (ns < (1ULL << TM_HIST_MIN_LOG2))
		return 0;
	l = log2((double)ns) - TM_HIST_MIN_LOG2;
	i = (int)(l * TM_HIST_PER_OCTAVE);
	return i < TM_HIST_N ? i : TM_HIST_N - 1;
}

void tm_hist_add(struct tm_hist *h, uint64_t ns)
{
	if (!h->n || ns < h->min_ns)
		h->min_ns = ns;
	if (!h->n || ns > h->max_ns)
		h->max_ns = ns;
	h->b[hist_idx(ns)]++;
	h->n++;
}

void tm_hist_merge(struct tm_hist *dst, const struct tm_hist *src)
{
	int i;

	if (!src->n)
		return;
	if (!dst->n || src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (!dst->n || src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	for (i = 0; i < TM_HIST_N; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
}

uint64_t tm_hist_quantile(const struct tm_hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	double mid;
	int i;

	if (!h->n)
		return 0;
	if (q <= 0)
		return h->min_ns;
	if (q >= 1)
		return h->max_ns;
	rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < TM_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	if (i == TM_HIST_N)
		i = TM_HIST_N - 1;
	mid = exp2(TM_HIST_MIN_LOG2 + (i + 0.5) / TM_HIST_PER_OCTAVE);
	v = (uint64_t)(mid + 0.5);
	if (v < h->min_ns)
		v = h->min_ns;
	if (v > h->max_ns)
		v = h->max_ns;
	return v;
}

struct tm_model *tm_new(uint64_t now_ns, uint64_t idle_ns)
{
	struct tm_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (ht_init(&m->ht, 64)) {
		free(m);
		return NULL;
	}
	list_init(&m->cells);
	m->idle_ns = idle_ns;
	m->start_ns = now_ns;
	return m;
}

static void cell_free(struct tm_model *m, struct tm_cell *c)
{
	ht_remove(&m->ht, &c->hn);
	list_del(&c->node);
	m->n_cells--;
	free(c);
}

void tm_free(struct tm_model *m)
{
	if (!m)
		return;
	while (!list_empty(&m->cells))
		cell_free(m, list_first(&m->cells, struct tm_cell, node));
	ht_free(&m->ht);
	free(m->rows);
	free(m->scratch);
	free(m);
}

static struct tm_cell *cell_get(struct tm_model *m, const struct tm_key *k)
{
	uint64_t hash = hash_bytes(k, sizeof(*k), 0);
	struct tm_cell *c;
	struct hnode *n;

	for (n = ht_first(&m->ht, hash); n; n = ht_next(n, hash)) {
		c = container_of(n, struct tm_cell, hn);
		if (!memcmp(&c->k, k, sizeof(*k)))
			return c;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->k = *k;
	ht_insert(&m->ht, &c->hn, hash);
	list_add_tail(&c->node, &m->cells);
	m->n_cells++;
	return c;
}

static void count(struct tm_counts *t, const struct kt_exchange *x)
{
	t->requests++;
	if (x->req_size > 0)
		t->bytes_in += x->req_size;
	if (x->resp_size > 0)
		t->bytes_out += x->resp_size;
	if (x->status == KT_STATUS_OK)
		t->paired++;
	else if (x->status == KT_STATUS_NO_RESPONSE)
		t->no_response++;
	else
		t->unanswered++;
}

void tm_add(struct tm_model *m, const struct kt_exchange *x)
{
	struct tm_cell *c;
	struct tm_key k;
	int len;

	count(&m->total, x);
	memset(&k, 0, sizeof(k));
	k.family = x->conn.family;
	memcpy(k.addr, x->conn.broker_addr, x->conn.family == 4 ? 4 : 16);
	k.port = x->conn.broker_port;
	k.api_key = x->api_key;
	k.cid_len = x->client_id_len < 0 ? -1 : x->client_id_len;
	len = x->client_id_len < 0 ? 0 : x->client_id_len;
	if (len > KT_CLIENT_ID_MAX)
		len = KT_CLIENT_ID_MAX;
	memcpy(k.cid, x->client_id, len);
	c = cell_get(m, &k);
	if (!c)
		return;
	c->active = true;
	count(&c->cur, x);
	if (x->status == KT_STATUS_OK && x->resp_ts_ns >= x->req_ts_ns)
		tm_hist_add(&c->h[c->hcur], x->resp_ts_ns - x->req_ts_ns);
}

void tm_roll(struct tm_model *m, uint64_t now_ns)
{
	struct list_head *p, *next;

	m->last_s = now_ns > m->start_ns ? (now_ns - m->start_ns) / 1e9 : 0;
	m->start_ns = now_ns;
	for (p = m->cells.next; p != &m->cells; p = next) {
		struct tm_cell *c = container_of(p, struct tm_cell, node);

		next = p->next;
		if (c->active)
			c->seen_ns = now_ns;
		else if (now_ns - c->seen_ns >= m->idle_ns) {
			cell_free(m, c);
			continue;
		}
		c->active = false;
		c->closed = true;
		c->last = c->cur;
		memset(&c->cur, 0, sizeof(c->cur));
		c->hcur ^= 1;
		tm_hist_reset(&c->h[c->hcur]);
	}
}

/* Group order: broker address or client_id, then (per_api) api_key. */
struct grp {
	enum tm_view view;
	bool per_api;
};

static int key_cmp(const struct grp *g, uint8_t fam, const uint8_t *addr, uint16_t port,
		   int16_t cid_len, const char *cid, int api,
		   uint8_t fam2, const uint8_t *addr2, uint16_t port2,
		   int16_t cid_len2, const char *cid2, int api2)
{
	int r;

	if (g->view == TM_VIEW_BROKER) {
		if (fam != fam2)
			return fam < fam2 ? -1 : 1;
		r = memcmp(addr, addr2, 16);
		if (r)
			return r;
		if (port != port2)
			return port < port2 ? -1 : 1;
	} else {
		if ((cid_len < 0) != (cid_len2 < 0))
			return cid_len < 0 ? -1 : 1;
		r = strcmp(cid, cid2);
		if (r)
			return r;
	}
	if (g->per_api && api != api2)
		return api < api2 ? -1 : 1;
	return 0;
}

static int cell_cmp(const void *a, const void *b, void *arg)
{
	const struct tm_key *x = &(*(struct tm_cell * const *)a)->k;
	const struct tm_key *y = &(*(struct tm_cell * const *)b)->k;

	return key_cmp(arg, x->family, x->addr, x->port, x->cid_len, x->cid, x->api_key,
		       y->family, y->addr, y->port, y->cid_len, y->cid, y->api_key);
}

struct ord {
	struct grp g;
	enum tm_sort sort;
	bool reverse;
};

static int num_cmp(double a, double b)
{
	return a > b ? -1 : a < b ? 1 : 0;	/* highest first */
}

static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct tm_row *x = a, *y = b;
	const struct ord *o = arg;
	int r = 0;

	switch (o->sort) {
	case TM_SORT_RATE:
		r = num_cmp(x->rate, y->rate);
		break;
	case TM_SORT_P50:
		r = num_cmp(x->p50_ns, y->p50_ns);
		break;
	case TM_SORT_P99:
		r = num_cmp(x->p99_ns, y->p99_ns);
		break;
	case TM_SORT_IN:
		r = num_cmp(x->in_bps, y->in_bps);
		break;
	case TM_SORT_OUT:
		r = num_cmp(x->out_bps, y->out_bps);
		break;
	case TM_SORT_UNANS:
		r = num_cmp(x->unans_rate, y->unans_rate);
		break;
	default:
		break;
	}
	if (o->reverse)
		r = -r;
	if (r)
		return r;
	/* Name order; reversed too when sorting by name. */
	r = key_cmp(&o->g, x->family, x->addr, x->port, x->cid_len, x->cid, x->api_key,
		    y->family, y->addr, y->port, y->cid_len, y->cid, y->api_key);
	if (!r)
		r = x->api_key < y->api_key ? -1 : x->api_key > y->api_key;
	return o->sort == TM_SORT_NAME && o->reverse ? -r : r;
}

static void row_start(struct tm_row *r, const struct tm_key *k, enum tm_view view,
		      bool per_api)
{
	memset(r, 0, sizeof(*r));
	r->api_key = per_api ? k->api_key : -1;
	if (view == TM_VIEW_BROKER) {
		r->family = k->family;
		memcpy(r->addr, k->addr, 16);
		r->port = k->port;
		fmt_addr(r->name, sizeof(r->name), k->addr, k->family, k->port);
	} else {
		r->cid_len = k->cid_len;
		memcpy(r->cid, k->cid, sizeof(r->cid));
		snprintf(r->name, sizeof(r->name), "%s",
			 k->cid_len < 0 ? "(null)" : k->cid_len == 0 ? "(empty)" : k->cid);
	}
}

static void row_finish(struct tm_row *r, const struct tm_hist *h, double secs)
{
	double s = secs > 0 ? secs : 1;

	r->rate = r->c.requests / s;
	r->unans_rate = r->c.unanswered / s;
	r->in_bps = r->c.bytes_in / s;
	r->out_bps = r->c.bytes_out / s;
	r->p50_ns = tm_hist_quantile(h, 0.50);
	r->p99_ns = tm_hist_quantile(h, 0.99);
}

static void add_counts(struct tm_counts *t, const struct tm_counts *s)
{
	t->requests += s->requests;
	t->paired += s->paired;
	t->no_response += s->no_response;
	t->unanswered += s->unanswered;
	t->bytes_in += s->bytes_in;
	t->bytes_out += s->bytes_out;
}

int tm_rows(struct tm_model *m, enum tm_view view, bool per_api,
	    enum tm_sort sort, bool reverse, const struct tm_row **rows)
{
	struct ord o = { .g = { view, per_api }, .sort = sort, .reverse = reverse };
	struct list_head *p;
	size_t n = 0, i, nr = 0;

	*rows = m->rows;
	if (m->scratch_cap < m->n_cells || m->rows_cap < m->n_cells) {
		size_t cap = m->n_cells + 64;
		struct tm_cell **s = realloc(m->scratch, cap * sizeof(*s));
		struct tm_row *r;

		if (!s)
			return -1;
		m->scratch = s;
		m->scratch_cap = cap;
		r = realloc(m->rows, cap * sizeof(*r));
		if (!r)
			return -1;
		m->rows = r;
		m->rows_cap = cap;
	}
	for (p = m->cells.next; p != &m->cells; p = p->next) {
		struct tm_cell *c = container_of(p, struct tm_cell, node);

		if (c->closed)	/* not those new in the current interval */
			m->scratch[n++] = c;
	}
	if (n > 1)	/* scratch is NULL until the first cell */
		qsort_r(m->scratch, n, sizeof(*m->scratch), cell_cmp, &o.g);
	for (i = 0; i < n; i++) {
		struct tm_cell *c = m->scratch[i];
		struct tm_row *r = &m->rows[nr];

		if (i == 0 || cell_cmp(&m->scratch[i - 1], &m->scratch[i], &o.g)) {
			if (i)
				row_finish(&m->rows[nr - 1], &m->hist, m->last_s);
			r = &m->rows[nr++];
			row_start(r, &c->k, view, per_api);
			tm_hist_reset(&m->hist);
		} else {
			r = &m->rows[nr - 1];
		}
		add_counts(&r->c, &c->last);
		tm_hist_merge(&m->hist, &c->h[c->hcur ^ 1]);
	}
	if (nr)
		row_finish(&m->rows[nr - 1], &m->hist, m->last_s);
	if (nr > 1)
		qsort_r(m->rows, nr, sizeof(*m->rows), row_cmp, &o);
	*rows = m->rows;
	return (int)nr;
}

const struct tm_counts *tm_totals(const struct tm_model *m)
{
	return &m->total;
}

unsigned int tm_cells(const struct tm_model *m)
{
	return m->n_cells;
}

const char *tm_sort_name(enum tm_sort s)
{
	static const char *const names[TM_SORT_MAX] = {
		[TM_SORT_RATE] = "req/s",
		[TM_SORT_P50] = "p50",
		[TM_SORT_P99] = "p99",
		[TM_SORT_IN] = "request bytes/s",
		[TM_SORT_OUT] = "response bytes/s",
		[TM_SORT_UNANS] = "unanswered/s",
		[TM_SORT_NAME] = "name",
	};

	return s < TM_SORT_MAX ? names[s] : "?";
}
