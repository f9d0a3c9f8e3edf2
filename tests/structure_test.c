// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * STRUCTURE capture through BPF_PROG_TEST_RUN: Produce requests and Fetch
 * responses built as "kept" and "skipped" pieces, cut at every offset; the
 * DATA records must carry exactly the kept bytes (every field, each batch
 * header) and never a byte of a record body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/feed.h"
#include "kernel/loader.h"
#include "pkt.h"
#include "lib/util.h"

#define CANARY "SECRET-RECORD-VALUE"

static struct kt_bpf bpf;
static struct kt_feeder feeder;
static struct recs recs;
static uint16_t next_port = 30000;

static void on_record(void *ctx, const void *rec, size_t len, uint64_t ts)
{
	recs_add(&recs, rec, len);
}

static int setup_all(void **state)
{
	struct kt_load_opts o;

	kt_load_opts_init(&o);
	o.ringbuf_bytes = 64 << 20;
	o.policy[0].req_mode = KT_CAP_STRUCTURE;	/* Produce requests */
	o.policy[1].resp_mode = KT_CAP_STRUCTURE;	/* Fetch responses */
	if (kt_bpf_start(&bpf, &o))
		return -1;
	return kt_feeder_init(&feeder, &bpf, on_record, NULL);
}

static int teardown_all(void **state)
{
	kt_feeder_free(&feeder);
	kt_bpf_stop(&bpf);
	free(recs.v);
	return 0;
}

/* A frame being built: all of it, and the part STRUCTURE must keep. */
struct proj {
	struct buf all, kept;
};

static void keep(struct proj *p, const void *d, size_t n)
{
	buf_put(&p->all, d, n);
	buf_put(&p->kept, d, n);
}

static void drop(struct proj *p, const void *d, size_t n)
{
	buf_put(&p->all, d, n);
}

static void keep_u8(struct proj *p, uint8_t v) { keep(p, &v, 1); }
static void keep_be16(struct proj *p, uint16_t v) { v = htons(v); keep(p, &v, 2); }
static void keep_be32(struct proj *p, uint32_t v) { v = htonl(v); keep(p, &v, 4); }

static void keep_uvarint(struct proj *p, uint32_t v)
{
	while (v >= 0x80) {
		keep_u8(p, (v & 0x7f) | 0x80);
		v >>= 7;
	}
	keep_u8(p, v);
}

static void keep_cstr(struct proj *p, const char *s)
{
	keep_uvarint(p, strlen(s) + 1);
	keep(p, s, strlen(s));
}

/* A magic 2 batch: 61-byte header (kept), then records (skipped). */
static size_t batch2(struct proj *p, uint32_t nrec, size_t body, bool cut)
{
	uint8_t h[61] = {}, *rb = malloc(body);
	size_t i, n = cut ? body / 2 : body;
	uint32_t len = htonl(49 + body), cnt = htonl(nrec);

	memcpy(h + 8, &len, 4);
	h[16] = 2;
	memcpy(h + 57, &cnt, 4);
	keep(p, h, 61);
	for (i = 0; i < body; i++)
		rb[i] = CANARY[i % (sizeof(CANARY) - 1)];
	drop(p, rb, n);
	free(rb);
	return 61 + n;
}

/* A legacy (magic 1) message: 18 bytes kept, key and value skipped. */
static size_t legacy1(struct proj *p, size_t body)
{
	uint8_t h[18] = {}, *rb = malloc(body + 8);
	uint32_t size = htonl(6 + 8 + body);
	size_t i;

	memcpy(h + 8, &size, 4);
	h[16] = 1;
	keep(p, h, 18);
	for (i = 0; i < body + 8; i++)
		rb[i] = CANARY[i % (sizeof(CANARY) - 1)];
	drop(p, rb, body + 8);	/* timestamp, key, value */
	free(rb);
	return 18 + body + 8;
}

/* Produce v9: 2 topics x 2 partitions x 2 batches. */
static void produce_v9(struct proj *p, int32_t corr)
{
	struct proj body = {};
	int t, part, b;

	keep_u8(&body, 0);		/* header tagged fields */
	keep_uvarint(&body, 0);		/* transactional_id: null */
	keep_be16(&body, 0xffff);	/* acks -1 */
	keep_be32(&body, 30000);
	keep_uvarint(&body, 2 + 1);
	for (t = 0; t < 2; t++) {
		keep_cstr(&body, t ? "payments" : "orders");
		keep_uvarint(&body, 2 + 1);
		for (part = 0; part < 2; part++) {
			struct proj rec = {};
			size_t n = 0;

			keep_be32(&body, part);
			for (b = 0; b < 2; b++)
				n += batch2(&rec, 3 + b, 100 + 40 * b + 13 * t, false);
			keep_uvarint(&body, n + 1);
			keep(&body, rec.kept.p, rec.kept.len);
			/* the skipped parts: rebuild the full records blob */
			body.all.len -= rec.kept.len;
			buf_put(&body.all, rec.all.p, rec.all.len);
			keep_u8(&body, 0);	/* partition tagged fields */
			free(rec.all.p);
			free(rec.kept.p);
		}
		keep_u8(&body, 0);		/* topic tagged fields */
	}
	keep_u8(&body, 0);			/* tagged fields */
	{
		struct buf head = {};

		kafka_request(&head, 0, 9, corr, "structure", NULL, 0);
		/* size covers the body too */
		uint32_t size = htonl(head.len - 4 + body.all.len);

		memcpy(head.p, &size, 4);
		keep(p, head.p, head.len);
		free(head.p);
	}
	buf_put(&p->all, body.all.p, body.all.len);
	buf_put(&p->kept, body.kept.p, body.kept.len);
	free(body.all.p);
	free(body.kept.p);
}

/* Fetch v12 response: aborted transactions, tagged data, a cut last batch. */
static void fetch_v12(struct proj *p, int32_t corr)
{
	struct proj body = {}, rec = {};
	size_t n = 0;

	keep_u8(&body, 0);			/* response header tagged fields */
	keep_be32(&body, 0);			/* throttle */
	keep_be16(&body, 0);			/* error */
	keep_be32(&body, 77);			/* session */
	keep_uvarint(&body, 1 + 1);		/* responses */
	keep_cstr(&body, "orders");
	keep_uvarint(&body, 1 + 1);		/* partitions */
	keep_be32(&body, 0);			/* partition */
	keep_be16(&body, 0);			/* error */
	keep(&body, "\0\0\0\0\0\0\0\x09", 8);	/* high watermark */
	keep(&body, "\0\0\0\0\0\0\0\x09", 8);	/* last stable offset */
	keep(&body, "\0\0\0\0\0\0\0\x00", 8);	/* log start offset */
	keep_uvarint(&body, 2 + 1);		/* aborted transactions */
	keep(&body, "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02", 16);
	keep_u8(&body, 0);
	keep(&body, "\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0\x04", 16);
	keep_u8(&body, 0);
	keep_be32(&body, 0xffffffff);		/* preferred read replica */
	n += batch2(&rec, 5, 300, false);
	n += legacy1(&rec, 20);
	n += batch2(&rec, 5, 300, true);	/* cut by max bytes */
	keep_uvarint(&body, n + 1);
	keep(&body, rec.kept.p, rec.kept.len);
	body.all.len -= rec.kept.len;
	buf_put(&body.all, rec.all.p, rec.all.len);
	/* partition tagged fields: one, 12 bytes (diverging epoch) */
	keep_u8(&body, 1);
	keep_u8(&body, 0);
	keep_u8(&body, 12);
	keep(&body, "\0\0\0\x05\0\0\0\0\0\0\0\x06", 12);
	keep_u8(&body, 0);			/* topic tagged fields */
	keep_u8(&body, 0);			/* tagged fields */
	{
		struct buf head = {};

		kafka_response(&head, corr, NULL, 0);
		uint32_t size = htonl(4 + body.all.len);

		memcpy(head.p, &size, 4);
		keep(p, head.p, head.len);
		free(head.p);
	}
	buf_put(&p->all, body.all.p, body.all.len);
	buf_put(&p->kept, body.kept.p, body.kept.len);
	free(rec.all.p);
	free(rec.kept.p);
	free(body.all.p);
	free(body.kept.p);
}

static void seg(const struct tuple *t, uint32_t seq, uint8_t flags, const void *p, size_t n)
{
	uint8_t *f;
	size_t len = tcp_segment(&f, t, seq, flags, p, n);

	assert_int_equal(kt_feed_eth(&feeder, f, len, 1), 0);
	free(f);
}

static struct tuple conn_open(uint32_t cseq, uint32_t bseq)
{
	struct tuple t = tuple4("10.1.0.1", next_port, "10.1.0.2", 9092), r = tuple_rev(t);

	/* Thousands of connections: wrap before the broker port could come up. */
	next_port = next_port >= 60000 ? 30000 : next_port + 1;

	seg(&t, cseq - 1, TCP_SYN, NULL, 0);
	seg(&r, bseq - 1, TCP_SYN | TCP_ACK, NULL, 0);
	return t;
}

static void stream(const struct tuple *t, uint32_t seq, const uint8_t *p, size_t len,
		   const size_t *cuts, int ncuts)
{
	size_t prev = 0;
	int i;

	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		if (end > prev)
			seg(t, seq + prev, TCP_PSH, p + prev, end - prev);
		prev = end;
	}
}

/*
 * The DATA records of direction dir must be exactly `kept`: offsets rising,
 * a jump only with KT_DF_AFTER_HOLE, the last chunk flagged LAST, no record
 * byte anywhere.
 */
static void check_kept_at(uint8_t dir, int64_t frame_seq, const struct buf *kept,
			  const char *desc)
{
	uint8_t *got = malloc(kept->len + 1);
	size_t i, n = 0, end = 0, frames = 0;
	uint16_t last = 0;

	for (i = 0; i < recs.n; i++) {
		const struct kt_ev_data *d = &recs.v[i].u.d;

		if (recs.v[i].type == KT_EV_REQUEST || recs.v[i].type == KT_EV_RESPONSE) {
			if (frame_seq >= 0 && recs.v[i].u.fr.frame_seq != frame_seq)
				continue;
			if (recs.v[i].u.h.dir == dir) {
				frames++;
				if (!(recs.v[i].u.fr.flags & KT_FF_STRUCTURE))
					fail_msg("%s: frame not flagged STRUCTURE", desc);
			}
			continue;
		}
		if (recs.v[i].type != KT_EV_DATA || d->h.dir != dir ||
		    (frame_seq >= 0 && d->frame_seq != frame_seq))
			continue;
		if (memmem(d->data, d->len, "SECRET", 6) || memmem(d->data, d->len, "RECORD", 6))
			fail_msg("%s: record bytes in a DATA record at offset %u", desc, d->offset);
		if (getenv("KT_DEBUG"))
			fprintf(stderr, "  chunk off %u len %u flags %#x info %#x\n", d->offset,
				d->len, d->flags, d->walk_info);
		if (d->offset < end || (d->offset > end && !(d->flags & KT_DF_AFTER_HOLE)))
			fail_msg("%s: chunk at %u after %zu, flags %#x", desc, d->offset, end, d->flags);
		if (n + d->len > kept->len)
			fail_msg("%s: %zu kept bytes and more, want %zu", desc, n + d->len, kept->len);
		memcpy(got + n, d->data, d->len);
		n += d->len;
		end = d->offset + d->len;
		last = d->flags;
	}
	if (frames != 1)
		fail_msg("%s: %zu frames", desc, frames);
	if (n != kept->len || memcmp(got, kept->p, n)) {
		for (i = 0; i < n && i < kept->len && got[i] == kept->p[i]; i++)
			;
		fail_msg("%s: kept %zu bytes, want %zu; first difference at %zu", desc, n,
			 kept->len, i);
	}
	if ((last & (KT_DF_LAST | KT_DF_WALK_FAILED)) != KT_DF_LAST)
		fail_msg("%s: last chunk flags %#x", desc, last);
	free(got);
}

static void check_kept(uint8_t dir, const struct buf *kept, const char *desc)
{
	check_kept_at(dir, -1, kept, desc);
}

static void sweep(struct proj *p, bool response)
{
	size_t i, j, cuts[2];
	char desc[80];
	struct buf q = {};

	kafka_request(&q, 1, 12, 5, "fetcher", "\0\0\0\0", 4);
	for (i = 0; i < p->all.len; i += (i < 200 ? 1 : 7)) {
		for (j = i; j < p->all.len; j += (j < i + 40 ? 1 : 97)) {
			struct tuple t = conn_open(1000 + i, 7000 + j), r = tuple_rev(t);

			cuts[0] = i;
			cuts[1] = j;
			recs_clear(&recs);
			if (response) {
				seg(&t, 1000 + i, TCP_PSH, q.p, q.len);
				stream(&r, 7000 + j, p->all.p, p->all.len, cuts, 2);
			} else {
				stream(&t, 1000 + i, p->all.p, p->all.len, cuts, 2);
			}
			snprintf(desc, sizeof(desc), "%s cut at %zu,%zu",
				 response ? "fetch" : "produce", i, j);
			check_kept(response ? KT_DIR_RESP : KT_DIR_REQ, &p->kept, desc);
		}
	}
	free(q.p);
}

static void test_produce_structure(void **state)
{
	struct proj p = {};
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];

	produce_v9(&p, 41);
	kt_bpf_counters(&bpf, c0);
	sweep(&p, false);
	kt_bpf_counters(&bpf, c1);
	assert_int_equal(c1[KT_C_WALK_FAILED] - c0[KT_C_WALK_FAILED], 0);
	assert_true(c1[KT_C_WALK_BATCHES] > c0[KT_C_WALK_BATCHES]);
	free(p.all.p);
	free(p.kept.p);
}

/*
 * Two Produce requests back to back, cut anywhere: the second starts inside
 * a segment whose first bytes end the first one's walk. Found by
 * tests/loss_test.py and tests/deep_test.py (socat relays, pipelining): the
 * second frame's walk inherited the first's "walked" mark and lost its body.
 */
static void test_produce_back_to_back(void **state)
{
	struct proj a = {}, b = {};
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	struct buf all = {};
	size_t i, j, cuts[2];
	char desc[80];

	produce_v9(&a, 41);
	produce_v9(&b, 42);
	buf_put(&all, a.all.p, a.all.len);
	buf_put(&all, b.all.p, b.all.len);
	kt_bpf_counters(&bpf, c0);
	for (i = 1; i < all.len; i += (i < a.all.len - 40 ? 13 : 1)) {
		for (j = i; j < all.len && j < i + 400; j += 37) {
			struct tuple t = conn_open(1000 + i, 7000);

			cuts[0] = i;
			cuts[1] = j;
			recs_clear(&recs);
			stream(&t, 1000 + i, all.p, all.len, cuts, 2);
			snprintf(desc, sizeof(desc), "first produce, cut at %zu,%zu", i, j);
			check_kept_at(KT_DIR_REQ, 1000 + i, &a.kept, desc);
			snprintf(desc, sizeof(desc), "second produce, cut at %zu,%zu", i, j);
			check_kept_at(KT_DIR_REQ, 1000 + i + a.all.len, &b.kept, desc);
		}
	}
	kt_bpf_counters(&bpf, c1);
	assert_int_equal(c1[KT_C_WALK_FAILED] - c0[KT_C_WALK_FAILED], 0);
	free(all.p);
	free(a.all.p);
	free(a.kept.p);
	free(b.all.p);
	free(b.kept.p);
}

static void test_fetch_structure(void **state)
{
	struct proj p = {};
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];

	fetch_v12(&p, 5);
	if (getenv("KT_DEBUG"))
		fprintf(stderr, "fetch frame %zu bytes, kept %zu\n", p.all.len, p.kept.len);
	kt_bpf_counters(&bpf, c0);
	sweep(&p, true);
	kt_bpf_counters(&bpf, c1);
	assert_int_equal(c1[KT_C_WALK_FAILED] - c0[KT_C_WALK_FAILED], 0);
	free(p.all.p);
	free(p.kept.p);
}

/* A frame off its schema stops the walk: flagged, and still no record byte. */
static void test_walk_fails_closed(void **state)
{
	struct proj p = {};
	struct tuple t = conn_open(1, 1);
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	size_t i;
	uint8_t *bad;

	produce_v9(&p, 42);
	bad = malloc(p.all.len);
	memcpy(bad, p.all.p, p.all.len);
	/* The first batch's magic (byte 16 of the first records blob) set to 7. */
	for (i = 0; i + 17 < p.all.len; i++)
		if (bad[i + 16] == 2 && !memcmp(bad + i + 61, "SECRET", 6)) {
			bad[i + 16] = 7;
			break;
		}
	kt_bpf_counters(&bpf, c0);
	recs_clear(&recs);
	stream(&t, 1, bad, p.all.len, NULL, 0);
	kt_bpf_counters(&bpf, c1);
	assert_int_equal(c1[KT_C_WALK_FAILED] - c0[KT_C_WALK_FAILED], 1);
	for (i = 0; i < recs.n; i++) {
		if (recs.v[i].type != KT_EV_DATA)
			continue;
		assert_null(memmem(recs.v[i].u.d.data, recs.v[i].u.d.len, "SECRET", 6));
		if (recs.v[i].u.d.flags & KT_DF_LAST)
			assert_true(recs.v[i].u.d.flags & KT_DF_WALK_FAILED);
	}
	free(bad);
	free(p.all.p);
	free(p.kept.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_structure),
		cmocka_unit_test(test_produce_back_to_back),
		cmocka_unit_test(test_fetch_structure),
		cmocka_unit_test(test_walk_fails_closed),
	};

	return cmocka_run_group_tests_name("structure capture (BPF_PROG_TEST_RUN)", tests,
					   setup_all, teardown_all);
}
