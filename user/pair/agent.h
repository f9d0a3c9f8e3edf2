/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent core: turns ring buffer records into request/response exchanges.
 * Connections, capture assembly, pairing by (connection, correlation_id),
 * expiry, acks=0. It knows nothing of where records come from (live ring
 * buffer or replay) nor where exchanges go (trace, metrics).
 */
#ifndef KAFKATAP_AGENT_H
#define KAFKATAP_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kafkatap.h"
#include "pair/records.h"

enum kt_status {
	KT_STATUS_OK = 0,		/* paired with its response */
	KT_STATUS_NO_RESPONSE,		/* Produce acks=0: none is due */
	KT_STATUS_UNANSWERED,		/* given up: see kt_exchange.reason */
};

enum kt_reason {
	KT_REASON_NONE = 0,
	KT_REASON_EXPIRED,		/* no response within the expiry */
	KT_REASON_CLOSED,		/* the connection closed first */
	KT_REASON_EVICTED,		/* a table was full */
	KT_REASON_EXIT,			/* kafkatap stopped */
};

/*
 * A frame's captured bytes. FULL/BOUNDED: the bytes from offset 0.
 * STRUCTURE: the kept bytes only, concatenated (record bodies skipped by
 * the kernel: each record batch is its 61-byte header, see kc_walk()).
 */
struct kt_capture {
	uint8_t *buf;
	uint32_t len;		/* bytes held */
	uint32_t alloc;
	uint32_t want;		/* capture_len announced by the kernel */
	uint32_t next_off;	/* frame offset the next chunk should start at */
	bool structure;		/* STRUCTURE capture (holes allowed) */
	bool complete;		/* all of it arrived, nothing lost */
	bool truncated;		/* the policy, or max_capture, stopped it early */
	bool walk_failed;	/* STRUCTURE: the frame was off its schema */
	bool last_seen;		/* the kernel's last chunk arrived */
};

struct kt_exchange {
	struct kt_conn conn;		/* conn.side: whose socket saw it */
	uint32_t ifindex;
	struct kt_conn_info info;	/* cgroups of the local sockets, the wire peer */
	uint64_t req_ts_ns;		/* agent clock */
	uint64_t resp_ts_ns;		/* 0 without a response */
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	int32_t req_size;		/* the frame's size field */
	int32_t resp_size;		/* -1 without a response */
	int16_t acks;
	bool acks_known;
	bool resynced;			/* found by resync (mid-stream) */
	bool late;			/* request or response found in a retransmission
					 * that filled a gap (KT_FF_LATE) */
	int16_t client_id_len;		/* true length, -1 null */
	char client_id[KT_CLIENT_ID_MAX + 1];	/* NUL-terminated copy */
	enum kt_status status;
	enum kt_reason reason;
	struct kt_capture req_cap;
	struct kt_capture resp_cap;
};

struct kt_agent_stats {
	uint64_t records;
	uint64_t bad_records;		/* wrong version/size: a kafkatap bug */
	uint64_t unknown_conn_records;	/* name a connection never announced (lost) */
	uint64_t requests;
	uint64_t responses;
	uint64_t paired;
	uint64_t no_response;		/* acks=0 done without a response */
	uint64_t unanswered[KT_REASON_EXIT + 1];
	uint64_t unmatched_responses;	/* no pending request: counted, dropped */
	uint64_t duplicate_requests;	/* same connection and correlation id */
	uint64_t pending_evictions;	/* pending table full */
	uint64_t conn_evictions;	/* connection table full */
	uint64_t capture_incomplete;	/* captures with lost chunks */
	uint64_t alloc_failures;	/* out of memory: a connection, request or capture dropped */
	uint64_t gaps;
	uint64_t closes;
	uint64_t pending;		/* gauge */
	uint64_t connections;		/* gauge */
};

struct kt_agent_cfg {
	uint64_t expiry_ns;		/* default 30 s */
	uint64_t acks0_grace_ns;	/* wait this long for a response to acks=0 */
	uint64_t close_grace_ns;	/* a closed connection lingers this long */
	uint32_t max_pending;
	uint32_t max_conns;
	uint32_t max_conn_ids;		/* kernel connection ids remembered (0: 65536) */
	uint32_t max_capture;		/* bytes kept per frame */
};

#define KT_AGENT_CFG_DEFAULT {			\
	.expiry_ns = 30ULL * 1000000000ULL,	\
	.acks0_grace_ns = 2ULL * 1000000000ULL,	\
	.close_grace_ns = 200ULL * 1000000ULL,	\
	.max_pending = 65536,			\
	.max_conns = 16384,			\
	.max_capture = 1 << 20,			\
}

typedef void (*kt_exchange_fn)(void *ctx, const struct kt_exchange *x);
/* Called when a connection is first seen (opened=true) and when it goes. */
typedef void (*kt_conn_fn)(void *ctx, const struct kt_conn *c, bool opened);

struct kt_agent;

struct kt_agent *kt_agent_new(const struct kt_agent_cfg *cfg,
			      kt_exchange_fn on_exchange, void *ctx);
void kt_agent_set_conn_cb(struct kt_agent *a, kt_conn_fn fn);
void kt_agent_free(struct kt_agent *a);

/*
 * One ring buffer record. ts_ns, when not 0, replaces the record's
 * timestamp (replay uses the capture's clock). Returns 0, or -1 for a
 * record that is not a kafkatap record of this format, or that names a
 * connection never announced (counted).
 */
int kt_agent_record(struct kt_agent *a, const void *rec, size_t len, uint64_t ts_ns);

/* One view of a record (pair/records.h), as kt_agent_record() makes them. */
void kt_agent_event(struct kt_agent *a, const union kt_ev *v, uint64_t ts_ns);

/* Expire what is due at `now_ns` (agent clock). */
void kt_agent_tick(struct kt_agent *a, uint64_t now_ns);

/* Give up everything still pending (at exit). */
void kt_agent_flush(struct kt_agent *a);

const struct kt_agent_stats *kt_agent_stats(const struct kt_agent *a);

const char *kt_status_name(enum kt_status s);
const char *kt_reason_name(enum kt_reason r);

#endif
