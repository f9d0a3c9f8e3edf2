// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "pair/agent.h"
#include "lib/hash.h"
#include "lib/htable.h"
#include "lib/list.h"

struct assembly {
	bool active;
	uint32_t frame_seq;
	struct kt_capture *cap;		/* in a pending exchange */
};

struct conn {
	struct hnode hn;
	struct kt_conn key;
	struct list_head lru;		/* agent->conns_lru, most recent last */
	struct list_head pending;	/* struct pending, in request order */
	struct assembly asm_[2];	/* per enum kt_dir */
	struct pending *resp_wait;	/* answered, waiting for its capture */
	struct list_head close_link;	/* agent->closing, once closing */
	uint64_t close_deadline;
	bool closing;
};

struct pending {
	struct hnode hn;		/* key: (conn, correlation_id) */
	struct list_head conn_link;
	struct list_head age_link;	/* agent->age or agent->age_acks0 */
	struct conn *c;
	uint64_t deadline;
	uint32_t frame_seq;
	bool no_resp_expected;
	struct kt_exchange x;
};

struct kt_agent {
	struct kt_agent_cfg cfg;
	kt_exchange_fn on_exchange;
	kt_conn_fn on_conn;
	void *ctx;
	struct htable conns;
	struct htable pend;
	struct list_head conns_lru;
	struct list_head age;		/* pending that expect a response */
	struct list_head age_acks0;	/* pending acks=0 Produce */
	struct list_head resp_waits;	/* answered, waiting for capture chunks */
	struct conn *last;		/* the connection of the previous record */
	struct list_head closing;	/* connections closed, kept a moment */
	struct kt_expander *x;		/* kernel records -> views */
	struct kt_agent_stats st;
};

const char *kt_status_name(enum kt_status s)
{
	switch (s) {
	case KT_STATUS_OK: return "ok";
	case KT_STATUS_NO_RESPONSE: return "no_response";
	case KT_STATUS_UNANSWERED: return "unanswered";
	}
	return "?";
}

const char *kt_reason_name(enum kt_reason r)
{
	switch (r) {
	case KT_REASON_NONE: return "none";
	case KT_REASON_EXPIRED: return "expired";
	case KT_REASON_CLOSED: return "closed";
	case KT_REASON_EVICTED: return "evicted";
	case KT_REASON_EXIT: return "exit";
	}
	return "?";
}

static uint64_t conn_hash(const struct kt_conn *k)
{
	return hash_bytes(k, sizeof(*k), 0);
}

static uint64_t pend_hash(const struct conn *c, int32_t corr)
{
	struct { const void *c; int32_t corr; } k;

	memset(&k, 0, sizeof(k));
	k.c = c;
	k.corr = corr;
	return hash_bytes(&k, sizeof(k), 1);
}

struct kt_agent *kt_agent_new(const struct kt_agent_cfg *cfg,
			      kt_exchange_fn on_exchange, void *ctx)
{
	struct kt_agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = *cfg;
	if (!a->cfg.max_pending)
		a->cfg.max_pending = 1;
	if (!a->cfg.max_conns)
		a->cfg.max_conns = 1;
	a->on_exchange = on_exchange;
	a->ctx = ctx;
	a->x = kt_expander_new(cfg->max_conn_ids ? cfg->max_conn_ids : 65536);
	if (!a->x || ht_init(&a->conns, 1024) || ht_init(&a->pend, 1024)) {
		ht_free(&a->conns);
		kt_expander_free(a->x);
		free(a);
		return NULL;
	}
	list_init(&a->conns_lru);
	list_init(&a->age);
	list_init(&a->age_acks0);
	list_init(&a->resp_waits);
	list_init(&a->closing);
	return a;
}

void kt_agent_set_conn_cb(struct kt_agent *a, kt_conn_fn fn)
{
	a->on_conn = fn;
}

static void capture_free(struct kt_capture *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static void capture_start(struct kt_agent *a, struct conn *c, int dir,
			  struct kt_capture *cap, uint32_t frame_seq, uint32_t want,
			  bool structure)
{
	struct assembly *as = &c->asm_[dir];

	capture_free(cap);
	if (!want)
		return;		/* (a late frame's: another capture may be under way) */
	as->active = false;
	if (!structure && want > a->cfg.max_capture) {
		want = a->cfg.max_capture;
		cap->truncated = true;	/* kept less than the kernel sends */
	}
	/* Grown as chunks come: a STRUCTURE capture of a 1 MB frame is small. */
	cap->alloc = want < 4096 ? want : 4096;
	cap->buf = malloc(cap->alloc);
	if (!cap->buf) {
		a->st.alloc_failures++;
		return;
	}
	cap->want = want;
	cap->structure = structure;
	as->active = true;
	as->frame_seq = frame_seq;
	as->cap = cap;
}

/* The assembly stops: whatever arrived is what the exchange gets. */
static void capture_stop(struct kt_agent *a, struct conn *c, int dir)
{
	struct assembly *as = &c->asm_[dir];

	if (!as->active)
		return;
	if (as->cap->structure)
		as->cap->complete = as->cap->last_seen && !as->cap->walk_failed;
	else
		as->cap->complete = as->cap->len == as->cap->want && as->cap->want;
	if (!as->cap->complete)
		a->st.capture_incomplete++;
	as->active = false;
	as->cap = NULL;
}

/* Done with an exchange: hand it out, free it. */
static void finish(struct kt_agent *a, struct pending *p, enum kt_status s,
		   enum kt_reason r)
{
	struct conn *c = p->c;

	if (c->asm_[KT_DIR_REQ].active && c->asm_[KT_DIR_REQ].cap == &p->x.req_cap)
		capture_stop(a, c, KT_DIR_REQ);
	if (c->asm_[KT_DIR_RESP].active && c->asm_[KT_DIR_RESP].cap == &p->x.resp_cap)
		capture_stop(a, c, KT_DIR_RESP);
	if (c->resp_wait == p) {
		c->resp_wait = NULL;
		list_del(&p->age_link);
	}
	p->x.status = s;
	p->x.reason = r;
	if (s == KT_STATUS_OK)
		a->st.paired++;
	else if (s == KT_STATUS_NO_RESPONSE)
		a->st.no_response++;
	else
		a->st.unanswered[r]++;
	if (a->on_exchange)
		a->on_exchange(a->ctx, &p->x);
	capture_free(&p->x.req_cap);
	capture_free(&p->x.resp_cap);
	free(p);
}

/* Take a pending request out of the tables (it is answered or given up). */
static void pending_unlink(struct kt_agent *a, struct pending *p)
{
	ht_remove(&a->pend, &p->hn);
	list_del(&p->conn_link);
	list_del(&p->age_link);
	a->st.pending--;
}

static void give_up(struct kt_agent *a, struct pending *p, enum kt_reason r)
{
	pending_unlink(a, p);
	if (p->no_resp_expected)
		finish(a, p, KT_STATUS_NO_RESPONSE, KT_REASON_NONE);
	else
		finish(a, p, KT_STATUS_UNANSWERED, r);
}

static void conn_drop(struct kt_agent *a, struct conn *c, enum kt_reason r)
{
	if (c->resp_wait) {
		capture_stop(a, c, KT_DIR_RESP);
		finish(a, c->resp_wait, KT_STATUS_OK, KT_REASON_NONE);
	}
	while (!list_empty(&c->pending))
		give_up(a, list_first(&c->pending, struct pending, conn_link), r);
	capture_stop(a, c, KT_DIR_REQ);
	capture_stop(a, c, KT_DIR_RESP);
	ht_remove(&a->conns, &c->hn);
	list_del(&c->lru);
	if (a->last == c)
		a->last = NULL;
	if (c->closing)
		list_del(&c->close_link);
	a->st.connections--;
	if (a->on_conn)
		a->on_conn(a->ctx, &c->key, false);
	free(c);
}

static struct conn *conn_find(struct kt_agent *a, const struct kt_conn *k)
{
	uint64_t h;
	struct hnode *n;

	/* Records come in runs of one connection (a frame and its chunks). */
	if (a->last && !memcmp(&a->last->key, k, sizeof(*k)))
		return a->last;
	h = conn_hash(k);
	for (n = ht_first(&a->conns, h); n; n = ht_next(n, h)) {
		struct conn *c = container_of(n, struct conn, hn);

		if (!memcmp(&c->key, k, sizeof(*k))) {
			a->last = c;
			return c;
		}
	}
	return NULL;
}

static struct conn *conn_get(struct kt_agent *a, const struct kt_conn *k)
{
	struct conn *c = conn_find(a, k);

	if (c) {
		/* Most recently active last: eviction takes the quietest. */
		list_del(&c->lru);
		list_add_tail(&c->lru, &a->conns_lru);
		return c;
	}
	if (a->st.connections >= a->cfg.max_conns) {
		a->st.conn_evictions++;
		conn_drop(a, list_first(&a->conns_lru, struct conn, lru), KT_REASON_EVICTED);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		a->st.alloc_failures++;
		return NULL;
	}
	c->key = *k;
	list_init(&c->pending);
	list_init(&c->close_link);
	list_add_tail(&c->lru, &a->conns_lru);
	ht_insert(&a->conns, &c->hn, conn_hash(k));
	a->st.connections++;
	if (a->on_conn)
		a->on_conn(a->ctx, k, true);
	return c;
}

static struct pending *pending_find_h(struct kt_agent *a, struct conn *c, int32_t corr,
				      uint64_t h)
{
	struct hnode *n;

	for (n = ht_first(&a->pend, h); n; n = ht_next(n, h)) {
		struct pending *p = container_of(n, struct pending, hn);

		if (p->c == c && p->x.correlation_id == corr)
			return p;
	}
	return NULL;
}

static struct pending *pending_find(struct kt_agent *a, struct conn *c, int32_t corr)
{
	return pending_find_h(a, c, corr, pend_hash(c, corr));
}

static struct pending *oldest_pending(struct kt_agent *a)
{
	struct pending *p1 = NULL, *p2 = NULL;

	if (!list_empty(&a->age))
		p1 = list_first(&a->age, struct pending, age_link);
	if (!list_empty(&a->age_acks0))
		p2 = list_first(&a->age_acks0, struct pending, age_link);
	if (!p1)
		return p2;
	if (!p2)
		return p1;
	return p1->x.req_ts_ns <= p2->x.req_ts_ns ? p1 : p2;
}

static void on_request(struct kt_agent *a, const struct kt_ev_frame *ev, uint64_t ts)
{
	struct conn *c;
	struct pending *p;
	uint64_t ph;
	size_t n;

	a->st.requests++;
	c = conn_get(a, &ev->h.conn);
	if (!c)
		return;
	/* A new request frame ends the previous one's capture; a late one,
	 * from before it, does not. */
	if (!(ev->flags & KT_FF_LATE))
		capture_stop(a, c, KT_DIR_REQ);
	ph = pend_hash(c, ev->correlation_id);
	p = pending_find_h(a, c, ev->correlation_id, ph);
	if (p && p->frame_seq == ev->frame_seq) {
		/* The same frame reported again (a retransmission): keep the first. */
		a->st.duplicate_requests++;
		return;
	}
	if (p) {
		/* Same id twice on one connection: the older can no longer be paired. */
		a->st.duplicate_requests++;
		give_up(a, p, KT_REASON_EVICTED);
	}
	if (a->st.pending >= a->cfg.max_pending) {
		a->st.pending_evictions++;
		give_up(a, oldest_pending(a), KT_REASON_EVICTED);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		a->st.alloc_failures++;
		return;
	}
	p->c = c;
	p->frame_seq = ev->frame_seq;
	p->x.conn = ev->h.conn;
	p->x.ifindex = ev->h.ifindex;
	p->x.info = ev->h.info;
	p->x.req_ts_ns = ts;
	p->x.api_key = ev->api_key;
	p->x.api_version = ev->api_version;
	p->x.correlation_id = ev->correlation_id;
	p->x.req_size = ev->size;
	p->x.resp_size = -1;
	p->x.acks_known = ev->flags & KT_FF_ACKS_KNOWN;
	p->x.acks = ev->acks;
	p->x.resynced = ev->flags & KT_FF_RESYNC;
	p->x.late = ev->flags & KT_FF_LATE;
	p->x.client_id_len = ev->client_id_len;
	n = ev->client_id_len > 0 ? (size_t)ev->client_id_len : 0;
	if (n > KT_CLIENT_ID_MAX)
		n = KT_CLIENT_ID_MAX;
	memcpy(p->x.client_id, ev->client_id, n);
	p->x.client_id[n] = 0;
	p->no_resp_expected = ev->api_key == KT_API_PRODUCE && p->x.acks_known &&
			      ev->acks == 0;
	if (p->no_resp_expected) {
		p->deadline = ts + a->cfg.acks0_grace_ns;
		list_add_tail(&p->age_link, &a->age_acks0);
	} else {
		p->deadline = ts + a->cfg.expiry_ns;
		list_add_tail(&p->age_link, &a->age);
	}
	list_add_tail(&p->conn_link, &c->pending);
	ht_insert(&a->pend, &p->hn, ph);
	a->st.pending++;
	/* A late frame never has a capture (the kernel sends none): ignore one. */
	capture_start(a, c, KT_DIR_REQ, &p->x.req_cap, ev->frame_seq,
		      ev->flags & KT_FF_LATE ? 0 : ev->capture_len,
		      ev->flags & KT_FF_STRUCTURE);
}

static void on_response(struct kt_agent *a, const struct kt_ev_frame *ev, uint64_t ts)
{
	struct pending *p;
	struct conn *c;

	a->st.responses++;
	c = conn_find(a, &ev->h.conn);
	if (c) {
		list_del(&c->lru);
		list_add_tail(&c->lru, &a->conns_lru);
		if (c->resp_wait && !(ev->flags & KT_FF_LATE)) {
			/* The next response began: the previous capture ends here. */
			capture_stop(a, c, KT_DIR_RESP);
			finish(a, c->resp_wait, KT_STATUS_OK, KT_REASON_NONE);
		}
	}
	p = c ? pending_find(a, c, ev->correlation_id) : NULL;
	if (!p) {
		a->st.unmatched_responses++;
		if (c && !(ev->flags & KT_FF_LATE))
			c->asm_[KT_DIR_RESP].active = false;
		return;
	}
	/*
	 * Responses come back in request order on a connection: acks=0
	 * requests sent before this one will get none.
	 */
	while (!list_empty(&c->pending)) {
		struct pending *q = list_first(&c->pending, struct pending, conn_link);

		if (q == p || !q->no_resp_expected)
			break;
		give_up(a, q, KT_REASON_NONE);
	}
	pending_unlink(a, p);
	p->x.resp_ts_ns = ts;
	p->x.resp_size = ev->size;
	p->x.late |= !!(ev->flags & KT_FF_LATE);
	if (ev->capture_len && !(ev->flags & KT_FF_LATE)) {
		capture_start(a, c, KT_DIR_RESP, &p->x.resp_cap, ev->frame_seq,
			      ev->capture_len, ev->flags & KT_FF_STRUCTURE);
		if (c->asm_[KT_DIR_RESP].active) {
			/* Answered; held until its last chunk, or the expiry. */
			c->resp_wait = p;
			p->deadline = ts + a->cfg.expiry_ns;
			list_add_tail(&p->age_link, &a->resp_waits);
			return;
		}
	}
	finish(a, p, KT_STATUS_OK, KT_REASON_NONE);
}

static void on_data(struct kt_agent *a, const struct kt_ev_data *d)
{
	struct conn *c = conn_find(a, &d->h.conn);
	struct assembly *as;
	struct kt_capture *cap;
	uint32_t n;

	if (!c)
		return;
	as = &c->asm_[d->h.dir];
	if (!as->active || as->frame_seq != d->frame_seq)
		return;		/* its frame was given up, or never captured */
	cap = as->cap;
	if (d->offset != cap->next_off &&
	    !(cap->structure && (d->flags & KT_DF_AFTER_HOLE) && d->offset > cap->next_off)) {
		/* A chunk went missing (ring buffer full): keep the prefix. */
		capture_stop(a, c, d->h.dir);
		goto done;
	}
	n = d->len;
	if (n > a->cfg.max_capture - cap->len) {
		n = a->cfg.max_capture - cap->len;
		cap->truncated = true;
	}
	if (cap->len + n > cap->alloc) {
		uint32_t want = cap->alloc * 2 > cap->len + n ? cap->alloc * 2 : cap->len + n;
		uint8_t *b;

		if (want > a->cfg.max_capture)
			want = a->cfg.max_capture;
		b = realloc(cap->buf, want);
		if (!b) {
			a->st.alloc_failures++;
			capture_stop(a, c, d->h.dir);
			goto done;
		}
		cap->buf = b;
		cap->alloc = want;
	}
	memcpy(cap->buf + cap->len, d->data, n);
	cap->len += n;
	cap->next_off = d->offset + d->len;
	if (d->flags & KT_DF_TRUNCATED)
		cap->truncated = true;
	if (d->flags & KT_DF_WALK_FAILED)
		cap->walk_failed = true;
	if (d->flags & KT_DF_LAST)
		cap->last_seen = true;
	if (cap->last_seen || (!cap->structure && cap->len == cap->want) ||
	    cap->len == a->cfg.max_capture)
		capture_stop(a, c, d->h.dir);
done:
	if (d->h.dir == KT_DIR_RESP && c->resp_wait && !as->active)
		finish(a, c->resp_wait, KT_STATUS_OK, KT_REASON_NONE);
}

static void on_stream(struct kt_agent *a, const struct kt_ev_stream *ev, uint64_t ts)
{
	struct conn *c = conn_find(a, &ev->h.conn);

	if (ev->h.type == KT_EV_GAP) {
		a->st.gaps++;
		if (!c)
			return;
		capture_stop(a, c, ev->h.dir);
		if (ev->h.dir == KT_DIR_RESP && c->resp_wait)
			finish(a, c->resp_wait, KT_STATUS_OK, KT_REASON_NONE);
		return;
	}
	a->st.closes++;
	/*
	 * Records of one connection can come from two CPUs: a FIN on one may
	 * reach the ring buffer a few microseconds before the response the
	 * other was sending. Keep the connection a moment (close_grace) so
	 * that such a response still pairs; then give up what is left.
	 */
	if (c && !c->closing) {
		c->closing = true;
		c->close_deadline = ts + a->cfg.close_grace_ns;
		list_add_tail(&c->close_link, &a->closing);
	}
}

static void on_view(void *ctx, const union kt_ev *v, uint64_t ts)
{
	kt_agent_event(ctx, v, ts);
}

void kt_agent_event(struct kt_agent *a, const union kt_ev *v, uint64_t ts)
{
	switch (v->h.type) {
	case KT_EV_REQUEST:
		on_request(a, &v->fr, ts);
		break;
	case KT_EV_RESPONSE:
		on_response(a, &v->fr, ts);
		break;
	case KT_EV_DATA:
		if (v->h.dir <= KT_DIR_RESP)
			on_data(a, &v->d);
		break;
	case KT_EV_CLOSE:
	case KT_EV_GAP:
		if (v->h.dir <= KT_DIR_RESP)
			on_stream(a, &v->s, ts);
		break;
	}
}

int kt_agent_record(struct kt_agent *a, const void *rec, size_t len, uint64_t ts_ns)
{
	const struct kt_expand_stats *xs = kt_expander_stats(a->x);
	int err;

	a->st.records++;
	err = kt_expand(a->x, rec, len, ts_ns, on_view, a);
	a->st.bad_records = xs->bad;
	a->st.unknown_conn_records = xs->unknown_conn;
	return err;
}

static void expire_list(struct kt_agent *a, struct list_head *l, uint64_t now)
{
	while (!list_empty(l)) {
		struct pending *p = list_first(l, struct pending, age_link);

		if (p->deadline > now)
			break;
		give_up(a, p, KT_REASON_EXPIRED);
	}
}

void kt_agent_tick(struct kt_agent *a, uint64_t now_ns)
{
	expire_list(a, &a->age, now_ns);
	expire_list(a, &a->age_acks0, now_ns);
	/* Answered, but the rest of the response capture never came. */
	while (!list_empty(&a->resp_waits)) {
		struct pending *p = list_first(&a->resp_waits, struct pending, age_link);

		if (p->deadline > now_ns)
			break;
		capture_stop(a, p->c, KT_DIR_RESP);
		finish(a, p, KT_STATUS_OK, KT_REASON_NONE);
	}
	while (!list_empty(&a->closing)) {
		struct conn *c = list_first(&a->closing, struct conn, close_link);

		if (c->close_deadline > now_ns)
			break;
		conn_drop(a, c, KT_REASON_CLOSED);
	}
}

void kt_agent_flush(struct kt_agent *a)
{
	while (!list_empty(&a->conns_lru))
		conn_drop(a, list_first(&a->conns_lru, struct conn, lru), KT_REASON_EXIT);
}

void kt_agent_free(struct kt_agent *a)
{
	if (!a)
		return;
	a->on_exchange = NULL;
	a->on_conn = NULL;
	kt_agent_flush(a);
	ht_free(&a->conns);
	ht_free(&a->pend);
	kt_expander_free(a->x);
	free(a);
}

const struct kt_agent_stats *kt_agent_stats(const struct kt_agent *a)
{
	return &a->st;
}
