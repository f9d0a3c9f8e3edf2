// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafkatap's TC program: finds every Kafka frame start in the TCP streams to
 * and from broker ports and reports each frame's header to userspace through
 * a ring buffer, with as many of the frame's bytes as the capture policy of
 * its API allows. The packet always passes unchanged (TC_ACT_UNSPEC: the
 * next program or the default action decides, as if we were not there).
 *
 * Frame tracking, not reassembly: per direction the stream state holds the
 * TCP sequence number where the next frame starts; only a frame head split
 * across segments is carried (at most KT_HEAD_MAX bytes).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "maps.bpf.h"
#include "head.bpf.h"
#include "packet.bpf.h"

#ifndef KT_MAX_STEPS
#define KT_MAX_STEPS (1 << 17)	/* frames+chunks per skb; 512 KiB of tiny frames */
#endif

#define KT_CAP_WALK 0xffffffffu	/* capture_len(): STRUCTURE was asked */

/* Loader knobs. */
const volatile __u8 broker_filter = 0;	/* only addresses in `brokers` */
const volatile __u8 any_l3_iface = 0;	/* some interface lacks Ethernet */
const volatile __u32 wakeup_bytes = 1 << 20;	/* see rb_flags() */

/*
 * Waking the consumer is an irq_work, a self-IPI: on a VM a VM exit, tens
 * of microseconds inside the sender's transmit path, per record whenever
 * the agent is idle. So records are submitted without a wakeup; the agent
 * polls on a short timer, and only a ring buffer filling up (more than
 * wakeup_bytes waiting) wakes it at once.
 */
static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct walk {
	struct __sk_buff *skb;
	struct kt_stream *st;
	struct scratch *sc;		/* also holds the stream key and record template */
	/*
	 * Never NULL (the verifier widens a NULL kept across bpf_loop steps
	 * into an unknown scalar): "none" is the zeroed walker and program of
	 * the scratch area, with wk->valid == 0.
	 */
	struct walker *wk;		/* STRUCTURE walk of the current frame */
	const struct kt_sprog *sp;	/* and its program */
	struct wseg seg;		/* positions: scalars, shared with global functions */
	__u32	wflush_to;		/* walk: send kept bytes up to here */
	__u16	wlast;			/* walk: flags of the final chunk */
	__u8	wdone;			/* walk: this segment's part is walked */
	__u32	wframe;			/* walk: the frame wk, sp and wdone are for */
};

static __always_inline __s32 seq_diff(__u32 a, __u32 b)
{
	return (__s32)(a - b);
}

static __always_inline __u32 seq_min(__u32 a, __u32 b)
{
	return seq_diff(a, b) < 0 ? a : b;
}

static __always_inline bool port_set(const struct port_bitmap *pb, __u16 port)
{
	return pb->bits[(port >> 6) & (KT_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

static __always_inline void emit_stream_ev(struct kt_ev_hdr *eh, __u8 type,
					   __u32 seq, __u16 flags)
{
	struct kt_ev_stream *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		cnt_inc(KT_C_RB_FAIL);
		return;
	}
	ev->h = *eh;
	ev->h.type = type;
	ev->seq = seq;
	ev->flags = flags;
	ev->_pad = 0;
	bpf_ringbuf_submit(ev, rb_flags());
}

/*
 * Sends sc->data with `len` bytes of payload. The caller filled data[] (from
 * the skb or from the assembled head).
 */
static __always_inline void emit_data(struct scratch *sc, __u32 frame_seq, __u32 offset,
				      __u32 len, __u16 flags, __u32 walk_info)
{
	struct kt_ev_data *d = &sc->data;

	d->h = sc->eh;
	d->h.type = KT_EV_DATA;
	d->frame_seq = frame_seq;
	d->offset = offset;
	d->len = len;
	d->flags = flags;
	d->walk_info = walk_info;
	barrier_var(len);
	len &= KT_CHUNK_MAX * 2 - 1;
	if (len > KT_CHUNK_MAX)
		return;
	if (bpf_ringbuf_output(&events, d, offsetof(struct kt_ev_data, data) + len, rb_flags()))
		cnt_inc(KT_C_RB_FAIL);
	else
		cnt_inc(KT_C_DATA_RECORDS);
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

static __always_inline void emit_frame(struct scratch *sc, struct kt_stream *st,
				       struct head *hd, __u32 cap)
{
	struct kt_ev_frame *ev;
	__u32 n;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		cnt_inc(KT_C_RB_FAIL);
		return;
	}
	ev->h = sc->eh;
	ev->h.type = st->dir == KT_DIR_REQ ? KT_EV_REQUEST : KT_EV_RESPONSE;
	ev->frame_seq = st->frame_seq;
	ev->size = hd->size;
	ev->api_key = hd->api_key;
	ev->api_version = hd->api_version;
	ev->correlation_id = hd->correlation_id;
	ev->client_id_len = hd->client_id_len;
	ev->acks = hd->acks;
	ev->flags = hd->flags | (cap ? KT_FF_CAPTURE : 0);
	ev->_pad = 0;
	ev->capture_len = cap;
	ev->_pad2 = 0;
	/* The client_id's bytes and zeros after them: nothing else of the head. */
	__builtin_memset(ev->client_id, 0, KT_CLIENT_ID_MAX);
	n = hd->client_id_len > 0 ? hd->client_id_len : 0;
	barrier_var(n);
	n &= 2 * KT_CLIENT_ID_MAX - 1;
	if (n > KT_CLIENT_ID_MAX)
		n = KT_CLIENT_ID_MAX;
	bpf_probe_read_kernel(ev->client_id, n, &sc->head[14]);
	bpf_ringbuf_submit(ev, rb_flags());
	cnt_inc(st->dir == KT_DIR_REQ ? KT_C_REQUESTS : KT_C_RESPONSES);
}

#include "structure.bpf.h"

static __always_inline void rev_key(struct stream_key *r, const struct stream_key *k)
{
	__builtin_memcpy(r->saddr, k->daddr, 16);
	__builtin_memcpy(r->daddr, k->saddr, 16);
	r->sport = k->dport;
	r->dport = k->sport;
	r->family = k->family;
	r->_pad[0] = r->_pad[1] = r->_pad[2] = 0;
}

/* Find and free the ring slot (or the spilled entry) of this response's request. */
static __always_inline bool ring_take(struct scratch *sc, struct kt_stream *rst, struct head *hd)
{
	struct inflight_slot *sp;
	int i;

#pragma unroll
	for (i = 0; i < KT_INFLIGHT; i++) {
		struct inflight_slot *sl = &rst->ring[i];

		if (sl->id1 == (__u32)hd->correlation_id + 1) {
			hd->api_key = sl->api_key;
			hd->api_version = sl->api_version;
			sl->id1 = 0;
			return true;
		}
	}
	if (!rst->spilled)
		return false;
	__builtin_memset(&sc->spk, 0, sizeof(sc->spk));
	sc->spk.conn = sc->eh.conn;
	sc->spk.correlation_id = hd->correlation_id;
	sp = bpf_map_lookup_elem(&spill, &sc->spk);
	if (!sp)
		return false;
	hd->api_key = sp->api_key;
	hd->api_version = sp->api_version;
	bpf_map_delete_elem(&spill, &sc->spk);
	return true;
}

/* Remember a request; a slot still in flight moves to the spill map. */
static __always_inline void ring_put(struct scratch *sc, struct kt_stream *st, struct head *hd)
{
	struct inflight_slot *sl = &st->ring[st->ring_next++ & (KT_INFLIGHT - 1)];

	if (sl->id1) {
		__builtin_memset(&sc->spk, 0, sizeof(sc->spk));
		sc->spk.conn = sc->eh.conn;
		sc->spk.correlation_id = sl->id1 - 1;
		if (!bpf_map_update_elem(&spill, &sc->spk, sl, BPF_ANY))
			st->spilled = 1;
		cnt_inc(KT_C_INFLIGHT_SPILLED);
	}
	sl->id1 = (__u32)hd->correlation_id + 1;
	sl->api_key = hd->api_key;
	sl->api_version = hd->api_version;
}

/*
 * At a frame start (ws->p >= st->frame_end): assemble the head, parse it,
 * report the frame. Returns 1 to stop walking this segment. A global
 * function: verified once on its own, not once per state of its caller.
 */
__attribute__((noinline)) int kt_head_step(struct __sk_buff *skb, struct kt_stream *st,
					   struct scratch *sc, struct wseg *ws)
{
	__u32 carried, avail;
	__u32 room, n_load, n, cap, frame_len, send;
	struct kt_stream *rst;
	struct head hd = {};
	struct carry *cr;
	int r;

	if (!skb || !st || !sc || !ws)
		return 1;
	if (ws->late && seq_diff(ws->p, ws->late_end) >= 0)
		return 1;	/* past the hole: these frames were seen */
	carried = ws->p - st->frame_end;
	avail = ws->seg_end - ws->p;
	if (carried >= KT_HEAD_MAX)
		goto lost;
	if (carried) {
		cr = bpf_map_lookup_elem(&carry, &sc->key);
		if (!cr)
			goto lost;	/* evicted: the head is gone */
		__builtin_memcpy(sc->head, cr->head, KT_HEAD_MAX);
	}
	room = KT_HEAD_MAX - carried;
	n_load = avail < room ? avail : room;
	barrier_var(n_load);
	n_load &= 2 * KT_HEAD_MAX - 1;
	if (n_load == 0 || n_load > KT_HEAD_MAX)
		goto lost;
	/* barrier_var: clang must not drop the masks the verifier needs. */
	barrier_var(carried);
	if (bpf_skb_load_bytes(skb, ws->payload_off + (ws->p - ws->seg_seq),
			       &sc->head[carried & (KT_HEAD_MAX - 1)], n_load))
		goto lost;
	n = carried + n_load;

	if (st->dir == KT_DIR_REQ)
		r = parse_req_head(sc->head, n, &hd, ws->resyncing);
	else
		r = parse_resp_head(sc->head, n, &hd, ws->resyncing);

	if (r == HEAD_NEED_MORE) {
		if (ws->resyncing || ws->late) {
			ws->p = ws->seg_end;
			return 1;	/* these want the head in one segment */
		}
		if (bpf_map_update_elem(&carry, &sc->key, sc->head, BPF_ANY))
			goto lost;
		cnt_inc(KT_C_CARRIES);
		ws->p = ws->seg_end;
		return 1;
	}
	if (r == HEAD_BAD) {
		if (!ws->resyncing)
			cnt_inc(hd.bad_counter);
		goto lost;
	}
	if (r == HEAD_SKIP) {
		cnt_inc(hd.bad_counter);
		st->frame_seq = st->frame_end;
		st->frame_end = st->frame_seq + hd.size + 4;
		st->cap_end = st->frame_seq;
		st->structure = 0;
		if (carried)
			bpf_map_delete_elem(&carry, &sc->key);
		return 0;
	}

	if (st->dir == KT_DIR_RESP) {
		/* The request stream's ring: what this response answers. */
		rev_key(&sc->rkey, &sc->key);
		rst = bpf_map_lookup_elem(&streams, &sc->rkey);
		if (rst && ring_take(sc, rst, &hd)) {
			hd.flags |= KT_FF_API_KNOWN;
		} else if (ws->resyncing) {
			return 1;	/* responses resync on a request in flight only */
		} else {
			cnt_inc(KT_C_RESP_UNMATCHED);
		}
	}
	if (ws->resyncing) {
		hd.flags |= KT_FF_RESYNC;
		ws->resyncing = 0;
		ws->resynced = 1;
	}

	frame_len = hd.size + 4;
	st->frame_seq = st->frame_end;
	st->frame_end = st->frame_seq + frame_len;
	cap = capture_len(hd.api_key, st->dir, frame_len);
	st->structure = 0;
	if (ws->late) {
		/* Later frames' captures may be under way: this one reports only. */
		cap = 0;
		hd.flags |= KT_FF_LATE;
		cnt_inc(KT_C_LATE_FRAMES);
	}
	if (cap == KT_CAP_WALK) {
		struct kt_sprog_key sk = {
			.api_key = hd.api_key,
			.api_version = hd.api_version,
			.dir = st->dir,
		};

		/* Without a program for this version nothing is captured. */
		cap = bpf_map_lookup_elem(&sprogs, &sk) ? frame_len : 0;
		if (cap)
			hd.flags |= KT_FF_STRUCTURE;
	}
	st->cap_end = st->frame_seq + cap;
	if (hd.api_key == KT_API_SASL_AUTHENTICATE) {
		hd.flags |= KT_FF_SASL_REDACTED;
		cnt_inc(KT_C_SASL_REDACTED);
	}
	emit_frame(sc, st, &hd, cap);
	if (hd.api_key == KT_API_SASL_AUTHENTICATE)
		__builtin_memset(sc->head, 0, sizeof(sc->head));
	if (st->dir == KT_DIR_REQ)
		ring_put(sc, st, &hd);
	send = carried < cap ? carried : cap;
	if (hd.flags & KT_FF_STRUCTURE)
		send = struct_begin(sc, st, &hd, carried);
	if (carried) {
		/* The carried bytes are the frame's first: capture them from the head. */
		if (send) {
			__u32 len = send;

			__builtin_memcpy(sc->data.data, sc->head, KT_HEAD_MAX);
			emit_data(sc, st->frame_seq, 0, len, len == cap ? KT_DF_LAST |
				  (cap < frame_len ? KT_DF_TRUNCATED : 0) : 0, 0);
		}
		bpf_map_delete_elem(&carry, &sc->key);
	}
	return 0;

lost:
	st->state = KT_ST_UNSYNC;
	ws->p = ws->seg_end;
	return 1;
}

/* Inside a frame body: capture what the policy asks, skip the rest. */
static __always_inline void body_step(struct walk *w)
{
	struct kt_stream *st = w->st;
	__u32 end = seq_min(w->seg.seg_end, st->frame_end);
	__u32 n, cend;
	__u16 flags = 0;

	if (st->structure) {
		/*
		 * The frame's first body step in this segment. wk may already be
		 * its walker (struct_begin reuses the stream's in place) while
		 * wdone is still the previous frame's: check the frame too.
		 */
		if (!w->wk->valid || w->wk->frame_seq != st->frame_seq ||
		    w->wframe != st->frame_seq) {
			/* A walk that began in an earlier segment. */
			struct walker *wk = bpf_map_lookup_elem(&walks, &w->sc->key);
			const struct kt_sprog *sp = wk ? bpf_map_lookup_elem(&sprogs, &wk->key) : NULL;

			if (wk && sp) {
				w->wk = wk;
				w->sp = sp;
			}
			w->wdone = 0;
			w->wframe = st->frame_seq;
		}
		struct_step(w);
		return;
	}

	if (seq_diff(st->cap_end, w->seg.p) <= 0) {
		w->seg.p = end;
		return;
	}
	cend = seq_min(end, st->cap_end);
	n = cend - w->seg.p;
	if (n > KT_CHUNK_MAX) {
		n = KT_CHUNK_MAX;
		cend = w->seg.p + n;
	}
	if (cend == st->cap_end) {
		flags |= KT_DF_LAST;
		if (st->cap_end != st->frame_end)
			flags |= KT_DF_TRUNCATED;
	}
	barrier_var(n);
	n &= 2 * KT_CHUNK_MAX - 1;
	if (n == 0 || n > KT_CHUNK_MAX ||
	    bpf_skb_load_bytes(w->skb, w->seg.payload_off + (w->seg.p - w->seg.seg_seq),
			       w->sc->data.data, n)) {
		w->seg.p = end;	/* cannot happen: the bytes are in this skb */
		return;
	}
	emit_data(w->sc, st->frame_seq, w->seg.p - st->frame_seq, n, flags, 0);
	w->seg.p = cend;
}

static long walk_step(__u32 idx, void *ctx)
{
	struct walk *w = ctx;

	if (seq_diff(w->seg.seg_end, w->seg.p) <= 0)
		return 1;
	if (seq_diff(w->st->frame_end, w->seg.p) <= 0 &&
	    kt_head_step(w->skb, w->st, w->sc, &w->seg))
		return 1;
	if (seq_diff(w->seg.seg_end, w->seg.p) > 0 && seq_diff(w->st->frame_end, w->seg.p) > 0)
		body_step(w);
	return 0;
}

static __always_inline void build_keys(struct pkt *pk, __u8 dir,
				       struct stream_key *key, struct kt_conn *c)
{
	__builtin_memcpy(key->saddr, pk->saddr, 16);
	__builtin_memcpy(key->daddr, pk->daddr, 16);
	key->sport = pk->sport;
	key->dport = pk->dport;
	key->family = pk->family;
	if (dir == KT_DIR_REQ) {
		__builtin_memcpy(c->client_addr, pk->saddr, 16);
		__builtin_memcpy(c->broker_addr, pk->daddr, 16);
		c->client_port = pk->sport;
		c->broker_port = pk->dport;
	} else {
		__builtin_memcpy(c->client_addr, pk->daddr, 16);
		__builtin_memcpy(c->broker_addr, pk->saddr, 16);
		c->client_port = pk->dport;
		c->broker_port = pk->sport;
	}
	c->family = pk->family;
}

/* Remove a stream's state, leaving where it ended in `closed`. */
static __always_inline void stream_forget(struct stream_key *key, __u32 end, bool known)
{
	if (known)
		bpf_map_update_elem(&closed, key, &end, BPF_ANY);
	bpf_map_delete_elem(&streams, key);
	bpf_map_delete_elem(&carry, key);
}

static __always_inline void stream_closed(struct scratch *sc, struct kt_ev_hdr *eh,
					  struct pkt *pk, __u32 end)
{
	struct kt_stream *st;

	/* A FIN takes one sequence number after the payload. */
	stream_forget(&sc->key, end + !!(pk->tcp_flags & KT_TCP_FIN), true);
	if (pk->tcp_flags & KT_TCP_RST) {
		/* RST ends both directions. */
		rev_key(&sc->rkey, &sc->key);
		st = bpf_map_lookup_elem(&streams, &sc->rkey);
		if (st)
			stream_forget(&sc->rkey, st->next_seq, st->seq_known);
	}
	cnt_inc(KT_C_CLOSES);
	emit_stream_ev(eh, KT_EV_CLOSE, pk->seq,
		       (pk->tcp_flags & KT_TCP_RST) ? KT_CF_RST : KT_CF_FIN);
}

/*
 * A retransmission reaches into a hole a gap left: walk its frames from the
 * frame start known there, up to the end of the hole, reporting heads only,
 * then put the stream back as it was. The hole moves on to the next frame
 * start, or closes.
 */
static __always_inline void late_walk(struct walk *w, struct kt_stream *st)
{
	__u32 frame_seq = st->frame_seq, frame_end = st->frame_end, cap_end = st->cap_end;
	__u8 structure = st->structure, state = st->state;

	st->frame_seq = st->frame_end = st->cap_end = st->hole_seq;
	st->structure = 0;
	st->state = KT_ST_SYNC;
	w->seg.p = st->hole_seq;
	w->seg.late = 1;
	w->seg.late_end = st->hole_end;
	bpf_loop(KT_MAX_STEPS, walk_step, w, 0);
	w->seg.late = 0;
	/* Open while the next frame starts after this segment, inside the hole. */
	st->hole = seq_diff(st->frame_end, w->seg.seg_end) >= 0 &&
		   seq_diff(st->frame_end, st->hole_end) < 0;
	st->hole_seq = st->frame_end;
	st->frame_seq = frame_seq;
	st->frame_end = frame_end;
	st->cap_end = cap_end;
	st->structure = structure;
	st->state = state;
}

static __always_inline void track(struct __sk_buff *skb, struct pkt *pk, __u8 dir)
{
	struct kt_stream *st, *init;
	struct stream_key *key;
	struct kt_ev_hdr *eh;
	struct walk w = {};
	__u32 zero = 0, seg_seq;
	struct scratch *sc;

	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return;
	key = &sc->key;
	eh = &sc->eh;
	init = &sc->init;
	__builtin_memset(key, 0, sizeof(*key));
	__builtin_memset(eh, 0, sizeof(*eh));
	build_keys(pk, dir, key, &eh->conn);
	eh->version = KT_FORMAT_VERSION;
	eh->dir = dir;
	eh->ifindex = skb->ifindex;
	eh->ts_ns = bpf_ktime_get_ns();

	seg_seq = pk->seq;
	if (pk->tcp_flags & KT_TCP_SYN) {
		/* A new connection: frames start right after the SYN. */
		seg_seq++;
		__builtin_memset(init, 0, sizeof(*init));
		init->state = KT_ST_SYNC;
		init->dir = dir;
		init->next_seq = init->frame_end = init->frame_seq = init->cap_end = seg_seq;
		init->seq_known = 1;
		bpf_map_update_elem(&streams, key, init, BPF_ANY);
		bpf_map_delete_elem(&carry, key);
		bpf_map_delete_elem(&closed, key);
	}

	if (pk->payload_len) {
		st = bpf_map_lookup_elem(&streams, key);
		if (!st) {
			/* No state and a FIN or RST: the end of something we never saw. */
			if (pk->tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
				return;
			__u32 *end = bpf_map_lookup_elem(&closed, key);

			__builtin_memset(init, 0, sizeof(*init));
			init->state = KT_ST_UNSYNC;
			init->dir = dir;
			if (end) {
				/* A late retransmission of a closed stream. */
				init->next_seq = *end;
				init->seq_known = 1;
			}
			bpf_map_update_elem(&streams, key, init, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&streams, key);
			if (!st)
				return;
		}
		w.skb = skb;
		w.st = st;
		w.sc = sc;
		w.wk = &sc->walker;
		w.sp = &sc->noprog;
		w.seg.seg_seq = seg_seq;
		w.seg.seg_end = seg_seq + pk->payload_len;
		w.seg.payload_off = pk->payload_off;
		w.seg.p = seg_seq;

		if (st->hole && seq_diff(seg_seq, st->hole_seq) <= 0 &&
		    seq_diff(w.seg.seg_end, st->hole_seq) > 0) {
			late_walk(&w, st);
			w.seg.p = seg_seq;
		}
		if (st->state == KT_ST_SYNC) {
			__s32 d = seq_diff(seg_seq, st->next_seq);

			if (d > 0) {
				/* Bytes went missing: nothing after them can be trusted. */
				cnt_inc(KT_C_GAPS);
				emit_stream_ev(eh, KT_EV_GAP, st->next_seq, 0);
				/*
				 * If the next frame starts in the missing bytes, their
				 * retransmission can still tell its frames.
				 */
				st->hole = seq_diff(st->frame_end, st->next_seq) >= 0 &&
					   seq_diff(st->frame_end, seg_seq) < 0;
				st->hole_seq = st->frame_end;
				st->hole_end = seg_seq;
				st->state = KT_ST_UNSYNC;
				bpf_map_delete_elem(&carry, key);
			} else if (seq_diff(w.seg.seg_end, st->next_seq) <= 0) {
				cnt_inc(KT_C_RETRANS);
				goto out;
			} else if (d < 0) {
				cnt_inc(KT_C_OVERLAPS);
				w.seg.p = st->next_seq;
			}
		}
		if (st->state != KT_ST_SYNC && st->seq_known &&
		    seq_diff(seg_seq, st->next_seq) < 0) {
			/*
			 * Not synchronised, and these bytes (or some) were read
			 * before: a retransmission after a gap or a close. Their
			 * frames, if any, were reported; never resync on them.
			 */
			cnt_inc(KT_C_RETRANS);
			if (seq_diff(w.seg.seg_end, st->next_seq) > 0)
				st->next_seq = w.seg.seg_end;
			goto out;
		}
		if (st->state != KT_ST_SYNC) {
			/* Try the segment start as a frame start. */
			st->state = KT_ST_SYNC;
			st->frame_end = st->frame_seq = st->cap_end = seg_seq;
			w.seg.resyncing = 1;
		}

		bpf_loop(KT_MAX_STEPS, walk_step, &w, 0);

		if (w.seg.resyncing) {
			st->state = KT_ST_UNSYNC;	/* no plausible head here */
			cnt_inc(KT_C_UNSYNC_SKIPPED);
		} else if (seq_diff(w.seg.seg_end, w.seg.p) > 0) {
			cnt_inc(KT_C_STEP_BUDGET);
			st->state = KT_ST_UNSYNC;
		}
		if (w.seg.resynced)
			cnt_inc(KT_C_RESYNCS);
		st->next_seq = w.seg.seg_end;
		st->seq_known = 1;
	}
out:
	if (pk->tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
		stream_closed(sc, eh, pk, seg_seq + pk->payload_len);
}

SEC("tc")
int kafkatap_tc(struct __sk_buff *skb)
{
	struct kt_counters *c;
	struct port_bitmap *pb;
	struct pkt pk = {};
	__u32 l2 = 14, zero = 0;
	__u8 dir;

	if (any_l3_iface) {
		__u32 ifindex = skb->ifindex, *v;

		v = bpf_map_lookup_elem(&l2len, &ifindex);
		if (v)
			l2 = *v;
	}
	if (parse_pkt(skb, l2, &pk))
		return TC_ACT_UNSPEC;
	pb = bpf_map_lookup_elem(&ports, &zero);
	if (!pb)
		return TC_ACT_UNSPEC;
	if (port_set(pb, pk.dport))
		dir = KT_DIR_REQ;
	else if (port_set(pb, pk.sport))
		dir = KT_DIR_RESP;
	else
		return TC_ACT_UNSPEC;
	if (broker_filter) {
		struct kt_addr_key ak = { .family = pk.family };

		__builtin_memcpy(ak.addr, dir == KT_DIR_REQ ? pk.daddr : pk.saddr, 16);
		if (!bpf_map_lookup_elem(&brokers, &ak))
			return TC_ACT_UNSPEC;
	}
	c = bpf_map_lookup_elem(&counters, &zero);
	if (c) {
		c->c[KT_C_PACKETS]++;
		c->c[KT_C_PAYLOAD_BYTES] += pk.payload_len;
	}
	/* A pure ACK moves no frame boundary and opens or closes nothing. */
	if (!pk.payload_len && !(pk.tcp_flags & (KT_TCP_SYN | KT_TCP_FIN | KT_TCP_RST)))
		return TC_ACT_UNSPEC;
	track(skb, &pk, dir);
	return TC_ACT_UNSPEC;
}
