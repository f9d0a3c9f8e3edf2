/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps and kernel-only state of kafkatap's TC program. */
#ifndef KAFKATAP_MAPS_BPF_H
#define KAFKATAP_MAPS_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"

enum kt_stream_state {
	KT_ST_UNSYNC = 0,	/* frame starts unknown: try a resync per segment */
	KT_ST_SYNC = 1,		/* frame_end is where the next frame starts */
};

/* One direction of a TCP connection, as the packet flows (src -> dst). */
struct stream_key {
	__u8	saddr[16];
	__u8	daddr[16];
	__u16	sport;
	__u16	dport;
	__u8	family;
	__u8	_pad[3];
};

/*
 * Positions are TCP sequence numbers (compared with signed differences, so
 * they wrap). Invariants while synchronised:
 *   next_seq <  frame_end : inside a frame's body;
 *   next_seq >= frame_end : at the head of the frame starting at frame_end,
 *                           with next_seq - frame_end bytes of it held in
 *                           the `carry` map (a head split over segments).
 */
#ifndef KT_INFLIGHT
#define KT_INFLIGHT 16	/* a power of two */
#endif

/* A request waiting for its response (in the request stream's state). */
struct inflight_slot {
	__u32	id1;		/* correlation_id + 1 (ids are >= 0); 0: free */
	__s16	api_key;
	__s16	api_version;
};

/* Requests spilled from a full ring (deep pipelines), by connection and id. */
struct spill_key {
	struct kt_conn conn;
	__s32	correlation_id;
};

struct kt_stream {
	__u32	next_seq;	/* next byte expected */
	__u32	frame_seq;	/* start of the current frame */
	__u32	frame_end;	/* start of the next frame */
	__u32	cap_end;	/* capture of the current frame stops here */
	__u8	state;		/* enum kt_stream_state */
	__u8	dir;		/* enum kt_dir */
	__u8	structure;	/* the current frame is walked (STRUCTURE capture) */
	__u8	ring_next;	/* request streams: next slot of ring[] to write */
	__u8	spilled;	/* some went to the spill map */
	__u8	seq_known;	/* next_seq holds the highest byte read so far */
	__u8	hole;		/* hole_seq..hole_end: bytes never seen, from a frame start */
	__u8	_pad;
	__u32	hole_seq;	/* a frame starts here, in bytes a gap took */
	__u32	hole_end;	/* the first byte seen after the gap */
	/*
	 * Request streams: the last KT_INFLIGHT requests, which gives each
	 * response the API it answers (its capture policy) and lets
	 * responses resync on an id in flight. A ring in state the request
	 * path already holds, instead of a map insert per request.
	 */
	struct inflight_slot ring[KT_INFLIGHT];
};

struct carry {
	__u8	head[KT_HEAD_MAX];
};





enum walk_state {
	W_OPS = 0,	/* interpret the op at pc */
	W_TAGS,		/* in a tagged-fields section: next (tag, size) */
	W_BATCH,	/* in records: at a batch start (or the blob's end) */
	W_KEEP,		/* keep bytes until `until`, then next_state */
	W_SKIP,		/* (a W_KEEP's next_state: skip to skip_to after it) */
	W_HOLE,		/* the kept run is being sent; then skip to skip_to */
	W_DONE,		/* the body ended where the frame ends */
	W_FAILED,	/* off schema: the rest of the frame is not kept */
	W_SENT,		/* done or failed, and said so */
};

/* The segment being walked: scalars only (a global function's argument). */
struct wseg {
	__u32	seg_seq;	/* seq of the segment's first payload byte */
	__u32	seg_end;
	__u32	payload_off;	/* skb offset of seg_seq */
	__u32	p;		/* the tracker's position (seq) */
	__u8	resyncing;	/* the next head decides a resync */
	__u8	resynced;	/* a resync succeeded in this segment */
	__u8	late;		/* walking a retransmission into a hole: report only */
	__u8	_pad;
	__u32	late_end;	/* with late: no frame starts from here on */
};

#define WALK_CARRY 128	/* a whole frame head can precede the body */

/* One STRUCTURE walk in progress, per stream (see bpf/structure.bpf.h). */
struct walker {
	__u32	frame_seq;	/* the frame walked; a mismatch means stale */
	__u32	frame_end;
	__u32	pos;		/* cursor */
	__u32	keep_from;	/* start of the kept run not yet sent */
	__u32	until;		/* W_KEEP / W_SKIP target */
	__u32	skip_to;	/* W_KEEP of a batch header: then skip to here */
	__u32	rec_end;	/* end of the current records blob */
	__u32	carry_seq;	/* seq of carry[0] */
	__u32	count[KT_WALK_DEPTH];
	__u32	tags_left;
	__u16	pc;
	__u8	depth;
	__u8	state;		/* enum walk_state */
	__u8	next_state;	/* after W_KEEP */
	__u8	after_hole;	/* the next chunk sent follows skipped bytes */
	__u8	carry_off;	/* carry[carry_off, carry_len) = bytes [pos, seg start) */
	__u8	carry_len;
	__u8	valid;		/* 0 in the dummy that stands for "no walk" */
	__u8	fail_state;	/* where it failed, for the final chunk */
	__u16	fail_pc;
	struct kt_sprog_key key;
	__u8	carry[2 * WALK_CARRY];	/* twice: masked offset + length stay inside */
};

/*
 * Streams closed by FIN/RST: their state is removed, but a retransmission
 * arriving after the FIN must not start a new stream and report its
 * frames again. Where the stream ended, kept a while (LRU).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stream_key);
	__type(value, __u32);
} closed SEC(".maps");

/* Per-CPU work area: frame heads and capture chunks are assembled here. */
struct scratch {
	__u8	head[2 * KT_HEAD_MAX];	/* twice the need: masked indexes stay inside */
	struct stream_key key;		/* here, not on the 512-byte stack */
	struct stream_key rkey;		/* the reverse direction's key */
	struct kt_stream init;		/* new stream states are built here */
	struct spill_key spk;
	struct kt_ev_hdr eh;		/* template of this packet's records */
	struct walker walker;		/* zeroed: template of new walks, and "no walk" */
	struct kt_sprog noprog;		/* zeroed: "no program" */
	struct kt_ev_data data;
};

struct port_bitmap {
	__u64	bits[KT_PORT_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);		/* the loader resizes it */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct stream_key);
	__type(value, struct kt_stream);
} streams SEC(".maps");

/*
 * Frame heads split over segments. Write-only for syscalls: the bytes held
 * here may belong to any frame (a SaslAuthenticate one too) and are never
 * meant for userspace.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_WRONLY);
	__type(key, struct stream_key);
	__type(value, struct carry);
} carry SEC(".maps");



struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KT_API_MAX);
	__type(key, __u32);
	__type(value, struct kt_policy);
} policy SEC(".maps");

/* In-flight requests pushed out of a stream's ring: more than KT_INFLIGHT
 * in flight on one connection. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct spill_key);
	__type(value, struct inflight_slot);
} spill SEC(".maps");

/* STRUCTURE walk programs, loaded by the agent from the specs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct kt_sprog_key);
	__type(value, struct kt_sprog);
} sprogs SEC(".maps");

/* Walks in progress. Write-only for syscalls: the carry holds frame bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_WRONLY);
	__type(key, struct stream_key);
	__type(value, struct walker);
} walks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct port_bitmap);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct kt_addr_key);
	__type(value, __u8);
} brokers SEC(".maps");

/* ifindex -> bytes before the IP header, for interfaces without Ethernet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} l2len SEC(".maps");

/* One entry per CPU holding all counters: one lookup counts several. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kt_counters);
} counters SEC(".maps");

/* Write-only for syscalls, like `carry`: it holds frame bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_WRONLY);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline void cnt_add(__u32 idx, __u64 v)
{
	__u32 zero = 0;
	struct kt_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c && idx < KT_C_MAX)
		c->c[idx] += v;
}

#define cnt_inc(idx) cnt_add(idx, 1)


#endif
