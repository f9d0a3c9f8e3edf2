// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tests of the Kafka codec generated into user/proto/gen: every message at
 * every version survives encode -> decode -> compare -> re-encode, every
 * prefix decodes as truncated, trailing garbage is left alone, corrupted
 * bytes are read within bounds; then real captured frames and the
 * runtime's edge cases. Standalone build (add -fsanitize=address,undefined
 * to prove the bounds: the arenas are poisoned then, see kc.c):
 *
 *   cc -g -O1 -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 \
 *	-D_GNU_SOURCE -DKC_WITH_ENCODERS -Iuser -Iinclude \
 *	tests/codec_test.c user/proto/kc.c user/proto/gen/kafka_msgs_gen.c \
 *	user/proto/gen/kafka_errors_gen.c -lcmocka -o /tmp/codec_test
 *
 * KC_TEST_ITERS (environment) sets the random messages per version (20).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#ifdef KC_WITH_ENCODERS
#include "proto/gen/kafka_msgs_gen.h"
#else
/*
 * Built by the generic tests/%.c rule of the Makefile (the agent's objects,
 * no KC_WITH_ENCODERS): take the codec in this unit.
 */
#define KC_WITH_ENCODERS
#include "proto/kc.c"
#include "proto/gen/kafka_msgs_gen.c"
#include "proto/gen/kafka_errors_gen.c"
#endif

#define ARENA_SIZE	((size_t)16 << 20)
#define GARBAGE		16

struct arenas {
	struct kc_arena fill, dec;
	void *fill_mem, *dec_mem;
};

static struct arenas *arenas_new(void)
{
	struct arenas *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	a->fill_mem = malloc(ARENA_SIZE);
	a->dec_mem = malloc(ARENA_SIZE);
	assert_non_null(a->fill_mem);
	assert_non_null(a->dec_mem);
	kc_arena_init(&a->fill, a->fill_mem, ARENA_SIZE);
	kc_arena_init(&a->dec, a->dec_mem, ARENA_SIZE);
	return a;
}

static void arenas_free(struct arenas *a)
{
	kc_arena_fini(&a->fill);
	kc_arena_fini(&a->dec);
	free(a->fill_mem);
	free(a->dec_mem);
	free(a);
}

/* ---- round trips of every message at every version ---- */

struct stats {
	unsigned long pairs, cases, truncs, bytes, max_len;
};

static void roundtrip(struct arenas *ar, size_t mi, int16_t v, unsigned it,
		      struct stats *st)
{
	const struct kc_msg_info *m = &kc_msgs[mi];
	const struct kc_msg_test *t = &kc_msg_tests[mi];
	void *a = calloc(1, m->size), *b = calloc(1, m->size);
	struct kc_rand rnd = { .s = mi << 32 | (uint64_t)v << 16 | it };
	const char *where = "?";
	struct kc_writer w, w2;
	struct kc_reader r;
	uint8_t *buf;
	size_t n, k;

	assert_non_null(a);
	assert_non_null(b);
	kc_arena_reset(&ar->fill);
	kc_arena_reset(&ar->dec);
	rnd.arena = &ar->fill;
	t->fill(&rnd, v, a);
	kc_writer_init(&w, 0);
	if (t->encode(&w, v, a))
		fail_msg("%s v%d #%u: encode failed", m->name, v, it);
	n = w.len;

	/*
	 * The bytes ending the allocation (reading past them is caught),
	 * then followed by garbage that must be left alone.
	 */
	buf = malloc(n + GARBAGE);
	assert_non_null(buf);
	for (k = 0; k <= GARBAGE; k += GARBAGE) {
		if (n)	/* some versions of some messages are empty */
			memcpy(buf + GARBAGE - k, w.buf, n);
		for (size_t g = 0; g < k; g++)
			buf[n + g] = (uint8_t)kc_rand_next(&rnd);
		kc_arena_reset(&ar->dec);
		kc_reader_init(&r, buf + GARBAGE - k, n + k, &ar->dec);
		if (m->decode(&r, v, b) || r.pos != n)
			fail_msg("%s v%d #%u (+%zu): decode %s%s at %zu of %zu",
				 m->name, v, it, k, r.truncated ? "truncated " : "",
				 kc_strerror(r.error), r.pos, n);
		if (t->cmp(a, b, &where))
			fail_msg("%s v%d #%u: %s differs", m->name, v, it, where);
	}
	kc_writer_init(&w2, 0);
	if (t->encode(&w2, v, b) || w2.len != n ||
	    (n && memcmp(w2.buf, w.buf, n)))
		fail_msg("%s v%d #%u: re-encoding differs", m->name, v, it);
	kc_writer_free(&w2);

	/* Every prefix, again ending the allocation. */
	for (k = 0; k < n; k++) {
		uint8_t *p = buf + n + GARBAGE - k;

		memcpy(p, w.buf, k);
		kc_arena_reset(&ar->dec);
		kc_reader_init(&r, p, k, &ar->dec);
		if (m->decode(&r, v, b) != -1 || !r.truncated || r.error ||
		    r.pos > k)
			fail_msg("%s v%d #%u: prefix %zu of %zu: %s%s", m->name,
				 v, it, k, n, r.truncated ? "truncated " : "",
				 kc_strerror(r.error));
		/* Walk what was kept: arrays must not claim more. */
		t->cmp(b, b, &where);
	}
	st->cases++;
	st->truncs += n;
	st->bytes += n;
	if (n > st->max_len)
		st->max_len = n;
	kc_writer_free(&w);
	free(buf);
	free(a);
	free(b);
}

static void test_roundtrip_all(void **state)
{
	const char *env = getenv("KC_TEST_ITERS");
	unsigned it, iters = env ? (unsigned)atoi(env) : 20;
	struct arenas *ar = arenas_new();
	struct stats st = { 0 };
	clock_t t0 = clock();
	size_t mi;
	int16_t v;

	for (mi = 0; mi < KC_NUM_MSGS; mi++) {
		for (v = kc_msgs[mi].min_version;
		     v <= kc_msgs[mi].max_version; v++) {
			for (it = 0; it < iters; it++)
				roundtrip(ar, mi, v, it, &st);
			st.pairs++;
		}
	}
	printf("codec: %zu messages, %lu message x version pairs, "
	       "%lu round trips (%lu bytes, max %lu), %lu truncated decodes, "
	       "%.1fs CPU\n", (size_t)KC_NUM_MSGS, st.pairs, st.cases,
	       st.bytes, st.max_len, st.truncs,
	       (double)(clock() - t0) / CLOCKS_PER_SEC);
	arenas_free(ar);
}

/* Corrupted bytes: anything may come out, but within the buffer. */
static void test_mutations(void **state)
{
	struct arenas *ar = arenas_new();
	struct kc_rand rnd = { .s = 42 };
	const char *where;
	unsigned long runs = 0;
	struct kc_reader r;
	struct kc_writer w;
	size_t mi, n, j;
	uint8_t *buf;
	void *a, *b;
	int16_t v;
	int m, ret;

	for (mi = 0; mi < KC_NUM_MSGS; mi++) {
		a = calloc(1, kc_msgs[mi].size);
		b = calloc(1, kc_msgs[mi].size);
		assert_true(a && b);
		for (v = kc_msgs[mi].min_version;
		     v <= kc_msgs[mi].max_version; v++) {
			kc_arena_reset(&ar->fill);
			rnd.arena = &ar->fill;
			kc_msg_tests[mi].fill(&rnd, v, a);
			kc_writer_init(&w, 0);
			assert_int_equal(kc_msg_tests[mi].encode(&w, v, a), 0);
			n = w.len;
			buf = malloc(n + 1);
			assert_non_null(buf);
			for (m = 0; n && m < 64; m++, runs++) {
				memcpy(buf, w.buf, n);
				for (j = kc_rand_below(&rnd, 3) + 1; j; j--)
					buf[kc_rand_below(&rnd, n)] =
						(uint8_t)kc_rand_next(&rnd);
				kc_arena_reset(&ar->dec);
				kc_reader_init(&r, buf, n, &ar->dec);
				ret = kc_msgs[mi].decode(&r, v, b);
				assert_true(r.pos <= n);
				assert_int_equal(ret, r.truncated || r.error ? -1 : 0);
				kc_msg_tests[mi].cmp(b, b, &where);
			}
			free(buf);
			kc_writer_free(&w);
		}
		free(a);
		free(b);
	}
	printf("codec: %lu corrupted decodes\n", runs);
	arenas_free(ar);
}

/*
 * ---- real frames ----
 * From ../shared/testdata/pcap-real-kafka (DeepFlow's public test data:
 * Java and kafka-python clients against real brokers), TCP payloads.
 */

static size_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned int x;

	for (; h[0] && h[1] && n < max; h += 2) {
		assert_int_equal(sscanf(h, "%2x", &x), 1);
		out[n++] = (uint8_t)x;
	}
	return n;
}

static bool str_is(struct kc_str s, const char *want)
{
	return s.len == (int32_t)strlen(want) &&
	       (!s.len || !memcmp(s.p, want, s.len));
}

/* 18-api-versions-v3.pcap frame 1: the Java AdminClient. */
static const char apiv3_req[] =
	"000000310012000300000002000d61646d696e636c69656e742d310012617061"
	"6368652d6b61666b612d6a61766106332e302e3000";
/* 18-api-versions-v3.pcap frame 2 */
static const char apiv3_resp[] =
	"000001b30000000200003c0000000000090000010000000c0000020000000700"
	"00030000000b0000040000000500000500000003000006000000070000070000"
	"0003000008000000080000090000000800000a0000000400000b000000070000"
	"0c0000000400000d0000000400000e0000000500000f00000005000010000000"
	"0400001100000001000012000000030000130000000700001400000006000015"
	"0000000200001600000004000017000000040000180000000300001900000003"
	"00001a0000000300001b0000000100001c0000000300001d0000000200001e00"
	"00000200001f0000000200002000000004000021000000020000220000000200"
	"0023000000020000240000000200002500000003000026000000020000270000"
	"0002000028000000020000290000000200002a0000000200002b000000020000"
	"2c0000000100002d0000000000002e0000000000002f00000000000030000000"
	"0100003100000001000032000000000000330000000000003800000000000039"
	"0000000000003c0000000000003d000000000000410000000000004200000000"
	"0000430000000000000000000101080000000000000000";
/* 00-produce-v9.pcap frame 1: the Java console producer, one batch. */
static const char produce9_req[] =
	"00000098000000090000002f0010636f6e736f6c652d70726f64756365720000"
	"0001000005dc02097a71792d7465737402000000006400000000000000000000"
	"0057ffffffff023345f48e00000000000000000191ea86ee1d00000191ea86ee"
	"1dffffffffffffffffffffffffffff000000014a000000013e71717171717171"
	"71717171717171717171717171717171717171717171717100000000";
/* 00-produce-v7-sw8.pcap frame 4: kafka-python, tracing headers. */
static const char produce7_req[] =
	"00000134000000070000000100176b61666b612d707974686f6e2d70726f6475"
	"6365722d31ffff000100007530000000010011717569636b73746172742d6576"
	"656e74730000000100000000000000e80000000000000000000000dc00000000"
	"02de6839a10000000000000000018bd222af150000018bd222af15ffffffffff"
	"ffffffffffffffffff00000001d2020000000a4d794b65791648656c6c6f204b"
	"61666b6102067377389a02312d596d49334f575a684d7a51745a44417a5a6930"
	"30596d4d794c54686d59546b744f546335595759334f4463334e4449322d4d47"
	"5134593255324d5745745a575979595330305a54497a4c5749345a6a51744d6d"
	"4d314f57557a5a6a51305a4451342d302d5957646c626e51364f6e56702d646a"
	"45754d4334772d4c326876625756775957646c2d59584277";
/* 01-fetch-v12-ok.pcap frame 1: the Java console consumer. */
static const char fetch12_req[] =
	"000000740001000c00003cf30020636f6e73756d65722d636f6e736f6c652d63"
	"6f6e73756d65722d383931392d3100ffffffff000001f4000000010320000000"
	"2f2671c50000342002097a71792d746573740200000000000000000000000000"
	"000024ffffffffffffffffffffffff001000000000010100";

/* Decode a request frame: size, header, then the body with its api. */
static void *decode_request(struct kc_arena *arena, const uint8_t *f,
			    size_t n, struct kc_RequestHeader *h,
			    struct kc_reader *r)
{
	void *body;
	int hv;

	kc_reader_init(r, f + 4, n - 4, arena);
	/* n may cut the frame short */
	assert_true(((size_t)f[0] << 24 | f[1] << 16 | f[2] << 8 | f[3]) >=
		    n - 4);
	hv = kc_request_header_version((int16_t)(f[4] << 8 | f[5]),
				       (int16_t)(f[6] << 8 | f[7]));
	assert_int_equal(kc_decode_RequestHeader(r, hv, h), 0);
	body = kc_arena_alloc(arena, 1, kc_request_size(h->request_api_key));
	assert_non_null(body);
	kc_decode_request(h->request_api_key, h->request_api_version, r, body);
	return body;
}

static void test_real_api_versions(void **state)
{
	struct arenas *ar = arenas_new();
	struct kc_ApiVersionsResponse *resp;
	struct kc_ApiVersionsRequest *req;
	struct kc_ResponseHeader rh;
	struct kc_RequestHeader h;
	struct kc_reader r;
	uint8_t f[512];
	size_t n;

	n = unhex(apiv3_req, f, sizeof(f));
	req = decode_request(&ar->dec, f, n, &h, &r);
	assert_int_equal(kc_status(&r), 0);
	assert_int_equal(r.pos, r.len);
	assert_int_equal(h.request_api_key, 18);
	assert_int_equal(h.request_api_version, 3);
	assert_int_equal(h.correlation_id, 2);
	assert_true(str_is(h.client_id, "adminclient-1"));
	assert_true(str_is(req->client_software_name, "apache-kafka-java"));
	assert_true(str_is(req->client_software_version, "3.0.0"));
	assert_int_equal(req->_unknown_tags, 0);

	/* ApiVersions responses keep header v0 even when flexible. */
	n = unhex(apiv3_resp, f, sizeof(f));
	assert_int_equal(n, 439);
	assert_int_equal(kc_response_header_version(18, 3), 0);
	resp = kc_arena_alloc(&ar->dec, 1, kc_response_size(18));
	kc_reader_init(&r, f + 4, n - 4, &ar->dec);
	assert_int_equal(kc_decode_ResponseHeader(&r, 0, &rh), 0);
	assert_int_equal(rh.correlation_id, 2);
	assert_int_equal(kc_decode_response(18, 3, &r, resp), 0);
	assert_int_equal(r.pos, r.len);
	assert_int_equal(resp->error_code, 0);
	assert_int_equal(resp->api_keys.n, 59);
	assert_int_equal(resp->api_keys.v[0].api_key, 0);
	assert_int_equal(resp->api_keys.v[0].max_version, 9);
	assert_int_equal(resp->api_keys.v[18].api_key, 18);
	assert_int_equal(resp->api_keys.v[18].max_version, 3);
	assert_int_equal(resp->_tagged, 1u << 1);	/* FinalizedFeaturesEpoch */
	assert_int_equal(resp->finalized_features_epoch, 0);
	assert_int_equal(resp->supported_features.n, 0);
	arenas_free(ar);
}

static void test_real_produce(void **state)
{
	struct arenas *ar = arenas_new();
	struct kc_ProduceRequest_PartitionProduceData *pd;
	struct kc_ProduceRequest *req;
	struct kc_RequestHeader h;
	struct kc_reader r;
	struct kc_batch *b;
	uint8_t f[512];
	size_t n, k;

	n = unhex(produce9_req, f, sizeof(f));
	req = decode_request(&ar->dec, f, n, &h, &r);
	assert_int_equal(kc_status(&r), 0);
	assert_int_equal(r.pos, r.len);
	assert_int_equal(h.request_api_version, 9);
	assert_int_equal(h.correlation_id, 47);
	assert_true(str_is(h.client_id, "console-producer"));
	assert_int_equal(req->transactional_id.len, -1);
	assert_int_equal(req->acks, 1);
	assert_int_equal(req->timeout_ms, 1500);
	assert_int_equal(req->topic_data.n, 1);
	assert_true(str_is(req->topic_data.v[0].name, "zqy-test"));
	assert_int_equal(req->topic_data.v[0].partition_data.n, 1);
	pd = &req->topic_data.v[0].partition_data.v[0];
	assert_int_equal(pd->index, 0);
	assert_int_equal(pd->records.len, 99);
	assert_int_equal(pd->records.avail, 99);
	assert_int_equal(pd->records.n, 1);
	b = &pd->records.v[0];
	assert_int_equal(b->base_offset, 0);
	assert_int_equal(b->batch_length, 87);
	assert_int_equal(b->partition_leader_epoch, -1);
	assert_int_equal(b->magic, 2);
	assert_int_equal(b->crc, 0x3345f48e);
	assert_int_equal(b->attributes, 0);
	assert_int_equal(b->last_offset_delta, 0);
	assert_int_equal(b->base_timestamp, 1726216597021LL);
	assert_int_equal(b->max_timestamp, 1726216597021LL);
	assert_int_equal(b->producer_id, -1);
	assert_int_equal(b->producer_epoch, -1);
	assert_int_equal(b->base_sequence, -1);
	assert_int_equal(b->record_count, 1);
	assert_true(b->complete);

	/* v7 (not flexible) from kafka-python, then cut inside the batch. */
	n = unhex(produce7_req, f, sizeof(f));
	for (k = n; k >= n - 100; k -= 100) {
		kc_arena_reset(&ar->dec);
		req = decode_request(&ar->dec, f, k, &h, &r);
		assert_int_equal(h.request_api_version, 7);
		assert_true(str_is(h.client_id, "kafka-python-producer-1"));
		assert_int_equal(req->timeout_ms, 30000);
		assert_true(str_is(req->topic_data.v[0].name,
				   "quickstart-events"));
		pd = &req->topic_data.v[0].partition_data.v[0];
		assert_int_equal(pd->records.len, 232);
		assert_int_equal(pd->records.avail, 232 - (n - k));
		assert_int_equal(r.truncated, k < n);
		assert_int_equal(pd->records.n, 1);
		assert_int_equal(pd->records.v[0].batch_length, 220);
		assert_int_equal(pd->records.v[0].record_count, 1);
		assert_int_equal(pd->records.v[0].complete, k == n);
	}
	arenas_free(ar);
}

static void test_real_fetch(void **state)
{
	struct arenas *ar = arenas_new();
	struct kc_FetchRequest *req;
	struct kc_RequestHeader h;
	struct kc_reader r;
	uint8_t f[256];
	size_t n;

	n = unhex(fetch12_req, f, sizeof(f));
	req = decode_request(&ar->dec, f, n, &h, &r);
	assert_int_equal(kc_status(&r), 0);
	assert_int_equal(r.pos, r.len);
	assert_true(str_is(h.client_id, "consumer-console-consumer-8919-1"));
	assert_int_equal(req->replica_id, -1);
	assert_int_equal(req->max_wait_ms, 500);
	assert_int_equal(req->min_bytes, 1);
	assert_int_equal(req->max_bytes, 52428800);
	assert_int_equal(req->session_id, 0x2f2671c5);
	assert_int_equal(req->topics.n, 1);
	assert_true(str_is(req->topics.v[0].topic, "zqy-test"));
	assert_int_equal(req->topics.v[0].partitions.n, 1);
	assert_int_equal(req->topics.v[0].partitions.v[0].fetch_offset, 36);
	assert_true(str_is(req->rack_id, ""));
	assert_int_equal(req->cluster_id.len, -1);	/* tag absent: default */
	assert_int_equal(req->_tagged, 0);
	arenas_free(ar);
}

/* ---- the runtime's edge cases ---- */

static int dec(const char *hex, int (*fn)(struct kc_reader *, int16_t,
					  void *), int16_t v, void *out,
	       struct kc_reader *r, struct kc_arena *arena)
{
	static uint8_t buf[256], end[256];
	size_t n = unhex(hex, buf, sizeof(buf));
	uint8_t *p = end + sizeof(end) - n;	/* ends the global: ASan */

	memcpy(p, buf, n);
	kc_reader_init(r, p, n, arena);
	return fn(r, v, out);
}

static int any_apiv_req(struct kc_reader *r, int16_t v, void *out)
{
	return kc_decode_ApiVersionsRequest(r, v, out);
}

static int any_meta_req(struct kc_reader *r, int16_t v, void *out)
{
	return kc_decode_MetadataRequest(r, v, out);
}

static int any_varint(struct kc_reader *r, int16_t v, void *out)
{
	return v ? kc_read_varlong(r, out) : kc_read_varint(r, out);
}

static void test_edges(void **state)
{
	struct kc_ApiVersionsRequest av;
	struct kc_MetadataRequest md;
	struct arenas *ar = arenas_new();
	struct kc_arena small;
	struct kc_reader r;
	uint8_t mem[256];
	int64_t x = 0;

	/* varints: zigzag, overlong, beyond 32 bits, cut */
	assert_int_equal(dec("03", any_varint, 0, &x, &r, NULL), 0);
	assert_int_equal((int32_t)x, -2);
	assert_int_equal(dec("feffffff0f", any_varint, 0, &x, &r, NULL), 0);
	assert_int_equal((int32_t)x, INT32_MAX);
	assert_int_equal(dec("ffffffffffffffffff01", any_varint, 1, &x, &r,
			     NULL), 0);
	assert_int_equal(x, INT64_MIN);
	assert_int_equal(dec("ffffffff8f00", any_varint, 0, &x, &r, NULL), -1);
	assert_int_equal(r.error, KC_ERR_VARINT);
	assert_int_equal(dec("ffffffff1f", any_varint, 0, &x, &r, NULL), -1);
	assert_int_equal(r.error, KC_ERR_VARINT);
	assert_int_equal(dec("ffff", any_varint, 0, &x, &r, NULL), -1);
	assert_true(r.truncated && !r.error);

	/* unknown tags are skipped and counted; a known one must fit */
	assert_int_equal(dec("0101020502abcd0700", any_apiv_req, 3, &av, &r,
			     NULL), 0);
	assert_int_equal(av._unknown_tags, 2);
	assert_int_equal(r.pos, r.len);
	assert_int_equal(dec("0101010502ab", any_apiv_req, 3, &av, &r, NULL),
			 -1);
	assert_true(r.truncated && !r.error);

	/* lengths: -2 impossible, null where not nullable, too long = cut */
	assert_int_equal(dec("fffffffe", any_meta_req, 0, &md, &r, NULL), -1);
	assert_int_equal(r.error, KC_ERR_LENGTH);
	assert_int_equal(dec("ffffffff", any_meta_req, 0, &md, &r, NULL), -1);
	assert_int_equal(r.error, KC_ERR_NULL);
	assert_int_equal(dec("ffffffff", any_meta_req, 1, &md, &r, NULL), 0);
	assert_true(md.topics.null);
	assert_int_equal(dec("7fffffff0003616263", any_meta_req, 0, &md, &r,
			     &ar->dec), -1);
	assert_true(r.truncated && !r.error);
	assert_int_equal(md.topics.n, 1);	/* the one that was there */
	assert_true(str_is(md.topics.v[0].name, "abc"));
	assert_int_equal(dec("00000001000a6162", any_meta_req, 0, &md, &r,
			     &ar->dec), -1);
	assert_int_equal(md.topics.n, 1);	/* partly decoded */
	assert_int_equal(md.topics.v[0].name.len, 0);
	assert_int_equal(dec("00000001", any_meta_req, 0, &md, &r, &ar->dec),
			 -1);
	assert_int_equal(md.topics.n, 0);	/* not started */

	/* the arena cap */
	kc_arena_init(&small, mem, sizeof(mem));
	assert_int_equal(dec("7fffffff000000000000000000000000000000000000"
			     "00000000000000000000", any_meta_req, 0, &md, &r,
			     &small), -1);
	assert_int_equal(r.error, KC_ERR_ARENA);
	kc_arena_fini(&small);

	/* versions, api keys, error names, header versions */
	kc_reader_init(&r, mem, 0, NULL);
	assert_int_equal(kc_decode_ProduceRequest(&r, 12, kc_arena_alloc(
		&ar->dec, 1, sizeof(struct kc_ProduceRequest))), -1);
	assert_int_equal(r.error, KC_ERR_VERSION);
	kc_reader_init(&r, mem, 0, NULL);
	assert_int_equal(kc_decode_request(999, 0, &r, NULL), -1);
	assert_int_equal(r.error, KC_ERR_API);
	assert_int_equal(kc_request_size(999), 0);
	assert_int_equal(kc_request_size(0), sizeof(struct kc_ProduceRequest));
	assert_string_equal(kc_error_name(-1), "UNKNOWN_SERVER_ERROR");
	assert_string_equal(kc_error_name(0), "NONE");
	assert_string_equal(kc_error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
	assert_null(kc_error_name(-2));
	assert_null(kc_error_name(30000));
	assert_int_equal(kc_request_header_version(7, 0), 0);
	assert_int_equal(kc_request_header_version(0, 8), 1);
	assert_int_equal(kc_request_header_version(0, 9), 2);
	assert_int_equal(kc_response_header_version(0, 9), 1);
	assert_int_equal(kc_response_header_version(18, 4), 0);
	assert_int_equal(kc_request_header_version(999, 0), -1);
	arenas_free(ar);
}

/* Record sets: legacy messages, corrupt magic, the structure mode. */
static void test_records(void **state)
{
	struct arenas *ar = arenas_new();
	struct kc_records rec;
	struct kc_reader r;
	uint8_t f[512];
	size_t hdr;

	/* magic 0 and magic 1 message set entries */
	memset(f, 0, sizeof(f));
	kc_put_be(f + 8, 14, 4);
	kc_put_be(f + 26 + 8, 30, 4);
	f[26 + 16] = 1;
	kc_reader_init(&r, f, 68, &ar->dec);
	assert_int_equal(kc_read_records(&r, 68, &rec), 0);
	assert_int_equal(rec.legacy_msgs, 2);
	assert_int_equal(rec.legacy_bytes, 68);
	assert_int_equal(rec.n, 0);
	f[16] = 7;
	kc_reader_init(&r, f, 68, &ar->dec);
	assert_int_equal(kc_read_records(&r, 68, &rec), 0);
	assert_true(rec.corrupt);
	assert_int_equal(r.pos, 68);	/* skipped whole anyway */
	f[16] = 0;
	kc_reader_init(&r, f, 68, &ar->dec);
	r.structure = 1;		/* where would it end? */
	assert_int_equal(kc_read_records(&r, 68, &rec), -1);
	assert_int_equal(r.error, KC_ERR_RECORDS);

	/* structure mode: the buffer holds the batch header only */
	unhex(produce9_req, f, sizeof(f));
	hdr = 54;			/* the batch starts here */
	kc_reader_init(&r, f + hdr, KC_BATCH_HDR_LEN + 3, &ar->dec);
	r.structure = 1;
	assert_int_equal(kc_read_records(&r, 99, &rec), 0);
	assert_int_equal(r.pos, KC_BATCH_HDR_LEN);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.v[0].record_count, 1);
	assert_true(rec.v[0].complete);
	kc_reader_init(&r, f + hdr, 40, &ar->dec);
	r.structure = 1;
	assert_int_equal(kc_read_records(&r, 99, &rec), -1);
	assert_true(r.truncated);
	arenas_free(ar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_real_api_versions),
		cmocka_unit_test(test_real_produce),
		cmocka_unit_test(test_real_fetch),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
