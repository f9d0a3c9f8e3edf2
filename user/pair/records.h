/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's records (include/kafkatap.h) expanded into self-contained
 * views: each frame view carries its connection's addresses and client_id
 * (the kernel sends them once per connection, and a client_id when it
 * changes), each run of captured bytes becomes a data view. The pairing
 * agent and the BPF tests read views; only this file reads the wire.
 */
#ifndef KAFKATAP_PAIR_RECORDS_H
#define KAFKATAP_PAIR_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kafkatap.h"

/* What the kernel announced of a connection, besides its addresses. */
struct kt_conn_info {
	uint32_t ifindex;		/* the hook that first saw it; 0: a cgroup's */
	uint64_t cgroup[2];		/* the client's and broker's socket cgroup; 0 unknown */
	bool wire_set;			/* the remote end differs on the wire (NAT): */
	uint8_t wire_addr[16];
	uint16_t wire_port;
};

struct kt_ev_hdr {
	uint8_t type;			/* enum kt_ev_type */
	uint8_t dir;			/* enum kt_dir */
	uint32_t ifindex;		/* = info.ifindex */
	uint64_t ts_ns;			/* CLOCK_MONOTONIC (frames, closes, gaps) */
	uint64_t conn_id;
	struct kt_conn conn;		/* conn.side: whose socket saw it */
	struct kt_conn_info info;
};

/* KT_EV_REQUEST, KT_EV_RESPONSE. */
struct kt_ev_frame {
	struct kt_ev_hdr h;
	uint32_t frame_seq;		/* TCP seq of the frame's size field */
	int32_t size;			/* the frame's size field */
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	int16_t client_id_len;		/* requests: true length, -1 null */
	int16_t acks;
	uint16_t flags;			/* KT_FF_* */
	uint32_t capture_len;		/* capture bytes the data views will carry */
	char client_id[KT_CLIENT_ID_MAX];	/* zero-filled past its length */
};

/* KT_EV_DATA: one run of captured bytes. */
struct kt_ev_data {
	struct kt_ev_hdr h;
	uint32_t frame_seq;
	uint32_t offset;		/* from the frame's first (size) byte */
	uint16_t len;
	uint16_t flags;			/* KT_DF_* */
	uint32_t walk_info;		/* KT_DF_WALK_FAILED: pc << 16 | walk state */
	const uint8_t *data;		/* len bytes, valid during the callback */
};

/* KT_EV_CLOSE, KT_EV_GAP. */
struct kt_ev_stream {
	struct kt_ev_hdr h;
	uint32_t seq;
	uint16_t flags;			/* KT_CF_* */
};

union kt_ev {
	struct kt_ev_hdr h;
	struct kt_ev_frame fr;
	struct kt_ev_data d;
	struct kt_ev_stream s;
};

struct kt_expand_stats {
	uint64_t records;
	uint64_t bad;			/* not a record of this format: a kafkatap bug */
	uint64_t unknown_conn;		/* names a connection never announced */
	uint64_t conns;			/* gauge: connections known */
	uint64_t conn_evictions;	/* table full: the least recently used forgotten */
};

/* Called with each view of a record, in order; ts_ns as kt_expand was given. */
typedef void (*kt_view_fn)(void *ctx, const union kt_ev *v, uint64_t ts_ns);

struct kt_expander;

/* max_conns: connections remembered (at least the kernel's table). */
struct kt_expander *kt_expander_new(uint32_t max_conns);
void kt_expander_free(struct kt_expander *x);

/*
 * One ring buffer record: calls fn with its views. ts_ns, when not 0,
 * replaces the record's time (replay uses the capture's). Returns 0, or -1
 * for a record that is not of this format or names an unknown connection
 * (counted).
 */
int kt_expand(struct kt_expander *x, const void *rec, size_t len, uint64_t ts_ns,
	      kt_view_fn fn, void *ctx);

const struct kt_expand_stats *kt_expander_stats(const struct kt_expander *x);

#endif
