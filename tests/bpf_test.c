// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafkatap's TC program under BPF_PROG_TEST_RUN: crafted Ethernet/IPv4/
 * IPv6/TCP segments in, exact ring buffer records out. Real kernel, real
 * verifier, the very object that runs live.
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
#include "proto/apis.h"
#include "pkt.h"
#include "lib/util.h"
#include "kt_state.h"

static struct kt_bpf bpf;
static struct kt_feeder feeder;
static struct recs recs;
static uint16_t next_port = 20000;

static void on_record(void *ctx, const void *rec, size_t len, uint64_t ts)
{
	recs_add(&recs, rec, len);
}

static int setup_all(void **state)
{
	return pkt_start(&bpf, &feeder, on_record);
}

static int teardown_all(void **state)
{
	kt_feeder_free(&feeder);
	kt_bpf_stop(&bpf);
	free(recs.v);
	return 0;
}

static void counters(uint64_t *c)
{
	assert_int_equal(kt_bpf_counters(&bpf, c), 0);
}

static void seg(const struct tuple *t, uint32_t seq, uint8_t flags, const void *p, size_t n)
{
	uint8_t *f;
	size_t len = tcp_segment(&f, t, seq, flags, p, n);

	assert_int_equal(kt_feed_eth(&feeder, f, len, 1), 0);
	free(f);
}

/* A new connection: client SYN and broker SYN-ACK. Client data starts at
 * cseq, broker data at bseq. */
static struct tuple conn_open(bool v6, uint32_t cseq, uint32_t bseq)
{
	struct tuple t = v6 ? tuple6("fd00::1", next_port++, "fd00::2", 9092)
			    : tuple4("10.0.0.1", next_port++, "10.0.0.2", 9092);
	struct tuple r = tuple_rev(t);

	seg(&t, cseq - 1, TCP_SYN, NULL, 0);
	seg(&r, bseq - 1, TCP_SYN | TCP_ACK, NULL, 0);
	return t;
}

/* Send bytes as segments cut at cuts[] (ascending offsets). */
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

struct exp {
	uint8_t type;
	int16_t key, ver;
	int32_t corr;
	const char *cid;	/* NULL: client_id_len -1 */
	int32_t size;
	uint16_t flags;		/* must be set */
};

static int count_type(uint8_t type)
{
	size_t i;
	int n = 0;

	for (i = 0; i < recs.n; i++)
		n += recs.v[i].type == type;
	return n;
}

/* The frame records (REQUEST/RESPONSE), in order, must be exactly `e`. */
static void check_frames(const struct exp *e, int n, const char *desc)
{
	size_t i;
	int k = 0;

	for (i = 0; i < recs.n; i++) {
		const struct kt_ev_frame *f = &recs.v[i].u.fr;

		if (recs.v[i].type != KT_EV_REQUEST && recs.v[i].type != KT_EV_RESPONSE)
			continue;
		if (k >= n)
			fail_msg("%s: extra record %zu (type %d corr %d)", desc, i,
				 f->h.type, f->correlation_id);
		if (f->h.type != e[k].type || f->correlation_id != e[k].corr ||
		    f->size != e[k].size || (f->flags & e[k].flags) != e[k].flags)
			fail_msg("%s: record %d: type %d corr %d size %d flags %#x; want "
				 "type %d corr %d size %d flags %#x", desc, k, f->h.type,
				 f->correlation_id, f->size, f->flags, e[k].type, e[k].corr,
				 e[k].size, e[k].flags);
		if (e[k].type == KT_EV_REQUEST) {
			size_t cl = e[k].cid ? strlen(e[k].cid) : 0;
			size_t cp = cl < KT_CLIENT_ID_MAX ? cl : KT_CLIENT_ID_MAX;
			char want[KT_CLIENT_ID_MAX] = {};

			if (e[k].cid)
				memcpy(want, e[k].cid, cp);
			if (f->api_key != e[k].key || f->api_version != e[k].ver ||
			    f->client_id_len != (e[k].cid ? (int)cl : -1) ||
			    memcmp(f->client_id, want, KT_CLIENT_ID_MAX))
				fail_msg("%s: record %d: key %d v%d cid_len %d '%.64s'", desc, k,
					 f->api_key, f->api_version, f->client_id_len, f->client_id);
		} else if (e[k].key >= 0) {
			if (f->api_key != e[k].key || f->api_version != e[k].ver ||
			    !(f->flags & KT_FF_API_KNOWN))
				fail_msg("%s: response %d: api %d v%d flags %#x", desc, k,
					 f->api_key, f->api_version, f->flags);
		}
		k++;
	}
	if (k != n)
		fail_msg("%s: %d frame records, want %d", desc, k, n);
}

/* Three requests, with a client_id longer than the kernel copies. */
#define LONG_CID "a-client-id-that-is-longer-than-sixty-four-bytes-0123456789abcdefghij"

static size_t three_requests(struct buf *b, struct exp *e, int32_t corr0)
{
	static const uint8_t body[] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	size_t start;

	memset(b, 0, sizeof(*b));
	start = b->len;
	kafka_request(b, 18, 3, corr0, "rdkafka", "\x00\x00", 2);
	e[0] = (struct exp){ KT_EV_REQUEST, 18, 3, corr0, "rdkafka", b->len - start - 4 };
	start = b->len;
	kafka_request(b, 3, 12, corr0 + 1, LONG_CID, body, sizeof(body));
	e[1] = (struct exp){ KT_EV_REQUEST, 3, 12, corr0 + 1, LONG_CID, b->len - start - 4 };
	start = b->len;
	kafka_request(b, 10, 4, corr0 + 2, NULL, body, 3);
	e[2] = (struct exp){ KT_EV_REQUEST, 10, 4, corr0 + 2, NULL, b->len - start - 4 };
	return b->len;
}

static void test_many_frames_one_segment(void **state)
{
	struct exp e[3];
	struct buf b;
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		struct tuple t = conn_open(v6, 1000, 5000);

		three_requests(&b, e, 7);
		recs_clear(&recs);
		stream(&t, 1000, b.p, b.len, NULL, 0);
		check_frames(e, 3, v6 ? "v6 one segment" : "v4 one segment");
		free(b.p);
	}
}

static void test_one_frame_many_segments(void **state)
{
	struct tuple t = conn_open(false, 77, 99), r = tuple_rev(t);
	struct buf b = {}, rb = {};
	uint8_t body[2500];
	size_t cuts[9];
	int i;

	for (i = 0; i < (int)sizeof(body); i++)
		body[i] = i * 7;
	kafka_request(&b, 3, 9, 42, "many-segments", body, sizeof(body));
	for (i = 0; i < 9; i++)
		cuts[i] = (i + 1) * 250 + i;
	recs_clear(&recs);
	stream(&t, 77, b.p, b.len, cuts, 9);
	kafka_response(&rb, 42, body, 1000);
	stream(&r, 99, rb.p, rb.len, cuts, 3);
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 3, 9, 42, "many-segments", b.len - 4 },
		{ KT_EV_RESPONSE, 3, 9, 42, NULL, rb.len - 4, KT_FF_API_KNOWN },
	}, 2, "one frame, ten segments");
	free(b.p);
	free(rb.p);
}

/*
 * Cut a stream of three requests (and their three responses) at every
 * offset into two segments, and at every pair of offsets into three: the
 * records must be the same every time. Covers the size field and the
 * header split across segments.
 */
static void test_split_sweep(void **state)
{
	struct buf b, rb = {};
	struct exp e[6];
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	size_t i, j, cuts[2];
	char desc[64];
	int k;

	three_requests(&b, e, 1);
	for (k = 0; k < 3; k++) {
		static const uint8_t zeros[8];
		size_t start = rb.len;

		kafka_response(&rb, 1 + k, zeros, 5 + k);
		e[3 + k] = (struct exp){ KT_EV_RESPONSE, e[k].key, e[k].ver, 1 + k, NULL,
					 rb.len - start - 4, KT_FF_API_KNOWN };
	}
	counters(c0);
	for (i = 0; i < b.len; i++) {
		for (j = i; j < b.len; j++) {
			bool three = j > i;
			struct tuple t = conn_open(j & 1, 1 + j * 31, 7 + i * 17);

			cuts[0] = i;
			cuts[1] = j;
			recs_clear(&recs);
			stream(&t, 1 + j * 31, b.p, b.len, three ? cuts : cuts, three ? 2 : 1);
			/* Responses cut the same way where they are long enough. */
			cuts[0] = i % rb.len;
			cuts[1] = j % rb.len < cuts[0] ? cuts[0] : j % rb.len;
			{
				struct tuple r = tuple_rev(t);

				stream(&r, 7 + i * 17, rb.p, rb.len, cuts, 2);
			}
			snprintf(desc, sizeof(desc), "cut at %zu,%zu", i, j);
			check_frames(e, 6, desc);
		}
	}
	counters(c1);
	assert_int_equal(c1[KT_C_GAPS] - c0[KT_C_GAPS], 0);
	assert_int_equal(c1[KT_C_RB_FAIL] - c0[KT_C_RB_FAIL], 0);
	assert_true(c1[KT_C_CARRIES] > c0[KT_C_CARRIES]);
	free(b.p);
	free(rb.p);
}

/* The largest skb a test run takes (~3 KB): 100 frames in one segment. */
static void test_superpacket_test_run(void **state)
{
	struct tuple t = conn_open(false, 10, 20);
	struct exp e[100];
	struct buf b = {};
	int i;

	for (i = 0; i < 100; i++) {
		size_t s = b.len;

		kafka_request(&b, 0, 3, 1000 + i, "p", "\xff\xff\x00\x00", 4);
		e[i] = (struct exp){ KT_EV_REQUEST, 0, 3, 1000 + i, "p", b.len - s - 4 };
	}
	assert_true(b.len < KT_FEED_MAX_PKT - 60);
	recs_clear(&recs);
	stream(&t, 10, b.p, b.len, NULL, 0);
	check_frames(e, 100, "100 frames in one skb");
	free(b.p);
}

static void test_retransmit(void **state)
{
	struct tuple t = conn_open(true, 500, 600);
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	struct exp e[3];
	struct buf b;
	size_t half;

	three_requests(&b, e, 300);
	half = b.len / 2;
	counters(c0);
	recs_clear(&recs);
	seg(&t, 500, TCP_PSH, b.p, half);
	seg(&t, 500, TCP_PSH, b.p, half);		/* exact duplicate */
	seg(&t, 500 + 3, TCP_PSH, b.p + 3, half - 3);	/* wholly old */
	seg(&t, 500 + half - 10, TCP_PSH, b.p + half - 10, b.len - half + 10); /* overlap */
	seg(&t, 500, TCP_PSH, b.p, b.len);		/* everything again */
	check_frames(e, 3, "retransmissions");
	counters(c1);
	assert_int_equal(c1[KT_C_RETRANS] - c0[KT_C_RETRANS], 3);
	assert_int_equal(c1[KT_C_OVERLAPS] - c0[KT_C_OVERLAPS], 1);
	free(b.p);
}

static void test_gap_resync(void **state)
{
	struct tuple t = conn_open(false, 1, 1);
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	struct buf b = {};
	size_t o[6];
	int i;

	for (i = 0; i < 6; i++) {
		o[i] = b.len;
		kafka_request(&b, 1, 11, 50 + i, "gappy", "\x00\x00\x00\x01\x00\x00\x00\x02", 8);
	}
	counters(c0);
	recs_clear(&recs);
	seg(&t, 1, TCP_PSH, b.p, o[1]);				/* frame 0 */
	/* frame 1 is lost; frame 2 arrives cut in the middle */
	seg(&t, 1 + o[2] + 5, TCP_PSH, b.p + o[2] + 5, o[3] - o[2] - 5);
	seg(&t, 1 + o[3], TCP_PSH, b.p + o[3], o[5] - o[3]);	/* frames 3, 4: resync */
	seg(&t, 1 + o[5], TCP_PSH, b.p + o[5], b.len - o[5]);	/* frame 5 */
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 1, 11, 50, "gappy", o[1] - 4 },
		{ KT_EV_REQUEST, 1, 11, 53, "gappy", o[1] - 4, KT_FF_RESYNC },
		{ KT_EV_REQUEST, 1, 11, 54, "gappy", o[1] - 4 },
		{ KT_EV_REQUEST, 1, 11, 55, "gappy", o[1] - 4 },
	}, 4, "gap then resync");
	assert_int_equal(count_type(KT_EV_GAP), 1);
	counters(c1);
	assert_int_equal(c1[KT_C_GAPS] - c0[KT_C_GAPS], 1);
	assert_int_equal(c1[KT_C_RESYNCS] - c0[KT_C_RESYNCS], 1);
	assert_int_equal(c1[KT_C_UNSYNC_SKIPPED] - c0[KT_C_UNSYNC_SKIPPED], 1);
	free(b.p);
}

/* No SYN seen: only plausible request heads start tracking. */
static void test_midstream_request_resync(void **state)
{
	struct tuple t = tuple4("10.0.0.1", next_port++, "10.0.0.2", 9093);
	static const struct { int16_t key, ver; int32_t corr; const char *cid; int32_t size_delta; } bad[] = {
		{ 120, 0, 1, "x", 0 },		/* api_key unknown to the specs */
		{ 0, 12, 1, "x", 0 },		/* Produce has no v12 */
		{ 0, 3, -5, "x", 0 },		/* negative correlation id */
		{ 0, 3, 1, "\x01\x02\x03", 0 },	/* client_id not printable */
		{ 0, 3, 1, "x", 80 << 20 },	/* absurd size */
	};
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	uint32_t seq = 123456;
	size_t i;

	counters(c0);
	recs_clear(&recs);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf b = {};

		kafka_request(&b, bad[i].key, bad[i].ver, bad[i].corr, bad[i].cid,
			      "\x00\x00\x00\x00", 4);
		if (bad[i].size_delta) {
			uint32_t s = htonl(b.len - 4 + bad[i].size_delta);

			memcpy(b.p, &s, 4);
		}
		seg(&t, seq, TCP_PSH, b.p, b.len);
		seq += b.len;
		free(b.p);
		assert_int_equal(recs.n, 0);
	}
	{
		struct buf b = {};

		/* Mid-frame bytes first, then a real head. */
		seg(&t, seq, TCP_PSH, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d", 14);
		seq += 14;
		kafka_request(&b, 0, 3, 9, "late-joiner", "\xff\xff\x00\x01", 4);
		seg(&t, seq, TCP_PSH, b.p, b.len);
		check_frames((struct exp[]){
			{ KT_EV_REQUEST, 0, 3, 9, "late-joiner", b.len - 4, KT_FF_RESYNC },
		}, 1, "resync after junk");
		free(b.p);
	}
	counters(c1);
	assert_int_equal(c1[KT_C_UNSYNC_SKIPPED] - c0[KT_C_UNSYNC_SKIPPED], ARRAY_SIZE(bad) + 1);
	assert_int_equal(c1[KT_C_RESYNCS] - c0[KT_C_RESYNCS], 1);
	/* Guesses that fail are not malformed frames. */
	assert_int_equal(c1[KT_C_MAL_SIZE] - c0[KT_C_MAL_SIZE], 0);
}

/* Responses resync only on a correlation id that is in flight. */
static void test_midstream_response_resync(void **state)
{
	struct tuple t = tuple4("10.0.0.1", next_port++, "10.0.0.2", 9092), r = tuple_rev(t);
	struct buf q = {}, a = {}, a2 = {};

	recs_clear(&recs);
	kafka_response(&a, 8, "\x00\x00\x00\x00", 4);
	seg(&r, 9000, TCP_PSH, a.p, a.len);	/* nothing in flight */
	assert_int_equal(recs.n, 0);
	kafka_request(&q, 3, 1, 8, "mid", NULL, 0);
	seg(&t, 7000, TCP_PSH, q.p, q.len);
	kafka_response(&a2, 8, "\x00\x00\x00\x00\x00\x00", 6);
	seg(&r, 9000 + a.len, TCP_PSH, a2.p, a2.len);
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 3, 1, 8, "mid", q.len - 4, KT_FF_RESYNC },
		{ KT_EV_RESPONSE, 3, 1, 8, NULL, a2.len - 4, KT_FF_RESYNC | KT_FF_API_KNOWN },
	}, 2, "response resync on in-flight id");
	free(q.p);
	free(a.p);
	free(a2.p);
}

/* The kernel tracks this direction of the connection (its frames are followed). */
static int stream_exists(const struct tuple *t)
{
	bool req = t->dport == 9092 || t->dport == 9093;
	const struct tuple *c = req ? t : NULL;
	struct tuple rev = tuple_rev(*t);
	struct kt_conn k = { .family = t->v6 ? 6 : 4 };
	struct kt_cstate st;

	if (!c)
		c = &rev;
	memcpy(k.client_addr, c->src, t->v6 ? 16 : 4);
	memcpy(k.broker_addr, c->dst, t->v6 ? 16 : 4);
	k.client_port = c->sport;
	k.broker_port = c->dport;
	if (kt_bpf_conn_state(&bpf, &k, &st))
		return 0;
	return st.d[req ? KT_DIR_REQ : KT_DIR_RESP].state == KT_ST_SYNC;
}

static void test_fin_rst(void **state)
{
	struct tuple t = conn_open(false, 100, 200), r = tuple_rev(t);
	struct buf b = {}, c = {};

	kafka_request(&b, 12, 4, 1, "fin", "\x00\x00", 2);
	recs_clear(&recs);
	seg(&t, 100, TCP_PSH, b.p, b.len);
	assert_true(stream_exists(&t));
	assert_true(stream_exists(&r));
	seg(&t, 100 + b.len, TCP_FIN, NULL, 0);
	assert_false(stream_exists(&t));
	assert_true(stream_exists(&r));
	assert_int_equal(count_type(KT_EV_CLOSE), 1);
	/* A retransmission carrying the FIN creates nothing. */
	seg(&t, 100, TCP_PSH | TCP_FIN, b.p, b.len);
	assert_false(stream_exists(&t));
	assert_int_equal(count_type(KT_EV_REQUEST), 1);

	/* RST from the broker removes both directions. */
	t = conn_open(true, 100, 200);
	r = tuple_rev(t);
	kafka_request(&c, 12, 4, 2, "rst", "\x00\x00", 2);
	seg(&t, 100, TCP_PSH, c.p, c.len);
	assert_true(stream_exists(&t) && stream_exists(&r));
	seg(&r, 200, TCP_RST, NULL, 0);
	assert_false(stream_exists(&t));
	assert_false(stream_exists(&r));
	assert_int_equal(count_type(KT_EV_CLOSE), 2);
	free(b.p);
	free(c.p);
}

static void set_policy(int key, uint8_t mode, uint32_t limit)
{
	struct kt_policy p = { .req_mode = mode, .resp_mode = mode,
			       .req_limit = limit, .resp_limit = limit };

	assert_int_equal(kt_bpf_set_policy(&bpf, key, &p), 0);
}

/* Concatenate the DATA records of frame_seq; returns the byte count. */
static size_t gather(uint32_t frame_seq, uint8_t dir, uint8_t *out, size_t max, uint16_t *last_flags)
{
	size_t i, n = 0;

	for (i = 0; i < recs.n; i++) {
		const struct kt_ev_data *d = &recs.v[i].u.d;

		if (recs.v[i].type != KT_EV_DATA || d->frame_seq != frame_seq || d->h.dir != dir)
			continue;
		assert_int_equal(d->offset, n);
		assert_true(n + d->len <= max);
		memcpy(out + n, d->data, d->len);
		n += d->len;
		*last_flags = d->flags;
	}
	return n;
}

static void test_capture_policies(void **state)
{
	struct tuple t = conn_open(false, 1000, 2000), r = tuple_rev(t);
	struct buf q1 = {}, q2 = {}, a = {};
	uint8_t body[9000], got[20000];
	uint16_t fl = 0;
	size_t cuts[] = { 7, 1500, 5000 };
	int i;

	for (i = 0; i < (int)sizeof(body); i++)
		body[i] = 255 - i % 251;
	set_policy(3, KT_CAP_BOUNDED, 20);	/* Metadata: 20 bytes */
	set_policy(19, KT_CAP_FULL, 1 << 20);	/* CreateTopics: all */
	recs_clear(&recs);
	kafka_request(&q1, 3, 12, 1, "cap", body, 100);
	stream(&t, 1000, q1.p, q1.len, cuts, 1);
	kafka_request(&q2, 19, 7, 2, "cap", body, sizeof(body));
	stream(&t, 1000 + q1.len, q2.p, q2.len, cuts, 3);
	kafka_response(&a, 2, body, 4000);
	stream(&r, 2000, a.p, a.len, cuts, 2);

	assert_int_equal(gather(1000, KT_DIR_REQ, got, sizeof(got), &fl), 20);
	assert_memory_equal(got, q1.p, 20);
	assert_int_equal(fl, KT_DF_LAST | KT_DF_TRUNCATED);
	assert_int_equal(gather(1000 + q1.len, KT_DIR_REQ, got, sizeof(got), &fl), q2.len);
	assert_memory_equal(got, q2.p, q2.len);
	assert_int_equal(fl, KT_DF_LAST);
	/* The response is captured by the policy of the API it answers. */
	assert_int_equal(gather(2000, KT_DIR_RESP, got, sizeof(got), &fl), a.len);
	assert_memory_equal(got, a.p, a.len);
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 3, 12, 1, "cap", q1.len - 4, KT_FF_CAPTURE },
		{ KT_EV_REQUEST, 19, 7, 2, "cap", q2.len - 4, KT_FF_CAPTURE },
		{ KT_EV_RESPONSE, 19, 7, 2, NULL, a.len - 4, KT_FF_CAPTURE | KT_FF_API_KNOWN },
	}, 3, "captures");
	set_policy(3, KT_CAP_HEADER, 0);
	set_policy(19, KT_CAP_HEADER, 0);
	free(q1.p);
	free(q2.p);
	free(a.p);
}

/* SaslAuthenticate stays header-only whatever the policy says. */
static void test_sasl_never_captured(void **state)
{
	static const char secret[] = "\0alice\0CANARY-PASSWORD-8f2d";
	struct tuple t = conn_open(false, 1, 1), r = tuple_rev(t);
	struct buf q = {}, a = {};
	size_t i, cuts[] = { 20 };

	set_policy(KT_API_SASL_AUTHENTICATE, KT_CAP_FULL, 1 << 20);
	recs_clear(&recs);
	kafka_request(&q, KT_API_SASL_AUTHENTICATE, 2, 5, "sasl", secret, sizeof(secret));
	stream(&t, 1, q.p, q.len, cuts, 1);
	kafka_response(&a, 5, secret, sizeof(secret));
	stream(&r, 1, a.p, a.len, NULL, 0);
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 36, 2, 5, "sasl", q.len - 4, KT_FF_SASL_REDACTED },
		{ KT_EV_RESPONSE, 36, 2, 5, NULL, a.len - 4, KT_FF_SASL_REDACTED },
	}, 2, "sasl");
	assert_int_equal(count_type(KT_EV_DATA), 0);
	for (i = 0; i < recs.n; i++) {
		assert_false(recs.v[i].u.fr.flags & KT_FF_CAPTURE);
		assert_null(memmem(&recs.v[i].u, recs.v[i].len, "CANARY", 6));
		assert_null(memmem(&recs.v[i].u, recs.v[i].len, "alice", 5));
	}
	set_policy(KT_API_SASL_AUTHENTICATE, KT_CAP_HEADER, 0);
	free(q.p);
	free(a.p);
}

static void test_produce_acks(void **state)
{
	struct tuple t = conn_open(false, 1, 1);
	struct buf b = {};
	size_t i;
	int16_t want[] = { 0, -1, 1, 0 };
	bool known[] = { true, true, true, false };

	/* v3: nullable txn id (null), acks 0 */
	kafka_request(&b, 0, 3, 1, "p", "\xff\xff\x00\x00\x00\x00\x75\x30", 8);
	/* v9 flexible: header tagged fields (0), compact txn "tx" (len+1 = 3), acks -1 */
	{
		struct buf x = {};

		buf_u8(&x, 0);
		buf_u8(&x, 3);
		buf_put(&x, "tx", 2);
		buf_be16(&x, 0xffff);
		buf_be32(&x, 30000);
		kafka_request(&b, 0, 9, 2, "p", x.p, x.len);
		free(x.p);
	}
	/* v2: no txn id, acks 1 */
	kafka_request(&b, 0, 2, 3, "p", "\x00\x01\x00\x00\x75\x30", 6);
	/* v9 with a header tagged field: acks not looked for */
	kafka_request(&b, 0, 9, 4, "p", "\x01\x00\x01\x07\x00\x00\x00", 7);
	recs_clear(&recs);
	stream(&t, 1, b.p, b.len, NULL, 0);
	assert_int_equal(recs.n, 4);
	for (i = 0; i < 4; i++) {
		const struct kt_ev_frame *f = &recs.v[i].u.fr;

		assert_int_equal(!!(f->flags & KT_FF_ACKS_KNOWN), known[i]);
		if (known[i])
			assert_int_equal(f->acks, want[i]);
	}
	free(b.p);
}

/*
 * Segments out of order (as ingress can see them): whatever is reported
 * must be one of the real frames, never twice, never garbage.
 */
static void test_shuffled(void **state)
{
	struct exp e[3];
	struct buf b;
	size_t cuts[7];
	int iter, i;

	three_requests(&b, e, 900);
	for (i = 0; i < 7; i++)
		cuts[i] = (i + 1) * b.len / 8;
	srand(1234);
	for (iter = 0; iter < 300; iter++) {
		struct tuple t = conn_open(iter & 1, 1, 1);
		int order[8], seen[3] = {};
		size_t k;

		for (i = 0; i < 8; i++)
			order[i] = i;
		for (i = 7; i > 0; i--) {
			int j = rand() % (i + 1), tmp = order[i];

			order[i] = order[j];
			order[j] = tmp;
		}
		recs_clear(&recs);
		for (i = 0; i < 8; i++) {
			int s = order[i];
			size_t from = s ? cuts[s - 1] : 0, to = s < 7 ? cuts[s] : b.len;

			seg(&t, 1 + from, TCP_PSH, b.p + from, to - from);
		}
		for (k = 0; k < recs.n; k++) {
			const struct kt_ev_frame *f = &recs.v[k].u.fr;
			int idx = f->correlation_id - 900;

			if (recs.v[k].type == KT_EV_GAP)
				continue;
			assert_int_equal(recs.v[k].type, KT_EV_REQUEST);
			if (idx < 0 || idx > 2)
				fail_msg("iter %d: unknown correlation id %d", iter, f->correlation_id);
			assert_int_equal(seen[idx]++, 0);
			assert_int_equal(f->api_key, e[idx].key);
			assert_int_equal(f->size, e[idx].size);
		}
	}
	free(b.p);
}

/*
 * A gap, then the retransmission that fills it, in pieces: the frames that
 * start in the missing bytes are reported (late, heads only), each once, and
 * the stream tracking what came after the gap is undisturbed. Responses too:
 * a late response still finds its request's API.
 */
static void test_gap_filled_late(void **state)
{
	struct tuple t = conn_open(false, 1, 1), r;
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	struct buf b = {}, rb = {};
	size_t o[6], ro[3];
	int i;

	for (i = 0; i < 6; i++) {
		o[i] = b.len;
		kafka_request(&b, 1, 11, 60 + i, "holey", "\x00\x00\x00\x01\x00\x00\x00\x02", 8);
	}
	counters(c0);
	recs_clear(&recs);
	seg(&t, 1, TCP_PSH, b.p, o[1]);				/* frame 0 */
	/* frames 1, 2 and the head of 3 are lost; the tail of 3, then 4, 5 */
	seg(&t, 1 + o[3] + 6, TCP_PSH, b.p + o[3] + 6, o[4] - o[3] - 6);
	seg(&t, 1 + o[4], TCP_PSH, b.p + o[4], b.len - o[4]);	/* resync on 4 */
	/* the retransmission, cut inside frame 2's head, then the rest */
	seg(&t, 1 + o[1], TCP_PSH, b.p + o[1], o[2] + 3 - o[1]);
	seg(&t, 1 + o[2] + 3, TCP_PSH, b.p + o[2] + 3, o[4] - o[2] - 3);
	seg(&t, 1 + o[1], TCP_PSH, b.p + o[1], o[4] - o[1]);	/* and once more */
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 1, 11, 60, "holey", o[1] - 4 },
		{ KT_EV_REQUEST, 1, 11, 64, "holey", o[1] - 4, KT_FF_RESYNC },
		{ KT_EV_REQUEST, 1, 11, 65, "holey", o[1] - 4 },
		{ KT_EV_REQUEST, 1, 11, 61, "holey", o[1] - 4, KT_FF_LATE },
	}, 4, "a hole filled in pieces, cut inside a head");
	counters(c1);
	assert_int_equal(c1[KT_C_LATE_FRAMES] - c0[KT_C_LATE_FRAMES], 1);

	/* Cut at frame starts, frames 2 and 3 come back too. */
	t = conn_open(false, 1, 1);
	recs_clear(&recs);
	seg(&t, 1, TCP_PSH, b.p, o[1]);
	seg(&t, 1 + o[3] + 6, TCP_PSH, b.p + o[3] + 6, o[4] - o[3] - 6);
	seg(&t, 1 + o[4], TCP_PSH, b.p + o[4], b.len - o[4]);
	seg(&t, 1 + o[1], TCP_PSH, b.p + o[1], o[2] - o[1]);
	seg(&t, 1 + o[2], TCP_PSH, b.p + o[2], o[4] - o[2]);
	seg(&t, 1 + o[1], TCP_PSH, b.p + o[1], o[4] - o[1]);
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 1, 11, 60, "holey", o[1] - 4 },
		{ KT_EV_REQUEST, 1, 11, 64, "holey", o[1] - 4, KT_FF_RESYNC },
		{ KT_EV_REQUEST, 1, 11, 65, "holey", o[1] - 4 },
		{ KT_EV_REQUEST, 1, 11, 61, "holey", o[1] - 4, KT_FF_LATE },
		{ KT_EV_REQUEST, 1, 11, 62, "holey", o[1] - 4, KT_FF_LATE },
		{ KT_EV_REQUEST, 1, 11, 63, "holey", o[1] - 4, KT_FF_LATE },
	}, 6, "a hole filled at frame starts");

	/* A late response: its API comes from the request's ring slot. */
	r = tuple_rev(t);
	for (i = 0; i < 3; i++) {
		ro[i] = rb.len;
		kafka_response(&rb, 61 + i, "\x00\x00\x00\x00", 4);
	}
	recs_clear(&recs);
	seg(&r, 1 + ro[2], TCP_PSH, rb.p + ro[2], rb.len - ro[2]);	/* 63's first */
	seg(&r, 1, TCP_PSH, rb.p, ro[2]);				/* 61, 62 late */
	check_frames((struct exp[]){
		{ KT_EV_RESPONSE, 1, 11, 63, NULL, ro[1] - 4, KT_FF_API_KNOWN | KT_FF_RESYNC },
		{ KT_EV_RESPONSE, 1, 11, 61, NULL, ro[1] - 4, KT_FF_API_KNOWN | KT_FF_LATE },
		{ KT_EV_RESPONSE, 1, 11, 62, NULL, ro[1] - 4, KT_FF_API_KNOWN | KT_FF_LATE },
	}, 3, "late responses");
	free(b.p);
	free(rb.p);
}

/*
 * Found by tests/loss_test.py: retransmissions of bytes read before a gap,
 * or arriving after the FIN, must not be reported again.
 */
static void test_retransmit_after_gap_or_close(void **state)
{
	struct tuple t = conn_open(false, 1, 1);
	struct buf b = {};
	size_t o[4];
	int i;

	for (i = 0; i < 4; i++) {
		o[i] = b.len;
		kafka_request(&b, 3, 9, 70 + i, "again", "\x00\x00\x00\x00", 4);
	}
	recs_clear(&recs);
	seg(&t, 1, TCP_PSH, b.p, o[1]);				/* frame 0 */
	seg(&t, 1 + o[2], TCP_PSH, b.p + o[2], o[3] - o[2]);	/* frame 2: gap, resync */
	seg(&t, 1, TCP_PSH, b.p, o[2]);				/* frames 0-1: 1 was never seen */
	seg(&t, 1 + o[3], TCP_PSH | TCP_FIN, b.p + o[3], b.len - o[3]);	/* frame 3, FIN */
	seg(&t, 1 + o[3], TCP_PSH, b.p + o[3], b.len - o[3]);	/* frame 3 again, after the FIN */
	seg(&t, 1 + o[2], TCP_PSH, b.p + o[2], b.len - o[2]);	/* frames 2-3 again */
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 3, 9, 70, "again", o[1] - 4 },
		{ KT_EV_REQUEST, 3, 9, 72, "again", o[1] - 4, KT_FF_RESYNC },
		{ KT_EV_REQUEST, 3, 9, 71, "again", o[1] - 4, KT_FF_LATE },
		{ KT_EV_REQUEST, 3, 9, 73, "again", o[1] - 4 },
	}, 4, "retransmissions after a gap and a close");
	free(b.p);
}

/* Not Kafka on a Kafka port: counted as malformed, nothing reported. */
static void test_not_kafka(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
				       0xfc, 0x03, 0x03, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	struct tuple t;

	counters(c0);
	recs_clear(&recs);
	t = conn_open(false, 1, 1);
	seg(&t, 1, TCP_PSH, http, sizeof(http) - 1);
	t = conn_open(false, 1, 1);
	seg(&t, 1, TCP_PSH, tls, sizeof(tls));
	t = tuple4("10.0.0.1", 5555, "10.0.0.2", 8080);	/* not a broker port */
	{
		struct buf b = {};

		kafka_request(&b, 18, 3, 1, "elsewhere", NULL, 0);
		seg(&t, 1, TCP_PSH, b.p, b.len);
		free(b.p);
	}
	assert_int_equal(count_type(KT_EV_REQUEST), 0);
	counters(c1);
	assert_int_equal(c1[KT_C_MAL_SIZE] - c0[KT_C_MAL_SIZE], 2);
	assert_int_equal(c1[KT_C_PACKETS] - c0[KT_C_PACKETS], 6);	/* 2x(SYN, SYN-ACK, data) */
}

/*
 * An api key the specs do not know, in sync: its size still marks the next
 * frame. Counted, not reported, and the stream stays in sync.
 */
static void test_unknown_api_key_skipped(void **state)
{
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	struct tuple t = conn_open(false, 1, 1);
	struct buf b = {};
	size_t o0, o1;

	kafka_request(&b, 18, 3, 1, "first", NULL, 0);
	o0 = b.len;
	kafka_request(&b, 127, 0, 2, "unknown", "\x01\x02\x03", 3);
	o1 = b.len;
	kafka_request(&b, 3, 9, 3, "after", NULL, 0);
	counters(c0);
	recs_clear(&recs);
	seg(&t, 1, TCP_PSH, b.p, b.len);
	check_frames((struct exp[]){
		{ KT_EV_REQUEST, 18, 3, 1, "first", o0 - 4 },
		{ KT_EV_REQUEST, 3, 9, 3, "after", b.len - o1 - 4 },
	}, 2, "an unknown api key between two requests");
	counters(c1);
	assert_int_equal(c1[KT_C_MAL_API_KEY] - c0[KT_C_MAL_API_KEY], 1);
	assert_int_equal(c1[KT_C_RESYNCS] - c0[KT_C_RESYNCS], 0);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_frames_one_segment),
		cmocka_unit_test(test_one_frame_many_segments),
		cmocka_unit_test(test_split_sweep),
		cmocka_unit_test(test_superpacket_test_run),
		cmocka_unit_test(test_retransmit),
		cmocka_unit_test(test_gap_resync),
		cmocka_unit_test(test_midstream_request_resync),
		cmocka_unit_test(test_midstream_response_resync),
		cmocka_unit_test(test_fin_rst),
		cmocka_unit_test(test_capture_policies),
		cmocka_unit_test(test_sasl_never_captured),
		cmocka_unit_test(test_produce_acks),
		cmocka_unit_test(test_shuffled),
		cmocka_unit_test(test_retransmit_after_gap_or_close),
		cmocka_unit_test(test_gap_filled_late),
		cmocka_unit_test(test_not_kafka),
		cmocka_unit_test(test_unknown_api_key_skipped),
	};

	return cmocka_run_group_tests_name("bpf (BPF_PROG_TEST_RUN)", tests, setup_all, teardown_all);
}
