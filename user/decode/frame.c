// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "decode/frame.h"
#include "pair/agent.h"
#include "proto/gen/kafka_msgs_gen.h"

#define REQ_HEAD_FIXED	12	/* size, api_key, api_version, correlation_id */
#define RESP_HEAD_FIXED	8	/* size, correlation_id */

const char *const kt_invalid_reasons[] = {
	[KT_INV_UNKNOWN_API] = "unknown_api",
	[KT_INV_UNKNOWN_VERSION] = "unknown_version",
	[KT_INV_FIELD_OVERRUN] = "field_overrun",
	[KT_INV_SIZE_MISMATCH] = "size_mismatch",
	[KT_INV_BAD_FIELD] = "bad_field",
	NULL,
};

/* Skip a tagged-fields section. */
static int skip_tags(struct kc_reader *r)
{
	uint32_t n, i, tag, size;

	if (kc_read_uvarint(r, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (kc_read_uvarint(r, &tag) || kc_read_uvarint(r, &size))
			return -1;
		if (size > r->len - r->pos) {
			r->truncated = 1;
			return -1;
		}
		r->pos += size;
	}
	return 0;
}

/* Position the reader at a request's body (after size and header). */
static int req_body(struct kc_reader *r, int16_t key, int16_t ver)
{
	int hv = kc_request_header_version(key, ver);
	int16_t cid;

	r->pos = REQ_HEAD_FIXED;
	if (r->len < REQ_HEAD_FIXED)
		return -1;
	if (hv >= 1) {
		if (kc_read_int16(r, &cid))
			return -1;
		if (cid > 0) {
			if ((size_t)cid > r->len - r->pos) {
				r->truncated = 1;
				return -1;
			}
			r->pos += cid;
		}
	}
	return hv >= 2 ? skip_tags(r) : 0;
}

static int resp_body(struct kc_reader *r, int16_t key, int16_t ver)
{
	r->pos = RESP_HEAD_FIXED;
	if (r->len < RESP_HEAD_FIXED)
		return -1;
	return kc_response_header_version(key, ver) >= 1 ? skip_tags(r) : 0;
}

void *kt_decode_frame(struct kc_arena *arena, const struct kt_capture *cap, bool response,
		      int16_t key, int16_t ver, const char **invalid)
{
	size_t size = response ? kc_response_size(key) : kc_request_size(key);
	struct kc_reader r;
	void *out;
	int err;

	if (!cap->len || !size)
		return NULL;
	out = kc_arena_alloc(arena, 1, size);
	if (!out)
		return NULL;
	kc_reader_init(&r, cap->buf, cap->len, arena);
	r.structure = cap->structure;
	if (response ? resp_body(&r, key, ver) : req_body(&r, key, ver))
		goto bad;
	err = response ? kc_decode_response(key, ver, &r, out)
		       : kc_decode_request(key, ver, &r, out);
	if (err && !r.truncated && !r.error)
		return NULL;
	if (r.error)
		goto bad;
	/* What a complete capture holds must be exactly the frame. */
	if (cap->complete && !cap->truncated) {
		if (r.truncated)
			goto bad;
		if (r.pos != cap->len) {
			if (invalid)
				*invalid = kt_invalid_reasons[KT_INV_SIZE_MISMATCH];
			return NULL;
		}
	}
	return out;
bad:
	if (invalid && cap->complete && !cap->truncated)
		*invalid = kt_invalid_reasons[r.error ? KT_INV_BAD_FIELD : KT_INV_FIELD_OVERRUN];
	/* A truncated capture still tells what it holds. */
	return r.truncated && !r.error ? out : NULL;
}
