/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Frame tracking, not reassembly. Per direction of a connection the state
 * holds the TCP sequence number where the next Kafka frame starts; only a
 * frame head split across segments is carried (at most KT_HEAD_MAX bytes,
 * in `carry`). Each frame gets one record, sent once the packet's part of
 * the frame is done, holding the frame's captured bytes found in that
 * packet as runs; later packets of the frame send data records.
 *
 * Two paths. The fast one (kt_fast(), called by the entry points before
 * anything else) takes an in-order segment that ends before anything is
 * to be reported or captured (d->until): it only moves next_seq. The exact
 * one (kt_track()) handles everything else: frame heads, captures, walks,
 * SYN/FIN/RST, gaps, retransmissions, overlaps, resynchronisation, holes
 * filled late, heads split over segments; it resumes at the first frame
 * the fast path did not finish and leaves d->until for the next packet.
 *
 * Bytes are read through the packet (bpf_skb_load_bytes, which reaches
 * non-linear data); the global functions (kt_head(), kt_walk_ops()) read
 * only the per-CPU scratch area, so they are verified once, on their own.
 */
#ifndef KAFKATAP_TRACK_BPF_H
#define KAFKATAP_TRACK_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "emit.bpf.h"
#include "head.bpf.h"
#include "maps.bpf.h"
#include "packet.bpf.h"
#include "types.bpf.h"
#include "walk.bpf.h"

#ifndef KT_MAX_STEPS
#define KT_MAX_STEPS (1 << 17)	/* loop steps per skb; 512 KiB of tiny frames */
#endif

#define KT_CAP_WALK 0xffffffffu	/* capture_len(): STRUCTURE was asked */

static __always_inline __s32 seq_diff(__u32 a, __u32 b)
{
	return (__s32)(a - b);
}

static __always_inline __u32 seq_min(__u32 a, __u32 b)
{
	return seq_diff(a, b) < 0 ? a : b;
}

/*
 * The packet's own stamp when the stack set a monotonic one (TC: a TCP
 * segment on its way out), else 0: the clock is read when a record needs
 * a time, once per packet at most. (A cgroup program may not read
 * tstamp_type: it always reads the clock.)
 */
static __always_inline __u64 pkt_stamp(struct __sk_buff *skb, bool tc)
{
	if (tc && skb->tstamp_type == BPF_SKB_TSTAMP_DELIVERY_MONO)
		return skb->tstamp;
	return 0;
}

static __always_inline __u64 seg_time(struct kt_seg *seg)
{
	if (!seg->ts)
		seg->ts = bpf_ktime_get_ns();
	return seg->ts;
}

/* Bytes of the current frame's capture to send, from policy and size. */
static __always_inline __u32 capture_len(__s16 api_key, __u8 dir, __u32 frame_len)
{
	__u32 k = api_key, mode, limit;
	struct kt_policy *pol;

	if (api_key < 0 || api_key == KT_API_SASL_AUTHENTICATE)
		return 0;	/* credentials never leave the kernel */
	pol = bpf_map_lookup_elem(&policy, &k);
	if (!pol)
		return 0;
	mode = dir == KT_DIR_REQ ? pol->req_mode : pol->resp_mode;
	limit = dir == KT_DIR_REQ ? pol->req_limit : pol->resp_limit;
	if (mode == KT_CAP_HEADER)
		return 0;
	if (mode == KT_CAP_STRUCTURE)
		return KT_CAP_WALK;	/* the caller looks for a walk program */
	return limit < frame_len ? limit : frame_len;
}

/* The STRUCTURE program of (dir, api_key, api_version): its index, 0 none. */
static __always_inline __u32 sprog_of(__u8 dir, __s16 api_key, __s16 api_version)
{
	__u32 k;
	__u8 *ix;

	if (api_key < 0 || api_key >= KT_API_MAX || api_version < 0 ||
	    api_version >= KT_SPROG_VERSIONS_MAX)
		return 0;
	k = ((__u32)dir * KT_API_MAX + api_key) * KT_SPROG_VERSIONS_MAX + api_version;
	ix = bpf_map_lookup_elem(&sprog_index, &k);
	return ix ? *ix : 0;
}

/* Find and free the ring slot (or the spilled entry) of this response's request. */
static __always_inline bool ring_take(struct kt_cstate *cs, struct kt_scratch *sc,
				      struct head *hd)
{
	struct kt_inflight *sp;
	int i;

#pragma unroll
	for (i = 0; i < KT_INFLIGHT; i++) {
		struct kt_inflight *sl = &cs->ring[i];

		if (sl->id1 == (__u32)hd->correlation_id + 1) {
			hd->api_key = sl->api_key;
			hd->api_version = sl->api_version;
			sl->id1 = 0;
			return true;
		}
	}
	if (!(cs->flags & KT_CS_SPILLED))
		return false;
	sc->spk.conn_id = cs->id;
	sc->spk.correlation_id = hd->correlation_id;
	sc->spk._pad = 0;
	sp = bpf_map_lookup_elem(&spill, &sc->spk);
	if (!sp)
		return false;
	hd->api_key = sp->api_key;
	hd->api_version = sp->api_version;
	bpf_map_delete_elem(&spill, &sc->spk);
	return true;
}

/* Remember a request; a slot still in flight moves to the spill map. */
static __always_inline void ring_put(struct kt_cstate *cs, struct kt_scratch *sc,
				     struct head *hd)
{
	struct kt_inflight *sl = &cs->ring[cs->ring_next++ & (KT_INFLIGHT - 1)];

	if (sl->id1) {
		sc->spk.conn_id = cs->id;
		sc->spk.correlation_id = sl->id1 - 1;
		sc->spk._pad = 0;
		if (!bpf_map_update_elem(&spill, &sc->spk, sl, BPF_ANY))
			cs->flags |= KT_CS_SPILLED;
		cnt_inc(KT_C_INFLIGHT_SPILLED);
	}
	sl->id1 = (__u32)hd->correlation_id + 1;
	sl->api_key = hd->api_key;
	sl->api_version = hd->api_version;
}

static __always_inline void dkey_of(struct kt_scratch *sc, const struct kt_cstate *cs, __u8 dir)
{
	sc->dkey.conn_id = cs->id;
	sc->dkey.dir = dir;
	sc->dkey._pad = 0;
}

/* Append a run to the pending record; -1 when it has no room (not added). */
static __always_inline int pend_add(struct kt_pending *pd, __u32 seq, __u32 len, __u16 flags)
{
	__u32 i = pd->nruns;

	if (i >= KT_RUNS_MAX || pd->bytes + len > KT_CHUNK_MAX)
		return -1;
	pd->runs[i & (KT_RUNS_MAX - 1)].seq = seq;
	pd->runs[i & (KT_RUNS_MAX - 1)].len = len;
	pd->runs[i & (KT_RUNS_MAX - 1)].flags = flags;
	pd->nruns = i + 1;
	pd->bytes += len;
	return 0;
}

/*
 * At a frame start (ws->p at d->frame_end), with the head's bytes in
 * sc->head (ws->carried from the carry map, ws->nload from the packet):
 * parse it, report the frame (its record pending in sc->pend), start its
 * capture or walk. Returns 1 to stop walking this segment.
 */
__attribute__((noinline)) int kt_head(struct kt_cstate *cs, struct kt_scratch *sc,
				      struct kt_seg *ws, const struct pkt *pk)
{
	struct kt_dstate *d;
	struct kt_pending *pd;
	struct head hd = {};
	__u32 n, frame_len, cap, sprog = 0;
	__u8 dir;
	int r;

	if (!cs || !sc || !ws || !pk)
		return 1;
	dir = ws->dir & 1;
	d = &cs->d[dir];
	pd = &sc->pend;
	if (ws->late && seq_diff(ws->p, ws->late_end) >= 0)
		return 1;	/* past the hole: these frames were seen */
	n = ws->carried + ws->nload;
	if (dir == KT_DIR_REQ)
		r = parse_req_head(sc->head, n, &hd, ws->resyncing);
	else
		r = parse_resp_head(sc->head, n, &hd, ws->resyncing);

	if (r == HEAD_NEED_MORE) {
		if (ws->resyncing || ws->late) {
			ws->p = ws->seg_end;
			return 1;	/* these want the head in one segment */
		}
		dkey_of(sc, cs, dir);
		if (bpf_map_update_elem(&carry, &sc->dkey, &sc->head[KT_HOFF], BPF_ANY))
			goto lost;
		d->flags |= KT_DS_CARRY;
		cnt_inc(KT_C_CARRIES);
		ws->p = ws->seg_end;
		return 1;
	}
	if (r == HEAD_BAD) {
		if (!ws->resyncing)
			cnt_inc(hd.bad_counter);
		goto lost;
	}
	if (ws->carried) {
		dkey_of(sc, cs, dir);
		bpf_map_delete_elem(&carry, &sc->dkey);
		d->flags &= ~KT_DS_CARRY;
	}
	if (r == HEAD_SKIP) {
		cnt_inc(hd.bad_counter);
		d->frame_seq = d->frame_end;
		d->frame_end = d->frame_seq + hd.size + 4;
		d->cap_end = d->frame_seq;
		d->flags &= ~KT_DS_WALK;
		return 0;
	}

	if (dir == KT_DIR_RESP) {
		/* The request ring: what this response answers. */
		if (ring_take(cs, sc, &hd))
			hd.flags |= KT_FF_API_KNOWN;
		else if (ws->resyncing)
			return 1;	/* responses resync on a request in flight only */
		else
			cnt_inc(KT_C_RESP_UNMATCHED);
	}
	if (ws->resyncing) {
		hd.flags |= KT_FF_RESYNC;
		ws->resyncing = 0;
		ws->resynced = 1;
	}

	frame_len = hd.size + 4;
	d->frame_seq = d->frame_end;
	d->frame_end = d->frame_seq + frame_len;
	d->flags &= ~KT_DS_WALK;
	cap = capture_len(hd.api_key, dir, frame_len);
	if (ws->late) {
		/* Later frames' captures may be under way: this one reports only. */
		cap = 0;
		hd.flags |= KT_FF_LATE;
		cnt_inc(KT_C_LATE_FRAMES);
	}
	if (cap == KT_CAP_WALK) {
		/* Without a program for this version nothing is captured. */
		sprog = sprog_of(dir, hd.api_key, hd.api_version);
		cap = sprog ? frame_len : 0;
		if (cap)
			hd.flags |= KT_FF_STRUCTURE;
	}
	if (hd.api_key == KT_API_SASL_AUTHENTICATE) {
		hd.flags |= KT_FF_SASL_REDACTED;
		cnt_inc(KT_C_SASL_REDACTED);
	}
	d->cap_end = d->frame_seq + (sprog ? 0 : cap);
	if (dir == KT_DIR_REQ)
		ring_put(cs, sc, &hd);

	/* The records: the connection, a new client_id, then this frame's. */
	pd->nruns = 0;
	pd->bytes = 0;
	pd->frame_seq = d->frame_seq;
	pd->dir = dir;
	pd->fr.type = 0;
	pd->dropped = 1;
	if (announce(cs, pk, dir) ||
	    (dir == KT_DIR_REQ && client_id_sync(cs, sc->head, hd.client_id_len))) {
		cap = 0;	/* not reported: nothing to capture for it */
		d->cap_end = d->frame_seq;
		goto out;
	}
	pd->dropped = 0;
	pd->fr.type = dir == KT_DIR_REQ ? KT_EV_REQUEST : KT_EV_RESPONSE;
	pd->fr.version = KT_FORMAT_VERSION;
	pd->fr.flags = hd.flags | (cap ? KT_FF_CAPTURE : 0);
	pd->fr.size = hd.size;
	pd->fr.conn_id = cs->id;
	pd->fr.ts_ns = ws->ts;
	pd->fr.frame_seq = d->frame_seq;
	pd->fr.correlation_id = hd.correlation_id;
	pd->fr.api_key = hd.api_key;
	pd->fr.api_version = hd.api_version;
	pd->fr.acks = hd.acks;
	pd->fr.nruns = 0;
	pd->fr._pad = 0;
	pd->fr.capture_len = cap;
	pd->fr.walk_info = 0;

	if (sprog) {
		struct kt_walker *wk = &sc->walker;

		__builtin_memset(wk, 0, offsetof(struct kt_walker, carry));
		wk->valid = 1;
		wk->sprog = sprog;
		wk->frame_seq = d->frame_seq;
		wk->frame_end = d->frame_end;
		wk->pos = d->frame_seq + (dir == KT_DIR_REQ ?
			  KT_OFF_CLIENT_ID + (hd.client_id_len > 0 ? hd.client_id_len : 0) :
			  KT_RESP_HEAD);
		wk->keep_from = d->frame_seq;
		d->flags |= KT_DS_WALK;
	} else if (cap && ws->carried) {
		/* The carried bytes are the frame's first: capture them from the head. */
		__u32 len = ws->carried < cap ? ws->carried : cap;

		pend_add(pd, d->frame_seq, len, KT_RUN_HEAD | (len == cap ? KT_DF_LAST |
			 (cap < frame_len ? KT_DF_TRUNCATED : 0) : 0));
	}
out:
	/* A head's bytes are the frame's; SaslAuthenticate's go no further. */
	if (hd.api_key == KT_API_SASL_AUTHENTICATE)
		__builtin_memset(sc->head, 0, sizeof(sc->head));
	ws->head_seq = d->frame_seq;
	ws->head_len = hd.api_key == KT_API_SASL_AUTHENTICATE ? 0 : n;
	return 0;

lost:
	d->state = KT_ST_UNSYNC;
	ws->p = ws->seg_end;
	return 1;
}

/* The loop's context (bpf_loop), on the entry point's stack. */
struct kt_walk {
	struct __sk_buff *skb;
	const struct pkt *pk;
	struct kt_cstate *cs;
	struct kt_scratch *sc;
	/*
	 * Never NULL (the verifier widens a NULL kept across bpf_loop steps
	 * into an unknown scalar): "none" is the scratch area's walker with
	 * valid == 0 and program 0 (all zero: the program of no version).
	 */
	struct kt_walker *wk;
	const struct kt_sprog *sp;
	struct kt_seg *seg;		/* in the scratch area */
};

/* Copy `len` stream bytes at `seq` into dst: from the packet or the head. */
static __always_inline int copy_bytes(struct __sk_buff *skb, struct kt_scratch *sc,
				      const struct kt_seg *seg, __u8 *dst, __u32 seq, __u32 len,
				      bool from_head)
{
	__u32 off;

	if (!len)
		return 0;
	if (from_head) {
		off = seq - seg->head_seq;
		if (off >= KT_HEAD_MAX || len > KT_HEAD_MAX)
			return -1;
		barrier_var(off);
		off &= KT_HEAD_MAX - 1;
		barrier_var(len);
		len &= 2 * KT_HEAD_MAX - 1;
		if (len > KT_HEAD_MAX)
			return -1;
		return bpf_probe_read_kernel(dst, len, &sc->head[KT_HOFF + off]);
	}
	barrier_var(len);
	len &= 2 * KT_CHUNK_MAX - 1;
	if (!len || len > KT_CHUNK_MAX)
		return -1;
	return bpf_skb_load_bytes(skb, seg->payload_off + (seq - seg->seg_seq), dst, len);
}

/*
 * Send the pending record with its runs' bytes; the pending record is
 * emptied. A global function: verified once, not at each caller.
 */
__attribute__((noinline)) int kt_flush(struct __sk_buff *skb, struct kt_scratch *sc,
				       const struct kt_seg *seg)
{
	struct kt_pending *pd;
	__u32 off, i, hlen;
	__u8 type;

	if (!skb || !sc || !seg)
		return 0;
	pd = &sc->pend;
	type = pd->fr.type;
	if (!type || pd->dropped) {
		pd->fr.type = 0;
		pd->nruns = 0;
		pd->bytes = 0;
		return 0;
	}
	if (type != KT_EV_DATA && !pd->nruns) {
		/* Most frames: no capture here, the record written in place. */
		struct kt_rec_frame *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

		if (!r) {
			cnt_inc(KT_C_RB_FAIL);
			goto done;
		}
		pd->fr.nruns = 0;
		__builtin_memcpy(r, &pd->fr, sizeof(*r));
		bpf_ringbuf_submit(r, rb_flags(sizeof(*r)));
		cnt_inc(type == KT_EV_REQUEST ? KT_C_REQUESTS : KT_C_RESPONSES);
		goto done;
	}
	if (type == KT_EV_DATA) {
		struct kt_rec_data *dr = (struct kt_rec_data *)sc->out;

		if (!pd->nruns)
			goto done;
		dr->type = KT_EV_DATA;
		dr->version = KT_FORMAT_VERSION;
		dr->dir = pd->dir;
		dr->nruns = pd->nruns;
		dr->frame_seq = pd->frame_seq;
		dr->conn_id = pd->fr.conn_id;
		dr->walk_info = pd->fr.walk_info;
		dr->_pad = 0;
		hlen = sizeof(*dr);
	} else {
		pd->fr.nruns = pd->nruns;
		__builtin_memcpy(sc->out, &pd->fr, sizeof(pd->fr));
		hlen = sizeof(pd->fr);
	}
	off = hlen;
	for (i = 0; i < KT_RUNS_MAX; i++) {
		const struct kt_prun *pr = &pd->runs[i & (KT_RUNS_MAX - 1)];
		struct kt_run *run;
		__u32 len = pr->len;

		if (i >= pd->nruns)
			break;
		if (off > KT_REC_MAX - sizeof(*run) || len > KT_CHUNK_MAX)
			goto fail;
		barrier_var(off);
		off &= 0x1fff;
		run = (struct kt_run *)&sc->out[off];
		run->offset = pr->seq - pd->frame_seq;
		run->len = len;
		run->flags = pr->flags & ~KT_RUN_HEAD;
		off += sizeof(*run);
		barrier_var(off);
		off &= 0x1fff;
		if (copy_bytes(skb, sc, seg, &sc->out[off], pr->seq, len, pr->flags & KT_RUN_HEAD))
			goto fail;
		off += len;
	}
	barrier_var(off);
	if (off > KT_REC_MAX)
		goto fail;
	if (bpf_ringbuf_output(&events, sc->out, off, rb_flags(off))) {
		cnt_inc(KT_C_RB_FAIL);
	} else {
		if (type != KT_EV_DATA)
			cnt_inc(type == KT_EV_REQUEST ? KT_C_REQUESTS : KT_C_RESPONSES);
		if (pd->nruns)
			cnt_inc(KT_C_DATA_RECORDS);
	}
done:
	pd->fr.type = 0;
	pd->nruns = 0;
	pd->bytes = 0;
	return 0;
fail:
	cnt_inc(KT_C_RB_FAIL);	/* cannot happen: the bounds were kept */
	goto done;
}

static __always_inline void pend_flush(struct kt_walk *w)
{
	kt_flush(w->skb, w->sc, w->seg);
}

/*
 * Add the stream bytes [from, to) of the current frame to the pending
 * record as runs (bytes before the segment come from the carried head),
 * flushing it into a data record when it is full. Returns where it got
 * to: the caller calls again with the rest. first: flags of the first
 * run (AFTER_HOLE), last: of the last one (LAST, TRUNCATED, WALK_FAILED).
 */
static __always_inline __u32 pend_run(struct kt_walk *w, __u32 from, __u32 to,
				      __u16 first, __u16 last)
{
	struct kt_pending *pd = &w->sc->pend;
	__u32 end = to, room;
	__u16 flags = first;

	if (pd->dropped)
		return to;
	if (!pd->fr.type) {
		/* The frame began in an earlier packet: a data record. */
		pd->fr.type = KT_EV_DATA;
		pd->fr.walk_info = 0;
		pd->fr.conn_id = w->cs->id;
		pd->frame_seq = w->cs->d[w->seg->dir & 1].frame_seq;
		pd->dir = w->seg->dir;
		pd->nruns = 0;
		pd->bytes = 0;
	}
	if (seq_diff(from, w->seg->seg_seq) < 0) {
		/* Carried head bytes (the frame's first packet only). */
		end = seq_min(to, w->seg->seg_seq);
		flags |= KT_RUN_HEAD;
	}
	room = KT_CHUNK_MAX - pd->bytes;
	if (pd->nruns >= KT_RUNS_MAX || (!room && from != end)) {
		pend_flush(w);
		pd->fr.type = KT_EV_DATA;
		pd->fr.walk_info = 0;
		pd->fr.conn_id = w->cs->id;
		room = KT_CHUNK_MAX;
	}
	if (end - from > room)
		end = from + room;
	if (end == to)
		flags |= last;
	if (pend_add(pd, from, end - from, flags))
		return to;	/* cannot happen */
	return end;
}

/* Load the walk window at the walker's cursor: carried bytes, then the packet's. */
__attribute__((noinline)) int kt_win_load(struct __sk_buff *skb, struct kt_scratch *sc,
					  struct kt_walker *wk, const struct kt_seg *seg,
					  __u32 lim)
{
	struct kt_win *win;
	__u32 pos, n, c = 0, i;

	if (!skb || !sc || !wk || !seg)
		return -1;
	win = &sc->win;
	pos = wk->pos;

	n = seq_diff(lim, pos) > 0 ? lim - pos : 0;
	if (n > KT_WIN)
		n = KT_WIN;
	win->seq = pos;
	win->len = 0;
	if (seq_diff(seg->seg_seq, pos) > 0) {
		c = seg->seg_seq - pos;
		if (c > n)
			c = n;
		if (wk->carry_len && wk->carry_seq + wk->carry_len == seg->seg_seq &&
		    seq_diff(pos, wk->carry_seq) >= 0) {
			/* A field split over segments: its first bytes. */
			__u32 from = pos - wk->carry_seq;

			for (i = 0; i < WALKER_CARRY; i++) {
				if (i >= c)
					break;
				win->b[i & (2 * KT_WIN - 1)] =
					wk->carry[(from + i) & (WALKER_CARRY - 1)];
			}
		} else if (seq_diff(pos, seg->head_seq) >= 0 &&
			   seq_diff(pos + c, seg->head_seq + seg->head_len) <= 0) {
			/* The body begins in the carried head. */
			__u32 off = pos - seg->head_seq;

			barrier_var(off);
			off &= KT_HEAD_MAX - 1;
			barrier_var(c);
			c &= KT_WIN - 1;
			if (!c || bpf_probe_read_kernel(win->b, c, &sc->head[KT_HOFF + off]))
				return -1;
		} else {
			return -1;
		}
	}
	if (n > c) {
		__u32 len = n - c;

		barrier_var(c);
		c &= KT_WIN - 1;
		barrier_var(len);
		len &= 2 * KT_WIN - 1;
		if (!len || len > KT_WIN ||
		    bpf_skb_load_bytes(skb, seg->payload_off + (pos + c - seg->seg_seq),
				       &win->b[c], len))
			return -1;
	}
	win->len = n;
	return 0;
}

/* One step of the STRUCTURE walk of the current frame in this segment. */
static __always_inline void struct_step(struct kt_walk *w)
{
	struct kt_dstate *d = &w->cs->d[w->seg->dir & 1];
	struct kt_walker *wk = w->wk;
	__u32 lim = seq_min(w->seg->seg_end, d->frame_end), end;
	__u16 hole;
	int r;

	if (!wk->valid || wk->frame_seq != d->frame_seq) {
		/* A walk that began in an earlier packet. */
		struct kt_walker *mwk;
		const struct kt_sprog *sp;
		__u32 k;

		dkey_of(w->sc, w->cs, w->seg->dir);
		mwk = bpf_map_lookup_elem(&walks, &w->sc->dkey);
		k = mwk ? mwk->sprog : 0;
		sp = bpf_map_lookup_elem(&sprogs, &k);
		if (!mwk || !sp || !mwk->valid || mwk->frame_seq != d->frame_seq) {
			w->seg->p = lim;		/* walk lost (LRU) */
			d->flags &= ~KT_DS_WALK;
			return;
		}
		w->wk = wk = mwk;
		w->sp = sp;
	} else if (w->sp->len == 0 && wk->sprog) {
		__u32 k = wk->sprog;
		const struct kt_sprog *sp = bpf_map_lookup_elem(&sprogs, &k);

		if (!sp) {
			w->seg->p = lim;
			return;
		}
		w->sp = sp;
	}
	if (wk->state == W_SENT) {
		w->seg->p = lim;
		return;
	}
	r = kt_walk_ops(wk, w->sp, &w->sc->win, lim);
	if (r == WALK_MORE)
		return;
	if (r == WALK_WINDOW) {
		if (kt_win_load(w->skb, w->sc, wk, w->seg, lim))
			wfail(wk);
		return;
	}
	if (r == WALK_HOLE) {
		/* Send what is kept before the record bytes, then jump them. */
		hole = wk->after_hole ? KT_DF_AFTER_HOLE : 0;
		end = pend_run(w, wk->keep_from, wk->pos, hole, 0);
		if (end != wk->pos) {
			wk->keep_from = end;
			wk->after_hole = 0;
			return;
		}
		wk->keep_from = wk->skip_to;
		wk->after_hole = 1;
		wk->until = wk->skip_to;
		wk->state = W_SKIP;
		return;
	}
	/* Stalled: this segment's part is walked. */
	if (wk->state != W_DONE && wk->state != W_FAILED && wk->state != W_SENT &&
	    lim == d->frame_end)
		wfail(wk);		/* the frame ended before its schema did */
	hole = wk->after_hole ? KT_DF_AFTER_HOLE : 0;
	if (wk->state == W_DONE || wk->state == W_FAILED) {
		__u32 to = wk->state == W_DONE ? wk->pos : wk->keep_from;
		__u16 last = KT_DF_LAST | (wk->state == W_FAILED ? KT_DF_WALK_FAILED : 0);

		end = pend_run(w, wk->keep_from, to, hole, last);
		wk->after_hole = 0;
		wk->keep_from = end;
		if (end != to)
			return;
		if (wk->state == W_FAILED)
			w->sc->pend.fr.walk_info = (__u32)wk->fail_pc << 16 | wk->fail_state;
		wk->state = W_SENT;
		return;
	}
	if (wk->state != W_SENT && seq_diff(lim, wk->keep_from) > 0) {
		end = pend_run(w, wk->keep_from, lim, hole, 0);
		wk->after_hole = 0;
		wk->keep_from = end;
		if (end != lim)
			return;
	}
	w->seg->p = lim;
}

/* Inside a frame body: capture what the policy asks, walk, or skip. */
static __always_inline void body_step(struct kt_walk *w)
{
	struct kt_dstate *d = &w->cs->d[w->seg->dir & 1];
	__u32 end = seq_min(w->seg->seg_end, d->frame_end), cend;
	__u16 last = 0;

	if (d->flags & KT_DS_WALK) {
		struct_step(w);
		return;
	}
	if (seq_diff(d->cap_end, w->seg->p) <= 0) {
		w->seg->p = end;
		return;
	}
	cend = seq_min(end, d->cap_end);
	if (cend == d->cap_end)
		last = KT_DF_LAST | (d->cap_end != d->frame_end ? KT_DF_TRUNCATED : 0);
	w->seg->p = pend_run(w, w->seg->p, cend, 0, last);
}

/* At a frame start: assemble the head in the scratch area, then kt_head(). */
static __always_inline int head_step(struct kt_walk *w)
{
	struct kt_dstate *d = &w->cs->d[w->seg->dir & 1];
	struct kt_scratch *sc = w->sc;
	__u32 carried, avail, room, n_load;
	struct kt_carry *cr;

	/* The previous frame's record goes before this one's. */
	if (sc->pend.fr.type)
		pend_flush(w);
	carried = w->seg->p - d->frame_end;
	avail = w->seg->seg_end - w->seg->p;
	if (carried >= KT_HEAD_MAX)
		goto lost;
	if (carried) {
		dkey_of(sc, w->cs, w->seg->dir);
		cr = bpf_map_lookup_elem(&carry, &sc->dkey);
		if (!cr)
			goto lost;	/* evicted: the head is gone */
		__builtin_memcpy(&sc->head[KT_HOFF], cr->head, KT_HEAD_MAX);
	}
	room = KT_HEAD_MAX - carried;
	/* A response's head is 8 bytes; a request's runs to its acks. */
	if (w->seg->dir == KT_DIR_RESP && room > 16)
		room = 16;
	n_load = avail < room ? avail : room;
	barrier_var(n_load);
	n_load &= 2 * KT_HEAD_MAX - 1;
	if (n_load == 0 || n_load > KT_HEAD_MAX)
		goto lost;
	barrier_var(carried);
	carried &= KT_HEAD_MAX - 1;
	if (bpf_skb_load_bytes(w->skb, w->seg->payload_off + (w->seg->p - w->seg->seg_seq),
			       &sc->head[KT_HOFF + carried], n_load))
		goto lost;
	w->seg->carried = carried;
	w->seg->nload = n_load;
	seg_time(w->seg);
	if (kt_head(w->cs, sc, w->seg, w->pk))
		return 1;
	/* The new frame's walk, if any, is the scratch area's. */
	w->wk = &sc->walker;
	w->sp = &sc->noprog;
	sc->win.len = 0;
	return 0;
lost:
	d->state = KT_ST_UNSYNC;
	w->seg->p = w->seg->seg_end;
	return 1;
}

static long walk_step(__u32 idx, void *ctx)
{
	struct kt_walk *w = ctx;
	struct kt_dstate *d = &w->cs->d[w->seg->dir & 1];

	if (seq_diff(w->seg->seg_end, w->seg->p) <= 0)
		return 1;
	if (seq_diff(d->frame_end, w->seg->p) <= 0 && head_step(w))
		return 1;
	if (seq_diff(w->seg->seg_end, w->seg->p) > 0 && seq_diff(d->frame_end, w->seg->p) > 0)
		body_step(w);
	return 0;
}

/* Where the fast path may take over: nothing to do before `until`. */
static __always_inline void set_until(struct kt_walk *w, struct kt_dstate *d)
{
	__u32 until = d->next_seq;

	if (d->state == KT_ST_SYNC && seq_diff(d->frame_end, d->next_seq) > 0) {
		if (d->flags & KT_DS_WALK) {
			struct kt_walker *wk = w->wk;

			if (wk->valid && wk->frame_seq == d->frame_seq && wk->state == W_SKIP)
				until = seq_min(wk->until, d->frame_end);
			else if (wk->valid && wk->frame_seq == d->frame_seq && wk->state == W_SENT)
				until = d->frame_end;
		} else if (seq_diff(d->cap_end, d->next_seq) <= 0) {
			until = d->frame_end;
		}
	}
	d->until = until;
}

/*
 * A retransmission reaches into a hole a gap left: walk its frames from the
 * frame start known there, up to the end of the hole, reporting heads only,
 * then put the stream back as it was. The hole moves on to the next frame
 * start, or closes.
 */
static __always_inline void late_walk(struct kt_walk *w, struct kt_dstate *d)
{
	__u32 frame_seq = d->frame_seq, frame_end = d->frame_end, cap_end = d->cap_end;
	__u8 flags = d->flags, state = d->state;

	d->frame_seq = d->frame_end = d->cap_end = d->hole_seq;
	d->flags &= ~(KT_DS_WALK | KT_DS_CARRY);
	d->state = KT_ST_SYNC;
	w->seg->p = d->hole_seq;
	w->seg->late = 1;
	w->seg->late_end = d->hole_end;
	bpf_loop(KT_MAX_STEPS, walk_step, w, 0);
	if (w->sc->pend.fr.type)
		pend_flush(w);
	w->seg->late = 0;
	/* Open while the next frame starts after this segment, inside the hole. */
	if (seq_diff(d->frame_end, w->seg->seg_end) >= 0 &&
	    seq_diff(d->frame_end, d->hole_end) < 0)
		flags |= KT_DS_HOLE;
	else
		flags &= ~KT_DS_HOLE;
	d->hole_seq = d->frame_end;
	d->frame_seq = frame_seq;
	d->frame_end = frame_end;
	d->cap_end = cap_end;
	d->flags = flags;
	d->state = state;
}

/* Forget a direction's frame state: it ended (FIN/RST) or was reset. */
static __always_inline void dir_forget(struct kt_scratch *sc, struct kt_cstate *cs, __u8 dir,
				       __u32 end, bool known)
{
	struct kt_dstate *d = &cs->d[dir & 1];

	if (d->flags & KT_DS_CARRY) {
		dkey_of(sc, cs, dir);
		bpf_map_delete_elem(&carry, &sc->dkey);
	}
	d->state = KT_ST_UNSYNC;
	d->flags = known ? KT_DS_SEQ_KNOWN : 0;
	d->next_seq = end;
	d->until = end;
}

static __always_inline void stream_closed(struct kt_walk *w, __u8 dir, __u32 end)
{
	const struct pkt *pk = w->pk;
	struct kt_cstate *cs = w->cs;
	struct kt_dstate *d = &cs->d[dir & 1], *o = &cs->d[!dir];
	bool rst = pk->tcp_flags & KT_TCP_RST;
	int i;

	/* The end of what already ended (a FIN retransmitted): nothing new. */
	if ((d->flags & KT_DS_CLOSED) && (!rst || (o->flags & KT_DS_CLOSED)))
		return;
	/* A FIN takes one sequence number after the payload. */
	if (!(d->flags & KT_DS_CLOSED))
		dir_forget(w->sc, cs, dir, end + !!(pk->tcp_flags & KT_TCP_FIN), true);
	d->flags |= KT_DS_CLOSED;
	if (rst) {
		/* RST ends both directions, and every request in flight. */
		dir_forget(w->sc, cs, !dir, o->next_seq, o->flags & KT_DS_SEQ_KNOWN);
		o->flags |= KT_DS_CLOSED;
#pragma unroll
		for (i = 0; i < KT_INFLIGHT; i++)
			cs->ring[i].id1 = 0;
	}
	cnt_inc(KT_C_CLOSES);
	seg_time(w->seg);
	emit_stream_ev(cs, pk, KT_EV_CLOSE, dir, pk->seq,
		       (pk->tcp_flags & KT_TCP_RST) ? KT_CF_RST : KT_CF_FIN, w->seg->ts);
	/*
	 * Announced again, with its client_id, if anything follows: userspace
	 * forgets a connection once both directions closed.
	 */
	cs->flags &= ~KT_CS_ANNOUNCED;
	cs->cid_len = -2;
}

/* A new connection (client SYN) or the broker's first byte (SYN-ACK). */
static __always_inline void conn_syn(struct kt_walk *w, __u8 dir, __u32 seg_seq)
{
	struct kt_cstate *cs = w->cs;
	struct kt_dstate *d = &cs->d[dir & 1];
	int i;

	if ((d->flags & KT_DS_SEQ_KNOWN) && d->next_seq == seg_seq && d->state == KT_ST_SYNC &&
	    d->frame_end == seg_seq)
		return;		/* the same SYN again */
	if (dir == KT_DIR_REQ) {
		/* A new connection (the 4-tuple may be reused): one of its own. */
		dir_forget(w->sc, cs, KT_DIR_RESP, 0, false);
		cs->id = conn_id_new();
		cs->flags = 0;
		cs->cid_len = -2;
#pragma unroll
		for (i = 0; i < KT_INFLIGHT; i++)
			cs->ring[i].id1 = 0;
	}
	dir_forget(w->sc, cs, dir, seg_seq, true);
	d->state = KT_ST_SYNC;
	d->frame_seq = d->frame_end = d->cap_end = seg_seq;
}

/* The exact tracker: everything the fast path did not take. */
static __always_inline void kt_track(struct __sk_buff *skb, const struct pkt *pk, __u8 dir,
				     struct kt_cstate *cs, struct kt_scratch *sc, bool tc)
{
	struct kt_dstate *d = &cs->d[dir & 1];
	struct kt_walk w = {};
	__u32 seg_seq = pk->seq;

	w.skb = skb;
	w.pk = pk;
	w.cs = cs;
	w.sc = sc;
	w.seg = &sc->seg;
	__builtin_memset(w.seg, 0, sizeof(*w.seg));
	w.seg->ts = pkt_stamp(skb, tc);
	sc->walker.valid = 0;
	sc->walker.sprog = 0;
	w.wk = &sc->walker;
	w.sp = &sc->noprog;
	w.seg->dir = dir;
	sc->pend.fr.type = 0;
	sc->pend.dropped = 0;
	sc->pend.nruns = 0;
	sc->win.len = 0;	/* the window is this packet's, or none */

	if (pk->tcp_flags & KT_TCP_SYN) {
		/* Frames start right after the SYN. */
		seg_seq++;
		conn_syn(&w, dir, seg_seq);
	}
	if (!pk->payload_len)
		goto out;
	w.seg->seg_seq = seg_seq;
	w.seg->seg_end = seg_seq + pk->payload_len;
	w.seg->payload_off = pk->payload_off;
	w.seg->p = seg_seq;

	if ((d->flags & KT_DS_HOLE) && seq_diff(seg_seq, d->hole_seq) <= 0 &&
	    seq_diff(w.seg->seg_end, d->hole_seq) > 0) {
		late_walk(&w, d);
		w.seg->p = seg_seq;
		w.wk = &sc->walker;
	}
	if (d->state == KT_ST_SYNC) {
		__s32 delta = seq_diff(seg_seq, d->next_seq);

		if (delta > 0) {
			/* Bytes went missing: nothing after them can be trusted. */
			cnt_inc(KT_C_GAPS);
			seg_time(w.seg);
			emit_stream_ev(cs, pk, KT_EV_GAP, dir, d->next_seq, 0, w.seg->ts);
			/*
			 * If the next frame starts in the missing bytes, their
			 * retransmission can still tell its frames.
			 */
			if (seq_diff(d->frame_end, d->next_seq) >= 0 &&
			    seq_diff(d->frame_end, seg_seq) < 0)
				d->flags |= KT_DS_HOLE;
			else
				d->flags &= ~KT_DS_HOLE;
			d->hole_seq = d->frame_end;
			d->hole_end = seg_seq;
			d->state = KT_ST_UNSYNC;
			if (d->flags & KT_DS_CARRY) {
				dkey_of(sc, cs, dir);
				bpf_map_delete_elem(&carry, &sc->dkey);
				d->flags &= ~KT_DS_CARRY;
			}
		} else if (seq_diff(w.seg->seg_end, d->next_seq) <= 0) {
			cnt_inc(KT_C_RETRANS);
			goto out;
		} else if (delta < 0) {
			cnt_inc(KT_C_OVERLAPS);
			w.seg->p = d->next_seq;
		}
	}
	if (d->state != KT_ST_SYNC && (d->flags & KT_DS_SEQ_KNOWN) &&
	    seq_diff(seg_seq, d->next_seq) < 0) {
		/*
		 * Not synchronised, and these bytes (or some) were read
		 * before: a retransmission after a gap or a close. Their
		 * frames, if any, were reported; never resync on them.
		 */
		cnt_inc(KT_C_RETRANS);
		if (seq_diff(w.seg->seg_end, d->next_seq) > 0)
			d->next_seq = w.seg->seg_end;
		goto out;
	}
	if (d->state != KT_ST_SYNC) {
		/* Try the segment start as a frame start. */
		d->state = KT_ST_SYNC;
		d->frame_end = d->frame_seq = d->cap_end = seg_seq;
		d->flags &= ~(KT_DS_WALK | KT_DS_CARRY);
		w.seg->resyncing = 1;
	}

	bpf_loop(KT_MAX_STEPS, walk_step, &w, 0);
	if (sc->pend.fr.type)
		pend_flush(&w);

	if (w.seg->resyncing) {
		d->state = KT_ST_UNSYNC;	/* no plausible head here */
		cnt_inc(KT_C_UNSYNC_SKIPPED);
	} else if (seq_diff(w.seg->seg_end, w.seg->p) > 0) {
		cnt_inc(KT_C_STEP_BUDGET);
		d->state = KT_ST_UNSYNC;
	}
	if (w.seg->resynced)
		cnt_inc(KT_C_RESYNCS);
	d->next_seq = w.seg->seg_end;
	d->flags |= KT_DS_SEQ_KNOWN;
	/* A walk that goes on in the next packet keeps its state in `walks`. */
	if ((d->flags & KT_DS_WALK) && d->state == KT_ST_SYNC && w.wk == &sc->walker &&
	    sc->walker.valid && sc->walker.frame_seq == d->frame_seq &&
	    seq_diff(d->frame_end, d->next_seq) > 0) {
		dkey_of(sc, cs, dir);
		if (bpf_map_update_elem(&walks, &sc->dkey, &sc->walker, BPF_ANY))
			d->flags &= ~KT_DS_WALK;
	}
out:
	if (pk->tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
		stream_closed(&w, dir, seg_seq + pk->payload_len);
	set_until(&w, d);
}

/*
 * The fast path: an in-order segment of a synchronised direction that ends
 * before anything is to be reported or captured. Returns true if taken.
 */
static __always_inline bool kt_fast(struct kt_cstate *cs, const struct l4 *h, __u8 dir)
{
	struct kt_dstate *d = &cs->d[dir & 1];

	if (h->tcp_flags & (KT_TCP_SYN | KT_TCP_FIN | KT_TCP_RST))
		return false;
	if (d->state != KT_ST_SYNC || h->seq != d->next_seq ||
	    seq_diff(h->seq + h->payload_len, d->until) > 0)
		return false;
	d->next_seq = h->seq + h->payload_len;
	return true;
}

#endif
