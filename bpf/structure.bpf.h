/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * STRUCTURE capture: walk a frame's body with its schema program (struct
 * kt_sprog, generated from the specs), across any number of segments, and
 * send everything except record bodies: every field's bytes, and of each
 * record batch its header only. No key, value or header byte of a record
 * is ever copied out.
 *
 * The walker is a state machine in the `walks` map: a cursor in TCP
 * sequence space, a pc into the program, array counters, and a small carry
 * for a field split over segments. Kept bytes form runs that are sent as
 * KT_EV_DATA chunks when a hole (record bytes) starts and at the end of
 * each segment; one bpf_loop step does one op or sends one chunk.
 *
 * Included by kafkatap.bpf.c after its emitters.
 */
#ifndef KAFKATAP_STRUCTURE_BPF_H
#define KAFKATAP_STRUCTURE_BPF_H

#define VARINT_MAX 5
#define PEEK_MAX 24
#define PEEK_BUF 64	/* masked offset (< 32) + length (< 32) stay inside */

/* The end of this segment's part of the walked frame. */
static __always_inline __u32 wlim(struct __sk_buff *skb, const struct wseg *w, struct walker *wk)
{
	return seq_min(w->seg_end, wk->frame_end);
}

/* Bytes available at the cursor before the limit, the carry included. */
static __always_inline __u32 wavail(struct __sk_buff *skb, const struct wseg *w, struct walker *wk)
{
	__s32 d = seq_diff(wlim(skb, w, wk), wk->pos);

	return d > 0 ? d : 0;
}

/*
 * Copy n (<= PEEK_MAX) bytes at the cursor into buf: the carry holds the
 * bytes before this segment ([pos, seg_seq)), the skb the rest.
 */
static __always_inline int wread(struct __sk_buff *skb, const struct wseg *w, struct walker *wk, __u32 n, __u8 *buf)
{
	__u32 c = 0, rest, from, i;

	if (seq_diff(w->seg_seq, wk->pos) > 0)
		c = w->seg_seq - wk->pos;
	if (c > n)
		c = n;
	/* Keep the bound visible to the verifier (clang knows it otherwise). */
	barrier_var(c);
	if (c > PEEK_MAX)
		return -1;
	for (i = 0; i < PEEK_MAX; i++) {
		if (i >= c)
			break;
		buf[i & 31] = wk->carry[(wk->carry_off + i) & (WALK_CARRY - 1)];
	}
	rest = n - c;
	from = wk->pos + c;
	if (rest > PEEK_MAX)
		return -1;
	barrier_var(rest);
	rest &= 31;
	barrier_var(c);
	c &= 31;
	if (rest && bpf_skb_load_bytes(skb, w->payload_off + (from - w->seg_seq),
				       buf + c, rest))
		return -1;
	return 0;
}

static __always_inline void wadvance(struct __sk_buff *skb, const struct wseg *w, struct walker *wk, __u32 n)
{
	wk->pos += n;
	if (seq_diff(wk->pos, w->seg_seq) >= 0) {
		wk->carry_off = wk->carry_len = 0;
	} else {
		wk->carry_off += n;
	}
}

/*
 * The field at the cursor runs past this segment: keep its bytes so far in
 * the carry (compacted to its start) and wait for the next segment.
 */
static __always_inline int wstall(struct __sk_buff *skb, const struct wseg *w, struct walker *wk)
{
	__u32 old = wk->carry_len - wk->carry_off, from, n, i;
	__s32 d;

	if (old && wk->carry_off) {
		for (i = 0; i < WALK_CARRY; i++) {
			if (i >= old)
				break;
			wk->carry[i] = wk->carry[(wk->carry_off + i) & (WALK_CARRY - 1)];
		}
	}
	from = seq_diff(wk->pos, w->seg_seq) > 0 ? wk->pos : w->seg_seq;
	d = seq_diff(wlim(skb, w, wk), from);
	n = d > 0 ? d : 0;
	if (old >= WALK_CARRY || n >= WALK_CARRY || old + n >= WALK_CARRY)
		return -1;
	barrier_var(n);
	n &= WALK_CARRY - 1;
	barrier_var(old);
	old &= WALK_CARRY - 1;
	if (n && bpf_skb_load_bytes(skb, w->payload_off + (from - w->seg_seq),
				    &wk->carry[old], n))
		return -1;
	wk->carry_off = 0;
	wk->carry_len = old + n;
	wk->carry_seq = wk->pos;
	return 0;
}

/* Peek a uvarint (<= 5 bytes). 1: got it, 0: wait for more, -1: bad. */
static __always_inline int wvarint(struct __sk_buff *skb, const struct wseg *w, struct walker *wk, __u32 *val, __u32 *len)
{
	__u8 b[PEEK_BUF] = {};
	__u32 have = wavail(skb, w, wk), n, i, v = 0;

	n = have < VARINT_MAX ? have : VARINT_MAX;
	if (!n)
		return 0;
	if (wread(skb, w, wk, n, b))
		return -1;
	for (i = 0; i < VARINT_MAX; i++) {
		if (i >= n)
			break;
		v |= (__u32)(b[i] & 0x7f) << (7 * i);
		if (!(b[i] & 0x80)) {
			*val = v;
			*len = i + 1;
			return 1;
		}
	}
	if (n == VARINT_MAX)
		return -1;		/* longer than an int32 varint */
	return seq_diff(wk->frame_end, wk->pos + n) > 0 ? 0 : -1;
}

/* Peek n fixed bytes. 1: got them, 0: wait for more, -1: past the frame. */
static __always_inline int wfixed(struct __sk_buff *skb, const struct wseg *w, struct walker *wk, __u32 n, __u8 *b)
{
	if (seq_diff(wk->frame_end, wk->pos + n) < 0)
		return -1;
	if (wavail(skb, w, wk) < n)
		return 0;
	return wread(skb, w, wk, n, b) ? -1 : 1;
}

static __always_inline __u32 be32(const __u8 *b)
{
	return (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
}

/* Keep the next n bytes (strings, tagged data), then go to `next`. */
static __always_inline void wkeep(struct walker *wk, __u32 n, __u8 next)
{
	wk->until = wk->pos + n;
	wk->state = W_KEEP;
	wk->next_state = next;
}

static __always_inline void wfail(struct walker *wk)
{
	wk->fail_state = wk->state;
	wk->fail_pc = wk->pc;
	wk->state = W_FAILED;
	cnt_inc(KT_C_WALK_FAILED);
}

/* A length-prefixed field: n < 0 is null. Then keep its bytes. */
static __always_inline void wfield(struct walker *wk, __s64 n)
{
	if (n < -1 || seq_diff(wk->frame_end, wk->pos + (n > 0 ? n : 0)) < 0) {
		wfail(wk);
		return;
	}
	wk->pc++;
	wkeep(wk, n > 0 ? n : 0, W_OPS);
}

static __always_inline void warray(struct walker *wk, __s64 n, __u16 after)
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

static __always_inline void wrecords(struct walker *wk, __s64 n)
{
	if (n < -1 || seq_diff(wk->frame_end, wk->pos + (n > 0 ? n : 0)) < 0) {
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

/* Interpret the op at pc. Returns 1 when the segment is used up. */
static __always_inline int wop(struct __sk_buff *skb, const struct wseg *w, struct walker *wk, const struct kt_sprog *sp)
{
	const struct kt_sop_insn *in = &sp->ops[wk->pc & (KT_SPROG_MAX - 1)];
	__u8 b[PEEK_BUF] = {};
	__u32 v = 0, l = 0;
	int r;

	if (wk->pc >= sp->len) {
		wfail(wk);
		return 0;
	}
	switch (in->op) {
	case KT_SOP_END:
		if (wk->pos == wk->frame_end) {
			wk->state = W_DONE;
		} else {
			wfail(wk);
		}
		return 0;
	case KT_SOP_SKIP:
		if (seq_diff(wk->frame_end, wk->pos + in->arg) < 0) {
			wfail(wk);
			return 0;
		}
		wk->pc++;
		wkeep(wk, in->arg, W_OPS);
		return 0;
	case KT_SOP_STR16:
	case KT_SOP_BYTES32:
	case KT_SOP_ARR32:
	case KT_SOP_RECORDS32:
		l = in->op == KT_SOP_STR16 ? 2 : 4;
		r = wfixed(skb, w, wk, l, b);
		if (r <= 0)
			goto wait;
		v = l == 2 ? (__u32)(__s32)(__s16)(b[0] << 8 | b[1]) : be32(b);
		wadvance(skb, w, wk, l);
		if (in->op == KT_SOP_ARR32)
			warray(wk, (__s32)v, in->arg);
		else if (in->op == KT_SOP_RECORDS32)
			wrecords(wk, (__s32)v);
		else
			wfield(wk, (__s32)v);
		return 0;
	case KT_SOP_CSTR:
	case KT_SOP_CBYTES:
	case KT_SOP_CARR:
	case KT_SOP_CRECORDS:
	case KT_SOP_TAGGED:
		r = wvarint(skb, w, wk, &v, &l);
		if (r <= 0)
			goto wait;
		wadvance(skb, w, wk, l);
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
		return 0;
	case KT_SOP_ARR_END:
		if (!wk->depth) {
			wfail(wk);
			return 0;
		}
		if (--wk->count[(wk->depth - 1) & (KT_WALK_DEPTH - 1)]) {
			wk->pc = in->arg;
		} else {
			wk->depth--;
			wk->pc++;
		}
		return 0;
	}
	wfail(wk);
	return 0;
wait:
	if (r < 0)
		wfail(wk);
	else if (wstall(skb, w, wk))
		wfail(wk);
	else
		return 1;
	return 0;
}

/* One tagged field: tag and size varints, then keep its data. */
static __always_inline int wtag(struct __sk_buff *skb, const struct wseg *w, struct walker *wk)
{
	__u32 tag = 0, tl = 0, size = 0, sl = 0;
	int r;

	r = wvarint(skb, w, wk, &tag, &tl);
	if (r > 0) {
		/* Read past the tag without consuming it yet: both must be here. */
		wk->pos += tl;
		if (wk->carry_len)
			wk->carry_off += tl;
		r = wvarint(skb, w, wk, &size, &sl);
		wk->pos -= tl;
		if (wk->carry_len)
			wk->carry_off -= tl;
	}
	if (r <= 0) {
		if (r < 0 || wstall(skb, w, wk)) {
			wfail(wk);
			return 0;
		}
		return 1;
	}
	wadvance(skb, w, wk, tl + sl);
	if (size > wk->frame_end - wk->pos) {
		wfail(wk);
		return 0;
	}
	if (--wk->tags_left == 0)
		wk->pc++;
	wkeep(wk, size, wk->tags_left ? W_TAGS : W_OPS);
	return 0;
}

/* At a record batch: keep its header, skip its records. */
static __always_inline int wbatch(struct __sk_buff *skb, const struct wseg *w, struct walker *wk)
{
	__u8 b[PEEK_BUF] = {};
	__u32 rem, keep, total, len;
	int r;

	if (seq_diff(wk->pos, wk->rec_end) >= 0) {
		wk->state = W_OPS;
		wk->pc++;
		return 0;
	}
	rem = wk->rec_end - wk->pos;
	if (rem < 17) {
		/* A fragment of a header at the end (Fetch may cut batches). */
		wkeep(wk, rem, W_BATCH);
		return 0;
	}
	r = wfixed(skb, w, wk, 17, b);
	if (r <= 0) {
		if (r < 0 || wstall(skb, w, wk)) {
			wfail(wk);
			return 0;
		}
		return 1;
	}
	len = be32(b + 8);
	if (b[16] == 2 && len >= KT_BATCH_HEADER - 12) {
		keep = KT_BATCH_HEADER;
	} else if (b[16] < 2 && len >= (b[16] ? 22 : 14)) {
		/* Legacy message set: a message is at least 14 (magic 0) or 22 bytes. */
		keep = KT_LEGACY_HEADER;
	} else {
		wfail(wk);
		return 0;
	}
	cnt_inc(KT_C_WALK_BATCHES);
	total = 12 + len;
	if (total < len || total > rem)
		total = rem;		/* the last batch may be cut short */
	if (keep > rem)
		keep = rem;
	wk->skip_to = wk->pos + total;
	wkeep(wk, keep, W_SKIP);
	return 0;
}

enum walk_result {
	WALK_MORE = 0,	/* did a step; call again */
	WALK_STALL,	/* this segment's part of the frame is used up */
	WALK_HOLE,	/* the kept run ends at pos: send it, then skip to skip_to */
};

/*
 * One step of the interpreter. A global function: the verifier checks it
 * once, on its own, instead of once per state of the frame tracker that
 * calls it (which would not fit its budget). Its arguments are the skb,
 * the walker and program (map memory) and a segment of scalars.
 */
__attribute__((noinline)) int kt_walk_step(struct __sk_buff *skb, const struct wseg *w,
					   struct walker *wk, const struct kt_sprog *sp)
{
	__u32 lim;

	if (!skb || !w || !wk || !sp)
		return WALK_STALL;
	lim = wlim(skb, w, wk);
	/* Ops that need no bytes (END, ARR_END) run even at the limit. */
	switch (wk->state) {
	case W_OPS:
		return seq_diff(lim, wk->pos) >= 0 && !wop(skb, w, wk, sp) ? WALK_MORE : WALK_STALL;
	case W_TAGS:
		return seq_diff(lim, wk->pos) >= 0 && !wtag(skb, w, wk) ? WALK_MORE : WALK_STALL;
	case W_BATCH:
		return seq_diff(lim, wk->pos) >= 0 && !wbatch(skb, w, wk) ? WALK_MORE : WALK_STALL;
	case W_KEEP:
		if (seq_diff(wk->until, lim) > 0)
			return WALK_STALL;	/* runs past this segment */
		wadvance(skb, w, wk, wk->until - wk->pos);
		if (wk->next_state == W_SKIP) {
			wk->state = W_HOLE;
			return WALK_HOLE;
		}
		wk->state = wk->next_state;
		return WALK_MORE;
	case W_HOLE:
		return WALK_HOLE;
	}
	return WALK_STALL;	/* W_DONE, W_FAILED, W_SENT */
}

/*
 * Send the kept run [keep_from, to), one chunk per call. Returns 1 while
 * there is more to send.
 */
static __always_inline int wflush(struct walk *w, struct walker *wk, __u32 to, __u16 last)
{
	__u32 from = wk->keep_from, n;
	__u16 flags = 0;

	if (seq_diff(w->seg.seg_seq, from) > 0) {
		/*
		 * Kept bytes from before this segment: only a frame's body that
		 * began in a carried head; they are in the walker's carry.
		 */
		__u32 idx = from - wk->carry_seq;

		n = seq_min(to, w->seg.seg_seq) - from;
		if (idx >= WALK_CARRY || n > WALK_CARRY) {
			wk->keep_from = w->seg.seg_seq;	/* cannot happen */
			return 1;
		}
		barrier_var(idx);
		idx &= WALK_CARRY - 1;
		barrier_var(n);
		n &= 2 * WALK_CARRY - 1;
		if (n > WALK_CARRY)
			return 0;
		bpf_probe_read_kernel(w->sc->data.data, n, &wk->carry[idx]);
		goto send;
	}
	if (seq_diff(to, from) <= 0) {
		/* The end mark alone; it may follow skipped record bytes. */
		if (last)
			emit_data(w->sc, wk->frame_seq, from - wk->frame_seq, 0,
				  last | (wk->after_hole ? KT_DF_AFTER_HOLE : 0),
				  (__u32)wk->fail_pc << 16 | (__u32)wk->fail_state);
		return 0;
	}
	n = to - from;
	if (n > KT_CHUNK_MAX)
		n = KT_CHUNK_MAX;
	barrier_var(n);
	n &= 2 * KT_CHUNK_MAX - 1;
	if (n == 0 || n > KT_CHUNK_MAX ||
	    bpf_skb_load_bytes(w->skb, w->seg.payload_off + (from - w->seg.seg_seq), w->sc->data.data, n)) {
		wk->keep_from = to;
		return 0;
	}
send:
	if (wk->after_hole)
		flags |= KT_DF_AFTER_HOLE;
	wk->after_hole = 0;
	wk->keep_from = from + n;
	if (from + n == to)
		flags |= last;
	emit_data(w->sc, wk->frame_seq, from - wk->frame_seq, n, flags,
		  flags & KT_DF_WALK_FAILED ? (__u32)wk->fail_pc << 16 | wk->fail_state : 0);
	return from + n != to;
}

/*
 * One step of the walk of the current frame in this segment. Sets w->seg.p to
 * the end of this segment's part of the frame once all of it is done.
 */
static __always_inline void struct_step(struct walk *w)
{
	struct walker *wk = w->wk;
	__u32 lim;
	int r;

	if (!wk->valid || wk->frame_seq != w->st->frame_seq) {
		w->seg.p = seq_min(w->seg.seg_end, w->st->frame_end);	/* walk lost (LRU) */
		return;
	}
	lim = seq_min(w->seg.seg_end, wk->frame_end);
	if (w->wdone) {
		/* This segment is walked: send the rest of the kept run. */
		if (!wflush(w, wk, w->wflush_to, w->wlast))
			w->seg.p = lim;
		return;
	}
	r = kt_walk_step(w->skb, &w->seg, wk, w->sp);
	if (r == WALK_MORE)
		return;
	if (r == WALK_HOLE) {
		/* Send what is kept before the record bytes, then jump them. */
		if (wflush(w, wk, wk->pos, 0))
			return;
		wk->pos = wk->skip_to;
		wk->keep_from = wk->skip_to;
		wk->carry_off = wk->carry_len = 0;
		wk->after_hole = 1;
		wk->state = W_BATCH;
		return;
	}
	/* Done with this segment's part: send what is kept up to here. */
	w->wdone = 1;
	w->wlast = 0;
	if (wk->state == W_DONE || wk->state == W_FAILED) {
		w->wflush_to = wk->state == W_DONE ? wk->pos : wk->keep_from;
		w->wlast = KT_DF_LAST | (wk->state == W_FAILED ? KT_DF_WALK_FAILED : 0);
		wk->state = W_SENT;	/* nothing more for this frame */
	} else if (wk->state == W_SENT) {
		w->wflush_to = wk->keep_from;
	} else {
		w->wflush_to = seq_diff(wk->keep_from, lim) < 0 ? lim : wk->keep_from;
	}
}

/*
 * Start walking the frame just parsed. Of the `carried` head bytes, the
 * caller sends those before the body (the returned count); the body's go
 * through the walk.
 */
static __always_inline __u32 struct_begin(struct scratch *sc, struct kt_stream *st,
					  struct head *hd, __u32 carried)
{
	struct kt_sprog_key key = {
		.api_key = hd->api_key,
		.api_version = hd->api_version,
		.dir = st->dir,
	};
	struct walker *wk;
	__u32 body, n;

	/* Reuse the stream's walker in place: pointers to it stay valid. */
	wk = bpf_map_lookup_elem(&walks, &sc->key);
	if (!wk) {
		__builtin_memset(&sc->walker, 0, sizeof(sc->walker));
		if (bpf_map_update_elem(&walks, &sc->key, &sc->walker, BPF_ANY))
			return 0;
		wk = bpf_map_lookup_elem(&walks, &sc->key);
		if (!wk)
			return 0;
	}
	__builtin_memset(wk, 0, offsetof(struct walker, carry));
	body = st->dir == KT_DIR_REQ ? 14 + (hd->client_id_len > 0 ? hd->client_id_len : 0) : 8;
	wk->key = key;
	wk->valid = 1;
	wk->frame_seq = st->frame_seq;
	wk->frame_end = st->frame_end;
	wk->pos = wk->frame_seq + body;
	wk->keep_from = wk->frame_seq + carried;
	st->structure = 1;
	if (body >= carried)
		return carried;
	/* The body starts inside the carried head: the walk gets those bytes. */
	wk->keep_from = wk->pos;
	wk->carry_seq = wk->pos;
	n = carried - body;
	barrier_var(n);
	n &= WALK_CARRY - 1;
	barrier_var(body);
	body &= KT_HEAD_MAX - 1;
	bpf_probe_read_kernel(wk->carry, n, &sc->head[body]);
	wk->carry_len = n;
	return body;
}

#endif
