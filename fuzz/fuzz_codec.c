// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the Kafka codec (user/proto), everything it reads.
 *
 * Input: api_key (int8), api_version (int8), a flags byte, then the bytes.
 *   flags bit 0  a response (else a request)
 *         bit 1  reader.structure = 1 (a STRUCTURE capture's bytes)
 *         bit 2  the bytes start with the request/response header (decoded
 *                first, of the version kc_*_header_version() gives)
 *         bits 3-4  arena: none, 256 B, 4 KiB, 64 KiB
 *         bit 5  kc_read_records() directly: the first 4 bytes are its len
 *
 * Buffers are allocated to their exact size and the arena is poisoned
 * (KC_WITH_ENCODERS under ASan, see kc.c), so a read past the input or past
 * an array the decoder allocated is caught. Checked after each decode:
 * the return value agrees with r.truncated/r.error, r.pos <= r.len, the
 * arena stays under its cap. After a complete decode (not structure): the
 * codec's own encoder writes it back, that decodes completely, and writing
 * that back gives the same bytes (encode(decode(encode(x))) == encode(x)).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "proto/gen/kafka_msgs_gen.h"
#include "proto/kc.h"

#ifndef KC_WITH_ENCODERS
#error "fuzz_codec needs the encoders: build the codec with -DKC_WITH_ENCODERS"
#endif

#define RT_ARENA ((size_t)256 << 10)	/* > what a 64 KiB arena decode encodes to */

static volatile uint8_t sink;

static void check_reader(const struct kc_reader *r, int ret, const struct kc_arena *a)
{
	CHECK(ret == 0 || ret == -1);
	CHECK((ret == 0) == (!r->truncated && !r->error));
	CHECK(r->pos <= r->len);
	CHECK(r->error >= 0 && r->error <= KC_ERR_RECORDS);
	CHECK(kc_strerror(r->error) != NULL);
	if (a)
		CHECK(a->used <= a->cap);
}

static int msg_index(int16_t api_key, bool response)
{
	int i;

	for (i = 0; i < KC_NUM_MSGS; i++)
		if (kc_msgs[i].api_key == api_key &&
		    kc_msgs[i].kind == (response ? KC_RESPONSE : KC_REQUEST))
			return i;
	return -1;
}

/* encode(decode(encode(x))) == encode(x), x the decoded input. */
static void roundtrip(int mi, int16_t ver, const void *x)
{
	static uint8_t *mem;
	const struct kc_msg_info *m = &kc_msgs[mi];
	const struct kc_msg_test *t = &kc_msg_tests[mi];
	struct kc_writer w1, w2;
	struct kc_arena ar;
	struct kc_reader r;
	uint8_t *copy;
	void *y;
	int ret;

	if (!mem)
		mem = malloc(RT_ARENA);
	kc_writer_init(&w1, 0);
	ret = t->encode(&w1, ver, x);
	if (ret || w1.error) {
		fprintf(stderr, "fuzz_codec: %s v%d decoded completely but does not encode\n",
			m->name, ver);
		abort();
	}
	copy = malloc(w1.len ? w1.len : 1);
	if (w1.len)
		memcpy(copy, w1.buf, w1.len);
	y = calloc(1, m->size);
	kc_arena_init(&ar, mem, RT_ARENA);
	kc_reader_init(&r, copy, w1.len, &ar);
	ret = m->decode(&r, ver, y);
	if (ret || r.pos != w1.len) {
		fprintf(stderr, "fuzz_codec: %s v%d: its own encoding (%zu bytes) decodes "
			"%s%s at %zu\n", m->name, ver, w1.len, r.truncated ? "truncated " : "",
			kc_strerror(r.error), r.pos);
		abort();
	}
	kc_writer_init(&w2, 0);
	ret = t->encode(&w2, ver, y);
	if (ret || w2.error || w2.len != w1.len || (w1.len && memcmp(w1.buf, w2.buf, w1.len))) {
		fprintf(stderr, "fuzz_codec: %s v%d: re-encoding differs (%zu vs %zu bytes)\n",
			m->name, ver, w1.len, w2.len);
		abort();
	}
	kc_writer_free(&w1);
	kc_writer_free(&w2);
	kc_arena_fini(&ar);
	free(y);
	free(copy);
}

static void records(const uint8_t *data, size_t size, int structure, struct kc_arena *a)
{
	struct kc_records rec;
	struct kc_reader r;
	uint8_t *buf, x = 0;
	int32_t len;
	uint32_t i;
	int ret;

	if (size < 4)
		return;
	len = (int32_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
			(uint32_t)data[2] << 8 | data[3]);
	size -= 4;
	buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data + 4, size);
	kc_reader_init(&r, buf, size, a);
	r.structure = structure;
	ret = kc_read_records(&r, len, &rec);
	check_reader(&r, ret, a);
	CHECK(rec.len == (len < 0 ? -1 : len));
	if (len >= 0 && !r.error) {
		CHECK(rec.avail >= 0 && (size_t)rec.avail <= size);
		if (!structure)
			CHECK(rec.avail <= len);
		for (i = 0; i < (uint32_t)rec.avail; i++)	/* within the input */
			x ^= rec.p[i];
	}
	CHECK(rec.n == 0 || rec.v);
	for (i = 0; i < rec.n; i++)		/* within the arena allocation */
		x ^= (uint8_t)rec.v[i].record_count ^ rec.v[i].complete;
	sink ^= x;
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t arena_caps[4] = { 0, 256, 4096, 65536 };
	int16_t api_key, ver;
	struct kc_arena arena, *ap = NULL;
	struct kc_reader r;
	uint8_t flags, *buf, *mem = NULL;
	bool response;
	size_t osize, cap;
	void *out;
	int ret, mi;

	if (size < 3)
		return 0;
	api_key = (int8_t)data[0];
	ver = (int8_t)data[1];
	flags = data[2];
	data += 3;
	size -= 3;
	response = flags & 1;
	cap = arena_caps[(flags >> 3) & 3];
	if (cap) {
		mem = malloc(cap);
		kc_arena_init(&arena, mem, cap);
		ap = &arena;
	}
	if (flags & 0x20) {
		records(data, size, flags & 2, ap);
		goto out;
	}

	buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	kc_reader_init(&r, buf, size, ap);
	r.structure = (flags & 2) != 0;
	if (flags & 4) {
		int hv = response ? kc_response_header_version(api_key, ver)
				  : kc_request_header_version(api_key, ver);

		if (hv < 0) {
			free(buf);
			goto out;
		}
		if (response) {
			struct kc_ResponseHeader h;

			ret = kc_decode_ResponseHeader(&r, hv, &h);
		} else {
			struct kc_RequestHeader h;

			ret = kc_decode_RequestHeader(&r, hv, &h);
			if (!ret && h.client_id.len > 0)
				sink ^= h.client_id.p[h.client_id.len - 1];
		}
		check_reader(&r, ret, ap);
		if (ret) {
			free(buf);
			goto out;
		}
	}
	osize = response ? kc_response_size(api_key) : kc_request_size(api_key);
	out = malloc(osize ? osize : 1);
	ret = response ? kc_decode_response(api_key, ver, &r, out)
		       : kc_decode_request(api_key, ver, &r, out);
	check_reader(&r, ret, ap);
	if (!osize)
		CHECK(ret == -1 && r.error == KC_ERR_API);
	mi = msg_index(api_key, response);
	CHECK((mi >= 0) == (osize != 0));
	if (mi >= 0 && (ver < kc_msgs[mi].min_version || ver > kc_msgs[mi].max_version))
		CHECK(ret == -1 && r.error == KC_ERR_VERSION);
	if (!ret && !r.structure)
		roundtrip(mi, ver, out);
	free(out);
	free(buf);
out:
	if (ap)
		kc_arena_fini(ap);
	free(mem);
	return 0;
}
