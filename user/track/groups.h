/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Consumer group tracker: the decoding layer feeds it facts decoded from
 * Kafka traffic (group membership, committed offsets, high watermarks,
 * record batches, topic IDs) and the metrics layer reads, at scrape time,
 * members / generation / rebalances per group and lag per (group, topic).
 *
 * Every string argument is a view into a transient buffer (not
 * NUL-terminated): it is copied. Strings handed to the read callbacks are
 * NUL-terminated copies (a name with an embedded NUL reads shorter); they
 * are valid during the callback only.
 *
 * Everything is bounded by the caps of kt_groups_cfg; when a cap is reached
 * the least recently updated entry of that kind is evicted and counted in
 * kt_groups_stats. Timestamps (ts_ns, now_ns) are on one clock of the
 * caller's choice; events may arrive slightly out of order.
 *
 * Membership (members, generation, rebalances):
 *  - Classic protocol, from successful (error 0) exchanges only. A JoinGroup
 *    leader response (nmembers >= 0) makes the member set exactly its list
 *    (plus `member` itself). Otherwise a member seen in a JoinGroup,
 *    SyncGroup or Heartbeat for the current generation is added/refreshed.
 *    An event for an older generation than the group's is ignored (a late
 *    or reordered answer). A higher generation drops every classic member
 *    of an older one (they all rejoin). LeaveGroup removes the member.
 *    Heartbeat errors: UNKNOWN_MEMBER_ID (25), ILLEGAL_GENERATION (22) and
 *    FENCED_INSTANCE_ID (82) remove the member (unless it is known at a
 *    newer generation than the heartbeat's); REBALANCE_IN_PROGRESS (27)
 *    only refreshes a known member of that generation (it is alive and
 *    about to rejoin); other errors are ignored.
 *    Group recreated: a JoinGroup of a lower generation for a group with no
 *    live member resets the generation to it (not counted as a rebalance).
 *  - KIP-848 ConsumerGroupHeartbeat: req_epoch -1 or -2 (leave) removes the
 *    member whatever the error; errors UNKNOWN_MEMBER_ID (25) and
 *    FENCED_MEMBER_EPOCH (110) remove it; a success with resp_epoch >= 0
 *    makes it live at that epoch. KIP-848 members are not dropped when the
 *    epoch rises (each reconciles at its own pace), only by leave/error/
 *    timeout.
 *  - A member not heard from (join/sync/heartbeat) for member_timeout_ns
 *    (0: never) is removed at read time, against the read clock: the
 *    now_ns given to kt_groups_foreach_at/kt_groups_foreach_lag/
 *    kt_groups_expire, or the latest event timestamp if later.
 *  - generation: the highest classic generation or KIP-848 member epoch
 *    seen (>= 0 values only), -1 if none yet.
 *  - rebalances: how many times a higher generation/epoch than the group's
 *    current one was observed. The first generation seen for a group is not
 *    counted (that rebalance happened before we looked): members joining
 *    at generation 1, then 2, then 3 => rebalances 2.
 *  - A group exists from its first event of any kind (also a commit);
 *    groups with only offsets read as members 0, generation -1.
 *
 * Lag, per (group, topic), over the topic's partitions that have both a
 * committed offset for the group (OffsetCommit/OffsetFetch, offset >= 0)
 * and a high watermark (>= 0):
 *  - lag_records = sum of max(0, hwm - committed) (saturating).
 *  - lag_seconds, from record batch max timestamps. Per partition:
 *    committed >= hwm: 0. Otherwise the partition is lagging; among its
 *    remembered batches (the last KT_GROUPS_BATCHES distinct base offsets
 *    seen, plus the batch with the highest last offset ever seen, "the
 *    newest") pick the one that contains `committed` (base <= committed <=
 *    last) or, failing that, the one with the lowest base offset above
 *    `committed`; lag = (newest.max_ts - picked.max_ts) / 1000, clamped to
 *    >= 0. No such batch: unknown. The topic's value is the max over its
 *    partitions' known values; NAN if some partition lags but none of the
 *    lagging partitions' values is known (so caught-up partitions never
 *    mask an unknown lag as 0). Batches with a negative max timestamp or
 *    inconsistent offsets are ignored; batches never move the high
 *    watermark (only kt_groups_high_watermark does). Best effort: if the
 *    newest batch seen is older than the hwm, lag_seconds is understated.
 *  - Topics (of a group) with no partition having both values are not
 *    reported.
 */
#ifndef KAFKATAP_GROUPS_H
#define KAFKATAP_GROUPS_H

#include <stdint.h>

/* A string view (not NUL-terminated); len < 0 is read as empty. */
struct kt_s {
	const char *p;
	int len;
};

/* Record batches remembered per partition, for lag_seconds. */
#define KT_GROUPS_BATCHES 32

struct kt_groups_cfg {
	uint32_t max_groups;		/* groups, each with its members and offsets */
	uint32_t max_members_per_group;
	uint32_t max_partitions;	/* (topic, partition): hwm and batches */
	uint32_t max_topic_ids;		/* UUID -> name */
	uint64_t member_timeout_ns;	/* 0: members never time out */
	uint32_t max_offsets;		/* committed (group, topic, partition); 0: max_partitions */
};

struct kt_groups;

/* NULL with errno set: ENOMEM, or EINVAL if a max_* cap (but max_offsets) is 0. */
struct kt_groups *kt_groups_new(const struct kt_groups_cfg *cfg);
void kt_groups_free(struct kt_groups *g);

/* Classic consumer groups, from successful (error 0) exchanges. */
void kt_groups_joined(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t generation,
		      const struct kt_s *members, int nmembers /* -1: not a leader response */,
		      uint64_t ts_ns);
void kt_groups_synced(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t generation,
		      uint64_t ts_ns);
/* Any outcome: error is the response's error code (see above). */
void kt_groups_heartbeat(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t generation,
			 int16_t error, uint64_t ts_ns);
void kt_groups_left(struct kt_groups *g, struct kt_s group, struct kt_s member, uint64_t ts_ns);
/* KIP-848 ConsumerGroupHeartbeat: request epoch (0 join, -1/-2 leave), response epoch and member id */
void kt_groups_cg_heartbeat(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t req_epoch,
			    int32_t resp_epoch, int16_t error, uint64_t ts_ns);

/* Offsets: a committed offset is the next one to consume (negative: ignored). */
void kt_groups_committed(struct kt_groups *g, struct kt_s group, struct kt_s topic, int32_t partition,
			 int64_t offset, uint64_t ts_ns);
/* The latest value wins (a log can be truncated); negative: ignored. */
void kt_groups_high_watermark(struct kt_groups *g, struct kt_s topic, int32_t partition, int64_t hwm,
			      uint64_t ts_ns);
/* A record batch seen (Produce request or Fetch response): offsets and its max timestamp (ms since epoch) */
void kt_groups_batch(struct kt_groups *g, struct kt_s topic, int32_t partition, int64_t base_offset,
		     int64_t last_offset, int64_t max_timestamp_ms);

/*
 * Topic IDs (Fetch v13+ names topics by UUID), learned from Metadata
 * responses. The all-zero UUID and empty names are ignored. Learning or
 * looking up an ID makes it the most recently used.
 */
void kt_topics_learn(struct kt_groups *g, const uint8_t id[16], struct kt_s name);
/*
 * The name if known (valid until the next kt_topics_learn or
 * kt_groups_free), else the UUID as 8-4-4-4-12 lowercase hex written to
 * buf[37], NUL-terminated.
 */
const char *kt_topics_name(struct kt_groups *g, const uint8_t id[16], char buf[37]);

/*
 * Reading, for metrics. Groups in least recently updated order; members
 * timed out against the read clock are removed first.
 */
typedef void (*kt_group_fn)(void *ctx, const char *group, int members, int32_t generation,
			    uint64_t rebalances);
/* Read clock: the latest event timestamp or now_ns given so far. */
void kt_groups_foreach(struct kt_groups *g, kt_group_fn fn, void *ctx);
/* Same, advancing the read clock to now_ns first (preferred). */
void kt_groups_foreach_at(struct kt_groups *g, uint64_t now_ns, kt_group_fn fn, void *ctx);
/* Remove timed-out members now. */
void kt_groups_expire(struct kt_groups *g, uint64_t now_ns);

/* One call per (group, topic) with lag; lag_seconds may be NAN (unknown). */
typedef void (*kt_lag_fn)(void *ctx, const char *group, const char *topic, int64_t lag_records,
			  double lag_seconds);
void kt_groups_foreach_lag(struct kt_groups *g, uint64_t now_ns, kt_lag_fn fn, void *ctx);

struct kt_groups_stats {
	uint64_t group_evictions;	/* max_groups reached */
	uint64_t member_evictions;	/* max_members_per_group reached */
	uint64_t partition_evictions;	/* max_partitions reached */
	uint64_t topic_id_evictions;	/* max_topic_ids reached */
	uint64_t offset_evictions;	/* max_offsets reached */
	uint64_t members_expired;	/* member_timeout_ns passed (not evictions) */
};

const struct kt_groups_stats *kt_groups_stats(const struct kt_groups *g);

#endif
