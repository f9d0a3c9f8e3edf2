/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parsing of a Kafka frame head: the size field and the request or response
 * header, plus the acks of a Produce request. The head is first assembled
 * into the per-CPU scratch buffer (from the carry map and the skb), so the
 * parser reads one flat buffer whatever the segmentation was.
 */
#ifndef KAFKATAP_HEAD_BPF_H
#define KAFKATAP_HEAD_BPF_H

#include "maps.bpf.h"

#define HEAD_MASK (2 * KT_HEAD_MAX - 1)

enum head_result {
	HEAD_OK = 0,
	HEAD_NEED_MORE,		/* the segment ends inside the head */
	HEAD_BAD,		/* not a Kafka frame (counted unless resyncing) */
	HEAD_SKIP,		/* a frame, but no request the specs know: counted, skipped */
};

struct head {
	__s32	size;
	__s16	api_key;
	__s16	api_version;
	__s32	correlation_id;
	__s16	client_id_len;
	__s16	acks;
	__u16	flags;
	__u16	bad_counter;	/* enum kt_counter, with HEAD_BAD */
};

/* Loaded before the program by the agent, from the Kafka specs. */
const volatile struct kt_api_range api_ranges[KT_API_MAX] = {};

static __always_inline __u32 rd8(const __u8 *h, __u32 off)
{
	barrier_var(off);	/* keep the mask: it is the verifier's bound */
	return h[off & HEAD_MASK];
}

static __always_inline __u32 rd16(const __u8 *h, __u32 off)
{
	return rd8(h, off) << 8 | rd8(h, off + 1);
}

static __always_inline __u32 rd32(const __u8 *h, __u32 off)
{
	return rd16(h, off) << 16 | rd16(h, off + 2);
}

/*
 * Produce acks: after the header's client_id come tagged fields (flexible
 * versions), the transactional_id (v3+; compact in flexible versions), then
 * acks. Only the head is looked at: a long client_id or transactional_id
 * leaves acks unknown and userspace assumes a response is due.
 */
static __always_inline void parse_acks(const __u8 *h, __u32 n, struct head *hd,
				       bool flexible)
{
	__u32 pos = 14 + (hd->client_id_len > 0 ? hd->client_id_len : 0);
	__u32 b, len;

	if (flexible) {
		if (pos >= n || rd8(h, pos) != 0)
			return;		/* header tagged fields present: give up */
		pos++;
	}
	if (hd->api_version >= 3) {
		if (flexible) {
			/* compact nullable string: uvarint(len + 1), 0 = null */
			if (pos >= n)
				return;
			b = rd8(h, pos++);
			len = b & 0x7f;
			if (b & 0x80) {
				if (pos >= n)
					return;
				b = rd8(h, pos++);
				if (b & 0x80)
					return;	/* > 16 KiB: not in the head anyway */
				len |= b << 7;
			}
			pos += len ? len - 1 : 0;
		} else {
			if (pos + 2 > n)
				return;
			len = rd16(h, pos);
			pos += 2;
			if (len != 0xffff)
				pos += len;
		}
	}
	if (pos > KT_HEAD_MAX || pos + 2 > n)
		return;
	hd->acks = (__s16)rd16(h, pos);
	hd->flags |= KT_FF_ACKS_KNOWN;
}

static __always_inline bool printable(const __u8 *h, __u32 off, __u32 len)
{
	int i;

	for (i = 0; i < KT_CLIENT_ID_MAX; i++) {
		__u32 c;

		if (i >= len)
			break;
		c = rd8(h, off + i);
		if (c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

/*
 * Request head: size, api_key, api_version, correlation_id, client_id.
 * `strict` is for resynchronisation: the head must also be plausible by the
 * specs (known api_key, valid version, printable client_id).
 */
static __always_inline int parse_req_head(const __u8 *h, __u32 n,
					  struct head *hd, bool strict)
{
	__u32 need, size, cid_max;
	const volatile struct kt_api_range *r;
	__s32 cid;

	if (n < 4)
		return HEAD_NEED_MORE;
	size = rd32(h, 0);
	hd->size = size;
	if (size < 8 || size > (strict ? KT_RESYNC_MAX_SIZE : KT_MAX_FRAME_SIZE)) {
		hd->bad_counter = KT_C_MAL_SIZE;
		return HEAD_BAD;
	}
	need = size + 4 < KT_HEAD_MAX ? size + 4 : KT_HEAD_MAX;
	if (n < need)
		return HEAD_NEED_MORE;
	hd->api_key = (__s16)rd16(h, 4);
	hd->api_version = (__s16)rd16(h, 6);
	hd->correlation_id = (__s32)rd32(h, 8);
	if (hd->api_key < 0 || hd->api_key >= KT_API_MAX) {
		hd->bad_counter = KT_C_MAL_API_KEY;
		return HEAD_BAD;
	}
	r = &api_ranges[hd->api_key & (KT_API_MAX - 1)];
	if (r->min_version < 0) {
		/* In sync, the size still marks the next frame: step over this one.
		 * A broker closes the connection on such a request; reporting it
		 * would only invent a request. */
		hd->bad_counter = KT_C_MAL_API_KEY;
		return strict ? HEAD_BAD : HEAD_SKIP;
	}
	if (hd->api_version < 0 ||
	    (strict && (hd->api_version < r->min_version ||
			hd->api_version > r->max_version))) {
		hd->bad_counter = KT_C_MAL_VERSION;
		return HEAD_BAD;
	}
	if (hd->correlation_id < 0) {
		hd->bad_counter = KT_C_MAL_CORR_ID;
		return HEAD_BAD;
	}
	/* Request header v0 (no client_id) is ControlledShutdown v0's alone. */
	if (hd->api_key == 7 && hd->api_version == 0) {
		hd->client_id_len = -1;
		return HEAD_OK;
	}
	if (size < 10) {
		hd->bad_counter = KT_C_MAL_SIZE;
		return HEAD_BAD;
	}
	cid = (__s16)rd16(h, 12);
	if (cid < -1 || cid > (__s32)size - 10) {
		hd->bad_counter = KT_C_MAL_CLIENT_ID;
		return HEAD_BAD;
	}
	hd->client_id_len = cid;
	if (strict && cid > 0) {
		cid_max = n - 14 < KT_CLIENT_ID_MAX ? n - 14 : KT_CLIENT_ID_MAX;
		if (!printable(h, 14, cid < cid_max ? cid : cid_max)) {
			hd->bad_counter = KT_C_MAL_CLIENT_ID;
			return HEAD_BAD;
		}
	}
	if (hd->api_key == KT_API_PRODUCE)
		parse_acks(h, need, hd, r->flexible_min >= 0 &&
			   hd->api_version >= r->flexible_min);
	return HEAD_OK;
}

/* Response head: size, correlation_id. */
static __always_inline int parse_resp_head(const __u8 *h, __u32 n,
					   struct head *hd, bool strict)
{
	__u32 size;

	if (n < 4)
		return HEAD_NEED_MORE;
	size = rd32(h, 0);
	hd->size = size;
	if (size < 4 || size > (strict ? KT_RESYNC_MAX_SIZE : KT_MAX_FRAME_SIZE)) {
		hd->bad_counter = KT_C_MAL_SIZE;
		return HEAD_BAD;
	}
	if (n < 8)
		return HEAD_NEED_MORE;
	hd->correlation_id = (__s32)rd32(h, 4);
	hd->api_key = -1;
	hd->api_version = -1;
	hd->client_id_len = -1;
	if (hd->correlation_id < 0) {
		hd->bad_counter = KT_C_MAL_CORR_ID;
		return HEAD_BAD;
	}
	return HEAD_OK;
}

#endif
