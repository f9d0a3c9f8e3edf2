/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * STRUCTURE capture: the walk of a frame's body by its schema program
 * (struct kt_sprog, generated from the specs), across any segmentation.
 * Everything is kept except record bodies: of each record batch only its
 * header (61 bytes; 18 for legacy message sets). No key, value or header
 * byte of a record is ever copied out.
 *
 * The walker reads only what decides the walk: length prefixes, counts,
 * varints, the first 17 bytes of each batch. It reads them from a window
 * of the stream (struct kt_win) that its caller loads, one helper call per
 * window, and tells the caller when it needs the next one; kept fields are
 * stepped over without being read. What it decides is positions: the
 * caller turns the kept stretches into runs of the record it sends.
 *
 * kt_walk_ops() is a global function: the verifier checks it once, on its
 * own, not once per state of the tracker that calls it. It takes no
 * packet, so the same walker serves every hook.
 */
#ifndef KAFKATAP_WALK_BPF_H
#define KAFKATAP_WALK_BPF_H

#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "maps.bpf.h"
#include "types.bpf.h"

#define VARINT_MAX	5
#define BATCH_PEEK	17	/* a batch: base offset, length, epoch, magic */
#define WALK_OPS	48	/* ops per call */

/* wbytes()/wvarint(): the bytes are there (a value none of walk_result's). */
#define WGOT 16

enum walk_result {
	WALK_MORE = 0,	/* the op budget ran out: call again */
	WALK_WINDOW,	/* load the window at wk->pos, then call again */
	WALK_CARRY,	/* a field runs past the segment: carry [pos, lim), stall */
	WALK_STALL,	/* this segment's part of the frame is walked */
	WALK_HOLE,	/* the kept run ends at pos; record bytes up to skip_to follow */
};

static __always_inline __s32 wdiff(__u32 a, __u32 b)
{
	return (__s32)(a - b);
}

/*
 * n bytes at the cursor. WGOT: at win->b + *off; -1: past the frame;
 * WALK_CARRY: not all in this segment; WALK_WINDOW: load the window.
 */
static __always_inline int wbytes(const struct kt_walker *wk, const struct kt_win *win,
				  __u32 lim, __u32 n, __u32 *off)
{
	if (wdiff(wk->frame_end, wk->pos + n) < 0)
		return -1;
	if (wdiff(lim, wk->pos + n) < 0)
		return wdiff(win->seq, wk->pos) <= 0 &&
		       wdiff(win->seq + win->len, lim) >= 0 ? WALK_CARRY : WALK_WINDOW;
	if (wdiff(win->seq, wk->pos) > 0 || wdiff(win->seq + win->len, wk->pos + n) < 0)
		return WALK_WINDOW;
	*off = wk->pos - win->seq;
	return WGOT;
}

static __always_inline __u32 wb(const struct kt_win *win, __u32 off)
{
	barrier_var(off);
	return win->b[off & (2 * KT_WIN - 1)];
}

static __always_inline __u32 wbe32(const struct kt_win *win, __u32 off)
{
	return wb(win, off) << 24 | wb(win, off + 1) << 16 | wb(win, off + 2) << 8 |
	       wb(win, off + 3);
}

/* A uvarint at the cursor: WGOT with *val, *len; else as wbytes(). */
static __always_inline int wvarint(const struct kt_walker *wk, const struct kt_win *win,
				   __u32 lim, __u32 *val, __u32 *len)
{
	__u32 have = wdiff(lim, wk->pos) > 0 ? lim - wk->pos : 0, n, off, i, v = 0;
	int r;

	n = have < VARINT_MAX ? have : VARINT_MAX;
	if (!n)
		return wdiff(wk->frame_end, wk->pos) <= 0 ? -1 : WALK_CARRY;
	r = wbytes(wk, win, lim, n, &off);
	if (r != WGOT)
		return r;
	for (i = 0; i < VARINT_MAX; i++) {
		__u32 b;

		if (i >= n)
			break;
		b = wb(win, off + i);
		v |= (b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*val = v;
			*len = i + 1;
			return WGOT;
		}
	}
	if (n == VARINT_MAX || wdiff(wk->frame_end, wk->pos + n) <= 0)
		return -1;		/* longer than an int32 varint, or cut by the frame */
	return WALK_CARRY;		/* the segment cuts it */
}

static __always_inline void wfail(struct kt_walker *wk)
{
	wk->fail_state = wk->state;
	wk->fail_pc = wk->pc;
	wk->state = W_FAILED;
	cnt_inc(KT_C_WALK_FAILED);
}

/* Keep the next n bytes (strings, fixed fields, tagged data), then `next`. */
static __always_inline void wkeep(struct kt_walker *wk, __u32 n, __u8 next)
{
	wk->until = wk->pos + n;
	wk->state = W_KEEP;
	wk->next_state = next;
}

/* A length-prefixed field: n < 0 is null. */
static __always_inline void wfield(struct kt_walker *wk, __s64 n)
{
	if (n < -1 || wdiff(wk->frame_end, wk->pos + (n > 0 ? n : 0)) < 0) {
		wfail(wk);
		return;
	}
	wk->pc++;
	wkeep(wk, n > 0 ? n : 0, W_OPS);
}

static __always_inline void warray(struct kt_walker *wk, __s64 n, __u16 after)
{
	if (n < -1 || n > (__s64)(wk->frame_end - wk->pos)) {
		wfail(wk);
		return;
	}
	if (n <= 0) {
		wk->pc = after;
		return;
	}
	if (wk->depth >= KT_WALK_DEPTH) {
		wfail(wk);
		return;
	}
	wk->count[wk->depth & (KT_WALK_DEPTH - 1)] = n;
	wk->depth++;
	wk->pc++;
}

static __always_inline void wrecords(struct kt_walker *wk, __s64 n)
{
	if (n < -1 || wdiff(wk->frame_end, wk->pos + (n > 0 ? n : 0)) < 0) {
		wfail(wk);
		return;
	}
	if (n <= 0) {
		wk->pc++;
		return;
	}
	wk->rec_end = wk->pos + n;
	wk->state = W_BATCH;
}

/* The op at pc. Returns WALK_MORE to go on, or why it stopped. */
static __always_inline int wop(struct kt_walker *wk, const struct kt_sprog *sp,
			       const struct kt_win *win, __u32 lim)
{
	const struct kt_sop_insn *in = &sp->ops[wk->pc & (KT_SPROG_MAX - 1)];
	__u32 v = 0, l = 0, off = 0;
	int r;

	if (wk->pc >= sp->len) {
		wfail(wk);
		return WALK_MORE;
	}
	switch (in->op) {
	case KT_SOP_END:
		if (wk->pos == wk->frame_end)
			wk->state = W_DONE;
		else
			wfail(wk);
		return WALK_MORE;
	case KT_SOP_SKIP:
		if (wdiff(wk->frame_end, wk->pos + in->arg) < 0) {
			wfail(wk);
			return WALK_MORE;
		}
		wk->pc++;
		wkeep(wk, in->arg, W_OPS);
		return WALK_MORE;
	case KT_SOP_STR16:
		r = wbytes(wk, win, lim, 2, &off);
		if (r != WGOT)
			goto wait;
		v = (__u32)(__s32)(__s16)(wb(win, off) << 8 | wb(win, off + 1));
		wk->pos += 2;
		wfield(wk, (__s32)v);
		return WALK_MORE;
	case KT_SOP_BYTES32:
	case KT_SOP_ARR32:
	case KT_SOP_RECORDS32:
		r = wbytes(wk, win, lim, 4, &off);
		if (r != WGOT)
			goto wait;
		v = wbe32(win, off);
		wk->pos += 4;
		if (in->op == KT_SOP_ARR32)
			warray(wk, (__s32)v, in->arg);
		else if (in->op == KT_SOP_RECORDS32)
			wrecords(wk, (__s32)v);
		else
			wfield(wk, (__s32)v);
		return WALK_MORE;
	case KT_SOP_CSTR:
	case KT_SOP_CBYTES:
	case KT_SOP_CARR:
	case KT_SOP_CRECORDS:
	case KT_SOP_TAGGED:
		r = wvarint(wk, win, lim, &v, &l);
		if (r != WGOT)
			goto wait;
		wk->pos += l;
		if (in->op == KT_SOP_TAGGED) {
			if (v > wk->frame_end - wk->pos) {
				wfail(wk);
			} else if (!v) {
				wk->pc++;
			} else {
				wk->tags_left = v;
				wk->state = W_TAGS;
			}
		} else if (in->op == KT_SOP_CARR) {
			warray(wk, (__s64)v - 1, in->arg);
		} else if (in->op == KT_SOP_CRECORDS) {
			wrecords(wk, (__s64)v - 1);
		} else {
			wfield(wk, (__s64)v - 1);
		}
		return WALK_MORE;
	case KT_SOP_ARR_END:
		if (!wk->depth) {
			wfail(wk);
			return WALK_MORE;
		}
		if (--wk->count[(wk->depth - 1) & (KT_WALK_DEPTH - 1)]) {
			wk->pc = in->arg;
		} else {
			wk->depth--;
			wk->pc++;
		}
		return WALK_MORE;
	}
	wfail(wk);
	return WALK_MORE;
wait:
	if (r < 0) {
		wfail(wk);
		return WALK_MORE;
	}
	return r;
}

/* One tagged field: tag and size varints (both here), then keep its data. */
static __always_inline int wtag(struct kt_walker *wk, const struct kt_win *win, __u32 lim)
{
	__u32 tag = 0, tl = 0, size = 0, sl = 0;
	int r;

	r = wvarint(wk, win, lim, &tag, &tl);
	if (r == WGOT) {
		/* Peek past the tag without consuming it: both must be here. */
		wk->pos += tl;
		r = wvarint(wk, win, lim, &size, &sl);
		wk->pos -= tl;
	}
	if (r != WGOT) {
		if (r < 0) {
			wfail(wk);
			return WALK_MORE;
		}
		return r;
	}
	wk->pos += tl + sl;
	if (size > wk->frame_end - wk->pos) {
		wfail(wk);
		return WALK_MORE;
	}
	if (--wk->tags_left == 0)
		wk->pc++;
	wkeep(wk, size, wk->tags_left ? W_TAGS : W_OPS);
	return WALK_MORE;
}

/* At a record batch: keep its header, then skip its records. */
static __always_inline int wbatch(struct kt_walker *wk, const struct kt_win *win, __u32 lim)
{
	__u32 rem, keep, total, len, off = 0, magic;
	int r;

	if (wdiff(wk->pos, wk->rec_end) >= 0) {
		wk->state = W_OPS;
		wk->pc++;
		return WALK_MORE;
	}
	rem = wk->rec_end - wk->pos;
	if (rem < BATCH_PEEK) {
		/* A fragment of a header at the end (Fetch may cut batches). */
		wkeep(wk, rem, W_BATCH);
		return WALK_MORE;
	}
	r = wbytes(wk, win, lim, BATCH_PEEK, &off);
	if (r != WGOT) {
		if (r < 0) {
			wfail(wk);
			return WALK_MORE;
		}
		return r;
	}
	len = wbe32(win, off + 8);
	magic = wb(win, off + 16);
	if (magic == 2 && len >= KT_BATCH_HEADER - 12) {
		keep = KT_BATCH_HEADER;
	} else if (magic < 2 && len >= (magic ? 22 : 14)) {
		/* Legacy message set: a message is at least 14 (magic 0) or 22 bytes. */
		keep = KT_LEGACY_HEADER;
	} else {
		wfail(wk);
		return WALK_MORE;
	}
	cnt_inc(KT_C_WALK_BATCHES);
	total = 12 + len;
	if (total < len || total > rem)
		total = rem;		/* the last batch may be cut short */
	if (keep > rem)
		keep = rem;
	wk->skip_to = wk->pos + total;
	wkeep(wk, keep, W_SKIP);
	return WALK_MORE;
}

/*
 * A field runs past the segment: keep its bytes so far, [pos, lim), from
 * the window in the walker, for the next segment's window.
 */
static __always_inline int wcarry(struct kt_walker *wk, const struct kt_win *win, __u32 lim)
{
	__u32 n = lim - wk->pos, from = wk->pos - win->seq, i;

	if (n >= WALKER_CARRY) {
		wfail(wk);
		return WALK_STALL;
	}
	for (i = 0; i < WALKER_CARRY; i++) {
		if (i >= n)
			break;
		wk->carry[i & (WALKER_CARRY - 1)] = win->b[(from + i) & (2 * KT_WIN - 1)];
	}
	wk->carry_seq = wk->pos;
	wk->carry_len = n;
	return WALK_STALL;
}

/*
 * One step of the walk: an op, a tagged field, a batch, the end of a kept
 * or skipped stretch. A global function: verified once, on its own.
 */
__attribute__((noinline)) int kt_walk_step(struct kt_walker *wk, const struct kt_sprog *sp,
					   const struct kt_win *win, __u32 lim)
{
	if (!wk || !sp || !win)
		return WALK_STALL;
	switch (wk->state) {
	case W_OPS:
		/* Ops that need no bytes (END, ARR_END) run even at the limit. */
		if (wdiff(lim, wk->pos) < 0)
			return WALK_STALL;
		return wop(wk, sp, win, lim);
	case W_TAGS:
		if (wdiff(lim, wk->pos) <= 0)
			return WALK_STALL;
		return wtag(wk, win, lim);
	case W_BATCH:
		if (wdiff(lim, wk->pos) < 0)
			return WALK_STALL;
		/* At the limit, only the end of the records blob can be told. */
		if (wdiff(lim, wk->pos) == 0 && wdiff(wk->pos, wk->rec_end) < 0)
			return WALK_STALL;
		return wbatch(wk, win, lim);
	case W_KEEP:
		if (wdiff(wk->until, lim) > 0)
			return WALK_STALL;	/* runs past this segment */
		wk->pos = wk->until;
		if (wk->next_state == W_SKIP)
			return WALK_HOLE;
		wk->state = wk->next_state;
		return WALK_MORE;
	case W_SKIP:
		if (wdiff(wk->until, lim) > 0)
			return WALK_STALL;
		wk->pos = wk->until;
		wk->state = W_BATCH;
		return WALK_MORE;
	}
	return WALK_STALL;	/* W_DONE, W_FAILED, W_SENT */
}

/*
 * Walk from the cursor as far as the window, the segment (lim: the end of
 * this segment's part of the frame) and the op budget allow. Returns
 * WALK_MORE, WALK_WINDOW (never at lim), WALK_HOLE or WALK_STALL.
 */
__attribute__((noinline)) int kt_walk_ops(struct kt_walker *wk, const struct kt_sprog *sp,
					  const struct kt_win *win, __u32 lim)
{
	int i, r;

	if (!wk || !sp || !win)
		return WALK_STALL;
	for (i = 0; i < WALK_OPS; i++) {
		r = kt_walk_step(wk, sp, win, lim);
		if (r == WALK_MORE)
			continue;
		if (r == WALK_CARRY || (r == WALK_WINDOW && wdiff(lim, wk->pos) <= 0))
			return wcarry(wk, win, lim);
		return r;
	}
	return WALK_MORE;
}

#endif
