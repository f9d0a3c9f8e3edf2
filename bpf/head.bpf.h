/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parsing of a Kafka frame head: the size field and the request or response
 * header, plus the acks of a Produce request. The head is first assembled
 * into the per-CPU scratch area (from the carry map and the packet), at
 * offset KT_HOFF, so the parser reads one flat buffer whatever the
 * segmentation was: fixed fields at constant offsets, one load each.
 */
#ifndef KAFKATAP_HEAD_BPF_H
#define KAFKATAP_HEAD_BPF_H

#include <stdbool.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "types.bpf.h"

#define HEAD_MASK	(2 * KT_HEAD_MAX - 1)

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

/* Frame bytes at a variable offset: masked, the verifier's bound. */
static __always_inline __u32 rd8(const __u8 *h, __u32 off)
{
	barrier_var(off);
	return h[(KT_HOFF + off) & HEAD_MASK];
}

static __always_inline __u32 rd16v(const __u8 *h, __u32 off)
{
	return rd8(h, off) << 8 | rd8(h, off + 1);
}

/* Frame bytes at constant offsets: one (unaligned) load each. */
#define RD16(h, off) bpf_ntohs(*(const __u16 *)((h) + KT_HOFF + (off)))
#define RD32(h, off) bpf_ntohl(*(const __u32 *)((h) + KT_HOFF + (off)))

/*
 * Produce acks: after the header's client_id come tagged fields (flexible
 * versions), the transactional_id (v3+; compact in flexible versions), then
 * acks. Only the head is looked at: a long client_id or transactional_id
 * leaves acks unknown and userspace assumes a response is due.
 */
static __always_inline void parse_acks(const __u8 *h, __u32 n, struct head *hd,
				       bool flexible)
{
	__u32 pos = KT_OFF_CLIENT_ID + (hd->client_id_len > 0 ? hd->client_id_len : 0);
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
			len = rd16v(h, pos);
			pos += 2;
			if (len != 0xffff)
				pos += len;
		}
	}
	if (pos > KT_HEAD_MAX || pos + 2 > n)
		return;
	hd->acks = (__s16)rd16v(h, pos);
	hd->flags |= KT_FF_ACKS_KNOWN;
}

/* Printable ASCII, eight bytes at a time (the client_id is 8-aligned). */
static __always_inline bool printable(const __u8 *h, __u32 len)
{
	const __u64 *w = (const __u64 *)(h + KT_HOFF + KT_OFF_CLIENT_ID);
	int i;

	if (len > KT_CLIENT_ID_MAX)
		len = KT_CLIENT_ID_MAX;
#pragma unroll
	for (i = 0; i < KT_CLIENT_ID_MAX / 8; i++) {
		__u64 v, mask = ~0ULL;

		if (i * 8 >= len)
			break;
		if (len - i * 8 < 8)
			mask = (1ULL << ((len - i * 8) * 8)) - 1;
		/* Bytes past the end count as 'a'. */
		v = (w[i] & mask) | (0x6161616161616161ULL & ~mask);
		/* Any byte below 0x20, or above 0x7e (SWAR: "hasless", "hasmore"). */
		if (((v - 0x2020202020202020ULL) & ~v & 0x8080808080808080ULL) ||
		    (((v + 0x0101010101010101ULL) | v) & 0x8080808080808080ULL))
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
	__u32 need, size;
	const volatile struct kt_api_range *r;
	__s32 cid;

	if (n < 4)
		return HEAD_NEED_MORE;
	size = RD32(h, 0);
	hd->size = size;
	if (size < 8 || size > (strict ? KT_RESYNC_MAX_SIZE : KT_MAX_FRAME_SIZE)) {
		hd->bad_counter = KT_C_MAL_SIZE;
		return HEAD_BAD;
	}
	need = size + 4 < KT_HEAD_MAX ? size + 4 : KT_HEAD_MAX;
	if (n < need)
		return HEAD_NEED_MORE;
	hd->api_key = (__s16)RD16(h, KT_OFF_API_KEY);
	hd->api_version = (__s16)RD16(h, KT_OFF_API_VERSION);
	hd->correlation_id = (__s32)RD32(h, KT_OFF_REQ_CORR);
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
	if (hd->api_key == KT_API_CONTROLLED_SHUTDOWN && hd->api_version == 0) {
		hd->client_id_len = -1;
		return HEAD_OK;
	}
	if (size < 10) {
		hd->bad_counter = KT_C_MAL_SIZE;
		return HEAD_BAD;
	}
	cid = (__s16)RD16(h, KT_OFF_CLIENT_ID_LEN);
	if (cid < -1 || cid > (__s32)size - 10) {
		hd->bad_counter = KT_C_MAL_CLIENT_ID;
		return HEAD_BAD;
	}
	hd->client_id_len = cid;
	if (strict && cid > 0 &&
	    !printable(h, cid < (__s32)(n - KT_OFF_CLIENT_ID) ? cid : n - KT_OFF_CLIENT_ID)) {
		hd->bad_counter = KT_C_MAL_CLIENT_ID;
		return HEAD_BAD;
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
	size = RD32(h, 0);
	hd->size = size;
	if (size < 4 || size > (strict ? KT_RESYNC_MAX_SIZE : KT_MAX_FRAME_SIZE)) {
		hd->bad_counter = KT_C_MAL_SIZE;
		return HEAD_BAD;
	}
	if (n < KT_RESP_HEAD)
		return HEAD_NEED_MORE;
	hd->correlation_id = (__s32)RD32(h, KT_OFF_RESP_CORR);
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
