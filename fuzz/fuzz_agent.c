// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: ring buffer records -> kt_agent_record() -> exchanges,
 * and what the exchanges feed without decoding (trace output, top model;
 * the decoding of captures is fuzz_observe's).
 *
 * The input is a small program. Four config bytes (expiry, graces, capture
 * cap, table caps: max_pending 8 / max_conns 4 by default, so evictions
 * happen), then ops until the input ends. Each op is one byte, then its
 * operands; records are built in the kernel's wire format, a connection
 * announced (KT_EV_CONN) before its first record and after a close, a
 * request's client_id (KT_EV_CLIENT_ID) before it:
 *
 *   0,1 REQUEST  2 RESPONSE   built from fields (conn, corr, api, flags,
 *                size, capture_len, client_id_len and bytes, frame_seq)
 *   3   DATA     (conn, dir, frame_seq, offset or "next", len, flags,
 *                 bytes; the record may be cut shorter than its run says)
 *   4   CLOSE or GAP          5  kt_agent_tick() after a time step
 *   6   a raw record: 2-byte length, then that many bytes as is
 *   7   a frame record with a bad version, bad type, cut length or runs
 *       that are not there
 *
 * Every record is copied into a malloc'ed buffer of exactly its length so
 * that AddressSanitizer sees any read past it. The exchange callback reads
 * every captured byte, checks the exchange's invariants and renders it.
 * After the last op: kt_agent_flush(), and every request the agent took
 * must have come out exactly once (but for frames reported twice).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pair/agent.h"
#include "check.h"
#include "out/top_model.h"
#include "out/trace.h"

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	uint8_t v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) << 8 | u8(in));
}

static uint32_t u32(struct in *in)
{
	return (uint32_t)u16(in) << 16 | u16(in);
}

static void take(struct in *in, void *out, size_t n)
{
	size_t k = n < in->n ? n : in->n;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	in->p += k;
	in->n -= k;
}

#define NCONN 6

struct state {
	struct kt_agent *a;
	struct tm_model *tm;
	FILE *null;
	uint64_t now;
	uint32_t max_capture;
	uint64_t exchanges;
	uint64_t opened, closed;
	struct kt_conn conns[NCONN];
	bool announced[NCONN];
	uint32_t ifindex[NCONN];
	uint32_t next_off[NCONN][2];	/* DATA "next" offsets, per conn and dir */
	uint32_t last_seq[NCONN][2];	/* frame_seq of the last frame record */
	volatile uint8_t sink;
};

static struct state *cur;

static void touch_capture(const struct kt_capture *c)
{
	uint8_t x = 0;
	uint32_t i;

	CHECK(c->buf || !c->len);
	CHECK(c->len <= cur->max_capture);
	/*
	 * Not len <= want: records may carry more than the frame record
	 * announced (a kernel never does); the agent keeps up to max_capture.
	 */
	if (!c->structure)	/* STRUCTURE: holes, the kept bytes only */
		CHECK(!c->complete || c->len == c->want);
	for (i = 0; i < c->len; i++)
		x ^= c->buf[i];
	cur->sink ^= x;
}

static void on_exchange(void *ctx, const struct kt_exchange *x)
{
	struct state *s = ctx;

	s->exchanges++;
#ifdef FUZZ_VERBOSE	/* -DFUZZ_VERBOSE: what a seed does */
	fprintf(stderr, "exchange api %d v%d corr %d status %s/%s req %d/%u resp %d/%u\n",
		x->api_key, x->api_version, x->correlation_id, kt_status_name(x->status),
		kt_reason_name(x->reason), x->req_size, x->req_cap.len, x->resp_size,
		x->resp_cap.len);
#endif
	touch_capture(&x->req_cap);
	touch_capture(&x->resp_cap);
	CHECK(memchr(x->client_id, 0, sizeof(x->client_id)) != NULL);
	CHECK(x->status <= KT_STATUS_UNANSWERED);
	CHECK(x->reason <= KT_REASON_EXIT);
	CHECK((x->status == KT_STATUS_UNANSWERED) == (x->reason != KT_REASON_NONE));
	if (x->status != KT_STATUS_OK)
		CHECK(x->resp_size == -1 && !x->resp_cap.len);
	kt_trace_json(s->null, x, 0, NULL);
	kt_trace_text(s->null, x, 0, NULL);
	tm_add(s->tm, x);
}

static void on_conn(void *ctx, const struct kt_conn *c, bool opened)
{
	struct state *s = ctx;

	if (opened)
		s->opened++;
	else
		s->closed++;
	CHECK(s->closed <= s->opened);
}

static void feed(struct state *s, const void *rec, size_t len, bool use_hdr_ts)
{
	void *copy = malloc(len ? len : 1);

	memcpy(copy, rec, len);
	kt_agent_record(s->a, copy, len, use_hdr_ts ? 0 : s->now);
	free(copy);
}

static void step_time(struct state *s, struct in *in)
{
	uint8_t d = u8(in);

	/* Mostly small steps; 0xf0.. are long jumps (past every expiry). */
	s->now += d < 0xf0 ? (uint64_t)d * 100000 : (uint64_t)(d - 0xef) * 1000000000ULL;
}

static uint64_t conn_id(int ci)
{
	return 0x100 + (uint64_t)ci;
}

/* The connection's KT_EV_CONN, when not announced (or asked again). */
static void announce(struct state *s, int ci, uint32_t ifindex, bool again)
{
	struct kt_rec_conn r;

	if (s->announced[ci] && !again && ifindex == s->ifindex[ci])
		return;
	memset(&r, 0, sizeof(r));
	r.type = KT_EV_CONN;
	r.version = KT_FORMAT_VERSION;
	r.ifindex = ifindex;
	r.conn_id = conn_id(ci);
	r.conn = s->conns[ci];
	feed(s, &r, sizeof(r), true);
	s->announced[ci] = true;
	s->ifindex[ci] = ifindex;
}

/* The operand byte every record starts with: connection, direction, time. */
static void who(struct state *s, struct in *in, int *ci, uint8_t *dir, bool *use_hdr_ts)
{
	uint8_t b = u8(in);

	*ci = (b & 7) % NCONN;
	*dir = b >> 7;
	*use_hdr_ts = b & 0x40;
	announce(s, *ci, b & 0x38, false);
}

static void op_frame(struct state *s, struct in *in, uint8_t type, uint8_t variant)
{
	struct kt_rec_client_id cr;
	struct {
		struct kt_rec_frame fr;
		struct kt_run run;
		uint8_t data[64];
	} ev;
	size_t len = sizeof(ev.fr);
	uint8_t dir, b, cl;
	bool hts;
	int ci;
	int16_t cid;

	memset(&ev, 0, sizeof(ev));
	memset(&cr, 0, sizeof(cr));
	who(s, in, &ci, &dir, &hts);
	ev.fr.type = type;
	ev.fr.version = KT_FORMAT_VERSION;
	ev.fr.conn_id = conn_id(ci);
	ev.fr.ts_ns = s->now;
	dir = type == KT_EV_RESPONSE ? KT_DIR_RESP : KT_DIR_REQ;
	b = u8(in);
	ev.fr.correlation_id = b & 0x80 ? (int32_t)u32(in) : (int32_t)(b & 0x1f);
	ev.fr.api_key = (int8_t)u8(in);
	ev.fr.api_version = (int8_t)u8(in);
	ev.fr.flags = u8(in);
	ev.fr.acks = (int8_t)u8(in);
	ev.fr.size = (int32_t)(int16_t)u16(in);
	b = u8(in);
	/* capture_len: none, small, around the cap, or anything. */
	switch (b >> 6) {
	case 0: ev.fr.capture_len = 0; break;
	case 1: ev.fr.capture_len = b & 0x3f; break;
	case 2: ev.fr.capture_len = (uint32_t)u16(in); break;
	default: ev.fr.capture_len = u32(in); break;
	}
	b = u8(in);
	ev.fr.frame_seq = (uint32_t)(b & 0x0f) * 1000;
	if (b & 0x10)
		ev.fr.frame_seq = u32(in);
	if (b & 0x20) {
		/* A run of the capture in the frame record itself. */
		ev.fr.nruns = 1;
		ev.run.offset = 0;
		ev.run.len = u8(in) % sizeof(ev.data);
		ev.run.flags = u8(in);
		take(in, ev.data, ev.run.len);
		len += sizeof(ev.run) + ev.run.len;
	}
	cl = u8(in);
	/* client_id_len: -1, short, longer than copied, or any int16. */
	if (cl == 0xff)
		cid = -1;
	else if (cl == 0xfe)
		cid = (int16_t)u16(in);
	else
		cid = cl & 0x7f;
	cr.len = cid;
	if (cid > 0)
		take(in, cr.client_id, cid < KT_CLIENT_ID_MAX ? cid : KT_CLIENT_ID_MAX);
	if (cl & 0x80 && cl < 0xfe)	/* bytes past client_id_len too: what a bad kernel might send */
		take(in, cr.client_id, KT_CLIENT_ID_MAX);
	if (type == KT_EV_REQUEST) {
		cr.type = KT_EV_CLIENT_ID;
		cr.version = KT_FORMAT_VERSION;
		cr.conn_id = conn_id(ci);
		feed(s, &cr, sizeof(cr), true);
	}
	switch (variant) {
	case 1: ev.fr.version = u8(in); break;
	case 2: ev.fr.type = u8(in); break;
	case 3: len = u8(in) % len; break;
	case 4: ev.fr.nruns = u8(in); break;
	}
	s->next_off[ci][dir] = ev.fr.nruns ? ev.run.len : 0;
	s->last_seq[ci][dir] = ev.fr.frame_seq;
	feed(s, &ev, len, hts);
}

static void op_data(struct state *s, struct in *in)
{
	size_t hdr = sizeof(struct kt_rec_data) + sizeof(struct kt_run), len;
	struct kt_rec_data *d;
	struct kt_run *r;
	uint8_t dir, b, m;
	uint16_t n;
	bool hts;
	int ci;

	d = calloc(1, hdr + 65536);	/* room for any u16 len */
	r = (struct kt_run *)(d + 1);
	who(s, in, &ci, &dir, &hts);
	d->type = KT_EV_DATA;
	d->version = KT_FORMAT_VERSION;
	d->dir = dir;
	d->nruns = 1;
	d->conn_id = conn_id(ci);
	m = u8(in);
	d->frame_seq = m & 0x80 ? (uint32_t)(m & 0x0f) * 1000 : s->last_seq[ci][dir];
	if (m & 0x40)
		r->offset = u32(in);
	else
		r->offset = s->next_off[ci][dir] + (m & 0x20 ? (m & 7) : 0);
	b = u8(in);
	switch (b >> 6) {
	case 0: n = b & 0x3f; break;
	case 1: n = (b & 0x3f) * 64; break;
	case 2: n = KT_CHUNK_MAX; break;
	default: n = u16(in); break;
	}
	r->len = n;
	r->flags = u8(in);
	d->walk_info = m & 0x10 ? u32(in) : 0;
	take(in, (uint8_t *)(r + 1), n);	/* zeros where the input ends */
	len = hdr + n;
	if (m & 0x08)		/* a record shorter than its run says */
		len -= (size_t)(u8(in) % (hdr + 1 + (size_t)n));
	s->next_off[ci][dir] = r->offset + n;
	feed(s, d, len, hts);
	free(d);
}

static void op_stream(struct state *s, struct in *in, uint8_t o)
{
	struct kt_rec_stream ev;
	uint8_t dir;
	bool hts;
	int ci;

	memset(&ev, 0, sizeof(ev));
	who(s, in, &ci, &dir, &hts);
	ev.type = o & 0x08 ? KT_EV_GAP : KT_EV_CLOSE;
	ev.version = KT_FORMAT_VERSION;
	ev.dir = dir;
	ev.conn_id = conn_id(ci);
	ev.ts_ns = s->now;
	if (o & 0x10)
		ev.dir = u8(in);
	ev.seq = u32(in);
	ev.flags = u8(in);
	feed(s, &ev, o & 0x20 ? u8(in) % (sizeof(ev) + 1) : sizeof(ev), hts);
	/* Like the kernel: a closed connection is announced again. */
	if (ev.type == KT_EV_CLOSE)
		s->announced[ci] = false;
}

static void op_raw(struct state *s, struct in *in)
{
	size_t n = u16(in) % 4400;
	uint8_t *p = malloc(n ? n : 1);

	take(in, p, n);
	kt_agent_record(s->a, p, n, u8(in) & 1 ? 0 : s->now);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t caps[8] = { 0, 1, 16, 100, 4096, 65536, 1 << 20, 5000 };
	static const uint32_t tables[4][2] = { { 8, 4 }, { 8, 4 }, { 1, 1 }, { 3, 2 } };
	struct kt_agent_cfg cfg = KT_AGENT_CFG_DEFAULT;
	const struct kt_agent_stats *st;
	struct in in = { data, size };
	struct state s;
	uint8_t c0, c1, c2, c3;
	const struct tm_row *rows;
	int i;

	memset(&s, 0, sizeof(s));
	cur = &s;
	c0 = u8(&in);
	c1 = u8(&in);
	c2 = u8(&in);
	c3 = u8(&in);
	cfg.expiry_ns = (uint64_t)((c0 & 15) + 1) * 1000000;
	cfg.acks0_grace_ns = (uint64_t)((c0 >> 4) + 1) * 500000;
	cfg.close_grace_ns = (uint64_t)(c1 & 15) * 200000;
	cfg.max_capture = caps[(c1 >> 4) & 7];
	cfg.max_pending = tables[c2 & 3][0];
	cfg.max_conns = tables[c2 & 3][1];
	s.now = (uint64_t)c3 << 20;
	for (i = 0; i < NCONN; i++) {
		struct kt_conn *c = &s.conns[i];

		c->family = i == 5 ? 6 : 4;
		c->client_addr[0] = 10;
		c->client_addr[3] = (uint8_t)(1 + i / 2);
		c->broker_addr[0] = 10;
		c->broker_addr[3] = 100;
		if (c->family == 6)
			memset(c->client_addr + 4, 0xfe, 12);
		c->client_port = (uint16_t)(40000 + i);
		c->broker_port = 9092;
	}
	s.null = fopen("/dev/null", "w");
	s.tm = tm_new(s.now, 5000000);
	s.a = kt_agent_new(&cfg, on_exchange, &s);
	CHECK(s.null && s.tm && s.a);
	s.max_capture = cfg.max_capture;
	kt_agent_set_conn_cb(s.a, on_conn);

	while (in.n) {
		uint8_t o = u8(&in);

		step_time(&s, &in);
		switch (o & 7) {
		case 0:
		case 1: op_frame(&s, &in, KT_EV_REQUEST, 0); break;
		case 2: op_frame(&s, &in, KT_EV_RESPONSE, 0); break;
		case 3: op_data(&s, &in); break;
		case 4: op_stream(&s, &in, o); break;
		case 5:
			kt_agent_tick(s.a, s.now);
			if (o & 0x80)
				tm_roll(s.tm, s.now);
			break;
		case 6: op_raw(&s, &in); break;
		case 7:
			op_frame(&s, &in, o & 0x08 ? KT_EV_RESPONSE : KT_EV_REQUEST,
				 1 + ((o >> 4) & 3));
			break;
		}
		if (o & 0x80 && (o & 7) != 5) {
			/* Announced again, maybe on another interface: an upsert. */
			int ci = (o >> 4) % NCONN;

			announce(&s, ci, o & 0x30, true);
		}
		st = kt_agent_stats(s.a);
		CHECK(st->pending <= cfg.max_pending);
		CHECK(st->connections <= cfg.max_conns);
	}

	kt_agent_flush(s.a);
	st = kt_agent_stats(s.a);
	/* Every request taken came out exactly once, and nothing is left. */
	CHECK(st->pending == 0 && st->connections == 0);
	/* A frame reported twice (same id and frame_seq) is kept once. */
	CHECK(s.exchanges <= st->requests &&
	      s.exchanges >= st->requests - st->duplicate_requests);
	CHECK(st->paired + st->no_response + st->unanswered[KT_REASON_NONE] +
	      st->unanswered[KT_REASON_EXPIRED] + st->unanswered[KT_REASON_CLOSED] +
	      st->unanswered[KT_REASON_EVICTED] + st->unanswered[KT_REASON_EXIT] == s.exchanges);
	CHECK(s.opened == s.closed);
	CHECK(st->unanswered[KT_REASON_NONE] == 0);

	tm_roll(s.tm, s.now + 1000000000);
	for (i = 0; i < 4; i++) {
		int n = tm_rows(s.tm, i & 1 ? TM_VIEW_CLIENT : TM_VIEW_BROKER, i & 2,
				(enum tm_sort)((c2 >> 3) % TM_SORT_MAX), c2 & 0x80, &rows);
		int j;

		for (j = 0; j < n; j++)
			CHECK(memchr(rows[j].name, 0, sizeof(rows[j].name)) != NULL);
	}
	kt_agent_free(s.a);
	tm_free(s.tm);
	fclose(s.null);
	return 0;
}
