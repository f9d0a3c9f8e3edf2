/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's connection state (maps `conns4`, `conns6`): written by the
 * program only, read by userspace only to inspect it (tests, debugging).
 * Fixed-width types, like include/kafkatap.h; no libc, no vmlinux.h.
 */
#ifndef KAFKATAP_KT_STATE_H
#define KAFKATAP_KT_STATE_H

#include <linux/types.h>
#include "kafkatap.h"

#ifndef KT_INFLIGHT
#define KT_INFLIGHT 16		/* requests in flight per connection; a power of two */
#endif

enum kt_dstate_state {
	KT_ST_UNSYNC = 0,	/* frame starts unknown: try a resync per segment */
	KT_ST_SYNC = 1,		/* frame_end is where the next frame starts */
};

/* kt_dstate.flags */
#define KT_DS_SEQ_KNOWN	0x01	/* next_seq holds the highest byte read so far */
#define KT_DS_HOLE	0x02	/* hole_seq..hole_end: bytes never seen, from a frame start */
#define KT_DS_WALK	0x04	/* the current frame is walked (STRUCTURE capture) */
#define KT_DS_CARRY	0x08	/* a head split over segments waits in `carry` */
#define KT_DS_CLOSED	0x10	/* FIN or RST seen: its CLOSE record was sent */

/*
 * One direction of a connection. Positions are TCP sequence numbers
 * (compared with signed differences, so they wrap). While synchronised:
 *   next_seq <  frame_end : inside a frame's body;
 *   next_seq >= frame_end : at the head of the frame starting at frame_end,
 *                           with next_seq - frame_end bytes of it held in
 *                           the `carry` map (a head split over segments).
 * `until` is the fast path's bound: a segment that starts at next_seq and
 * ends at or before `until` holds nothing to report or capture.
 */
struct kt_dstate {
	__u32	next_seq;	/* next byte expected */
	__u32	frame_seq;	/* start of the current frame */
	__u32	frame_end;	/* start of the next frame */
	__u32	cap_end;	/* capture (FULL/BOUNDED) of the current frame stops here */
	__u32	until;		/* nothing to do before this */
	__u32	hole_seq;	/* a frame starts here, in bytes a gap took */
	__u32	hole_end;	/* the first byte seen after the gap */
	__u8	state;		/* enum kt_dstate_state */
	__u8	flags;		/* KT_DS_* */
	__u16	_pad;
};
_Static_assert(sizeof(struct kt_dstate) == 32, "kt_dstate is read by userspace");

/* A request waiting for its response. */
struct kt_inflight {
	__u32	id1;		/* correlation_id + 1 (ids are >= 0); 0: free */
	__s16	api_key;
	__s16	api_version;
};

/* kt_cstate.flags */
#define KT_CS_ANNOUNCED	0x01	/* its KT_EV_CONN record was sent */
#define KT_CS_SPILLED	0x02	/* some requests in flight went to `spill` */

/* One TCP connection, both directions: the value of the `conns` maps. */
struct kt_cstate {
	__u64	id;			/* names it in records */
	struct kt_dstate d[2];		/* enum kt_dir */
	__u32	ifindex;
	__u8	flags;			/* KT_CS_* */
	__u8	ring_next;		/* next slot of ring[] to write */
	__s16	cid_len;		/* client_id last sent; -2: none yet */
	__u8	side;			/* enum kt_side */
	__u8	wire_set;		/* wire_addr/port: the peer differs on the wire */
	__u16	wire_port;
	__u8	wire_addr[16];
	__u64	cgroup[2];		/* client's, broker's socket cgroup; 0 unknown */
	/* The client_id of the last KT_EV_CLIENT_ID, zero-filled past cid_len. */
	__u64	cid[KT_CLIENT_ID_MAX / 8];
	/*
	 * The last KT_INFLIGHT requests: gives each response the API it
	 * answers (its capture policy) and lets responses resync on an id in
	 * flight. Requests pushed out while unanswered go to `spill`.
	 */
	struct kt_inflight ring[KT_INFLIGHT];
};
_Static_assert(sizeof(struct kt_cstate) == 184 + 8 * KT_INFLIGHT,
	       "kt_cstate is read by userspace");

/* Keys of the connection maps, the client end first (both directions). */
struct kt_key4 {
	__u32	caddr;
	__u32	baddr;
	__u16	cport;
	__u16	bport;
};

struct kt_key6 {
	__u8	caddr[16];
	__u8	baddr[16];
	__u16	cport;
	__u16	bport;
};

#endif /* KAFKATAP_KT_STATE_H */
