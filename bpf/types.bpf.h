/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-only types and constants of kafkatap's program: connection state,
 * the STRUCTURE walker, the per-CPU scratch area. What userspace reads is
 * in include/kafkatap.h.
 */
#ifndef KAFKATAP_TYPES_BPF_H
#define KAFKATAP_TYPES_BPF_H

#include <linux/types.h>
#include "kafkatap.h"
#include "kt_state.h"

#define KT_TCP_FIN 0x01
#define KT_TCP_SYN 0x02
#define KT_TCP_RST 0x04

/* A TCP segment's headers, as the entry point parsed them. */
struct pkt {
	__u8	saddr[16];
	__u8	daddr[16];
	__u16	sport;		/* host order */
	__u16	dport;
	__u8	family;		/* 4 or 6 */
	__u8	tcp_flags;
	__u16	_pad;
	__u32	seq;
	__u32	payload_off;	/* offset of the TCP payload in the skb */
	__u32	payload_len;
};

/* Kafka frame layout (the size field counts what follows it). */
#define KT_OFF_API_KEY		4	/* request: api_key */
#define KT_OFF_API_VERSION	6
#define KT_OFF_REQ_CORR		8	/* request: correlation_id */
#define KT_OFF_CLIENT_ID_LEN	12	/* request header v1+: client_id length */
#define KT_OFF_CLIENT_ID	14	/* request header v1+: client_id bytes */
#define KT_OFF_RESP_CORR	4	/* response: correlation_id */
#define KT_RESP_HEAD		8	/* response: size + correlation_id */

#define KT_API_CONTROLLED_SHUTDOWN 7	/* v0: the only request header v0 */

#define KT_HOFF		2	/* frame byte i is at head[KT_HOFF + i]: the client_id 8-aligned */

/* One direction of a connection, for the maps that hold per-direction data. */
struct kt_dkey {
	__u64	conn_id;
	__u32	dir;
	__u32	_pad;
};

/* A request pushed out of a connection's ring, by connection and id. */
struct kt_spill_key {
	__u64	conn_id;
	__s32	correlation_id;
	__u32	_pad;
};

/* A frame head split over segments: its first bytes. */
struct kt_carry {
	__u8	head[KT_HEAD_MAX];
};

enum walk_state {
	W_OPS = 0,	/* interpret the op at pc */
	W_TAGS,		/* in a tagged-fields section: next (tag, size) */
	W_BATCH,	/* in records: at a batch start (or the blob's end) */
	W_KEEP,		/* keep bytes until `until`, then next_state */
	W_SKIP,		/* record bytes: skip to `until`, then W_BATCH */
	W_DONE,		/* the body ended where the frame ends */
	W_FAILED,	/* off schema: the rest of the frame is not kept */
	W_SENT,		/* done or failed, and said so */
};

#define WALKER_CARRY	32	/* a split field: at most a batch header's 17 bytes */
#define KT_WIN		128	/* bytes of a walk window */

/* The walk window: bytes [seq, seq + len) of the stream. */
struct kt_win {
	__u8	b[2 * KT_WIN];	/* twice: masked offsets stay inside */
	__u32	seq;
	__u32	len;
};

/*
 * One STRUCTURE walk in progress. It lives in the per-CPU scratch area
 * while its frame is walked within one packet, and in the `walks` map
 * between packets.
 */
struct kt_walker {
	__u32	frame_seq;	/* the frame walked; a mismatch means stale */
	__u32	frame_end;
	__u32	pos;		/* cursor */
	__u32	keep_from;	/* start of the kept run not yet sent */
	__u32	until;		/* W_KEEP / W_SKIP target */
	__u32	skip_to;	/* W_KEEP of a batch header: then skip to here */
	__u32	rec_end;	/* end of the current records blob */
	__u32	carry_seq;	/* seq of carry[0] */
	__u32	count[4];	/* array elements left, per depth */
	__u32	tags_left;
	__u16	pc;
	__u16	fail_pc;
	__u8	depth;
	__u8	state;		/* enum walk_state */
	__u8	next_state;	/* after W_KEEP */
	__u8	after_hole;	/* the next run follows skipped bytes */
	__u8	carry_len;	/* carry[0, carry_len) = bytes [carry_seq, ...) */
	__u8	fail_state;	/* where it failed, for the final run */
	__u8	valid;
	__u8	sprog;		/* index in `sprogs` */
	__u8	carry[WALKER_CARRY];
};

#define KT_WALK_DEPTH	4	/* nested arrays: count[] */

/*
 * A record being built: the frame record (or a data record) and the runs
 * of captured bytes found in this packet, sent when the packet's part of
 * the frame is done. Runs are positions; their bytes are copied at send.
 */
struct kt_prun {
	__u32	seq;		/* first byte */
	__u16	len;
	__u16	flags;		/* KT_DF_*; KT_RUN_HEAD: bytes from scratch.head */
};
#define KT_RUN_HEAD	0x8000	/* (kernel only) the run's bytes are in the carried head */

struct kt_pending {
	struct kt_rec_frame fr;	/* fr.type 0: none; KT_EV_DATA: a data record */
	__u32	nruns;
	__u32	bytes;		/* run bytes so far */
	__u32	frame_seq;	/* the frame the runs are of */
	__u8	dir;
	__u8	dropped;	/* its frame record was lost: no runs */
	__u16	_pad;
	struct kt_prun runs[KT_RUNS_MAX];
};

/* The segment being tracked: scalars only (passed to global functions). */
struct kt_seg {
	__u32	seg_seq;	/* seq of the segment's first payload byte */
	__u32	seg_end;
	__u32	payload_off;	/* skb offset of seg_seq */
	__u32	p;		/* the tracker's position (seq) */
	__u8	resyncing;	/* the next head decides a resync */
	__u8	resynced;	/* a resync succeeded in this segment */
	__u8	late;		/* walking a retransmission into a hole: report only */
	__u8	dir;
	__u32	late_end;	/* with late: no frame starts from here on */
	__u32	carried;	/* head: bytes of it from the carry map */
	__u32	nload;		/* head: bytes of it from this segment */
	__u32	head_seq;	/* scratch.head holds [head_seq, head_seq + head_len) */
	__u32	head_len;
	__u64	ts;		/* the packet's time */
};

/* Per-CPU work area: too big for the 512-byte stack. */
struct kt_scratch {
	/* Frame head, at offset 2: the client_id (frame offset 14) is 8-aligned. */
	__u8	head[2 * KT_HEAD_MAX + 8];
	struct kt_win win;		/* walk window */
	struct kt_walker walker;	/* the walk of this packet's frame */
	struct kt_pending pend;		/* the record being built */
	struct kt_dkey dkey;
	struct kt_spill_key spk;
	struct pkt pk;			/* this packet */
	struct kt_seg seg;		/* this segment, as the tracker walks it */
	struct kt_key6 k6;
	struct kt_cstate init;		/* new connection states are built here */
	struct kt_sprog noprog;		/* zeroed: "no program" */
	__u8	out[KT_REC_MAX + 2 * KT_CHUNK_MAX];	/* records are assembled here */
};

#endif
